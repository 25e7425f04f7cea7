//! Private failure detail of the SMTP provider and its one conversion into
//! core's [`Error`]: kind, temporariness, stable code, remedy.
//!
//! The rule that keeps mail from going out twice lives here:
//! [`SmtpError::is_retryable`] is true only for failures of the connection
//! before the message content was handed over; a failure after the end of the
//! message (`CRLF . CRLF`) went out, while waiting for the server's final
//! reply, is [`ErrorKind::OutcomeUnknown`], which is never temporary. Every
//! other failure of a send is marked not delivered
//! ([`Error::is_not_delivered`]).

use std::fmt;
use std::io;

use g360_mail_core::{Error, ErrorKind};

use crate::SMTP_PROVIDER_TYPE;
use crate::config::SmtpAuth;

/// Where in the SMTP dialogue a failure happened, in dialogue order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stage {
    /// Waiting for a free connection of the pool.
    Queue,
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
    /// Transmitting the message content, before its end (`CRLF . CRLF`)
    /// went out: the server cannot have accepted it.
    Content,
    /// Waiting for the server's final reply after the end of the message
    /// went out: from here on the server may have accepted the message.
    FinalReply,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Queue => "queue",
            Stage::Resolve => "resolve",
            Stage::Connect => "connect",
            Stage::Tls => "tls",
            Stage::Greeting => "ehlo",
            Stage::Auth => "auth",
            Stage::MailFrom => "mail-from",
            Stage::RcptTo => "rcpt-to",
            Stage::Data => "data",
            Stage::Content => "message",
            Stage::FinalReply => "final-reply",
        }
    }

    /// The verify check that covers this stage.
    pub(crate) fn check_name(self) -> &'static str {
        match self {
            Stage::Queue | Stage::Resolve | Stage::Connect => "connect",
            Stage::Tls => "tls",
            Stage::Greeting => "ehlo",
            Stage::Auth => "auth",
            Stage::MailFrom | Stage::RcptTo | Stage::Data | Stage::Content | Stage::FinalReply => {
                "test-mail"
            }
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
    /// No answer in time: the step's own timeout, or with `overall` the
    /// send's deadline (`send_timeout_ms`).
    #[error("timed out during {stage}")]
    Timeout { stage: Stage, overall: bool },
    /// Reading or writing failed in the plaintext part of the dialogue.
    #[error("the connection failed during {stage}")]
    Io {
        stage: Stage,
        #[source]
        source: io::Error,
    },
    /// The TLS handshake failed.
    #[error("the TLS handshake failed")]
    Tls(#[source] io::Error),
    /// Bytes came after a reply in the plaintext part of the dialogue,
    /// before TLS began: with `STARTTLS`, replies injected by a man in the
    /// middle.
    #[error("{bytes} unexpected bytes after the server's reply during {stage}")]
    Injected { stage: Stage, bytes: usize },
    /// A reply that is not SMTP.
    #[error("the server's reply is not valid SMTP during {stage}: {detail}")]
    Protocol { stage: Stage, detail: String },
    /// `security = "none"` and the host resolved to an address that is not
    /// this machine's.
    #[error("plaintext SMTP to {address} refused")]
    PlaintextRefused { address: std::net::SocketAddr },
    /// A login would have gone out without TLS.
    #[error("AUTH without TLS refused")]
    AuthInClear,
    /// No access token for `auth = "oauth2"` (the identity platform's error).
    #[error("no access token")]
    Token(#[source] g360_mail_core::Error),
    /// The server refused an OAuth access token.
    #[error("the server answered {code} to the access token")]
    OAuthRefused { code: u16, text: String },
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
    BasicAuthRetired,
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
    // Exchange Online without Basic authentication for SMTP AUTH (off by
    // default from the end of December 2026): "550 5.7.30 Basic
    // authentication is not supported for Client Submission".
    if enhanced == "5.7.30" || has("basic authentication is not supported") {
        return ReplyMeaning::BasicAuthRetired;
    }
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

const REMEDY_OAUTH_REFUSED: &str = "in Entra ID > App registrations > the app > API permissions, add the application permission SMTP.SendAsApp of Office 365 Exchange Online and grant admin consent; in Exchange Online PowerShell register the app's service principal (New-ServicePrincipal -AppId <client id> -ObjectId <object id of the enterprise application>) and give it the mailbox (Add-MailboxPermission -Identity <address> -User <service principal id> -AccessRights FullAccess); SMTP AUTH must be enabled for the mailbox";

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
            SmtpError::Connect(_) | SmtpError::PlaintextRefused { .. } => Stage::Connect,
            SmtpError::Reply { stage, .. }
            | SmtpError::Transport { stage, .. }
            | SmtpError::Timeout { stage, .. }
            | SmtpError::Io { stage, .. }
            | SmtpError::Injected { stage, .. }
            | SmtpError::Protocol { stage, .. }
            | SmtpError::MissingExtension { stage, .. } => *stage,
            SmtpError::NoStarttls | SmtpError::Tls(_) => Stage::Tls,
            SmtpError::AuthInClear | SmtpError::Token(_) | SmtpError::OAuthRefused { .. } => {
                Stage::Auth
            }
            SmtpError::NoAuthMechanism { .. } => Stage::Auth,
        }
    }

    /// Whether the connection failed before the message content was sent, so
    /// that sending again on a new connection cannot deliver it twice.
    /// Certificate problems are not retried: they will not go away.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            SmtpError::Resolve(_) | SmtpError::Connect(_) => true,
            SmtpError::Timeout { stage, overall } => !overall && *stage < Stage::Content,
            // The plaintext part of STARTTLS: nothing of the message yet.
            SmtpError::Io { .. } => true,
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
            | SmtpError::Tls(_)
            | SmtpError::Injected { .. }
            | SmtpError::Protocol { .. }
            | SmtpError::PlaintextRefused { .. }
            | SmtpError::AuthInClear
            | SmtpError::Token(_)
            | SmtpError::OAuthRefused { .. }
            | SmtpError::NoAuthMechanism { .. }
            | SmtpError::MissingExtension { .. } => false,
        }
    }

    /// The same failure, known to have happened after the end of the
    /// message went out: a lost connection or a timeout then leaves the
    /// outcome unknown.
    pub(crate) fn after_end_of_data(self) -> SmtpError {
        match self {
            SmtpError::Timeout { stage: Stage::Content, overall } => {
                SmtpError::Timeout { stage: Stage::FinalReply, overall }
            }
            SmtpError::Transport { stage: Stage::Content, source } => {
                SmtpError::Transport { stage: Stage::FinalReply, source }
            }
            SmtpError::Reply { stage: Stage::Content, code, text, recipient } => {
                SmtpError::Reply { stage: Stage::FinalReply, code, text, recipient }
            }
            other => other,
        }
    }

    /// Whether the server is still talking after this failure, so that a
    /// polite `QUIT` is worth sending.
    pub(crate) fn server_still_talking(&self) -> bool {
        matches!(self, SmtpError::Reply { .. } | SmtpError::OAuthRefused { .. })
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
            SmtpError::Timeout { stage: Stage::FinalReply, overall } => outcome_unknown(
                "no final reply from the SMTP server in time after the message was transmitted",
            )
            .with_context("timeout", if overall { "send_timeout_ms" } else { "data_timeout_ms" }),
            SmtpError::Timeout { stage: _, overall: true } => Error::new(
                ErrorKind::Unavailable,
                "the send did not finish within send_timeout_ms; the message was not delivered",
            )
            .with_code("smtp.send-timeout")
            .with_remedy("try again later; if the server is slow or the message large, raise send_timeout_ms"),
            SmtpError::Timeout { stage, overall: false } => {
                Error::new(ErrorKind::Unavailable, "the SMTP server did not answer in time")
                    .with_code("smtp.timeout")
                    .with_remedy(if stage <= Stage::Greeting {
                        "check that port and security match (587 with starttls, 465 with tls) and that the server is reachable; raise command_timeout_ms if it is slow"
                    } else if stage == Stage::Content {
                        "try again later; raise data_timeout_ms if the server or the link is slow"
                    } else {
                        "try again later; raise command_timeout_ms if the server is slow"
                    })
            }
            SmtpError::Io { stage, source } => Error::new(
                ErrorKind::Unavailable,
                "the SMTP server closed the connection before the message was transmitted",
            )
            .with_code(if stage < Stage::Tls { "smtp.connect-failed" } else { "smtp.connection-lost" })
            .with_remedy("try again later; if it persists, read the server's log")
            .with_source(source),
            SmtpError::Tls(source) => tls_error(source),
            SmtpError::Injected { stage, bytes } => Error::new(
                ErrorKind::Unavailable,
                "the SMTP server sent data it was not asked for before TLS began; a man in the middle may be tampering with the connection",
            )
            .with_code("smtp.starttls-injection")
            .with_temporary(false)
            .with_context("bytes", bytes)
            .with_remedy(if stage == Stage::Tls {
                "nothing was sent; check the network path to the server (a proxy or firewall that rewrites SMTP), or use security = \"tls\" (port 465) where the server offers it"
            } else {
                "nothing was sent; check the network path to the server (a proxy or firewall that rewrites SMTP)"
            }),
            SmtpError::Protocol { detail, .. } => {
                Error::new(ErrorKind::Unavailable, "the SMTP server's reply is not valid SMTP")
                    .with_code("smtp.bad-reply")
                    .with_temporary(false)
                    .with_context("problem", detail)
                    .with_remedy("check that host and port point at an SMTP server, and that security matches the port")
            }
            SmtpError::PlaintextRefused { address } => Error::new(
                ErrorKind::Config,
                "security = \"none\" is allowed only for a relay on this machine, and the host resolves elsewhere",
            )
            .with_code("smtp.plaintext-refused")
            .with_context("key", "security")
            .with_context("address", address)
            .with_remedy("use security = \"starttls\" (port 587) or \"tls\" (port 465); only if the network path is trusted, set allow_insecure_dangerous = true"),
            SmtpError::AuthInClear => Error::new(
                ErrorKind::Config,
                "the login would travel without TLS",
            )
            .with_code("smtp.auth-in-clear")
            .with_context("key", "auth")
            .with_remedy("use security = \"starttls\" or \"tls\", or auth = \"none\" for a relay that needs no login"),
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
            // The identity platform's own diagnosis (AADSTS codes, remedies).
            SmtpError::Token(err) => err,
            SmtpError::OAuthRefused { code, text } => {
                let err = match meaning(Stage::Auth, code, &text) {
                    ReplyMeaning::AuthDisabled | ReplyMeaning::BasicAuthRetired => {
                        reply_error(Stage::Auth, code, &text)
                    }
                    _ => Error::new(
                        ErrorKind::Permission,
                        "the SMTP server refused the app's access token",
                    )
                    .with_code("smtp.oauth-refused")
                    .with_remedy(REMEDY_OAUTH_REFUSED),
                };
                err.with_smtp_code(code).with_context("reply", format!("{code} {text}"))
            }
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
        let err =
            if err.kind() == ErrorKind::OutcomeUnknown { err } else { err.with_not_delivered() };
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

/// A failed TLS handshake, diagnosed from the rustls error inside `source`.
fn tls_error(source: impl std::error::Error + Send + Sync + 'static) -> Error {
    let Some(tls) = find_rustls(&source) else {
        return Error::new(ErrorKind::Unavailable, "the TLS handshake with the SMTP server failed")
            .with_code("smtp.tls-failed")
            .with_remedy(
                "check that security matches the port (465 uses tls, 587 and 25 use starttls)",
            )
            .with_source(source);
    };
    {
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
        Error::new(ErrorKind::Config, message)
            .with_code(code)
            .with_remedy(remedy)
            .with_source(source)
    }
}

fn transport_error(stage: Stage, source: lettre::transport::smtp::Error) -> Error {
    if find_rustls(&source).is_some() {
        return tls_error(source);
    }
    if stage == Stage::FinalReply {
        return outcome_unknown(
            "the connection to the SMTP server failed after the message was transmitted",
        )
        .with_source(source);
    }
    if stage == Stage::Content {
        return Error::new(
            ErrorKind::Unavailable,
            "the connection to the SMTP server failed while the message was transmitted, before its end: it was not delivered",
        )
        .with_code("smtp.connection-lost")
        .with_remedy("try again later; if it persists, read the server's log")
        .with_source(source);
    }
    if source.is_client() {
        return Error::new(ErrorKind::Unexpected, "the SMTP client refused the exchange")
            .with_code("smtp.protocol")
            .with_source(source);
    }
    let err = match stage {
        Stage::Queue | Stage::Resolve | Stage::Connect => connect_failed(),
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
        ReplyMeaning::BasicAuthRetired => Error::new(
            ErrorKind::Permission,
            "Exchange Online no longer accepts a password for SMTP AUTH (Basic authentication is switched off)",
        )
        .with_code("smtp.basic-auth-retired")
        .with_remedy("set auth = \"oauth2\" and oauth_integration = \"<id of the office365 integration>\": the provider then logs in with the Entra app's tokens; the app needs the Office 365 Exchange Online permission SMTP.SendAsApp (see docs/providers/smtp.md)"),
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
            Stage::Queue | Stage::Resolve | Stage::Connect | Stage::Tls | Stage::Greeting => Error::new(
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
            Stage::Data | Stage::Content | Stage::FinalReply => {
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
    fn recognises_exchange_online_without_basic_authentication() {
        let err = reply(
            Stage::Auth,
            550,
            "5.7.30 Basic authentication is not supported for Client Submission.",
        );
        assert_eq!(err.code(), Some("smtp.basic-auth-retired"));
        assert_eq!(err.kind(), ErrorKind::Permission);
        assert!(!err.is_temporary());
        assert!(err.is_not_delivered());
        let remedy = err.remedy().unwrap();
        assert!(remedy.contains("auth = \"oauth2\"") && remedy.contains("oauth_integration"));
    }

    #[test]
    fn an_oauth_refusal_is_a_permission_problem_unless_smtp_auth_is_off() {
        let refused = SmtpError::OAuthRefused {
            code: 535,
            text: "5.7.3 Authentication unsuccessful [X.PROD.OUTLOOK.COM]".into(),
        }
        .into_error("smtp.office365.com:587");
        assert_eq!(refused.code(), Some("smtp.oauth-refused"));
        assert_eq!(refused.kind(), ErrorKind::Permission);
        assert!(refused.remedy().unwrap().contains("SMTP.SendAsApp"));
        assert_eq!(refused.context_value("step"), Some("auth"));
        let disabled = SmtpError::OAuthRefused {
            code: 535,
            text: "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.".into(),
        }
        .into_error("smtp.office365.com:587");
        assert_eq!(disabled.code(), Some("smtp.auth-disabled"));
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
        assert!(SmtpError::Timeout { stage: Stage::Data, overall: false }.is_retryable());
        assert!(!SmtpError::Timeout { stage: Stage::Data, overall: true }.is_retryable());
        assert!(!SmtpError::Timeout { stage: Stage::Content, overall: false }.is_retryable());
        let closing =
            |stage| SmtpError::Reply { stage, code: 421, text: String::new(), recipient: None };
        assert!(closing(Stage::MailFrom).is_retryable());
        assert!(!closing(Stage::Content).is_retryable());
        let unknown = SmtpError::Timeout { stage: Stage::Content, overall: false }
            .after_end_of_data()
            .into_error("h:25");
        assert_eq!(unknown.kind(), ErrorKind::OutcomeUnknown);
        assert!(!unknown.is_temporary());
        assert!(!unknown.is_not_delivered());
        assert_eq!(unknown.code(), Some("smtp.outcome-unknown"));
        assert_eq!(unknown.context_value("timeout"), Some("data_timeout_ms"));
        // Before the end of the message went out, the server cannot have it.
        let before = SmtpError::Timeout { stage: Stage::Content, overall: true }.into_error("h:25");
        assert_eq!(
            (before.kind(), before.code()),
            (ErrorKind::Unavailable, Some("smtp.send-timeout"))
        );
        assert!(before.is_not_delivered());
        let refused = SmtpError::Reply {
            stage: Stage::Content,
            code: 554,
            text: "5.7.1 no".into(),
            recipient: None,
        }
        .after_end_of_data()
        .into_error("h:25");
        assert_eq!(refused.kind(), ErrorKind::Rejected);
        assert!(refused.is_not_delivered(), "a reply is an answer, not an unknown outcome");
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
