//! The diagnosis tables at the end of the administrator guides
//! (`docs/setup-office365.es.md`, `docs/setup-office365.en.md`) quote the
//! CLI's own texts: each row's message is exactly what `g360-mail` prints
//! for that code in that language.

use std::path::Path;

use g360_mail_texts::{Lang, error_text};

/// The diagnoses every guide must list.
const REQUIRED: &[&str] = &[
    "o365.client-id-invalid",
    "o365.tenant-id-invalid",
    "AADSTS90002",
    "AADSTS700016",
    "o365.secret-is-id",
    "AADSTS7000215",
    "AADSTS7000222",
    "o365.secret-expired",
    "o365.certificate-unreadable",
    "o365.certificate-key-mismatch",
    "o365.certificate-expired",
    "AADSTS700027",
    "AADSTS700024",
    "o365.missing-role",
    "o365.no-roles",
    "ErrorInvalidUser",
    "MailboxNotEnabledForRESTAPI",
    "o365.mailbox-not-in-app-scope",
    "smtp.auth-disabled",
];

/// One row of a diagnosis table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    step: String,
    check: String,
    code: String,
    message: String,
}

struct Guide {
    file: &'static str,
    lang: Lang,
    header: &'static str,
}

const GUIDES: [Guide; 2] = [
    Guide {
        file: "setup-office365.es.md",
        lang: Lang::Es,
        header: "| Paso | Comprobación | Código | Mensaje |",
    },
    Guide {
        file: "setup-office365.en.md",
        lang: Lang::En,
        header: "| Step | Check | Code | Message |",
    },
];

/// The rows of the table that starts with `header` (after its separator
/// line), up to the first line that is not a table row.
fn rows(guide: &Guide) -> Vec<Row> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs").join(guide.file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines().skip_while(|l| l.trim_end() != guide.header);
    assert!(lines.next().is_some(), "{}: no line {:?}", guide.file, guide.header);
    let separator = lines.next().unwrap_or_default();
    assert!(separator.starts_with("| ---"), "{}: no separator line: {separator}", guide.file);
    let mut out = Vec::new();
    for line in lines.take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> =
            line.trim_end().trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 4, "{}: a row needs 4 cells: {line}", guide.file);
        let code = cells[2];
        assert!(
            code.len() > 2 && code.starts_with('`') && code.ends_with('`'),
            "{}: the code goes in backticks: {line}",
            guide.file
        );
        out.push(Row {
            step: cells[0].to_owned(),
            check: cells[1].to_owned(),
            code: code.trim_matches('`').to_owned(),
            message: cells[3].to_owned(),
        });
    }
    assert!(!out.is_empty(), "{}: the diagnosis table is empty", guide.file);
    out
}

#[test]
fn every_message_is_the_clis_text_for_that_code_and_language() {
    for guide in &GUIDES {
        for row in rows(guide) {
            let Some((message, _)) = error_text(&row.code, guide.lang) else {
                panic!("{}: the CLI has no {} text for {}", guide.file, guide.lang, row.code);
            };
            assert_eq!(row.message, message, "{}: the message of {}", guide.file, row.code);
        }
    }
}

#[test]
fn every_required_diagnosis_is_listed_once() {
    for guide in &GUIDES {
        let rows = rows(guide);
        for code in REQUIRED {
            assert!(rows.iter().any(|r| r.code == *code), "{} does not list {code}", guide.file);
        }
        for (i, row) in rows.iter().enumerate() {
            assert!(
                !rows[..i].iter().any(|r| r.code == row.code),
                "{} lists {} twice",
                guide.file,
                row.code
            );
        }
    }
}

#[test]
fn both_guides_list_the_same_diagnoses_in_both_languages() {
    let [es, en] = GUIDES.map(|g| rows(&g));
    let key = |r: &Row| (r.step.split_whitespace().next().map(str::to_owned), r.check.clone());
    assert_eq!(
        es.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(),
        en.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(),
        "the two tables list different codes or a different order"
    );
    for (a, b) in es.iter().zip(&en) {
        assert_eq!(key(a), key(b), "step number and check of {}", a.code);
        let (es_text, en_text) = (error_text(&a.code, Lang::Es), error_text(&a.code, Lang::En));
        assert!(es_text.is_some() && en_text.is_some(), "{} lacks a language", a.code);
        assert_ne!(es_text, en_text, "{}: the Spanish text is the English one", a.code);
    }
}
