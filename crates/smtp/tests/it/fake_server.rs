//! Against a scripted fake: replies no real test server gives on demand.

use std::time::Duration;

use g360_mail_core::{CheckStatus, ErrorKind, MailProvider, Secret, VerifyOptions};
use g360_mail_smtp::{Security, SmtpAuth};
use g360_mail_testkit::smtp::{Certs, FakeSmtpServer, Reply, office365};

use crate::{builder, simple_message};

/// The longest any test here may take: a send that hangs fails the test
/// instead of hanging it.
const BOUND: Duration = Duration::from_secs(20);

async fn bounded<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, future).await.expect("the call hung")
}

const AUTH_DISABLED: &str = "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. [AM0PR10CA0001.EURPRD10.PROD.OUTLOOK.COM 2026-11-29T10:00:00.000Z]";

/// An Office 365 look-alike whose tenant has SMTP AUTH disabled. It speaks
/// STARTTLS; EHLO offers AUTH only after it, as Office 365 does.
fn office365_tls() -> impl Fn(&str) -> Reply + Send + Sync + 'static {
    office365::script(AUTH_DISABLED)
}

#[tokio::test]
async fn office_365_smtp_auth_disabled_says_how_to_enable_it() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let server = FakeSmtpServer::start_tls(&certs, office365_tls()).await;
    let provider =
        builder(server.port(), Security::Starttls).with_tls_ca_file(&certs.ca).build().unwrap();

    let err = provider.send(&simple_message()).await.unwrap_err();

    assert_eq!(err.code(), Some("smtp.auth-disabled"), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Permission);
    assert!(!err.is_temporary());
    assert_eq!(err.smtp_code(), Some(535));
    let remedy = err.remedy().unwrap();
    assert!(remedy.contains("Authenticated SMTP") && remedy.contains("xoauth2"), "{remedy}");
    assert!(err.context_value("reply").unwrap().contains("5.7.139"));
    let lines = server.transcript();
    let tls_at = lines.iter().position(|l| l == "<tls>").expect("TLS was started");
    assert!(lines[tls_at..].iter().any(|l| l == "AUTH LOGIN"), "{lines:?}");
    assert!(!lines.iter().any(|l| l.starts_with("MAIL FROM")), "{lines:?}");

    let report = provider.verify(&VerifyOptions::default()).await.unwrap();
    let auth = report.first_failure().unwrap();
    assert_eq!((auth.name.as_str(), auth.code.as_deref()), ("auth", Some("smtp.auth-disabled")));
    assert_eq!(report.checks[1].status, CheckStatus::Pass, "{report:#?}");
    assert_eq!(report.checks[2].status, CheckStatus::Pass);
    assert!(report.checks[2].detail.contains("AUTH LOGIN XOAUTH2"), "{}", report.checks[2].detail);
}

/// A relay that takes the message but never gives the final reply.
fn silent_after_data(line: &str) -> Reply {
    let upper = line.to_ascii_uppercase();
    match () {
        _ if line == "<connect>" => Reply::line("220 relay.test ESMTP"),
        _ if upper.starts_with("EHLO") => {
            Reply::Lines(vec!["250-relay.test".into(), "250 8BITMIME".into()])
        }
        _ if upper == "DATA" => Reply::line("354 End data with <CR><LF>.<CR><LF>"),
        _ if line == "<end-of-data>" => Reply::Hang,
        _ => Reply::line("250 2.0.0 Ok"),
    }
}

#[tokio::test]
async fn no_final_reply_is_outcome_unknown_and_not_resent() {
    let server = FakeSmtpServer::start(silent_after_data).await;
    let provider = crate::builder(server.port(), Security::None)
        .with_auth(SmtpAuth::None)
        .with_data_timeout(Duration::from_millis(300))
        .build()
        .unwrap();

    let err = provider.send(&simple_message()).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err:?}");
    assert!(!err.is_temporary());
    assert_eq!(err.code(), Some("smtp.outcome-unknown"));
    let lines = server.transcript();
    assert_eq!(lines.iter().filter(|l| *l == "DATA").count(), 1, "{lines:?}");
}

#[tokio::test]
async fn a_421_greeting_is_temporary_and_retried_up_to_max_attempts() {
    let server = FakeSmtpServer::start(|line| {
        if line == "<connect>" {
            Reply::line("421 4.3.2 Service not available, closing transmission channel")
        } else {
            Reply::Close
        }
    })
    .await;
    let provider = crate::builder(server.port(), Security::None)
        .with_auth(SmtpAuth::None)
        .with_max_attempts(3)
        .build()
        .unwrap();

    let err = provider.send(&simple_message()).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    assert!(err.is_temporary());
    assert_eq!(err.smtp_code(), Some(421));
    assert_eq!(err.context_value("attempts"), Some("3"));
    let connects = server.transcript().iter().filter(|l| *l == "<connect>").count();
    assert_eq!(connects, 3);
}

#[tokio::test]
async fn a_dead_pooled_connection_is_replaced_without_counting_an_attempt() {
    // The relay closes every connection right after accepting one message,
    // as a server does when a pooled connection idles out.
    let server = FakeSmtpServer::start(|line| {
        let upper = line.to_ascii_uppercase();
        match () {
            _ if line == "<connect>" => Reply::line("220 relay.test ESMTP"),
            _ if upper.starts_with("EHLO") => Reply::line("250 relay.test"),
            _ if upper == "DATA" => Reply::line("354 go ahead"),
            _ if line == "<end-of-data>" => Reply::Last("250 2.0.0 Ok: queued".into()),
            _ if upper.starts_with("MAIL FROM") => Reply::line("250 2.1.0 Ok"),
            _ if upper.starts_with("RCPT TO") => Reply::line("250 2.1.5 Ok"),
            _ => Reply::Close,
        }
    })
    .await;
    let provider = crate::builder(server.port(), Security::None)
        .with_auth(SmtpAuth::None)
        .with_max_attempts(1)
        .build()
        .unwrap();
    provider.send(&simple_message()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.clear_transcript();
    provider.send(&simple_message()).await.unwrap();
    let lines = server.transcript();
    assert_eq!(lines.iter().filter(|l| *l == "<end-of-data>").count(), 1, "{lines:?}");
    assert_eq!(lines.iter().filter(|l| *l == "<connect>").count(), 1, "{lines:?}");
}

#[tokio::test]
async fn a_server_that_never_greets_times_out_as_unavailable() {
    // What a client sees when it speaks STARTTLS to an implicit-TLS port: the
    // server waits for a TLS hello and never sends its greeting.
    let server = FakeSmtpServer::start(|_| Reply::Hang).await;
    let provider = crate::builder(server.port(), Security::Starttls)
        .with_connect_timeout(Duration::from_millis(200))
        .with_command_timeout(Duration::from_millis(200))
        .with_max_attempts(2)
        .build()
        .unwrap();

    let err = provider.send(&simple_message()).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    assert!(err.is_temporary());
    assert_eq!(err.code(), Some("smtp.timeout"));
    assert!(err.remedy().unwrap().contains("465 with tls"), "{:?}", err.remedy());
    assert_eq!(server.transcript().len(), 2, "one connection per attempt");
    let report = provider.verify(&VerifyOptions::default()).await.unwrap();
    let statuses: Vec<_> = report.checks.iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [CheckStatus::Pass, CheckStatus::Skipped, CheckStatus::Fail, CheckStatus::Skipped],
        "{report:#?}"
    );
}

// ----- STARTTLS response injection ------------------------------------------

/// A relay behind a man in the middle. The relay itself (after TLS) refuses
/// the login, as it would a wrong password; the man in the middle appends to
/// the relay's plaintext `220` every reply a client needs to believe the
/// login worked and the mail was queued, in the same TCP segment.
fn injected_after_starttls(line: &str) -> Reply {
    let upper = line.to_ascii_uppercase();
    match () {
        _ if line == "<connect>" => Reply::line("220 relay.test ESMTP"),
        _ if upper.starts_with("EHLO") => {
            Reply::lines(&["250-relay.test", "250-STARTTLS", "250 8BITMIME"])
        }
        _ if upper == "STARTTLS" => Reply::StartTls(
            [
                "220 2.0.0 Ready to start TLS",
                "250-forged.test Hello",
                "250-AUTH PLAIN LOGIN",
                "250 8BITMIME",
                "235 2.7.0 Authentication successful",
                "250 2.1.0 Ok",
                "250 2.1.5 Ok",
                "354 End data with <CR><LF>.<CR><LF>",
                "250 2.0.0 Ok: queued as FORGED",
                "221 2.0.0 Bye",
            ]
            .map(str::to_owned)
            .to_vec(),
        ),
        _ if upper.starts_with("AUTH") => Reply::line("535 5.7.8 Error: authentication failed"),
        _ if upper.starts_with("QUIT") => Reply::Last("221 2.0.0 Bye".into()),
        _ => Reply::line("503 5.5.1 Error: authentication required"),
    }
}

#[tokio::test]
async fn replies_injected_before_tls_are_refused_and_nothing_counts_as_sent() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let server = FakeSmtpServer::start_tls(&certs, injected_after_starttls).await;
    let provider = builder(server.port(), Security::Starttls)
        .with_tls_ca_file(&certs.ca)
        .with_secret(Secret::new("a wrong password"))
        .build()
        .unwrap();

    let result = bounded(provider.send(&simple_message())).await;

    let err = result.expect_err("forged replies must never make a send succeed");
    assert_eq!(err.code(), Some("smtp.starttls-injection"), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(!err.is_temporary());
    assert!(err.is_not_delivered());
    assert_eq!(err.context_value("step"), Some("tls"));
    let lines = server.transcript();
    assert!(!lines.iter().any(|l| l == "<tls>"), "TLS must not start: {lines:?}");
    assert!(!lines.iter().any(|l| l.to_ascii_uppercase().starts_with("AUTH")), "{lines:?}");
    assert!(!lines.iter().any(|l| l == "<end-of-data>"), "{lines:?}");

    let report = bounded(provider.verify(&VerifyOptions::default())).await.unwrap();
    assert!(!report.passed(), "{report:#?}");
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
    assert_eq!(report.checks[1].code.as_deref(), Some("smtp.starttls-injection"));
}

#[tokio::test]
async fn without_injection_the_same_relay_refuses_the_login_over_tls() {
    // The control of the test above: the relay behind the man in the middle
    // is reachable and refuses the password, so what the forged replies
    // claimed was false.
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let server = FakeSmtpServer::start_tls(&certs, |line| match injected_after_starttls(line) {
        Reply::StartTls(_) => Reply::StartTls(vec!["220 2.0.0 Ready to start TLS".into()]),
        _ if line.to_ascii_uppercase().starts_with("EHLO") => Reply::lines(&[
            "250-relay.test",
            "250-STARTTLS",
            "250-AUTH PLAIN LOGIN",
            "250 8BITMIME",
        ]),
        other => other,
    })
    .await;
    let provider = builder(server.port(), Security::Starttls)
        .with_tls_ca_file(&certs.ca)
        .with_secret(Secret::new("a wrong password"))
        .build()
        .unwrap();

    let err = bounded(provider.send(&simple_message())).await.unwrap_err();

    assert_eq!(err.code(), Some("smtp.auth-failed"), "{err:?}");
    let lines = server.transcript();
    let tls_at = lines.iter().position(|l| l == "<tls>").expect("TLS was started");
    assert!(lines[tls_at..].iter().any(|l| l.starts_with("AUTH PLAIN")), "{lines:?}");
}

// ----- Nothing hangs ---------------------------------------------------------

#[tokio::test]
async fn a_server_without_starttls_that_never_answers_quit_does_not_hang() {
    let server = FakeSmtpServer::start(|line| {
        let upper = line.to_ascii_uppercase();
        match () {
            _ if line == "<connect>" => Reply::line("220 relay.test ESMTP"),
            _ if upper.starts_with("EHLO") => Reply::lines(&["250-relay.test", "250 8BITMIME"]),
            _ => Reply::Hang,
        }
    })
    .await;
    let provider = builder(server.port(), Security::Starttls)
        .with_command_timeout(Duration::from_millis(500))
        .build()
        .unwrap();

    let err = bounded(provider.send(&simple_message())).await.unwrap_err();
    assert_eq!(err.code(), Some("smtp.starttls-unavailable"), "{err:?}");
    assert!(err.is_not_delivered());
    let report = bounded(provider.verify(&VerifyOptions::default())).await.unwrap();
    assert_eq!(report.first_failure().unwrap().code.as_deref(), Some("smtp.starttls-unavailable"));
}

#[tokio::test]
async fn a_trickling_greeting_hits_the_command_timeout() {
    // One byte every 50 ms of a greeting that never ends: every read
    // succeeds, only a deadline on the whole reply ends it.
    let server = FakeSmtpServer::start(|line| match line {
        "<connect>" => {
            Reply::Trickle { text: "220-".repeat(10_000), every: Duration::from_millis(50) }
        }
        _ => Reply::Hang,
    })
    .await;
    for security in [Security::Starttls, Security::None] {
        let provider = builder(server.port(), security)
            .with_auth(SmtpAuth::None)
            .with_command_timeout(Duration::from_millis(400))
            .with_max_attempts(1)
            .build()
            .unwrap();

        let err = bounded(provider.send(&simple_message())).await.unwrap_err();

        assert_eq!(err.code(), Some("smtp.timeout"), "{security}: {err:?}");
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.is_not_delivered());
    }
}

/// A relay that answers every command after `pause`, each within the
/// command timeout, and takes the message.
fn slow_relay(pause: Duration) -> impl Fn(&str) -> Reply + Send + Sync + 'static {
    move |line: &str| {
        let upper = line.to_ascii_uppercase();
        let reply = match () {
            _ if line == "<connect>" => Reply::line("220 relay.test ESMTP"),
            _ if upper.starts_with("EHLO") => Reply::lines(&["250-relay.test", "250 8BITMIME"]),
            _ if upper == "DATA" => Reply::line("354 go ahead"),
            _ if line == "<end-of-data>" => Reply::line("250 2.0.0 Ok: queued"),
            _ if upper.starts_with("QUIT") => Reply::Last("221 Bye".into()),
            _ => Reply::line("250 2.1.0 Ok"),
        };
        Reply::Delay(pause, Box::new(reply))
    }
}

#[tokio::test]
async fn the_send_deadline_ends_a_slow_dialogue_before_the_data_as_not_delivered() {
    let server = FakeSmtpServer::start(slow_relay(Duration::from_millis(300))).await;
    let provider = crate::plain(server.port());
    let provider_slow = builder(server.port(), Security::None)
        .with_auth(SmtpAuth::None)
        .with_command_timeout(Duration::from_secs(5))
        .with_send_timeout(Duration::from_millis(1000))
        .build()
        .unwrap();
    // The same relay takes the mail when the deadline allows it.
    bounded(provider.send(&simple_message())).await.unwrap();
    server.clear_transcript();

    let err = bounded(provider_slow.send(&simple_message())).await.unwrap_err();

    assert_eq!(err.code(), Some("smtp.send-timeout"), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.is_not_delivered());
    assert!(err.remedy().unwrap().contains("send_timeout_ms"));
    let lines = server.transcript();
    assert!(!lines.iter().any(|l| l == "<end-of-data>"), "{lines:?}");
}

#[tokio::test]
async fn the_send_deadline_after_the_end_of_data_is_outcome_unknown() {
    let server = FakeSmtpServer::start(silent_after_data).await;
    let provider = builder(server.port(), Security::None)
        .with_auth(SmtpAuth::None)
        .with_data_timeout(Duration::from_secs(60))
        .with_send_timeout(Duration::from_millis(2_000))
        .build()
        .unwrap();

    let err = bounded(provider.send(&simple_message())).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err:?}");
    assert!(!err.is_not_delivered());
    assert_eq!(err.context_value("timeout"), Some("send_timeout_ms"));
    assert_eq!(server.transcript().iter().filter(|l| *l == "<end-of-data>").count(), 1);
}

#[tokio::test]
async fn a_timeout_while_the_content_is_still_going_out_is_not_delivered() {
    // The relay answers DATA and then stops reading: a message larger than
    // the socket buffers cannot be written to its end.
    let server = FakeSmtpServer::start(|line| {
        let upper = line.to_ascii_uppercase();
        match () {
            _ if line == "<connect>" => Reply::line("220 relay.test ESMTP"),
            _ if upper.starts_with("EHLO") => Reply::lines(&["250-relay.test", "250 8BITMIME"]),
            _ if upper == "DATA" => Reply::Stall(vec!["354 go ahead".into()]),
            _ => Reply::line("250 2.1.0 Ok"),
        }
    })
    .await;
    let provider = builder(server.port(), Security::None)
        .with_auth(SmtpAuth::None)
        .with_data_timeout(Duration::from_millis(700))
        .build()
        .unwrap();
    let big = g360_mail_core::OutgoingMessage::builder()
        .to("cliente@example.test")
        .unwrap()
        .subject("Factura con anexo")
        .text("Adjuntamos el anexo.")
        .attach(
            g360_mail_core::Attachment::new(
                "anexo.bin",
                "application/octet-stream",
                vec![0x5a; 24 * 1024 * 1024],
            )
            .unwrap(),
        )
        .build()
        .unwrap();

    let err = bounded(provider.send(&big)).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    assert_eq!(err.code(), Some("smtp.timeout"));
    assert!(err.is_not_delivered());
    assert_eq!(err.context_value("step"), Some("message"));
}

// ----- Plaintext only where it is safe -------------------------------------

#[tokio::test]
async fn a_login_never_goes_out_without_tls() {
    for allow in [false, true] {
        let err =
            builder(4025, Security::None).with_allow_insecure_dangerous(allow).build().unwrap_err();
        assert_eq!((err.kind(), err.code()), (ErrorKind::Config, Some("config.invalid")));
        assert_eq!(err.context_value("key"), Some("auth"), "{err:?}");
        assert!(err.to_string().contains("without TLS"), "{err}");
    }
    let err = crate::builder_on("relay.example.test", 25, Security::None)
        .with_auth(SmtpAuth::None)
        .build()
        .unwrap_err();
    assert_eq!(err.context_value("key"), Some("security"), "{err:?}");
}

// ----- Exchange Online without Basic authentication --------------------------

#[tokio::test]
async fn a_password_refused_as_basic_authentication_points_to_oauth2() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let inner = office365_tls();
    let server = FakeSmtpServer::start_tls(&certs, move |line| match inner(line) {
        Reply::Lines(lines) if lines == [AUTH_DISABLED] => {
            Reply::line("550 5.7.30 Basic authentication is not supported for Client Submission.")
        }
        other => other,
    })
    .await;
    let provider =
        builder(server.port(), Security::Starttls).with_tls_ca_file(&certs.ca).build().unwrap();

    let err = bounded(provider.send(&simple_message())).await.unwrap_err();

    assert_eq!(err.code(), Some("smtp.basic-auth-retired"), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Permission);
    assert_eq!(err.smtp_code(), Some(550));
    assert!(err.remedy().unwrap().contains("oauth2"));
    let report = bounded(provider.verify(&VerifyOptions::default())).await.unwrap();
    let failed = report.first_failure().unwrap();
    assert_eq!(
        (failed.name.as_str(), failed.code.as_deref()),
        ("auth", Some("smtp.basic-auth-retired"))
    );
}
