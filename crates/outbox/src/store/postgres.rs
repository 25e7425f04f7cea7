//! [`PgStore`]: the outbox in PostgreSQL, shared by several ERP nodes.

use g360_mail_core::Result;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use super::{
    BatchClaim, ClaimRow, Claimed, ClaimedMail, Finish, Granted, ID_BY_UID, INSERT_MAIL, NewMail,
    admit_many, impl_outbox_store, tallies,
};
use crate::OutboxOptions;
use crate::error::{StoreError, db};
use crate::model::{AttemptResult, MailState, OutboxId, OutboxMail, StatusCounts};
use crate::outbox::{after, now_ms};
use crate::pacing::Busy;

/// The outbox in a PostgreSQL database.
#[derive(Debug, Clone)]
pub(crate) struct PgStore {
    pool: PgPool,
    /// Transactions run again after a lock conflict ([`retry_conflicts`](super::retry_conflicts)).
    conflicts: Arc<AtomicU64>,
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
        Ok(PgStore { pool, conflicts: Arc::default() })
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(db)
    }

    /// Locks a mail's row while `$3` holds it, then upserts and locks its
    /// mailbox `$1`'s row (mail rows before mailbox rows), returning the
    /// mailbox's `starts` and `paused_until`; no row when the worker lost
    /// the mail. `FOR NO KEY UPDATE` is the lock the slot's `UPDATE` of the
    /// mail takes anyway.
    const HOLD_FOR_SLOT: &'static str = "WITH held AS (SELECT id FROM outbox_mail \
         WHERE id = $2 AND locked_by = $3 AND state = 'sending' FOR NO KEY UPDATE) \
         INSERT INTO outbox_mailbox (mailbox) SELECT $1 FROM held \
         ON CONFLICT (mailbox) DO UPDATE SET mailbox = EXCLUDED.mailbox \
         RETURNING starts, paused_until";

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

/// Batches as a few statements over arrays (`unnest`), whatever the batch's
/// size: on a server, each statement costs a round trip.
impl PgStore {
    /// Claims a batch ([`OutboxStore::claim_batch`](super::OutboxStore::claim_batch)).
    async fn claim_many(&self, req: &BatchClaim<'_>) -> Result<Claimed> {
        let mut tx = self.begin().await?;
        let rows = Self::select_due(&mut tx, req.limit, now_ms(), req.exclude).await?;
        let mut mails = rows.into_iter().map(ClaimRow::into_claimed).collect::<Result<Vec<_>>>()?;
        let mut planned: BTreeMap<String, Vec<usize>> = BTreeMap::new();
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
        let boxes: Vec<&str> = planned.keys().map(String::as_str).collect();
        // Lock the mailboxes' rows in mailbox order (every transaction does).
        let locked: Vec<(String, String, i64)> = if boxes.is_empty() {
            Vec::new()
        } else {
            sqlx::query_as(
                "INSERT INTO outbox_mailbox (mailbox) \
                 SELECT m FROM unnest($1::text[]) AS m ORDER BY m \
                 ON CONFLICT (mailbox) DO UPDATE SET mailbox = EXCLUDED.mailbox \
                 RETURNING mailbox, starts, paused_until",
            )
            .bind(&boxes)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?
        };
        let rows: HashMap<String, (String, i64)> =
            locked.into_iter().map(|(m, starts, paused)| (m, (starts, paused))).collect();
        // The starts count from now, once the rows are ours.
        let now = now_ms();
        let lease_until = after(now, req.lease);
        let in_flight: HashMap<String, i64> = if boxes.is_empty() {
            HashMap::new()
        } else {
            sqlx::query_as::<_, (String, i64)>(
                "SELECT b.m, (SELECT COUNT(*) FROM outbox_mail WHERE mailbox = b.m \
                   AND in_flight AND state = 'sending' AND locked_until > $2) \
                 + (SELECT COUNT(*) FROM outbox_direct WHERE mailbox = b.m \
                   AND lease_until > $2) \
                 FROM unnest($1::text[]) AS b(m)",
            )
            .bind(&boxes)
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?
            .into_iter()
            .collect()
        };
        let mut take = vec![true; mails.len()];
        let mut busy = Vec::new();
        let (mut granted_ids, mut granted_boxes, mut granted_guarantees) =
            (Vec::new(), Vec::new(), Vec::new());
        let mut reopened = Vec::new();
        let (mut named_ids, mut named_boxes) = (Vec::new(), Vec::new());
        let (mut row_boxes, mut row_starts, mut row_blocked) = (Vec::new(), Vec::new(), Vec::new());
        for (mailbox, idx) in &planned {
            let (starts, paused_until) =
                rows.get(mailbox).map_or(("", 0), |(s, p)| (s.as_str(), *p));
            let flying = in_flight.get(mailbox).copied().unwrap_or(0);
            let a = admit_many(
                idx.len(),
                starts,
                paused_until,
                flying,
                now,
                req.rate,
                req.max_in_flight,
            );
            for &i in &idx[..a.admitted] {
                let Some(guarantee) = guarantees[i] else { continue };
                granted_ids.push(mails[i].id.get());
                granted_boxes.push(mailbox.as_str());
                granted_guarantees.push(guarantee.as_str());
                if mails[i].attempts > 0 {
                    reopened.push(mails[i].id.get());
                }
                mails[i].granted =
                    Some(Granted { mailbox: mailbox.clone(), guarantee, attempt: 0 });
            }
            for &i in &idx[a.admitted..] {
                take[i] = false;
                // Name the mailbox on the mail, so that claims (this worker's
                // exclusions, the mailbox's block) pass it by.
                if mails[i].mailbox.as_deref() != Some(mailbox.as_str()) {
                    named_ids.push(mails[i].id.get());
                    named_boxes.push(mailbox.as_str());
                }
            }
            let blocked = match a.busy {
                Some(Busy::Until(until)) if until > paused_until => until,
                _ => 0,
            };
            if a.starts.is_some() || blocked > 0 {
                row_boxes.push(mailbox.as_str());
                row_starts.push(a.starts);
                row_blocked.push(blocked);
            }
            if let Some(why) = a.busy {
                busy.push((mailbox.clone(), why));
            }
        }
        if !granted_ids.is_empty() {
            sqlx::query(
                "UPDATE outbox_mail m SET state = 'sending', locked_by = $1, locked_until = $2, \
                 updated_at = $3, in_flight = TRUE, needs_lookup = TRUE, \
                 attempts = m.attempts + 1, mailbox = v.mailbox, guarantee = v.guarantee \
                 FROM unnest($4::int8[], $5::text[], $6::text[]) AS v(id, mailbox, guarantee) \
                 WHERE m.id = v.id",
            )
            .bind(req.worker)
            .bind(lease_until)
            .bind(now)
            .bind(&granted_ids)
            .bind(&granted_boxes)
            .bind(&granted_guarantees)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            if !reopened.is_empty() {
                sqlx::query(
                    "UPDATE outbox_attempt SET finished_at = $2, result = 'interrupted' \
                     WHERE mail_id = ANY($1) AND finished_at IS NULL",
                )
                .bind(&reopened)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
            let attempts: HashMap<i64, i64> = sqlx::query_as::<_, (i64, i64)>(
                "INSERT INTO outbox_attempt (mail_id, action, worker, started_at, result) \
                 SELECT id, 'send', $2, $3, 'started' FROM unnest($1::int8[]) AS id \
                 RETURNING mail_id, id",
            )
            .bind(&granted_ids)
            .bind(req.worker)
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?
            .into_iter()
            .collect();
            for mail in &mut mails {
                if let Some(g) = &mut mail.granted {
                    g.attempt = attempts.get(&mail.id.get()).copied().unwrap_or_default();
                }
            }
        }
        let bare: Vec<i64> = mails
            .iter()
            .zip(&take)
            .filter(|(m, take)| **take && m.granted.is_none())
            .map(|(m, _)| m.id.get())
            .collect();
        if !bare.is_empty() {
            sqlx::query(
                "UPDATE outbox_mail SET state = 'sending', locked_by = $2, locked_until = $3, \
                 updated_at = $4, in_flight = FALSE WHERE id = ANY($1)",
            )
            .bind(&bare)
            .bind(req.worker)
            .bind(lease_until)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        if !named_ids.is_empty() {
            sqlx::query(
                "UPDATE outbox_mail m SET mailbox = v.mailbox \
                 FROM unnest($1::int8[], $2::text[]) AS v(id, mailbox) WHERE m.id = v.id",
            )
            .bind(&named_ids)
            .bind(&named_boxes)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        if !row_boxes.is_empty() {
            sqlx::query(
                "UPDATE outbox_mailbox b SET starts = COALESCE(v.starts, b.starts), \
                 blocked_until = GREATEST(b.blocked_until, v.blocked) \
                 FROM unnest($1::text[], $2::text[], $3::int8[]) AS v(mailbox, starts, blocked) \
                 WHERE b.mailbox = v.mailbox",
            )
            .bind(&row_boxes)
            .bind(&row_starts)
            .bind(&row_blocked)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        let mails: Vec<ClaimedMail> =
            mails.into_iter().zip(take).filter_map(|(m, take)| take.then_some(m)).collect();
        Ok(Claimed { mails, busy })
    }

    /// Records a batch of results ([`OutboxStore::finish_batch`](super::OutboxStore::finish_batch)).
    async fn finish_many(
        &self,
        worker: &str,
        now: i64,
        finishes: &[(OutboxId, &Finish)],
    ) -> Result<Vec<bool>> {
        let n = finishes.len();
        let mut c = FinishColumns::with_capacity(n);
        for (id, f) in finishes {
            c.push(*id, f);
        }
        let mut tx = self.begin().await?;
        // `held` locks the rows in id order before the update writes any
        // (the update's join may visit them in any order).
        let done: Vec<(i64,)> = sqlx::query_as(
            "WITH held AS (SELECT id FROM outbox_mail \
               WHERE id = ANY($3) AND locked_by = $1 AND state = 'sending' \
               ORDER BY id FOR NO KEY UPDATE) \
             UPDATE outbox_mail m SET state = v.state, needs_lookup = v.needs_lookup, \
             attempts = m.attempts + v.extra, next_attempt_at = v.next_at, updated_at = $2, \
             sent_at = COALESCE(v.sent_at, m.sent_at), locked_by = NULL, locked_until = NULL, \
             in_flight = FALSE, guarantee = COALESCE(v.guarantee, m.guarantee), \
             route = COALESCE(v.route, m.route), provider = COALESCE(v.provider, m.provider), \
             internet_message_id = COALESCE(v.imid, m.internet_message_id), \
             request_id = COALESCE(v.request_id, m.request_id), \
             server_reply = COALESCE(v.server_reply, m.server_reply), recovered = v.recovered, \
             last_error_kind = COALESCE(v.ek, m.last_error_kind), \
             last_error_code = CASE WHEN v.ek IS NULL THEN m.last_error_code ELSE v.ec END, \
             last_error_message = COALESCE(v.em, m.last_error_message), \
             last_error_remedy = CASE WHEN v.ek IS NULL THEN m.last_error_remedy ELSE v.er END \
             FROM unnest($3::int8[], $4::text[], $5::bool[], $6::int4[], $7::int8[], \
               $8::int8[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], \
               $14::text[], $15::bool[], $16::text[], $17::text[], $18::text[], $19::text[]) \
               AS v(id, state, needs_lookup, extra, next_at, sent_at, guarantee, route, \
               provider, imid, request_id, server_reply, recovered, ek, ec, em, er), held h \
             WHERE m.id = v.id AND m.id = h.id AND m.locked_by = $1 AND m.state = 'sending' \
             RETURNING m.id",
        )
        .bind(worker)
        .bind(now)
        .bind(&c.id)
        .bind(&c.state)
        .bind(&c.needs_lookup)
        .bind(&c.extra)
        .bind(&c.next_at)
        .bind(&c.sent_at)
        .bind(&c.guarantee)
        .bind(&c.route)
        .bind(&c.provider)
        .bind(&c.imid)
        .bind(&c.request_id)
        .bind(&c.server_reply)
        .bind(&c.recovered)
        .bind(&c.ek)
        .bind(&c.ec)
        .bind(&c.em)
        .bind(&c.er)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let done: std::collections::HashSet<i64> = done.into_iter().map(|(id,)| id).collect();
        let mut a = AttemptColumns::default();
        let mut closed = Vec::new();
        for (id, f) in finishes.iter().filter(|(id, _)| done.contains(&id.get())) {
            match &f.attempt {
                Some((attempt, end)) => a.push(*attempt, end),
                // With an attempt of its own, the try's start already closed
                // any attempt a dead worker left open.
                None => closed.push(id.get()),
            }
        }
        if !a.id.is_empty() {
            sqlx::query(
                "UPDATE outbox_attempt a SET finished_at = $1, result = v.result, \
                 route = v.route, error_kind = v.ek, error_code = v.ec, error_message = v.em, \
                 request_id = v.request_id, server_reply = v.server_reply \
                 FROM unnest($2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], \
                   $7::text[], $8::text[], $9::text[]) \
                   AS v(id, result, route, ek, ec, em, request_id, server_reply) \
                 WHERE a.id = v.id",
            )
            .bind(now)
            .bind(&a.id)
            .bind(&a.result)
            .bind(&a.route)
            .bind(&a.ek)
            .bind(&a.ec)
            .bind(&a.em)
            .bind(&a.request_id)
            .bind(&a.server_reply)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        if !closed.is_empty() {
            sqlx::query(
                "UPDATE outbox_attempt SET finished_at = $2, result = 'interrupted' \
                 WHERE mail_id = ANY($1) AND finished_at IS NULL",
            )
            .bind(&closed)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        let sums =
            tallies(finishes.iter().filter(|(id, _)| done.contains(&id.get())).map(|(_, f)| *f));
        if !sums.is_empty() {
            let boxes: Vec<&str> = sums.keys().copied().collect();
            let col = |pick: fn(&super::Tally) -> i64| sums.values().map(pick).collect::<Vec<_>>();
            sqlx::query(
                "INSERT INTO outbox_mailbox (mailbox, sent_count, failed_count, retried_count, \
                 unknown_count) \
                 SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::int8[]) \
                   ORDER BY 1 \
                 ON CONFLICT (mailbox) DO UPDATE SET \
                 sent_count = outbox_mailbox.sent_count + EXCLUDED.sent_count, \
                 failed_count = outbox_mailbox.failed_count + EXCLUDED.failed_count, \
                 retried_count = outbox_mailbox.retried_count + EXCLUDED.retried_count, \
                 unknown_count = outbox_mailbox.unknown_count + EXCLUDED.unknown_count",
            )
            .bind(&boxes)
            .bind(col(|t| t.sent))
            .bind(col(|t| t.failed))
            .bind(col(|t| t.retried))
            .bind(col(|t| t.unknown))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(finishes.iter().map(|(id, _)| done.contains(&id.get())).collect())
    }
}

/// The columns of a batch of mail results, one array each.
#[derive(Default)]
struct FinishColumns<'a> {
    id: Vec<i64>,
    state: Vec<&'a str>,
    needs_lookup: Vec<bool>,
    extra: Vec<i32>,
    next_at: Vec<i64>,
    sent_at: Vec<Option<i64>>,
    guarantee: Vec<Option<&'a str>>,
    route: Vec<Option<&'a str>>,
    provider: Vec<Option<&'a str>>,
    imid: Vec<Option<&'a str>>,
    request_id: Vec<Option<&'a str>>,
    server_reply: Vec<Option<&'a str>>,
    recovered: Vec<bool>,
    ek: Vec<Option<&'a str>>,
    ec: Vec<Option<&'a str>>,
    em: Vec<Option<&'a str>>,
    er: Vec<Option<&'a str>>,
}

impl<'a> FinishColumns<'a> {
    fn with_capacity(n: usize) -> Self {
        FinishColumns { id: Vec::with_capacity(n), ..FinishColumns::default() }
    }

    fn push(&mut self, id: OutboxId, f: &'a Finish) {
        let e = f.error.as_ref();
        self.id.push(id.get());
        self.state.push(f.state.as_str());
        self.needs_lookup.push(f.needs_lookup);
        self.extra.push(f.extra_attempts);
        self.next_at.push(f.next_attempt_at);
        self.sent_at.push(f.sent_at);
        self.guarantee.push(f.guarantee.map(|g| g.as_str()));
        self.route.push(f.route.as_deref());
        self.provider.push(f.provider.as_deref());
        self.imid.push(f.internet_message_id.as_deref());
        self.request_id.push(f.request_id.as_deref());
        self.server_reply.push(f.server_reply.as_deref());
        self.recovered.push(f.recovered);
        self.ek.push(e.map(|e| e.kind.as_str()));
        self.ec.push(e.and_then(|e| e.code.as_deref()));
        self.em.push(e.map(|e| e.message.as_str()));
        self.er.push(e.and_then(|e| e.remedy.as_deref()));
    }
}

/// The columns of a batch of attempt ends, one array each.
#[derive(Default)]
struct AttemptColumns<'a> {
    id: Vec<i64>,
    result: Vec<&'a str>,
    route: Vec<Option<&'a str>>,
    ek: Vec<Option<&'a str>>,
    ec: Vec<Option<&'a str>>,
    em: Vec<Option<&'a str>>,
    request_id: Vec<Option<&'a str>>,
    server_reply: Vec<Option<&'a str>>,
}

impl<'a> AttemptColumns<'a> {
    fn push(&mut self, id: i64, end: &'a super::AttemptEnd) {
        let e = end.error.as_ref();
        self.id.push(id);
        self.result.push(end.result.unwrap_or(AttemptResult::Error).as_str());
        self.route.push(end.route.as_deref());
        self.ek.push(e.map(|e| e.kind.as_str()));
        self.ec.push(e.and_then(|e| e.code.as_deref()));
        self.em.push(e.map(|e| e.message.as_str()));
        self.request_id.push(end.request_id.as_deref());
        self.server_reply.push(end.server_reply.as_deref());
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

impl_outbox_store!(PgStore);
super::reports::impl_report_store!(PgStore);

/// The lock order against the real server: transactions that take the same
/// mail and mailbox rows, driven step by step by a transaction of the test
/// that holds the mailbox's row until each waits or is done.
#[cfg(test)]
mod tests {
    use std::time::Duration;

    use g360_mail_core::MessageUid;
    use sqlx::{Connection, PgConnection};
    use tokio::task::JoinHandle;

    use super::PgStore;
    use crate::model::{Guarantee, MailState, OutboxId};
    use crate::pacing::RateWindow;
    use crate::store::{
        Acquired, BatchClaim, ClaimedMail, Finish, OutboxStore, Plan, SlotFor, SlotRequest, Tally,
    };
    use crate::{OutboxOptions, outbox::now_ms};

    const MAILBOX: &str = "facturas@example.com";

    /// A fresh schema and a store on it whose connections carry the schema's
    /// name as `application_name`, so the test can see which of them wait.
    struct Db {
        base: String,
        schema: String,
        store: PgStore,
        /// The test's own connection, outside the store.
        conn: PgConnection,
        /// The connection that holds rows in an open transaction (apart
        /// from `conn`: a transaction sees `pg_stat_activity` as it was
        /// when it first looked).
        holder: PgConnection,
    }

    impl Db {
        #[allow(clippy::disallowed_methods, reason = "tests read their own variables")]
        #[allow(clippy::print_stderr, reason = "a skipped test says so")]
        async fn open() -> Option<Db> {
            let base = std::env::var("G360_MAIL_TEST_PG_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
            let mut conn = match PgConnection::connect(&base).await {
                Ok(conn) => conn,
                Err(e) if std::env::var_os("CI").is_some() => {
                    panic!("PostgreSQL at {base} is required in CI: {e}")
                }
                Err(_) => {
                    eprintln!(
                        "NOTICE: skipping a PostgreSQL test: no server at {base} (set CI to fail instead)"
                    );
                    return None;
                }
            };
            let schema = format!("g360_outbox_lock_{}", uuid::Uuid::new_v4().simple());
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("SET search_path = {schema}")))
                .execute(&mut conn)
                .await
                .unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
            let tagged = format!("{url}&application_name={schema}");
            let store = PgStore::open(&tagged, &OutboxOptions::default()).await.unwrap();
            let holder = PgConnection::connect(&url).await.unwrap();
            Some(Db { base, schema, store, conn, holder })
        }

        /// Inserts a mail of [`MAILBOX`] in state `sending`, held by `worker`
        /// until `locked_until`.
        async fn sending(&mut self, worker: &str, locked_until: i64) -> OutboxId {
            let now = now_ms();
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO outbox_mail (uid, user_name, mailbox, subject, recipients, state, \
                 next_attempt_at, created_at, updated_at, message_format, message, locked_by, \
                 locked_until) \
                 VALUES ($1, 'ana', $2, 'Factura', 'b@example.com', 'sending', $3, $3, $3, 1, \
                 '{}', $4, $5) RETURNING id",
            )
            .bind(MessageUid::new_random().to_string())
            .bind(MAILBOX)
            .bind(now - 60_000)
            .bind(worker)
            .bind(locked_until)
            .fetch_one(&mut self.conn)
            .await
            .unwrap();
            sqlx::query("INSERT INTO outbox_mailbox (mailbox) VALUES ($1) ON CONFLICT DO NOTHING")
                .bind(MAILBOX)
                .execute(&mut self.conn)
                .await
                .unwrap();
            OutboxId::new(id)
        }

        /// Holds the mailbox's row in an open transaction. Its deadlock
        /// timeout outlasts the server's default: in a deadlock with the
        /// store's transaction, the store's is the one aborted.
        async fn hold_mailbox(&mut self) {
            sqlx::query("BEGIN").execute(&mut self.holder).await.unwrap();
            sqlx::query("SET LOCAL deadlock_timeout = '10min'")
                .execute(&mut self.holder)
                .await
                .unwrap();
            sqlx::query("SELECT 1 FROM outbox_mailbox WHERE mailbox = $1 FOR UPDATE")
                .bind(MAILBOX)
                .execute(&mut self.holder)
                .await
                .unwrap();
        }

        async fn let_go(&mut self) {
            sqlx::query("COMMIT").execute(&mut self.holder).await.unwrap();
        }

        /// Waits until each of the tasks still `running` waits for a lock.
        async fn settle(&mut self, running: impl Fn() -> usize) {
            for _ in 0..12_000 {
                let running = running();
                let (waiting,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM pg_stat_activity \
                     WHERE application_name = $1 AND wait_event_type = 'Lock'",
                )
                .bind(&self.schema)
                .fetch_one(&mut self.conn)
                .await
                .unwrap();
                if usize::try_from(waiting).unwrap() >= running {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            panic!("the store's transactions neither ended nor waited for a lock");
        }

        fn conflicts(&self) -> u64 {
            self.store.conflicts.load(std::sync::atomic::Ordering::Relaxed)
        }

        async fn drop_schema(self) {
            let Db { base, schema, store, conn, holder } = self;
            store.pool.close().await;
            conn.close().await.unwrap();
            holder.close().await.unwrap();
            let mut conn = PgConnection::connect(&base).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }

    fn rate() -> RateWindow {
        RateWindow::new(1_000, Duration::from_secs(60))
    }

    /// The stalled owner `old` of mail `id` takes its send slot.
    fn acquire(store: &PgStore, id: OutboxId) -> JoinHandle<crate::Result<Acquired>> {
        let store = store.clone();
        tokio::spawn(async move {
            let req = SlotRequest {
                id,
                worker: "old",
                mailbox: MAILBOX,
                lease: Duration::from_secs(60),
                slot: SlotFor::Send(Guarantee::ExactlyOnce),
                first_attempt: false,
                rate: rate(),
                max_in_flight: 100,
            };
            store.acquire(&req).await
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reclaim_and_the_stalled_owners_slot_do_not_deadlock() {
        let Some(mut db) = Db::open().await else { return };
        // Mail M: claimed by `old` without its slot; the lease ran out.
        let m = db.sending("old", now_ms() - 1_000).await;
        db.hold_mailbox().await;
        // The stalled owner asks for M's send slot and waits for the mailbox.
        let owner = acquire(&db.store, m);
        db.settle(|| usize::from(!owner.is_finished())).await;
        // Meanwhile `new` reclaims M, planning its send slot in the claim.
        let store = db.store.clone();
        let reclaim = tokio::spawn(async move {
            let plan = |_: &ClaimedMail| {
                Some(Plan { mailbox: MAILBOX.to_owned(), guarantee: Guarantee::ExactlyOnce })
            };
            let req = BatchClaim {
                worker: "new",
                limit: 8,
                lease: Duration::from_secs(60),
                exclude: &[],
                rate: rate(),
                max_in_flight: 100,
                plan: &plan,
            };
            store.claim_batch(&req).await.map(|c| c.mails.len())
        });
        db.settle(|| usize::from(!owner.is_finished()) + usize::from(!reclaim.is_finished())).await;
        db.let_go().await;
        let owner = owner.await.unwrap();
        let reclaim = reclaim.await.unwrap();
        assert!(owner.is_ok() && reclaim.is_ok(), "owner: {owner:?}\nreclaim: {reclaim:?}");
        assert_eq!(db.conflicts(), 0, "a transaction ran again after a deadlock");
        // The owner had M's row first: it keeps the mail; the claim passes M by.
        assert!(matches!(owner.unwrap(), Acquired::Granted(Some(_))));
        assert_eq!(reclaim.unwrap(), 0);
        db.drop_schema().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transaction_aborted_for_a_deadlock_runs_again() {
        let Some(mut db) = Db::open().await else { return };
        let m = db.sending("w", now_ms() + 60_000).await;
        db.hold_mailbox().await;
        // The result locks M's row, then waits for the mailbox's.
        let store = db.store.clone();
        let finish = tokio::spawn(async move {
            let f = Finish {
                state: MailState::Sent,
                needs_lookup: false,
                extra_attempts: 0,
                next_attempt_at: now_ms(),
                sent_at: Some(now_ms()),
                guarantee: Some(Guarantee::ExactlyOnce),
                route: None,
                provider: None,
                internet_message_id: None,
                request_id: None,
                server_reply: None,
                recovered: false,
                error: None,
                attempt: None,
                tally: Some((MAILBOX.to_owned(), Tally { sent: 1, ..Tally::default() })),
            };
            store.finish_batch("w", now_ms(), &[(m, &f)]).await
        });
        db.settle(|| usize::from(!finish.is_finished())).await;
        // Someone else (an administrator, say) takes the mailbox's row, then
        // M's: PostgreSQL aborts the result's transaction for a deadlock.
        sqlx::query("SELECT 1 FROM outbox_mail WHERE id = $1 FOR UPDATE")
            .bind(m.get())
            .execute(&mut db.holder)
            .await
            .unwrap();
        db.let_go().await;
        assert_eq!(finish.await.unwrap().unwrap(), vec![true]);
        assert_eq!(db.conflicts(), 1);
        let (state,): (String,) = sqlx::query_as("SELECT state FROM outbox_mail WHERE id = $1")
            .bind(m.get())
            .fetch_one(&mut db.conn)
            .await
            .unwrap();
        assert_eq!(state, "sent");
        db.drop_schema().await;
    }
}
