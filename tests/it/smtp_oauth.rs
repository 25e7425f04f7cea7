//! SMTP without Basic authentication, end to end: an `smtp` integration with
//! `auth = "oauth2"` borrows the Entra app of an `office365` integration,
//! whose tokens the Graph emulator issues for Exchange Online, and logs in to
//! nodemailer's smtp-server with `AUTH XOAUTH2`. The server takes a token
//! only when its audience is Exchange Online and it carries the
//! `SMTP.SendAsApp` role, as Exchange Online does.

use g360_erp_bridge::{BridgeConfig, MailBridge};
use g360_mail_core::{CheckStatus, ErrorKind, OutgoingMessage, ProviderRegistry, VerifyOptions};
use g360_mail_testkit::graph::{
    EXCHANGE_RESOURCE, Endpoint, GraphEmulator, QuickSetup, SMTP_SEND_AS_APP,
};
use g360_mail_testkit::routes::{integration, o365_settings};
use g360_mail_testkit::smtp::{Certs, SmtpTestServer};
use serde_json::{Value, json};

const MAILBOX: &str = "facturas@contoso.com";
const OTHER: &str = "ventas@contoso.com";
const APP: &str = "o365";
const RELAY: &str = "o365-smtp";

struct Setup {
    emulator: GraphEmulator,
    setup: QuickSetup,
    smtp: SmtpTestServer,
    _certs: tempfile::TempDir,
}

impl Setup {
    /// The emulator with an app that has `exchange_roles`, and an SMTP server
    /// that checks tokens as Exchange Online does.
    async fn start(exchange_roles: &[&str]) -> Setup {
        let emulator = GraphEmulator::start().await;
        let setup = emulator.quick_setup(&[MAILBOX, OTHER]);
        let roles: Vec<String> = exchange_roles.iter().map(|r| (*r).to_owned()).collect();
        emulator.update_app(&setup.client_id, |app| app.exchange_roles = roles);
        let dir = tempfile::tempdir().unwrap();
        let certs = Certs::generate(dir.path());
        let smtp = SmtpTestServer::start(json!({
            "tls": certs.server_tls(),
            "auth": {
                "methods": ["XOAUTH2"],
                "oauth": { "audience": EXCHANGE_RESOURCE, "role": SMTP_SEND_AS_APP },
            },
        }))
        .await;
        Setup { emulator, setup, smtp, _certs: dir }
    }

    fn integrations(&self) -> Value {
        let ca = self._certs.path().join("ca.pem");
        let mut o365 = o365_settings(&self.emulator, &self.setup);
        o365["max_attempts"] = json!(1);
        json!([
            integration(APP, "office365", o365),
            {
                "id": RELAY,
                "provider": "smtp",
                "host": "127.0.0.1",
                "port": self.smtp.port(),
                "tls_ca_file": ca,
                "auth": "oauth2",
                "oauth_integration": APP,
                "hello_name": "erp.contoso.com",
                "connect_timeout_ms": 5_000,
                "command_timeout_ms": 5_000,
                "data_timeout_ms": 5_000,
                "max_attempts": 1,
            },
        ])
    }

    fn bridge(&self, accounts: Value) -> MailBridge {
        let mut registry = ProviderRegistry::new();
        g360_mail_o365::register(&mut registry);
        g360_mail_smtp::register(&mut registry);
        let config = json!({ "integrations": self.integrations(), "accounts": accounts });
        let config = BridgeConfig::from_value(config, &registry).unwrap();
        MailBridge::new(config, registry)
    }

    /// Two `smtp` accounts of the relay, both with the app's client secret.
    fn smtp_bridge(&self, secret: &str) -> MailBridge {
        self.bridge(json!([
            { "user": "facturas", "provider": "smtp", "integration": RELAY, "address": MAILBOX, "secret": secret },
            { "user": "ventas", "provider": "smtp", "integration": RELAY, "address": OTHER, "secret": secret },
        ]))
    }
}

fn message() -> OutgoingMessage {
    OutgoingMessage::builder()
        .to("cliente@example.com")
        .unwrap()
        .subject("Factura 2026-0042")
        .text("Adjuntamos la factura.")
        .build()
        .unwrap()
}

#[tokio::test]
async fn sends_with_the_apps_exchange_tokens_and_shares_them() {
    let mut s = Setup::start(&[SMTP_SEND_AS_APP]).await;
    let bridge = s.smtp_bridge(&s.setup.secret.clone());

    bridge.send_as("facturas", message()).await.unwrap();
    bridge.send_as("ventas", message()).await.unwrap();
    bridge.send_as("facturas", message()).await.unwrap();

    for who in [MAILBOX, OTHER] {
        let auth = s.smtp.next("auth").await;
        assert_eq!(auth["method"], "XOAUTH2");
        assert_eq!(auth["ok"], true, "{auth}");
        assert_eq!(auth["username"], who);
        assert_eq!(auth["aud"], EXCHANGE_RESOURCE);
        assert_eq!(auth["roles"], json!([SMTP_SEND_AS_APP]));
    }
    for who in [MAILBOX, OTHER, MAILBOX] {
        let got = s.smtp.next("message").await;
        assert_eq!((got["secure"].as_bool(), got["user"].as_str()), (Some(true), Some(who)));
    }
    // One token for both accounts of the same app and secret, and none for
    // Graph: nothing went through Graph.
    assert_eq!(s.emulator.requests_to(Endpoint::Token).len(), 1);
    assert_eq!(s.emulator.requests_to(Endpoint::SendMail).len(), 0);

    let report = bridge.verify("facturas", &VerifyOptions::default()).await.unwrap();
    assert!(report.passed(), "{report:#?}");
    let auth = report.checks.iter().find(|c| c.name == "auth").unwrap();
    assert!(auth.detail.contains("XOAUTH2") && auth.detail.contains(MAILBOX), "{}", auth.detail);
}

#[tokio::test]
async fn without_smtp_send_as_app_the_refusal_names_the_permission_and_the_cmdlets() {
    let mut s = Setup::start(&[]).await;
    let bridge = s.smtp_bridge(&s.setup.secret.clone());

    let err = bridge.send_as("facturas", message()).await.unwrap_err();

    assert_eq!(err.code(), Some("smtp.oauth-refused"), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Permission);
    assert!(!err.is_temporary());
    assert!(err.is_not_delivered());
    assert_eq!(err.smtp_code(), Some(535));
    let remedy = err.remedy().unwrap();
    for needle in
        ["SMTP.SendAsApp", "admin consent", "New-ServicePrincipal", "Add-MailboxPermission"]
    {
        assert!(remedy.contains(needle), "{needle}: {remedy}");
    }
    let auth = s.smtp.next("auth").await;
    assert_eq!(
        (auth["ok"].as_bool(), auth["aud"].as_str()),
        (Some(false), Some(EXCHANGE_RESOURCE))
    );
    assert_eq!(auth["roles"], json!([]));
    assert!(s.smtp.all("message").await.is_empty());

    let report = bridge.verify("facturas", &VerifyOptions::default()).await.unwrap();
    let failed = report.first_failure().unwrap();
    assert_eq!(
        (failed.name.as_str(), failed.code.as_deref()),
        ("auth", Some("smtp.oauth-refused"))
    );

    // The administrator grants the permission: the refused token was
    // forgotten, so the next send fetches one with the role.
    s.emulator.update_app(&s.setup.client_id, |app| {
        app.exchange_roles = vec![SMTP_SEND_AS_APP.to_owned()];
    });
    bridge.send_as("facturas", message()).await.unwrap();
    assert_eq!(s.smtp.next("message").await["user"], MAILBOX);
}

#[tokio::test]
async fn a_wrong_client_secret_is_the_identity_platforms_diagnosis() {
    let s = Setup::start(&[SMTP_SEND_AS_APP]).await;
    let bridge = s.smtp_bridge("not-the-secret-value");

    let err = bridge.send_as("facturas", message()).await.unwrap_err();

    assert_eq!(err.code(), Some("AADSTS7000215"), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(err.is_not_delivered());
    assert!(!format!("{err:?} {err}").contains("not-the-secret-value"));
    let report = bridge.verify("facturas", &VerifyOptions::default()).await.unwrap();
    let statuses: Vec<_> = report.checks.iter().map(|c| (c.name.as_str(), c.status)).collect();
    assert_eq!(
        statuses,
        [
            ("connect", CheckStatus::Pass),
            ("tls", CheckStatus::Pass),
            ("ehlo", CheckStatus::Pass),
            ("auth", CheckStatus::Fail),
        ]
    );
}

#[tokio::test]
async fn one_app_serves_both_routes_of_an_office365_account() {
    // The app may send over SMTP but lacks Graph's Mail.Send: Graph refuses
    // (a permission problem, nothing sent), the fallback borrows the
    // primary's client secret and delivers once.
    let mut s = Setup::start(&[SMTP_SEND_AS_APP]).await;
    s.emulator.update_app(&s.setup.client_id, |app| app.roles.clear());
    let bridge = s.bridge(json!([{
        "user": "facturas",
        "provider": "office365",
        "integration": APP,
        "address": MAILBOX,
        "secret": s.setup.secret,
        "fallback": RELAY,
    }]));

    let receipt = bridge.send_as("facturas", message()).await.unwrap();

    assert_eq!(receipt.provider, "smtp");
    assert_eq!(receipt.route.as_deref(), Some(RELAY), "{receipt:?}");
    let got = s.smtp.next("message").await;
    assert_eq!(got["user"], MAILBOX);
    assert!(s.smtp.all("message").await.is_empty(), "sent once");
}

#[tokio::test]
async fn an_office365_integration_with_a_certificate_serves_smtp_too() {
    // The office365 integration signs in with a certificate (openssl made
    // it, as the guide does); the smtp accounts carry no secret at all.
    let mut s = Setup::start(&[SMTP_SEND_AS_APP]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-sha256", "-days", "30", "-nodes"])
        .args(["-subj", "/CN=g360-mail", "-keyout", "app.key", "-out", "app.crt"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cert = g360_mail_testkit::graph::AppCertificate::from_pem(
        &std::fs::read_to_string(dir.path().join("app.crt")).unwrap(),
    )
    .unwrap();
    s.emulator.update_app(&s.setup.client_id, |app| {
        app.secrets.clear();
        app.certificates.push(cert);
    });
    let mut integrations = s.integrations();
    integrations[0]["certificate_file"] = json!(dir.path().join("app.crt"));
    integrations[0]["private_key_file"] = json!(dir.path().join("app.key"));
    let mut registry = ProviderRegistry::new();
    g360_mail_o365::register(&mut registry);
    g360_mail_smtp::register(&mut registry);
    let accounts = json!([
        { "user": "facturas", "provider": "smtp", "integration": RELAY, "address": MAILBOX },
    ]);
    let config = json!({ "integrations": integrations, "accounts": accounts });
    let bridge = MailBridge::new(BridgeConfig::from_value(config, &registry).unwrap(), registry);

    bridge.send_as("facturas", message()).await.unwrap();

    let auth = s.smtp.next("auth").await;
    assert_eq!((auth["ok"].as_bool(), auth["aud"].as_str()), (Some(true), Some(EXCHANGE_RESOURCE)));
    let token = s.emulator.requests_to(Endpoint::Token);
    assert_eq!(token.len(), 1);
    assert!(token[0].form_field("client_secret").is_none());
    assert!(token[0].form_field("client_assertion").is_some());
    assert_eq!(s.smtp.next("message").await["user"], MAILBOX);
}
