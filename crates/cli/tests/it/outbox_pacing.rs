//! The outbox paces each mailbox itself: 200 queued mails for one mailbox,
//! drained through the Office 365 provider to the Graph emulator, never
//! exceed the per-window and in-flight limits — the emulator's own record of
//! the requests proves it, so Microsoft never has to throttle us.

use std::sync::Arc;
use std::time::Duration;

use g360_erp_bridge::{BridgeConfig, MailBridge};
use g360_mail_core::{OutgoingMessage, ProviderRegistry};
use g360_mail_outbox::{Outbox, OutboxOptions, Worker, WorkerOptions};
use g360_mail_testkit::graph::{Endpoint, GraphEmulator};

const MAILBOX: &str = "facturas@contoso.com";
const MAILS: usize = 200;
const PER_WINDOW: u32 = 20;
const WINDOW: Duration = Duration::from_millis(400);

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_mails_for_one_mailbox_respect_the_rate_and_in_flight_limits() {
    let emulator = GraphEmulator::start().await;
    let setup = emulator.quick_setup(&[MAILBOX]);
    let mut registry = ProviderRegistry::new();
    g360_mail_o365::register(&mut registry);
    let toml: toml::Table = setup.toml_config(&emulator.url()).parse().unwrap();
    let value = serde_json::to_value(toml).unwrap();
    let bridge =
        Arc::new(MailBridge::new(BridgeConfig::from_value(value, &registry).unwrap(), registry));

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("outbox.db").display());
    let options = OutboxOptions {
        messages_per_minute: PER_WINDOW,
        rate_window: WINDOW,
        max_in_flight_per_mailbox: 4,
        ..OutboxOptions::default()
    };
    let outbox = Outbox::open(&url, options).await.unwrap();
    for i in 0..MAILS {
        let m = OutgoingMessage::builder()
            .to(&format!("cliente{i}@example.com"))
            .unwrap()
            .subject(format!("Factura {i}"))
            .text("Adjunta")
            .build()
            .unwrap();
        bridge.enqueue_as(&outbox, "facturas", m).await.unwrap();
    }
    let worker = Worker::new(
        outbox.clone(),
        bridge,
        WorkerOptions { concurrency: 32, ..WorkerOptions::default() },
    );
    let summary = worker.run_until_empty().await.unwrap();
    assert_eq!(summary.sent, MAILS as u64);

    let sends = emulator.requests_to(Endpoint::SendMail);
    assert_eq!(sends.len(), MAILS, "one request per mail: nothing throttled, nothing resent");
    assert!(sends.iter().all(|r| r.status == Some(202)));
    // In every window of WINDOW, at most PER_WINDOW sends arrived.
    let times: Vec<i64> = sends.iter().map(|r| r.at.as_millisecond()).collect();
    let window = i64::try_from(WINDOW.as_millis()).unwrap();
    let mut worst = 0;
    for (i, start) in times.iter().enumerate() {
        let n = times[i..].iter().take_while(|t| **t < start + window).count();
        worst = worst.max(n);
    }
    // The pacer counts a send when it starts; allow the clock skew of one
    // request between our start and the emulator's arrival stamp.
    assert!(worst <= PER_WINDOW as usize + 1, "{worst} sends within one window");
    assert!(emulator.max_concurrency(MAILBOX) <= 4, "{}", emulator.max_concurrency(MAILBOX));
    let elapsed = times.last().unwrap() - times.first().unwrap();
    let windows = (MAILS as i64 / i64::from(PER_WINDOW)) - 1;
    assert!(
        elapsed >= windows * window,
        "200 mails at 20 per window cannot take only {elapsed} ms"
    );
}
