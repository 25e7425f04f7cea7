//! Sending: the exact JSON, the receipt, headers, sizes, the large path.

use expect_test::expect;
use g360_mail_core::{
    Attachment, ErrorKind, Importance, MailProvider, MessageUid, OutgoingMessage,
};
use g360_mail_o365::UID_PROPERTY_ID;
use g360_mail_testkit::graph::{Endpoint, MAIL_READ_WRITE, SendVia};

use crate::util::*;

fn full_message() -> OutgoingMessage {
    let pdf =
        Attachment::new("INV-2026-0042.pdf", "application/pdf", b"%PDF-1.7 fake".to_vec()).unwrap();
    let logo = Attachment::new("logo.png", "image/png", vec![0x89, b'P', b'N', b'G'])
        .unwrap()
        .inline("logo@g360")
        .unwrap();
    OutgoingMessage::builder()
        .uid(MessageUid::parse("0f8fad5b-d9cb-469f-a165-70867728950e").unwrap())
        .to("Accounts Payable <ap@contoso.example>")
        .unwrap()
        .to("buyer@supplier.example")
        .unwrap()
        .cc("Jefe <boss@contoso.example>")
        .unwrap()
        .bcc("archive@contoso.example")
        .unwrap()
        .reply_to("billing@contoso.example")
        .unwrap()
        .subject("Factura 2026-0042")
        .text("Adjuntamos la factura.")
        .html("<p>Adjuntamos la factura. <img src=\"cid:logo@g360\"></p>")
        .attach(pdf)
        .attach(logo)
        .header("X-G360-Document", "INV-2026-0042")
        .importance(Importance::High)
        .build()
        .unwrap()
}

#[tokio::test]
async fn sends_the_documented_json_with_every_field() {
    let env = env().await;
    let p = env.provider();
    let msg = full_message();
    let receipt = p.send(&msg).await.unwrap();

    let reqs = env.emu.requests_to(Endpoint::SendMail);
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!(req.path, format!("/v1.0/users/{ERP}/sendMail"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.header("authorization"), Some("Bearer"));
    let json = serde_json::to_string_pretty(req.body_json.as_ref().unwrap()).unwrap();
    expect![[r##"
        {
          "message": {
            "attachments": [
              {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "contentBytes": "JVBERi0xLjcgZmFrZQ==",
                "contentType": "application/pdf",
                "isInline": false,
                "name": "INV-2026-0042.pdf"
              },
              {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "contentBytes": "iVBORw==",
                "contentId": "logo@g360",
                "contentType": "image/png",
                "isInline": true,
                "name": "logo.png"
              }
            ],
            "bccRecipients": [
              {
                "emailAddress": {
                  "address": "archive@contoso.example"
                }
              }
            ],
            "body": {
              "content": "<p>Adjuntamos la factura. <img src=\"cid:logo@g360\"></p>",
              "contentType": "html"
            },
            "ccRecipients": [
              {
                "emailAddress": {
                  "address": "boss@contoso.example",
                  "name": "Jefe"
                }
              }
            ],
            "importance": "high",
            "internetMessageHeaders": [
              {
                "name": "X-G360-Document",
                "value": "INV-2026-0042"
              }
            ],
            "internetMessageId": "<0f8fad5bd9cb469fa16570867728950e@contoso.example>",
            "replyTo": [
              {
                "emailAddress": {
                  "address": "billing@contoso.example"
                }
              }
            ],
            "singleValueExtendedProperties": [
              {
                "id": "String {6f1c9a52-3b7e-4d8a-9c21-5e0b7d4a8f13} Name G360MailUid",
                "value": "0f8fad5b-d9cb-469f-a165-70867728950e"
              }
            ],
            "subject": "Factura 2026-0042",
            "toRecipients": [
              {
                "emailAddress": {
                  "address": "ap@contoso.example",
                  "name": "Accounts Payable"
                }
              },
              {
                "emailAddress": {
                  "address": "buyer@supplier.example"
                }
              }
            ]
          },
          "saveToSentItems": true
        }"##]]
    .assert_eq(&json);

    // The receipt carries Graph's request-id, our client-request-id and the
    // Internet Message-ID; the mail went out once and sits in Sent Items
    // with our id and extended property.
    assert_eq!(receipt.internet_message_id, "<0f8fad5bd9cb469fa16570867728950e@contoso.example>");
    assert_eq!(receipt.uid, msg.uid());
    assert!(receipt.request_id.as_deref().is_some_and(|r| !r.is_empty()));
    assert_eq!(receipt.client_request_id.as_deref(), req.header("client-request-id"));
    assert!(!receipt.recovered);
    assert_eq!(receipt.provider, "office365");
    assert_eq!(env.emu.count_sent_with_internet_message_id(&receipt.internet_message_id), 1);
    let sent = env.emu.sent_items(ERP);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].internet_message_id, receipt.internet_message_id);
    assert_eq!(sent[0].extended_property(UID_PROPERTY_ID), Some(msg.uid().to_string().as_str()));
    assert_eq!(env.emu.inbox(AP).len(), 1);
}

#[tokio::test]
async fn text_only_mail_and_unique_message_ids() {
    let env = env().await;
    let p = env.provider();
    let a = p.send(&simple("uno")).await.unwrap();
    let b = p.send(&simple("dos")).await.unwrap();
    assert_ne!(a.internet_message_id, b.internet_message_id);
    let reqs = env.emu.requests_to(Endpoint::SendMail);
    let body = &reqs[0].body_json.as_ref().unwrap()["message"]["body"];
    assert_eq!(body["contentType"], "text");
    assert_eq!(body["content"], "hola");
    assert_ne!(reqs[0].header("client-request-id"), reqs[1].header("client-request-id"));
}

#[tokio::test]
async fn non_x_headers_never_reach_graph() {
    let env = env().await;
    let err = OutgoingMessage::builder()
        .to(AP)
        .unwrap()
        .header("List-Unsubscribe", "<mailto:x@y.z>")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.code(), Some("message.header-invalid"));
    assert_eq!(env.send_requests(), 0);
}

#[tokio::test]
async fn a_message_over_the_request_limit_is_refused_before_sending() {
    let env = env().await;
    let p = env.provider();
    // 3.2 MB of attachment is 4.3 MB of base64.
    let big = Attachment::new("big.bin", "application/octet-stream", vec![7u8; 3_200_000]).unwrap();
    let msg = OutgoingMessage::builder().to(AP).unwrap().attach(big).build().unwrap();
    let err = p.send(&msg).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.code(), Some("o365.message-too-large"));
    assert!(err.remedy().unwrap().contains("Mail.ReadWrite"));
    assert!(err.is_not_delivered());
    assert_eq!(err.context_value("delivered"), Some("no"));
    assert_eq!(env.send_requests(), 0);
    assert!(env.emu.deliveries().is_empty());

    // Just under the limit goes through sendMail.
    let ok = Attachment::new("ok.bin", "application/octet-stream", vec![7u8; 3_000_000]).unwrap();
    let msg = OutgoingMessage::builder().to(AP).unwrap().attach(ok).build().unwrap();
    p.send(&msg).await.unwrap();
    assert_eq!(env.send_requests(), 1);
}

#[tokio::test]
async fn large_attachments_take_the_draft_and_upload_session_path_with_mail_readwrite() {
    let env = env().await;
    env.emu.update_app(&env.setup.client_id, |app| app.roles.push(MAIL_READ_WRITE.into()));
    let p = env.provider();
    let bytes: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    let big = Attachment::new("big.pdf", "application/pdf", bytes.clone()).unwrap();
    let small = Attachment::new("small.txt", "text/plain", b"hola".to_vec()).unwrap();
    let msg = OutgoingMessage::builder()
        .to(AP)
        .unwrap()
        .subject("grande")
        .text("adjunto grande")
        .attach(big)
        .attach(small)
        .build()
        .unwrap();
    let receipt = p.send(&msg).await.unwrap();
    assert!(!receipt.recovered);
    assert_eq!(env.send_requests(), 0);
    assert_eq!(env.emu.requests_to(Endpoint::CreateDraft).len(), 1);
    assert_eq!(env.emu.requests_to(Endpoint::CreateUploadSession).len(), 1);
    assert_eq!(env.emu.requests_to(Endpoint::AddAttachment).len(), 1);
    let chunks = env.emu.requests_to(Endpoint::UploadChunk);
    assert_eq!(chunks.len(), 3);
    assert!(
        chunks.iter().all(|c| c.header("authorization").is_none() && c.body_len <= 4 * 1024 * 1024)
    );
    assert_eq!(chunks[0].header("content-range"), Some("bytes 0-1966079/5000000"));
    let deliveries = env.emu.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].via, SendVia::Draft);
    assert_eq!(deliveries[0].internet_message_id, receipt.internet_message_id);
    let sent = env.emu.sent_items(ERP);
    let att = sent[0].attachments.iter().find(|a| a.name == "big.pdf").unwrap();
    assert_eq!(att.bytes, bytes);
    assert!(env.emu.drafts(ERP).is_empty());
}

#[tokio::test]
async fn bodies_built_in_reused_buffers_arrive_intact() {
    let env = env().await;
    let p = env.provider();
    // Each body is written into the buffer of an earlier send (the first is
    // the largest): what that buffer held must never reach Graph.
    let mut sizes = Vec::new();
    for (i, len) in [900_000usize, 300_000, 600_000, 900_000, 450_001].into_iter().enumerate() {
        let bytes: Vec<u8> = (0..len).map(|j| (j * 7 + i * 13) as u8).collect();
        let att = Attachment::new(format!("f{i}.pdf"), "application/pdf", bytes.clone()).unwrap();
        let msg = OutgoingMessage::builder()
            .to(AP)
            .unwrap()
            .subject(format!("envío {i}"))
            .attach(att)
            .build()
            .unwrap();
        p.send(&msg).await.unwrap();
        let sent = env.emu.sent_items(ERP);
        let got = sent.iter().find(|m| m.subject == format!("envío {i}")).unwrap();
        assert_eq!(got.attachments.len(), 1);
        assert!(got.attachments[0].bytes == bytes, "attachment {i} ({len} bytes) differs");
        // The request is over: its buffer waits in the factory for the next.
        assert!(format!("{:?}", env.factory).contains("body_buffers: 1"), "{:?}", env.factory);
        sizes.push(env.emu.requests_to(Endpoint::SendMail).last().unwrap().body_len);
    }
    assert!(sizes[1] < sizes[0] && sizes[2] > sizes[1], "{sizes:?}");
    // The exact-body helper builds in a pool of its own: the body is the
    // caller's, and the sends' buffer stays where it is.
    let att = Attachment::new("g.pdf", "application/pdf", vec![1u8; 500_000]).unwrap();
    let msg = OutgoingMessage::builder().to(AP).unwrap().attach(att).build().unwrap();
    assert!(p.send_mail_body(&msg).unwrap().len() > 600_000);
    assert!(format!("{:?}", env.factory).contains("body_buffers: 1"), "{:?}", env.factory);
}
