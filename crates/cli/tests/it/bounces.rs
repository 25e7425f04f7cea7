//! `g360-mail bounces parse`, spawned as a user would run it, on the real
//! delivery reports of the bounce crate's test data.

use std::path::{Path, PathBuf};

use crate::support::run_blocking;

fn sample(name: &str) -> String {
    let path: PathBuf =
        [env!("CARGO_MANIFEST_DIR"), "..", "bounce", "tests", "data", name].iter().collect();
    assert!(path.exists(), "{}", path.display());
    path.display().to_string()
}

fn run(dir: &Path, args: &[&str]) -> crate::support::Run {
    run_blocking(dir, args, &[])
}

#[test]
fn prints_each_recipient_in_spanish_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let (o365, postfix) = (sample("lhost-office365-01.eml"), sample("lhost-postfix-01.eml"));
    let r = run(dir.path(), &["bounces", "parse", &o365, &postfix]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let expected = format!(
        "{o365}\n\
         \x20 Message-ID original: <FFFFFFFF.EEEEEEEE@example.ed.jp>\n\
         \x20 Asunto original: Nyaan\n\
         \x20 kijitora@example.com  fallido  5.1.10  destinatario desconocido\n\
         \x20     diagnóstico: 550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup\n\
         \n\
         {postfix}\n\
         \x20 Message-ID original: (desconocido)\n\
         \x20 kijitora@example.org → r@p351355.pool.example.ne.jp  fallido  5.1.1  destinatario desconocido\n\
         \x20     diagnóstico: procmail: Couldn't create \"/var/spool/mail/neko\" id: r.example.org: No such user\n"
    );
    assert_eq!(r.stdout, expected);
}

#[test]
fn prints_in_english_with_lang_en() {
    let dir = tempfile::tempdir().unwrap();
    let file = sample("lhost-exchange2007-02.eml");
    let r = run(dir.path(), &["--lang", "en", "bounces", "parse", &file]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[1], "  Original Message-ID: <20110429233445.FFFFFFFFEEE@neko.example.com>");
    assert_eq!(lines[2], "  Original subject: Nyaan");
    assert_eq!(lines[3], "  kijitora@example.edu  failed  5.2.2  mailbox full");
    assert!(
        lines[4].starts_with("      diagnostic: 550 5.2.2 STOREDRV.Deliver: mailbox full."),
        "{}",
        r.stdout
    );

    let file = sample("rfc3464-03.eml");
    let r = run(dir.path(), &["--lang", "en", "bounces", "parse", &file]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("  kijitora@example.com  failed  5.0.0  rejected as spam or by policy\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("      remote server: 192.0.2.2\n"), "{}", r.stdout);
}

#[test]
fn json_gives_every_field_and_each_files_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_report = dir.path().join("factura.eml");
    std::fs::write(&not_a_report, "Subject: Factura\r\nFrom: a@example.org\r\n\r\nAdjunta.\r\n")
        .unwrap();
    let not_a_report = not_a_report.display().to_string();
    let files = [
        sample("lhost-exim-02.eml"),
        sample("lhost-office365-03.eml"),
        not_a_report.clone(),
        sample("lhost-gmail-01.eml"),
    ];
    let mut args = vec!["--json", "bounces", "parse"];
    args.extend(files.iter().map(String::as_str));
    let r = run(dir.path(), &args);
    // Every file is read; the exit code is that of the failure (invalid input).
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let out = v["files"].as_array().unwrap();
    assert_eq!(out.len(), 4);

    let exim = &out[0];
    assert_eq!(exim["file"], files[0]);
    assert_eq!(exim["ok"], true);
    assert_eq!(exim["report"]["format"], "exim");
    assert_eq!(
        exim["report"]["original_message_id"],
        "<E1X58pB-0004bW-2s@marutamachi.example.org>"
    );
    assert_eq!(exim["report"]["message_id_source"], "quoted-text");
    assert_eq!(exim["report"]["original_subject"], "test from Exim 1");
    let second = &exim["report"]["recipients"][1];
    assert_eq!(second["final_recipient"], "sabatora@example.jp");
    assert_eq!(second["action"], "failed");
    assert_eq!(second["status"], "5.2.1");
    assert_eq!(second["kind"], "unknown-recipient");
    assert_eq!(second["remote_mta"], "mx.example.jp");
    assert_eq!(second["diagnostic"], "550 5.2.1 <sabatora@example.jp>... User Unknown");

    let o365 = &out[1]["report"];
    assert_eq!(o365["format"], "rfc3464");
    assert_eq!(o365["reporting_mta"], "NEKONYAAN22.sotoneko.prod.outlook.com");
    assert_eq!(o365["recipients"][0]["kind"], "rejected");

    let bad = &out[2];
    assert_eq!(bad["ok"], false);
    assert_eq!(bad["file"], not_a_report);
    assert_eq!(bad["error"]["code"], "bounce.not-a-report");
    assert_eq!(bad["error"]["reason"], "no-report-part");
    assert_eq!(bad["error"]["message"], "No es un informe de entrega");
    assert_eq!(bad["error"]["exit_code"], 2);

    assert_eq!(out[3]["report"]["recipients"][0]["final_recipient"], "userunknown@example.jp");
}

#[test]
fn failures_are_reported_per_file_and_need_no_configuration() {
    let dir = tempfile::tempdir().unwrap();
    // A broken configuration file does not stop reading reports.
    std::fs::write(dir.path().join("broken.toml"), "this is [not toml").unwrap();
    let missing = dir.path().join("missing.eml").display().to_string();
    let good = sample("rfc3464-01.eml");
    let r = run(
        dir.path(),
        &["--config", "broken.toml", "--lang", "en", "bounces", "parse", &missing, &good],
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(&format!("{missing}\n  Cannot read the file\n")), "{}", r.stdout);
    assert!(
        r.stdout.contains("  userunknown@bouncehammer.jp  failed  5.1.1  unknown recipient\n"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains(&format!("{missing}: Cannot read the file")), "{}", r.stderr);
    assert!(r.stderr.contains("what to do: Check the file's path and permissions"), "{}", r.stderr);

    // A directory is no file either.
    let here = dir.path().display().to_string();
    let r = run(dir.path(), &["--lang", "en", "bounces", "parse", &here]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("  Cannot read the file\n"), "{}", r.stdout);

    // A file is required.
    let r = run(dir.path(), &["bounces", "parse"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}
