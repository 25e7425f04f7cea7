//! `g360-mail bounces …`: delivery reports (bounces, NDRs) read into typed
//! results (`parse`), harvested from the mailboxes (`sync`) and listed
//! (`list`); each recipient's delivery state in `outbox show`.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use g360_erp_bridge::{MailBridge, ReportSyncSummary};
use g360_mail_bounce::{DeliveryReport, RecipientReport};
use g360_mail_core::{Error, Timestamp};
use g360_mail_outbox::{DeliveryState, MailState, Outbox, OutboxMail, RecipientStatus};
use serde_json::{Value, json};

use crate::cli::BouncesCommand;
use crate::i18n::{BounceMsg, Msg, RecipientState};
use crate::output::{Color, Out, exit, exit_code, localized};

/// Runs `bounces sync` and `bounces list` (`bounces parse` needs no
/// configuration and runs before it is loaded: [`parse_files`]).
pub(crate) async fn run(
    out: &Out,
    bridge: &Arc<MailBridge>,
    command: BouncesCommand,
) -> Result<u8, Error> {
    match command {
        BouncesCommand::Parse { files } => Ok(parse_files(out, &files)),
        BouncesCommand::Sync { user, all } => sync(out, bridge, user, all).await,
        BouncesCommand::List { since, limit } => list(out, bridge, &since, limit).await,
    }
}

async fn sync(
    out: &Out,
    bridge: &Arc<MailBridge>,
    user: Option<String>,
    all: bool,
) -> Result<u8, Error> {
    let outbox = crate::outbox_cmd::open(bridge).await?;
    let results = if all {
        bridge.sync_all_reports(&outbox).await
    } else {
        let user = match user {
            Some(u) => u,
            None => bridge.default_user()?,
        };
        // One mailbox: its error is the command's.
        let summary = bridge.sync_reports(&outbox, &user).await?;
        vec![(user, Ok(summary))]
    };
    let code = results
        .iter()
        .find_map(|(_, r)| r.as_ref().err().map(|e| exit_code(e.kind())))
        .unwrap_or(exit::OK);
    if out.json {
        let list: Vec<Value> = results
            .iter()
            .map(|(user, r)| match r {
                Ok(s) => json!({ "user": user, "ok": true, "summary": s }),
                Err(e) => {
                    let (message, remedy) = localized(e, out.lang);
                    json!({ "user": user, "ok": false, "error": {
                        "kind": e.kind().as_str(), "code": e.code(), "message": message,
                        "detail": e.to_string(), "remedy": remedy } })
                }
            })
            .collect();
        out.json_value(&json!({ "ok": code == exit::OK, "mailboxes": list }));
        return Ok(code);
    }
    let t = |m: BounceMsg| m.text(out.lang);
    for (user, r) in &results {
        match r {
            Ok(s) => out.line(summary_line(out, s)),
            Err(e) => {
                let (message, remedy) = localized(e, out.lang);
                out.line(format!("{user}: {}", out.paint(Color::Red, &message)));
                if let Some(r) = remedy {
                    out.line(format!("  {}: {r}", out.t(Msg::WhatToDo)));
                }
            }
        }
    }
    if results.is_empty() {
        out.line(t(BounceMsg::NoMailboxes));
    }
    Ok(code)
}

fn summary_line(out: &Out, s: &ReportSyncSummary) -> String {
    let t = |m: BounceMsg| m.text(out.lang);
    if s.busy {
        return format!("{} ({}): {}", s.user, s.mailbox, t(BounceMsg::Busy));
    }
    // "label: n", so that a state's name needs no plural form.
    let mut line = format!(
        "{} ({}): {}: {}, {}: {}, {}: {}, {}: {}",
        s.user,
        s.mailbox,
        t(BounceMsg::ReportsRead),
        s.read,
        t(BounceMsg::State(RecipientState::Bounced)),
        s.bounced,
        t(BounceMsg::State(RecipientState::Delayed)),
        s.delayed,
        t(BounceMsg::State(RecipientState::Delivered)),
        s.delivered,
    );
    if s.unparseable > 0 {
        line.push_str(&format!(", {}: {}", t(BounceMsg::SetAside), s.unparseable));
    }
    if s.unknown_mail > 0 {
        line.push_str(&format!(", {}: {}", t(BounceMsg::UnknownMail), s.unknown_mail));
    }
    if s.unmatched > 0 {
        line.push_str(&format!(", {}: {}", t(BounceMsg::Unmatched), s.unmatched));
    }
    line
}

async fn list(out: &Out, bridge: &Arc<MailBridge>, since: &str, limit: u32) -> Result<u8, Error> {
    let age = crate::outbox_cmd::parse_age(since, "--since")?;
    let since = Timestamp::now()
        .checked_sub(jiff::SignedDuration::try_from(age).unwrap_or(jiff::SignedDuration::MAX))
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let outbox = crate::outbox_cmd::open(bridge).await?;
    let reports = outbox.recent_reports(since, limit).await?;
    if out.json {
        out.json_value(&json!({ "ok": true, "since": since, "reports": reports }));
        return Ok(exit::OK);
    }
    let t = |m: BounceMsg| m.text(out.lang);
    if reports.is_empty() {
        out.line(t(BounceMsg::NoReports));
    }
    for r in &reports {
        let mail = match (r.outbox_id, &r.mail_uid) {
            (Some(id), _) => format!("#{}", id.get()),
            (None, Some(uid)) => uid.clone(),
            (None, None) => t(BounceMsg::NotOurs).to_owned(),
        };
        let subject = r.original_subject.as_deref().unwrap_or("-");
        let when = r.received_at.strftime("%Y-%m-%d %H:%M");
        if !r.parsed {
            out.line(format!(
                "{when}  {}  {} ({})",
                r.mailbox,
                out.paint(Color::Yellow, t(BounceMsg::SetAside)),
                r.error_reason.as_deref().unwrap_or("-")
            ));
            continue;
        }
        for rec in r.recipients.iter().filter(|x| x.state != DeliveryState::Delivered) {
            let state = t(BounceMsg::State(recipient_state(rec.state)));
            let color =
                if rec.state == DeliveryState::Bounced { Color::Red } else { Color::Yellow };
            out.line(format!(
                "{when}  {:10} {:7} {}  {mail}  {subject}",
                out.paint(color, state),
                rec.status.as_deref().unwrap_or("-"),
                rec.address,
            ));
            if let Some(d) = &rec.diagnostic {
                out.line(format!("      {}: {d}", t(BounceMsg::Diagnostic)));
            }
        }
    }
    Ok(exit::OK)
}

/// Each recipient of `mail` with its delivery state: the state a report
/// recorded, else the mail's own state (`sent`, `queued`, ...); addresses
/// a report named that are none of the mail's recipients come last.
pub(crate) async fn recipient_states(
    outbox: &Outbox,
    mail: &OutboxMail,
) -> Result<Vec<Value>, Error> {
    let statuses = outbox.delivery_statuses(mail.uid).await?;
    let mut list = Vec::new();
    let recipients: Vec<String> =
        mail.recipients.split(',').map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()).collect();
    let entry = |address: &str, s: Option<&RecipientStatus>| match s {
        Some(s) => {
            let r = &s.recipient;
            json!({ "address": address, "state": r.state.as_str(), "status": r.status,
                "kind": r.kind, "diagnostic": r.diagnostic, "remote_mta": r.remote_mta,
                "matched": s.matched, "updated_at": s.updated_at })
        }
        None => json!({ "address": address, "state": mail.state.as_str() }),
    };
    for a in &recipients {
        let s = statuses.iter().find(|s| s.recipient.address.eq_ignore_ascii_case(a));
        list.push(entry(a, s));
    }
    for s in statuses
        .iter()
        .filter(|s| !recipients.iter().any(|a| a.eq_ignore_ascii_case(&s.recipient.address)))
    {
        list.push(entry(&s.recipient.address, Some(s)));
    }
    Ok(list)
}

/// The lines of [`recipient_states`] for `outbox show`.
pub(crate) fn print_recipient_states(out: &Out, states: &[Value]) {
    let t = |m: BounceMsg| m.text(out.lang);
    out.line(format!("  {}:", t(BounceMsg::Recipients)));
    for s in states {
        let address = s["address"].as_str().unwrap_or_default();
        let state = match s["state"].as_str().unwrap_or_default() {
            "bounced" => out.paint(Color::Red, t(BounceMsg::State(RecipientState::Bounced))),
            "delayed" => out.paint(Color::Yellow, t(BounceMsg::State(RecipientState::Delayed))),
            "delivered" => out.paint(Color::Green, t(BounceMsg::State(RecipientState::Delivered))),
            other => match other.parse::<MailState>() {
                Ok(MailState::Sent) => out.t(Msg::StateSent).to_owned(),
                Ok(MailState::Queued) => out.t(Msg::StateQueued).to_owned(),
                Ok(MailState::Sending) => out.t(Msg::StateSending).to_owned(),
                Ok(MailState::Failed) => out.t(Msg::StateFailed).to_owned(),
                _ => other.to_owned(),
            },
        };
        let status = s["status"].as_str().map(|c| format!("  {c}")).unwrap_or_default();
        out.line(format!("    {address}  {state}{status}"));
        if let Some(d) = s["diagnostic"].as_str() {
            out.line(format!("      {}: {d}", t(BounceMsg::Diagnostic)));
        }
    }
}

/// Stops the periodic sync when dropped.
#[derive(Debug)]
pub(crate) struct PeriodicSync(tokio::task::JoinHandle<()>);

impl Drop for PeriodicSync {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// While `outbox run` runs, reads the delivery reports of every account
/// that can, every `[outbox] bounce_sync_ms` (none when 0): first at start.
pub(crate) fn spawn_periodic_sync(
    bridge: &Arc<MailBridge>,
    outbox: &Outbox,
) -> Option<PeriodicSync> {
    let every = bridge.config().outbox().bounce_sync_ms;
    if every == 0 {
        return None;
    }
    let (bridge, outbox) = (bridge.clone(), outbox.clone());
    Some(PeriodicSync(tokio::spawn(async move {
        loop {
            for (user, result) in bridge.sync_all_reports(&outbox).await {
                if let Err(e) = result {
                    tracing::warn!(user, error = %e, "cannot read the delivery reports");
                }
            }
            tokio::time::sleep(Duration::from_millis(every)).await;
        }
    })))
}

/// Reads each file as a delivery report and prints, per file, the original
/// Message-ID (and subject, when known) and each recipient's address, action, status, kind and
/// diagnostic. Every file is read even when one fails; the exit code is that
/// of the first failure.
pub(crate) fn parse_files(out: &Out, files: &[std::path::PathBuf]) -> u8 {
    let results: Vec<_> = files.iter().map(|f| (f, read(f))).collect();
    let code = results
        .iter()
        .find_map(|(_, r)| r.as_ref().err().map(|e| exit_code(e.kind())))
        .unwrap_or(exit::OK);
    if out.json {
        let list: Vec<_> = results
            .iter()
            .map(|(file, r)| match r {
                Ok(report) => {
                    json!({ "file": file.display().to_string(), "ok": true, "report": report })
                }
                Err(e) => {
                    let (message, remedy) = localized(e, out.lang);
                    json!({ "file": file.display().to_string(), "ok": false, "error": {
                        "kind": e.kind().as_str(), "code": e.code(), "message": message,
                        "detail": e.to_string(), "remedy": remedy,
                        "reason": e.context_value("reason"), "exit_code": exit_code(e.kind()) } })
                }
            })
            .collect();
        out.json_value(&json!({ "ok": code == exit::OK, "files": list }));
        return code;
    }
    for (i, (file, result)) in results.iter().enumerate() {
        if i > 0 {
            out.line("");
        }
        out.line(out.paint(Color::Bold, &file.display().to_string()));
        match result {
            Ok(report) => print_report(out, report),
            Err(e) => print_error(out, file, e),
        }
    }
    code
}

fn read(path: &Path) -> Result<DeliveryReport, Error> {
    // The parser reads no more than this; a larger file is not loaded whole.
    let limit = g360_mail_bounce::MAX_READ_BYTES as u64;
    let mut raw = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(limit).read_to_end(&mut raw));
    read.map_err(|e| {
        Error::invalid_input("cannot read the file")
            .with_code("bounce.unreadable")
            .with_context("path", path.display())
            .with_source(e)
    })?;
    g360_mail_bounce::parse(&raw).map_err(|e| e.with_context("path", path.display()))
}

fn print_report(out: &Out, report: &DeliveryReport) {
    let t = |m: BounceMsg| m.text(out.lang);
    let id = report.original_message_id.clone().unwrap_or_else(|| t(BounceMsg::Unknown).to_owned());
    out.line(format!("  {}: {id}", t(BounceMsg::OriginalMessageId)));
    if let Some(subject) = &report.original_subject {
        out.line(format!("  {}: {subject}", t(BounceMsg::OriginalSubject)));
    }
    for r in &report.recipients {
        print_recipient(out, r);
    }
}

fn print_recipient(out: &Out, r: &RecipientReport) {
    let t = |m: BounceMsg| m.text(out.lang);
    let mut address = r.address().to_owned();
    if !r.final_recipient.eq_ignore_ascii_case(&address) {
        address.push_str(&format!(" → {}", r.final_recipient));
    }
    let status = r.status.map_or_else(|| "-".to_owned(), |s| s.to_string());
    let action = t(BounceMsg::Action(r.action));
    let (kind, color) = match r.kind {
        Some(k) => {
            (t(BounceMsg::Kind(k)), if r.action.is_problem() { Color::Red } else { Color::Green })
        }
        None => ("-", Color::Green),
    };
    let color =
        if r.kind == Some(g360_mail_bounce::BounceKind::Delayed) { Color::Yellow } else { color };
    out.line(format!("  {address}  {}  {status}  {kind}", out.paint(color, action)));
    if let Some(d) = &r.diagnostic {
        out.line(format!("      {}: {d}", t(BounceMsg::Diagnostic)));
    }
    if let Some(m) = &r.remote_mta {
        out.line(format!("      {}: {m}", t(BounceMsg::RemoteMta)));
    }
}

fn print_error(out: &Out, file: &Path, e: &Error) {
    let (message, remedy) = localized(e, out.lang);
    out.line(format!("  {}", out.paint(Color::Red, &message)));
    eprintln!("{}: {message}{}", file.display(), crate::output::detail_suffix(&message, e));
    if let Some(r) = remedy {
        eprintln!("  {}: {r}", out.t(Msg::WhatToDo));
    }
}

/// The outbox's delivery state as the catalogue names it.
fn recipient_state(state: DeliveryState) -> RecipientState {
    match state {
        DeliveryState::Bounced => RecipientState::Bounced,
        DeliveryState::Delayed => RecipientState::Delayed,
        DeliveryState::Delivered => RecipientState::Delivered,
        _ => RecipientState::Other,
    }
}
