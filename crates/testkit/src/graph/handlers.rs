//! Request dispatch: recording, faults, concurrency, routing, and the
//! helpers every endpoint answers with.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::Shared;
use super::fault::{Endpoint, Fault};
use super::record::{RECORDED_HEADERS, RequestRecord};
use super::server::ConnHandle;
use super::{identity, mail};

/// Largest body the emulator reads at all (bigger ones are cut off).
const BODY_READ_LIMIT: usize = 256 * 1024 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(dispatch).with_state(shared)
}

/// One request, read and decoded.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) seq: u64,
    pub(crate) method: Method,
    /// The path as sent (percent-encoded), for building links.
    pub(crate) raw_path: String,
    pub(crate) segments: Vec<String>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) request_id: String,
}

impl Ctx {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A query option, matched case-insensitively (`$top` = `$TOP`); the
    /// `$` may be omitted as OData allows.
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        let bare = name.trim_start_matches('$');
        self.query
            .iter()
            .find(|(k, _)| {
                k.eq_ignore_ascii_case(name) || k.trim_start_matches('$').eq_ignore_ascii_case(bare)
            })
            .map(|(_, v)| v.as_str())
    }

    /// The `client-request-id` to echo: the client's, else the request id.
    pub(crate) fn client_request_id(&self) -> String {
        self.header("client-request-id")
            .map(str::to_string)
            .unwrap_or_else(|| self.request_id.clone())
    }

    /// Values of the `Prefer` headers, split at commas.
    pub(crate) fn prefers(&self) -> Vec<String> {
        self.headers
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// Where a request goes.
#[derive(Debug, Clone)]
pub(crate) enum Route {
    Token { tenant: String },
    Discovery { tenant: String },
    Graph { user: Option<String>, rest: Vec<String> },
    Upload { session: String },
    Unknown,
}

fn classify(method: &Method, segments: &[String]) -> (Route, Endpoint, Option<String>) {
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    match s.as_slice() {
        [tenant, "oauth2", "v2.0", "token"] => {
            (Route::Token { tenant: (*tenant).to_string() }, Endpoint::Token, None)
        }
        [tenant, "v2.0", ".well-known", "openid-configuration"] => {
            (Route::Discovery { tenant: (*tenant).to_string() }, Endpoint::Discovery, None)
        }
        ["upload", session] => {
            (Route::Upload { session: (*session).to_string() }, Endpoint::UploadChunk, None)
        }
        [version, "me", rest @ ..] if is_version(version) => {
            let rest: Vec<String> = rest.iter().map(|x| (*x).to_string()).collect();
            let endpoint = graph_endpoint(method, &rest);
            (Route::Graph { user: None, rest }, endpoint, None)
        }
        [version, "users", user, rest @ ..] if is_version(version) => {
            let rest: Vec<String> = rest.iter().map(|x| (*x).to_string()).collect();
            let endpoint = graph_endpoint(method, &rest);
            (
                Route::Graph { user: Some((*user).to_string()), rest },
                endpoint,
                Some((*user).to_string()),
            )
        }
        _ => (Route::Unknown, Endpoint::Other, None),
    }
}

fn is_version(v: &str) -> bool {
    v == "v1.0" || v == "beta"
}

/// `mailFolders/{f}/messages/{id}/...` addresses a message like `messages/{id}/...`.
pub(crate) fn strip_folder_prefix(rest: &[String]) -> &[String] {
    if rest.len() >= 4
        && rest[0].eq_ignore_ascii_case("mailFolders")
        && rest[2].eq_ignore_ascii_case("messages")
        && !rest[3].eq_ignore_ascii_case("delta")
    {
        &rest[2..]
    } else {
        rest
    }
}

fn graph_endpoint(method: &Method, rest: &[String]) -> Endpoint {
    let rest = strip_folder_prefix(rest);
    let s: Vec<String> = rest.iter().map(|x| x.to_ascii_lowercase()).collect();
    let s: Vec<&str> = s.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["sendmail"] => Endpoint::SendMail,
        ["mailfolders", _] => Endpoint::MailFolder,
        ["mailfolders", _, "messages"] => Endpoint::ListMessages,
        ["mailfolders", _, "messages", "delta"] => Endpoint::Delta,
        ["messages"] if method == Method::POST => Endpoint::CreateDraft,
        ["messages"] => Endpoint::ListMessages,
        ["messages", _] => Endpoint::GetMessage,
        ["messages", _, "$value"] => Endpoint::MessageMime,
        ["messages", _, "send"] => Endpoint::SendDraft,
        ["messages", _, "attachments", "createuploadsession"] => Endpoint::CreateUploadSession,
        ["messages", _, "attachments"] if method == Method::POST => Endpoint::AddAttachment,
        ["messages", _, "attachments", ..] => Endpoint::Attachments,
        _ => Endpoint::Other,
    }
}

fn decode_segment(s: &str) -> String {
    percent_decode(s)
}

/// Percent-decodes (no `+` → space: that is only for forms and queries).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes the pairs of a query string or form body.
pub(crate) fn parse_pairs(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// Reads the `appid` claim of a bearer token without validating it (for the
/// per-app concurrency count).
fn bearer_appid(headers: &HeaderMap) -> String {
    let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return String::new();
    };
    let token = auth.strip_prefix("Bearer ").unwrap_or_default();
    token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v.get("appid").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default()
}

fn record_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in RECORDED_HEADERS {
        for value in headers.get_all(*name) {
            let Ok(v) = value.to_str() else { continue };
            let v = if *name == "authorization" {
                v.split_whitespace().next().unwrap_or_default().to_string()
            } else {
                v.to_string()
            };
            out.push(((*name).to_string(), v));
        }
    }
    out
}

fn record_form(endpoint: Endpoint, body: &[u8]) -> Vec<(String, String)> {
    if endpoint != Endpoint::Token {
        return Vec::new();
    }
    parse_pairs(body)
        .into_iter()
        .map(|(k, v)| {
            if k == "client_secret" {
                let redacted = format!("<redacted len={}>", v.chars().count());
                (k, redacted)
            } else if k == "client_assertion" {
                // Header and claims stay readable for tests; the signature,
                // which makes the assertion usable, does not.
                let (signed, sig) = v.rsplit_once('.').unwrap_or(("", v.as_str()));
                let redacted = format!("{signed}.<redacted len={}>", sig.chars().count());
                (k, redacted)
            } else {
                (k, v)
            }
        })
        .collect()
}

/// Counts a request as in flight for its mailbox until dropped.
struct InFlight {
    shared: Arc<Shared>,
    key: String,
    app: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        if let Some(n) = st.inflight.get_mut(&self.key) {
            *n = n.saturating_sub(1);
        }
        if let Some(n) = st.inflight_app.get_mut(&(self.app.clone(), self.key.clone())) {
            *n = n.saturating_sub(1);
        }
    }
}

async fn dispatch(
    AxState(shared): AxState<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    req: Request<Body>,
) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, BODY_READ_LIMIT).await.unwrap_or_default();
    let raw_path = parts.uri.path().to_string();
    let segments: Vec<String> =
        raw_path.split('/').filter(|s| !s.is_empty()).map(decode_segment).collect();
    let raw_query = parts.uri.query().map(str::to_string);
    let query = raw_query.as_deref().map(|q| parse_pairs(q.as_bytes())).unwrap_or_default();
    let (route, endpoint, mailbox) = classify(&parts.method, &segments);
    let path = percent_decode(&raw_path);

    let (seq, fault) = {
        let mut st = shared.lock();
        st.next_request_seq += 1;
        let seq = st.next_request_seq;
        if endpoint == Endpoint::Token {
            st.token_requests += 1;
        }
        let method = parts.method.as_str().to_string();
        let mut fault = None;
        let mut i = 0;
        while i < st.faults.len() {
            if st.faults[i].when.matches(&method, endpoint, mailbox.as_deref(), &path) {
                fault = Some(st.faults[i].fault.clone());
                if let Some(n) = st.faults[i].remaining.as_mut() {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        st.faults.remove(i);
                    }
                }
                break;
            }
            i += 1;
        }
        st.requests.push(RequestRecord {
            seq,
            at: Timestamp::now(),
            method,
            path: path.clone(),
            query: raw_query,
            endpoint,
            mailbox: mailbox.clone(),
            headers: record_headers(&parts.headers),
            body_json: serde_json::from_slice(&body).ok(),
            form: record_form(endpoint, &body),
            body_len: body.len(),
            status: None,
            fault: fault.as_ref().map(|f| format!("{f:?}")),
        });
        (seq, fault)
    };

    let ctx = Ctx {
        seq,
        method: parts.method.clone(),
        raw_path,
        segments,
        query,
        headers: parts.headers,
        body,
        request_id: uuid::Uuid::new_v4().to_string(),
    };

    let is_graph = matches!(route, Route::Graph { .. } | Route::Upload { .. } | Route::Unknown);

    // Concurrency is counted before anything else, throttled or not: a
    // client that opens a fifth request has already broken the limit.
    let inflight = if let Some(user) = &mailbox {
        let app = bearer_appid(&ctx.headers);
        let mut st = shared.lock();
        let key = st.mailbox_key(user);
        let n = {
            let n = st.inflight.entry(key.clone()).or_insert(0);
            *n += 1;
            *n
        };
        let per_app = {
            let n = st.inflight_app.entry((app.clone(), key.clone())).or_insert(0);
            *n += 1;
            *n
        };
        let max = st.max_concurrency.entry(key.clone()).or_insert(0);
        *max = (*max).max(n);
        let limit = st.options.concurrency_limit;
        let retry_after = st.options.throttle_retry_after;
        drop(st);
        let guard = InFlight { shared: shared.clone(), key, app };
        if limit.is_some_and(|l| per_app > l) && fault.is_none() {
            let resp = graph_error_with_retry(
                &ctx,
                StatusCode::TOO_MANY_REQUESTS,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
                Some(retry_after),
            );
            return finish(&shared, &ctx, resp, is_graph);
        }
        Some(guard)
    } else {
        None
    };

    let mut after: Option<Fault> = None;
    let mut delay = None;
    match fault {
        Some(Fault::Drop) => {
            conn.cut();
            // Never written: the connection fails on the first write.
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        Some(Fault::Delay(d)) => delay = Some(d),
        Some(Fault::Status { status, code, message, retry_after }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let resp = graph_error_with_retry(&ctx, status, &code, &message, retry_after);
            return finish(&shared, &ctx, resp, is_graph);
        }
        Some(Fault::TokenError { status, error, aadsts, description }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            let resp =
                identity::token_error(&shared.base_url, status, &error, aadsts, &description);
            return finish(&shared, &ctx, resp, is_graph);
        }
        Some(f @ (Fault::AcceptThenStatus { .. } | Fault::AcceptedWithRetryAfter { .. })) => {
            after = Some(f);
        }
        None => {}
    }

    // Processing runs on its own task: a client that gives up (timeout,
    // closed connection) does not cancel it, so "the mail went out although
    // the client saw a timeout" is deterministic, as on Graph.
    let task = tokio::spawn(async move {
        let _inflight = inflight;
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        let resp = process(&shared, &ctx, &route, after);
        finish(&shared, &ctx, resp, is_graph)
    });
    task.await.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn process(shared: &Shared, ctx: &Ctx, route: &Route, after: Option<Fault>) -> Response {
    let mut resp = match route {
        Route::Token { tenant } => identity::token(shared, ctx, tenant),
        Route::Discovery { tenant } => identity::discovery(shared, ctx, tenant),
        Route::Graph { user, rest } => mail::handle(shared, ctx, user.as_deref(), rest),
        Route::Upload { session } => mail::upload(shared, ctx, session),
        Route::Unknown => graph_error(
            ctx,
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!(
                "Resource not found for the segment '{}'.",
                ctx.segments.last().map(String::as_str).unwrap_or("")
            ),
        ),
    };
    match after {
        Some(Fault::AcceptThenStatus { status, code, message }) if resp.status().is_success() => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::GATEWAY_TIMEOUT);
            resp = graph_error(ctx, status, &code, &message);
        }
        Some(Fault::AcceptedWithRetryAfter { retry_after }) => {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        _ => {}
    }
    resp
}

/// Adds the correlation headers and records the status.
fn finish(shared: &Shared, ctx: &Ctx, mut resp: Response, is_graph: bool) -> Response {
    let h = resp.headers_mut();
    if is_graph {
        if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
            h.insert("request-id", v);
        }
        if let Ok(v) = HeaderValue::from_str(&ctx.client_request_id()) {
            h.insert("client-request-id", v);
        }
        h.insert(
            "x-ms-ags-diagnostic",
            HeaderValue::from_static(
                r#"{"ServerInfo":{"DataCenter":"Emulator","Slice":"E","Ring":"0","ScaleUnit":"000","RoleInstance":"EMU"}}"#,
            ),
        );
    } else {
        if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
            h.insert("x-ms-request-id", v);
        }
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, no-cache"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    let status = resp.status().as_u16();
    let mut st = shared.lock();
    if let Some(r) = st.requests.iter_mut().rev().find(|r| r.seq == ctx.seq) {
        r.status = Some(status);
    }
    resp
}

/// `application/json` answer.
pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut resp = (status, value.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(
            "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
        ),
    );
    resp
}

/// The Graph error body of reference §5.1.
pub(crate) fn graph_error(ctx: &Ctx, status: StatusCode, code: &str, message: &str) -> Response {
    graph_error_with_retry(ctx, status, code, message, None)
}

/// [`graph_error`] with an optional `Retry-After`.
pub(crate) fn graph_error_with_retry(
    ctx: &Ctx,
    status: StatusCode,
    code: &str,
    message: &str,
    retry_after: Option<u64>,
) -> Response {
    let date = Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let body = json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": date,
                "request-id": ctx.request_id,
                "client-request-id": ctx.client_request_id(),
            }
        }
    });
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(secs) = retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}
