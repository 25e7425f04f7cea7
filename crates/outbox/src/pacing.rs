//! Per-mailbox pacing: at most N sends started per rolling window and at most
//! M in flight, per sending mailbox, within one process.
//!
//! Exchange Online allows 30 messages per minute and 4 concurrent requests per
//! mailbox; going over earns 429s that still count against the mailbox. The
//! pacer lives in the [`Outbox`](crate::Outbox), so every worker of one
//! process shares it; workers in other processes pace on their own. It runs on
//! `tokio::time`, so a test can drive it with a paused clock.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Why a mailbox cannot start a send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Busy {
    /// Too many sends in flight: wait for one to end.
    InFlight,
    /// The window is full (or the provider asked us to wait): not before this.
    Until(Instant),
}

#[derive(Debug, Default)]
struct MailboxPace {
    starts: VecDeque<Instant>,
    in_flight: u32,
    paused_until: Option<Instant>,
}

/// Pacing state of every mailbox this process sends from.
#[derive(Debug)]
pub(crate) struct Pacer {
    per_window: u32,
    window: Duration,
    max_in_flight: u32,
    mailboxes: Mutex<HashMap<String, MailboxPace>>,
    released: Notify,
}

impl Pacer {
    pub(crate) fn new(per_window: u32, window: Duration, max_in_flight: u32) -> Self {
        Pacer {
            per_window: per_window.max(1),
            window,
            max_in_flight: max_in_flight.max(1),
            mailboxes: Mutex::new(HashMap::new()),
            released: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, MailboxPace>> {
        // A panic while holding this lock leaves counters that are still
        // consistent enough to pace by.
        self.mailboxes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check(&self, pace: &mut MailboxPace, now: Instant) -> Result<(), Busy> {
        while pace.starts.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            pace.starts.pop_front();
        }
        if let Some(until) = pace.paused_until {
            if until > now {
                return Err(Busy::Until(until));
            }
            pace.paused_until = None;
        }
        if pace.in_flight >= self.max_in_flight {
            return Err(Busy::InFlight);
        }
        if pace.starts.len() >= self.per_window as usize {
            return Err(Busy::Until(pace.starts[0] + self.window));
        }
        Ok(())
    }

    /// Starts a send from `mailbox` now, or says why not.
    pub(crate) fn try_start(self: &Arc<Self>, mailbox: &str) -> Result<PacePermit, Busy> {
        let key = mailbox.to_ascii_lowercase();
        let now = Instant::now();
        let mut map = self.lock();
        let pace = map.entry(key.clone()).or_default();
        self.check(pace, now)?;
        pace.starts.push_back(now);
        pace.in_flight += 1;
        Ok(PacePermit { pacer: Arc::clone(self), mailbox: key, started: now })
    }

    /// Holds every send from `mailbox` until `until` (the provider throttled it).
    pub(crate) fn pause(&self, mailbox: &str, until: Instant) {
        let mut map = self.lock();
        let pace = map.entry(mailbox.to_ascii_lowercase()).or_default();
        if pace.paused_until.is_none_or(|t| t < until) {
            pace.paused_until = Some(until);
        }
    }

    /// The mailboxes that cannot start a send now (workers claim no mail of
    /// theirs), and the earliest time one of them waits for, if any waits for
    /// a time rather than for a send to end. Forgets idle mailboxes.
    pub(crate) fn saturated(&self) -> (Vec<String>, Option<Instant>) {
        let now = Instant::now();
        let mut map = self.lock();
        let mut busy = Vec::new();
        let mut earliest: Option<Instant> = None;
        map.retain(|mailbox, pace| {
            match self.check(pace, now) {
                Ok(()) => {}
                Err(Busy::InFlight) => busy.push(mailbox.clone()),
                Err(Busy::Until(t)) => {
                    busy.push(mailbox.clone());
                    earliest = Some(earliest.map_or(t, |e| e.min(t)));
                }
            }
            pace.in_flight > 0 || !pace.starts.is_empty() || pace.paused_until.is_some()
        });
        (busy, earliest)
    }

    /// Resolves after some send ended (use with [`Notify::notified`] semantics:
    /// create the future before checking).
    pub(crate) fn released(&self) -> &Notify {
        &self.released
    }
}

/// A started send; dropping it ends the send for the in-flight count.
#[derive(Debug)]
pub(crate) struct PacePermit {
    pacer: Arc<Pacer>,
    mailbox: String,
    started: Instant,
}

impl PacePermit {
    /// Moves this send's start to now, just before the request goes out, so
    /// the time spent recording the attempt does not let the next send start
    /// early. Moving starts later only makes the pacing stricter.
    pub(crate) fn restart(&mut self) {
        let now = Instant::now();
        let mut map = self.pacer.lock();
        if let Some(pace) = map.get_mut(&self.mailbox) {
            if let Some(i) = pace.starts.iter().position(|t| *t == self.started) {
                pace.starts.remove(i);
            }
            let at = pace.starts.partition_point(|t| *t <= now);
            pace.starts.insert(at, now);
        }
        self.started = now;
    }
}

impl Drop for PacePermit {
    fn drop(&mut self) {
        {
            let mut map = self.pacer.lock();
            if let Some(pace) = map.get_mut(&self.mailbox) {
                pace.in_flight = pace.in_flight.saturating_sub(1);
            }
        }
        self.pacer.released.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn limits_rate_and_in_flight_per_mailbox() {
        let pacer = Arc::new(Pacer::new(3, Duration::from_secs(60), 2));
        let a = pacer.try_start("A@x").unwrap();
        let b = pacer.try_start("a@x").unwrap();
        assert_eq!(pacer.try_start("a@x").unwrap_err(), Busy::InFlight);
        assert!(pacer.try_start("b@x").is_ok(), "other mailboxes are not affected");
        assert_eq!(pacer.saturated(), (vec!["a@x".to_owned()], None));
        drop(a);
        let start = Instant::now();
        let c = pacer.try_start("a@x").unwrap();
        drop((b, c));
        assert_eq!(
            pacer.try_start("a@x").unwrap_err(),
            Busy::Until(start + Duration::from_secs(60))
        );
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(pacer.try_start("a@x").is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_the_mailbox() {
        let pacer = Arc::new(Pacer::new(30, Duration::from_secs(60), 4));
        let until = Instant::now() + Duration::from_secs(5);
        pacer.pause("a@x", until);
        assert_eq!(pacer.try_start("a@x").unwrap_err(), Busy::Until(until));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(pacer.try_start("a@x").is_ok());
        assert!(pacer.saturated().0.is_empty());
    }
}
