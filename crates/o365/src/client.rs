//! The HTTP side of the provider: Graph requests with the token, the
//! per-mailbox limiter and the retry policy.
//!
//! Reads are retried freely. Writes that are not idempotent (`sendMail`,
//! `send`, draft creation) are retried without looking only when the request
//! surely was not accepted; after an ambiguous outcome the caller looks the
//! mail up in Sent Items first (see `O365Provider::send`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use g360_mail_core::{Error, ErrorKind, Result};
use rand::Rng as _;
use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use url::Url;

use crate::auth::{AccessToken, TokenCache};
use crate::config::O365Settings;
use crate::error::{O365Error, own};
use crate::graph_model::{GraphErrorBody, GraphErrorDetail};

/// Largest Graph request body: 4 MB, after base64.
pub(crate) const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// How long and how often to retry.
#[derive(Debug, Clone)]
pub(crate) struct RetryPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) initial: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) max_total: Duration,
    pub(crate) settle: Duration,
}

impl RetryPolicy {
    pub(crate) fn from_settings(s: &O365Settings) -> Self {
        RetryPolicy {
            max_attempts: s.max_attempts.max(1),
            initial: Duration::from_millis(s.initial_backoff_ms),
            max_backoff: Duration::from_millis(s.max_backoff_ms),
            max_total: Duration::from_millis(s.max_total_delay_ms),
            settle: Duration::from_millis(s.sent_lookup_delay_ms),
        }
    }

    /// Exponential backoff with jitter: a random delay in [d/2, d], where d
    /// doubles with each attempt up to `max_backoff`.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.initial.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let d = exp.min(self.max_backoff);
        let half = d / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(if jitter_ms == 0 {
            0
        } else {
            rand::rng().random_range(0..=jitter_ms)
        })
    }

    /// The delay before the next attempt: the server's `Retry-After` when it
    /// gave one, else backoff.
    pub(crate) fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        retry_after.unwrap_or_else(|| self.backoff(attempt))
    }
}

/// Parses `Retry-After`: delay-seconds or an HTTP date.
#[cfg(test)]
pub(crate) fn parse_retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    parse_retry_after_value(headers.get(reqwest::header::RETRY_AFTER)?)
}

/// Parses the value of a `Retry-After` header: delay-seconds or an HTTP date.
pub(crate) fn parse_retry_after_value(value: &HeaderValue) -> Option<Duration> {
    let v = value.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// A body to send: shared bytes, so that every attempt clones a pointer.
#[derive(Clone)]
pub(crate) enum Body {
    Json(Bytes),
    Bytes { bytes: Bytes, content_range: HeaderValue },
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Json(b) => f.debug_struct("Json").field("len", &b.len()).finish(),
            Body::Bytes { bytes, content_range } => f
                .debug_struct("Bytes")
                .field("len", &bytes.len())
                .field("content_range", content_range)
                .finish(),
        }
    }
}

/// One Graph request, repeatable.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) body: Option<Body>,
    /// The `Prefer` header, built once for every attempt.
    pub(crate) prefer: Option<HeaderValue>,
    /// Whether to send the bearer token (upload URLs are pre-authenticated).
    pub(crate) auth: bool,
    /// What the request is, for errors and logs.
    pub(crate) what: &'static str,
}

impl Call {
    pub(crate) fn get(url: Url, what: &'static str) -> Self {
        Call {
            method: Method::GET,
            url,
            body: None,
            prefer: Some(HeaderValue::from_static(IMMUTABLE_IDS)),
            auth: true,
            what,
        }
    }

    pub(crate) fn post_json(url: Url, json: impl Into<Bytes>, what: &'static str) -> Self {
        Call {
            method: Method::POST,
            url,
            body: Some(Body::Json(json.into())),
            prefer: Some(HeaderValue::from_static(IMMUTABLE_IDS)),
            auth: true,
            what,
        }
    }

    /// Replaces the `Prefer` header with `all`, a complete value (see
    /// [`PREFER_IMMUTABLE_HTML`] and [`PREFER_IMMUTABLE_TEXT`]).
    pub(crate) fn prefer_exactly(mut self, all: &'static str) -> Self {
        self.prefer = Some(HeaderValue::from_static(all));
        self
    }
}

/// Asks Graph for ids that survive moves between folders.
pub(crate) const IMMUTABLE_IDS: &str = "IdType=\"ImmutableId\"";
/// Asks for the body as HTML: [`IMMUTABLE_IDS`], `outlook.body-content-type="html"`.
pub(crate) const PREFER_IMMUTABLE_HTML: &str =
    "IdType=\"ImmutableId\", outlook.body-content-type=\"html\"";
/// Asks for the body as text: [`IMMUTABLE_IDS`], `outlook.body-content-type="text"`.
pub(crate) const PREFER_IMMUTABLE_TEXT: &str =
    "IdType=\"ImmutableId\", outlook.body-content-type=\"text\"";

static CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");
static RETURN_CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("return-client-request-id");
static PREFER: HeaderName = HeaderName::from_static("prefer");
static REQUEST_ID: HeaderName = HeaderName::from_static("request-id");

/// A Graph answer, whatever its status.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// The `Retry-After` header, if any (the only other header looked at).
    pub(crate) retry_after: Option<HeaderValue>,
    pub(crate) body: Bytes,
    pub(crate) request_id: Option<String>,
    pub(crate) client_request_id: uuid::Uuid,
}

impl Answer {
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        self.retry_after.as_ref().and_then(parse_retry_after_value)
    }

    /// Our `client-request-id` of the request.
    pub(crate) fn client_request_id(&self) -> String {
        self.client_request_id.to_string()
    }

    fn detail(&self) -> GraphErrorDetail {
        serde_json::from_slice::<GraphErrorBody>(&self.body).map(|b| b.error).unwrap_or_default()
    }

    /// The Graph `error.code`, if the body has one.
    pub(crate) fn code(&self) -> String {
        self.detail().code
    }

    /// This answer as an error.
    pub(crate) fn error(&self) -> Error {
        O365Error::graph(
            self.status,
            self.detail(),
            self.request_id.clone(),
            Some(self.client_request_id()),
            self.retry_after(),
        )
        .into()
    }

    pub(crate) fn json<T: DeserializeOwned>(&self, what: &'static str) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| O365Error::Decode { what, source: e }.into())
    }

    fn is_token_refused(&self) -> bool {
        self.status == 401 && self.code() == "InvalidAuthenticationToken"
    }
}

/// How one attempt ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The server answered (any status).
    Answer(Answer),
    /// The request surely was not accepted: no token, or no connection.
    NotSent(Error),
    /// The request may have been accepted (timeout, broken connection).
    Unknown(Error),
}

/// The Graph client of one mailbox.
pub(crate) struct GraphClient {
    pub(crate) http: reqwest::Client,
    /// `{graph_url}/v1.0`.
    pub(crate) base: Url,
    pub(crate) mailbox: String,
    /// `{base}/users/{mailbox}`, built once.
    pub(crate) user: Url,
    /// `{base}/users/{mailbox}/sendMail`, built once.
    pub(crate) send_mail: Url,
    pub(crate) tokens: Arc<TokenCache>,
    pub(crate) limiter: Arc<Semaphore>,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Duration,
    pub(crate) allow_http: bool,
    /// A malformed client or tenant id: no token is asked for with it (the
    /// `configuration` check of verify reports it).
    pub(crate) setup_problem: Option<(&'static str, g360_mail_core::ConfigProblem)>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("base", &self.base.as_str())
            .field("mailbox", &self.mailbox)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl GraphClient {
    pub(crate) fn tokens(&self) -> &Arc<TokenCache> {
        &self.tokens
    }

    /// `{base}/users/{mailbox}`, escaped.
    pub(crate) fn user_base(base: &Url, mailbox: &str) -> Url {
        let mut url = base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("users").push(mailbox);
        }
        url
    }

    /// `{base}/users/{mailbox}/{segments…}`, each segment escaped.
    pub(crate) fn user_url(&self, segments: &[&str]) -> Url {
        let mut url = self.user.clone();
        if !segments.is_empty()
            && let Ok(mut path) = url.path_segments_mut()
        {
            path.extend(segments);
        }
        url
    }

    /// Whether `link` (an `@odata.nextLink` / `deltaLink`) points at our Graph
    /// host, so that the bearer token never goes anywhere else.
    pub(crate) fn own_link(&self, link: &str) -> Result<Url> {
        let url = Url::parse(link).map_err(|_| {
            own(
                ErrorKind::InvalidInput,
                "o365.bad-continuation",
                "the continuation token is not a Graph link",
            )
        })?;
        if url.origin() != self.base.origin()
            || !url.path().starts_with(self.base.path().trim_end_matches('/'))
        {
            return Err(own(
                ErrorKind::InvalidInput,
                "o365.bad-continuation",
                "the continuation token does not point at the configured Graph host",
            )
            .with_remedy("pass back the continuation exactly as the previous page returned it"));
        }
        Ok(url)
    }

    /// Whether an absolute upload URL is acceptable (https, or http on loopback
    /// when allowed).
    pub(crate) fn check_upload_url(&self, link: &str) -> Result<Url> {
        let url = Url::parse(link).map_err(|_| {
            own(ErrorKind::Unexpected, "o365.bad-answer", "the upload session URL is not a URL")
        })?;
        let ok = url.scheme() == "https"
            || (url.scheme() == "http" && self.allow_http && crate::config::is_loopback(&url));
        if !ok {
            return Err(own(
                ErrorKind::Unexpected,
                "o365.bad-answer",
                "the upload session URL is not https",
            ));
        }
        Ok(url)
    }

    /// One attempt of `call`, with `token` (ignored for unauthenticated calls).
    pub(crate) async fn attempt(&self, call: &Call, token: Option<&AccessToken>) -> Outcome {
        // A random (version 4) id from the thread's CSPRNG, without a system
        // call per request.
        let client_request_id = uuid::Builder::from_random_bytes(rand::rng().random()).into_uuid();
        let mut req =
            self.http.request(call.method.clone(), call.url.clone()).timeout(self.timeout);
        if call.auth {
            if let Some(v) = token.and_then(AccessToken::authorization) {
                req = req.header(reqwest::header::AUTHORIZATION, v.clone());
            }
            let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
            let id = client_request_id.hyphenated().encode_lower(&mut id);
            if let Ok(v) = HeaderValue::from_str(id) {
                req = req.header(CLIENT_REQUEST_ID.clone(), v);
            }
            req = req.header(RETURN_CLIENT_REQUEST_ID.clone(), HeaderValue::from_static("true"));
            if let Some(p) = &call.prefer {
                req = req.header(PREFER.clone(), p.clone());
            }
        }
        match &call.body {
            Some(Body::Json(json)) => {
                req = req
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    )
                    .body(json.clone());
            }
            Some(Body::Bytes { bytes, content_range }) => {
                req = req
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/octet-stream"),
                    )
                    .header(reqwest::header::CONTENT_RANGE, content_range.clone())
                    .body(bytes.clone());
            }
            None if call.method == Method::POST => {
                req = req.header(reqwest::header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            }
            None => {}
        }
        let permit = self.limiter.acquire().await;
        let result = req.send().await;
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                drop(permit);
                let connect = e.is_connect();
                tracing::debug!(
                    what = call.what,
                    connect,
                    timeout = e.is_timeout(),
                    "request failed"
                );
                let err = Error::from(O365Error::transport(call.what, e))
                    .with_context("client_request_id", client_request_id);
                return if connect { Outcome::NotSent(err) } else { Outcome::Unknown(err) };
            }
        };
        let status = resp.status().as_u16();
        let headers = resp.headers();
        let retry_after = headers.get(reqwest::header::RETRY_AFTER).cloned();
        let request_id = headers.get(&REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = resp.bytes().await;
        drop(permit);
        let body = match body {
            Ok(b) => b,
            Err(e) => {
                let err = Error::from(O365Error::transport(call.what, e))
                    .with_context("client_request_id", client_request_id);
                return Outcome::Unknown(err);
            }
        };
        tracing::debug!(
            what = call.what,
            method = %call.method,
            status,
            request_id = request_id.as_deref().unwrap_or(""),
            client_request_id = %client_request_id,
            "graph answered"
        );
        Outcome::Answer(Answer { status, retry_after, body, request_id, client_request_id })
    }

    /// A token for the next attempt; a temporary token failure counts as a
    /// request that was not sent.
    pub(crate) async fn token(&self) -> std::result::Result<Arc<AccessToken>, Error> {
        if let Some((code, p)) = &self.setup_problem {
            let mut err = Error::new(g360_mail_core::ErrorKind::Config, p.message.clone())
                .with_provider(crate::O365_PROVIDER_TYPE)
                .with_code(*code)
                .with_context("key", &p.path);
            if let Some(r) = &p.remedy {
                err = err.with_remedy(r.clone());
            }
            return Err(err);
        }
        self.tokens.token().await
    }

    /// Runs a read (or any idempotent request): retried on throttling,
    /// unavailability and network failures, with one token refresh on 401.
    /// Any 2xx (and 3xx) is returned; other statuses become errors.
    pub(crate) async fn read(&self, call: &Call) -> Result<Answer> {
        let mut attempt = 0u32;
        let mut waited = Duration::ZERO;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let token = if call.auth {
                match self.token().await {
                    Ok(t) => Some(t),
                    Err(e) => {
                        self.pause_or_fail(e, attempt, &mut waited).await?;
                        continue;
                    }
                }
            } else {
                None
            };
            match self.attempt(call, token.as_deref()).await {
                Outcome::Answer(a) if a.status < 400 => return Ok(a),
                Outcome::Answer(a) if a.is_token_refused() && !refreshed && call.auth => {
                    if let Some(t) = &token {
                        self.tokens.invalidate(t).await;
                    }
                    refreshed = true;
                    attempt -= 1;
                }
                Outcome::Answer(a) => {
                    let err = a.error();
                    if !is_retryable_status(a.status) {
                        return Err(err);
                    }
                    self.pause_or_fail(err, attempt, &mut waited).await?;
                }
                Outcome::NotSent(e) | Outcome::Unknown(e) => {
                    self.pause_or_fail(e, attempt, &mut waited).await?;
                }
            }
        }
    }

    /// Sleeps before another attempt after `err`, or returns `err` (made
    /// persistent) when it is not temporary or the budget is spent.
    async fn pause_or_fail(&self, err: Error, attempt: u32, waited: &mut Duration) -> Result<()> {
        if !err.is_temporary() {
            return Err(err);
        }
        let delay = self.retry.delay(attempt, err.retry_after());
        if attempt >= self.retry.max_attempts || *waited + delay > self.retry.max_total {
            return Err(exhausted(err, attempt));
        }
        tracing::debug!(
            attempt,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            code = err.code(),
            "retrying"
        );
        tokio::time::sleep(delay).await;
        *waited += delay;
        Ok(())
    }

    /// Runs a non-idempotent write that needs no lookup (draft creation,
    /// attachment upload): retried only when surely not accepted.
    pub(crate) async fn write(&self, call: &Call) -> Result<Answer> {
        let mut attempt = 0u32;
        let mut waited = Duration::ZERO;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let token = match self.token().await {
                Ok(t) => t,
                Err(e) => {
                    self.pause_or_fail(e, attempt, &mut waited).await?;
                    continue;
                }
            };
            match self.attempt(call, Some(&token)).await {
                Outcome::Answer(a) if a.status < 300 => return Ok(a),
                Outcome::Answer(a) if a.is_token_refused() && !refreshed => {
                    self.tokens.invalidate(&token).await;
                    refreshed = true;
                    attempt -= 1;
                }
                Outcome::Answer(a) => return Err(a.error()),
                Outcome::NotSent(e) => self.pause_or_fail(e, attempt, &mut waited).await?,
                Outcome::Unknown(e) => return Err(e),
            }
        }
    }

    /// GET and decode JSON.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, call: &Call) -> Result<T> {
        self.read(call).await?.json(call.what)
    }
}

/// Statuses after which a read may be tried again.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// The error returned once retries are spent: persistent, with the count.
pub(crate) fn exhausted(err: Error, attempts: u32) -> Error {
    err.persistent().with_context("attempts", attempts)
}

/// Encodes query pairs with `%20` for spaces (Graph's `$filter` is picky
/// about `+`), keeping `$` readable.
pub(crate) fn encode_query(pairs: &[(&str, String)]) -> String {
    fn enc(s: &str, out: &mut String) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~$".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xF)]));
            }
        }
    }
    let mut out =
        String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>() + 16);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        enc(k, &mut out);
        out.push('=');
        enc(v, &mut out);
    }
    out
}

/// Quotes a string for an OData `$filter` literal.
pub(crate) fn odata_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let p = RetryPolicy {
            max_attempts: 5,
            initial: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            max_total: Duration::from_secs(10),
            settle: Duration::ZERO,
        };
        for _ in 0..50 {
            let d1 = p.backoff(1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = p.backoff(3);
            assert!(d3 >= Duration::from_millis(175) && d3 <= Duration::from_millis(350));
        }
        assert_eq!(p.delay(1, Some(Duration::from_secs(7))), Duration::from_secs(7));
    }

    #[test]
    fn parses_retry_after_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(3)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        h.insert("retry-after", HeaderValue::from_str(&httpdate::fmt_http_date(later)).unwrap());
        let d = parse_retry_after(&h).unwrap();
        assert!(d > Duration::from_secs(110) && d <= Duration::from_secs(120));
        h.insert("retry-after", HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(parse_retry_after(&h), Some(Duration::ZERO));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&h), None);
    }

    #[test]
    fn encodes_filters() {
        let q = encode_query(&[(
            "$filter",
            format!("internetMessageId eq {}", odata_string("<a'b@c.d>")),
        )]);
        assert_eq!(q, "$filter=internetMessageId%20eq%20%27%3Ca%27%27b%40c.d%3E%27");
        assert_eq!(encode_query(&[("a", "é\n".into()), ("b", String::new())]), "a=%C3%A9%0A&b=");
    }

    #[test]
    fn client_request_ids_are_random_v4_uuids() {
        let a = uuid::Builder::from_random_bytes(rand::rng().random()).into_uuid();
        let b = uuid::Builder::from_random_bytes(rand::rng().random()).into_uuid();
        assert_ne!(a, b);
        assert_eq!(a.get_version(), Some(uuid::Version::Random));
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(a.to_string().len(), 36);
    }

    #[test]
    fn prefer_constants_join_the_preferences() {
        for (all, p) in [
            (PREFER_IMMUTABLE_HTML, "outlook.body-content-type=\"html\""),
            (PREFER_IMMUTABLE_TEXT, "outlook.body-content-type=\"text\""),
        ] {
            assert_eq!(all, [IMMUTABLE_IDS, p].join(", "));
        }
    }
}
