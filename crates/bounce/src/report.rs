//! The typed result of reading a delivery report: [`DeliveryReport`] and its
//! per-recipient [`RecipientReport`]s.

use std::fmt;
use std::str::FromStr;

use g360_mail_core::MessageUid;
use serde::{Serialize, Serializer};

/// A delivery report (bounce, non-delivery report, delay or success notice)
/// read into what a caller needs: which mail, which recipients, what happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// Where the per-recipient results were read from.
    pub format: ReportFormat,
    /// The Message-ID of the mail the report is about, with its angle
    /// brackets (`<id@host>`), when the report names it.
    pub original_message_id: Option<String>,
    /// Where [`original_message_id`](Self::original_message_id) was found.
    pub message_id_source: Option<MessageIdSource>,
    /// The subject of the mail the report is about, from the returned
    /// message or its headers, else from the headers quoted in the text.
    pub original_subject: Option<String>,
    /// The host that wrote the report (`Reporting-MTA`, or Exchange's
    /// "Generating server").
    pub reporting_mta: Option<String>,
    /// One entry per recipient the report speaks of, in the report's order.
    pub recipients: Vec<RecipientReport>,
}

impl DeliveryReport {
    /// The uid of the g360-mail message the report is about, when its
    /// original Message-ID is one g360-mail made
    /// ([`MessageUid::internet_message_id`]): this ties a report to the mail
    /// whether it went through the outbox or was sent directly.
    pub fn original_uid(&self) -> Option<MessageUid> {
        // Other mailers' hyphenated UUIDs (Apple Mail) do not pass for ours.
        MessageUid::from_internet_message_id(self.original_message_id.as_deref()?)
    }
}

/// What a report says about one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RecipientReport {
    /// The address the reporting server tried (`Final-Recipient`), without
    /// its `rfc822;` type.
    pub final_recipient: String,
    /// The address as the sender wrote it (`Original-Recipient`), when the
    /// report gives it.
    pub original_recipient: Option<String>,
    /// What happened to the mail for this recipient.
    pub action: Action,
    /// The enhanced status code (RFC 3463), when the report gives one.
    pub status: Option<StatusCode>,
    /// The kind of failure, for [`Action::Failed`] and [`Action::Delayed`];
    /// `None` for the successful actions.
    pub kind: Option<BounceKind>,
    /// The remote server's answer (`Diagnostic-Code` without its `smtp;`
    /// type, or the text Exchange, Exim or Gmail quote), whitespace collapsed.
    pub diagnostic: Option<String>,
    /// The server that gave the answer (`Remote-MTA`, without its `dns;` type).
    pub remote_mta: Option<String>,
}

impl RecipientReport {
    /// The address to match against the sent mail's recipients: the original
    /// recipient when the report gives it, else the final one.
    pub fn address(&self) -> &str {
        self.original_recipient.as_deref().unwrap_or(&self.final_recipient)
    }
}

/// Where the per-recipient results of a report were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ReportFormat {
    /// A `message/delivery-status` part (RFC 3464, or RFC 6533's global form).
    Rfc3464,
    /// The human text of an Exchange or Office 365 report ("Diagnostic
    /// information for administrators").
    Exchange,
    /// The plain-text report of Exim ("The following address(es) failed").
    Exim,
    /// The plain-text report of Gmail ("Delivery to the following recipient …").
    Gmail,
}

impl ReportFormat {
    /// A stable, lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormat::Rfc3464 => "rfc3464",
            ReportFormat::Exchange => "exchange",
            ReportFormat::Exim => "exim",
            ReportFormat::Gmail => "gmail",
        }
    }
}

impl fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the original Message-ID of a report was found, most trustworthy first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum MessageIdSource {
    /// The returned message or its headers (`message/rfc822`,
    /// `text/rfc822-headers` and their RFC 6533 global forms).
    ReturnedMessage,
    /// The report's own `In-Reply-To` or `References` header.
    ReplyHeader,
    /// The original headers quoted in the report's text (Exchange's
    /// "Original message headers:", the copy Exim and Gmail append).
    QuotedText,
}

impl MessageIdSource {
    /// A stable, lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageIdSource::ReturnedMessage => "returned-message",
            MessageIdSource::ReplyHeader => "reply-header",
            MessageIdSource::QuotedText => "quoted-text",
        }
    }
}

/// What happened to the mail for one recipient (RFC 3464 `Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Delivery failed for good.
    Failed,
    /// Delivery is late; the server keeps trying.
    Delayed,
    /// Delivered to the recipient's mailbox.
    Delivered,
    /// Handed on to a system that sends no further reports.
    Relayed,
    /// Delivered and forwarded to further addresses (a list, an alias).
    Expanded,
}

impl Action {
    /// A stable, lower-case name, as RFC 3464 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Delivered => "delivered",
            Action::Relayed => "relayed",
            Action::Expanded => "expanded",
        }
    }

    /// Whether this action is a bounce (failed) or a warning (delayed).
    pub fn is_problem(self) -> bool {
        matches!(self, Action::Failed | Action::Delayed)
    }

    /// Reads an `Action` value, ignoring case and any trailing comment.
    pub(crate) fn parse(value: &str) -> Option<Action> {
        let word = value.split(|c: char| c.is_whitespace() || c == '(').next()?;
        Some(match word.to_ascii_lowercase().as_str() {
            "failed" | "failure" => Action::Failed,
            "delayed" => Action::Delayed,
            "delivered" => Action::Delivered,
            "relayed" => Action::Relayed,
            "expanded" => Action::Expanded,
            _ => return None,
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a mail did not reach a recipient, in the few kinds a person acts on
/// differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum BounceKind {
    /// The address does not exist or cannot receive mail (X.1.x, X.2.1):
    /// correct the address.
    UnknownRecipient,
    /// The recipient's mailbox is over its quota (X.2.2): try later or
    /// contact the recipient another way.
    MailboxFull,
    /// Refused as spam or by policy (X.7.x, sender checks such as SPF or
    /// DMARC, block lists): the sender's setup or reputation needs attention.
    Rejected,
    /// The mail is larger than the recipient accepts (X.2.3, X.3.4).
    TooLarge,
    /// Not delivered yet; the server keeps trying (action `delayed`).
    Delayed,
    /// Anything else (network, routing, protocol or content problems).
    Other,
}

impl BounceKind {
    /// A stable, lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            BounceKind::UnknownRecipient => "unknown-recipient",
            BounceKind::MailboxFull => "mailbox-full",
            BounceKind::Rejected => "rejected",
            BounceKind::TooLarge => "too-large",
            BounceKind::Delayed => "delayed",
            BounceKind::Other => "other",
        }
    }
}

impl fmt::Display for BounceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An enhanced mail system status code (RFC 3463), such as `5.1.1`:
/// class (2 success, 4 temporary, 5 permanent), subject and detail.
///
/// ```
/// use g360_mail_bounce::StatusCode;
///
/// let status: StatusCode = "5.7.606".parse().unwrap();
/// assert_eq!((status.class(), status.subject(), status.detail()), (5, 7, 606));
/// assert!(status.is_permanent());
/// assert_eq!(status.to_string(), "5.7.606");
/// assert!("6.1.1".parse::<StatusCode>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusCode {
    class: u8,
    subject: u16,
    detail: u16,
}

impl StatusCode {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub fn class(self) -> u8 {
        self.class
    }

    /// The subject: 1 addressing, 2 mailbox, 3 mail system, 4 network and
    /// routing, 5 protocol, 6 content, 7 security or policy, 0 other.
    pub fn subject(self) -> u16 {
        self.subject
    }

    /// The detail within the subject.
    pub fn detail(self) -> u16 {
        self.detail
    }

    /// Whether the class is 5: trying again will not help.
    pub fn is_permanent(self) -> bool {
        self.class == 5
    }

    /// The first status code in free text (`550 5.1.1 user unknown` gives
    /// `5.1.1`), skipping numbers that are part of a longer dotted run such
    /// as an IP address or a version.
    pub(crate) fn find_in(text: &str) -> Option<StatusCode> {
        let bytes = text.as_bytes();
        let mut start = 0;
        while start < bytes.len() {
            let b = bytes[start];
            let boundary = start == 0
                || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'.');
            if matches!(b, b'2' | b'4' | b'5') && boundary {
                let end = bytes[start..]
                    .iter()
                    .position(|c| !(c.is_ascii_digit() || *c == b'.'))
                    .map_or(bytes.len(), |n| start + n);
                let token = text[start..end].trim_end_matches('.');
                let followed_by_letter =
                    bytes.get(end).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_');
                if !followed_by_letter && let Ok(status) = token.parse() {
                    return Some(status);
                }
                start = end.max(start + 1);
            } else {
                start += 1;
            }
        }
        None
    }
}

/// Why a text is not a [`StatusCode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidStatusCode;

impl fmt::Display for InvalidStatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an enhanced status code (class.subject.detail, class 2, 4 or 5)")
    }
}

impl std::error::Error for InvalidStatusCode {}

impl FromStr for StatusCode {
    type Err = InvalidStatusCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.trim().split('.');
        let (Some(class), Some(subject), Some(detail), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidStatusCode);
        };
        let number = |p: &str, max_len: usize| {
            if p.is_empty() || p.len() > max_len || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(InvalidStatusCode);
            }
            p.parse::<u16>().map_err(|_| InvalidStatusCode)
        };
        let class = number(class, 1)?;
        if !matches!(class, 2 | 4 | 5) {
            return Err(InvalidStatusCode);
        }
        Ok(StatusCode {
            class: class as u8,
            subject: number(subject, 3)?,
            detail: number(detail, 3)?,
        })
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

impl Serialize for StatusCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_status_codes_in_text_but_not_in_addresses_or_versions() {
        let find = |t: &str| StatusCode::find_in(t).map(|s| s.to_string());
        assert_eq!(find("550 5.1.1 <a@example.com>... User Unknown").as_deref(), Some("5.1.1"));
        assert_eq!(find("#550 5.1.10 RESOLVER.ADR.RecipientNotFound").as_deref(), Some("5.1.10"));
        assert_eq!(find("DSN code 5.1.1 in Exchange Online.").as_deref(), Some("5.1.1"));
        assert_eq!(find("host [192.0.2.5]: 554 rejected").as_deref(), None);
        assert_eq!(find("id 15.1.1362.18; 4.4.7 expired").as_deref(), Some("4.4.7"));
        assert_eq!(find("550 5.7.606 Access denied").as_deref(), Some("5.7.606"));
        assert_eq!(find("v2.1.1a and 5.5.5.5").as_deref(), None);
        assert_eq!(find(""), None);
        assert_eq!(find("5.").as_deref(), None);
    }

    #[test]
    fn status_codes_refuse_nonsense() {
        for bad in ["", "5", "5.1", "5.1.1.1", "3.1.1", "5.1000.1", "5.a.1", "55.1.1", "5..1"] {
            assert!(bad.parse::<StatusCode>().is_err(), "{bad}");
        }
        assert_eq!(" 4.4.7 ".parse::<StatusCode>().unwrap().to_string(), "4.4.7");
    }

    #[test]
    fn actions_ignore_case_and_comments() {
        assert_eq!(Action::parse("Failed"), Some(Action::Failed));
        assert_eq!(Action::parse("delayed (will retry)"), Some(Action::Delayed));
        assert_eq!(Action::parse("delivered(ok)"), Some(Action::Delivered));
        assert_eq!(Action::parse("bounced"), None);
        assert_eq!(Action::parse(""), None);
    }
}
