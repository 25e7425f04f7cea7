//! [`render`]: an [`OutgoingMessage`] as RFC 5322 / MIME bytes, built with lettre.

use std::time::SystemTime;

use g360_mail_core::{
    Attachment, EmailAddress, Error, ErrorKind, Importance, OutgoingMessage, Result, Timestamp,
};
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, MultiPartBuilder, SinglePart};

/// How [`render`] writes a message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Keep the `Bcc` header. Set it for a stored copy (a `.eml` file, Sent
    /// Items); never for SMTP submission, where every recipient would see it.
    pub include_bcc: bool,
    /// The `Date` header; the current time when `None`.
    pub date: Option<Timestamp>,
}

/// Renders `message`, sent by `from`, as RFC 5322 / MIME bytes with CRLF line
/// endings.
///
/// The `Message-ID` is `message.uid().internet_message_id(from.domain())`, so
/// the mail can be found again by its uid. `from` is the `From` header; callers
/// pass `message.from()` or the account's address.
///
/// The MIME structure is the smallest one that holds the content:
/// `multipart/mixed` (attachments) around `multipart/alternative` (text and
/// HTML) around `multipart/related` (the HTML and its inline parts).
///
/// # Errors
/// [`ErrorKind::InvalidInput`] when lettre refuses an address, a content type
/// or a header name that the core builder accepted (for example a quoted local
/// part); [`ErrorKind::Unexpected`] when lettre cannot build the message.
pub fn render(
    message: &OutgoingMessage,
    from: &EmailAddress,
    options: &RenderOptions,
) -> Result<Vec<u8>> {
    let date = options.date.unwrap_or_else(Timestamp::now);
    // Every Timestamp jiff can represent fits a SystemTime on the platforms we build for.
    let date = SystemTime::try_from(date).unwrap_or_else(|_| SystemTime::now());
    let mut builder = lettre::Message::builder()
        .from(mailbox(from)?)
        .raw_header(header_value(HeaderName::new_from_ascii_str("Subject"), message.subject()))
        .date(date)
        .message_id(Some(message.uid().internet_message_id(from.domain())));
    for address in message.to() {
        builder = builder.to(mailbox(address)?);
    }
    for address in message.cc() {
        builder = builder.cc(mailbox(address)?);
    }
    // Bcc is always given to lettre, which derives the envelope from the
    // headers (a message may have only blind copies); it drops the header
    // afterwards unless told to keep it.
    for address in message.bcc() {
        builder = builder.bcc(mailbox(address)?);
    }
    if options.include_bcc {
        builder = builder.keep_bcc();
    }
    for address in message.reply_to() {
        builder = builder.reply_to(mailbox(address)?);
    }
    let has_custom =
        |name: &str| message.headers().iter().any(|h| h.name().eq_ignore_ascii_case(name));
    let importance = match message.importance() {
        Importance::High => Some(("high", "1")),
        Importance::Low => Some(("low", "5")),
        Importance::Normal => None,
    };
    if let Some((importance, priority)) = importance {
        builder = builder.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Importance"),
            importance.to_owned(),
        ));
        // A caller's own X-Priority wins over the one derived from the importance.
        if !has_custom("X-Priority") {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Priority"),
                priority.to_owned(),
            ));
        }
    }
    for header in message.headers() {
        let name = HeaderName::new_from_ascii(header.name().to_owned()).map_err(|_| {
            Error::invalid_input("the header name cannot be written in a MIME message")
                .with_code("message.header-invalid")
                .with_context("header", header.name().escape_debug())
                .with_remedy("use a header name of at most 76 printable ASCII characters")
        })?;
        builder = builder.raw_header(header_value(name, header.value()));
    }
    let built = match content(message)? {
        Part::Single(part) => builder.singlepart(part),
        Part::Multi(part) => builder.multipart(part),
    };
    let built = built.map_err(|e| {
        Error::new(ErrorKind::Unexpected, "cannot build the MIME message")
            .with_code("mime.build")
            .with_context("uid", message.uid())
            .with_source(e)
    })?;
    Ok(built.formatted())
}

fn mailbox(address: &EmailAddress) -> Result<Mailbox> {
    let unsupported = || {
        Error::invalid_input("the address cannot be written in a MIME message")
            .with_code("address.unsupported")
            .with_context("address", address.addr().escape_debug())
            .with_remedy("use a plain address such as user@example.com")
    };
    let email =
        address.addr().parse::<lettre::Address>().map_err(|e| unsupported().with_source(e))?;
    let mailbox = Mailbox::new(address.name().map(str::to_owned), email);
    // lettre reads its own address headers back (for the envelope and the
    // From check); refuse here, with a clear error, what it cannot read back,
    // such as an address literal (`user@[192.0.2.1]`).
    mailbox.to_string().parse::<Mailbox>().map_err(|e| unsupported().with_source(e))?;
    Ok(mailbox)
}

/// Longest line lettre's folding may produce before it needs a space to break at.
const MAX_LINE: usize = 998;

/// Longest line lettre writes before it folds at a space.
const FOLD_AT: usize = 76;

/// A header value as lettre writes it (encoded words for non-ASCII text,
/// folded at spaces), unless a run of text without spaces would make a line
/// longer than RFC 5322's 998 octets, or a run of blanks may be folded or sit
/// beside an encoded word (readers such as mail-parser shrink such a run to
/// one space): such a value is
/// written entirely as encoded words, which may break anywhere and keep every
/// blank.
fn header_value(name: HeaderName, value: &str) -> HeaderValue {
    let longest_word = value.split([' ', '\t']).map(str::len).max().unwrap_or(0);
    let blank_run = value.contains("  ") || value.contains('\t');
    // lettre folds long values, and writes non-ASCII words as encoded words,
    // next to which readers collapse blanks as well.
    let may_fold = name.len() + ": ".len() + value.len() > FOLD_AT || !value.is_ascii();
    if name.len() + ": ".len() + longest_word <= MAX_LINE && !(blank_run && may_fold) {
        return HeaderValue::new(name, value.to_owned());
    }
    let encoded = q_encoded_words(value).join("\r\n ");
    HeaderValue::dangerous_new_pre_encoded(name, value.to_owned(), encoded)
}

/// RFC 2047 "Q" encoded words of at most 75 characters each, split between
/// characters. Their output is printable ASCII only, so no header can be
/// injected through it.
fn q_encoded_words(value: &str) -> Vec<String> {
    const PREFIX: &str = "=?utf-8?q?";
    const SUFFIX: &str = "?=";
    let mut words = Vec::new();
    let mut current = String::from(PREFIX);
    for c in value.chars() {
        let mut piece = String::new();
        if c == ' ' {
            piece.push('_');
        } else if c.is_ascii_alphanumeric() || "!*+-/".contains(c) {
            piece.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                piece.push_str(&format!("={b:02X}"));
            }
        }
        if current.len() + piece.len() + SUFFIX.len() > 75 {
            current.push_str(SUFFIX);
            words.push(std::mem::replace(&mut current, String::from(PREFIX)));
        }
        current.push_str(&piece);
    }
    current.push_str(SUFFIX);
    words.push(current);
    words
}

enum Part {
    Single(SinglePart),
    Multi(MultiPart),
}

fn start(builder: MultiPartBuilder, first: Part) -> MultiPart {
    match first {
        Part::Single(p) => builder.singlepart(p),
        Part::Multi(p) => builder.multipart(p),
    }
}

fn append(multipart: MultiPart, next: Part) -> MultiPart {
    match next {
        Part::Single(p) => multipart.singlepart(p),
        Part::Multi(p) => multipart.multipart(p),
    }
}

fn content(message: &OutgoingMessage) -> Result<Part> {
    let (inline, files): (Vec<&Attachment>, Vec<&Attachment>) =
        message.attachments().iter().partition(|a| a.is_inline());
    let text = message.text().map(|t| SinglePart::plain(t.to_owned()));
    let html = match message.html() {
        None => None,
        Some(html) if inline.is_empty() => Some(Part::Single(SinglePart::html(html.to_owned()))),
        Some(html) => {
            let mut related = MultiPart::related().singlepart(SinglePart::html(html.to_owned()));
            for a in &inline {
                related = related.singlepart(attachment_part(a)?);
            }
            Some(Part::Multi(related))
        }
    };
    // Inline parts without an HTML body have nothing that shows them; they
    // travel in the mixed part, still marked inline.
    let loose_inline = if message.html().is_none() { inline } else { Vec::new() };
    let main = match (text, html) {
        (Some(text), Some(html)) => {
            Part::Multi(append(MultiPart::alternative().singlepart(text), html))
        }
        (Some(text), None) => Part::Single(text),
        (None, Some(html)) => html,
        (None, None) => Part::Single(SinglePart::plain(String::new())),
    };
    if files.is_empty() && loose_inline.is_empty() {
        return Ok(main);
    }
    let mut mixed = start(MultiPart::mixed(), main);
    for a in files.iter().chain(&loose_inline) {
        mixed = mixed.singlepart(attachment_part(a)?);
    }
    Ok(Part::Multi(mixed))
}

fn attachment_part(attachment: &Attachment) -> Result<SinglePart> {
    let content_type = ContentType::parse(attachment.content_type()).map_err(|e| {
        Error::invalid_input("the content type cannot be written in a MIME message")
            .with_code("attachment.invalid")
            .with_context("attachment", attachment.name().escape_debug())
            .with_context("content_type", attachment.content_type().escape_debug())
            .with_remedy("use a plain content type such as application/pdf")
            .with_source(e)
    })?;
    // Base64 keeps the bytes exact: lettre would otherwise pick 7bit or
    // quoted-printable for text files and normalise their line endings.
    let body =
        Body::new_with_encoding(attachment.bytes().to_vec(), ContentTransferEncoding::Base64)
            .unwrap_or_else(Body::new);
    let name = attachment.name().to_owned();
    let disposition = match attachment.content_id() {
        Some(cid) => lettre::message::Attachment::new_inline_with_name(cid.to_owned(), name),
        None => lettre::message::Attachment::new(name),
    };
    Ok(disposition.body(body, content_type))
}
