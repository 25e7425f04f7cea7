//! `g360-mail bounces …`: delivery reports (bounces, NDRs) read into typed results.

use std::io::Read;
use std::path::Path;

use g360_mail_bounce::{DeliveryReport, RecipientReport};
use g360_mail_core::Error;
use serde_json::json;

use crate::cli::BouncesCommand;
use crate::i18n::{BounceMsg, Msg};
use crate::output::{Color, Out, exit, exit_code, localized};

/// Runs a `bounces` command. Needs no configuration: it reads files.
pub(crate) fn run(out: &Out, command: BouncesCommand) -> u8 {
    match command {
        BouncesCommand::Parse { files } => parse_files(out, &files),
    }
}

/// Reads each file as a delivery report and prints, per file, the original
/// Message-ID (and subject, when known) and each recipient's address, action, status, kind and
/// diagnostic. Every file is read even when one fails; the exit code is that
/// of the first failure.
fn parse_files(out: &Out, files: &[std::path::PathBuf]) -> u8 {
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
    eprintln!("{}: {message} ({})", file.display(), e.message());
    if let Some(r) = remedy {
        eprintln!("  {}: {r}", out.t(Msg::WhatToDo));
    }
}
