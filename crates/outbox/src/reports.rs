//! Delivery reports recorded against the mails they are about:
//! [`Outbox::record_report`], [`Outbox::delivery_statuses`],
//! [`Outbox::recent_reports`], [`Outbox::list_with_delivery_state`].
//!
//! The outbox knows no provider and no report format: the caller (the ERP
//! bridge) reads the reports and hands in a [`ReportRecord`]. A report is
//! tied to a mail by the mail's uid (g360-mail derives every Message-ID from
//! it), so mail sent directly is covered as well as queued mail; for queued
//! mail whose Message-ID the provider replaced, by the Message-ID its
//! receipt recorded.

use g360_mail_core::{MessageUid, Result, Timestamp};
use serde::Serialize;

use crate::events::DeliveryEvent;
use crate::model::{OutboxId, OutboxMail, ts};
use crate::outbox::{Outbox, now_ms};
use crate::store::reports::{ReportRow, StatusRow};

/// What a report says of a recipient, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DeliveryState {
    /// The mail will not reach the recipient (a permanent failure).
    Bounced,
    /// Delivery is delayed; the server keeps trying.
    Delayed,
    /// Delivered (or relayed) to the recipient, by a delivery report.
    Delivered,
}

impl DeliveryState {
    /// `bounced`, `delayed` or `delivered`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Bounced => "bounced",
            DeliveryState::Delayed => "delayed",
            DeliveryState::Delivered => "delivered",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "bounced" => DeliveryState::Bounced,
            "delayed" => DeliveryState::Delayed,
            "delivered" => DeliveryState::Delivered,
            _ => return None,
        })
    }
}

/// One recipient's result in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RecipientRecord {
    /// The recipient's address as the report gives it.
    pub address: String,
    /// What happened.
    pub state: DeliveryState,
    /// The enhanced status code (`5.1.1`).
    pub status: Option<String>,
    /// The kind of failure (`unknown-recipient`, `mailbox-full`, ...).
    pub kind: Option<String>,
    /// The remote server's answer.
    pub diagnostic: Option<String>,
    /// The server that answered.
    pub remote_mta: Option<String>,
}

impl RecipientRecord {
    /// A recipient's `state`; the other fields empty.
    pub fn new(address: impl Into<String>, state: DeliveryState) -> Self {
        RecipientRecord {
            address: address.into(),
            state,
            status: None,
            kind: None,
            diagnostic: None,
            remote_mta: None,
        }
    }
}

/// What was read from a report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReportContent {
    /// The report was read.
    Parsed {
        /// The Message-ID of the mail it is about.
        original_message_id: Option<String>,
        /// That mail's uid, when g360-mail made the Message-ID.
        mail_uid: Option<MessageUid>,
        /// That mail's subject.
        original_subject: Option<String>,
        /// Where the recipients were read (`rfc3464`, `exchange`, ...).
        format: String,
        /// One entry per recipient the report speaks of.
        recipients: Vec<RecipientRecord>,
    },
    /// The report could not be read; it is set aside, never read again.
    Unparseable {
        /// Why (`no-report-part`, `not-a-message`, ...).
        reason: String,
    },
}

/// A report read from `mailbox`, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReportRecord {
    /// The sending mailbox it arrived in (lowercase).
    pub mailbox: String,
    /// The provider's id of the report message.
    pub provider_id: String,
    /// The report's own Message-ID.
    pub report_message_id: Option<String>,
    /// When the mailbox received it.
    pub received_at: Option<Timestamp>,
    /// The provider's cursor after this report, stored with it.
    pub cursor: String,
    /// What was read.
    pub content: ReportContent,
}

impl ReportRecord {
    /// A report `provider_id` of `mailbox` with `content`, to be resumed after with `cursor`.
    pub fn new(
        mailbox: impl Into<String>,
        provider_id: impl Into<String>,
        cursor: impl Into<String>,
        content: ReportContent,
    ) -> Self {
        ReportRecord {
            mailbox: mailbox.into().to_ascii_lowercase(),
            provider_id: provider_id.into(),
            report_message_id: None,
            received_at: None,
            cursor: cursor.into(),
            content,
        }
    }
}

/// What recording a report changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RecordOutcome {
    /// False when the report was recorded before (nothing changed).
    pub new: bool,
    /// The mail's outbox id, when the outbox holds it.
    pub outbox_id: Option<OutboxId>,
    /// Recipients now bounced.
    pub bounced: u32,
    /// Recipients now delayed.
    pub delayed: u32,
    /// Recipients now delivered.
    pub delivered: u32,
    /// Recipients the report names that are none of the queued mail's.
    pub unmatched: u32,
    /// The report is about no mail g360-mail knows (sent from Outlook, or
    /// it names no Message-ID).
    pub unknown_mail: bool,
}

/// A recipient's delivery state, as `outbox show` lists it: the recorded
/// result (address lowercase, latest state) and what the record adds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RecipientStatus {
    /// The recipient's latest result.
    #[serde(flatten)]
    pub recipient: RecipientRecord,
    /// False when the address is none of the queued mail's recipients;
    /// `None` when they are not known (direct sends).
    pub matched: Option<bool>,
    /// When the state was recorded.
    pub updated_at: Timestamp,
}

/// A recorded report, as `bounces list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReportEntry {
    /// The record's id.
    pub id: i64,
    /// The mailbox it arrived in.
    pub mailbox: String,
    /// When it arrived (else when it was recorded).
    pub received_at: Timestamp,
    /// The Message-ID of the mail it is about.
    pub original_message_id: Option<String>,
    /// The uid of that mail, when g360-mail sent it.
    pub mail_uid: Option<String>,
    /// The outbox id of that mail, when it was queued.
    pub outbox_id: Option<OutboxId>,
    /// The subject of that mail.
    pub original_subject: Option<String>,
    /// False for a report set aside as unreadable.
    pub parsed: bool,
    /// Why it could not be read.
    pub error_reason: Option<String>,
    /// Its recipients.
    pub recipients: Vec<RecipientRecord>,
}

#[derive(serde::Deserialize)]
struct StoredRecipient {
    address: String,
    state: String,
    status: Option<String>,
    kind: Option<String>,
    diagnostic: Option<String>,
    remote_mta: Option<String>,
}

impl Outbox {
    /// The cursor where the last report listing of `mailbox` stopped.
    pub async fn report_cursor(&self, mailbox: &str) -> Result<Option<String>> {
        self.store().report_cursor(&mailbox.to_ascii_lowercase()).await
    }

    /// Stores the cursor of `mailbox` without a report (a listing that
    /// skipped what it returned).
    pub async fn set_report_cursor(&self, mailbox: &str, cursor: &str) -> Result<()> {
        self.store().set_report_cursor(&mailbox.to_ascii_lowercase(), cursor, now_ms()).await
    }

    /// Takes the lease on reading `mailbox`'s reports for `ttl` (renewed when
    /// `holder` holds it already): with several nodes, one reads a mailbox at
    /// a time. False while another holder's lease is alive; a holder that
    /// dies leaves it to expire.
    pub async fn lease_report_sync(
        &self,
        mailbox: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<bool> {
        let now = now_ms();
        let until = crate::outbox::after(now, ttl);
        self.store().lease_reports(&mailbox.to_ascii_lowercase(), holder, now, until).await
    }

    /// Gives back a lease taken with [`lease_report_sync`](Self::lease_report_sync).
    pub async fn release_report_sync(&self, mailbox: &str, holder: &str) -> Result<()> {
        self.store().release_reports(&mailbox.to_ascii_lowercase(), holder).await
    }

    /// Whether report `provider_id` of `mailbox` is recorded already.
    pub async fn has_report(&self, mailbox: &str, provider_id: &str) -> Result<bool> {
        self.store().has_report(&mailbox.to_ascii_lowercase(), provider_id).await
    }

    /// Records a report, the states it gives each recipient of its mail and
    /// the mailbox's cursor, in one transaction. A report recorded before
    /// changes nothing (the cursor still moves). A recipient already
    /// `bounced` stays so; `delayed` gives way to any later state. Emits
    /// [`DeliveryEvent::Bounced`] / [`DeliveryEvent::Delayed`] for the mails
    /// g360-mail sent (their uid is in the report's original Message-ID),
    /// queued or direct; a report about another mail emits nothing.
    pub async fn record_report(&self, report: &ReportRecord) -> Result<RecordOutcome> {
        let (original_message_id, mail_uid, original_subject, format, recipients, reason) =
            match &report.content {
                ReportContent::Parsed {
                    original_message_id,
                    mail_uid,
                    original_subject,
                    format,
                    recipients,
                } => (
                    original_message_id.as_deref(),
                    *mail_uid,
                    original_subject.as_deref(),
                    Some(format.as_str()),
                    recipients.as_slice(),
                    None,
                ),
                ReportContent::Unparseable { reason } => {
                    (None, None, None, None, &[][..], Some(reason.as_str()))
                }
            };
        let statuses = recipients
            .iter()
            .map(|r| StatusRow {
                address: r.address.to_ascii_lowercase(),
                state: r.state.as_str(),
                status: r.status.clone(),
                kind: r.kind.as_deref(),
                diagnostic: r.diagnostic.as_deref(),
                remote_mta: r.remote_mta.as_deref(),
            })
            .collect();
        let row = ReportRow {
            mailbox: &report.mailbox,
            provider_id: &report.provider_id,
            report_message_id: report.report_message_id.as_deref(),
            received_at: report.received_at.map(|t| t.as_millisecond()),
            original_message_id,
            mail_uid: mail_uid.map(|u| u.to_string()),
            original_subject,
            format,
            error_reason: reason,
            recipients_json: serde_json::to_string(recipients).unwrap_or_else(|_| "[]".into()),
            cursor: &report.cursor,
            now: now_ms(),
            statuses,
        };
        let inserted = self.store().insert_report(&row).await?;
        let mut out = RecordOutcome {
            new: inserted.new,
            outbox_id: inserted.outbox_id,
            unknown_mail: inserted.new && reason.is_none() && inserted.mail_uid.is_none(),
            ..RecordOutcome::default()
        };
        let uid = inserted.mail_uid.as_deref().and_then(|u| MessageUid::parse(u).ok());
        for (address, state, matched) in inserted.changed {
            if matched == Some(false) {
                out.unmatched += 1;
            }
            let r = recipients.iter().find(|r| r.address.eq_ignore_ascii_case(&address));
            let (status, diagnostic) =
                r.map_or((None, None), |r| (r.status.clone(), r.diagnostic.clone()));
            let event = match state {
                "bounced" => {
                    out.bounced += 1;
                    uid.map(|uid| DeliveryEvent::Bounced {
                        id: inserted.outbox_id,
                        uid,
                        address,
                        status,
                        diagnostic,
                    })
                }
                "delayed" => {
                    out.delayed += 1;
                    uid.map(|uid| DeliveryEvent::Delayed {
                        id: inserted.outbox_id,
                        uid,
                        address,
                        status,
                        diagnostic,
                    })
                }
                _ => {
                    out.delivered += 1;
                    None
                }
            };
            if let Some(e) = event {
                self.emit(e);
            }
        }
        Ok(out)
    }

    /// Each recipient's delivery state for the mail `uid`, by address.
    pub async fn delivery_statuses(&self, uid: MessageUid) -> Result<Vec<RecipientStatus>> {
        let rows = self.store().statuses_of(&uid.to_string()).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some(RecipientStatus {
                    recipient: RecipientRecord {
                        address: r.address,
                        state: DeliveryState::parse(&r.state)?,
                        status: r.status,
                        kind: r.kind,
                        diagnostic: r.diagnostic,
                        remote_mta: r.remote_mta,
                    },
                    matched: r.matched,
                    updated_at: ts(r.updated_at),
                })
            })
            .collect())
    }

    /// The reports recorded that arrived at or after `since`, newest first,
    /// at most `limit`.
    pub async fn recent_reports(&self, since: Timestamp, limit: u32) -> Result<Vec<ReportEntry>> {
        let rows = self.store().reports_since(since.as_millisecond(), limit).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let stored: Vec<StoredRecipient> =
                    serde_json::from_str(&r.recipients).unwrap_or_default();
                ReportEntry {
                    id: r.id,
                    mailbox: r.mailbox,
                    received_at: ts(r.received_at.unwrap_or(r.created_at)),
                    original_message_id: r.original_message_id,
                    mail_uid: r.mail_uid,
                    outbox_id: r.outbox_id.map(OutboxId::new),
                    original_subject: r.original_subject,
                    parsed: r.parsed,
                    error_reason: r.error_reason,
                    recipients: stored
                        .into_iter()
                        .filter_map(|s| {
                            Some(RecipientRecord {
                                state: DeliveryState::parse(&s.state)?,
                                address: s.address,
                                status: s.status,
                                kind: s.kind,
                                diagnostic: s.diagnostic,
                                remote_mta: s.remote_mta,
                            })
                        })
                        .collect(),
                }
            })
            .collect())
    }

    /// The queued mails with at least one recipient in `state`, newest first.
    pub async fn list_with_delivery_state(
        &self,
        state: DeliveryState,
        limit: u32,
    ) -> Result<Vec<OutboxMail>> {
        self.store().mails_with_status(state.as_str(), limit).await
    }
}
