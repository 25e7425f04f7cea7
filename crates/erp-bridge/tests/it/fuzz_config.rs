//! Fuzz target `config`: the configuration loader, fed arbitrary TOML text
//! and arbitrary `G360_MAIL_*` environment variables.
//!
//! Properties: [`BridgeConfig::load`] never panics; a secret planted in every
//! place a secret goes (account `secret`, the variable a `secret_env` names,
//! `G360_MAIL_ACCOUNTS__…__SECRET`, the outbox URL's password, as userinfo
//! or `?password=`) never shows in the error (`Display`, `Debug`, each
//! problem and remedy, the core error made of it), nor in the `Debug` or the
//! redacted TOML of a configuration that loads. `G360_FUZZ_CASES` sets the
//! number of cases (`cargo xtask fuzz --target config`).

#![allow(
    clippy::result_large_err,
    reason = "figment::Jail closures return figment::Error, which is large"
)]

use crate::support::registry;
use g360_erp_bridge::{BridgeConfig, ConfigSource};
use g360_mail_core::Error;
use g360_mail_testkit::fuzz::config;
use proptest::prelude::*;

/// Planted wherever a secret goes; must never come back.
const SECRET: &str = "Zq8Q~fuzzSecret7f3a9c";

/// A TOML value where a secret goes: right, or of a wrong type.
fn secret_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(format!("\"{SECRET}\"")),
        Just(format!("'{SECRET}'")),
        Just(format!("\"\"\"{SECRET}\"\"\"")),
        Just(format!("[\"{SECRET}\"]")),
        Just(format!("{{ value = \"{SECRET}\" }}")),
        Just(format!("\"{SECRET}")),
        Just(SECRET.to_owned()),
        Just(format!("\"{SECRET}\\q\"")),
        Just(format!("\"{SECRET}\" extra")),
    ]
}

/// A TOML value anywhere else (never the secret).
fn other_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"es\"".to_owned()),
        Just("\"vault\"".to_owned()),
        Just("\"file\"".to_owned()),
        Just("\"jgarcia@contoso.com\"".to_owned()),
        Just("\"JGARCIA_SECRET\"".to_owned()),
        Just("7".to_owned()),
        Just("-1".to_owned()),
        Just("99999999999999999999".to_owned()),
        Just("true".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
        "\"[ -~&&[^\"\\\\]]{0,20}\"",
        "[ -~]{0,12}",
    ]
}

fn url() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(format!("\"postgres://g360:{SECRET}@db.example.com:5432/g360\"")),
        Just(format!("\"postgresql://db.example.com/g360?user=g360&password={SECRET}\"")),
        Just(format!(
            "\"postgres://g360:{SECRET}@db.example.com:5432/g360?sslmode=require&password={SECRET}\""
        )),
        Just(format!("\"mysql://g360:{SECRET}@db.example.com/g360\"")),
        Just(format!("\"sqlite:///var/lib/g360/outbox.db?password={SECRET}\"")),
        Just(format!("\"postgres://g360:{SECRET}@[::1\"")),
        Just(format!("[\"postgres://g360:{SECRET}@h/db\"]")),
    ]
}

const KEYS: &[&str] = &[
    "lang",
    "id",
    "provider",
    "description",
    "client_id",
    "tenant_id",
    "user",
    "address",
    "integration",
    "secret_env",
    "dir",
    "url",
    "messages_per_minute",
    "lease_ms",
    "unknown",
];

/// A configuration file: sections and keys of the real shape, values right
/// or wrong, then damaged (cut, a character inserted).
fn toml_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        3 => (proptest::sample::select(KEYS), other_value()).prop_map(|(k, v)| format!("{k} = {v}")),
        2 => secret_value().prop_map(|v| format!("secret = {v}")),
        1 => url().prop_map(|v| format!("url = {v}")),
        1 => proptest::sample::select(&["[[integrations]]", "[[accounts]]", "[outbox]", "[accounts]", "[[outbox]]", "[integrations.x]"][..]).prop_map(str::to_owned),
        1 => "[ -~]{0,20}",
    ];
    let base = prop_oneof![
        Just(VALID.to_owned()),
        proptest::collection::vec(line, 0..16).prop_map(|l| l.join("\n")),
        (Just(VALID), proptest::collection::vec(line_any(), 0..4))
            .prop_map(|(v, l)| format!("{v}\n{}", l.join("\n"))),
    ];
    (
        base,
        proptest::option::of(any::<prop::sample::Index>()),
        proptest::option::of((any::<prop::sample::Index>(), "[\"'\\[\\]{}=#\\\\\n ]")),
    )
        .prop_map(|(mut text, cut, insert)| {
            if let Some(cut) = cut {
                let at = cut.index(text.len() + 1);
                let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
                text.truncate(at);
            }
            if let Some((at, s)) = insert {
                let at = at.index(text.len() + 1);
                let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
                text.insert_str(at, &s);
            }
            text
        })
}

fn line_any() -> impl Strategy<Value = String> {
    prop_oneof![
        secret_value().prop_map(|v| format!("secret = {v}")),
        url().prop_map(|v| format!("[outbox]\nurl = {v}")),
        secret_value().prop_map(|v| format!("[[accounts]]\nuser = \"x\"\nprovider = \"vault\"\naddress = \"x@contoso.com\"\nsecret = {v}")),
        secret_value().prop_map(|v| format!("accounts = {v}")),
        secret_value().prop_map(|v| format!("lang = {v}")),
    ]
}

const VALID: &str = r#"lang = "es"
[[integrations]]
id = "vault1"
provider = "vault"
client_id = "abc-123"

[[accounts]]
user = "jgarcia"
provider = "vault"
address = "jgarcia@contoso.com"
secret = "Zq8Q~fuzzSecret7f3a9c"

[[accounts]]
user = "mlopez"
provider = "vault"
address = "mlopez@contoso.com"
secret_env = "MLOPEZ_SECRET"

[outbox]
url = "postgres://g360:Zq8Q~fuzzSecret7f3a9c@db.example.com:5432/g360"
"#;

/// `G360_MAIL_*` variables: secrets where secrets go, anything elsewhere.
fn env() -> impl Strategy<Value = Vec<(String, String)>> {
    let secret_var = prop_oneof![
        Just("G360_MAIL_ACCOUNTS__JGARCIA__SECRET"),
        Just("G360_MAIL_ACCOUNTS__0__SECRET"),
        Just("G360_MAIL_ACCOUNTS__NOBODY__SECRET"),
        Just("G360_MAIL_ACCOUNTS__MLOPEZ__SECRET"),
        Just("MLOPEZ_SECRET"),
        Just("G360_MAIL_SECRET"),
    ];
    let secret_text = prop_oneof![
        Just(SECRET.to_owned()),
        Just(format!("[\"{SECRET}\"]")),
        Just(format!("{{value=\"{SECRET}\"}}")),
        Just(format!("\"{SECRET}")),
        Just(format!("[{SECRET}")),
    ];
    let other_var = prop_oneof![
        Just("G360_MAIL_LANG"),
        Just("G360_MAIL_ACCOUNTS"),
        Just("G360_MAIL_ACCOUNTS__JGARCIA"),
        Just("G360_MAIL_ACCOUNTS__JGARCIA__ADDRESS"),
        Just("G360_MAIL_ACCOUNTS__5__USER"),
        Just("G360_MAIL_INTEGRATIONS__VAULT1__CLIENT_ID"),
        Just("G360_MAIL_OUTBOX__LEASE_MS"),
        Just("G360_MAIL_OUTBOX"),
        Just("G360_MAIL_UNKNOWN__X__Y"),
        Just("G360_MAIL_"),
    ];
    let other_text = prop_oneof!["[ -~]{0,20}", Just("[1, 2".to_owned()), Just("{a=1}".to_owned())];
    let url_var =
        url().prop_map(|u| ("G360_MAIL_OUTBOX__URL".to_owned(), u.trim_matches('"').to_owned()));
    proptest::collection::vec(
        prop_oneof![
            (secret_var, secret_text).prop_map(|(k, v)| (k.to_owned(), v)),
            (other_var, other_text).prop_map(|(k, v)| (k.to_owned(), v)),
            url_var,
        ],
        0..5,
    )
}

fn assert_no_secret(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "the secret leaked in {what}: {text}");
}

/// Loads `text` (if any) with `vars` set, in a jail (own directory and environment).
fn load(text: Option<&str>, vars: &[(String, String)]) {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        for (k, v) in vars {
            jail.set_env(k, v);
        }
        let source = match text {
            Some(t) => {
                jail.create_file("g360-mail.toml", t)?;
                ConfigSource::File("g360-mail.toml".into())
            }
            None => ConfigSource::Embedded,
        };
        match BridgeConfig::load(&source, &registry()) {
            Ok(config) => {
                assert_no_secret("Debug", &format!("{config:?}"));
                assert_no_secret("the redacted TOML", &config.to_redacted_toml());
                assert_no_secret("outbox.redacted_url", &config.outbox().redacted_url());
                for p in config.setup_problems() {
                    assert_no_secret("a setup problem", &format!("{p} {p:?}"));
                }
            }
            Err(e) => {
                assert_no_secret("Display", &e.to_string());
                assert_no_secret("Debug", &format!("{e:?}"));
                for p in e.problems() {
                    assert_no_secret("a problem", &format!("{p} {p:?}"));
                    assert_no_secret("a remedy", p.remedy.as_deref().unwrap_or_default());
                }
                let core = Error::from(e);
                assert_no_secret("the core error", &format!("{core} {core:?}"));
                assert_no_secret("the core remedy", core.remedy().unwrap_or_default());
            }
        }
        Ok(())
    });
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn prop_any_file_and_environment_load_without_panic_or_leak(text in toml_text(), vars in env()) {
        load(Some(&text), &vars);
    }

    #[test]
    fn prop_any_environment_over_the_embedded_default_loads_without_panic_or_leak(vars in env()) {
        load(None, &vars);
    }
}

// Regressions found by this target (issue 10 point 4 as seen by the fuzzer).

#[test]
fn a_toml_syntax_error_names_line_and_column_not_the_line() {
    let text = format!("[outbox]\nurl = \"postgres://g360:{SECRET}@db.example.c\n");
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("g360-mail.toml", &text)?;
        let err = BridgeConfig::load(&ConfigSource::File("g360-mail.toml".into()), &registry())
            .unwrap_err();
        let shown = err.to_string();
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("line 2, column"), "{shown}");
        Ok(())
    });
}

#[test]
fn a_secret_of_the_wrong_shape_is_not_echoed() {
    let vars = [("G360_MAIL_ACCOUNTS__JGARCIA__SECRET".to_owned(), format!("[\"{SECRET}\"]"))];
    load(Some(VALID), &vars);
    load(
        None,
        &[("G360_MAIL_OUTBOX__URL".to_owned(), format!("[\"postgres://u:{SECRET}@h/db\"]"))],
    );
}

#[test]
fn a_password_in_the_url_query_is_redacted() {
    let url = format!("postgres://db.example.com/g360?user=g360&password={SECRET}&sslmode=require");
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("G360_MAIL_OUTBOX__URL", &url);
        let config = BridgeConfig::load(&ConfigSource::Embedded, &registry()).unwrap();
        assert_eq!(
            config.outbox().redacted_url(),
            "postgres://db.example.com/g360?user=g360&password=[redacted]&sslmode=require"
        );
        assert!(!format!("{config:?}").contains(SECRET));
        Ok(())
    });
}

#[test]
fn a_mistyped_database_url_is_not_echoed() {
    // Found by the 10-minute run: `postgres: //` escaped the redaction.
    for url in [
        format!("postgres: //g360:{SECRET}@db.example.com:5432/g360"),
        format!("postgres:/ /g360:{SECRET}@db.example.com/g360"),
        format!("g360:{SECRET}@db.example.com"),
        SECRET.to_owned(),
    ] {
        load(None, &[("G360_MAIL_OUTBOX__URL".to_owned(), url)]);
    }
}
