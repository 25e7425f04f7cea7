//! Tests of the emulator itself, with reqwest as a plain HTTP client.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::*;

const SENDER: &str = "erp@contoso.example";
const AP: &str = "ap@contoso.example";
const TAG_ID: &str = "String {8a6c7f40-1f7e-4c4b-9a55-1d1b7c3a1e22} Name G360MailId";

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client")
}

struct Fx {
    emu: GraphEmulator,
    setup: QuickSetup,
    http: reqwest::Client,
}

impl Fx {
    async fn new() -> Fx {
        let emu = GraphEmulator::start().await;
        let setup = emu.quick_setup(&[SENDER, AP]);
        Fx { emu, setup, http: client() }
    }

    fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.emu.url(), self.setup.tenant_id)
    }

    async fn token_with(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http.post(self.token_url()).form(form).send().await.unwrap()
    }

    async fn token_for(&self, client_id: &str, secret: &str) -> String {
        let resp = self
            .token_with(&[
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", "https://graph.microsoft.com/.default"),
                ("grant_type", "client_credentials"),
            ])
            .await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    async fn token(&self) -> String {
        self.token_for(&self.setup.client_id, &self.setup.secret).await
    }

    fn graph(&self, path: &str) -> String {
        format!("{}/v1.0/users/{}", self.emu.url(), path)
    }

    async fn send(&self, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.graph(&format!("{SENDER}/sendMail")))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, token: &str, url: &str) -> reqwest::Response {
        self.http.get(url).bearer_auth(token).send().await.unwrap()
    }
}

fn mail(subject: &str, imid: &str) -> Value {
    json!({
        "message": {
            "subject": subject,
            "body": { "contentType": "HTML", "content": "<p>Please find attached.</p>" },
            "toRecipients": [ { "emailAddress": { "address": AP, "name": "Accounts Payable" } } ],
            "ccRecipients": [ { "emailAddress": { "address": "buyer@supplier.example" } } ],
            "bccRecipients": [ { "emailAddress": { "address": "audit@contoso.example" } } ],
            "internetMessageId": imid,
            "internetMessageHeaders": [ { "name": "X-ERP-Document", "value": "INV-1" } ],
            "singleValueExtendedProperties": [ { "id": TAG_ID, "value": "uid-1" } ],
            "attachments": [ {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": "INV-1.pdf", "contentType": "application/pdf",
                "contentBytes": STANDARD.encode(b"%PDF-1.7 test"),
            } ]
        },
        "saveToSentItems": true
    })
}

async fn error_of(resp: reqwest::Response) -> (u16, String, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    (
        status,
        body["error"]["code"].as_str().unwrap_or_default().to_string(),
        body["error"]["message"].as_str().unwrap_or_default().to_string(),
    )
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

// --- Identity -----------------------------------------------------------------

#[tokio::test]
async fn token_success_has_documented_shape_and_app_claims() {
    let fx = Fx::new().await;
    let resp = fx
        .token_with(&[
            ("client_id", &fx.setup.client_id),
            ("client_secret", &fx.setup.secret),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(body.get("refresh_in").is_none());
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3);
    let c = claims(token);
    assert_eq!(c["aud"], "https://graph.microsoft.com");
    assert_eq!(c["tid"], fx.setup.tenant_id.as_str());
    assert_eq!(c["appid"], fx.setup.client_id.as_str());
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["appidacr"], "1", "a client secret");
    assert_eq!(c["ver"], "1.0");
    assert_eq!(c["iss"], format!("https://sts.windows.net/{}/", fx.setup.tenant_id));
    assert_eq!(c["roles"], json!(["Mail.Send", "Mail.Read"]));
    assert!(c.get("scp").is_none());
    assert!(c["exp"].as_i64().unwrap() > Timestamp::now().as_second());
    assert_eq!(fx.emu.token_requests(), 1);
    assert_eq!(fx.emu.tokens_issued(), 1);
    // The form is recorded with the secret redacted.
    let rec = &fx.emu.requests_to(Endpoint::Token)[0];
    assert_eq!(rec.form_field("grant_type"), Some("client_credentials"));
    assert!(rec.form_field("client_secret").unwrap().starts_with("<redacted"));
}

#[tokio::test]
async fn exchange_tokens_carry_the_exchange_roles_only() {
    let fx = Fx::new().await;
    let exchange = |scope: &'static str| {
        let fx = &fx;
        async move {
            let resp = fx
                .token_with(&[
                    ("client_id", &fx.setup.client_id),
                    ("client_secret", &fx.setup.secret),
                    ("scope", scope),
                    ("grant_type", "client_credentials"),
                ])
                .await;
            assert_eq!(resp.status(), 200, "{scope}");
            let body: Value = resp.json().await.unwrap();
            claims(body["access_token"].as_str().unwrap())
        }
    };
    // Without consent to any Exchange Online permission: no roles at all,
    // Graph's are not Exchange's.
    let c = exchange("https://outlook.office365.com/.default").await;
    assert_eq!(c["aud"], EXCHANGE_RESOURCE);
    assert!(c.get("roles").is_none(), "{c}");
    fx.emu.update_app(&fx.setup.client_id, |app| {
        app.exchange_roles.push(SMTP_SEND_AS_APP.to_owned());
    });
    for scope in
        ["https://outlook.office365.com/.default", "00000002-0000-0ff1-ce00-000000000000/.default"]
    {
        let c = exchange(scope).await;
        assert_eq!(c["aud"], EXCHANGE_RESOURCE, "{scope}");
        assert_eq!(c["roles"], json!([SMTP_SEND_AS_APP]), "{scope}");
    }
    let graph = claims(&fx.token().await);
    assert_eq!(graph["roles"], json!(["Mail.Send", "Mail.Read"]));
}

#[tokio::test]
async fn token_by_domain_basic_auth_and_lifetime_options() {
    let fx = Fx::new().await;
    fx.emu.configure(|o| {
        o.token_lifetime = Duration::from_secs(600);
        o.refresh_in = Some(Duration::from_secs(300));
    });
    let url = format!("{}/contoso.onmicrosoft.com/oauth2/v2.0/token", fx.emu.url());
    let resp = fx
        .http
        .post(url)
        .basic_auth(&fx.setup.client_id, Some(&fx.setup.secret))
        .form(&[
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["refresh_in"], 300);
    assert_eq!(claims(body["access_token"].as_str().unwrap())["tid"], fx.setup.tenant_id.as_str());
}

async fn check_token_error(resp: reqwest::Response, status: u16, error: &str, code: u64) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status for AADSTS{code}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], json!([code]), "{body}");
    let desc = body["error_description"].as_str().unwrap();
    assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
    assert!(desc.contains("\r\nTrace ID: ") && desc.contains("\r\nCorrelation ID: "), "{desc}");
    assert!(desc.contains("\r\nTimestamp: "), "{desc}");
    for field in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
        assert!(body[field].is_string(), "{field} missing in {body}");
    }
    assert!(body["error_uri"].as_str().unwrap().ends_with(&format!("/error?code={code}")));
    body
}

#[tokio::test]
async fn token_errors_carry_the_documented_aadsts_codes() {
    let fx = Fx::new().await;
    let expired = ClientSecret::expired("old~secret.value");
    let app2 = App::random().with_secret(expired.clone());
    fx.emu.add_app(&fx.setup.tenant_id, app2.clone());
    let disabled = App::random().with_secret(ClientSecret::new("x~disabled")).disabled();
    fx.emu.add_app(&fx.setup.tenant_id, disabled.clone());
    let id = fx.setup.client_id.as_str();
    let secret = fx.setup.secret.as_str();
    let graph = "https://graph.microsoft.com/.default";
    let cc = "client_credentials";

    // 90002: unknown tenant.
    let url = format!("{}/{}/oauth2/v2.0/token", fx.emu.url(), uuid::Uuid::new_v4());
    let form = [("client_id", id), ("client_secret", secret), ("scope", graph), ("grant_type", cc)];
    let resp = fx.http.post(url).form(&form).send().await.unwrap();
    let body = check_token_error(resp, 400, "invalid_tenant", 90002).await;
    assert!(body["error_description"].as_str().unwrap().contains("not found"));
    // 900023: malformed tenant.
    let url = format!("{}/not%20a%20tenant/oauth2/v2.0/token", fx.emu.url());
    let resp = fx.http.post(url).form(&form).send().await.unwrap();
    check_token_error(resp, 400, "invalid_request", 900023).await;
    // 9001023: /common.
    let url = format!("{}/common/oauth2/v2.0/token", fx.emu.url());
    let resp = fx.http.post(url).form(&form).send().await.unwrap();
    check_token_error(resp, 400, "invalid_request", 9001023).await;
    // 900144: missing parameter.
    let resp =
        fx.token_with(&[("client_id", id), ("client_secret", secret), ("scope", graph)]).await;
    let body = check_token_error(resp, 400, "invalid_request", 900144).await;
    assert!(body["error_description"].as_str().unwrap().contains("'grant_type'"));
    // 70003: unsupported grant.
    let resp = fx
        .token_with(&[
            ("client_id", id),
            ("client_secret", secret),
            ("scope", graph),
            ("grant_type", "password"),
        ])
        .await;
    check_token_error(resp, 400, "unsupported_grant_type", 70003).await;
    // 700016: app not in directory.
    let other = uuid::Uuid::new_v4().to_string();
    let resp = fx
        .token_with(&[
            ("client_id", &other),
            ("client_secret", secret),
            ("scope", graph),
            ("grant_type", cc),
        ])
        .await;
    let body = check_token_error(resp, 400, "unauthorized_client", 700016).await;
    assert!(body["error_description"].as_str().unwrap().contains(&other));
    // 7000112: disabled.
    let resp = fx
        .token_with(&[
            ("client_id", &disabled.client_id),
            ("client_secret", "x~disabled"),
            ("scope", graph),
            ("grant_type", cc),
        ])
        .await;
    check_token_error(resp, 400, "unauthorized_client", 7000112).await;
    // 7000218: no secret.
    let resp = fx.token_with(&[("client_id", id), ("scope", graph), ("grant_type", cc)]).await;
    check_token_error(resp, 401, "invalid_client", 7000218).await;
    // 7000215: wrong secret, and the Secret ID pasted as value.
    for wrong in ["wrong", fx.setup.secret_key_id.as_str()] {
        let resp = fx
            .token_with(&[
                ("client_id", id),
                ("client_secret", wrong),
                ("scope", graph),
                ("grant_type", cc),
            ])
            .await;
        let body = check_token_error(resp, 401, "invalid_client", 7000215).await;
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("client secret value, not the client secret ID")
        );
    }
    // 7000222: expired.
    let resp = fx
        .token_with(&[
            ("client_id", &app2.client_id),
            ("client_secret", &expired.value),
            ("scope", graph),
            ("grant_type", cc),
        ])
        .await;
    check_token_error(resp, 401, "invalid_client", 7000222).await;
    // 1002012: scope without /.default.
    let resp = fx
        .token_with(&[
            ("client_id", id),
            ("client_secret", secret),
            ("scope", "Mail.Send"),
            ("grant_type", cc),
        ])
        .await;
    check_token_error(resp, 400, "invalid_scope", 1002012).await;
    // 700022: two resources.
    let two = "https://graph.microsoft.com/.default https://outlook.office.com/.default";
    let resp = fx
        .token_with(&[
            ("client_id", id),
            ("client_secret", secret),
            ("scope", two),
            ("grant_type", cc),
        ])
        .await;
    check_token_error(resp, 400, "invalid_scope", 700022).await;
    // 500011: another (or another cloud's) resource.
    let resp = fx
        .token_with(&[
            ("client_id", id),
            ("client_secret", secret),
            ("scope", "https://graph.microsoft.us/.default"),
            ("grant_type", cc),
        ])
        .await;
    check_token_error(resp, 400, "invalid_resource", 500011).await;
    assert_eq!(fx.emu.tokens_issued(), 0);
}

#[tokio::test]
async fn unencoded_plus_in_secret_is_an_invalid_secret() {
    let emu = GraphEmulator::start().await;
    let tenant = Tenant::random();
    let tid = tenant.id.clone();
    emu.add_tenant(tenant);
    let app = App::random().with_secret(ClientSecret::new("a+b~c")).with_roles([MAIL_SEND]);
    let cid = app.client_id.clone();
    emu.add_app(&tid, app);
    let http = client();
    let body = format!(
        "client_id={cid}&client_secret=a+b~c&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&grant_type=client_credentials"
    );
    let resp = http
        .post(format!("{}/{tid}/oauth2/v2.0/token", emu.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    check_token_error(resp, 401, "invalid_client", 7000215).await;
}

#[tokio::test]
async fn discovery_document_and_unknown_tenant() {
    let fx = Fx::new().await;
    let url = format!(
        "{}/{}/v2.0/.well-known/openid-configuration",
        fx.emu.url(),
        "contoso.onmicrosoft.com"
    );
    let resp = fx.http.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(
        doc["token_endpoint"],
        format!("{}/{}/oauth2/v2.0/token", fx.emu.url(), fx.setup.tenant_id)
    );
    assert_eq!(doc["cloud_instance_name"], "microsoftonline.com");
    assert_eq!(doc["msgraph_host"], "graph.microsoft.com");
    assert_eq!(doc["tenant_region_scope"], "EU");
    assert!(doc["issuer"].as_str().unwrap().contains(&fx.setup.tenant_id));
    let url =
        format!("{}/{}/v2.0/.well-known/openid-configuration", fx.emu.url(), uuid::Uuid::new_v4());
    let resp = fx.http.get(url).send().await.unwrap();
    check_token_error(resp, 400, "invalid_tenant", 90002).await;
}

// --- Graph auth -----------------------------------------------------------------

#[tokio::test]
async fn bad_tokens_get_401_invalid_authentication_token() {
    let fx = Fx::new().await;
    let url = fx.graph(&format!("{SENDER}/mailFolders/inbox?$select=id"));
    let resp = fx.http.get(&url).send().await.unwrap();
    assert!(resp.headers().get("www-authenticate").is_some());
    assert_eq!(
        error_of(resp).await,
        (401, "InvalidAuthenticationToken".into(), "Access token is empty.".into())
    );
    let resp = fx.get("garbage", &url).await;
    let (status, code, message) = error_of(resp).await;
    assert_eq!((status, code.as_str()), (401, "InvalidAuthenticationToken"));
    assert!(message.starts_with("CompactToken parsing failed"));

    let token = fx.token().await;
    assert_eq!(fx.get(&token, &url).await.status(), 200);
    fx.emu.expire_all_tokens();
    let (status, code, message) = error_of(fx.get(&token, &url).await).await;
    assert_eq!((status, code.as_str()), (401, "InvalidAuthenticationToken"));
    assert_eq!(message, "Access token has expired or is not yet valid.");
    let token = fx.token().await;
    fx.emu.revoke_all_tokens();
    let (status, code, _) = error_of(fx.get(&token, &url).await).await;
    assert_eq!((status, code.as_str()), (401, "InvalidAuthenticationToken"));
}

#[tokio::test]
async fn app_without_consent_gets_a_roleless_token_and_403() {
    let fx = Fx::new().await;
    let app = App::random().with_secret(ClientSecret::new("no~consent"));
    fx.emu.add_app(&fx.setup.tenant_id, app.clone());
    let token = fx.token_for(&app.client_id, "no~consent").await;
    assert!(claims(&token).get("roles").is_none());
    let (status, code, message) = error_of(fx.send(&token, &mail("x", "<a@b.c>")).await).await;
    assert_eq!((status, code.as_str()), (403, "ErrorAccessDenied"));
    assert_eq!(message, "Access is denied. Check credentials and try again.");
    fx.emu.configure(|o| o.no_roles_answers_401 = true);
    let (status, code, _) = error_of(fx.send(&token, &mail("x", "<a@b.c>")).await).await;
    assert_eq!((status, code.as_str()), (401, "NoPermissionsInAccessToken"));
    assert!(fx.emu.deliveries().is_empty());
}

#[tokio::test]
async fn read_only_app_cannot_send_and_rbac_and_policies_apply() {
    let fx = Fx::new().await;
    let reader = App::random().with_secret(ClientSecret::new("r~1")).with_roles([MAIL_READ]);
    fx.emu.add_app(&fx.setup.tenant_id, reader.clone());
    let token = fx.token_for(&reader.client_id, "r~1").await;
    let (status, code, _) = error_of(fx.send(&token, &mail("x", "<a@b.c>")).await).await;
    assert_eq!((status, code.as_str()), (403, "ErrorAccessDenied"));

    // RBAC for Applications: no roles in the token, access within scope only.
    let rbac = App::random()
        .with_secret(ClientSecret::new("r~2"))
        .with_rbac(RbacGrant::new(MAIL_SEND, RbacScope::Mailboxes(vec![SENDER.into()])));
    fx.emu.add_app(&fx.setup.tenant_id, rbac.clone());
    let token = fx.token_for(&rbac.client_id, "r~2").await;
    assert!(claims(&token).get("roles").is_none());
    assert_eq!(fx.send(&token, &mail("rbac", "<r@b.c>")).await.status(), 202);
    let resp = fx
        .http
        .post(fx.graph(&format!("{AP}/sendMail")))
        .bearer_auth(&token)
        .json(&mail("rbac", "<r2@b.c>"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(resp).await.1, "ErrorAccessDenied");

    // Application Access Policy.
    fx.emu.update_app(&fx.setup.client_id, |a| {
        a.access_policy = Some(AccessPolicy::RestrictAccess(vec![AP.into()]));
    });
    let token = fx.token().await;
    let (status, code, message) = error_of(fx.send(&token, &mail("x", "<p@b.c>")).await).await;
    assert_eq!(
        (status, code.as_str(), message.as_str()),
        (403, "ErrorAccessDenied", "Access to OData is disabled.")
    );
}

#[tokio::test]
async fn unknown_disabled_alias_and_me_mailboxes() {
    let fx = Fx::new().await;
    fx.emu.add_mailbox(
        &fx.setup.tenant_id,
        Mailbox::new("onprem@contoso.example").with_state(MailboxState::NotEnabledForRest),
    );
    fx.emu.update_mailbox(AP, |m| m.aliases.push("payables@contoso.example".into()));
    let token = fx.token().await;
    let probe = |who: &str| fx.graph(&format!("{who}/mailFolders/inbox?$select=id"));
    let (s, c, m) = error_of(fx.get(&token, &probe("nobody@contoso.example")).await).await;
    assert_eq!((s, c.as_str()), (404, "ErrorInvalidUser"));
    assert_eq!(m, "The requested user 'nobody@contoso.example' is invalid.");
    let (s, c, m) = error_of(fx.get(&token, &probe("onprem@contoso.example")).await).await;
    assert_eq!((s, c.as_str()), (404, "MailboxNotEnabledForRESTAPI"));
    assert_eq!(m, "The mailbox is either inactive, soft-deleted, or is hosted on-premise.");
    // Aliases receive mail but do not resolve as users.
    let (s, c, _) = error_of(fx.get(&token, &probe("payables@contoso.example")).await).await;
    assert_eq!((s, c.as_str()), (404, "ErrorInvalidUser"));
    let url = format!("{}/v1.0/me/messages", fx.emu.url());
    let (s, c, m) = error_of(fx.get(&token, &url).await).await;
    assert_eq!((s, c.as_str()), (400, "BadRequest"));
    assert_eq!(m, "/me request is only valid with delegated authentication flow.");
    let (s, c, _) = error_of(fx.get(&token, &fx.graph(SENDER)).await).await;
    assert_eq!((s, c.as_str()), (403, "Authorization_RequestDenied"));
}

// --- Sending --------------------------------------------------------------------

#[tokio::test]
async fn send_mail_answers_202_and_delivers_to_sent_items_and_inboxes() {
    let fx = Fx::new().await;
    fx.emu.add_mailbox(&fx.setup.tenant_id, Mailbox::new("audit@contoso.example"));
    let token = fx.token().await;
    let resp = fx
        .http
        .post(fx.graph(&format!("{SENDER}/sendMail")))
        .bearer_auth(&token)
        .header("client-request-id", "7f0c8a4e-0000-4000-8000-000000000001")
        .json(&mail("Invoice 1", "<inv-1@g360.example>"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    assert!(resp.headers().get("request-id").is_some());
    assert_eq!(resp.headers()["client-request-id"], "7f0c8a4e-0000-4000-8000-000000000001");
    assert!(resp.bytes().await.unwrap().is_empty());

    let sent = fx.emu.sent_items(SENDER);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].internet_message_id, "<inv-1@g360.example>");
    assert_eq!(sent[0].extended_property(TAG_ID), Some("uid-1"));
    assert_eq!(sent[0].bcc.len(), 1);
    assert_eq!(sent[0].attachments[0].bytes, b"%PDF-1.7 test");
    let inbox = fx.emu.inbox(AP);
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].subject, "Invoice 1");
    assert!(inbox[0].bcc.is_empty());
    assert!(!inbox[0].is_read);
    assert_eq!(inbox[0].headers, vec![("X-ERP-Document".to_string(), "INV-1".to_string())]);
    assert_eq!(fx.emu.inbox("audit@contoso.example").len(), 1);
    let d = &fx.emu.deliveries()[0];
    assert_eq!(d.external, vec!["buyer@supplier.example".to_string()]);
    assert_eq!(fx.emu.count_sent_with_internet_message_id("<inv-1@g360.example>"), 1);

    // Found again by internetMessageId and by the extended property.
    let url = format!(
        "{}?$filter={}&$select=id,internetMessageId",
        fx.graph(&format!("{SENDER}/mailFolders/sentitems/messages")),
        "internetMessageId%20eq%20'%3Cinv-1%40g360.example%3E'"
    );
    let body: Value = fx.get(&token, &url).await.json().await.unwrap();
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
    let url = fx.graph(&format!("{SENDER}/mailFolders/sentitems/messages"));
    let filter = format!(
        "singleValueExtendedProperties/Any(ep: ep/id eq '{TAG_ID}' and ep/value eq 'uid-1')"
    );
    let expand = format!("singleValueExtendedProperties($filter=id eq '{TAG_ID}')");
    let resp = fx
        .http
        .get(url)
        .bearer_auth(&token)
        .query(&[("$filter", filter.as_str()), ("$expand", expand.as_str())])
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["value"][0]["singleValueExtendedProperties"][0]["value"], "uid-1", "{body}");
}

#[tokio::test]
async fn send_mail_validation_errors() {
    let fx = Fx::new().await;
    let token = fx.token().await;
    let mut m = mail("x", "<v@b.c>");
    m["message"]["internetMessageHeaders"] =
        json!([{ "name": "List-Unsubscribe", "value": "<mailto:x@y.z>" }]);
    let (s, c, msg) = error_of(fx.send(&token, &m).await).await;
    assert_eq!((s, c.as_str()), (400, "InvalidInternetMessageHeader"));
    assert_eq!(
        msg,
        "The internet message header name 'List-Unsubscribe' should start with 'x-' or 'X-'."
    );

    let mut m = mail("x", "<v@b.c>");
    for k in ["toRecipients", "ccRecipients", "bccRecipients"] {
        m["message"][k] = json!([]);
    }
    assert_eq!(error_of(fx.send(&token, &m).await).await.1, "ErrorInvalidRecipients");
    let mut m = mail("x", "<v@b.c>");
    m["message"]["toRecipients"] = json!([{ "emailAddress": { "address": "not-an-address" } }]);
    assert_eq!(error_of(fx.send(&token, &m).await).await.1, "ErrorInvalidRecipients");
    let mut m = mail("x", "<v@b.c>");
    m["message"]["bogus"] = json!(1);
    let (s, _, msg) = error_of(fx.send(&token, &m).await).await;
    assert_eq!(s, 400);
    assert!(msg.contains("'bogus' does not exist on type 'microsoft.graph.message'"));
    let mut m = mail("x", "<v@b.c>");
    m["message"]["from"] = json!({ "emailAddress": { "address": "ceo@contoso.example" } });
    assert_eq!(error_of(fx.send(&token, &m).await).await.1, "ErrorSendAsDenied");
    let mut m = mail("x", "<v@b.c>");
    m["message"]["attachments"][0]["contentBytes"] =
        json!(STANDARD.encode(vec![0u8; 4 * 1024 * 1024]));
    let (s, c, msg) = error_of(fx.send(&token, &m).await).await;
    assert_eq!(
        (s, c.as_str(), msg.as_str()),
        (400, "BadRequest", "The maximum request length supported is 4MB.")
    );
    let resp = fx
        .http
        .post(fx.graph(&format!("{SENDER}/sendMail")))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(resp).await.0, 400);
    assert!(fx.emu.deliveries().is_empty());
}

#[tokio::test]
async fn mime_send_and_preserved_or_replaced_message_id() {
    let fx = Fx::new().await;
    let token = fx.token().await;
    let raw = format!(
        "From: ERP <{SENDER}>\r\nTo: <{AP}>\r\nBcc: <hidden@contoso.example>\r\nSubject: MIME test\r\nMessage-ID: <mime-1@g360.example>\r\nX-ERP: 1\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n"
    );
    let resp = fx
        .http
        .post(fx.graph(&format!("{SENDER}/sendMail")))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body(STANDARD.encode(&raw))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let inbox = fx.emu.inbox(AP);
    assert_eq!(inbox[0].internet_message_id, "<mime-1@g360.example>");
    assert!(!String::from_utf8_lossy(inbox[0].mime.as_ref().unwrap()).contains("hidden@"));
    let resp = fx
        .http
        .post(fx.graph(&format!("{SENDER}/sendMail")))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("%%%not base64")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(resp).await.1, "ErrorMimeContentInvalidBase64String");

    fx.emu.configure(|o| o.preserve_internet_message_id = false);
    assert_eq!(fx.send(&token, &mail("y", "<mine@g360.example>")).await.status(), 202);
    let sent = fx.emu.sent_items(SENDER);
    assert_ne!(sent[0].internet_message_id, "<mine@g360.example>");
    assert_eq!(sent[0].extended_property(TAG_ID), Some("uid-1"));
    assert_eq!(fx.emu.count_sent_with_internet_message_id("<mine@g360.example>"), 1);
}

#[tokio::test]
async fn large_attachment_flow_needs_read_write_and_delivers() {
    let fx = Fx::new().await;
    let token = fx.token().await;
    let draft = json!({
        "subject": "Big", "body": { "contentType": "Text", "content": "see attachment" },
        "toRecipients": [ { "emailAddress": { "address": AP } } ],
        "internetMessageId": "<big-1@g360.example>"
    });
    let url = fx.graph(&format!("{SENDER}/messages"));
    let resp = fx.http.post(&url).bearer_auth(&token).json(&draft).send().await.unwrap();
    assert_eq!(error_of(resp).await.1, "ErrorAccessDenied");

    fx.emu.update_app(&fx.setup.client_id, |a| a.roles.push(MAIL_READ_WRITE.into()));
    let token = fx.token().await;
    let resp = fx.http.post(&url).bearer_auth(&token).json(&draft).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["isDraft"], true);

    let size = 5 * 1024 * 1024 + 17;
    let session_url = fx.graph(&format!("{SENDER}/messages/{id}/attachments/createUploadSession"));
    let small =
        json!({ "AttachmentItem": { "attachmentType": "file", "name": "s.bin", "size": 1000 } });
    let resp = fx.http.post(&session_url).bearer_auth(&token).json(&small).send().await.unwrap();
    assert_eq!(error_of(resp).await.1, "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize");
    let item =
        json!({ "AttachmentItem": { "attachmentType": "file", "name": "big.bin", "size": size } });
    let resp = fx.http.post(&session_url).bearer_auth(&token).json(&item).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let session: Value = resp.json().await.unwrap();
    assert_eq!(session["nextExpectedRanges"], json!(["0-"]));
    let upload = session["uploadUrl"].as_str().unwrap().to_string();
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let chunk = 3 * 1024 * 1024;
    let mut start = 0;
    while start < size {
        let end = (start + chunk).min(size) - 1;
        let resp = fx
            .http
            .put(&upload)
            .header("content-range", format!("bytes {start}-{end}/{size}"))
            .header("content-type", "application/octet-stream")
            .body(data[start..=end].to_vec())
            .send()
            .await
            .unwrap();
        if end + 1 < size {
            assert_eq!(resp.status(), 200);
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["nextExpectedRanges"], json!([(end + 1).to_string()]));
        } else {
            assert_eq!(resp.status(), 201);
            assert!(resp.headers()["location"].to_str().unwrap().contains("attachments('"));
        }
        start = end + 1;
    }
    let resp = fx
        .http
        .post(fx.graph(&format!("{SENDER}/messages/{id}/send")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    assert!(fx.emu.drafts(SENDER).is_empty());
    assert_eq!(fx.emu.sent_items(SENDER)[0].attachments[0].bytes, data);
    assert_eq!(fx.emu.inbox(AP)[0].attachments[0].bytes.len(), size);
    assert_eq!(fx.emu.deliveries()[0].via, SendVia::Draft);
    assert_eq!(fx.emu.count_sent_with_internet_message_id("<big-1@g360.example>"), 1);
}

// --- Reading --------------------------------------------------------------------

fn seed(emu: &GraphEmulator, n: usize) -> Timestamp {
    let base = Timestamp::from_second(1_767_225_600).unwrap(); // 2026-01-01
    emu.seed_inbox(
        SENDER,
        (0..n).map(|i| {
            let mut m = MailMessage::new(format!("PO {i}"))
                .with_from(EmailAddress::named("buyer@supplier.example", "Buyer"))
                .with_to(EmailAddress::new(SENDER))
                .with_html_body(format!("<p>Order <b>{i}</b></p>"))
                .with_received_at(base + SignedDuration::from_hours(i as i64))
                .with_read(i % 2 == 0)
                .with_internet_message_id(format!("<po-{i}@supplier.example>"));
            if i % 5 == 0 {
                m = m.with_attachment(FileAttachment::new(
                    "po.csv",
                    "text/csv",
                    b"a,b\n1,2\n".to_vec(),
                ));
            }
            m
        }),
    );
    base
}

#[tokio::test]
async fn paging_follows_next_links_newest_first() {
    let fx = Fx::new().await;
    seed(&fx.emu, 25);
    let token = fx.token().await;
    let mut url = fx.graph(&format!(
        "{SENDER}/mailFolders/inbox/messages?$top=10&$select=subject,receivedDateTime"
    ));
    let mut subjects = Vec::new();
    let mut pages = 0;
    loop {
        let body: Value = fx.get(&token, &url).await.json().await.unwrap();
        pages += 1;
        for m in body["value"].as_array().unwrap() {
            assert!(m.get("body").is_none(), "$select honoured");
            subjects.push(m["subject"].as_str().unwrap().to_string());
        }
        match body["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&fx.emu.url()) && next.contains("skiptoken"));
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(subjects.len(), 25);
    assert_eq!(subjects[0], "PO 24");
    assert_eq!(subjects[24], "PO 0");
    // Default page size 10, maximum 1000.
    let body: Value = fx
        .get(&token, &fx.graph(&format!("{SENDER}/mailFolders/inbox/messages")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["value"].as_array().unwrap().len(), 10);
    let resp =
        fx.get(&token, &fx.graph(&format!("{SENDER}/mailFolders/inbox/messages?$top=1001"))).await;
    assert_eq!(error_of(resp).await.0, 400);
}

async fn count(fx: &Fx, token: &str, query: &[(&str, &str)]) -> Result<usize, (u16, String)> {
    let resp = fx
        .http
        .get(fx.graph(&format!("{SENDER}/mailFolders/inbox/messages")))
        .bearer_auth(token)
        .query(&[("$top", "1000")])
        .query(query)
        .send()
        .await
        .unwrap();
    if resp.status() != 200 {
        let (s, c, _) = error_of(resp).await;
        return Err((s, c));
    }
    let body: Value = resp.json().await.unwrap();
    Ok(body["value"].as_array().unwrap().len())
}

#[tokio::test]
async fn filters_and_the_inefficient_filter_rule() {
    let fx = Fx::new().await;
    seed(&fx.emu, 20);
    let token = fx.token().await;
    assert_eq!(count(&fx, &token, &[("$filter", "isRead eq false")]).await, Ok(10));
    assert_eq!(count(&fx, &token, &[("$filter", "hasAttachments eq true")]).await, Ok(4));
    assert_eq!(
        count(&fx, &token, &[("$filter", "receivedDateTime ge 2026-01-01T10:00:00Z")]).await,
        Ok(10)
    );
    assert_eq!(
        count(
            &fx,
            &token,
            &[
                ("$filter", "receivedDateTime ge 2026-01-01T10:00:00Z and isRead eq false"),
                ("$orderby", "receivedDateTime desc")
            ]
        )
        .await,
        Ok(5)
    );
    assert_eq!(
        count(&fx, &token, &[("$filter", "internetMessageId eq '<po-3@supplier.example>'")]).await,
        Ok(1)
    );
    assert_eq!(
        count(
            &fx,
            &token,
            &[("$filter", "isRead eq false"), ("$orderby", "receivedDateTime desc")]
        )
        .await,
        Err((400, "InefficientFilter".into()))
    );
    assert_eq!(
        count(&fx, &token, &[("$filter", "subject eq 'PO 1'")]).await,
        Err((400, "BadRequest".into()))
    );
    assert_eq!(
        count(&fx, &token, &[("$filter", "nonsense(")]).await,
        Err((400, "BadRequest".into()))
    );
    assert_eq!(count(&fx, &token, &[("$select", "nope")]).await, Err((400, "BadRequest".into())));
}

#[tokio::test]
async fn message_body_types_ids_mime_and_attachments() {
    let fx = Fx::new().await;
    seed(&fx.emu, 1);
    let token = fx.token().await;
    let stored = &fx.emu.inbox(SENDER)[0];
    let url = fx.graph(&format!("{SENDER}/messages/{}", stored.id));
    let resp = fx
        .http
        .get(&url)
        .bearer_auth(&token)
        .header("Prefer", "outlook.body-content-type=\"text\"")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["preference-applied"], "outlook.body-content-type=\"text\"");
    let m: Value = resp.json().await.unwrap();
    assert_eq!(m["body"]["contentType"], "text");
    assert_eq!(m["body"]["content"], "Order 0");
    assert_eq!(m["from"]["emailAddress"]["address"], "buyer@supplier.example");
    assert_eq!(m["hasAttachments"], true);
    let m: Value = fx.get(&token, &url).await.json().await.unwrap();
    assert_eq!(m["body"]["contentType"], "html");

    let resp = fx
        .http
        .get(&url)
        .bearer_auth(&token)
        .header("Prefer", "IdType=\"ImmutableId\"")
        .send()
        .await
        .unwrap();
    let m: Value = resp.json().await.unwrap();
    assert_eq!(m["id"], stored.immutable_id.as_str());
    let by_immutable = fx.graph(&format!("{SENDER}/messages/{}", stored.immutable_id));
    assert_eq!(fx.get(&token, &by_immutable).await.status(), 200);

    let resp = fx.get(&token, &format!("{url}/$value")).await;
    assert_eq!(resp.headers()["content-type"], "text/plain");
    let raw = resp.bytes().await.unwrap();
    let parsed = mail_parser::MessageParser::default().parse(&raw[..]).unwrap();
    assert_eq!(parsed.subject(), Some("PO 0"));
    assert_eq!(parsed.attachment_count(), 1);

    let body: Value = fx.get(&token, &format!("{url}/attachments")).await.json().await.unwrap();
    let att = &body["value"][0];
    assert_eq!(att["@odata.type"], "#microsoft.graph.fileAttachment");
    assert_eq!(STANDARD.decode(att["contentBytes"].as_str().unwrap()).unwrap(), b"a,b\n1,2\n");
    let missing = fx.graph(&format!("{SENDER}/messages/AAMkAGnothere="));
    assert_eq!(error_of(fx.get(&token, &missing).await).await.1, "ErrorItemNotFound");

    // The verify probe.
    let body: Value = fx
        .get(&token, &fx.graph(&format!("{SENDER}/mailFolders/inbox?$select=id")))
        .await
        .json()
        .await
        .unwrap();
    assert!(body["id"].is_string());
    assert!(body.get("displayName").is_none());
}

#[tokio::test]
async fn delta_rounds_report_new_and_removed_and_expire() {
    let fx = Fx::new().await;
    seed(&fx.emu, 12);
    let token = fx.token().await;
    let mut url = fx.graph(&format!("{SENDER}/mailFolders/inbox/messages/delta?$select=subject"));
    let mut seen = 0;
    let delta_link = loop {
        let body: Value = fx.get(&token, &url).await.json().await.unwrap();
        seen += body["value"].as_array().unwrap().len();
        if let Some(next) = body["@odata.nextLink"].as_str() {
            url = next.to_string();
        } else {
            break body["@odata.deltaLink"].as_str().unwrap().to_string();
        }
    };
    assert_eq!(seen, 12);
    assert!(delta_link.contains("deltatoken"));

    let ids = fx.emu.seed_inbox(SENDER, [MailMessage::new("new one")]);
    let old = fx.emu.inbox(SENDER).last().unwrap().id.clone();
    assert!(fx.emu.delete_message(SENDER, &old));
    let body: Value = fx.get(&token, &delta_link).await.json().await.unwrap();
    let values = body["value"].as_array().unwrap();
    assert_eq!(values.len(), 2, "{body}");
    assert!(values.iter().any(|v| v["id"] == ids[0].as_str() && v["subject"] == "new one"));
    assert!(values.iter().any(|v| v["id"] == old.as_str() && v["@removed"]["reason"] == "deleted"));

    fx.emu.invalidate_delta_tokens();
    let next_link = body["@odata.deltaLink"].as_str().unwrap();
    let (s, c, _) = error_of(fx.get(&token, next_link).await).await;
    assert_eq!((s, c.as_str()), (410, "syncStateNotFound"));
}

// --- Faults, throttling, records ------------------------------------------------

#[tokio::test]
async fn accept_then_504_delivers_and_status_faults_do_not() {
    let fx = Fx::new().await;
    let token = fx.token().await;
    fx.emu.push_fault(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::accept_then_gateway_timeout(),
        1,
    );
    let resp = fx.send(&token, &mail("a", "<once@g360.example>")).await;
    assert_eq!(resp.status(), 504);
    assert_eq!(fx.emu.count_sent_with_internet_message_id("<once@g360.example>"), 1);
    assert_eq!(fx.emu.sent_items(SENDER).len(), 1);

    fx.emu.push_fault(
        FaultMatch::endpoint(Endpoint::SendMail).mailbox(SENDER),
        Fault::mailbox_concurrency(7),
        1,
    );
    let resp = fx.send(&token, &mail("b", "<b@g360.example>")).await;
    assert_eq!(resp.headers()["retry-after"], "7");
    let (s, c, m) = error_of(resp).await;
    assert_eq!(
        (s, c.as_str(), m.as_str()),
        (429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.")
    );
    assert_eq!(fx.emu.count_sent_with_internet_message_id("<b@g360.example>"), 0);

    fx.emu.push_fault(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::AcceptedWithRetryAfter { retry_after: 3 },
        1,
    );
    let resp = fx.send(&token, &mail("c", "<c@g360.example>")).await;
    assert_eq!(resp.status(), 202);
    assert_eq!(resp.headers()["retry-after"], "3");
    assert_eq!(fx.emu.count_sent_with_internet_message_id("<c@g360.example>"), 1);

    fx.emu.push_fault(FaultMatch::endpoint(Endpoint::SendMail), Fault::Drop, 1);
    assert!(
        fx.http
            .post(fx.graph(&format!("{SENDER}/sendMail")))
            .bearer_auth(&token)
            .json(&mail("d", "<d@g360.example>"))
            .send()
            .await
            .is_err()
    );
    assert_eq!(fx.emu.count_sent_with_internet_message_id("<d@g360.example>"), 0);

    fx.emu.push_fault(
        FaultMatch::endpoint(Endpoint::Token),
        Fault::token_temporarily_unavailable(),
        1,
    );
    let resp = fx
        .token_with(&[
            ("client_id", &fx.setup.client_id),
            ("client_secret", &fx.setup.secret),
            ("scope", "https://graph.microsoft.com/.default"),
            ("grant_type", "client_credentials"),
        ])
        .await;
    check_token_error(resp, 503, "temporarily_unavailable", 90033).await;
    assert!(fx.emu.pending_faults().is_empty());
    // The record shows each request, its fault and status.
    let sends = fx.emu.requests_to(Endpoint::SendMail);
    assert_eq!(sends.len(), 4);
    assert_eq!(sends[0].status, Some(504));
    assert_eq!(sends[3].status, None);
    assert_eq!(sends[0].header("authorization"), Some("Bearer"));
    assert_eq!(sends[0].body_json.as_ref().unwrap()["message"]["subject"], "a");
}

#[tokio::test]
async fn delay_fault_provokes_client_timeouts() {
    let fx = Fx::new().await;
    let token = fx.token().await;
    fx.emu.push_fault(
        FaultMatch::endpoint(Endpoint::MailFolder),
        Fault::Delay(Duration::from_millis(800)),
        1,
    );
    let url = fx.graph(&format!("{SENDER}/mailFolders/inbox?$select=id"));
    let err = fx
        .http
        .get(&url)
        .bearer_auth(&token)
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(fx.get(&token, &url).await.status(), 200);

    // A send that timed out on the client is still delivered after the delay.
    fx.emu.push_fault(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::Delay(Duration::from_millis(400)),
        1,
    );
    let err = fx
        .http
        .post(fx.graph(&format!("{SENDER}/sendMail")))
        .bearer_auth(&token)
        .json(&mail("late", "<late@g360.example>"))
        .timeout(Duration::from_millis(100))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(fx.emu.count_sent_with_internet_message_id("<late@g360.example>"), 0);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(fx.emu.count_sent_with_internet_message_id("<late@g360.example>"), 1);
}

#[tokio::test]
async fn concurrency_is_recorded_and_optionally_throttled() {
    let fx = Fx::new().await;
    let token = fx.token().await;
    let url = fx.graph(&format!("{SENDER}/mailFolders/inbox?$select=id"));
    fx.emu.push_fault(
        FaultMatch::endpoint(Endpoint::MailFolder),
        Fault::Delay(Duration::from_millis(300)),
        6,
    );
    let calls = (0..6).map(|_| owned_get(&fx.http, &token, &url));
    let statuses: Vec<u16> =
        futures_join(calls).await.into_iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 200));
    assert_eq!(fx.emu.max_concurrency(SENDER), 6);
    assert_eq!(fx.emu.max_concurrency(AP), 0);

    fx.emu.reset_records();
    fx.emu.configure(|o| o.concurrency_limit = Some(4));
    fx.emu.push_fault(
        FaultMatch::endpoint(Endpoint::MailFolder),
        Fault::Delay(Duration::from_millis(300)),
        4,
    );
    let first: Vec<_> = (0..4).map(|_| owned_get(&fx.http, &token, &url)).collect();
    let handle = tokio::spawn(futures_join(first));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let resp = fx.get(&token, &url).await;
    assert_eq!(resp.headers()["retry-after"], "1");
    let (s, c, m) = error_of(resp).await;
    assert_eq!(
        (s, c.as_str(), m.as_str()),
        (429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.")
    );
    assert!(handle.await.unwrap().iter().all(|r| r.status() == 200));
    assert_eq!(fx.emu.max_concurrency(SENDER), 5);
}

/// A GET that owns its inputs, so it can run on another task.
fn owned_get(
    http: &reqwest::Client,
    token: &str,
    url: &str,
) -> impl std::future::Future<Output = reqwest::Response> + Send + 'static {
    let request = http.get(url).bearer_auth(token);
    async move { request.send().await.unwrap() }
}

/// Runs futures concurrently on this task (no extra crate needed).
async fn futures_join<F, T>(futures: impl IntoIterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
