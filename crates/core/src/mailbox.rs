//! Reading mail: [`MailboxQuery`] in, [`MessagePage`] of [`ReceivedMessage`] out.

use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

use crate::address::EmailAddress;
use crate::error::{Error, Result};
use crate::message::Importance;

/// A mail folder: a well-known one or a provider's own folder id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Folder {
    /// The inbox.
    #[default]
    Inbox,
    /// Sent items.
    SentItems,
    /// Drafts.
    Drafts,
    /// Deleted items.
    DeletedItems,
    /// Junk e-mail.
    JunkEmail,
    /// Archive.
    Archive,
    /// A provider-specific folder id.
    Id(String),
}

impl Folder {
    /// The well-known name (`inbox`, `sentitems`, ...) or the id.
    pub fn as_str(&self) -> &str {
        match self {
            Folder::Inbox => "inbox",
            Folder::SentItems => "sentitems",
            Folder::Drafts => "drafts",
            Folder::DeletedItems => "deleteditems",
            Folder::JunkEmail => "junkemail",
            Folder::Archive => "archive",
            Folder::Id(id) => id,
        }
    }

    /// Parses a well-known name (case-insensitive) or takes the text as an id.
    pub fn parse(s: &str) -> Result<Folder> {
        let s = s.trim();
        if s.is_empty() || s.chars().any(|c| c.is_control() || c == '/') {
            return Err(Error::invalid_input("invalid folder name")
                .with_code("folder.invalid")
                .with_context("folder", s.escape_debug())
                .with_remedy(
                    "use inbox, sentitems, drafts, deleteditems, junkemail, archive or a folder id",
                ));
        }
        Ok(match s.to_ascii_lowercase().as_str() {
            "inbox" => Folder::Inbox,
            "sentitems" | "sent" => Folder::SentItems,
            "drafts" => Folder::Drafts,
            "deleteditems" => Folder::DeletedItems,
            "junkemail" => Folder::JunkEmail,
            "archive" => Folder::Archive,
            _ => Folder::Id(s.to_owned()),
        })
    }
}

impl fmt::Display for Folder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Largest page a caller may ask for.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Which messages to list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailboxQuery {
    /// The folder to list.
    pub folder: Folder,
    /// Only messages not yet read.
    pub unread_only: bool,
    /// Only messages received at or after this instant.
    pub since: Option<Timestamp>,
    /// Only the message with this Internet Message-ID.
    pub internet_message_id: Option<String>,
    /// How many messages per page (1 to [`MAX_PAGE_SIZE`]).
    pub page_size: u32,
    /// The continuation token of the previous page, handed back verbatim.
    pub continuation: Option<String>,
    /// Whether each message of the page comes with its body as `text` (HTML
    /// mail rendered as text; `html` too where the provider has it without
    /// another request), fetched with the page where the provider can: one
    /// request per page instead of one or two per message. Attachments are
    /// not included. Keep it set on the queries that continue a page. A
    /// provider may fill bodies even when not asked.
    pub with_bodies: bool,
}

impl Default for MailboxQuery {
    fn default() -> Self {
        MailboxQuery {
            folder: Folder::Inbox,
            unread_only: false,
            since: None,
            internet_message_id: None,
            page_size: 25,
            continuation: None,
            with_bodies: false,
        }
    }
}

impl MailboxQuery {
    /// The first page of `folder`.
    pub fn folder(folder: Folder) -> Self {
        MailboxQuery { folder, ..MailboxQuery::default() }
    }

    /// Only unread messages.
    pub fn unread_only(mut self, yes: bool) -> Self {
        self.unread_only = yes;
        self
    }

    /// Only messages received at or after `since`.
    pub fn since(mut self, since: Timestamp) -> Self {
        self.since = Some(since);
        self
    }

    /// Only the message with this Internet Message-ID.
    pub fn internet_message_id(mut self, id: impl Into<String>) -> Self {
        self.internet_message_id = Some(id.into());
        self
    }

    /// Sets the page size.
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n;
        self
    }

    /// Asks for each message's body with the page (see the `with_bodies`
    /// field).
    pub fn with_bodies(mut self, yes: bool) -> Self {
        self.with_bodies = yes;
        self
    }

    /// Continues after a previous page.
    pub fn continuation(mut self, token: impl Into<String>) -> Self {
        self.continuation = Some(token.into());
        self
    }

    /// Checks the page size; providers call this first.
    pub fn validate(&self) -> Result<()> {
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            return Err(Error::invalid_input(format!(
                "page size must be between 1 and {MAX_PAGE_SIZE}"
            ))
            .with_code("query.page-size")
            .with_context("page_size", self.page_size));
        }
        Ok(())
    }
}

/// An attachment of a received message.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReceivedAttachment {
    /// The provider's id of the attachment.
    pub id: String,
    /// The file name.
    pub name: String,
    /// The MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
    /// The content id of an inline part.
    pub content_id: Option<String>,
    /// Whether it is shown inline.
    pub inline: bool,
    /// The bytes, when the provider fetched them.
    #[serde(skip)]
    pub bytes: Option<Vec<u8>>,
}

impl ReceivedAttachment {
    /// An attachment with the given id, name, type and size.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        content_type: impl Into<String>,
        size: u64,
    ) -> Self {
        ReceivedAttachment {
            id: id.into(),
            name: name.into(),
            content_type: content_type.into(),
            size,
            content_id: None,
            inline: false,
            bytes: None,
        }
    }
}

impl fmt::Debug for ReceivedAttachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceivedAttachment")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("size", &self.size)
            .field("content_id", &self.content_id)
            .field("has_bytes", &self.bytes.is_some())
            .finish()
    }
}

/// A message read from a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReceivedMessage {
    /// The provider's id, to pass to [`get_message`](crate::MailProvider::get_message).
    pub id: String,
    /// The Internet Message-ID.
    pub internet_message_id: Option<String>,
    /// The sender.
    pub from: Option<EmailAddress>,
    /// The `To` recipients.
    pub to: Vec<EmailAddress>,
    /// The `Cc` recipients.
    pub cc: Vec<EmailAddress>,
    /// The `Bcc` recipients (seen on sent items only).
    pub bcc: Vec<EmailAddress>,
    /// Where replies go.
    pub reply_to: Vec<EmailAddress>,
    /// The subject.
    pub subject: String,
    /// When the sender sent it.
    pub sent_at: Option<Timestamp>,
    /// When the mailbox received it.
    pub received_at: Option<Timestamp>,
    /// Whether it has been read.
    pub is_read: bool,
    /// Its importance.
    pub importance: Importance,
    /// A short preview of the body.
    pub preview: Option<String>,
    /// The plain-text body, when fetched.
    pub text: Option<String>,
    /// The HTML body, when fetched.
    pub html: Option<String>,
    /// Whether it has attachments (even when they were not fetched).
    pub has_attachments: bool,
    /// The attachments, when fetched.
    pub attachments: Vec<ReceivedAttachment>,
}

impl ReceivedMessage {
    /// An empty message with just an id; providers fill in the rest.
    pub fn new(id: impl Into<String>) -> Self {
        ReceivedMessage {
            id: id.into(),
            internet_message_id: None,
            from: None,
            to: Vec::new(),
            cc: Vec::new(),
            bcc: Vec::new(),
            reply_to: Vec::new(),
            subject: String::new(),
            sent_at: None,
            received_at: None,
            is_read: false,
            importance: Importance::Normal,
            preview: None,
            text: None,
            html: None,
            has_attachments: false,
            attachments: Vec::new(),
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MessagePage {
    /// The messages, newest first.
    pub messages: Vec<ReceivedMessage>,
    /// The token to pass as [`MailboxQuery::continuation`] for the next page;
    /// `None` on the last page.
    pub continuation: Option<String>,
}

impl MessagePage {
    /// A page of messages with an optional continuation.
    pub fn new(messages: Vec<ReceivedMessage>, continuation: Option<String>) -> Self {
        MessagePage { messages, continuation }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_folders() {
        assert_eq!(Folder::parse("Inbox").unwrap(), Folder::Inbox);
        assert_eq!(Folder::parse("sentitems").unwrap(), Folder::SentItems);
        assert_eq!(Folder::parse("AAMkAD=").unwrap(), Folder::Id("AAMkAD=".into()));
        assert!(Folder::parse("../x").is_err());
        assert!(Folder::parse(" ").is_err());
    }

    #[test]
    fn validates_page_size() {
        assert!(MailboxQuery::default().validate().is_ok());
        assert!(MailboxQuery::default().page_size(0).validate().is_err());
        assert!(MailboxQuery::default().page_size(MAX_PAGE_SIZE + 1).validate().is_err());
    }
}
