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
use crate::certificate::CertificateSource;
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
            .field("body_buffers", &self.shared.buffers.len())
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
        &["certificate_file = \"…\"", "certificate_env = \"…\""]
    }

    fn validate(&self, settings: &O365Settings) -> Vec<ConfigProblem> {
        let mut out = settings.problems();
        out.extend(expired_credentials(settings, jiff::Timestamp::now()));
        out
    }

    fn takes_certificate(&self) -> bool {
        true
    }

    /// The certificate of PEM texts the bridge resolved: readable, its key
    /// its own, its dates (expired: a setup problem; within
    /// `expiry_warning_days`: a warning).
    fn check_integration(
        &self,
        integration: &Integration,
        settings: &O365Settings,
    ) -> Vec<ConfigProblem> {
        let Some(pem) = &integration.certificate_pem else {
            return Vec::new();
        };
        let now = jiff::Timestamp::now();
        let rename = |p: ConfigProblem| {
            let path = match p.path.as_str() {
                "private_key_file" => "private_key".to_owned(),
                _ => "certificate".to_owned(),
            };
            ConfigProblem { path, ..p }
        };
        let pair = Some((pem.certificate().to_owned(), pem.private_key().clone(), pem_source(pem)));
        match crate::builder::credential(settings, None, None, pair) {
            Err(e) => vec![rename(problem_of(e))],
            Ok(Some(c)) => c
                .certificate()
                .and_then(|cert| match cert.check_validity(now) {
                    Err(p) => Some(problem_of(error::certificate(&p, cert.source()))),
                    Ok(()) => expiring(
                        settings,
                        cert.source().key(),
                        cert.not_after(),
                        Some(cert.source()),
                        now,
                    ),
                })
                .map(rename)
                .into_iter()
                .collect(),
            Ok(None) => Vec::new(),
        }
    }

    /// The account's own `secret_expires`: a date, not passed (a setup
    /// problem), not within `expiry_warning_days` (a warning).
    fn check_account(&self, settings: &O365Settings, access: &MailboxAccess) -> Vec<ConfigProblem> {
        let Some(date) = &access.secret_expires else {
            return Vec::new();
        };
        let mut own = settings.clone();
        own.secret_expires = Some(date.clone());
        let Some(when) = own.secret_expiry() else {
            return vec![crate::config::bad_expiry_date(date)];
        };
        let now = jiff::Timestamp::now();
        let found = if when <= now {
            Some(problem_of(error::expired_secret("secret_expires", when)))
        } else {
            expiring(settings, "secret_expires", when, None, now)
        };
        found.into_iter().collect()
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
        let mut settings = settings.clone();
        if let Some(date) = &access.secret_expires {
            settings.secret_expires = Some(date.clone());
        }
        let mut b = self.builder(settings).with_mailbox(access.mailbox.clone());
        if let Some(pem) = &integration.certificate_pem {
            b = b.with_certificate_pem(pem.certificate(), pem.private_key().clone());
            if let Some((certificate, private_key)) = pem.env_names() {
                b = b.with_certificate_env_names(certificate, private_key);
            }
        }
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
            integration
                .certificate_pem
                .as_ref()
                .map(|p| (p.certificate().to_owned(), p.private_key().clone(), pem_source(p))),
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

/// Where the PEM texts of an integration came from.
fn pem_source(pem: &g360_mail_core::CertificatePem) -> CertificateSource {
    match pem.env_names() {
        Some((certificate, private_key)) => CertificateSource::Env {
            certificate: certificate.to_owned(),
            private_key: private_key.to_owned(),
        },
        None => CertificateSource::Given,
    }
}

/// A credential error as a setup problem at the key it names.
fn problem_of(e: Error) -> ConfigProblem {
    let key = e.context_value("key").unwrap_or("certificate_file").to_owned();
    let mut p = ConfigProblem::new(key, e.message()).as_setup();
    if let Some(c) = e.code() {
        p = p.with_code(c);
    }
    if let Some(r) = e.remedy() {
        p = p.with_remedy(r);
    }
    p
}

/// The warning of a credential that expires at `when`, within
/// `expiry_warning_days` of `now`: the words and code of `verify`'s.
fn expiring(
    settings: &O365Settings,
    key: &str,
    when: jiff::Timestamp,
    certificate: Option<&CertificateSource>,
    now: jiff::Timestamp,
) -> Option<ConfigProblem> {
    let left = (when.as_second() - now.as_second()) / 86_400;
    if left >= i64::from(settings.expiry_warning_days) {
        return None;
    }
    let (code, thing) = if certificate.is_some() {
        ("o365.certificate-expiring", "the certificate")
    } else {
        ("o365.secret-expiring", "the client secret")
    };
    Some(
        ConfigProblem::new(
            key,
            format!("{thing} expires on {}, in {left} days", when.strftime("%Y-%m-%d")),
        )
        .with_code(code)
        .with_remedy(error::expiring_remedy(certificate))
        .as_warning(),
    )
}

/// The integration's credential files that cannot be used and the dates
/// that have passed, as setup problems for `config check` (the accounts'
/// `verify` diagnoses the same), and the dates within
/// `expiry_warning_days`, as warnings.
fn expired_credentials(settings: &O365Settings, now: jiff::Timestamp) -> Vec<ConfigProblem> {
    let mut out = Vec::new();
    if let Some(when) = settings.secret_expiry() {
        if when <= now {
            out.push(problem_of(error::expired_secret("secret_expires", when)));
        } else {
            out.extend(expiring(settings, "secret_expires", when, None, now));
        }
    }
    if settings.certificate_file.is_some() && settings.private_key_file.is_some() {
        match crate::builder::credential(settings, None, None, None) {
            Err(e) => out.push(problem_of(e)),
            Ok(Some(c)) => {
                if let Some(cert) = c.certificate() {
                    match cert.check_validity(now) {
                        Err(p) => out.push(problem_of(error::certificate(&p, cert.source()))),
                        Ok(()) => out.extend(expiring(
                            settings,
                            "certificate_file",
                            cert.not_after(),
                            Some(cert.source()),
                            now,
                        )),
                    }
                }
            }
            Ok(None) => {}
        }
    }
    out
}
