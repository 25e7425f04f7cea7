//! The CLI on an `office365` account whose endpoints point at the Graph emulator.

mod support;

use support::{Run, run};

use g360_mail_testkit::graph::{GraphEmulator, QuickSetup};

async fn setup() -> (GraphEmulator, QuickSetup, tempfile::TempDir) {
    let emulator = GraphEmulator::start().await;
    let setup = emulator.quick_setup(&["jgarcia@contoso.com", "mlopez@contoso.com"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("g360-mail.toml"), setup.toml_config(&emulator.url())).unwrap();
    (emulator, setup, dir)
}

fn assert_no_secret(setup: &QuickSetup, r: &Run) {
    assert!(!r.stdout.contains(&setup.secret), "secret in stdout");
    assert!(!r.stderr.contains(&setup.secret), "secret in stderr");
    assert!(!r.stderr.contains("eyJ"), "a token in stderr: {}", r.stderr);
    assert!(!r.stdout.contains("eyJ"), "a token in stdout");
}

#[tokio::test(flavor = "multi_thread")]
async fn send_inbox_show_and_verify_through_graph() {
    let (emulator, setup, dir) = setup().await;
    let d = dir.path();

    let r = run(
        d,
        &[
            "send",
            "--user",
            "jgarcia",
            "--to",
            "mlopez@contoso.com",
            "--subject",
            "Factura 42",
            "--body",
            "Adjunta",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("El e-mail se envió correctamente"), "{}", r.stdout);
    assert_no_secret(&setup, &r);
    let sent = emulator.sent_items("jgarcia@contoso.com");
    assert_eq!(sent.len(), 1);
    assert_eq!(emulator.inbox("mlopez@contoso.com").len(), 1);

    let r = run(d, &["--json", "inbox", "--user", "mlopez"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let msg = &v["page"]["messages"][0];
    assert_eq!(msg["subject"], "Factura 42");
    assert!(msg["from"].as_str().unwrap().contains("jgarcia@contoso.com"), "{msg}");
    let id = msg["id"].as_str().unwrap().to_owned();

    let r = run(d, &["show", "--user", "mlopez", &id]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("Asunto: Factura 42") && r.stdout.contains("Adjunta"),
        "{}",
        r.stdout
    );

    let r = run(d, &["--lang", "en", "verify", "--user", "jgarcia"]).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    for check in ["configuration", "tenant", "token", "permissions", "mailbox"] {
        assert!(r.stdout.contains(check), "{check} missing: {}", r.stdout);
    }
    assert!(r.stdout.contains("All checks passed"), "{}", r.stdout);
    assert_no_secret(&setup, &r);

    let r = run(d, &["verify", "--user", "jgarcia", "--send-test-to", "mlopez@contoso.com"]).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("El e-mail se envió correctamente"), "{}", r.stdout);
    assert_eq!(emulator.sent_items("jgarcia@contoso.com").len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_is_a_setup_error_exit_3() {
    let (emulator, setup, dir) = setup().await;
    let config = setup
        .toml_config(&emulator.url())
        .replace(&setup.secret, "Wrong8Q~secret-value-0123456789abcdefghijkl");
    std::fs::write(dir.path().join("g360-mail.toml"), config).unwrap();
    let r = run(
        dir.path(),
        &["send", "--user", "jgarcia", "--to", "x@example.com", "--subject", "s", "--body", "b"],
    )
    .await;
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("AADSTS7000215") || r.stderr.to_lowercase().contains("secret"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Wrong8Q~secret"), "{}", r.stderr);
    let r = run(dir.path(), &["verify", "--user", "jgarcia"]).await;
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("✗"), "{}", r.stdout);
    assert!(emulator.sent_items("jgarcia@contoso.com").is_empty());
}
