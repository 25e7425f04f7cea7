//! Configuration from an ERP's rows (`BridgeConfig::builder`) and one secret
//! per integration.

#![allow(
    clippy::result_large_err,
    reason = "figment::Jail closures return figment::Error, which is large"
)]

use g360_erp_bridge::{
    AccountRow, BridgeConfig, ConfigError, ConfigSource, IntegrationRow, Lang, MailBridge,
    OutboxConfig, default_registry,
};
use g360_mail_core::{ConfigProblem, OutgoingMessage, REDACTED, Secret};
use g360_mail_testkit::graph::GraphEmulator;
use serde_json::json;

const SHARED: &str = "Abc8Q~shared-secret-value-0123456789abcdef";
const OWN: &str = "Xyz8Q~own-secret-value-9876543210fedcba";

fn problems(result: Result<BridgeConfig, ConfigError>) -> Vec<ConfigProblem> {
    match result {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        other => panic!("expected invalid config, got {other:?}"),
    }
}

fn has(problems: &[ConfigProblem], path: &str, text: &str) -> bool {
    problems.iter().any(|p| p.path == path && p.message.contains(text))
}

fn o365_row(id: &str) -> IntegrationRow {
    IntegrationRow::new(id, "office365")
        .with_description("Correo corporativo")
        .with_setting("client_id", "8d7f3a2b-1c4e-4f6a-9b2d-3e5f7a9c1b0d")
        .with_setting("tenant_id", "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0")
}

#[test]
fn the_builder_reports_every_problem_at_the_rows_id_and_field() {
    let found = problems(
        BridgeConfig::builder()
            .integration(o365_row("o365").with_setting("colour", "blue"))
            .integration(IntegrationRow::new("o365", "office365"))
            .account(AccountRow::new("jgarcia", "office365", "jgarcia@").with_integration("o365"))
            .account(AccountRow::new("mlopez", "office365", "mlopez@contoso.com"))
            .account(
                AccountRow::new("ana", "office365", "ana@contoso.com")
                    .with_integration("nope")
                    .with_secret(Secret::new(OWN)),
            )
            .outbox(OutboxConfig::new("mysql://db/erp"))
            .build(&default_registry()),
    );
    for (path, text) in [
        ("integrations[o365].colour", "unknown field"),
        ("integrations[1].id", "duplicate integration id"),
        ("integrations[1].client_id", "client) ID is missing"),
        ("accounts[jgarcia].address", "invalid e-mail address"),
        ("accounts[jgarcia].secret", "need a secret"),
        ("accounts[mlopez].integration", "several integrations"),
        ("accounts[ana].integration", "no integration has id \"nope\""),
        ("outbox.url", "unsupported database URL"),
    ] {
        assert!(has(&found, path, text), "missing {path}: {text}\nall: {found:#?}");
    }
    assert!(!format!("{found:?}").contains("own-secret"), "{found:?}");
}

#[tokio::test]
async fn a_built_configuration_sends_and_shows_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = format!("sqlite://{}?mode=rwc", dir.path().join("o.db").display());
    let config = BridgeConfig::builder()
        .lang(Lang::En)
        .integration(
            IntegrationRow::new("local", "file")
                .with_settings(json!({ "directory": dir.path().join("out") })),
        )
        .integration(o365_row("o365").with_secret(Secret::new(SHARED)))
        .account(AccountRow::new("demo", "file", "Demo <demo@localhost>"))
        .account(AccountRow::new("jgarcia", "office365", "jgarcia@contoso.com"))
        .outbox(OutboxConfig::new(&outbox))
        .build(&default_registry())
        .unwrap();
    assert_eq!(config.lang(), Lang::En);
    assert_eq!(config.source(), &ConfigSource::Application);
    assert_eq!(config.outbox().url, outbox);
    assert_eq!(config.account("jgarcia").unwrap().secret.as_ref().unwrap().expose(), SHARED);
    let shown = [
        format!("{config:?}"),
        format!("{:?}", config.integrations()),
        format!("{:?}", config.accounts()),
        config.to_redacted_toml(),
        config.to_redacted_json().to_string(),
        format!("{:?}", o365_row("x").with_secret(Secret::new(SHARED))),
        format!(
            "{:?}",
            BridgeConfig::builder()
                .integration(o365_row("x").with_secret(Secret::new(SHARED)))
                .account(
                    AccountRow::new("a", "office365", "a@x.com")
                        .with_secret(Secret::new(SHARED))
                        .with_fallback_secret(Secret::new(SHARED))
                )
        ),
    ];
    for s in &shown {
        assert!(!s.contains("shared-secret"), "{s}");
    }
    // `config show` puts the integration's secret on the integration only.
    let toml = config.to_redacted_toml();
    assert!(toml.contains(&format!("secret = \"{REDACTED}\"")), "{toml}");
    assert_eq!(toml.matches("secret").count(), 1, "{toml}");
    let bridge = MailBridge::new(config, default_registry());
    let msg = OutgoingMessage::builder().to("c@example.com").unwrap().text("x").build().unwrap();
    bridge.send_as("demo", msg).await.unwrap();
    let written = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "eml"))
        .count();
    assert_eq!(written, 1);
}

const FILE: &str = r#"
[[integrations]]
id = "o365"
provider = "office365"
client_id = "8d7f3a2b-1c4e-4f6a-9b2d-3e5f7a9c1b0d"
tenant_id = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
secret_env = "O365_SECRET"

[[accounts]]
user = "jgarcia"
provider = "office365"
address = "jgarcia@contoso.com"

[[accounts]]
user = "mlopez"
provider = "office365"
address = "mlopez@contoso.com"
secret = "Xyz8Q~own-secret-value-9876543210fedcba"
"#;

#[test]
fn an_account_without_a_secret_uses_its_integrations_and_its_own_wins() {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("c.toml", FILE)?;
        jail.set_env("O365_SECRET", SHARED);
        let config =
            BridgeConfig::load(&ConfigSource::File("c.toml".into()), &default_registry()).unwrap();
        let secret = |u: &str| config.account(u).unwrap().secret.as_ref().unwrap().expose();
        assert_eq!(secret("jgarcia"), SHARED);
        assert_eq!(secret("mlopez"), OWN);
        assert!(config.warnings().is_empty(), "{:?}", config.warnings());
        let shown = config.to_redacted_toml();
        assert!(shown.contains("secret_env = \"O365_SECRET\""), "{shown}");
        assert!(!shown.contains("shared-secret") && !shown.contains("own-secret"), "{shown}");
        assert!(shown.parse::<toml::Table>().is_ok(), "{shown}");
        assert!(!format!("{config:?}").contains("shared-secret"));

        // Without the variable, the integration's key is named, and the
        // account relying on it is not reported a second time.
        jail.clear_env();
        let err = BridgeConfig::load(&ConfigSource::File("c.toml".into()), &default_registry())
            .unwrap_err();
        let found = err.problems();
        assert!(has(found, "integrations[o365].secret_env", "O365_SECRET is not set"), "{found:?}");
        assert!(has(found, "accounts[jgarcia].secret", "need a secret"), "{found:?}");
        Ok(())
    });
}

#[test]
fn accounts_repeating_one_secret_get_a_warning_not_an_error() {
    let repeated = BridgeConfig::builder()
        .integration(o365_row("o365"))
        .account(AccountRow::new("a", "office365", "a@contoso.com").with_secret(Secret::new(OWN)))
        .account(AccountRow::new("b", "office365", "b@contoso.com").with_secret(Secret::new(OWN)))
        .account(
            AccountRow::new("c", "office365", "c@contoso.com").with_secret(Secret::new(SHARED)),
        )
        .build(&default_registry())
        .unwrap();
    let [w] = repeated.warnings() else { panic!("{:?}", repeated.warnings()) };
    assert_eq!(w.code.as_deref(), Some("config.secret-repeated"));
    assert_eq!(w.path, "integrations[o365].secret");
    assert!(w.message.contains("2 accounts") && w.message.contains("a, b"), "{w:?}");
    assert!(w.remedy.as_deref().unwrap().contains("once on the integration"), "{w:?}");
    assert!(!format!("{w:?}").contains("own-secret"));
    assert!(repeated.setup_problems().is_empty());

    let once = BridgeConfig::builder()
        .integration(o365_row("o365").with_secret(Secret::new(OWN)))
        .account(AccountRow::new("a", "office365", "a@contoso.com"))
        .account(AccountRow::new("b", "office365", "b@contoso.com"))
        .build(&default_registry())
        .unwrap();
    assert!(once.warnings().is_empty());
}

/// The integration's secret is checked like an account's (an ID pasted
/// instead of the value), and the accounts relying on it cannot send.
#[test]
fn an_integration_secret_of_the_wrong_shape_is_a_setup_problem() {
    let config = BridgeConfig::builder()
        .integration(o365_row("o365").with_secret(Secret::new(format!("{SHARED} "))))
        .account(AccountRow::new("a", "office365", "a@contoso.com"))
        .build(&default_registry())
        .unwrap();
    let problems = config.setup_problems_of("a");
    assert!(problems.iter().any(|p| p.path == "integrations[o365].secret"), "{problems:?}");
    assert!(!format!("{problems:?}").contains("shared-secret"));
}

/// Every account on an integration-level secret shares one token.
#[tokio::test]
async fn accounts_on_the_integrations_secret_send_with_one_token() {
    let emulator = GraphEmulator::start().await;
    let setup = emulator.quick_setup(&["jgarcia@contoso.com", "mlopez@contoso.com"]);
    let config = BridgeConfig::builder()
        .integration(
            IntegrationRow::new("o365", "office365")
                .with_settings(json!({
                    "tenant_id": setup.tenant_id, "client_id": setup.client_id,
                    "authority_url": emulator.url(), "graph_url": emulator.url(),
                    "allow_insecure_http": true,
                }))
                .with_secret(Secret::new(&setup.secret)),
        )
        .account(AccountRow::new("jgarcia", "office365", "jgarcia@contoso.com"))
        .account(AccountRow::new("mlopez", "office365", "mlopez@contoso.com"))
        .build(&default_registry())
        .unwrap();
    let bridge = MailBridge::new(config, default_registry());
    for user in ["jgarcia", "mlopez"] {
        let msg =
            OutgoingMessage::builder().to("c@example.com").unwrap().text("x").build().unwrap();
        bridge.send_as(user, msg).await.unwrap();
    }
    assert_eq!(emulator.sent_items("mlopez@contoso.com").len(), 1);
    assert_eq!(emulator.token_requests(), 1);
}

/// Rows are named by their user as the ERP writes it: dotted ids as they
/// are, numeric ids quoted (never read as a position), a row without a
/// usable id by its position.
#[test]
fn rows_are_named_by_their_id_as_the_erp_writes_it() {
    let found = problems(
        BridgeConfig::builder()
            .integration(IntegrationRow::new("local", "file").with_setting("directory", "./out"))
            .account(AccountRow::new("j.garcia", "file", "j.garcia@"))
            .account(AccountRow::new("1234", "file", "x@"))
            .account(AccountRow::new("", "file", "y@"))
            .account(AccountRow::new("j.garcia", "file", "z@"))
            .build(&default_registry()),
    );
    for path in [
        "accounts[j.garcia].address",
        "accounts[\"1234\"].address",
        "accounts[2].address",
        "accounts[2].user",
        "accounts[3].address",
        "accounts[3].user",
    ] {
        assert!(found.iter().any(|p| p.path == path), "missing {path}: {found:#?}");
    }
}

/// A malformed integration secret stops only the accounts that use it.
#[test]
fn an_integration_secret_problem_spares_accounts_with_their_own() {
    let config = BridgeConfig::builder()
        .integration(o365_row("o365").with_secret(Secret::new(format!("{SHARED} "))))
        .account(AccountRow::new("a", "office365", "a@contoso.com"))
        .account(AccountRow::new("b", "office365", "b@contoso.com").with_secret(Secret::new(OWN)))
        .build(&default_registry())
        .unwrap();
    assert!(!config.setup_problems_of("a").is_empty());
    assert!(config.setup_problems_of("b").is_empty(), "{:?}", config.setup_problems_of("b"));
}

// ----- certificates as PEM texts, expiry dates (issue 13.1, 13.3) -----------

/// A certificate and its key made with openssl, as PEM texts.
fn pem_pair(dir: &std::path::Path, name: &str) -> (String, String) {
    let (crt, key) = g360_mail_testkit::certs::self_signed(dir, name, 365);
    (std::fs::read_to_string(crt).unwrap(), std::fs::read_to_string(key).unwrap())
}

/// The certificate from the ERP's secret store reaches the provider: the
/// emulator's app accepts only that certificate, and mail goes out.
#[tokio::test]
async fn a_certificate_from_the_erps_secret_store_signs_in() {
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = pem_pair(dir.path(), "app");
    let emulator = GraphEmulator::start().await;
    let setup = emulator.quick_setup(&["jgarcia@contoso.com"]);
    let uploaded = g360_mail_testkit::graph::AppCertificate::from_pem(&crt).unwrap();
    emulator.update_app(&setup.client_id, |app| {
        app.secrets.clear();
        app.certificates.push(uploaded);
    });
    let row = IntegrationRow::new("o365", "office365")
        .with_settings(json!({
            "tenant_id": setup.tenant_id, "client_id": setup.client_id,
            "authority_url": emulator.url(), "graph_url": emulator.url(),
            "allow_insecure_http": true,
        }))
        .with_certificate_pem(&crt, Secret::new(&key));
    let config = BridgeConfig::builder()
        .integration(row.clone())
        .account(AccountRow::new("jgarcia", "office365", "jgarcia@contoso.com"))
        .build(&default_registry())
        .unwrap();
    assert!(config.setup_problems().is_empty(), "{:?}", config.setup_problems());
    let key_line = key.lines().nth(1).unwrap();
    for shown in [
        format!("{config:?}"),
        format!("{row:?}"),
        format!("{:?}", config.integrations()),
        config.to_redacted_toml(),
    ] {
        assert!(!shown.contains(key_line), "{shown}");
    }
    assert!(config.to_redacted_toml().contains(&format!("private_key = \"{REDACTED}\"")));
    let bridge = MailBridge::new(config, default_registry());
    let msg = OutgoingMessage::builder().to("c@example.com").unwrap().text("x").build().unwrap();
    bridge.send_as("jgarcia", msg).await.unwrap();
    assert_eq!(emulator.sent_items("jgarcia@contoso.com").len(), 1);
}

#[test]
fn a_certificate_is_checked_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let (crt, _) = pem_pair(dir.path(), "app");
    let (_, other_key) = pem_pair(dir.path(), "other");
    // A key of another certificate: a setup problem at the key's field.
    let config = BridgeConfig::builder()
        .integration(o365_row("o365").with_certificate_pem(&crt, Secret::new(&other_key)))
        .account(AccountRow::new("jgarcia", "office365", "jgarcia@contoso.com"))
        .build(&default_registry())
        .unwrap();
    let p = &config.setup_problems_of("jgarcia")[0];
    assert_eq!(p.path, "integrations[o365].private_key");
    assert_eq!(p.code.as_deref(), Some("o365.certificate-key-mismatch"));
    // A certificate on a provider that takes none is refused.
    let found = problems(
        BridgeConfig::builder()
            .integration(
                IntegrationRow::new("local", "file")
                    .with_setting("directory", "./out")
                    .with_certificate_pem(&crt, Secret::new(&other_key)),
            )
            .account(AccountRow::new("demo", "file", "demo@localhost"))
            .build(&default_registry()),
    );
    assert!(has(&found, "integrations[local].certificate", "take no certificate"), "{found:#?}");
    // Variables that are not set, and PEM texts beside key files.
    figment::Jail::expect_with(|jail| {
        jail.set_env("APP_CERT", &crt);
        let found = problems(
            BridgeConfig::builder()
                .integration(o365_row("a").with_certificate_env("APP_CERT", "NO_SUCH_KEY_VAR"))
                .integration(
                    o365_row("b")
                        .with_setting("private_key_file", "k.pem")
                        .with_certificate_env("APP_CERT", "NO_SUCH_KEY_VAR"),
                )
                .account(AccountRow::new("x", "office365", "x@contoso.com").with_integration("a"))
                .build(&default_registry()),
        );
        assert!(has(&found, "integrations[a].private_key_env", "NO_SUCH_KEY_VAR"), "{found:#?}");
        assert!(has(&found, "integrations[b].certificate_env", "private_key_file"), "{found:#?}");
        Ok(())
    });
}

#[test]
fn a_file_takes_the_certificate_from_environment_variables() {
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = pem_pair(dir.path(), "app");
    figment::Jail::expect_with(|jail| {
        jail.set_env("APP_CERT", &crt);
        jail.set_env("APP_KEY", &key);
        jail.create_file(
            "g360-mail.toml",
            r#"
[[integrations]]
id = "o365"
provider = "office365"
client_id = "8d7f3a2b-1c4e-4f6a-9b2d-3e5f7a9c1b0d"
tenant_id = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
certificate_env = "APP_CERT"
private_key_env = "APP_KEY"

[[accounts]]
user = "jgarcia"
provider = "office365"
address = "jgarcia@contoso.com"
"#,
        )?;
        let source = ConfigSource::File(jail.directory().join("g360-mail.toml"));
        let config = BridgeConfig::load(&source, &default_registry()).unwrap();
        let i = config.integration("o365").unwrap();
        let pem = i.certificate_pem.as_ref().expect("the PEM texts");
        assert_eq!((pem.certificate(), pem.private_key().expose()), (crt.as_str(), key.as_str()));
        assert!(i.settings.get("certificate_env").is_none(), "not a provider setting");
        assert!(config.setup_problems().is_empty(), "{:?}", config.setup_problems());
        let toml = config.to_redacted_toml();
        assert!(toml.contains("certificate_env = \"APP_CERT\"\nprivate_key_env = \"APP_KEY\""));
        Ok(())
    });
}

#[test]
fn an_accounts_secret_expires_warns_before_and_is_a_setup_problem_after() {
    let day = |days: i64| {
        let span = std::time::Duration::from_secs(86_400 * days.unsigned_abs());
        let now = g360_mail_core::Timestamp::now();
        let when = if days < 0 { now.checked_sub(span) } else { now.checked_add(span) };
        when.unwrap().strftime("%Y-%m-%d").to_string()
    };
    let config = BridgeConfig::builder()
        .integration(o365_row("o365"))
        .account(
            AccountRow::new("jgarcia", "office365", "jgarcia@contoso.com")
                .with_secret(Secret::new(OWN))
                .with_secret_expires(day(10)),
        )
        .account(
            AccountRow::new("mlopez", "office365", "mlopez@contoso.com")
                .with_secret(Secret::new(SHARED))
                .with_secret_expires(day(-1)),
        )
        .account(
            AccountRow::new("ana", "office365", "ana@contoso.com")
                .with_secret(Secret::new("Ana8Q~another-secret-value-0123456789"))
                .with_secret_expires(day(200)),
        )
        .build(&default_registry())
        .unwrap();
    let w = config.warnings();
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!(w[0].path, "accounts[jgarcia].secret_expires");
    assert_eq!(w[0].code.as_deref(), Some("o365.secret-expiring"));
    assert!(w[0].warning && !w[0].setup);
    assert!(config.setup_problems_of("jgarcia").is_empty());
    let p = config.setup_problems_of("mlopez");
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0].code.as_deref(), Some("o365.secret-expired"));
    assert!(config.setup_problems_of("ana").is_empty());
    assert_eq!(config.account("jgarcia").unwrap().secret_expires, Some(day(10)));
}

#[test]
fn the_outbox_pool_is_set_from_the_configuration() {
    let mut outbox = OutboxConfig::new("sqlite://o.db?mode=rwc");
    outbox.max_connections = 3;
    outbox.acquire_timeout_ms = 2500;
    let config = BridgeConfig::builder().outbox(outbox).build(&default_registry()).unwrap();
    let options = config.outbox().options();
    assert_eq!(options.max_connections, 3);
    assert_eq!(options.acquire_timeout, std::time::Duration::from_millis(2500));
    let found = problems(BridgeConfig::from_value(
        json!({ "outbox": { "max_connections": 0, "acquire_timeout_ms": "10s" } }),
        &default_registry(),
    ));
    assert!(has(&found, "outbox.max_connections", "whole number"), "{found:#?}");
    assert!(has(&found, "outbox.acquire_timeout_ms", "milliseconds"), "{found:#?}");
}
