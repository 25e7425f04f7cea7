//! The plugin interface: a [`ProviderFactory`] per provider type, kept in a
//! [`ProviderRegistry`].
//!
//! Adding a provider needs no change here or in the bridge: a crate implements
//! [`ProviderFactory`] and the application calls
//! [`ProviderRegistry::register`] once, before loading the configuration.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::account::{Integration, MailAccount};
use crate::address::EmailAddress;
use crate::error::{Error, ErrorKind, Result};
use crate::provider::MailProvider;
use crate::secret::Secret;
use crate::token::{AccessTokenSource, TokenPurpose};

/// What a factory gets of an account: the mailbox it sends as and reads,
/// and the credential for it. No ERP user id: only the bridge knows ERP
/// users, and it adds the user to the errors it returns.
///
/// ```
/// use g360_mail_core::{MailboxAccess, Secret};
///
/// let access = MailboxAccess::new("erp@contoso.com".parse().unwrap())
///     .with_secret(Secret::new("s3cret"));
/// assert_eq!(access.mailbox.addr(), "erp@contoso.com");
/// assert!(!format!("{access:?}").contains("s3cret"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MailboxAccess {
    /// The mailbox address.
    pub mailbox: EmailAddress,
    /// The secret: for Office 365 the client secret *value*, for SMTP the
    /// password; `None` when the route needs none.
    pub secret: Option<Secret>,
    /// The new secret during a rotation: providers that support it try it
    /// first and use `secret` only when it is refused.
    pub secret_next: Option<Secret>,
    /// When `secret` expires, as the ERP recorded it (`"2027-06-30"`): wins
    /// over the integration's own date.
    pub secret_expires: Option<String>,
}

impl MailboxAccess {
    /// Access to `mailbox` without a secret.
    pub fn new(mailbox: EmailAddress) -> Self {
        MailboxAccess { mailbox, secret: None, secret_next: None, secret_expires: None }
    }

    /// Sets the secret.
    pub fn with_secret(mut self, secret: Secret) -> Self {
        self.secret = Some(secret);
        self
    }

    /// Sets the new secret of a rotation.
    pub fn with_secret_next(mut self, secret: Secret) -> Self {
        self.secret_next = Some(secret);
        self
    }

    /// Sets when `secret` expires (`"2027-06-30"`).
    pub fn with_secret_expires(mut self, date: impl Into<String>) -> Self {
        self.secret_expires = Some(date.into());
        self
    }
}

impl From<&MailAccount> for MailboxAccess {
    /// The account's mailbox with its primary route's secrets.
    fn from(account: &MailAccount) -> Self {
        MailboxAccess {
            mailbox: account.address.clone(),
            secret: account.secret.clone(),
            secret_next: account.secret_next.clone(),
            secret_expires: account.secret_expires.clone(),
        }
    }
}

/// One problem found in configuration: where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key path, e.g. `accounts[2].address` or `integrations[0].client_id`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub remedy: Option<String>,
    /// A stable diagnostic code user interfaces translate (`o365.client-id-invalid`).
    pub code: Option<String>,
    /// A setup value that is well formed as configuration but wrong (a client
    /// id that is not a GUID, say): it does not stop the configuration from
    /// loading — other accounts keep working — and `verify` diagnoses it on
    /// the accounts it concerns, which refuse to send until it is fixed.
    pub setup: bool,
    /// A note that stops nothing: the configuration loads, every account
    /// works and `config check` exits 0, but lists it (a credential that
    /// expires within `expiry_warning_days`, a secret repeated on many
    /// accounts). Never set together with [`ConfigProblem::setup`].
    pub warning: bool,
}

impl ConfigProblem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigProblem {
            path: path.into(),
            message: message.into(),
            remedy: None,
            code: None,
            setup: false,
            warning: false,
        }
    }

    /// Adds the remedy.
    pub fn with_remedy(mut self, remedy: impl Into<String>) -> Self {
        self.remedy = Some(remedy.into());
        self
    }

    /// Marks the problem as a setup problem (see [`ConfigProblem::setup`]).
    pub fn as_setup(mut self) -> Self {
        self.setup = true;
        self.warning = false;
        self
    }

    /// Marks the problem as a warning (see [`ConfigProblem::warning`]).
    pub fn as_warning(mut self) -> Self {
        self.warning = true;
        self.setup = false;
        self
    }

    /// Adds the stable diagnostic code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// The [`Error`] of a provider that cannot be built because of this
    /// problem: kind `Config`, the problem's code (`config.invalid` when it
    /// has none), its remedy, and its path as the `key` context. The one
    /// conversion every provider crate uses.
    pub fn into_error(self, provider: &'static str) -> Error {
        Error::from(self).with_provider(provider)
    }

    /// The same problem with `prefix.` in front of its path.
    pub fn under(mut self, prefix: &str) -> Self {
        self.path = if self.path.is_empty() {
            prefix.to_owned()
        } else {
            format!("{prefix}.{}", self.path)
        };
        self
    }
}

impl From<ConfigProblem> for Error {
    /// A problem of no particular provider; see [`ConfigProblem::into_error`].
    fn from(p: ConfigProblem) -> Error {
        let code = p.code.unwrap_or_else(|| "config.invalid".to_owned());
        let mut err =
            Error::new(ErrorKind::Config, p.message).with_code(code).with_context("key", p.path);
        if let Some(remedy) = p.remedy {
            err = err.with_remedy(remedy);
        }
        err
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Builds providers of one type.
///
/// `Settings` is the provider's integration section: every key of an
/// `[[integrations]]` entry except `id`, `description` and `provider`. Mark it
/// `#[serde(deny_unknown_fields)]` so typos are reported.
pub trait ProviderFactory: Send + Sync + 'static {
    /// The integration settings of this provider type.
    type Settings: DeserializeOwned + Send + Sync + 'static;

    /// The provider type this factory builds, e.g. `"office365"`.
    fn provider_type(&self) -> &'static str;

    /// One line saying what the provider is, for `g360-mail providers`.
    fn description(&self) -> &'static str;

    /// Whether accounts of this type need a secret.
    fn needs_secret(&self) -> bool;

    /// Whether accounts on an integration with these settings need a secret
    /// (for example not an SMTP relay without authentication). Defaults to
    /// [`ProviderFactory::needs_secret`].
    fn secret_required(&self, settings: &Self::Settings) -> bool {
        let _ = settings;
        self.needs_secret()
    }

    /// The settings under which accounts need no secret although
    /// [`ProviderFactory::needs_secret`] says they do, as configuration text
    /// (for example `auth = "none"`), for `g360-mail providers`; they must
    /// agree with [`ProviderFactory::secret_required`]. Defaults to none.
    fn secret_not_needed_with(&self) -> &'static [&'static str] {
        &[]
    }

    /// Checks settings beyond their shape; paths are relative to the integration.
    fn validate(&self, settings: &Self::Settings) -> Vec<ConfigProblem> {
        let _ = settings;
        Vec::new()
    }

    /// Checks the shape of an account's secret without any network call (an
    /// ID pasted instead of the value, white space around it), so that
    /// `config check` reports it with the other problems. Paths are relative
    /// to the secret's key (`""`); problems are setup problems. By default
    /// nothing is checked.
    fn check_secret(&self, secret: &Secret) -> Vec<ConfigProblem> {
        let _ = secret;
        Vec::new()
    }

    /// Whether integrations of this type sign in with a certificate given
    /// as PEM texts ([`Integration::certificate_pem`]) instead of a secret.
    /// Defaults to `false`: the bridge then refuses such a certificate.
    fn takes_certificate(&self) -> bool {
        false
    }

    /// Checks what the bridge resolved for `integration` beyond its settings
    /// (the certificate of [`Integration::certificate_pem`]: readable, its
    /// key, its dates), without any network call. Paths are `certificate` and
    /// `private_key`, relative to the integration; an expiry coming closer
    /// is a warning ([`ConfigProblem::as_warning`]). By default nothing is
    /// checked.
    fn check_integration(
        &self,
        integration: &Integration,
        settings: &Self::Settings,
    ) -> Vec<ConfigProblem> {
        let _ = (integration, settings);
        Vec::new()
    }

    /// Checks a mailbox's access against its integration's settings without
    /// any network call (its `secret_expires`, say). Paths are relative to
    /// the account. By default nothing is checked.
    fn check_account(
        &self,
        settings: &Self::Settings,
        access: &MailboxAccess,
    ) -> Vec<ConfigProblem> {
        let _ = (settings, access);
        Vec::new()
    }

    /// Builds the provider of the mailbox of `access` on `integration`.
    fn build(
        &self,
        integration: &Integration,
        settings: &Self::Settings,
        access: &MailboxAccess,
    ) -> Result<Arc<dyn MailProvider>>;

    /// The id of the integration whose identity (an Entra app) these
    /// settings borrow for access tokens, if any (`oauth_integration` of an
    /// `smtp` integration). The bridge then resolves it with
    /// [`ProviderRegistry::token_source`] and builds with
    /// [`ProviderFactory::build_with_tokens`].
    fn token_integration(&self, settings: &Self::Settings) -> Option<String> {
        let _ = settings;
        None
    }

    /// Builds the provider of the mailbox of `access` with access tokens
    /// from `tokens`.
    /// By default the tokens are not used.
    fn build_with_tokens(
        &self,
        integration: &Integration,
        settings: &Self::Settings,
        access: &MailboxAccess,
        tokens: Arc<dyn AccessTokenSource>,
    ) -> Result<Arc<dyn MailProvider>> {
        let _ = tokens;
        self.build(integration, settings, access)
    }

    /// A source of access tokens for `purpose`, with the identity this
    /// integration configures and the credential of `access`. By default this
    /// provider type issues none (`Unsupported`).
    fn token_source(
        &self,
        integration: &Integration,
        settings: &Self::Settings,
        access: &MailboxAccess,
        purpose: TokenPurpose,
    ) -> Result<Arc<dyn AccessTokenSource>> {
        let _ = (settings, access, purpose);
        Err(Error::new(
            ErrorKind::Config,
            format!("integrations of type {} issue no access tokens", self.provider_type()),
        )
        .with_code("config.no-token-source")
        .with_context("integration", &integration.id)
        .with_remedy("name an office365 integration in oauth_integration"))
    }
}

/// The object-safe face of a [`ProviderFactory`], as the registry keeps it.
trait ErasedFactory: Send + Sync {
    fn provider_type(&self) -> &'static str;
    fn description(&self) -> &'static str;
    fn needs_secret(&self) -> bool;
    fn secret_required(&self, settings: &serde_json::Value) -> bool;
    fn secret_not_needed_with(&self) -> &'static [&'static str];
    fn check(&self, settings: &serde_json::Value) -> Vec<ConfigProblem>;
    fn check_secret(&self, secret: &Secret) -> Vec<ConfigProblem>;
    fn takes_certificate(&self) -> bool;
    fn check_integration(&self, integration: &Integration) -> Vec<ConfigProblem>;
    fn check_account(
        &self,
        integration: &Integration,
        access: &MailboxAccess,
    ) -> Vec<ConfigProblem>;
    fn build(
        &self,
        integration: &Integration,
        access: &MailboxAccess,
    ) -> Result<Arc<dyn MailProvider>>;
    fn token_integration(&self, settings: &serde_json::Value) -> Option<String>;
    fn build_with_tokens(
        &self,
        integration: &Integration,
        access: &MailboxAccess,
        tokens: Arc<dyn AccessTokenSource>,
    ) -> Result<Arc<dyn MailProvider>>;
    fn token_source(
        &self,
        integration: &Integration,
        access: &MailboxAccess,
        purpose: TokenPurpose,
    ) -> Result<Arc<dyn AccessTokenSource>>;
}

struct Erased<F>(F);

impl<F: ProviderFactory> Erased<F> {
    fn parse(
        &self,
        settings: &serde_json::Value,
    ) -> std::result::Result<F::Settings, ConfigProblem> {
        serde_path_to_error::deserialize(settings).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            let message = e.into_inner().to_string();
            let code = if message.starts_with("unknown field") {
                "config.unknown-key"
            } else {
                "config.invalid-value"
            };
            ConfigProblem::new(path, message).with_code(code)
        })
    }

    fn settings_of(&self, integration: &Integration) -> Result<F::Settings> {
        self.parse(&integration.settings).map_err(|p| {
            Error::new(ErrorKind::Config, format!("invalid settings: {}", p.message))
                .with_code("config.invalid")
                .with_context("integration", &integration.id)
                .with_context("key", &p.path)
        })
    }
}

impl<F: ProviderFactory> ErasedFactory for Erased<F> {
    fn provider_type(&self) -> &'static str {
        self.0.provider_type()
    }
    fn description(&self) -> &'static str {
        self.0.description()
    }
    fn needs_secret(&self) -> bool {
        self.0.needs_secret()
    }
    fn secret_required(&self, settings: &serde_json::Value) -> bool {
        self.parse(settings).map_or_else(|_| self.0.needs_secret(), |s| self.0.secret_required(&s))
    }
    fn secret_not_needed_with(&self) -> &'static [&'static str] {
        self.0.secret_not_needed_with()
    }
    fn check(&self, settings: &serde_json::Value) -> Vec<ConfigProblem> {
        match self.parse(settings) {
            Ok(s) => self.0.validate(&s),
            Err(p) => vec![p],
        }
    }
    fn check_secret(&self, secret: &Secret) -> Vec<ConfigProblem> {
        self.0.check_secret(secret)
    }
    fn takes_certificate(&self) -> bool {
        self.0.takes_certificate()
    }
    fn check_integration(&self, integration: &Integration) -> Vec<ConfigProblem> {
        // Settings the factory refuses are reported by `check` already.
        self.parse(&integration.settings)
            .map(|s| self.0.check_integration(integration, &s))
            .unwrap_or_default()
    }
    fn check_account(
        &self,
        integration: &Integration,
        access: &MailboxAccess,
    ) -> Vec<ConfigProblem> {
        self.parse(&integration.settings)
            .map(|s| self.0.check_account(&s, access))
            .unwrap_or_default()
    }
    fn build(
        &self,
        integration: &Integration,
        access: &MailboxAccess,
    ) -> Result<Arc<dyn MailProvider>> {
        let settings = self.settings_of(integration)?;
        self.0.build(integration, &settings, access)
    }
    fn token_integration(&self, settings: &serde_json::Value) -> Option<String> {
        self.parse(settings).ok().and_then(|s| self.0.token_integration(&s))
    }
    fn build_with_tokens(
        &self,
        integration: &Integration,
        access: &MailboxAccess,
        tokens: Arc<dyn AccessTokenSource>,
    ) -> Result<Arc<dyn MailProvider>> {
        let settings = self.settings_of(integration)?;
        self.0.build_with_tokens(integration, &settings, access, tokens)
    }
    fn token_source(
        &self,
        integration: &Integration,
        access: &MailboxAccess,
        purpose: TokenPurpose,
    ) -> Result<Arc<dyn AccessTokenSource>> {
        let settings = self.settings_of(integration)?;
        self.0.token_source(integration, &settings, access, purpose)
    }
}

/// What `g360-mail providers` lists for each registered type.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProviderInfo {
    /// The provider type.
    pub provider_type: &'static str,
    /// What it is.
    pub description: &'static str,
    /// Whether its accounts need a secret.
    pub needs_secret: bool,
    /// The settings under which they need none after all (configuration
    /// text such as `auth = "none"`; empty when a secret is always needed).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub secret_not_needed_with: &'static [&'static str],
}

/// Provider types and their factories.
///
/// ```
/// use g360_mail_core::ProviderRegistry;
///
/// let registry = ProviderRegistry::new();
/// let err = registry.check_settings("nope", &serde_json::json!({})).unwrap_err();
/// assert!(err[0].message.contains("unknown provider type"));
/// ```
#[derive(Default, Clone)]
pub struct ProviderRegistry {
    factories: BTreeMap<&'static str, Arc<dyn ErasedFactory>>,
}

impl fmt::Debug for ProviderRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderRegistry")
            .field("types", &self.factories.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ProviderRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        ProviderRegistry::default()
    }

    /// Registers `factory` under its provider type, replacing any factory
    /// registered before under the same type.
    pub fn register<F: ProviderFactory>(&mut self, factory: F) -> &mut Self {
        self.factories.insert(factory.provider_type(), Arc::new(Erased(factory)));
        self
    }

    /// Whether `provider_type` is registered.
    pub fn contains(&self, provider_type: &str) -> bool {
        self.factories.contains_key(provider_type)
    }

    /// The registered types, sorted.
    pub fn types(&self) -> Vec<&'static str> {
        self.factories.keys().copied().collect()
    }

    /// A line per registered type.
    pub fn list(&self) -> Vec<ProviderInfo> {
        self.factories
            .values()
            .map(|f| ProviderInfo {
                provider_type: f.provider_type(),
                description: f.description(),
                needs_secret: f.needs_secret(),
                secret_not_needed_with: f.secret_not_needed_with(),
            })
            .collect()
    }

    /// Whether accounts of `provider_type` need a secret (`None` if unknown).
    pub fn needs_secret(&self, provider_type: &str) -> Option<bool> {
        self.factories.get(provider_type).map(|f| f.needs_secret())
    }

    /// Whether accounts on `integration` need a secret (`None` if its
    /// provider type is unknown).
    pub fn secret_required(&self, integration: &Integration) -> Option<bool> {
        self.factories.get(integration.provider.as_str()).map(|f| {
            let certificate = integration.certificate_pem.is_some() && f.takes_certificate();
            !certificate && f.secret_required(&integration.settings)
        })
    }

    /// The problems of what the bridge resolved for `integration` beyond
    /// its settings (see [`ProviderFactory::check_integration`]), paths
    /// relative to the integration. A certificate given to a type that
    /// takes none is one of them.
    pub fn check_integration(&self, integration: &Integration) -> Vec<ConfigProblem> {
        let Some(f) = self.factories.get(integration.provider.as_str()) else {
            return Vec::new();
        };
        if integration.certificate_pem.is_some() && !f.takes_certificate() {
            return vec![
                ConfigProblem::new(
                    "certificate",
                    format!("integrations of type {} take no certificate", f.provider_type()),
                )
                .with_code("config.certificate-unsupported")
                .with_remedy("remove the certificate and its private key from this integration"),
            ];
        }
        f.check_integration(integration)
    }

    /// The problems of `account` on `integration` (see
    /// [`ProviderFactory::check_account`]), paths relative to the account.
    pub fn check_account(
        &self,
        integration: &Integration,
        account: &MailAccount,
    ) -> Vec<ConfigProblem> {
        self.factories
            .get(integration.provider.as_str())
            .map(|f| f.check_account(integration, &MailboxAccess::from(account)))
            .unwrap_or_default()
    }

    /// The problems of an account's secret for `provider_type` (see
    /// [`ProviderFactory::check_secret`]); none for an unknown type.
    pub fn check_secret(&self, provider_type: &str, secret: &Secret) -> Vec<ConfigProblem> {
        self.factories.get(provider_type).map(|f| f.check_secret(secret)).unwrap_or_default()
    }

    fn unknown(&self, provider_type: &str) -> String {
        format!(
            "unknown provider type {provider_type:?}; registered types: {}",
            self.types().join(", ")
        )
    }

    /// Parses and validates an integration's settings for `provider_type`.
    /// Paths in the problems are relative to the integration.
    pub fn check_settings(
        &self,
        provider_type: &str,
        settings: &serde_json::Value,
    ) -> std::result::Result<(), Vec<ConfigProblem>> {
        let Some(factory) = self.factories.get(provider_type) else {
            return Err(vec![ConfigProblem::new("provider", self.unknown(provider_type))
                .with_code("config.unknown-provider")
                .with_remedy("use one of the registered types, or register the provider's crate in the application")]);
        };
        let problems = factory.check(settings);
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    fn factory_of(&self, integration: &Integration) -> Result<&Arc<dyn ErasedFactory>> {
        self.factories.get(integration.provider.as_str()).ok_or_else(|| {
            Error::new(ErrorKind::Config, self.unknown(&integration.provider))
                .with_code("config.unknown-provider")
                .with_context("integration", &integration.id)
        })
    }

    /// Builds the provider of the mailbox of `access` on `integration`.
    pub fn build(
        &self,
        integration: &Integration,
        access: &MailboxAccess,
    ) -> Result<Arc<dyn MailProvider>> {
        self.factory_of(integration)?.build(integration, access)
    }

    /// The id of the integration whose identity `integration` borrows for
    /// access tokens (see [`ProviderFactory::token_integration`]).
    pub fn token_integration(&self, integration: &Integration) -> Option<String> {
        let factory = self.factories.get(integration.provider.as_str())?;
        factory.token_integration(&integration.settings)
    }

    /// Builds the provider of the mailbox of `access` on `integration` with access tokens
    /// from `tokens` (see [`ProviderFactory::build_with_tokens`]).
    pub fn build_with_tokens(
        &self,
        integration: &Integration,
        access: &MailboxAccess,
        tokens: Arc<dyn AccessTokenSource>,
    ) -> Result<Arc<dyn MailProvider>> {
        self.factory_of(integration)?.build_with_tokens(integration, access, tokens)
    }

    /// A source of access tokens for `purpose` from `integration`'s identity
    /// and the credential of `access` (see [`ProviderFactory::token_source`]).
    pub fn token_source(
        &self,
        integration: &Integration,
        access: &MailboxAccess,
        purpose: TokenPurpose,
    ) -> Result<Arc<dyn AccessTokenSource>> {
        self.factory_of(integration)?.token_source(integration, access, purpose)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_becomes_one_config_error() {
        let err = ConfigProblem::new("directory", "the mailbox directory is empty")
            .with_remedy("set directory")
            .into_error("file");
        assert_eq!(err.kind(), ErrorKind::Config);
        assert_eq!(err.code(), Some("config.invalid"));
        assert_eq!(err.provider(), Some("file"));
        assert_eq!(err.remedy(), Some("set directory"));
        assert_eq!(err.to_string(), "the mailbox directory is empty (key: directory)");
        let coded = Error::from(ConfigProblem::new("k", "m").with_code("o365.client-id-invalid"));
        assert_eq!(coded.code(), Some("o365.client-id-invalid"));
    }

    #[test]
    fn a_problem_is_a_warning_or_a_setup_problem_never_both() {
        let p = ConfigProblem::new("k", "m").as_setup().as_warning();
        assert!(p.warning && !p.setup);
        let p = p.as_setup();
        assert!(p.setup && !p.warning);
    }

    struct NoCertificate;

    impl ProviderFactory for NoCertificate {
        type Settings = serde_json::Value;
        fn provider_type(&self) -> &'static str {
            "plain"
        }
        fn description(&self) -> &'static str {
            "a provider without certificates"
        }
        fn needs_secret(&self) -> bool {
            true
        }
        fn build(
            &self,
            _: &Integration,
            _: &serde_json::Value,
            _: &MailboxAccess,
        ) -> Result<Arc<dyn MailProvider>> {
            Err(Error::new(ErrorKind::Unsupported, "not built in this test"))
        }
    }

    #[test]
    fn a_certificate_for_a_type_that_takes_none_is_a_problem_and_no_credential() {
        let mut registry = ProviderRegistry::new();
        registry.register(NoCertificate);
        let pem = crate::CertificatePem::new("PEM", crate::Secret::new("KEY"));
        let integration =
            Integration::new("i", "plain", serde_json::json!({})).with_certificate_pem(pem);
        let found = registry.check_integration(&integration);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].code.as_deref(), Some("config.certificate-unsupported"));
        assert_eq!(found[0].path, "certificate");
        // The certificate does not stand in for the secret it cannot replace.
        assert_eq!(registry.secret_required(&integration), Some(true));
        assert!(!format!("{integration:?}").contains("KEY"));
    }
}
