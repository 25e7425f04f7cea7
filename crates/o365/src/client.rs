//! The HTTP side of the provider: Graph requests with the token, the
//! per-mailbox limiter, and the one retry driver ([`GraphClient::drive`]).
//!
//! Every request is a [`Call`] with an idempotency flag. Idempotent ones
//! (reads, range uploads, deletes) are retried after any temporary failure.
//! The others (`sendMail`, a draft's `send`, draft creation) are retried
//! without looking only when the request surely was not accepted; an
//! ambiguous outcome goes back to the caller, which for sends looks the mail
//! up in Sent Items first (see `send.rs`).
//!
//! Every attempt is bounded: connect timeout, a request timeout that covers
//! the answer body, a cap on the body's size, no redirects.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use g360_mail_core::Backoff;
use g360_mail_core::{Error, MAX_MESSAGE_BYTES, Result};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use crate::auth::{AccessToken, TokenCache};
use crate::config::O365Settings;
use crate::error::{O365Error, deadline_passed};
use crate::graph_model::{GraphErrorBody, GraphErrorDetail};

/// Largest Graph request body: 4 MB, after base64.
pub(crate) const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// Largest JSON answer read (a page, a message, an error, a token): 8 MiB.
/// A page of 1000 messages without bodies takes about 2 MiB.
pub(crate) const MAX_JSON_BYTES: usize = 8 * 1024 * 1024;

/// Slack over the size Graph declares for an attachment, when its bytes are
/// fetched alone: Graph's `size` counts the item, not just the content.
pub(crate) const ATTACHMENT_SLACK: usize = 64 * 1024;

/// Largest raw MIME (`$value`) of a message read: Exchange's largest
/// message, grown by base64's third, plus headers.
pub(crate) const MAX_MIME_BYTES: usize = MAX_MESSAGE_BYTES / 3 * 4 + 1024 * 1024;

/// How long and how often to retry, from the settings.
#[derive(Debug, Clone)]
pub(crate) struct RetryPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) backoff: Backoff,
    pub(crate) max_total: Duration,
    pub(crate) settle: Duration,
    /// The overall deadline of one send, lookups included.
    pub(crate) send_timeout: Duration,
}

impl RetryPolicy {
    pub(crate) fn from_settings(s: &O365Settings) -> Self {
        RetryPolicy {
            max_attempts: s.max_attempts.max(1),
            backoff: Backoff::new(
                Duration::from_millis(s.initial_backoff_ms),
                Duration::from_millis(s.max_backoff_ms),
            ),
            max_total: Duration::from_millis(s.max_total_delay_ms),
            settle: Duration::from_millis(s.sent_lookup_delay_ms),
            send_timeout: Duration::from_millis(s.send_timeout_ms),
        }
    }

    /// A fresh retry state for one operation, ending at `deadline` if given.
    pub(crate) fn start(&self, deadline: Option<Instant>) -> Retry {
        Retry {
            policy: self.clone(),
            attempt: 0,
            waited: Duration::ZERO,
            refreshed: false,
            deadline,
        }
    }
}

/// The state of one retried operation: the one retry driver of the crate
/// ([`GraphClient::drive`]) advances it, and [`Retry::pause`] decides
/// whether to wait and go on or to give up.
#[derive(Debug)]
pub(crate) struct Retry {
    policy: RetryPolicy,
    attempt: u32,
    /// Time spent waiting between attempts (and looking mail up).
    waited: Duration,
    /// Whether the token was already renewed once after Graph refused it.
    refreshed: bool,
    /// No attempt starts, and none runs, past this instant.
    deadline: Option<Instant>,
}

impl Retry {
    /// Attempts made so far.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Counts `spent` (a Sent Items lookup) as waiting.
    pub(crate) fn count_waited(&mut self, spent: Duration) {
        self.waited = self.waited.saturating_add(spent);
    }

    /// The time left before the deadline, if there is one.
    pub(crate) fn remaining(&self) -> Option<Duration> {
        self.deadline.map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Sleeps before another attempt after `err`, or returns `err` (made
    /// persistent, with the attempt count) when it is not temporary, the
    /// attempts or the waiting budget are spent, or the wait would pass the
    /// deadline. `credit` is time already waited since the failure (the
    /// settle time of a lookup), subtracted from the delay. A server's
    /// `Retry-After` is honoured when it fits, never beyond the budget.
    pub(crate) async fn pause(&mut self, err: Error, credit: Duration) -> Result<()> {
        if !err.is_temporary() {
            return Err(err);
        }
        let p = &self.policy;
        let delay = p.backoff.delay_or(self.attempt, err.retry_after()).saturating_sub(credit);
        let past_deadline = self.remaining().is_some_and(|left| delay >= left);
        if self.attempt >= p.max_attempts
            || self.waited.saturating_add(delay) > p.max_total
            || past_deadline
        {
            return Err(exhausted(err, self.attempt));
        }
        tracing::debug!(
            attempt = self.attempt,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            code = err.code(),
            "retrying"
        );
        tokio::time::sleep(delay).await;
        self.waited = self.waited.saturating_add(delay);
        Ok(())
    }
}

/// Parses `Retry-After`: delay-seconds or an HTTP date.
#[cfg(test)]
pub(crate) fn parse_retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    parse_retry_after_value(headers.get(reqwest::header::RETRY_AFTER)?)
}

/// Parses the value of a `Retry-After` header: delay-seconds or an HTTP
/// date, bounded by [`MAX_SERVER_DELAY`] (a number too large for any clock
/// reads as that bound).
pub(crate) fn parse_retry_after_value(value: &HeaderValue) -> Option<Duration> {
    let v = value.to_str().ok()?.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        let secs = v.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Backoff::clamp_server_delay(Duration::from_secs(secs)));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    let d = at.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO);
    Some(Backoff::clamp_server_delay(d))
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

/// How the error answers of a request are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorShape {
    /// Graph's `{"error": {"code", "message", "innerError"}}`.
    Graph,
    /// The identity platform's `{"error", "error_codes", ...}` (tenant discovery).
    Identity,
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
    /// Whether repeating the request is harmless: idempotent requests are
    /// retried after any temporary failure; the others only when the request
    /// surely was not accepted (see [`GraphClient::drive`]).
    pub(crate) idempotent: bool,
    /// The largest answer body read; a longer one is an error.
    pub(crate) max_body: usize,
    pub(crate) errors: ErrorShape,
    /// What the request is, for errors and logs.
    pub(crate) what: &'static str,
}

impl Call {
    /// An idempotent GET of JSON.
    pub(crate) fn get(url: Url, what: &'static str) -> Self {
        Call {
            method: Method::GET,
            url,
            body: None,
            prefer: Some(HeaderValue::from_static(IMMUTABLE_IDS)),
            auth: true,
            idempotent: true,
            max_body: MAX_JSON_BYTES,
            errors: ErrorShape::Graph,
            what,
        }
    }

    /// A non-idempotent POST of JSON.
    pub(crate) fn post_json(url: Url, json: impl Into<Bytes>, what: &'static str) -> Self {
        Call {
            method: Method::POST,
            url,
            body: Some(Body::Json(json.into())),
            prefer: Some(HeaderValue::from_static(IMMUTABLE_IDS)),
            auth: true,
            idempotent: false,
            max_body: MAX_JSON_BYTES,
            errors: ErrorShape::Graph,
            what,
        }
    }

    /// Replaces the `Prefer` header with `all`, a complete value (see
    /// [`PREFER_IMMUTABLE_HTML`] and [`PREFER_IMMUTABLE_TEXT`]).
    pub(crate) fn prefer_exactly(mut self, all: &'static str) -> Self {
        self.prefer = Some(HeaderValue::from_static(all));
        self
    }

    /// Reads at most `max` bytes of the answer.
    pub(crate) fn max_body(mut self, max: usize) -> Self {
        self.max_body = max;
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
    /// The `Retry-After` header, if any.
    pub(crate) retry_after: Option<HeaderValue>,
    /// The host a redirect points to (`Location`), for 3xx answers.
    pub(crate) location: Option<String>,
    pub(crate) body: Bytes,
    pub(crate) request_id: Option<String>,
    pub(crate) client_request_id: uuid::Uuid,
    pub(crate) host: String,
    pub(crate) errors: ErrorShape,
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
        if (300..400).contains(&self.status) {
            return crate::error::redirected(&self.host, self.status, self.location.as_deref());
        }
        match self.errors {
            ErrorShape::Graph => O365Error::graph(
                self.status,
                self.detail(),
                self.request_id.clone(),
                Some(self.client_request_id()),
                self.retry_after(),
            )
            .into(),
            ErrorShape::Identity => crate::error::discovery_error(self.status, &self.body),
        }
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
    /// The request surely was not accepted: no token, no connection, or the
    /// deadline passed before it started.
    NotSent(Error),
    /// The request may have been accepted (timeout, broken connection).
    Unknown(Error),
}

/// What [`GraphClient::drive`] ends with, when it does not fail.
#[derive(Debug)]
pub(crate) enum Step {
    /// A 2xx answer, and the token it was sent with.
    Done(Answer, Option<Arc<AccessToken>>),
    /// Only for requests that are not idempotent: the request may have been
    /// accepted (a timeout, a 5xx or 429 answer). The caller decides,
    /// typically by looking the result up, and may call
    /// [`Retry::pause`] and drive again.
    Ambiguous(Error, Option<Arc<AccessToken>>),
}

/// Reads a body of at most `cap` bytes, chunk by chunk: a longer one stops
/// the read at once (memory stays bounded by `cap`).
pub(crate) async fn read_capped(
    resp: &mut reqwest::Response,
    cap: usize,
) -> std::result::Result<Bytes, Capped> {
    let declared = resp.content_length();
    if let Some(n) = declared
        && n > u64::try_from(cap).unwrap_or(u64::MAX)
    {
        return Err(Capped::TooLarge { declared });
    }
    let initial = declared.and_then(|n| usize::try_from(n).ok()).unwrap_or(0).min(cap);
    let mut buf = bytes::BytesMut::with_capacity(initial);
    while let Some(chunk) = resp.chunk().await.map_err(Capped::Transport)? {
        if chunk.len() > cap - buf.len() {
            return Err(Capped::TooLarge { declared });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Why [`read_capped`] failed.
#[derive(Debug)]
pub(crate) enum Capped {
    /// The body is longer than the cap (`declared` is its `Content-Length`).
    TooLarge { declared: Option<u64> },
    /// The connection failed while reading.
    Transport(reqwest::Error),
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
    /// Buffers of large request bodies, shared by the factory's providers.
    pub(crate) buffers: Arc<crate::body::BufferPool>,
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
        let url = Url::parse(link).map_err(|_| crate::error::bad_continuation(false))?;
        if url.origin() != self.base.origin()
            || !url.path().starts_with(self.base.path().trim_end_matches('/'))
        {
            return Err(crate::error::bad_continuation(true));
        }
        Ok(url)
    }

    /// Whether an absolute upload URL is acceptable (https, or http on loopback
    /// when allowed).
    pub(crate) fn check_upload_url(&self, link: &str) -> Result<Url> {
        let url = Url::parse(link)
            .map_err(|_| crate::error::bad_upload_url("the upload session URL is not a URL"))?;
        let ok = url.scheme() == "https"
            || (url.scheme() == "http" && self.allow_http && crate::config::is_loopback(&url));
        if !ok {
            return Err(crate::error::bad_upload_url("the upload session URL is not https"));
        }
        Ok(url)
    }

    /// One attempt of `call`, with `token` (ignored for unauthenticated
    /// calls), ending within `timeout` (body included) and starting no later
    /// than `deadline`.
    pub(crate) async fn attempt(
        &self,
        call: &Call,
        token: Option<&AccessToken>,
        timeout: Duration,
        deadline: Option<Instant>,
    ) -> Outcome {
        // A random (version 4) id from uuid's fast-rng (the thread's CSPRNG), without a system
        // call per request.
        let client_request_id = uuid::Uuid::new_v4();
        let mut req = self.http.request(call.method.clone(), call.url.clone()).timeout(timeout);
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
        let permit = match deadline {
            Some(d) => match tokio::time::timeout_at(d, self.limiter.acquire()).await {
                Ok(p) => p,
                Err(_) => return Outcome::NotSent(deadline_passed(call.what)),
            },
            None => self.limiter.acquire().await,
        };
        let host = call.url.host_str().unwrap_or_default().to_owned();
        // reqwest bounds the exchange too; this bound holds whatever the
        // transport does, body included.
        let exchange = async {
            let mut resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
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
            let location = headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(|l| call.url.join(l).ok().and_then(|u| u.host_str().map(str::to_owned)))
                .map(Option::unwrap_or_default);
            let request_id =
                headers.get(&REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let body = match read_capped(&mut resp, call.max_body).await {
                Ok(b) => b,
                Err(Capped::TooLarge { declared }) => {
                    let err = crate::error::answer_too_large(call.what, call.max_body, declared)
                        .with_http_status(status)
                        .with_context("client_request_id", client_request_id);
                    return Outcome::Unknown(err);
                }
                Err(Capped::Transport(e)) => {
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
            Outcome::Answer(Answer {
                status,
                retry_after,
                location,
                body,
                request_id,
                client_request_id,
                host,
                errors: call.errors,
            })
        };
        let outcome = match tokio::time::timeout(timeout, exchange).await {
            Ok(o) => o,
            Err(_) => Outcome::Unknown(
                crate::error::timed_out(call.what, timeout)
                    .with_context("client_request_id", client_request_id),
            ),
        };
        drop(permit);
        outcome
    }

    /// A token for the next attempt; a temporary token failure counts as a
    /// request that was not sent.
    pub(crate) async fn token(&self) -> std::result::Result<Arc<AccessToken>, Error> {
        if let Some((code, p)) = &self.setup_problem {
            return Err(crate::error::setup_problem(code, p));
        }
        self.tokens.token().await
    }

    /// The one retry driver: runs `call` until it ends, under `retry`.
    ///
    /// - A 2xx answer ends it ([`Step::Done`]).
    /// - A 401 `InvalidAuthenticationToken` renews the token once and tries
    ///   again (the request was refused, so resending is safe).
    /// - A failure to get a token or to connect, and a deadline passed
    ///   before the request started, mean the request surely was not
    ///   accepted: [`Retry::pause`], then again.
    /// - A timeout, a broken connection or a 408/429/5xx answer are retried
    ///   when the call is idempotent; otherwise they end the drive as
    ///   [`Step::Ambiguous`], and the caller decides.
    /// - Any other status is an error.
    ///
    /// Exhausted retries end in the last error, made persistent.
    pub(crate) async fn drive(&self, call: &Call, retry: &mut Retry) -> Result<Step> {
        loop {
            retry.attempt += 1;
            let token = if call.auth {
                let token = match retry.deadline {
                    Some(d) => tokio::time::timeout_at(d, self.token())
                        .await
                        .unwrap_or_else(|_| Err(deadline_passed("the token request"))),
                    None => self.token().await,
                };
                match token {
                    Ok(t) => Some(t),
                    Err(e) => {
                        retry.pause(e, Duration::ZERO).await?;
                        continue;
                    }
                }
            } else {
                None
            };
            let timeout = match retry.remaining() {
                Some(left) if left.is_zero() => {
                    let e = exhausted(deadline_passed(call.what), retry.attempt);
                    return Err(e);
                }
                Some(left) => self.timeout.min(left),
                None => self.timeout,
            };
            match self.attempt(call, token.as_deref(), timeout, retry.deadline).await {
                Outcome::Answer(a) if (200..300).contains(&a.status) => {
                    return Ok(Step::Done(a, token));
                }
                Outcome::Answer(a) if a.is_token_refused() && !retry.refreshed && call.auth => {
                    if let Some(t) = &token {
                        self.tokens.invalidate(t).await;
                    }
                    retry.refreshed = true;
                    retry.attempt -= 1;
                }
                Outcome::Answer(a) => {
                    let err = a.error();
                    if !is_retryable_status(a.status) {
                        return Err(err);
                    }
                    if !call.idempotent {
                        return Ok(Step::Ambiguous(err, token));
                    }
                    retry.pause(err, Duration::ZERO).await?;
                }
                Outcome::NotSent(e) => retry.pause(e, Duration::ZERO).await?,
                Outcome::Unknown(e) if !call.idempotent => return Ok(Step::Ambiguous(e, token)),
                Outcome::Unknown(e) => retry.pause(e, Duration::ZERO).await?,
            }
        }
    }

    /// Runs an idempotent request (or a write whose ambiguous outcome is an
    /// error for the caller): the answer of a 2xx, else the error.
    pub(crate) async fn run(&self, call: &Call) -> Result<Answer> {
        let mut retry = self.retry.start(None);
        match self.drive(call, &mut retry).await? {
            Step::Done(a, _) => Ok(a),
            Step::Ambiguous(e, _) => Err(e),
        }
    }

    /// GET and decode JSON.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, call: &Call) -> Result<T> {
        self.run(call).await?.json(call.what)
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

/// What [`encode_query`] escapes: everything but the unreserved characters
/// of RFC 3986 and `$`.
const QUERY_ESCAPED: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'$');

/// Encodes query pairs with `%20` for spaces (Graph's `$filter` is picky
/// about the `+` of form encoding), keeping `$` readable.
pub(crate) fn encode_query(pairs: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.extend(utf8_percent_encode(k, QUERY_ESCAPED));
        out.push('=');
        out.extend(utf8_percent_encode(v, QUERY_ESCAPED));
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
    use g360_mail_core::MAX_SERVER_DELAY;
    use reqwest::header::HeaderMap;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(2)),
            max_total: Duration::from_secs(1),
            settle: Duration::ZERO,
            send_timeout: Duration::from_secs(1),
        }
    }

    fn temporary() -> Error {
        crate::error::timed_out("a test request", Duration::from_secs(1))
    }

    #[tokio::test]
    async fn pause_gives_up_persistent_after_the_attempts() {
        let mut r = policy().start(None);
        r.attempt = 2;
        r.pause(temporary(), Duration::ZERO).await.unwrap();
        r.attempt = 3;
        let err = r.pause(temporary(), Duration::ZERO).await.unwrap_err();
        assert!(err.is_persistent());
        assert_eq!(err.context_value("attempts"), Some("3"));
    }

    #[tokio::test]
    async fn pause_never_waits_past_the_budget_or_the_deadline() {
        // A server delay no clock can hold: bounded, then refused at once.
        let mut r = policy().start(None);
        r.attempt = 1;
        let started = Instant::now();
        let huge = temporary().with_retry_after(Duration::MAX);
        let err = r.pause(huge, Duration::ZERO).await.unwrap_err();
        assert!(err.is_persistent());
        assert!(started.elapsed() < Duration::from_millis(500));

        let mut r = policy().start(Instant::now().checked_add(Duration::from_millis(50)));
        r.attempt = 1;
        let slow = temporary().with_retry_after(Duration::from_millis(200));
        assert!(r.pause(slow, Duration::ZERO).await.unwrap_err().is_persistent());

        // A permanent error is returned as it is.
        let mut r = policy().start(None);
        let err = r.pause(crate::error::bad_answer("x"), Duration::ZERO).await.unwrap_err();
        assert!(!err.is_temporary() && !err.is_persistent());
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
        // A number no clock can hold reads as the bound, not as an overflow.
        h.insert("retry-after", HeaderValue::from_static("1000000000000"));
        assert_eq!(parse_retry_after(&h), Some(MAX_SERVER_DELAY));
        h.insert("retry-after", HeaderValue::from_static("99999999999999999999999"));
        assert_eq!(parse_retry_after(&h), Some(MAX_SERVER_DELAY));
        h.insert("retry-after", HeaderValue::from_static("Fri, 31 Dec 9999 23:59:59 GMT"));
        assert_eq!(parse_retry_after(&h), Some(MAX_SERVER_DELAY));
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
    fn prefer_constants_join_the_preferences() {
        for (all, p) in [
            (PREFER_IMMUTABLE_HTML, "outlook.body-content-type=\"html\""),
            (PREFER_IMMUTABLE_TEXT, "outlook.body-content-type=\"text\""),
        ] {
            assert_eq!(all, [IMMUTABLE_IDS, p].join(", "));
        }
    }
}
