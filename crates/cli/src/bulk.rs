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
use crate::output::{Out, detail_suffix, exit, exit_code, localized, safe_line};

/// The columns a CSV may have; `to` is required.
const COLUMNS: &[&str] = &["to", "cc", "bcc", "subject", "body", "html_file", "attach"];

/// One row, checked: addresses parsed, files found under the root.
#[derive(Debug)]
pub(crate) struct Row {
    line: u64,
    /// The folder the row's files must lie in (canonical).
    root: Arc<PathBuf>,
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
            let bytes = read_under(&self.root, path, "html_file")?;
            let html = String::from_utf8(bytes).map_err(|_| {
                Error::invalid_input("the HTML file is not UTF-8")
                    .with_code("attachment.unreadable")
                    .with_context("column", "html_file")
                    .with_context("path", path.display())
            })?;
            b = b.html(html);
        }
        for path in &self.attach {
            let bytes = read_under(&self.root, path, "attach")?;
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

/// How `send --from-csv` reads its file.
#[derive(Debug, Clone, Default)]
pub(crate) struct CsvOptions {
    /// The folder the rows' files must lie in; by default the CSV's own.
    pub(crate) attach_root: Option<PathBuf>,
    /// The field separator; by default detected from the header line
    /// (`,`, `;` as Spanish Excel writes, or a tab).
    pub(crate) delimiter: Option<u8>,
    /// Files no row may attach even inside the root: the configuration
    /// file and the outbox database (they hold secrets and mail).
    pub(crate) private: Vec<PathBuf>,
}

/// The separators detected, in order of preference on a tie.
const DELIMITERS: &[u8] = b",;\t";

/// The separator of the header line: the one of [`DELIMITERS`] that occurs
/// most often outside quotes (`,` when none does).
fn detect_delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    let mut quoted = false;
    let mut counts = [0usize; 3];
    for b in header.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(i) = DELIMITERS.iter().position(|d| *d == b) {
            counts[i] += 1;
        }
    }
    let best = (0..DELIMITERS.len()).max_by_key(|i| (counts[*i], std::cmp::Reverse(*i)));
    best.filter(|i| counts[*i] > 0).map_or(b',', |i| DELIMITERS[i])
}

/// The text of a CSV file: UTF-8 (a byte-order mark dropped), else Windows-1252,
/// which Excel's "CSV (delimitado por comas)" writes on Spanish Windows.
fn decode(bytes: Vec<u8>) -> String {
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => e.into_bytes().iter().map(|b| windows_1252(*b)).collect(),
    }
}

/// One byte of Windows-1252 (Latin-1 except for 0x80–0x9F).
fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// The canonical folder files of `csv` may be read from.
fn attach_root(csv: &Path, options: &CsvOptions) -> Result<PathBuf, Error> {
    let (dir, option) = match &options.attach_root {
        Some(dir) => (dir.clone(), "--attach-root"),
        None => {
            let parent = csv.parent().filter(|p| !p.as_os_str().is_empty());
            (parent.map_or_else(|| PathBuf::from("."), Path::to_path_buf), "--from-csv")
        }
    };
    match std::fs::canonicalize(&dir) {
        Ok(root) if root.is_dir() => Ok(root),
        Ok(_) => Err(Error::invalid_input("the folder of the attachments is not a directory")
            .with_code("csv.attach-root")
            .with_context("option", option)
            .with_context("path", dir.display())),
        Err(e) => Err(Error::invalid_input("the folder of the attachments cannot be read")
            .with_code("csv.attach-root")
            .with_context("option", option)
            .with_context("path", dir.display())
            .with_source(e)),
    }
}

/// Why a file named in a row is refused.
fn refused(value: &str, column: &'static str, why: &str) -> Error {
    Error::invalid_input(format!("the file {why}"))
        .with_code("csv.path-refused")
        .with_context("column", column)
        .with_context("path", value)
        .with_remedy(
            "name files by paths relative to the CSV's folder (or to --attach-root), \
             without .. or links that lead outside it",
        )
}

/// The file `value` of a row, resolved under `root`: not absolute, not
/// leaving `root` through `..` or a symbolic link, not hidden, not one of
/// the `private` files, and a regular file.
fn resolve(
    root: &Path,
    private: &[PathBuf],
    value: &str,
    column: &'static str,
) -> Result<PathBuf, Error> {
    let relative = Path::new(value);
    if relative.has_root() || relative.is_absolute() || value.starts_with('~') {
        return Err(refused(value, column, "is named by an absolute path"));
    }
    let path = match std::fs::canonicalize(root.join(relative)) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::invalid_input("the file does not exist")
                .with_code("attachment.unreadable")
                .with_context("column", column)
                .with_context("path", value));
        }
        Err(e) => return Err(unreadable(relative, column, e)),
    };
    if !path.starts_with(root) {
        return Err(refused(value, column, "lies outside the CSV's folder (through .. or a link)"));
    }
    // Hidden files and folders (.env, .ssh, .git) hold credentials far more
    // often than attachments.
    let inside = path.strip_prefix(root).unwrap_or(&path);
    if inside.components().any(|c| c.as_os_str().to_string_lossy().starts_with('.')) {
        return Err(refused(value, column, "is hidden (its name or a folder's starts with a dot)"));
    }
    if private.contains(&path) {
        return Err(refused(value, column, "is the configuration or the outbox database"));
    }
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => Ok(path),
        Ok(_) => Err(refused(value, column, "is not a regular file")),
        Err(e) => Err(unreadable(relative, column, e)),
    }
}

/// Reads a file [`resolve`]d at check time, checking again that it is a
/// regular file under `root`, without following a link that replaced it
/// since.
fn read_under(root: &Path, path: &Path, column: &'static str) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let again = std::fs::canonicalize(path).map_err(|e| unreadable(path, column, e))?;
    if again != path || !again.starts_with(root) {
        return Err(refused(&path.display().to_string(), column, "changed since it was checked"));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // No link, and no blocking on a FIFO swapped in since the check.
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let mut file = options.open(path).map_err(|e| unreadable(path, column, e))?;
    let meta = file.metadata().map_err(|e| unreadable(path, column, e))?;
    if !meta.is_file() {
        return Err(refused(&path.display().to_string(), column, "is not a regular file"));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.read_to_end(&mut bytes).map_err(|e| unreadable(path, column, e))?;
    Ok(bytes)
}

/// Reads and checks every row. Files are resolved under the CSV's folder, or
/// under `options.attach_root`.
pub(crate) fn read(path: &Path, options: &CsvOptions) -> Result<Vec<Row>, Vec<RowError>> {
    let bytes = std::fs::read(path).map_err(|e| {
        vec![RowError {
            line: 0,
            error: Error::invalid_input("cannot read the CSV file")
                .with_code("csv.invalid")
                .with_context("path", path.display())
                .with_source(e),
        }]
    })?;
    parse(path, bytes, options)
}

/// [`read`] on the bytes of the CSV file at `path` (whose folder is the
/// default root of the files it names): the whole check without the file
/// itself, for property tests.
pub(crate) fn parse(
    path: &Path,
    bytes: Vec<u8>,
    options: &CsvOptions,
) -> Result<Vec<Row>, Vec<RowError>> {
    let file_error = |e: Error| vec![RowError { line: 0, error: e }];
    let text = decode(bytes);
    let delimiter = options.delimiter.unwrap_or_else(|| detect_delimiter(&text));
    let root = Arc::new(attach_root(path, options).map_err(file_error)?);
    let private: Vec<PathBuf> =
        options.private.iter().filter_map(|p| std::fs::canonicalize(p).ok()).collect();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| file_error(csv_error(path, e)))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let mut errors = Vec::new();
    let unknown: Vec<&String> = headers.iter().filter(|h| !COLUMNS.contains(&h.as_str())).collect();
    if !unknown.is_empty() {
        let names: Vec<String> = unknown.iter().map(|h| format!("{h:?}")).collect();
        let message = format!("unknown column {}", names.join(", "));
        errors
            .push(RowError { line: 1, error: header_problem(message, path, &headers, delimiter) });
    }
    if !headers.iter().any(|h| h == "to") {
        let message = "the CSV file has no `to` column".to_owned();
        errors
            .push(RowError { line: 1, error: header_problem(message, path, &headers, delimiter) });
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
        match check_row(line, &fields, &root, &private) {
            Ok(row) => rows.push(row),
            Err(error) => errors.push(RowError { line, error }),
        }
    }
    if errors.is_empty() { Ok(rows) } else { Err(errors) }
}

/// A header line that is not recognised, diagnosed: another separator, data
/// without a header, or Spanish column names. The code picks the translated
/// text; the English remedy says exactly what to change.
fn header_problem(message: String, path: &Path, headers: &[String], delimiter: u8) -> Error {
    let expected = format!(
        "the first line names the columns, separated by {:?}: {}",
        char::from(delimiter),
        COLUMNS.join(", ")
    );
    let error = Error::invalid_input(message).with_context("path", path.display());
    let joined = headers.join(" ");
    if let Some(other) =
        DELIMITERS.iter().find(|d| **d != delimiter && joined.contains(char::from(**d)))
    {
        let other = if *other == b'\t' { "tab".to_owned() } else { char::from(*other).to_string() };
        return error
            .with_code("csv.wrong-delimiter")
            .with_context("--delimiter", &other)
            .with_remedy(format!(
                "{expected}; the line seems separated by {other:?}: pass --delimiter {other:?}"
            ));
    }
    if headers.iter().any(|h| h.contains('@')) {
        return error.with_code("csv.no-header").with_remedy(format!(
            "{expected}; the first line looks like data: add a header line above it"
        ));
    }
    const SPANISH: &[(&str, &str)] = &[
        ("para", "to"),
        ("destinatario", "to"),
        ("destinatarios", "to"),
        ("copia", "cc"),
        ("asunto", "subject"),
        ("cuerpo", "body"),
        ("texto", "body"),
        ("mensaje", "body"),
        ("adjunto", "attach"),
        ("adjuntos", "attach"),
    ];
    let renames: Vec<String> = headers
        .iter()
        .filter_map(|h| SPANISH.iter().find(|(es, _)| es == h))
        .map(|(es, en)| format!("{es} → {en}"))
        .collect();
    if !renames.is_empty() {
        let renames = renames.join(", ");
        return error
            .with_code("csv.spanish-columns")
            .with_context("rename", &renames)
            .with_remedy(format!("{expected}; rename the columns: {renames}"));
    }
    error.with_code("csv.unknown-column").with_remedy(expected)
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

fn check_row(
    line: u64,
    fields: &BTreeMap<&str, &str>,
    root: &Arc<PathBuf>,
    private: &[PathBuf],
) -> Result<Row, Error> {
    let field = |name: &str| fields.get(name).copied().unwrap_or("");
    let list = |name: &'static str| {
        parse_address_list(field(name)).map_err(|e| e.with_context("column", name))
    };
    let file = |value: &str, column: &'static str| resolve(root, private, value, column);
    let row = Row {
        line,
        root: root.clone(),
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
    eprintln!(
        "  {} {line}: {}{}",
        out.t(Msg::Line),
        safe_line(&message),
        safe_line(&detail_suffix(&message, e))
    );
    if let Some(r) = remedy {
        eprintln!("      {}: {}", out.t(Msg::WhatToDo), safe_line(&r));
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
    // One unknown outcome makes the whole run "do not resend": a caller that
    // retries on 5 must not run the file again.
    let code = if failed.iter().any(|(_, e)| e.kind() == g360_mail_core::ErrorKind::OutcomeUnknown)
    {
        exit::UNKNOWN
    } else {
        failed.first().map_or(exit::OK, |(_, e)| exit_code(e.kind()))
    };
    if out.json {
        let rows: Vec<_> = results
            .iter()
            .map(|(line, r)| match r {
                Ok(receipt) => {
                    json!({ "line": line, "ok": true, "outcome": "sent", "receipt": receipt })
                }
                Err(e) => {
                    let mut v = row_json(out, *line, e);
                    v["ok"] = json!(false);
                    v["outcome"] = json!(crate::output::outcome(Err(e)));
                    v["exit_code"] = json!(exit_code(e.kind()));
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
