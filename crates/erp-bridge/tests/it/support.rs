//! What several test modules use: a provider type that needs a secret, and
//! a registry with it and the built-in test providers.

use std::sync::Arc;

use g360_mail_core::{
    ConfigProblem, Integration, MailProvider, MailboxAccess, ProviderFactory, ProviderRegistry,
    Result,
};
use g360_mail_testkit::{MockMailProvider, Recorder, RecordingFactory};
use serde::Deserialize;

/// A provider type whose accounts need a secret, like office365.
pub(crate) struct SecretFactory;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecretSettings {
    #[allow(dead_code)]
    client_id: String,
}

impl ProviderFactory for SecretFactory {
    type Settings = SecretSettings;
    fn provider_type(&self) -> &'static str {
        "vault"
    }
    fn description(&self) -> &'static str {
        "needs a secret"
    }
    fn needs_secret(&self) -> bool {
        true
    }
    fn validate(&self, s: &SecretSettings) -> Vec<ConfigProblem> {
        if s.client_id.len() < 3 {
            vec![ConfigProblem::new("client_id", "too short")]
        } else {
            vec![]
        }
    }
    fn build(
        &self,
        _: &Integration,
        _: &SecretSettings,
        _: &MailboxAccess,
    ) -> Result<Arc<dyn MailProvider>> {
        Ok(Arc::new(MockMailProvider::new()))
    }
}

/// The file and recording providers and [`SecretFactory`].
pub(crate) fn registry() -> ProviderRegistry {
    let mut r = ProviderRegistry::new();
    g360_mail_file::register(&mut r);
    r.register(RecordingFactory::new(Recorder::default()));
    r.register(SecretFactory);
    r
}
