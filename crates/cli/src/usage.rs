//! Usage errors (clap's) in the user's language, or as one JSON object
//! under `--json`.

use std::io::Write;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use g360_erp_bridge::Lang;
use serde_json::json;

use crate::i18n::Msg;
use crate::output::{SCHEMA, exit};

/// Prints a clap error and returns the exit code: 0 for `--help` and
/// `--version`, 2 for a usage error.
pub(crate) fn report(e: &clap::Error, lang: Lang, json: bool) -> u8 {
    if !e.use_stderr() {
        let _ = e.print();
        return exit::OK;
    }
    let message = message(e, lang);
    if json {
        let remedy = crate::i18n::error_text("usage.invalid", lang).map(|(_, r)| r);
        let value = json!({ "schema": SCHEMA, "ok": false, "exit_code": exit::USAGE,
            "error": { "kind": "usage", "code": "usage.invalid", "message": message,
            "detail": english_detail(e), "remedy": remedy, "exit_code": exit::USAGE,
            "outcome": "failed" } });
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&value).unwrap_or_default());
        return exit::USAGE;
    }
    if lang == Lang::En {
        let _ = e.print();
        return exit::USAGE;
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}: {message}", Msg::Error.text(lang));
    for (kind, value) in e.context() {
        let label = match kind {
            ContextKind::SuggestedArg | ContextKind::SuggestedSubcommand => Msg::HelpTip,
            ContextKind::ValidValue => Msg::HelpPossibleValues,
            _ => continue,
        };
        let _ = writeln!(err, "  {}: {}", label.text(lang), plain(value));
    }
    if let Some(ContextValue::StyledStr(usage)) = e.get(ContextKind::Usage) {
        let usage = usage.to_string();
        let usage = usage.trim().trim_start_matches("Usage:").trim();
        let _ = writeln!(err, "\n{}: {usage}", Msg::HelpUsage.text(lang));
    }
    let _ = writeln!(err, "\n{}", Msg::HelpMoreInfo.text(lang));
    exit::USAGE
}

/// What was wrong, in `lang`: the kind's text and the argument or value
/// concerned (as typed, so untranslated).
fn message(e: &clap::Error, lang: Lang) -> String {
    let what = match e.kind() {
        ErrorKind::UnknownArgument => Msg::UsageUnknownArgument,
        ErrorKind::MissingRequiredArgument => Msg::UsageMissingArgument,
        ErrorKind::InvalidValue | ErrorKind::ValueValidation | ErrorKind::InvalidUtf8 => {
            Msg::UsageInvalidValue
        }
        ErrorKind::ArgumentConflict => Msg::UsageConflict,
        ErrorKind::InvalidSubcommand => Msg::UsageUnknownCommand,
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            Msg::UsageMissingCommand
        }
        ErrorKind::TooManyValues => Msg::UsageTooManyValues,
        ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => Msg::UsageWrongNumberOfValues,
        ErrorKind::NoEquals => Msg::UsageInvalidValue,
        _ => Msg::UsageInvalid,
    };
    let mut text = what.text(lang).to_owned();
    let args: Vec<String> =
        [ContextKind::InvalidArg, ContextKind::PriorArg, ContextKind::InvalidSubcommand]
            .into_iter()
            .filter_map(|k| e.get(k))
            .map(plain)
            .collect();
    if !args.is_empty() {
        text.push_str(": ");
        text.push_str(&args.join(", "));
    }
    if let Some(value) = e.get(ContextKind::InvalidValue) {
        text.push_str(&format!(" = {}", plain(value)));
    }
    // A value parser's own reason (`--delimiter`, ranges) has no code to
    // translate by: it follows in brackets, as typed by the parser.
    if e.kind() == ErrorKind::ValueValidation
        && let Some(reason) = std::error::Error::source(e)
    {
        text.push_str(&format!(" ({reason})"));
    }
    text
}

fn plain(value: &ContextValue) -> String {
    match value {
        ContextValue::String(s) => format!("'{s}'"),
        ContextValue::Strings(v) => {
            v.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ")
        }
        ContextValue::StyledStr(s) => s.to_string(),
        ContextValue::StyledStrs(v) => {
            v.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

/// clap's own English sentence, on one line, without the usage.
fn english_detail(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let lines: Vec<&str> =
        rendered.lines().take_while(|l| !l.trim().is_empty()).map(str::trim).collect();
    lines.join(" ").trim_start_matches("error: ").to_owned()
}
