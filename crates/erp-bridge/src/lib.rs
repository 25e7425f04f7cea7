#![doc = include_str!("../README.md")]

mod bridge;
mod config;
mod error;

pub use bridge::MailBridge;
pub use config::{
    BridgeConfig, CONFIG_ENV, ConfigSource, DEFAULT_CONFIG_FILE, DEFAULT_MAIL_DIRECTORY,
    ENV_PREFIX, Lang,
};
pub use error::ConfigError;
