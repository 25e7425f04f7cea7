#![doc = include_str!("../README.md")]
// Every fallible function returns core's `Error`, which is 160 bytes; boxing its
// fields is a change to g360-mail-core, requested separately.
#![allow(clippy::result_large_err)]

mod builder;
mod client;
mod config;
mod error;
mod factory;
#[cfg(test)]
mod fuzz_tests;
mod provider;
mod wire;

use g360_mail_core::ProviderRegistry;

pub use builder::SmtpBuilder;
pub use config::{Security, SmtpAuth, SmtpSettings};
pub use factory::SmtpFactory;
pub use provider::SmtpProvider;

/// The provider type of SMTP integrations: `provider = "smtp"`.
pub const SMTP_PROVIDER_TYPE: &str = "smtp";

/// Registers the `smtp` provider type.
pub fn register(registry: &mut ProviderRegistry) {
    registry.register(SmtpFactory);
}
