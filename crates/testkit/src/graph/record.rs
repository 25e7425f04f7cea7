//! What the emulator records: every request, and every delivered mail.

use jiff::Timestamp;

use super::fault::Endpoint;

/// Headers copied into a [`RequestRecord`] (lowercase). `authorization` is
/// recorded as its scheme only (`Bearer`, `Basic`), never its value.
pub const RECORDED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "content-length",
    "content-range",
    "prefer",
    "client-request-id",
    "return-client-request-id",
    "user-agent",
    "accept",
];

/// One request as the emulator saw it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RequestRecord {
    /// Order of arrival, from 1.
    pub seq: u64,
    /// When it arrived.
    pub at: Timestamp,
    /// HTTP method.
    pub method: String,
    /// Path, percent-decoded.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Endpoint kind.
    pub endpoint: Endpoint,
    /// The mailbox segment of the URL (`/users/{this}/...`), as written.
    pub mailbox: Option<String>,
    /// Selected headers ([`RECORDED_HEADERS`]); `authorization` redacted to its scheme.
    pub headers: Vec<(String, String)>,
    /// The body as JSON, when it parsed as JSON.
    pub body_json: Option<serde_json::Value>,
    /// The form fields of a token request; `client_secret` is replaced by
    /// `<redacted len=N>`.
    pub form: Vec<(String, String)>,
    /// Body length in bytes.
    pub body_len: usize,
    /// The answered status; `None` while in flight or when the connection was dropped.
    pub status: Option<u16>,
    /// The fault applied, if any (its `Debug` form).
    pub fault: Option<String>,
}

impl RequestRecord {
    /// The value of a recorded header (`name` in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The value of a query parameter, percent-decoded (e.g. `$filter`).
    pub fn query_param(&self, name: &str) -> Option<String> {
        let q = self.query.as_deref()?;
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.into_owned())
    }

    /// The value of a form field of a token request (secrets redacted).
    pub fn form_field(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// How a mail was submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendVia {
    /// `sendMail` with a JSON message.
    SendMailJson,
    /// `sendMail` with a base64 MIME body.
    SendMailMime,
    /// `POST .../messages/{id}/send` of a draft.
    Draft,
}

/// One accepted submission: the proof that a mail went out (once or more).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Delivery {
    /// The sending mailbox (primary address).
    pub sender: String,
    /// The `internetMessageId` the message got.
    pub internet_message_id: String,
    /// The `internetMessageId` the client asked for, if any.
    pub requested_internet_message_id: Option<String>,
    /// Subject.
    pub subject: String,
    /// `To` addresses.
    pub to: Vec<String>,
    /// `Cc` addresses.
    pub cc: Vec<String>,
    /// `Bcc` addresses.
    pub bcc: Vec<String>,
    /// Emulated mailboxes that received a copy in their Inbox.
    pub delivered_to: Vec<String>,
    /// Recipients outside the emulator.
    pub external: Vec<String>,
    /// Whether a Sent Items copy was saved.
    pub saved_to_sent_items: bool,
    /// How it was submitted.
    pub via: SendVia,
    /// When.
    pub at: Timestamp,
    /// Sequence number of the request that submitted it.
    pub request_seq: u64,
}
