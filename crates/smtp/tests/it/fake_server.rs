//! Against a scripted fake: replies no real test server gives on demand.

use std::time::Duration;

use g360_mail_core::{CheckStatus, ErrorKind, MailProvider, VerifyOptions};
use g360_mail_smtp::Security;
use g360_mail_testkit::smtp::{FakeSmtpServer, Reply};

use crate::{builder, simple_message};

const O365_EHLO: &[&str] = &[
    "250-AM0PR10CA0001.outlook.office365.com Hello [127.0.0.1]",
    "250-SIZE 157286400",
    "250-AUTH LOGIN XOAUTH2",
    "250-8BITMIME",
    "250 SMTPUTF8",
];

const AUTH_DISABLED: &str = "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. [AM0PR10CA0001.EURPRD10.PROD.OUTLOOK.COM 2026-11-29T10:00:00.000Z]";

/// An Office 365 look-alike whose tenant has SMTP AUTH disabled.
fn office365(line: &str) -> Reply {
    let upper = line.to_ascii_uppercase();
    if line == "<connect>" {
        Reply::line("220 AM0PR10CA0001.outlook.office365.com Microsoft ESMTP MAIL Service ready")
    } else if upper.starts_with("EHLO") {
        Reply::Lines(O365_EHLO.iter().map(|l| (*l).to_owned()).collect())
    } else if upper == "AUTH LOGIN" {
        Reply::line("334 VXNlcm5hbWU6")
    } else if line.contains('@') || line.starts_with("ZmFjdHVyYXNAY29udG9zby50ZXN0") {
        Reply::line("334 UGFzc3dvcmQ6")
    } else if upper.starts_with("QUIT") {
        Reply::line("221 2.0.0 Service closing transmission channel")
    } else {
        Reply::line(AUTH_DISABLED)
    }
}

#[tokio::test]
async fn office_365_smtp_auth_disabled_says_how_to_enable_it() {
    let server = FakeSmtpServer::start(office365).await;
    let provider = builder(server.port(), Security::None).build().unwrap();

    let err = provider.send(&simple_message()).await.unwrap_err();

    assert_eq!(err.code(), Some("smtp.auth-disabled"), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Permission);
    assert!(!err.is_temporary());
    assert_eq!(err.smtp_code(), Some(535));
    let remedy = err.remedy().unwrap();
    assert!(remedy.contains("Authenticated SMTP") && remedy.contains("xoauth2"), "{remedy}");
    assert!(err.context_value("reply").unwrap().contains("5.7.139"));
    let lines = server.transcript();
    assert!(lines.iter().any(|l| l == "AUTH LOGIN"), "{lines:?}");
    assert!(!lines.iter().any(|l| l.starts_with("MAIL FROM")), "{lines:?}");

    let report = provider.verify(&VerifyOptions::default()).await.unwrap();
    let auth = report.first_failure().unwrap();
    assert_eq!((auth.name.as_str(), auth.code.as_deref()), ("auth", Some("smtp.auth-disabled")));
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
        .with_auth(g360_mail_smtp::SmtpAuth::None)
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
        .with_auth(g360_mail_smtp::SmtpAuth::None)
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
        .with_auth(g360_mail_smtp::SmtpAuth::None)
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
