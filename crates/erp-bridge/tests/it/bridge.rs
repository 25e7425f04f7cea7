//! MailBridge: accounts to providers, capabilities, caching.

use g360_erp_bridge::{BridgeConfig, MailBridge};
use g360_mail_core::{
    Attachment, ErrorKind, MailboxQuery, OutgoingMessage, ProviderRegistry, VerifyOptions,
};
use g360_mail_testkit::{Recorder, RecordingFactory};
use serde_json::json;

fn bridge(recorder: &Recorder, accounts: serde_json::Value) -> MailBridge {
    let mut registry = ProviderRegistry::new();
    registry.register(RecordingFactory::new(recorder.clone()));
    let config = BridgeConfig::from_value(
        json!({ "integrations": [{ "id": "rec", "provider": "recording" }], "accounts": accounts }),
        &registry,
    )
    .unwrap();
    MailBridge::new(config, registry)
}

fn message() -> OutgoingMessage {
    OutgoingMessage::builder()
        .to("cliente@example.com")
        .unwrap()
        .subject("Factura")
        .text("Hola")
        .build()
        .unwrap()
}

#[tokio::test]
async fn send_as_uses_the_account_address_and_names_the_route() {
    let recorder = Recorder::default();
    let b = bridge(
        &recorder,
        json!([{ "user": "jgarcia", "provider": "recording", "address": "Juan <jgarcia@contoso.com>" }]),
    );
    let msg = message();
    let uid = msg.uid();
    let receipt = b.send_as("jgarcia", msg).await.unwrap();
    assert_eq!(receipt.uid, uid);
    assert_eq!(receipt.route.as_deref(), Some("rec"));
    let sent = recorder.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.from().unwrap().addr(), "jgarcia@contoso.com");
    assert_eq!(sent[0].1.from().unwrap().name(), Some("Juan"));
}

#[tokio::test]
async fn a_message_with_its_own_sender_keeps_it() {
    let recorder = Recorder::default();
    let b = bridge(
        &recorder,
        json!([{ "user": "u", "provider": "recording", "address": "u@contoso.com" }]),
    );
    let msg = OutgoingMessage::builder()
        .from("facturas@contoso.com")
        .unwrap()
        .to("c@example.com")
        .unwrap()
        .build()
        .unwrap();
    b.send_as("u", msg).await.unwrap();
    assert_eq!(recorder.sent()[0].1.from().unwrap().addr(), "facturas@contoso.com");
}

#[tokio::test]
async fn unknown_user_lists_the_known_ones() {
    let b = bridge(
        &Recorder::default(),
        json!([{ "user": "u", "provider": "recording", "address": "u@contoso.com" }]),
    );
    let err = b.send_as("nadie", message()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(err.context_value("known users"), Some("u"));
    assert!(err.remedy().is_some());
}

#[tokio::test]
async fn default_user_needs_exactly_one_account() {
    let one = bridge(
        &Recorder::default(),
        json!([{ "user": "u", "provider": "recording", "address": "u@contoso.com" }]),
    );
    assert_eq!(one.default_user().unwrap(), "u");
    let two = bridge(
        &Recorder::default(),
        json!([
            { "user": "a", "provider": "recording", "address": "a@contoso.com" },
            { "user": "b", "provider": "recording", "address": "b@contoso.com" },
        ]),
    );
    let err = two.default_user().unwrap_err();
    assert_eq!(err.code(), Some("bridge.user-required"));
    assert_eq!(err.context_value("users"), Some("a, b"));
    let none = bridge(&Recorder::default(), json!([]));
    assert_eq!(none.default_user().unwrap_err().kind(), ErrorKind::Config);
}

#[tokio::test]
async fn providers_are_built_once_per_account() {
    let b = bridge(
        &Recorder::default(),
        json!([{ "user": "u", "provider": "recording", "address": "u@contoso.com" }]),
    );
    let p1 = b.provider("u").unwrap();
    let p2 = b.provider("u").unwrap();
    assert!(std::sync::Arc::ptr_eq(&p1, &p2));
}

#[tokio::test]
async fn reading_on_a_send_only_provider_is_unsupported_not_empty() {
    let b = bridge(
        &Recorder::default(),
        json!([{ "user": "u", "provider": "recording", "address": "u@contoso.com" }]),
    );
    let err = b.list_as("u", &MailboxQuery::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let err = b.get_as("u", "x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let report = b.verify("u", &VerifyOptions::default()).await.unwrap();
    assert!(report.passed());
}

#[tokio::test]
async fn capabilities_are_checked_before_sending() {
    use g360_mail_core::{Capabilities, MockMailProvider};
    use std::sync::Arc;

    // A provider that sends plain text only: inline parts are refused by the
    // bridge without calling send at all.
    struct PlainFactory;
    impl g360_mail_core::ProviderFactory for PlainFactory {
        type Settings = serde_json::Value;
        fn provider_type(&self) -> &'static str {
            "plain"
        }
        fn description(&self) -> &'static str {
            "plain text only"
        }
        fn needs_secret(&self) -> bool {
            false
        }
        fn build(
            &self,
            _: &g360_mail_core::Integration,
            _: &serde_json::Value,
            _: &g360_mail_core::MailboxAccess,
        ) -> g360_mail_core::Result<Arc<dyn g360_mail_core::MailProvider>> {
            let mut mock = MockMailProvider::new();
            let mut caps = Capabilities::send_only();
            caps.max_message_bytes = Some(10);
            mock.expect_capabilities().return_const(caps);
            mock.expect_provider_type().return_const("plain");
            mock.expect_send().never();
            Ok(Arc::new(mock))
        }
    }
    let mut registry = ProviderRegistry::new();
    registry.register(PlainFactory);
    let config = BridgeConfig::from_value(
        json!({ "integrations": [{ "id": "p", "provider": "plain" }],
                "accounts": [{ "user": "u", "provider": "plain", "address": "u@x.com" }] }),
        &registry,
    )
    .unwrap();
    let b = MailBridge::new(config, registry);
    let html = OutgoingMessage::builder().to("a@b.c").unwrap().html("<p>x</p>").build().unwrap();
    assert_eq!(b.send_as("u", html).await.unwrap_err().kind(), ErrorKind::Unsupported);
    let pdf = Attachment::new("a.pdf", "application/pdf", vec![0; 4]).unwrap();
    let att = OutgoingMessage::builder().to("a@b.c").unwrap().attach(pdf).build().unwrap();
    assert_eq!(b.send_as("u", att).await.unwrap_err().kind(), ErrorKind::Unsupported);
    let big = OutgoingMessage::builder()
        .to("a@b.c")
        .unwrap()
        .text("more than ten bytes")
        .build()
        .unwrap();
    let err = b.send_as("u", big).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.code(), Some("message.too-large"));
}
