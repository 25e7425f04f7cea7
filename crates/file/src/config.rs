//! [`FileSettings`]: the integration settings of the file provider.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The mailbox directory used when the settings name none.
pub const DEFAULT_DIRECTORY: &str = "./mail-outbox";

/// Settings of a `file` integration.
///
/// ```toml
/// [[integrations]]
/// id = "dev"
/// provider = "file"
/// directory = "./mail-outbox"   # the default; relative to the working directory
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileSettings {
    /// The mailbox directory. A relative path is taken relative to the
    /// process's working directory when the provider is built. Created on
    /// the first send if missing.
    pub directory: PathBuf,
}

impl Default for FileSettings {
    fn default() -> Self {
        FileSettings { directory: PathBuf::from(DEFAULT_DIRECTORY) }
    }
}
