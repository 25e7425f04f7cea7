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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use g360_mail_core::{
    ConfigProblem, EmailAddress, Integration, MailAccount, ProviderRegistry, Secret,
};
use serde_json::{Map, Value, json};

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

/// Language of user-facing messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    /// Spanish (the default).
    #[default]
    Es,
    /// English.
    En,
}

impl Lang {
    /// `"es"` or `"en"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }

    /// Parses `es` or `en` (case-insensitive).
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "es" => Some(Lang::Es),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// This file, which must exist.
    File(PathBuf),
    /// No file: the embedded default (plus environment variables).
    Embedded,
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
        }
    }
}

/// The validated configuration: integrations, accounts and language.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    lang: Lang,
    integrations: Vec<Integration>,
    accounts: Vec<MailAccount>,
    /// Where each account's secret came from, for `config show`.
    secret_sources: BTreeMap<String, SecretSource>,
    outbox: OutboxConfig,
    setup_problems: Vec<ConfigProblem>,
    source: ConfigSource,
}

/// The `[outbox]` section: where queued mail is kept and how fast it is sent.
/// Its `Debug` shows the URL redacted.
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
}

impl OutboxConfig {
    fn defaults(source: &ConfigSource) -> Self {
        let dir = match source {
            ConfigSource::File(p) => p.parent().map(PathBuf::from).unwrap_or_default(),
            ConfigSource::Embedded => PathBuf::new(),
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
        }
    }

    /// The outbox options these settings stand for.
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
            ..g360_mail_outbox::OutboxOptions::default()
        }
    }

    /// The URL with any password replaced by `[redacted]`.
    pub fn redacted_url(&self) -> String {
        redact_url_password(&self.url)
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
            .finish()
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `scheme://user:password@host/…` → `scheme://user:[redacted]@host/…`, and
/// `?password=…` (also `sslpassword`, `passwd`, `pwd`) → `?password=[redacted]`.
fn redact_url_password(url: &str) -> String {
    let (url, query) = match url.split_once('?') {
        Some((u, q)) => (u, Some(q)),
        None => (url, None),
    };
    let query = query.map(|q| {
        let pairs = q.split('&').map(|pair| match pair.split_once('=') {
            Some((k, _))
                if looks_secret(k)
                    || ["passwd", "pwd"].contains(&k.to_ascii_lowercase().as_str()) =>
            {
                format!("{k}={}", g360_mail_core::REDACTED)
            }
            _ => pair.to_owned(),
        });
        format!("?{}", pairs.collect::<Vec<_>>().join("&"))
    });
    redact_userinfo(url) + query.as_deref().unwrap_or_default()
}

fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{scheme}://{user}:{}@{host}{path}", g360_mail_core::REDACTED)
        }
        _ => url.to_owned(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SecretSource {
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
        }
    }

    /// Loads and validates the configuration from `source` and the environment.
    pub fn load(source: &ConfigSource, registry: &ProviderRegistry) -> Result<Self, ConfigError> {
        if let ConfigSource::File(path) = source
            && !path.is_file()
        {
            return Err(ConfigError::Missing { path: path.clone() });
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
            validate_integrations(root.remove("integrations"), registry, &mut problems);
        let (accounts, secret_sources) =
            validate_accounts(root.remove("accounts"), &integrations, registry, &mut problems);
        let outbox = validate_outbox(root.remove("outbox"), &source, &mut problems);
        for key in root.keys() {
            problems.push(unknown_key(key, &["lang", "integrations", "accounts", "outbox"]));
        }
        // Setup problems (a malformed client id, say) do not stop loading:
        // other accounts keep working and `verify` diagnoses them.
        if problems.iter().any(|p| !p.setup) {
            return Err(ConfigError::invalid(&source, problems));
        }
        let setup_problems = problems;
        Ok(BridgeConfig {
            lang,
            integrations,
            accounts,
            secret_sources,
            outbox,
            setup_problems,
            source,
        })
    }

    /// The configured language.
    pub fn lang(&self) -> Lang {
        self.lang
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

    /// The effective configuration as TOML, secrets replaced by `[redacted]`.
    pub fn to_redacted_toml(&self) -> String {
        let integrations: Vec<Value> = self
            .integrations
            .iter()
            .map(|i| {
                let mut m = Map::new();
                m.insert("id".into(), json!(i.id));
                m.insert("description".into(), json!(i.description));
                m.insert("provider".into(), json!(i.provider));
                if let Value::Object(settings) = &i.settings {
                    for (k, v) in settings {
                        let v = if looks_secret(k) {
                            json!(g360_mail_core::REDACTED)
                        } else {
                            v.clone()
                        };
                        m.insert(k.clone(), v);
                    }
                }
                Value::Object(m)
            })
            .collect();
        let accounts: Vec<Value> = self
            .accounts
            .iter()
            .map(|a| {
                let mut m = Map::new();
                m.insert("user".into(), json!(a.user));
                m.insert("provider".into(), json!(a.provider));
                if let Some(i) = &a.integration {
                    m.insert("integration".into(), json!(i));
                }
                m.insert("address".into(), json!(a.address.to_string()));
                match self.secret_sources.get(&a.user) {
                    Some(SecretSource::Env(var)) => {
                        m.insert("secret_env".into(), json!(var));
                    }
                    Some(SecretSource::Inline) => {
                        m.insert("secret".into(), json!(g360_mail_core::REDACTED));
                    }
                    None => {}
                }
                if let Some(f) = &a.fallback {
                    m.insert("fallback".into(), json!(f));
                }
                match self.secret_sources.get(&format!("{}\u{0}fallback", a.user)) {
                    Some(SecretSource::Env(var)) => {
                        m.insert("fallback_secret_env".into(), json!(var));
                    }
                    Some(SecretSource::Inline) => {
                        m.insert("fallback_secret".into(), json!(g360_mail_core::REDACTED));
                    }
                    None => {}
                }
                Value::Object(m)
            })
            .collect();
        let outbox = json!({
            "url": self.outbox.redacted_url(),
            "messages_per_minute": self.outbox.messages_per_minute,
            "max_in_flight_per_mailbox": self.outbox.max_in_flight_per_mailbox,
            "max_attempts": self.outbox.max_attempts,
            "lease_ms": self.outbox.lease_ms,
            "settle_delay_ms": self.outbox.settle_delay_ms,
            "base_backoff_ms": self.outbox.base_backoff_ms,
            "max_backoff_ms": self.outbox.max_backoff_ms,
        });
        let doc = json!({ "lang": self.lang.as_str(), "outbox": outbox, "integrations": integrations, "accounts": accounts });
        toml::to_string_pretty(&doc)
            .unwrap_or_else(|e| format!("# cannot render the configuration: {e}\n"))
    }
}

fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["secret", "password", "token", "key"].iter().any(|s| k.contains(s))
        && !k.ends_with("_env")
        && !k.ends_with("_file")
}

fn figment_message(e: &figment::Error) -> String {
    // figment's Display says where (file, line, column) the problem is; toml
    // adds the offending line with a caret under it, and that line may hold a
    // secret: it is left out.
    let snippet = |line: &str| {
        line.trim_start()
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start()
            .starts_with('|')
    };
    let text = e.to_string();
    let kept: Vec<&str> = text.lines().filter(|l| !snippet(l)).map(str::trim).collect();
    kept.join(" ")
}

fn short(v: &Value) -> String {
    // A list or a table may be a secret written in the wrong shape: only its kind is named.
    match v {
        Value::Array(_) => return "a list".to_owned(),
        Value::Object(_) => return "a table".to_owned(),
        _ => {}
    }
    let s = v.to_string();
    if s.len() > 60 {
        format!("{}…", &s[..s.char_indices().nth(57).map_or(s.len(), |(i, _)| i)])
    } else {
        s
    }
}

fn unknown_key(path: &str, known: &[&str]) -> ConfigProblem {
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

/// Reads a string-like value (numbers and booleans from environment variables
/// count as their text).
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn take_text(
    obj: &mut Map<String, Value>,
    key: &str,
    path: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<String> {
    let v = obj.remove(key)?;
    match as_text(&v) {
        Some(s) => Some(s),
        None => {
            problems.push(ConfigProblem::new(
                format!("{path}.{key}"),
                format!("expected a text value, found {}", short(&v)),
            ));
            None
        }
    }
}

fn take_list(value: Option<Value>, name: &str, problems: &mut Vec<ConfigProblem>) -> Vec<Value> {
    match value {
        None => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => {
            problems.push(
                ConfigProblem::new(
                    name,
                    format!("expected a list of tables, found {}", short(&other)),
                )
                .with_remedy(format!("write each entry as a [[{name}]] table")),
            );
            Vec::new()
        }
    }
}

fn validate_integrations(
    value: Option<Value>,
    registry: &ProviderRegistry,
    problems: &mut Vec<ConfigProblem>,
) -> Vec<Integration> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, item) in take_list(value, "integrations", problems).into_iter().enumerate() {
        let path = format!("integrations[{i}]");
        let Value::Object(mut obj) = item else {
            problems.push(ConfigProblem::new(&path, "expected a table"));
            continue;
        };
        let id = take_text(&mut obj, "id", &path, problems);
        let description = take_text(&mut obj, "description", &path, problems).unwrap_or_default();
        let provider = take_text(&mut obj, "provider", &path, problems);
        match &id {
            None => problems.push(
                ConfigProblem::new(format!("{path}.id"), "missing")
                    .with_remedy("give the integration a unique id, e.g. id = \"o365\""),
            ),
            Some(id) if id.trim().is_empty() => {
                problems.push(ConfigProblem::new(format!("{path}.id"), "is empty"))
            }
            Some(id) if !seen.insert(id.clone()) => problems.push(
                ConfigProblem::new(
                    format!("{path}.id"),
                    format!("duplicate integration id {id:?}"),
                )
                .with_code("config.duplicate")
                .with_remedy("give each integration its own id"),
            ),
            _ => {}
        }
        let Some(provider) = provider else {
            problems.push(
                ConfigProblem::new(format!("{path}.provider"), "missing").with_remedy(format!(
                    "set provider to one of: {}",
                    registry.types().join(", ")
                )),
            );
            continue;
        };
        let settings = Value::Object(obj);
        if let Err(found) = registry.check_settings(&provider, &settings) {
            problems.extend(found.into_iter().map(|p| p.under(&path)));
        }
        if let Some(id) = id {
            out.push(Integration::new(id, provider, settings).with_description(description));
        }
    }
    out
}

type Accounts = (Vec<MailAccount>, BTreeMap<String, SecretSource>);

fn validate_accounts(
    value: Option<Value>,
    integrations: &[Integration],
    registry: &ProviderRegistry,
    problems: &mut Vec<ConfigProblem>,
) -> Accounts {
    const KNOWN: &[&str] = &[
        "user",
        "provider",
        "integration",
        "address",
        "secret",
        "secret_env",
        "fallback",
        "fallback_secret",
        "fallback_secret_env",
    ];
    let mut out = Vec::new();
    let mut sources = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for (i, item) in take_list(value, "accounts", problems).into_iter().enumerate() {
        let path = format!("accounts[{i}]");
        let Value::Object(mut obj) = item else {
            problems.push(ConfigProblem::new(&path, "expected a table"));
            continue;
        };
        let user = take_text(&mut obj, "user", &path, problems);
        let provider = take_text(&mut obj, "provider", &path, problems);
        let integration = take_text(&mut obj, "integration", &path, problems);
        let address = take_text(&mut obj, "address", &path, problems);
        let secret = take_text(&mut obj, "secret", &path, problems);
        let secret_env = take_text(&mut obj, "secret_env", &path, problems);
        let fallback = take_text(&mut obj, "fallback", &path, problems);
        let fallback_secret = take_text(&mut obj, "fallback_secret", &path, problems);
        let fallback_secret_env = take_text(&mut obj, "fallback_secret_env", &path, problems);
        for key in obj.keys() {
            problems.push(unknown_key(&format!("{path}.{key}"), KNOWN));
        }
        let before = problems.len();

        match &user {
            None => problems.push(
                ConfigProblem::new(format!("{path}.user"), "missing")
                    .with_remedy("set user to the ERP user id"),
            ),
            Some(u) if u.trim().is_empty() => {
                problems.push(ConfigProblem::new(format!("{path}.user"), "is empty"))
            }
            Some(u) if !seen.insert(u.clone()) => problems.push(
                ConfigProblem::new(
                    format!("{path}.user"),
                    format!("duplicate account for user {u:?}"),
                )
                .with_code("config.duplicate")
                .with_remedy("each ERP user has one account"),
            ),
            _ => {}
        }
        let address = match address {
            None => {
                problems
                    .push(ConfigProblem::new(format!("{path}.address"), "missing").with_remedy(
                        "set address to the user's mailbox, e.g. jgarcia@contoso.com",
                    ));
                None
            }
            Some(a) => match EmailAddress::parse(&a) {
                Ok(a) => Some(a),
                Err(e) => {
                    let mut p = ConfigProblem::new(format!("{path}.address"), e.to_string())
                        .with_code("address.invalid");
                    if let Some(r) = e.remedy() {
                        p = p.with_remedy(r);
                    }
                    problems.push(p);
                    None
                }
            },
        };
        let needs_secret = match &provider {
            None => {
                problems.push(
                    ConfigProblem::new(format!("{path}.provider"), "missing").with_remedy(format!(
                        "set provider to one of: {}",
                        registry.types().join(", ")
                    )),
                );
                None
            }
            Some(p) => match registry.needs_secret(p) {
                None => {
                    problems.push(
                        ConfigProblem::new(
                            format!("{path}.provider"),
                            format!(
                                "unknown provider type {p:?}; registered types: {}",
                                registry.types().join(", ")
                            ),
                        )
                        .with_code("config.unknown-provider")
                        .with_remedy("use one of the registered types"),
                    );
                    None
                }
                Some(n) => {
                    check_binding(&path, p, integration.as_deref(), integrations, problems);
                    Some(n)
                }
            },
        };
        if let Some(f) = &fallback {
            match integrations.iter().find(|i| &i.id == f) {
                None => problems.push(
                    ConfigProblem::new(
                        format!("{path}.fallback"),
                        format!("no integration has id {f:?}"),
                    )
                    .with_remedy(format!("use one of: {}", ids(integrations))),
                ),
                Some(fb)
                    if Some(&fb.id) == integration.as_ref()
                        || (integration.is_none() && Some(&fb.provider) == provider.as_ref()) =>
                {
                    problems.push(
                        ConfigProblem::new(
                            format!("{path}.fallback"),
                            "the fallback is the account's own integration",
                        )
                        .with_remedy("name a different integration as fallback"),
                    )
                }
                _ => {}
            }
        }
        let (secret, source) = read_secret(secret, secret_env, &path, "secret", problems);
        let (fallback_secret, fallback_source) =
            read_secret(fallback_secret, fallback_secret_env, &path, "fallback_secret", problems);
        let no_secret_problem = |problems: &[ConfigProblem], key: &str| {
            !problems[before..].iter().any(|p| p.path.starts_with(&format!("{path}.{key}")))
        };
        if let (Some(true), Some(p)) = (needs_secret, provider.as_deref()) {
            let bound = match integration.as_deref() {
                Some(id) => integrations.iter().find(|i| i.id == id),
                None => integrations.iter().find(|i| i.provider == p),
            };
            let required = bound.and_then(|i| registry.secret_required(i)).unwrap_or(true);
            if required && source.is_none() && no_secret_problem(problems, "secret") {
                problems.push(
                    ConfigProblem::new(format!("{path}.secret"), format!("missing: accounts of provider {p:?} need a secret"))
                        .with_code("config.secret-missing")
                        .with_remedy("set secret (for Office 365 the client secret VALUE, for SMTP the password) or secret_env"),
                );
            }
        }
        if let Some(fb) = fallback.as_deref().and_then(|f| integrations.iter().find(|i| i.id == f))
            && registry.secret_required(fb) == Some(true)
            && fallback_source.is_none()
            && no_secret_problem(problems, "fallback_secret")
        {
            problems.push(
                ConfigProblem::new(
                    format!("{path}.fallback_secret"),
                    format!(
                        "missing: the fallback integration {:?} ({}) needs a secret",
                        fb.id, fb.provider
                    ),
                )
                .with_code("config.secret-missing")
                .with_remedy(
                    "set fallback_secret or fallback_secret_env (e.g. the SMTP relay's password)",
                ),
            );
        }
        if problems.len() == before
            && let (Some(user), Some(provider), Some(address)) = (user, provider, address)
        {
            let mut account = MailAccount::new(&user, provider, address);
            account.integration = integration;
            account.secret = secret;
            account.fallback = fallback;
            account.fallback_secret = fallback_secret;
            if let Some(s) = fallback_source {
                sources.insert(format!("{user}\u{0}fallback"), s);
            }
            if let Some(s) = source {
                sources.insert(user, s);
            }
            out.push(account);
        }
    }
    (out, sources)
}

fn validate_outbox(
    value: Option<Value>,
    source: &ConfigSource,
    problems: &mut Vec<ConfigProblem>,
) -> OutboxConfig {
    const KNOWN: &[&str] = &[
        "url",
        "messages_per_minute",
        "max_in_flight_per_mailbox",
        "max_attempts",
        "lease_ms",
        "settle_delay_ms",
        "base_backoff_ms",
        "max_backoff_ms",
    ];
    let mut config = OutboxConfig::defaults(source);
    let Some(value) = value else { return config };
    let Value::Object(mut obj) = value else {
        problems.push(
            ConfigProblem::new("outbox", "expected a table")
                .with_remedy("write it as an [outbox] section"),
        );
        return config;
    };
    if let Some(url) = take_text(&mut obj, "url", "outbox", problems) {
        let known = ["sqlite:", "postgres://", "postgresql://"];
        if known.iter().any(|k| url.starts_with(k)) {
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
    let mut number = |key: &str, slot: &mut u32, max: u32| {
        if let Some(v) = obj.remove(key) {
            match v.as_u64().filter(|n| (1..=u64::from(max)).contains(n)) {
                Some(n) => *slot = n as u32,
                None => problems.push(ConfigProblem::new(
                    format!("outbox.{key}"),
                    format!("expected a whole number from 1 to {max}, found {}", short(&v)),
                )),
            }
        }
    };
    number("messages_per_minute", &mut config.messages_per_minute, 10_000);
    number("max_in_flight_per_mailbox", &mut config.max_in_flight_per_mailbox, 64);
    number("max_attempts", &mut config.max_attempts, 1_000);
    let mut millis_key = |key: &str, slot: &mut u64| {
        if let Some(v) = obj.remove(key) {
            match v.as_u64().filter(|n| (1..=7 * 86_400_000).contains(n)) {
                Some(n) => *slot = n,
                None => problems.push(ConfigProblem::new(
                    format!("outbox.{key}"),
                    format!(
                        "expected milliseconds from 1 to 604800000 (a week), found {}",
                        short(&v)
                    ),
                )),
            }
        }
    };
    millis_key("lease_ms", &mut config.lease_ms);
    millis_key("settle_delay_ms", &mut config.settle_delay_ms);
    millis_key("base_backoff_ms", &mut config.base_backoff_ms);
    millis_key("max_backoff_ms", &mut config.max_backoff_ms);
    for key in obj.keys() {
        problems.push(unknown_key(&format!("outbox.{key}"), KNOWN));
    }
    config
}

/// Reads `key` or `key_env` (the name of an environment variable holding it).
fn read_secret(
    inline: Option<String>,
    env: Option<String>,
    path: &str,
    key: &str,
    problems: &mut Vec<ConfigProblem>,
) -> (Option<Secret>, Option<SecretSource>) {
    match (inline, env) {
        (Some(_), Some(_)) => {
            problems.push(
                ConfigProblem::new(
                    format!("{path}.{key}"),
                    format!("both {key} and {key}_env are set"),
                )
                .with_remedy("keep only one of them"),
            );
            (None, None)
        }
        (Some(s), None) => (Some(Secret::new(s)), Some(SecretSource::Inline)),
        (None, Some(var)) =>
        {
            #[allow(
                clippy::disallowed_methods,
                reason = "configuration code reads the environment"
            )]
            match std::env::var(&var) {
                Ok(v) if !v.trim().is_empty() => {
                    (Some(Secret::new(v)), Some(SecretSource::Env(var)))
                }
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
                    (None, None)
                }
            }
        }
        (None, None) => (None, None),
    }
}

fn ids(integrations: &[Integration]) -> String {
    let ids: Vec<&str> = integrations.iter().map(|i| i.id.as_str()).collect();
    if ids.is_empty() { "(no integrations are configured)".into() } else { ids.join(", ") }
}

fn check_binding(
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
