//! Token endpoint (client credentials) and OpenID discovery, reference §1–§2.

use axum::http::{StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::Shared;
use super::handlers::{Ctx, json_response, parse_pairs};
use super::model::{EXCHANGE_APP_ID, EXCHANGE_RESOURCE, GRAPH_APP_ID, GRAPH_RESOURCE};
use super::state::{IssuedToken, random_token};

/// The tenant path segments that are not a tenant.
const MULTI_TENANT: &[&str] = &["common", "organizations", "consumers"];

/// An AADSTS error body (§1.4).
pub(crate) fn token_error(
    base_url: &str,
    status: StatusCode,
    error: &str,
    code: u32,
    description: &str,
) -> Response {
    let now = Timestamp::now();
    let timestamp = now.strftime("%Y-%m-%d %H:%M:%SZ").to_string();
    let trace_id = uuid::Uuid::new_v4().to_string();
    let correlation_id = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {description}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"
        ),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": format!("{base_url}/error?code={code}"),
    });
    let mut resp = json_response(status, &body);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, "application/json; charset=utf-8".parse().expect("static"));
    resp
}

fn bad(base: &str, error: &str, code: u32, description: &str) -> Response {
    token_error(base, StatusCode::BAD_REQUEST, error, code, description)
}

fn unauthorized(base: &str, code: u32, description: &str) -> Response {
    token_error(base, StatusCode::UNAUTHORIZED, "invalid_client", code, description)
}

fn missing(base: &str, name: &str) -> Response {
    bad(
        base,
        "invalid_request",
        900144,
        &format!("The request body must contain the following parameter: '{name}'."),
    )
}

fn tenant_not_found(base: &str, tenant: &str) -> Response {
    bad(
        base,
        "invalid_tenant",
        90002,
        &format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
        ),
    )
}

/// A GUID or a DNS-ish name; anything else is AADSTS900023.
fn is_valid_tenant_identifier(tenant: &str) -> bool {
    if uuid::Uuid::parse_str(tenant).is_ok() && tenant.len() == 36 {
        return true;
    }
    let labels: Vec<&str> = tenant.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// Checks the tenant path segment; `Err` is the answer to give.
fn check_tenant(shared: &Shared, tenant: &str) -> Result<super::Tenant, Box<Response>> {
    let base = &shared.base_url;
    if !is_valid_tenant_identifier(tenant) {
        return Err(Box::new(bad(
            base,
            "invalid_request",
            900023,
            &format!(
                "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain."
            ),
        )));
    }
    shared.lock().tenant(tenant).cloned().ok_or_else(|| Box::new(tenant_not_found(base, tenant)))
}

/// `GET {authority}/{tenant}/v2.0/.well-known/openid-configuration`.
pub(crate) fn discovery(shared: &Shared, _ctx: &Ctx, tenant: &str) -> Response {
    let base = &shared.base_url;
    let (tid, region, graph_host) = if MULTI_TENANT.contains(&tenant.to_ascii_lowercase().as_str())
    {
        ("{tenantid}".to_string(), None, "graph.microsoft.com".to_string())
    } else {
        match check_tenant(shared, tenant) {
            Ok(t) => (t.id, Some(t.region_scope), t.msgraph_host),
            Err(resp) => return *resp,
        }
    };
    let mut doc = json!({
        "token_endpoint": format!("{base}/{tid}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{tid}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/{tid}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("https://{graph_host}/oidc/userinfo"),
        "authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{tid}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{base}/{tid}/kerberos"),
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": graph_host,
        "rbac_url": "https://pas.windows.net",
    });
    if let Some(region) = region {
        doc["tenant_region_scope"] = Value::String(region);
    } else {
        doc["tenant_region_scope"] = Value::Null;
    }
    json_response(StatusCode::OK, &doc)
}

/// Where the client credentials came from.
struct ClientAuth {
    client_id: Option<String>,
    secret: Option<String>,
}

fn client_auth(ctx: &Ctx, form: &[(String, String)]) -> ClientAuth {
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    // HTTP Basic (RFC 6749 §2.3.1): form-encoded id and secret, then base64.
    if let Some(basic) = ctx.header("authorization").and_then(|h| h.strip_prefix("Basic "))
        && let Some((id, secret)) = STANDARD
            .decode(basic.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_string(), b.to_string())))
    {
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        return ClientAuth { client_id: Some(decode(&id)), secret: Some(decode(&secret)) };
    }
    ClientAuth { client_id: field("client_id"), secret: field("client_secret") }
}

/// The resource of a `.default` scope, if it is Microsoft Graph.
fn graph_scope(base: &str, resource: &str) -> bool {
    let r = resource.trim_end_matches('/');
    r.eq_ignore_ascii_case(GRAPH_RESOURCE) || r.eq_ignore_ascii_case(GRAPH_APP_ID) || r == base
}

/// Whether the resource of a `.default` scope is Exchange Online.
fn exchange_scope(resource: &str) -> bool {
    let r = resource.trim_end_matches('/');
    r.eq_ignore_ascii_case(EXCHANGE_RESOURCE) || r.eq_ignore_ascii_case(EXCHANGE_APP_ID)
}

/// `POST {authority}/{tenant}/oauth2/v2.0/token`, client credentials grant.
pub(crate) fn token(shared: &Shared, ctx: &Ctx, tenant: &str) -> Response {
    let base = shared.base_url.as_str();
    let form = parse_pairs(&ctx.body);
    let field = |name: &str| {
        form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty())
    };

    if ctx.method != axum::http::Method::POST {
        return bad(
            base,
            "invalid_request",
            900561,
            "The endpoint only accepts POST requests. Received a GET request.",
        );
    }
    let lower = tenant.to_ascii_lowercase();
    if MULTI_TENANT.contains(&lower.as_str()) {
        if lower == "organizations" {
            let app = field("client_id").unwrap_or_default();
            return bad(
                base,
                "invalid_request",
                50194,
                &format!(
                    "Application '{app}'(G360 ERP Mail) is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant."
                ),
            );
        }
        return bad(
            base,
            "invalid_request",
            9001023,
            "The grant type is not supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.",
        );
    }
    let tenant = match check_tenant(shared, tenant) {
        Ok(t) => t,
        Err(resp) => return *resp,
    };

    let Some(grant_type) = field("grant_type") else { return missing(base, "grant_type") };
    if grant_type != "client_credentials" {
        return bad(
            base,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{grant_type}'."),
        );
    }
    let auth = client_auth(ctx, &form);
    let Some(client_id) = auth.client_id.filter(|c| !c.is_empty()) else {
        return missing(base, "client_id");
    };
    let Some(scope) = field("scope") else { return missing(base, "scope") };

    let app = shared.lock().app(&tenant.id, &client_id).cloned();
    let Some(app) = app else {
        return bad(
            base,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                tenant.domains.first().unwrap_or(&tenant.id)
            ),
        );
    };
    if !app.enabled {
        return bad(
            base,
            "unauthorized_client",
            7000112,
            &format!("Application '{}'({}) is disabled.", app.client_id, app.display_name),
        );
    }

    let now = Timestamp::now();
    // `appidacr` of the token: "1" for a client secret, "2" for a
    // certificate (an assertion signed with its key).
    let acr = if field("client_assertion_type").is_some() { "2" } else { "1" };
    if let Some(kind) = field("client_assertion_type") {
        let assertion = field("client_assertion");
        if let Err(resp) =
            super::assertion::verify(shared, &app, &tenant, &kind, assertion.as_deref(), now)
        {
            return *resp;
        }
    } else if let Err(resp) = check_secret(base, &app, auth.secret, now) {
        return *resp;
    }

    let scopes: Vec<&str> = scope.split_whitespace().collect();
    for s in &scopes {
        if !s.ends_with("/.default") {
            return bad(
                base,
                "invalid_scope",
                1002012,
                &format!(
                    "The provided value for scope {s} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            );
        }
    }
    if scopes.len() > 1 {
        return bad(
            base,
            "invalid_scope",
            700022,
            &format!(
                "The provided value for the input parameter scope is not valid because it contains more than one resource. Scope {scope} is not valid."
            ),
        );
    }
    let resource = scopes[0].trim_end_matches("/.default");
    if exchange_scope(resource) {
        return issue_for(
            shared,
            &tenant.id,
            &app,
            now,
            (EXCHANGE_RESOURCE, acr),
            &app.exchange_roles,
        );
    }
    if !graph_scope(base, resource) {
        if resource.starts_with("https://") || resource.starts_with("http://") {
            return bad(
                base,
                "invalid_resource",
                500011,
                &format!(
                    "The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
                    tenant.domains.first().unwrap_or(&tenant.id)
                ),
            );
        }
        return bad(
            base,
            "invalid_scope",
            70011,
            &format!(
                "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' isn't valid. The scope {scope} isn't valid."
            ),
        );
    }

    issue_for(shared, &tenant.id, &app, now, (GRAPH_RESOURCE, acr), &app.roles)
}

/// Checks a client secret; `Err` is the answer to give.
fn check_secret(
    base: &str,
    app: &super::App,
    secret: Option<String>,
    now: Timestamp,
) -> Result<(), Box<Response>> {
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return Err(Box::new(unauthorized(
            base,
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )));
    };
    match app.secrets.iter().find(|s| s.value == secret) {
        None => {
            return Err(Box::new(unauthorized(
                base,
                7000215,
                &format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                    app.client_id
                ),
            )));
        }
        Some(s) if s.expires_at <= now => {
            return Err(Box::new(unauthorized(
                base,
                7000222,
                &format!(
                    "The provided client secret keys for app '{}' are expired.",
                    app.client_id
                ),
            )));
        }
        Some(_) => {}
    }
    Ok(())
}

/// A token for `audience` carrying `roles` (Graph's roles for Graph,
/// Exchange Online's for Exchange) and `acr`, how the app authenticated.
fn issue_for(
    shared: &Shared,
    tenant_id: &str,
    app: &super::App,
    now: Timestamp,
    (audience, acr): (&str, &str),
    roles: &[String],
) -> Response {
    let mut st = shared.lock();
    let options = st.options.clone();
    let lifetime = SignedDuration::try_from(options.token_lifetime).unwrap_or(SignedDuration::ZERO);
    let exp = now + lifetime;
    let uti = random_token(16);
    let iat = now.as_second();
    let mut payload = json!({
        "aud": audience,
        "iss": format!("https://sts.windows.net/{tenant_id}/"),
        "iat": iat,
        "nbf": iat,
        "exp": exp.as_second(),
        "aio": random_token(24),
        "app_displayname": app.display_name,
        "appid": app.client_id,
        "appidacr": acr,
        "idp": format!("https://sts.windows.net/{tenant_id}/"),
        "idtyp": "app",
        "oid": app.object_id,
        "rh": "0.emulator.",
        "sub": app.object_id,
        "tenant_region_scope": "EU",
        "tid": tenant_id,
        "uti": uti,
        "ver": "1.0",
        "xms_tcdt": 1_600_000_000,
    });
    if !roles.is_empty() {
        payload["roles"] = json!(roles);
    }
    let header = json!({
        "typ": "JWT",
        "nonce": random_token(32),
        "alg": "RS256",
        "x5t": "g360-graph-emulator",
        "kid": "g360-graph-emulator",
    });
    let access_token = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        random_token(256)
    );
    st.tokens.insert(
        uti,
        IssuedToken {
            tenant_id: tenant_id.to_string(),
            client_id: app.client_id.clone(),
            roles: roles.to_vec(),
            expires_at: exp,
            revoked: false,
        },
    );
    st.tokens_issued += 1;
    drop(st);
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": options.token_lifetime.as_secs(),
        "ext_expires_in": options.ext_expires_in.as_secs(),
        "access_token": access_token,
    });
    if let Some(r) = options.refresh_in {
        body["refresh_in"] = json!(r.as_secs());
    }
    let mut resp = json_response(StatusCode::OK, &body);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, "application/json; charset=utf-8".parse().expect("static"));
    resp
}

/// Why a bearer token was refused (401 `InvalidAuthenticationToken`).
pub(crate) enum TokenProblem {
    Empty,
    Malformed,
    Unknown,
    Expired,
    Revoked,
}

impl TokenProblem {
    pub(crate) fn message(&self) -> &'static str {
        match self {
            TokenProblem::Empty => "Access token is empty.",
            TokenProblem::Malformed => "CompactToken parsing failed with error code: 80049217",
            TokenProblem::Unknown => "Access token validation failure.",
            TokenProblem::Expired => "Access token has expired or is not yet valid.",
            TokenProblem::Revoked => {
                "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp"
            }
        }
    }
}

/// Validates `Authorization: Bearer ...` against the issued tokens.
pub(crate) fn validate_bearer(shared: &Shared, ctx: &Ctx) -> Result<IssuedToken, TokenProblem> {
    let token = ctx
        .header("authorization")
        .and_then(|h| {
            let (scheme, rest) = h.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim().to_string())
        })
        .filter(|t| !t.is_empty())
        .ok_or(TokenProblem::Empty)?;
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(TokenProblem::Malformed);
    }
    let payload: Value = URL_SAFE_NO_PAD
        .decode(parts[1])
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenProblem::Malformed)?;
    let uti = payload.get("uti").and_then(Value::as_str).ok_or(TokenProblem::Unknown)?;
    let issued = shared.lock().tokens.get(uti).cloned().ok_or(TokenProblem::Unknown)?;
    if issued.revoked {
        return Err(TokenProblem::Revoked);
    }
    if issued.expires_at <= Timestamp::now() {
        return Err(TokenProblem::Expired);
    }
    Ok(issued)
}
