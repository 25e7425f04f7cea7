//! [`O365Builder`] builds an [`O365Provider`] from settings, a mailbox and a
//! credential, sharing token caches and per-mailbox limiters through
//! [`Shared`] (the factory's).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use g360_mail_core::{ConfigProblem, EmailAddress, Result, Secret};
use tokio::sync::Semaphore;
use url::Url;

use crate::auth::{TokenCache, TokenKey};
use crate::body::BufferPool;
use crate::certificate::{CertificateCredential, CertificateSource};
use crate::client::{GraphClient, RetryPolicy};
use crate::config::{Cloud, O365Settings, parse_endpoint};
use crate::credential::Credential;
use crate::error;
use crate::provider::{O365Provider, SecretShape};

/// Token caches, mailbox limiters and request body buffers shared by the
/// providers of one factory.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) tokens: Mutex<HashMap<TokenKey, Arc<TokenCache>>>,
    pub(crate) limiters: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Buffers of large `sendMail` bodies, reused from one send to the next.
    pub(crate) buffers: Arc<BufferPool>,
    /// Token caches for Exchange Online (SMTP), apart from Graph's.
    exchange_tokens: Mutex<HashMap<TokenKey, Arc<TokenCache>>>,
}

impl Shared {
    fn token_cache(&self, key: TokenKey, make: impl FnOnce() -> TokenCache) -> Arc<TokenCache> {
        let mut map = self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(key).or_insert_with(|| Arc::new(make())).clone()
    }

    pub(crate) fn exchange_token_cache(
        &self,
        key: TokenKey,
        make: impl FnOnce() -> Result<TokenCache>,
    ) -> Result<Arc<TokenCache>> {
        let mut map =
            self.exchange_tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(cache) = map.get(&key) {
            return Ok(cache.clone());
        }
        let cache = Arc::new(make()?);
        map.insert(key, cache.clone());
        Ok(cache)
    }

    fn limiter(&self, key: String, permits: u32) -> Arc<Semaphore> {
        let mut map = self.limiters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(key).or_insert_with(|| Arc::new(Semaphore::new(permits as usize))).clone()
    }
}

/// Builds an [`O365Provider`] for one mailbox.
///
/// ```
/// use g360_mail_core::{EmailAddress, Secret};
/// use g360_mail_o365::O365Builder;
///
/// let provider = O365Builder::default()
///     .with_client_id("11111111-2222-3333-4444-555555555555")
///     .with_tenant_id("contoso.onmicrosoft.com")
///     .with_client_secret(Secret::new("the-secret-value"))
///     .with_mailbox(EmailAddress::new("facturas@contoso.com")?)
///     .build()?;
/// assert_eq!(provider.mailbox().addr(), "facturas@contoso.com");
/// # Ok::<(), g360_mail_core::Error>(())
/// ```
#[derive(Default)]
pub struct O365Builder {
    settings: O365Settings,
    secret: Option<Secret>,
    secret_next: Option<Secret>,
    certificate_pem: Option<(String, Secret)>,
    /// The environment variables the PEM texts came from, if they did.
    certificate_env_names: Option<(String, String)>,
    mailbox: Option<EmailAddress>,
    shared: Option<Arc<Shared>>,
}

impl fmt::Debug for O365Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("O365Builder")
            .field("settings", &self.settings)
            .field("mailbox", &self.mailbox)
            .field("has_secret", &self.secret.is_some())
            .field("has_secret_next", &self.secret_next.is_some())
            .field("has_certificate_pem", &self.certificate_pem.is_some())
            .finish_non_exhaustive()
    }
}

impl O365Builder {
    /// A builder starting from `settings`.
    pub fn from_settings(settings: O365Settings) -> Self {
        O365Builder { settings, ..O365Builder::default() }
    }

    /// The Application (client) ID.
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.settings.client_id = client_id.into();
        self
    }

    /// The Directory (tenant) ID or a verified domain.
    pub fn with_tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.settings.tenant_id = tenant_id.into();
        self
    }

    /// The client secret *value*.
    pub fn with_client_secret(mut self, secret: Secret) -> Self {
        self.secret = Some(secret);
        self
    }

    /// The new client secret of a rotation: tried first, with the secret of
    /// [`with_client_secret`](Self::with_client_secret) used only when Entra
    /// ID refuses this one as invalid or expired (AADSTS7000215, 7000222).
    pub fn with_client_secret_next(mut self, secret: Secret) -> Self {
        self.secret_next = Some(secret);
        self
    }

    /// A certificate (PEM text) and its RSA private key (PEM text, PKCS#8 or
    /// PKCS#1, not encrypted) instead of a client secret, for example from
    /// the ERP's own secret store. Used when no client secret is given; takes
    /// precedence over the integration's `certificate_file` and
    /// `private_key_file`.
    pub fn with_certificate_pem(mut self, certificate: impl Into<String>, key: Secret) -> Self {
        self.certificate_pem = Some((certificate.into(), key));
        self
    }

    /// Says that the PEM texts of
    /// [`with_certificate_pem`](Self::with_certificate_pem) came from these
    /// environment variables (the integration's `certificate_env` and
    /// `private_key_env`), so that the remedy of an expiring certificate
    /// names them; without it, the texts count as given by the application.
    pub fn with_certificate_env_names(
        mut self,
        certificate_var: impl Into<String>,
        private_key_var: impl Into<String>,
    ) -> Self {
        self.certificate_env_names = Some((certificate_var.into(), private_key_var.into()));
        self
    }

    /// The mailbox to send as and read.
    pub fn with_mailbox(mut self, mailbox: EmailAddress) -> Self {
        self.mailbox = Some(mailbox);
        self
    }

    /// The Microsoft cloud of the tenant.
    pub fn with_cloud(mut self, cloud: Cloud) -> Self {
        self.settings.cloud = cloud;
        self
    }

    /// Overrides the login host (e.g. an emulator's URL in tests).
    pub fn with_authority_url(mut self, url: impl Into<String>) -> Self {
        self.settings.authority_url = Some(url.into());
        self
    }

    /// Overrides the Graph host, without `/v1.0`.
    pub fn with_graph_url(mut self, url: impl Into<String>) -> Self {
        self.settings.graph_url = Some(url.into());
        self
    }

    /// Allows plain `http://` endpoints on loopback hosts. For tests only.
    pub fn with_allow_insecure_http_dangerous(mut self, allow: bool) -> Self {
        self.settings.allow_insecure_http = allow;
        self
    }

    /// Whether the tenant grants mailbox rights through Exchange RBAC for
    /// Applications (roles then do not show in the token).
    pub fn with_rbac_for_applications(mut self, yes: bool) -> Self {
        self.settings.rbac_for_applications = yes;
        self
    }

    /// Timeout of one HTTP request.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.settings.request_timeout_ms = millis(timeout);
        self
    }

    /// Timeout of establishing a connection.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout_ms = millis(timeout);
        self
    }

    /// The overall deadline of one send, retries and the Sent Items lookup
    /// included.
    pub fn with_send_timeout(mut self, timeout: Duration) -> Self {
        self.settings.send_timeout_ms = millis(timeout);
        self
    }

    /// Most attempts of one operation, first try included.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.settings.max_attempts = attempts;
        self
    }

    /// Backoff when the server gives no `Retry-After`: the first delay and the
    /// longest one.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.settings.initial_backoff_ms = millis(initial);
        self.settings.max_backoff_ms = millis(max);
        self
    }

    /// Longest total waiting of one operation across its retries.
    pub fn with_max_total_delay(mut self, total: Duration) -> Self {
        self.settings.max_total_delay_ms = millis(total);
        self
    }

    /// How long to let an ambiguous send settle before looking in Sent Items.
    pub fn with_sent_lookup_delay(mut self, delay: Duration) -> Self {
        self.settings.sent_lookup_delay_ms = millis(delay);
        self
    }

    /// How long before expiry a token is renewed.
    pub fn with_token_refresh_margin(mut self, margin: Duration) -> Self {
        self.settings.token_refresh_margin_ms = millis(margin);
        self
    }

    /// Most requests in flight for this mailbox (1 to 4).
    pub fn with_max_concurrent_requests(mut self, n: u32) -> Self {
        self.settings.max_concurrent_requests = n;
        self
    }

    pub(crate) fn with_shared(mut self, shared: Arc<Shared>) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Builds the provider. Refuses endpoints that are not https (or http on
    /// loopback when allowed), out-of-range limits, a missing credential or
    /// mailbox, and certificate or key files that cannot be read or do not
    /// belong together, as [`ErrorKind::Config`](g360_mail_core::ErrorKind::Config). Badly formed ids are reported by
    /// `verify` and the token endpoint instead, with their remedies; so is
    /// an expired certificate.
    ///
    /// The credential is the account's client secret when it has one (with
    /// [`with_client_secret_next`](Self::with_client_secret_next) during a
    /// rotation), otherwise the certificate.
    pub fn build(self) -> Result<O365Provider> {
        let s = self.settings;
        let problems: Vec<ConfigProblem> = s
            .endpoint_problems()
            .into_iter()
            .chain(s.limit_problems())
            .chain(s.credential_problems())
            .collect();
        if let Some(p) = problems.first() {
            return Err(error::invalid_setting(p));
        }
        let mailbox = self.mailbox.ok_or_else(error::mailbox_missing)?;
        let source = match self.certificate_env_names {
            Some((certificate, private_key)) => CertificateSource::Env { certificate, private_key },
            None => CertificateSource::Given,
        };
        let pem = self.certificate_pem.map(|(cert, key)| (cert, key, source));
        let credential = credential(&s, self.secret, self.secret_next, pem)?
            .ok_or_else(|| error::secret_missing(mailbox.addr()))?;
        let authority = endpoint("authority_url", s.authority_url(), s.allow_insecure_http)?;
        let graph = endpoint("graph_url", s.graph_url(), s.allow_insecure_http)?;
        let mut base = graph.clone();
        if let Ok(mut p) = base.path_segments_mut() {
            p.pop_if_empty().push("v1.0");
        }
        let mut token_url = authority.clone();
        if let Ok(mut p) = token_url.path_segments_mut() {
            p.pop_if_empty().extend([s.tenant_id.trim(), "oauth2", "v2.0", "token"]);
        }

        // No redirects (see `error::redirected`), HTTPS only, the company CA
        // of `tls_ca_file`: `O365Settings::http_client_builder`. The read
        // timeout ends a stalled body early; the per-request timeout ends a
        // trickling one.
        let http = s
            .http_client_builder()?
            .read_timeout(s.request_timeout())
            .build()
            .map_err(error::http_client)?;

        let shared = self.shared.unwrap_or_default();
        let key = TokenKey {
            authority: authority.as_str().trim_end_matches('/').to_owned(),
            tenant: s.tenant_id.trim().to_ascii_lowercase(),
            client_id: s.client_id.trim().to_ascii_lowercase(),
            credential: credential.fingerprint(),
            tls_ca_file: s.tls_ca_file.clone(),
        };
        let secret_shape = match &credential {
            Credential::Secret { secret, .. } => SecretShape::of(secret.expose()),
            Credential::Certificate(_) => SecretShape::default(),
        };
        let tokens = shared.token_cache(key, || {
            TokenCache::new(
                http.clone(),
                token_url,
                s.client_id.trim().to_owned(),
                credential,
                s.cloud.scope(),
                s.token_refresh_margin(),
                s.request_timeout(),
            )
        });
        let limiter_key = format!(
            "{}|{}|{}",
            graph.as_str().trim_end_matches('/'),
            s.client_id.trim().to_ascii_lowercase(),
            mailbox.addr().to_ascii_lowercase()
        );
        let limiter = shared.limiter(limiter_key, s.max_concurrent_requests);
        let user = GraphClient::user_base(&base, mailbox.addr());
        let mut send_mail = user.clone();
        if let Ok(mut p) = send_mail.path_segments_mut() {
            p.push("sendMail");
        }
        let client = GraphClient {
            http,
            base,
            mailbox: mailbox.addr().to_owned(),
            user,
            send_mail,
            tokens,
            limiter,
            buffers: shared.buffers.clone(),
            retry: RetryPolicy::from_settings(&s),
            timeout: s.request_timeout(),
            allow_http: s.allow_insecure_http,
            setup_problem: s.identity_problems().into_iter().next(),
        };
        Ok(O365Provider { client, settings: Arc::new(s), mailbox, authority, secret_shape })
    }
}

/// The credential of an account: its client secret (with the next one of a
/// rotation) when it has one, otherwise the certificate of the PEM texts or
/// of the integration's files; `None` when there is none.
pub(crate) fn credential(
    s: &O365Settings,
    secret: Option<Secret>,
    next: Option<Secret>,
    pem: Option<(String, Secret, CertificateSource)>,
) -> Result<Option<Credential>> {
    let secret = secret.filter(|s| !s.is_blank());
    let next = next.filter(|s| !s.is_blank());
    Ok(match (secret, next) {
        (Some(secret), next) => Some(Credential::Secret { secret, next }),
        (None, Some(next)) => Some(Credential::Secret { secret: next, next: None }),
        (None, None) => load_certificate(s, pem)?.map(|c| Credential::Certificate(Arc::new(c))),
    })
}

/// The certificate of the builder's PEM texts, else of the integration's
/// files; `None` when neither is given.
fn load_certificate(
    s: &O365Settings,
    pem: Option<(String, Secret, CertificateSource)>,
) -> Result<Option<CertificateCredential>> {
    let (cert, key, source) = match pem {
        Some((cert, key, source)) => (cert.into_bytes(), key, source),
        None => {
            let (Some(cert_path), Some(key_path)) = (&s.certificate_file, &s.private_key_file)
            else {
                return Ok(None);
            };
            let cert = std::fs::read(cert_path)
                .map_err(|e| error::certificate_file("certificate_file", cert_path, e))?;
            let key = std::fs::read_to_string(key_path)
                .map_err(|e| error::certificate_file("private_key_file", key_path, e))?;
            (cert, Secret::new(key), CertificateSource::Files)
        }
    };
    CertificateCredential::from_pem(&cert, key.expose().as_bytes())
        .map(|c| Some(c.with_source(source.clone())))
        .map_err(|p| error::certificate(&p, &source))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn endpoint(key: &str, value: &str, allow_http: bool) -> Result<Url> {
    parse_endpoint(key, value, allow_http).map_err(|p| error::invalid_setting(&p))
}
