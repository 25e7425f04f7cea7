//! [`SqliteStore`]: the embedded default, one database file in WAL mode.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use g360_mail_core::Result;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use super::{ClaimRow, ID_BY_UID, INSERT_MAIL, NewMail, impl_outbox_store, impl_row_batches};
use crate::OutboxOptions;
use crate::error::{StoreError, db};
use crate::model::{AttemptResult, MailState, OutboxId, OutboxMail, StatusCounts};

/// How long a connection waits for another writer (another process, or
/// another connection of this pool) before it reports the database busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The outbox in a SQLite file.
#[derive(Debug, Clone)]
pub(crate) struct SqliteStore {
    pool: SqlitePool,
    /// Transactions run again after a lock conflict (never on SQLite, whose
    /// writers take the file's lock up front).
    conflicts: Arc<AtomicU64>,
}

impl SqliteStore {
    /// Opens the file of `url`, creating it when missing (unless the url
    /// sets a `mode` of its own), and migrates it. A file created here is
    /// readable by its owner only (0600, less if the umask says so); SQLite
    /// gives its `-wal` and `-shm` files the same permissions.
    pub(crate) async fn open(url: &str, options: &OutboxOptions) -> Result<Self> {
        let mut connect = SqliteConnectOptions::from_str(url).map_err(StoreError::Open)?;
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        if !url.contains("mode=") {
            connect = connect.create_if_missing(true);
        }
        let file = connect.get_filename().display().to_string();
        if !memory && (!url.contains("mode=") || url.contains("mode=rwc")) {
            create_private(connect.get_filename()).map_err(|e| e.with_context("file", &file))?;
        }
        let connect = connect
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a mail is on disk when enqueue returns, even after a power cut.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| {
                g360_mail_core::Error::from(StoreError::OpenFile(e)).with_context("file", &file)
            })?;
        Self::from_pool(pool).await
    }

    /// Uses an open pool and migrates its database.
    pub(crate) async fn from_pool(pool: SqlitePool) -> Result<Self> {
        let mut migrator = sqlx::migrate!("./migrations/sqlite");
        migrator.dangerous_set_table_name(crate::MIGRATIONS_TABLE);
        migrator.run(&pool).await.map_err(StoreError::Migrate)?;
        Ok(SqliteStore { pool, conflicts: Arc::default() })
    }

    /// A write transaction. `BEGIN IMMEDIATE` takes the write lock up front, so
    /// a transaction never fails half way because another writer came first;
    /// it waits up to the busy timeout instead.
    async fn begin(&self) -> Result<Transaction<'static, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)
    }

    /// Upserts mailbox `$1`'s row when `$3` still holds mail `$2`, returning
    /// the mailbox's `starts` and `paused_until`; no row when the worker lost
    /// the mail. (The transaction already holds the file's write lock.)
    const HOLD_FOR_SLOT: &'static str = "WITH held AS (SELECT id FROM outbox_mail \
         WHERE id = $2 AND locked_by = $3 AND state = 'sending') \
         INSERT INTO outbox_mailbox (mailbox) SELECT $1 FROM held WHERE true \
         ON CONFLICT (mailbox) DO UPDATE SET mailbox = excluded.mailbox \
         RETURNING starts, paused_until";

    /// Selects up to `limit` due mails in `tx` (which holds the file's
    /// write lock, so no other worker sees them before the commit).
    async fn select_due(
        tx: &mut Transaction<'static, Sqlite>,
        limit: u32,
        now: i64,
        exclude: &[String],
    ) -> Result<Vec<ClaimRow>> {
        let exclude = serde_json::to_string(exclude).unwrap_or_else(|_| "[]".to_owned());
        sqlx::query_as(
            "SELECT m.id, m.uid, m.user_name, m.mailbox, m.needs_lookup, m.attempts, \
               m.message_format, m.message FROM outbox_mail m \
             WHERE ((m.state = 'queued' AND m.next_attempt_at <= $1 \
                   AND NOT EXISTS (SELECT 1 FROM outbox_mailbox b \
                     WHERE b.mailbox = m.mailbox AND b.blocked_until > $1)) \
                 OR (m.state = 'sending' AND m.locked_until <= $1)) \
               AND (m.mailbox IS NULL OR m.mailbox NOT IN (SELECT value FROM json_each($3))) \
             ORDER BY m.next_attempt_at, m.id LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .bind(exclude)
        .fetch_all(&mut **tx)
        .await
        .map_err(db)
    }
}

/// Creates `path` empty and private (0600 before the umask) when it does not
/// exist yet, so the mails it will hold (contents, Bcc) are never readable by
/// other users, not even for a moment.
fn create_private(path: &std::path::Path) -> Result<()> {
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    match file.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::CreateFile(e).into()),
    }
}

async fn enqueue_on(conn: &mut SqliteConnection, mail: &NewMail) -> Result<OutboxId> {
    let id: Option<(i64,)> = sqlx::query_as(INSERT_MAIL)
        .bind(&mail.uid)
        .bind(&mail.user)
        .bind(&mail.mailbox)
        .bind(&mail.subject)
        .bind(&mail.recipients)
        .bind(mail.now)
        .bind(mail.format)
        .bind(&mail.document)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    let (id,) = match id {
        Some(id) => id,
        None => sqlx::query_as(ID_BY_UID).bind(&mail.uid).fetch_one(conn).await.map_err(db)?,
    };
    Ok(OutboxId::new(id))
}

impl_outbox_store!(SqliteStore);
super::reports::impl_report_store!(SqliteStore);
impl_row_batches!(SqliteStore, Sqlite);
