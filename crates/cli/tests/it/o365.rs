//! The CLI on an `office365` account whose endpoints point at the Graph emulator.

use crate::support::{Run, run};

use g360_mail_testkit::graph::{GraphEmulator, MAIL_READ, MAIL_READ_WRITE, MAIL_SEND, QuickSetup};

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

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_client_id_does_not_stop_other_accounts_and_is_refused_before_any_request() {
    let (emulator, setup, dir) = setup().await;
    // A second integration with a client id copied wrongly, used by a second account.
    let broken = format!(
        "\n[[integrations]]\nid = \"o365-broken\"\nprovider = \"office365\"\ntenant_id = \"{}\"\nclient_id = \"G360 ERP - MAIL\"\n\
         authority_url = \"{url}\"\ngraph_url = \"{url}\"\nallow_insecure_http = true\n\
         \n[[accounts]]\nuser = \"otro\"\nprovider = \"office365\"\nintegration = \"o365-broken\"\naddress = \"otro@contoso.com\"\nsecret = \"{}\"\n",
        setup.tenant_id,
        setup.secret,
        url = emulator.url()
    );
    let mut config = std::fs::read_to_string(dir.path().join("g360-mail.toml")).unwrap();
    config.push_str(&broken);
    std::fs::write(dir.path().join("g360-mail.toml"), config).unwrap();

    let r = run(
        dir.path(),
        &["send", "--user", "jgarcia", "--to", "x@example.com", "--subject", "s", "--body", "b"],
    )
    .await;
    assert_eq!(r.code, 0, "the other account still sends: {}{}", r.stdout, r.stderr);
    let tokens = emulator.token_requests();

    let r = run(
        dir.path(),
        &["send", "--user", "otro", "--to", "x@example.com", "--subject", "s", "--body", "b"],
    )
    .await;
    // A setup problem: 3, as from `config check` below and from `verify`.
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("El Id. de aplicación (cliente) no es un GUID"), "{}", r.stderr);
    assert_eq!(
        emulator.token_requests(),
        tokens,
        "no token was asked for with a malformed client id"
    );

    let r = run(dir.path(), &["config", "check"]).await;
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("integrations[o365-broken].client_id"), "{}", r.stderr);
    assert_no_secret(&setup, &r);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_3_mib_attachment_takes_the_upload_session_path_only_with_mail_read_write() {
    let (emulator, setup, dir) = setup().await;
    std::fs::write(dir.path().join("big.pdf"), vec![b'%'; 3 * 1024 * 1024]).unwrap();
    let args = [
        "send",
        "--user",
        "jgarcia",
        "--to",
        "x@example.com",
        "--subject",
        "s",
        "--body",
        "b",
        "--attach",
        "big.pdf",
    ];
    // Mail.Send + Mail.Read only: refused before sending, with the remedy.
    let r = run(dir.path(), &args).await;
    assert_eq!(r.code, 4, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("La petición supera el tamaño que acepta Graph"), "{}", r.stderr);
    assert!(r.stderr.contains("Mail.ReadWrite"), "{}", r.stderr);
    assert!(emulator.sent_items("jgarcia@contoso.com").is_empty());
    // With Mail.ReadWrite granted, a fresh process sends it through a draft and an upload session.
    emulator.update_app(&setup.client_id, |a| {
        a.roles = vec![MAIL_SEND.into(), MAIL_READ.into(), MAIL_READ_WRITE.into()]
    });
    let r = run(dir.path(), &args).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let sent = emulator.sent_items("jgarcia@contoso.com");
    assert_eq!(sent.len(), 1);
    assert_no_secret(&setup, &r);
}

/// An integration signing in with a certificate: every output of every
/// command (debug logs included) is free of the private key and of the
/// signed assertions.
#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_integration_never_prints_its_key_or_assertions() {
    let (emulator, setup, dir) = setup().await;
    let d = dir.path();
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-sha256", "-days", "365", "-nodes"])
        .args(["-subj", "/CN=g360-mail", "-keyout", "app.key", "-out", "app.crt"])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cert = g360_mail_testkit::graph::AppCertificate::from_pem(
        &std::fs::read_to_string(d.join("app.crt")).unwrap(),
    )
    .unwrap();
    emulator.update_app(&setup.client_id, |a| a.certificates.push(cert));
    let key_text = std::fs::read_to_string(d.join("app.key")).unwrap();
    let config = setup
        .toml_config(&emulator.url())
        .replace(&format!("secret = \"{}\"\n", setup.secret), "")
        .replacen(
            "allow_insecure_http = true\n",
            "allow_insecure_http = true\ncertificate_file = \"app.crt\"\nprivate_key_file = \"app.key\"\n",
            1,
        );
    std::fs::write(d.join("g360-mail.toml"), config).unwrap();

    let send = [
        "send",
        "--user",
        "jgarcia",
        "--to",
        "mlopez@contoso.com",
        "--subject",
        "Firma",
        "--body",
        "b",
    ];
    let mut runs = vec![run(d, &send).await];
    assert_eq!(runs[0].code, 0, "{}{}", runs[0].stdout, runs[0].stderr);
    for args in [
        &[
            "--json",
            "send",
            "--user",
            "mlopez",
            "--to",
            "jgarcia@contoso.com",
            "--subject",
            "s",
            "--body",
            "b",
        ][..],
        &["verify", "--user", "jgarcia"],
        &["--lang", "en", "verify", "--user", "jgarcia"],
        &["--json", "verify", "--all"],
        &["config", "show"],
        &["--json", "inbox", "--user", "mlopez"],
    ] {
        runs.push(run(d, args).await);
    }
    assert_eq!(emulator.sent_items("jgarcia@contoso.com").len(), 1);
    let en = &runs[3];
    assert_eq!(en.code, 0, "{}{}", en.stdout, en.stderr);
    assert!(en.stdout.contains("certificate") && en.stdout.contains("x5t#S256"), "{}", en.stdout);
    let all: String = runs.iter().map(|r| format!("{}\n{}\n", r.stdout, r.stderr)).collect();
    assert!(all.contains("requesting an access token"), "debug logs were captured");
    for line in key_text.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!all.contains(line), "a line of the private key was printed");
    }
    assert!(!all.contains("PRIVATE KEY-----\n"), "the key's PEM block was printed");
    assert!(!all.contains("eyJ"), "a signed assertion or a token was printed");
    for r in &runs {
        assert_no_secret(&setup, r);
    }
}

/// At the default log level, a failing command prints its error once, in the
/// user's language: no English WARN line repeating it.
#[tokio::test(flavor = "multi_thread")]
async fn no_warn_line_repeats_the_error_at_the_default_level() {
    let (emulator, setup, dir) = setup().await;
    let config = setup
        .toml_config(&emulator.url())
        .replace(&setup.secret, "Wrong8Q~not-the-secret-0123456789abcdef");
    std::fs::write(dir.path().join("g360-mail.toml"), config).unwrap();
    let send =
        ["send", "--user", "jgarcia", "--to", "a@example.com", "--subject", "x", "--body", "y"];
    for args in [&send[..], &["verify", "--user", "jgarcia"], &["inbox", "--user", "jgarcia"]] {
        let r = crate::support::run_default_log(dir.path(), args).await;
        assert_eq!(r.code, 3, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(
            !r.stderr.contains("WARN") && !r.stderr.contains("INFO"),
            "{args:?}:\n{}",
            r.stderr
        );
        assert_no_secret(&setup, &r);
    }
    // The same failure with logs asked for does log (the filter, not the
    // log line, changed).
    let r = run(dir.path(), &send).await;
    assert!(r.stderr.contains("WARN"), "{}", r.stderr);
}

/// One secret on the integration (`secret_env`), none on the accounts:
/// `config check` passes without a note, both users send and verify, and
/// nothing prints the secret.
#[tokio::test(flavor = "multi_thread")]
async fn one_secret_on_the_integration_serves_every_account() {
    let emulator = GraphEmulator::start().await;
    let setup = emulator.quick_setup(&["jgarcia@contoso.com", "mlopez@contoso.com"]);
    let dir = tempfile::tempdir().unwrap();
    let config = setup
        .toml_config(&emulator.url())
        .replace(&format!("secret = \"{}\"\n", setup.secret), "")
        .replace(
            "allow_insecure_http = true\n",
            "allow_insecure_http = true\nsecret_env = \"O365_SECRET\"\n",
        );
    assert!(!config.contains(&setup.secret));
    std::fs::write(dir.path().join("g360-mail.toml"), config).unwrap();
    let d = dir.path();
    let env = [("O365_SECRET", setup.secret.as_str())];

    let r = crate::support::run_env(d, &["config", "check"], &env).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("Aviso"), "{}", r.stderr);
    let r = crate::support::run_env(d, &["config", "show"], &env).await;
    assert!(r.stdout.contains("secret_env = \"O365_SECRET\""), "{}", r.stdout);
    assert_no_secret(&setup, &r);
    for user in ["jgarcia", "mlopez"] {
        let args =
            ["send", "--user", user, "--to", "c@example.com", "--subject", "s", "--body", "b"];
        let r = crate::support::run_env(d, &args, &env).await;
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        assert_no_secret(&setup, &r);
    }
    let r = crate::support::run_env(d, &["verify", "--all"], &env).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_no_secret(&setup, &r);
    assert_eq!(emulator.sent_items("mlopez@contoso.com").len(), 1);
}
