//! `send --from-csv`: every row validated before the first send; a failed row
//! never stops the others; exit 0 only when all rows were sent.

mod support;

use support::run;

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
