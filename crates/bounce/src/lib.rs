#![doc = include_str!("../README.md")]

mod dsn;
mod error;
mod kind;
mod report;
mod text;

use g360_mail_core::{Error, Result};
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

pub use error::NOT_A_REPORT;
pub use report::{
    Action, BounceKind, DeliveryReport, InvalidStatusCode, MessageIdSource, RecipientReport,
    ReportFormat, StatusCode,
};

use error::BounceError;

/// How much of a report is read. The parts that matter (the human text, the
/// delivery-status part, the returned message's headers) come first; what
/// lies beyond is the returned message's body, and is ignored.
pub const MAX_READ_BYTES: usize = 16 * 1024 * 1024;

/// Reads a delivery report (an `.eml` file, Graph's `$value` of an NDR).
///
/// Per recipient the `message/delivery-status` part wins; without one, the
/// human text of Exchange / Office 365, Exim and Gmail reports is read. The
/// original Message-ID comes from the returned message or its headers, else
/// the report's `In-Reply-To` / `References`, else the headers quoted in the
/// text; never the report's own Message-ID. Only the first
/// [`MAX_READ_BYTES`] are read. Never panics, whatever the bytes.
///
/// # Errors
/// [`ErrorKind::InvalidInput`](g360_mail_core::ErrorKind::InvalidInput) with
/// code [`NOT_A_REPORT`] (and a `reason` context) when the bytes are not a
/// mail, or a mail in which no recipient's result can be read.
pub fn parse(raw: &[u8]) -> Result<DeliveryReport> {
    read(raw).map_err(Error::from)
}

fn read(raw: &[u8]) -> Result<DeliveryReport, BounceError> {
    let raw = skip_mbox_separator(&raw[..raw.len().min(MAX_READ_BYTES)]);
    let mail = MessageParser::default()
        .parse(raw)
        .filter(|m| !m.headers().is_empty())
        .ok_or(BounceError::NotAMessage)?;

    let mut status = dsn::DeliveryStatus::default();
    let mut has_status_part = false;
    let mut returned_id = None;
    let mut returned_subject = None;
    for part in &mail.parts {
        let Some(ct) = part.content_type() else { continue };
        let ctype = ct.ctype().to_ascii_lowercase();
        let subtype = ct.subtype().unwrap_or_default().to_ascii_lowercase();
        match (ctype.as_str(), subtype.as_str()) {
            ("message", "delivery-status" | "global-delivery-status") => {
                has_status_part = true;
                let part_status = dsn::parse(&String::from_utf8_lossy(part.contents()));
                status.reporting_mta = status.reporting_mta.or(part_status.reporting_mta);
                status.recipients.extend(part_status.recipients);
            }
            ("message", "rfc822" | "global") if returned_id.is_none() => {
                (returned_id, returned_subject) = match &part.body {
                    PartType::Message(m) => (m.message_id().and_then(bracketed), subject(m)),
                    _ => id_and_subject(part.contents()),
                };
            }
            ("text", "rfc822-headers") | ("message", "global-headers") if returned_id.is_none() => {
                (returned_id, returned_subject) = id_and_subject(part.contents());
            }
            _ => {}
        }
    }

    let failed = failed_recipients(&mail);
    let body = mail.body_text(0).unwrap_or_default();
    let from_text = text::parse(&body, &failed);

    let mut report = if !status.recipients.is_empty() {
        let mut recipients = status.recipients;
        if let Some(t) = &from_text {
            enrich(&mut recipients, &t.recipients);
        }
        DeliveryReport {
            format: ReportFormat::Rfc3464,
            original_message_id: None,
            message_id_source: None,
            original_subject: None,
            reporting_mta: status.reporting_mta.or_else(|| from_text.and_then(|t| t.reporting_mta)),
            recipients,
        }
    } else if let Some(t) = from_text {
        DeliveryReport {
            format: t.format,
            original_message_id: None,
            message_id_source: None,
            original_subject: None,
            reporting_mta: t.reporting_mta,
            recipients: t.recipients,
        }
    } else if has_status_part {
        return Err(BounceError::NoRecipient);
    } else {
        return Err(BounceError::NotAReport);
    };

    // A report's own Message-ID is never the original's, however alike they look.
    let own = mail.message_id().and_then(bracketed);
    let (quoted_id, quoted_subject) =
        text::quoted_headers(&body).map(id_and_subject).unwrap_or_default();
    report.original_subject = returned_subject.or(quoted_subject);
    let candidates = [
        (returned_id, MessageIdSource::ReturnedMessage),
        (reply_header_id(&mail), MessageIdSource::ReplyHeader),
        (quoted_id, MessageIdSource::QuotedText),
    ];
    if let Some((id, source)) = candidates
        .into_iter()
        .find_map(|(id, source)| id.filter(|id| Some(id) != own.as_ref()).map(|id| (id, source)))
    {
        report.original_message_id = Some(id);
        report.message_id_source = Some(source);
    }
    Ok(report)
}

/// An mbox file's `From sender date` line before the headers, as some
/// servers keep it in what they store.
fn skip_mbox_separator(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"From ") {
        match raw.iter().position(|&b| b == b'\n') {
            Some(n) => &raw[n + 1..],
            None => &raw[raw.len()..],
        }
    } else {
        raw
    }
}

/// The Message-ID and subject of a header block (the returned headers, or a
/// copy quoted in text).
fn id_and_subject(headers: impl AsRef<[u8]>) -> (Option<String>, Option<String>) {
    match MessageParser::default().parse_headers(headers.as_ref()) {
        Some(m) => (m.message_id().and_then(bracketed), subject(&m)),
        None => (None, None),
    }
}

/// A message's subject, whitespace collapsed; none when empty.
fn subject(mail: &Message<'_>) -> Option<String> {
    Some(dsn::collapse(mail.subject()?)).filter(|s| !s.is_empty())
}

/// `In-Reply-To`, else the last of `References`: the mail the report answers.
fn reply_header_id(mail: &Message<'_>) -> Option<String> {
    let in_reply_to = mail.in_reply_to().as_text_list().and_then(|l| l.first().cloned());
    let references = mail.references().as_text_list().and_then(|l| l.last().cloned());
    in_reply_to.or(references).and_then(|id| bracketed(&id))
}

/// `id@host` as `<id@host>`; nothing for an empty or spaced id.
fn bracketed(id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    (!id.is_empty() && !id.contains(char::is_whitespace) && id.len() <= 998)
        .then(|| format!("<{id}>"))
}

/// The addresses of `X-Failed-Recipients` (Exim, Gmail), one or more headers,
/// comma-separated.
fn failed_recipients(mail: &Message<'_>) -> Vec<String> {
    mail.headers_raw()
        .filter(|(name, _)| name.eq_ignore_ascii_case("X-Failed-Recipients"))
        .flat_map(|(_, value)| value.split(','))
        .map(|a| a.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
        .filter(|a| a.contains('@') && !a.contains(char::is_whitespace))
        .collect()
}

/// Fills what a delivery-status part left out (some Exchange versions give
/// no `Diagnostic-Code`) from the text's entry for the same address.
fn enrich(recipients: &mut [RecipientReport], from_text: &[RecipientReport]) {
    for r in recipients {
        let Some(t) = from_text.iter().find(|t| {
            t.final_recipient.eq_ignore_ascii_case(&r.final_recipient)
                || t.final_recipient.eq_ignore_ascii_case(r.address())
        }) else {
            continue;
        };
        if r.diagnostic.is_none() {
            r.diagnostic.clone_from(&t.diagnostic);
        }
        if r.remote_mta.is_none() {
            r.remote_mta.clone_from(&t.remote_mta);
        }
        if r.status.is_none() {
            r.status = t.status;
            r.kind = kind::classify(r.action, r.status, r.diagnostic.as_deref());
        }
    }
}

/// Whether a mail's headers mark it as a delivery report, read from the
/// headers alone (the start of an `.eml` file is enough): a
/// `multipart/report; report-type=delivery-status` (or RFC 6533's
/// `global-delivery-status`) content type, Exchange's
/// `X-MS-Exchange-Message-Is-Ndr`, `X-Failed-Recipients` (Exim, Gmail), or a
/// `MAILER-DAEMON` / `postmaster` sender with `Auto-Submitted`. Read
/// receipts (`report-type=disposition-notification`) are not delivery reports.
pub fn looks_like_report(raw: &[u8]) -> bool {
    let raw = skip_mbox_separator(&raw[..raw.len().min(MAX_READ_BYTES)]);
    let Some(mail) = MessageParser::default().parse_headers(raw) else { return false };
    let mut auto_submitted = false;
    let mut daemon_sender = false;
    for (name, value) in mail.headers_raw() {
        let value = value.to_ascii_lowercase();
        if name.eq_ignore_ascii_case("X-MS-Exchange-Message-Is-Ndr")
            || name.eq_ignore_ascii_case("X-Failed-Recipients")
        {
            return true;
        }
        if name.eq_ignore_ascii_case("Content-Type")
            && value.contains("multipart/report")
            && value.contains("delivery-status")
        {
            return true;
        }
        if name.eq_ignore_ascii_case("Auto-Submitted") && !value.trim().starts_with("no") {
            auto_submitted = true;
        }
        if (name.eq_ignore_ascii_case("From") || name.eq_ignore_ascii_case("Return-Path"))
            && (value.contains("mailer-daemon") || value.contains("postmaster"))
        {
            daemon_sender = true;
        }
    }
    auto_submitted && daemon_sender
}

#[cfg(test)]
mod looks_like_report_tests {
    use super::looks_like_report;

    #[test]
    fn tells_reports_from_mail_by_headers() {
        let dsn = b"From: MAILER-DAEMON@x.example\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n boundary=b\r\n\r\n--b\r\n";
        assert!(looks_like_report(dsn));
        assert!(looks_like_report(
            b"X-MS-Exchange-Message-Is-Ndr:\r\nSubject: Undeliverable: x\r\n\r\nbody"
        ));
        assert!(looks_like_report(b"X-Failed-Recipients: a@b.example\r\n\r\n"));
        assert!(looks_like_report(
            b"From: Mail Delivery System <Mailer-Daemon@h.example>\r\nAuto-Submitted: auto-replied\r\n\r\n"
        ));
        assert!(!looks_like_report(b"From: ana@example.com\r\nSubject: Factura\r\n\r\nhola"));
        assert!(!looks_like_report(
            b"Content-Type: multipart/report; report-type=disposition-notification; boundary=b\r\n\r\n"
        ));
        assert!(!looks_like_report(b"From: postmaster@x.example\r\nAuto-Submitted: no\r\n\r\n"));
        assert!(!looks_like_report(b""));
        assert!(!looks_like_report(&[0xff; 64]));
    }
}
