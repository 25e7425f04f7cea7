//! [`parse`]: raw RFC 5322 / MIME bytes as a [`ReceivedMessage`], read with mail-parser.

use g360_mail_core::{
    EmailAddress, Error, ErrorKind, Importance, ReceivedAttachment, ReceivedMessage, Result,
    Timestamp,
};
use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Address, Encoding, MessageParser, MessagePart, MimeHeaders, PartType};

/// Characters of body text kept in [`ReceivedMessage::preview`].
const PREVIEW_CHARS: usize = 255;

/// Parses a raw message into a [`ReceivedMessage`] with the given provider id.
///
/// Everything is filled in: addresses, subject, sent date, Message-ID (with its
/// angle brackets), importance (`Importance`, else `X-Priority`), a preview,
/// the text and HTML bodies as written (an HTML-only mail has no `text`; line
/// endings stay CRLF as on the wire) and every attachment with its bytes.
/// `is_read` and `received_at` are the mailbox's business and stay unset.
///
/// Addresses that fail [`EmailAddress`] validation are skipped: a received
/// mail is read as it is, not refused.
///
/// # Errors
/// [`ErrorKind::Unexpected`], naming `id`, when the bytes are not a message
/// (no header can be read).
pub fn parse(id: &str, raw: &[u8]) -> Result<ReceivedMessage> {
    let parsed = MessageParser::default().parse(raw).filter(|m| !m.headers().is_empty());
    let Some(mail) = parsed else {
        return Err(Error::new(ErrorKind::Unexpected, "cannot parse the message as RFC 5322")
            .with_code("mime.unparsable")
            .with_context("id", id.escape_debug())
            .with_remedy("check that the stored message is a complete .eml file"));
    };
    let mut out = ReceivedMessage::new(id);
    out.internet_message_id = mail.message_id().map(|m| format!("<{m}>"));
    out.from = addresses(mail.from()).into_iter().next();
    out.to = addresses(mail.to());
    out.cc = addresses(mail.cc());
    out.bcc = addresses(mail.bcc());
    out.reply_to = addresses(mail.reply_to());
    out.subject = mail.subject().unwrap_or_default().to_owned();
    out.sent_at = mail.date().and_then(|d| Timestamp::from_second(d.to_timestamp()).ok());
    out.importance = importance(&mail);
    out.text = mail.text_bodies().find_map(|p| match &p.body {
        PartType::Text(t) => Some(t.to_string()),
        _ => None,
    });
    out.html = mail.html_bodies().find_map(|p| match &p.body {
        PartType::Html(h) => Some(h.to_string()),
        _ => None,
    });
    out.preview = mail
        .body_preview(PREVIEW_CHARS)
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty());
    out.attachments = mail.attachments().enumerate().map(|(i, p)| attachment(raw, i, p)).collect();
    out.has_attachments = !out.attachments.is_empty();
    Ok(out)
}

fn addresses(list: Option<&Address<'_>>) -> Vec<EmailAddress> {
    let Some(list) = list else { return Vec::new() };
    list.iter()
        .filter_map(|a| {
            let address = EmailAddress::new(a.address()?.trim()).ok()?;
            // A display name we cannot keep (control characters, too long) is
            // dropped; the address itself is still worth having.
            Some(match a.name().map(str::trim).filter(|n| !n.is_empty()) {
                Some(name) => address.clone().with_name(name).unwrap_or(address),
                None => address,
            })
        })
        .collect()
}

fn importance(mail: &mail_parser::Message<'_>) -> Importance {
    let header = |name: &'static str| mail.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    match header("Importance").as_deref() {
        Some("high") => return Importance::High,
        Some("low") => return Importance::Low,
        Some("normal") => return Importance::Normal,
        _ => {}
    }
    // X-Priority is a number 1 (highest) to 5 (lowest), often with a comment: "1 (Highest)".
    match header("X-Priority").as_deref().and_then(|v| v.chars().next()) {
        Some('1' | '2') => Importance::High,
        Some('4' | '5') => Importance::Low,
        _ => Importance::Normal,
    }
}

/// The bytes of a part as they were sent. mail-parser holds text parts as
/// UTF-8 text (converted from their charset, invalid bytes replaced); a text
/// file attached is decoded again from the raw message, so that it comes back
/// byte for byte.
fn original_bytes(raw: &[u8], part: &MessagePart<'_>) -> Vec<u8> {
    if matches!(part.body, PartType::Text(_) | PartType::Html(_)) {
        let body = raw.get(part.raw_body_offset() as usize..part.raw_end_offset() as usize);
        let decoded = body.and_then(|b| match part.encoding {
            Encoding::Base64 => base64_decode(b),
            Encoding::QuotedPrintable => quoted_printable_decode(b),
            Encoding::None => None,
        });
        if let Some(bytes) = decoded {
            return bytes;
        }
    }
    part.contents().to_vec()
}

fn attachment(raw: &[u8], index: usize, part: &MessagePart<'_>) -> ReceivedAttachment {
    let content_type = part
        .content_type()
        .map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub),
            None => ct.ctype().to_owned(),
        })
        .map(|ct| ct.to_ascii_lowercase())
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let name =
        part.attachment_name().map_or_else(|| format!("attachment-{}", index + 1), str::to_owned);
    let bytes = original_bytes(raw, part);
    let content_id = part
        .content_id()
        .map(|c| c.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
        .filter(|c| !c.is_empty());
    let disposition_inline = part.content_disposition().map(|d| d.is_inline());
    let inline = disposition_inline.unwrap_or(content_id.is_some())
        || matches!(part.body, PartType::InlineBinary(_));
    let mut out =
        ReceivedAttachment::new(index.to_string(), name, content_type, bytes.len() as u64);
    out.content_id = content_id;
    out.inline = inline;
    out.bytes = Some(bytes);
    out
}

#[cfg(test)]
mod tests {
    use g360_mail_core::ErrorKind;

    use super::*;

    #[test]
    fn refuses_what_is_not_a_message() {
        for raw in [&b""[..], b"\r\n\r\n", b"   "] {
            let err = parse("2026-x", raw).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unexpected, "{raw:?}");
            assert_eq!(err.context_value("id"), Some("2026-x"));
            assert_eq!(err.code(), Some("mime.unparsable"));
        }
    }

    #[test]
    fn skips_invalid_addresses_and_reads_foreign_mail() {
        let raw = concat!(
            "From: \"Sender\" <sender@example.com>\r\n",
            "To: good@example.com, not-an-address, Bad <bad@@example.com>, =?utf-8?q?Jos=C3=A9?= <jose@example.com>\r\n",
            "Cc: undisclosed-recipients:;\r\n",
            "Subject: =?iso-8859-1?q?Ca=F1a?=\r\n",
            "Date: Tue, 1 Dec 2026 09:30:00 +0100\r\n",
            "Message-ID: <abc.123@mail.example.com>\r\n",
            "X-Priority: 2 (High)\r\n",
            "Content-Type: text/html; charset=utf-8\r\n",
            "\r\n",
            "<p>Only <b>HTML</b></p>\r\n",
        );
        let got = parse("id-1", raw.as_bytes()).unwrap();
        let to: Vec<String> = got.to.iter().map(ToString::to_string).collect();
        assert_eq!(to, ["good@example.com", "José <jose@example.com>"]);
        assert!(got.cc.is_empty());
        assert_eq!(got.from.unwrap().addr(), "sender@example.com");
        assert_eq!(got.subject, "Caña");
        assert_eq!(got.sent_at, Some("2026-12-01T08:30:00Z".parse().unwrap()));
        assert_eq!(got.internet_message_id.as_deref(), Some("<abc.123@mail.example.com>"));
        assert_eq!(got.importance, Importance::High);
        assert_eq!(got.text, None);
        assert_eq!(got.html.as_deref(), Some("<p>Only <b>HTML</b></p>\r\n"));
        assert_eq!(got.preview.as_deref(), Some("Only HTML"));
        assert!(!got.has_attachments);
    }

    #[test]
    fn names_attachments_without_a_file_name() {
        let raw = concat!(
            "From: a@example.com\r\n",
            "Content-Type: multipart/mixed; boundary=b\r\n",
            "\r\n",
            "--b\r\n",
            "Content-Type: text/plain\r\n",
            "\r\n",
            "hi\r\n",
            "--b\r\n",
            "Content-Type: application/octet-stream\r\n",
            "Content-Disposition: attachment\r\n",
            "Content-Transfer-Encoding: base64\r\n",
            "\r\n",
            "AAEC\r\n",
            "--b--\r\n",
        );
        let got = parse("id", raw.as_bytes()).unwrap();
        assert_eq!(got.text.as_deref(), Some("hi"));
        let a = &got.attachments[0];
        assert_eq!((a.name.as_str(), a.id.as_str()), ("attachment-1", "0"));
        assert_eq!(a.bytes.as_deref(), Some(&[0u8, 1, 2][..]));
        assert_eq!(a.content_type, "application/octet-stream");
    }
}
