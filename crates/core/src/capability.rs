//! [`Capabilities`]: what a provider can do, declared up front.

use serde::Serialize;

/// What a provider can do. Everything is `false`/`None` by default, so a new
/// provider claims only what it implements; the bridge checks these before it
/// calls the provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// Can list and get messages.
    pub read: bool,
    /// Can send HTML bodies.
    pub html_body: bool,
    /// Can send attachments.
    pub attachments: bool,
    /// Can send inline (`cid:`) parts.
    pub inline_attachments: bool,
    /// Can send custom `X-` headers.
    pub custom_headers: bool,
    /// Keeps a copy of each sent mail in the sender's Sent Items.
    pub save_to_sent: bool,
    /// Can look a sent mail up by our id after an ambiguous outcome
    /// ([`MailProvider::find_sent`](crate::MailProvider::find_sent)).
    pub find_sent: bool,
    /// Can return a message as raw MIME.
    pub raw_mime: bool,
    /// Can list the delivery reports the mailbox received
    /// ([`MailProvider::list_delivery_reports`](crate::MailProvider::list_delivery_reports)).
    pub delivery_reports: bool,
    /// Largest message it accepts, in bytes of content before encoding.
    pub max_message_bytes: Option<usize>,
}

impl Capabilities {
    /// A provider that can send plain text and nothing else.
    pub fn send_only() -> Self {
        Capabilities::default()
    }

    /// What a message may use so that *either* of two routes can send it: the
    /// intersection of the sending capabilities (the smaller size limit when
    /// both have one). Reading, `find_sent`, raw MIME and delivery reports stay `self`'s, since
    /// reads and lookups go to this route alone.
    pub fn sendable_by_both(&self, other: &Capabilities) -> Capabilities {
        Capabilities {
            html_body: self.html_body && other.html_body,
            attachments: self.attachments && other.attachments,
            inline_attachments: self.inline_attachments && other.inline_attachments,
            custom_headers: self.custom_headers && other.custom_headers,
            save_to_sent: self.save_to_sent && other.save_to_sent,
            max_message_bytes: match (self.max_message_bytes, other.max_message_bytes) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            ..*self
        }
    }
}
