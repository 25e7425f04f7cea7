#![doc = include_str!("../README.md")]

mod auth;
mod body;
mod builder;
mod certificate;
mod client;
mod config;
mod credential;
mod error;
mod factory;
#[cfg(test)]
mod fuzz_tests;
mod graph_model;
mod provider;
mod read;
mod send;
mod token_source;
mod verify;

pub use builder::O365Builder;
pub use config::{Cloud, GRAPH_MAILBOX_CONCURRENCY, O365Settings};
pub use factory::O365Factory;
pub use provider::{BodyFormat, DeltaSync, O365Provider, UID_PROPERTY_ID};

/// The provider type of Office 365 integrations and accounts.
pub const O365_PROVIDER_TYPE: &str = "office365";

/// Registers the `office365` provider type with a fresh [`O365Factory`].
///
/// ```
/// let mut registry = g360_mail_core::ProviderRegistry::new();
/// g360_mail_o365::register(&mut registry);
/// assert!(registry.contains("office365"));
/// ```
pub fn register(registry: &mut g360_mail_core::ProviderRegistry) {
    registry.register(O365Factory::default());
}
