//! [`PgStore`]: the outbox in PostgreSQL, shared by several ERP nodes.

use g360_mail_core::Result;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use std::collections::{BTreeMap, HashMap};

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
        let done: Vec<(i64,)> = sqlx::query_as(
            "UPDATE outbox_mail m SET state = v.state, needs_lookup = v.needs_lookup, \
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
               provider, imid, request_id, server_reply, recovered, ek, ec, em, er) \
             WHERE m.id = v.id AND m.locked_by = $1 AND m.state = 'sending' \
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
