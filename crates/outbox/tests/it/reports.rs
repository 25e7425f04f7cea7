//! Delivery reports recorded against queued mail: once per report, with the
//! state precedence of `docs/bounces.md`, events, and the listings.

use g360_mail_core::{MessageUid, Timestamp};
use g360_mail_outbox::{
    DeliveryEvent, DeliveryState, RecipientRecord, ReportContent, ReportRecord,
};

use crate::util::{TestDb, fast_options, message};

fn recipient(address: &str, state: DeliveryState, status: &str) -> RecipientRecord {
    let mut r = RecipientRecord::new(address, state);
    r.status = Some(status.to_owned());
    r.diagnostic = Some(format!("550 {status} test"));
    r
}

fn parsed(
    uid: Option<g360_mail_core::MessageUid>,
    recipients: Vec<RecipientRecord>,
) -> ReportContent {
    ReportContent::Parsed {
        original_message_id: uid.map(|u| u.internet_message_id("contoso.example")),
        mail_uid: uid,
        original_subject: Some("Factura 2026-0042".into()),
        format: "rfc3464".into(),
        recipients,
    }
}

pub(crate) async fn reports_are_recorded_once_with_precedence(db: &TestDb) {
    let outbox = db.open(fast_options()).await;
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = events.clone();
    outbox.on_event(move |e| seen.lock().unwrap().push(e.clone()));
    let mail = message("Ana@Cliente.example");
    let uid = mail.uid();
    let id = outbox.enqueue("jgarcia", &mail).await.unwrap();
    let mailbox = "Facturas@Contoso.example";
    assert_eq!(outbox.report_cursor(mailbox).await.unwrap(), None);

    let delayed = ReportRecord::new(
        mailbox,
        "r1",
        "c1",
        parsed(Some(uid), vec![recipient("ana@cliente.example", DeliveryState::Delayed, "4.4.7")]),
    );
    let o = outbox.record_report(&delayed).await.unwrap();
    assert!(o.new && o.delayed == 1 && o.outbox_id == Some(id), "{o:?}");
    assert_eq!(
        outbox.report_cursor("facturas@contoso.example").await.unwrap().as_deref(),
        Some("c1")
    );
    // The same report again changes nothing.
    let again = outbox.record_report(&delayed).await.unwrap();
    assert!(!again.new && again.delayed == 0, "{again:?}");
    assert!(outbox.has_report(mailbox, "r1").await.unwrap());

    // A bounce replaces the delay; a later delay or delivery does not replace the bounce.
    let bounce = ReportRecord::new(
        mailbox,
        "r2",
        "c2",
        parsed(
            Some(uid),
            vec![
                recipient("ANA@cliente.example", DeliveryState::Bounced, "5.1.1"),
                recipient("alias@cliente.example", DeliveryState::Bounced, "5.1.1"),
            ],
        ),
    );
    let o = outbox.record_report(&bounce).await.unwrap();
    assert_eq!((o.bounced, o.unmatched), (2, 1), "{o:?}");
    let late = ReportRecord::new(
        mailbox,
        "r3",
        "c3",
        parsed(
            Some(uid),
            vec![recipient("ana@cliente.example", DeliveryState::Delivered, "2.0.0")],
        ),
    );
    assert_eq!(outbox.record_report(&late).await.unwrap().delivered, 0);
    let states = outbox.delivery_statuses(uid).await.unwrap();
    let ana = states.iter().find(|s| s.recipient.address == "ana@cliente.example").unwrap();
    assert_eq!(
        (ana.recipient.state, ana.recipient.status.as_deref(), ana.matched),
        (DeliveryState::Bounced, Some("5.1.1"), Some(true))
    );
    let alias = states.iter().find(|s| s.recipient.address == "alias@cliente.example").unwrap();
    assert_eq!(alias.matched, Some(false));

    // Unreadable and foreign reports are recorded, touching no mail.
    let junk = ReportRecord::new(
        mailbox,
        "r4",
        "c4",
        ReportContent::Unparseable { reason: "no-report-part".into() },
    );
    let o = outbox.record_report(&junk).await.unwrap();
    assert!(o.new && !o.unknown_mail && o.bounced == 0, "{o:?}");
    let foreign = ReportRecord::new(
        mailbox,
        "r5",
        "c5",
        parsed(None, vec![recipient("x@y.example", DeliveryState::Bounced, "5.1.1")]),
    );
    let o = outbox.record_report(&foreign).await.unwrap();
    assert!(o.unknown_mail && o.bounced == 0, "{o:?}");

    let bounced = outbox.list_with_delivery_state(DeliveryState::Bounced, 10).await.unwrap();
    assert_eq!(bounced.iter().map(|m| m.id).collect::<Vec<_>>(), [id]);
    assert!(outbox.list_with_delivery_state(DeliveryState::Delayed, 10).await.unwrap().is_empty());
    let recent = outbox.recent_reports(Timestamp::UNIX_EPOCH, 10).await.unwrap();
    assert_eq!(recent.len(), 5);
    assert_eq!(recent.iter().filter(|r| !r.parsed).count(), 1);
    assert!(recent.iter().filter(|r| r.mail_uid.is_some()).all(|r| r.outbox_id == Some(id)));

    let names: Vec<&'static str> = events.lock().unwrap().iter().map(DeliveryEvent::name).collect();
    assert_eq!(names.iter().filter(|n| **n == "bounced").count(), 2, "{names:?}");
    assert_eq!(names.iter().filter(|n| **n == "delayed").count(), 1, "{names:?}");
    // The foreign report (no uid) emitted nothing: every event is `uid`'s.
    assert!(events.lock().unwrap().iter().all(|e| e.id() == Some(id) && e.uid() == uid));
    assert_eq!(outbox.report_cursor(mailbox).await.unwrap().as_deref(), Some("c5"));

    // A mail sent directly (never queued) is tied by the uid of its
    // Message-ID: its events carry the uid and no outbox id.
    events.lock().unwrap().clear();
    let direct = MessageUid::new_random();
    let report = ReportRecord::new(
        mailbox,
        "r6",
        "c6",
        parsed(
            Some(direct),
            vec![
                recipient("luis@cliente.example", DeliveryState::Bounced, "5.2.2"),
                recipient("eva@cliente.example", DeliveryState::Delayed, "4.4.7"),
            ],
        ),
    );
    let o = outbox.record_report(&report).await.unwrap();
    assert_eq!((o.bounced, o.delayed, o.outbox_id), (1, 1, None), "{o:?}");
    let got = events.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|e| e.id().is_none() && e.uid() == direct), "{got:?}");
    assert!(
        got.iter().any(|e| matches!(e, DeliveryEvent::Bounced { address, status: Some(s), .. }
        if address == "luis@cliente.example" && s == "5.2.2"))
    );
    assert!(got.iter().any(|e| matches!(e, DeliveryEvent::Delayed { address, .. }
        if address == "eva@cliente.example")));
    // Read again, the same report changes nothing and emits nothing.
    assert!(!outbox.record_report(&report).await.unwrap().new);
    assert_eq!(events.lock().unwrap().len(), 2);

    // One reader per mailbox at a time; a released lease is free again.
    let ttl = std::time::Duration::from_secs(60);
    assert!(outbox.lease_report_sync(mailbox, "node-a", ttl).await.unwrap());
    assert!(!outbox.lease_report_sync(mailbox, "node-b", ttl).await.unwrap());
    assert!(outbox.lease_report_sync(mailbox, "node-a", ttl).await.unwrap(), "renewed");
    outbox.release_report_sync(mailbox, "node-b").await.unwrap();
    assert!(!outbox.lease_report_sync(mailbox, "node-b", ttl).await.unwrap(), "not b's to give");
    outbox.release_report_sync(mailbox, "node-a").await.unwrap();
    assert!(outbox.lease_report_sync(mailbox, "node-b", ttl).await.unwrap());
    assert!(outbox.lease_report_sync("other@contoso.example", "node-a", ttl).await.unwrap());
    assert_eq!(outbox.report_cursor("other@contoso.example").await.unwrap(), None);
    assert_eq!(outbox.report_cursor(mailbox).await.unwrap().as_deref(), Some("c6"), "kept");
}
