//! [`SmtpFactory`]: builds [`SmtpProvider`](crate::SmtpProvider)s from `smtp`
//! integrations and their accounts for the registry.

use std::sync::Arc;

use g360_mail_core::{
    AccessTokenSource, ConfigProblem, Integration, MailProvider, MailboxAccess, ProviderFactory,
    Result,
};

use crate::{SMTP_PROVIDER_TYPE, SmtpAuth, SmtpBuilder, SmtpSettings};

/// Builds [`SmtpProvider`](crate::SmtpProvider)s for the registry.
///
/// Every `smtp` account needs a `secret` ([`ProviderFactory::needs_secret`] is
/// per provider type): the password, or with `auth = "xoauth2"` the bearer
/// token. With `auth = "none"` the secret is not used. With
/// `auth = "oauth2"` the secret is the client secret of the Entra app of the
/// `office365` integration named in `oauth_integration`, from which the
/// bridge builds the token source ([`ProviderFactory::token_integration`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct SmtpFactory;

impl ProviderFactory for SmtpFactory {
    type Settings = SmtpSettings;

    fn provider_type(&self) -> &'static str {
        SMTP_PROVIDER_TYPE
    }

    fn description(&self) -> &'static str {
        "SMTP submission (STARTTLS or implicit TLS; password, XOAUTH2 or an office365 app's OAuth tokens); sends only"
    }

    fn needs_secret(&self) -> bool {
        true
    }

    /// A relay without authentication (`auth = "none"`) needs no secret;
    /// with `auth = "oauth2"` the client secret is checked when the token
    /// source is built (a fallback route may borrow the primary's).
    fn secret_required(&self, settings: &SmtpSettings) -> bool {
        !matches!(settings.auth, SmtpAuth::None | SmtpAuth::OAuth2)
    }

    fn secret_not_needed_with(&self) -> &'static [&'static str] {
        &["auth = \"none\"", "auth = \"oauth2\""]
    }

    fn token_integration(&self, settings: &SmtpSettings) -> Option<String> {
        (settings.auth == SmtpAuth::OAuth2)
            .then(|| settings.oauth_integration.clone())
            .flatten()
            .map(|id| id.trim().to_owned())
    }

    fn build_with_tokens(
        &self,
        integration: &Integration,
        settings: &SmtpSettings,
        access: &MailboxAccess,
        tokens: Arc<dyn AccessTokenSource>,
    ) -> Result<Arc<dyn MailProvider>> {
        let builder = SmtpBuilder::from_settings(settings.clone())
            .with_sender(access.mailbox.clone())
            .with_token_source(tokens);
        let provider =
            builder.build().map_err(|e| e.with_context("integration", &integration.id))?;
        Ok(Arc::new(provider))
    }

    fn validate(&self, settings: &SmtpSettings) -> Vec<ConfigProblem> {
        settings.problems()
    }

    fn build(
        &self,
        integration: &Integration,
        settings: &SmtpSettings,
        access: &MailboxAccess,
    ) -> Result<Arc<dyn MailProvider>> {
        let mut builder =
            SmtpBuilder::from_settings(settings.clone()).with_sender(access.mailbox.clone());
        if let Some(secret) = &access.secret {
            builder = builder.with_secret(secret.clone());
        }
        let provider =
            builder.build().map_err(|e| e.with_context("integration", &integration.id))?;
        Ok(Arc::new(provider))
    }
}
