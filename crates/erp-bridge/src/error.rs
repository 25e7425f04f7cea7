//! [`ConfigError`]: why a configuration could not be loaded.

use std::path::PathBuf;

use g360_mail_core::{ConfigProblem, Error, ErrorKind};

use crate::config::ConfigSource;

/// The configuration could not be loaded or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The named file does not exist.
    #[error("the configuration file {} does not exist", path.display())]
    Missing {
        /// The path that was named.
        path: PathBuf,
    },
    /// The file or the environment could not be parsed (TOML syntax, types).
    #[error("cannot read the configuration ({origin}): {message}")]
    Read {
        /// The file or "environment".
        origin: String,
        /// What the parser said, with line and column.
        message: String,
    },
    /// The configuration was read but has problems; all of them are listed.
    #[error("the configuration ({origin}) has {} problem(s)", problems.len())]
    Invalid {
        /// The file or "embedded default".
        origin: String,
        /// Every problem, each with its key path.
        problems: Vec<ConfigProblem>,
    },
}

impl ConfigError {
    pub(crate) fn invalid(source: &ConfigSource, problems: Vec<ConfigProblem>) -> Self {
        ConfigError::Invalid { origin: source.describe(), problems }
    }

    /// The problems of an invalid configuration (empty for the other variants).
    pub fn problems(&self) -> &[ConfigProblem] {
        match self {
            ConfigError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        let remedy = match &e {
            ConfigError::Missing { .. } => "check the path given with --config or G360_MAIL_CONFIG",
            ConfigError::Read { .. } => "fix the syntax at the line and column shown",
            ConfigError::Invalid { .. } => {
                "fix each key listed; `g360-mail config check` lists them all"
            }
        };
        let mut err = Error::new(ErrorKind::Config, e.to_string())
            .with_code("config.invalid")
            .with_remedy(remedy);
        for p in e.problems() {
            err = err.with_context("problem", p);
        }
        err
    }
}
