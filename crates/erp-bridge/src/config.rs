//! [`BridgeConfig`]: loading and validating the g360-mail configuration.
//!
//! Layers, each overriding the one before:
//! 1. built-in defaults (`lang = "es"`; without any file, the embedded
//!    default: one `file` integration writing to `./mail-outbox` and one
//!    account `demo` <`demo@localhost`>);
//! 2. a TOML file: `--config PATH`, else `$G360_MAIL_CONFIG`, else
//!    `./g360-mail.toml` when it exists;
//! 3. environment variables `G360_MAIL_<KEY>`, nested keys joined by `__`.
//!    Entries of `integrations` and `accounts` are addressed by id / user (or
//!    by position): `G360_MAIL_ACCOUNTS__JGARCIA__SECRET=...`.
//!
//! Validation reports every problem at once, each with its key path.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use g360_mail_core::{ConfigProblem, Integration, MailAccount, ProviderRegistry, Secret};
use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

use crate::error::ConfigError;

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "G360_MAIL_CONFIG";
/// The prefix of configuration environment variables.
pub const ENV_PREFIX: &str = "G360_MAIL_";
/// The file looked for in the working directory when no other is named.
pub const DEFAULT_CONFIG_FILE: &str = "g360-mail.toml";
/// Where the embedded default writes mail.
pub const DEFAULT_MAIL_DIRECTORY: &str = "./mail-outbox";
/// The SQLite file of the outbox, beside the configuration file by default.
pub const DEFAULT_OUTBOX_FILE: &str = "g360-mail-outbox.db";

pub use g360_mail_texts::Lang;

/// Where the configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// This file, which must exist.
    File(PathBuf),
    /// No file: the embedded default (plus environment variables).
    Embedded,
    /// Rows the application gave [`BridgeConfig::builder`].
    Application,
}

impl ConfigSource {
    /// The source used when the caller named none: `$G360_MAIL_CONFIG`, else
    /// `./g360-mail.toml` when it exists, else the embedded default.
    pub fn discover(explicit: Option<PathBuf>) -> ConfigSource {
        if let Some(path) = explicit {
            return ConfigSource::File(path);
        }
        #[allow(clippy::disallowed_methods, reason = "configuration code reads the environment")]
        if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
            return ConfigSource::File(PathBuf::from(path));
        }
        let local = PathBuf::from(DEFAULT_CONFIG_FILE);
        if local.is_file() { ConfigSource::File(local) } else { ConfigSource::Embedded }
    }

    /// A human description: the file path or "embedded default".
    pub fn describe(&self) -> String {
        match self {
            ConfigSource::File(p) => p.display().to_string(),
            ConfigSource::Embedded => "embedded default".to_owned(),
            ConfigSource::Application => "application rows".to_owned(),
        }
    }
}

/// The validated configuration: integrations, accounts and language.
///
/// Its `Debug` shows ids, types and the outbox URL with credentials
/// redacted; never a secret, never a provider setting.
#[derive(Clone)]
pub struct BridgeConfig {
    lang: Lang,
    integrations: Vec<Integration>,
    accounts: Vec<MailAccount>,
    /// Where each account's secret came from, for `config show`.
    secret_sources: BTreeMap<String, SecretSource>,
    /// Where each integration's secret came from, by integration id.
    integration_secrets: BTreeMap<String, SecretSource>,
    /// Where each integration's certificate and private key came from, by id.
    integration_certificates: BTreeMap<String, (SecretSource, SecretSource)>,
    /// The path of each account's row (by user) and integration's (by id).
    account_paths: BTreeMap<String, String>,
    integration_paths: BTreeMap<String, String>,
    warnings: Vec<ConfigProblem>,
    outbox: OutboxConfig,
    setup_problems: Vec<ConfigProblem>,
    source: ConfigSource,
}

/// The `[outbox]` section: where queued mail is kept and how fast it is sent.
///
/// Its `Debug` shows the URL with credentials redacted.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxConfig {
    /// `sqlite://…` or `postgres://…`; by default a SQLite file
    /// `g360-mail-outbox.db` beside the configuration file (or in the working
    /// directory without one).
    pub url: String,
    /// Sends started per sending mailbox per minute (Exchange Online: 30).
    pub messages_per_minute: u32,
    /// Sends in flight at once per sending mailbox (Graph: 4).
    pub max_in_flight_per_mailbox: u32,
    /// Attempts before a mail is moved to `failed`.
    pub max_attempts: u32,
    /// How long a worker holds a claimed mail before another may take it over.
    pub lease_ms: u64,
    /// How long to wait, after an unknown outcome, before concluding from a
    /// lookup that a mail did not go out.
    pub settle_delay_ms: u64,
    /// First retry delay (doubled per attempt, with jitter).
    pub base_backoff_ms: u64,
    /// Longest retry delay.
    pub max_backoff_ms: u64,
    /// The rolling window `messages_per_minute` counts over (60 000; tests
    /// shorten it).
    pub rate_window_ms: u64,
    /// How long `outbox run` lets sends in flight finish after SIGTERM or
    /// Ctrl-C before it cuts them off.
    pub shutdown_grace_ms: u64,
    /// Most database connections of this process's pool.
    pub max_connections: u32,
    /// How long a caller waits for a free database connection before the
    /// operation fails as temporary.
    pub acquire_timeout_ms: u64,
    /// Most mails a worker claims in one transaction, and most results it
    /// records in one (1 to 1000; 1 goes mail by mail).
    pub batch_size: u32,
    /// How long a worker gathers results before it records them together
    /// (0 to 1000 ms; 0 records at once what has gathered).
    pub flush_interval_ms: u64,
    /// How often `outbox run` reads the delivery reports (bounces) of every
    /// account whose route can (`bounces sync --all`); 0, the default, never.
    pub bounce_sync_ms: u64,
}

/// How long `outbox run` waits for sends in flight on SIGTERM by default.
pub(crate) const DEFAULT_SHUTDOWN_GRACE_MS: u64 = 30_000;

impl OutboxConfig {
    /// The defaults with the database at `url` (`sqlite://…` or
    /// `postgres://…`), for [`BridgeConfig::builder`].
    pub fn new(url: impl Into<String>) -> Self {
        OutboxConfig { url: url.into(), ..OutboxConfig::defaults(&ConfigSource::Application) }
    }

    /// The defaults for a configuration from `source`.
    pub(crate) fn new_for(source: &ConfigSource) -> Self {
        OutboxConfig::defaults(source)
    }

    fn defaults(source: &ConfigSource) -> Self {
        let dir = match source {
            ConfigSource::File(p) => p.parent().map(PathBuf::from).unwrap_or_default(),
            ConfigSource::Embedded | ConfigSource::Application => PathBuf::new(),
        };
        let file = dir.join(DEFAULT_OUTBOX_FILE);
        let options = g360_mail_outbox::OutboxOptions::default();
        OutboxConfig {
            url: format!("sqlite://{}?mode=rwc", file.display()),
            messages_per_minute: options.messages_per_minute,
            max_in_flight_per_mailbox: options.max_in_flight_per_mailbox,
            max_attempts: options.max_attempts,
            lease_ms: millis(options.lease),
            settle_delay_ms: millis(options.settle_delay),
            base_backoff_ms: millis(options.base_backoff),
            max_backoff_ms: millis(options.max_backoff),
            rate_window_ms: millis(options.rate_window),
            shutdown_grace_ms: DEFAULT_SHUTDOWN_GRACE_MS,
            max_connections: options.max_connections,
            acquire_timeout_ms: millis(options.acquire_timeout),
            batch_size: options.batch_size,
            flush_interval_ms: millis(options.flush_interval),
            bounce_sync_ms: 0,
        }
    }

    /// The outbox options these settings stand for.
    #[allow(
        clippy::needless_update,
        reason = "options the configuration does not set keep their defaults"
    )]
    pub fn options(&self) -> g360_mail_outbox::OutboxOptions {
        use std::time::Duration;
        g360_mail_outbox::OutboxOptions {
            messages_per_minute: self.messages_per_minute,
            max_in_flight_per_mailbox: self.max_in_flight_per_mailbox,
            max_attempts: self.max_attempts,
            lease: Duration::from_millis(self.lease_ms),
            settle_delay: Duration::from_millis(self.settle_delay_ms),
            base_backoff: Duration::from_millis(self.base_backoff_ms),
            max_backoff: Duration::from_millis(self.max_backoff_ms),
            rate_window: Duration::from_millis(self.rate_window_ms),
            max_connections: self.max_connections,
            acquire_timeout: Duration::from_millis(self.acquire_timeout_ms),
            batch_size: self.batch_size,
            flush_interval: Duration::from_millis(self.flush_interval_ms),
            ..g360_mail_outbox::OutboxOptions::default()
        }
    }

    /// The URL with every credential (a `user:password@`, a `?password=`)
    /// replaced by `[redacted]`.
    pub fn redacted_url(&self) -> String {
        g360_mail_core::redact_url(&self.url)
    }
}

impl fmt::Debug for OutboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxConfig")
            .field("url", &self.redacted_url())
            .field("messages_per_minute", &self.messages_per_minute)
            .field("max_in_flight_per_mailbox", &self.max_in_flight_per_mailbox)
            .field("max_attempts", &self.max_attempts)
            .field("lease_ms", &self.lease_ms)
            .field("settle_delay_ms", &self.settle_delay_ms)
            .field("base_backoff_ms", &self.base_backoff_ms)
            .field("max_backoff_ms", &self.max_backoff_ms)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout_ms", &self.acquire_timeout_ms)
            .field("batch_size", &self.batch_size)
            .field("flush_interval_ms", &self.flush_interval_ms)
            .field("bounce_sync_ms", &self.bounce_sync_ms)
            .finish()
    }
}

impl fmt::Debug for BridgeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let integrations: Vec<String> =
            self.integrations.iter().map(|i| format!("{} ({})", i.id, i.provider)).collect();
        let accounts: Vec<String> =
            self.accounts.iter().map(|a| format!("{} ({})", a.user, a.provider)).collect();
        f.debug_struct("BridgeConfig")
            .field("lang", &self.lang)
            .field("source", &self.source)
            .field("integrations", &integrations)
            .field("accounts", &accounts)
            .field("outbox", &self.outbox)
            .field("setup_problems", &self.setup_problems.len())
            .finish_non_exhaustive()
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Where a secret came from, for `config show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretSource {
    Inline,
    Env(String),
}

/// The embedded default configuration, as a value.
fn embedded_default() -> Value {
    json!({
        "integrations": [{
            "id": "local",
            "description": "Local mailbox directory (embedded default)",
            "provider": "file",
            "directory": DEFAULT_MAIL_DIRECTORY,
        }],
        "accounts": [{
            "user": "demo",
            "provider": "file",
            "address": "demo@localhost",
        }],
    })
}

impl BridgeConfig {
    /// The figment of `source`: defaults, then the file (or the embedded
    /// default). Environment variables are merged by [`BridgeConfig::load`].
    pub fn figment(source: &ConfigSource) -> Figment {
        let base = Figment::from(Serialized::defaults(json!({ "lang": "es" })));
        match source {
            ConfigSource::File(path) => base.merge(Toml::file_exact(path)),
            ConfigSource::Embedded => base.merge(Serialized::defaults(embedded_default())),
            ConfigSource::Application => base,
        }
    }

    /// Loads and validates the configuration from `source` and the environment.
    pub fn load(source: &ConfigSource, registry: &ProviderRegistry) -> Result<Self, ConfigError> {
        if let ConfigSource::File(path) = source
            && !path.is_file()
        {
            return Err(ConfigError::Missing { path: path.clone() });
        }
        if let ConfigSource::File(path) = source {
            // The syntax is checked here, not by figment, whose message quotes
            // the offending line, and so a secret on it (see `syntax_error`).
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
                origin: source.describe(),
                message: format!("cannot read the file: {}", e.kind()),
            })?;
            if let Err(e) = toml::from_str::<toml::Table>(&text) {
                return Err(ConfigError::Read {
                    origin: source.describe(),
                    message: syntax_error(&text, &e),
                });
            }
        }
        let mut value: Value = Self::figment(source).extract().map_err(|e| ConfigError::Read {
            origin: source.describe(),
            message: figment_message(&e),
        })?;
        let env: Value = Figment::from(
            Env::prefixed(ENV_PREFIX)
                .split("__")
                .filter(|k| !(k == "config" || k == "log" || k.as_str().starts_with("test_"))),
        )
        .extract()
        .map_err(|e| ConfigError::Read {
            origin: "environment".into(),
            message: figment_message(&e),
        })?;
        let mut problems = Vec::new();
        merge_env(&mut value, env, &mut problems);
        Self::validate(value, source.clone(), registry, problems)
    }

    /// Validates an already merged configuration value (a JSON object of the
    /// TOML shape). Used by [`BridgeConfig::load`] and by tests.
    pub fn from_value(value: Value, registry: &ProviderRegistry) -> Result<Self, ConfigError> {
        Self::validate(value, ConfigSource::Embedded, registry, Vec::new())
    }

    fn validate(
        value: Value,
        source: ConfigSource,
        registry: &ProviderRegistry,
        mut problems: Vec<ConfigProblem>,
    ) -> Result<Self, ConfigError> {
        let mut secrets = Vec::new();
        secret_values(&value, false, &mut secrets);
        let Value::Object(mut root) = value else {
            return Err(ConfigError::invalid(
                &source,
                vec![ConfigProblem::new("", "the configuration is not a table")],
            ));
        };
        let lang = match root.remove("lang") {
            None => Lang::Es,
            Some(v) => match v.as_str().and_then(Lang::parse) {
                Some(l) => l,
                None => {
                    problems.push(
                        ConfigProblem::new("lang", format!("unknown language {}", short(&v)))
                            .with_remedy("use \"es\" or \"en\""),
                    );
                    Lang::Es
                }
            },
        };
        let integrations =
            crate::rows::read_integrations(root.remove("integrations"), &mut problems);
        let accounts = crate::rows::read_accounts(root.remove("accounts"), &mut problems);
        let outbox = validate_outbox(root.remove("outbox"), &source, &mut problems);
        for key in root.keys() {
            problems.push(unknown_key(key, &["lang", "integrations", "accounts", "outbox"]));
        }
        let validated = crate::rows::validate_rows(integrations, accounts, registry, &mut problems);
        Self::assemble(lang, validated, outbox, source, problems, &secrets)
    }

    /// The configuration from validated rows, or every problem found.
    /// `secrets` (longest first) are scrubbed from the problems' texts.
    pub(crate) fn assemble(
        lang: Lang,
        validated: crate::rows::Validated,
        outbox: OutboxConfig,
        source: ConfigSource,
        mut problems: Vec<ConfigProblem>,
        secrets: &[String],
    ) -> Result<Self, ConfigError> {
        let mut secrets = secrets.to_vec();
        secrets.extend(validated.secrets.iter().cloned());
        // Longest first, so that a secret containing another goes whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        scrub(&mut problems, &secrets);
        let mut warnings = validated.warnings;
        let (found_warnings, problems): (Vec<_>, Vec<_>) =
            problems.into_iter().partition(|p| p.warning);
        warnings.extend(found_warnings);
        // Setup problems (a malformed client id, say) do not stop loading:
        // other accounts keep working and `verify` diagnoses them.
        if problems.iter().any(|p| !p.setup) {
            return Err(ConfigError::invalid(&source, problems));
        }
        scrub(&mut warnings, &secrets);
        Ok(BridgeConfig {
            lang,
            integrations: validated.integrations,
            accounts: validated.accounts,
            secret_sources: validated.secret_sources,
            integration_secrets: validated.integration_secrets,
            integration_certificates: validated.integration_certificates,
            account_paths: validated.account_paths,
            integration_paths: validated.integration_paths,
            warnings,
            outbox,
            setup_problems: problems,
            source,
        })
    }

    /// The problems `registry` finds in this configuration's integrations
    /// (an unregistered provider type, settings it refuses): a
    /// configuration validated with another registry may have some.
    pub(crate) fn check_against(&self, registry: &ProviderRegistry) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        for i in &self.integrations {
            if let Err(found) = registry.check_settings(&i.provider, &i.settings) {
                let path = format!("integrations[{}]", i.id);
                problems.extend(
                    found.into_iter().filter(|p| !p.setup && !p.warning).map(|p| p.under(&path)),
                );
            }
        }
        problems
    }

    /// The configured language.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The language a configuration asks for, read leniently so that its
    /// problems, or a usage error, are reported in that language even when
    /// [`BridgeConfig::load`] fails: `G360_MAIL_LANG`, else the top-level
    /// `lang = "…"` line of the file (before any `[table]`), however broken
    /// the rest is. `None` when neither names `es` or `en`.
    pub fn lang_hint(source: &ConfigSource) -> Option<Lang> {
        #[allow(clippy::disallowed_methods, reason = "configuration code reads the environment")]
        if let Some(lang) =
            std::env::var(format!("{ENV_PREFIX}LANG")).ok().as_deref().and_then(Lang::parse)
        {
            return Some(lang);
        }
        let ConfigSource::File(path) = source else { return None };
        let text = std::fs::read_to_string(path).ok()?;
        text.lines()
            .map(str::trim)
            .take_while(|line| !line.starts_with('['))
            .filter_map(|line| line.strip_prefix("lang"))
            .filter_map(|rest| rest.trim_start().strip_prefix('='))
            .find_map(|value| {
                let value = value.split('#').next().unwrap_or("").trim();
                Lang::parse(value.trim_matches(['"', '\'']))
            })
    }

    /// Where the configuration came from.
    pub fn source(&self) -> &ConfigSource {
        &self.source
    }

    /// Setup values that are wrong but did not stop loading (see
    /// [`ConfigProblem::setup`]); `config check` lists them and `verify`
    /// diagnoses them.
    pub fn setup_problems(&self) -> &[ConfigProblem] {
        &self.setup_problems
    }

    /// The setup problems that concern `user`'s account: its own keys, its
    /// integration's and its fallback integration's. Such an account cannot
    /// send or read until they are fixed; `verify` still diagnoses it.
    pub fn setup_problems_of(&self, user: &str) -> Vec<&ConfigProblem> {
        let Some(account) = self.account(user) else {
            return Vec::new();
        };
        let mut prefixes: Vec<(&String, bool)> =
            self.account_paths.get(user).map(|p| (p, true)).into_iter().collect();
        // An integration's secret concerns only the accounts that use it,
        // those without a secret of their own.
        let routes = [
            (self.integration_of(account), self.secret_sources.contains_key(user)),
            (
                account.fallback.as_deref().and_then(|f| self.integration(f)),
                self.secret_sources.contains_key(&format!("{user}\u{0}fallback")),
            ),
        ];
        for (integration, own_secret) in routes {
            if let Some(path) = integration.and_then(|i| self.integration_paths.get(&i.id)) {
                prefixes.push((path, !own_secret));
            }
        }
        self.setup_problems
            .iter()
            .filter(|p| {
                prefixes.iter().any(|(prefix, with_secret)| {
                    let rest = p.path.strip_prefix(prefix.as_str());
                    let secret = rest.is_some_and(|r| r == ".secret" || r.starts_with(".secret."));
                    (p.path == **prefix || rest.is_some_and(|r| r.starts_with('.')))
                        && (*with_secret || !secret)
                })
            })
            .collect()
    }

    /// Notes that do not stop anything (see [`ConfigProblem::warning`]): a
    /// secret or certificate that expires within `expiry_warning_days`
    /// (`o365.secret-expiring`, `o365.certificate-expiring`), several
    /// accounts of one integration repeating the same secret
    /// (`config.secret-repeated`), which the integration could hold once.
    /// `config check` and `outbox status` show them.
    pub fn warnings(&self) -> &[ConfigProblem] {
        &self.warnings
    }

    /// The `[outbox]` settings (defaults when the section is absent).
    pub fn outbox(&self) -> &OutboxConfig {
        &self.outbox
    }

    /// Every integration.
    pub fn integrations(&self) -> &[Integration] {
        &self.integrations
    }

    /// Every account.
    pub fn accounts(&self) -> &[MailAccount] {
        &self.accounts
    }

    /// The account of ERP user `user`.
    pub fn account(&self, user: &str) -> Option<&MailAccount> {
        self.accounts.iter().find(|a| a.user == user)
    }

    /// The integration with id `id`.
    pub fn integration(&self, id: &str) -> Option<&Integration> {
        self.integrations.iter().find(|i| i.id == id)
    }

    /// The integration an account sends through (validation guarantees one).
    pub fn integration_of(&self, account: &MailAccount) -> Option<&Integration> {
        match &account.integration {
            Some(id) => self.integration(id),
            None => self.integrations.iter().find(|i| i.provider == account.provider),
        }
    }

    /// The effective configuration as TOML, secrets and URL credentials
    /// replaced by `[redacted]`, in the README's order: `lang`, then each
    /// `[[integrations]]` (`id`, `description`, `provider`, then the
    /// provider's keys as its documentation lists them), each `[[accounts]]`
    /// (`user`, `provider`, `integration`, `address`, `secret`…), then
    /// `[outbox]`.
    pub fn to_redacted_toml(&self) -> String {
        let doc = self.redacted();
        let mut out = format!("lang = {}\n", toml_value(&doc.lang));
        for (name, tables) in [("integrations", &doc.integrations), ("accounts", &doc.accounts)] {
            for table in tables {
                out.push_str(&format!("\n[[{name}]]\n"));
                push_entries(&mut out, table);
            }
        }
        out.push_str("\n[outbox]\n");
        push_entries(&mut out, &doc.outbox);
        out
    }

    /// [`BridgeConfig::to_redacted_toml`] as a JSON value, for `--json`.
    pub fn to_redacted_json(&self) -> Value {
        let doc = self.redacted();
        let object = |entries: &Entries| Value::Object(entries.iter().cloned().collect());
        json!({
            "lang": doc.lang,
            "integrations": doc.integrations.iter().map(object).collect::<Vec<_>>(),
            "accounts": doc.accounts.iter().map(object).collect::<Vec<_>>(),
            "outbox": object(&doc.outbox),
        })
    }

    fn redacted(&self) -> Redacted {
        let secret = || json!(g360_mail_core::REDACTED);
        let integrations = self
            .integrations
            .iter()
            .map(|i| {
                let mut m: Entries = vec![
                    ("id".into(), json!(i.id)),
                    ("description".into(), json!(i.description)),
                    ("provider".into(), json!(i.provider)),
                ];
                if let Value::Object(settings) = &i.settings {
                    let mut keys: Vec<&String> = settings.keys().collect();
                    keys.sort_by_key(|k| {
                        (PROVIDER_KEY_ORDER.iter().position(|p| p == k).unwrap_or(usize::MAX), *k)
                    });
                    for k in keys {
                        let v = &settings[k.as_str()];
                        let v = if looks_secret(k) {
                            secret()
                        } else if let Value::String(text) = v {
                            json!(g360_mail_core::redact_url(text))
                        } else {
                            v.clone()
                        };
                        m.push((k.clone(), v));
                    }
                }
                match self.integration_secrets.get(&i.id) {
                    Some(SecretSource::Env(var)) => m.push(("secret_env".into(), json!(var))),
                    Some(SecretSource::Inline) => m.push(("secret".into(), secret())),
                    None => {}
                }
                if let Some(sources) = self.integration_certificates.get(&i.id) {
                    for (key, source) in [("certificate", &sources.0), ("private_key", &sources.1)]
                    {
                        match source {
                            SecretSource::Env(var) => m.push((format!("{key}_env"), json!(var))),
                            SecretSource::Inline => m.push((key.into(), secret())),
                        }
                    }
                }
                m
            })
            .collect();
        let accounts = self
            .accounts
            .iter()
            .map(|a| {
                let mut m: Entries =
                    vec![("user".into(), json!(a.user)), ("provider".into(), json!(a.provider))];
                if let Some(i) = &a.integration {
                    m.push(("integration".into(), json!(i)));
                }
                m.push(("address".into(), json!(a.address.to_string())));
                match self.secret_sources.get(&a.user) {
                    Some(SecretSource::Env(var)) => m.push(("secret_env".into(), json!(var))),
                    Some(SecretSource::Inline) => m.push(("secret".into(), secret())),
                    None => {}
                }
                match self.secret_sources.get(&format!("{}\u{0}next", a.user)) {
                    Some(SecretSource::Env(var)) => m.push(("secret_next_env".into(), json!(var))),
                    Some(SecretSource::Inline) => m.push(("secret_next".into(), secret())),
                    None => {}
                }
                if let Some(date) = &a.secret_expires {
                    m.push(("secret_expires".into(), json!(date)));
                }
                if let Some(f) = &a.fallback {
                    m.push(("fallback".into(), json!(f)));
                }
                match self.secret_sources.get(&format!("{}\u{0}fallback", a.user)) {
                    Some(SecretSource::Env(var)) => {
                        m.push(("fallback_secret_env".into(), json!(var)));
                    }
                    Some(SecretSource::Inline) => m.push(("fallback_secret".into(), secret())),
                    None => {}
                }
                m
            })
            .collect();
        let o = &self.outbox;
        let outbox = vec![
            ("url".into(), json!(o.redacted_url())),
            ("messages_per_minute".into(), json!(o.messages_per_minute)),
            ("max_in_flight_per_mailbox".into(), json!(o.max_in_flight_per_mailbox)),
            ("max_attempts".into(), json!(o.max_attempts)),
            ("lease_ms".into(), json!(o.lease_ms)),
            ("settle_delay_ms".into(), json!(o.settle_delay_ms)),
            ("base_backoff_ms".into(), json!(o.base_backoff_ms)),
            ("max_backoff_ms".into(), json!(o.max_backoff_ms)),
            ("rate_window_ms".into(), json!(o.rate_window_ms)),
            ("shutdown_grace_ms".into(), json!(o.shutdown_grace_ms)),
            ("max_connections".into(), json!(o.max_connections)),
            ("acquire_timeout_ms".into(), json!(o.acquire_timeout_ms)),
            ("batch_size".into(), json!(o.batch_size)),
            ("flush_interval_ms".into(), json!(o.flush_interval_ms)),
            ("bounce_sync_ms".into(), json!(o.bounce_sync_ms)),
        ];
        Redacted { lang: json!(self.lang.as_str()), integrations, accounts, outbox }
    }
}

/// Keys of a table, in order.
type Entries = Vec<(String, Value)>;

/// The configuration as `config show` prints it.
struct Redacted {
    lang: Value,
    integrations: Vec<Entries>,
    accounts: Vec<Entries>,
    outbox: Entries,
}

/// The order in which `config show` lists provider keys, as the providers'
/// pages (`docs/providers/`) list them; other keys follow alphabetically.
const PROVIDER_KEY_ORDER: &[&str] = &[
    "client_id",
    "tenant_id",
    "cloud",
    "authority_url",
    "graph_url",
    "host",
    "port",
    "security",
    "tls_ca_file",
    "auth",
    "username",
    "hello_name",
    "directory",
];

fn push_entries(out: &mut String, entries: &Entries) {
    for (k, v) in entries {
        if !v.is_null() {
            out.push_str(&format!("{} = {}\n", toml_key(k), toml_value(v)));
        }
    }
}

fn toml_key(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        k.to_owned()
    } else {
        toml::Value::String(k.to_owned()).to_string()
    }
}

fn toml_value(v: &Value) -> String {
    toml::Value::try_from(v).map_or_else(|_| "\"\"".to_owned(), |t| t.to_string())
}

fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["secret", "password", "token", "key"].iter().any(|s| k.contains(s))
        && !k.ends_with("_env")
        && !k.ends_with("_file")
        && !k.ends_with("_expires")
}

fn figment_message(e: &figment::Error) -> String {
    // What remains after the syntax check (I/O, the environment layer) quotes
    // no file text; the kind alone keeps any value out all the same.
    match &e.kind {
        figment::error::Kind::Message(m) if !m.contains('\n') && !m.contains('"') => m.clone(),
        kind => format!("{}", KindName(kind)),
    }
}

/// The name of a figment error's kind, without the values it carries.
struct KindName<'a>(&'a figment::error::Kind);

impl fmt::Display for KindName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use figment::error::Kind;
        let key = |f: &mut fmt::Formatter<'_>, what: &str, k: &str| write!(f, "{what} `{k}`");
        match self.0 {
            Kind::InvalidType(actual, expected) => {
                write!(f, "invalid type: found {}, expected {expected}", type_name(actual))
            }
            Kind::InvalidValue(actual, expected) => {
                write!(f, "invalid value: found {}, expected {expected}", type_name(actual))
            }
            Kind::InvalidLength(n, expected) => {
                write!(f, "invalid length {n}, expected {expected}")
            }
            Kind::UnknownVariant(_, _) => f.write_str("unknown variant"),
            Kind::UnknownField(k, _) => key(f, "unknown field", k),
            Kind::MissingField(k) => key(f, "missing field", k),
            Kind::DuplicateField(k) => key(f, "duplicate field", k),
            Kind::ISizeOutOfRange(_) | Kind::USizeOutOfRange(_) => {
                f.write_str("number out of range")
            }
            Kind::Unsupported(actual) => write!(f, "unsupported {}", type_name(actual)),
            Kind::UnsupportedKey(actual, _) => write!(f, "unsupported key {}", type_name(actual)),
            Kind::Message(_) => f.write_str("the configuration cannot be read"),
        }
    }
}

/// The type of a value figment found, without the value.
fn type_name(actual: &figment::error::Actual) -> &'static str {
    use figment::error::Actual;
    match actual {
        Actual::Bool(_) => "a boolean",
        Actual::Unsigned(_) | Actual::Signed(_) | Actual::Float(_) => "a number",
        Actual::Char(_) | Actual::Str(_) => "a text",
        Actual::Bytes(_) => "bytes",
        Actual::Unit | Actual::Option => "nothing",
        Actual::Seq => "a list",
        Actual::Map => "a table",
        _ => "a value",
    }
}

/// A TOML syntax error as line, column, the key of that line when it has
/// one, and what the parser expected. Never the line's text: the error may
/// sit on `secret = "…`, and toml's own message quotes the line.
fn syntax_error(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else {
        return "TOML syntax error".to_owned();
    };
    let start = span.start.min(text.len());
    let before = &text[..text.floor_char_boundary(start)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    let line_text = text[line_start..].lines().next().unwrap_or("");
    let key = line_text.split_once('=').map(|(k, _)| k.trim()).filter(|k| {
        !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    });
    let mut message = format!("TOML syntax error at line {line}, column {column}");
    if let Some(key) = key {
        message.push_str(&format!(" (key `{key}`)"));
    }
    // toml's first line of message names the rule ("invalid basic string");
    // it is kept only when it quotes nothing from the file.
    if let Some(what) = e
        .message()
        .lines()
        .next()
        .map(str::trim)
        .filter(|m| !m.is_empty() && !m.contains('`') && !m.contains('"') && !m.contains('\''))
    {
        message.push_str(&format!(": {what}"));
    }
    message
}

pub(crate) fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!("{}…", &s[..s.char_indices().nth(57).map_or(s.len(), |(i, _)| i)])
    } else {
        s
    }
}

/// Every text under a key that looks secret (at any depth), to be scrubbed
/// from problem messages: a provider's own check may quote a value.
fn secret_values(v: &Value, under_secret: bool, out: &mut Vec<String>) {
    match v {
        Value::String(s) if under_secret && s.trim().chars().count() >= 4 => {
            out.push(s.trim().to_owned());
        }
        Value::Number(n) if under_secret && n.to_string().len() >= 4 => out.push(n.to_string()),
        Value::Array(items) => {
            items.iter().for_each(|i| secret_values(i, under_secret, out));
        }
        Value::Object(map) => {
            for (k, v) in map {
                secret_values(v, under_secret || looks_secret(k), out);
            }
        }
        _ => {}
    }
}

/// Replaces every secret value in the problems' texts by `[redacted]`.
fn scrub(problems: &mut [ConfigProblem], secrets: &[String]) {
    let clean = |text: &mut String| {
        for s in secrets {
            if text.contains(s.as_str()) {
                *text = text.replace(s.as_str(), g360_mail_core::REDACTED);
            }
        }
    };
    for p in problems {
        clean(&mut p.message);
        if let Some(r) = &mut p.remedy {
            clean(r);
        }
    }
}

pub(crate) fn unknown_key(path: &str, known: &[&str]) -> ConfigProblem {
    ConfigProblem::new(path, "unknown key")
        .with_code("config.unknown-key")
        .with_remedy(format!("check the spelling; known keys here: {}", known.join(", ")))
}

/// Merges the environment layer into the configuration value. Entries of the
/// `integrations` and `accounts` arrays are matched by id / user or index.
fn merge_env(value: &mut Value, env: Value, problems: &mut Vec<ConfigProblem>) {
    let (Value::Object(root), Value::Object(env)) = (value, env) else { return };
    for (key, env_value) in env {
        let list_key = match key.as_str() {
            "integrations" => Some("id"),
            "accounts" => Some("user"),
            _ => None,
        };
        match (list_key, env_value) {
            (Some(id_key), Value::Object(entries)) => {
                let list = root.entry(key.clone()).or_insert_with(|| Value::Array(Vec::new()));
                let Value::Array(list) = list else { continue };
                for (selector, patch) in entries {
                    let Value::Object(patch) = patch else {
                        problems.push(ConfigProblem::new(
                            format!("{key}.{selector}"),
                            format!("environment variable {ENV_PREFIX}{}__{} must name a key inside the entry", key.to_uppercase(), selector.to_uppercase()),
                        ));
                        continue;
                    };
                    let pos =
                        selector.parse::<usize>().ok().filter(|i| *i < list.len()).or_else(|| {
                            list.iter().position(|e| {
                                e.get(id_key)
                                    .and_then(Value::as_str)
                                    .is_some_and(|v| v.eq_ignore_ascii_case(&selector))
                            })
                        });
                    match pos {
                        Some(i) => {
                            if let Value::Object(entry) = &mut list[i] {
                                entry.extend(patch);
                            }
                        }
                        None => problems.push(
                            ConfigProblem::new(
                                format!("{key}.{selector}"),
                                format!("an environment variable names {id_key} {selector:?}, which the configuration does not have"),
                            )
                            .with_remedy(format!("define the entry in the configuration file, or fix the {ENV_PREFIX}{}__… variable", key.to_uppercase())),
                        ),
                    }
                }
            }
            (_, v) => {
                root.insert(key, v);
            }
        }
    }
}

/// The `[outbox]` section as a file writes it: every key typed, none
/// required. Each field takes any value, so that one wrong value hides no
/// other and is reported at its own path; keys the struct does not name are
/// reported before it is read (see [`validate_outbox`]).
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct OutboxSection {
    url: crate::rows::Text,
    messages_per_minute: Whole,
    max_in_flight_per_mailbox: Whole,
    max_attempts: Whole,
    lease_ms: Whole,
    settle_delay_ms: Whole,
    base_backoff_ms: Whole,
    max_backoff_ms: Whole,
    rate_window_ms: Whole,
    shutdown_grace_ms: Whole,
    max_connections: Whole,
    acquire_timeout_ms: Whole,
    batch_size: Whole,
    flush_interval_ms: Whole,
    bounce_sync_ms: Whole,
}

/// A whole number read leniently: anything else is kept as what a problem
/// may show of it (a number or boolean itself, else only its type, since a
/// text or list may hold a database URL with its password).
#[derive(Default)]
enum Whole {
    #[default]
    Absent,
    Given(u64),
    Wrong(String),
}

impl<'de> Deserialize<'de> for Whole {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Whole;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Whole, E> {
                Ok(Whole::Given(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Whole, E> {
                Ok(u64::try_from(v).map_or_else(|_| Whole::Wrong(v.to_string()), Whole::Given))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Whole, E> {
                Ok(Whole::Wrong(Value::from(v).to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Whole, E> {
                Ok(Whole::Wrong(v.to_string()))
            }
            fn visit_str<E>(self, _: &str) -> Result<Whole, E> {
                Ok(Whole::Wrong("a text".into()))
            }
            fn visit_unit<E>(self) -> Result<Whole, E> {
                Ok(Whole::Wrong("nothing".into()))
            }
            fn visit_none<E>(self) -> Result<Whole, E> {
                Ok(Whole::Wrong("nothing".into()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Whole, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Whole::Wrong("a list".into()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Whole, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Whole::Wrong("a table".into()))
            }
        }
        d.deserialize_any(V)
    }
}

impl Whole {
    /// Sets `slot` to the number when `ok` accepts it; else reports it at
    /// `outbox.<key>`, saying `expected` and how to fix it (`default` is the
    /// value in effect meanwhile).
    fn read<T: TryFrom<u64> + fmt::Display + Copy>(
        self,
        key: &str,
        slot: &mut T,
        ok: impl Fn(u64) -> bool,
        expected: &str,
        problems: &mut Vec<ConfigProblem>,
    ) {
        let found = match self {
            Whole::Absent => return,
            Whole::Given(n) if ok(n) => match T::try_from(n) {
                Ok(v) => {
                    *slot = v;
                    return;
                }
                Err(_) => n.to_string(),
            },
            Whole::Given(n) => n.to_string(),
            Whole::Wrong(found) => found,
        };
        problems.push(
            ConfigProblem::new(
                format!("outbox.{key}"),
                format!("expected {expected}, found {found}"),
            )
            .with_remedy(format!("write e.g. {key} = {slot} (the default), or remove the key")),
        );
    }
}

/// The field names of a struct that derives `Deserialize`, as serde's derive
/// lists them: the known keys of a section come from its type alone.
fn struct_fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Fields;
    #[derive(Debug)]
    struct Found(&'static [&'static str]);
    impl fmt::Display for Found {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("fields found")
        }
    }
    impl std::error::Error for Found {}
    impl de::Error for Found {
        fn custom<M: fmt::Display>(_: M) -> Self {
            Found(&[])
        }
    }
    impl<'de> de::Deserializer<'de> for Fields {
        type Error = Found;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
            Err(Found(&[]))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Found> {
            Err(Found(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    match T::deserialize(Fields) {
        Err(Found(fields)) => fields,
        Ok(_) => &[],
    }
}

/// Reads and checks the `[outbox]` section: every problem at once, each at
/// its path `outbox.<key>` with a remedy; a value is shown only when it is a
/// number or boolean, never a text that may be a URL with its password.
/// Each problem carries a code (`config.unknown-key`, else
/// `config.invalid-value`), so that it reads in the user's language.
pub(crate) fn validate_outbox(
    value: Option<Value>,
    source: &ConfigSource,
    problems: &mut Vec<ConfigProblem>,
) -> OutboxConfig {
    let start = problems.len();
    let config = read_outbox(value, source, problems);
    for p in &mut problems[start..] {
        if p.code.is_none() {
            p.code = Some("config.invalid-value".into());
        }
    }
    config
}

fn read_outbox(
    value: Option<Value>,
    source: &ConfigSource,
    problems: &mut Vec<ConfigProblem>,
) -> OutboxConfig {
    const WEEK_MS: u64 = 7 * 86_400_000;
    let mut config = OutboxConfig::defaults(source);
    let Some(value) = value else { return config };
    let Value::Object(mut obj) = value else {
        problems.push(
            ConfigProblem::new("outbox", "expected a table")
                .with_remedy("write it as an [outbox] section"),
        );
        return config;
    };
    let known = struct_fields::<OutboxSection>();
    obj.retain(|key, _| {
        let is_known = known.contains(&key.as_str());
        if !is_known {
            problems.push(unknown_key(&format!("outbox.{key}"), known));
        }
        is_known
    });
    // Every field takes any value and unknown keys are gone: this cannot fail.
    let s: OutboxSection = serde_json::from_value(Value::Object(obj)).unwrap_or_default();
    let before = problems.len();
    let url = crate::rows::text(s.url, "outbox", "url", problems);
    if let Some(p) = problems.get_mut(before) {
        p.remedy =
            Some("write the database URL as text: url = \"sqlite://outbox.db?mode=rwc\"".into());
    }
    if let Some(url) = url {
        let schemes = ["sqlite:", "postgres://", "postgresql://"];
        if schemes.iter().any(|k| url.starts_with(k)) {
            config.url = url;
        } else {
            // An unknown URL may be a known one mistyped (`postgres:/ /u:pw@h`),
            // which no redaction recognises: only its scheme is named.
            let scheme = url.split_once(':').map(|(s, _)| s).filter(|s| {
                s.len() <= 20 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b))
            });
            problems.push(
                ConfigProblem::new(
                    "outbox.url",
                    match scheme {
                        Some(s) => format!("unsupported database URL (scheme {s:?})"),
                        None => "unsupported database URL".to_owned(),
                    },
                )
                .with_remedy(
                    "use sqlite://path/outbox.db?mode=rwc or postgres://user@host:5432/database",
                ),
            );
        }
    }
    let c = &mut config;
    let count = |max: u64| move |n: u64| (1..=max).contains(&n);
    let millis = |n: u64| (1..=WEEK_MS).contains(&n);
    const MILLIS: &str = "milliseconds from 1 to 604800000 (a week)";
    let p = problems;
    s.messages_per_minute.read(
        "messages_per_minute",
        &mut c.messages_per_minute,
        count(10_000),
        "a whole number from 1 to 10000",
        p,
    );
    s.max_in_flight_per_mailbox.read(
        "max_in_flight_per_mailbox",
        &mut c.max_in_flight_per_mailbox,
        count(64),
        "a whole number from 1 to 64",
        p,
    );
    s.max_attempts.read(
        "max_attempts",
        &mut c.max_attempts,
        count(1_000),
        "a whole number from 1 to 1000",
        p,
    );
    s.lease_ms.read("lease_ms", &mut c.lease_ms, millis, MILLIS, p);
    s.settle_delay_ms.read("settle_delay_ms", &mut c.settle_delay_ms, millis, MILLIS, p);
    s.base_backoff_ms.read("base_backoff_ms", &mut c.base_backoff_ms, millis, MILLIS, p);
    s.max_backoff_ms.read("max_backoff_ms", &mut c.max_backoff_ms, millis, MILLIS, p);
    s.rate_window_ms.read("rate_window_ms", &mut c.rate_window_ms, millis, MILLIS, p);
    s.shutdown_grace_ms.read("shutdown_grace_ms", &mut c.shutdown_grace_ms, millis, MILLIS, p);
    s.max_connections.read(
        "max_connections",
        &mut c.max_connections,
        count(1_000),
        "a whole number from 1 to 1000",
        p,
    );
    s.acquire_timeout_ms.read("acquire_timeout_ms", &mut c.acquire_timeout_ms, millis, MILLIS, p);
    s.batch_size.read(
        "batch_size",
        &mut c.batch_size,
        count(1_000),
        "a whole number from 1 to 1000",
        p,
    );
    s.flush_interval_ms.read(
        "flush_interval_ms",
        &mut c.flush_interval_ms,
        |n| n <= 1_000,
        "milliseconds from 0 to 1000",
        p,
    );
    // 0 turns the periodic sync off; else at least a second.
    let before = p.len();
    s.bounce_sync_ms.read(
        "bounce_sync_ms",
        &mut c.bounce_sync_ms,
        |n| n == 0 || (1_000..=WEEK_MS).contains(&n),
        "0 (off) or milliseconds from 1000 to 604800000",
        p,
    );
    if let Some(problem) = p.get_mut(before) {
        problem.remedy =
            Some("write e.g. bounce_sync_ms = 300000 to read reports every 5 minutes".into());
    }
    config
}

/// Reads `key` or `key_env` (the name of an environment variable holding it).
pub(crate) fn read_secret(
    inline: Option<String>,
    env: Option<String>,
    path: &str,
    key: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<(Secret, SecretSource)> {
    match (inline, env) {
        (Some(_), Some(_)) => {
            problems.push(
                ConfigProblem::new(
                    format!("{path}.{key}"),
                    format!("both {key} and {key}_env are set"),
                )
                .with_remedy("keep only one of them"),
            );
            None
        }
        (Some(s), None) => Some((Secret::new(s), SecretSource::Inline)),
        (None, Some(var)) =>
        {
            #[allow(
                clippy::disallowed_methods,
                reason = "configuration code reads the environment"
            )]
            match std::env::var(&var) {
                Ok(v) if !v.trim().is_empty() => Some((Secret::new(v), SecretSource::Env(var))),
                _ => {
                    problems.push(
                        ConfigProblem::new(
                            format!("{path}.{key}_env"),
                            format!("environment variable {var} is not set or empty"),
                        )
                        .with_code("config.secret-env-missing")
                        .with_remedy(format!(
                            "export {var} with the secret value before starting, or use {key}"
                        )),
                    );
                    None
                }
            }
        }
        (None, None) => None,
    }
}

pub(crate) fn ids(integrations: &[Integration]) -> String {
    let ids: Vec<&str> = integrations.iter().map(|i| i.id.as_str()).collect();
    if ids.is_empty() { "(no integrations are configured)".into() } else { ids.join(", ") }
}

pub(crate) fn check_binding(
    path: &str,
    provider: &str,
    integration: Option<&str>,
    integrations: &[Integration],
    problems: &mut Vec<ConfigProblem>,
) {
    match integration {
        Some(id) => match integrations.iter().find(|i| i.id == id) {
            None => problems.push(
                ConfigProblem::new(
                    format!("{path}.integration"),
                    format!("no integration has id {id:?}"),
                )
                .with_remedy(format!("use one of: {}", ids(integrations))),
            ),
            Some(i) if i.provider != provider => problems.push(
                ConfigProblem::new(
                    format!("{path}.integration"),
                    format!(
                        "integration {id:?} is of provider type {:?}, the account is {provider:?}",
                        i.provider
                    ),
                )
                .with_remedy("make the account's provider match its integration's"),
            ),
            _ => {}
        },
        None => {
            let matching: Vec<&str> = integrations
                .iter()
                .filter(|i| i.provider == provider)
                .map(|i| i.id.as_str())
                .collect();
            match matching.len() {
                1 => {}
                0 => problems.push(
                    ConfigProblem::new(
                        format!("{path}.provider"),
                        format!("no integration of provider type {provider:?} is configured"),
                    )
                    .with_code("config.no-integration")
                    .with_remedy(format!(
                        "add an [[integrations]] entry with provider = {provider:?}"
                    )),
                ),
                _ => problems.push(
                    ConfigProblem::new(
                        format!("{path}.integration"),
                        format!(
                            "several integrations have provider type {provider:?}: {}",
                            matching.join(", ")
                        ),
                    )
                    .with_code("config.ambiguous-integration")
                    .with_remedy("set integration to the id of the one this account uses"),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax(text: &str) -> String {
        syntax_error(text, &toml::from_str::<toml::Table>(text).unwrap_err())
    }

    #[test]
    fn a_syntax_error_says_line_column_and_key_but_never_the_line() {
        const SECRET: &str = "Abc8Q~very-secret-value-0123456789";
        for (text, line, key) in [
            (format!("lang = \"es\"\n[[accounts]]\nsecret = \"{SECRET}\n"), 3, Some("secret")),
            (format!("lang = \"es\"\nsecret = {SECRET}\n"), 2, Some("secret")),
            (format!("lang = \"es\"\nsecret = \"{SECRET}\\q\"\n"), 2, Some("secret")),
            (format!("lang = \"es\"\nsecret = '{SECRET}\" \"x'\"\n"), 2, Some("secret")),
            (format!("secret = \"\"\"{SECRET}\n"), 2, None),
            (format!("[[accounts]\nsecret = \"{SECRET}\"\n"), 1, None),
            (format!("x = {{ secret = \"{SECRET}\" \n"), 1, Some("x")),
        ] {
            let m = syntax(&text);
            assert!(!m.contains("Abc8Q") && !m.contains("0123"), "{m}");
            assert!(m.contains(&format!("at line {line}, column ")), "{text}: {m}");
            if let Some(key) = key {
                assert!(m.contains(&format!("(key `{key}`)")), "{text}: {m}");
            }
        }
    }
}
