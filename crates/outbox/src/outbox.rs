//! [`Outbox`]: the queue's public face (enqueue and administration).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use g360_mail_core::{Error, ErrorKind, OutgoingMessage, Result, Timestamp};
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::sqlite::SqlitePool;
use tokio::sync::Notify;

use crate::document;
use crate::events::{DeliveryEvent, EventHandler};
use crate::model::{MailDetails, MailState, MailboxStatus, OutboxId, OutboxMail, StatusCounts, ts};
use crate::options::OutboxOptions;
use crate::pacing::{LocalHints, RateWindow};
use crate::store::{NewMail, OutboxStore, PgStore, SqliteStore, enqueue_pg};

/// Which database holds an outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// A SQLite file (`sqlite://path?mode=rwc`): one machine, the default.
    Sqlite,
    /// A PostgreSQL database (`postgres://…`): shared by several ERP nodes.
    Postgres,
}

/// A durable queue of outgoing mail in SQLite or PostgreSQL.
///
/// Cheap to clone: clones share the database pool, the event handlers and
/// what the process knows of each mailbox's limits. The limits themselves
/// live in the database, shared by every process.
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

struct Inner {
    store: Box<dyn OutboxStore>,
    backend: Backend,
    options: OutboxOptions,
    rate: RateWindow,
    hints: Arc<LocalHints>,
    enqueued: Notify,
    handlers: std::sync::RwLock<Vec<EventHandler>>,
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox")
            .field("backend", &self.inner.backend)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

pub(crate) fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn after(now: i64, d: Duration) -> i64 {
    now.saturating_add(duration_ms(d))
}

/// The URL without its credentials, for messages (the workspace's one
/// redactor, [`g360_mail_core::redact_url`]).
pub(crate) fn redact_url(url: &str) -> String {
    g360_mail_core::redact_url(url)
}

fn new_mail(user: &str, message: &OutgoingMessage) -> Result<NewMail> {
    if user.trim().is_empty() {
        return Err(Error::invalid_input("the user to send as is empty")
            .with_provider(crate::PROVIDER)
            .with_code("outbox.no-user"));
    }
    let recipients = message.recipients().map(|a| a.addr()).collect::<Vec<_>>().join(", ");
    Ok(NewMail {
        uid: message.uid().to_string(),
        user: user.to_owned(),
        mailbox: message.from().map(|a| a.addr().to_ascii_lowercase()),
        subject: message.subject().to_owned(),
        recipients,
        format: document::FORMAT_VERSION,
        document: document::encode(message)?,
        now: now_ms(),
    })
}

impl Outbox {
    /// Opens the outbox at `url`, creating and migrating its schema:
    ///
    /// - `sqlite://path/outbox.db` — a file, created when missing (0600) unless
    ///   the url sets another `mode`; WAL mode, synchronous writes, a busy
    ///   timeout for other processes;
    /// - `postgres://user@host:5432/db` — a database several nodes share;
    ///   `?sslmode=verify-full&sslrootcert=/path/ca.pem` for TLS.
    ///
    /// Schema changes are versioned migrations run here, recorded in the
    /// table `_g360_outbox_migrations` (so they never mix with the ERP's own).
    pub async fn open(url: &str, options: OutboxOptions) -> Result<Outbox> {
        let (backend, store): (Backend, Box<dyn OutboxStore>) = if url.starts_with("sqlite:") {
            (Backend::Sqlite, Box::new(SqliteStore::open(url, &options).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, Box::new(PgStore::open(url, &options).await?))
        } else {
            return Err(Error::new(ErrorKind::Config, "unsupported outbox database url")
                .with_provider(crate::PROVIDER)
                .with_code("outbox.url")
                .with_context("url", redact_url(url))
                .with_remedy(
                    "use sqlite://path/outbox.db?mode=rwc or postgres://user@host:5432/database",
                ));
        };
        Ok(Outbox::with_store(store, backend, options))
    }

    /// An outbox in the SQLite database of `pool` (migrated here).
    pub async fn from_sqlite_pool(pool: SqlitePool, options: OutboxOptions) -> Result<Outbox> {
        let store = SqliteStore::from_pool(pool).await?;
        Ok(Outbox::with_store(Box::new(store), Backend::Sqlite, options))
    }

    /// An outbox in the PostgreSQL database of `pool` (migrated here), for an
    /// ERP that already has a pool.
    pub async fn from_pg_pool(pool: PgPool, options: OutboxOptions) -> Result<Outbox> {
        let store = PgStore::from_pool(pool).await?;
        Ok(Outbox::with_store(Box::new(store), Backend::Postgres, options))
    }

    fn with_store(store: Box<dyn OutboxStore>, backend: Backend, options: OutboxOptions) -> Self {
        let rate = RateWindow::new(options.messages_per_minute, options.rate_window);
        let hints = Arc::new(LocalHints::new(options.max_in_flight_per_mailbox));
        Outbox {
            inner: Arc::new(Inner {
                store,
                backend,
                options,
                rate,
                hints,
                enqueued: Notify::new(),
                handlers: Default::default(),
            }),
        }
    }

    /// The database kind.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The options the outbox was opened with.
    pub fn options(&self) -> &OutboxOptions {
        &self.inner.options
    }

    pub(crate) fn store(&self) -> &dyn OutboxStore {
        &*self.inner.store
    }

    pub(crate) fn hints(&self) -> &Arc<LocalHints> {
        &self.inner.hints
    }

    pub(crate) fn rate(&self) -> RateWindow {
        self.inner.rate
    }

    /// Calls `handler` with every [`DeliveryEvent`] of this outbox in this
    /// process: mails queued through it and everything its workers do. The
    /// handler runs on the worker's tasks and must return quickly.
    pub fn on_event(&self, handler: impl Fn(&DeliveryEvent) + Send + Sync + 'static) {
        self.inner.handlers.write().unwrap_or_else(|p| p.into_inner()).push(Arc::new(handler));
    }

    pub(crate) fn emit(&self, event: DeliveryEvent) {
        let handlers = self.inner.handlers.read().unwrap_or_else(|p| p.into_inner()).clone();
        for handler in handlers {
            handler(&event);
        }
    }

    pub(crate) fn enqueued(&self) -> &Notify {
        &self.inner.enqueued
    }

    /// Queues `message` to be sent as `user`. The mail is committed to the
    /// database when this returns.
    ///
    /// Queuing a message whose uid is already in the outbox stores nothing and
    /// returns the existing mail's id, so a caller may safely repeat it.
    pub async fn enqueue(&self, user: &str, message: &OutgoingMessage) -> Result<OutboxId> {
        let mail = new_mail(user, message)?;
        let id = self.inner.store.enqueue(&mail).await?;
        tracing::debug!(%id, uid = %message.uid(), user, "mail queued");
        self.inner.enqueued.notify_waiters();
        self.emit(DeliveryEvent::Queued { id, uid: message.uid(), user: user.to_owned() });
        Ok(id)
    }

    /// Queues `message` inside the caller's PostgreSQL transaction (pass
    /// `&mut *tx`): the mail exists if and only if the transaction commits.
    ///
    /// The connection must reach the database of the outbox (its tables in the
    /// connection's `search_path`), migrated by an earlier [`Outbox::open`].
    /// Workers find the mail on their next poll after the commit.
    pub async fn enqueue_in_tx(
        conn: &mut PgConnection,
        user: &str,
        message: &OutgoingMessage,
    ) -> Result<OutboxId> {
        let mail = new_mail(user, message)?;
        enqueue_pg(conn, &mail).await
    }

    /// How many mails are in each state.
    pub async fn status(&self) -> Result<StatusCounts> {
        self.inner.store.status().await
    }

    /// Each sending mailbox with queued, sending or recently sent mail, or
    /// with counters: its queue, in-flight requests, when it may start its
    /// next send (over every worker sharing the database) and its counters.
    pub async fn mailbox_status(&self) -> Result<Vec<MailboxStatus>> {
        let now = now_ms();
        let counts = self.inner.store.mailbox_counts(now).await?;
        let rows = self.inner.store.mailboxes().await?;
        let mut out: std::collections::BTreeMap<String, MailboxStatus> = Default::default();
        let blank = |mailbox: &str| MailboxStatus {
            mailbox: mailbox.to_owned(),
            queued: 0,
            sending: 0,
            in_flight: 0,
            next_send_at: ts(now),
            window_starts: 0,
            sent_last_minute: 0,
            sent_last_day: 0,
            oldest_queued_age_secs: None,
            sent_total: 0,
            failed_total: 0,
            retried_total: 0,
            unknown_total: 0,
            throttled_total: 0,
        };
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        for c in counts {
            let s = out.entry(c.mailbox.clone()).or_insert_with(|| blank(&c.mailbox));
            s.queued = n(c.queued);
            s.sending = n(c.sending);
            s.in_flight = n(c.in_flight);
            s.sent_last_minute = n(c.sent_minute);
            s.sent_last_day = n(c.sent_day);
            s.oldest_queued_age_secs = c.oldest_queued.map(|t| n(now.saturating_sub(t)) / 1000);
        }
        for r in rows {
            let s = out.entry(r.mailbox.clone()).or_insert_with(|| blank(&r.mailbox));
            let rate = self.inner.rate;
            let window_free = rate.admit(&r.starts, now).err().unwrap_or(now);
            s.next_send_at = ts(now.max(window_free).max(r.paused_until).max(r.blocked_until));
            s.window_starts = rate.started(&r.starts, now);
            s.sent_total = n(r.sent_count);
            s.failed_total = n(r.failed_count);
            s.retried_total = n(r.retried_count);
            s.unknown_total = n(r.unknown_count);
            s.throttled_total = n(r.throttled_count);
        }
        Ok(out.into_values().collect())
    }

    /// The outbox in the Prometheus text format: mails per state, and per
    /// sending mailbox the queue, in-flight requests, time to the next
    /// allowed send, and counters of sends, failures, retries, unknown
    /// outcomes and throttles.
    pub async fn metrics(&self) -> Result<String> {
        let counts = self.status().await?;
        let mailboxes = self.mailbox_status().await?;
        Ok(crate::metrics::render(&counts, &mailboxes, now_ms()))
    }

    /// Up to `limit` mails, newest first, optionally only those in `state`.
    pub async fn list(&self, state: Option<MailState>, limit: u32) -> Result<Vec<OutboxMail>> {
        self.inner.store.list(state, limit).await
    }

    /// A mail and its attempts; `NotFound` for an unknown id.
    pub async fn show(&self, id: OutboxId) -> Result<MailDetails> {
        match self.inner.store.show(id).await? {
            Some((mail, attempts)) => Ok(MailDetails { mail, attempts }),
            None => Err(not_found(id)),
        }
    }

    /// The queued message itself, as it will be sent.
    pub async fn message(&self, id: OutboxId) -> Result<OutgoingMessage> {
        let (format, doc) = self.inner.store.message(id).await?.ok_or_else(|| not_found(id))?;
        document::decode(format, &doc)
    }

    /// Puts a failed mail back in the queue, due now, with a fresh attempt
    /// budget (after the operator fixed what made it fail). A mail whose last
    /// outcome was unknown is still looked up before it is sent again.
    pub async fn retry(&self, id: OutboxId) -> Result<()> {
        if self.inner.store.retry(Some(id), crate::outbox::now_ms()).await? == 1 {
            self.inner.enqueued.notify_waiters();
            return Ok(());
        }
        let details = self.show(id).await?;
        Err(Error::invalid_input(format!(
            "only failed mails can be retried; this one is {}",
            details.mail.state
        ))
        .with_provider(crate::PROVIDER)
        .with_code("outbox.not-failed")
        .with_context("id", id))
    }

    /// Puts every failed mail back in the queue (see [`Outbox::retry`]);
    /// returns how many.
    pub async fn retry_failed(&self) -> Result<u64> {
        let n = self.inner.store.retry(None, now_ms()).await?;
        self.inner.enqueued.notify_waiters();
        Ok(n)
    }

    /// Deletes sent mails, with their attempts, sent more than `age` ago;
    /// returns how many. Queued, sending and failed mails are never purged.
    pub async fn purge_sent_older_than(&self, age: Duration) -> Result<u64> {
        let cutoff = now_ms().saturating_sub(duration_ms(age));
        self.inner.store.purge_sent_before(cutoff).await
    }
}

fn not_found(id: OutboxId) -> Error {
    Error::new(ErrorKind::NotFound, "no such mail in the outbox")
        .with_provider(crate::PROVIDER)
        .with_code("outbox.not-found")
        .with_context("id", id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:[redacted]@h:5432/db"
        );
        assert_eq!(
            redact_url("postgres://h/db?password=secret"),
            "postgres://h/db?password=[redacted]"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://x.db?mode=rwc"), "sqlite://x.db?mode=rwc");
    }
}
