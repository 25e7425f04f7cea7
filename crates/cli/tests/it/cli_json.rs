//! docs/cli-json.md is the `--json` contract: each `$ g360-mail …` example
//! is run, in order, in one empty folder (with the files the page shows in
//! ```` ```csv file=NAME ```` blocks), and must print the JSON the page shows
//! after it. A string with `…` in the page matches any text in its place
//! (`"…"` alone matches any value): ids, times and paths vary.
//!
//! After a change of the output, `UPDATE_EXPECT=1 cargo test -p g360-mail
//! --test it -- cli_json` writes what the binary prints into the page,
//! keeping the page's wildcards where they still match; replace any new
//! volatile value by `"…"` by hand.

use std::path::Path;

use serde_json::Value;

use crate::support::run_blocking;

/// One example: the command line and the JSON the page promises.
struct Example {
    line: usize,
    /// The lines (0-based, end exclusive) of the JSON in the page.
    json: std::ops::Range<usize>,
    args: Vec<String>,
    expected: Value,
}

/// The files (`file=NAME` blocks) and examples of the page, in order.
fn read_page(text: &str) -> (Vec<(String, String)>, Vec<Example>) {
    let lines: Vec<&str> = text.lines().collect();
    let (mut files, mut examples) = (Vec::new(), Vec::new());
    let mut command: Option<(usize, Vec<String>)> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let block = |from: usize| {
            let end = from + lines[from..].iter().position(|l| *l == "```").unwrap();
            (lines[from..end].join("\n"), end)
        };
        if let Some(name) = line.strip_prefix("```").and_then(|l| l.split_once(" file=")) {
            let (body, end) = block(i + 1);
            files.push((name.1.trim().to_owned(), body + "\n"));
            i = end;
        } else if let Some(cmd) = line.strip_prefix("$ g360-mail ") {
            command = Some((i + 1, cmd.split_whitespace().map(str::to_owned).collect()));
        } else if line == "```json" {
            let (body, end) = block(i + 1);
            let (at, args) =
                command.take().unwrap_or_else(|| panic!("line {}: JSON without a command", i + 1));
            let expected = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("docs/cli-json.md:{}: not JSON: {e}", i + 2));
            examples.push(Example { line: at, json: i + 1..end, args, expected });
            i = end;
        }
        i += 1;
    }
    (files, examples)
}

/// Whether `actual` is what the page shows as `expected`: the same shape and
/// keys, every value equal, except the `…` wildcards of the page.
fn matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::String(e), _) if e == "…" => true,
        (Value::String(e), Value::String(a)) if e.contains('…') => glob(e, a),
        (Value::Object(e), Value::Object(a)) => {
            e.len() == a.len() && e.iter().all(|(k, v)| a.get(k).is_some_and(|x| matches(v, x)))
        }
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(x, y)| matches(x, y))
        }
        _ => expected == actual,
    }
}

/// `actual`, keeping the wildcards of `expected` where they still match.
fn merge(expected: &Value, actual: &Value) -> Value {
    match (expected, actual) {
        (Value::String(e), _) if e.contains('…') && matches(expected, actual) => expected.clone(),
        (Value::Object(e), Value::Object(a)) => Value::Object(
            a.iter()
                .map(|(k, v)| (k.clone(), e.get(k).map_or_else(|| v.clone(), |x| merge(x, v))))
                .collect(),
        ),
        (Value::Array(e), Value::Array(a)) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, v)| e.get(i).map_or_else(|| v.clone(), |x| merge(x, v)))
                .collect(),
        ),
        _ => actual.clone(),
    }
}

/// `pattern` with `…` standing for any text.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[test]
fn the_documented_json_is_what_the_binary_prints() {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli-json.md");
    let text = std::fs::read_to_string(&page).unwrap();
    let (files, examples) = read_page(&text);
    assert!(examples.len() >= 18, "the examples were not read: {}", examples.len());
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    #[allow(clippy::disallowed_methods, reason = "expect-test's switch, read by a test")]
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut updated: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let mut id = String::new();
    for example in examples {
        let args: Vec<String> =
            example.args.iter().map(|a| if a == "$ID" { id.clone() } else { a.clone() }).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run_blocking(dir.path(), &args, &[("G360_MAIL_LOG", "error")]);
        let actual: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
            panic!(
                "docs/cli-json.md:{}: {args:?} printed no JSON ({e}):\n{}{}",
                example.line, r.stdout, r.stderr
            )
        });
        if let Some(first) = actual["page"]["messages"][0]["id"].as_str() {
            id = first.to_owned();
        }
        if update {
            let merged = merge(&example.expected, &actual);
            updated.push((example.json.clone(), serde_json::to_string_pretty(&merged).unwrap()));
            continue;
        }
        assert_eq!(actual["schema"], 1, "docs/cli-json.md:{}: {actual}", example.line);
        assert_eq!(actual["exit_code"], r.code, "docs/cli-json.md:{}: {actual}", example.line);
        assert!(
            matches(&example.expected, &actual),
            "docs/cli-json.md:{}: g360-mail {} printed\n{}\nnot what the page shows:\n{}",
            example.line,
            args.join(" "),
            serde_json::to_string_pretty(&actual).unwrap(),
            serde_json::to_string_pretty(&example.expected).unwrap()
        );
    }
    if update {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        for (range, json) in updated.into_iter().rev() {
            lines.splice(range, json.lines().map(str::to_owned));
        }
        std::fs::write(&page, lines.join("\n") + "\n").unwrap();
    }
}

#[test]
fn wildcards_match_only_what_they_stand_for() {
    assert!(glob("<…@localhost>", "<abc@localhost>"));
    assert!(!glob("<…@localhost>", "<abc@example.com>"));
    assert!(glob("…/mail-outbox/….eml", "/tmp/x/mail-outbox/1-2.eml"));
    assert!(!glob("…/mail-outbox/….eml", "/tmp/x/other/1-2.eml"));
    let expected = serde_json::json!({ "a": "…", "b": [1, "x…"] });
    assert!(matches(&expected, &serde_json::json!({ "a": null, "b": [1, "xyz"] })));
    assert!(!matches(&expected, &serde_json::json!({ "a": 1, "b": [1, "yz"] })));
    assert!(!matches(&expected, &serde_json::json!({ "a": 1, "b": [1, "xyz"], "c": 2 })));
}
