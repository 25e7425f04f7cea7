//! Failures of the Office 365 provider and their mapping into the core
//! [`Error`]: kind, temporariness, stable code and remedy.
//!
//! Codes are the AADSTS number (`AADSTS7000215`), the Graph `error.code`
//! (`ErrorInvalidUser`) or one of ours (`o365.*`). Microsoft's human texts are
//! never branched on, with one documented exception: "Access to OData is
//! disabled", the only marker of an Application Access Policy.

use std::time::Duration;

use g360_mail_core::{Error, ErrorKind, MessageUid};

use crate::O365_PROVIDER_TYPE;
use crate::graph_model::{GraphErrorDetail, TokenErrorBody};

/// What went wrong below the core error, kept as the error's `source()`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum O365Error {
    /// The token endpoint refused the client credentials.
    #[error("token endpoint answered {status} {error}")]
    Token {
        status: u16,
        error: String,
        codes: Vec<u64>,
        trace_id: Option<String>,
        correlation_id: Option<String>,
    },
    /// Graph answered with an error body.
    #[error("graph answered {status} {code}")]
    Graph {
        status: u16,
        code: String,
        inner_code: Option<String>,
        message: String,
        request_id: Option<String>,
        client_request_id: Option<String>,
        retry_after: Option<Duration>,
    },
    /// The HTTP exchange itself failed.
    #[error("{what} failed")]
    Transport {
        what: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// An answer could not be read.
    #[error("unreadable answer from {what}")]
    Decode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl O365Error {
    pub(crate) fn token(status: u16, body: TokenErrorBody) -> Self {
        O365Error::Token {
            status,
            error: body.error,
            codes: body.error_codes,
            trace_id: body.trace_id,
            correlation_id: body.correlation_id,
        }
    }

    pub(crate) fn graph(
        status: u16,
        detail: GraphErrorDetail,
        request_id: Option<String>,
        client_request_id: Option<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        let inner = detail.inner_error.unwrap_or_default();
        O365Error::Graph {
            status,
            code: detail.code,
            inner_code: inner.code,
            message: detail.message,
            request_id: request_id.or(inner.request_id),
            client_request_id: client_request_id.or(inner.client_request_id),
            retry_after,
        }
    }

    pub(crate) fn transport(what: &'static str, source: reqwest::Error) -> Self {
        O365Error::Transport { what, source: source.without_url() }
    }
}

impl From<O365Error> for Error {
    fn from(e: O365Error) -> Self {
        let err = match &e {
            O365Error::Token { status, error, codes, trace_id, correlation_id } => {
                let mut err = token_error(*status, error, codes);
                if let Some(t) = trace_id {
                    err = err.with_context("trace_id", t);
                }
                if let Some(c) = correlation_id {
                    err = err.with_context("correlation_id", c);
                }
                err
            }
            O365Error::Graph {
                status,
                code,
                inner_code,
                message,
                request_id,
                client_request_id,
                retry_after,
            } => {
                let mut err = graph_error(*status, code, inner_code.as_deref(), message);
                if let Some(r) = retry_after {
                    err = err.with_retry_after(*r);
                }
                if let Some(r) = request_id {
                    err = err.with_context("request_id", r);
                }
                if let Some(r) = client_request_id {
                    err = err.with_context("client_request_id", r);
                }
                err
            }
            O365Error::Transport { what, source } => {
                let (kind, why) = if source.is_timeout() {
                    (ErrorKind::Unavailable, "timed out")
                } else if source.is_connect() {
                    (ErrorKind::Unavailable, "could not connect")
                } else {
                    (ErrorKind::Unavailable, "failed")
                };
                Error::new(kind, format!("{what} {why}"))
                    .with_code(if source.is_timeout() { "o365.timeout" } else { "o365.network" })
                    .with_remedy(
                        "check the network path to Microsoft (proxy, firewall, DNS; behind a proxy that inspects TLS, name its CA in tls_ca_file) and try again",
                    )
            }
            O365Error::Decode { what, source } => {
                // serde_json quotes the value it could not read (`invalid type:
                // string "…"`); in a token answer that is the access token. So
                // the serde error is not kept: where and what kind of problem is.
                let problem = match source.classify() {
                    serde_json::error::Category::Io => "io",
                    serde_json::error::Category::Syntax => "syntax",
                    serde_json::error::Category::Data => "data",
                    serde_json::error::Category::Eof => "eof",
                };
                return Error::new(
                    ErrorKind::Unexpected,
                    format!("could not read the answer of {what}"),
                )
                .with_code("o365.bad-answer")
                .with_context("problem", problem)
                .with_context("line", source.line())
                .with_context("column", source.column())
                .with_provider(O365_PROVIDER_TYPE);
            }
        };
        err.with_provider(O365_PROVIDER_TYPE).with_source(e)
    }
}

/// What the AADSTS table of the reference says about a token failure.
struct TokenHint {
    kind: ErrorKind,
    message: &'static str,
    remedy: &'static str,
    temporary: bool,
}

const fn hint(kind: ErrorKind, message: &'static str, remedy: &'static str) -> TokenHint {
    TokenHint { kind, message, remedy, temporary: false }
}

fn aadsts_hint(code: u64) -> Option<TokenHint> {
    use ErrorKind::*;
    Some(match code {
        700016 => hint(
            Config,
            "the application was not found in the directory",
            "check the integration's client_id (Entra ID > App registrations > the app > Overview > Application (client) ID) and tenant_id (Directory (tenant) ID) and the cloud; an app registered in another tenant needs admin consent in this one",
        ),
        7000215 => hint(
            Auth,
            "the client secret is invalid",
            "in Entra ID > App registrations > the app > Certificates & secrets, create a new client secret and paste its Value (not the Secret ID) into the account's secret (Token field in G360 ERP)",
        ),
        7000222 => hint(
            Auth,
            "the client secret has expired",
            "in Entra ID > App registrations > the app > Certificates & secrets, create a new client secret and paste its Value into the account's secret (Token field in G360 ERP)",
        ),
        7000218 => hint(
            Auth,
            "the client secret is missing",
            "paste the client secret Value from Entra ID > Certificates & secrets into the account's secret (Token field in G360 ERP)",
        ),
        900144 => hint(
            Config,
            "the token request lacks a required parameter",
            "check the integration's client_id and tenant_id; if they are right, report this to G360 support",
        ),
        1002012 | 70011 | 700022 => hint(
            Config,
            "the token scope is not valid for this cloud",
            "check the integration's cloud (global, usgov, usgov-dod, china) and remove a wrong graph_url override",
        ),
        90002 => hint(
            Config,
            "the tenant was not found",
            "check the integration's tenant_id (Entra ID > Overview > Tenant ID) and its cloud; a tenant in a national cloud needs cloud = usgov, usgov-dod or china",
        ),
        900023 => hint(
            Config,
            "the tenant identifier is not valid",
            "write the integration's tenant_id as the Directory (tenant) ID GUID or a verified domain, without spaces or paths",
        ),
        90013 => hint(
            Config,
            "the token request has invalid input",
            "check the integration's client_id and tenant_id for typos",
        ),
        50194 | 9001023 => hint(
            Config,
            "the tenant must be given explicitly",
            "set the integration's tenant_id to the customer's Directory (tenant) ID instead of common or organizations",
        ),
        500011 | 650057 => hint(
            Config,
            "Microsoft Graph is not known as a resource in this tenant or cloud",
            "check the integration's cloud and remove a wrong graph_url override",
        ),
        53003 => hint(
            Permission,
            "a Conditional Access policy blocked the token request",
            "ask the Entra ID administrator to allow this server's IP address in the Conditional Access policy for workload identities that applies to the app",
        ),
        7000112 => hint(
            Auth,
            "the application is disabled",
            "ask the Entra ID administrator to enable the app in Entra ID > Enterprise applications > the app > Properties (Enabled for users to sign in)",
        ),
        700027 => hint(
            Auth,
            "the certificate was not uploaded to the app",
            "in Entra ID > App registrations > the app > Certificates & secrets > Certificates, upload the certificate of the integration's certificate_file (the .crt, never the key); its thumbprint must be the one verify shows",
        ),
        700024 => hint(
            Auth,
            "the client assertion is outside its time range: the server's clock is wrong",
            "set this server's clock right (synchronise it with NTP, time zone included); Entra ID accepts only a few minutes of skew",
        ),
        90038 | 900432 => hint(
            Config,
            "the tenant lives in another national cloud",
            "set the integration's cloud to the tenant's cloud (global, usgov, usgov-dod or china)",
        ),
        50126 => hint(
            Config,
            "a user name and password were checked instead of the app's credentials",
            "report this to G360 support: the client-credentials flow should never produce it",
        ),
        50196 | 90055 => TokenHint {
            kind: Throttled,
            message: "the token endpoint throttled us",
            remedy: "wait a few minutes; if it persists, check that no other process asks for tokens in a loop",
            temporary: true,
        },
        90006 | 90033 | 90090 => TokenHint {
            kind: Unavailable,
            message: "the token endpoint is temporarily unavailable",
            remedy: "try again in a few minutes",
            temporary: true,
        },
        _ => return None,
    })
}

fn token_error(status: u16, error: &str, codes: &[u64]) -> Error {
    let first = codes.first().copied();
    let hinted = codes.iter().find_map(|c| aadsts_hint(*c).map(|h| (*c, h)));
    let (code, h) = match hinted {
        Some((c, h)) => (format!("AADSTS{c}"), h),
        None => {
            let code =
                first.map_or_else(|| format!("o365.token.{error}"), |c| format!("AADSTS{c}"));
            let h = match error {
                "temporarily_unavailable" => TokenHint {
                    kind: ErrorKind::Unavailable,
                    message: "the token endpoint is temporarily unavailable",
                    remedy: "try again in a few minutes",
                    temporary: true,
                },
                "invalid_client" => hint(
                    ErrorKind::Auth,
                    "the token endpoint refused the client credentials",
                    "check the account's secret (the client secret Value) and the integration's client_id",
                ),
                "invalid_tenant" => hint(
                    ErrorKind::Config,
                    "the tenant was not found",
                    "check the integration's tenant_id and cloud",
                ),
                "unauthorized_client"
                | "invalid_scope"
                | "invalid_request"
                | "invalid_resource" => hint(
                    ErrorKind::Config,
                    "the token endpoint refused the request",
                    "check the integration's client_id, tenant_id and cloud",
                ),
                _ if status >= 500 || status == 429 => TokenHint {
                    kind: if status == 429 { ErrorKind::Throttled } else { ErrorKind::Unavailable },
                    message: "the token endpoint is unavailable",
                    remedy: "try again in a few minutes",
                    temporary: true,
                },
                _ => hint(
                    ErrorKind::Auth,
                    "the token endpoint refused the client credentials",
                    "check the integration's client_id, tenant_id and cloud and the account's secret",
                ),
            };
            (code, h)
        }
    };
    Error::new(h.kind, h.message)
        .with_temporary(h.temporary)
        .with_code(code)
        .with_remedy(h.remedy)
        .with_http_status(status)
        .with_context("error", error)
}

/// The kind, code, message and remedy of a Graph error answer.
pub(crate) fn graph_error(status: u16, code: &str, inner: Option<&str>, message: &str) -> Error {
    use ErrorKind::*;
    let odata_disabled = message.contains("Access to OData is disabled");
    let (kind, our_code, text, remedy): (ErrorKind, Option<&str>, &str, Option<&str>) = match (
        status, code,
    ) {
        _ if odata_disabled => (
            Permission,
            Some("o365.mailbox-not-in-app-scope"),
            "the mailbox is outside the app's Application Access Policy",
            Some(
                "ask the Exchange administrator to add this mailbox to the mail-enabled security group of the app's Application Access Policy (New-ApplicationAccessPolicy / Test-ApplicationAccessPolicy), then allow up to an hour",
            ),
        ),
        (401, "InvalidAuthenticationToken") => (
            Auth,
            None,
            "Graph refused the access token",
            Some(
                "check the integration's cloud and graph_url; if it persists, create a new client secret",
            ),
        ),
        (401, "NoPermissionsInAccessToken") => (
            Permission,
            None,
            "the access token carries no permissions",
            Some(
                "in Entra ID > App registrations > the app > API permissions, add Microsoft Graph Mail.Send and Mail.Read as Application permissions (not Delegated) and press Grant admin consent",
            ),
        ),
        (_, "ErrorAccessDenied") => (
            Permission,
            None,
            "access to the mailbox was denied",
            Some(
                "in Entra ID > API permissions, check Mail.Send and Mail.Read are Application permissions with admin consent granted; if Exchange RBAC for Applications or an access policy scopes the app, ask the Exchange administrator to include this mailbox",
            ),
        ),
        (_, "ErrorSendAsDenied") => (
            Permission,
            None,
            "the mailbox may not send as the given sender",
            Some(
                "send from the account's own address, or ask the Exchange administrator to grant Send As on the sender to this mailbox",
            ),
        ),
        (_, "Authorization_RequestDenied") => (
            Permission,
            None,
            "the app lacks a directory permission",
            Some("report this to G360 support: the provider should not need directory permissions"),
        ),
        (_, "ErrorInvalidUser") => (
            Config,
            None,
            "the mailbox address does not resolve to a mailbox in this tenant",
            Some(
                "put the mailbox's user principal name (UPN) or primary address in the account's address, and check the integration's tenant_id",
            ),
        ),
        (_, "MailboxNotEnabledForRESTAPI") | (_, "MailboxNotSupportedForRESTAPI") => (
            Config,
            None,
            "the mailbox is not enabled for the REST API",
            Some(
                "the address must be an Exchange Online mailbox: ask the Microsoft 365 administrator to assign a licence with Exchange Online (guests and on-premises mailboxes cannot be used)",
            ),
        ),
        (_, "InvalidInternetMessageHeader") => (
            InvalidInput,
            None,
            "Graph refused a custom header",
            Some("use only custom headers whose names start with X-"),
        ),
        (_, "ErrorInvalidRecipients") | (_, "ErrorInvalidRecipient") => {
            (Rejected, None, "Graph refused a recipient", Some("check the recipients' addresses"))
        }
        (_, "ErrorMessageSizeExceeded") => (
            Rejected,
            None,
            "the message exceeds the mailbox's maximum send size",
            Some(
                "send fewer or smaller attachments, or ask the Exchange administrator to raise the mailbox's MaxSendSize",
            ),
        ),
        (413, _) => (
            Rejected,
            Some("o365.message-too-large"),
            "the request is larger than Graph accepts",
            Some(
                "send attachments of less than 3 MB in total, or grant the app Mail.ReadWrite (Application) so large attachments can be uploaded",
            ),
        ),
        (400, "BadRequest") if message.contains("maximum request length") => (
            Rejected,
            Some("o365.message-too-large"),
            "the request is larger than Graph accepts",
            Some(
                "send attachments of less than 3 MB in total, or grant the app Mail.ReadWrite (Application) so large attachments can be uploaded",
            ),
        ),
        (_, "ErrorQuotaExceeded") => (
            Rejected,
            None,
            "the mailbox is full",
            Some(
                "free space in the mailbox (empty Deleted Items or Sent Items) or ask for a larger quota",
            ),
        ),
        (_, "ErrorItemNotFound") | (_, "ResourceNotFound") | (_, "ErrorInvalidIdMalformed") => {
            (NotFound, None, "the message or folder was not found", None)
        }
        (_, "syncStateNotFound") | (_, "resyncRequired") | (410, _) => (
            NotFound,
            Some("syncStateNotFound"),
            "the delta token expired",
            Some("start the synchronisation of the folder over"),
        ),
        (429, _) => (
            Throttled,
            None,
            "Graph throttled the mailbox",
            Some("wait and try again; lower the sending rate of this mailbox"),
        ),
        (_, "ErrorServerBusy")
        | (_, "CommandConcurrencyLimitReached")
        | (_, "ApplicationThrottled") => (
            Throttled,
            None,
            "Graph throttled the mailbox",
            Some("wait and try again; lower the sending rate of this mailbox"),
        ),
        (500..=599, _) => (Unavailable, None, "Graph is unavailable", Some("try again later")),
        (404, _) => (NotFound, None, "Graph did not find the resource", None),
        (400, _) => (
            Unexpected,
            None,
            "Graph refused the request",
            Some("report this to G360 support with the request id"),
        ),
        _ => (
            Unexpected,
            None,
            "Graph answered with an unexpected error",
            Some("report this to G360 support with the request id"),
        ),
    };
    let code = match our_code {
        Some(c) => c.to_owned(),
        None if !code.is_empty() => code.to_owned(),
        None => format!("o365.http-{status}"),
    };
    let mut err = Error::new(kind, text).with_code(code).with_http_status(status);
    if let Some(r) = remedy {
        err = err.with_remedy(r);
    }
    if let Some(i) = inner {
        err = err.with_context("inner_code", i);
    }
    err
}

/// A header Graph cannot send (only `X-` custom headers).
pub(crate) fn header_not_custom(name: &str) -> Error {
    own(
        ErrorKind::InvalidInput,
        "message.header-invalid",
        "only custom headers starting with X- can be sent through Graph",
    )
    .with_context("header", name.escape_debug())
    .with_context("sent", "no")
    .with_context("delivered", "no")
    .with_not_delivered()
    .with_remedy("rename the header to X-Something")
}

/// A request body we could not encode.
pub(crate) fn encode(e: impl std::fmt::Display) -> Error {
    own(ErrorKind::Unexpected, "o365.encode", format!("could not encode the request: {e}"))
}

/// An answer that makes no sense.
pub(crate) fn bad_answer(what: &'static str) -> Error {
    own(ErrorKind::Unexpected, "o365.bad-answer", what)
}

/// An id Graph never hands out.
pub(crate) fn invalid_id(what: &'static str, id: &str) -> Error {
    own(ErrorKind::InvalidInput, "o365.invalid-id", format!("invalid {what} id"))
        .with_context("id", id.escape_debug())
        .with_remedy("pass an id exactly as a listing returned it")
}

/// A continuation token that is not a link to the configured Graph host.
pub(crate) fn bad_continuation(foreign: bool) -> Error {
    if !foreign {
        return own(
            ErrorKind::InvalidInput,
            "o365.bad-continuation",
            "the continuation token is not a Graph link",
        );
    }
    own(
        ErrorKind::InvalidInput,
        "o365.bad-continuation",
        "the continuation token does not point at the configured Graph host",
    )
    .with_remedy("pass back the continuation exactly as the previous page returned it")
}

/// An upload session URL we refuse to send bytes to.
pub(crate) fn bad_upload_url(why: &'static str) -> Error {
    bad_answer(why)
}

/// Graph took the mail but asked to come back later: an ambiguous answer.
pub(crate) fn accepted_with_retry_after(a: &crate::client::Answer, ra: Duration) -> Error {
    own(
        ErrorKind::Throttled,
        "o365.accepted-with-retry-after",
        "Graph accepted the mail but asked to retry later",
    )
    .with_retry_after(ra)
    .with_http_status(a.status)
    .with_context("request_id", a.request_id.as_deref().unwrap_or(""))
}

/// A redirect: never followed, so that neither the client secret nor a
/// mail goes to another origin.
pub(crate) fn redirected(host: &str, status: u16, location: Option<&str>) -> Error {
    let mut err = own(
        ErrorKind::Unexpected,
        "o365.redirect",
        format!("{host} answered with a redirect, which is not followed"),
    )
    .with_http_status(status)
    .with_context("host", host)
    .with_remedy(
        "check authority_url and graph_url: they must name the Microsoft hosts themselves; a proxy or captive portal that redirects must let the requests through",
    );
    if let Some(l) = location {
        err = err.with_context("redirect_host", if l.is_empty() { "(none)" } else { l });
    }
    err
}

/// An answer longer than we read for `what`.
pub(crate) fn answer_too_large(what: &'static str, limit: usize, declared: Option<u64>) -> Error {
    let mut err = own(
        ErrorKind::Unexpected,
        "o365.answer-too-large",
        format!("the answer of {what} is larger than the limit"),
    )
    .with_context("limit_bytes", limit)
    .with_remedy("check authority_url and graph_url: a Microsoft host never answers this much");
    if let Some(n) = declared {
        err = err.with_context("declared_bytes", n);
    }
    err
}

/// A page with bodies over its cap: smaller pages help.
pub(crate) fn page_too_large(e: Error) -> Error {
    e.with_remedy("ask for smaller pages (page_size) when reading with bodies")
}

/// A request that did not end within its timeout, body included.
pub(crate) fn timed_out(what: &'static str, timeout: Duration) -> Error {
    own(ErrorKind::Unavailable, "o365.timeout", format!("{what} timed out"))
        .with_context("timeout_ms", timeout.as_millis())
        .with_remedy("check the network path to Microsoft (proxy, firewall, DNS) and try again")
}

/// The deadline of the operation passed before a request started.
pub(crate) fn deadline_passed(what: &'static str) -> Error {
    own(
        ErrorKind::Unavailable,
        "o365.deadline",
        format!("the deadline passed before {what} could be made"),
    )
    .with_remedy("try again later; if it keeps happening, raise send_timeout_ms or check the network path to Microsoft")
}

/// A malformed client or tenant id, reported instead of asking for a token.
pub(crate) fn setup_problem(code: &'static str, p: &g360_mail_core::ConfigProblem) -> Error {
    p.clone().with_code(code).into_error(O365_PROVIDER_TYPE)
}

/// The problems of the ids and secret, for the configuration check; the
/// first one gives the code and remedy.
pub(crate) fn identity_problems(
    problems: &[(&'static str, g360_mail_core::ConfigProblem)],
) -> Error {
    let detail = problems.iter().map(|(_, p)| p.to_string()).collect::<Vec<_>>().join("; ");
    let mut err = Error::new(ErrorKind::Config, detail).with_provider(O365_PROVIDER_TYPE);
    if let Some((code, first)) = problems.first() {
        err = err.with_code(*code);
        if let Some(r) = &first.remedy {
            err = err.with_remedy(r.clone());
        }
    }
    err
}

/// A setting out of range, for the builder.
pub(crate) fn invalid_setting(p: &g360_mail_core::ConfigProblem) -> Error {
    let p = g360_mail_core::ConfigProblem {
        message: format!("invalid setting: {}", p.message),
        code: Some("config.invalid".to_owned()),
        ..p.clone()
    };
    p.into_error(O365_PROVIDER_TYPE)
}

/// The account has no mailbox address.
pub(crate) fn mailbox_missing() -> Error {
    own(ErrorKind::Config, "o365.mailbox-missing", "the account has no mailbox address")
        .with_remedy("put the mailbox address in the account's address")
}

/// The account has no client secret.
pub(crate) fn secret_missing(address: &str) -> Error {
    own(ErrorKind::Config, "o365.secret-missing", "the account has no client secret")
        .with_context("address", address)
        .with_remedy("paste the client secret Value from Entra ID > App registrations > the app > Certificates & secrets into the account's secret (Token field in G360 ERP), or give the integration certificate_file and private_key_file")
}

/// The step of the portal that renews a certificate.
const CERTIFICATE_STEP: &str =
    "Entra ID > App registrations > the app > Certificates & secrets > Certificates";

/// A certificate file, key file or PEM text that cannot be used; `source`
/// says where it came from.
pub(crate) fn certificate(
    p: &crate::certificate::CertificateProblem,
    source: &crate::certificate::CertificateSource,
) -> Error {
    use crate::certificate::CertificateProblem as P;
    match p {
        P::BadCertificate(_) => own(ErrorKind::Config, "o365.certificate-unreadable", p.to_string())
            .with_context("key", "certificate_file")
            .with_remedy("point certificate_file at the PEM certificate (-----BEGIN CERTIFICATE-----) made with openssl req -x509, the one uploaded to the app"),
        P::BadKey(_) => own(ErrorKind::Config, "o365.certificate-unreadable", p.to_string())
            .with_context("key", "private_key_file")
            .with_remedy("point private_key_file at the certificate's RSA private key in PEM without a passphrase (-----BEGIN PRIVATE KEY-----)"),
        P::KeyDoesNotMatch => own(ErrorKind::Config, "o365.certificate-key-mismatch", p.to_string())
            .with_context("key", "private_key_file")
            .with_remedy("set private_key_file to the key made together with certificate_file (openssl req -x509 -newkey ... -keyout): compare openssl x509 -noout -modulus and openssl rsa -noout -modulus"),
        P::Expired { not_after } => expired_certificate(*not_after, source),
        P::NotYetValid { .. } => own(ErrorKind::Config, "o365.certificate-not-yet-valid", p.to_string())
            .with_context("key", "certificate_file")
            .with_remedy("check this server's clock, or make a certificate valid from today with openssl req -x509 and upload it"),
    }
}

/// A certificate or key file that cannot be read.
pub(crate) fn certificate_file(key: &'static str, path: &str, e: std::io::Error) -> Error {
    own(
        ErrorKind::Config,
        "o365.certificate-unreadable",
        format!("the file of {key} cannot be read"),
    )
    .with_context("key", key)
    .with_context("path", path)
    .with_remedy(format!(
        "check that {key} names an existing PEM file that this service's user may read"
    ))
    .with_source(e)
}

/// The certificate from `source` expired on `when`: the remedy says where
/// the new one goes (files, environment variables or the ERP).
pub(crate) fn expired_certificate(
    when: jiff::Timestamp,
    source: &crate::certificate::CertificateSource,
) -> Error {
    let date = when.strftime("%Y-%m-%d").to_string();
    own(ErrorKind::Auth, "o365.certificate-expired", format!("the certificate expired on {date}"))
        .with_context("key", source.key())
        .with_context("expired", date)
        .with_remedy(format!(
            "make a new certificate (openssl req -x509 -newkey rsa:2048 ...), upload it in {CERTIFICATE_STEP}, then {}",
            source.replace_step()
        ))
}

/// The client secret (`key`: `secret_expires`) expired on `when`.
pub(crate) fn expired_secret(key: &'static str, when: jiff::Timestamp) -> Error {
    let date = when.strftime("%Y-%m-%d").to_string();
    own(ErrorKind::Auth, "o365.secret-expired", format!("the client secret expired on {date}"))
        .with_context("key", key)
        .with_context("expired", date)
        .with_remedy("in Entra ID > App registrations > the app > Certificates & secrets > Client secrets, create a new secret, paste its Value into the account's secret (Token field in G360 ERP) and its Expires date into secret_expires")
}

/// The remedy of a credential about to expire: the certificate from
/// `Some(source)`, else the client secret.
pub(crate) fn expiring_remedy(
    certificate: Option<&crate::certificate::CertificateSource>,
) -> String {
    match certificate {
        Some(source) => format!(
            "before it expires, make a new certificate (openssl req -x509 -newkey rsa:2048 ...), upload it in {CERTIFICATE_STEP}, then {}",
            source.replace_step()
        ),
        None => "before it expires, create a new secret in Entra ID > App registrations > the app > Certificates & secrets > Client secrets, put its Value in secret_next (both work during the rotation), then move it to secret and update secret_expires".to_owned(),
    }
}

/// A token source was asked for a purpose this provider has no tokens for.
pub(crate) fn no_token_source(purpose: g360_mail_core::TokenPurpose) -> Error {
    own(ErrorKind::Config, "config.no-token-source", format!("no access tokens for {purpose:?}"))
}

/// A token was issued that cannot travel in a header.
pub(crate) fn token_unusable() -> Error {
    own(ErrorKind::Unexpected, "o365.token-unusable", "the access token cannot be sent")
}

/// A setting of the integration is invalid: `key` names it.
pub(crate) fn invalid_key(message: String, key: &str) -> Error {
    own(ErrorKind::Config, "config.invalid", message).with_context("key", key)
}

/// The file of `tls_ca_file` cannot be read.
pub(crate) fn ca_file_unreadable(path: &str, e: std::io::Error) -> Error {
    own(ErrorKind::Config, "o365.tls-ca-file", "the file of tls_ca_file cannot be read")
        .with_context("key", "tls_ca_file")
        .with_context("path", path)
        .with_remedy("check that tls_ca_file names an existing PEM file of CA certificates that this service's user may read")
        .with_source(e)
}

/// The file of `tls_ca_file` holds no usable CA certificate.
pub(crate) fn ca_file_invalid(path: &str, why: String) -> Error {
    own(ErrorKind::Config, "o365.tls-ca-file", format!("tls_ca_file holds no usable CA certificate: {why}"))
        .with_context("key", "tls_ca_file")
        .with_context("path", path)
        .with_remedy("point tls_ca_file at the company CA's certificate in PEM (-----BEGIN CERTIFICATE-----), as exported for the proxy that inspects TLS")
}

/// reqwest could not build its client (no TLS roots, for instance).
pub(crate) fn http_client(e: reqwest::Error) -> Error {
    own(ErrorKind::Unexpected, "o365.http-client", "could not build the HTTP client").with_source(e)
}

/// The tenant's discovery document names another national cloud.
pub(crate) fn wrong_cloud(cloud: crate::config::Cloud, seen: &str, remedy: String) -> Error {
    own(ErrorKind::Config, "o365.wrong-cloud", "the tenant lives in another national cloud")
        .with_context("cloud", cloud)
        .with_context("tenant_cloud", seen)
        .with_remedy(remedy)
}

/// The token lacks the roles the provider needs.
pub(crate) fn missing_roles(code: &'static str, detail: String, remedy: &'static str) -> Error {
    Error::new(ErrorKind::Permission, detail)
        .with_code(code)
        .with_remedy(remedy)
        .with_provider(O365_PROVIDER_TYPE)
}

/// An error answer of the tenant discovery endpoint: a 4xx is read like
/// the token endpoint's; anything else means it is unavailable.
pub(crate) fn discovery_error(status: u16, body: &[u8]) -> Error {
    if (400..500).contains(&status) && status != 429 {
        let body: TokenErrorBody = serde_json::from_slice(body).unwrap_or_default();
        return O365Error::token(status, body).into();
    }
    own(
        ErrorKind::Unavailable,
        "o365.discovery-unavailable",
        "the tenant discovery endpoint is unavailable",
    )
    .with_http_status(status)
}

/// A message over the 4 MB of one Graph request, without the upload path.
pub(crate) fn too_large(len: usize) -> Error {
    own(ErrorKind::Rejected, "o365.message-too-large", "the message is larger than the 4 MB Graph accepts in one request")
        .with_context("request_bytes", len)
        .with_context("sent", "no").with_context("delivered", "no").with_not_delivered()
        .with_remedy("send attachments of less than 3 MB in total (links instead of files), or grant the app Microsoft Graph Mail.ReadWrite (Application, with admin consent) so large attachments are uploaded separately")
}

/// Marks a failed send as certainly not delivered (an outcome unknown stays
/// as it is).
pub(crate) fn not_delivered(e: Error) -> Error {
    if e.kind() == ErrorKind::OutcomeUnknown {
        e
    } else {
        e.with_context("sent", "no").with_context("delivered", "no").with_not_delivered()
    }
}

/// A send that may or may not have gone out, with `cause` as source.
pub(crate) fn outcome_unknown(cause: Error, uid: MessageUid, imid: &str, reason: &str) -> Error {
    let cause_code = cause.code().unwrap_or(cause.kind().as_str()).to_owned();
    // Without Mail.Read the provider cannot look by itself; with it, the
    // lookup itself failed and a person has to look.
    let (code, remedy) = if reason.contains("Mail.Read") {
        (
            "o365.outcome-unknown-no-read",
            "look for the mail in the Sent Items of the mailbox before sending it again; grant Microsoft Graph Mail.Read (Application) so the provider can check by itself",
        )
    } else {
        (
            "o365.outcome-unknown",
            "look for the mail in the Sent Items of the mailbox before sending it again",
        )
    };
    let mut err = own(ErrorKind::OutcomeUnknown, code, "the mail may or may not have been sent")
        .with_remedy(remedy)
        .with_context("uid", uid)
        .with_context("internet_message_id", imid)
        .with_context("cause", cause_code)
        .with_context("reason", reason);
    if let Some(s) = cause.http_status() {
        err = err.with_http_status(s);
    }
    err.with_source(cause)
}

/// A failure of ours, before or without any request.
fn own(
    kind: ErrorKind,
    code: &'static str,
    message: impl Into<std::borrow::Cow<'static, str>>,
) -> Error {
    Error::new(kind, message).with_code(code).with_provider(O365_PROVIDER_TYPE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_aadsts_codes() {
        let e: Error = O365Error::Token {
            status: 401,
            error: "invalid_client".into(),
            codes: vec![7000215],
            trace_id: Some("t-1".into()),
            correlation_id: Some("c-1".into()),
        }
        .into();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert_eq!(e.code(), Some("AADSTS7000215"));
        assert!(e.remedy().unwrap().contains("Value (not the Secret ID)"));
        assert_eq!(e.context_value("trace_id"), Some("t-1"));
        assert_eq!(e.context_value("correlation_id"), Some("c-1"));
        assert!(!e.is_temporary());

        let e = token_error(400, "invalid_request", &[90055]);
        assert_eq!(e.kind(), ErrorKind::Throttled);
        assert!(e.is_temporary());
        let e = token_error(400, "invalid_grant", &[123456]);
        assert_eq!(e.code(), Some("AADSTS123456"));
        assert_eq!(e.kind(), ErrorKind::Auth);
    }

    #[test]
    fn maps_graph_codes() {
        let e = graph_error(403, "ErrorAccessDenied", None, "Access to OData is disabled.");
        assert_eq!(e.kind(), ErrorKind::Permission);
        assert_eq!(e.code(), Some("o365.mailbox-not-in-app-scope"));
        let e = graph_error(404, "ErrorInvalidUser", None, "x");
        assert_eq!(e.kind(), ErrorKind::Config);
        let e = graph_error(503, "", None, "");
        assert_eq!(e.code(), Some("o365.http-503"));
        assert!(e.is_temporary());
    }
}
