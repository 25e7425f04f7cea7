//! Outbox tests against a real SQLite file and the PostgreSQL server on
//! 127.0.0.1:5432 (`G360_MAIL_TEST_PG_URL` overrides; with `CI` set a missing
//! server fails the PostgreSQL tests, otherwise they skip with a notice).

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "tests report skips and timings")]

mod reports;
mod util;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use g360_mail_core::{ErrorKind, MessageUid};
use g360_mail_outbox::{
    AttemptAction, AttemptResult, DeliveryEvent, Guarantee, MailState, Outbox, OutboxId,
    OutboxOptions, Worker,
};
use tokio::time::Instant;
use util::{
    FakeSender, Step, TestDb, fast_options, message, rejected, throttled, unavailable, unknown,
    worker_options,
};

/// Runs a check on SQLite and on PostgreSQL.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = crate::util::TestDb::sqlite().await;
                super::$name(&db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = crate::util::TestDb::postgres().await else { return };
                super::$name(&db).await;
            }
        }
    )*};
}

both!(
    enqueue_is_durable,
    sends_and_records_the_attempt,
    retries_with_backoff_honouring_retry_after,
    permanent_failure_fails_with_the_reason,
    exhausted_retries_fail,
    unknown_outcome_found_by_lookup_is_not_sent_again,
    unknown_outcome_not_found_is_sent_once_after_settling,
    lookup_lag_within_the_settle_delay_prevents_a_duplicate,
    smtp_like_route_resends_at_least_once,
    expired_lease_is_looked_up_before_resending,
    two_workers_never_send_a_uid_twice,
    pacing_limits_rate_and_in_flight_per_mailbox,
    purge_removes_only_old_sent_mails,
    failed_mail_can_be_retried,
    setup_error_fails_with_remedy,
    run_stops_on_shutdown_and_wakes_on_enqueue,
    limits_hold_across_outboxes_sharing_the_database,
    shutdown_lets_sends_finish_and_gives_the_rest_back,
    shutdown_cuts_off_a_hung_send_after_the_grace_period,
    a_batch_claim_takes_only_what_each_mailbox_allows,
    results_gathered_together_are_recorded_in_one_transaction,
    a_death_between_send_and_flush_leads_to_a_lookup_not_a_resend,
);

use reports::reports_are_recorded_once_with_precedence;
both!(reports_are_recorded_once_with_precedence);

fn worker(outbox: &Outbox, sender: &Arc<FakeSender>, id: &str) -> Worker {
    Worker::new(outbox.clone(), sender.clone(), worker_options(id))
}

async fn enqueue_is_durable(db: &TestDb) {
    let outbox = db.open(fast_options()).await;
    let msg = message("cliente@example.com");
    let id = outbox.enqueue("ventas", &msg).await.unwrap();
    assert_eq!(outbox.enqueue("ventas", &msg).await.unwrap(), id, "same uid, same mail");
    drop(outbox);

    let reopened = db.open(fast_options()).await;
    let status = reopened.status().await.unwrap();
    assert_eq!((status.queued, status.pending()), (1, 1));
    let back = reopened.message(id).await.unwrap();
    assert_eq!(back, msg);
    assert_eq!(back.uid(), msg.uid());
    let details = reopened.show(id).await.unwrap();
    assert_eq!(details.mail.state, MailState::Queued);
    assert_eq!(details.mail.user, "ventas");
    assert_eq!(details.mail.recipients, "cliente@example.com");
    assert!(details.attempts.is_empty());
    let err = reopened.show(OutboxId::new(999_999)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

async fn sends_and_records_the_attempt(db: &TestDb) {
    let outbox = db.open(fast_options()).await;
    let sender = FakeSender::new().arc();
    let msg = message("a@example.com");
    let id = outbox.enqueue("ventas", &msg).await.unwrap();
    let summary = worker(&outbox, &sender, "w1").run_until_empty().await.unwrap();
    assert_eq!(summary.sent, 1);
    assert_eq!(sender.deliveries(msg.uid()), 1);
    let d = outbox.show(id).await.unwrap();
    assert_eq!(d.mail.state, MailState::Sent);
    assert_eq!(d.mail.attempts, 1);
    assert!(!d.mail.needs_lookup);
    assert_eq!(d.mail.guarantee, Some(Guarantee::ExactlyOnce));
    assert_eq!(d.mail.route.as_deref(), Some("o365-main"));
    assert_eq!(d.mail.mailbox.as_deref(), Some("ventas@contoso.com"));
    assert_eq!(d.mail.request_id, Some(format!("req-{}", msg.uid())));
    assert!(d.mail.sent_at.is_some() && d.mail.locked_by.is_none());
    assert_eq!(d.attempts.len(), 1);
    let a = &d.attempts[0];
    assert_eq!((a.action, a.result), (AttemptAction::Send, AttemptResult::Sent));
    assert_eq!(a.worker, "w1");
    assert!(a.finished_at.is_some());
    assert_eq!(outbox.list(Some(MailState::Sent), 10).await.unwrap().len(), 1);
    assert!(outbox.list(Some(MailState::Queued), 10).await.unwrap().is_empty());
}

async fn retries_with_backoff_honouring_retry_after(db: &TestDb) {
    let outbox = db.open(fast_options()).await;
    let sender = FakeSender::new().arc();
    let msg = message("a@example.com");
    let retry_after = Duration::from_millis(600);
    sender.script(msg.uid(), vec![Step::Fail(throttled(retry_after)), Step::Fail(unavailable())]);
    let id = outbox.enqueue("ventas", &msg).await.unwrap();
    let summary = worker(&outbox, &sender, "w1").run_until_empty().await.unwrap();
    assert_eq!((summary.sent, summary.retried), (1, 2));
    let calls = sender.calls(msg.uid());
    assert_eq!(calls.len(), 3);
    assert!(calls[1] - calls[0] >= retry_after, "waited {:?}", calls[1] - calls[0]);
    // Without Retry-After: at least half the base backoff of the second attempt (80 ms).
    assert!(calls[2] - calls[1] >= Duration::from_millis(40), "{:?}", calls[2] - calls[1]);
    assert_eq!(sender.deliveries(msg.uid()), 1);
    let d = outbox.show(id).await.unwrap();
    assert_eq!(d.mail.state, MailState::Sent);
    assert_eq!(d.mail.attempts, 3);
    assert_eq!(d.mail.last_error.as_ref().unwrap().kind, "unavailable");
    let results: Vec<_> = d.attempts.iter().map(|a| a.result).collect();
    assert_eq!(results, [AttemptResult::Error, AttemptResult::Error, AttemptResult::Sent]);
    let first = d.attempts[0].error.as_ref().unwrap();
    assert_eq!(first.kind, "throttled");
    assert_eq!(d.attempts[0].request_id.as_deref(), Some("req-429"));
}

async fn permanent_failure_fails_with_the_reason(db: &TestDb) {
    let outbox = db.open(fast_options()).await;
    let sender = FakeSender::new().arc();
    let msg = message("nadie@example.com");
    sender.script(msg.uid(), vec![Step::Fail(rejected())]);
    let id = outbox.enqueue("ventas", &msg).await.unwrap();
    let summary = worker(&outbox, &sender, "w1").run_until_empty().await.unwrap();
    assert_eq!((summary.sent, summary.failed), (0, 1));
    let d = outbox.show(id).await.unwrap();
    assert_eq!(d.mail.state, MailState::Failed);
    assert_eq!(d.mail.attempts, 1);
    assert!(!d.mail.needs_lookup, "a rejected mail was not delivered");
    let e = d.mail.last_error.unwrap();
    assert_eq!(e.kind, "rejected");
    assert_eq!(e.code.as_deref(), Some("550 5.1.1"));
    assert_eq!(e.remedy.as_deref(), Some("check the address"));
    assert_eq!(d.attempts[0].server_reply.as_deref(), Some("550"));
    assert_eq!(outbox.status().await.unwrap().failed, 1);
}

async fn exhausted_retries_fail(db: &TestDb) {
    let outbox = db.open(OutboxOptions { max_attempts: 3, ..fast_options() }).await;
    let sender = FakeSender::new().arc();
    let msg = message("a@example.com");
    sender.script(msg.uid(), (0..5).map(|_| Step::Fail(unavailable())).collect());
    let id = outbox.enqueue("ventas", &msg).await.unwrap();
    let summary = worker(&outbox, &sender, "w1").run_until_empty().await.unwrap();
    assert_eq!((summary.retried, summary.failed), (2, 1));
    assert_eq!(sender.calls(msg.uid()).len(), 3);
    let d = outbox.show(id).await.unwrap();
    assert_eq!((d.mail.state, d.mail.attempts), (MailState::Failed, 3));
    let e = d.mail.last_error.unwrap();
    assert_eq!(e.kind, "unavailable");
    assert!(e.message.starts_with("gave up after 3 attempts"), "{}", e.message);
}

async fn unknown_outcome_found_by_lookup_is_not_sent_again(db: &TestDb) {
    let outbox = db.open(fast_options()).await;
    let sender = FakeSender::new().arc();
    let msg = message("a@example.com");
    sender.script(msg.uid(), vec![Step::DeliverThenFail(unknown())]);
    let id = outbox.enqueue("ventas", &msg).await.unwrap();
    let summary = worker(&outbox, &sender, "w1").run_until_empty().await.unwrap();
    assert_eq!((summary.sent, summary.recovered, summary.retried), (1, 1, 1));
    assert_eq!(sender.calls(msg.uid()).len(), 1, "no second send");
    assert_eq!(sender.deliveries(msg.uid()), 1);
    assert_eq!(sender.lookups(msg.uid()).len(), 1);
    let d = outbox.show(id).await.unwrap();
    assert_eq!(d.mail.state, MailState::Sent);
    assert!(d.mail.recovered);
    assert_eq!(d.mail.guarantee, Some(Guarantee::ExactlyOnce));
    let steps: Vec<_> = d.attempts.iter().map(|a| (a.action, a.result)).collect();
    assert_eq!(
        steps,
        [
            (AttemptAction::Send, AttemptResult::Error),
            (AttemptAction::Lookup, AttemptResult::Found)
        ]
    );
    assert_eq!(d.attempts[0].error.as_ref().unwrap().kind, "outcome-unknown");
}

async fn unknown_outcome_not_found_is_sent_once_after_settling(db: &TestDb) {
    let options = fast_options();
    let settle = options.settle_delay;
    let outbox = db.open(options).await;
    let sender = FakeSender::new().arc();
    let msg = message("a@example.com");
    // The first answer is ambiguous but the mail did not go out.
    sender.script(msg.uid(), vec![Step::Fail(unknown())]);
    let id = outbox.enqueue("ventas", &msg).await.unwrap();
    let summary = worker(&outbox, &sender, "w1").run_until_empty().await.unwrap();
    assert_eq!((summary.sent, summary.recovered), (1, 0));
    assert_eq!(sender.deliveries(msg.uid()), 1);
    let lookups = sender.lookups(msg.uid());
    assert_eq!(lookups.len(), 2, "looked, waited, looked again");
    assert!(lookups[1] - lookups[0] >= settle);
    let calls = sender.calls(msg.uid());
    assert!(calls[1] > lookups[1], "sent only after the second lookup");
    let d = outbox.show(id).await.unwrap();
    assert_eq!((d.mail.state, d.mail.attempts, d.mail.recovered), (MailState::Sent, 2, false));
    let steps: Vec<_> = d.attempts.iter().map(|a| (a.action, a.result)).collect();
    assert_eq!(
        steps,
        [
            (AttemptAction::Send, AttemptResult::Error),
            (AttemptAction::Lookup, AttemptResult::NotFound),
            (AttemptAction::Lookup, AttemptResult::NotFound),
            (AttemptAction::Send, AttemptResult::Sent),
        ]
    );
}

async fn lookup_lag_within_the_settle_delay_prevents_a_duplicate(db: &TestDb) {
    let outbox = db.open(fast_options()).await;
    // The sent mail shows the message 800 ms after delivery; settle is 1.5 s
    // (wide margins: the first lookup must come before the lag has passed,
    // also on a loaded machine).
    let sender =
        Arc::new(FakeSender { lookup_lag: Duration::from_millis(800), ..FakeSender::new() });
    let msg = message("a@example.com");
    sender.script(msg.uid(), vec![Step::DeliverThenFail(unknown())]);
    let id = outbox.enqueue("ventas", &msg).await.unwrap();
    // Retry at once, before the lag has passed.
    let opts = OutboxOptions {
        base_backoff: Duration::from_millis(1),
        settle_delay: Duration::from_millis(1_500),
        ..fast_options()
    };
    let outbox2 = db.open(opts).await;
    drop(outbox);
    let summary = worker(&outbox2, &sender, "w1").run_until_empty().await.unwrap();
    assert_eq!((summary.sent, summary.recovered), (1, 1));
    assert_eq!(sender.calls(msg.uid()).len(), 1);
    assert_eq!(sender.deliveries(msg.uid()), 1);
    let d = outbox2.show(id).await.unwrap();
    let lookups: Vec<_> =
        d.attempts.iter().filter(|a| a.action == AttemptAction::Lookup).map(|a| a.result).collect();
    assert_eq!(lookups, [AttemptResult::NotFound, AttemptResult::Found]);
}

async fn smtp_like_route_resends_at_least_once(db: &TestDb) {
    let outbox = db.open(fast_options()).await;
    let sender = FakeSender::smtp_like().arc();
    let msg = message("a@example.com");
    sender.script(msg.uid(), vec![Step::DeliverThenFail(unknown())]);
    let id = outbox.enqueue("ventas", &msg).await.unwrap();
    let summary = worker(&outbox, &sender, "w1").run_until_empty().await.unwrap();
    assert_eq!(summary.sent, 1);
    assert_eq!(sender.deliveries(msg.uid()), 2, "no lookup: the mail went out twice");
    assert!(sender.lookups(msg.uid()).is_empty());
    let d = outbox.show(id).await.unwrap();
    assert_eq!(d.mail.state, MailState::Sent);
    assert_eq!(d.mail.guarantee, Some(Guarantee::AtLeastOnce));
}

async fn expired_lease_is_looked_up_before_resending(db: &TestDb) {
    let options = OutboxOptions { lease: Duration::from_millis(600), ..fast_options() };
    let outbox = db.open(options.clone()).await;
    let sender = FakeSender::new().arc();
    let delivered = message("a@example.com");
    let not_delivered = message("b@example.com");
    sender.script(delivered.uid(), vec![Step::DeliverThenHang]);
    let id = outbox.enqueue("ventas", &delivered).await.unwrap();
    let id2 = outbox.enqueue("ventas", &not_delivered).await.unwrap();

    // A worker that dies in the middle of the first send.
    let dying = worker(&outbox, &sender, "dead");
    let task = tokio::spawn(async move { dying.run_until_empty().await });
    let started = Instant::now();
    while sender.calls(delivered.uid()).is_empty()
        || outbox.show(id2).await.unwrap().mail.state != MailState::Sent
    {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();
    let _ = task.await;
    let d = outbox.show(id).await.unwrap();
    assert_eq!((d.mail.state, d.mail.needs_lookup), (MailState::Sending, true));
    assert_eq!(d.mail.locked_by.as_deref(), Some("dead"));

    // Another node (its own pool) takes over once the lease has run out.
    let other = db.open(options).await;
    let summary = worker(&other, &sender, "alive").run_until_empty().await.unwrap();
    assert_eq!((summary.sent, summary.recovered), (1, 1));
    assert!(Instant::now() - started >= Duration::from_millis(600));
    assert_eq!(sender.calls(delivered.uid()).len(), 1, "found, not sent again");
    assert_eq!(sender.deliveries(delivered.uid()), 1);
    assert_eq!(sender.deliveries(not_delivered.uid()), 1);
    let d = other.show(id).await.unwrap();
    assert_eq!(d.mail.state, MailState::Sent);
    assert!(d.mail.recovered);
    let steps: Vec<_> =
        d.attempts.iter().map(|a| (a.action, a.result, a.worker.as_str())).collect();
    assert_eq!(
        steps,
        [
            (AttemptAction::Send, AttemptResult::Interrupted, "dead"),
            (AttemptAction::Lookup, AttemptResult::Found, "alive")
        ]
    );
    assert_eq!(other.show(id2).await.unwrap().mail.state, MailState::Sent);
}

async fn two_workers_never_send_a_uid_twice(db: &TestDb) {
    let options = OutboxOptions { max_connections: 4, ..fast_options() };
    let a = db.open(options.clone()).await;
    let b = db.open(options).await;
    let sender = Arc::new(FakeSender { send_delay: Duration::from_millis(2), ..FakeSender::new() });
    let mut uids = HashSet::new();
    for i in 0..200 {
        let msg = message(&format!("c{i}@example.com"));
        uids.insert(msg.uid());
        let outbox = if i % 2 == 0 { &a } else { &b };
        outbox.enqueue(&format!("user{}", i % 5), &msg).await.unwrap();
    }
    let started = Instant::now();
    let wa = worker(&a, &sender, "node-a");
    let wb = worker(&b, &sender, "node-b");
    let (ra, rb) = tokio::join!(wa.run_until_empty(), wb.run_until_empty());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let elapsed = started.elapsed();
    println!(
        "{}: two workers drained 200 mails in {elapsed:?} ({} + {})",
        if db.is_postgres() { "postgres" } else { "sqlite" },
        ra.sent,
        rb.sent
    );
    assert_eq!(ra.sent + rb.sent, 200);
    let deliveries = sender.all_deliveries();
    assert_eq!(deliveries.len(), 200);
    assert!(deliveries.values().all(|n| *n == 1), "a uid went out twice");
    assert_eq!(deliveries.keys().copied().collect::<HashSet<MessageUid>>(), uids);
    let status = a.status().await.unwrap();
    assert_eq!((status.sent, status.pending(), status.failed), (200, 0, 0));
}

async fn pacing_limits_rate_and_in_flight_per_mailbox(db: &TestDb) {
    let window = Duration::from_millis(250);
    let options = OutboxOptions {
        messages_per_minute: 20,
        max_in_flight_per_mailbox: 4,
        rate_window: window,
        ..fast_options()
    };
    let outbox = db.open(options).await;
    let sender =
        Arc::new(FakeSender { send_delay: Duration::from_millis(30), ..FakeSender::new() });
    for i in 0..200 {
        outbox.enqueue("ventas", &message(&format!("c{i}@example.com"))).await.unwrap();
    }
    let started = Instant::now();
    let summary = worker(&outbox, &sender, "w1").run_until_empty().await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(summary.sent, 200);
    assert!(sender.max_in_flight() <= 4, "in flight: {}", sender.max_in_flight());
    let starts = sender.starts();
    assert_eq!(starts.len(), 200);
    // Any 21 consecutive starts span at least the window (the fake records a
    // moment after the pacer; allow 5 ms for that).
    for pair in starts.windows(21) {
        let span = pair[20] - pair[0];
        assert!(span + Duration::from_millis(5) >= window, "21 sends within {span:?}");
    }
    // 200 mails at 20 per 250 ms take at least 9 full windows.
    assert!(elapsed >= window * 9, "{elapsed:?}");
    println!(
        "{}: paced 200 mails in {elapsed:?}, {} deferred",
        if db.is_postgres() { "postgres" } else { "sqlite" },
        summary.deferred
    );
}

async fn purge_removes_only_old_sent_mails(db: &TestDb) {
    let outbox = db.open(fast_options()).await;
    let sender = FakeSender::new().arc();
    let bad = message("x@example.com");
    sender.script(bad.uid(), vec![Step::Fail(rejected())]);
    outbox.enqueue("ventas", &bad).await.unwrap();
    for i in 0..3 {
        outbox.enqueue("ventas", &message(&format!("c{i}@example.com"))).await.unwrap();
    }
    worker(&outbox, &sender, "w1").run_until_empty().await.unwrap();
    let queued = outbox.enqueue("ventas", &message("later@example.com")).await.unwrap();
    assert_eq!(outbox.purge_sent_older_than(Duration::from_secs(86_400)).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(outbox.purge_sent_older_than(Duration::ZERO).await.unwrap(), 3);
    let status = outbox.status().await.unwrap();
    assert_eq!((status.sent, status.failed, status.queued), (0, 1, 1));
    assert_eq!(outbox.show(queued).await.unwrap().mail.state, MailState::Queued);
}

async fn failed_mail_can_be_retried(db: &TestDb) {
    let outbox = db.open(fast_options()).await;
    let sender = FakeSender::new().arc();
    let msg = message("a@example.com");
    sender.script(msg.uid(), vec![Step::Fail(rejected())]);
    let id = outbox.enqueue("ventas", &msg).await.unwrap();
    worker(&outbox, &sender, "w1").run_until_empty().await.unwrap();
    assert_eq!(outbox.show(id).await.unwrap().mail.state, MailState::Failed);

    outbox.retry(id).await.unwrap();
    let d = outbox.show(id).await.unwrap();
    assert_eq!((d.mail.state, d.mail.attempts), (MailState::Queued, 0));
    worker(&outbox, &sender, "w1").run_until_empty().await.unwrap();
    let d = outbox.show(id).await.unwrap();
    assert_eq!(d.mail.state, MailState::Sent);
    assert_eq!(d.attempts.len(), 2);
    assert_eq!(sender.deliveries(msg.uid()), 1);

    let err = outbox.retry(id).await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::InvalidInput, Some("outbox.not-failed")));
    let err = outbox.retry(OutboxId::new(424_242)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

async fn setup_error_fails_with_remedy(db: &TestDb) {
    let outbox = db.open(fast_options()).await;
    let sender = FakeSender::new().arc();
    let id = outbox.enqueue("broken", &message("a@example.com")).await.unwrap();
    let id2 = outbox.enqueue("ventas", &message("b@example.com")).await.unwrap();
    let summary = worker(&outbox, &sender, "w1").run_until_empty().await.unwrap();
    assert_eq!((summary.sent, summary.failed), (1, 1));
    let d = outbox.show(id).await.unwrap();
    assert_eq!((d.mail.state, d.mail.attempts), (MailState::Failed, 1));
    let e = d.mail.last_error.unwrap();
    assert_eq!(e.kind, "config");
    assert_eq!(e.remedy.as_deref(), Some("add an account for the user"));
    assert_eq!(outbox.show(id2).await.unwrap().mail.state, MailState::Sent);
    assert_eq!(outbox.retry_failed().await.unwrap(), 1);
}

async fn run_stops_on_shutdown_and_wakes_on_enqueue(db: &TestDb) {
    let outbox = db.open(fast_options()).await;
    let sender = FakeSender::new().arc();
    let mut options = worker_options("svc");
    options.poll_interval = Duration::from_secs(30);
    let w = Worker::new(outbox.clone(), sender.clone(), options);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        w.run(async {
            let _ = rx.await;
        })
        .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let msg = message("a@example.com");
    let started = Instant::now();
    outbox.enqueue("ventas", &msg).await.unwrap();
    while sender.deliveries(msg.uid()) == 0 {
        assert!(started.elapsed() < Duration::from_secs(5), "the enqueue did not wake the worker");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    tx.send(()).unwrap();
    let summary = task.await.unwrap().unwrap();
    assert_eq!(summary.sent, 1);
}

/// Two outboxes on one database stand for two processes: they share nothing
/// but the database, yet together keep one mailbox's limits.
async fn limits_hold_across_outboxes_sharing_the_database(db: &TestDb) {
    let window = Duration::from_millis(300);
    let options = OutboxOptions {
        messages_per_minute: 20,
        max_in_flight_per_mailbox: 3,
        rate_window: window,
        ..fast_options()
    };
    let a = db.open(options.clone()).await;
    let b = db.open(options).await;
    let sender =
        Arc::new(FakeSender { send_delay: Duration::from_millis(25), ..FakeSender::new() });
    for i in 0..120 {
        a.enqueue("ventas", &message(&format!("c{i}@example.com"))).await.unwrap();
    }
    let runs = [(&a, "a1"), (&a, "a2"), (&b, "b1"), (&b, "b2")]
        .map(|(o, id)| worker(o, &sender, id))
        .map(|w| tokio::spawn(async move { w.run_until_empty().await.unwrap() }));
    let mut sent = 0;
    for r in runs {
        sent += tokio::time::timeout(Duration::from_secs(60), r).await.unwrap().unwrap().sent;
    }
    assert_eq!(sent, 120);
    assert!(sender.all_deliveries().values().all(|n| *n == 1), "a uid went out twice");
    assert!(sender.max_in_flight() <= 3, "in flight: {}", sender.max_in_flight());
    let starts = sender.starts();
    for pair in starts.windows(21) {
        let span = pair[20] - pair[0];
        assert!(span + Duration::from_millis(5) >= window, "21 sends within {span:?}");
    }
    let status = b.mailbox_status().await.unwrap();
    assert_eq!(status.len(), 1, "{status:?}");
    let s = &status[0];
    assert_eq!(s.mailbox, "ventas@contoso.com");
    assert_eq!((s.queued, s.sending, s.in_flight, s.sent_total), (0, 0, 0, 120));
    assert_eq!(s.sent_last_day, 120);
    assert!(s.window_starts <= 20, "{s:?}");
    let metrics = a.metrics().await.unwrap();
    assert!(
        metrics.contains("g360_outbox_sent_total{mailbox=\"ventas@contoso.com\"} 120\n"),
        "{metrics}"
    );
    assert!(metrics.contains("g360_outbox_mails{state=\"sent\"} 120\n"), "{metrics}");
    assert!(metrics.contains("# TYPE g360_outbox_throttled_total counter\n"), "{metrics}");
}

/// Collects the delivery events of an outbox.
fn collect_events(outbox: &Outbox) -> Arc<std::sync::Mutex<Vec<DeliveryEvent>>> {
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    outbox.on_event(move |e| sink.lock().unwrap().push(e.clone()));
    events
}

async fn shutdown_lets_sends_finish_and_gives_the_rest_back(db: &TestDb) {
    let outbox = db.open(OutboxOptions { max_in_flight_per_mailbox: 4, ..fast_options() }).await;
    let events = collect_events(&outbox);
    let sender =
        Arc::new(FakeSender { send_delay: Duration::from_millis(400), ..FakeSender::new() });
    let mut uids = HashSet::new();
    for i in 0..12 {
        let m = message(&format!("c{i}@example.com"));
        uids.insert(m.uid());
        outbox.enqueue("ventas", &m).await.unwrap();
    }
    let handle = worker(&outbox, &sender, "svc").spawn();
    let started = Instant::now();
    while sender.starts().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(10), "no send began");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stopping = Instant::now();
    let summary = handle.shutdown(Duration::from_secs(5)).await.unwrap();
    assert!(stopping.elapsed() < Duration::from_secs(5), "{:?}", stopping.elapsed());
    assert_eq!(summary.interrupted, 0);
    assert!(summary.sent >= 1 && summary.sent < 12, "{summary:?}");
    let status = outbox.status().await.unwrap();
    assert_eq!(status.sending, 0, "nothing stays sending: {status:?}");
    assert_eq!(status.sent, summary.sent);
    assert_eq!(status.queued, 12 - summary.sent);
    let sent_events = |events: &[DeliveryEvent]| {
        events.iter().filter(|e| matches!(e, DeliveryEvent::Sent { .. })).count()
    };
    assert_eq!(sent_events(&events.lock().unwrap()), summary.sent as usize);
    // A restart sends the rest; no mail twice.
    worker(&outbox, &sender, "svc2").run_until_empty().await.unwrap();
    assert!(sender.all_deliveries().values().all(|n| *n == 1), "a uid went out twice");
    assert_eq!(sender.all_deliveries().keys().copied().collect::<HashSet<_>>(), uids);
    let events = events.lock().unwrap();
    assert_eq!(sent_events(&events), 12);
    let queued = events.iter().filter(|e| e.name() == "queued").count();
    let sending = events.iter().filter(|e| e.name() == "sending").count();
    assert_eq!((queued, sending), (12, 12));
    let Some(DeliveryEvent::Sent { receipt, recovered: false, .. }) =
        events.iter().find(|e| e.name() == "sent")
    else {
        panic!("no sent event: {events:?}")
    };
    assert!(receipt.request_id.as_deref().is_some_and(|r| r.starts_with("req-")));
}

async fn shutdown_cuts_off_a_hung_send_after_the_grace_period(db: &TestDb) {
    let outbox = db.open(fast_options()).await;
    let events = collect_events(&outbox);
    let sender = FakeSender::new().arc();
    let m = message("a@example.com");
    sender.script(m.uid(), vec![Step::DeliverThenHang]);
    let id = outbox.enqueue("ventas", &m).await.unwrap();
    let handle = worker(&outbox, &sender, "svc").spawn();
    let started = Instant::now();
    while sender.deliveries(m.uid()) == 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "no send began");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stopping = Instant::now();
    let summary = handle.shutdown(Duration::from_millis(300)).await.unwrap();
    let took = stopping.elapsed();
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(3), "{took:?}");
    assert_eq!((summary.sent, summary.interrupted), (0, 1));
    let mail = outbox.show(id).await.unwrap().mail;
    assert_eq!(mail.state, MailState::Queued);
    assert!(mail.needs_lookup, "a cut-off send may have gone out");
    // The next worker finds it sent instead of sending it again.
    let summary = worker(&outbox, &sender, "svc2").run_until_empty().await.unwrap();
    assert_eq!((summary.sent, summary.recovered), (1, 1));
    assert_eq!(sender.deliveries(m.uid()), 1);
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, DeliveryEvent::Sent { recovered: true, .. }))
    );
}

/// `sqlite:///path/outbox.db`, as people write it (no `?mode=rwc`), creates
/// the file; the file and its `-wal` and `-shm` are private to the owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_url_without_mode_creates_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let outbox = Outbox::open(&format!("sqlite://{}", path.display()), fast_options()).await;
    let outbox = outbox.unwrap();
    outbox.enqueue("ventas", &message("a@example.com")).await.unwrap();
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let file = dir.path().join(format!("outbox.db{suffix}"));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", file.display());
    }
    drop(outbox);
    let reopened = Outbox::open(&format!("sqlite://{}", path.display()), fast_options()).await;
    assert_eq!(reopened.unwrap().status().await.unwrap().queued, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_in_a_missing_folder_is_a_config_error_with_a_remedy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-folder").join("outbox.db");
    let e =
        Outbox::open(&format!("sqlite://{}", path.display()), fast_options()).await.unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::Config, Some("outbox.open-file")), "{e:?}");
    assert!(e.remedy().unwrap().contains("folder"), "{e:?}");
    assert_eq!(e.context_value("file"), Some(path.display().to_string().as_str()));
}

/// `sslmode=require` against a server without TLS fails with an error that
/// says so. The server is scripted: it answers PostgreSQL's SSLRequest with
/// `N`, exactly as a PostgreSQL server with `ssl = off` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_require_against_a_server_without_tls_fails_clearly() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 8];
        conn.read_exact(&mut request).await.unwrap();
        // Length 8, code 80877103: the SSLRequest.
        assert_eq!(request, [0, 0, 0, 8, 4, 210, 22, 47]);
        conn.write_all(b"N").await.unwrap();
        let mut rest = Vec::new();
        let _ = conn.read_to_end(&mut rest).await;
        rest
    });
    let url = format!("postgres://g360:secreto@{addr}/test?sslmode=require");
    let options = OutboxOptions { acquire_timeout: Duration::from_secs(5), ..fast_options() };
    let e = Outbox::open(&url, options).await.unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::Config, Some("outbox.tls")), "{e:?}");
    assert!(e.remedy().unwrap().contains("ssl"), "{e:?}");
    let rest = tokio::time::timeout(Duration::from_secs(5), server).await.unwrap().unwrap();
    assert!(rest.is_empty(), "nothing may follow in clear after TLS was refused: {rest:?}");
}

/// Against the real server: with `ssl = on` (as the test machines run it),
/// `sslmode=require` gives a TLS connection; with `ssl = off` it fails as
/// above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_require_uses_tls_with_the_real_server() {
    let Some(db) = TestDb::postgres().await else { return };
    let url = db.url().replace("options=", "sslmode=require&options=");
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(db.url()).await.unwrap();
    let (ssl,): (String,) = sqlx::query_as("SHOW ssl").fetch_one(&mut conn).await.unwrap();
    match Outbox::open(&url, fast_options()).await {
        Ok(outbox) => {
            assert_eq!(ssl, "on");
            outbox.enqueue("ventas", &message("a@example.com")).await.unwrap();
            let mut tls = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
            let (on,): (bool,) =
                sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                    .fetch_one(&mut tls)
                    .await
                    .unwrap();
            assert!(on, "the connection is encrypted");
        }
        Err(e) => {
            assert_eq!(ssl, "off", "{e:?}");
            assert_eq!(e.code(), Some("outbox.tls"), "{e:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_enqueue_follows_the_transaction() {
    let Some(db) = TestDb::postgres().await else { return };
    let outbox = db.open(fast_options()).await;
    let pool = sqlx::PgPool::connect(db.url()).await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    let msg = message("a@example.com");
    Outbox::enqueue_in_tx(&mut tx, "ventas", &msg).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(outbox.status().await.unwrap().pending(), 0, "rolled back: no mail");

    let mut tx = pool.begin().await.unwrap();
    let id = Outbox::enqueue_in_tx(&mut tx, "ventas", &msg).await.unwrap();
    assert_eq!(outbox.status().await.unwrap().pending(), 0, "not visible before commit");
    tx.commit().await.unwrap();
    assert_eq!(outbox.status().await.unwrap().queued, 1);
    assert_eq!(outbox.message(id).await.unwrap(), msg);
    pool.close().await;
}

#[tokio::test]
async fn unknown_url_schemes_are_config_errors() {
    let err = Outbox::open("mysql://x/y", OutboxOptions::default()).await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Config, Some("outbox.url")));
    let options = OutboxOptions { acquire_timeout: Duration::from_millis(300), ..fast_options() };
    let err = Outbox::open("postgres://u:hunter2@127.0.0.1:1/x", options).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(!format!("{err:?}").contains("hunter2"));
}

async fn a_batch_claim_takes_only_what_each_mailbox_allows(db: &TestDb) {
    // Two mailboxes, 2 in flight and 3 per window each; sends take a while.
    let options =
        OutboxOptions { messages_per_minute: 3, max_in_flight_per_mailbox: 2, ..fast_options() };
    let outbox = db.open(options).await;
    let sender =
        Arc::new(FakeSender { send_delay: Duration::from_millis(400), ..FakeSender::new() });
    for i in 0..12 {
        let user = if i % 2 == 0 { "ventas" } else { "compras" };
        outbox.enqueue(user, &message(&format!("c{i}@example.com"))).await.unwrap();
    }
    let handle = Worker::new(
        outbox.clone(),
        sender.clone(),
        g360_mail_outbox::WorkerOptions { concurrency: 64, ..worker_options("w1") },
    )
    .spawn();
    // The first claim (up to 64 mails) took 2 of each mailbox and left the
    // other 8 mails queued: nothing is held that cannot start.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = outbox.status().await.unwrap();
    assert_eq!((status.sending, status.queued), (4, 8), "{status:?}");
    // Then the third start of each window; the other 6 wait for the window.
    let started = Instant::now();
    while outbox.status().await.unwrap().sent < 6 {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = outbox.status().await.unwrap();
    assert_eq!((status.sent, status.sending, status.queued), (6, 0, 6), "{status:?}");
    assert!(sender.max_in_flight() <= 2, "in flight: {}", sender.max_in_flight());
    let mailboxes = outbox.mailbox_status().await.unwrap();
    for m in &mailboxes {
        assert_eq!(m.queued, 3, "{m:?}");
        let now = g360_mail_core::Timestamp::now();
        assert!(m.next_send_at > now, "the full window blocks the mailbox: {m:?}");
    }
    assert_eq!(mailboxes.len(), 2, "{mailboxes:?}");
    let summary = handle.shutdown(Duration::from_secs(5)).await.unwrap();
    assert_eq!(summary.sent, 6);
    for mail in outbox.list(Some(MailState::Sent), 100).await.unwrap() {
        let d = outbox.show(mail.id).await.unwrap();
        let steps: Vec<_> = d.attempts.iter().map(|a| (a.action, a.result)).collect();
        assert_eq!(steps, [(AttemptAction::Send, AttemptResult::Sent)]);
        assert_eq!((d.mail.attempts, d.mail.needs_lookup), (1, false));
    }
}

async fn results_gathered_together_are_recorded_in_one_transaction(db: &TestDb) {
    let options = OutboxOptions { flush_interval: Duration::from_millis(400), ..fast_options() };
    let outbox = db.open(options).await;
    let events = collect_events(&outbox);
    let sender = FakeSender::new().arc();
    for i in 0..10 {
        outbox.enqueue("ventas", &message(&format!("c{i}@example.com"))).await.unwrap();
    }
    let started = Instant::now();
    let summary = worker(&outbox, &sender, "w1").run_until_empty().await.unwrap();
    assert_eq!(summary.sent, 10);
    // The results waited for the flush interval, then went in together: one
    // transaction stamps every row with the same time.
    assert!(started.elapsed() >= Duration::from_millis(400), "{:?}", started.elapsed());
    let sent = outbox.list(Some(MailState::Sent), 100).await.unwrap();
    assert_eq!(sent.len(), 10);
    let stamps: HashSet<_> = sent.iter().map(|m| m.updated_at).collect();
    assert_eq!(stamps.len(), 1, "{stamps:?}");
    // Each result was reported once recorded, and only then.
    let events = events.lock().unwrap();
    let reported = events.iter().filter(|e| matches!(e, DeliveryEvent::Sent { .. })).count();
    assert_eq!(reported, 10);
}

async fn a_death_between_send_and_flush_leads_to_a_lookup_not_a_resend(db: &TestDb) {
    // Results wait 30 s for their flush: long enough to die before it.
    let options = OutboxOptions {
        lease: Duration::from_millis(600),
        flush_interval: Duration::from_secs(30),
        ..fast_options()
    };
    let sender = FakeSender::new().arc();
    let outbox = db.open(options.clone()).await;
    let mut ids = Vec::new();
    let mut uids = Vec::new();
    for i in 0..5 {
        let m = message(&format!("c{i}@example.com"));
        uids.push(m.uid());
        ids.push(outbox.enqueue("ventas", &m).await.unwrap());
    }
    // A worker on a runtime of its own, which dies as a killed process does:
    // its tasks and connections vanish without another statement.
    let (url, dying_sender, dying_options) = (db.url().to_owned(), sender.clone(), options.clone());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let outbox = Outbox::open(&url, dying_options).await.unwrap();
            let handle = Worker::new(outbox, dying_sender, worker_options("dead")).spawn();
            std::mem::forget(handle);
        });
        ready_rx.recv().unwrap();
        rt.shutdown_background();
    });
    let started = Instant::now();
    while uids.iter().any(|u| sender.deliveries(*u) == 0) {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    ready_tx.send(()).unwrap();
    thread.join().unwrap();
    for id in &ids {
        let d = outbox.show(*id).await.unwrap();
        assert_eq!((d.mail.state, d.mail.needs_lookup), (MailState::Sending, true), "{id}");
    }

    // Another node takes over once the lease has run out: it looks each mail
    // up, finds it, and sends nothing again.
    let other =
        db.open(OutboxOptions { flush_interval: Duration::from_millis(5), ..options }).await;
    let summary = worker(&other, &sender, "alive").run_until_empty().await.unwrap();
    assert_eq!((summary.sent, summary.recovered), (5, 5));
    for (id, uid) in ids.iter().zip(&uids) {
        assert_eq!(sender.calls(*uid).len(), 1, "found, not sent again");
        let d = other.show(*id).await.unwrap();
        assert_eq!((d.mail.state, d.mail.recovered), (MailState::Sent, true));
        let steps: Vec<_> = d.attempts.iter().map(|a| (a.action, a.result)).collect();
        assert_eq!(
            steps,
            [
                (AttemptAction::Send, AttemptResult::Interrupted),
                (AttemptAction::Lookup, AttemptResult::Found)
            ]
        );
    }
}
