//! [`PgStore`]: the outbox in PostgreSQL, shared by several ERP nodes.

use g360_mail_core::Result;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use super::{ClaimRow, ID_BY_UID, INSERT_MAIL, NewMail, impl_outbox_store};
use crate::OutboxOptions;
use crate::error::{StoreError, db};
use crate::model::{AttemptResult, MailState, OutboxId, OutboxMail, StatusCounts};

/// The outbox in a PostgreSQL database.
#[derive(Debug, Clone)]
pub(crate) struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` and migrates the database.
    pub(crate) async fn open(url: &str, options: &OutboxOptions) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect(url)
            .await
            .map_err(StoreError::Open)?;
        Self::from_pool(pool).await
    }

    /// Uses an open pool and migrates its database. Migrations take
    /// PostgreSQL's advisory lock, so nodes starting together migrate once.
    pub(crate) async fn from_pool(pool: PgPool) -> Result<Self> {
        let mut migrator = sqlx::migrate!("./migrations/postgres");
        migrator.dangerous_set_table_name(crate::MIGRATIONS_TABLE);
        migrator.run(&pool).await.map_err(StoreError::Migrate)?;
        Ok(PgStore { pool })
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(db)
    }

    /// Selects and locks up to `limit` due mails in `tx`; rows another
    /// worker is claiming right now are skipped rather than waited for.
    async fn select_due(
        tx: &mut Transaction<'static, Postgres>,
        limit: u32,
        now: i64,
        exclude: &[String],
    ) -> Result<Vec<ClaimRow>> {
        sqlx::query_as(
            "SELECT c.id, c.uid, c.user_name, c.mailbox, c.needs_lookup, c.attempts, \
               c.message_format, c.message FROM outbox_mail c \
             WHERE ((c.state = 'queued' AND c.next_attempt_at <= $1 \
                   AND NOT EXISTS (SELECT 1 FROM outbox_mailbox b \
                     WHERE b.mailbox = c.mailbox AND b.blocked_until > $1)) \
                 OR (c.state = 'sending' AND c.locked_until <= $1)) \
               AND (c.mailbox IS NULL OR NOT (c.mailbox = ANY($3))) \
             ORDER BY c.next_attempt_at, c.id LIMIT $2 \
             FOR UPDATE OF c SKIP LOCKED",
        )
        .bind(now)
        .bind(i64::from(limit))
        .bind(exclude)
        .fetch_all(&mut **tx)
        .await
        .map_err(db)
    }
}

/// Inserts `mail` on `conn`, which may be inside the caller's transaction.
pub(crate) async fn enqueue_pg(conn: &mut PgConnection, mail: &NewMail) -> Result<OutboxId> {
    enqueue_on(conn, mail).await
}

async fn enqueue_on(conn: &mut PgConnection, mail: &NewMail) -> Result<OutboxId> {
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

impl_outbox_store!(PgStore, Postgres);
