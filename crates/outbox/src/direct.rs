//! [`DirectSlot`]: sends made outside the outbox count against the same
//! per-mailbox limits as the outbox's own.

use std::fmt;
use std::time::Duration;

use g360_mail_core::{Error, ErrorKind, Result};
use tokio::task::JoinHandle;

use crate::outbox::{Outbox, after, now_ms};
use crate::pacing::Busy;

/// A slot of a mailbox's limits held by a send made outside the outbox
/// (the bridge's `send_as`): one request in flight and one start in the rate
/// window, shared with every outbox worker on the same database. Its lease is
/// renewed while it is held; end it with [`DirectSlot::release`] (dropping it
/// releases it too, in the background). A process that dies holding it loses
/// it when the lease runs out.
pub struct DirectSlot {
    outbox: Outbox,
    id: i64,
    mailbox: String,
    heartbeat: JoinHandle<()>,
    released: bool,
}

impl fmt::Debug for DirectSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectSlot").field("id", &self.id).field("mailbox", &self.mailbox).finish()
    }
}

impl Outbox {
    /// Takes a slot of `mailbox`'s limits for a send made outside the outbox,
    /// waiting for it up to `max_wait`. When the mailbox is still at its
    /// limits then, the error is `Throttled` with the time it frees as
    /// `retry_after` (nothing was sent).
    pub async fn direct_slot(&self, mailbox: &str, max_wait: Duration) -> Result<DirectSlot> {
        let mailbox = mailbox.to_ascii_lowercase();
        let holder = format!("direct-pid{}", std::process::id());
        let opts = self.options();
        let deadline = tokio::time::Instant::now() + max_wait;
        let mut poll = Duration::from_millis(20);
        loop {
            let answer = self
                .store()
                .acquire_direct(
                    &mailbox,
                    &holder,
                    opts.lease,
                    self.rate(),
                    opts.max_in_flight_per_mailbox,
                )
                .await?;
            let wait = match answer {
                Ok(id) => return Ok(DirectSlot::start(self.clone(), id, mailbox)),
                Err(Busy::InFlight) => {
                    let wait = poll;
                    poll = (poll * 2).min(Duration::from_millis(250));
                    wait
                }
                Err(Busy::Until(until)) => {
                    Duration::from_millis((until - now_ms()).max(1).unsigned_abs())
                }
            };
            let now = tokio::time::Instant::now();
            if now + wait > deadline {
                return Err(Error::new(
                    ErrorKind::Throttled,
                    "the mailbox is at its sending limits (shared with the outbox)",
                )
                .with_provider(crate::PROVIDER)
                .with_code("outbox.mailbox-busy")
                .with_context("mailbox", &mailbox)
                .with_retry_after(wait)
                .with_remedy(
                    "send later, or queue the mail with the outbox (send --queue), which waits \
                     for the mailbox by itself",
                ));
            }
            tokio::time::sleep(wait).await;
        }
    }
}

impl DirectSlot {
    fn start(outbox: Outbox, id: i64, mailbox: String) -> Self {
        let lease = outbox.options().lease;
        let renew = outbox.clone();
        let heartbeat = tokio::spawn(async move {
            let mut every = tokio::time::interval((lease / 3).max(Duration::from_millis(10)));
            every.tick().await;
            loop {
                every.tick().await;
                if let Err(e) = renew.store().renew_direct(id, after(now_ms(), lease)).await {
                    tracing::warn!(error = %e, "cannot renew a direct send's slot");
                }
            }
        });
        DirectSlot { outbox, id, mailbox, heartbeat, released: false }
    }

    /// The mailbox whose slot this is.
    pub fn mailbox(&self) -> &str {
        &self.mailbox
    }

    /// Ends the slot. When the provider throttled the send, pass how long it
    /// asked to wait: the outbox's workers then pause the mailbox as well.
    pub async fn release(mut self, throttled_for: Option<Duration>) -> Result<()> {
        self.heartbeat.abort();
        self.released = true;
        if let Some(pause) = throttled_for {
            let pause = pause.min(self.outbox.options().max_backoff);
            self.outbox.store().pause(&self.mailbox, after(now_ms(), pause)).await?;
        }
        self.outbox.store().release_direct(self.id).await
    }
}

impl Drop for DirectSlot {
    fn drop(&mut self) {
        self.heartbeat.abort();
        if self.released {
            return;
        }
        let (outbox, id) = (self.outbox.clone(), self.id);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = outbox.store().release_direct(id).await {
                    tracing::warn!(error = %e, "cannot release a direct send's slot");
                }
            });
        }
    }
}
