//! `send --from-csv`: one mail per CSV row, all validated before the first
//! send, sent concurrently on one account, with a progress bar on a terminal
//! and a summary at the end.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use g360_erp_bridge::MailBridge;
use g360_mail_core::{
    Attachment, EmailAddress, Error, OutgoingMessage, content_type_for, parse_address_list,
};
use serde_json::json;

use crate::i18n::Msg;
use crate::output::{Out, exit, exit_code, localized};

/// The columns a CSV may have; `to` is required.
const COLUMNS: &[&str] = &["to", "cc", "bcc", "subject", "body", "html_file", "attach"];

/// One row, checked: addresses parsed, files found.
#[derive(Debug)]
pub(crate) struct Row {
    line: u64,
    to: Vec<EmailAddress>,
    cc: Vec<EmailAddress>,
    bcc: Vec<EmailAddress>,
    subject: String,
    body: Option<String>,
    html_file: Option<PathBuf>,
    attach: Vec<PathBuf>,
}

/// A row that cannot be sent, with its line number.
#[derive(Debug)]
pub(crate) struct RowError {
    line: u64,
    error: Error,
}

impl Row {
    /// Reads the files and builds the message (at send time, so a large run
    /// does not hold every attachment in memory at once).
    fn message(&self) -> Result<OutgoingMessage, Error> {
        let mut b = OutgoingMessage::builder()
            .to_all(self.to.clone())
            .cc_all(self.cc.clone())
            .bcc_all(self.bcc.clone())
            .subject(self.subject.clone());
        if let Some(body) = &self.body {
            b = b.text(body.clone());
        }
        if let Some(path) = &self.html_file {
            b = b
                .html(std::fs::read_to_string(path).map_err(|e| unreadable(path, "html_file", e))?);
        }
        for path in &self.attach {
            let bytes = std::fs::read(path).map_err(|e| unreadable(path, "attach", e))?;
            let name =
                path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            b = b.attach(Attachment::new(&name, content_type_for(&name), bytes)?);
        }
        b.build()
    }
}

fn unreadable(path: &Path, column: &'static str, e: std::io::Error) -> Error {
    Error::invalid_input("cannot read the file")
        .with_code("attachment.unreadable")
        .with_context("column", column)
        .with_context("path", path.display())
        .with_source(e)
}

/// Reads and checks every row. Paths are relative to the CSV file's folder.
pub(crate) fn read(path: &Path) -> Result<Vec<Row>, Vec<RowError>> {
    let file_error = |e: Error| vec![RowError { line: 0, error: e }];
    let mut reader =
        csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::All).from_path(path).map_err(
            |e| {
                file_error(
                    Error::invalid_input("cannot read the CSV file")
                        .with_code("csv.invalid")
                        .with_context("path", path.display())
                        .with_source(e),
                )
            },
        )?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| file_error(csv_error(path, e)))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let mut errors = Vec::new();
    for h in &headers {
        if !COLUMNS.contains(&h.as_str()) {
            errors.push(RowError {
                line: 1,
                error: Error::invalid_input(format!("unknown column {h:?}"))
                    .with_code("csv.invalid")
                    .with_context("path", path.display())
                    .with_remedy(format!("use only the columns {}", COLUMNS.join(", "))),
            });
        }
    }
    if !headers.iter().any(|h| h == "to") {
        errors.push(RowError {
            line: 1,
            error: Error::invalid_input("the CSV file has no `to` column")
                .with_code("csv.invalid")
                .with_context("path", path.display())
                .with_remedy(format!("the first line names the columns: {}", COLUMNS.join(", "))),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                errors.push(RowError { line, error: csv_error(path, e) });
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        let fields: BTreeMap<&str, &str> =
            headers.iter().map(String::as_str).zip(record.iter()).collect();
        match check_row(line, &fields, &base) {
            Ok(row) => rows.push(row),
            Err(error) => errors.push(RowError { line, error }),
        }
    }
    if errors.is_empty() { Ok(rows) } else { Err(errors) }
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    Error::invalid_input("the CSV file is malformed")
        .with_code("csv.invalid")
        .with_context("path", path.display())
        .with_remedy(
            "every line needs as many fields as the header; quote fields that contain commas",
        )
        .with_source(e)
}

fn check_row(line: u64, fields: &BTreeMap<&str, &str>, base: &Path) -> Result<Row, Error> {
    let field = |name: &str| fields.get(name).copied().unwrap_or("");
    let list = |name: &'static str| {
        parse_address_list(field(name)).map_err(|e| e.with_context("column", name))
    };
    let file = |value: &str, column: &'static str| -> Result<PathBuf, Error> {
        let path = base.join(value);
        if path.is_file() {
            Ok(path)
        } else {
            Err(Error::invalid_input("the file does not exist")
                .with_code("attachment.unreadable")
                .with_context("column", column)
                .with_context("path", path.display()))
        }
    };
    let row = Row {
        line,
        to: list("to")?,
        cc: list("cc")?,
        bcc: list("bcc")?,
        subject: field("subject").to_owned(),
        body: Some(field("body")).filter(|b| !b.is_empty()).map(str::to_owned),
        html_file: Some(field("html_file"))
            .filter(|f| !f.is_empty())
            .map(|f| file(f, "html_file"))
            .transpose()?,
        attach: field("attach")
            .split(';')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(|f| file(f, "attach"))
            .collect::<Result<_, _>>()?,
    };
    // The builder's checks (recipients, subject, sizes of what is known now).
    let mut probe = OutgoingMessage::builder()
        .to_all(row.to.clone())
        .cc_all(row.cc.clone())
        .bcc_all(row.bcc.clone())
        .subject(row.subject.clone());
    if let Some(b) = &row.body {
        probe = probe.text(b.clone());
    }
    probe.build()?;
    Ok(row)
}

/// Every row's message, for queuing (files are read now).
pub(crate) fn messages(rows: &[Row]) -> Result<Vec<(u64, OutgoingMessage)>, Error> {
    rows.iter()
        .map(|r| r.message().map(|m| (r.line, m)).map_err(|e| e.with_context("line", r.line)))
        .collect()
}

/// Prints the rows that cannot be sent; nothing has been sent.
pub(crate) fn report_invalid(out: &Out, path: &Path, errors: &[RowError]) -> u8 {
    if out.json {
        let rows: Vec<_> = errors.iter().map(|e| row_json(out, e.line, &e.error)).collect();
        out.json_value(
            &json!({ "ok": false, "sent": 0, "invalid_rows": rows, "exit_code": exit::USAGE }),
        );
        return exit::USAGE;
    }
    eprintln!("{} ({}): {}", out.t(Msg::CsvInvalid), path.display(), errors.len());
    for e in errors {
        print_row_error(out, e.line, &e.error);
    }
    exit::USAGE
}

fn row_json(out: &Out, line: u64, e: &Error) -> serde_json::Value {
    let (message, remedy) = localized(e, out.lang);
    json!({ "line": line, "kind": e.kind().as_str(), "code": e.code(), "message": message,
            "detail": e.to_string(), "remedy": remedy })
}

fn print_row_error(out: &Out, line: u64, e: &Error) {
    let (message, remedy) = localized(e, out.lang);
    eprintln!("  {} {line}: {message} ({e})", out.t(Msg::Line));
    if let Some(r) = remedy {
        eprintln!("      {}: {r}", out.t(Msg::WhatToDo));
    }
}

/// Sends every row as `user`, at most `concurrency` at once; a failed row
/// never stops the others. Exit 0 only when every row was sent.
pub(crate) async fn send(
    out: &Out,
    bridge: Arc<MailBridge>,
    user: &str,
    rows: Vec<Row>,
    concurrency: u16,
) -> u8 {
    let total = rows.len() as u64;
    let progress = if out.json || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len}  {elapsed} (~{eta})")
        {
            bar.set_style(style);
        }
        bar
    };
    let started = Instant::now();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(usize::from(concurrency)));
    let mut tasks = tokio::task::JoinSet::new();
    for row in rows {
        let bridge = bridge.clone();
        let user = user.to_owned();
        let semaphore = semaphore.clone();
        let progress = progress.clone();
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            let result = match row.message() {
                Ok(m) => bridge.send_as(&user, m).await,
                Err(e) => Err(e),
            };
            progress.inc(1);
            (row.line, result)
        });
    }
    let mut results = Vec::with_capacity(total as usize);
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(r) => results.push(r),
            Err(e) => results.push((
                0,
                Err(Error::new(
                    g360_mail_core::ErrorKind::Unexpected,
                    format!("a send task failed: {e}"),
                )),
            )),
        }
    }
    progress.finish_and_clear();
    let elapsed = started.elapsed();
    results.sort_by_key(|(line, _)| *line);
    let sent = results.iter().filter(|(_, r)| r.is_ok()).count();
    let failed: Vec<(u64, &Error)> =
        results.iter().filter_map(|(l, r)| r.as_ref().err().map(|e| (*l, e))).collect();
    let rate = sent as f64 / elapsed.as_secs_f64().max(1e-9);
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    for (_, e) in &failed {
        *by_reason.entry(e.code().unwrap_or(e.kind().as_str()).to_owned()).or_default() += 1;
    }
    let code = failed.first().map_or(exit::OK, |(_, e)| exit_code(e.kind()));
    if out.json {
        let rows: Vec<_> = results
            .iter()
            .map(|(line, r)| match r {
                Ok(receipt) => json!({ "line": line, "ok": true, "receipt": receipt }),
                Err(e) => {
                    let mut v = row_json(out, *line, e);
                    v["ok"] = json!(false);
                    v
                }
            })
            .collect();
        out.json_value(&json!({ "ok": failed.is_empty(), "sent": sent, "failed": failed.len(),
            "failed_by_reason": by_reason, "seconds": elapsed.as_secs_f64(), "mails_per_second": rate,
            "rows": rows, "exit_code": code }));
        return code;
    }
    out.line(format!(
        "{}: {sent}/{total} ({:.1} s, {rate:.1} {})",
        out.t(Msg::Sent),
        elapsed.as_secs_f64(),
        out.t(Msg::MailsPerSecond)
    ));
    if !failed.is_empty() {
        out.line(format!("{}: {}", out.t(Msg::Failed), failed.len()));
        for (reason, n) in &by_reason {
            out.line(format!("  {reason}: {n}"));
        }
        for (line, e) in &failed {
            print_row_error(out, *line, e);
        }
    }
    code
}

#[cfg(test)]
#[path = "bulk_fuzz.rs"]
mod fuzz;
