//! Failures of the Office 365 provider and their mapping into the core
//! [`Error`]: kind, temporariness, stable code and remedy.
//!
//! Codes are the AADSTS number (`AADSTS7000215`), the Graph `error.code`
//! (`ErrorInvalidUser`) or one of ours (`o365.*`). Microsoft's human texts are
//! never branched on, with one documented exception: "Access to OData is
//! disabled", the only marker of an Application Access Policy.

use std::time::Duration;

use g360_mail_core::{Error, ErrorKind};

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
                        "check the network path to Microsoft (proxy, firewall, DNS) and try again",
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
        700024 | 700027 => hint(
            Auth,
            "the client assertion was refused",
            "G360 ERP uses a client secret; create one in Entra ID > Certificates & secrets and paste its Value into the account's secret",
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

/// A failure of ours, before or without any request.
pub(crate) fn own(
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
