#![doc = include_str!("../README.md")]
// Every fallible function returns core's `Error`, which is 160 bytes; boxing its
// fields is a change to g360-mail-core, requested separately.
#![allow(clippy::result_large_err)]

mod builder;
mod client;
mod config;
mod error;
#[cfg(test)]
mod fuzz_tests;
mod provider;

use std::sync::Arc;

use g360_mail_core::{
    ConfigProblem, Integration, MailAccount, MailProvider, ProviderFactory, ProviderRegistry,
    Result,
};

pub use builder::SmtpBuilder;
pub use config::{Security, SmtpAuth, SmtpSettings};
pub use provider::SmtpProvider;

/// The provider type of SMTP integrations: `provider = "smtp"`.
pub const SMTP_PROVIDER_TYPE: &str = "smtp";

/// Builds [`SmtpProvider`]s for the registry.
///
/// Every `smtp` account needs a `secret` ([`ProviderFactory::needs_secret`] is
/// per provider type): the password, or with `auth = "xoauth2"` the bearer
/// token. With `auth = "none"` the secret is not used; give it any
/// placeholder value.
#[derive(Debug, Default, Clone, Copy)]
pub struct SmtpFactory;

impl ProviderFactory for SmtpFactory {
    type Settings = SmtpSettings;

    fn provider_type(&self) -> &'static str {
        SMTP_PROVIDER_TYPE
    }

    fn description(&self) -> &'static str {
        "SMTP submission (STARTTLS or implicit TLS; password or XOAUTH2); sends only"
    }

    fn needs_secret(&self) -> bool {
        true
    }

    /// A relay without authentication (`auth = "none"`) needs no secret.
    fn secret_required(&self, settings: &SmtpSettings) -> bool {
        settings.auth != SmtpAuth::None
    }

    fn validate(&self, settings: &SmtpSettings) -> Vec<ConfigProblem> {
        settings.problems()
    }

    fn build(
        &self,
        integration: &Integration,
        settings: &SmtpSettings,
        account: &MailAccount,
    ) -> Result<Arc<dyn MailProvider>> {
        let mut builder =
            SmtpBuilder::from_settings(settings.clone()).with_sender(account.address.clone());
        if let Some(secret) = &account.secret {
            builder = builder.with_secret(secret.clone());
        }
        let provider = builder.build().map_err(|e| {
            e.with_context("integration", &integration.id).with_context("account", &account.user)
        })?;
        Ok(Arc::new(provider))
    }
}

/// Registers the `smtp` provider type.
pub fn register(registry: &mut ProviderRegistry) {
    registry.register(SmtpFactory);
}
