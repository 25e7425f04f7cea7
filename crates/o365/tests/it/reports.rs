//! Delivery reports: the Inbox filtered on the report message class, oldest
//! first, read receipts and ordinary mail left out, resumed from a watermark.

use g360_mail_core::{MailProvider, OutgoingMessage, ReportCursor, ReportQuery, Timestamp};
use g360_mail_testkit::graph::{
    EmailAddress as E, Endpoint, Fault, FaultMatch, MESSAGE_CLASS_PROPERTY, MailMessage, NDR_CLASS,
};

use crate::util::*;

#[tokio::test]
async fn lists_the_reports_exchange_writes_and_nothing_else() {
    let env = env().await;
    let p = env.provider();
    assert!(p.capabilities().delivery_reports);
    // Unknown in the tenant's own domain: Exchange answers with an NDR.
    let mail = OutgoingMessage::builder()
        .to("nadie@contoso.example")
        .unwrap()
        .subject("Factura 9")
        .text("hola")
        .build()
        .unwrap();
    p.send(&mail).await.unwrap();
    let two_hours_ago = Timestamp::now().checked_sub(jiff::SignedDuration::from_hours(2)).unwrap();
    env.emu.seed_inbox(
        ERP,
        [
            MailMessage::new("Read: Factura 8")
                .with_extended_property(MESSAGE_CLASS_PROPERTY, "REPORT.IPM.Note.IPNRN"),
            MailMessage::new("Pedido 7").with_from(E::new("buyer@supplier.example")),
            MailMessage::new("Undeliverable: old")
                .with_received_at(two_hours_ago)
                .with_extended_property(MESSAGE_CLASS_PROPERTY, NDR_CLASS),
        ],
    );

    let page = p.list_delivery_reports(&ReportQuery::default()).await.unwrap();
    assert_eq!(page.reports.len(), 2, "{page:?}");
    assert!(page.reports[0].received_at < page.reports[1].received_at, "oldest first");
    let ndr = &page.reports[1];
    let raw = String::from_utf8(p.raw_message(&ndr.id).await.unwrap()).unwrap();
    assert!(raw.contains("X-MS-Exchange-Message-Is-Ndr"), "{raw}");
    assert!(raw.contains("report-type=delivery-status"), "{raw}");
    assert!(raw.contains("Status: 5.1.10"), "{raw}");
    assert!(raw.contains(&mail.uid().internet_message_id("contoso.example")), "{raw}");

    let request = &env.emu.requests_to(Endpoint::ListMessages)[0];
    let filter = request.query_param("$filter").unwrap();
    assert!(filter.starts_with("receivedDateTime ge "), "{filter}");
    assert!(filter.contains("startswith(ep/value, 'REPORT.IPM.Note.')"), "{filter}");
    assert_eq!(request.query_param("$orderby").as_deref(), Some("receivedDateTime asc"));

    // After the newest: only what arrived within the overlap comes back.
    let after = ReportQuery::after(Some(ndr.cursor.clone()));
    let again = p.list_delivery_reports(&after).await.unwrap();
    assert_eq!(again.reports.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [ndr.id.as_str()]);
    let bad = ReportQuery::after(Some(ReportCursor::new("yesterday")));
    assert_eq!(p.list_delivery_reports(&bad).await.unwrap_err().code(), Some("query.continuation"));

    // A mailbox that refuses the class filter: the Inbox, filtered here.
    env.emu.reset_records();
    env.emu.push_fault(
        FaultMatch::endpoint(Endpoint::ListMessages),
        Fault::status(
            400,
            "InefficientFilter",
            "The restriction or sort order is too complex for this operation.",
        ),
        1,
    );
    let fallback = p.list_delivery_reports(&ReportQuery::default()).await.unwrap();
    assert_eq!(fallback.reports, page.reports);
    let requests = env.emu.requests_to(Endpoint::ListMessages);
    assert_eq!(requests.len(), 2);
    let plain = requests[1].query_param("$filter").unwrap();
    assert!(!plain.contains("singleValueExtendedProperties"), "{plain}");
}
