//! Scripted faults: what the emulator does instead of (or after) answering
//! normally, matched per request.

use std::time::Duration;

/// The kind of endpoint a request went to; used to match faults and to
/// filter the request record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `POST {authority}/{tenant}/oauth2/v2.0/token`.
    Token,
    /// `GET {authority}/{tenant}/v2.0/.well-known/openid-configuration`.
    Discovery,
    /// `POST /v1.0/users/{id}/sendMail` (JSON or MIME).
    SendMail,
    /// `GET /v1.0/users/{id}/mailFolders/{folder}` (e.g. the verify probe).
    MailFolder,
    /// `GET /v1.0/users/{id}[/mailFolders/{folder}]/messages`.
    ListMessages,
    /// `GET /v1.0/users/{id}/mailFolders/{folder}/messages/delta`.
    Delta,
    /// `GET /v1.0/users/{id}/messages/{msg}`.
    GetMessage,
    /// `GET /v1.0/users/{id}/messages/{msg}/$value`.
    MessageMime,
    /// `GET .../messages/{msg}/attachments[/{att}[/$value]]`.
    Attachments,
    /// `POST /v1.0/users/{id}/messages` (create draft).
    CreateDraft,
    /// `POST .../messages/{msg}/attachments` (attach to a draft).
    AddAttachment,
    /// `POST .../messages/{msg}/attachments/createUploadSession`.
    CreateUploadSession,
    /// `PUT`/`DELETE` of an upload URL.
    UploadChunk,
    /// `POST /v1.0/users/{id}/messages/{msg}/send`.
    SendDraft,
    /// Anything else (`/me`, `/users/{id}`, unknown paths).
    Other,
}

impl Endpoint {
    /// Whether this endpoint belongs to the identity side (token, discovery).
    pub fn is_identity(self) -> bool {
        matches!(self, Endpoint::Token | Endpoint::Discovery)
    }
}

/// Which requests a fault applies to. Every `Some` field must match;
/// [`FaultMatch::any`] matches every request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FaultMatch {
    /// HTTP method, e.g. `POST` (case-insensitive).
    pub method: Option<String>,
    /// Endpoint kind.
    pub endpoint: Option<Endpoint>,
    /// Mailbox as written in the URL, compared case-insensitively.
    pub mailbox: Option<String>,
    /// A substring of the path.
    pub path_contains: Option<String>,
}

impl FaultMatch {
    /// Matches every request.
    pub fn any() -> Self {
        FaultMatch::default()
    }

    /// Matches requests to `endpoint`.
    pub fn endpoint(endpoint: Endpoint) -> Self {
        FaultMatch { endpoint: Some(endpoint), ..FaultMatch::default() }
    }

    /// Also requires the method.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// Also requires the mailbox.
    pub fn mailbox(mut self, mailbox: impl Into<String>) -> Self {
        self.mailbox = Some(mailbox.into());
        self
    }

    /// Also requires a path substring.
    pub fn path_contains(mut self, fragment: impl Into<String>) -> Self {
        self.path_contains = Some(fragment.into());
        self
    }

    pub(crate) fn matches(
        &self,
        method: &str,
        endpoint: Endpoint,
        mailbox: Option<&str>,
        path: &str,
    ) -> bool {
        self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.endpoint.is_none_or(|e| e == endpoint)
            && self
                .mailbox
                .as_deref()
                .is_none_or(|m| mailbox.is_some_and(|x| x.eq_ignore_ascii_case(m)))
            && self.path_contains.as_deref().is_none_or(|p| path.contains(p))
    }
}

/// What the emulator does to a matched request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer at once with a Graph error body `{"error":{"code","message","innerError"}}`;
    /// nothing is processed (the mail is **not** sent). Adds `Retry-After`
    /// when given. On the token endpoint, prefer [`Fault::TokenError`].
    Status {
        /// HTTP status.
        status: u16,
        /// `error.code`.
        code: String,
        /// `error.message`.
        message: String,
        /// `Retry-After` in seconds.
        retry_after: Option<u64>,
    },
    /// Process the request normally (a `sendMail` **is delivered**), then,
    /// if processing succeeded, answer with this Graph error instead of the
    /// success. Models "accepted but answered 504".
    AcceptThenStatus {
        /// HTTP status.
        status: u16,
        /// `error.code`.
        code: String,
        /// `error.message`.
        message: String,
    },
    /// Process normally and add `Retry-After` to the success answer (the
    /// "202 with Retry-After" seen in the wild: the mail went out).
    AcceptedWithRetryAfter {
        /// `Retry-After` in seconds.
        retry_after: u64,
    },
    /// Wait, then process normally. Long delays provoke client timeouts; the
    /// request is processed after the delay even when the client has given
    /// up (a `sendMail` is then delivered although the client saw a timeout).
    Delay(Duration),
    /// Close the connection without any answer (nothing is processed).
    Drop,
    /// Answer the token endpoint with an AADSTS error body.
    TokenError {
        /// HTTP status (400, 401, 429, 503 ...).
        status: u16,
        /// OAuth `error` (`temporarily_unavailable`, `invalid_client` ...).
        error: String,
        /// AADSTS number, e.g. 90055.
        aadsts: u32,
        /// Text after `AADSTSnnnnn: `.
        description: String,
    },
}

impl Fault {
    /// A Graph error answer without `Retry-After`.
    pub fn status(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Fault::Status { status, code: code.into(), message: message.into(), retry_after: None }
    }

    /// 429 `ApplicationThrottled` "Application is over its MailboxConcurrency
    /// limit." with `Retry-After`.
    pub fn mailbox_concurrency(retry_after: u64) -> Self {
        Fault::Status {
            status: 429,
            code: "ApplicationThrottled".into(),
            message: "Application is over its MailboxConcurrency limit.".into(),
            retry_after: Some(retry_after),
        }
    }

    /// 429 `ApplicationThrottled` "Application is over its MailboxRequests
    /// limit." (the 10,000 per 10 minutes limit) with `Retry-After`.
    pub fn throttled(retry_after: u64) -> Self {
        Fault::Status {
            status: 429,
            code: "ApplicationThrottled".into(),
            message: "Application is over its MailboxRequests limit.".into(),
            retry_after: Some(retry_after),
        }
    }

    /// 503 `serviceNotAvailable`, optionally with `Retry-After`.
    pub fn service_unavailable(retry_after: Option<u64>) -> Self {
        Fault::Status {
            status: 503,
            code: "serviceNotAvailable".into(),
            message: "The service is temporarily unavailable. Please try again later.".into(),
            retry_after,
        }
    }

    /// 504 `UnknownError` (gateway timeout), nothing processed.
    pub fn gateway_timeout() -> Self {
        Fault::status(504, "UnknownError", "")
    }

    /// The request is processed (mail delivered), then answered 504.
    pub fn accept_then_gateway_timeout() -> Self {
        Fault::AcceptThenStatus { status: 504, code: "UnknownError".into(), message: String::new() }
    }

    /// Token endpoint: 400 `temporarily_unavailable` AADSTS90033 (transient).
    pub fn token_temporarily_unavailable() -> Self {
        Fault::TokenError {
            status: 503,
            error: "temporarily_unavailable".into(),
            aadsts: 90033,
            description: "A transient error has occurred. Please try again.".into(),
        }
    }

    /// Token endpoint: AADSTS53003 blocked by Conditional Access.
    pub fn token_conditional_access() -> Self {
        Fault::TokenError {
            status: 400,
            error: "invalid_grant".into(),
            aadsts: 53003,
            description: "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.".into(),
        }
    }
}

/// A fault waiting in the emulator's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScriptedFault {
    /// Which requests it applies to.
    pub when: FaultMatch,
    /// What happens.
    pub fault: Fault,
    /// How many more requests it applies to; `None` = forever.
    pub remaining: Option<usize>,
}
