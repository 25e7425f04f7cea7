//! [`OutboxSender`]: how the worker reaches the mail routes.

use async_trait::async_trait;
use g360_mail_core::{MessageUid, OutgoingMessage, Result, SendReceipt};

/// Sends mail for the [`Worker`](crate::Worker). The ERP bridge implements it
/// over its accounts, so the outbox knows nothing of accounts or providers.
#[async_trait]
pub trait OutboxSender: Send + Sync {
    /// Sends `message` as `user` (the bridge's `send_as`, with the account's
    /// fallback route).
    async fn send(&self, user: &str, message: &OutgoingMessage) -> Result<SendReceipt>;

    /// Looks `uid` up in `user`'s sent mail: `Some` when an earlier attempt
    /// delivered it. `Err` of kind `Unsupported` where the route cannot look
    /// (SMTP).
    async fn find_sent(&self, user: &str, uid: MessageUid) -> Result<Option<SendReceipt>>;

    /// The address of the mailbox `user` sends from, the key of per-mailbox
    /// pacing.
    fn mailbox(&self, user: &str) -> Result<String>;

    /// Whether [`find_sent`](Self::find_sent) works for `user`'s route; decides
    /// the [`Guarantee`](crate::Guarantee) recorded with each mail.
    fn can_look_up(&self, user: &str) -> bool;
}
