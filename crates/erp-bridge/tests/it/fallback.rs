//! An account's fallback route, wired by the bridge.

use std::sync::Arc;

use g360_erp_bridge::{BridgeConfig, ConfigError, MailBridge};
use g360_mail_core::{
    Error, ErrorKind, Integration, MailProvider, MailboxAccess, MockMailProvider, OutgoingMessage,
    ProviderFactory, ProviderRegistry, Result,
};
use g360_mail_testkit::{Recorder, RecordingFactory};
use serde::Deserialize;
use serde_json::json;

/// A primary route that always fails the way its settings say.
struct BrokenFactory;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BrokenSettings {
    kind: String,
    #[serde(default)]
    not_delivered: bool,
}

impl ProviderFactory for BrokenFactory {
    type Settings = BrokenSettings;
    fn provider_type(&self) -> &'static str {
        "broken"
    }
    fn description(&self) -> &'static str {
        "always fails"
    }
    fn needs_secret(&self) -> bool {
        false
    }
    fn build(
        &self,
        _: &Integration,
        s: &BrokenSettings,
        _: &MailboxAccess,
    ) -> Result<Arc<dyn MailProvider>> {
        let kind = match s.kind.as_str() {
            "auth" => ErrorKind::Auth,
            "unavailable" => ErrorKind::Unavailable,
            _ => ErrorKind::OutcomeUnknown,
        };
        let not_delivered = s.not_delivered;
        let mut mock = MockMailProvider::new();
        mock.expect_provider_type().return_const("broken");
        mock.expect_capabilities().returning(|| {
            let mut c = g360_mail_core::Capabilities::send_only();
            c.html_body = true;
            c
        });
        mock.expect_send().returning(move |_| {
            let e = Error::new(kind, "primary failed").with_provider("broken");
            Err(if not_delivered { e.with_not_delivered() } else { e })
        });
        Ok(Arc::new(mock))
    }
}

/// A secret-needing fallback type, to check fallback_secret validation.
struct VaultFactory;

impl ProviderFactory for VaultFactory {
    type Settings = serde_json::Value;
    fn provider_type(&self) -> &'static str {
        "vault"
    }
    fn description(&self) -> &'static str {
        "needs a secret"
    }
    fn needs_secret(&self) -> bool {
        true
    }
    fn build(
        &self,
        _: &Integration,
        _: &serde_json::Value,
        a: &MailboxAccess,
    ) -> Result<Arc<dyn MailProvider>> {
        assert_eq!(a.secret.as_ref().map(|s| s.expose()), Some("relay-password"));
        Ok(Arc::new(MockMailProvider::new()))
    }
}

fn registry(recorder: &Recorder) -> ProviderRegistry {
    let mut r = ProviderRegistry::new();
    r.register(BrokenFactory);
    r.register(VaultFactory);
    r.register(RecordingFactory::new(recorder.clone()));
    r
}

fn bridge(recorder: &Recorder, kind: &str, not_delivered: bool) -> MailBridge {
    let registry = registry(recorder);
    let config = BridgeConfig::from_value(
        json!({
            "integrations": [
                { "id": "main", "provider": "broken", "kind": kind, "not_delivered": not_delivered },
                { "id": "backup", "provider": "recording" },
            ],
            "accounts": [{ "user": "u", "provider": "broken", "address": "u@contoso.com", "fallback": "backup" }],
        }),
        &registry,
    )
    .unwrap();
    MailBridge::new(config, registry)
}

fn message() -> OutgoingMessage {
    OutgoingMessage::builder().to("c@example.com").unwrap().subject("s").text("b").build().unwrap()
}

#[tokio::test]
async fn an_auth_failure_goes_to_the_fallback_and_the_receipt_says_why() {
    let recorder = Recorder::default();
    let receipt = bridge(&recorder, "auth", false).send_as("u", message()).await.unwrap();
    assert_eq!(receipt.route.as_deref(), Some("backup"));
    assert!(receipt.fallback_reason.as_deref().unwrap().contains("broken"), "{receipt:?}");
    assert_eq!(recorder.sent().len(), 1);
    assert_eq!(recorder.sent()[0].0, "u@contoso.com");
}

#[tokio::test]
async fn unavailable_goes_to_the_fallback_only_when_certainly_not_delivered() {
    let recorder = Recorder::default();
    bridge(&recorder, "unavailable", true).send_as("u", message()).await.unwrap();
    assert_eq!(recorder.sent().len(), 1);
    let recorder = Recorder::default();
    let err = bridge(&recorder, "unavailable", false).send_as("u", message()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(recorder.sent().is_empty());
}

#[tokio::test]
async fn outcome_unknown_never_goes_to_the_fallback() {
    let recorder = Recorder::default();
    let err = bridge(&recorder, "unknown", true).send_as("u", message()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown);
    assert!(recorder.sent().is_empty());
}

#[test]
fn a_fallback_needing_a_secret_requires_fallback_secret() {
    let registry = registry(&Recorder::default());
    let value = |extra: serde_json::Value| {
        let mut account = json!({ "user": "u", "provider": "broken", "address": "u@contoso.com", "fallback": "relay" });
        account.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({
            "integrations": [
                { "id": "main", "provider": "broken", "kind": "auth" },
                { "id": "relay", "provider": "vault" },
            ],
            "accounts": [account],
        })
    };
    let Err(ConfigError::Invalid { problems, .. }) =
        BridgeConfig::from_value(value(json!({})), &registry)
    else {
        panic!("expected a problem");
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "accounts[u].fallback_secret");
    let ok =
        BridgeConfig::from_value(value(json!({ "fallback_secret": "relay-password" })), &registry)
            .unwrap();
    let shown = ok.to_redacted_toml();
    assert!(
        !shown.contains("relay-password") && shown.contains("fallback_secret = \"[redacted]\""),
        "{shown}"
    );
    // The fallback provider is built with the fallback secret.
    let bridge = MailBridge::new(ok, registry);
    bridge.provider("u").unwrap();
}
