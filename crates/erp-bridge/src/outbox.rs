//! The durable outbox, wired to ERP accounts: [`MailBridge`] queues mail as a
//! user and is the [`OutboxSender`] the outbox worker sends through.

use async_trait::async_trait;
use g360_mail_core::{MessageUid, OutgoingMessage, Result, SendReceipt};
use g360_mail_outbox::{Outbox, OutboxId, OutboxSender};

use crate::bridge::MailBridge;

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
}

#[async_trait]
impl OutboxSender for MailBridge {
    async fn send(&self, user: &str, message: &OutgoingMessage) -> Result<SendReceipt> {
        self.send_as(user, message.clone()).await
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
