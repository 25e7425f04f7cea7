//! [`OutboxStore`]: the outbox's few database operations, implemented for
//! SQLite ([`SqliteStore`]) and PostgreSQL ([`PgStore`]).
//!
//! Both run the same SQL (SQLite accepts `$1` placeholders) except for the
//! selection of due mails, which on PostgreSQL skips rows other workers hold
//! (`FOR UPDATE SKIP LOCKED`). Every state change is one statement or one
//! transaction, and every change a worker makes to a claimed mail checks that
//! it still holds the lease, so a worker that dies or stalls leaves nothing
//! half done. A worker claims a batch of mails with their send slots in one
//! transaction ([`OutboxStore::claim_batch`]) and records a batch of results
//! in one ([`OutboxStore::finish_batch`]). Times are milliseconds since the Unix epoch, taken from the
//! calling process's clock: nodes sharing a database must keep their clocks in
//! step (NTP) to well within the lease.
//!
//! # Lock order
//!
//! On PostgreSQL every transaction that locks several rows takes them in one
//! order, so no two ever wait for each other:
//!
//! 1. mail rows (`outbox_mail`), by id. The claim takes its mails with
//!    `SKIP LOCKED` and so never waits for one; [`acquire`](OutboxStore::acquire)
//!    locks the mail's row in the statement that then locks its mailbox's;
//!    [`finish_batch`](OutboxStore::finish_batch) locks its mails `ORDER BY
//!    id` before it writes them;
//! 2. mailbox rows (`outbox_mailbox`), by mailbox (`ORDER BY` in the SQL);
//! 3. what hangs off them: a mail's attempts, written only by a transaction
//!    that holds the mail's row, and a mailbox's direct slots.
//!
//! The statements that change one row alone (`renew`, `release`,
//! `end_slot`, `pause`, `renew_direct`, `release_direct`) hold nothing while
//! they wait. Before this order, a worker reclaiming a mail whose lease ran
//! out held the mail's row and waited for its mailbox's, while the stalled
//! owner taking the mail's send slot held the mailbox's and waited for the
//! mail's. A transaction the server aborts for a lock conflict all the same
//! (someone outside the store holding outbox rows) runs again
//! ([`retry_conflicts`]). SQLite has one writer at a time (`BEGIN
//! IMMEDIATE`) and runs the same statements in the same order.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use g360_mail_core::{Error, ErrorKind, MessageUid, Result};

use crate::model::{
    Attempt, AttemptAction, AttemptResult, Guarantee, MailState, OutboxId, OutboxMail,
    StatusCounts, StoredError, ts,
};
use crate::pacing::{Busy, RateWindow};

mod postgres;
pub(crate) mod reports;
mod sqlite;

pub(crate) use postgres::{PgStore, enqueue_pg};
pub(crate) use sqlite::SqliteStore;

/// A mail to insert.
#[derive(Debug)]
pub(crate) struct NewMail {
    pub(crate) uid: String,
    pub(crate) user: String,
    pub(crate) mailbox: Option<String>,
    pub(crate) subject: String,
    pub(crate) recipients: String,
    pub(crate) format: i32,
    pub(crate) document: String,
    pub(crate) now: i64,
}

/// A mail a worker claimed, with its content.
#[derive(Debug)]
pub(crate) struct ClaimedMail {
    pub(crate) id: OutboxId,
    pub(crate) uid: MessageUid,
    pub(crate) user: String,
    /// The sending mailbox recorded at enqueue or at the last attempt.
    pub(crate) mailbox: Option<String>,
    pub(crate) needs_lookup: bool,
    pub(crate) attempts: u32,
    pub(crate) format: i32,
    pub(crate) document: String,
    /// The send slot taken in the claiming transaction, if any: the mail
    /// is then `in_flight`, its attempt counted and recorded, and its outcome
    /// unknown until the result is recorded.
    pub(crate) granted: Option<Granted>,
}

/// A send slot taken for a mail in the transaction that claimed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Granted {
    /// The sending mailbox whose slot it is.
    pub(crate) mailbox: String,
    pub(crate) guarantee: Guarantee,
    /// The send attempt's row.
    pub(crate) attempt: i64,
}

/// What the worker knows of a due mail before it sends: the mailbox whose
/// limits it counts against and the guarantee of its route.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) mailbox: String,
    pub(crate) guarantee: Guarantee,
}

/// Decides for each due mail whether it may take its send slot in the claim
/// ([`Plan`]) or is claimed without one (it needs a lookup first, or its
/// route is unknown): then the try takes its slots itself.
pub(crate) type Planner<'a> = &'a (dyn Fn(&ClaimedMail) -> Option<Plan> + Send + Sync);

/// A claim of up to `limit` due mails with their send slots.
pub(crate) struct BatchClaim<'a> {
    pub(crate) worker: &'a str,
    pub(crate) limit: u32,
    pub(crate) lease: std::time::Duration,
    /// Mailboxes whose mails this process should not claim now.
    pub(crate) exclude: &'a [String],
    pub(crate) rate: RateWindow,
    pub(crate) max_in_flight: u32,
    pub(crate) plan: Planner<'a>,
}

impl fmt::Debug for BatchClaim<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchClaim")
            .field("worker", &self.worker)
            .field("limit", &self.limit)
            .field("exclude", &self.exclude)
            .finish_non_exhaustive()
    }
}

/// The answer to a [`BatchClaim`].
#[derive(Debug, Default)]
pub(crate) struct Claimed {
    /// The mails now held by the worker, with or without a slot.
    pub(crate) mails: Vec<ClaimedMail>,
    /// Mailboxes that had due mails but no room for them; their mails stay
    /// queued.
    pub(crate) busy: Vec<(String, Busy)>,
}

/// Which due mails of one mailbox a batch claim may start.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Admission {
    /// How many of the mailbox's due mails (in order) start now.
    pub(crate) admitted: usize,
    /// The mailbox's window after those starts, when any started.
    pub(crate) starts: Option<String>,
    /// Why the rest wait, if any is left.
    pub(crate) busy: Option<Busy>,
}

/// Admits up to `wanted` sends of a mailbox whose row says `starts` and
/// `paused_until`, with `in_flight` requests running, at `now`: the same
/// rules as [`OutboxStore::acquire`], for many mails at once.
pub(crate) fn admit_many(
    wanted: usize,
    starts: &str,
    paused_until: i64,
    in_flight: i64,
    now: i64,
    rate: RateWindow,
    max_in_flight: u32,
) -> Admission {
    if paused_until > now {
        return Admission { admitted: 0, starts: None, busy: Some(Busy::Until(paused_until)) };
    }
    let room = usize::try_from(i64::from(max_in_flight) - in_flight).unwrap_or(0);
    let mut current = starts.to_owned();
    let mut admitted = 0;
    let mut busy = None;
    while admitted < wanted {
        if admitted >= room {
            busy = Some(Busy::InFlight);
            break;
        }
        match rate.admit(&current, now) {
            Ok(next) => {
                current = next;
                admitted += 1;
            }
            Err(until) => {
                busy = Some(Busy::Until(until));
                break;
            }
        }
    }
    Admission { admitted, starts: (admitted > 0).then_some(current), busy }
}
#[derive(Debug, Default)]
pub(crate) struct AttemptEnd {
    pub(crate) result: Option<AttemptResult>,
    pub(crate) route: Option<String>,
    pub(crate) error: Option<StoredError>,
    pub(crate) request_id: Option<String>,
    pub(crate) server_reply: Option<String>,
}

/// The end of a worker's try at a mail: the mail's new row values.
#[derive(Debug)]
pub(crate) struct Finish {
    pub(crate) state: MailState,
    pub(crate) needs_lookup: bool,
    /// 1 when this try counts as an attempt but made no send (a lookup that
    /// could not answer); sends were counted when they began.
    pub(crate) extra_attempts: i32,
    pub(crate) next_attempt_at: i64,
    pub(crate) sent_at: Option<i64>,
    pub(crate) guarantee: Option<Guarantee>,
    pub(crate) route: Option<String>,
    pub(crate) provider: Option<String>,
    pub(crate) internet_message_id: Option<String>,
    pub(crate) request_id: Option<String>,
    pub(crate) server_reply: Option<String>,
    pub(crate) recovered: bool,
    pub(crate) error: Option<StoredError>,
    /// The send attempt this try began, and how it ended.
    pub(crate) attempt: Option<(i64, AttemptEnd)>,
    /// The sending mailbox and what to add to its counters.
    pub(crate) tally: Option<(String, Tally)>,
}

/// Additions to a mailbox's counters (`outbox status --metrics`).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    pub(crate) sent: i64,
    pub(crate) failed: i64,
    pub(crate) retried: i64,
    pub(crate) unknown: i64,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.sent += other.sent;
        self.failed += other.failed;
        self.retried += other.retried;
        self.unknown += other.unknown;
    }
}

/// The counters of every mailbox a batch of results touches, one addition
/// per mailbox, in mailbox order (the order every transaction locks
/// mailbox rows in).
pub(crate) fn tallies<'a>(finishes: impl Iterator<Item = &'a Finish>) -> BTreeMap<&'a str, Tally> {
    let mut sum: BTreeMap<&str, Tally> = BTreeMap::new();
    for (mailbox, t) in finishes.filter_map(|f| f.tally.as_ref()) {
        sum.entry(mailbox.as_str()).or_default().add(t);
    }
    sum
}

/// How many times a transaction runs in all when PostgreSQL aborts it for a
/// deadlock or a serialization failure.
const CONFLICT_TRIES: u32 = 3;

/// Runs the transaction `run` makes, again (up to [`CONFLICT_TRIES`] times in
/// all) when the database aborted it for a lock conflict: it was rolled back
/// whole, so running it again is safe. Counts each rerun in `conflicts`.
/// The lock order above keeps these from happening; the rerun is for a
/// conflict this store did not cause (an administrator's statement holding
/// outbox rows, say).
pub(crate) async fn retry_conflicts<T, F, Fut>(
    conflicts: &AtomicU64,
    operation: &str,
    mut run: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut tries = 1;
    loop {
        match run().await {
            Err(e) if tries < CONFLICT_TRIES && crate::error::is_conflict(&e) => {
                conflicts.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, operation, "the database aborted a transaction for a lock conflict; running it again");
                tries += 1;
            }
            other => return other,
        }
    }
}

/// What a slot is taken for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SlotFor {
    /// A lookup: one of the mailbox's in-flight requests, not a send.
    Lookup,
    /// A send: an in-flight request and one start in the rate window; the
    /// attempt is recorded and the outcome marked unknown until it ends.
    Send(Guarantee),
}

/// A request for one of a mailbox's slots.
#[derive(Debug)]
pub(crate) struct SlotRequest<'a> {
    pub(crate) id: OutboxId,
    pub(crate) worker: &'a str,
    pub(crate) mailbox: &'a str,
    /// How long the lease lasts from the moment the slot is taken.
    pub(crate) lease: std::time::Duration,
    pub(crate) slot: SlotFor,
    /// Whether the mail was never attempted (no attempt row can be open).
    pub(crate) first_attempt: bool,
    pub(crate) rate: RateWindow,
    pub(crate) max_in_flight: u32,
}

/// The answer to a [`SlotRequest`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Acquired {
    /// The mail holds a slot; for a send, the id of its attempt row.
    Granted(Option<i64>),
    /// The mailbox cannot start it now.
    Busy(Busy),
    /// The worker no longer holds the mail.
    Lost,
}

/// A mailbox row, for `outbox status`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MailboxRow {
    pub(crate) mailbox: String,
    pub(crate) starts: String,
    pub(crate) blocked_until: i64,
    pub(crate) paused_until: i64,
    pub(crate) sent_count: i64,
    pub(crate) failed_count: i64,
    pub(crate) retried_count: i64,
    pub(crate) unknown_count: i64,
    pub(crate) throttled_count: i64,
}

/// Per-mailbox counts of mails, for `outbox status`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MailboxCounts {
    pub(crate) mailbox: String,
    pub(crate) queued: i64,
    pub(crate) sending: i64,
    pub(crate) in_flight: i64,
    pub(crate) sent_minute: i64,
    pub(crate) sent_day: i64,
    pub(crate) oldest_queued: Option<i64>,
}

/// The database behind an [`Outbox`](crate::Outbox).
#[async_trait]
pub(crate) trait OutboxStore: reports::ReportStore + Send + Sync + fmt::Debug {
    /// Inserts a queued mail; an existing uid returns the existing id.
    async fn enqueue(&self, mail: &NewMail) -> Result<OutboxId>;
    /// Claims up to `limit` due mails (queued and due, or sending with an
    /// expired lease) for the worker, skipping `exclude`d mailboxes, in one
    /// transaction that also takes the send slots of the mails the planner
    /// plans: it locks their mailboxes' rows (in mailbox order), checks each
    /// mailbox's pause, in-flight slots and rate window as
    /// [`acquire`](Self::acquire) does, and for each mail admitted marks it
    /// `in_flight`, counts the attempt, marks the outcome unknown and records
    /// the attempt. Planned mails that do not fit stay queued (their
    /// mailboxes are returned as busy); unplanned ones are claimed without
    /// a slot.
    async fn claim_batch(&self, req: &BatchClaim<'_>) -> Result<Claimed>;
    /// Extends `worker`'s lease; false when it no longer holds the mail.
    async fn renew(&self, id: OutboxId, worker: &str, lease_until: i64) -> Result<bool>;
    /// Gives a claimed mail back, unattempted, due at `next_attempt_at`.
    async fn release(
        &self,
        id: OutboxId,
        worker: &str,
        next_attempt_at: i64,
        now: i64,
        mailbox: Option<&str>,
    ) -> Result<bool>;
    /// Takes one of the mailbox's slots for a claimed mail, in one
    /// transaction that holds the mail's row, then the mailbox's: answers
    /// [`Acquired::Lost`] at once when the worker no longer holds the mail;
    /// checks the throttling pause,
    /// the in-flight slots (mails of the mailbox with `in_flight` set and a
    /// live lease) and, for a send, the rate window; then marks the mail
    /// `in_flight`. For a send it also counts the attempt, marks the outcome
    /// unknown until it ends, closes attempts a dead worker left open and
    /// returns the new attempt's id.
    async fn acquire(&self, req: &SlotRequest<'_>) -> Result<Acquired>;
    /// Takes a slot (in flight and a start in the window) for a send made
    /// outside the outbox: `Ok(Ok(id))` of the slot's row, or why not now.
    async fn acquire_direct(
        &self,
        mailbox: &str,
        holder: &str,
        lease: std::time::Duration,
        rate: RateWindow,
        max_in_flight: u32,
    ) -> Result<std::result::Result<i64, Busy>>;
    /// Extends a direct slot's lease.
    async fn renew_direct(&self, id: i64, lease_until: i64) -> Result<()>;
    /// Ends a direct slot.
    async fn release_direct(&self, id: i64) -> Result<()>;
    /// Gives back the mailbox slot a claimed mail holds (after a lookup).
    async fn end_slot(&self, id: OutboxId, worker: &str) -> Result<()>;
    /// Holds every send from `mailbox` until `until` (the provider throttled
    /// it) and counts the throttle.
    async fn pause(&self, mailbox: &str, until: i64) -> Result<()>;
    /// The mailbox rows.
    async fn mailboxes(&self) -> Result<Vec<MailboxRow>>;
    /// Per-mailbox counts of queued, sending and recently sent mails.
    async fn mailbox_counts(&self, now: i64) -> Result<Vec<MailboxCounts>>;
    /// Records a finished lookup.
    async fn record_lookup(
        &self,
        id: OutboxId,
        worker: &str,
        started_at: i64,
        finished_at: i64,
        end: &AttemptEnd,
    ) -> Result<()>;
    /// Ends `worker`'s try at a mail; false when it no longer held the lease
    /// (nothing is written then).
    async fn finish(&self, id: OutboxId, worker: &str, now: i64, finish: &Finish) -> Result<bool> {
        let done = self.finish_batch(worker, now, &[(id, finish)]).await?;
        Ok(done.first().copied().unwrap_or(false))
    }
    /// Ends `worker`'s tries at many mails in one transaction (group
    /// commit): for each, whether it still held the lease (nothing is
    /// written for a mail it lost).
    async fn finish_batch(
        &self,
        worker: &str,
        now: i64,
        finishes: &[(OutboxId, &Finish)],
    ) -> Result<Vec<bool>>;
    /// When the next mail may become claimable: the earliest `next_attempt_at`
    /// of queued mails or lease end of sending ones.
    async fn next_due(&self) -> Result<Option<i64>>;
    /// Counts per state.
    async fn status(&self) -> Result<StatusCounts>;
    /// Mails, newest first.
    async fn list(&self, state: Option<MailState>, limit: u32) -> Result<Vec<OutboxMail>>;
    /// One mail and its attempts.
    async fn show(&self, id: OutboxId) -> Result<Option<(OutboxMail, Vec<Attempt>)>>;
    /// The stored message document of a mail.
    async fn message(&self, id: OutboxId) -> Result<Option<(i32, String)>>;
    /// Puts failed mails (one, or all) back in the queue with a fresh attempt
    /// budget. Returns how many.
    async fn retry(&self, id: Option<OutboxId>, now: i64) -> Result<u64>;
    /// Deletes sent mails (and their attempts) sent before `cutoff`.
    async fn purge_sent_before(&self, cutoff: i64) -> Result<u64>;
}

/// The columns of an [`OutboxMail`], in [`MailRow`] order.
macro_rules! mail_columns {
    () => {
        "id, uid, user_name, mailbox, subject, recipients, state, needs_lookup, attempts, \
         next_attempt_at, created_at, updated_at, sent_at, locked_by, locked_until, guarantee, \
         route, provider, internet_message_id, request_id, server_reply, recovered, \
         last_error_kind, last_error_code, last_error_message, last_error_remedy"
    };
}
pub(crate) use mail_columns;

pub(crate) const INSERT_MAIL: &str = "INSERT INTO outbox_mail \
     (uid, user_name, mailbox, subject, recipients, state, next_attempt_at, created_at, \
      updated_at, message_format, message) \
     VALUES ($1, $2, $3, $4, $5, 'queued', $6, $6, $6, $7, $8) \
     ON CONFLICT (uid) DO NOTHING RETURNING id";
pub(crate) const ID_BY_UID: &str = "SELECT id FROM outbox_mail WHERE uid = $1";

#[derive(sqlx::FromRow)]
pub(crate) struct ClaimRow {
    id: i64,
    uid: String,
    user_name: String,
    mailbox: Option<String>,
    needs_lookup: bool,
    attempts: i32,
    message_format: i32,
    message: String,
}

impl ClaimRow {
    pub(crate) fn into_claimed(self) -> Result<ClaimedMail> {
        Ok(ClaimedMail {
            id: OutboxId::new(self.id),
            uid: MessageUid::parse(&self.uid)?,
            user: self.user_name,
            mailbox: self.mailbox,
            needs_lookup: self.needs_lookup,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            format: self.message_format,
            document: self.message,
            granted: None,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MailRow {
    id: i64,
    uid: String,
    user_name: String,
    mailbox: Option<String>,
    subject: String,
    recipients: String,
    state: String,
    needs_lookup: bool,
    attempts: i32,
    next_attempt_at: i64,
    created_at: i64,
    updated_at: i64,
    sent_at: Option<i64>,
    locked_by: Option<String>,
    locked_until: Option<i64>,
    guarantee: Option<String>,
    route: Option<String>,
    provider: Option<String>,
    internet_message_id: Option<String>,
    request_id: Option<String>,
    server_reply: Option<String>,
    recovered: bool,
    last_error_kind: Option<String>,
    last_error_code: Option<String>,
    last_error_message: Option<String>,
    last_error_remedy: Option<String>,
}

fn corrupt(what: &str, value: &str) -> Error {
    Error::new(ErrorKind::Unexpected, format!("the outbox database holds an invalid {what}"))
        .with_provider(crate::PROVIDER)
        .with_code("outbox.corrupt")
        .with_context(if what == "uid" { "uid" } else { "value" }, value.escape_debug())
}

impl MailRow {
    pub(crate) fn into_mail(self) -> Result<OutboxMail> {
        Ok(OutboxMail {
            id: OutboxId::new(self.id),
            uid: MessageUid::parse(&self.uid).map_err(|_| corrupt("uid", &self.uid))?,
            user: self.user_name,
            mailbox: self.mailbox,
            subject: self.subject,
            recipients: self.recipients,
            state: self.state.parse().map_err(|_| corrupt("state", &self.state))?,
            needs_lookup: self.needs_lookup,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            next_attempt_at: ts(self.next_attempt_at),
            created_at: ts(self.created_at),
            updated_at: ts(self.updated_at),
            sent_at: self.sent_at.map(ts),
            locked_by: self.locked_by,
            locked_until: self.locked_until.map(ts),
            guarantee: self.guarantee.as_deref().and_then(Guarantee::parse),
            route: self.route,
            provider: self.provider,
            internet_message_id: self.internet_message_id,
            request_id: self.request_id,
            server_reply: self.server_reply,
            recovered: self.recovered,
            last_error: self.last_error_kind.map(|kind| StoredError {
                kind,
                code: self.last_error_code,
                message: self.last_error_message.unwrap_or_default(),
                remedy: self.last_error_remedy,
            }),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AttemptRow {
    action: String,
    worker: String,
    started_at: i64,
    finished_at: Option<i64>,
    result: String,
    route: Option<String>,
    error_kind: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    request_id: Option<String>,
    server_reply: Option<String>,
}

impl AttemptRow {
    pub(crate) fn into_attempt(self) -> Attempt {
        Attempt {
            action: if self.action == "lookup" {
                AttemptAction::Lookup
            } else {
                AttemptAction::Send
            },
            worker: self.worker,
            started_at: ts(self.started_at),
            finished_at: self.finished_at.map(ts),
            result: AttemptResult::parse(&self.result),
            route: self.route,
            error: self.error_kind.map(|kind| StoredError {
                kind,
                code: self.error_code,
                message: self.error_message.unwrap_or_default(),
                remedy: None,
            }),
            request_id: self.request_id,
            server_reply: self.server_reply,
        }
    }
}

/// The shared implementation of [`OutboxStore`] for a store type with a
/// `pool` field, a `begin()` that opens a write transaction, and a
/// `select_due()` with the dialect's selection of due mails, and the
/// batch operations `claim_many()` and `finish_many()`.
macro_rules! impl_outbox_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::OutboxStore for $store {
            async fn enqueue(&self, mail: &$crate::store::NewMail) -> Result<OutboxId> {
                let mut conn = self.pool.acquire().await.map_err(db)?;
                enqueue_on(&mut *conn, mail).await
            }

            async fn claim_batch(
                &self,
                req: &$crate::store::BatchClaim<'_>,
            ) -> Result<$crate::store::Claimed> {
                $crate::store::retry_conflicts(&self.conflicts, "claim_batch", move || {
                    self.claim_many(req)
                })
                .await
            }

            async fn renew(&self, id: OutboxId, worker: &str, lease_until: i64) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE outbox_mail SET locked_until = $3 \
                     WHERE id = $1 AND locked_by = $2 AND state = 'sending'",
                )
                .bind(id.get())
                .bind(worker)
                .bind(lease_until)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(done.rows_affected() == 1)
            }

            async fn release(
                &self,
                id: OutboxId,
                worker: &str,
                next_attempt_at: i64,
                now: i64,
                mailbox: Option<&str>,
            ) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE outbox_mail SET state = 'queued', locked_by = NULL, \
                     locked_until = NULL, in_flight = FALSE, next_attempt_at = $3, \
                     updated_at = $4, \
                     mailbox = COALESCE($5, mailbox) \
                     WHERE id = $1 AND locked_by = $2 AND state = 'sending'",
                )
                .bind(id.get())
                .bind(worker)
                .bind(next_attempt_at)
                .bind(now)
                .bind(mailbox)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(done.rows_affected() == 1)
            }

            async fn acquire(
                &self,
                req: &$crate::store::SlotRequest<'_>,
            ) -> Result<$crate::store::Acquired> {
                $crate::store::retry_conflicts(&self.conflicts, "acquire", move || {
                    self.acquire_once(req)
                })
                .await
            }

            async fn acquire_direct(
                &self,
                mailbox: &str,
                holder: &str,
                lease: std::time::Duration,
                rate: $crate::pacing::RateWindow,
                max_in_flight: u32,
            ) -> Result<std::result::Result<i64, $crate::pacing::Busy>> {
                $crate::store::retry_conflicts(&self.conflicts, "acquire_direct", move || {
                    self.acquire_direct_once(mailbox, holder, lease, rate, max_in_flight)
                })
                .await
            }

            async fn renew_direct(&self, id: i64, lease_until: i64) -> Result<()> {
                sqlx::query("UPDATE outbox_direct SET lease_until = $2 WHERE id = $1")
                    .bind(id)
                    .bind(lease_until)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn release_direct(&self, id: i64) -> Result<()> {
                sqlx::query("DELETE FROM outbox_direct WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }

            async fn end_slot(&self, id: OutboxId, worker: &str) -> Result<()> {
                sqlx::query(
                    "UPDATE outbox_mail SET in_flight = FALSE WHERE id = $1 AND locked_by = $2",
                )
                .bind(id.get())
                .bind(worker)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn pause(&self, mailbox: &str, until: i64) -> Result<()> {
                sqlx::query(
                    "INSERT INTO outbox_mailbox (mailbox, paused_until, blocked_until, \
                     throttled_count) VALUES ($1, $2, $2, 1) \
                     ON CONFLICT (mailbox) DO UPDATE SET \
                     paused_until = CASE WHEN outbox_mailbox.paused_until > $2 \
                       THEN outbox_mailbox.paused_until ELSE $2 END, \
                     blocked_until = CASE WHEN outbox_mailbox.blocked_until > $2 \
                       THEN outbox_mailbox.blocked_until ELSE $2 END, \
                     throttled_count = outbox_mailbox.throttled_count + 1",
                )
                .bind(mailbox)
                .bind(until)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn mailboxes(&self) -> Result<Vec<$crate::store::MailboxRow>> {
                sqlx::query_as(
                    "SELECT mailbox, starts, blocked_until, paused_until, sent_count, \
                     failed_count, retried_count, unknown_count, throttled_count \
                     FROM outbox_mailbox ORDER BY mailbox",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(db)
            }

            async fn mailbox_counts(&self, now: i64) -> Result<Vec<$crate::store::MailboxCounts>> {
                sqlx::query_as(
                    "SELECT COALESCE(mailbox, '') AS mailbox, \
                     COALESCE(SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END), 0) AS queued, \
                     COALESCE(SUM(CASE WHEN state = 'sending' THEN 1 ELSE 0 END), 0) AS sending, \
                     COALESCE(SUM(CASE WHEN state = 'sending' AND in_flight AND locked_until > $1 \
                       THEN 1 ELSE 0 END), 0) AS in_flight, \
                     COALESCE(SUM(CASE WHEN state = 'sent' AND sent_at >= $2 THEN 1 ELSE 0 END), 0) \
                       AS sent_minute, \
                     COALESCE(SUM(CASE WHEN state = 'sent' THEN 1 ELSE 0 END), 0) AS sent_day, \
                     MIN(CASE WHEN state = 'queued' THEN created_at END) AS oldest_queued \
                     FROM outbox_mail \
                     WHERE state IN ('queued', 'sending') OR (state = 'sent' AND sent_at >= $3) \
                     GROUP BY COALESCE(mailbox, '') ORDER BY 1",
                )
                .bind(now)
                .bind(now.saturating_sub(60_000))
                .bind(now.saturating_sub(86_400_000))
                .fetch_all(&self.pool)
                .await
                .map_err(db)
            }

            async fn record_lookup(
                &self,
                id: OutboxId,
                worker: &str,
                started_at: i64,
                finished_at: i64,
                end: &$crate::store::AttemptEnd,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO outbox_attempt (mail_id, action, worker, started_at, \
                     finished_at, result, route, error_kind, error_code, error_message, \
                     request_id, server_reply) \
                     VALUES ($1, 'lookup', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(id.get())
                .bind(worker)
                .bind(started_at)
                .bind(finished_at)
                .bind(end.result.unwrap_or(AttemptResult::Error).as_str())
                .bind(end.route.as_deref())
                .bind(end.error.as_ref().map(|e| e.kind.as_str()))
                .bind(end.error.as_ref().and_then(|e| e.code.as_deref()))
                .bind(end.error.as_ref().map(|e| e.message.as_str()))
                .bind(end.request_id.as_deref())
                .bind(end.server_reply.as_deref())
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn finish_batch(
                &self,
                worker: &str,
                now: i64,
                finishes: &[(OutboxId, &$crate::store::Finish)],
            ) -> Result<Vec<bool>> {
                $crate::store::retry_conflicts(&self.conflicts, "finish_batch", move || {
                    self.finish_many(worker, now, finishes)
                })
                .await
            }

            async fn next_due(&self) -> Result<Option<i64>> {
                let (due,): (Option<i64>,) = sqlx::query_as(
                    "SELECT MIN(CASE WHEN m.state = 'sending' THEN m.locked_until \
                     WHEN b.blocked_until > m.next_attempt_at THEN b.blocked_until \
                     ELSE m.next_attempt_at END) \
                     FROM outbox_mail m LEFT JOIN outbox_mailbox b ON b.mailbox = m.mailbox \
                     WHERE m.state IN ('queued', 'sending')",
                )
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
                Ok(due)
            }

            async fn status(&self) -> Result<StatusCounts> {
                let rows: Vec<(String, i64, i64)> = sqlx::query_as(
                    "SELECT state, COUNT(*), \
                     COALESCE(SUM(CASE WHEN needs_lookup THEN 1 ELSE 0 END), 0) \
                     FROM outbox_mail GROUP BY state",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                let mut counts = StatusCounts::default();
                for (state, n, lookups) in rows {
                    let n = u64::try_from(n).unwrap_or(0);
                    match state.as_str() {
                        "queued" => counts.queued = n,
                        "sending" => counts.sending = n,
                        "sent" => counts.sent = n,
                        "failed" => counts.failed = n,
                        _ => {}
                    }
                    if state == "queued" || state == "sending" {
                        counts.needs_lookup += u64::try_from(lookups).unwrap_or(0);
                    }
                }
                Ok(counts)
            }

            async fn list(&self, state: Option<MailState>, limit: u32) -> Result<Vec<OutboxMail>> {
                let rows: Vec<$crate::store::MailRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    $crate::store::mail_columns!(),
                    " FROM outbox_mail WHERE ($1 IS NULL OR state = $1) ORDER BY id DESC LIMIT $2"
                ))
                .bind(state.map(MailState::as_str))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.into_iter().map($crate::store::MailRow::into_mail).collect()
            }

            async fn show(
                &self,
                id: OutboxId,
            ) -> Result<Option<(OutboxMail, Vec<$crate::model::Attempt>)>> {
                let row: Option<$crate::store::MailRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    $crate::store::mail_columns!(),
                    " FROM outbox_mail WHERE id = $1"
                ))
                .bind(id.get())
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                let Some(row) = row else { return Ok(None) };
                let attempts: Vec<$crate::store::AttemptRow> = sqlx::query_as(
                    "SELECT action, worker, started_at, finished_at, result, route, error_kind, \
                     error_code, error_message, request_id, server_reply \
                     FROM outbox_attempt WHERE mail_id = $1 ORDER BY id",
                )
                .bind(id.get())
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                Ok(Some((
                    row.into_mail()?,
                    attempts.into_iter().map($crate::store::AttemptRow::into_attempt).collect(),
                )))
            }

            async fn message(&self, id: OutboxId) -> Result<Option<(i32, String)>> {
                sqlx::query_as("SELECT message_format, message FROM outbox_mail WHERE id = $1")
                    .bind(id.get())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)
            }

            async fn retry(&self, id: Option<OutboxId>, now: i64) -> Result<u64> {
                let done = sqlx::query(
                    "UPDATE outbox_mail SET state = 'queued', attempts = 0, \
                     next_attempt_at = $2, updated_at = $2 \
                     WHERE state = 'failed' AND ($1 IS NULL OR id = $1)",
                )
                .bind(id.map(OutboxId::get))
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(done.rows_affected())
            }

            async fn purge_sent_before(&self, cutoff: i64) -> Result<u64> {
                let mut tx = self.begin().await?;
                sqlx::query(
                    "DELETE FROM outbox_attempt WHERE mail_id IN \
                     (SELECT id FROM outbox_mail WHERE state = 'sent' AND sent_at < $1)",
                )
                .bind(cutoff)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                let done =
                    sqlx::query("DELETE FROM outbox_mail WHERE state = 'sent' AND sent_at < $1")
                        .bind(cutoff)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                tx.commit().await.map_err(db)?;
                Ok(done.rows_affected())
            }
        }

        impl $store {
            /// Takes a slot ([`OutboxStore::acquire`](crate::store::OutboxStore::acquire)), once.
            async fn acquire_once(
                &self,
                req: &$crate::store::SlotRequest<'_>,
            ) -> Result<$crate::store::Acquired> {
                use $crate::pacing::Busy;
                use $crate::store::{Acquired, SlotFor};
                let mut tx = self.begin().await?;
                // One statement locks the mail's row, then the mailbox's
                // (the store's lock order); the mailbox's row stays locked
                // until the commit, so workers of every process take its
                // slots one at a time. No row: the worker lost the mail.
                let row: Option<(String, i64)> = sqlx::query_as(Self::HOLD_FOR_SLOT)
                    .bind(req.mailbox)
                    .bind(req.id.get())
                    .bind(req.worker)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
                let Some((starts, paused_until)) = row else {
                    return Ok(Acquired::Lost);
                };
                // The start counts from now, once the row is ours: time spent
                // waiting for it must not let this send start early.
                let now = $crate::outbox::now_ms();
                let lease_until = $crate::outbox::after(now, req.lease);
                if paused_until > now {
                    tx.commit().await.map_err(db)?;
                    return Ok(Acquired::Busy(Busy::Until(paused_until)));
                }
                let (in_flight,): (i64,) = sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM outbox_mail WHERE mailbox = $1 AND in_flight \
                       AND state = 'sending' AND locked_until > $2 AND id <> $3) \
                     + (SELECT COUNT(*) FROM outbox_direct WHERE mailbox = $1 \
                       AND lease_until > $2)",
                )
                .bind(req.mailbox)
                .bind(now)
                .bind(req.id.get())
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
                if in_flight >= i64::from(req.max_in_flight) {
                    tx.commit().await.map_err(db)?;
                    return Ok(Acquired::Busy(Busy::InFlight));
                }
                let SlotFor::Send(guarantee) = req.slot else {
                    let done = sqlx::query(
                        "UPDATE outbox_mail SET in_flight = TRUE, mailbox = $3, \
                         locked_until = $4 \
                         WHERE id = $1 AND locked_by = $2 AND state = 'sending'",
                    )
                    .bind(req.id.get())
                    .bind(req.worker)
                    .bind(req.mailbox)
                    .bind(lease_until)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    if done.rows_affected() != 1 {
                        return Ok(Acquired::Lost);
                    }
                    tx.commit().await.map_err(db)?;
                    return Ok(Acquired::Granted(None));
                };
                let starts = match req.rate.admit(&starts, now) {
                    Ok(starts) => starts,
                    Err(until) => {
                        sqlx::query(
                            "UPDATE outbox_mailbox SET blocked_until = $2 WHERE mailbox = $1",
                        )
                        .bind(req.mailbox)
                        .bind(until)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                        tx.commit().await.map_err(db)?;
                        return Ok(Acquired::Busy(Busy::Until(until)));
                    }
                };
                let done = sqlx::query(
                    "UPDATE outbox_mail SET needs_lookup = TRUE, attempts = attempts + 1, \
                     in_flight = TRUE, locked_until = $3, updated_at = $4, mailbox = $5, \
                     guarantee = $6 \
                     WHERE id = $1 AND locked_by = $2 AND state = 'sending'",
                )
                .bind(req.id.get())
                .bind(req.worker)
                .bind(lease_until)
                .bind(now)
                .bind(req.mailbox)
                .bind(guarantee.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                if done.rows_affected() != 1 {
                    return Ok(Acquired::Lost);
                }
                sqlx::query("UPDATE outbox_mailbox SET starts = $2 WHERE mailbox = $1")
                    .bind(req.mailbox)
                    .bind(starts)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                if !req.first_attempt {
                    sqlx::query(
                        "UPDATE outbox_attempt SET finished_at = $2, result = 'interrupted' \
                         WHERE mail_id = $1 AND finished_at IS NULL",
                    )
                    .bind(req.id.get())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                }
                let (attempt,): (i64,) = sqlx::query_as(
                    "INSERT INTO outbox_attempt (mail_id, action, worker, started_at, result) \
                     VALUES ($1, 'send', $2, $3, 'started') RETURNING id",
                )
                .bind(req.id.get())
                .bind(req.worker)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
                Ok(Acquired::Granted(Some(attempt)))
            }

            /// Takes a direct slot
            /// ([`OutboxStore::acquire_direct`](crate::store::OutboxStore::acquire_direct)), once.
            async fn acquire_direct_once(
                &self,
                mailbox: &str,
                holder: &str,
                lease: std::time::Duration,
                rate: $crate::pacing::RateWindow,
                max_in_flight: u32,
            ) -> Result<std::result::Result<i64, $crate::pacing::Busy>> {
                use $crate::pacing::Busy;
                let mut tx = self.begin().await?;
                let (starts, paused_until): (String, i64) = sqlx::query_as(
                    "INSERT INTO outbox_mailbox (mailbox) VALUES ($1) \
                     ON CONFLICT (mailbox) DO UPDATE SET mailbox = EXCLUDED.mailbox \
                     RETURNING starts, paused_until",
                )
                .bind(mailbox)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
                let now = $crate::outbox::now_ms();
                if paused_until > now {
                    tx.commit().await.map_err(db)?;
                    return Ok(Err(Busy::Until(paused_until)));
                }
                sqlx::query("DELETE FROM outbox_direct WHERE mailbox = $1 AND lease_until <= $2")
                    .bind(mailbox)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                let (in_flight,): (i64,) = sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM outbox_mail WHERE mailbox = $1 AND in_flight \
                       AND state = 'sending' AND locked_until > $2) \
                     + (SELECT COUNT(*) FROM outbox_direct WHERE mailbox = $1)",
                )
                .bind(mailbox)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
                if in_flight >= i64::from(max_in_flight) {
                    tx.commit().await.map_err(db)?;
                    return Ok(Err(Busy::InFlight));
                }
                let starts = match rate.admit(&starts, now) {
                    Ok(starts) => starts,
                    Err(until) => {
                        sqlx::query(
                            "UPDATE outbox_mailbox SET blocked_until = $2 WHERE mailbox = $1",
                        )
                        .bind(mailbox)
                        .bind(until)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                        tx.commit().await.map_err(db)?;
                        return Ok(Err(Busy::Until(until)));
                    }
                };
                sqlx::query("UPDATE outbox_mailbox SET starts = $2 WHERE mailbox = $1")
                    .bind(mailbox)
                    .bind(starts)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO outbox_direct (mailbox, holder, lease_until) \
                     VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(mailbox)
                .bind(holder)
                .bind($crate::outbox::after(now, lease))
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
                Ok(Ok(id))
            }
        }
    };
}
pub(crate) use impl_outbox_store;

/// Batch claims and results as one statement per row inside the batch's
/// transaction, for a store whose statements cost no round trip (SQLite).
/// Generates `claim_many`, `finish_many` and `finish_row` for `$store`.
macro_rules! impl_row_batches {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Claims a batch ([`OutboxStore::claim_batch`]).
            async fn claim_many(
                &self,
                req: &$crate::store::BatchClaim<'_>,
            ) -> Result<$crate::store::Claimed> {
                use $crate::store::{ClaimRow, ClaimedMail, Granted};
                let mut tx = self.begin().await?;
                let picked = $crate::outbox::now_ms();
                let rows: Vec<ClaimRow> =
                    Self::select_due(&mut tx, req.limit, picked, req.exclude).await?;
                let mut mails =
                    rows.into_iter().map(ClaimRow::into_claimed).collect::<Result<Vec<_>>>()?;
                // The mails that may take their send slot now, by mailbox.
                let mut planned: std::collections::BTreeMap<String, Vec<usize>> =
                    std::collections::BTreeMap::new();
                let mut guarantees = vec![None; mails.len()];
                for (i, mail) in mails.iter().enumerate() {
                    if mail.needs_lookup {
                        continue;
                    }
                    if let Some(plan) = (req.plan)(mail) {
                        guarantees[i] = Some(plan.guarantee);
                        planned.entry(plan.mailbox).or_default().push(i);
                    }
                }
                // Lock the mailboxes' rows in mailbox order (every
                // transaction does), so workers of every process take a
                // mailbox's slots one at a time and never deadlock.
                let mut rows = Vec::with_capacity(planned.len());
                for mailbox in planned.keys() {
                    let (starts, paused_until): (String, i64) = sqlx::query_as(
                        "INSERT INTO outbox_mailbox (mailbox) VALUES ($1) \
                         ON CONFLICT (mailbox) DO UPDATE SET mailbox = EXCLUDED.mailbox \
                         RETURNING starts, paused_until",
                    )
                    .bind(mailbox)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
                    rows.push((starts, paused_until));
                }
                // The starts count from now, once the rows are ours.
                let now = $crate::outbox::now_ms();
                let lease_until = $crate::outbox::after(now, req.lease);
                let mut take = vec![true; mails.len()];
                let mut busy = Vec::new();
                for ((mailbox, idx), (starts, paused_until)) in planned.iter().zip(&rows) {
                    let (in_flight,): (i64,) = sqlx::query_as(
                        "SELECT (SELECT COUNT(*) FROM outbox_mail WHERE mailbox = $1 \
                           AND in_flight AND state = 'sending' AND locked_until > $2) \
                         + (SELECT COUNT(*) FROM outbox_direct WHERE mailbox = $1 \
                           AND lease_until > $2)",
                    )
                    .bind(mailbox)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
                    let a = $crate::store::admit_many(
                        idx.len(),
                        starts,
                        *paused_until,
                        in_flight,
                        now,
                        req.rate,
                        req.max_in_flight,
                    );
                    for &i in &idx[a.admitted..] {
                        take[i] = false;
                        // Name the mailbox on the mail, so that claims (this
                        // worker's exclusions, the mailbox's block) pass it by.
                        if mails[i].mailbox.as_deref() != Some(mailbox.as_str()) {
                            sqlx::query("UPDATE outbox_mail SET mailbox = $2 WHERE id = $1")
                                .bind(mails[i].id.get())
                                .bind(mailbox)
                                .execute(&mut *tx)
                                .await
                                .map_err(db)?;
                        }
                    }
                    if let Some(starts) = &a.starts {
                        sqlx::query("UPDATE outbox_mailbox SET starts = $2 WHERE mailbox = $1")
                            .bind(mailbox)
                            .bind(starts)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                    }
                    if let Some(why) = a.busy {
                        if let $crate::pacing::Busy::Until(until) = why {
                            if until > *paused_until {
                                sqlx::query(
                                    "UPDATE outbox_mailbox SET blocked_until = $2 \
                                     WHERE mailbox = $1",
                                )
                                .bind(mailbox)
                                .bind(until)
                                .execute(&mut *tx)
                                .await
                                .map_err(db)?;
                            }
                        }
                        busy.push((mailbox.clone(), why));
                    }
                    for &i in &idx[..a.admitted] {
                        let mail = &mut mails[i];
                        let Some(guarantee) = guarantees[i] else { continue };
                        sqlx::query(
                            "UPDATE outbox_mail SET state = 'sending', locked_by = $2, \
                             locked_until = $3, updated_at = $4, in_flight = TRUE, \
                             needs_lookup = TRUE, attempts = attempts + 1, mailbox = $5, \
                             guarantee = $6 WHERE id = $1",
                        )
                        .bind(mail.id.get())
                        .bind(req.worker)
                        .bind(lease_until)
                        .bind(now)
                        .bind(mailbox)
                        .bind(guarantee.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                        if mail.attempts > 0 {
                            sqlx::query(
                                "UPDATE outbox_attempt SET finished_at = $2, \
                                 result = 'interrupted' \
                                 WHERE mail_id = $1 AND finished_at IS NULL",
                            )
                            .bind(mail.id.get())
                            .bind(now)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        }
                        let (attempt,): (i64,) = sqlx::query_as(
                            "INSERT INTO outbox_attempt (mail_id, action, worker, started_at, \
                             result) VALUES ($1, 'send', $2, $3, 'started') RETURNING id",
                        )
                        .bind(mail.id.get())
                        .bind(req.worker)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db)?;
                        mail.granted =
                            Some(Granted { mailbox: mailbox.clone(), guarantee, attempt });
                    }
                }
                let mut claimed: Vec<ClaimedMail> = Vec::with_capacity(mails.len());
                for (mail, take) in mails.into_iter().zip(take) {
                    if !take {
                        continue;
                    }
                    if mail.granted.is_none() {
                        sqlx::query(
                            "UPDATE outbox_mail SET state = 'sending', locked_by = $2, \
                             locked_until = $3, updated_at = $4, in_flight = FALSE \
                             WHERE id = $1",
                        )
                        .bind(mail.id.get())
                        .bind(req.worker)
                        .bind(lease_until)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    }
                    claimed.push(mail);
                }
                tx.commit().await.map_err(db)?;
                Ok($crate::store::Claimed { mails: claimed, busy })
            }

            /// Records a batch of results ([`OutboxStore::finish_batch`]).
            async fn finish_many(
                &self,
                worker: &str,
                now: i64,
                finishes: &[(OutboxId, &$crate::store::Finish)],
            ) -> Result<Vec<bool>> {
                let mut tx = self.begin().await?;
                let mut done = Vec::with_capacity(finishes.len());
                let mut recorded = Vec::with_capacity(finishes.len());
                for (id, f) in finishes {
                    let ok = Self::finish_row(&mut tx, *id, worker, now, f).await?;
                    if ok {
                        recorded.push(*f);
                    }
                    done.push(ok);
                }
                for (mailbox, t) in $crate::store::tallies(recorded.into_iter()) {
                    sqlx::query(
                        "INSERT INTO outbox_mailbox (mailbox, sent_count, failed_count, \
                         retried_count, unknown_count) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (mailbox) DO UPDATE SET \
                         sent_count = outbox_mailbox.sent_count + EXCLUDED.sent_count, \
                         failed_count = outbox_mailbox.failed_count + EXCLUDED.failed_count, \
                         retried_count = outbox_mailbox.retried_count + EXCLUDED.retried_count, \
                         unknown_count = outbox_mailbox.unknown_count + EXCLUDED.unknown_count",
                    )
                    .bind(mailbox)
                    .bind(t.sent)
                    .bind(t.failed)
                    .bind(t.retried)
                    .bind(t.unknown)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                }
                tx.commit().await.map_err(db)?;
                Ok(done)
            }

            /// Writes one try's end inside a batch's transaction; false when
            /// the worker no longer held the mail (nothing written for it).
            async fn finish_row(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: OutboxId,
                worker: &str,
                now: i64,
                f: &$crate::store::Finish,
            ) -> Result<bool> {
                let e = f.error.as_ref();
                let done = sqlx::query(
                    "UPDATE outbox_mail SET state = $3, needs_lookup = $4, \
                     attempts = attempts + $5, next_attempt_at = $6, updated_at = $7, \
                     sent_at = COALESCE($8, sent_at), locked_by = NULL, locked_until = NULL, \
                     in_flight = FALSE, \
                     guarantee = COALESCE($9, guarantee), route = COALESCE($10, route), \
                     provider = COALESCE($11, provider), \
                     internet_message_id = COALESCE($12, internet_message_id), \
                     request_id = COALESCE($13, request_id), \
                     server_reply = COALESCE($14, server_reply), recovered = $15, \
                     last_error_kind = COALESCE($16, last_error_kind), \
                     last_error_code = CASE WHEN $16 IS NULL THEN last_error_code ELSE $17 END, \
                     last_error_message = COALESCE($18, last_error_message), \
                     last_error_remedy = CASE WHEN $16 IS NULL THEN last_error_remedy ELSE $19 END \
                     WHERE id = $1 AND locked_by = $2 AND state = 'sending'",
                )
                .bind(id.get())
                .bind(worker)
                .bind(f.state.as_str())
                .bind(f.needs_lookup)
                .bind(f.extra_attempts)
                .bind(f.next_attempt_at)
                .bind(now)
                .bind(f.sent_at)
                .bind(f.guarantee.map(|g| g.as_str()))
                .bind(f.route.as_deref())
                .bind(f.provider.as_deref())
                .bind(f.internet_message_id.as_deref())
                .bind(f.request_id.as_deref())
                .bind(f.server_reply.as_deref())
                .bind(f.recovered)
                .bind(e.map(|e| e.kind.as_str()))
                .bind(e.and_then(|e| e.code.as_deref()))
                .bind(e.map(|e| e.message.as_str()))
                .bind(e.and_then(|e| e.remedy.as_deref()))
                .execute(&mut **tx)
                .await
                .map_err(db)?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                if let Some((attempt, end)) = &f.attempt {
                    let ae = end.error.as_ref();
                    sqlx::query(
                        "UPDATE outbox_attempt SET finished_at = $2, result = $3, route = $4, \
                         error_kind = $5, error_code = $6, error_message = $7, \
                         request_id = $8, server_reply = $9 WHERE id = $1",
                    )
                    .bind(*attempt)
                    .bind(now)
                    .bind(end.result.unwrap_or(AttemptResult::Error).as_str())
                    .bind(end.route.as_deref())
                    .bind(ae.map(|e| e.kind.as_str()))
                    .bind(ae.and_then(|e| e.code.as_deref()))
                    .bind(ae.map(|e| e.message.as_str()))
                    .bind(end.request_id.as_deref())
                    .bind(end.server_reply.as_deref())
                    .execute(&mut **tx)
                    .await
                    .map_err(db)?;
                }
                // With an attempt of its own, the try's start already closed
                // any attempt a dead worker left open.
                if f.attempt.is_none() {
                    sqlx::query(
                        "UPDATE outbox_attempt SET finished_at = $2, result = 'interrupted' \
                         WHERE mail_id = $1 AND finished_at IS NULL",
                    )
                    .bind(id.get())
                    .bind(now)
                    .execute(&mut **tx)
                    .await
                    .map_err(db)?;
                }
                Ok(true)
            }
        }
    };
}
pub(crate) use impl_row_batches;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Admission, admit_many};
    use crate::pacing::{Busy, RateWindow};

    #[test]
    fn a_batch_admits_what_the_in_flight_slots_and_the_window_allow() {
        let rate = RateWindow::new(3, Duration::from_secs(60));
        // Room for 2 in flight (1 of 3 taken), 3 in the window: 2 start.
        let a = admit_many(5, "", 0, 1, 1_000, rate, 3);
        assert_eq!((a.admitted, a.busy), (2, Some(Busy::InFlight)));
        assert_eq!(rate.started(a.starts.as_deref().unwrap(), 1_000), 2);
        // The window has room for one more: it starts, the rest wait for the
        // oldest bucket to leave the window.
        let b = admit_many(5, a.starts.as_deref().unwrap(), 0, 0, 2_000, rate, 10);
        assert_eq!(b.admitted, 1);
        assert!(matches!(b.busy, Some(Busy::Until(t)) if t > 60_000), "{b:?}");
        // A paused mailbox starts nothing; a batch that fits leaves no busy.
        assert_eq!(
            admit_many(2, "", 9_000, 0, 1_000, rate, 4),
            Admission { admitted: 0, starts: None, busy: Some(Busy::Until(9_000)) }
        );
        let c = admit_many(2, "", 0, 0, 1_000, rate, 4);
        assert_eq!((c.admitted, c.busy), (2, None));
    }
}
