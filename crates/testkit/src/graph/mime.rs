//! MIME: building `$value` from a stored message and parsing MIME sends.

use super::model::MailMessage;

/// Parses raw RFC 5322 bytes into a message (not yet written).
pub(crate) fn parse(_raw: &[u8]) -> Option<MailMessage> {
    None
}
