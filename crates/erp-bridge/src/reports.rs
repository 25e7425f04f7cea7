//! Harvesting delivery reports: [`MailBridge::sync_reports`] reads the new
//! reports of a user's mailbox through its provider, parses them
//! ([`g360_mail_bounce::parse`]) and records them in the outbox database
//! ([`Outbox::record_report`]), once each.

use g360_mail_bounce::{Action, DeliveryReport};
use g360_mail_core::{
    Error, ErrorKind, MailProvider, MessageUid, ReportCursor, ReportQuery, Result,
};
use g360_mail_outbox::{DeliveryState, Outbox, RecipientRecord, ReportContent, ReportRecord};
use serde::Serialize;

use crate::bridge::MailBridge;

/// Reports asked for per page.
const PAGE_SIZE: u32 = 50;
/// Most pages read in one sync; the next sync goes on where this one stopped.
const MAX_PAGES: usize = 200;
/// How long a sync holds a mailbox before another node may take it over;
/// renewed with every page.
const LEASE: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// What one [`MailBridge::sync_reports`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReportSyncSummary {
    /// The user whose mailbox was read.
    pub user: String,
    /// The mailbox.
    pub mailbox: String,
    /// Reports read and recorded now.
    pub read: u32,
    /// Reports listed again but recorded by an earlier sync.
    pub already_recorded: u32,
    /// Recipients now bounced.
    pub bounced: u32,
    /// Recipients now delayed.
    pub delayed: u32,
    /// Recipients now delivered.
    pub delivered: u32,
    /// Reports about mail g360-mail did not send (or that name none).
    pub unknown_mail: u32,
    /// Recipients a report names that are none of the queued mail's.
    pub unmatched: u32,
    /// Reports that could not be read: recorded as set aside, never read again.
    pub unparseable: u32,
    /// Another node (or process) was reading this mailbox's reports: nothing
    /// was read now.
    pub busy: bool,
}

/// The state a report's action gives a recipient.
fn state_of(action: Action) -> DeliveryState {
    match action {
        Action::Failed => DeliveryState::Bounced,
        Action::Delayed => DeliveryState::Delayed,
        Action::Delivered | Action::Relayed | Action::Expanded => DeliveryState::Delivered,
    }
}

/// What the outbox records of a parsed report.
pub(crate) fn content_of(report: &DeliveryReport) -> ReportContent {
    let recipients = report
        .recipients
        .iter()
        .map(|r| {
            let mut rec = RecipientRecord::new(r.address(), state_of(r.action));
            rec.status = r.status.map(|s| s.to_string());
            rec.kind = r.kind.map(|k| k.as_str().to_owned());
            rec.diagnostic.clone_from(&r.diagnostic);
            rec.remote_mta.clone_from(&r.remote_mta);
            rec
        })
        .collect();
    ReportContent::Parsed {
        original_message_id: report.original_message_id.clone(),
        mail_uid: report.original_uid(),
        original_subject: report.original_subject.clone(),
        format: report.format.as_str().to_owned(),
        recipients,
    }
}

impl MailBridge {
    /// Reads the delivery reports `user`'s mailbox received since the last
    /// sync, records each once in `outbox`'s database with the state it
    /// gives each recipient of the mail it is about, and moves the mailbox's
    /// cursor. A report that cannot be parsed is recorded as set aside and
    /// counted ([`ReportSyncSummary::unparseable`]); it never fails the sync.
    ///
    /// # Errors
    /// `Unsupported` (`bounces.unsupported`) when the account's route cannot
    /// list reports (SMTP); the provider's error when listing or fetching a
    /// report fails — what was recorded before stays, and the next sync
    /// starts again at the report that failed.
    pub async fn sync_reports(&self, outbox: &Outbox, user: &str) -> Result<ReportSyncSummary> {
        self.check_setup(user)?;
        let account = self.account(user)?;
        let provider = self.provider(user)?;
        if !provider.capabilities().delivery_reports {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "the account's route cannot read delivery reports",
            )
            .with_provider(provider.provider_type())
            .with_code("bounces.unsupported")
            .with_context("user", user)
            .with_remedy(
                "read reports through an office365 or file route; an smtp route only sends",
            ));
        }
        let mailbox = account.address.addr().to_ascii_lowercase();
        let mut summary = ReportSyncSummary {
            user: user.to_owned(),
            mailbox: mailbox.clone(),
            ..ReportSyncSummary::default()
        };
        let holder = format!("{}-{}", std::process::id(), MessageUid::new_random());
        if !outbox.lease_report_sync(&mailbox, &holder, LEASE).await? {
            tracing::debug!(user, mailbox, "another node is reading the delivery reports");
            summary.busy = true;
            return Ok(summary);
        }
        let result = self.sync_leased(outbox, user, &*provider, &holder, summary).await;
        if let Err(e) = outbox.release_report_sync(&mailbox, &holder).await {
            tracing::warn!(user, error = %e, "cannot give back the lease on the delivery reports");
        }
        result
    }

    async fn sync_leased(
        &self,
        outbox: &Outbox,
        user: &str,
        provider: &dyn MailProvider,
        holder: &str,
        mut summary: ReportSyncSummary,
    ) -> Result<ReportSyncSummary> {
        let mailbox = summary.mailbox.clone();
        let after = outbox.report_cursor(&mailbox).await?.map(ReportCursor::new);
        let mut query = ReportQuery::after(after);
        query.page_size = PAGE_SIZE;
        // The cursor of reports passed over (already recorded), saved at the end.
        let mut unsaved_cursor = None;
        for page_no in 0..MAX_PAGES {
            if page_no > 0 && !outbox.lease_report_sync(&mailbox, holder, LEASE).await? {
                break;
            }
            let page = provider
                .list_delivery_reports(&query)
                .await
                .map_err(|e| e.with_context("user", user))?;
            for r in page.reports {
                if outbox.has_report(&mailbox, &r.id).await? {
                    summary.already_recorded += 1;
                    unsaved_cursor = Some(r.cursor);
                    continue;
                }
                let raw = match provider.raw_message(&r.id).await {
                    Ok(raw) => raw,
                    // Deleted since it was listed: nothing to read.
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        unsaved_cursor = Some(r.cursor);
                        continue;
                    }
                    Err(e) => {
                        if let Some(c) = unsaved_cursor.take() {
                            outbox.set_report_cursor(&mailbox, c.as_str()).await?;
                        }
                        return Err(e.with_context("user", user).with_context("report_id", &r.id));
                    }
                };
                let content = match g360_mail_bounce::parse(&raw) {
                    Ok(report) => content_of(&report),
                    Err(e) => {
                        let reason = e.context_value("reason").or(e.code()).unwrap_or("unreadable");
                        tracing::info!(user, report_id = %r.id, reason, "a delivery report cannot be read; set aside");
                        ReportContent::Unparseable { reason: reason.to_owned() }
                    }
                };
                let unparseable = matches!(content, ReportContent::Unparseable { .. });
                let mut record = ReportRecord::new(&mailbox, &r.id, r.cursor.as_str(), content);
                record.report_message_id = r.internet_message_id;
                record.received_at = r.received_at;
                let outcome = outbox.record_report(&record).await?;
                unsaved_cursor = None;
                if !outcome.new {
                    summary.already_recorded += 1;
                    continue;
                }
                summary.read += 1;
                summary.unparseable += u32::from(unparseable);
                summary.unknown_mail += u32::from(outcome.unknown_mail);
                summary.bounced += outcome.bounced;
                summary.delayed += outcome.delayed;
                summary.delivered += outcome.delivered;
                summary.unmatched += outcome.unmatched;
            }
            match page.continuation {
                Some(c) => query.continuation = Some(c),
                None => break,
            }
        }
        if let Some(c) = unsaved_cursor {
            outbox.set_report_cursor(&mailbox, c.as_str()).await?;
        }
        tracing::info!(
            user,
            read = summary.read,
            bounced = summary.bounced,
            delayed = summary.delayed,
            unparseable = summary.unparseable,
            "delivery reports synchronised"
        );
        Ok(summary)
    }

    /// [`sync_reports`](Self::sync_reports) for every account whose route
    /// can read reports, in configuration order; an account's failure does
    /// not stop the others.
    pub async fn sync_all_reports(
        &self,
        outbox: &Outbox,
    ) -> Vec<(String, Result<ReportSyncSummary>)> {
        let users: Vec<String> = self.config().accounts().iter().map(|a| a.user.clone()).collect();
        let mut out = Vec::with_capacity(users.len());
        for user in users {
            let can = self.provider(&user).map(|p| p.capabilities().delivery_reports);
            match can {
                Ok(false) => continue,
                Ok(true) => {
                    let result = self.sync_reports(outbox, &user).await;
                    out.push((user, result));
                }
                Err(e) => out.push((user, Err(e))),
            }
        }
        out
    }
}
