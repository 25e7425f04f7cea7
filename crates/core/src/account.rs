//! ERP integrations and mail accounts, as the ERP's forms define them.

use std::fmt;

use crate::address::EmailAddress;
use crate::secret::Secret;

/// An integration: one configured route (an Entra app, an SMTP relay, a
/// directory), shared by the accounts that use it.
///
/// Its provider-specific settings stay raw here; the registered
/// [`ProviderFactory`](crate::ProviderFactory) parses and validates them.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Integration {
    /// Unique id, referenced by accounts (`integration`, `fallback`).
    pub id: String,
    /// Free text shown to administrators.
    pub description: String,
    /// The provider type (`office365`, `smtp`, `file`, ...).
    pub provider: String,
    /// The provider-specific keys, as a JSON object.
    pub settings: serde_json::Value,
    /// A certificate credential as PEM texts, which the bridge resolved from
    /// the ERP's secret store or from environment variables (providers never
    /// read the environment). For providers that take one (see
    /// [`ProviderFactory::takes_certificate`](crate::ProviderFactory::takes_certificate)),
    /// it stands in for certificate files in the settings.
    pub certificate_pem: Option<CertificatePem>,
}

impl Integration {
    /// An integration with the given id, provider type and settings.
    pub fn new(
        id: impl Into<String>,
        provider: impl Into<String>,
        settings: serde_json::Value,
    ) -> Self {
        Integration {
            id: id.into(),
            description: String::new(),
            provider: provider.into(),
            settings,
            certificate_pem: None,
        }
    }

    /// Sets the certificate credential (see [`Integration::certificate_pem`]).
    pub fn with_certificate_pem(mut self, pem: CertificatePem) -> Self {
        self.certificate_pem = Some(pem);
        self
    }

    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }
}

impl fmt::Debug for Integration {
    /// Shows only the keys of the settings: a provider may keep a secret there.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self
            .settings
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        f.debug_struct("Integration")
            .field("id", &self.id)
            .field("description", &self.description)
            .field("provider", &self.provider)
            .field("setting_keys", &keys)
            .field("certificate_pem", &self.certificate_pem.is_some())
            .finish()
    }
}

/// A certificate and its private key as PEM texts: an app's certificate
/// credential. Its `Debug` shows neither text; the key is a [`Secret`].
#[derive(Clone, PartialEq, Eq)]
pub struct CertificatePem {
    certificate: String,
    private_key: Secret,
    /// The environment variables the texts came from, if they did.
    env: Option<(String, String)>,
}

impl CertificatePem {
    /// The PEM certificate (`-----BEGIN CERTIFICATE-----`) and its private
    /// key (`-----BEGIN PRIVATE KEY-----`).
    pub fn new(certificate: impl Into<String>, private_key: Secret) -> Self {
        CertificatePem { certificate: certificate.into(), private_key, env: None }
    }

    /// Records that the texts came from the environment variables
    /// `certificate_env` and `private_key_env` name, so that a remedy (a
    /// certificate about to expire) names them instead of files.
    pub fn with_env_names(
        mut self,
        certificate_var: impl Into<String>,
        private_key_var: impl Into<String>,
    ) -> Self {
        self.env = Some((certificate_var.into(), private_key_var.into()));
        self
    }

    /// The environment variables of the certificate and of the key, when
    /// the texts came from there; `None` when the application gave them
    /// (the ERP's own certificate store).
    pub fn env_names(&self) -> Option<(&str, &str)> {
        self.env.as_ref().map(|(c, k)| (c.as_str(), k.as_str()))
    }

    /// The PEM certificate.
    pub fn certificate(&self) -> &str {
        &self.certificate
    }

    /// The PEM private key.
    pub fn private_key(&self) -> &Secret {
        &self.private_key
    }
}

impl fmt::Debug for CertificatePem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificatePem").finish_non_exhaustive()
    }
}

/// A user's mail account in the ERP: who sends, through which integration,
/// with which secret.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MailAccount {
    /// The ERP user id.
    pub user: String,
    /// The provider type of the account.
    pub provider: String,
    /// The integration, when several of that provider type exist.
    pub integration: Option<String>,
    /// The mailbox address.
    pub address: EmailAddress,
    /// The secret: for Office 365 the client secret *value*, for SMTP the password.
    pub secret: Option<Secret>,
    /// The new secret during a rotation (`secret_next`): providers that
    /// support it try it first and use `secret` only when it is refused.
    pub secret_next: Option<Secret>,
    /// An integration to fall back to when the primary did not accept a mail.
    pub fallback: Option<String>,
    /// The secret used on the fallback integration (for example the SMTP
    /// relay's password), when it needs one.
    pub fallback_secret: Option<Secret>,
    /// When the account's own secret expires (`2027-06-30`, the portal's
    /// "Expires" column), for providers that warn before (Office 365): it
    /// wins over the integration's `secret_expires`.
    pub secret_expires: Option<String>,
}

impl MailAccount {
    /// An account for `user` at `address` on `provider`.
    pub fn new(
        user: impl Into<String>,
        provider: impl Into<String>,
        address: EmailAddress,
    ) -> Self {
        MailAccount {
            user: user.into(),
            provider: provider.into(),
            integration: None,
            address,
            secret: None,
            secret_next: None,
            fallback: None,
            fallback_secret: None,
            secret_expires: None,
        }
    }

    /// Sets the secret.
    pub fn with_secret(mut self, secret: Secret) -> Self {
        self.secret = Some(secret);
        self
    }

    /// Names the integration explicitly.
    pub fn with_integration(mut self, id: impl Into<String>) -> Self {
        self.integration = Some(id.into());
        self
    }

    /// Names a fallback integration.
    pub fn with_fallback(mut self, id: impl Into<String>) -> Self {
        self.fallback = Some(id.into());
        self
    }
}
