//! The ERP example (`examples/erp_invoices.rs`) runs in CI: its own code,
//! against the Graph emulator, must send one invoice at once, deliver the
//! queued one through the embedded worker and say so in Spanish.

#[path = "../../examples/erp_invoices.rs"]
#[allow(dead_code, reason = "the example's `main` is not called here; its `run` is")]
mod erp_invoices;

use g360_mail_outbox::DeliveryEvent;
use g360_mail_testkit::graph::GraphEmulator;

#[tokio::test]
async fn the_erp_example_sends_queues_and_reports_in_spanish() {
    let emulator = GraphEmulator::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    let outcome = erp_invoices::run(&emulator, dir.path(), &mut out).await.unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "F-2026-0041: El e-mail se envió correctamente\n\
         F-2026-0042: El e-mail se envió correctamente\n"
    );
    // Each invoice went out once, from its own user's mailbox.
    let sent = |mailbox: &str| -> Vec<String> {
        emulator.sent_items(mailbox).iter().map(|m| m.subject.clone()).collect()
    };
    assert_eq!(sent("jgarcia@contoso.com"), ["Factura F-2026-0041"]);
    assert_eq!(sent("mlopez@contoso.com"), ["Factura F-2026-0042"]);
    assert_eq!(emulator.count_sent_with_internet_message_id(&outcome.sent_now), 1);
    // The ERP saw the queued invoice queued, being sent, then sent.
    let names: Vec<&str> = outcome
        .events
        .iter()
        .map(|e| match e {
            DeliveryEvent::Queued { .. } => "queued",
            DeliveryEvent::Sending { .. } => "sending",
            DeliveryEvent::Sent { .. } => "sent",
            _ => "other",
        })
        .collect();
    assert_eq!(names, ["queued", "sending", "sent"], "{:?}", outcome.events);
    assert_eq!((outcome.summary.sent, outcome.summary.failed), (1, 0), "{:?}", outcome.summary);
}
