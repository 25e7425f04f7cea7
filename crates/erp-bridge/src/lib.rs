#![doc = include_str!("../README.md")]

mod bridge;
mod config;
mod error;
mod outbox;

pub use bridge::MailBridge;
pub use config::{
    BridgeConfig, CONFIG_ENV, ConfigSource, DEFAULT_CONFIG_FILE, DEFAULT_MAIL_DIRECTORY,
    DEFAULT_OUTBOX_FILE, ENV_PREFIX, Lang, OutboxConfig,
};
pub use error::ConfigError;
