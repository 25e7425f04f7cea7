//! Ready-made routes for the tests of several crates: the settings of an
//! `office365` integration on the [`GraphEmulator`] and of an `smtp`
//! integration on an [`SmtpTestServer`], and [`Routes`], both for one
//! account whose SMTP route is the fallback, as bridge configuration (JSON)
//! or as the CLI's configuration file (TOML).
//!
//! Delays are of milliseconds so that retries and the Sent Items lookup do
//! not slow the tests down; a test that needs other values sets them on the
//! returned JSON (`settings["max_attempts"] = json!(1)`).

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use crate::graph::{GraphEmulator, QuickSetup};
use crate::smtp::{Certs, SmtpTestServer};

/// The settings of an `office365` integration on `emulator` for the app of
/// `setup`: plain HTTP allowed, timeouts of seconds, backoff and Sent Items
/// settling of milliseconds (without `id` and `provider`).
pub fn o365_settings(emulator: &GraphEmulator, setup: &QuickSetup) -> Value {
    json!({
        "tenant_id": setup.tenant_id,
        "client_id": setup.client_id,
        "authority_url": emulator.url(),
        "graph_url": emulator.url(),
        "allow_insecure_http": true,
        "request_timeout_ms": 5_000,
        "connect_timeout_ms": 1_000,
        "initial_backoff_ms": 5,
        "max_backoff_ms": 20,
        "max_total_delay_ms": 2_000,
        "sent_lookup_delay_ms": 10,
    })
}

/// The settings of an `smtp` integration on `server` with STARTTLS,
/// trusting the CA of `certs`, with timeouts of seconds and retries after
/// milliseconds (without `id` and `provider`).
pub fn smtp_settings(server: &SmtpTestServer, certs: &Certs) -> Value {
    json!({
        "host": "127.0.0.1",
        "port": server.port(),
        "security": "starttls",
        "tls_ca_file": certs.ca,
        "hello_name": "erp.contoso.com",
        "connect_timeout_ms": 5_000,
        "command_timeout_ms": 5_000,
        "data_timeout_ms": 5_000,
        "retry_delay_ms": 10,
    })
}

/// An `[[integrations]]` entry: `id` and `provider` first, then `settings`
/// (a JSON object).
pub fn integration(id: &str, provider: &str, settings: Value) -> Value {
    let mut entry = Map::new();
    entry.insert("id".into(), json!(id));
    entry.insert("provider".into(), json!(provider));
    if let Value::Object(settings) = settings {
        entry.extend(settings);
    }
    Value::Object(entry)
}

/// A configuration as JSON (`integrations` and `accounts`, each an array of
/// flat objects) written as the TOML of a configuration file.
pub fn toml_config(config: &Value) -> String {
    let mut out = String::new();
    for section in ["integrations", "accounts"] {
        for entry in config[section].as_array().into_iter().flatten() {
            let _ = writeln!(out, "[[{section}]]");
            for (key, value) in entry.as_object().into_iter().flatten() {
                // JSON strings, numbers and booleans are TOML as they are.
                let _ = writeln!(out, "{key} = {value}");
            }
            out.push('\n');
        }
    }
    out
}

/// An account with two routes: `office365` on a [`GraphEmulator`] and, as
/// its fallback, `smtp` on an [`SmtpTestServer`] with STARTTLS and a login.
#[derive(Debug)]
pub struct Routes {
    /// The Graph emulator of the primary route.
    pub emulator: GraphEmulator,
    /// Its tenant, app and client secret, with the mailbox [`Routes::MAILBOX`].
    pub setup: QuickSetup,
    /// The SMTP server of the fallback route.
    pub smtp: SmtpTestServer,
    /// The certificates the SMTP server presents.
    pub certs: Certs,
    _dir: tempfile::TempDir,
}

impl Routes {
    /// The ERP user of the account.
    pub const USER: &str = "jgarcia";
    /// Its mailbox.
    pub const MAILBOX: &str = "jgarcia@contoso.com";
    /// The account's password on the SMTP route (`fallback_secret`).
    pub const SMTP_PASSWORD: &str = "relay password of the backup route";
    /// The id of the `office365` integration.
    pub const PRIMARY: &str = "o365";
    /// The id of the `smtp` integration.
    pub const FALLBACK: &str = "smtp-backup";

    /// Starts the emulator and the SMTP server.
    pub async fn start() -> Routes {
        let emulator = GraphEmulator::start().await;
        let setup = emulator.quick_setup(&[Routes::MAILBOX]);
        let dir = tempfile::tempdir().expect("a temporary directory for the test certificates");
        let certs = Certs::generate(dir.path());
        let smtp = SmtpTestServer::start(json!({
            "tls": certs.server_tls(),
            "auth": {
                "methods": ["PLAIN", "LOGIN"],
                "users": { Routes::MAILBOX: Routes::SMTP_PASSWORD },
            },
        }))
        .await;
        Routes { emulator, setup, smtp, certs, _dir: dir }
    }

    /// The configuration: the `office365` integration with 3 attempts, the
    /// `smtp` one, and the account with `client_secret` on the first and
    /// [`Routes::SMTP_PASSWORD`] on the second.
    pub fn config(&self, client_secret: &str) -> Value {
        let mut o365 = o365_settings(&self.emulator, &self.setup);
        o365["max_attempts"] = json!(3);
        json!({
            "integrations": [
                integration(Routes::PRIMARY, "office365", o365),
                integration(Routes::FALLBACK, "smtp", smtp_settings(&self.smtp, &self.certs)),
            ],
            "accounts": [{
                "user": Routes::USER,
                "provider": "office365",
                "integration": Routes::PRIMARY,
                "address": Routes::MAILBOX,
                "secret": client_secret,
                "fallback": Routes::FALLBACK,
                "fallback_secret": Routes::SMTP_PASSWORD,
            }],
        })
    }

    /// [`Routes::config`] with the emulator's client secret, as the TOML of
    /// a configuration file.
    pub fn toml_config(&self) -> String {
        toml_config(&self.config(&self.setup.secret))
    }

    /// The secrets of the configuration, which no output may show.
    pub fn secrets(&self) -> [&str; 2] {
        [self.setup.secret.as_str(), Routes::SMTP_PASSWORD]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_flat_json_as_toml() {
        let config = json!({
            "integrations": [integration("o", "office365", json!({ "a": "x\"y\\z\n", "n": 5, "b": true }))],
            "accounts": [{ "user": "u" }, { "user": "v" }],
        });
        let text = toml_config(&config);
        let back: Value = toml::from_str(&text).unwrap();
        assert_eq!(back, config, "{text}");
    }
}
