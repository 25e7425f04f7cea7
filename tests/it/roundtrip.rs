//! The bridge over the embedded default provider: what is sent is read back.

use g360_erp_bridge::{BridgeConfig, MailBridge};
use g360_mail_core::{Attachment, Folder, MailboxQuery, OutgoingMessage, ProviderRegistry};
use serde_json::json;

#[tokio::test]
async fn send_as_then_list_and_get_as_through_the_file_provider() {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = ProviderRegistry::new();
    g360_mail_file::register(&mut registry);
    let config = BridgeConfig::from_value(
        json!({
            "integrations": [{ "id": "local", "provider": "file", "directory": dir.path() }],
            "accounts": [{ "user": "jgarcia", "provider": "file", "address": "Juan García <jgarcia@contoso.com>" }],
        }),
        &registry,
    )
    .unwrap();
    let bridge = MailBridge::new(config, registry);
    let pdf =
        Attachment::new("factura.pdf", "application/pdf", b"%PDF-1.4 bytes".to_vec()).unwrap();
    let msg = OutgoingMessage::builder()
        .to("Cliente <cliente@example.com>")
        .unwrap()
        .subject("Factura 2026-0042 — ñandú")
        .text("Adjuntamos la factura.")
        .attach(pdf)
        .build()
        .unwrap();
    let receipt = bridge.send_as("jgarcia", msg.clone()).await.unwrap();
    assert_eq!(receipt.uid, msg.uid());

    let page = bridge.list_as("jgarcia", &MailboxQuery::folder(Folder::SentItems)).await.unwrap();
    assert_eq!(page.messages.len(), 1);
    let got = bridge.get_as("jgarcia", &page.messages[0].id).await.unwrap();
    assert_eq!(got.subject, "Factura 2026-0042 — ñandú");
    assert_eq!(got.from.as_ref().unwrap().addr(), "jgarcia@contoso.com");
    assert_eq!(got.internet_message_id.as_deref(), Some(receipt.internet_message_id.as_str()));
    assert_eq!(got.attachments[0].bytes.as_deref(), Some(&b"%PDF-1.4 bytes"[..]));
    assert_eq!(got.text.as_deref().map(str::trim_end), Some("Adjuntamos la factura."));
}
