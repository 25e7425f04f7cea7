//! Against nodemailer's smtp-server: TLS modes, AUTH mechanisms, faults.

use std::time::Duration;

use g360_mail_core::{
    CheckStatus, ErrorKind, Integration, MailProvider, MailboxAccess, MailboxQuery,
    ProviderRegistry, Secret, VerifyOptions,
};
use g360_mail_smtp::{Security, SmtpAuth};
use g360_mail_testkit::smtp::{Certs, SmtpTestServer, raw_message};
use serde_json::{Value, json};

use crate::{LOGIN, PASSWORD, builder, full_message, simple_message};

fn users() -> Value {
    json!({ LOGIN: PASSWORD })
}

/// A STARTTLS server with AUTH PLAIN and LOGIN, plus `extra` keys.
async fn starttls_server(certs: &Certs, extra: Value) -> SmtpTestServer {
    let mut config = json!({
        "tls": certs.server_tls(),
        "auth": { "methods": ["PLAIN", "LOGIN"], "users": users() },
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    SmtpTestServer::start(config).await
}

/// The unfolded top-level headers of a raw message.
fn headers(raw: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8(raw.to_vec()).unwrap();
    let block = text.split("\r\n\r\n").next().unwrap();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in block.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            out.last_mut().unwrap().1.push_str(line);
        } else {
            let (name, value) = line.split_once(':').unwrap();
            out.push((name.to_owned(), value.trim().to_owned()));
        }
    }
    out
}

#[tokio::test]
async fn starttls_with_private_ca_delivers_the_full_message() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let mut server = starttls_server(&certs, json!({})).await;
    let provider = builder(server.port(), Security::Starttls)
        .with_tls_ca_file(&certs.ca)
        .with_auth(SmtpAuth::Plain)
        .build()
        .unwrap();
    let message = full_message();

    let receipt = provider.send(&message).await.unwrap();

    assert_eq!(receipt.provider, "smtp");
    assert_eq!(receipt.uid, message.uid());
    assert_eq!(receipt.internet_message_id, message.uid().internet_message_id("contoso.test"));
    let reply = receipt.server_reply.as_deref().unwrap();
    assert!(reply.starts_with("250 ") && reply.contains("queued as G360TEST"), "{reply}");

    let auth = server.next("auth").await;
    assert_eq!((auth["method"].as_str(), auth["ok"].as_bool()), (Some("PLAIN"), Some(true)));
    let got = server.next("message").await;
    assert_eq!(got["secure"], true);
    assert_eq!(got["user"], LOGIN);
    assert_eq!(got["mail_from"], LOGIN);
    assert_eq!(
        got["rcpt_to"],
        json!(["jose@example.test", "ana@example.test", "auditoria@example.test"])
    );

    let raw = raw_message(&got);
    let all = headers(&raw);
    let header = |name: &str| {
        all.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    };
    assert_eq!(header("Bcc"), None, "Bcc must never be in the headers");
    assert!(!String::from_utf8_lossy(&raw).contains("auditoria@example.test"));
    assert_eq!(header("Message-ID"), Some(receipt.internet_message_id.as_str()));
    assert_eq!(header("X-G360-Invoice"), Some("2026-0042"));
    assert!(header("Date").is_some());

    let parsed = g360_mail_mime::parse("got", &raw).unwrap();
    assert_eq!(parsed.subject, "Factura 2026-0042 — vencimiento");
    assert_eq!(parsed.from.as_ref().unwrap().name(), Some("Facturación Ñandú"));
    assert_eq!(parsed.to, message.to());
    assert_eq!(parsed.cc, message.cc());
    assert!(parsed.bcc.is_empty());
    assert_eq!(parsed.text.unwrap().replace("\r\n", "\n"), message.text().unwrap());
    assert_eq!(parsed.html.as_deref(), message.html());
    let pdf = parsed.attachments.iter().find(|a| a.name == "Factura 42.pdf").unwrap();
    assert_eq!(pdf.bytes.as_deref(), Some(crate::PDF));
    assert!(!pdf.inline);
    let logo = parsed.attachments.iter().find(|a| a.name == "logo.png").unwrap();
    assert_eq!(logo.bytes.as_deref(), Some(crate::PNG));
    assert_eq!(logo.content_id.as_deref(), Some("logo@g360"));
}

#[tokio::test]
async fn implicit_tls_with_auth_login_and_pooled_connection() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let mut server = SmtpTestServer::start(json!({
        "secure": true,
        "tls": certs.server_tls(),
        "auth": { "methods": ["LOGIN"], "users": users() },
    }))
    .await;
    // Host "localhost" checks the certificate's DNS name (and may resolve to
    // ::1 first, where nothing listens).
    let provider = crate::builder_on("localhost", server.port(), Security::Tls)
        .with_tls_ca_file(&certs.ca)
        .build()
        .unwrap();

    provider.send(&simple_message()).await.unwrap();
    provider.send(&simple_message()).await.unwrap();

    let auth = server.next("auth").await;
    assert_eq!(auth["method"], "LOGIN", "password auth falls back to LOGIN");
    for _ in 0..2 {
        assert_eq!(server.next("message").await["secure"], true);
    }
    assert_eq!(server.all("connect").await.len(), 1, "the second send reuses the connection");
}

#[tokio::test]
async fn xoauth2_sends_the_bearer_token() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let mut server = starttls_server(
        &certs,
        json!({ "auth": { "methods": ["XOAUTH2"], "tokens": { LOGIN: "eyJ0eXAi.good-token" } } }),
    )
    .await;
    let port = server.port();
    let with_token = |token: &str| {
        builder(port, Security::Starttls)
            .with_tls_ca_file(&certs.ca)
            .with_auth(SmtpAuth::Xoauth2)
            .with_secret(Secret::new(token))
            .build()
            .unwrap()
    };

    with_token("eyJ0eXAi.good-token").send(&simple_message()).await.unwrap();
    let auth = server.next("auth").await;
    assert_eq!((auth["method"].as_str(), auth["ok"].as_bool()), (Some("XOAUTH2"), Some(true)));
    assert_eq!(server.next("message").await["user"], LOGIN);

    let err = with_token("expired-token").send(&simple_message()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err:?}");
    assert_eq!(err.code(), Some("smtp.auth-failed"));
    assert!(!err.is_temporary());
    assert!(!format!("{err:?}").contains("expired-token"));
}

#[tokio::test]
async fn wrong_password_is_an_auth_error_and_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let mut server = starttls_server(&certs, json!({})).await;
    let provider = builder(server.port(), Security::Starttls)
        .with_tls_ca_file(&certs.ca)
        .with_secret(Secret::new("wrong password"))
        .build()
        .unwrap();

    let err = provider.send(&simple_message()).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Auth, "{err:?}");
    assert!(!err.is_temporary());
    assert_eq!(err.code(), Some("smtp.auth-failed"));
    assert_eq!(err.smtp_code(), Some(535));
    assert!(err.remedy().unwrap().contains("secret"));
    assert!(err.to_string().contains("5.7.8"), "{err}");
    assert!(!format!("{err:?}").contains("wrong password"));
    assert_eq!(server.all("auth").await.len(), 1);
}

#[tokio::test]
async fn a_drop_after_the_content_is_outcome_unknown_and_never_resent() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let mut server = starttls_server(&certs, json!({ "faults": { "data": ["drop"] } })).await;
    let provider =
        builder(server.port(), Security::Starttls).with_tls_ca_file(&certs.ca).build().unwrap();
    let message = simple_message();

    let err = provider.send(&message).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err:?}");
    assert!(!err.is_temporary());
    assert_eq!(err.code(), Some("smtp.outcome-unknown"));
    assert_eq!(
        err.context_value("message_id"),
        Some(message.uid().internet_message_id("contoso.test").as_str())
    );
    assert_eq!(server.all("message").await.len(), 1, "the message must not be sent twice");
}

#[tokio::test]
async fn a_drop_before_the_content_is_retried_on_a_new_connection() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let mut server = starttls_server(&certs, json!({ "faults": { "mail_from": ["drop"] } })).await;
    let provider =
        builder(server.port(), Security::Starttls).with_tls_ca_file(&certs.ca).build().unwrap();

    provider.send(&simple_message()).await.unwrap();

    assert_eq!(server.next("fault").await["at"], "mail_from");
    assert_eq!(server.all("message").await.len(), 1);
    assert_eq!(server.all("connect").await.len(), 2);
}

#[tokio::test]
async fn a_4xx_reply_is_temporary_and_a_later_attempt_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let mut server = starttls_server(&certs, json!({ "faults": { "data": ["451"] } })).await;
    let provider =
        builder(server.port(), Security::Starttls).with_tls_ca_file(&certs.ca).build().unwrap();
    let message = simple_message();

    let err = provider.send(&message).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    assert!(err.is_temporary());
    assert_eq!(err.smtp_code(), Some(451));
    assert_eq!(err.code(), Some("smtp.temporary-failure"));
    assert_eq!(server.all("message").await.len(), 1, "a 4xx is retried by the caller, not here");

    let receipt = provider.send(&message).await.unwrap();
    assert_eq!(receipt.uid, message.uid());
    assert_eq!(server.next("message").await["action"], "ok");
}

#[tokio::test]
async fn a_5xx_reply_is_a_rejection() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let server = starttls_server(
        &certs,
        json!({ "faults": { "rcpt_reject": ["nadie@example.test"], "data": ["554"] } }),
    )
    .await;
    let provider =
        builder(server.port(), Security::Starttls).with_tls_ca_file(&certs.ca).build().unwrap();

    let to_nobody = g360_mail_core::OutgoingMessage::builder()
        .to("nadie@example.test")
        .unwrap()
        .subject("x")
        .text("x")
        .build()
        .unwrap();
    let err = provider.send(&to_nobody).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected, "{err:?}");
    assert!(!err.is_temporary());
    assert_eq!(err.code(), Some("smtp.recipient-rejected"));
    assert_eq!(err.context_value("recipient"), Some("nadie@example.test"));
    assert_eq!(err.smtp_code(), Some(550));

    let err = provider.send(&simple_message()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected, "{err:?}");
    assert_eq!(err.code(), Some("smtp.message-rejected"));
    assert_eq!(err.smtp_code(), Some(554));
    assert!(err.context_value("reply").unwrap().contains("5.7.1"));
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_config_error_naming_tls_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let server = starttls_server(&certs, json!({})).await;
    let provider = builder(server.port(), Security::Starttls).build().unwrap();

    let err = provider.send(&simple_message()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err:?}");
    assert!(!err.is_temporary());
    assert_eq!(err.code(), Some("smtp.tls-untrusted"));
    assert!(err.remedy().unwrap().contains("tls_ca_file"));

    let report = provider.verify(&VerifyOptions::default()).await.unwrap();
    let statuses: Vec<_> = report.checks.iter().map(|c| (c.name.as_str(), c.status)).collect();
    assert_eq!(
        statuses,
        [
            ("connect", CheckStatus::Pass),
            ("tls", CheckStatus::Fail),
            ("ehlo", CheckStatus::Skipped),
            ("auth", CheckStatus::Skipped),
        ]
    );
    let tls = &report.checks[1];
    assert_eq!(tls.code.as_deref(), Some("smtp.tls-untrusted"));
    assert!(tls.remedy.as_deref().unwrap().contains("tls_ca_file"));
}

#[tokio::test]
async fn implicit_tls_against_an_untrusted_server_fails_the_tls_check() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let server = SmtpTestServer::start(json!({
        "secure": true, "tls": certs.server_tls(), "auth": { "users": users() },
    }))
    .await;
    let provider = builder(server.port(), Security::Tls).build().unwrap();
    let report = provider.verify(&VerifyOptions::default()).await.unwrap();
    assert_eq!(report.checks[0].status, CheckStatus::Pass, "{report:?}");
    assert_eq!(report.checks[1].code.as_deref(), Some("smtp.tls-untrusted"), "{report:?}");
}

#[tokio::test]
async fn verify_passes_every_check_and_sends_the_test_mail() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let mut server = starttls_server(&certs, json!({})).await;
    let provider =
        builder(server.port(), Security::Starttls).with_tls_ca_file(&certs.ca).build().unwrap();

    let options = VerifyOptions::default().send_test_to("soporte@example.test".parse().unwrap());
    let report = provider.verify(&options).await.unwrap();

    assert!(report.passed(), "{report:#?}");
    let names: Vec<_> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["connect", "tls", "ehlo", "auth", "test-mail"]);
    assert!(report.checks.iter().all(|c| c.status == CheckStatus::Pass), "{report:#?}");
    assert!(report.checks[2].detail.contains("AUTH PLAIN LOGIN"), "{}", report.checks[2].detail);
    assert!(report.checks[3].detail.contains(LOGIN), "{}", report.checks[3].detail);
    let got = server.next("message").await;
    assert_eq!(got["rcpt_to"], json!(["soporte@example.test"]));
    assert!(String::from_utf8_lossy(&raw_message(&got)).contains("X-G360-Mail-Test: verify"));
}

#[tokio::test]
async fn starttls_missing_on_the_server_is_a_config_error() {
    let server = SmtpTestServer::start(json!({ "tls": null, "auth": null })).await;
    let provider = builder(server.port(), Security::Starttls).build().unwrap();
    let err = provider.send(&simple_message()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err:?}");
    assert_eq!(err.code(), Some("smtp.starttls-unavailable"));
}

#[tokio::test]
async fn plain_loopback_relay_without_login() {
    let mut server = SmtpTestServer::start(json!({ "tls": null, "auth": null })).await;
    let provider = crate::plain(server.port());
    provider.send(&simple_message()).await.unwrap();
    let got = server.next("message").await;
    assert_eq!((got["secure"].as_bool(), got["user"].is_null()), (Some(false), true));

    let report = provider.verify(&VerifyOptions::default()).await.unwrap();
    assert!(report.passed(), "{report:#?}");
    assert!(report.checks[1].detail.contains("not used"));
    assert!(report.checks[3].detail.contains("not used"));
}

#[tokio::test]
async fn password_auth_on_a_server_without_auth_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let server = SmtpTestServer::start(json!({ "tls": certs.server_tls(), "auth": null })).await;
    let provider =
        builder(server.port(), Security::Starttls).with_tls_ca_file(&certs.ca).build().unwrap();
    let err = provider.send(&simple_message()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err:?}");
    assert_eq!(err.code(), Some("smtp.auth-unavailable"));
    assert_eq!(err.context_value("offered"), Some("none"));
}

#[tokio::test]
async fn connection_refused_is_temporary_and_retried() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let provider = builder(port, Security::Starttls).with_max_attempts(2).build().unwrap();
    let err = provider.send(&simple_message()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    assert!(err.is_temporary());
    assert_eq!(err.code(), Some("smtp.connect-failed"));
    assert_eq!(err.context_value("server"), Some(format!("127.0.0.1:{port}").as_str()));
    assert_eq!(err.context_value("attempts"), Some("2"));

    let report = provider.verify(&VerifyOptions::default()).await.unwrap();
    assert_eq!(report.checks[0].status, CheckStatus::Fail);
    assert_eq!(report.first_failure().unwrap().code.as_deref(), Some("smtp.connect-failed"));
}

#[tokio::test]
async fn reading_and_lookups_are_unsupported() {
    let provider = builder(25, Security::Starttls).build().unwrap();
    let err = provider.list_messages(&MailboxQuery::default()).await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Unsupported, Some("unsupported")));
    assert_eq!(provider.get_message("1").await.unwrap_err().kind(), ErrorKind::Unsupported);
    let err = provider.find_sent(simple_message().uid()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let caps = provider.capabilities();
    assert!(caps.html_body && caps.attachments && caps.inline_attachments && caps.custom_headers);
    assert!(!caps.read && !caps.find_sent && !caps.save_to_sent);
}

#[tokio::test]
async fn the_registry_builds_smtp_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let mut server = starttls_server(&certs, json!({})).await;
    let mut registry = ProviderRegistry::new();
    g360_mail_smtp::register(&mut registry);
    let integration = Integration::new(
        "relay",
        "smtp",
        json!({
            "host": "127.0.0.1",
            "port": server.port(),
            "tls_ca_file": certs.ca,
            "connect_timeout_ms": 5000,
        }),
    );
    let access = MailboxAccess::new(LOGIN.parse().unwrap());

    let err = registry.build(&integration, &access).unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Config, Some("smtp.secret-missing")));
    assert_eq!(err.context_value("integration"), Some("relay"));

    let provider =
        registry.build(&integration, &access.with_secret(Secret::new(PASSWORD))).unwrap();
    assert!(!format!("{provider:?}").contains(PASSWORD));
    tokio::time::timeout(Duration::from_secs(20), provider.send(&simple_message()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(server.next("message").await["user"], LOGIN);

    let problems = registry
        .check_settings(
            "smtp",
            &json!({ "host": "", "port": 0, "tls_ca_file": "/nonexistent.pem" }),
        )
        .unwrap_err();
    let keys: Vec<_> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(keys, ["host", "port", "tls_ca_file"]);
    let typo = registry.check_settings("smtp", &json!({ "host": "x.test", "passwd": "x" }));
    assert!(typo.unwrap_err()[0].message.contains("unknown field `passwd`"));
}

#[tokio::test]
async fn passes_the_provider_conformance_suite() {
    use g360_mail_testkit::conformance::{self, Conformance};

    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let mut server = starttls_server(&certs, json!({})).await;
    let provider =
        builder(server.port(), Security::Starttls).with_tls_ca_file(&certs.ca).build().unwrap();

    conformance::run(&provider, &Conformance::new("conformidad@example.test").secret(PASSWORD))
        .await;

    assert_eq!(server.next("message").await["rcpt_to"], json!(["conformidad@example.test"]));
}
