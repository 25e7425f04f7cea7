//! MIME: rendering `$value` from a stored message, and parsing MIME sends
//! and seeded `.eml` files (with mail-parser).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use mail_parser::{MessageParser, MimeHeaders as _};

use super::model::{BodyType, EmailAddress, FileAttachment, MailMessage, MessageBody};

/// Parses raw RFC 5322 bytes into a message that keeps the bytes for `$value`.
pub(crate) fn parse(raw: &[u8]) -> Option<MailMessage> {
    let parsed = MessageParser::default().parse(raw)?;
    let list = |a: Option<&mail_parser::Address<'_>>| -> Vec<EmailAddress> {
        a.map(|a| {
            a.iter()
                .filter_map(|x| {
                    Some(EmailAddress {
                        address: x.address()?.to_string(),
                        name: x.name().map(str::to_string),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
    };
    let mut m = MailMessage::new(parsed.subject().unwrap_or_default());
    m.from = list(parsed.from()).into_iter().next();
    m.sender = list(parsed.sender()).into_iter().next().or_else(|| m.from.clone());
    m.to = list(parsed.to());
    m.cc = list(parsed.cc());
    m.bcc = list(parsed.bcc());
    m.reply_to = list(parsed.reply_to());
    if let Some(id) = parsed.message_id() {
        m.internet_message_id = format!("<{id}>");
    }
    if let Some(ts) = parsed.date().and_then(|d| Timestamp::from_second(d.to_timestamp()).ok()) {
        m.sent_at = Some(ts);
    }
    m.body = match (parsed.body_html(0), parsed.body_text(0)) {
        (Some(html), _) if parsed.html_body_count() > 0 && !is_generated_html(&parsed) => {
            MessageBody::new(BodyType::Html, html.into_owned())
        }
        (_, Some(text)) => MessageBody::new(BodyType::Text, text.into_owned()),
        (Some(html), None) => MessageBody::new(BodyType::Html, html.into_owned()),
        (None, None) => MessageBody::new(BodyType::Text, String::new()),
    };
    for (name, value) in parsed.headers_raw() {
        if name.len() > 2 && name[..2].eq_ignore_ascii_case("x-") {
            m.headers.push((name.to_string(), value.trim().to_string()));
        }
    }
    if let Some(importance) = parsed.header_raw("Importance") {
        m.importance = importance.trim().to_ascii_lowercase();
    }
    for part in parsed.attachments() {
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into());
        let is_inline = part.content_disposition().is_some_and(|d| d.is_inline());
        let mut a = FileAttachment::new(
            part.attachment_name().unwrap_or("attachment"),
            content_type,
            part.contents().to_vec(),
        );
        if is_inline {
            a.is_inline = true;
        }
        a.content_id = part.content_id().map(str::to_string);
        m.attachments.push(a);
    }
    m.mime = Some(raw.to_vec());
    Some(m)
}

/// mail-parser synthesises an HTML body from a text-only message; keep such
/// messages as text.
fn is_generated_html(parsed: &mail_parser::Message<'_>) -> bool {
    !parsed.html_bodies().any(|p| {
        p.content_type()
            .is_some_and(|ct| ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("html")))
    })
}

fn encode_word(text: &str) -> String {
    if text.is_ascii() && !text.contains(['\r', '\n']) {
        text.to_string()
    } else {
        format!("=?utf-8?B?{}?=", STANDARD.encode(text))
    }
}

fn address(a: &EmailAddress) -> String {
    match &a.name {
        Some(n) if !n.is_empty() => {
            format!("\"{}\" <{}>", encode_word(&n.replace('"', "'")), a.address)
        }
        _ => format!("<{}>", a.address),
    }
}

fn wrap_base64(bytes: &[u8]) -> String {
    let encoded = STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 76 * 2 + 2);
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

/// Renders a stored message as RFC 5322 (Exchange-like, not byte-exact).
pub(crate) fn render(m: &MailMessage, include_bcc: bool) -> Vec<u8> {
    if let Some(raw) = &m.mime {
        return raw.clone();
    }
    let mut h = String::new();
    if let Some(from) = &m.from {
        h.push_str(&format!("From: {}\r\n", address(from)));
    }
    let join = |v: &[EmailAddress]| v.iter().map(address).collect::<Vec<_>>().join(", ");
    if !m.to.is_empty() {
        h.push_str(&format!("To: {}\r\n", join(&m.to)));
    }
    if !m.cc.is_empty() {
        h.push_str(&format!("Cc: {}\r\n", join(&m.cc)));
    }
    if include_bcc && !m.bcc.is_empty() {
        h.push_str(&format!("Bcc: {}\r\n", join(&m.bcc)));
    }
    if !m.reply_to.is_empty() {
        h.push_str(&format!("Reply-To: {}\r\n", join(&m.reply_to)));
    }
    h.push_str(&format!("Subject: {}\r\n", encode_word(&m.subject)));
    let date = m.sent_at.unwrap_or(m.received_at);
    h.push_str(&format!("Date: {}\r\n", date.strftime("%a, %d %b %Y %H:%M:%S +0000")));
    h.push_str(&format!("Message-ID: {}\r\n", m.internet_message_id));
    if m.importance != "normal" {
        h.push_str(&format!("Importance: {}\r\n", m.importance));
    }
    for (name, value) in &m.headers {
        h.push_str(&format!("{name}: {}\r\n", encode_word(value)));
    }
    h.push_str("MIME-Version: 1.0\r\n");
    let body_type = match m.body.content_type {
        BodyType::Text => "text/plain",
        BodyType::Html => "text/html",
    };
    let body_part = format!(
        "Content-Type: {body_type}; charset=\"utf-8\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
        wrap_base64(m.body.content.as_bytes())
    );
    if m.attachments.is_empty() {
        h.push_str(&body_part);
        return h.into_bytes();
    }
    let boundary = format!("_000_{}_", uuid::Uuid::new_v4().simple());
    h.push_str(&format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"));
    h.push_str(&format!("--{boundary}\r\n{body_part}"));
    for a in &m.attachments {
        let disposition = if a.is_inline { "inline" } else { "attachment" };
        h.push_str(&format!(
            "--{boundary}\r\nContent-Type: {}; name=\"{}\"\r\nContent-Disposition: {disposition}; filename=\"{}\"\r\n",
            a.content_type,
            encode_word(&a.name),
            encode_word(&a.name)
        ));
        if let Some(cid) = &a.content_id {
            h.push_str(&format!("Content-ID: <{}>\r\n", cid.trim_matches(['<', '>'])));
        }
        h.push_str(&format!("Content-Transfer-Encoding: base64\r\n\r\n{}", wrap_base64(&a.bytes)));
    }
    h.push_str(&format!("--{boundary}--\r\n"));
    h.into_bytes()
}

/// Removes `Bcc:` header lines (with folded continuations) from raw MIME:
/// recipients' copies do not show Bcc.
pub(crate) fn strip_bcc(raw: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = match text.find("\r\n\r\n") {
        Some(i) => (&text[..i + 2], &text[i + 2..]),
        None => match text.find("\n\n") {
            Some(i) => (&text[..i + 1], &text[i + 1..]),
            None => (&text[..], ""),
        },
    };
    let mut out = String::new();
    let mut skipping = false;
    for line in head.split_inclusive('\n') {
        let continuation = line.starts_with([' ', '\t']);
        if !continuation {
            skipping = line.len() >= 4 && line[..4].eq_ignore_ascii_case("bcc:");
        }
        if !skipping {
            out.push_str(line);
        }
    }
    out.push_str(body);
    out.into_bytes()
}
