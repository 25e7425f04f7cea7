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
    /// Largest message it accepts, in bytes of content before encoding.
    pub max_message_bytes: Option<usize>,
}

impl Capabilities {
    /// A provider that can send plain text and nothing else.
    pub fn send_only() -> Self {
        Capabilities::default()
    }
}
