//! Issue 14.5, end to end through the CLI: 20 mails queued, 3 to addresses
//! that bounce (5.1.1, 5.2.2, 5.7.1) and one that is delayed (4.4.7); the
//! outbox worker drains them; `bounces sync` reads the reports the Graph
//! emulator wrote into the sender's Inbox (and one it cannot read) and
//! records exactly those recipients, once. The same on the file provider of
//! the embedded default configuration, with reports dropped as `.eml` files.

use std::path::Path;
use std::time::Duration;

use g360_mail_testkit::graph::{
    Bounce, GraphEmulator, MESSAGE_CLASS_PROPERTY, MailMessage, NDR_CLASS,
};
use serde_json::Value;

/// (address, status, diagnostic) of the recipients that do not get the mail.
const BOUNCING: [(&str, &str, &str); 3] = [
    ("nadie@cliente-a.example", "5.1.1", "550 5.1.1 <nadie@cliente-a.example>: User unknown"),
    ("lleno@cliente-b.example", "5.2.2", "552 5.2.2 Mailbox full, over quota"),
    ("filtro@cliente-c.example", "5.7.1", "550 5.7.1 Message rejected as spam by content filter"),
];
const DELAYED: (&str, &str, &str) =
    ("lento@cliente-d.example", "4.4.7", "451 4.4.7 Message delayed: remote server not answering");

async fn json(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let r = crate::support::run(dir, &all).await;
    assert_eq!(r.code, 0, "{args:?}: {}\n{}", r.stdout, r.stderr);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", r.stdout))
}

/// The CSV of the 20 mails: the special addresses at rows 3, 8, 13 and 18.
fn csv(dir: &Path) -> Vec<String> {
    let mut csv = String::from("to,subject,body\n");
    let mut to = Vec::new();
    for i in 0..20 {
        let address = match i {
            3 => BOUNCING[0].0.to_owned(),
            8 => BOUNCING[1].0.to_owned(),
            13 => BOUNCING[2].0.to_owned(),
            18 => DELAYED.0.to_owned(),
            _ => format!("cliente{i}@example.com"),
        };
        csv.push_str(&format!("{address},Factura {i},Importe {i}\n"));
        to.push(address);
    }
    std::fs::write(dir.join("mails.csv"), csv).unwrap();
    to
}

/// Per address, the outbox mail (`outbox list`).
async fn mails_by_address(dir: &Path, state: &str) -> Vec<(String, u64)> {
    let v = json(dir, &["outbox", "list", "--state", state, "--limit", "100"]).await;
    v["mails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["recipients"].as_str().unwrap().to_owned(), m["id"].as_u64().unwrap()))
        .collect()
}

/// `outbox show ID`'s one recipient.
async fn recipient_of(dir: &Path, id: u64) -> Value {
    let v = json(dir, &["outbox", "show", &id.to_string()]).await;
    let list = v["recipients"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    list[0].clone()
}

/// What both routes must show after the first sync.
async fn check_recorded(dir: &Path, to: &[String]) {
    let sent = mails_by_address(dir, "sent").await;
    assert_eq!(sent.len(), 20, "every mail stays sent: {sent:?}");
    let bounced = mails_by_address(dir, "bounced").await;
    let mut got: Vec<&str> = bounced.iter().map(|(a, _)| a.as_str()).collect();
    got.sort_unstable();
    let mut want: Vec<&str> = BOUNCING.iter().map(|b| b.0).collect();
    want.sort_unstable();
    assert_eq!(got, want, "outbox list --state bounced");
    let delayed = mails_by_address(dir, "delayed").await;
    assert_eq!(delayed.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(), [DELAYED.0]);

    for (address, id) in &sent {
        let r = recipient_of(dir, *id).await;
        assert_eq!(r["address"], address.as_str(), "{r}");
        if let Some((_, status, diagnostic)) = BOUNCING.iter().find(|b| b.0 == address) {
            assert_eq!(r["state"], "bounced", "{r}");
            assert_eq!(r["status"], *status, "{r}");
            assert!(r["diagnostic"].as_str().unwrap().contains(&diagnostic[4..]), "{r}");
        } else if address == DELAYED.0 {
            assert_eq!(r["state"], "delayed", "{r}");
            assert_eq!(r["status"], DELAYED.1, "{r}");
        } else {
            assert_eq!(r["state"], "sent", "{address} stays sent: {r}");
        }
    }
    assert_eq!(to.len(), 20);

    let list = json(dir, &["bounces", "list", "--since", "1d"]).await;
    let reports = list["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 5, "4 reports and the unreadable one: {list}");
    assert_eq!(reports.iter().filter(|r| r["parsed"] == false).count(), 1, "{list}");
    for r in reports.iter().filter(|r| r["parsed"] == true) {
        assert!(r["outbox_id"].is_u64(), "tied to its mail: {r}");
        assert!(r["original_subject"].as_str().unwrap().starts_with("Factura"), "{r}");
    }
    // Spanish text by default.
    let text = crate::support::run(dir, &["bounces", "list"]).await;
    assert!(text.stdout.contains("rebotado") && text.stdout.contains("5.2.2"), "{}", text.stdout);
    assert!(text.stdout.contains("ilegibles (apartados)"), "{}", text.stdout);
}

fn check_summary(v: &Value, read: u64, bounced: u64, delayed: u64, unparseable: u64) {
    let s = &v["mailboxes"][0]["summary"];
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(s["read"], read, "{v}");
    assert_eq!(s["bounced"], bounced, "{v}");
    assert_eq!(s["delayed"], delayed, "{v}");
    assert_eq!(s["unparseable"], unparseable, "{v}");
}

#[tokio::test]
async fn office365_bounces_are_read_once_and_tied_to_their_recipients() {
    let emulator = GraphEmulator::start().await;
    let setup = emulator.quick_setup(&["facturas@contoso.com"]);
    emulator.configure(|o| {
        for (address, status, diagnostic) in BOUNCING {
            o.bounces.insert(address.into(), Bounce::new(status, diagnostic));
        }
        let (address, status, diagnostic) = DELAYED;
        o.bounces.insert(
            address.into(),
            Bounce::new(status, diagnostic).after(Duration::from_millis(300)),
        );
    });
    let dir = tempfile::tempdir().unwrap();
    let mut config = setup.toml_config(&emulator.url());
    config.push_str("\n[outbox]\nbase_backoff_ms = 50\nmax_backoff_ms = 500\n");
    std::fs::write(dir.path().join("g360-mail.toml"), config).unwrap();
    let to = csv(dir.path());
    json(dir.path(), &["send", "--queue", "--user", "facturas", "--from-csv", "mails.csv"]).await;
    json(dir.path(), &["outbox", "run", "--until-empty"]).await;

    // Reports arrive after the 202, the delayed one later still.
    let started = tokio::time::Instant::now();
    while emulator.inbox("facturas@contoso.com").len() < 4 {
        assert!(started.elapsed() < Duration::from_secs(10), "the reports do not arrive");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let inbox = emulator.inbox("facturas@contoso.com");
    assert!(inbox.iter().all(|m| m.extended_property(MESSAGE_CLASS_PROPERTY).is_some()));
    // A report the parser cannot read, and an ordinary mail (not listed).
    let junk = MailMessage::from_mime(
        b"From: postmaster@contoso.com\r\nSubject: Undeliverable\r\nMessage-ID: <junk@x>\r\n\r\nnothing to read here\r\n",
    )
    .unwrap()
    .with_extended_property(MESSAGE_CLASS_PROPERTY, NDR_CLASS);
    let ordinary = MailMessage::new("Pedido 7").with_text_body("hola");
    emulator.seed_inbox("facturas@contoso.com", [junk, ordinary]);

    let first = json(dir.path(), &["bounces", "sync", "--user", "facturas"]).await;
    check_summary(&first, 5, 3, 1, 1);
    check_recorded(dir.path(), &to).await;

    let second = json(dir.path(), &["bounces", "sync", "--all"]).await;
    check_summary(&second, 0, 0, 0, 0);
    let again = json(dir.path(), &["bounces", "list", "--since", "1d"]).await;
    assert_eq!(again["reports"].as_array().unwrap().len(), 5, "a second sync adds nothing");

    // A mail sent directly (not queued) is tied by its Message-ID too.
    let sent = json(
        dir.path(),
        &[
            "send",
            "--user",
            "facturas",
            "--to",
            BOUNCING[1].0,
            "--subject",
            "Directa",
            "--body",
            "x",
        ],
    )
    .await;
    let uid = sent.to_string();
    let direct = json(dir.path(), &["bounces", "sync", "--user", "facturas"]).await;
    check_summary(&direct, 1, 1, 0, 0);
    let list = json(dir.path(), &["bounces", "list", "--since", "1d"]).await;
    let newest = &list["reports"][0];
    assert_eq!(newest["original_subject"], "Directa", "{list}");
    assert!(newest["outbox_id"].is_null(), "{newest}");
    let mail_uid = newest["mail_uid"].as_str().unwrap();
    assert!(uid.contains(mail_uid), "the direct send's uid {mail_uid} in {uid}");
    assert_eq!(newest["recipients"][0]["status"], "5.2.2", "{newest}");
}

/// An RFC 3464 report of `message_id` for `recipient`, as Postfix writes it.
fn dsn(message_id: &str, recipient: &str, action: &str, status: &str, diagnostic: &str) -> String {
    format!(
        "From: MAILER-DAEMON@relay.example\r\nTo: demo@localhost\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host relay.example.\r\n\r\n\
         --B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.example\r\n\r\n\
         Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n\
         Diagnostic-Code: smtp; {diagnostic}\r\n\r\n\
         --B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: demo@localhost\r\nTo: {recipient}\r\n\
         Subject: Factura\r\nMessage-ID: {message_id}\r\n\r\n--B--\r\n"
    )
}

#[tokio::test]
async fn file_provider_reads_reports_dropped_into_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let to = csv(dir.path());
    // No configuration file: the embedded default (file provider, user demo).
    json(dir.path(), &["send", "--queue", "--from-csv", "mails.csv"]).await;
    json(dir.path(), &["outbox", "run", "--until-empty"]).await;

    let list = json(dir.path(), &["outbox", "list", "--limit", "100"]).await;
    let message_id = |address: &str| {
        let m = list["mails"].as_array().unwrap().iter().find(|m| m["recipients"] == address);
        let uid = m.unwrap()["uid"].as_str().unwrap().replace('-', "");
        format!("<{uid}@localhost>")
    };
    let mailbox = dir.path().join("mail-outbox");
    let mut reports: Vec<(String, String)> = BOUNCING
        .iter()
        .map(|(a, s, d)| (format!("bounce-{s}.eml"), dsn(&message_id(a), a, "failed", s, d)))
        .collect();
    let (a, s, d) = DELAYED;
    reports.push(("delay.eml".into(), dsn(&message_id(a), a, "delayed", s, d)));
    reports.push((
        "broken.eml".into(),
        "From: MAILER-DAEMON@relay.example\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.example\r\n\r\n--B--\r\n".into(),
    ));
    for (name, body) in &reports {
        std::fs::write(mailbox.join(name), body).unwrap();
    }

    let first = json(dir.path(), &["bounces", "sync"]).await;
    check_summary(&first, 5, 3, 1, 1);
    check_recorded(dir.path(), &to).await;
    let second = json(dir.path(), &["bounces", "sync"]).await;
    check_summary(&second, 0, 0, 0, 0);

    // A report dropped later is read by the next sync, alone.
    let late = dsn(
        &message_id("cliente0@example.com"),
        "cliente0@example.com",
        "failed",
        "5.1.1",
        "550 5.1.1 User unknown",
    );
    std::fs::write(mailbox.join("late.eml"), late).unwrap();
    let third = json(dir.path(), &["bounces", "sync"]).await;
    check_summary(&third, 1, 1, 0, 0);
}

#[tokio::test]
async fn the_worker_reads_reports_every_bounce_sync_ms() {
    let emulator = GraphEmulator::start().await;
    let setup = emulator.quick_setup(&["facturas@contoso.com"]);
    let dir = tempfile::tempdir().unwrap();
    let mut config = setup.toml_config(&emulator.url());
    config.push_str("\n[outbox]\nbounce_sync_ms = 1000\n");
    std::fs::write(dir.path().join("g360-mail.toml"), config).unwrap();
    // A recipient in the tenant's own domain without a mailbox: Exchange's 5.1.10.
    std::fs::write(
        dir.path().join("mails.csv"),
        "to,subject,body\nnadie@contoso.com,Factura 1,x\ncliente@example.com,Factura 2,y\n",
    )
    .unwrap();
    json(dir.path(), &["send", "--queue", "--from-csv", "mails.csv"]).await;
    let mut worker = crate::support::command(dir.path(), &["outbox", "run"]);
    worker.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut worker = worker.spawn().unwrap();
    let started = tokio::time::Instant::now();
    let bounced = loop {
        let v = json(dir.path(), &["outbox", "list", "--state", "bounced"]).await;
        if !v["mails"].as_array().unwrap().is_empty() {
            break v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the worker does not read the reports"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    worker.start_kill().unwrap();
    let _ = worker.wait().await;
    assert_eq!(bounced["mails"][0]["recipients"], "nadie@contoso.com", "{bounced}");
    let id = bounced["mails"][0]["id"].as_u64().unwrap();
    let r = recipient_of(dir.path(), id).await;
    assert_eq!(
        (r["state"].as_str(), r["status"].as_str()),
        (Some("bounced"), Some("5.1.10")),
        "{r}"
    );
    assert_eq!(r["kind"], "unknown-recipient", "{r}");
    // English text on request.
    let text =
        crate::support::run(dir.path(), &["--lang", "en", "outbox", "show", &id.to_string()]).await;
    assert!(
        text.stdout.contains("Recipients:") && text.stdout.contains("bounced  5.1.10"),
        "{}",
        text.stdout
    );
}
