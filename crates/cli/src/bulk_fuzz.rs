//! Fuzz target `csv`: the CSV reader of `send --from-csv`.
//!
//! Properties: [`read`] never panics on any file (random bytes, CSV soup of
//! the real columns, quotes, delimiters, line breaks, BOMs, invalid UTF-8);
//! no error shows a secret kept in a file beside the CSV, even when rows
//! name that file; rows written by a CSV writer
//! read back with the same recipients, subject and body (fields are trimmed,
//! as the reader documents). `G360_FUZZ_CASES` sets the number of cases
//! (`cargo xtask fuzz --target csv`).

use std::path::Path;

use g360_mail_core::{EmailAddress, Error};
use g360_mail_testkit::fuzz::config;
use proptest::prelude::*;

use super::{COLUMNS, read};

/// Kept in `secret.txt` beside the CSV.
const SECRET: &str = "Zq8Q~csvSecret7f3a9c";

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("a@example.com".to_owned()),
        Just("\"Pérez, Ana\" <ana@example.org>; b@example.com".to_owned()),
        Just("secret.txt".to_owned()),
        Just("secret.txt; factura.pdf".to_owned()),
        Just("factura.pdf".to_owned()),
        Just("/proc/self/environ".to_owned()),
        Just("../../etc/passwd".to_owned()),
        Just(".".to_owned()),
        Just("sub".to_owned()),
        Just("\u{feff}to".to_owned()),
        "[a-zA-Z0-9 @.<>\"',;:\r\n\t/\\\\ñ😀-]{0,24}",
        "\\PC{0,16}",
    ]
}

fn quote(cell: &str, quoted: bool) -> String {
    if quoted { format!("\"{}\"", cell.replace('"', "\"\"")) } else { cell.to_owned() }
}

/// A CSV of the real columns (and some others), cells of every kind, quoted
/// or not, with `,` or `;` between them.
fn csv_soup() -> impl Strategy<Value = Vec<u8>> {
    let header = proptest::collection::vec(
        prop_oneof![4 => proptest::sample::select(COLUMNS).prop_map(str::to_owned), 1 => "[a-zA-Z ]{0,8}"],
        0..8,
    );
    let rows =
        proptest::collection::vec(proptest::collection::vec((cell(), any::<bool>()), 0..9), 0..6);
    let sep = prop_oneof![Just(","), Just(";"), Just("\t")];
    let eol = prop_oneof![Just("\n"), Just("\r\n"), Just("\r")];
    (any::<bool>(), header, rows, sep, eol).prop_map(|(bom, header, rows, sep, eol)| {
        let mut text = if bom { "\u{feff}".to_owned() } else { String::new() };
        text.push_str(&header.join(sep));
        for row in rows {
            text.push_str(eol);
            let cells: Vec<String> = row.iter().map(|(c, q)| quote(c, *q)).collect();
            text.push_str(&cells.join(sep));
        }
        text.into_bytes()
    })
}

fn any_csv() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => csv_soup(),
        1 => proptest::collection::vec(any::<u8>(), 0..512),
        1 => (csv_soup(), proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6))
            .prop_map(|(mut b, edits)| {
                for (at, byte) in edits {
                    let i = at.index(b.len() + 1);
                    b.insert(i, byte);
                }
                b
            }),
    ]
}

/// A folder with the CSV, a secret file, an attachment and a subfolder.
fn folder(csv: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("secret.txt"), SECRET).expect("write");
    std::fs::write(dir.path().join("factura.pdf"), b"%PDF-1.7").expect("write");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    std::fs::write(dir.path().join("rows.csv"), csv).expect("write");
    dir
}

fn assert_no_secret(e: &Error) {
    for text in [e.to_string(), format!("{e:?}"), e.remedy().unwrap_or_default().to_owned()] {
        assert!(!text.contains(SECRET), "the secret leaked: {text}");
    }
}

fn address() -> impl Strategy<Value = EmailAddress> {
    (
        "[a-z0-9._+-]{1,12}",
        "[a-z0-9]{1,8}\\.(es|com|org)",
        proptest::option::of("[a-zA-Z ,;\"'ñé<>@]{1,20}"),
    )
        .prop_filter_map("valid address", |(l, d, n)| {
            let a = EmailAddress::new(&format!("{l}@{d}")).ok()?;
            match n {
                Some(n) if !n.trim().is_empty() => a.with_name(n).ok(),
                _ => Some(a),
            }
        })
}

/// Text a cell keeps after the reader's trimming.
fn trimmed_text() -> impl Strategy<Value = String> {
    "\\PC{0,40}".prop_map(|s| s.trim().to_owned())
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn prop_any_csv_reads_without_panic_or_leak(csv in any_csv()) {
        prop_assume!(!csv.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));
        let dir = folder(&csv);
        if let Err(errors) = read(&dir.path().join("rows.csv"), &super::CsvOptions::default()) {
            for e in &errors {
                assert_no_secret(&e.error);
            }
        }
    }

    #[test]
    fn prop_rows_written_by_a_csv_writer_read_back(
        rows in proptest::collection::vec(
            (
                proptest::collection::vec(address(), 1..3),
                proptest::collection::vec(address(), 0..3),
                trimmed_text(),
                trimmed_text(),
            ),
            1..5,
        ),
    ) {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["to", "cc", "subject", "body"]).expect("write");
        let list = |l: &[EmailAddress]| l.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        for (to, cc, subject, body) in &rows {
            w.write_record([list(to), list(cc), subject.clone(), body.clone()]).expect("write");
        }
        let csv = w.into_inner().expect("flush");
        let dir = folder(&csv);
        let read = match read(&dir.path().join("rows.csv"), &super::CsvOptions::default()) {
            Ok(r) => r,
            Err(errors) => {
                // The builder may refuse a subject (control characters, length);
                // nothing else may fail.
                for e in &errors {
                    prop_assert_eq!(e.error.code(), Some("message.header-injection"), "{:?}", e.error);
                }
                return Ok(());
            }
        };
        prop_assert_eq!(read.len(), rows.len());
        for (got, (to, cc, subject, body)) in read.iter().zip(&rows) {
            prop_assert_eq!(&got.to, to);
            prop_assert_eq!(&got.cc, cc);
            prop_assert_eq!(&got.subject, subject);
            prop_assert_eq!(got.body.as_deref().unwrap_or_default(), body.as_str());
        }
    }
}

#[test]
fn a_missing_file_error_names_no_content() {
    let dir = folder(b"to,attach\na@example.com,secret.txt;nope.pdf\n");
    let errors = read(&dir.path().join("rows.csv"), &super::CsvOptions::default()).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_no_secret(&errors[0].error);
    assert!(Path::new(errors[0].error.context_value("path").unwrap()).ends_with("nope.pdf"));
}
