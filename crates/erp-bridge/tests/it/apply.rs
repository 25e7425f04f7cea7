//! Changes at run time: `MailBridge::apply` against the Graph emulator.

use std::sync::Arc;
use std::time::Duration;

use g360_erp_bridge::{BridgeConfig, MailBridge};
use g360_mail_core::{ErrorKind, OutgoingMessage, ProviderRegistry};
use g360_mail_testkit::graph::{Endpoint, Fault, FaultMatch, GraphEmulator, QuickSetup};
use g360_mail_testkit::{Recorder, RecordingFactory};
use serde_json::{Value, json};

const MAILBOXES: [&str; 3] = ["jgarcia@contoso.com", "mlopez@contoso.com", "extra@contoso.com"];

fn registry() -> ProviderRegistry {
    let mut registry = ProviderRegistry::new();
    g360_mail_o365::register(&mut registry);
    registry
}

/// One office365 integration on the emulator and an account per user given.
fn config(emulator: &GraphEmulator, setup: &QuickSetup, tenant: &str, users: &[&str]) -> Value {
    let accounts: Vec<Value> = users
        .iter()
        .map(|u| {
            json!({ "user": u, "provider": "office365", "integration": "o365",
                    "address": format!("{u}@contoso.com"), "secret": setup.secret })
        })
        .collect();
    json!({
        "integrations": [{
            "id": "o365", "provider": "office365",
            "tenant_id": tenant, "client_id": setup.client_id,
            "authority_url": emulator.url(), "graph_url": emulator.url(),
            "allow_insecure_http": true, "request_timeout_ms": 10_000,
        }],
        "accounts": accounts,
    })
}

fn load(value: Value) -> BridgeConfig {
    BridgeConfig::from_value(value, &registry()).unwrap()
}

fn message(n: usize) -> OutgoingMessage {
    OutgoingMessage::builder()
        .to("cliente@example.com")
        .unwrap()
        .subject(format!("Factura {n}"))
        .text("Adjuntamos la factura")
        .build()
        .unwrap()
}

async fn start() -> (GraphEmulator, QuickSetup) {
    let emulator = GraphEmulator::start().await;
    let setup = emulator.quick_setup(&MAILBOXES);
    (emulator, setup)
}

#[tokio::test]
async fn an_apply_that_adds_an_account_keeps_the_providers_and_their_tokens() {
    let (emulator, setup) = start().await;
    let bridge = MailBridge::new(
        load(config(&emulator, &setup, &setup.tenant_id, &["jgarcia", "mlopez"])),
        registry(),
    );
    bridge.send_as("jgarcia", message(1)).await.unwrap();
    bridge.send_as("mlopez", message(2)).await.unwrap();
    assert_eq!(emulator.token_requests(), 1);
    let before = bridge.provider("jgarcia").unwrap();

    let report = bridge
        .apply(load(config(&emulator, &setup, &setup.tenant_id, &["jgarcia", "mlopez", "extra"])))
        .unwrap();
    assert_eq!(report.added, ["extra"]);
    assert_eq!(report.kept, ["jgarcia", "mlopez"]);
    assert!(report.changed.is_empty() && report.removed.is_empty(), "{report:?}");
    assert!(Arc::ptr_eq(&before, &bridge.provider("jgarcia").unwrap()));
    for (n, user) in ["jgarcia", "mlopez", "extra"].into_iter().enumerate() {
        bridge.send_as(user, message(10 + n)).await.unwrap();
    }
    assert_eq!(emulator.token_requests(), 1, "an unchanged integration asks for no new token");
    assert_eq!(emulator.sent_items("extra@contoso.com").len(), 1);

    // Applying the same configuration again changes nothing.
    let same = bridge
        .apply(load(config(&emulator, &setup, &setup.tenant_id, &["jgarcia", "mlopez", "extra"])))
        .unwrap();
    assert!(same.is_empty(), "{same:?}");
}

#[tokio::test]
async fn fixing_the_tenant_id_rebuilds_the_route() {
    let (emulator, setup) = start().await;
    let wrong = "00000000-0000-0000-0000-000000000001";
    let bridge =
        MailBridge::new(load(config(&emulator, &setup, wrong, &["jgarcia", "mlopez"])), registry());
    let err = bridge.send_as("jgarcia", message(1)).await.unwrap_err();
    assert_ne!(err.kind(), ErrorKind::OutcomeUnknown, "{err}");
    let before = bridge.provider("jgarcia").unwrap();

    let report = bridge
        .apply(load(config(&emulator, &setup, &setup.tenant_id, &["jgarcia", "mlopez"])))
        .unwrap();
    assert_eq!(report.changed, ["jgarcia", "mlopez"]);
    assert!(!Arc::ptr_eq(&before, &bridge.provider("jgarcia").unwrap()));
    bridge.send_as("jgarcia", message(2)).await.unwrap();
    assert_eq!(emulator.sent_items("jgarcia@contoso.com").len(), 1);
}

#[tokio::test]
async fn a_removed_account_refuses_new_sends_and_one_in_flight_finishes() {
    let (emulator, setup) = start().await;
    let bridge = Arc::new(MailBridge::new(
        load(config(&emulator, &setup, &setup.tenant_id, &["jgarcia", "mlopez"])),
        registry(),
    ));
    bridge.send_as("mlopez", message(0)).await.unwrap();
    emulator.push_fault(
        FaultMatch::endpoint(Endpoint::SendMail).mailbox("mlopez@contoso.com"),
        Fault::Delay(Duration::from_millis(400)),
        1,
    );
    let in_flight = tokio::spawn({
        let bridge = bridge.clone();
        async move { bridge.send_as("mlopez", message(1)).await }
    });
    // The send is at the emulator once the delay was taken.
    tokio::time::timeout(Duration::from_secs(10), async {
        while !emulator.pending_faults().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    let report =
        bridge.apply(load(config(&emulator, &setup, &setup.tenant_id, &["jgarcia"]))).unwrap();
    assert_eq!(report.removed, ["mlopez"]);
    let receipt = tokio::time::timeout(Duration::from_secs(10), in_flight).await.unwrap().unwrap();
    assert_eq!(receipt.unwrap().route.as_deref(), Some("o365"));
    assert_eq!(emulator.sent_items("mlopez@contoso.com").len(), 2);

    let err = bridge.send_as("mlopez", message(2)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(err.code(), Some("bridge.account-removed"));
    assert!(err.remedy().is_some_and(|r| r.contains("add the user's mail account")), "{err:?}");
    assert_eq!(emulator.sent_items("mlopez@contoso.com").len(), 2);
    bridge.send_as("jgarcia", message(3)).await.unwrap();

    // Added back, the account sends again.
    let report = bridge
        .apply(load(config(&emulator, &setup, &setup.tenant_id, &["jgarcia", "mlopez"])))
        .unwrap();
    assert_eq!(report.added, ["mlopez"]);
    bridge.send_as("mlopez", message(4)).await.unwrap();
}

#[tokio::test]
async fn a_configuration_the_registry_refuses_is_refused_whole() {
    let (emulator, setup) = start().await;
    let bridge = MailBridge::new(
        load(config(&emulator, &setup, &setup.tenant_id, &["jgarcia"])),
        registry(),
    );
    // Valid for a registry that knows `recording`, not for the bridge's.
    let mut other = registry();
    other.register(RecordingFactory::new(Recorder::default()));
    let mut value = config(&emulator, &setup, &setup.tenant_id, &["jgarcia", "mlopez"]);
    value["integrations"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "id": "rec", "provider": "recording" }));
    value["accounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "user": "robot", "provider": "recording", "address": "robot@contoso.com" }));
    let refused = BridgeConfig::from_value(value, &other).unwrap();
    let err = bridge.apply(refused).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(err.code(), Some("config.invalid"));
    assert!(
        err.context_value("problem").is_some_and(|p| p.contains("integrations[rec].provider")),
        "{err:?}"
    );
    assert_eq!(bridge.config().accounts().len(), 1, "the old configuration stays");
    assert_eq!(bridge.account("mlopez").unwrap_err().code(), Some("bridge.unknown-user"));
    bridge.send_as("jgarcia", message(1)).await.unwrap();
}

/// 200 concurrent sends while the configuration is replaced 20 times: an
/// account is added and removed each round, and a second integration's
/// settings change each round (its providers are rebuilt while they send).
/// No send fails because of a swap; the unchanged integration asks for one
/// token in all, and so does the changed one (same app and secret: the
/// factory's token cache).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_survive_twenty_applies() {
    let (emulator, setup) = start().await;
    let other = emulator.quick_setup(&["ventas@fabrikam.com"]);
    let config_of = |round: usize| {
        let users: &[&str] = if round.is_multiple_of(2) {
            &["jgarcia", "mlopez", "extra"]
        } else {
            &["jgarcia", "mlopez"]
        };
        let mut value = config(&emulator, &setup, &setup.tenant_id, users);
        value["integrations"].as_array_mut().unwrap().push(json!({
            "id": "fabrikam", "provider": "office365",
            "tenant_id": other.tenant_id, "client_id": other.client_id,
            "authority_url": emulator.url(), "graph_url": emulator.url(),
            "allow_insecure_http": true, "request_timeout_ms": 10_000 + round,
        }));
        value["accounts"].as_array_mut().unwrap().push(json!({
            "user": "ventas", "provider": "office365", "integration": "fabrikam",
            "address": "ventas@fabrikam.com", "secret": other.secret,
        }));
        load(value)
    };
    let bridge = Arc::new(MailBridge::new(config_of(1), registry()));
    // Each send takes a while, so that the swaps happen while they run.
    emulator.push_fault_always(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::Delay(Duration::from_millis(50)),
    );
    let users = ["jgarcia", "mlopez", "ventas"];
    let mut sends = tokio::task::JoinSet::new();
    for n in 0..200 {
        let bridge = bridge.clone();
        let user = users[n % 3];
        sends.spawn(async move { bridge.send_as(user, message(n)).await });
    }
    let mut reports = Vec::new();
    for round in 0..20 {
        reports.push(bridge.apply(config_of(round)).unwrap());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // 200 sends of 50 ms, at most 4 at a time per mailbox, take 800 ms at
    // the least: the swaps above happened while they ran.
    assert!(emulator.deliveries().len() < 200);
    let results = tokio::time::timeout(Duration::from_secs(120), sends.join_all()).await.unwrap();
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(results.len(), 200);
    let delivered: usize = ["jgarcia@contoso.com", "mlopez@contoso.com", "ventas@fabrikam.com"]
        .iter()
        .map(|m| emulator.sent_items(m).len())
        .sum();
    assert_eq!(delivered, 200);
    assert_eq!(emulator.token_requests(), 2, "one per app");
    for r in &reports {
        assert_eq!(r.changed, ["ventas"], "{r:?}");
        assert_eq!(r.kept, ["jgarcia", "mlopez"], "{r:?}");
    }
}
