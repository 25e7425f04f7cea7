//! The contract of g360-mail, the mail layer of G360 ERP.
//!
//! Every mail route implements [`MailProvider`]; the ERP bridge finds the
//! route of a user's [`MailAccount`] through a [`ProviderRegistry`] of
//! [`ProviderFactory`]s, one per provider type:
//!
//! | provider type | crate | sends | reads | for |
//! | --- | --- | --- | --- | --- |
//! | `file` | `g360-mail-file` | `.eml` files in a directory | yes | development, no account needed |
//! | `office365` | `g360-mail-o365` | Microsoft Graph `sendMail` | yes (Mail.Read) | production on Office 365 |
//! | `smtp` | `g360-mail-smtp` | SMTP submission | no | relays, fallback route |
//!
//! Every failure is an [`Error`] with an [`ErrorKind`], a temporariness verdict
//! and, where a person can act, a remedy. Secrets are [`Secret`]s, which never
//! print. This crate knows nothing of HTTP, Graph, SMTP or configuration files.

mod account;
mod address;
mod backoff;
mod capability;
mod error;
mod factory;
pub mod layers;
mod mailbox;
mod message;
mod provider;
mod report;
mod secret;
mod token;
mod verify;

pub use account::{CertificatePem, Integration, MailAccount};
pub use address::{
    EmailAddress, MAX_ADDRESS_LEN, MAX_DISPLAY_NAME_LEN, MAX_LOCAL_PART_LEN, parse_address_list,
};
pub use backoff::{Backoff, MAX_SERVER_DELAY, jitter};
pub use capability::Capabilities;
pub use error::{Error, ErrorKind, ErrorStatus, Result};
pub use factory::{ConfigProblem, MailboxAccess, ProviderFactory, ProviderInfo, ProviderRegistry};
pub use mailbox::{
    Folder, MAX_PAGE_SIZE, MailboxQuery, MessagePage, ReceivedAttachment, ReceivedMessage,
};
pub use message::{
    Attachment, Header, Importance, MAX_CUSTOM_HEADERS, MAX_HEADER_VALUE_BYTES, MAX_MESSAGE_BYTES,
    MAX_RECIPIENTS, MAX_SUBJECT_CHARS, MessageBuilder, MessageUid, OutgoingMessage, SendReceipt,
    content_type_for,
};
pub use provider::MailProvider;
#[cfg(any(test, feature = "mock"))]
pub use provider::MockMailProvider;
pub use report::{ReportCursor, ReportPage, ReportQuery, ReportRef};
pub use secret::{REDACTED, Secret, redact_url};
pub use token::{AccessTokenSource, TokenPurpose};
pub use verify::{Check, CheckStatus, VerifyOptions, VerifyReport};

/// Re-exported so provider crates and tests use the same time type.
pub use jiff::Timestamp;
