//! [`FallbackProvider`]: send through a second route only when the first
//! certainly did not accept the mail.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::capability::Capabilities;
use crate::error::{Error, ErrorKind, Result};
use crate::mailbox::{MailboxQuery, MessagePage, ReceivedMessage};
use crate::message::{MessageUid, OutgoingMessage, SendReceipt};
use crate::provider::MailProvider;
use crate::report::{ReportPage, ReportQuery};
use crate::verify::{VerifyOptions, VerifyReport};

/// Why a failed send may go to another route, or `None` when it must not.
///
/// A mail may take the fallback only when the primary **certainly did not
/// accept it**:
/// - the primary refused our credentials or permissions, or is misconfigured
///   (`Auth`, `Permission`, `Config`): nothing was sent;
/// - the primary was unavailable or throttled *and* established that the mail
///   did not go out ([`Error::is_not_delivered`]: connection refused, DNS
///   failure, or a Sent Items lookup that found nothing).
///
/// Never on `OutcomeUnknown` (the mail may be out: a second route could send it
/// twice), `Rejected` (the fallback would be asked to send a refused mail),
/// `InvalidInput`, or `Unexpected`.
pub fn fallback_reason(err: &Error) -> Option<String> {
    let provider = err.provider().unwrap_or("primary");
    match err.kind() {
        ErrorKind::Auth | ErrorKind::Permission | ErrorKind::Config => Some(format!(
            "the {provider} route refused the credentials or setup ({}): {err}",
            err.kind()
        )),
        ErrorKind::Unavailable | ErrorKind::Throttled if err.is_not_delivered() => {
            Some(format!("the {provider} route did not accept the mail ({}): {err}", err.kind()))
        }
        _ => None,
    }
}

/// Sends through `primary`, and through `secondary` only when
/// [`fallback_reason`] allows it. Reading and verification use the primary.
pub struct FallbackProvider {
    primary: Arc<dyn MailProvider>,
    primary_route: String,
    secondary: Arc<dyn MailProvider>,
    secondary_route: String,
}

impl FallbackProvider {
    /// A provider that falls back from `primary` (route id `primary_route`) to
    /// `secondary` (route id `secondary_route`).
    pub fn new(
        primary: Arc<dyn MailProvider>,
        primary_route: impl Into<String>,
        secondary: Arc<dyn MailProvider>,
        secondary_route: impl Into<String>,
    ) -> Self {
        FallbackProvider {
            primary,
            primary_route: primary_route.into(),
            secondary,
            secondary_route: secondary_route.into(),
        }
    }
}

impl fmt::Debug for FallbackProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FallbackProvider")
            .field("primary_route", &self.primary_route)
            .field("primary", &self.primary)
            .field("secondary_route", &self.secondary_route)
            .field("secondary", &self.secondary)
            .finish()
    }
}

#[async_trait]
impl MailProvider for FallbackProvider {
    fn provider_type(&self) -> &'static str {
        self.primary.provider_type()
    }

    /// A message must be sendable by both routes, since either may carry it:
    /// the intersection of their sending capabilities. Reading is the primary's.
    fn capabilities(&self) -> Capabilities {
        self.primary.capabilities().sendable_by_both(&self.secondary.capabilities())
    }

    async fn send(&self, message: &OutgoingMessage) -> Result<SendReceipt> {
        let primary_error = match self.primary.send(message).await {
            Ok(mut receipt) => {
                receipt.route.get_or_insert_with(|| self.primary_route.clone());
                return Ok(receipt);
            }
            Err(e) => e,
        };
        let Some(reason) = fallback_reason(&primary_error) else {
            return Err(primary_error.with_context("route", &self.primary_route));
        };
        tracing::warn!(
            uid = %message.uid(),
            primary = %self.primary_route,
            secondary = %self.secondary_route,
            reason = %reason,
            "sending through the fallback route"
        );
        match self.secondary.send(message).await {
            Ok(mut receipt) => {
                receipt.route = Some(self.secondary_route.clone());
                receipt.fallback_reason = Some(reason);
                Ok(receipt)
            }
            Err(e) => Err(e
                .with_context("route", &self.secondary_route)
                .with_context("primary route", &self.primary_route)
                .with_context("primary error", primary_error)),
        }
    }

    async fn list_messages(&self, query: &MailboxQuery) -> Result<MessagePage> {
        self.primary.list_messages(query).await
    }

    async fn get_message(&self, id: &str) -> Result<ReceivedMessage> {
        self.primary.get_message(id).await
    }

    async fn verify(&self, options: &VerifyOptions) -> Result<VerifyReport> {
        self.primary.verify(options).await
    }

    async fn find_sent(&self, uid: MessageUid) -> Result<Option<SendReceipt>> {
        self.primary.find_sent(uid).await
    }

    async fn raw_message(&self, id: &str) -> Result<Vec<u8>> {
        self.primary.raw_message(id).await
    }

    async fn list_delivery_reports(&self, query: &ReportQuery) -> Result<ReportPage> {
        self.primary.list_delivery_reports(query).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::MockMailProvider;

    fn message() -> OutgoingMessage {
        OutgoingMessage::builder().to("a@example.com").unwrap().subject("s").build().unwrap()
    }

    fn receipt(m: &OutgoingMessage, provider: &str) -> SendReceipt {
        SendReceipt::new(provider, m.uid(), m.uid().internet_message_id("example.com"))
    }

    fn primary_failing(err: fn() -> Error) -> MockMailProvider {
        let mut p = MockMailProvider::new();
        p.expect_send().times(1).returning(move |_| Err(err()));
        p
    }

    fn secondary(times: usize) -> MockMailProvider {
        let mut s = MockMailProvider::new();
        s.expect_send().times(times).returning(|m| Ok(receipt(m, "smtp")));
        s
    }

    async fn run(primary: MockMailProvider, secondary: MockMailProvider) -> Result<SendReceipt> {
        let f =
            FallbackProvider::new(Arc::new(primary), "o365", Arc::new(secondary), "smtp-backup");
        f.send(&message()).await
    }

    #[test]
    fn capabilities_are_what_both_routes_can_send_and_what_the_primary_reads() {
        let mut p = MockMailProvider::new();
        p.expect_capabilities().returning(|| Capabilities {
            read: true,
            html_body: true,
            attachments: true,
            custom_headers: true,
            save_to_sent: true,
            find_sent: true,
            max_message_bytes: Some(150 << 20),
            ..Capabilities::default()
        });
        let mut s = MockMailProvider::new();
        s.expect_capabilities().returning(|| Capabilities {
            html_body: true,
            attachments: true,
            inline_attachments: true,
            max_message_bytes: Some(35 << 20),
            ..Capabilities::default()
        });
        let f = FallbackProvider::new(Arc::new(p), "o365", Arc::new(s), "smtp-backup");
        let c = f.capabilities();
        assert!(c.html_body && c.attachments, "{c:?}");
        assert!(!c.custom_headers && !c.inline_attachments && !c.save_to_sent, "{c:?}");
        assert_eq!(c.max_message_bytes, Some(35 << 20));
        assert!(c.read && c.find_sent, "reads and lookups stay the primary's: {c:?}");
    }

    #[tokio::test]
    async fn success_on_the_primary_never_touches_the_secondary() {
        let mut p = MockMailProvider::new();
        p.expect_send().times(1).returning(|m| Ok(receipt(m, "office365")));
        let r = run(p, secondary(0)).await.unwrap();
        assert_eq!(r.route.as_deref(), Some("o365"));
        assert_eq!(r.fallback_reason, None);
    }

    #[tokio::test]
    async fn falls_back_on_auth_permission_and_config_failures() {
        for kind in [ErrorKind::Auth, ErrorKind::Permission, ErrorKind::Config] {
            let mut p = MockMailProvider::new();
            p.expect_send()
                .times(1)
                .returning(move |_| Err(Error::new(kind, "no").with_provider("office365")));
            let r = run(p, secondary(1)).await.unwrap();
            assert_eq!(r.route.as_deref(), Some("smtp-backup"), "{kind}");
            let reason = r.fallback_reason.unwrap();
            assert!(reason.contains("office365") && reason.contains(kind.as_str()), "{reason}");
        }
    }

    #[tokio::test]
    async fn falls_back_on_unavailable_or_throttled_only_when_not_delivered() {
        let r = run(
            primary_failing(|| Error::new(ErrorKind::Unavailable, "refused").with_not_delivered()),
            secondary(1),
        )
        .await
        .unwrap();
        assert_eq!(r.route.as_deref(), Some("smtp-backup"));
        let r = run(
            primary_failing(|| {
                Error::new(ErrorKind::Throttled, "429").persistent().with_not_delivered()
            }),
            secondary(1),
        )
        .await
        .unwrap();
        assert_eq!(r.route.as_deref(), Some("smtp-backup"));
        let e = run(primary_failing(|| Error::new(ErrorKind::Unavailable, "503")), secondary(0))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        let e = run(primary_failing(|| Error::new(ErrorKind::Throttled, "429")), secondary(0))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Throttled);
    }

    #[tokio::test]
    async fn never_falls_back_when_the_outcome_is_unknown_or_the_mail_was_refused() {
        for kind in [
            ErrorKind::OutcomeUnknown,
            ErrorKind::Rejected,
            ErrorKind::InvalidInput,
            ErrorKind::Unexpected,
        ] {
            let mut p = MockMailProvider::new();
            // Even a (wrong) not-delivered mark does not make these safe.
            p.expect_send()
                .times(1)
                .returning(move |_| Err(Error::new(kind, "x").with_not_delivered()));
            let e = run(p, secondary(0)).await.unwrap_err();
            assert_eq!(e.kind(), kind);
            assert_eq!(e.context_value("route"), Some("o365"));
        }
    }

    #[tokio::test]
    async fn a_failing_secondary_reports_both_errors() {
        let mut s = MockMailProvider::new();
        s.expect_send()
            .times(1)
            .returning(|_| Err(Error::new(ErrorKind::Unavailable, "smtp down")));
        let e = run(primary_failing(|| Error::new(ErrorKind::Auth, "bad secret")), s)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(e.context_value("route"), Some("smtp-backup"));
        assert_eq!(e.context_value("primary error"), Some("bad secret"));
    }

    #[tokio::test]
    async fn reading_and_verifying_use_the_primary() {
        let mut p = MockMailProvider::new();
        p.expect_list_messages().times(1).returning(|_| Ok(MessagePage::new(vec![], None)));
        p.expect_verify().times(1).returning(|_| Ok(VerifyReport::new("office365")));
        let mut s = MockMailProvider::new();
        s.expect_list_messages().never();
        s.expect_verify().never();
        let f = FallbackProvider::new(Arc::new(p), "o365", Arc::new(s), "smtp");
        f.list_messages(&MailboxQuery::default()).await.unwrap();
        f.verify(&VerifyOptions::default()).await.unwrap();
    }
}
