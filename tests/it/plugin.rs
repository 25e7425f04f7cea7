//! A provider written outside core and the bridge plugs in with one
//! `register` call and works through the bridge.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use g360_erp_bridge::{BridgeConfig, ConfigError, MailBridge};
use g360_mail_core::{
    Capabilities, Check, ConfigProblem, Error, ErrorKind, Integration, MailProvider, MailboxAccess,
    MailboxQuery, MessagePage, OutgoingMessage, ProviderFactory, ProviderRegistry, ReceivedMessage,
    Result, SendReceipt, VerifyOptions, VerifyReport,
};
use serde::Deserialize;
use serde_json::json;

/// A carrier-pigeon provider: the kind of thing an ERP partner might add.
#[derive(Debug)]
struct Pigeon {
    loft: String,
    flown: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl MailProvider for Pigeon {
    fn provider_type(&self) -> &'static str {
        "pigeon"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::send_only()
    }
    async fn send(&self, message: &OutgoingMessage) -> Result<SendReceipt> {
        self.flown.lock().unwrap().push(format!("{} -> {}", self.loft, message.subject()));
        Ok(SendReceipt::new(
            "pigeon",
            message.uid(),
            message.uid().internet_message_id("loft.example"),
        ))
    }
    async fn list_messages(&self, _: &MailboxQuery) -> Result<MessagePage> {
        Err(Error::unsupported("pigeon", "read mail"))
    }
    async fn get_message(&self, _: &str) -> Result<ReceivedMessage> {
        Err(Error::unsupported("pigeon", "read mail"))
    }
    async fn verify(&self, _: &VerifyOptions) -> Result<VerifyReport> {
        let mut r = VerifyReport::new("pigeon");
        r.push(Check::pass("loft", format!("loft {} is open", self.loft)));
        Ok(r)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PigeonSettings {
    loft: String,
}

#[derive(Default)]
struct PigeonFactory {
    flown: Arc<Mutex<Vec<String>>>,
}

impl ProviderFactory for PigeonFactory {
    type Settings = PigeonSettings;
    fn provider_type(&self) -> &'static str {
        "pigeon"
    }
    fn description(&self) -> &'static str {
        "carrier pigeon"
    }
    fn needs_secret(&self) -> bool {
        false
    }
    fn validate(&self, s: &PigeonSettings) -> Vec<ConfigProblem> {
        if s.loft.is_empty() { vec![ConfigProblem::new("loft", "is empty")] } else { vec![] }
    }
    fn build(
        &self,
        _: &Integration,
        s: &PigeonSettings,
        _: &MailboxAccess,
    ) -> Result<Arc<dyn MailProvider>> {
        Ok(Arc::new(Pigeon { loft: s.loft.clone(), flown: self.flown.clone() }))
    }
}

fn config() -> serde_json::Value {
    json!({
        "integrations": [{ "id": "p", "provider": "pigeon", "loft": "north" }],
        "accounts": [{ "user": "ana", "provider": "pigeon", "address": "ana@example.com" }],
    })
}

#[tokio::test]
async fn a_provider_from_outside_plugs_in_with_one_register_call() {
    let factory = PigeonFactory::default();
    let flown = factory.flown.clone();
    let mut registry = ProviderRegistry::new();
    g360_mail_file::register(&mut registry);
    registry.register(factory);
    assert_eq!(registry.types(), ["file", "pigeon"]);

    let bridge = MailBridge::new(BridgeConfig::from_value(config(), &registry).unwrap(), registry);
    let msg =
        OutgoingMessage::builder().to("x@example.com").unwrap().subject("hola").build().unwrap();
    let receipt = bridge.send_as("ana", msg).await.unwrap();
    assert_eq!(receipt.provider, "pigeon");
    assert_eq!(receipt.route.as_deref(), Some("p"));
    assert_eq!(flown.lock().unwrap().as_slice(), ["north -> hola"]);
    let report = bridge.verify("ana", &VerifyOptions::default()).await.unwrap();
    assert!(report.passed());
    let err = bridge.list_as("ana", &MailboxQuery::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

#[test]
fn without_the_register_call_the_type_is_unknown_and_the_known_ones_are_listed() {
    let mut registry = ProviderRegistry::new();
    g360_mail_file::register(&mut registry);
    let Err(ConfigError::Invalid { problems, .. }) = BridgeConfig::from_value(config(), &registry)
    else {
        panic!("expected an invalid configuration");
    };
    assert!(
        problems.iter().any(|p| p.path == "integrations[p].provider"
            && p.message == "unknown provider type \"pigeon\"; registered types: file"),
        "{problems:?}"
    );
}

#[test]
fn the_plugin_settings_are_validated_with_paths() {
    let mut registry = ProviderRegistry::new();
    registry.register(PigeonFactory::default());
    let bad = json!({
        "integrations": [{ "id": "p", "provider": "pigeon", "loft": "", "lofts": 2 }],
        "accounts": [],
    });
    let Err(ConfigError::Invalid { problems, .. }) = BridgeConfig::from_value(bad, &registry)
    else {
        panic!("expected an invalid configuration");
    };
    assert!(
        problems
            .iter()
            .any(|p| p.path == "integrations[p].lofts" && p.message.contains("unknown field")),
        "{problems:?}"
    );
}
