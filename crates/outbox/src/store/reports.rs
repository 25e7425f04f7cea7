//! [`ReportStore`]: the delivery report tables (migration 0003), the same
//! SQL on SQLite and PostgreSQL.

use async_trait::async_trait;
use g360_mail_core::Result;

use crate::model::{OutboxId, OutboxMail};

/// A report to insert, with its per-recipient states (already in the
/// database's words: `bounced`, `delayed`, `delivered`).
#[derive(Debug)]
pub(crate) struct ReportRow<'a> {
    pub(crate) mailbox: &'a str,
    pub(crate) provider_id: &'a str,
    pub(crate) report_message_id: Option<&'a str>,
    pub(crate) received_at: Option<i64>,
    pub(crate) original_message_id: Option<&'a str>,
    pub(crate) mail_uid: Option<String>,
    pub(crate) original_subject: Option<&'a str>,
    pub(crate) format: Option<&'a str>,
    pub(crate) error_reason: Option<&'a str>,
    pub(crate) recipients_json: String,
    pub(crate) cursor: &'a str,
    pub(crate) now: i64,
    pub(crate) statuses: Vec<StatusRow<'a>>,
}

/// One recipient's state from a report.
#[derive(Debug)]
pub(crate) struct StatusRow<'a> {
    pub(crate) address: String,
    pub(crate) state: &'static str,
    pub(crate) status: Option<String>,
    pub(crate) kind: Option<&'a str>,
    pub(crate) diagnostic: Option<&'a str>,
    pub(crate) remote_mta: Option<&'a str>,
}

/// What inserting a report changed: nothing when it was recorded before;
/// else the recipients whose state it set, with the mail's outbox id when
/// the outbox holds it.
#[derive(Debug, Default)]
pub(crate) struct Inserted {
    pub(crate) new: bool,
    pub(crate) outbox_id: Option<OutboxId>,
    pub(crate) mail_uid: Option<String>,
    /// (address, state, matched) of each status the report set.
    pub(crate) changed: Vec<(String, &'static str, Option<bool>)>,
}

/// A report row read back for `bounces list`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ReportListRow {
    pub(crate) id: i64,
    pub(crate) mailbox: String,
    pub(crate) received_at: Option<i64>,
    pub(crate) created_at: i64,
    pub(crate) original_message_id: Option<String>,
    pub(crate) mail_uid: Option<String>,
    pub(crate) original_subject: Option<String>,
    pub(crate) parsed: bool,
    pub(crate) error_reason: Option<String>,
    pub(crate) recipients: String,
    pub(crate) outbox_id: Option<i64>,
}

/// A recipient's state read back.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct StatusListRow {
    pub(crate) address: String,
    pub(crate) state: String,
    pub(crate) status: Option<String>,
    pub(crate) kind: Option<String>,
    pub(crate) diagnostic: Option<String>,
    pub(crate) remote_mta: Option<String>,
    pub(crate) matched: Option<bool>,
    pub(crate) updated_at: i64,
}

#[async_trait]
pub(crate) trait ReportStore: Send + Sync {
    /// The cursor stored for `mailbox`.
    async fn report_cursor(&self, mailbox: &str) -> Result<Option<String>>;
    /// Stores `cursor` for `mailbox`.
    async fn set_report_cursor(&self, mailbox: &str, cursor: &str, now: i64) -> Result<()>;
    /// Takes (or renews) the lease on reading `mailbox`'s reports until
    /// `until`; false when another holder's lease is alive.
    async fn lease_reports(
        &self,
        mailbox: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<bool>;
    /// Gives the lease back.
    async fn release_reports(&self, mailbox: &str, holder: &str) -> Result<()>;
    /// Whether the report is recorded already.
    async fn has_report(&self, mailbox: &str, provider_id: &str) -> Result<bool>;
    /// Records a report, its statuses and the cursor in one transaction.
    async fn insert_report(&self, row: &ReportRow<'_>) -> Result<Inserted>;
    /// Reports recorded at or after `since`, newest first.
    async fn reports_since(&self, since: i64, limit: u32) -> Result<Vec<ReportListRow>>;
    /// The recipients' states of a mail.
    async fn statuses_of(&self, uid: &str) -> Result<Vec<StatusListRow>>;
    /// Outbox mails with at least one recipient in `state`, newest first.
    async fn mails_with_status(&self, state: &str, limit: u32) -> Result<Vec<OutboxMail>>;
}

/// The shared implementation of [`ReportStore`] for a store type with a
/// `pool` field and a `begin()` that opens a write transaction.
macro_rules! impl_report_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::reports::ReportStore for $store {
            async fn report_cursor(&self, mailbox: &str) -> Result<Option<String>> {
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT cursor FROM delivery_cursor WHERE mailbox = $1")
                        .bind(mailbox)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?;
                Ok(row.map(|(c,)| c).filter(|c| !c.is_empty()))
            }

            async fn lease_reports(
                &self,
                mailbox: &str,
                holder: &str,
                now: i64,
                until: i64,
            ) -> Result<bool> {
                let done = sqlx::query(
                    "INSERT INTO delivery_cursor (mailbox, updated_at, locked_by, locked_until) \
                     VALUES ($1, $3, $2, $4) \
                     ON CONFLICT (mailbox) DO UPDATE SET locked_by = excluded.locked_by, \
                     locked_until = excluded.locked_until \
                     WHERE delivery_cursor.locked_until <= $3 OR delivery_cursor.locked_by = $2",
                )
                .bind(mailbox)
                .bind(holder)
                .bind(now)
                .bind(until)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(done.rows_affected() > 0)
            }

            async fn release_reports(&self, mailbox: &str, holder: &str) -> Result<()> {
                sqlx::query(
                    "UPDATE delivery_cursor SET locked_by = NULL, locked_until = 0 \
                     WHERE mailbox = $1 AND locked_by = $2",
                )
                .bind(mailbox)
                .bind(holder)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn set_report_cursor(&self, mailbox: &str, cursor: &str, now: i64) -> Result<()> {
                sqlx::query(
                    "INSERT INTO delivery_cursor (mailbox, cursor, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (mailbox) DO UPDATE SET cursor = excluded.cursor, \
                     updated_at = excluded.updated_at",
                )
                .bind(mailbox)
                .bind(cursor)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            }

            async fn has_report(&self, mailbox: &str, provider_id: &str) -> Result<bool> {
                let row: Option<(i64,)> = sqlx::query_as(
                    "SELECT id FROM delivery_report WHERE mailbox = $1 AND provider_id = $2",
                )
                .bind(mailbox)
                .bind(provider_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                Ok(row.is_some())
            }

            async fn insert_report(
                &self,
                r: &$crate::store::reports::ReportRow<'_>,
            ) -> Result<$crate::store::reports::Inserted> {
                let mut out = $crate::store::reports::Inserted::default();
                let mut tx = self.begin().await?;
                // A mail whose Message-ID the provider replaced is still
                // found by the Message-ID its receipt recorded.
                let mut mail: Option<(i64, String, String)> = match &r.mail_uid {
                    Some(uid) => sqlx::query_as(
                        "SELECT id, uid, recipients FROM outbox_mail WHERE uid = $1",
                    )
                    .bind(uid)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?,
                    None => None,
                };
                if mail.is_none()
                    && r.mail_uid.is_none()
                    && let Some(id) = r.original_message_id
                {
                    mail = sqlx::query_as(
                        "SELECT id, uid, recipients FROM outbox_mail \
                         WHERE internet_message_id = $1 ORDER BY id LIMIT 1",
                    )
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
                }
                let mail_uid = mail.as_ref().map(|m| m.1.clone()).or_else(|| r.mail_uid.clone());
                let inserted: Option<(i64,)> = sqlx::query_as(
                    "INSERT INTO delivery_report (mailbox, provider_id, report_message_id, \
                     received_at, original_message_id, mail_uid, original_subject, format, parsed, \
                     error_reason, recipients, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                     ON CONFLICT (mailbox, provider_id) DO NOTHING RETURNING id",
                )
                .bind(r.mailbox)
                .bind(r.provider_id)
                .bind(r.report_message_id)
                .bind(r.received_at)
                .bind(r.original_message_id)
                .bind(&mail_uid)
                .bind(r.original_subject)
                .bind(r.format)
                .bind(r.error_reason.is_none())
                .bind(r.error_reason)
                .bind(&r.recipients_json)
                .bind(r.now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
                if let Some((report_id,)) = inserted {
                    out.new = true;
                    out.outbox_id = mail.as_ref().map(|m| OutboxId::new(m.0));
                    out.mail_uid = mail_uid.clone();
                    if let Some(uid) = &mail_uid {
                        let recipients: Option<Vec<String>> = mail.as_ref().map(|m| {
                            m.2.split(',').map(|a| a.trim().to_ascii_lowercase()).collect()
                        });
                        for s in &r.statuses {
                            let matched =
                                recipients.as_ref().map(|list| list.contains(&s.address));
                            // `bounced` stays; `delayed` gives way to any later state.
                            let done = sqlx::query(
                                "INSERT INTO delivery_status (mail_uid, address, state, status, \
                                 kind, diagnostic, remote_mta, report_id, matched, updated_at) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                                 ON CONFLICT (mail_uid, address) DO UPDATE SET \
                                 state = excluded.state, status = excluded.status, \
                                 kind = excluded.kind, diagnostic = excluded.diagnostic, \
                                 remote_mta = excluded.remote_mta, report_id = excluded.report_id, \
                                 matched = excluded.matched, updated_at = excluded.updated_at \
                                 WHERE delivery_status.state <> 'bounced' \
                                 AND (excluded.state <> 'delayed' OR delivery_status.state = 'delayed')",
                            )
                            .bind(uid)
                            .bind(&s.address)
                            .bind(s.state)
                            .bind(&s.status)
                            .bind(s.kind)
                            .bind(s.diagnostic)
                            .bind(s.remote_mta)
                            .bind(report_id)
                            .bind(matched)
                            .bind(r.now)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                            if done.rows_affected() > 0 {
                                out.changed.push((s.address.clone(), s.state, matched));
                            }
                        }
                    }
                }
                sqlx::query(
                    "INSERT INTO delivery_cursor (mailbox, cursor, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (mailbox) DO UPDATE SET cursor = excluded.cursor, \
                     updated_at = excluded.updated_at",
                )
                .bind(r.mailbox)
                .bind(r.cursor)
                .bind(r.now)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
                Ok(out)
            }

            async fn reports_since(
                &self,
                since: i64,
                limit: u32,
            ) -> Result<Vec<$crate::store::reports::ReportListRow>> {
                sqlx::query_as(
                    "SELECT r.id, r.mailbox, r.received_at, r.created_at, r.original_message_id, \
                     r.mail_uid, r.original_subject, r.parsed, r.error_reason, r.recipients, \
                     m.id AS outbox_id \
                     FROM delivery_report r LEFT JOIN outbox_mail m ON m.uid = r.mail_uid \
                     WHERE COALESCE(r.received_at, r.created_at) >= $1 \
                     ORDER BY COALESCE(r.received_at, r.created_at) DESC, r.id DESC LIMIT $2",
                )
                .bind(since)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)
            }

            async fn statuses_of(
                &self,
                uid: &str,
            ) -> Result<Vec<$crate::store::reports::StatusListRow>> {
                sqlx::query_as(
                    "SELECT address, state, status, kind, diagnostic, remote_mta, matched, \
                     updated_at FROM delivery_status WHERE mail_uid = $1 ORDER BY address",
                )
                .bind(uid)
                .fetch_all(&self.pool)
                .await
                .map_err(db)
            }

            async fn mails_with_status(&self, state: &str, limit: u32) -> Result<Vec<OutboxMail>> {
                let rows: Vec<$crate::store::MailRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    $crate::store::mail_columns!(),
                    " FROM outbox_mail WHERE uid IN \
                     (SELECT mail_uid FROM delivery_status WHERE state = $1) \
                     ORDER BY id DESC LIMIT $2"
                ))
                .bind(state)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.into_iter().map($crate::store::MailRow::into_mail).collect()
            }
        }
    };
}
pub(crate) use impl_report_store;
