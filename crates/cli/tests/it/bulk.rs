//! `send --from-csv`: every row validated before the first send; a failed row
//! never stops the others; exit 0 only when all rows were sent.

use crate::support::run;

use std::path::Path;

use g360_mail_testkit::graph::{Endpoint, Fault, FaultMatch, GraphEmulator};

fn eml_count(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("mail-outbox"))
        .map(|rd| {
            rd.filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn every_row_is_sent_on_the_embedded_default_with_attachments() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("facturas")).unwrap();
    std::fs::write(dir.path().join("facturas/f1.pdf"), b"%PDF one").unwrap();
    std::fs::write(dir.path().join("facturas/f2.pdf"), b"%PDF two").unwrap();
    std::fs::write(dir.path().join("cuerpo.html"), "<p>Factura adjunta</p>").unwrap();
    std::fs::write(
        dir.path().join("envio.csv"),
        "to,cc,subject,body,html_file,attach\n\
         a@example.com,,Factura 1,Hola,,facturas/f1.pdf\n\
         Cliente B <b@example.com>,c@example.com,Factura 2,,cuerpo.html,facturas/f1.pdf;facturas/f2.pdf\n\
         d@example.com;e@example.com,,Aviso,Texto,,\n",
    )
    .unwrap();
    let r = run(dir.path(), &["send", "--from-csv", "envio.csv"]).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("Enviados: 3/3"), "{}", r.stdout);
    assert_eq!(eml_count(dir.path()), 3);

    let r = run(dir.path(), &["--json", "--lang", "en", "send", "--from-csv", "envio.csv"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["sent"], 3);
    assert_eq!(v["rows"][1]["line"], 3);
    assert_eq!(v["rows"][1]["ok"], true);
}

#[tokio::test]
async fn a_bad_row_is_reported_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("to,subject,body,attach\n");
    for i in 0..20 {
        csv.push_str(&format!("u{i}@example.com,Factura {i},Hola,\n"));
    }
    csv.push_str("not-an-address,Factura 20,Hola,\n"); // line 22
    csv.push_str("ok@example.com,Factura 21,Hola,missing.pdf\n"); // line 23
    std::fs::write(dir.path().join("envio.csv"), csv).unwrap();
    let r = run(dir.path(), &["send", "--from-csv", "envio.csv"]).await;
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert_eq!(eml_count(dir.path()), 0, "nothing may be sent");
    assert!(r.stderr.contains("línea 22") && r.stderr.contains("not-an-address"), "{}", r.stderr);
    assert!(r.stderr.contains("línea 23") && r.stderr.contains("missing.pdf"), "{}", r.stderr);

    std::fs::write(dir.path().join("typo.csv"), "to,subjet\na@example.com,x\n").unwrap();
    let r = run(dir.path(), &["--lang", "en", "send", "--from-csv", "typo.csv"]).await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown column \"subjet\""), "{}", r.stderr);
    assert_eq!(run(dir.path(), &["send", "--from-csv", "absent.csv"]).await.code, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn partial_failures_on_office365_keep_going_and_set_the_exit_code() {
    let emulator = GraphEmulator::start().await;
    let setup = emulator.quick_setup(&["facturas@contoso.com"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("g360-mail.toml"), setup.toml_config(&emulator.url())).unwrap();
    let mut csv = String::from("to,subject,body\n");
    for i in 0..40 {
        csv.push_str(&format!("cliente{i}@example.com,Factura {i},Adjuntamos la factura {i}\n"));
    }
    std::fs::write(dir.path().join("envio.csv"), csv).unwrap();
    // Graph refuses one send for good.
    emulator.push_fault(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::status(400, "ErrorInvalidRecipients", "At least one recipient is not valid."),
        1,
    );
    let r = run(dir.path(), &["--json", "send", "--from-csv", "envio.csv", "--concurrency", "50"])
        .await;
    assert_eq!(r.code, 4, "{}{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["sent"], 39, "{v}");
    assert_eq!(v["failed"], 1);
    assert_eq!(v["failed_by_reason"]["ErrorInvalidRecipients"], 1);
    let failed: Vec<_> =
        v["rows"].as_array().unwrap().iter().filter(|r| r["ok"] == false).collect();
    assert!(failed[0]["line"].as_u64().unwrap() >= 2);
    assert!(failed[0]["remedy"].is_string());
    assert_eq!(emulator.sent_items("facturas@contoso.com").len(), 39);
    // One token for the whole run; never more than 4 requests at once on the mailbox.
    assert_eq!(emulator.token_requests(), 1);
    assert!(emulator.max_concurrency("facturas@contoso.com") <= 4);
    assert!(!r.stdout.contains(&setup.secret));
}

/// A CSV folder with one file inside (`facturas/f1.pdf`), a secret file
/// beside the folder, and links and a FIFO inside it.
fn csv_folder() -> (tempfile::TempDir, std::path::PathBuf) {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("envio");
    std::fs::create_dir_all(dir.join("facturas/sub")).unwrap();
    std::fs::write(dir.join("facturas/f1.pdf"), b"%PDF one").unwrap();
    std::fs::write(top.path().join("secret.txt"), b"TOP-SECRET-CONTENT").unwrap();
    std::os::unix::fs::symlink("../secret.txt", dir.join("link-out.pdf")).unwrap();
    std::os::unix::fs::symlink(top.path(), dir.join("dir-out")).unwrap();
    std::os::unix::fs::symlink("facturas/f1.pdf", dir.join("link-in.pdf")).unwrap();
    let fifo = std::process::Command::new("mkfifo").arg(dir.join("pipe.pdf")).status().unwrap();
    assert!(fifo.success());
    (top, dir)
}

fn eml_texts(dir: &Path) -> String {
    std::fs::read_dir(dir.join("mail-outbox"))
        .map(|rd| {
            rd.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// Files outside the CSV's folder — absolute, through `..`, through a link —
/// and files that are not regular are refused before anything is sent:
/// exit 2, each naming its line and column.
#[tokio::test]
async fn a_csv_reads_only_the_files_beside_it() {
    let (top, dir) = csv_folder();
    let bad = [
        ("attach", "/etc/passwd"),
        ("attach", "/proc/self/environ"),
        ("attach", "../secret.txt"),
        ("attach", "facturas/../../secret.txt"),
        ("attach", "link-out.pdf"),
        ("attach", "dir-out/secret.txt"),
        ("attach", "facturas"),
        ("attach", "pipe.pdf"),
        ("html_file", "/proc/self/environ"),
        ("html_file", "../secret.txt"),
        ("html_file", "link-out.pdf"),
    ];
    let mut csv = String::from("to,subject,body,html_file,attach\n");
    csv.push_str("ok@example.com,Bien,Hola,,facturas/sub/../f1.pdf;link-in.pdf\n"); // line 2
    for (column, path) in bad {
        let (html, attach) = if column == "html_file" { (path, "") } else { ("", path) };
        csv.push_str(&format!("x@example.com,Robo,Hola,{html},{attach}\n"));
    }
    std::fs::write(dir.join("envio.csv"), &csv).unwrap();
    let env = [("G360_SCAN_SECRET", "ENV-SECRET-VALUE")];
    for args in [
        &["send", "--from-csv", "envio/envio.csv"][..],
        &["--json", "--lang", "en", "send", "--from-csv", "envio/envio.csv"],
    ] {
        let r = crate::support::run_env(top.path(), args, &env).await;
        assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
        assert_eq!(eml_count(top.path()), 0, "nothing may be sent");
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(!all.contains("TOP-SECRET") && !all.contains("ENV-SECRET"), "{all}");
        if args.contains(&"--json") {
            let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
            let rows = v["invalid_rows"].as_array().unwrap();
            assert_eq!(rows.len(), bad.len(), "{v}");
            for (i, (column, path)) in bad.iter().enumerate() {
                let row = &rows[i];
                assert_eq!(row["line"], i as u64 + 3, "{row}");
                let detail = row["detail"].as_str().unwrap();
                assert!(detail.contains(&format!("column: {column}")), "{row}");
                assert!(detail.contains(path), "{row}");
            }
        } else {
            for (i, (column, _)) in bad.iter().enumerate() {
                let line = format!("línea {}: ", i + 3);
                let shown = r
                    .stderr
                    .lines()
                    .find(|l| l.contains(&line))
                    .unwrap_or_else(|| panic!("{line}\n{}", r.stderr));
                assert!(shown.contains(&format!("column: {column}")), "{shown}");
            }
            assert!(!r.stderr.contains("línea 2:"), "{}", r.stderr);
        }
    }
    // The good row alone goes out, with both files.
    std::fs::write(dir.join("bien.csv"), csv.lines().take(2).collect::<Vec<_>>().join("\n"))
        .unwrap();
    let r =
        crate::support::run_env(top.path(), &["send", "--from-csv", "envio/bien.csv"], &env).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(eml_count(top.path()), 1);
    let eml = eml_texts(top.path());
    assert_eq!(
        eml.matches("filename=\"f1.pdf\"").count()
            + eml.matches("filename=\"link-in.pdf\"").count(),
        2,
        "{eml}"
    );
}

/// `--attach-root` names the folder the files must lie in, when it is not
/// the CSV's own.
#[tokio::test]
async fn attach_root_is_the_folder_of_the_files() {
    let (top, dir) = csv_folder();
    std::fs::write(
        top.path().join("envio.csv"),
        "to,subject,body,attach\na@example.com,F,Hola,facturas/f1.pdf\n",
    )
    .unwrap();
    // Beside the CSV there is no facturas/.
    let r = run(top.path(), &["send", "--from-csv", "envio.csv"]).await;
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let root = dir.to_str().unwrap();
    let r = run(top.path(), &["send", "--from-csv", "envio.csv", "--attach-root", root]).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // Still no way out of the root.
    std::fs::write(
        top.path().join("out.csv"),
        "to,subject,body,attach\na@example.com,F,Hola,../secret.txt\n",
    )
    .unwrap();
    let r = run(top.path(), &["send", "--from-csv", "out.csv", "--attach-root", root]).await;
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert_eq!(eml_count(top.path()), 1);
}

/// A `;`-separated file in Windows-1252 with accents, as Excel writes it on
/// Spanish Windows, and one in UTF-8 with a byte-order mark.
#[tokio::test]
async fn spanish_excel_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f1.pdf"), b"%PDF one").unwrap();
    // "Año" and "€" in Windows-1252; the two attachments quoted as Excel does.
    let mut cp1252 = b"to;subject;body;attach\r\na@example.com;Factura a".to_vec();
    cp1252.extend([0xF1, b'o']);
    cp1252.extend(b" 2026;Importe: 10 ");
    cp1252.push(0x80);
    cp1252.extend(b";\"f1.pdf;f1.pdf\"\r\n");
    std::fs::write(dir.path().join("excel.csv"), cp1252).unwrap();
    let mut bom = b"\xEF\xBB\xBFto;subject;body\r\n".to_vec();
    bom.extend("b@example.com;Ca\u{f1}a;Cuerpo\r\n".as_bytes());
    std::fs::write(dir.path().join("utf8.csv"), bom).unwrap();
    for file in ["excel.csv", "utf8.csv"] {
        let r = run(dir.path(), &["send", "--from-csv", file]).await;
        assert_eq!(r.code, 0, "{file}: {}{}", r.stdout, r.stderr);
    }
    let r = run(dir.path(), &["--json", "inbox", "--user", "demo"]).await;
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let subjects: Vec<&str> = v["page"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    assert!(subjects.contains(&"Factura año 2026"), "{subjects:?}");
    assert!(subjects.contains(&"Caña"), "{subjects:?}");
    // An explicit --delimiter wins over detection.
    std::fs::write(
        dir.path().join("mixed.csv"),
        "to|subject|body\nc@example.com|Hola, qué tal|x\n",
    )
    .unwrap();
    let r = run(dir.path(), &["send", "--from-csv", "mixed.csv", "--delimiter", "|"]).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

/// A header that is not recognised gets a hint: another separator, data
/// without a header, Spanish names.
#[tokio::test]
async fn an_unrecognised_header_gets_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    for (file, text, args, code, needle) in [
        (
            "semi.csv",
            "to;subject;body\na@example.com;x;y\n",
            &["--delimiter", ","][..],
            "csv.wrong-delimiter",
            "pass --delimiter \";\"",
        ),
        ("data.csv", "a@example.com,Hola,Cuerpo\n", &[][..], "csv.no-header", "add a header line"),
        (
            "es.csv",
            "Para,Asunto,Cuerpo\na@example.com,x,y\n",
            &[][..],
            "csv.spanish-columns",
            "para → to, asunto → subject, cuerpo → body",
        ),
    ] {
        std::fs::write(dir.path().join(file), text).unwrap();
        let mut all = vec!["--json", "--lang", "en", "send", "--from-csv", file];
        all.extend(args);
        let r = run(dir.path(), &all).await;
        assert_eq!(r.code, 2, "{file}: {}{}", r.stdout, r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let row = &v["invalid_rows"][0];
        assert_eq!(row["code"], code, "{file}: {v}");
        assert!(row["remedy"].as_str().unwrap().contains(needle), "{file}: {v}");
        let mut es = vec!["send", "--from-csv", file];
        es.extend(args);
        let r = run(dir.path(), &es).await;
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains("qué hacer:"), "{}", r.stderr);
    }
    assert_eq!(eml_count(dir.path()), 0);
}

/// One row whose outcome is unknown makes the whole run exit 6 (never 5): a
/// job that retries on 5 must not run the file again and send the other rows
/// twice. The row says `"outcome": "unknown"`.
#[tokio::test(flavor = "multi_thread")]
async fn one_unknown_outcome_makes_the_run_exit_6() {
    let emulator = GraphEmulator::start().await;
    let setup = emulator.quick_setup(&["facturas@contoso.com"]);
    let dir = tempfile::tempdir().unwrap();
    let config = setup.toml_config(&emulator.url()).replace(
        "allow_insecure_http = true\n",
        "allow_insecure_http = true\nmax_attempts = 1\nsent_lookup_delay_ms = 10\n\
         initial_backoff_ms = 10\nmax_backoff_ms = 10\n",
    );
    std::fs::write(dir.path().join("g360-mail.toml"), config).unwrap();
    let mut csv = String::from("to,subject,body\n");
    for i in 0..5 {
        csv.push_str(&format!("cliente{i}@example.com,Factura {i},Hola\n"));
    }
    std::fs::write(dir.path().join("envio.csv"), csv).unwrap();
    // One send goes out but is answered 504; Sent Items cannot be read.
    emulator.push_fault(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::accept_then_gateway_timeout(),
        1,
    );
    emulator.push_fault_always(
        FaultMatch::endpoint(Endpoint::ListMessages).path_contains("/mailFolders/sentitems/"),
        Fault::service_unavailable(None),
    );
    let r =
        run(dir.path(), &["--json", "send", "--from-csv", "envio.csv", "--concurrency", "1"]).await;
    assert_eq!(r.code, 6, "{}{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["exit_code"], 6, "{v}");
    let rows = v["rows"].as_array().unwrap();
    let unknown: Vec<_> = rows.iter().filter(|r| r["outcome"] == "unknown").collect();
    assert_eq!(unknown.len(), 1, "{v}");
    assert_eq!(unknown[0]["exit_code"], 6, "{v}");
    assert_eq!(rows.iter().filter(|r| r["outcome"] == "sent").count(), 4, "{v}");
    assert_eq!(emulator.deliveries().len(), 5, "every mail went out once");
    assert!(!r.stdout.contains(&setup.secret));
}

/// Inside the CSV's folder too, the configuration file, the outbox database
/// and hidden files (`.env`, anything under `.git/`) are refused.
#[tokio::test]
async fn the_configuration_the_outbox_and_hidden_files_are_never_attached() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("g360-mail.toml"),
        "[[integrations]]\nid = \"local\"\nprovider = \"file\"\ndirectory = \"./mail-outbox\"\n\n\
         [[accounts]]\nuser = \"demo\"\nprovider = \"file\"\naddress = \"demo@localhost\"\n",
    )
    .unwrap();
    std::fs::write(d.join("g360-mail-outbox.db"), b"SQLite format 3\0").unwrap();
    std::fs::write(d.join(".env"), b"SECRET=x").unwrap();
    std::fs::create_dir_all(d.join(".git")).unwrap();
    std::fs::write(d.join(".git/config"), b"[remote]").unwrap();
    std::fs::create_dir_all(d.join("docs")).unwrap();
    std::fs::write(d.join("docs/f.pdf"), b"%PDF").unwrap();
    std::fs::write(
        d.join("envio.csv"),
        "to,subject,body,attach\n\
         a@example.com,x,y,docs/f.pdf\n\
         a@example.com,x,y,g360-mail.toml\n\
         a@example.com,x,y,./docs/../g360-mail-outbox.db\n\
         a@example.com,x,y,.env\n\
         a@example.com,x,y,.git/config\n",
    )
    .unwrap();
    let r = run(d, &["--json", "send", "--from-csv", "envio.csv"]).await;
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let lines: Vec<u64> =
        v["invalid_rows"].as_array().unwrap().iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [3, 4, 5, 6], "{v}");
    assert!(v["invalid_rows"].as_array().unwrap().iter().all(|r| r["code"] == "csv.path-refused"));
    assert_eq!(eml_count(d), 0);
}
