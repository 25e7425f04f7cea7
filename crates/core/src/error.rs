//! The one public error type of g360-mail.
//!
//! Every crate converts its own failures into [`Error`] in one place, so a caller
//! only ever matches on [`ErrorKind`] and asks [`Error::is_temporary`] whether a
//! later attempt may succeed. An error never contains a secret: constructors take
//! plain text, and provider crates scrub tokens before they build one.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

/// Shorthand for `std::result::Result<T, g360_mail_core::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, coarsely: the question a caller needs answered to decide
/// what to do next.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The configuration is wrong or incomplete (a key, an id, a file).
    Config,
    /// The provider refused our credentials (wrong, expired or revoked secret).
    Auth,
    /// The credentials are fine but lack a permission (missing role, consent,
    /// mailbox outside the app's access policy).
    Permission,
    /// The thing asked for does not exist (message id, folder, mailbox).
    NotFound,
    /// The provider refused this message for good (a recipient, its size, its content).
    Rejected,
    /// The provider asks us to slow down; see [`Error::retry_after`].
    Throttled,
    /// The provider or the network is unavailable for now.
    Unavailable,
    /// The request may or may not have been carried out (a timeout after the
    /// message was handed over). Resending could deliver the mail twice.
    OutcomeUnknown,
    /// The provider cannot do this at all (for example reading mail over SMTP).
    Unsupported,
    /// The caller's input is invalid (an address, a header, a size limit).
    InvalidInput,
    /// Anything else; a bug or an answer nobody documented.
    Unexpected,
}

impl ErrorKind {
    /// A stable, lower-case name, used in JSON output and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Auth => "auth",
            ErrorKind::Permission => "permission",
            ErrorKind::NotFound => "not-found",
            ErrorKind::Rejected => "rejected",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::OutcomeUnknown => "outcome-unknown",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::InvalidInput => "invalid-input",
            ErrorKind::Unexpected => "unexpected",
        }
    }

    /// Whether an error of this kind is, by default, worth trying again later.
    ///
    /// `OutcomeUnknown` is *not* temporary: trying again could send a mail twice.
    pub fn default_temporary(self) -> bool {
        matches!(self, ErrorKind::Throttled | ErrorKind::Unavailable)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an error may go away if the same operation is tried again, in the
/// three states OpenDAL uses.
///
/// A retry loop asks [`Error::is_temporary`]; once its own tries are spent it
/// calls [`Error::persistent`], which moves `Temporary` to `Persistent`. A
/// caller with a longer time scale (the outbox retries over minutes) still
/// retries a persistent error; only a permanent one is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorStatus {
    /// Trying again cannot help (wrong credentials, a rejected recipient, an
    /// unknown outcome that a resend could duplicate).
    Permanent,
    /// Trying again soon may succeed.
    Temporary,
    /// Was temporary, but the retries of the layer that saw it are exhausted.
    /// A caller that retries on a longer time scale may try again later.
    Persistent,
}

impl ErrorStatus {
    /// A stable, lower-case name, used in JSON output and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorStatus::Permanent => "permanent",
            ErrorStatus::Temporary => "temporary",
            ErrorStatus::Persistent => "persistent",
        }
    }
}

impl fmt::Display for ErrorStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error of every g360-mail operation.
///
/// Built with [`Error::new`] and the `with_*` methods:
///
/// ```
/// use g360_mail_core::{Error, ErrorKind};
///
/// let err = Error::new(ErrorKind::Auth, "the client secret has expired")
///     .with_provider("office365")
///     .with_code("AADSTS7000222")
///     .with_context("account", "jgarcia")
///     .with_remedy("create a new client secret in Entra ID and put its value in the account's secret");
/// assert_eq!(err.kind(), ErrorKind::Auth);
/// assert!(!err.is_temporary());
/// assert_eq!(err.to_string(), "the client secret has expired (account: jgarcia)");
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: Cow<'static, str>,
    status: ErrorStatus,
    retry_after: Option<Duration>,
    provider: Option<&'static str>,
    code: Option<Cow<'static, str>>,
    remedy: Option<Cow<'static, str>>,
    context: Vec<(&'static str, String)>,
    http_status: Option<u16>,
    smtp_code: Option<u16>,
    not_delivered: bool,
    source: Option<Source>,
}

impl Error {
    /// A new error of `kind`; its message says what went wrong, in lower case
    /// without trailing punctuation, and never contains a secret.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                status: if kind.default_temporary() {
                    ErrorStatus::Temporary
                } else {
                    ErrorStatus::Permanent
                },
                retry_after: None,
                provider: None,
                code: None,
                remedy: None,
                context: Vec::new(),
                http_status: None,
                smtp_code: None,
                not_delivered: false,
                source: None,
            }),
        }
    }

    /// Shorthand for an [`ErrorKind::InvalidInput`] error.
    pub fn invalid_input(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for an [`ErrorKind::Unsupported`] error naming the operation.
    pub fn unsupported(provider: &'static str, operation: &str) -> Self {
        Error::new(ErrorKind::Unsupported, format!("the {provider} provider cannot {operation}"))
            .with_provider(provider)
            .with_code("unsupported")
    }

    /// Overrides whether trying again soon may succeed: `true` makes the
    /// error [`ErrorStatus::Temporary`], `false` [`ErrorStatus::Permanent`].
    pub fn with_temporary(mut self, temporary: bool) -> Self {
        self.inner.status = if temporary { ErrorStatus::Temporary } else { ErrorStatus::Permanent };
        self
    }

    /// Marks a temporary error as persistent: the retries of the layer that
    /// saw it are exhausted. A permanent error stays permanent.
    pub fn persistent(mut self) -> Self {
        if self.inner.status == ErrorStatus::Temporary {
            self.inner.status = ErrorStatus::Persistent;
        }
        self
    }

    /// How long the provider asked us to wait before trying again.
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.inner.retry_after = Some(delay);
        self
    }

    /// The provider type this error came from (`"office365"`, `"smtp"`, ...).
    pub fn with_provider(mut self, provider: &'static str) -> Self {
        self.inner.provider = Some(provider);
        self
    }

    /// A stable diagnostic code (`"AADSTS7000215"`, `"ErrorAccessDenied"`,
    /// `"config.unknown-key"`) that user interfaces translate.
    pub fn with_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.inner.code = Some(code.into());
        self
    }

    /// What a person can do about it, as an imperative sentence.
    pub fn with_remedy(mut self, remedy: impl Into<Cow<'static, str>>) -> Self {
        self.inner.remedy = Some(remedy.into());
        self
    }

    /// Adds a `key: value` pair saying where the error happened (account,
    /// address, config key, request id). Values must not be secrets.
    /// A pair already present (the same key and value, added by two layers)
    /// is kept once.
    pub fn with_context(mut self, key: &'static str, value: impl fmt::Display) -> Self {
        let value = value.to_string();
        if !self.inner.context.iter().any(|(k, v)| *k == key && *v == value) {
            self.inner.context.push((key, value));
        }
        self
    }

    /// The HTTP status that carried the error, if any.
    pub fn with_http_status(mut self, status: u16) -> Self {
        self.inner.http_status = Some(status);
        self
    }

    /// The SMTP reply code that carried the error, if any.
    pub fn with_smtp_code(mut self, code: u16) -> Self {
        self.inner.smtp_code = Some(code);
        self
    }

    /// States that the message of a failed send was certainly not accepted
    /// (the connection failed before it was handed over, or a lookup after an
    /// ambiguous answer found it absent), so another route may send it without
    /// risking a duplicate.
    pub fn with_not_delivered(mut self) -> Self {
        self.inner.not_delivered = true;
        self
    }

    /// The underlying error. Its text is not repeated in this error's message.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Box::new(source));
        self
    }

    /// What went wrong, coarsely.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// Whether trying the same operation again soon may succeed (and the
    /// retries of the layer that saw it are not yet exhausted).
    pub fn is_temporary(&self) -> bool {
        self.inner.status == ErrorStatus::Temporary
    }

    /// Whether the error was temporary but a retry layer gave up on it.
    pub fn is_persistent(&self) -> bool {
        self.inner.status == ErrorStatus::Persistent
    }

    /// Temporary, persistent or permanent: see [`ErrorStatus`].
    pub fn status(&self) -> ErrorStatus {
        self.inner.status
    }

    /// How long the provider asked us to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// The provider type this error came from.
    pub fn provider(&self) -> Option<&'static str> {
        self.inner.provider
    }

    /// The stable diagnostic code, when there is one.
    pub fn code(&self) -> Option<&str> {
        self.inner.code.as_deref()
    }

    /// What a person can do about it.
    pub fn remedy(&self) -> Option<&str> {
        self.inner.remedy.as_deref()
    }

    /// The message alone, without context.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The `key: value` pairs saying where the error happened.
    pub fn context(&self) -> &[(&'static str, String)] {
        &self.inner.context
    }

    /// The value of one context key, if present.
    pub fn context_value(&self, key: &str) -> Option<&str> {
        self.inner.context.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
    }

    /// Whether the provider established that the message was not accepted
    /// (see [`Error::with_not_delivered`]).
    pub fn is_not_delivered(&self) -> bool {
        self.inner.not_delivered
    }

    /// The HTTP status that carried the error, if any.
    pub fn http_status(&self) -> Option<u16> {
        self.inner.http_status
    }

    /// The SMTP reply code that carried the error, if any.
    pub fn smtp_code(&self) -> Option<u16> {
        self.inner.smtp_code
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)?;
        if !self.inner.context.is_empty() {
            f.write_str(" (")?;
            for (i, (k, v)) in self.inner.context.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}: {v}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind).field("message", &self.inner.message);
        d.field("status", &self.inner.status);
        if let Some(p) = self.inner.provider {
            d.field("provider", &p);
        }
        if let Some(c) = &self.inner.code {
            d.field("code", c);
        }
        if let Some(r) = self.inner.retry_after {
            d.field("retry_after", &r);
        }
        if let Some(s) = self.inner.http_status {
            d.field("http_status", &s);
        }
        if let Some(s) = self.inner.smtp_code {
            d.field("smtp_code", &s);
        }
        if !self.inner.context.is_empty() {
            d.field("context", &self.inner.context);
        }
        if self.inner.not_delivered {
            d.field("not_delivered", &true);
        }
        if let Some(r) = &self.inner.remedy {
            d.field("remedy", r);
        }
        if let Some(s) = &self.inner.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_default_temporariness() {
        assert!(Error::new(ErrorKind::Throttled, "x").is_temporary());
        assert!(Error::new(ErrorKind::Unavailable, "x").is_temporary());
        assert!(!Error::new(ErrorKind::OutcomeUnknown, "x").is_temporary());
        assert!(!Error::new(ErrorKind::Auth, "x").is_temporary());
        let spent = Error::new(ErrorKind::Unavailable, "x").persistent();
        assert!(!spent.is_temporary());
        assert_eq!(spent.status(), ErrorStatus::Persistent);
        let auth = Error::new(ErrorKind::Auth, "x").persistent();
        assert_eq!(auth.status(), ErrorStatus::Permanent, "a permanent error stays permanent");
        assert_eq!(Error::new(ErrorKind::OutcomeUnknown, "x").status(), ErrorStatus::Permanent);
    }

    #[test]
    fn display_has_message_and_context_but_not_source() {
        let io = std::io::Error::other("disk on fire");
        let err = Error::new(ErrorKind::Unavailable, "cannot write the mail")
            .with_context("path", "/tmp/x")
            .with_source(io);
        assert_eq!(err.to_string(), "cannot write the mail (path: /tmp/x)");
        assert_eq!(std::error::Error::source(&err).unwrap().to_string(), "disk on fire");
    }

    #[test]
    fn a_context_pair_added_by_two_layers_is_kept_once() {
        let err = Error::new(ErrorKind::Config, "the account has no client secret")
            .with_context("user", "jgarcia")
            .with_context("integration", "o365")
            .with_context("user", "jgarcia")
            .with_context("also", "a")
            .with_context("also", "b");
        assert_eq!(
            err.to_string(),
            "the account has no client secret (user: jgarcia, integration: o365, also: a, also: b)"
        );
    }

    #[test]
    fn unsupported_names_the_operation() {
        let err = Error::unsupported("smtp", "read mail");
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert_eq!(err.to_string(), "the smtp provider cannot read mail");
        assert_eq!(err.provider(), Some("smtp"));
    }
}
