//! Retries: Retry-After, bounds, and sends that never duplicate a mail.

use std::time::{Duration, Instant};

use g360_mail_core::{ErrorKind, MailProvider, MailboxQuery, MessageUid};
use g360_mail_testkit::graph::{Endpoint, Fault, FaultMatch, MAIL_SEND};

use crate::util::*;

fn send_fault(env: &Env, fault: Fault, times: usize) {
    env.emu.push_fault(FaultMatch::endpoint(Endpoint::SendMail), fault, times);
}

#[tokio::test]
async fn throttled_send_waits_retry_after_looks_up_then_resends_once() {
    let env = env().await;
    let p = env.provider();
    send_fault(&env, Fault::throttled(1), 1);
    let started = Instant::now();
    let r = p.send(&simple("x")).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(950), "Retry-After: 1 was honoured");
    assert!(!r.recovered);
    assert_eq!(env.send_requests(), 2);
    // Before the resend the provider looked in Sent Items.
    let lookups = env.emu.requests_to(Endpoint::ListMessages);
    assert!(!lookups.is_empty());
    assert!(lookups[0].path.ends_with("/mailFolders/sentitems/messages"));
    assert_eq!(
        lookups[0].query_param("$filter").unwrap(),
        format!("internetMessageId eq '{}'", r.internet_message_id)
    );
    assert_eq!(env.emu.count_sent_with_internet_message_id(&r.internet_message_id), 1);
}

#[tokio::test]
async fn unavailable_service_then_success_for_sends_and_reads() {
    let env = env().await;
    let p = env.provider();
    send_fault(&env, Fault::service_unavailable(Some(0)), 2);
    let r = p.send(&simple("x")).await.unwrap();
    assert_eq!(env.send_requests(), 3);
    assert_eq!(env.emu.count_sent_with_internet_message_id(&r.internet_message_id), 1);

    env.emu.push_fault(
        FaultMatch::endpoint(Endpoint::ListMessages),
        Fault::service_unavailable(Some(0)),
        1,
    );
    env.emu.push_fault(FaultMatch::endpoint(Endpoint::ListMessages), Fault::throttled(0), 1);
    env.emu.push_fault(FaultMatch::endpoint(Endpoint::ListMessages), Fault::Drop, 1);
    env.emu.reset_records();
    p.list_messages(&MailboxQuery::default()).await.unwrap();
    assert_eq!(env.emu.requests_to(Endpoint::ListMessages).len(), 4);
}

#[tokio::test]
async fn retries_are_bounded_and_end_in_a_persistent_not_delivered_error() {
    let env = env().await;
    let p = env.provider();
    env.emu.push_fault_always(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::service_unavailable(Some(0)),
    );
    let err = p.send(&simple("x")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(!err.is_temporary());
    assert_eq!(err.context_value("sent"), Some("no"));
    assert_eq!(err.context_value("delivered"), Some("no"));
    assert!(err.is_not_delivered());
    assert_eq!(err.context_value("attempts"), Some("4"));
    assert_eq!(env.send_requests(), 4);
    assert!(env.emu.deliveries().is_empty());

    // Reads: the same bound.
    env.emu.clear_faults();
    env.emu.push_fault_always(
        FaultMatch::endpoint(Endpoint::GetMessage),
        Fault::service_unavailable(None),
    );
    let err = p.get_message("some-id").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(!err.is_temporary());
    assert_eq!(env.emu.requests_to(Endpoint::GetMessage).len(), 4);

    // A Retry-After beyond the total budget is not waited for.
    env.emu.clear_faults();
    env.emu.push_fault_always(FaultMatch::endpoint(Endpoint::SendMail), Fault::throttled(3600));
    let started = Instant::now();
    let err = p.send(&simple("y")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert!(err.is_not_delivered());
}

#[tokio::test]
async fn accepted_but_answered_504_is_delivered_exactly_once() {
    let env = env().await;
    let p = env.provider();
    send_fault(&env, Fault::accept_then_gateway_timeout(), 1);
    let r = p.send(&simple("x")).await.unwrap();
    assert!(r.recovered);
    assert_eq!(env.send_requests(), 1);
    assert_eq!(env.emu.count_sent_with_internet_message_id(&r.internet_message_id), 1);
    assert_eq!(env.emu.inbox(AP).len(), 1);
}

#[tokio::test]
async fn accepted_with_retry_after_is_not_sent_again() {
    let env = env().await;
    let p = env.provider();
    send_fault(&env, Fault::AcceptedWithRetryAfter { retry_after: 0 }, 1);
    let r = p.send(&simple("x")).await.unwrap();
    assert!(r.recovered);
    assert_eq!(env.emu.deliveries().len(), 1);
}

#[tokio::test]
async fn a_rewritten_message_id_is_found_by_the_extended_property() {
    let env = env().await;
    env.emu.configure(|o| o.preserve_internet_message_id = false);
    let p = env.provider();
    send_fault(&env, Fault::accept_then_gateway_timeout(), 1);
    let r = p.send(&simple("x")).await.unwrap();
    assert!(r.recovered);
    assert_eq!(env.emu.deliveries().len(), 1);
    let filters: Vec<String> = env
        .emu
        .requests_to(Endpoint::ListMessages)
        .iter()
        .filter_map(|q| q.query_param("$filter"))
        .collect();
    assert!(
        filters[1].starts_with("singleValueExtendedProperties/Any(ep: ep/id eq 'String {"),
        "{filters:?}"
    );
}

#[tokio::test]
async fn a_timeout_after_the_mail_went_out_is_recovered_not_resent() {
    let env = env().await;
    let mut s = settings(&env);
    s.request_timeout_ms = 300;
    s.sent_lookup_delay_ms = 1_200;
    let p = env.provider_with(s, ERP, &env.setup.secret);
    send_fault(&env, Fault::Delay(Duration::from_millis(700)), 1);
    let r = p.send(&simple("x")).await.unwrap();
    // Whether the emulator finished the abandoned request (recovered) or
    // dropped it with the connection (sent again after the lookup), the
    // mail went out exactly once, and only after a look in Sent Items.
    assert_eq!(env.emu.count_sent_with_internet_message_id(&r.internet_message_id), 1);
    assert_eq!(env.emu.deliveries().len(), 1);
    let lookups = env.emu.requests_to(Endpoint::ListMessages);
    assert!(!lookups.is_empty());
    if !r.recovered {
        let resend = env.emu.requests_to(Endpoint::SendMail).pop().unwrap();
        assert!(lookups[0].seq < resend.seq);
    }
}

#[tokio::test]
async fn a_dropped_connection_is_looked_up_then_resent() {
    let env = env().await;
    let p = env.provider();
    send_fault(&env, Fault::Drop, 1);
    let r = p.send(&simple("x")).await.unwrap();
    assert!(!r.recovered);
    assert_eq!(env.send_requests(), 2);
    assert_eq!(env.emu.count_sent_with_internet_message_id(&r.internet_message_id), 1);
}

#[tokio::test]
async fn without_mail_read_an_ambiguous_send_is_outcome_unknown() {
    let env = env().await;
    env.emu.update_app(&env.setup.client_id, |a| a.roles = vec![MAIL_SEND.into()]);
    let p = env.provider();
    send_fault(&env, Fault::accept_then_gateway_timeout(), 1);
    let msg = simple("x");
    let err = p.send(&msg).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(err.code(), Some("o365.outcome-unknown-no-read"));
    assert!(!err.is_temporary());
    assert!(!err.is_not_delivered());
    assert!(
        err.remedy().unwrap().contains("Sent Items") && err.remedy().unwrap().contains("Mail.Read")
    );
    assert_eq!(err.context_value("uid"), Some(msg.uid().to_string().as_str()));
    assert_eq!(env.send_requests(), 1, "never resent blindly");
    assert_eq!(env.emu.deliveries().len(), 1);
}

#[tokio::test]
async fn a_connection_refused_is_retried_without_looking() {
    let env = env().await;
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut s = settings(&env);
    s.graph_url = Some(dead);
    let p = env.provider_with(s, ERP, &env.setup.secret);
    let err = p.send(&simple("x")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.is_not_delivered());
    assert_eq!(err.context_value("attempts"), Some("4"));
    assert!(env.emu.requests_to(Endpoint::ListMessages).is_empty(), "no lookup needed");
}

#[tokio::test]
async fn find_sent_looks_up_our_uid() {
    let env = env().await;
    let p = env.provider();
    let msg = simple("x");
    let r = p.send(&msg).await.unwrap();
    let found = p.find_sent(msg.uid()).await.unwrap().unwrap();
    assert_eq!(found.internet_message_id, r.internet_message_id);
    assert!(found.recovered);
    assert!(p.find_sent(MessageUid::new_random()).await.unwrap().is_none());
}
