//! The one place where I/O failures become core [`Error`]s.

use std::io;
use std::path::Path;

use g360_mail_core::{Error, ErrorKind};

use crate::FILE_PROVIDER_TYPE;

/// Classifies an I/O failure of `action` (lower case, e.g. "cannot write the
/// mail") on `path`: permission problems and a path that is not a directory
/// are configuration errors a person must fix; anything else (a full disk, a
/// vanished network share) is `Unavailable` and may pass.
pub(crate) fn io_error(err: io::Error, action: &'static str, path: &Path) -> Error {
    let error = match err.kind() {
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
            Error::new(ErrorKind::Config, action)
                .with_code("file.permission-denied")
                .with_remedy(
                    "give the process write access to the mailbox directory, or set the \
                     integration's directory to a writable path",
                )
        }
        io::ErrorKind::NotADirectory => not_a_directory_error(),
        _ => Error::new(ErrorKind::Unavailable, action).with_code("file.io").with_remedy(
            "check that the disk is not full and the mailbox directory is reachable, then try again",
        ),
    };
    error.with_provider(FILE_PROVIDER_TYPE).with_context("path", path.display()).with_source(err)
}

/// The mailbox path exists but is not a directory.
pub(crate) fn not_a_directory(path: &Path) -> Error {
    not_a_directory_error().with_provider(FILE_PROVIDER_TYPE).with_context("path", path.display())
}

fn not_a_directory_error() -> Error {
    Error::new(ErrorKind::Config, "the mailbox path is not a directory")
        .with_code("file.not-a-directory")
        .with_remedy(
            "point the integration's directory at a directory, or remove the file in its way",
        )
}

/// No message with this id in the mailbox.
pub(crate) fn message_not_found(id: &str) -> Error {
    Error::new(ErrorKind::NotFound, "no message with this id in the mailbox")
        .with_provider(FILE_PROVIDER_TYPE)
        .with_code("message.not-found")
        .with_context("id", id)
        .with_remedy("list the mailbox to see the ids of its messages")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_problems_are_config_errors_with_a_remedy() {
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        let err = io_error(denied, "cannot write the mail", Path::new("/srv/mail"));
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(!err.is_temporary());
        assert_eq!(err.context_value("path"), Some("/srv/mail"));
        assert!(err.remedy().unwrap().contains("write access"));
        assert_eq!(err.provider(), Some("file"));
    }

    #[test]
    fn other_io_failures_are_temporary() {
        let full = io::Error::from(io::ErrorKind::StorageFull);
        let err = io_error(full, "cannot write the mail", Path::new("/srv/mail/x.eml"));
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.is_temporary());
        assert_eq!(err.to_string(), "cannot write the mail (path: /srv/mail/x.eml)");
        assert!(err.remedy().is_some());
        let source = std::error::Error::source(&err).unwrap();
        assert!(source.downcast_ref::<io::Error>().is_some());
    }
}
