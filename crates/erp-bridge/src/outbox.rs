//! The durable outbox, wired to ERP accounts: [`MailBridge`] queues mail as a
//! user and is the [`OutboxSender`] the outbox worker sends through. With
//! [`MailBridge::share_limits_with`], direct sends count against the same
//! per-mailbox limits as the outbox's workers.

use async_trait::async_trait;
use g360_mail_core::{ErrorKind, MessageUid, OutgoingMessage, Result, SendReceipt};
use g360_mail_outbox::{DirectSlot, Outbox, OutboxId, OutboxSender};

use crate::bridge::MailBridge;

/// The least time a direct send waits for a slot of the outbox's limits.
const DIRECT_MIN_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

impl MailBridge {
    /// Queues `message` to be sent as `user` by the outbox worker. The mail is
    /// durable when this returns; the same checks as [`MailBridge::send_as`]
    /// run first (unknown user, the provider's capabilities), so a mail that
    /// could never be sent is refused now, not later.
    pub async fn enqueue_as(
        &self,
        outbox: &Outbox,
        user: &str,
        message: OutgoingMessage,
    ) -> Result<OutboxId> {
        let message = self.prepare(user, message)?;
        outbox.enqueue(user, &message).await.map_err(|e| e.with_context("user", user))
    }

    /// Makes [`send_as`](MailBridge::send_as) take a slot of `outbox`'s
    /// per-mailbox limits (rate and in flight, shared through its database
    /// with every worker of every node) before each send, so direct sends and
    /// queued ones together stay within the mailbox's limits. A send waits up
    /// to five rate windows (at least a minute) for a slot, then fails
    /// `Throttled` (nothing sent).
    /// If the outbox database cannot be reached, the send goes out without a
    /// slot and a warning is logged: a database outage does not stop direct
    /// mail. Returns false when limits were already shared with an outbox.
    pub fn share_limits_with(&self, outbox: &Outbox) -> bool {
        self.limits.set(outbox.clone()).is_ok()
    }

    pub(crate) async fn direct_slot(&self, user: &str) -> Result<Option<DirectSlot>> {
        let Some(outbox) = self.limits.get() else { return Ok(None) };
        let mailbox = self.account(user)?.address.addr().to_ascii_lowercase();
        let wait = outbox.options().rate_window.saturating_mul(5).max(DIRECT_MIN_WAIT);
        match outbox.direct_slot(&mailbox, wait).await {
            Ok(slot) => Ok(Some(slot)),
            Err(e) if e.kind() == ErrorKind::Throttled => Err(e.with_context("user", user)),
            Err(e) => {
                tracing::warn!(user, error = %e, "cannot take a slot of the outbox's limits; sending without");
                Ok(None)
            }
        }
    }

    pub(crate) async fn end_direct_slot(
        &self,
        slot: Option<DirectSlot>,
        result: &Result<SendReceipt>,
    ) {
        let Some(slot) = slot else { return };
        let throttled = match result {
            Err(e) if e.kind() == ErrorKind::Throttled => {
                Some(e.retry_after().unwrap_or(std::time::Duration::from_secs(10)))
            }
            _ => None,
        };
        if let Err(e) = slot.release(throttled).await {
            tracing::warn!(error = %e, "cannot release a slot of the outbox's limits");
        }
    }
}

#[async_trait]
impl OutboxSender for MailBridge {
    async fn send(&self, user: &str, message: &OutgoingMessage) -> Result<SendReceipt> {
        // The worker already holds the mail's slot.
        self.send_now(user, message.clone()).await
    }

    async fn find_sent(&self, user: &str, uid: MessageUid) -> Result<Option<SendReceipt>> {
        self.provider(user)?.find_sent(uid).await
    }

    fn mailbox(&self, user: &str) -> Result<String> {
        Ok(self.account(user)?.address.addr().to_owned())
    }

    fn can_look_up(&self, user: &str) -> bool {
        self.provider(user).is_ok_and(|p| p.capabilities().find_sent)
    }
}
