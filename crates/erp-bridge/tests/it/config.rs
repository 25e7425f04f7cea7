//! Configuration loading and validation.

#![allow(
    clippy::result_large_err,
    reason = "figment::Jail closures return figment::Error, which is large"
)]

use crate::support::registry;
use g360_erp_bridge::{BridgeConfig, ConfigError, ConfigSource, Lang};
use g360_mail_core::{ConfigProblem, Integration, ProviderRegistry, REDACTED};
use serde_json::json;

fn problems(value: serde_json::Value) -> Vec<ConfigProblem> {
    match BridgeConfig::from_value(value, &registry()) {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        other => panic!("expected invalid config, got {other:?}"),
    }
}

fn has(problems: &[ConfigProblem], path: &str, text: &str) -> bool {
    problems.iter().any(|p| p.path == path && p.message.contains(text))
}

#[test]
fn embedded_default_has_one_file_integration_and_the_demo_account() {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        let config = BridgeConfig::load(&ConfigSource::Embedded, &registry()).unwrap();
        assert_eq!(config.lang(), Lang::Es);
        assert_eq!(config.integrations().len(), 1);
        assert_eq!(config.integrations()[0].provider, "file");
        assert_eq!(config.integrations()[0].settings["directory"], "./mail-outbox");
        let demo = config.account("demo").unwrap();
        assert_eq!(demo.address.addr(), "demo@localhost");
        Ok(())
    });
}

#[test]
fn reports_every_problem_at_once_with_its_key_path() {
    let found = problems(json!({
        "lang": "fr",
        "colour": "blue",
        "integrations": [
            { "id": "a", "provider": "recording" },
            { "id": "a", "provider": "recording", "lable": "typo" },
            { "id": "x", "provider": "carrier-pigeon" },
            { "id": "v", "provider": "vault", "client_id": "ab" },
            { "id": "r2", "provider": "recording" },
        ],
        "accounts": [
            { "user": "u1", "provider": "file", "address": "u1@example.com" },
            { "user": "u2", "provider": "recording", "address": "u2@example.com" },
            { "user": "u3", "provider": "recording", "integration": "a", "address": "not-an-address" },
            { "user": "u3", "provider": "vault", "address": "u4@example.com", "secrett": "x" },
            { "user": "u5", "provider": "recording", "integration": "v", "address": "u5@example.com", "fallback": "nope" },
        ],
    }));
    let expect = [
        ("lang", "unknown language"),
        ("colour", "unknown key"),
        ("integrations[1].id", "duplicate integration id"),
        ("integrations[1].lable", "unknown field"),
        (
            "integrations[x].provider",
            "unknown provider type \"carrier-pigeon\"; registered types: file, recording, vault",
        ),
        ("integrations[v].client_id", "too short"),
        ("accounts[u1].provider", "no integration of provider type \"file\""),
        (
            "accounts[u2].integration",
            "several integrations have provider type \"recording\": a, a, r2",
        ),
        ("accounts[u3].address", "invalid e-mail address"),
        ("accounts[3].user", "duplicate account"),
        ("accounts[3].secrett", "unknown key"),
        ("accounts[3].secret", "need a secret"),
        ("accounts[u5].integration", "is of provider type \"vault\""),
        ("accounts[u5].fallback", "no integration has id \"nope\""),
    ];
    for (path, text) in expect {
        assert!(has(&found, path, text), "missing {path}: {text}\nall: {found:#?}");
    }
    assert_eq!(found.len(), expect.len(), "{found:#?}");
    assert!(found.iter().all(|p| !p.path.is_empty()));
}

#[test]
fn problems_carry_remedies() {
    let found = problems(
        json!({ "accounts": [{ "user": "u", "provider": "vault", "address": "u@x.com" }] }),
    );
    let p = found.iter().find(|p| p.path == "accounts[u].provider").unwrap();
    assert!(p.remedy.as_deref().unwrap().contains("[[integrations]]"), "{p:?}");
}

#[test]
fn both_secret_and_secret_env_is_a_problem() {
    let found = problems(json!({
        "integrations": [{ "id": "v", "provider": "vault", "client_id": "abc" }],
        "accounts": [{ "user": "u", "provider": "vault", "address": "u@x.com", "secret": "s", "secret_env": "X" }],
    }));
    assert!(has(&found, "accounts[u].secret", "both"), "{found:?}");
    assert_eq!(found.len(), 1, "{found:?}");
}

const FILE_CONFIG: &str = r#"
lang = "es"
[[integrations]]
id = "vault1"
description = "Correo corporativo"
provider = "vault"
client_id = "abc-123"

[[accounts]]
user = "jgarcia"
provider = "vault"
address = "jgarcia@contoso.com"
secret = "Abc8Q~file-secret-value-0123456789abcdefghij"

[[accounts]]
user = "mlopez"
provider = "vault"
address = "mlopez@contoso.com"
secret_env = "MLOPEZ_SECRET"
"#;

#[test]
fn loads_a_file_then_environment_overrides() {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("g360-mail.toml", FILE_CONFIG)?;
        jail.set_env("MLOPEZ_SECRET", "env-secret-value");
        jail.set_env("G360_MAIL_LANG", "en");
        jail.set_env("G360_MAIL_ACCOUNTS__JGARCIA__ADDRESS", "juan@contoso.com");
        jail.set_env("G360_MAIL_INTEGRATIONS__VAULT1__CLIENT_ID", "from-env");
        let source = ConfigSource::discover(None);
        assert_eq!(source, ConfigSource::File("g360-mail.toml".into()));
        let config = BridgeConfig::load(&source, &registry()).unwrap();
        assert_eq!(config.lang(), Lang::En);
        assert_eq!(config.account("jgarcia").unwrap().address.addr(), "juan@contoso.com");
        assert_eq!(config.integration("vault1").unwrap().settings["client_id"], "from-env");
        assert_eq!(
            config.account("mlopez").unwrap().secret.as_ref().unwrap().expose(),
            "env-secret-value"
        );
        Ok(())
    });
}

#[test]
fn environment_naming_a_missing_entry_is_reported() {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("c.toml", FILE_CONFIG)?;
        jail.set_env("MLOPEZ_SECRET", "x");
        jail.set_env("G360_MAIL_ACCOUNTS__NOBODY__SECRET", "x");
        let err =
            BridgeConfig::load(&ConfigSource::File("c.toml".into()), &registry()).unwrap_err();
        assert!(has(err.problems(), "accounts.nobody", "does not have"), "{err:?}");
        Ok(())
    });
}

#[test]
fn missing_secret_env_variable_is_reported() {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("c.toml", FILE_CONFIG)?;
        let err =
            BridgeConfig::load(&ConfigSource::File("c.toml".into()), &registry()).unwrap_err();
        assert!(
            has(err.problems(), "accounts[mlopez].secret_env", "MLOPEZ_SECRET is not set"),
            "{err:?}"
        );
        Ok(())
    });
}

#[test]
fn config_file_errors_name_the_file_and_line() {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        let err =
            BridgeConfig::load(&ConfigSource::File("absent.toml".into()), &registry()).unwrap_err();
        assert!(err.to_string().contains("absent.toml"), "{err}");
        jail.create_file("bad.toml", "lang = \"es\"\n[[accounts]\nuser = 1\n")?;
        let err =
            BridgeConfig::load(&ConfigSource::File("bad.toml".into()), &registry()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("bad.toml") && text.contains("line 2"), "{text}");
        Ok(())
    });
}

#[test]
fn redacted_toml_never_contains_secrets() {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("c.toml", FILE_CONFIG)?;
        jail.set_env("MLOPEZ_SECRET", "env-secret-value");
        let config = BridgeConfig::load(&ConfigSource::File("c.toml".into()), &registry()).unwrap();
        let shown = config.to_redacted_toml();
        assert!(!shown.contains("file-secret-value"), "{shown}");
        assert!(!shown.contains("env-secret-value"), "{shown}");
        assert!(shown.contains(REDACTED));
        assert!(shown.contains("secret_env = \"MLOPEZ_SECRET\""), "{shown}");
        let debug = format!("{config:?}");
        assert!(!debug.contains("file-secret-value") && !debug.contains("env-secret-value"));
        // What is shown is itself a valid configuration (secret_env kept).
        assert!(shown.parse::<toml::Table>().is_ok());
        Ok(())
    });
}

#[test]
fn outbox_section_is_validated_and_its_password_redacted() {
    let found = problems(json!({
        "outbox": { "url": "mysql://x", "messages_per_minute": 0, "max_attempts": "many", "lease": 5 },
    }));
    for (path, text) in [
        ("outbox.url", "unsupported database URL"),
        ("outbox.messages_per_minute", "whole number"),
        ("outbox.max_attempts", "whole number"),
        ("outbox.lease", "unknown key"),
    ] {
        assert!(has(&found, path, text), "missing {path}: {found:#?}");
    }
    let config = BridgeConfig::from_value(
        json!({ "outbox": { "url": "postgres://erp:s3cr3t-pw@db.local:5432/erp", "messages_per_minute": 10, "lease_ms": 2000 } }),
        &registry(),
    )
    .unwrap();
    assert_eq!(config.outbox().messages_per_minute, 10);
    assert_eq!(config.outbox().options().lease, std::time::Duration::from_secs(2));
    assert_eq!(config.outbox().redacted_url(), "postgres://erp:[redacted]@db.local:5432/erp");
    let shown = config.to_redacted_toml();
    assert!(!shown.contains("s3cr3t-pw"), "{shown}");
}

#[test]
fn the_default_outbox_is_a_sqlite_file_beside_the_config() {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_dir("etc")?;
        jail.create_file("etc/g360.toml", "lang = \"en\"\n")?;
        let config =
            BridgeConfig::load(&ConfigSource::File("etc/g360.toml".into()), &registry()).unwrap();
        assert_eq!(config.outbox().url, "sqlite://etc/g360-mail-outbox.db?mode=rwc");
        assert_eq!(config.outbox().messages_per_minute, 30);
        assert_eq!(config.outbox().max_in_flight_per_mailbox, 4);
        Ok(())
    });
}

#[test]
fn secret_next_and_secret_next_env_reach_the_account_and_never_show() {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        let config = FILE_CONFIG.replace(
            "secret = \"Abc8Q~file-secret-value-0123456789abcdefghij\"\n",
            "secret = \"Abc8Q~file-secret-value-0123456789abcdefghij\"\nsecret_next = \"New8Q~next-inline-value\"\n",
        ) + "secret_next_env = \"MLOPEZ_NEXT\"\n";
        jail.create_file("c.toml", &config)?;
        jail.set_env("MLOPEZ_SECRET", "env-secret-value");
        jail.set_env("MLOPEZ_NEXT", "env-next-value");
        let config = BridgeConfig::load(&ConfigSource::File("c.toml".into()), &registry()).unwrap();
        let next = |u: &str| config.account(u).unwrap().secret_next.as_ref().unwrap().expose();
        assert_eq!(next("jgarcia"), "New8Q~next-inline-value");
        assert_eq!(next("mlopez"), "env-next-value");
        let shown = config.to_redacted_toml();
        assert!(!shown.contains("next-inline-value") && !shown.contains("env-next-value"));
        assert!(shown.contains("secret_next = \"[redacted]\""), "{shown}");
        assert!(shown.contains("secret_next_env = \"MLOPEZ_NEXT\""), "{shown}");
        assert!(!format!("{config:?}").contains("next-inline-value"));
        Ok(())
    });
    let found = problems(json!({
        "integrations": [{ "id": "v", "provider": "vault", "client_id": "abc" }],
        "accounts": [{ "user": "u", "provider": "vault", "address": "u@x.com", "secret": "s",
                       "secret_next": "n", "secret_next_env": "X" }],
    }));
    assert!(has(&found, "accounts[u].secret_next", "both"), "{found:?}");
}

const SECRET: &str = "Abc8Q~file-secret-value-0123456789";

/// A TOML syntax error on a secret's line is reported by line, column and
/// key, never with the line's text.
#[test]
fn a_syntax_error_on_a_secret_line_never_quotes_it() {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        for (i, text) in [
            format!("[[accounts]]\nuser = \"a\"\nsecret = \"{SECRET}\n"),
            format!("[[accounts]]\nuser = \"a\"\nsecret = {SECRET}\n"),
            format!("[[accounts]]\nuser = \"a\"\nsecret = \"{SECRET}\\x\"\n"),
        ]
        .iter()
        .enumerate()
        {
            let name = format!("bad{i}.toml");
            jail.create_file(&name, text)?;
            let err = BridgeConfig::load(&ConfigSource::File(name.clone().into()), &registry())
                .unwrap_err();
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(!shown.contains("file-secret"), "{shown}");
                assert!(shown.contains("line 3, column"), "{shown}");
                assert!(shown.contains("key `secret`"), "{shown}");
                assert!(shown.contains(&name), "{shown}");
            }
        }
        Ok(())
    });
}

/// A secret of the wrong type is named by its type, never echoed, whatever
/// check quotes it.
#[test]
fn a_wrongly_typed_secret_is_not_echoed() {
    for secret in [json!([SECRET]), json!({ "value": SECRET }), json!([[SECRET, 1]])] {
        let found = problems(json!({
            "integrations": [{ "id": "v", "provider": "vault", "client_id": "abcd",
                               "client_secret": SECRET, "extra": SECRET }],
            "accounts": [
                { "user": "a", "provider": "vault", "address": "a@x.com", "secret": secret },
                { "user": "b", "provider": "vault", "address": "b@x.com", "secret": SECRET, "fallback_secret": secret },
            ],
        }));
        let shown = format!("{found:?}");
        assert!(!shown.contains("file-secret"), "{shown}");
        assert!(has(&found, "accounts[a].secret", "expected a text value, found a"), "{shown}");
        assert!(has(&found, "accounts[b].fallback_secret", "expected a text value"), "{shown}");
    }
}

/// `Debug` of the configuration and of the bridge, and `config show`, never
/// print a database password, whether in the user info or the query.
#[test]
fn debug_and_show_redact_every_url_credential() {
    for url in [
        "postgres://erp:s3cr3t-pw@db.local:5432/erp",
        "postgres://erp@db.local:5432/erp?password=s3cr3t-pw&sslmode=require",
        "postgresql://db.local/erp?user=erp&PASSWORD=s3cr3t-pw",
        "postgres://erp:s3cr3t-pw@db.local/erp?sslpassword=s3cr3t-pw",
    ] {
        let config = BridgeConfig::from_value(
            json!({ "outbox": { "url": url },
                    "integrations": [{ "id": "local", "provider": "file", "directory": "./out" }],
                    "accounts": [{ "user": "a", "provider": "file", "address": "a@x.com" }] }),
            &registry(),
        )
        .unwrap();
        let bridge = g360_erp_bridge::MailBridge::new(config.clone(), registry());
        for shown in [
            format!("{config:?}"),
            format!("{config:#?}"),
            format!("{bridge:?}"),
            config.to_redacted_toml(),
            config.to_redacted_json().to_string(),
            config.outbox().redacted_url(),
            format!("{:?}", config.outbox()),
        ] {
            assert!(!shown.contains("s3cr3t"), "{url}: {shown}");
        }
        assert!(config.to_redacted_toml().contains(REDACTED));
    }
    // An unsupported URL is refused without its password either.
    let found =
        problems(json!({ "outbox": { "url": "mysql://u:s3cr3t-pw@h/db?password=s3cr3t-pw" } }));
    assert!(!format!("{found:?}").contains("s3cr3t"), "{found:?}");
}

/// `config show` keeps the README's order: lang, integrations (id,
/// description, provider, then provider keys), accounts (user, provider,
/// integration, address, secret), outbox.
#[test]
fn show_keeps_the_readme_order() {
    let config = BridgeConfig::from_value(
        json!({ "lang": "en",
                "outbox": { "url": "sqlite://o.db?mode=rwc" },
                "integrations": [{ "provider": "vault", "id": "v", "description": "d", "client_id": "abcd" }],
                "accounts": [{ "secret": SECRET, "address": "a@x.com", "integration": "v", "provider": "vault", "user": "a" }] }),
        &registry(),
    )
    .unwrap();
    let shown = config.to_redacted_toml();
    let keys: Vec<&str> = shown
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split(" = ").next().unwrap())
        .take(13)
        .collect();
    assert_eq!(
        keys,
        [
            "lang",
            "[[integrations]]",
            "id",
            "description",
            "provider",
            "client_id",
            "[[accounts]]",
            "user",
            "provider",
            "integration",
            "address",
            "secret",
            "[outbox]"
        ],
        "{shown}"
    );
    assert!(shown.parse::<toml::Table>().is_ok(), "{shown}");
}

/// A value of the wrong type in the `[outbox]` section is named by its type:
/// a list may hold a database URL with its password (found by the config
/// fuzz target).
#[test]
fn a_wrongly_typed_outbox_value_is_not_echoed() {
    let url = json!(["postgres://erp:s3cr3t-pw@db.local/erp"]);
    let found = problems(json!({ "outbox": { "url": url, "max_attempts": url, "lease_ms": url } }));
    let shown = format!("{found:?}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(has(&found, "outbox.url", "expected a text value, found a list"), "{shown}");
    assert!(found.iter().all(|p| p.remedy.is_some()), "every problem has a remedy: {shown}");
    assert!(has(&found, "outbox.max_attempts", "found a list"), "{shown}");
    assert!(has(&found, "outbox.lease_ms", "found a list"), "{shown}");
}

/// What `g360-mail providers` lists as the settings without a secret agrees
/// with what the factories require, for every registered type.
#[test]
fn listed_secret_exceptions_agree_with_secret_required() {
    let mut r = ProviderRegistry::new();
    g360_mail_file::register(&mut r);
    g360_mail_o365::register(&mut r);
    g360_mail_smtp::register(&mut r);
    let base = |ty: &str| match ty {
        "smtp" => json!({ "host": "smtp.example.com" }),
        "office365" => json!({
            "client_id": "11111111-2222-3333-4444-555555555555",
            "tenant_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        }),
        _ => json!({ "directory": "mail" }),
    };
    let mut checked = 0;
    for info in r.list() {
        let plain = Integration::new("i", info.provider_type, base(info.provider_type));
        assert_eq!(r.secret_required(&plain), Some(info.needs_secret), "{}", info.provider_type);
        for entry in info.secret_not_needed_with {
            let (key, value) = entry.split_once(" = ").expect("key = value");
            let value = value.trim_matches('"').replace('…', "/etc/g360-mail/app.pem");
            let mut settings = base(info.provider_type);
            let with = if key == "certificate_env" {
                // A bridge key: the bridge hands the PEM texts to the factory.
                Integration::new("i", info.provider_type, settings).with_certificate_pem(
                    g360_mail_core::CertificatePem::new("PEM", g360_mail_core::Secret::new("KEY")),
                )
            } else {
                settings[key] = json!(value);
                if key == "certificate_file" {
                    settings["private_key_file"] = json!("/etc/g360-mail/app.key");
                }
                Integration::new("i", info.provider_type, settings)
            };
            assert_eq!(r.secret_required(&with), Some(false), "{}: {entry}", info.provider_type);
            checked += 1;
        }
    }
    assert_eq!(checked, 4, "smtp and office365 list two exceptions each");
}

/// `[outbox] bounce_sync_ms`: 0 (off, the default) or at least a second.
#[test]
fn bounce_sync_ms_is_off_by_default_and_checked() {
    let account = json!([{ "user": "u", "provider": "file", "address": "u@x.com" }]);
    let integration = json!([{ "id": "local", "provider": "file", "directory": "mail" }]);
    let ok = |outbox: serde_json::Value| {
        let config = json!({ "integrations": integration, "accounts": account, "outbox": outbox });
        BridgeConfig::from_value(config, &registry()).unwrap().outbox().bounce_sync_ms
    };
    assert_eq!(ok(json!({})), 0);
    assert_eq!(ok(json!({ "bounce_sync_ms": 0 })), 0);
    assert_eq!(ok(json!({ "bounce_sync_ms": 300_000 })), 300_000);
    for bad in [json!(500), json!(-1), json!("5m")] {
        let found = problems(json!({ "accounts": account, "outbox": { "bounce_sync_ms": bad } }));
        assert!(has(&found, "outbox.bounce_sync_ms", "expected 0 (off)"), "{found:?}");
    }
}

/// `[outbox] batch_size` and `flush_interval_ms` reach the worker's options;
/// a value out of range is reported at its path with a remedy, together
/// with every other problem of the section.
#[test]
fn outbox_batch_keys_reach_the_options_and_are_checked() {
    let config = BridgeConfig::from_value(
        json!({ "outbox": { "batch_size": 1, "flush_interval_ms": 0 } }),
        &registry(),
    )
    .unwrap();
    let options = config.outbox().options();
    assert_eq!((options.batch_size, options.flush_interval), (1, std::time::Duration::ZERO));
    let defaults = BridgeConfig::from_value(json!({}), &registry()).unwrap().outbox().options();
    assert_eq!(
        (defaults.batch_size, defaults.flush_interval),
        (32, std::time::Duration::from_millis(5))
    );
    let shown = config.to_redacted_toml();
    assert!(shown.contains("batch_size = 1\nflush_interval_ms = 0\n"), "{shown}");

    let found = problems(json!({ "outbox": {
        "batch_size": 0, "flush_interval_ms": 1001, "max_attempts": -1, "batchsize": 3,
    } }));
    for (path, text) in [
        ("outbox.batch_size", "expected a whole number from 1 to 1000, found 0"),
        ("outbox.flush_interval_ms", "expected milliseconds from 0 to 1000, found 1001"),
        ("outbox.max_attempts", "found -1"),
        ("outbox.batchsize", "unknown key"),
    ] {
        assert!(has(&found, path, text), "missing {path}: {found:#?}");
    }
    let batch = found.iter().find(|p| p.path == "outbox.batch_size").unwrap();
    assert_eq!(
        batch.remedy.as_deref(),
        Some("write e.g. batch_size = 32 (the default), or remove the key")
    );
    let unknown = found.iter().find(|p| p.path == "outbox.batchsize").unwrap();
    assert!(unknown.remedy.as_deref().unwrap().contains("batch_size, flush_interval_ms"));
}

/// The builder's outbox row is checked as the file's section is.
#[test]
fn builder_outbox_batch_keys_are_checked() {
    let mut outbox = g360_erp_bridge::OutboxConfig::new("sqlite://mail.db?mode=rwc");
    outbox.batch_size = 8;
    outbox.flush_interval_ms = 20;
    let config = BridgeConfig::builder().outbox(outbox.clone()).build(&registry()).unwrap();
    let options = config.outbox().options();
    assert_eq!((options.batch_size, options.flush_interval.as_millis()), (8, 20));
    outbox.batch_size = 1001;
    match BridgeConfig::builder().outbox(outbox).build(&registry()) {
        Err(ConfigError::Invalid { problems, .. }) => {
            assert!(
                has(&problems, "outbox.batch_size", "from 1 to 1000, found 1001"),
                "{problems:#?}"
            );
        }
        other => panic!("expected invalid config, got {other:?}"),
    }
}
