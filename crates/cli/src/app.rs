//! The commands.

use std::path::Path;

use g360_erp_bridge::{BridgeConfig, ConfigError, ConfigSource, Lang, MailBridge};
use g360_mail_core::{
    Attachment, CheckStatus, Error, ErrorKind, Folder, Importance, MailboxQuery, OutgoingMessage,
    ProviderRegistry, ReceivedMessage, SendReceipt, VerifyOptions, VerifyReport, content_type_for,
    parse_address_list,
};
use serde_json::json;

use crate::cli::{
    Cli, Command, ConfigCommand, ImportanceArg, InboxArgs, LangArg, SendArgs, ShowArgs, VerifyArgs,
};
use crate::i18n::Msg;
use crate::output::{Color, Out, exit, exit_code, safe_line, safe_text};

/// Every provider type this binary knows.
pub(crate) fn registry() -> ProviderRegistry {
    g360_erp_bridge::default_registry()
}

pub(crate) async fn run(cli: Cli) -> u8 {
    #[allow(clippy::disallowed_methods, reason = "the CLI reads its own environment")]
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let explicit_lang = cli.lang.map(|l| match l {
        LangArg::Es => Lang::Es,
        LangArg::En => Lang::En,
    });
    let registry = registry();
    let source = ConfigSource::discover(cli.config.clone());
    if let Command::Providers = cli.command {
        let lang = explicit_lang.or_else(|| BridgeConfig::lang_hint(&source)).unwrap_or_default();
        let out = Out::new(lang, cli.json, no_color);
        return providers(&out, &registry);
    }
    let loaded = BridgeConfig::load(&source, &registry);
    // A file with problems still says its language.
    let lang = explicit_lang
        .or_else(|| loaded.as_ref().ok().map(BridgeConfig::lang))
        .or_else(|| BridgeConfig::lang_hint(&source))
        .unwrap_or_default();
    let out = Out::new(lang, cli.json, no_color);
    if let Command::Bounces(crate::cli::BouncesCommand::Parse { files }) = &cli.command {
        // Reading report files needs no configuration (a broken one only loses its `lang`).
        return crate::bounces_cmd::parse_files(&out, files);
    }
    let config = match loaded {
        Ok(c) => c,
        Err(e) => return config_error(&out, &e),
    };
    let bridge = std::sync::Arc::new(MailBridge::new(config, registry));
    let result = match cli.command {
        Command::Send(args) => send(&out, &bridge, *args).await,
        Command::Inbox(args) => inbox(&out, &bridge, args).await,
        Command::Show(args) => show(&out, &bridge, args).await,
        Command::Verify(args) => verify(&out, &bridge, args).await,
        Command::Config(ConfigCommand::Check) => config_check(&out, &bridge),
        Command::Config(ConfigCommand::Show) => {
            if out.json {
                out.json_value(&json!({ "ok": true, "source": bridge.config().source().describe(),
                    "config": bridge.config().to_redacted_json(), "exit_code": exit::OK }));
            } else {
                out.line(bridge.config().to_redacted_toml().trim_end());
            }
            Ok(exit::OK)
        }
        Command::Outbox(command) => crate::outbox_cmd::run(&out, bridge.clone(), command).await,
        Command::Bounces(command) => crate::bounces_cmd::run(&out, &bridge, command).await,
        Command::Providers => unreachable!("handled above"),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let code = exit_for(&bridge, &e);
            out.error_with_code(&e, code);
            code
        }
    }
}

/// The exit code of an error: its kind's, except that a setup problem (one
/// `config check` lists, such as a malformed client id) exits 3 whether
/// `send`, `inbox`, `verify` or `config check` meets it.
fn exit_for(bridge: &MailBridge, e: &Error) -> u8 {
    let setup = e.kind() == ErrorKind::Config
        && e.code().is_some_and(|c| {
            bridge.config().setup_problems().iter().any(|p| p.code.as_deref() == Some(c))
        });
    if setup { exit::SETUP } else { exit_code(e.kind()) }
}

/// A configuration problem in the user's language: by its code when known
/// (with the precise English detail in brackets), else as written.
pub(crate) fn problem_text(
    out: &Out,
    p: &g360_mail_core::ConfigProblem,
) -> (String, Option<String>) {
    // The key the problem is about: the last part of its path.
    let key = p.path.rsplit('.').next();
    match p.code.as_deref().and_then(|c| crate::i18n::error_text_at(c, key, out.lang)) {
        Some((m, r)) => {
            let message = if m.eq_ignore_ascii_case(&p.message) {
                m.to_owned()
            } else {
                format!("{m} ({})", p.message)
            };
            let remedy = match (out.lang, &p.remedy) {
                (Lang::En, Some(own)) => own.clone(),
                _ => r.to_owned(),
            };
            (message, Some(remedy))
        }
        None => (p.message.clone(), p.remedy.clone()),
    }
}

fn config_error(out: &Out, e: &ConfigError) -> u8 {
    let code = match e {
        ConfigError::Missing { .. } => "config.missing",
        ConfigError::Read { .. } => "config.unreadable",
        _ => "config.invalid",
    };
    // The file itself is the problem: its message and remedy by code.
    let unreadable = match e {
        ConfigError::Invalid { .. } => None,
        _ => crate::i18n::error_text(code, out.lang),
    };
    if out.json {
        let problems: Vec<_> = e
            .problems()
            .iter()
            .map(|p| {
                let (message, remedy) = problem_text(out, p);
                json!({ "path": p.path, "code": p.code, "message": message, "detail": p.message, "remedy": remedy })
            })
            .collect();
        let (message, remedy) = match unreadable {
            Some((m, r)) => (m, Some(r)),
            None => (out.t(Msg::Problems), None),
        };
        out.json_value(&json!({ "ok": false, "error": {
            "kind": "config", "code": code, "message": message, "detail": e.to_string(),
            "remedy": remedy, "problems": problems, "exit_code": exit::USAGE } }));
        return exit::USAGE;
    }
    match (e, unreadable) {
        (ConfigError::Invalid { origin, problems }, _) => {
            eprintln!(
                "{} ({origin}): {}",
                out.t(Msg::Problems),
                crate::i18n::count(problems.len(), crate::i18n::Noun::Problem, out.lang)
            );
        }
        (_, Some((message, remedy))) => {
            eprintln!("{}: {message}", out.t(Msg::Error));
            eprintln!("  ({e})");
            eprintln!("  {}: {remedy}", out.t(Msg::WhatToDo));
        }
        (other, None) => eprintln!("{}: {other}", out.t(Msg::ConfigUnreadable)),
    }
    for p in e.problems() {
        let (message, remedy) = problem_text(out, p);
        eprintln!("  - {}: {message}", p.path);
        if let Some(r) = remedy {
            eprintln!("      {}: {r}", out.t(Msg::WhatToDo));
        }
    }
    exit::USAGE
}

fn providers(out: &Out, registry: &ProviderRegistry) -> u8 {
    let list = registry.list();
    if out.json {
        out.json_value(&json!({ "ok": true, "providers": list }));
        return exit::OK;
    }
    out.line(format!("{}:", out.t(Msg::ProviderTypes)));
    let width = list.iter().map(|p| p.provider_type.len()).max().unwrap_or(0);
    for p in list {
        let secret = if !p.needs_secret {
            String::new()
        } else if p.secret_not_needed_with.is_empty() {
            format!(" ({})", out.t(Msg::NeedsSecret))
        } else {
            let or = format!(" {} ", out.t(Msg::Or));
            let unless = p.secret_not_needed_with.join(&or);
            format!(" ({} {unless})", out.t(Msg::NeedsSecretUnless))
        };
        let description =
            crate::i18n::provider_description(p.provider_type, out.lang).unwrap_or(p.description);
        out.line(format!("  {:width$}  {description}{secret}", p.provider_type));
    }
    exit::OK
}

/// A configuration problem or warning for `--json`.
pub(crate) fn problem_json(out: &Out, p: &g360_mail_core::ConfigProblem) -> serde_json::Value {
    let (message, remedy) = problem_text(out, p);
    json!({ "path": p.path, "code": p.code, "message": message, "detail": p.message, "remedy": remedy })
}

/// Prints the configuration's warnings (a credential that expires soon, a
/// repeated secret) on stderr, translated, each with its remedy.
pub(crate) fn print_warnings(out: &Out, warnings: &[g360_mail_core::ConfigProblem]) {
    for p in warnings {
        let (message, remedy) = problem_text(out, p);
        eprintln!("{}: {}: {message}", out.t(Msg::Note), p.path);
        if let Some(r) = remedy {
            eprintln!("      {}: {r}", out.t(Msg::WhatToDo));
        }
    }
}

fn config_check(out: &Out, bridge: &MailBridge) -> Result<u8, Error> {
    let c = bridge.config();
    let setup = c.setup_problems();
    let code = if setup.is_empty() { exit::OK } else { exit::SETUP };
    if out.json {
        let problems: Vec<_> = setup.iter().map(|p| problem_json(out, p)).collect();
        let warnings: Vec<_> = c.warnings().iter().map(|p| problem_json(out, p)).collect();
        out.json_value(&json!({ "ok": setup.is_empty(), "source": c.source().describe(),
            "integrations": c.integrations().len(), "accounts": c.accounts().len(),
            "setup_problems": problems, "warnings": warnings, "exit_code": code }));
        return Ok(code);
    }
    // Warnings change nothing: they are listed, the exit code stays.
    print_warnings(out, c.warnings());
    if setup.is_empty() {
        use crate::i18n::{Noun, count};
        out.line(format!(
            "{} ({}): {}, {}",
            out.t(Msg::ConfigOk),
            c.source().describe(),
            count(c.integrations().len(), Noun::Integration, out.lang),
            count(c.accounts().len(), Noun::Account, out.lang)
        ));
    } else {
        eprintln!("{} ({}): {}", out.t(Msg::SetupProblems), c.source().describe(), setup.len());
        for p in setup {
            let (message, remedy) = problem_text(out, p);
            eprintln!("  - {}: {message}", p.path);
            if let Some(r) = remedy {
                eprintln!("      {}: {r}", out.t(Msg::WhatToDo));
            }
        }
    }
    Ok(code)
}

fn user(bridge: &MailBridge, given: Option<&str>) -> Result<String, Error> {
    match given {
        Some(u) => Ok(u.to_owned()),
        None => bridge.default_user(),
    }
}

fn addresses(
    values: &[String],
    field: &'static str,
) -> Result<Vec<g360_mail_core::EmailAddress>, Error> {
    let mut out = Vec::new();
    for v in values {
        out.extend(
            parse_address_list(v).map_err(|e| e.with_context("option", format!("--{field}")))?,
        );
    }
    Ok(out)
}

fn read_text(path: &Path, option: &'static str) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| {
        Error::invalid_input("cannot read the file")
            .with_code("attachment.unreadable")
            .with_context("option", option)
            .with_context("path", path.display())
            .with_source(e)
    })
}

fn build_message(args: &SendArgs) -> Result<OutgoingMessage, Error> {
    let mut b = OutgoingMessage::builder()
        .to_all(addresses(&args.to, "to")?)
        .cc_all(addresses(&args.cc, "cc")?)
        .bcc_all(addresses(&args.bcc, "bcc")?)
        .reply_to_all(addresses(&args.reply_to, "reply-to")?)
        .subject(args.subject.clone().unwrap_or_default())
        .importance(match args.importance {
            ImportanceArg::Low => Importance::Low,
            ImportanceArg::Normal => Importance::Normal,
            ImportanceArg::High => Importance::High,
        });
    if let Some(body) = &args.body {
        b = b.text(body.clone());
    }
    if let Some(path) = &args.body_file {
        b = b.text(read_text(path, "--body-file")?);
    }
    if let Some(path) = &args.html_file {
        b = b.html(read_text(path, "--html-file")?);
    }
    for path in &args.attach {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::invalid_input("cannot read the file")
                .with_code("attachment.unreadable")
                .with_context("option", "--attach")
                .with_context("path", path.display())
                .with_source(e)
        })?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        b = b.attach(Attachment::new(&name, content_type_for(&name), bytes)?);
    }
    for h in &args.header {
        let Some((name, value)) = h.split_once(':') else {
            return Err(Error::invalid_input("a header must be written as \"X-Name: value\"")
                .with_code("message.header-invalid")
                .with_context("option", "--header")
                .with_context("header", h.escape_debug()));
        };
        b = b.header(name.trim(), value.trim());
    }
    b.build()
}

async fn send(out: &Out, bridge: &std::sync::Arc<MailBridge>, args: SendArgs) -> Result<u8, Error> {
    let user = user(bridge, args.user.user.as_deref())?;
    if !args.queue {
        crate::outbox_cmd::share_limits(bridge).await;
    }
    if let Some(csv) = &args.from_csv {
        // Every row is checked before the first mail goes out.
        let options = crate::bulk::CsvOptions {
            attach_root: args.attach_root.clone(),
            delimiter: args.delimiter,
            private: private_files(&bridge.config()),
        };
        let rows = match crate::bulk::read(csv, &options) {
            Ok(rows) => rows,
            Err(errors) => return Ok(crate::bulk::report_invalid(out, csv, &errors)),
        };
        bridge.account(&user)?;
        bridge.check_setup(&user)?;
        if args.queue {
            let messages = crate::bulk::messages(&rows)?;
            return crate::outbox_cmd::enqueue(out, bridge, &user, messages).await;
        }
        return Ok(crate::bulk::send(out, bridge.clone(), &user, rows, args.concurrency).await);
    }
    let message = build_message(&args)?;
    if args.queue {
        return crate::outbox_cmd::enqueue(out, bridge, &user, vec![(0, message)]).await;
    }
    let receipt = bridge.send_as(&user, message).await?;
    print_receipt(out, &user, &receipt);
    Ok(exit::OK)
}

/// The files a CSV row may never attach: the configuration file and the
/// SQLite outbox (with its journal files).
fn private_files(config: &BridgeConfig) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    if let g360_erp_bridge::ConfigSource::File(path) = config.source() {
        files.push(path.clone());
    }
    let url = &config.outbox().url;
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let file = rest.split(['?', '#']).next().unwrap_or("");
        if !file.is_empty() && file != ":memory:" {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                files.push(std::path::PathBuf::from(format!("{file}{suffix}")));
            }
        }
    }
    files
}

/// A receipt's warning (a credential that expires soon) in the user's
/// language: the translated message with the provider's detail, and the remedy.
fn warning_text(out: &Out, c: &g360_mail_core::Check) -> (String, Option<String>) {
    let text = c
        .code
        .as_deref()
        .and_then(|code| crate::i18n::error_text_at(code, c.key.as_deref(), out.lang));
    match text {
        Some((m, r)) => (format!("{m} — {}", c.detail), Some(r.to_owned())),
        None => (c.detail.clone(), c.remedy.clone()),
    }
}

fn print_receipt(out: &Out, user: &str, receipt: &SendReceipt) {
    if out.json {
        let warnings: Vec<_> = receipt
            .warnings
            .iter()
            .map(|c| {
                let (message, remedy) = warning_text(out, c);
                json!({ "code": c.code, "message": message, "detail": c.detail, "remedy": remedy })
            })
            .collect();
        out.json_value(
            &json!({ "ok": true, "outcome": "sent", "message": out.t(Msg::SendOk), "user": user,
                "receipt": receipt, "warnings": warnings, "exit_code": exit::OK }),
        );
        return;
    }
    // The mail went out; its warning goes to stderr.
    for c in &receipt.warnings {
        let (message, remedy) = warning_text(out, c);
        eprintln!("{}: {}", out.t(Msg::Note), safe_line(&message));
        if let Some(r) = remedy {
            eprintln!("      {}: {}", out.t(Msg::WhatToDo), safe_line(&r));
        }
    }
    out.line(out.paint(Color::Green, out.t(Msg::SendOk)));
    if let Some(route) = &receipt.route {
        out.line(format!("  {}: {route} ({})", out.t(Msg::Route), receipt.provider));
    }
    out.line(format!("  {}: {}", out.t(Msg::MessageId), receipt.internet_message_id));
    if let Some(loc) = &receipt.location {
        out.line(format!("  {}: {loc}", out.t(Msg::StoredAt)));
    }
    if let Some(reason) = &receipt.fallback_reason {
        out.line(format!("  fallback: {reason}"));
    }
}

async fn inbox(out: &Out, bridge: &MailBridge, args: InboxArgs) -> Result<u8, Error> {
    let user = user(bridge, args.user.user.as_deref())?;
    let mut query = MailboxQuery::folder(Folder::parse(&args.folder)?)
        .unread_only(args.unread)
        .page_size(args.top);
    if let Some(next) = args.next {
        query = query.continuation(next);
    }
    let page = if args.all {
        read_all(out, bridge, &user, query.clone()).await?
    } else {
        bridge.list_as(&user, &query).await?
    };
    if out.json {
        out.json_value(
            &json!({ "ok": true, "user": user, "folder": query.folder.as_str(), "page": page }),
        );
        return Ok(exit::OK);
    }
    if page.messages.is_empty() {
        out.line(out.t(Msg::NoMessages));
    }
    for m in &page.messages {
        let date = m.received_at.or(m.sent_at).map(short_date).unwrap_or_default();
        // Everything a sender or server wrote is neutralised: see `safe_line`.
        let from = m.from.as_ref().map(ToString::to_string).unwrap_or_default();
        let unread = if m.is_read { "  " } else { "● " };
        out.line(format!(
            "{unread}{date:16}  {:30}  {}",
            truncate(&safe_line(&from), 30),
            truncate(&safe_line(&m.subject), 60)
        ));
        out.line(out.paint(Color::Dim, &format!("    {}", safe_line(&m.id))));
    }
    if let Some(next) = &page.continuation {
        out.line(format!("{} {}", out.t(Msg::NextPage), safe_line(next)));
    }
    Ok(exit::OK)
}

/// Follows the continuation tokens to the last page, with a counter on a
/// terminal (thousands of messages take a while).
async fn read_all(
    out: &Out,
    bridge: &MailBridge,
    user: &str,
    mut query: MailboxQuery,
) -> Result<g360_mail_core::MessagePage, Error> {
    use std::io::IsTerminal;
    let progress = if out.json || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new_spinner();
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{spinner} {pos} {msg}  {elapsed}")
        {
            bar.set_style(style);
        }
        bar.set_message(out.t(Msg::MessagesRead));
        bar
    };
    let mut messages = Vec::new();
    loop {
        let page = bridge.list_as(user, &query).await?;
        progress.inc(page.messages.len() as u64);
        messages.extend(page.messages);
        match page.continuation {
            Some(next) => query.continuation = Some(next),
            None => break,
        }
    }
    progress.finish_and_clear();
    Ok(g360_mail_core::MessagePage::new(messages, None))
}

async fn show(out: &Out, bridge: &MailBridge, args: ShowArgs) -> Result<u8, Error> {
    let user = user(bridge, args.user.user.as_deref())?;
    let m = bridge.get_as(&user, &args.id).await?;
    if out.json {
        out.json_value(&json!({ "ok": true, "user": user, "message": m }));
        return Ok(exit::OK);
    }
    print_message(out, &m);
    Ok(exit::OK)
}

fn print_message(out: &Out, m: &ReceivedMessage) {
    // Everything a sender wrote is neutralised: see `safe_line`.
    let list = |v: &[g360_mail_core::EmailAddress]| {
        safe_line(&v.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")).into_owned()
    };
    if let Some(f) = &m.from {
        out.line(format!("{}: {}", out.t(Msg::From), safe_line(&f.to_string())));
    }
    out.line(format!("{}: {}", out.t(Msg::To), list(&m.to)));
    if !m.cc.is_empty() {
        out.line(format!("{}: {}", out.t(Msg::Cc), list(&m.cc)));
    }
    if let Some(d) = m.sent_at.or(m.received_at) {
        out.line(format!("{}: {d}", out.t(Msg::Date)));
    }
    out.line(format!("{}: {}", out.t(Msg::Subject), safe_line(&m.subject)));
    if let Some(id) = &m.internet_message_id {
        out.line(format!("{}: {}", out.t(Msg::MessageId), safe_line(id)));
    }
    out.line("");
    match (&m.text, &m.html) {
        (Some(t), _) => out.line(safe_text(t.trim_end())),
        (None, Some(h)) => out.line(safe_text(h.trim_end())),
        (None, None) => {}
    }
    if !m.attachments.is_empty() {
        out.line("");
        out.line(format!("{}:", out.t(Msg::Attachments)));
        for a in &m.attachments {
            out.line(format!(
                "  {} ({}, {} bytes)",
                safe_line(&a.name),
                safe_line(&a.content_type),
                a.size
            ));
        }
    }
}

async fn verify(out: &Out, bridge: &MailBridge, args: VerifyArgs) -> Result<u8, Error> {
    let users: Vec<String> = if args.all {
        bridge.config().accounts().iter().map(|a| a.user.clone()).collect()
    } else {
        vec![user(bridge, args.user.as_deref())?]
    };
    let mut options = VerifyOptions::default();
    if let Some(to) = &args.send_test_to {
        options = options.send_test_to(
            g360_mail_core::EmailAddress::parse(to)
                .map_err(|e| e.with_context("option", "--send-test-to"))?,
        );
    }
    let mut worst = exit::OK;
    let mut reports = Vec::new();
    for u in &users {
        let (report, code) = match bridge.verify(u, &options).await {
            Ok(report) => {
                let code = report_code(&report);
                (report, code)
            }
            Err(e) => {
                let mut r = VerifyReport::new(
                    bridge.account(u).map(|a| a.provider.clone()).unwrap_or_default(),
                );
                r.push(g360_mail_core::Check::fail("account", &e));
                (r, exit_for(bridge, &e))
            }
        };
        if worst == exit::OK {
            worst = code;
        }
        if !out.json {
            print_report(out, u, &report, args.send_test_to.is_some());
        }
        reports.push(json!({ "user": u, "passed": report.passed(), "report": report }));
    }
    if out.json {
        out.json_value(
            &json!({ "ok": worst == exit::OK, "accounts": reports, "exit_code": worst }),
        );
    }
    Ok(worst)
}

/// A failed report's exit code: that of its first failure's kind (setup
/// errors exit 3).
fn report_code(report: &VerifyReport) -> u8 {
    match report.first_failure() {
        None => exit::OK,
        Some(check) => check.error_kind.map_or(exit::SETUP, |k| match k {
            ErrorKind::Config | ErrorKind::NotFound => exit::SETUP,
            other => exit_code(other),
        }),
    }
}

fn print_report(out: &Out, user: &str, report: &VerifyReport, test_mail: bool) {
    out.line(
        out.paint(Color::Bold, &format!("{} {user} ({})", out.t(Msg::Account), report.provider)),
    );
    let width = report.checks.iter().map(|c| c.name.chars().count()).max().unwrap_or(0);
    for c in &report.checks {
        let (detail, remedy) = crate::i18n::check_text(c, out.lang);
        // A server's words reach the detail: neutralised.
        let detail = safe_line(&detail);
        out.line(format!("  {} {:width$}  {detail}", out.status_mark(c.status), c.name));
        if let Some(r) =
            remedy.filter(|_| matches!(c.status, CheckStatus::Fail | CheckStatus::Warn))
        {
            out.line(format!("    {:width$}  {}: {}", "", out.t(Msg::WhatToDo), safe_line(&r)));
        }
    }
    if report.passed() {
        if test_mail
            && report.checks.iter().any(|c| c.name == "test-mail" && c.status == CheckStatus::Pass)
        {
            out.line(out.paint(Color::Green, out.t(Msg::SendOk)));
        } else {
            out.line(out.paint(Color::Green, out.t(Msg::ChecksPassed)));
        }
    } else {
        out.line(out.paint(Color::Red, out.t(Msg::ChecksFailed)));
    }
}

fn short_date(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M").to_string()
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}
