//! [`MailProvider`]: the one trait every mail route implements.

use std::fmt;

use async_trait::async_trait;

use crate::capability::Capabilities;
use crate::error::Result;
use crate::mailbox::{MailboxQuery, MessagePage, ReceivedMessage};
use crate::message::{MessageUid, OutgoingMessage, SendReceipt};
use crate::report::{ReportPage, ReportQuery};
use crate::verify::{VerifyOptions, VerifyReport};

/// A mail route for one account: Office 365, SMTP, a directory of `.eml` files.
///
/// Held as `Arc<dyn MailProvider>`; one provider serves one mailbox (the
/// account's address) and may be called concurrently.
///
/// # What every implementation guarantees
/// - Errors are [`Error`](crate::Error)s with the right [`ErrorKind`](crate::ErrorKind):
///   `is_temporary()` is true only when the same call may succeed later, and a
///   send whose outcome is unknown is reported as
///   [`OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown), never as temporary.
/// - `send` never delivers a message twice on its own: it resends only when the
///   earlier attempt provably was not accepted.
/// - What the provider cannot do returns [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported),
///   never a panic or an empty result.
/// - No secret appears in an error, a log line or `Debug` output.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait MailProvider: Send + Sync + fmt::Debug + 'static {
    /// The provider type (`"office365"`, `"smtp"`, `"file"`, ...).
    fn provider_type(&self) -> &'static str;

    /// What this provider can do.
    fn capabilities(&self) -> Capabilities;

    /// Sends `message` as the account's mailbox.
    async fn send(&self, message: &OutgoingMessage) -> Result<SendReceipt>;

    /// Lists messages of a folder, newest first.
    async fn list_messages(&self, query: &MailboxQuery) -> Result<MessagePage>;

    /// Gets one message with its bodies and attachments.
    async fn get_message(&self, id: &str) -> Result<ReceivedMessage>;

    /// Runs the provider's named checks, in setup order.
    async fn verify(&self, options: &VerifyOptions) -> Result<VerifyReport>;

    /// Looks a message up in the sent mail by our uid, after an ambiguous
    /// outcome: `Some` when it went out. Providers that cannot look return
    /// `Unsupported`.
    async fn find_sent(&self, uid: MessageUid) -> Result<Option<SendReceipt>> {
        let _ = uid;
        Err(crate::Error::unsupported(self.provider_type(), "look up sent mail"))
    }

    /// The message as raw MIME (RFC 5322) bytes.
    async fn raw_message(&self, id: &str) -> Result<Vec<u8>> {
        let _ = id;
        Err(crate::Error::unsupported(self.provider_type(), "return raw MIME"))
    }

    /// Lists the delivery reports (bounces, non-delivery and delay reports)
    /// the mailbox received after `query.after`, oldest first, without their
    /// bytes ([`raw_message`](Self::raw_message) gives them). Providers that
    /// cannot ([`Capabilities::delivery_reports`] false) return `Unsupported`.
    async fn list_delivery_reports(&self, query: &ReportQuery) -> Result<ReportPage> {
        let _ = query;
        Err(crate::Error::unsupported(self.provider_type(), "list delivery reports"))
    }
}
