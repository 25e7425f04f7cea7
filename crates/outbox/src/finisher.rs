//! [`Finisher`]: records the results of a worker's tries in batches (group
//! commit), so that many mails share one transaction and one commit.
//!
//! A try hands its result over and waits until the transaction holding it
//! committed; only then does it report the result (a delivery event) and
//! free its place. A result not yet committed when the process dies is
//! simply lost: the mail is still `sending` with its outcome unknown, so the
//! next worker looks it up before any resend, exactly as after a death
//! during the send itself.

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::OutboxId;
use crate::outbox::{Outbox, now_ms};
use crate::store::Finish;

/// A result waiting to be recorded.
struct Pending {
    id: OutboxId,
    finish: Finish,
    done: oneshot::Sender<crate::Result<bool>>,
}

/// Hands results over to the worker's flush task. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Finisher {
    tx: mpsc::UnboundedSender<Pending>,
    outbox: Outbox,
    worker: std::sync::Arc<str>,
}

impl std::fmt::Debug for Finisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finisher").field("worker", &self.worker).finish_non_exhaustive()
    }
}

impl Finisher {
    /// Starts the flush task of `worker` on the current runtime.
    pub(crate) fn spawn(outbox: Outbox, worker: String) -> (Finisher, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let worker: std::sync::Arc<str> = worker.into();
        let task = tokio::spawn(flush_loop(outbox.clone(), std::sync::Arc::clone(&worker), rx));
        (Finisher { tx, outbox, worker }, task)
    }

    /// Records `finish` for mail `id` with the next batch and waits for its
    /// commit: whether the worker still held the mail (nothing is written
    /// for a mail it lost).
    pub(crate) async fn finish(&self, id: OutboxId, finish: Finish) -> crate::Result<bool> {
        let (done, answer) = oneshot::channel();
        match self.tx.send(Pending { id, finish, done }) {
            Ok(()) => match answer.await {
                Ok(result) => result,
                // The flush task ended without answering (its runtime is
                // going away): the result may or may not be committed, and
                // the mail is looked up before any resend either way.
                Err(_) => Err(stopped()),
            },
            // No flush task (it ended): record this one alone.
            Err(mpsc::error::SendError(p)) => {
                self.outbox.store().finish(p.id, &self.worker, now_ms(), &p.finish).await
            }
        }
    }

    /// Stops taking results and waits until every one handed over is
    /// recorded.
    pub(crate) async fn close(self, task: JoinHandle<()>) {
        drop(self);
        if let Err(e) = task.await {
            tracing::error!(error = %e, "the outbox's result recorder failed");
        }
    }
}

fn stopped() -> crate::Error {
    crate::Error::new(crate::ErrorKind::Unavailable, "the outbox worker stopped recording results")
        .with_provider(crate::PROVIDER)
        .with_code("outbox.worker")
}

/// Gathers results until `batch_size` wait or `flush_interval` passed since
/// the first, records them in one transaction, answers each, and goes on
/// until every [`Finisher`] is dropped.
async fn flush_loop(
    outbox: Outbox,
    worker: std::sync::Arc<str>,
    mut rx: mpsc::UnboundedReceiver<Pending>,
) {
    let batch = usize::try_from(outbox.options().batch_size.max(1)).unwrap_or(usize::MAX);
    let interval = outbox.options().flush_interval;
    let mut pending: Vec<Pending> = Vec::with_capacity(batch.min(1024));
    while let Some(first) = rx.recv().await {
        pending.push(first);
        let deadline = Instant::now() + interval;
        while pending.len() < batch {
            match rx.try_recv() {
                Ok(p) => pending.push(p),
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(p)) => pending.push(p),
                        Ok(None) | Err(_) => break,
                    }
                }
            }
        }
        flush(&outbox, &worker, &mut pending).await;
    }
}

/// Records `pending` in one transaction. When that fails, each result is
/// tried alone, so one bad row does not hold back the others.
async fn flush(outbox: &Outbox, worker: &str, pending: &mut Vec<Pending>) {
    // Mail order: concurrent transactions lock rows in the same order.
    pending.sort_unstable_by_key(|p| p.id.get());
    let store = outbox.store();
    let items: Vec<(OutboxId, &Finish)> = pending.iter().map(|p| (p.id, &p.finish)).collect();
    let batch = store.finish_batch(worker, now_ms(), &items).await;
    drop(items);
    match batch {
        Ok(done) => {
            for (p, ok) in pending.drain(..).zip(done) {
                let _ = p.done.send(Ok(ok));
            }
        }
        Err(e) if pending.len() == 1 => {
            if let Some(p) = pending.pop() {
                let _ = p.done.send(Err(e));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, results = pending.len(), "cannot record results together; recording them one by one");
            for p in pending.drain(..) {
                let result = store.finish(p.id, worker, now_ms(), &p.finish).await;
                let _ = p.done.send(result);
            }
        }
    }
}
