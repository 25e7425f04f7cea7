//! Hostile HTTP peers: redirects to another origin, endless bodies, absurd
//! numbers, silence and trickles. Every test is bounded in time.

use std::future::Future;
use std::time::{Duration, Instant};

use g360_mail_core::{ErrorKind, MAX_SERVER_DELAY, MailProvider, MailboxQuery};
use g360_mail_testkit::hostile::{HostileHttpServer, Reply};

use crate::util::*;

/// Longest any of these tests may take; the deadlines under test are far
/// shorter.
const BOUND: Duration = Duration::from_secs(20);

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, f).await.expect("the operation ended within its deadline")
}

const HALF_GIB: u64 = 512 * 1024 * 1024;

#[tokio::test]
async fn a_redirect_from_the_token_endpoint_is_not_followed() {
    let env = env().await;
    let elsewhere =
        HostileHttpServer::start(|_| Reply::json(200, r#"{"access_token":"stolen"}"#)).await;
    let target = format!("{}/{}/oauth2/v2.0/token", elsewhere.url(), env.setup.tenant_id);
    let redirector = HostileHttpServer::start(move |_| Reply::redirect(307, &target)).await;
    let mut s = settings(&env);
    s.authority_url = Some(redirector.url());
    let p = env.provider_with(s, ERP, &env.setup.secret);

    let err = bounded(p.send(&simple("x"))).await.unwrap_err();
    assert_eq!(err.code(), Some("o365.redirect"), "{err}");
    assert_eq!(err.http_status(), Some(307));
    assert_eq!(err.context_value("host"), Some("127.0.0.1"));
    assert!(err.is_not_delivered());
    assert_eq!(redirector.requests().len(), 1, "a redirect is not retried");
    assert_eq!(elsewhere.connections(), 0, "the client secret never went to another origin");
    assert_eq!(env.send_requests(), 0);
}

#[tokio::test]
async fn a_redirect_from_send_mail_is_not_followed() {
    let env = env().await;
    let elsewhere = HostileHttpServer::start(|_| Reply::json(202, "")).await;
    let target = format!("{}/v1.0/users/{ERP}/sendMail", elsewhere.url());
    let redirector = HostileHttpServer::start(move |_| Reply::redirect(307, &target)).await;
    let mut s = settings(&env);
    s.graph_url = Some(redirector.url());
    let p = env.provider_with(s, ERP, &env.setup.secret);

    let err = bounded(p.send(&simple("x"))).await.unwrap_err();
    assert_eq!(err.code(), Some("o365.redirect"), "{err}");
    assert!(err.is_not_delivered(), "Graph answered; nothing was taken");
    let seen = redirector.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].method == "POST" && seen[0].path().ends_with("/sendMail"));
    assert_eq!(elsewhere.connections(), 0, "the mail never went to another origin");
}

#[tokio::test]
async fn half_a_gibibyte_answer_fails_fast_with_bounded_memory() {
    let env = env().await;
    let huge = HostileHttpServer::start(|req| {
        let path = req.path();
        let endless = |declare_length| Reply::Endless {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            len: HALF_GIB,
            fill: b' ',
            declare_length,
        };
        if path.ends_with("/attachments") {
            Reply::json(
                200,
                r##"{"value":[{"@odata.type":"#microsoft.graph.fileAttachment","id":"att1","name":"a.pdf","contentType":"application/pdf","size":1000}]}"##,
            )
        } else if path.ends_with("/messages/msg1") {
            Reply::json(200, r#"{"id":"msg1","subject":"s","body":{"contentType":"text","content":"hola"},"hasAttachments":true}"#)
        } else if path.ends_with("/$value") && path.contains("/attachments/") {
            // Graph declared 1000 bytes for this attachment.
            endless(false)
        } else if path.ends_with("/$value") {
            endless(true)
        } else {
            endless(false)
        }
    })
    .await;
    let mut s = settings(&env);
    s.graph_url = Some(huge.url());
    let p = env.provider_with(s, ERP, &env.setup.secret);

    let started = Instant::now();
    // A page streamed without a length.
    let err = bounded(p.list_messages(&MailboxQuery::default())).await.unwrap_err();
    assert_eq!(err.code(), Some("o365.answer-too-large"), "{err}");
    assert_eq!(err.context_value("limit_bytes"), Some("8388608"));
    // A MIME `$value` that declares its 512 MiB.
    let err = bounded(p.raw_message("msg1")).await.unwrap_err();
    assert_eq!(err.code(), Some("o365.answer-too-large"), "{err}");
    assert_eq!(err.context_value("declared_bytes"), Some(HALF_GIB.to_string().as_str()));
    // An attachment longer than Graph declared it.
    let err = bounded(p.get_message("msg1")).await.unwrap_err();
    assert_eq!(err.code(), Some("o365.answer-too-large"), "{err}");
    assert_eq!(err.context_value("limit_bytes"), Some((1000 + 64 * 1024).to_string().as_str()));

    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let written = huge.body_bytes_written();
    assert!(written < 64 * 1024 * 1024, "the client stopped reading early: {written} bytes");
    assert_eq!(huge.requests().len(), 5, "a too-large answer is not retried");
}

#[tokio::test]
async fn a_huge_retry_after_is_clamped_not_a_panic() {
    let env = env().await;
    let graph = HostileHttpServer::start(|req| {
        if req.method == "POST" {
            Reply::json(429, r#"{"error":{"code":"ApplicationThrottled","message":"slow down"}}"#)
                .with_header("retry-after", "18446744073709551615")
        } else {
            Reply::json(200, r#"{"value":[]}"#)
        }
    })
    .await;
    let mut s = settings(&env);
    s.graph_url = Some(graph.url());
    let p = env.provider_with(s, ERP, &env.setup.secret);

    let started = Instant::now();
    let err = bounded(p.send(&simple("x"))).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.retry_after(), Some(MAX_SERVER_DELAY));
    assert!(err.is_persistent());
    assert!(err.is_not_delivered(), "looked up in Sent Items and not found");
    let posts = graph.requests().iter().filter(|r| r.method == "POST").count();
    assert_eq!(posts, 1, "never resent after an ambiguous answer without a wait");
}

#[tokio::test]
async fn a_huge_expires_in_is_clamped_not_a_panic() {
    let env = env().await;
    let server = HostileHttpServer::start(|req| {
        if req.path().ends_with("/oauth2/v2.0/token") {
            Reply::json(
                200,
                r#"{"token_type":"Bearer","expires_in":18446744073709551615,"access_token":"opaque-token"}"#,
            )
        } else {
            Reply::json(200, r#"{"value":[]}"#)
        }
    })
    .await;
    let mut s = settings(&env);
    s.authority_url = Some(server.url());
    s.graph_url = Some(server.url());
    let p = env.provider_with(s, ERP, &env.setup.secret);

    let page = bounded(p.list_messages(&MailboxQuery::default())).await.unwrap();
    assert!(page.messages.is_empty());
    bounded(p.list_messages(&MailboxQuery::default())).await.unwrap();
    let seen = server.requests();
    let tokens = seen.iter().filter(|r| r.path().ends_with("/token")).count();
    assert_eq!(tokens, 1, "the token was cached");
    assert_eq!(seen.last().unwrap().header("authorization"), Some("Bearer opaque-token"));
}

#[tokio::test]
async fn a_silent_graph_ends_the_send_at_its_deadline_as_outcome_unknown() {
    let env = env().await;
    let silent = HostileHttpServer::start(|_| Reply::Silent).await;
    let mut s = settings(&env);
    s.graph_url = Some(silent.url());
    s.request_timeout_ms = 60_000;
    s.send_timeout_ms = 1_500;
    let p = env.provider_with(s, ERP, &env.setup.secret);

    let started = Instant::now();
    let err = bounded(p.send(&simple("x"))).await.unwrap_err();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1_000) && took < Duration::from_secs(4), "{took:?}");
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err}");
    assert!(!err.is_not_delivered(), "the mail was handed over: it may have gone out");
    let posts = silent.requests().iter().filter(|r| r.method == "POST").count();
    assert_eq!(posts, 1, "never resent blindly");
}

#[tokio::test]
async fn a_trickling_token_endpoint_ends_the_send_at_its_deadline_as_not_delivered() {
    let env = env().await;
    let trickle = HostileHttpServer::start(|_| Reply::Trickle {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"token_type":"Bearer","expires_in":3599,"access_token":"slow-token"}"#.to_vec(),
        every: Duration::from_secs(1),
    })
    .await;
    let mut s = settings(&env);
    s.authority_url = Some(trickle.url());
    s.request_timeout_ms = 60_000;
    s.send_timeout_ms = 1_500;
    let p = env.provider_with(s, ERP, &env.setup.secret);

    let started = Instant::now();
    let err = bounded(p.send(&simple("x"))).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    assert_eq!(err.code(), Some("o365.deadline"), "{err}");
    assert!(err.is_not_delivered(), "nothing reached Graph");
    assert!(err.is_persistent());
    assert_eq!(env.send_requests(), 0);
    assert!(trickle.body_bytes_written() < 5, "{} bytes", trickle.body_bytes_written());
}

#[tokio::test]
async fn a_redirect_of_a_read_is_not_followed() {
    let env = env().await;
    let elsewhere = HostileHttpServer::start(|_| Reply::json(200, r#"{"value":[]}"#)).await;
    let target = format!("{}/v1.0/users/{ERP}/mailFolders/inbox/messages", elsewhere.url());
    let redirector = HostileHttpServer::start(move |_| Reply::redirect(302, &target)).await;
    let mut s = settings(&env);
    s.graph_url = Some(redirector.url());
    let p = env.provider_with(s, ERP, &env.setup.secret);

    let err = bounded(p.list_messages(&MailboxQuery::default())).await.unwrap_err();
    assert_eq!(err.code(), Some("o365.redirect"), "{err}");
    assert!(!err.is_temporary(), "a redirect is not retried");
    assert_eq!(redirector.requests().len(), 1);
    assert_eq!(elsewhere.connections(), 0, "the bearer token never went to another origin");
}

#[tokio::test]
async fn half_a_gibibyte_token_answer_fails_fast() {
    let env = env().await;
    let huge = HostileHttpServer::start(|_| Reply::Endless {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        len: HALF_GIB,
        fill: b' ',
        declare_length: false,
    })
    .await;
    let mut s = settings(&env);
    s.authority_url = Some(huge.url());
    let p = env.provider_with(s, ERP, &env.setup.secret);

    let started = Instant::now();
    let err = bounded(p.send(&simple("x"))).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(err.code(), Some("o365.answer-too-large"), "{err}");
    assert!(err.is_not_delivered());
    assert!(huge.body_bytes_written() < 64 * 1024 * 1024, "{}", huge.body_bytes_written());
    assert_eq!(env.send_requests(), 0);
}
