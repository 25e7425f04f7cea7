//! [`Worker`]: claims due mails, paces them per mailbox, sends them once.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use g360_mail_core::{Backoff, Error, ErrorKind, ErrorStatus, SendReceipt, jitter};
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::OutboxId;
use crate::document;
use crate::events::DeliveryEvent;
use crate::finisher::Finisher;
use crate::model::{AttemptResult, Guarantee, MailState, StoredError, ts};
use crate::options::{OutboxOptions, WorkerOptions};
use crate::outbox::{Outbox, after, now_ms};
use crate::pacing::{Busy, TaskSlot};
use crate::sender::OutboxSender;
use crate::store::{
    Acquired, AttemptEnd, BatchClaim, ClaimedMail, Finish, Granted, Plan, SlotFor, SlotRequest,
    Tally,
};

/// Longest a claimed mail waits in this process for its mailbox's pacing
/// before it goes back to the queue (so it does not hold a worker slot that a
/// mail of another mailbox could use).
const PACING_HOLD: Duration = Duration::from_secs(2);

/// Shortest pause of the claim loop while due mails exist that this worker
/// cannot take (another worker is claiming them right now).
const MIN_IDLE: Duration = Duration::from_millis(20);

/// How long the claim loop leaves alone a mailbox whose in-flight slots were
/// all taken at the last claim (slots of other processes end unseen).
const IN_FLIGHT_RECHECK: Duration = Duration::from_millis(50);

/// What a [`Worker`] run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RunSummary {
    /// Mails sent, including recovered ones.
    pub sent: u64,
    /// Mails found already sent by a lookup after an unknown outcome.
    pub recovered: u64,
    /// Tries that ended in a scheduled retry.
    pub retried: u64,
    /// Mails that became `failed`.
    pub failed: u64,
    /// Claimed mails given back unattempted (pacing, shutdown).
    pub deferred: u64,
    /// Tries still running when a shutdown's grace period ended: cut off and
    /// given back, to be looked up before any resend.
    pub interrupted: u64,
}

/// How one try at a mail ended.
enum TryOutcome {
    Sent {
        recovered: bool,
    },
    Retried,
    Failed,
    Deferred,
    /// The lease was lost or the database failed; the lease runs out and
    /// another try (with a lookup first) follows.
    Abandoned,
}

impl RunSummary {
    fn record(&mut self, outcome: TryOutcome) {
        match outcome {
            TryOutcome::Sent { recovered } => {
                self.sent += 1;
                self.recovered += u64::from(recovered);
            }
            TryOutcome::Retried => self.retried += 1,
            TryOutcome::Failed => self.failed += 1,
            TryOutcome::Deferred => self.deferred += 1,
            TryOutcome::Abandoned => {}
        }
    }
}

/// Sends the mails of an [`Outbox`] through an [`OutboxSender`].
///
/// Each try at a mail is crash-safe by construction:
///
/// 1. the claim (state `sending`, lease `locked_by`/`locked_until`) is one
///    statement; the worker renews the lease while it works;
/// 2. when the mail's previous outcome is unknown, it is looked up first
///    ([`OutboxSender::find_sent`]): found → `sent` (recovered); not found →
///    wait [`OutboxOptions::settle_delay`], look again, then send. Routes
///    without a lookup resend (at-least-once, recorded per mail);
/// 3. the pacing of the mailbox admits the send (or the mail goes back to the
///    queue until it can);
/// 4. one transaction counts the attempt and marks the outcome unknown
///    (`needs_lookup`) before the send, so a worker that dies during the send
///    leaves a mail the next worker looks up;
/// 5. one transaction records the result: `sent`; a retry at a backoff
///    honouring `Retry-After` (temporary errors, and unknown outcomes, which
///    keep `needs_lookup`); or `failed`.
///
/// Permanent errors fail the mail at once: `Rejected`, `InvalidInput`,
/// `NotFound`, `Unsupported`, `Unexpected`, and the setup errors `Auth`,
/// `Permission` and `Config`, which no retry can fix before someone changes
/// the setup; then `g360-mail outbox retry` ([`Outbox::retry`]) queues the
/// mail again. Temporary errors (`Throttled`, `Unavailable`) retry until
/// [`OutboxOptions::max_attempts`].
pub struct Worker {
    shared: Arc<Shared>,
}

struct Shared {
    outbox: Outbox,
    sender: Arc<dyn OutboxSender>,
    options: WorkerOptions,
    /// Mails a task of this worker is trying right now. A late lease renewal
    /// can let this same worker claim such a mail again; it must not start a
    /// second try of it (the lease cannot tell two tasks of one worker apart).
    in_progress: std::sync::Mutex<std::collections::HashSet<OutboxId>>,
}

/// Takes a mail out of [`Shared::in_progress`] when its try ends, however it ends.
struct InProgress {
    sh: Arc<Shared>,
    id: OutboxId,
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.sh.in_progress.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
    }
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("outbox", &self.shared.outbox)
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

/// How a run stops: `None` while running; `Some(grace)` once asked to stop,
/// with how long tries in flight may still take (`None` grace: as long as
/// they need).
type StopSignal = watch::Receiver<Option<Option<Duration>>>;

impl Worker {
    /// A worker for `outbox` sending through `sender`.
    pub fn new(outbox: Outbox, sender: Arc<dyn OutboxSender>, options: WorkerOptions) -> Self {
        Worker {
            shared: Arc::new(Shared { outbox, sender, options, in_progress: Default::default() }),
        }
    }

    /// The name this worker uses in leases and attempts.
    pub fn id(&self) -> &str {
        &self.shared.options.worker_id
    }

    /// Works until no mail is queued or sending (waiting for scheduled
    /// retries), then returns. Database errors end the run.
    pub async fn run_until_empty(&self) -> crate::Result<RunSummary> {
        let (_tx, rx) = watch::channel(None);
        self.drive(true, rx).await
    }

    /// Works until `shutdown` resolves, then finishes the sends in flight,
    /// gives back the mails not yet sent and returns. Database errors are
    /// logged and retried.
    pub async fn run(
        &self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> crate::Result<RunSummary> {
        let (tx, rx) = watch::channel(None);
        let run = self.drive(false, rx);
        let mut run = std::pin::pin!(run);
        tokio::select! {
            result = &mut run => return result,
            () = shutdown => {}
        }
        let _ = tx.send(Some(None));
        run.await
    }

    /// Runs the worker on its own task until [`WorkerHandle::shutdown`]:
    /// the way an application embeds the outbox. Database errors are logged
    /// and retried. Register [`Outbox::on_event`] first to follow each mail.
    pub fn spawn(self) -> WorkerHandle {
        self.spawn_inner(false)
    }

    /// Like [`spawn`](Self::spawn), but the task ends by itself once no mail
    /// is queued or sending ([`run_until_empty`](Self::run_until_empty)).
    pub fn spawn_until_empty(self) -> WorkerHandle {
        self.spawn_inner(true)
    }

    fn spawn_inner(self, until_empty: bool) -> WorkerHandle {
        let (stop, rx) = watch::channel(None);
        let id = self.id().to_owned();
        let task = tokio::spawn(async move { self.drive(until_empty, rx).await });
        WorkerHandle { id, stop, task: Some(task) }
    }

    async fn drive(&self, until_empty: bool, mut stop: StopSignal) -> crate::Result<RunSummary> {
        let sh = &self.shared;
        let outbox = &sh.outbox;
        let opts = outbox.options();
        let (stop_tx, stop_rx) = watch::channel(false);
        let (finisher, flusher) = Finisher::spawn(outbox.clone(), self.id().to_owned());
        let mut tasks: JoinSet<TryOutcome> = JoinSet::new();
        let mut summary = RunSummary::default();
        let concurrency = sh.options.concurrency.max(1);
        let result = loop {
            if stop.borrow().is_some() {
                break Ok(());
            }
            while let Some(done) = tasks.try_join_next() {
                record(&mut summary, done);
            }
            let free = concurrency.saturating_sub(tasks.len());
            let (exclude, hints_free_at) = outbox.hints().saturated();
            let mut db_failed = false;
            if free > 0 {
                let limit = free.min(usize::try_from(opts.batch_size.max(1)).unwrap_or(free));
                let plan = |mail: &ClaimedMail| self.plan(mail);
                let req = BatchClaim {
                    worker: self.id(),
                    limit: u32::try_from(limit).unwrap_or(u32::MAX),
                    lease: opts.lease,
                    exclude: &exclude,
                    rate: outbox.rate(),
                    max_in_flight: opts.max_in_flight_per_mailbox,
                    plan: &plan,
                };
                match outbox.store().claim_batch(&req).await {
                    Ok(batch) => {
                        let claimed = batch.mails.len();
                        for (mailbox, busy) in &batch.busy {
                            let until = match busy {
                                Busy::Until(at) => Instant::now() + until_ms(*at),
                                Busy::InFlight => Instant::now() + IN_FLIGHT_RECHECK,
                            };
                            outbox.hints().block(mailbox, until);
                        }
                        for mail in batch.mails {
                            self.start(&mut tasks, &mut summary, mail, &stop_rx, &finisher).await;
                        }
                        // Mailboxes found busy are excluded from now on:
                        // look again at once for the other mailboxes' mail.
                        if claimed == limit || !batch.busy.is_empty() {
                            continue;
                        }
                    }
                    Err(e) if until_empty => break Err(e),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot claim outbox mails");
                        db_failed = true;
                    }
                }
            }
            let due = if db_failed {
                None
            } else {
                match outbox.store().next_due().await {
                    Ok(due) => due,
                    Err(e) if until_empty => break Err(e),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the outbox");
                        None
                    }
                }
            };
            if until_empty && tasks.is_empty() && due.is_none() {
                break Ok(());
            }
            let mut wait = sh.options.poll_interval;
            if let Some(due) = due {
                let until_due = due - now_ms();
                if until_due > 0 {
                    wait = wait.min(Duration::from_millis(until_due.unsigned_abs()));
                } else if let Some(at) = hints_free_at {
                    wait = wait.min(at.saturating_duration_since(Instant::now()));
                } else if exclude.is_empty() {
                    wait = wait.min(MIN_IDLE);
                }
            }
            let wait = wait.max(MIN_IDLE);
            tokio::select! {
                Some(done) = tasks.join_next(), if !tasks.is_empty() => record(&mut summary, done),
                () = outbox.enqueued().notified() => {}
                () = outbox.hints().released().notified() => {}
                () = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
        };
        let _ = stop_tx.send(true);
        let grace = stop.borrow().flatten();
        let deadline = grace.map(|g| Instant::now() + g);
        loop {
            let next = match deadline {
                Some(d) => match tokio::time::timeout_at(d, tasks.join_next()).await {
                    Ok(next) => next,
                    Err(_) => break,
                },
                None => tasks.join_next().await,
            };
            match next {
                Some(done) => record(&mut summary, done),
                None => break,
            }
        }
        let cut_off = if tasks.is_empty() { Vec::new() } else { self.cut_off(&mut tasks).await };
        // Every result handed over is recorded before anything is given back.
        finisher.close(flusher).await;
        if !cut_off.is_empty() {
            summary.interrupted += self.give_back(cut_off).await;
        }
        result.map(|()| summary)
    }

    /// What the claim may do for `mail`: take its send slot at once when its
    /// route is known (mails that need a lookup first are never planned).
    fn plan(&self, mail: &ClaimedMail) -> Option<Plan> {
        let sender = &self.shared.sender;
        let mailbox = sender.mailbox(&mail.user).ok()?.to_ascii_lowercase();
        let guarantee = if sender.can_look_up(&mail.user) {
            Guarantee::ExactlyOnce
        } else {
            Guarantee::AtLeastOnce
        };
        Some(Plan { mailbox, guarantee })
    }

    /// Starts a task for a claimed mail, or gives the mail back when this
    /// process already tries as many mails of its mailbox as may be in flight.
    async fn start(
        &self,
        tasks: &mut JoinSet<TryOutcome>,
        summary: &mut RunSummary,
        mail: ClaimedMail,
        stop: &watch::Receiver<bool>,
        finisher: &Finisher,
    ) {
        let sh = &self.shared;
        let slot = match &mail.granted {
            // The database gave it a slot: it runs whatever this process plans.
            Some(granted) => Some(sh.outbox.hints().enter_granted(&granted.mailbox)),
            None => {
                let mailbox = match &mail.mailbox {
                    Some(m) => m.to_ascii_lowercase(),
                    None => sh.sender.mailbox(&mail.user).unwrap_or_default().to_ascii_lowercase(),
                };
                sh.outbox.hints().enter(&mailbox)
            }
        };
        let Some(slot) = slot else {
            let store = sh.outbox.store();
            let now = now_ms();
            match store.release(mail.id, self.id(), now, now, None).await {
                Ok(_) => summary.record(TryOutcome::Deferred),
                Err(e) => tracing::warn!(id = %mail.id, error = %e, "cannot give a mail back"),
            }
            return;
        };
        let fresh = sh.in_progress.lock().unwrap_or_else(|p| p.into_inner()).insert(mail.id);
        if fresh {
            let guard = InProgress { sh: Arc::clone(sh), id: mail.id };
            let finisher = finisher.clone();
            tasks.spawn(process(Arc::clone(sh), mail, stop.clone(), guard, slot, finisher));
        } else {
            tracing::warn!(id = %mail.id, "reclaimed a mail this worker is still trying; leaving it to that try");
        }
    }

    /// Cuts off the tries still running at the end of a grace period; returns
    /// their mails, to give back once the results handed over are recorded.
    async fn cut_off(&self, tasks: &mut JoinSet<TryOutcome>) -> Vec<OutboxId> {
        let sh = &self.shared;
        let ids: Vec<OutboxId> =
            sh.in_progress.lock().unwrap_or_else(|p| p.into_inner()).iter().copied().collect();
        tasks.shutdown().await;
        ids
    }

    /// Gives back the mails of tries cut off. A send cut off may have gone
    /// out: its mail keeps `needs_lookup`, so the next try looks it up first.
    async fn give_back(&self, ids: Vec<OutboxId>) -> u64 {
        let sh = &self.shared;
        let mut n = 0;
        for id in ids {
            let now = now_ms();
            match sh.outbox.store().release(id, self.id(), now, now, None).await {
                Ok(true) => n += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(%id, error = %e, "cannot give a mail back"),
            }
        }
        tracing::warn!(mails = n, "the grace period ended; tries in flight were cut off");
        n
    }
}

/// A worker running on its own task ([`Worker::spawn`]).
#[derive(Debug)]
pub struct WorkerHandle {
    id: String,
    stop: watch::Sender<Option<Option<Duration>>>,
    task: Option<tokio::task::JoinHandle<crate::Result<RunSummary>>>,
}

impl WorkerHandle {
    /// The worker's name in leases and attempts.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the worker's task ended (it only ends by itself when spawned
    /// with [`Worker::spawn_until_empty`], or on a database error there).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(tokio::task::JoinHandle::is_finished)
    }

    /// Waits for the worker to end by itself. Cancel-safe: dropping the
    /// future (say, in a `select!` with a signal) leaves the worker running
    /// for a later [`shutdown`](Self::shutdown).
    pub async fn wait(&mut self) -> crate::Result<RunSummary> {
        let Some(task) = self.task.as_mut() else { return Ok(RunSummary::default()) };
        let result = join(task).await;
        self.task = None;
        result
    }

    /// Stops the worker gracefully: it claims nothing more, gives back at
    /// once the mails that are waiting (for pacing or a lookup's settle
    /// delay), and lets sends in flight finish for up to `grace`. Tries still
    /// running then are cut off and their mails given back; a cut-off send
    /// may have gone out, so its mail is looked up before any resend. Nothing
    /// this worker held stays `sending`.
    pub async fn shutdown(mut self, grace: Duration) -> crate::Result<RunSummary> {
        let _ = self.stop.send(Some(Some(grace)));
        self.wait().await
    }
}

async fn join(
    task: &mut tokio::task::JoinHandle<crate::Result<RunSummary>>,
) -> crate::Result<RunSummary> {
    match task.await {
        Ok(result) => result,
        Err(e) => Err(Error::new(ErrorKind::Unexpected, "the outbox worker task failed")
            .with_provider(crate::PROVIDER)
            .with_code("outbox.worker")
            .with_source(e)),
    }
}

fn record(summary: &mut RunSummary, done: Result<TryOutcome, tokio::task::JoinError>) {
    match done {
        Ok(outcome) => summary.record(outcome),
        Err(e) if e.is_cancelled() => {}
        Err(e) => tracing::error!(error = %e, "an outbox task panicked; its lease will run out"),
    }
}

/// How long from now until `at` (milliseconds since the epoch).
fn until_ms(at: i64) -> Duration {
    Duration::from_millis((at - now_ms()).max(0).unsigned_abs())
}

/// One try at a claimed mail, with the lease renewed while it runs.
async fn process(
    sh: Arc<Shared>,
    mail: ClaimedMail,
    stop: watch::Receiver<bool>,
    _guard: InProgress,
    _slot: TaskSlot,
    finisher: Finisher,
) -> TryOutcome {
    let lease = sh.outbox.options().lease;
    let heartbeat = async {
        let mut every = tokio::time::interval((lease / 3).max(Duration::from_millis(10)));
        every.tick().await;
        loop {
            every.tick().await;
            match sh
                .outbox
                .store()
                .renew(mail.id, &sh.options.worker_id, after(now_ms(), lease))
                .await
            {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => tracing::warn!(id = %mail.id, error = %e, "cannot renew the lease"),
            }
        }
        tracing::warn!(id = %mail.id, "lost the lease of a mail");
        // Never cancel the try itself: a send already under way must end.
        std::future::pending::<()>().await;
    };
    tokio::select! {
        outcome = Try { sh: &sh, mail: &mail, stop, mailbox: None, finisher }.run() => outcome,
        () = heartbeat => TryOutcome::Abandoned,
    }
}

/// The answer to [`Try::take_slot`].
enum Slot {
    /// The mail holds a slot (for a send, the attempt's id).
    Granted(Option<i64>),
    /// Give the mail back, due at this time.
    Release(i64),
    /// The lease was lost or the database failed.
    Abandon,
}

enum Lookup {
    Found(Box<SendReceipt>),
    NotFound,
    Unsupported,
    Failed(Error),
    Stopped,
    /// No slot for the second look: give the mail back, due then.
    Release(i64),
    /// The lease was lost or the database failed.
    Abandon,
}

struct Try<'a> {
    sh: &'a Shared,
    mail: &'a ClaimedMail,
    stop: watch::Receiver<bool>,
    /// The sending mailbox, once known: whose counters the result adds to.
    mailbox: Option<String>,
    finisher: Finisher,
}

impl Try<'_> {
    fn opts(&self) -> &OutboxOptions {
        self.sh.outbox.options()
    }

    fn worker(&self) -> &str {
        &self.sh.options.worker_id
    }

    async fn run(mut self) -> TryOutcome {
        let mail = self.mail;
        if let Some(granted) = &mail.granted {
            return self.run_granted(granted).await;
        }
        let message = match document::decode(mail.format, &mail.document) {
            Ok(m) => m,
            Err(e) => return self.failed_before_send(&e, None).await,
        };
        let mailbox = match self.sh.sender.mailbox(&mail.user) {
            Ok(m) => m.to_ascii_lowercase(),
            Err(e) => return self.error_before_send(e, None).await,
        };
        self.mailbox = Some(mailbox.clone());
        let mut guarantee = if self.sh.sender.can_look_up(&mail.user) {
            Guarantee::ExactlyOnce
        } else {
            Guarantee::AtLeastOnce
        };
        if mail.needs_lookup {
            if guarantee == Guarantee::ExactlyOnce {
                match self.take_slot(&mailbox, SlotFor::Lookup).await {
                    Slot::Granted(_) => {}
                    Slot::Release(at) => return self.release(at, Some(&mailbox)).await,
                    Slot::Abandon => return TryOutcome::Abandoned,
                }
                match self.look_up(&mailbox).await {
                    Lookup::Found(receipt) => {
                        return self.sent(&receipt, true, guarantee, None).await;
                    }
                    Lookup::NotFound => {}
                    Lookup::Unsupported => guarantee = Guarantee::AtLeastOnce,
                    Lookup::Failed(e) => {
                        return self.error_before_send(e, Some(guarantee)).await;
                    }
                    Lookup::Stopped => return self.release(now_ms(), Some(&mailbox)).await,
                    Lookup::Release(at) => return self.release(at, Some(&mailbox)).await,
                    Lookup::Abandon => return TryOutcome::Abandoned,
                }
            }
            if mail.attempts >= self.opts().max_attempts {
                let why = StoredError::new(
                    ErrorKind::OutcomeUnknown.as_str(),
                    format!(
                        "gave up after {} attempts; the last one's outcome was unknown{}",
                        mail.attempts,
                        if guarantee == Guarantee::ExactlyOnce {
                            " and the mail is not in the sent mail"
                        } else {
                            " and the route cannot look sent mail up"
                        }
                    ),
                );
                let needs_lookup = guarantee == Guarantee::AtLeastOnce;
                return self.fail(why, needs_lookup, 0, Some(guarantee), None).await;
            }
            tracing::info!(id = %mail.id, uid = %mail.uid, %guarantee, "sending again after an unknown outcome");
        }

        let attempt = match self.take_slot(&mailbox, SlotFor::Send(guarantee)).await {
            Slot::Granted(Some(attempt)) => attempt,
            Slot::Granted(None) | Slot::Abandon => return TryOutcome::Abandoned,
            Slot::Release(at) => return self.release(at, Some(&mailbox)).await,
        };
        self.send(&message, &mailbox, guarantee, attempt).await
    }

    /// A try whose send slot the claim took: the attempt is recorded and the
    /// outcome marked unknown, so it sends at once.
    async fn run_granted(mut self, granted: &Granted) -> TryOutcome {
        self.mailbox = Some(granted.mailbox.clone());
        let message = match document::decode(self.mail.format, &self.mail.document) {
            Ok(m) => m,
            Err(e) => {
                // Nothing was sent: the attempt ends with the error.
                let why = gave_up(&e, self.mail.attempts + 1);
                let end = error_end(&e);
                return self
                    .fail(why, false, 0, Some(granted.guarantee), Some((granted.attempt, end)))
                    .await;
            }
        };
        self.send(&message, &granted.mailbox, granted.guarantee, granted.attempt).await
    }

    /// Sends once the mail holds its slot and its attempt is recorded.
    async fn send(
        &self,
        message: &g360_mail_core::OutgoingMessage,
        mailbox: &str,
        guarantee: Guarantee,
        attempt: i64,
    ) -> TryOutcome {
        let mail = self.mail;
        self.sh.outbox.emit(DeliveryEvent::Sending {
            id: mail.id,
            uid: mail.uid,
            attempt: mail.attempts.saturating_add(1),
        });
        let result = self.sh.sender.send(&mail.user, message).await;
        match result {
            Ok(receipt) => {
                let recovered = receipt.recovered;
                self.sent(&receipt, recovered, guarantee, Some(attempt)).await
            }
            Err(e) => {
                if e.kind() == ErrorKind::Throttled {
                    let pause = e.retry_after().unwrap_or(self.opts().base_backoff);
                    let pause = pause.min(self.opts().max_backoff);
                    self.sh.outbox.hints().block(mailbox, Instant::now() + pause);
                    if let Err(err) =
                        self.sh.outbox.store().pause(mailbox, after(now_ms(), pause)).await
                    {
                        tracing::warn!(error = %err, "cannot record a throttled mailbox");
                    }
                }
                self.error_after_send(e, guarantee, attempt).await
            }
        }
    }

    /// Takes one of the mailbox's slots in the database, waiting up to
    /// [`PACING_HOLD`] for one; otherwise says when to give the mail back.
    async fn take_slot(&mut self, mailbox: &str, slot: SlotFor) -> Slot {
        let outbox = &self.sh.outbox;
        let started = Instant::now();
        let mut poll = Duration::from_millis(20);
        loop {
            if *self.stop.borrow() {
                return Slot::Release(now_ms());
            }
            let released = outbox.hints().released().notified();
            let mut released = std::pin::pin!(released);
            released.as_mut().enable();
            let req = SlotRequest {
                id: self.mail.id,
                worker: self.worker(),
                mailbox,
                lease: self.opts().lease,
                slot,
                first_attempt: self.mail.attempts == 0,
                rate: outbox.rate(),
                max_in_flight: self.opts().max_in_flight_per_mailbox,
            };
            match outbox.store().acquire(&req).await {
                Ok(Acquired::Granted(attempt)) => return Slot::Granted(attempt),
                Ok(Acquired::Lost) => {
                    tracing::warn!(id = %self.mail.id, "lost the lease before sending");
                    return Slot::Abandon;
                }
                Err(e) => {
                    tracing::warn!(id = %self.mail.id, error = %e, "cannot take a slot; not sending");
                    return Slot::Abandon;
                }
                Ok(Acquired::Busy(Busy::Until(until))) => {
                    let wait = Duration::from_millis((until - now_ms()).max(0).unsigned_abs());
                    outbox.hints().block(mailbox, Instant::now() + wait);
                    if wait > PACING_HOLD {
                        return Slot::Release(until);
                    }
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        _ = self.stop.changed() => {}
                    }
                }
                Ok(Acquired::Busy(Busy::InFlight)) => {
                    let held = started.elapsed();
                    if held >= PACING_HOLD {
                        return Slot::Release(after(now_ms(), PACING_HOLD));
                    }
                    // Slots of other processes end unseen: poll, less often
                    // the longer it takes.
                    tokio::select! {
                        () = released => {}
                        () = tokio::time::sleep(poll.min(PACING_HOLD - held)) => {}
                        _ = self.stop.changed() => {}
                    }
                    poll = (poll * 2).min(Duration::from_millis(250));
                }
            }
        }
    }

    /// Looks the mail up; when absent, waits the settle delay (without
    /// holding a slot of the mailbox) and looks again.
    async fn look_up(&mut self, mailbox: &str) -> Lookup {
        match self.find().await {
            Lookup::NotFound => {}
            other => return other,
        }
        let store = self.sh.outbox.store();
        if let Err(e) = store.end_slot(self.mail.id, self.worker()).await {
            tracing::warn!(id = %self.mail.id, error = %e, "cannot give a slot back");
        }
        self.sh.outbox.hints().released().notify_waiters();
        tokio::select! {
            () = tokio::time::sleep(self.opts().settle_delay) => {}
            _ = self.stop.changed() => return Lookup::Stopped,
        }
        match self.take_slot(mailbox, SlotFor::Lookup).await {
            Slot::Granted(_) => {}
            Slot::Release(at) => return Lookup::Release(at),
            Slot::Abandon => return Lookup::Abandon,
        }
        self.find().await
    }

    async fn find(&self) -> Lookup {
        let mail = self.mail;
        let started = now_ms();
        let result = self.sh.sender.find_sent(&mail.user, mail.uid).await;
        let (lookup, end) = match result {
            Ok(Some(receipt)) => {
                let end = AttemptEnd {
                    result: Some(AttemptResult::Found),
                    route: receipt.route.clone(),
                    request_id: receipt.request_id.clone(),
                    ..AttemptEnd::default()
                };
                (Lookup::Found(Box::new(receipt)), end)
            }
            Ok(None) => (
                Lookup::NotFound,
                AttemptEnd { result: Some(AttemptResult::NotFound), ..AttemptEnd::default() },
            ),
            Err(e) => {
                let end = error_end(&e);
                if e.kind() == ErrorKind::Unsupported {
                    (Lookup::Unsupported, end)
                } else {
                    (Lookup::Failed(e), end)
                }
            }
        };
        let store = self.sh.outbox.store();
        if let Err(e) = store.record_lookup(mail.id, self.worker(), started, now_ms(), &end).await {
            tracing::warn!(id = %mail.id, error = %e, "cannot record a lookup");
        }
        lookup
    }

    async fn sent(
        &self,
        receipt: &SendReceipt,
        recovered: bool,
        guarantee: Guarantee,
        attempt: Option<i64>,
    ) -> TryOutcome {
        let request_id = receipt.request_id.clone().or_else(|| receipt.client_request_id.clone());
        let finish = Finish {
            state: MailState::Sent,
            needs_lookup: false,
            extra_attempts: 0,
            next_attempt_at: now_ms(),
            sent_at: Some(receipt.accepted_at.as_millisecond()),
            guarantee: Some(guarantee),
            route: receipt.route.clone(),
            provider: Some(receipt.provider.clone()),
            internet_message_id: Some(receipt.internet_message_id.clone()),
            request_id: request_id.clone(),
            server_reply: receipt.server_reply.clone(),
            recovered,
            error: None,
            tally: self.tally(Tally { sent: 1, ..Tally::default() }),
            attempt: attempt.map(|a| {
                (
                    a,
                    AttemptEnd {
                        result: Some(AttemptResult::Sent),
                        route: receipt.route.clone(),
                        error: None,
                        request_id,
                        server_reply: receipt.server_reply.clone(),
                    },
                )
            }),
        };
        if self.finish(finish).await {
            tracing::info!(id = %self.mail.id, uid = %self.mail.uid, recovered, "mail sent");
            self.sh.outbox.emit(DeliveryEvent::Sent {
                id: self.mail.id,
                uid: self.mail.uid,
                receipt: Box::new(receipt.clone()),
                recovered,
            });
            TryOutcome::Sent { recovered }
        } else {
            TryOutcome::Abandoned
        }
    }

    /// An error from setting up the try or from a lookup: nothing was sent now.
    async fn error_before_send(&self, e: Error, guarantee: Option<Guarantee>) -> TryOutcome {
        let tries = self.mail.attempts + 1;
        if transient(&e) && tries < self.opts().max_attempts {
            let next = after(now_ms(), backoff(self.opts(), tries, e.retry_after()));
            self.retry(&e, next, self.mail.needs_lookup, 1, guarantee, None).await
        } else {
            self.failed_before_send(&e, guarantee).await
        }
    }

    async fn failed_before_send(&self, e: &Error, guarantee: Option<Guarantee>) -> TryOutcome {
        let why = gave_up(e, self.mail.attempts + 1);
        self.fail(why, self.mail.needs_lookup, 1, guarantee, None).await
    }

    async fn error_after_send(&self, e: Error, guarantee: Guarantee, attempt: i64) -> TryOutcome {
        let tries = self.mail.attempts + 1;
        let maybe_delivered = !(e.is_not_delivered()
            || matches!(
                e.kind(),
                ErrorKind::Throttled
                    | ErrorKind::Unavailable
                    | ErrorKind::Rejected
                    | ErrorKind::InvalidInput
                    | ErrorKind::Auth
                    | ErrorKind::Permission
                    | ErrorKind::Config
                    | ErrorKind::NotFound
                    | ErrorKind::Unsupported
            ));
        let end = error_end(&e);
        let unknown = e.kind() == ErrorKind::OutcomeUnknown;
        // An unknown outcome is always followed by a lookup where the route
        // has one, even past the attempt budget: the lookup decides.
        let retry = (transient(&e) && tries < self.opts().max_attempts)
            || (unknown
                && (guarantee == Guarantee::ExactlyOnce || tries < self.opts().max_attempts));
        if unknown {
            tracing::warn!(id = %self.mail.id, uid = %self.mail.uid, error = %e, "outcome unknown; will look the mail up before any resend");
        }
        if retry {
            let next = after(now_ms(), backoff(self.opts(), tries, e.retry_after()));
            self.retry(&e, next, maybe_delivered, 0, Some(guarantee), Some((attempt, end))).await
        } else {
            let why = gave_up(&e, tries);
            self.fail(why, maybe_delivered, 0, Some(guarantee), Some((attempt, end))).await
        }
    }

    async fn retry(
        &self,
        e: &Error,
        next_attempt_at: i64,
        needs_lookup: bool,
        extra_attempts: i32,
        guarantee: Option<Guarantee>,
        attempt: Option<(i64, AttemptEnd)>,
    ) -> TryOutcome {
        let unknown = e.kind() == ErrorKind::OutcomeUnknown;
        let error = StoredError::from_error(e);
        let finish = Finish {
            state: MailState::Queued,
            needs_lookup,
            extra_attempts,
            next_attempt_at,
            guarantee,
            error: Some(error.clone()),
            attempt,
            tally: self.tally(Tally {
                retried: 1,
                unknown: i64::from(unknown),
                ..Tally::default()
            }),
            ..empty_finish()
        };
        tracing::info!(id = %self.mail.id, error = %e, "mail will be retried");
        if !self.finish(finish).await {
            return TryOutcome::Abandoned;
        }
        let (id, uid, next_attempt_at) = (self.mail.id, self.mail.uid, ts(next_attempt_at));
        self.sh.outbox.emit(if unknown {
            DeliveryEvent::OutcomeUnknown { id, uid, error, next_attempt_at }
        } else {
            DeliveryEvent::Retried { id, uid, error, next_attempt_at }
        });
        TryOutcome::Retried
    }

    async fn fail(
        &self,
        why: StoredError,
        needs_lookup: bool,
        extra_attempts: i32,
        guarantee: Option<Guarantee>,
        attempt: Option<(i64, AttemptEnd)>,
    ) -> TryOutcome {
        tracing::warn!(id = %self.mail.id, uid = %self.mail.uid, error = %why, "mail failed");
        let unknown = attempt.is_some() && why.kind == ErrorKind::OutcomeUnknown.as_str();
        let finish = Finish {
            state: MailState::Failed,
            needs_lookup,
            extra_attempts,
            next_attempt_at: now_ms(),
            guarantee,
            error: Some(why.clone()),
            attempt,
            tally: self.tally(Tally { failed: 1, unknown: i64::from(unknown), ..Tally::default() }),
            ..empty_finish()
        };
        if !self.finish(finish).await {
            return TryOutcome::Abandoned;
        }
        self.sh.outbox.emit(DeliveryEvent::Failed {
            id: self.mail.id,
            uid: self.mail.uid,
            error: why,
        });
        TryOutcome::Failed
    }

    fn tally(&self, tally: Tally) -> Option<(String, Tally)> {
        self.mailbox.clone().map(|m| (m, tally))
    }

    async fn release(&self, at: i64, mailbox: Option<&str>) -> TryOutcome {
        let store = self.sh.outbox.store();
        match store.release(self.mail.id, self.worker(), at, now_ms(), mailbox).await {
            Ok(_) => TryOutcome::Deferred,
            Err(e) => {
                tracing::warn!(id = %self.mail.id, error = %e, "cannot give a mail back");
                TryOutcome::Abandoned
            }
        }
    }

    /// Records the try's end (with other tries' ends, in one transaction)
    /// and waits until it is committed.
    async fn finish(&self, finish: Finish) -> bool {
        match self.finisher.finish(self.mail.id, finish).await {
            Ok(true) => true,
            Ok(false) => {
                tracing::warn!(id = %self.mail.id, "lost the lease; the result was not recorded");
                false
            }
            Err(e) => {
                // The lease runs out and the next try looks the mail up first.
                tracing::warn!(id = %self.mail.id, error = %e, "cannot record the result");
                false
            }
        }
    }
}

fn empty_finish() -> Finish {
    Finish {
        state: MailState::Queued,
        needs_lookup: false,
        extra_attempts: 0,
        next_attempt_at: 0,
        sent_at: None,
        guarantee: None,
        route: None,
        provider: None,
        internet_message_id: None,
        request_id: None,
        server_reply: None,
        recovered: false,
        error: None,
        attempt: None,
        tally: None,
    }
}

fn error_end(e: &Error) -> AttemptEnd {
    AttemptEnd {
        result: Some(AttemptResult::Error),
        route: e.context_value("integration").map(str::to_owned),
        error: Some(StoredError::from_error(e)),
        request_id: e
            .context_value("request_id")
            .or_else(|| e.context_value("client_request_id"))
            .map(str::to_owned),
        server_reply: e
            .context_value("reply")
            .map(str::to_owned)
            .or_else(|| e.smtp_code().map(|c| c.to_string())),
    }
}

/// Whether a later attempt may succeed. A provider marks its own errors
/// persistent once *its* retries are exhausted (seconds); the outbox retries on
/// a scale of minutes, so a persistent error stays worth retrying here. Only a
/// permanent one is final.
fn transient(e: &Error) -> bool {
    e.status() != ErrorStatus::Permanent
}

fn gave_up(e: &Error, tries: u32) -> StoredError {
    let mut stored = StoredError::from_error(e);
    if transient(e) {
        stored.message = format!("gave up after {tries} attempts: {}", stored.message);
    }
    stored
}

/// The delay before attempt `attempts + 1`: the provider's `Retry-After` when
/// it gave one (plus up to 10 % jitter, never less), otherwise exponential
/// from `base_backoff`, capped at `max_backoff`, with "equal jitter" (half
/// fixed, half random) so mails failing together do not retry together.
pub(crate) fn backoff(o: &OutboxOptions, attempts: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(ra) = retry_after {
        let ra = Backoff::clamp_server_delay(ra);
        return ra.saturating_add(jitter(ra / 10));
    }
    Backoff::new(o.base_backoff, o.max_backoff).delay(attempts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_honours_retry_after() {
        let o = OutboxOptions {
            base_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(60),
            ..OutboxOptions::default()
        };
        for (attempts, full) in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60)] {
            let d = backoff(&o, attempts, None);
            let full = Duration::from_secs(full);
            assert!(d >= full / 2 && d <= full, "{attempts}: {d:?}");
        }
        let ra = Duration::from_secs(120);
        let d = backoff(&o, 1, Some(ra));
        assert!(d >= ra && d <= ra + ra / 10, "{d:?}");
    }
}
