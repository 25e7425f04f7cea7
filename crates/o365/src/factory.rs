//! [`O365Factory`]: builds [`O365Provider`](crate::O365Provider)s from ERP
//! integrations and accounts for the registry, sharing token caches and
//! per-mailbox limiters between the providers it builds.

use std::fmt;
use std::sync::Arc;

use g360_mail_core::{
    AccessTokenSource, ConfigProblem, Error, Integration, MailProvider, MailboxAccess,
    ProviderFactory, Result, TokenPurpose,
};

use crate::O365_PROVIDER_TYPE;
use crate::auth::TokenKey;
use crate::builder::{O365Builder, Shared};
use crate::config::O365Settings;
use crate::error;
use crate::token_source::{ExchangeTokenSource, exchange_cache};

/// Builds [`O365Provider`](crate::O365Provider)s from `office365` integrations and their accounts.
///
/// Providers built by one factory share a token cache when they use the same
/// authority, tenant, client id and credential (secret or certificate), and a limiter of concurrent
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

    fn secret_required(&self, settings: &O365Settings) -> bool {
        !settings.uses_certificate()
    }

    fn secret_not_needed_with(&self) -> &'static [&'static str] {
        &["certificate_file = \"…\""]
    }

    fn validate(&self, settings: &O365Settings) -> Vec<ConfigProblem> {
        let mut out = settings.problems();
        out.extend(expired_credentials(settings, jiff::Timestamp::now()));
        out
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
        access: &MailboxAccess,
    ) -> Result<Arc<dyn MailProvider>> {
        let mut b = self.builder(settings.clone()).with_mailbox(access.mailbox.clone());
        if let Some(s) = &access.secret {
            b = b.with_client_secret(s.clone());
        }
        if let Some(s) = &access.secret_next {
            b = b.with_client_secret_next(s.clone());
        }
        let provider = b.build().map_err(|e| e.with_context("integration", &integration.id))?;
        Ok(Arc::new(provider))
    }

    /// App-only tokens of this integration's app for Exchange Online, with
    /// the mailbox's client secret (and `secret_next`) or the integration's
    /// certificate; shared by every account of the same app and credential.
    fn token_source(
        &self,
        integration: &Integration,
        settings: &O365Settings,
        access: &MailboxAccess,
        purpose: TokenPurpose,
    ) -> Result<Arc<dyn AccessTokenSource>> {
        let context = |e: Error| e.with_context("integration", &integration.id);
        if purpose != TokenPurpose::ExchangeSmtp {
            return Err(context(error::no_token_source(purpose)));
        }
        let credential = crate::builder::credential(
            settings,
            access.secret.clone(),
            access.secret_next.clone(),
            None,
        )
        .map_err(context)?
        .ok_or_else(|| context(error::secret_missing(access.mailbox.addr())))?;
        let key = TokenKey {
            authority: settings.authority_url().trim_end_matches('/').to_owned(),
            tenant: settings.tenant_id.trim().to_ascii_lowercase(),
            client_id: settings.client_id.trim().to_ascii_lowercase(),
            credential: credential.fingerprint(),
            tls_ca_file: settings.tls_ca_file.clone(),
        };
        let cache = self
            .shared
            .exchange_token_cache(key, || exchange_cache(settings, credential))
            .map_err(context)?;
        Ok(Arc::new(ExchangeTokenSource { cache, client_id: settings.client_id.trim().to_owned() }))
    }
}

/// The integration's credential files that cannot be used and the dates
/// that have passed, as setup problems for `config check` (the accounts'
/// `verify` diagnoses the same). Warnings before an expiry are `verify`'s.
fn expired_credentials(settings: &O365Settings, now: jiff::Timestamp) -> Vec<ConfigProblem> {
    let problem = |e: Error| {
        let key = e.context_value("key").unwrap_or("certificate_file").to_owned();
        let mut p = ConfigProblem::new(key, e.message()).as_setup();
        if let Some(c) = e.code() {
            p = p.with_code(c);
        }
        if let Some(r) = e.remedy() {
            p = p.with_remedy(r);
        }
        p
    };
    let mut out = Vec::new();
    if let Some(when) = settings.secret_expiry()
        && when <= now
    {
        out.push(problem(error::expired("secret_expires", when, false)));
    }
    if settings.certificate_file.is_some() && settings.private_key_file.is_some() {
        match crate::builder::credential(settings, None, None, None) {
            Err(e) => out.push(problem(e)),
            Ok(Some(c)) => {
                if let Some(cert) = c.certificate()
                    && let Err(p) = cert.check_validity(now)
                {
                    out.push(problem(error::certificate(&p)));
                }
            }
            Ok(None) => {}
        }
    }
    out
}
