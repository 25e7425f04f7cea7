//! [`O365Builder`] builds an [`O365Provider`]; [`O365Factory`] builds them
//! from ERP integrations and accounts, sharing token caches and per-mailbox
//! limiters between the providers it builds.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use g360_mail_core::{
    ConfigProblem, EmailAddress, Error, ErrorKind, Integration, MailAccount, MailProvider,
    ProviderFactory, Result, Secret,
};
use tokio::sync::Semaphore;
use url::Url;

use crate::O365_PROVIDER_TYPE;
use crate::auth::{TokenCache, TokenKey};
use crate::client::{GraphClient, RetryPolicy};
use crate::config::{Cloud, O365Settings, parse_endpoint};
use crate::provider::{O365Provider, SecretShape};

/// Token caches and mailbox limiters shared by the providers of one factory.
#[derive(Default)]
pub(crate) struct Shared {
    tokens: Mutex<HashMap<TokenKey, Arc<TokenCache>>>,
    limiters: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Shared {
    fn token_cache(&self, key: TokenKey, make: impl FnOnce() -> TokenCache) -> Arc<TokenCache> {
        let mut map = self.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(key).or_insert_with(|| Arc::new(make())).clone()
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
    mailbox: Option<EmailAddress>,
    shared: Option<Arc<Shared>>,
}

impl fmt::Debug for O365Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("O365Builder")
            .field("settings", &self.settings)
            .field("mailbox", &self.mailbox)
            .field("has_secret", &self.secret.is_some())
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
    /// loopback when allowed), out-of-range limits, and a missing secret or
    /// mailbox, as [`ErrorKind::Config`]. Badly formed ids are reported by
    /// `verify` and the token endpoint instead, with their remedies.
    pub fn build(self) -> Result<O365Provider> {
        let s = self.settings;
        let problems: Vec<ConfigProblem> =
            s.endpoint_problems().into_iter().chain(s.limit_problems()).collect();
        if let Some(p) = problems.first() {
            let mut err = Error::new(ErrorKind::Config, format!("invalid setting: {}", p.message))
                .with_provider(O365_PROVIDER_TYPE)
                .with_code("config.invalid")
                .with_context("key", &p.path);
            if let Some(r) = &p.remedy {
                err = err.with_remedy(r.clone());
            }
            return Err(err);
        }
        let mailbox = self.mailbox.ok_or_else(|| {
            Error::new(ErrorKind::Config, "the account has no mailbox address")
                .with_provider(O365_PROVIDER_TYPE)
                .with_code("o365.mailbox-missing")
                .with_remedy("put the mailbox address in the account's address")
        })?;
        let secret = self.secret.filter(|s| !s.is_blank()).ok_or_else(|| {
            Error::new(ErrorKind::Config, "the account has no client secret")
                .with_provider(O365_PROVIDER_TYPE)
                .with_code("o365.secret-missing")
                .with_context("address", mailbox.addr())
                .with_remedy("paste the client secret Value from Entra ID > App registrations > the app > Certificates & secrets into the account's secret (Token field in G360 ERP)")
        })?;
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

        // The rustls crypto provider is ours to install; another one already
        // installed by the application is fine too.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut http = reqwest::Client::builder()
            .connect_timeout(s.connect_timeout())
            .user_agent(concat!("g360-mail-o365/", env!("CARGO_PKG_VERSION")));
        if !s.allow_insecure_http {
            http = http.https_only(true);
        }
        let http = http.build().map_err(|e| {
            Error::new(ErrorKind::Unexpected, "could not build the HTTP client")
                .with_provider(O365_PROVIDER_TYPE)
                .with_code("o365.http-client")
                .with_source(e)
        })?;

        let shared = self.shared.unwrap_or_default();
        let key = TokenKey {
            authority: authority.as_str().trim_end_matches('/').to_owned(),
            tenant: s.tenant_id.trim().to_ascii_lowercase(),
            client_id: s.client_id.trim().to_ascii_lowercase(),
            secret: secret.clone(),
        };
        let secret_shape = SecretShape::of(secret.expose());
        let tokens = shared.token_cache(key, || {
            TokenCache::new(
                http.clone(),
                token_url,
                s.client_id.trim().to_owned(),
                secret,
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
            retry: RetryPolicy::from_settings(&s),
            timeout: s.request_timeout(),
            allow_http: s.allow_insecure_http,
            setup_problem: s.identity_problems().into_iter().next(),
        };
        Ok(O365Provider { client, settings: Arc::new(s), mailbox, authority, secret_shape })
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn endpoint(key: &str, value: &str, allow_http: bool) -> Result<Url> {
    parse_endpoint(key, value, allow_http).map_err(|p| {
        let mut err = Error::new(ErrorKind::Config, format!("invalid setting: {}", p.message))
            .with_provider(O365_PROVIDER_TYPE)
            .with_code("config.invalid")
            .with_context("key", key);
        if let Some(r) = p.remedy {
            err = err.with_remedy(r);
        }
        err
    })
}

/// Builds [`O365Provider`]s from `office365` integrations and their accounts.
///
/// Providers built by one factory share a token cache when they use the same
/// authority, tenant, client id and secret, and a limiter of concurrent
/// requests per mailbox. Keep one factory for the life of the process.
#[derive(Default, Clone)]
pub struct O365Factory {
    shared: Arc<Shared>,
}

impl fmt::Debug for O365Factory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tokens = self.shared.tokens.lock().map(|m| m.len()).unwrap_or(0);
        let mailboxes = self.shared.limiters.lock().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("O365Factory")
            .field("token_caches", &tokens)
            .field("mailboxes", &mailboxes)
            .finish()
    }
}

impl O365Factory {
    /// A factory with empty caches.
    pub fn new() -> Self {
        O365Factory::default()
    }

    /// A builder sharing this factory's caches, for callers that build
    /// providers without an ERP integration.
    pub fn builder(&self, settings: O365Settings) -> O365Builder {
        O365Builder::from_settings(settings).with_shared(self.shared.clone())
    }
}

impl ProviderFactory for O365Factory {
    type Settings = O365Settings;

    fn provider_type(&self) -> &'static str {
        O365_PROVIDER_TYPE
    }

    fn description(&self) -> &'static str {
        "Office 365 / Microsoft 365 mailbox through Microsoft Graph (Mail.Send, Mail.Read)"
    }

    fn needs_secret(&self) -> bool {
        true
    }

    fn validate(&self, settings: &O365Settings) -> Vec<ConfigProblem> {
        settings.problems()
    }

    fn check_secret(&self, secret: &g360_mail_core::Secret) -> Vec<ConfigProblem> {
        crate::provider::SecretShape::of(secret.expose())
            .problems()
            .into_iter()
            .map(|(code, p)| ConfigProblem { path: String::new(), ..p }.with_code(code).as_setup())
            .collect()
    }

    fn build(
        &self,
        integration: &Integration,
        settings: &O365Settings,
        account: &MailAccount,
    ) -> Result<Arc<dyn MailProvider>> {
        let mut b = self.builder(settings.clone()).with_mailbox(account.address.clone());
        if let Some(s) = &account.secret {
            b = b.with_client_secret(s.clone());
        }
        let provider = b.build().map_err(|e| {
            e.with_context("integration", &integration.id).with_context("user", &account.user)
        })?;
        Ok(Arc::new(provider))
    }
}
