#![doc = include_str!("../README.md")]

mod apply;
mod bridge;
mod config;
mod error;
mod outbox;
mod reports;
mod rows;

pub use apply::ApplyReport;
pub use bridge::MailBridge;
pub use config::{
    BridgeConfig, CONFIG_ENV, ConfigSource, DEFAULT_CONFIG_FILE, DEFAULT_MAIL_DIRECTORY,
    DEFAULT_OUTBOX_FILE, ENV_PREFIX, Lang, OutboxConfig,
};
pub use error::ConfigError;
pub use reports::ReportSyncSummary;
pub use rows::{AccountRow, BridgeConfigBuilder, IntegrationRow};

/// A registry with every provider type built into g360-mail: `file`,
/// `office365` and `smtp`, each registered once with a fresh factory (so the
/// Office 365 providers built from it share their token caches). Hosts that
/// add their own provider types call [`ProviderRegistry::register`] on the
/// result.
///
/// ```
/// let registry = g360_erp_bridge::default_registry();
/// for t in ["file", "office365", "smtp"] {
///     assert!(registry.contains(t), "{t}");
/// }
/// ```
///
/// [`ProviderRegistry::register`]: g360_mail_core::ProviderRegistry::register
pub fn default_registry() -> g360_mail_core::ProviderRegistry {
    let mut registry = g360_mail_core::ProviderRegistry::new();
    g360_mail_file::register(&mut registry);
    g360_mail_o365::register(&mut registry);
    g360_mail_smtp::register(&mut registry);
    registry
}
