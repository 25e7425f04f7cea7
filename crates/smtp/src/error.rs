//! Private failure detail of the SMTP provider and its one conversion into
//! core's [`Error`]: kind, temporariness, stable code, remedy.
//!
//! The rule that keeps mail from going out twice lives here:
//! [`SmtpError::is_retryable`] is true only for failures of the connection
//! before the message content was handed over; a failure while the content was
//! being transmitted or while waiting for the server's final reply is
//! [`ErrorKind::OutcomeUnknown`], which is never temporary.

use std::fmt;
use std::io;

use g360_mail_core::{Error, ErrorKind};

use crate::SMTP_PROVIDER_TYPE;
use crate::config::SmtpAuth;

/// Where in the SMTP dialogue a failure happened, in dialogue order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stage {
    /// Resolving the host name.
    Resolve,
    /// Opening the TCP connection.
    Connect,
    /// The TLS handshake (implicit, or after `STARTTLS`).
    Tls,
    /// The server's greeting and our `EHLO`.
    Greeting,
    /// `AUTH`.
    Auth,
    /// `MAIL FROM`.
    MailFrom,
    /// `RCPT TO`.
    RcptTo,
    /// The `DATA` command, before any content was sent.
    Data,
    /// The message content and the server's final reply: from here on the
    /// server may have accepted the message.
    Content,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Resolve => "resolve",
            Stage::Connect => "connect",
            Stage::Tls => "tls",
            Stage::Greeting => "ehlo",
            Stage::Auth => "auth",
            Stage::MailFrom => "mail-from",
            Stage::RcptTo => "rcpt-to",
            Stage::Data => "data",
            Stage::Content => "message",
        }
    }

    /// The verify check that covers this stage.
    pub(crate) fn check_name(self) -> &'static str {
        match self {
            Stage::Resolve | Stage::Connect => "connect",
            Stage::Tls => "tls",
            Stage::Greeting => "ehlo",
            Stage::Auth => "auth",
            Stage::MailFrom | Stage::RcptTo | Stage::Data | Stage::Content => "test-mail",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What went wrong talking to the server, before it is turned into an [`Error`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum SmtpError {
    /// The host name did not resolve.
    #[error("cannot resolve the host name")]
    Resolve(#[source] io::Error),
    /// The server answered a command with a 4xx or 5xx reply.
    #[error("the server answered {code} during {stage}")]
    Reply { stage: Stage, code: u16, text: String, recipient: Option<String> },
    /// No TCP connection to any of the server's addresses.
    #[error("cannot connect")]
    Connect(#[source] io::Error),
    /// The connection, TLS or the protocol failed (no reply code).
    #[error("smtp transport failure during {stage}")]
    Transport {
        stage: Stage,
        #[source]
        source: lettre::transport::smtp::Error,
    },
    /// No answer in time.
    #[error("timed out during {stage}")]
    Timeout { stage: Stage },
    /// `security = "starttls"` but the server does not offer it.
    #[error("the server does not offer STARTTLS")]
    NoStarttls,
    /// `auth` names a mechanism the server does not offer.
    #[error("no usable authentication mechanism")]
    NoAuthMechanism { wanted: SmtpAuth, offered: String },
    /// The message needs an SMTP extension the server lacks.
    #[error("the server lacks {extension}")]
    MissingExtension { extension: &'static str, stage: Stage },
}

/// What the SMTP reply text and code say, beyond the code's first digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplyMeaning {
    AuthDisabled,
    AuthFailed,
    AuthRequired,
    TlsRequired,
    SendAsDenied,
    RelayDenied,
    TooLarge,
    Throttled,
    Other,
}

/// The enhanced status code (`5.7.139`) at the start of a reply text.
fn enhanced_code(text: &str) -> Option<&str> {
    let first = text.split_whitespace().next()?;
    let mut parts = first.split('.');
    let ok = parts.next().is_some_and(|c| matches!(c, "2" | "4" | "5"))
        && parts.next().is_some_and(|p| {
            !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit())
        })
        && parts.next().is_some_and(|p| {
            !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit())
        })
        && parts.next().is_none();
    ok.then_some(first)
}

fn meaning(stage: Stage, code: u16, text: &str) -> ReplyMeaning {
    let lower = text.to_ascii_lowercase();
    let enhanced = enhanced_code(text).unwrap_or("");
    let has = |needle: &str| lower.contains(needle);
    // Office 365 answers "535 5.7.139 Authentication unsuccessful,
    // SmtpClientAuthentication is disabled for the Tenant/Mailbox" (also
    // "basic authentication is disabled"), and older tenants "5.7.3".
    if (matches!(enhanced, "5.7.139" | "5.7.3") && has("disabled"))
        || has("smtpclientauthentication is disabled")
        || has("smtp auth is disabled")
    {
        return ReplyMeaning::AuthDisabled;
    }
    if has("sendasdenied") || has("send as") || enhanced == "5.7.60" {
        return ReplyMeaning::SendAsDenied;
    }
    if code == 538 || has("starttls command first") || has("must issue a starttls") {
        return ReplyMeaning::TlsRequired;
    }
    if code >= 500 && stage == Stage::Auth {
        return ReplyMeaning::AuthFailed;
    }
    if code == 530 || enhanced == "5.7.57" || (code >= 500 && has("authentication required")) {
        return ReplyMeaning::AuthRequired;
    }
    if code >= 500 && stage == Stage::RcptTo && (has("relay") || enhanced == "5.7.64") {
        return ReplyMeaning::RelayDenied;
    }
    if code == 552 || enhanced == "5.3.4" || has("message size exceeds") {
        return ReplyMeaning::TooLarge;
    }
    if code < 500
        && ["rate limit", "throttl", "too many", "exceeded", "slow down"].iter().any(|n| has(n))
    {
        return ReplyMeaning::Throttled;
    }
    ReplyMeaning::Other
}

/// The first `rustls::Error` in an error's chain, looking inside `io::Error`s
/// (whose `source()` skips the error they wrap).
fn find_rustls<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(inner) = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref())
            && let Some(tls) = find_rustls(inner)
        {
            return Some(tls);
        }
        current = e.source();
    }
    None
}

/// The kind of the first `io::Error` in an error's chain.
fn find_io_kind(err: &(dyn std::error::Error + 'static)) -> Option<io::ErrorKind> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        current = e.source();
    }
    None
}

/// Where a lettre connection-level error happened while opening a connection
/// with implicit TLS, where lettre connects and shakes hands in one call.
pub(crate) fn connect_stage(err: &lettre::transport::smtp::Error, implicit_tls: bool) -> Stage {
    if find_rustls(err).is_some() {
        return Stage::Tls;
    }
    if err.status().is_some() {
        return Stage::Greeting;
    }
    let handshake_kinds = [
        io::ErrorKind::UnexpectedEof,
        io::ErrorKind::InvalidData,
        io::ErrorKind::ConnectionReset,
        io::ErrorKind::BrokenPipe,
    ];
    // lettre has no public predicate for its "connection" kind (connect and
    // TLS upgrade failures) as opposed to "network" (read/write after the
    // connection was up); its Display text is the only way to tell them apart.
    match find_io_kind(err) {
        _ if !err.to_string().starts_with("Connection error") => Stage::Greeting,
        Some(kind) if implicit_tls && handshake_kinds.contains(&kind) => Stage::Tls,
        _ => Stage::Connect,
    }
}

const REMEDY_TRUST: &str = "put the certificate of the CA that signed the relay's certificate (PEM) in tls_ca_file, or install it in this machine's trust store";

impl SmtpError {
    /// Converts a lettre error at `stage`, separating server replies (which
    /// carry a code) from transport failures.
    pub(crate) fn from_lettre(
        stage: Stage,
        err: lettre::transport::smtp::Error,
        recipient: Option<&str>,
    ) -> SmtpError {
        match err.status() {
            Some(code) => SmtpError::Reply {
                stage,
                code: code.into(),
                text: std::error::Error::source(&err).map(|s| s.to_string()).unwrap_or_default(),
                recipient: recipient.map(str::to_owned),
            },
            None => SmtpError::Transport { stage, source: err },
        }
    }

    /// The stage the failure happened at.
    pub(crate) fn stage(&self) -> Stage {
        match self {
            SmtpError::Resolve(_) => Stage::Resolve,
            SmtpError::Connect(_) => Stage::Connect,
            SmtpError::Reply { stage, .. }
            | SmtpError::Transport { stage, .. }
            | SmtpError::Timeout { stage }
            | SmtpError::MissingExtension { stage, .. } => *stage,
            SmtpError::NoStarttls => Stage::Tls,
            SmtpError::NoAuthMechanism { .. } => Stage::Auth,
        }
    }

    /// Whether the connection failed before the message content was sent, so
    /// that sending again on a new connection cannot deliver it twice.
    /// Certificate problems are not retried: they will not go away.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            SmtpError::Resolve(_) | SmtpError::Connect(_) => true,
            SmtpError::Timeout { stage } => *stage < Stage::Content,
            // 421: the server is closing the channel (idle pooled connection,
            // shutting down); nothing of this message was accepted.
            SmtpError::Reply { stage, code, .. } => *code == 421 && *stage < Stage::Content,
            SmtpError::Transport { stage, source } => {
                *stage < Stage::Content
                    && *stage != Stage::Tls
                    && !source.is_client()
                    && find_rustls(source).is_none()
            }
            SmtpError::NoStarttls
            | SmtpError::NoAuthMechanism { .. }
            | SmtpError::MissingExtension { .. } => false,
        }
    }

    /// Whether the server is still talking after this failure, so that a
    /// polite `QUIT` is worth sending.
    pub(crate) fn server_still_talking(&self) -> bool {
        matches!(self, SmtpError::Reply { .. })
    }

    /// The public error, with `server` (`host:port`) as context.
    pub(crate) fn into_error(self, server: &str) -> Error {
        let stage = self.stage();
        let err = match self {
            SmtpError::Resolve(source) => {
                Error::new(ErrorKind::Unavailable, "cannot resolve the SMTP server's host name")
                    .with_code("smtp.dns-failed")
                    .with_remedy("check host, and this machine's DNS settings")
                    .with_source(source)
            }
            SmtpError::Connect(source) => connect_failed().with_source(source),
            SmtpError::Timeout { stage: Stage::Content } => outcome_unknown(
                "no final reply from the SMTP server in time after the message was transmitted",
            ),
            SmtpError::Timeout { stage } => {
                Error::new(ErrorKind::Unavailable, "the SMTP server did not answer in time")
                    .with_code("smtp.timeout")
                    .with_remedy(if stage <= Stage::Greeting {
                        "check that port and security match (587 with starttls, 465 with tls) and that the server is reachable; raise command_timeout_ms if it is slow"
                    } else {
                        "try again later; raise command_timeout_ms if the server is slow"
                    })
            }
            SmtpError::NoStarttls => {
                Error::new(ErrorKind::Config, "the SMTP server does not offer STARTTLS")
                    .with_code("smtp.starttls-unavailable")
                    .with_remedy("use security = \"tls\" if the port uses implicit TLS (usually 465); security = \"none\" is allowed only for a relay on this machine")
            }
            SmtpError::NoAuthMechanism { wanted, offered } => Error::new(
                ErrorKind::Config,
                format!("the SMTP server offers no authentication mechanism for auth = \"{wanted}\""),
            )
            .with_code("smtp.auth-unavailable")
            .with_context("offered", if offered.is_empty() { "none".to_owned() } else { offered })
            .with_remedy("set auth to a mechanism the server offers, or auth = \"none\" if the relay accepts mail without login; some servers offer AUTH only after STARTTLS"),
            SmtpError::MissingExtension { extension, .. } => Error::new(
                ErrorKind::InvalidInput,
                format!("the message needs the {extension} extension, which the SMTP server does not offer"),
            )
            .with_code("smtp.extension-missing")
            .with_remedy("use plain ASCII e-mail addresses, or a server that supports internationalised mail"),
            SmtpError::Transport { stage, source } => transport_error(stage, source),
            SmtpError::Reply { stage, code, text, recipient } => {
                let mut err = reply_error(stage, code, &text);
                if let Some(r) = recipient {
                    err = err.with_context("recipient", r);
                }
                // The reply is the server's text: escape control characters,
                // so that a hostile server cannot drive a terminal or forge a log line.
                let text: String = text
                    .chars()
                    .map(|c| if c.is_control() { c.escape_default().to_string() } else { c.into() })
                    .collect();
                err.with_smtp_code(code).with_context("reply", format!("{code} {text}"))
            }
        };
        err.with_provider(SMTP_PROVIDER_TYPE)
            .with_context("server", server)
            .with_context("step", stage)
    }
}

fn outcome_unknown(message: &'static str) -> Error {
    Error::new(ErrorKind::OutcomeUnknown, message)
        .with_code("smtp.outcome-unknown")
        .with_remedy("the message may have been delivered: look for its Message-ID in the recipient's mailbox or the server's log before sending it again")
}

fn connect_failed() -> Error {
    Error::new(ErrorKind::Unavailable, "cannot connect to the SMTP server")
        .with_code("smtp.connect-failed")
        .with_remedy(
            "check host and port, that the server is running, and that no firewall blocks the port",
        )
}

fn transport_error(stage: Stage, source: lettre::transport::smtp::Error) -> Error {
    if let Some(tls) = find_rustls(&source) {
        let (code, message, remedy): (&str, &str, String) = match tls {
            rustls::Error::InvalidCertificate(cert) => match cert {
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. } => (
                    "smtp.tls-name-mismatch",
                    "the SMTP server's TLS certificate is not valid for the host name",
                    "set host to a name the certificate lists; if the relay uses a private CA, also set tls_ca_file".to_owned(),
                ),
                rustls::CertificateError::Expired
                | rustls::CertificateError::ExpiredContext { .. }
                | rustls::CertificateError::NotValidYet
                | rustls::CertificateError::NotValidYetContext { .. } => (
                    "smtp.tls-expired",
                    "the SMTP server's TLS certificate has expired or is not valid yet",
                    "ask the relay's administrator to renew the certificate and check this machine's clock; a CA in tls_ca_file must be valid too".to_owned(),
                ),
                _ => (
                    "smtp.tls-untrusted",
                    "the SMTP server's TLS certificate is not trusted",
                    REMEDY_TRUST.to_owned(),
                ),
            },
            _ => (
                "smtp.tls-failed",
                "the TLS handshake with the SMTP server failed",
                format!("check that security matches the port (465 uses tls, 587 and 25 use starttls); if the relay uses a private CA, set tls_ca_file ({tls})"),
            ),
        };
        return Error::new(ErrorKind::Config, message)
            .with_code(code)
            .with_remedy(remedy)
            .with_source(source);
    }
    if stage == Stage::Content {
        return outcome_unknown(
            "the connection to the SMTP server failed after the message was transmitted",
        )
        .with_source(source);
    }
    if source.is_client() {
        return Error::new(ErrorKind::Unexpected, "the SMTP client refused the exchange")
            .with_code("smtp.protocol")
            .with_source(source);
    }
    let err = match stage {
        Stage::Resolve | Stage::Connect => connect_failed(),
        Stage::Tls => {
            Error::new(ErrorKind::Unavailable, "the TLS handshake with the SMTP server failed")
                .with_code("smtp.tls-failed")
                .with_remedy(
                    "check that security matches the port (465 uses tls, 587 and 25 use starttls)",
                )
        }
        _ => Error::new(
            ErrorKind::Unavailable,
            "the SMTP server closed the connection before the message was transmitted",
        )
        .with_code("smtp.connection-lost")
        .with_remedy("try again later; if it persists, read the server's log"),
    };
    err.with_source(source)
}

fn reply_error(stage: Stage, code: u16, text: &str) -> Error {
    let transient = code < 500;
    match meaning(stage, code, text) {
        ReplyMeaning::AuthDisabled => Error::new(
            ErrorKind::Permission,
            "SMTP AUTH is disabled for this mailbox or its tenant",
        )
        .with_code("smtp.auth-disabled")
        .with_remedy("in Office 365, enable Authenticated SMTP for the mailbox (Microsoft 365 admin center > Users > Active users > the user > Mail > Manage email apps) and for the tenant (Exchange admin center > Settings > Mail flow: clear \"Turn off SMTP AUTH protocol for your organization\"; or Set-CASMailbox <address> -SmtpClientAuthenticationDisabled $false); if Security defaults block basic authentication, use auth = \"xoauth2\" or the office365 provider"),
        ReplyMeaning::AuthFailed => Error::new(ErrorKind::Auth, "the SMTP server refused the login")
            .with_code("smtp.auth-failed")
            .with_remedy("check username (by default the account's address) and the account's secret (the SMTP password, or with auth = \"xoauth2\" a valid bearer token); some servers need an app password"),
        ReplyMeaning::AuthRequired => {
            Error::new(ErrorKind::Auth, "the SMTP server accepts mail only after login")
                .with_code("smtp.auth-required")
                .with_remedy("set auth (password, plain, login or xoauth2) and the account's secret")
        }
        ReplyMeaning::TlsRequired => Error::new(ErrorKind::Config, "the SMTP server requires TLS")
            .with_code("smtp.tls-required")
            .with_remedy("set security = \"starttls\" (port 587) or \"tls\" (port 465)"),
        ReplyMeaning::SendAsDenied => Error::new(
            ErrorKind::Permission,
            "the SMTP server does not let this login send as the message's sender",
        )
        .with_code("smtp.send-as-denied")
        .with_remedy("send from the login's own address, or grant the login Send As permission on the sender's mailbox"),
        ReplyMeaning::RelayDenied => Error::new(
            ErrorKind::Permission,
            "the SMTP server refuses to relay to this recipient",
        )
        .with_code("smtp.relay-denied")
        .with_remedy("log in (auth and the account's secret), or ask the relay's administrator to allow relaying from this machine"),
        ReplyMeaning::TooLarge if !transient => {
            Error::new(ErrorKind::Rejected, "the message is larger than the SMTP server accepts")
                .with_code("smtp.message-too-large")
                .with_remedy("send fewer or smaller attachments, or share large files as links")
        }
        ReplyMeaning::Throttled => Error::new(ErrorKind::Throttled, "the SMTP server asks to slow down")
            .with_code("smtp.throttled")
            .with_remedy("try again later; send fewer messages per minute"),
        _ if transient => Error::new(
            ErrorKind::Unavailable,
            "the SMTP server cannot take the message now",
        )
        .with_code("smtp.temporary-failure")
        .with_remedy("try again later"),
        _ => match stage {
            Stage::Resolve | Stage::Connect | Stage::Tls | Stage::Greeting => Error::new(
                ErrorKind::Permission,
                "the SMTP server refused the connection",
            )
            .with_code("smtp.server-refused")
            .with_remedy("ask the server's administrator to accept connections from this machine"),
            Stage::Auth => Error::new(ErrorKind::Auth, "the SMTP server refused the login")
                .with_code("smtp.auth-failed"),
            Stage::MailFrom => Error::new(ErrorKind::Rejected, "the SMTP server refused the sender")
                .with_code("smtp.sender-rejected")
                .with_remedy("check the account's address; the server may accept only its own domains as senders"),
            Stage::RcptTo => Error::new(ErrorKind::Rejected, "the SMTP server refused the recipient")
                .with_code("smtp.recipient-rejected")
                .with_remedy("check the recipient's address"),
            Stage::Data | Stage::Content => {
                Error::new(ErrorKind::Rejected, "the SMTP server refused the message")
                    .with_code("smtp.message-rejected")
                    .with_remedy("read the server's reply: the content, the size or the sender may be the reason")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(stage: Stage, code: u16, text: &str) -> Error {
        SmtpError::Reply { stage, code, text: text.into(), recipient: None }
            .into_error("smtp.example.com:587")
    }

    #[test]
    fn recognises_office_365_smtp_auth_disabled() {
        for text in [
            "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.",
            "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox.",
            "5.7.139 Authentication unsuccessful, basic authentication is disabled.",
            "5.7.3 Authentication unsuccessful, SMTP AUTH is disabled for this mailbox",
        ] {
            let err = reply(Stage::Auth, 535, text);
            assert_eq!(err.code(), Some("smtp.auth-disabled"), "{text}");
            assert_eq!(err.kind(), ErrorKind::Permission);
            assert!(!err.is_temporary());
            assert!(err.remedy().unwrap().contains("Authenticated SMTP"));
            assert_eq!(err.smtp_code(), Some(535));
        }
        let wrong = reply(
            Stage::Auth,
            535,
            "5.7.139 Authentication unsuccessful, the user credentials were incorrect.",
        );
        assert_eq!(wrong.code(), Some("smtp.auth-failed"));
        assert_eq!(wrong.kind(), ErrorKind::Auth);
        assert_eq!(
            reply(Stage::Auth, 535, "5.7.3 Authentication unsuccessful").code(),
            Some("smtp.auth-failed")
        );
    }

    #[test]
    fn splits_transient_from_permanent_replies() {
        let busy = reply(Stage::Content, 451, "4.3.0 try again later");
        assert_eq!((busy.kind(), busy.is_temporary()), (ErrorKind::Unavailable, true));
        assert_eq!(busy.code(), Some("smtp.temporary-failure"));
        let slow = reply(Stage::MailFrom, 450, "4.7.0 rate limit exceeded");
        assert_eq!((slow.kind(), slow.is_temporary()), (ErrorKind::Throttled, true));
        let spam = reply(Stage::Content, 554, "5.7.1 message looks like spam");
        assert_eq!((spam.kind(), spam.is_temporary()), (ErrorKind::Rejected, false));
        assert_eq!(spam.code(), Some("smtp.message-rejected"));
        assert_eq!(spam.context_value("reply"), Some("554 5.7.1 message looks like spam"));
        assert_eq!(
            reply(Stage::Content, 552, "5.3.4 too big").code(),
            Some("smtp.message-too-large")
        );
        assert_eq!(
            reply(Stage::RcptTo, 550, "5.1.1 no such user").code(),
            Some("smtp.recipient-rejected")
        );
        assert_eq!(
            reply(Stage::RcptTo, 554, "5.7.1 Relay access denied").code(),
            Some("smtp.relay-denied")
        );
        assert_eq!(
            reply(Stage::MailFrom, 530, "5.7.0 Authentication required").code(),
            Some("smtp.auth-required")
        );
        assert_eq!(
            reply(Stage::MailFrom, 530, "5.7.0 Must issue a STARTTLS command first").code(),
            Some("smtp.tls-required")
        );
        assert_eq!(
            reply(Stage::Content, 554, "5.2.252 SendAsDenied; a@x not allowed to send as b@x")
                .code(),
            Some("smtp.send-as-denied")
        );
    }

    #[test]
    fn only_failures_before_the_content_are_retried() {
        assert!(SmtpError::Timeout { stage: Stage::Data }.is_retryable());
        assert!(!SmtpError::Timeout { stage: Stage::Content }.is_retryable());
        let closing =
            |stage| SmtpError::Reply { stage, code: 421, text: String::new(), recipient: None };
        assert!(closing(Stage::MailFrom).is_retryable());
        assert!(!closing(Stage::Content).is_retryable());
        let unknown = SmtpError::Timeout { stage: Stage::Content }.into_error("h:25");
        assert_eq!(unknown.kind(), ErrorKind::OutcomeUnknown);
        assert!(!unknown.is_temporary());
        assert_eq!(unknown.code(), Some("smtp.outcome-unknown"));
    }

    #[test]
    fn dns_failures_are_temporary_and_retried() {
        let e = SmtpError::Resolve(io::Error::other("failed to lookup address information"));
        assert!(e.is_retryable());
        let err = e.into_error("smtp.example.invalid:587");
        assert_eq!((err.kind(), err.is_temporary()), (ErrorKind::Unavailable, true));
        assert_eq!(err.code(), Some("smtp.dns-failed"));
        assert_eq!(err.context_value("server"), Some("smtp.example.invalid:587"));
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn reads_enhanced_codes() {
        assert_eq!(enhanced_code("5.7.139 Authentication unsuccessful"), Some("5.7.139"));
        assert_eq!(enhanced_code("Authentication unsuccessful"), None);
        assert_eq!(enhanced_code("5.7 x"), None);
    }
}
