//! What the outbox stores and reports: [`OutboxId`], [`MailState`],
//! [`OutboxMail`], [`Attempt`] and friends.

use std::fmt;
use std::str::FromStr;

use g360_mail_core::{Error, MessageUid, Result, Timestamp};
use serde::Serialize;

/// The outbox's id of a queued mail (a database row id; shown by
/// `g360-mail outbox list` and taken by `outbox show ID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct OutboxId(i64);

impl OutboxId {
    /// The id with this number.
    pub fn new(id: i64) -> Self {
        OutboxId(id)
    }

    /// The number.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for OutboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for OutboxId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        s.trim().parse::<i64>().map(OutboxId).map_err(|_| {
            Error::invalid_input("invalid outbox id").with_context("id", s.escape_debug())
        })
    }
}

/// Where a mail is in its life.
///
/// ```text
/// queued ──claim──▶ sending ──accepted / found by lookup──▶ sent
///   ▲                 │  │
///   └─temporary error─┘  └──permanent error / attempts exhausted──▶ failed ──retry──▶ queued
/// ```
///
/// An attempt whose outcome is unknown is not a state: the mail goes back to
/// `queued` (or stays `sending` if the worker died) with
/// [`OutboxMail::needs_lookup`] set, and the next attempt looks it up first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MailState {
    /// Waiting for its next attempt ([`OutboxMail::next_attempt_at`]).
    Queued,
    /// Claimed by a worker, which holds a lease on it.
    Sending,
    /// Accepted by the provider (or found in the sent mail). Final.
    Sent,
    /// Given up; [`OutboxMail::last_error`] says why. Final until retried.
    Failed,
}

impl MailState {
    /// Every state, in life order.
    pub const ALL: [MailState; 4] =
        [MailState::Queued, MailState::Sending, MailState::Sent, MailState::Failed];

    /// The name stored in the database and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            MailState::Queued => "queued",
            MailState::Sending => "sending",
            MailState::Sent => "sent",
            MailState::Failed => "failed",
        }
    }
}

impl fmt::Display for MailState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MailState {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        MailState::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| {
            Error::invalid_input("unknown outbox state")
                .with_context("state", s.escape_debug())
                .with_remedy("use one of queued, sending, sent, failed")
        })
    }
}

/// What the outbox can promise for a mail, given its route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Guarantee {
    /// The route can look sent mail up by uid (Office 365): after an unknown
    /// outcome the worker checks before it resends, so the mail goes out once.
    #[serde(rename = "exactly-once")]
    ExactlyOnce,
    /// The route cannot look (SMTP): after an unknown outcome the mail is sent
    /// again, so it may arrive twice.
    #[serde(rename = "at-least-once")]
    AtLeastOnce,
}

impl Guarantee {
    /// `exactly-once` or `at-least-once`.
    pub fn as_str(self) -> &'static str {
        match self {
            Guarantee::ExactlyOnce => "exactly-once",
            Guarantee::AtLeastOnce => "at-least-once",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "exactly-once" => Some(Guarantee::ExactlyOnce),
            "at-least-once" => Some(Guarantee::AtLeastOnce),
            _ => None,
        }
    }
}

impl fmt::Display for Guarantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as the outbox keeps it: the parts of a core
/// [`Error`](g360_mail_core::Error) a person needs later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredError {
    /// The [`ErrorKind`](g360_mail_core::ErrorKind) name (`throttled`, `rejected`, ...).
    pub kind: String,
    /// The diagnostic code, when there was one.
    pub code: Option<String>,
    /// The message with its context.
    pub message: String,
    /// What a person can do about it.
    pub remedy: Option<String>,
}

impl StoredError {
    /// The stored form of `err`.
    pub fn from_error(err: &Error) -> Self {
        StoredError {
            kind: err.kind().as_str().to_owned(),
            code: err.code().map(str::to_owned),
            message: err.to_string(),
            remedy: err.remedy().map(str::to_owned),
        }
    }

    pub(crate) fn new(kind: &str, message: impl Into<String>) -> Self {
        StoredError { kind: kind.to_owned(), code: None, message: message.into(), remedy: None }
    }
}

impl fmt::Display for StoredError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// One mail in the outbox, without its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OutboxMail {
    /// The outbox id.
    pub id: OutboxId,
    /// Our id of the message; providers tag the send with it.
    pub uid: MessageUid,
    /// The ERP user it is sent as.
    pub user: String,
    /// The sending mailbox: the message's `From` when queued, then the
    /// address the worker resolved for the user.
    pub mailbox: Option<String>,
    /// The subject, for listings.
    pub subject: String,
    /// The recipients, comma separated, for listings.
    pub recipients: String,
    /// The state.
    pub state: MailState,
    /// An earlier attempt may have delivered the mail: the next attempt looks
    /// it up in the sent mail before it sends.
    pub needs_lookup: bool,
    /// Attempts made so far (sends, and lookups that could not answer).
    pub attempts: u32,
    /// When the next attempt is due (meaningful while queued).
    pub next_attempt_at: Timestamp,
    /// When it was queued.
    pub created_at: Timestamp,
    /// When its row last changed.
    pub updated_at: Timestamp,
    /// When it was accepted, once sent.
    pub sent_at: Option<Timestamp>,
    /// The worker holding it, while sending.
    pub locked_by: Option<String>,
    /// When that worker's lease expires, while sending.
    pub locked_until: Option<Timestamp>,
    /// The guarantee of its route, once a worker has seen it.
    pub guarantee: Option<Guarantee>,
    /// The route (integration) that delivered it.
    pub route: Option<String>,
    /// The provider type that delivered it.
    pub provider: Option<String>,
    /// The Internet Message-ID it went out with.
    pub internet_message_id: Option<String>,
    /// The provider's request id (Graph `request-id`).
    pub request_id: Option<String>,
    /// The server's last reply (SMTP).
    pub server_reply: Option<String>,
    /// True when a lookup found it sent after an unknown outcome.
    pub recovered: bool,
    /// Why the last attempt failed.
    pub last_error: Option<StoredError>,
}

/// What an attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AttemptAction {
    /// Handed the mail to the provider.
    Send,
    /// Looked the mail up in the sent mail after an unknown outcome.
    Lookup,
}

impl AttemptAction {
    /// `send` or `lookup`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptAction::Send => "send",
            AttemptAction::Lookup => "lookup",
        }
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttemptResult {
    /// Still running (or its worker died; see `Interrupted`).
    Started,
    /// The provider accepted the mail.
    Sent,
    /// The lookup found the mail in the sent mail.
    Found,
    /// The lookup did not find the mail.
    NotFound,
    /// The attempt failed; the error says how.
    Error,
    /// The worker stopped (crashed or lost its lease) before it recorded an end:
    /// the outcome is unknown.
    Interrupted,
}

impl AttemptResult {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptResult::Started => "started",
            AttemptResult::Sent => "sent",
            AttemptResult::Found => "found",
            AttemptResult::NotFound => "not-found",
            AttemptResult::Error => "error",
            AttemptResult::Interrupted => "interrupted",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "sent" => AttemptResult::Sent,
            "found" => AttemptResult::Found,
            "not-found" => AttemptResult::NotFound,
            "error" => AttemptResult::Error,
            "interrupted" => AttemptResult::Interrupted,
            _ => AttemptResult::Started,
        }
    }
}

/// One attempt at a mail: a send or a lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Attempt {
    /// What it did.
    pub action: AttemptAction,
    /// The worker that made it.
    pub worker: String,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ended.
    pub finished_at: Option<Timestamp>,
    /// How it ended.
    pub result: AttemptResult,
    /// The route that answered, when known.
    pub route: Option<String>,
    /// The error, when it failed.
    pub error: Option<StoredError>,
    /// The provider's request id.
    pub request_id: Option<String>,
    /// The server's reply (SMTP).
    pub server_reply: Option<String>,
}

/// A mail with its history, as `g360-mail outbox show ID` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MailDetails {
    /// The mail.
    pub mail: OutboxMail,
    /// Its attempts, oldest first.
    pub attempts: Vec<Attempt>,
}

/// How many mails are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StatusCounts {
    /// Waiting for an attempt.
    pub queued: u64,
    /// Claimed by a worker.
    pub sending: u64,
    /// Sent.
    pub sent: u64,
    /// Given up.
    pub failed: u64,
    /// Queued or sending mails whose previous attempt had an unknown outcome.
    pub needs_lookup: u64,
}

impl StatusCounts {
    /// Mails still to be sent (queued plus sending).
    pub fn pending(&self) -> u64 {
        self.queued + self.sending
    }
}

pub(crate) fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// One sending mailbox as `g360-mail outbox status` shows it: its queue, its
/// limits right now, and counters since the outbox was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MailboxStatus {
    /// The sending mailbox (lowercase); empty for mails whose mailbox is not
    /// known yet.
    pub mailbox: String,
    /// Mails waiting for an attempt.
    pub queued: u64,
    /// Mails claimed by a worker.
    pub sending: u64,
    /// Requests in flight (sends and lookups holding a slot).
    pub in_flight: u64,
    /// When the mailbox may start its next send, over every worker: now,
    /// or later when its rate window is full or the provider throttled it.
    pub next_send_at: Timestamp,
    /// Sends started in the current rate window.
    pub window_starts: u64,
    /// Mails sent in the last minute.
    pub sent_last_minute: u64,
    /// Mails sent in the last day (purged mails no longer count).
    pub sent_last_day: u64,
    /// Age of the oldest queued mail, in seconds.
    pub oldest_queued_age_secs: Option<u64>,
    /// Mails sent, since the outbox was created.
    pub sent_total: u64,
    /// Mails failed.
    pub failed_total: u64,
    /// Tries that ended in a retry.
    pub retried_total: u64,
    /// Sends whose outcome was unknown.
    pub unknown_total: u64,
    /// Times the provider throttled the mailbox.
    pub throttled_total: u64,
}
