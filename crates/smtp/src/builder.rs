//! [`SmtpBuilder`]: checked construction of an [`SmtpProvider`].

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use g360_mail_core::{
    AccessTokenSource, ConfigProblem, EmailAddress, Error, ErrorKind, Result, Secret,
};
use lettre::transport::smtp::authentication::Mechanism;
use lettre::transport::smtp::extension::ClientId;
use rustls::pki_types::ServerName;

use crate::SMTP_PROVIDER_TYPE;
use crate::client::{Connector, Login, Pool, Tls};
use crate::config::{Security, SmtpAuth, SmtpSettings, load_ca_file};
use crate::provider::SmtpProvider;

/// Builds an [`SmtpProvider`] from [`SmtpSettings`], the account's address
/// (the sender) and its secret.
///
/// ```
/// use g360_mail_core::{MailProvider, Secret};
/// use g360_mail_smtp::{Security, SmtpBuilder};
///
/// let provider = SmtpBuilder::new("smtp.example.com")
///     .with_security(Security::Tls)
///     .with_sender("facturas@example.com".parse()?)
///     .with_secret(Secret::new("s3cret"))
///     .build()?;
/// assert_eq!(provider.provider_type(), "smtp");
/// assert!(!format!("{provider:?}").contains("s3cret"));
/// # Ok::<(), g360_mail_core::Error>(())
/// ```
#[derive(Clone)]
pub struct SmtpBuilder {
    settings: SmtpSettings,
    sender: Option<EmailAddress>,
    secret: Option<Secret>,
    tokens: Option<Arc<dyn AccessTokenSource>>,
}

impl fmt::Debug for SmtpBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpBuilder")
            .field("settings", &self.settings)
            .field("sender", &self.sender)
            .field("has_secret", &self.secret.is_some())
            .field("tokens", &self.tokens.as_ref().map(|t| t.describe()))
            .finish()
    }
}

impl SmtpBuilder {
    /// A builder for the server at `host`, everything else by default.
    pub fn new(host: impl Into<String>) -> Self {
        SmtpBuilder::from_settings(SmtpSettings::new(host))
    }

    /// A builder starting from an integration's settings.
    pub fn from_settings(settings: SmtpSettings) -> Self {
        SmtpBuilder { settings, sender: None, secret: None, tokens: None }
    }

    /// The settings so far.
    pub fn settings(&self) -> &SmtpSettings {
        &self.settings
    }

    /// The account's address: the envelope sender, the `From` of messages
    /// that name none, and the default login name.
    pub fn with_sender(mut self, sender: EmailAddress) -> Self {
        self.sender = Some(sender);
        self
    }

    /// The password, or with [`SmtpAuth::Xoauth2`] the bearer token.
    pub fn with_secret(mut self, secret: Secret) -> Self {
        self.secret = Some(secret);
        self
    }

    /// Where the tokens of [`SmtpAuth::OAuth2`] come from (the bridge builds
    /// it from the `office365` integration named in `oauth_integration`).
    pub fn with_token_source(mut self, tokens: Arc<dyn AccessTokenSource>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// The TCP port (default: by security mode).
    pub fn with_port(mut self, port: u16) -> Self {
        self.settings.port = Some(port);
        self
    }

    /// How the connection is protected.
    pub fn with_security(mut self, security: Security) -> Self {
        self.settings.security = security;
        self
    }

    /// A PEM file of extra CA certificates to trust.
    pub fn with_tls_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.tls_ca_file = Some(path.into());
        self
    }

    /// How to authenticate.
    pub fn with_auth(mut self, auth: SmtpAuth) -> Self {
        self.settings.auth = auth;
        self
    }

    /// The login name (default: the sender's address).
    pub fn with_username(mut self, username: impl Into<String>) -> Self {
        self.settings.username = Some(username.into());
        self
    }

    /// The name sent with `EHLO`.
    pub fn with_hello_name(mut self, name: impl Into<String>) -> Self {
        self.settings.hello_name = Some(name.into());
        self
    }

    /// Timeout of resolving the host and opening the TCP connection.
    pub fn with_connect_timeout(mut self, limit: Duration) -> Self {
        self.settings.connect_timeout_ms = millis(limit);
        self
    }

    /// Timeout of the TLS handshake, the greeting and each command's reply.
    pub fn with_command_timeout(mut self, limit: Duration) -> Self {
        self.settings.command_timeout_ms = millis(limit);
        self
    }

    /// Timeout of transmitting the message and the final reply.
    pub fn with_data_timeout(mut self, limit: Duration) -> Self {
        self.settings.data_timeout_ms = millis(limit);
        self
    }

    /// Deadline of a whole send or verify (see
    /// [`SmtpSettings::send_timeout_ms`]).
    pub fn with_send_timeout(mut self, limit: Duration) -> Self {
        self.settings.send_timeout_ms = millis(limit);
        self
    }

    /// Allows `security = "none"` to a host that is not this machine (see
    /// [`SmtpSettings::allow_insecure_dangerous`]).
    pub fn with_allow_insecure_dangerous(mut self, allow: bool) -> Self {
        self.settings.allow_insecure_dangerous = allow;
        self
    }

    /// Most connections open at once.
    pub fn with_pool_max_size(mut self, size: u32) -> Self {
        self.settings.pool_max_size = size;
        self
    }

    /// How long an unused connection is kept.
    pub fn with_pool_idle_timeout(mut self, limit: Duration) -> Self {
        self.settings.pool_idle_timeout_ms = millis(limit);
        self
    }

    /// Most attempts of a send whose connection fails before the content was sent.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.settings.max_attempts = attempts;
        self
    }

    /// Delay before the second attempt (doubled for each further one).
    pub fn with_retry_delay(mut self, delay: Duration) -> Self {
        self.settings.retry_delay_ms = millis(delay);
        self
    }

    /// Checks everything and builds the provider; no connection is opened.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] with code `config.invalid` for invalid settings
    /// (every problem in the message, the first one's key as context),
    /// `smtp.sender-missing` without a sender, `smtp.secret-missing`
    /// without a secret when `auth` is a password or token, and
    /// `smtp.oauth-unresolved` without a token source with `auth = "oauth2"`.
    pub fn build(self) -> Result<SmtpProvider> {
        let s = self.settings;
        let problems = s.problems();
        if let Some(first) = problems.first() {
            let all: Vec<String> = problems.iter().map(ToString::to_string).collect();
            let all = ConfigProblem {
                message: format!("invalid smtp settings: {}", all.join("; ")),
                code: Some("config.invalid".to_owned()),
                ..first.clone()
            };
            return Err(all.into_error(SMTP_PROVIDER_TYPE));
        }
        let sender = self.sender.ok_or_else(|| {
            config_error("the account's address (the sender) is missing", "smtp.sender-missing")
                .with_remedy("give the account an address")
        })?;
        let login = match s.auth {
            SmtpAuth::None => Login::None,
            SmtpAuth::OAuth2 => {
                let tokens = self.tokens.ok_or_else(|| {
                    config_error(
                        "auth = \"oauth2\" has no token source",
                        "smtp.oauth-unresolved",
                    )
                    .with_context("key", "oauth_integration")
                    .with_remedy("set oauth_integration to the id of an office365 integration; the bridge builds the token source from it")
                })?;
                let username = s.username.clone().unwrap_or_else(|| sender.addr().to_owned());
                Login::OAuth2 { username, tokens }
            }
            auth => {
                let secret = self.secret.filter(|s| !s.is_blank()).ok_or_else(|| {
                    config_error("the account has no SMTP secret", "smtp.secret-missing")
                        .with_context("auth", auth)
                        .with_remedy("set the account's secret to the SMTP password (with auth = \"xoauth2\", a bearer token), or set auth = \"none\" if the relay needs no login")
                })?;
                let mechanisms = match auth {
                    SmtpAuth::Plain => vec![Mechanism::Plain],
                    SmtpAuth::Login => vec![Mechanism::Login],
                    SmtpAuth::Xoauth2 => vec![Mechanism::Xoauth2],
                    _ => vec![Mechanism::Plain, Mechanism::Login],
                };
                let username = s.username.clone().unwrap_or_else(|| sender.addr().to_owned());
                Login::Sasl { mechanisms, username, secret }
            }
        };
        let tls = match s.security {
            Security::None => None,
            Security::Starttls | Security::Tls => Some(tls_config(&s)?),
        };
        let hello = match &s.hello_name {
            Some(name) => ClientId::Domain(name.clone()),
            None => ClientId::default(),
        };
        let connector = Connector {
            host: s.host.clone(),
            port: s.port(),
            security: s.security,
            auth: s.auth,
            allow_insecure: s.allow_insecure_dangerous,
            tls,
            hello,
            login,
            connect_timeout: s.connect_timeout(),
            command_timeout: s.command_timeout(),
            data_timeout: s.data_timeout(),
            send_timeout: s.send_timeout(),
        };
        let pool =
            Pool::new(s.pool_max_size as usize, Duration::from_millis(s.pool_idle_timeout_ms));
        Ok(SmtpProvider {
            connector: Arc::new(connector),
            pool: Arc::new(pool),
            sender,
            max_attempts: s.max_attempts.max(1),
            retry_delay: Duration::from_millis(s.retry_delay_ms),
        })
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn config_error(message: &'static str, code: &'static str) -> Error {
    Error::new(ErrorKind::Config, message).with_code(code).with_provider(SMTP_PROVIDER_TYPE)
}

/// The TLS configuration: the system's verifier (its trust store) plus the
/// CAs of `tls_ca_file`, built once because loading the system roots reads
/// every file of the trust store. TLS 1.2 and 1.3, ring, no client
/// certificate.
fn tls_config(s: &SmtpSettings) -> Result<Tls> {
    let host = s.host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let name = ServerName::try_from(host).map_err(|e| {
        config_error("the host cannot be checked against a TLS certificate", "config.invalid")
            .with_context("key", "host")
            .with_source(e)
    })?;
    let extra = match &s.tls_ca_file {
        None => Vec::new(),
        Some(path) => load_ca_file(path).map_err(|p| {
            config_error("cannot use tls_ca_file", "config.invalid")
                .with_context("key", "tls_ca_file")
                .with_context("problem", p.message)
                .with_remedy(p.remedy.unwrap_or_default())
        })?,
    };
    let setup = |e: rustls::Error| {
        config_error("cannot set up TLS", "smtp.tls-setup")
            .with_remedy("check tls_ca_file and this machine's trust store (/etc/ssl/certs)")
            .with_source(e)
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
            .map_err(setup)?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(setup)?
        // Not a weaker check: the platform verifier checks the chain and
        // the name; `dangerous` is rustls's door to any custom verifier.
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Tls { config: Arc::new(config), name })
}
