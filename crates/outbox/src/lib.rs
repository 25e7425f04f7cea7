#![doc = include_str!("../README.md")]

mod direct;
mod document;
mod error;
mod events;
mod finisher;
mod metrics;
mod model;
mod options;
mod outbox;
mod pacing;
mod reports;
mod sender;
mod store;
mod worker;

pub use direct::DirectSlot;
pub use events::DeliveryEvent;
pub use g360_mail_core::{Error, ErrorKind, Result};
pub use model::{
    Attempt, AttemptAction, AttemptResult, Guarantee, MailDetails, MailState, MailboxStatus,
    OutboxId, OutboxMail, StatusCounts, StoredError,
};
pub use options::{OutboxOptions, WorkerOptions};
pub use outbox::{Backend, Outbox};
pub use reports::{
    DeliveryState, RecipientRecord, RecipientStatus, RecordOutcome, ReportContent, ReportEntry,
    ReportRecord,
};
pub use sender::OutboxSender;
pub use worker::{RunSummary, Worker, WorkerHandle};

/// The provider name on errors raised by the outbox itself.
pub(crate) const PROVIDER: &str = "outbox";

/// The table that records which outbox migrations ran, apart from the ERP's own.
pub(crate) const MIGRATIONS_TABLE: &str = "_g360_outbox_migrations";
