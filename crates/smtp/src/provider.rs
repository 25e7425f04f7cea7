//! [`SmtpProvider`]: `MailProvider` over SMTP submission.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use g360_mail_core::{
    Capabilities, Check, EmailAddress, Error, MailProvider, MailboxQuery, MessagePage,
    OutgoingMessage, ReceivedMessage, Result, SendReceipt, VerifyOptions, VerifyReport,
};
use g360_mail_mime::{RenderOptions, render};
use lettre::Address;
use tokio::time::Instant;

use crate::SMTP_PROVIDER_TYPE;
use crate::client::{Connector, Pool, Progress, Session, reply_line};
use crate::config::{Security, SmtpAuth};
use crate::error::{SmtpError, Stage};

/// Sends mail through an SMTP server as one account.
///
/// Built by [`SmtpBuilder`](crate::SmtpBuilder) or the registry's
/// [`SmtpFactory`](crate::SmtpFactory). Cheap to share: connections are pooled
/// (at most `pool_max_size` open at once) and reused while they stay
/// healthy. A send is tried again on a new connection only when the
/// connection failed before the message content was transmitted; once the
/// content went out, a lost connection is
/// [`OutcomeUnknown`](g360_mail_core::ErrorKind::OutcomeUnknown). SMTP cannot
/// read mail nor look sent mail up: those calls return `Unsupported`.
pub struct SmtpProvider {
    pub(crate) connector: Arc<Connector>,
    pub(crate) pool: Arc<Pool>,
    pub(crate) sender: EmailAddress,
    pub(crate) max_attempts: u32,
    pub(crate) retry_delay: Duration,
}

impl fmt::Debug for SmtpProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpProvider")
            .field("server", &self.connector.server())
            .field("security", &self.connector.security)
            .field("auth", &self.connector.auth)
            .field("sender", &self.sender)
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

fn envelope_address(address: &EmailAddress, field: &'static str) -> Result<Address> {
    address.addr().parse::<Address>().map_err(|e| {
        Error::invalid_input("the address cannot be used in an SMTP envelope")
            .with_code("address.invalid")
            .with_provider(SMTP_PROVIDER_TYPE)
            .with_context("field", field)
            .with_context("address", address.addr())
            .with_source(e)
    })
}

impl SmtpProvider {
    /// The server this provider talks to, as `host:port`.
    pub fn server(&self) -> String {
        self.connector.server()
    }

    /// Submits `content` to every recipient before `deadline`, reusing or
    /// opening connections and trying again only while nothing of the
    /// message was transmitted.
    async fn submit(
        &self,
        from: &Address,
        recipients: &[Address],
        content: &[u8],
        deadline: Instant,
    ) -> Result<String> {
        let server = self.connector.server();
        let _permit = match tokio::time::timeout_at(deadline, self.pool.permits.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => {
                return Err(Error::new(
                    g360_mail_core::ErrorKind::Unexpected,
                    "the connection pool is closed",
                )
                .with_provider(SMTP_PROVIDER_TYPE));
            }
            Err(_) => {
                return Err(SmtpError::Timeout { stage: Stage::Queue, overall: true }
                    .into_error(&server)
                    .with_context("attempts", 0));
            }
        };
        let mut attempt = 0;
        let mut delay = self.retry_delay;
        // Sleeps before the next attempt, unless that would pass the deadline.
        let pause = |delay: Duration| {
            let wake = Instant::now().checked_add(delay).filter(|at| *at < deadline);
            async move {
                match wake {
                    Some(at) => {
                        tokio::time::sleep_until(at).await;
                        true
                    }
                    None => false,
                }
            }
        };
        loop {
            let (mut session, reused) = match self.pool.take() {
                Some(session) => (session, true),
                None => {
                    attempt += 1;
                    match self.connector.open(&mut Progress::default(), deadline).await {
                        Ok(session) => (session, false),
                        Err(e) if e.is_retryable() && attempt < self.max_attempts => {
                            tracing::debug!(%server, attempt, error = %e, "smtp connect failed; trying again");
                            if !pause(delay).await {
                                return Err(e
                                    .into_error(&server)
                                    .with_context("attempts", attempt));
                            }
                            delay = delay.saturating_mul(2);
                            continue;
                        }
                        Err(e) => {
                            return Err(e.into_error(&server).with_context("attempts", attempt));
                        }
                    }
                }
            };
            match self.connector.transact(&mut session, from, recipients, content, deadline).await {
                Ok(reply) => {
                    self.pool.put(session);
                    return Ok(reply_line(&reply));
                }
                // A pooled connection the server closed while it sat idle: not
                // an attempt of this message, and the other idle ones are
                // likely dead too.
                Err(e) if reused && e.is_retryable() => {
                    tracing::debug!(%server, error = %e, "pooled smtp connection is dead; reconnecting");
                    self.pool.clear();
                }
                Err(e) if e.is_retryable() && attempt < self.max_attempts => {
                    tracing::debug!(%server, attempt, error = %e, "smtp send failed before the content; trying again");
                    if !pause(delay).await {
                        return Err(e.into_error(&server).with_context("attempts", attempt));
                    }
                    delay = delay.saturating_mul(2);
                }
                Err(e) => {
                    if e.server_still_talking() {
                        Connector::close(&mut session, deadline).await;
                    }
                    return Err(e.into_error(&server).with_context("attempts", attempt.max(1)));
                }
            }
        }
    }
}

#[async_trait]
impl MailProvider for SmtpProvider {
    fn provider_type(&self) -> &'static str {
        SMTP_PROVIDER_TYPE
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::send_only();
        caps.html_body = true;
        caps.attachments = true;
        caps.inline_attachments = true;
        caps.custom_headers = true;
        caps
    }

    async fn send(&self, message: &OutgoingMessage) -> Result<SendReceipt> {
        let from_header = message.from().unwrap_or(&self.sender);
        let content = render(message, from_header, &RenderOptions::default())?;
        let internet_message_id = message.uid().internet_message_id(from_header.domain());
        let from = envelope_address(&self.sender, "from")?;
        let mut recipients: Vec<Address> = Vec::new();
        for address in message.recipients() {
            let rcpt = envelope_address(address, "to/cc/bcc")?;
            if !recipients
                .iter()
                .any(|r| AsRef::<str>::as_ref(r).eq_ignore_ascii_case(rcpt.as_ref()))
            {
                recipients.push(rcpt);
            }
        }
        tracing::debug!(
            server = %self.connector.server(),
            uid = %message.uid(),
            recipients = recipients.len(),
            bytes = content.len(),
            "smtp send"
        );
        let deadline = self.connector.deadline();
        let reply = self
            .submit(&from, &recipients, &content, deadline)
            .await
            .map_err(|e| e.with_context("message_id", &internet_message_id))?;
        let mut receipt = SendReceipt::new(SMTP_PROVIDER_TYPE, message.uid(), internet_message_id);
        receipt.server_reply = Some(reply);
        Ok(receipt)
    }

    async fn list_messages(&self, _query: &MailboxQuery) -> Result<MessagePage> {
        Err(Error::unsupported(SMTP_PROVIDER_TYPE, "read mail"))
    }

    async fn get_message(&self, _id: &str) -> Result<ReceivedMessage> {
        Err(Error::unsupported(SMTP_PROVIDER_TYPE, "read mail"))
    }

    async fn verify(&self, options: &VerifyOptions) -> Result<VerifyReport> {
        let server = self.connector.server();
        let mut report = VerifyReport::new(SMTP_PROVIDER_TYPE);
        let mut progress = Progress::default();
        let deadline = self.connector.deadline();
        let (mut session, failure) = match self.connector.open(&mut progress, deadline).await {
            Ok(session) => (Some(session), None),
            Err(e) => (None, Some((e.stage().check_name(), e.into_error(&server)))),
        };
        push_checks(&mut report, self, &progress, failure.as_ref().map(|(name, e)| (*name, e)));
        if let Some(to) = &options.send_test_to {
            match session.as_mut() {
                None => {
                    report.push(Check::skipped("test-mail"));
                }
                Some(session) => {
                    report.push(self.test_mail(session, to, deadline).await);
                }
            }
        }
        if let Some(mut session) = session {
            Connector::close(&mut session, deadline).await;
        }
        Ok(report)
    }
}

impl SmtpProvider {
    async fn test_mail(
        &self,
        session: &mut Session,
        to: &EmailAddress,
        deadline: Instant,
    ) -> Check {
        let server = self.connector.server();
        let prepared = (|| -> Result<_> {
            let message = OutgoingMessage::builder()
                .to_all([to.clone()])
                .subject("g360-mail: mensaje de prueba / test message")
                .text(format!(
                    "Mensaje de prueba enviado por g360-mail (verify) a través de {server}.\r\n\
                     Test message sent by g360-mail (verify) through {server}.\r\n"
                ))
                .header("X-G360-Mail-Test", "verify")
                .build()?;
            let content = render(&message, &self.sender, &RenderOptions::default())?;
            let id = message.uid().internet_message_id(self.sender.domain());
            Ok((content, id, envelope_address(&self.sender, "from")?, envelope_address(to, "to")?))
        })();
        let (content, id, from, rcpt) = match prepared {
            Ok(p) => p,
            Err(e) => return Check::fail("test-mail", &e),
        };
        match self.connector.transact(session, &from, &[rcpt], &content, deadline).await {
            Ok(reply) => Check::pass(
                "test-mail",
                format!(
                    "sent to {} as {id}; the server answered {}",
                    to.addr(),
                    reply_line(&reply)
                ),
            ),
            Err(e) => {
                Check::fail("test-mail", &e.into_error(&server).with_context("message_id", id))
            }
        }
    }
}

/// The checks `connect`, `tls`, `ehlo` and `auth`: passed as far as
/// `progress` got, the failed one described by `error`, the rest skipped.
fn push_checks(
    report: &mut VerifyReport,
    provider: &SmtpProvider,
    progress: &Progress,
    failure: Option<(&str, &Error)>,
) {
    let c = &provider.connector;
    let server = c.server();
    let passed = |name: &str| match name {
        "connect" => progress.connected,
        "tls" => progress.tls || (c.security == Security::None && progress.connected),
        "ehlo" => progress.server.is_some(),
        _ => failure.is_none(),
    };
    for name in ["connect", "tls", "ehlo", "auth"] {
        let check = if let Some((_, err)) = failure.filter(|(failed, _)| *failed == name) {
            Check::fail(name, err)
        } else if passed(name) {
            let detail = match name {
                "connect" => format!("connected to {server}"),
                "tls" => match c.security {
                    Security::Starttls => {
                        format!("STARTTLS; the certificate of {} is trusted", c.host)
                    }
                    Security::Tls => {
                        format!("implicit TLS; the certificate of {} is trusted", c.host)
                    }
                    Security::None => {
                        "not used: security = \"none\" (relay on this machine)".to_owned()
                    }
                },
                "ehlo" => format!(
                    "the server answered EHLO: {}",
                    progress.server.as_deref().unwrap_or("")
                ),
                _ => match (c.auth, progress.mechanism) {
                    (SmtpAuth::None, _) | (_, None) => "not used: auth = \"none\"".to_owned(),
                    (_, Some(m)) => format!("logged in as {} with AUTH {m}", c.username()),
                },
            };
            Check::pass(name, detail)
        } else {
            Check::skipped(name)
        };
        report.push(check);
    }
}
