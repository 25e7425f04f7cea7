//! Why a mail is not a delivery report, converted into the core [`Error`] in one place.

use g360_mail_core::{Error, ErrorKind};

/// The stable code of every error of [`parse`](crate::parse): the data is not
/// a delivery report this crate can read.
pub const NOT_A_REPORT: &str = "bounce.not-a-report";

/// Why a mail is not a delivery report, privately; callers see an [`Error`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum BounceError {
    #[error("not a delivery report: no mail header can be read")]
    NotAMessage,
    #[error("not a delivery report: its delivery-status part names no recipient")]
    NoRecipient,
    #[error("not a delivery report: no delivery-status part and no known bounce text")]
    NotAReport,
}

impl From<BounceError> for Error {
    fn from(err: BounceError) -> Self {
        let reason = match err {
            BounceError::NotAMessage => "not-a-message",
            BounceError::NoRecipient => "no-recipient",
            BounceError::NotAReport => "no-report-part",
        };
        Error::new(ErrorKind::InvalidInput, err.to_string())
            .with_code(NOT_A_REPORT)
            .with_context("reason", reason)
            .with_remedy(
                "give a delivery report (bounce, NDR) as a complete .eml file; \
                 other mails are not reports",
            )
    }
}
