//! Configuration from rows: [`BridgeConfigBuilder`] for an ERP that keeps
//! integrations and accounts in its own tables, and the validation both it
//! and the file loader go through.
//!
//! A file's `[[integrations]]` and `[[accounts]]` entries are read entry by
//! entry into typed rows (serde, each key on its own so that one wrong value
//! hides no other); builder rows are typed already. Both are then validated
//! by the same code, every problem at once, each at the path of its row and
//! field: `accounts[jgarcia].address`, `integrations[o365].client_id` (the
//! row's position when its id is missing, repeated or a number).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use g360_mail_core::{
    CertificatePem, ConfigProblem, EmailAddress, Integration, MailAccount, ProviderRegistry, Secret,
};
use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::config::{BridgeConfig, ConfigSource, Lang, OutboxConfig, SecretSource};
use crate::error::ConfigError;

/// An integration as an ERP keeps it (*Integraciones*: Descripción, Tipo,
/// ID aplicación, ID inquilino …): an `[[integrations]]` entry.
///
/// Its `Debug` shows the id, the provider type and the names of the
/// settings, never their values or the secret.
#[derive(Clone)]
pub struct IntegrationRow {
    id: String,
    description: String,
    provider: String,
    settings: Value,
    secret: Option<Secret>,
    certificate: Option<PemInput>,
}

/// Where an integration row's certificate comes from.
#[derive(Clone)]
enum PemInput {
    /// The PEM texts, from the ERP's secret store.
    Given(CertificatePem),
    /// The names of the environment variables holding them.
    Env { certificate: String, private_key: String },
}

impl IntegrationRow {
    /// A row with id `id` of provider type `provider` (`office365`, `smtp`,
    /// `file`, or a type the application registered).
    pub fn new(id: impl Into<String>, provider: impl Into<String>) -> Self {
        IntegrationRow {
            id: id.into(),
            description: String::new(),
            provider: provider.into(),
            settings: Value::Object(Map::new()),
            secret: None,
            certificate: None,
        }
    }

    /// Sets the description shown to administrators.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets one provider setting (`client_id`, `tenant_id`, `host` …).
    pub fn with_setting(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        if let Value::Object(map) = &mut self.settings {
            map.insert(key.into(), value.into());
        }
        self
    }

    /// Replaces the provider settings with `settings`: a JSON object, or any
    /// value that serialises to one (a provider's settings type, say). One
    /// that does not is reported by [`BridgeConfigBuilder::build`].
    pub fn with_settings(mut self, settings: impl serde::Serialize) -> Self {
        self.settings = serde_json::to_value(settings).unwrap_or(Value::Null);
        self
    }

    /// The secret every account of this integration without a secret of its
    /// own uses (the Office 365 client secret value, the SMTP password).
    pub fn with_secret(mut self, secret: Secret) -> Self {
        self.secret = Some(secret);
        self
    }

    /// The app's certificate credential as PEM texts from the ERP's own
    /// secret store: the certificate (`-----BEGIN CERTIFICATE-----`) and its
    /// RSA private key. For `office365`, instead of `certificate_file` and
    /// `private_key_file`; [`BridgeConfigBuilder::build`] checks that they
    /// belong together and when the certificate expires.
    pub fn with_certificate_pem(
        mut self,
        certificate: impl Into<String>,
        private_key: Secret,
    ) -> Self {
        self.certificate = Some(PemInput::Given(CertificatePem::new(certificate, private_key)));
        self
    }

    /// The certificate credential from two environment variables holding
    /// the PEM texts (`certificate_env`, `private_key_env` in a file), read
    /// by [`BridgeConfigBuilder::build`].
    pub fn with_certificate_env(
        mut self,
        certificate_var: impl Into<String>,
        private_key_var: impl Into<String>,
    ) -> Self {
        self.certificate = Some(PemInput::Env {
            certificate: certificate_var.into(),
            private_key: private_key_var.into(),
        });
        self
    }
}

impl fmt::Debug for IntegrationRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self
            .settings
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        f.debug_struct("IntegrationRow")
            .field("id", &self.id)
            .field("provider", &self.provider)
            .field("setting_keys", &keys)
            .field("secret", &self.secret.as_ref().map(|_| g360_mail_core::REDACTED))
            .field("certificate", &self.certificate.as_ref().map(|_| g360_mail_core::REDACTED))
            .finish_non_exhaustive()
    }
}

/// A user's mail account as an ERP keeps it (*Cuenta de correo*: Proveedor,
/// Dirección, Token): an `[[accounts]]` entry. Secrets come from the ERP's
/// own secret store as [`Secret`]s and never print.
#[derive(Debug, Clone)]
pub struct AccountRow {
    user: String,
    provider: String,
    integration: Option<String>,
    address: String,
    secret: Option<Secret>,
    secret_next: Option<Secret>,
    fallback: Option<String>,
    fallback_secret: Option<Secret>,
    secret_expires: Option<String>,
}

impl AccountRow {
    /// The account of ERP user `user` on provider type `provider`, sending
    /// as `address` (`jgarcia@contoso.com` or `Juan García <jgarcia@contoso.com>`).
    pub fn new(
        user: impl Into<String>,
        provider: impl Into<String>,
        address: impl Into<String>,
    ) -> Self {
        AccountRow {
            user: user.into(),
            provider: provider.into(),
            integration: None,
            address: address.into(),
            secret: None,
            secret_next: None,
            fallback: None,
            fallback_secret: None,
            secret_expires: None,
        }
    }

    /// When the account's own secret expires (`2027-06-30`, the portal's
    /// "Expires"): `config check` and `verify` warn within
    /// `expiry_warning_days` and fail after. It wins over the integration's
    /// `secret_expires`.
    pub fn with_secret_expires(mut self, date: impl Into<String>) -> Self {
        self.secret_expires = Some(date.into());
        self
    }

    /// Names the integration (needed when several have the provider type).
    pub fn with_integration(mut self, id: impl Into<String>) -> Self {
        self.integration = Some(id.into());
        self
    }

    /// The account's own secret; it wins over its integration's.
    pub fn with_secret(mut self, secret: Secret) -> Self {
        self.secret = Some(secret);
        self
    }

    /// The new secret during a rotation (`secret_next`): the provider tries
    /// it first and falls back to [`with_secret`](Self::with_secret)'s only
    /// when it is refused.
    pub fn with_secret_next(mut self, secret: Secret) -> Self {
        self.secret_next = Some(secret);
        self
    }

    /// Names a fallback integration.
    pub fn with_fallback(mut self, id: impl Into<String>) -> Self {
        self.fallback = Some(id.into());
        self
    }

    /// The secret on the fallback integration.
    pub fn with_fallback_secret(mut self, secret: Secret) -> Self {
        self.fallback_secret = Some(secret);
        self
    }
}

/// Builds a [`BridgeConfig`] from rows, as an ERP keeps them in its tables;
/// see the crate documentation for an example. [`build`](Self::build)
/// validates as loading a file does: every problem at once, each at the
/// path of its row and field (`accounts[jgarcia].address`).
#[derive(Debug, Clone, Default)]
pub struct BridgeConfigBuilder {
    lang: Lang,
    integrations: Vec<IntegrationRow>,
    accounts: Vec<AccountRow>,
    outbox: Option<OutboxConfig>,
}

impl BridgeConfigBuilder {
    /// The language of user-facing messages (Spanish by default).
    pub fn lang(mut self, lang: Lang) -> Self {
        self.lang = lang;
        self
    }

    /// Adds an integration.
    pub fn integration(mut self, row: IntegrationRow) -> Self {
        self.integrations.push(row);
        self
    }

    /// Adds an account.
    pub fn account(mut self, row: AccountRow) -> Self {
        self.accounts.push(row);
        self
    }

    /// The `[outbox]` section (by default a SQLite file in the working
    /// directory, see [`OutboxConfig::new`]).
    pub fn outbox(mut self, outbox: OutboxConfig) -> Self {
        self.outbox = Some(outbox);
        self
    }

    /// Validates the rows with `registry`.
    pub fn build(self, registry: &ProviderRegistry) -> Result<BridgeConfig, ConfigError> {
        let source = ConfigSource::Application;
        let mut problems = Vec::new();
        let mut used = BTreeSet::new();
        let integrations = self
            .integrations
            .into_iter()
            .enumerate()
            .map(|(index, row)| {
                let label = label("integrations", Some(&row.id), index, &mut used);
                let certificate = match row.certificate {
                    None => None,
                    Some(PemInput::Given(pem)) => {
                        Some((pem, SecretSource::Inline, SecretSource::Inline))
                    }
                    Some(PemInput::Env { certificate, private_key }) => read_pem(
                        Some(certificate),
                        Some(private_key),
                        &row.settings,
                        &label,
                        &mut problems,
                    ),
                };
                IntegrationInput {
                    certificate,
                    id: Some(row.id),
                    description: row.description,
                    provider: Some(row.provider),
                    settings: row.settings,
                    secret: row.secret.map(|s| (s, SecretSource::Inline)),
                    label,
                }
            })
            .collect();
        let mut used = BTreeSet::new();
        let accounts = self
            .accounts
            .into_iter()
            .enumerate()
            .map(|(index, row)| {
                let label = label("accounts", Some(&row.user), index, &mut used);
                AccountInput {
                    user: Some(row.user),
                    provider: Some(row.provider),
                    integration: row.integration,
                    address: Some(row.address),
                    secret: row.secret.map(|s| (s, SecretSource::Inline)),
                    secret_next: row.secret_next.map(|s| (s, SecretSource::Inline)),
                    fallback: row.fallback,
                    fallback_secret: row.fallback_secret.map(|s| (s, SecretSource::Inline)),
                    secret_expires: row.secret_expires,
                    malformed: false,
                    secret_problem: false,
                    fallback_secret_problem: false,
                    label,
                }
            })
            .collect();
        let outbox = match self.outbox {
            None => OutboxConfig::new_for(&source),
            Some(o) => {
                let value = serde_json::json!({
                    "url": o.url,
                    "messages_per_minute": o.messages_per_minute,
                    "max_in_flight_per_mailbox": o.max_in_flight_per_mailbox,
                    "max_attempts": o.max_attempts,
                    "lease_ms": o.lease_ms,
                    "settle_delay_ms": o.settle_delay_ms,
                    "base_backoff_ms": o.base_backoff_ms,
                    "max_backoff_ms": o.max_backoff_ms,
                    "rate_window_ms": o.rate_window_ms,
                    "shutdown_grace_ms": o.shutdown_grace_ms,
                    "max_connections": o.max_connections,
                    "acquire_timeout_ms": o.acquire_timeout_ms,
                    "batch_size": o.batch_size,
                    "flush_interval_ms": o.flush_interval_ms,
                    "bounce_sync_ms": o.bounce_sync_ms,
                });
                crate::config::validate_outbox(Some(value), &source, &mut problems)
            }
        };
        let validated = validate_rows(integrations, accounts, registry, &mut problems);
        BridgeConfig::assemble(self.lang, validated, outbox, source, problems, &[])
    }
}

impl BridgeConfig {
    /// A builder that an ERP fills from its own tables.
    ///
    /// ```
    /// use g360_erp_bridge::{AccountRow, BridgeConfig, IntegrationRow, default_registry};
    ///
    /// let config = BridgeConfig::builder()
    ///     .integration(IntegrationRow::new("local", "file").with_setting("directory", "./out"))
    ///     .account(AccountRow::new("demo", "file", "demo@localhost"))
    ///     .build(&default_registry())
    ///     .unwrap();
    /// assert_eq!(config.account("demo").unwrap().address.addr(), "demo@localhost");
    /// ```
    pub fn builder() -> BridgeConfigBuilder {
        BridgeConfigBuilder::default()
    }
}

/// The path label of a row: its id when it has a usable (letters, digits,
/// `-_@+~.`), unused one — quoted when it is a number —, else its position.
pub(crate) fn label(
    list: &str,
    id: Option<&str>,
    index: usize,
    used: &mut BTreeSet<String>,
) -> String {
    let usable = id.filter(|id| {
        !id.is_empty() && id.chars().all(|c| c.is_alphanumeric() || "-_@+~.".contains(c))
    });
    match usable {
        Some(id) if used.insert(id.to_owned()) => {
            if id.chars().all(|c| c.is_ascii_digit()) {
                // Quoted, so that a numeric id never reads as a position.
                format!("{list}[\"{id}\"]")
            } else {
                format!("{list}[{id}]")
            }
        }
        _ => format!("{list}[{index}]"),
    }
}

/// An integration row on its way to validation.
pub(crate) struct IntegrationInput {
    pub(crate) label: String,
    pub(crate) id: Option<String>,
    pub(crate) description: String,
    pub(crate) provider: Option<String>,
    pub(crate) settings: Value,
    pub(crate) secret: Option<(Secret, SecretSource)>,
    /// The certificate credential, and where its two texts came from.
    pub(crate) certificate: Option<(CertificatePem, SecretSource, SecretSource)>,
}

/// An account row on its way to validation.
pub(crate) struct AccountInput {
    pub(crate) label: String,
    pub(crate) user: Option<String>,
    pub(crate) provider: Option<String>,
    pub(crate) integration: Option<String>,
    pub(crate) address: Option<String>,
    pub(crate) secret: Option<(Secret, SecretSource)>,
    pub(crate) secret_next: Option<(Secret, SecretSource)>,
    pub(crate) fallback: Option<String>,
    pub(crate) fallback_secret: Option<(Secret, SecretSource)>,
    pub(crate) secret_expires: Option<String>,
    pub(crate) malformed: bool,
    /// `secret` / `secret_env` had a problem of its own (reported already).
    pub(crate) secret_problem: bool,
    pub(crate) fallback_secret_problem: bool,
}

/// A value read as text: numbers and booleans (from environment variables)
/// count as their text; anything else is named by its type, never shown.
#[derive(Default)]
pub(crate) enum Text {
    #[default]
    Absent,
    Given(String),
    Wrong(&'static str),
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a text value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Text, E> {
                Ok(Text::Given(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Text, E> {
                Ok(Text::Given(v))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Text, E> {
                Ok(Text::Given(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Text, E> {
                Ok(Text::Given(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Text, E> {
                Ok(Text::Given(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Text, E> {
                Ok(Text::Given(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<Text, E> {
                Ok(Text::Wrong("nothing"))
            }
            fn visit_none<E>(self) -> Result<Text, E> {
                Ok(Text::Wrong("nothing"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text::Wrong("a list"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text::Wrong("a table"))
            }
        }
        d.deserialize_any(V)
    }
}

/// The keys of an `[[integrations]]` entry that are not provider settings.
#[derive(Deserialize, Default)]
#[serde(default)]
struct IntegrationEntry {
    id: Text,
    description: Text,
    provider: Text,
    secret: Text,
    secret_env: Text,
    certificate_env: Text,
    private_key_env: Text,
}

const INTEGRATION_KEYS: &[&str] = &[
    "id",
    "description",
    "provider",
    "secret",
    "secret_env",
    "certificate_env",
    "private_key_env",
];

/// An `[[accounts]]` entry.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AccountEntry {
    user: Text,
    provider: Text,
    integration: Text,
    address: Text,
    secret: Text,
    secret_env: Text,
    secret_next: Text,
    secret_next_env: Text,
    fallback: Text,
    fallback_secret: Text,
    fallback_secret_env: Text,
    secret_expires: Text,
}

const ACCOUNT_KEYS: &[&str] = &[
    "user",
    "provider",
    "integration",
    "address",
    "secret",
    "secret_env",
    "secret_next",
    "secret_next_env",
    "fallback",
    "fallback_secret",
    "fallback_secret_env",
    "secret_expires",
];

/// Reads one field: its text, or a problem naming what was found.
pub(crate) fn text(
    field: Text,
    path: &str,
    key: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<String> {
    match field {
        Text::Absent => None,
        Text::Given(s) => Some(s),
        Text::Wrong(found) => {
            problems.push(ConfigProblem::new(
                format!("{path}.{key}"),
                format!("expected a text value, found {found}"),
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
                    format!("expected a list of tables, found {}", crate::config::short(&other)),
                )
                .with_remedy(format!("write each entry as a [[{name}]] table")),
            );
            Vec::new()
        }
    }
}

/// The id-like key of an entry, to label its row before reading the rest.
fn id_of(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads the `integrations` list of a file into rows.
pub(crate) fn read_integrations(
    value: Option<Value>,
    problems: &mut Vec<ConfigProblem>,
) -> Vec<IntegrationInput> {
    let mut used = BTreeSet::new();
    let mut out = Vec::new();
    for (index, item) in take_list(value, "integrations", problems).into_iter().enumerate() {
        let Value::Object(mut map) = item else {
            problems.push(ConfigProblem::new(format!("integrations[{index}]"), "expected a table"));
            continue;
        };
        let path = label("integrations", id_of(&map, "id").as_deref(), index, &mut used);
        let mut own = Map::new();
        for key in INTEGRATION_KEYS {
            if let Some(v) = map.remove(*key) {
                own.insert((*key).to_owned(), v);
            }
        }
        // Every field is a `Text`, which takes any value: this cannot fail.
        let entry: IntegrationEntry =
            serde_json::from_value(Value::Object(own)).unwrap_or_default();
        let id = text(entry.id, &path, "id", problems);
        let description = text(entry.description, &path, "description", problems);
        let provider = text(entry.provider, &path, "provider", problems);
        let secret = text(entry.secret, &path, "secret", problems);
        let secret_env = text(entry.secret_env, &path, "secret_env", problems);
        let secret = crate::config::read_secret(secret, secret_env, &path, "secret", problems);
        let certificate_env = text(entry.certificate_env, &path, "certificate_env", problems);
        let private_key_env = text(entry.private_key_env, &path, "private_key_env", problems);
        let settings = Value::Object(map);
        let certificate = if certificate_env.is_some() || private_key_env.is_some() {
            read_pem(certificate_env, private_key_env, &settings, &path, problems)
        } else {
            None
        };
        out.push(IntegrationInput {
            certificate,
            label: path,
            id,
            description: description.unwrap_or_default(),
            provider,
            settings,
            secret,
        });
    }
    out
}

/// Reads the `accounts` list of a file into rows.
pub(crate) fn read_accounts(
    value: Option<Value>,
    problems: &mut Vec<ConfigProblem>,
) -> Vec<AccountInput> {
    let mut used = BTreeSet::new();
    let mut out = Vec::new();
    for (index, item) in take_list(value, "accounts", problems).into_iter().enumerate() {
        let Value::Object(map) = item else {
            problems.push(ConfigProblem::new(format!("accounts[{index}]"), "expected a table"));
            continue;
        };
        let path = label("accounts", id_of(&map, "user").as_deref(), index, &mut used);
        let before = problems.len();
        for key in map.keys().filter(|k| !ACCOUNT_KEYS.contains(&k.as_str())) {
            problems.push(crate::config::unknown_key(&format!("{path}.{key}"), ACCOUNT_KEYS));
        }
        // Every field is a `Text` and unknown keys are ignored: this cannot fail.
        let entry: AccountEntry = serde_json::from_value(Value::Object(map)).unwrap_or_default();
        let user = text(entry.user, &path, "user", problems);
        let provider = text(entry.provider, &path, "provider", problems);
        let integration = text(entry.integration, &path, "integration", problems);
        let address = text(entry.address, &path, "address", problems);
        let secret = text(entry.secret, &path, "secret", problems);
        let secret_env = text(entry.secret_env, &path, "secret_env", problems);
        let secret_next = text(entry.secret_next, &path, "secret_next", problems);
        let secret_next_env = text(entry.secret_next_env, &path, "secret_next_env", problems);
        let fallback = text(entry.fallback, &path, "fallback", problems);
        let fallback_secret = text(entry.fallback_secret, &path, "fallback_secret", problems);
        let fallback_secret_env =
            text(entry.fallback_secret_env, &path, "fallback_secret_env", problems);
        let secret_expires = text(entry.secret_expires, &path, "secret_expires", problems);
        let at = problems.len();
        let secret = crate::config::read_secret(secret, secret_env, &path, "secret", problems);
        let about = |problems: &[ConfigProblem], key: &str| {
            problems[before..]
                .iter()
                .any(|p| p.path == format!("{path}.{key}") || p.path == format!("{path}.{key}_env"))
        };
        let secret_problem = problems.len() > at || about(problems, "secret");
        let secret_next = crate::config::read_secret(
            secret_next,
            secret_next_env,
            &path,
            "secret_next",
            problems,
        );
        let at = problems.len();
        let fallback_secret = crate::config::read_secret(
            fallback_secret,
            fallback_secret_env,
            &path,
            "fallback_secret",
            problems,
        );
        let fallback_secret_problem = problems.len() > at || about(problems, "fallback_secret");
        out.push(AccountInput {
            malformed: problems.len() > before,
            label: path,
            user,
            provider,
            integration,
            address,
            secret,
            secret_next,
            fallback,
            fallback_secret,
            secret_expires,
            secret_problem,
            fallback_secret_problem,
        });
    }
    out
}

/// What validation produced besides problems.
pub(crate) struct Validated {
    pub(crate) integrations: Vec<Integration>,
    pub(crate) accounts: Vec<MailAccount>,
    /// Where each account's own secret came from: key user, or
    /// `user\0fallback` for its fallback secret.
    pub(crate) secret_sources: BTreeMap<String, SecretSource>,
    /// Where each integration's secret came from, by integration id.
    pub(crate) integration_secrets: BTreeMap<String, SecretSource>,
    /// Where each integration's certificate and key came from, by id.
    pub(crate) integration_certificates: BTreeMap<String, (SecretSource, SecretSource)>,
    /// The path label of each account (by user) and integration (by id).
    pub(crate) account_paths: BTreeMap<String, String>,
    pub(crate) integration_paths: BTreeMap<String, String>,
    pub(crate) warnings: Vec<ConfigProblem>,
    /// Every secret value seen (also those read from environment
    /// variables), to be scrubbed from problem texts.
    pub(crate) secrets: Vec<String>,
}

/// Validates rows, file or builder alike.
pub(crate) fn validate_rows(
    integrations: Vec<IntegrationInput>,
    accounts: Vec<AccountInput>,
    registry: &ProviderRegistry,
    problems: &mut Vec<ConfigProblem>,
) -> Validated {
    let mut out = Validated {
        integrations: Vec::new(),
        accounts: Vec::new(),
        secret_sources: BTreeMap::new(),
        integration_secrets: BTreeMap::new(),
        integration_certificates: BTreeMap::new(),
        account_paths: BTreeMap::new(),
        integration_paths: BTreeMap::new(),
        warnings: Vec::new(),
        secrets: Vec::new(),
    };
    let mut remember = |secret: &Option<(Secret, SecretSource)>| {
        if let Some((s, _)) = secret
            && s.expose().trim().chars().count() >= 4
        {
            out.secrets.push(s.expose().trim().to_owned());
        }
    };
    for row in &integrations {
        remember(&row.secret);
        if let Some((pem, ..)) = &row.certificate {
            remember(&Some((pem.private_key().clone(), SecretSource::Inline)));
        }
    }
    for row in &accounts {
        remember(&row.secret);
        remember(&row.secret_next);
        remember(&row.fallback_secret);
    }
    let mut integration_secret: BTreeMap<String, Secret> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut setup = Vec::new();
    for row in integrations {
        let path = row.label;
        match &row.id {
            None if !problems.iter().any(|p| p.path == format!("{path}.id")) => problems.push(
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
        let Some(provider) = row.provider else {
            problems.push(
                ConfigProblem::new(format!("{path}.provider"), "missing").with_remedy(format!(
                    "set provider to one of: {}",
                    registry.types().join(", ")
                )),
            );
            continue;
        };
        if !row.settings.is_object() {
            problems.push(
                ConfigProblem::new(&path, "the provider settings are not a table")
                    .with_remedy("give the settings as key-value pairs"),
            );
            continue;
        }
        problems.extend(
            check_settings(registry, &provider, &row.settings).into_iter().map(|p| p.under(&path)),
        );
        if let Some((secret, source)) = &row.secret {
            let found = registry.check_secret(&provider, secret);
            setup.extend(found.into_iter().map(|f| f.under(&format!("{path}.secret"))));
            if let Some(id) = &row.id {
                integration_secret.insert(id.clone(), secret.clone());
                out.integration_secrets.insert(id.clone(), source.clone());
            }
        }
        if let Some(id) = row.id {
            let mut integration =
                Integration::new(&id, provider, row.settings).with_description(row.description);
            if let Some((pem, cert_source, key_source)) = row.certificate {
                integration = integration.with_certificate_pem(pem);
                // A problem of a text is named by the key it came from.
                let key_of = |text: &str, source: &SecretSource| match source {
                    SecretSource::Env(_) => format!("{text}_env"),
                    SecretSource::Inline => text.to_owned(),
                };
                let found = registry.check_integration(&integration);
                problems.extend(found.into_iter().map(|p| {
                    let key = match p.path.as_str() {
                        "private_key" => key_of("private_key", &key_source),
                        "certificate" => key_of("certificate", &cert_source),
                        other => other.to_owned(),
                    };
                    ConfigProblem { path: key, ..p }.under(&path)
                }));
                out.integration_certificates.insert(id.clone(), (cert_source, key_source));
            }
            out.integration_paths.entry(id).or_insert(path);
            out.integrations.push(integration);
        }
    }
    let integrations = &out.integrations;
    let mut seen = BTreeSet::new();
    // Accounts with a secret of their own, by integration and secret value.
    let mut own_secrets: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for row in accounts {
        let path = row.label;
        let before = problems.len();
        match &row.user {
            None if !problems.iter().any(|p| p.path == format!("{path}.user")) => problems.push(
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
        let address = match row.address {
            None => {
                if !problems.iter().any(|p| p.path == format!("{path}.address")) {
                    problems.push(
                        ConfigProblem::new(format!("{path}.address"), "missing").with_remedy(
                            "set address to the user's mailbox, e.g. jgarcia@contoso.com",
                        ),
                    );
                }
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
        let provider = row.provider;
        let integration = row.integration;
        let fallback = row.fallback;
        let needs_secret = match &provider {
            None => {
                if !problems.iter().any(|p| p.path == format!("{path}.provider")) {
                    problems.push(
                        ConfigProblem::new(format!("{path}.provider"), "missing").with_remedy(
                            format!("set provider to one of: {}", registry.types().join(", ")),
                        ),
                    );
                }
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
                    crate::config::check_binding(
                        &path,
                        p,
                        integration.as_deref(),
                        integrations,
                        problems,
                    );
                    Some(n)
                }
            },
        };
        let fallback_integration =
            fallback.as_deref().and_then(|f| integrations.iter().find(|i| i.id == f));
        if let Some(f) = &fallback {
            match fallback_integration {
                None => problems.push(
                    ConfigProblem::new(
                        format!("{path}.fallback"),
                        format!("no integration has id {f:?}"),
                    )
                    .with_remedy(format!("use one of: {}", crate::config::ids(integrations))),
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
        let bound = provider.as_deref().and_then(|p| match integration.as_deref() {
            Some(id) => integrations.iter().find(|i| i.id == id),
            None => {
                let mut of_type = integrations.iter().filter(|i| i.provider == p);
                of_type.next().filter(|_| of_type.next().is_none())
            }
        });
        let (own, source) = row.secret.map_or((None, None), |(s, src)| (Some(s), Some(src)));
        let (fallback_own, fallback_source) =
            row.fallback_secret.map_or((None, None), |(s, src)| (Some(s), Some(src)));
        // An account without a secret of its own uses its integration's.
        let inherited = bound.and_then(|i| integration_secret.get(&i.id));
        let fallback_inherited = fallback_integration.and_then(|i| integration_secret.get(&i.id));
        if let (Some(true), Some(p)) = (needs_secret, provider.as_deref()) {
            let required = bound.and_then(|i| registry.secret_required(i)).unwrap_or(true);
            if required && own.is_none() && inherited.is_none() && !row.secret_problem {
                problems.push(
                    ConfigProblem::new(format!("{path}.secret"), format!("missing: accounts of provider {p:?} need a secret"))
                        .with_code("config.secret-missing")
                        .with_remedy("set secret (for Office 365 the client secret VALUE, for SMTP the password) or secret_env, on the account or once on its integration"),
                );
            }
        }
        if let Some(fb) = fallback_integration
            && registry.secret_required(fb) == Some(true)
            && fallback_own.is_none()
            && fallback_inherited.is_none()
            && !row.fallback_secret_problem
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
                    "set fallback_secret or fallback_secret_env (e.g. the SMTP relay's password), or secret on that integration",
                ),
            );
        }
        // The secrets' shapes, checked by their providers: setup problems,
        // which do not keep the account from loading.
        let mut account_setup = Vec::new();
        if let (Some(s), Some(p)) = (&own, provider.as_deref()) {
            let p = bound.map_or(p, |i| &i.provider);
            let found = registry.check_secret(p, s);
            account_setup.extend(found.into_iter().map(|f| f.under(&format!("{path}.secret"))));
        }
        if let (Some(s), Some(fb)) = (&fallback_own, fallback_integration) {
            let found = registry.check_secret(&fb.provider, s);
            account_setup
                .extend(found.into_iter().map(|f| f.under(&format!("{path}.fallback_secret"))));
        }
        if !row.malformed
            && problems.len() == before
            && let (Some(user), Some(provider), Some(address)) = (row.user, provider, address)
        {
            if let (Some(s), Some(i)) = (&own, bound) {
                own_secrets
                    .entry((i.id.clone(), s.expose().trim().to_owned()))
                    .or_default()
                    .push(user.clone());
            }
            let mut account = MailAccount::new(&user, provider, address);
            account.integration = integration;
            account.secret = own.or_else(|| inherited.cloned());
            if let Some((s, src)) = row.secret_next {
                account.secret_next = Some(s);
                out.secret_sources.insert(format!("{user}\u{0}next"), src);
            }
            account.fallback = fallback;
            account.fallback_secret = fallback_own.or_else(|| fallback_inherited.cloned());
            account.secret_expires = row.secret_expires;
            if let Some(i) = bound {
                let found = registry.check_account(i, &account);
                account_setup.extend(found.into_iter().map(|f| f.under(&path)));
            }
            if let Some(s) = fallback_source {
                out.secret_sources.insert(format!("{user}\u{0}fallback"), s);
            }
            if let Some(s) = source {
                out.secret_sources.insert(user.clone(), s);
            }
            out.account_paths.insert(user, path);
            out.accounts.push(account);
        }
        setup.extend(account_setup);
    }
    // Warnings stay warnings; everything else found here is a setup problem.
    problems.extend(setup.into_iter().map(|p| if p.warning { p } else { p.as_setup() }));
    for ((id, _), users) in own_secrets {
        if users.len() < 2 {
            continue;
        }
        let path = out.integration_paths.get(&id).cloned().unwrap_or_default();
        out.warnings.push(
            ConfigProblem::new(
                format!("{path}.secret"),
                format!(
                    "{} accounts of integration {id:?} repeat the same secret: {}",
                    users.len(),
                    users.join(", ")
                ),
            )
            .with_code("config.secret-repeated")
            .as_warning()
            .with_remedy(
                "set secret (or secret_env) once on the integration and remove it from these accounts; an account's own secret still wins",
            ),
        );
    }
    out
}

/// Every problem of an integration's settings in one pass. A provider's
/// parser stops at the first key it cannot take (an unknown key, a value of
/// the wrong type), which would hide a malformed `client_id` behind a typo:
/// each such key is set aside and the rest checked again, until nothing more
/// is found.
fn check_settings(
    registry: &ProviderRegistry,
    provider: &str,
    settings: &Value,
) -> Vec<ConfigProblem> {
    let mut current = settings.clone();
    let mut found: Vec<ConfigProblem> = Vec::new();
    let mut set_aside: Vec<String> = Vec::new();
    while let Err(problems) = registry.check_settings(provider, &current) {
        let mut removed = false;
        for p in problems {
            // A key set aside is now "missing": that is the same problem.
            let missing_again =
                set_aside.iter().any(|k| p.message.starts_with(&format!("missing field `{k}`")));
            if missing_again || found.iter().any(|f| f.path == p.path && f.message == p.message) {
                continue;
            }
            let key = p.path.split(['.', '[']).next().unwrap_or("").to_owned();
            if let Value::Object(map) = &mut current
                && !p.setup
                && !p.warning
                && !key.is_empty()
                && map.remove(&key).is_some()
            {
                set_aside.push(key);
                removed = true;
            }
            found.push(p);
        }
        if !removed {
            break;
        }
    }
    found
}

/// Reads an integration's certificate credential from the environment
/// variables named by `certificate_env` and `private_key_env`: both or
/// neither, and not together with `certificate_file` / `private_key_file`.
fn read_pem(
    certificate_env: Option<String>,
    private_key_env: Option<String>,
    settings: &Value,
    path: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<(CertificatePem, SecretSource, SecretSource)> {
    let files: Vec<&str> = ["certificate_file", "private_key_file"]
        .into_iter()
        .filter(|k| settings.get(*k).is_some())
        .collect();
    if !files.is_empty() {
        problems.push(
            ConfigProblem::new(
                format!("{path}.certificate_env"),
                format!("both the PEM texts and {} are set", files.join(" and ")),
            )
            .with_remedy("keep either certificate_env and private_key_env, or certificate_file and private_key_file"),
        );
        return None;
    }
    let (certificate_var, key_var) = match (certificate_env, private_key_env) {
        (Some(c), Some(k)) => (c, k),
        (Some(_), None) => {
            problems.push(
                ConfigProblem::new(
                    format!("{path}.private_key_env"),
                    "missing: certificate_env needs the certificate's private key",
                )
                .with_remedy("set private_key_env to the variable holding the PEM private key made with the certificate"),
            );
            return None;
        }
        (None, Some(_)) => {
            problems.push(
                ConfigProblem::new(
                    format!("{path}.certificate_env"),
                    "missing: private_key_env needs its certificate",
                )
                .with_remedy("set certificate_env to the variable holding the PEM certificate uploaded to the app"),
            );
            return None;
        }
        (None, None) => return None,
    };
    let mut read = |var: &str, key: &str| {
        #[allow(clippy::disallowed_methods, reason = "configuration code reads the environment")]
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Some(v),
            _ => {
                problems.push(
                    ConfigProblem::new(
                        format!("{path}.{key}"),
                        format!("environment variable {var} is not set or empty"),
                    )
                    .with_code("config.secret-env-missing")
                    .with_remedy(format!(
                        "export {var} with the PEM text (-----BEGIN ...) before starting"
                    )),
                );
                None
            }
        }
    };
    let certificate = read(&certificate_var, "certificate_env");
    let key = read(&key_var, "private_key_env");
    Some((
        CertificatePem::new(certificate?, Secret::new(key?))
            .with_env_names(&certificate_var, &key_var),
        SecretSource::Env(certificate_var),
        SecretSource::Env(key_var),
    ))
}
