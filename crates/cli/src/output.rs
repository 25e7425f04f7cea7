//! Printing: human text (aligned, colour only on a terminal, `NO_COLOR`
//! honoured) or one JSON object per command.

use std::io::{IsTerminal, Write};

use g360_mail_core::{CheckStatus, Error, ErrorKind};
use serde_json::json;

use crate::i18n::{Lang, Msg};

/// Exit codes, stable and documented in the README.
pub(crate) mod exit {
    pub(crate) const OK: u8 = 0;
    pub(crate) const OTHER: u8 = 1;
    pub(crate) const USAGE: u8 = 2;
    pub(crate) const SETUP: u8 = 3;
    pub(crate) const REJECTED: u8 = 4;
    pub(crate) const TEMPORARY: u8 = 5;
    /// The mail may or may not have gone out: never resend without looking
    /// it up first (a job that retries on 5 must not retry on 6).
    pub(crate) const UNKNOWN: u8 = 6;
}

/// The version of the `--json` contract (docs/cli-json.md): every object
/// carries it as `"schema"`. Raised only when a field changes meaning or
/// goes away; new fields keep it.
pub(crate) const SCHEMA: u32 = 1;

/// The exit code for an error kind.
pub(crate) fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Config | ErrorKind::InvalidInput => exit::USAGE,
        ErrorKind::Auth | ErrorKind::Permission => exit::SETUP,
        ErrorKind::Rejected => exit::REJECTED,
        ErrorKind::Throttled | ErrorKind::Unavailable => exit::TEMPORARY,
        ErrorKind::OutcomeUnknown => exit::UNKNOWN,
        _ => exit::OTHER,
    }
}

/// What became of a mail, for `--json`: `"sent"`, `"unknown"` (it may have
/// gone out: look it up before any resend) or `"failed"` (it did not go out).
pub(crate) fn outcome(result: Result<(), &Error>) -> &'static str {
    match result {
        Ok(()) => "sent",
        Err(e) if e.kind() == ErrorKind::OutcomeUnknown => "unknown",
        Err(_) => "failed",
    }
}

/// `text` safe to print on a terminal as one line: every control character
/// (C0 with line breaks and tabs, DEL, C1) and every bidirectional override
/// is shown as a visible symbol instead of acting on the terminal. Received
/// mail is written by strangers: an escape sequence in a subject could clear
/// the screen, fake a hyperlink (OSC 8) or write the clipboard (OSC 52).
pub(crate) fn safe_line(text: &str) -> std::borrow::Cow<'_, str> {
    neutralise(text, false)
}

/// [`safe_line`] for a body: line breaks (`\n`, `\r\n`) and tabs are kept.
pub(crate) fn safe_text(text: &str) -> std::borrow::Cow<'_, str> {
    neutralise(text, true)
}

fn neutralise(text: &str, multiline: bool) -> std::borrow::Cow<'_, str> {
    let harmful = |c: char, next: Option<char>| match c {
        '\n' | '\t' if multiline => false,
        '\r' if multiline => next != Some('\n'),
        c if c.is_control() => true,
        // Bidirectional overrides and isolates reorder what follows them.
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' => true,
        _ => false,
    };
    let chars: Vec<char> = text.chars().collect();
    if !chars.iter().enumerate().any(|(i, c)| harmful(*c, chars.get(i + 1).copied())) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        if !harmful(c, chars.get(i + 1).copied()) {
            if c != '\r' {
                out.push(c);
            }
            continue;
        }
        match c {
            // C0 as its Control Pictures symbol (ESC as ␛), DEL as ␡.
            '\0'..='\u{1F}' => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{FFFD}')),
            '\u{7F}' => out.push('\u{2421}'),
            _ => out.push('\u{FFFD}'),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Where and how to print.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Out {
    pub(crate) lang: Lang,
    pub(crate) json: bool,
    color: bool,
}

#[derive(Clone, Copy)]
pub(crate) enum Color {
    Green,
    Red,
    Yellow,
    Dim,
    Bold,
}

impl Out {
    pub(crate) fn new(lang: Lang, json: bool, no_color_env: bool) -> Self {
        let color = !json && !no_color_env && std::io::stdout().is_terminal();
        Out { lang, json, color }
    }

    pub(crate) fn t(&self, msg: Msg) -> &'static str {
        msg.text(self.lang)
    }

    pub(crate) fn paint(&self, color: Color, text: &str) -> String {
        if !self.color {
            return text.to_owned();
        }
        let code = match color {
            Color::Green => "32",
            Color::Red => "31",
            Color::Yellow => "33",
            Color::Dim => "2",
            Color::Bold => "1",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    /// Prints a line on stdout (ignoring a closed pipe).
    pub(crate) fn line(&self, text: impl AsRef<str>) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", text.as_ref());
    }

    /// Prints one JSON result. Every result carries `"schema"` ([`SCHEMA`])
    /// and a top-level `exit_code`: when `value` has none, it is taken from
    /// its `error.exit_code`, else 0 for `"ok": true` and 1 otherwise.
    pub(crate) fn json_value(&self, value: &serde_json::Value) {
        let mut value = value.clone();
        if let serde_json::Value::Object(map) = &mut value {
            map.insert("schema".into(), json!(SCHEMA));
        }
        if let serde_json::Value::Object(map) = &mut value
            && !map.contains_key("exit_code")
        {
            let code = map
                .get("error")
                .and_then(|e| e.get("exit_code"))
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(if map.get("ok") == Some(&json!(true)) {
                    u64::from(exit::OK)
                } else {
                    u64::from(exit::OTHER)
                });
            map.insert("exit_code".into(), json!(code));
        }
        self.line(serde_json::to_string_pretty(&value).unwrap_or_else(|_| "{}".into()));
    }

    /// Prints an error: as JSON on stdout with `--json`, else on stderr with
    /// its place and remedy, translated by code when the code is known.
    /// `code` is the process's exit code, usually [`exit_code`] of the kind
    /// (a setup problem exits 3 whichever command meets it).
    pub(crate) fn error_with_code(&self, err: &Error, code: u8) {
        let (message, remedy) = localized(err, self.lang);
        if self.json {
            let context: serde_json::Map<String, serde_json::Value> =
                err.context().iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
            self.json_value(&json!({
                "ok": false,
                "error": {
                    "kind": err.kind().as_str(),
                    "code": err.code(),
                    "message": message,
                    "detail": err.to_string(),
                    "remedy": remedy,
                    "temporary": err.is_temporary(),
                    "status": err.status().as_str(),
                    "retry_after_seconds": err.retry_after().map(|d| d.as_secs()),
                    "provider": err.provider(),
                    "context": context,
                    "exit_code": code,
                    "outcome": outcome(Err(err)),
                },
                "exit_code": code,
            }));
            return;
        }
        // A server's own error text reaches the terminal too: neutralised.
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "{}: {}", self.t(Msg::Error), safe_line(&message));
        if !message.eq_ignore_ascii_case(err.message()) {
            let _ = writeln!(e, "  ({})", safe_line(err.message()));
        }
        for (k, v) in err.context() {
            let _ = writeln!(e, "  {}: {k}: {}", self.t(Msg::Where), safe_line(v));
        }
        if let Some(r) = remedy {
            let _ = writeln!(e, "  {}: {}", self.t(Msg::WhatToDo), safe_line(&r));
        }
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            let _ = writeln!(e, "  <- {}", safe_line(&s.to_string()));
            source = s.source();
        }
    }

    pub(crate) fn status_mark(&self, status: CheckStatus) -> String {
        match status {
            CheckStatus::Pass => self.paint(Color::Green, "✓"),
            CheckStatus::Warn => self.paint(Color::Yellow, "!"),
            CheckStatus::Fail => self.paint(Color::Red, "✗"),
            CheckStatus::Skipped => self.paint(Color::Dim, "-"),
        }
    }
}

/// What a one-line report of `err` adds in parentheses after its
/// `localized` message: the provider's own (English) message only when it
/// says something else, then the context (`mailbox: …`); empty when there is
/// nothing to add. The message is never printed twice.
pub(crate) fn detail_suffix(localized: &str, err: &Error) -> String {
    let mut parts = Vec::new();
    if !localized.eq_ignore_ascii_case(err.message()) {
        parts.push(err.message().to_owned());
    }
    parts.extend(err.context().iter().map(|(k, v)| format!("{k}: {v}")));
    if parts.is_empty() { String::new() } else { format!(" ({})", parts.join(", ")) }
}

/// The message and remedy of an error in `lang` (the catalogue's rule).
pub(crate) fn localized(err: &Error, lang: Lang) -> (String, Option<String>) {
    g360_mail_texts::localized(err, lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row's error says its message once: `outbox.mailbox-busy` was
    /// printed as "… (the mailbox is at its sending limits (…))".
    #[test]
    fn a_one_line_error_says_its_message_once() {
        let err = Error::new(
            g360_mail_core::ErrorKind::Throttled,
            "the mailbox is at its sending limits (shared with the outbox)",
        )
        .with_code("outbox.mailbox-busy")
        .with_context("mailbox", "ventas@contoso.example");
        let (en, _) = localized(&err, Lang::En);
        assert_eq!(
            format!("{en}{}", detail_suffix(&en, &err)),
            "The mailbox is at its sending limits (shared with the outbox) (mailbox: ventas@contoso.example)"
        );
        let (es, _) = localized(&err, Lang::Es);
        assert_eq!(
            format!("{es}{}", detail_suffix(&es, &err)),
            "El buzón está en sus límites de envío (compartidos con la bandeja de salida) \
             (the mailbox is at its sending limits (shared with the outbox), mailbox: ventas@contoso.example)"
        );
        let bare =
            Error::new(g360_mail_core::ErrorKind::Throttled, "x").with_code("outbox.mailbox-busy");
        assert_eq!(detail_suffix("X", &bare), "");
    }

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(safe_line("Factura 42 — ñ"), "Factura 42 — ñ");
        assert_eq!(safe_line("a\x1b[2Jb\x07c\x7fd"), "a␛[2Jb␇c␡d");
        assert_eq!(safe_line("x\u{9b}31m\u{202e}y"), "x\u{fffd}31m\u{fffd}y");
        assert_eq!(safe_line("one\ntwo\r\n"), "one␊two␍␊");
        assert_eq!(safe_text("one\r\ntwo\n\tthree\rover"), "one\ntwo\n\tthree␍over");
    }
}
