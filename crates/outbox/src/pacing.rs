//! Per-mailbox limits: at most N sends started per rolling window and at most
//! M requests in flight, per sending mailbox, over every worker of every
//! process that shares the outbox database.
//!
//! Exchange Online allows 30 messages per minute and 4 concurrent requests per
//! mailbox; going over earns 429s that still count against the mailbox. The
//! database is the authority (see the store's `acquire`): each mailbox has a
//! row with the sends started in the current window, and a mail holds an
//! in-flight slot while its `in_flight` flag is set and its lease is alive.
//! [`RateWindow`] is the arithmetic of that row; [`LocalHints`] is what one
//! process remembers between claims so it does not claim mails it could not
//! start anyway.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Into how many buckets a window is cut.
const BUCKETS: i64 = 60;

/// The least margin added to the window, for the delay between taking a slot
/// (the commit) and the provider receiving the request. The margin is at
/// least one bucket (1 s of a minute), and at most a fifth of the window.
const MIN_MARGIN_MS: i64 = 100;

/// Why a mailbox cannot start a send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Busy {
    /// Too many requests in flight: wait for one to end.
    InFlight,
    /// The window is full (or the provider asked us to wait): not before this
    /// time (milliseconds since the epoch).
    Until(i64),
}

/// The rolling-window arithmetic: sends started are counted per bucket of
/// `window / 60`, stored as `bucket:count` pairs (some 60 of them, however
/// high the limit). A start counts until it is older than the window plus a
/// margin of at least one bucket, so pacing errs on the strict side by up to
/// two buckets (1/30 of the window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateWindow {
    per_window: u64,
    bucket_ms: i64,
    /// How many buckets before the current one count.
    span: i64,
}

impl RateWindow {
    pub(crate) fn new(per_window: u32, window: Duration) -> Self {
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX / 4).max(1);
        let bucket_ms = ((window_ms + BUCKETS - 1) / BUCKETS).max(1);
        let margin = bucket_ms.max(MIN_MARGIN_MS.min(window_ms / 5));
        // A start older than `span` whole buckets is at least window +
        // margin old.
        let span = (window_ms + margin + bucket_ms - 1) / bucket_ms;
        RateWindow { per_window: u64::from(per_window.max(1)), bucket_ms, span }
    }

    fn parse(&self, starts: &str, current: i64) -> Vec<(i64, u64)> {
        let mut counts: Vec<(i64, u64)> = starts
            .split(',')
            .filter_map(|pair| {
                let (b, n) = pair.split_once(':')?;
                Some((b.trim().parse().ok()?, n.trim().parse().ok()?))
            })
            .filter(|(b, _)| *b >= current.saturating_sub(self.span))
            .collect();
        counts.sort_unstable();
        counts
    }

    fn render(counts: &[(i64, u64)]) -> String {
        counts.iter().map(|(b, n)| format!("{b}:{n}")).collect::<Vec<_>>().join(",")
    }

    /// Starts a send at `now` if the window has room: `Ok` with the new
    /// `starts` text, or `Err` with the time the window next has room.
    pub(crate) fn admit(&self, starts: &str, now: i64) -> Result<String, i64> {
        let current = now.div_euclid(self.bucket_ms);
        let mut counts = self.parse(starts, current);
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        if total < self.per_window {
            match counts.iter_mut().find(|(b, _)| *b == current) {
                Some((_, n)) => *n += 1,
                None => {
                    counts.push((current, 1));
                    counts.sort_unstable();
                }
            }
            return Ok(Self::render(&counts));
        }
        // The oldest buckets must leave the window until one send fits.
        let mut left = total;
        for (bucket, n) in &counts {
            left -= n;
            if left < self.per_window {
                return Err(bucket.saturating_add(self.span + 1).saturating_mul(self.bucket_ms));
            }
        }
        Err(now.saturating_add(self.bucket_ms))
    }

    /// Sends started in the window ending at `now`, as counted.
    pub(crate) fn started(&self, starts: &str, now: i64) -> u64 {
        self.parse(starts, now.div_euclid(self.bucket_ms)).iter().map(|(_, n)| n).sum()
    }
}

#[derive(Debug, Default)]
struct MailboxHint {
    /// Tries of this process that hold or wait for a slot of the mailbox.
    tasks: u32,
    /// The database said the mailbox may start no send before this.
    blocked_until: Option<Instant>,
}

/// What one process knows about its mailboxes between claims: how many of its
/// own tries use each, and which ones the database said are blocked.
#[derive(Debug)]
pub(crate) struct LocalHints {
    max_in_flight: u32,
    mailboxes: Mutex<HashMap<String, MailboxHint>>,
    released: Notify,
}

impl LocalHints {
    pub(crate) fn new(max_in_flight: u32) -> Self {
        LocalHints {
            max_in_flight: max_in_flight.max(1),
            mailboxes: Mutex::new(HashMap::new()),
            released: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, MailboxHint>> {
        // A panic while holding this lock leaves counters that are still
        // consistent enough to plan claims by.
        self.mailboxes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a try of this process for `mailbox`; `None` when the process
    /// already has as many as the mailbox may have in flight.
    pub(crate) fn enter(self: &std::sync::Arc<Self>, mailbox: &str) -> Option<TaskSlot> {
        let key = mailbox.to_ascii_lowercase();
        let mut map = self.lock();
        let hint = map.entry(key.clone()).or_default();
        if hint.tasks >= self.max_in_flight {
            return None;
        }
        hint.tasks += 1;
        Some(TaskSlot { hints: std::sync::Arc::clone(self), mailbox: key })
    }

    /// Counts a try of this process for `mailbox` that already holds a slot
    /// in the database, however many this process already runs.
    pub(crate) fn enter_granted(self: &std::sync::Arc<Self>, mailbox: &str) -> TaskSlot {
        let key = mailbox.to_ascii_lowercase();
        self.lock().entry(key.clone()).or_default().tasks += 1;
        TaskSlot { hints: std::sync::Arc::clone(self), mailbox: key }
    }

    /// Remembers that `mailbox` may start nothing before `until`.
    pub(crate) fn block(&self, mailbox: &str, until: Instant) {
        let mut map = self.lock();
        let hint = map.entry(mailbox.to_ascii_lowercase()).or_default();
        if hint.blocked_until.is_none_or(|t| t < until) {
            hint.blocked_until = Some(until);
        }
    }

    /// The mailboxes whose mails this process should not claim now, and the
    /// earliest time one of them is unblocked, if any waits for a time.
    /// Forgets idle mailboxes.
    pub(crate) fn saturated(&self) -> (Vec<String>, Option<Instant>) {
        let now = Instant::now();
        let mut map = self.lock();
        let mut busy = Vec::new();
        let mut earliest: Option<Instant> = None;
        map.retain(|mailbox, hint| {
            if hint.blocked_until.is_some_and(|t| t <= now) {
                hint.blocked_until = None;
            }
            if let Some(t) = hint.blocked_until {
                busy.push(mailbox.clone());
                earliest = Some(earliest.map_or(t, |e| e.min(t)));
            } else if hint.tasks >= self.max_in_flight {
                busy.push(mailbox.clone());
            }
            hint.tasks > 0 || hint.blocked_until.is_some()
        });
        (busy, earliest)
    }

    /// Notified when a try of this process ends or gives a slot back (create
    /// the future before checking).
    pub(crate) fn released(&self) -> &Notify {
        &self.released
    }
}

/// A try of this process for a mailbox; dropping it ends it.
#[derive(Debug)]
pub(crate) struct TaskSlot {
    hints: std::sync::Arc<LocalHints>,
    mailbox: String,
}

impl Drop for TaskSlot {
    fn drop(&mut self) {
        {
            let mut map = self.hints.lock();
            if let Some(hint) = map.get_mut(&self.mailbox) {
                hint.tasks = hint.tasks.saturating_sub(1);
            }
        }
        self.hints.released.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn the_window_admits_n_then_waits_for_the_oldest_bucket() {
        let w = RateWindow::new(3, Duration::from_secs(60));
        let mut starts = String::new();
        for t in [0, 500, 1_200] {
            starts = w.admit(&starts, t).unwrap();
        }
        assert_eq!(w.started(&starts, 1_300), 3);
        // Bucket 0 (two sends) leaves once 62 buckets of 1 s have passed.
        assert_eq!(w.admit(&starts, 30_000), Err(62_000));
        assert_eq!(w.admit(&starts, 61_999), Err(62_000));
        let starts = w.admit(&starts, 62_000).unwrap();
        assert_eq!(w.started(&starts, 62_000), 2);
    }

    #[test]
    fn no_window_ever_holds_more_than_the_limit() {
        let w = RateWindow::new(7, Duration::from_millis(1_000));
        let mut starts = String::new();
        let mut admitted = Vec::new();
        for t in (0..20_000).step_by(13) {
            if let Ok(s) = w.admit(&starts, t) {
                starts = s;
                admitted.push(t);
            }
        }
        for (i, a) in admitted.iter().enumerate() {
            let n = admitted[i..].iter().take_while(|t| **t < a + 1_000).count();
            assert!(n <= 7, "{n} starts in the window from {a}");
        }
        // Not much stricter than the limit either: 7 per window and a margin.
        assert!(admitted.len() >= 7 * 17, "{}", admitted.len());
        // The text stays small however long it runs.
        assert!(starts.split(',').count() <= 64);
    }

    #[tokio::test(start_paused = true)]
    async fn a_process_plans_no_more_tries_than_slots() {
        let hints = Arc::new(LocalHints::new(2));
        let a = hints.enter("A@x").unwrap();
        let _b = hints.enter("a@x").unwrap();
        assert!(hints.enter("a@x").is_none());
        assert_eq!(hints.saturated(), (vec!["a@x".to_owned()], None));
        drop(a);
        assert!(hints.saturated().0.is_empty());
        let until = Instant::now() + Duration::from_secs(5);
        hints.block("b@x", until);
        assert_eq!(hints.saturated(), (vec!["b@x".to_owned()], Some(until)));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(hints.saturated().0.is_empty());
    }
}
