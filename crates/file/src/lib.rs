#![doc = include_str!("../README.md")]

mod config;
mod error;
mod factory;
mod provider;
mod store;

use g360_mail_core::ProviderRegistry;

pub use config::{DEFAULT_DIRECTORY, FileSettings};
pub use factory::FileFactory;
pub use provider::FileProvider;

/// The provider type of this crate, as written in `provider = "file"`.
pub const FILE_PROVIDER_TYPE: &str = "file";

/// Registers the `file` provider type in `registry`.
pub fn register(registry: &mut ProviderRegistry) {
    registry.register(FileFactory);
}
