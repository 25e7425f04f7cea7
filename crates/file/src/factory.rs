//! [`FileFactory`]: builds [`FileProvider`]s from `file` integrations.

use std::sync::Arc;

use g360_mail_core::{
    ConfigProblem, Integration, MailProvider, MailboxAccess, ProviderFactory, Result,
};

use crate::{FILE_PROVIDER_TYPE, FileProvider, FileSettings};

/// The [`ProviderFactory`] of the `file` provider; register it with
/// [`register`](crate::register). Accounts need no secret.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileFactory;

impl ProviderFactory for FileFactory {
    type Settings = FileSettings;

    fn provider_type(&self) -> &'static str {
        FILE_PROVIDER_TYPE
    }

    fn description(&self) -> &'static str {
        "writes each mail as an .eml file into a local directory; for development, no account needed"
    }

    fn needs_secret(&self) -> bool {
        false
    }

    fn validate(&self, settings: &FileSettings) -> Vec<ConfigProblem> {
        if settings.directory.as_os_str().is_empty() {
            return vec![
                ConfigProblem::new("directory", "the mailbox directory is empty")
                    .with_remedy("set directory to a path such as ./mail-outbox, or leave it out"),
            ];
        }
        Vec::new()
    }

    fn build(
        &self,
        integration: &Integration,
        settings: &FileSettings,
        access: &MailboxAccess,
    ) -> Result<Arc<dyn MailProvider>> {
        if let Some(problem) = self.validate(settings).into_iter().next() {
            return Err(problem
                .into_error(FILE_PROVIDER_TYPE)
                .with_context("integration", &integration.id));
        }
        Ok(Arc::new(FileProvider::new(settings.directory.clone(), access.mailbox.clone())))
    }
}
