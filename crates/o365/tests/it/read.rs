//! Reading: paging, filters, bodies, attachments, MIME, delta.

use g360_mail_core::{Folder, Importance, MailProvider, MailboxQuery, Timestamp};
use g360_mail_o365::BodyFormat;
use g360_mail_testkit::graph::{EmailAddress as E, Endpoint, FileAttachment, MailMessage};

use crate::util::*;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_780_000_000 + secs).unwrap()
}

fn seed(env: &Env, n: i64) -> Vec<String> {
    env.emu.seed_inbox(
        ERP,
        (0..n).map(|i| {
            MailMessage::new(format!("PO {i}"))
                .with_from(E::named("buyer@supplier.example", "Buyer"))
                .with_to(E::new(ERP))
                .with_text_body(format!("pedido {i}"))
                .with_received_at(at(i * 60))
                .with_read(i % 2 == 0)
                .with_internet_message_id(format!("<po{i}@supplier.example>"))
        }),
    )
}

#[tokio::test]
async fn lists_newest_first_following_next_links() {
    let env = env().await;
    seed(&env, 25);
    let p = env.provider();
    let mut subjects = Vec::new();
    let mut query = MailboxQuery::folder(Folder::Inbox).page_size(10);
    let mut pages = 0;
    loop {
        let page = p.list_messages(&query).await.unwrap();
        pages += 1;
        subjects.extend(page.messages.iter().map(|m| m.subject.clone()));
        match page.continuation {
            Some(c) => query = MailboxQuery::folder(Folder::Inbox).page_size(10).continuation(c),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..25).rev().map(|i| format!("PO {i}")).collect();
    assert_eq!(subjects, expected);
    let first = &env.emu.requests_to(Endpoint::ListMessages)[0];
    assert_eq!(first.query_param("$top").as_deref(), Some("10"));
    assert_eq!(first.query_param("$orderby").as_deref(), Some("receivedDateTime desc"));
    assert!(first.query_param("$select").unwrap().contains("internetMessageId"));
    assert!(first.header("prefer").unwrap().contains("IdType=\"ImmutableId\""));

    // A continuation that points elsewhere is refused (the token stays home).
    let bad = MailboxQuery::default().continuation("https://evil.example/v1.0/users/x/messages");
    assert_eq!(p.list_messages(&bad).await.unwrap_err().code(), Some("o365.bad-continuation"));
}

#[tokio::test]
async fn filters_unread_since_and_message_id() {
    let env = env().await;
    seed(&env, 10);
    let p = env.provider();
    let unread = p.list_messages(&MailboxQuery::default().unread_only(true)).await.unwrap();
    assert_eq!(unread.messages.len(), 5);
    assert!(unread.messages.iter().all(|m| !m.is_read));
    assert_eq!(unread.messages[0].subject, "PO 9");

    let since = p.list_messages(&MailboxQuery::default().since(at(7 * 60))).await.unwrap();
    assert_eq!(
        since.messages.iter().map(|m| m.subject.as_str()).collect::<Vec<_>>(),
        ["PO 9", "PO 8", "PO 7"]
    );

    let both = p
        .list_messages(&MailboxQuery::default().since(at(6 * 60)).unread_only(true))
        .await
        .unwrap();
    assert_eq!(
        both.messages.iter().map(|m| m.subject.as_str()).collect::<Vec<_>>(),
        ["PO 9", "PO 7"]
    );

    let one = p
        .list_messages(&MailboxQuery::default().internet_message_id("<po3@supplier.example>"))
        .await
        .unwrap();
    assert_eq!(one.messages.len(), 1);
    assert_eq!(one.messages[0].subject, "PO 3");
    assert_eq!(one.messages[0].internet_message_id.as_deref(), Some("<po3@supplier.example>"));
}

#[tokio::test]
async fn gets_a_message_with_bodies_addresses_and_attachments() {
    let env = env().await;
    let mut m = MailMessage::new("Factura")
        .with_from(E::named("buyer@supplier.example", "Buyer"))
        .with_to(E::named(ERP, "ERP"))
        .with_cc(E::new("boss@contoso.example"))
        .with_html_body("<p>Hola <b>mundo</b> <img src=\"cid:logo@x\"></p>")
        .with_importance("high")
        .with_read(true)
        .with_received_at(at(0))
        .with_internet_message_id("<f1@supplier.example>")
        .with_attachment(FileAttachment::new("f.pdf", "application/pdf", b"%PDF-1.4 x".to_vec()))
        .with_attachment(
            FileAttachment::new("logo.png", "image/png", vec![1, 2, 3]).inline("logo@x"),
        );
    m.reply_to = vec![E::new("billing@supplier.example")];
    m.sent_at = Some(at(-30));
    let id = env.emu.seed_inbox(ERP, [m]).remove(0);
    let p = env.provider();
    let msg = p.get_message(&id).await.unwrap();
    // Ids come back immutable (Prefer: IdType="ImmutableId") and work as well.
    assert!(!msg.id.is_empty());
    assert_eq!(p.get_message_with(&msg.id, BodyFormat::Html).await.unwrap().subject, "Factura");
    assert_eq!(msg.subject, "Factura");
    assert_eq!(msg.from.as_ref().unwrap().to_string(), "Buyer <buyer@supplier.example>");
    assert_eq!(msg.to[0].addr(), ERP);
    assert_eq!(msg.cc[0].addr(), "boss@contoso.example");
    assert_eq!(msg.reply_to[0].addr(), "billing@supplier.example");
    assert_eq!(msg.importance, Importance::High);
    assert!(msg.is_read);
    assert_eq!(msg.received_at, Some(at(0)));
    assert_eq!(msg.sent_at, Some(at(-30)));
    assert_eq!(msg.internet_message_id.as_deref(), Some("<f1@supplier.example>"));
    assert!(msg.html.as_deref().unwrap().contains("<b>mundo</b>"));
    assert!(msg.text.as_deref().unwrap().contains("mundo"));
    assert!(!msg.text.as_deref().unwrap().contains("<b>"));
    assert!(msg.has_attachments);
    assert_eq!(msg.attachments.len(), 2);
    let pdf = msg.attachments.iter().find(|a| a.name == "f.pdf").unwrap();
    assert_eq!(pdf.bytes.as_deref(), Some(&b"%PDF-1.4 x"[..]));
    assert_eq!(pdf.content_type, "application/pdf");
    let logo = msg.attachments.iter().find(|a| a.name == "logo.png").unwrap();
    assert!(logo.inline);
    assert_eq!(logo.content_id.as_deref(), Some("logo@x"));
    assert_eq!(logo.bytes.as_deref(), Some(&[1u8, 2, 3][..]));
    let gets = env.emu.requests_to(Endpoint::GetMessage);
    assert!(gets.iter().all(|g| g.header("prefer").unwrap().contains("IdType=\"ImmutableId\"")));
    assert!(gets[0].header("prefer").unwrap().contains("outlook.body-content-type=\"html\""));
    assert!(gets[1].header("prefer").unwrap().contains("outlook.body-content-type=\"text\""));

    let text_only = p.get_message_with(&id, BodyFormat::Text).await.unwrap();
    assert!(text_only.html.is_none() && text_only.text.is_some());

    let raw = p.raw_message(&id).await.unwrap();
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.contains("Subject: Factura"), "{raw}");
    assert!(raw.contains("<f1@supplier.example>"));
}

#[tokio::test]
async fn delta_sync_hands_back_an_opaque_token_and_restarts_when_it_expires() {
    let env = env().await;
    env.emu.configure(|o| o.default_page_size = 4);
    let ids = seed(&env, 6);
    let p = env.provider();
    let first = p.delta(&Folder::Inbox, None).await.unwrap();
    assert_eq!(first.changed.len(), 6);
    assert!(first.removed.is_empty());
    assert!(!first.restarted);
    assert!(!first.token.is_empty());

    let nothing = p.delta(&Folder::Inbox, Some(&first.token)).await.unwrap();
    assert!(nothing.changed.is_empty() && nothing.removed.is_empty());

    env.emu.seed_inbox(ERP, [MailMessage::new("nuevo").with_text_body("x")]);
    assert!(env.emu.delete_message(ERP, &ids[0]));
    let round = p.delta(&Folder::Inbox, Some(&nothing.token)).await.unwrap();
    assert_eq!(round.changed.iter().map(|m| m.subject.as_str()).collect::<Vec<_>>(), ["nuevo"]);
    assert_eq!(round.removed.len(), 1);

    env.emu.invalidate_delta_tokens();
    let again = p.delta(&Folder::Inbox, Some(&round.token)).await.unwrap();
    assert!(again.restarted);
    assert_eq!(again.changed.len(), 6);
}

#[tokio::test]
async fn a_page_with_bodies_takes_one_request_per_page() {
    let env = env().await;
    env.emu.seed_inbox(
        ERP,
        (0..5).map(|i| {
            let m = MailMessage::new(format!("PO {i}"))
                .with_from(E::new("buyer@supplier.example"))
                .with_received_at(at(i * 60));
            if i % 2 == 0 {
                m.with_html_body(format!("<p>pedido <b>{i}</b></p>"))
            } else {
                m.with_text_body(format!("pedido {i}"))
            }
        }),
    );
    let p = env.provider();
    let query = MailboxQuery::folder(Folder::Inbox).page_size(3).with_bodies(true);
    let mut page = p.list_messages(&query).await.unwrap();
    let mut messages = page.messages;
    while let Some(c) = page.continuation {
        page = p.list_messages(&query.clone().continuation(c)).await.unwrap();
        messages.extend(page.messages);
    }
    assert_eq!(messages.len(), 5);
    for m in &messages {
        let i: u32 = m.subject.trim_start_matches("PO ").parse().unwrap();
        // HTML mail comes rendered as text, as Graph renders it.
        assert_eq!(m.text.as_deref().map(str::trim), Some(format!("pedido {i}").as_str()));
        assert_eq!(m.html, None);
    }
    let lists = env.emu.requests_to(Endpoint::ListMessages);
    assert_eq!(lists.len(), 2, "one request per page");
    assert!(env.emu.requests_to(Endpoint::GetMessage).is_empty(), "no request per message");
    for r in &lists {
        assert!(r.query_param("$select").unwrap().split(',').any(|f| f == "body"));
        assert!(r.header("prefer").unwrap().contains("outlook.body-content-type=\"text\""));
    }

    // Without the option, pages stay without bodies.
    let page = p.list_messages(&MailboxQuery::folder(Folder::Inbox)).await.unwrap();
    assert!(page.messages.iter().all(|m| m.text.is_none() && m.html.is_none()));
}
