//! [`DeliveryEvent`]: what happens to each mail, as it happens.

use std::sync::Arc;

use g360_mail_core::{MessageUid, SendReceipt, Timestamp};

use crate::model::{OutboxId, StoredError};

/// Something that happened to a mail, reported to the handlers registered
/// with [`Outbox::on_event`](crate::Outbox::on_event) once the database has
/// recorded it. An ERP uses them to mark an invoice "enviada" or show why
/// not; every event names the mail by its uid and, but for delivery reports
/// about direct sends, by its outbox id.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryEvent {
    /// The mail was committed to the outbox by [`Outbox::enqueue`](crate::Outbox::enqueue)
    /// in this process (not by `enqueue_in_tx`, whose commit is the caller's).
    Queued {
        /// The outbox id.
        id: OutboxId,
        /// The message's uid.
        uid: MessageUid,
        /// The user it is sent as.
        user: String,
    },
    /// A send of the mail begins (its attempt is recorded).
    Sending {
        /// The outbox id.
        id: OutboxId,
        /// The message's uid.
        uid: MessageUid,
        /// Which attempt this is, from 1.
        attempt: u32,
    },
    /// The provider accepted the mail, or a lookup found it already sent.
    Sent {
        /// The outbox id.
        id: OutboxId,
        /// The message's uid.
        uid: MessageUid,
        /// The provider's receipt: Internet Message-ID, request ids, route.
        receipt: Box<SendReceipt>,
        /// Whether a lookup found it sent by an earlier attempt.
        recovered: bool,
    },
    /// The try failed temporarily; the mail is queued again.
    Retried {
        /// The outbox id.
        id: OutboxId,
        /// The message's uid.
        uid: MessageUid,
        /// Why.
        error: StoredError,
        /// When the next attempt is due.
        next_attempt_at: Timestamp,
    },
    /// The mail failed for good (until `outbox retry`).
    Failed {
        /// The outbox id.
        id: OutboxId,
        /// The message's uid.
        uid: MessageUid,
        /// Why.
        error: StoredError,
    },
    /// The send's outcome is unknown: the mail may have gone out. It is
    /// queued again and looked up before any resend.
    OutcomeUnknown {
        /// The outbox id.
        id: OutboxId,
        /// The message's uid.
        uid: MessageUid,
        /// The ambiguous error.
        error: StoredError,
        /// When the lookup (and maybe a resend) is due.
        next_attempt_at: Timestamp,
    },
    /// A delivery report says the mail will not reach one recipient
    /// (recorded by [`Outbox::record_report`](crate::Outbox::record_report)),
    /// for queued mail and for direct sends alike (tied by the uid in the
    /// Message-ID).
    Bounced {
        /// The outbox id; `None` for a mail sent directly, not queued.
        id: Option<OutboxId>,
        /// The message's uid.
        uid: MessageUid,
        /// The recipient, lowercase.
        address: String,
        /// The enhanced status code (`5.1.1`).
        status: Option<String>,
        /// The remote server's answer.
        diagnostic: Option<String>,
    },
    /// A delivery report says delivery to one recipient is delayed (queued
    /// mail and direct sends, as [`DeliveryEvent::Bounced`]).
    Delayed {
        /// The outbox id; `None` for a mail sent directly, not queued.
        id: Option<OutboxId>,
        /// The message's uid.
        uid: MessageUid,
        /// The recipient, lowercase.
        address: String,
        /// The enhanced status code (`4.4.7`).
        status: Option<String>,
        /// The remote server's answer.
        diagnostic: Option<String>,
    },
}

impl DeliveryEvent {
    /// The outbox id of the mail; `None` only for a delivery report about a
    /// mail sent directly ([`Bounced`](DeliveryEvent::Bounced),
    /// [`Delayed`](DeliveryEvent::Delayed)).
    pub fn id(&self) -> Option<OutboxId> {
        match self {
            DeliveryEvent::Queued { id, .. }
            | DeliveryEvent::Sending { id, .. }
            | DeliveryEvent::Sent { id, .. }
            | DeliveryEvent::Retried { id, .. }
            | DeliveryEvent::Failed { id, .. }
            | DeliveryEvent::OutcomeUnknown { id, .. } => Some(*id),
            DeliveryEvent::Bounced { id, .. } | DeliveryEvent::Delayed { id, .. } => *id,
        }
    }

    /// The uid of the mail (every event has one).
    pub fn uid(&self) -> MessageUid {
        match self {
            DeliveryEvent::Queued { uid, .. }
            | DeliveryEvent::Sending { uid, .. }
            | DeliveryEvent::Sent { uid, .. }
            | DeliveryEvent::Retried { uid, .. }
            | DeliveryEvent::Failed { uid, .. }
            | DeliveryEvent::OutcomeUnknown { uid, .. }
            | DeliveryEvent::Bounced { uid, .. }
            | DeliveryEvent::Delayed { uid, .. } => *uid,
        }
    }

    /// The event's name: `queued`, `sending`, `sent`, `retried`, `failed`,
    /// `outcome-unknown`, `bounced`, `delayed`.
    pub fn name(&self) -> &'static str {
        match self {
            DeliveryEvent::Queued { .. } => "queued",
            DeliveryEvent::Sending { .. } => "sending",
            DeliveryEvent::Sent { .. } => "sent",
            DeliveryEvent::Retried { .. } => "retried",
            DeliveryEvent::Failed { .. } => "failed",
            DeliveryEvent::OutcomeUnknown { .. } => "outcome-unknown",
            DeliveryEvent::Bounced { .. } => "bounced",
            DeliveryEvent::Delayed { .. } => "delayed",
        }
    }
}

/// A registered event handler. Handlers run on the worker's tasks: they must
/// return quickly (hand the event to a channel for slow work).
pub(crate) type EventHandler = Arc<dyn Fn(&DeliveryEvent) + Send + Sync>;
