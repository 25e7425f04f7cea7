//! Outgoing messages ([`OutgoingMessage`], built with [`MessageBuilder`]) and
//! what a provider answers when it accepts one ([`SendReceipt`]).

use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

use crate::address::EmailAddress;
use crate::error::{Error, Result};

/// Most recipients (to + cc + bcc) in one message; Exchange Online's default.
pub const MAX_RECIPIENTS: usize = 500;
/// Longest subject accepted, in characters (one RFC 5322 header line).
pub const MAX_SUBJECT_CHARS: usize = 998;
/// Largest message accepted by the builder: bodies plus attachments, before any
/// encoding (Exchange Online's largest message). Providers may declare less in
/// their [`Capabilities`](crate::Capabilities).
pub const MAX_MESSAGE_BYTES: usize = 150 * 1024 * 1024;
/// Most custom headers in one message.
pub const MAX_CUSTOM_HEADERS: usize = 32;
/// Longest custom header value, in bytes (one RFC 5322 line).
pub const MAX_HEADER_VALUE_BYTES: usize = 998;

/// Our own identifier of a message, fixed when the message is built and kept
/// through every retry, fallback and outbox attempt.
///
/// Providers tag each send with it (the Internet Message-ID is derived from it)
/// so that, after an ambiguous outcome, they can look it up instead of sending
/// the mail a second time.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct MessageUid(uuid::Uuid);

impl MessageUid {
    /// A new random id.
    pub fn new_random() -> Self {
        MessageUid(uuid::Uuid::new_v4())
    }

    /// Parses an id written by [`Display`](fmt::Display).
    pub fn parse(s: &str) -> Result<Self> {
        uuid::Uuid::parse_str(s).map(MessageUid).map_err(|_| {
            Error::invalid_input("invalid message uid").with_context("uid", s.escape_debug())
        })
    }

    /// The Internet Message-ID for this uid sent from `domain`: `<uid@domain>`.
    pub fn internet_message_id(&self, domain: &str) -> String {
        let domain =
            if domain.is_empty() || domain.starts_with('[') { "g360-mail.invalid" } else { domain };
        format!("<{}@{}>", self.0.as_simple(), domain)
    }

    /// Recovers the uid from an Internet Message-ID made by
    /// [`MessageUid::internet_message_id`]; `None` for any other id, also
    /// for UUIDs written otherwise (hyphenated, as other mailers make them):
    /// only the 32 hex digits g360-mail writes pass.
    pub fn from_internet_message_id(id: &str) -> Option<Self> {
        let inner = id.trim().strip_prefix('<')?.strip_suffix('>')?;
        let (local, _) = inner.split_once('@')?;
        if local.len() != 32 || !local.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        uuid::Uuid::try_parse(local).ok().map(MessageUid)
    }
}

impl fmt::Display for MessageUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

impl fmt::Debug for MessageUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageUid({})", self.0.hyphenated())
    }
}

/// How important the sender marks a message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Importance {
    /// Low importance.
    Low,
    /// Normal importance (no header is written).
    #[default]
    Normal,
    /// High importance.
    High,
}

/// A file attached to a message, or an inline part referenced from the HTML
/// body by `cid:`.
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    name: String,
    content_type: String,
    content_id: Option<String>,
    bytes: Vec<u8>,
}

impl Attachment {
    /// A regular attachment. The name must not be empty nor contain control
    /// characters or path separators; the content type must look like
    /// `type/subtype`.
    pub fn new(
        name: impl Into<String>,
        content_type: impl Into<String>,
        bytes: Vec<u8>,
    ) -> Result<Self> {
        let name = name.into();
        let content_type = content_type.into();
        let bad = |why: &str| {
            Error::invalid_input(format!("invalid attachment: {why}"))
                .with_code("attachment.invalid")
                .with_context("attachment", name.escape_debug())
        };
        if name.trim().is_empty() {
            return Err(bad("the file name is empty"));
        }
        if name.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
            return Err(bad("the file name contains a control character or a path separator"));
        }
        if name.chars().count() > 255 {
            return Err(bad("the file name is longer than 255 characters"));
        }
        if !valid_content_type(&content_type) {
            return Err(bad("the content type is not of the form type/subtype")
                .with_context("content_type", content_type.escape_debug()));
        }
        Ok(Attachment { name, content_type, content_id: None, bytes })
    }

    /// Makes this an inline part the HTML body shows with `<img src="cid:ID">`.
    pub fn inline(mut self, content_id: impl Into<String>) -> Result<Self> {
        let id = content_id.into();
        if id.is_empty()
            || id.chars().any(|c| c.is_control() || c.is_whitespace() || "<>\"".contains(c))
        {
            return Err(Error::invalid_input("invalid content id of an inline attachment")
                .with_code("attachment.invalid")
                .with_context("attachment", self.name.escape_debug())
                .with_remedy(
                    "use a content id without spaces, quotes or angle brackets, e.g. logo@g360",
                ));
        }
        self.content_id = Some(id);
        Ok(self)
    }

    /// The file name shown to the recipient.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The MIME type, e.g. `application/pdf`.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The content id of an inline part.
    pub fn content_id(&self) -> Option<&str> {
        self.content_id.as_deref()
    }

    /// Whether the attachment is an inline part.
    pub fn is_inline(&self) -> bool {
        self.content_id.is_some()
    }

    /// The raw bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("content_id", &self.content_id)
            .field("len", &self.bytes.len())
            .finish()
    }
}

fn valid_content_type(ct: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let essence = ct.split(';').next().unwrap_or("").trim();
    let rest_ok = !ct.chars().any(char::is_control);
    matches!(essence.split_once('/'), Some((t, s)) if token(t) && token(s)) && rest_ok
}

/// Guesses a content type from a file name's extension, for attachments given
/// as paths. Unknown extensions are `application/octet-stream`.
pub fn content_type_for(file_name: &str) -> &'static str {
    let ext = file_name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "htm" | "html" => "text/html",
        "xml" => "application/xml",
        "json" => "application/json",
        "zip" => "application/zip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "doc" => "application/msword",
        "eml" => "message/rfc822",
        _ => "application/octet-stream",
    }
}

/// A custom `X-` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    name: String,
    value: String,
}

impl Header {
    /// The header name, as given (starts with `X-`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The header value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// A message ready to hand to a [`MailProvider`](crate::MailProvider).
///
/// Built with [`OutgoingMessage::builder`]; once built it is valid, so
/// providers only check their own, narrower limits.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    uid: MessageUid,
    from: Option<EmailAddress>,
    to: Vec<EmailAddress>,
    cc: Vec<EmailAddress>,
    bcc: Vec<EmailAddress>,
    reply_to: Vec<EmailAddress>,
    subject: String,
    text: Option<String>,
    html: Option<String>,
    attachments: Vec<Attachment>,
    headers: Vec<Header>,
    importance: Importance,
}

impl OutgoingMessage {
    /// Starts a message.
    ///
    /// ```
    /// use g360_mail_core::OutgoingMessage;
    ///
    /// let msg = OutgoingMessage::builder()
    ///     .to("cliente@example.com")?
    ///     .subject("Factura 2026-0042")
    ///     .text("Adjuntamos la factura.")
    ///     .build()?;
    /// assert_eq!(msg.to()[0].addr(), "cliente@example.com");
    /// # Ok::<(), g360_mail_core::Error>(())
    /// ```
    pub fn builder() -> MessageBuilder {
        MessageBuilder::default()
    }

    /// Our id of the message, stable across retries.
    pub fn uid(&self) -> MessageUid {
        self.uid
    }

    /// The sender, when the caller set one; providers otherwise send as the
    /// account's address.
    pub fn from(&self) -> Option<&EmailAddress> {
        self.from.as_ref()
    }

    /// The `To` recipients.
    pub fn to(&self) -> &[EmailAddress] {
        &self.to
    }

    /// The `Cc` recipients.
    pub fn cc(&self) -> &[EmailAddress] {
        &self.cc
    }

    /// The `Bcc` recipients.
    pub fn bcc(&self) -> &[EmailAddress] {
        &self.bcc
    }

    /// Every recipient: to, then cc, then bcc.
    pub fn recipients(&self) -> impl Iterator<Item = &EmailAddress> {
        self.to.iter().chain(&self.cc).chain(&self.bcc)
    }

    /// Where replies should go.
    pub fn reply_to(&self) -> &[EmailAddress] {
        &self.reply_to
    }

    /// The subject (may be empty).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The plain-text body.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// The HTML body.
    pub fn html(&self) -> Option<&str> {
        self.html.as_deref()
    }

    /// Attachments and inline parts.
    pub fn attachments(&self) -> &[Attachment] {
        &self.attachments
    }

    /// Custom `X-` headers.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The importance.
    pub fn importance(&self) -> Importance {
        self.importance
    }

    /// Size of bodies plus attachments, before any transfer encoding.
    pub fn content_len(&self) -> usize {
        self.text.as_ref().map_or(0, String::len)
            + self.html.as_ref().map_or(0, String::len)
            + self.attachments.iter().map(|a| a.bytes.len()).sum::<usize>()
    }

    /// A copy with another sender, used by the bridge to fill in the account's address.
    pub fn with_from(mut self, from: EmailAddress) -> Self {
        self.from = Some(from);
        self
    }

    /// A copy with the given uid, used by the outbox to restore a stored message.
    pub fn with_uid(mut self, uid: MessageUid) -> Self {
        self.uid = uid;
        self
    }
}

impl fmt::Debug for OutgoingMessage {
    /// Shows the envelope and sizes, not the bodies, which may hold personal data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingMessage")
            .field("uid", &self.uid)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("cc", &self.cc)
            .field("bcc", &self.bcc)
            .field("subject", &self.subject)
            .field("text_len", &self.text.as_ref().map(String::len))
            .field("html_len", &self.html.as_ref().map(String::len))
            .field("attachments", &self.attachments)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// Builds an [`OutgoingMessage`], refusing what no provider could send.
#[derive(Debug, Default)]
pub struct MessageBuilder {
    uid: Option<MessageUid>,
    from: Option<EmailAddress>,
    to: Vec<EmailAddress>,
    cc: Vec<EmailAddress>,
    bcc: Vec<EmailAddress>,
    reply_to: Vec<EmailAddress>,
    subject: String,
    text: Option<String>,
    html: Option<String>,
    attachments: Vec<Attachment>,
    headers: Vec<(String, String)>,
    importance: Importance,
}

impl MessageBuilder {
    /// Sets the sender (otherwise the account's address).
    pub fn from(mut self, addr: &str) -> Result<Self> {
        self.from = Some(EmailAddress::parse(addr)?);
        Ok(self)
    }

    /// Adds a `To` recipient (`user@example.com` or `Name <user@example.com>`).
    pub fn to(mut self, addr: &str) -> Result<Self> {
        self.to.push(EmailAddress::parse(addr)?);
        Ok(self)
    }

    /// Adds a `Cc` recipient.
    pub fn cc(mut self, addr: &str) -> Result<Self> {
        self.cc.push(EmailAddress::parse(addr)?);
        Ok(self)
    }

    /// Adds a `Bcc` recipient.
    pub fn bcc(mut self, addr: &str) -> Result<Self> {
        self.bcc.push(EmailAddress::parse(addr)?);
        Ok(self)
    }

    /// Adds a `Reply-To` address.
    pub fn reply_to(mut self, addr: &str) -> Result<Self> {
        self.reply_to.push(EmailAddress::parse(addr)?);
        Ok(self)
    }

    /// Adds already parsed `To` recipients.
    pub fn to_all(mut self, addrs: impl IntoIterator<Item = EmailAddress>) -> Self {
        self.to.extend(addrs);
        self
    }

    /// Adds already parsed `Cc` recipients.
    pub fn cc_all(mut self, addrs: impl IntoIterator<Item = EmailAddress>) -> Self {
        self.cc.extend(addrs);
        self
    }

    /// Adds already parsed `Bcc` recipients.
    pub fn bcc_all(mut self, addrs: impl IntoIterator<Item = EmailAddress>) -> Self {
        self.bcc.extend(addrs);
        self
    }

    /// Adds already parsed `Reply-To` addresses.
    pub fn reply_to_all(mut self, addrs: impl IntoIterator<Item = EmailAddress>) -> Self {
        self.reply_to.extend(addrs);
        self
    }

    /// Sets the subject.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// Sets the plain-text body.
    pub fn text(mut self, body: impl Into<String>) -> Self {
        self.text = Some(body.into());
        self
    }

    /// Sets the HTML body.
    pub fn html(mut self, body: impl Into<String>) -> Self {
        self.html = Some(body.into());
        self
    }

    /// Adds an attachment.
    pub fn attach(mut self, attachment: Attachment) -> Self {
        self.attachments.push(attachment);
        self
    }

    /// Adds a custom header; its name must start with `X-`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the importance.
    pub fn importance(mut self, importance: Importance) -> Self {
        self.importance = importance;
        self
    }

    /// Keeps a given uid instead of a new random one.
    pub fn uid(mut self, uid: MessageUid) -> Self {
        self.uid = Some(uid);
        self
    }

    /// Checks everything and builds the message.
    pub fn build(self) -> Result<OutgoingMessage> {
        let recipients = self.to.len() + self.cc.len() + self.bcc.len();
        if recipients == 0 {
            return Err(Error::invalid_input("the message has no recipient")
                .with_code("message.no-recipient")
                .with_context("field", "to")
                .with_remedy("add at least one address in to, cc or bcc"));
        }
        if recipients > MAX_RECIPIENTS {
            return Err(Error::invalid_input(format!(
                "the message has {recipients} recipients, more than the {MAX_RECIPIENTS} allowed"
            ))
            .with_code("message.too-many-recipients")
            .with_context("field", "to/cc/bcc")
            .with_remedy("split the recipients over several messages"));
        }
        if self.subject.contains(['\r', '\n'])
            || self.subject.chars().any(|c| c.is_control() && c != '\t')
        {
            return Err(Error::invalid_input(
                "the subject contains a line break or control character",
            )
            .with_code("message.header-injection")
            .with_context("field", "subject")
            .with_remedy("remove line breaks from the subject"));
        }
        if self.subject.chars().count() > MAX_SUBJECT_CHARS {
            return Err(Error::invalid_input(format!(
                "the subject is longer than {MAX_SUBJECT_CHARS} characters"
            ))
            .with_code("message.too-large")
            .with_context("field", "subject")
            .with_remedy("shorten the subject"));
        }
        if self.headers.len() > MAX_CUSTOM_HEADERS {
            return Err(Error::invalid_input(format!(
                "the message has more than {MAX_CUSTOM_HEADERS} custom headers"
            ))
            .with_code("message.header-invalid")
            .with_context("field", "headers"));
        }
        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, value) in self.headers {
            headers.push(check_header(name, value)?);
        }
        let message = OutgoingMessage {
            uid: self.uid.unwrap_or_else(MessageUid::new_random),
            from: self.from,
            to: self.to,
            cc: self.cc,
            bcc: self.bcc,
            reply_to: self.reply_to,
            subject: self.subject,
            text: self.text,
            html: self.html,
            attachments: self.attachments,
            headers,
            importance: self.importance,
        };
        let len = message.content_len();
        if len > MAX_MESSAGE_BYTES {
            return Err(Error::invalid_input(format!(
                "the message is {len} bytes, more than the {MAX_MESSAGE_BYTES} allowed"
            ))
            .with_code("message.too-large")
            .with_context("field", "attachments")
            .with_remedy("send large files as links instead of attachments"));
        }
        let mut cids = std::collections::HashSet::new();
        for a in &message.attachments {
            if let Some(cid) = a.content_id()
                && !cids.insert(cid)
            {
                return Err(Error::invalid_input("two inline attachments share a content id")
                    .with_code("attachment.invalid")
                    .with_context("content_id", cid));
            }
        }
        Ok(message)
    }
}

fn check_header(name: String, value: String) -> Result<Header> {
    let bad = |why: &str| {
        Error::invalid_input(format!("invalid custom header: {why}"))
            .with_code("message.header-invalid")
            .with_context("header", name.escape_debug())
    };
    if !name.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("x-")) || name.len() < 3 {
        return Err(bad("only headers starting with X- can be added").with_remedy(
            "rename the header to X-Something; standard headers are set from the message fields",
        ));
    }
    if !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
        return Err(bad("the name may only contain printable ASCII characters without ':'"));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(bad("the value contains a line break or control character")
            .with_code("message.header-injection")
            .with_remedy("remove line breaks from the header value"));
    }
    if value.len() > MAX_HEADER_VALUE_BYTES {
        return Err(bad(&format!("the value is longer than {MAX_HEADER_VALUE_BYTES} bytes")));
    }
    Ok(Header { name, value })
}

/// What a provider answers when it accepted a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SendReceipt {
    /// Our id of the message.
    pub uid: MessageUid,
    /// The Internet Message-ID the message carries.
    pub internet_message_id: String,
    /// The provider type that accepted it.
    pub provider: String,
    /// The integration (route) that accepted it, filled in by the bridge.
    pub route: Option<String>,
    /// When it was accepted.
    pub accepted_at: Timestamp,
    /// The provider's id of the request (Graph `request-id`).
    pub request_id: Option<String>,
    /// Our id of the request (Graph `client-request-id`).
    pub client_request_id: Option<String>,
    /// The server's last reply (SMTP).
    pub server_reply: Option<String>,
    /// Where the message was stored (file provider).
    pub location: Option<String>,
    /// Why another route than the primary delivered it, when one did.
    pub fallback_reason: Option<String>,
    /// True when the provider found, after an ambiguous answer, that an earlier
    /// attempt had already delivered the message (so it did not send again).
    pub recovered: bool,
    /// Caveats a person should read although the message went out, such as
    /// a credential that expires soon: the same warnings `verify` shows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::verify::Check>,
}

impl SendReceipt {
    /// A receipt for `message`, accepted now by `provider`.
    pub fn new(
        provider: impl Into<String>,
        uid: MessageUid,
        internet_message_id: impl Into<String>,
    ) -> Self {
        SendReceipt {
            uid,
            internet_message_id: internet_message_id.into(),
            provider: provider.into(),
            route: None,
            accepted_at: Timestamp::now(),
            request_id: None,
            client_request_id: None,
            server_reply: None,
            location: None,
            fallback_reason: None,
            recovered: false,
            warnings: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn base() -> MessageBuilder {
        OutgoingMessage::builder().to("a@example.com").unwrap().subject("Hola").text("cuerpo")
    }

    #[test]
    fn builds_a_full_message() {
        let pdf = Attachment::new("factura.pdf", "application/pdf", b"%PDF".to_vec()).unwrap();
        let logo = Attachment::new("logo.png", "image/png", vec![1, 2, 3])
            .unwrap()
            .inline("logo@g360")
            .unwrap();
        let m = base()
            .cc("c@example.com")
            .unwrap()
            .bcc("b@example.com")
            .unwrap()
            .reply_to("r@example.com")
            .unwrap()
            .html("<p>hola <img src=\"cid:logo@g360\"></p>")
            .attach(pdf)
            .attach(logo)
            .header("X-G360-Invoice", "2026-0042")
            .importance(Importance::High)
            .build()
            .unwrap();
        assert_eq!(m.recipients().count(), 3);
        assert_eq!(m.attachments()[1].content_id(), Some("logo@g360"));
        assert_eq!(m.headers()[0].name(), "X-G360-Invoice");
        assert_eq!(m.content_len(), 6 + m.html().unwrap().len() + 4 + 3);
    }

    #[test]
    fn refuses_a_message_without_recipients() {
        let err = OutgoingMessage::builder().subject("x").build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(err.code(), Some("message.no-recipient"));
        assert!(err.remedy().unwrap().contains("at least one"));
    }

    #[test]
    fn refuses_line_breaks_in_subject_and_headers() {
        for subject in ["a\r\nBcc: x@y.z", "a\nb", "a\rb", "a\u{0}b"] {
            let err = base().subject(subject).build().unwrap_err();
            assert_eq!(err.code(), Some("message.header-injection"), "{subject:?}");
            assert_eq!(err.context_value("field"), Some("subject"));
        }
        let err = base().header("X-Ok", "v\r\nBcc: x@y.z").build().unwrap_err();
        assert_eq!(err.code(), Some("message.header-injection"));
        let err = base().header("X-Bad\r\nBcc", "v").build().unwrap_err();
        assert_eq!(err.code(), Some("message.header-invalid"));
    }

    #[test]
    fn refuses_non_x_headers() {
        for name in ["Bcc", "Subject", "From", "X-", "Received"] {
            let err = base().header(name, "v").build().unwrap_err();
            assert_eq!(err.code(), Some("message.header-invalid"), "{name}");
        }
        assert!(base().header("x-lower", "v").build().is_ok());
    }

    #[test]
    fn enforces_size_limits() {
        let err = base().subject("s".repeat(MAX_SUBJECT_CHARS + 1)).build().unwrap_err();
        assert_eq!(err.code(), Some("message.too-large"));
        let mut b = OutgoingMessage::builder();
        for i in 0..=MAX_RECIPIENTS {
            b = b.to(&format!("u{i}@example.com")).unwrap();
        }
        assert_eq!(b.build().unwrap_err().code(), Some("message.too-many-recipients"));
        let big =
            Attachment::new("big.bin", "application/octet-stream", vec![0; MAX_MESSAGE_BYTES])
                .unwrap();
        let err = base().attach(big).build().unwrap_err();
        assert_eq!(err.code(), Some("message.too-large"));
        assert!(err.to_string().contains("allowed"));
        let long_value = "v".repeat(MAX_HEADER_VALUE_BYTES + 1);
        assert!(base().header("X-Long", long_value).build().is_err());
    }

    #[test]
    fn validates_attachments() {
        assert!(Attachment::new("", "text/plain", vec![]).is_err());
        assert!(Attachment::new("../etc/passwd", "text/plain", vec![]).is_err());
        assert!(Attachment::new("a\r\n.txt", "text/plain", vec![]).is_err());
        assert!(Attachment::new("a.txt", "textplain", vec![]).is_err());
        assert!(Attachment::new("a.txt", "text/plain\r\nX: y", vec![]).is_err());
        assert!(Attachment::new("a.txt", "text/plain; charset=utf-8", vec![]).is_ok());
        let a = Attachment::new("a.png", "image/png", vec![]).unwrap();
        assert!(a.clone().inline("has space").is_err());
        let one = a.clone().inline("x@y").unwrap();
        let err = base().attach(one.clone()).attach(one).build().unwrap_err();
        assert_eq!(err.code(), Some("attachment.invalid"));
    }

    #[test]
    fn uid_round_trips_through_the_internet_message_id() {
        let uid = MessageUid::new_random();
        let id = uid.internet_message_id("contoso.com");
        assert!(id.starts_with('<') && id.ends_with("@contoso.com>"));
        assert_eq!(MessageUid::from_internet_message_id(&id), Some(uid));
        assert_eq!(MessageUid::from_internet_message_id("<abc@x>"), None);
        // Other mailers' UUID Message-IDs are not ours.
        let other = format!("<{uid}@contoso.com>");
        assert_eq!(MessageUid::from_internet_message_id(&other), None, "hyphenated");
        let braced = format!("<{{{}}}@contoso.com>", uid.0.as_simple());
        assert_eq!(MessageUid::from_internet_message_id(&braced), None, "braced");
        let upper = id.to_ascii_uppercase();
        assert_eq!(MessageUid::from_internet_message_id(&upper), Some(uid), "case of the hex");
        assert_eq!(MessageUid::parse(&uid.to_string()).unwrap(), uid);
        let m = base().build().unwrap();
        assert_ne!(m.uid(), base().build().unwrap().uid());
    }

    #[test]
    fn debug_hides_bodies() {
        let m = base().text("secret payroll figures").build().unwrap();
        assert!(!format!("{m:?}").contains("payroll"));
    }

    #[test]
    fn guesses_content_types() {
        assert_eq!(content_type_for("Factura.PDF"), "application/pdf");
        assert_eq!(content_type_for("noext"), "application/octet-stream");
    }
}
