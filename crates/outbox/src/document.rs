//! The stored form of an [`OutgoingMessage`]: a versioned JSON document of our
//! own, so the database never depends on core's in-memory types.
//!
//! Version 1 holds every field the builder takes; addresses are written in
//! their display form (`"Name" <addr>`) and attachment bytes in standard
//! base64. Reading rebuilds the message through [`OutgoingMessage::builder`],
//! so a stored message passes the same checks as a new one, with its uid kept.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use g360_mail_core::{Attachment, Error, Importance, MessageUid, OutgoingMessage, Result};
use serde::{Deserialize, Serialize};

/// The version written by [`encode`].
pub(crate) const FORMAT_VERSION: i32 = 1;

#[derive(Serialize, Deserialize)]
struct MessageV1 {
    uid: String,
    from: Option<String>,
    #[serde(default)]
    to: Vec<String>,
    #[serde(default)]
    cc: Vec<String>,
    #[serde(default)]
    bcc: Vec<String>,
    #[serde(default)]
    reply_to: Vec<String>,
    subject: String,
    text: Option<String>,
    html: Option<String>,
    #[serde(default)]
    headers: Vec<HeaderV1>,
    #[serde(default)]
    importance: Importance,
    #[serde(default)]
    attachments: Vec<AttachmentV1>,
}

#[derive(Serialize, Deserialize)]
struct HeaderV1 {
    name: String,
    value: String,
}

#[derive(Serialize, Deserialize)]
struct AttachmentV1 {
    name: String,
    content_type: String,
    content_id: Option<String>,
    base64: String,
}

fn strings<'a>(addrs: impl IntoIterator<Item = &'a g360_mail_core::EmailAddress>) -> Vec<String> {
    addrs.into_iter().map(ToString::to_string).collect()
}

/// Writes `message` as a document of version [`FORMAT_VERSION`].
pub(crate) fn encode(message: &OutgoingMessage) -> Result<String> {
    let doc = MessageV1 {
        uid: message.uid().to_string(),
        from: message.from().map(ToString::to_string),
        to: strings(message.to()),
        cc: strings(message.cc()),
        bcc: strings(message.bcc()),
        reply_to: strings(message.reply_to()),
        subject: message.subject().to_owned(),
        text: message.text().map(str::to_owned),
        html: message.html().map(str::to_owned),
        headers: message
            .headers()
            .iter()
            .map(|h| HeaderV1 { name: h.name().to_owned(), value: h.value().to_owned() })
            .collect(),
        importance: message.importance(),
        attachments: message
            .attachments()
            .iter()
            .map(|a| AttachmentV1 {
                name: a.name().to_owned(),
                content_type: a.content_type().to_owned(),
                content_id: a.content_id().map(str::to_owned),
                base64: STANDARD.encode(a.bytes()),
            })
            .collect(),
    };
    serde_json::to_string(&doc).map_err(|e| {
        Error::new(g360_mail_core::ErrorKind::Unexpected, "cannot serialise the message")
            .with_provider(crate::PROVIDER)
            .with_source(e)
    })
}

/// Rebuilds the message stored as `document` in format `version`.
pub(crate) fn decode(version: i32, document: &str) -> Result<OutgoingMessage> {
    let unreadable = |why: &str| {
        Error::invalid_input(format!("the stored message cannot be read: {why}"))
            .with_provider(crate::PROVIDER)
            .with_code("outbox.message-unreadable")
            .with_context("format", version)
    };
    if version != FORMAT_VERSION {
        return Err(unreadable("unknown format version")
            .with_remedy("upgrade g360-mail to a version that knows this outbox format"));
    }
    let doc: MessageV1 =
        serde_json::from_str(document).map_err(|e| unreadable("invalid JSON").with_source(e))?;
    let mut b = OutgoingMessage::builder().uid(MessageUid::parse(&doc.uid)?);
    if let Some(from) = &doc.from {
        b = b.from(from)?;
    }
    for a in &doc.to {
        b = b.to(a)?;
    }
    for a in &doc.cc {
        b = b.cc(a)?;
    }
    for a in &doc.bcc {
        b = b.bcc(a)?;
    }
    for a in &doc.reply_to {
        b = b.reply_to(a)?;
    }
    b = b.subject(doc.subject).importance(doc.importance);
    if let Some(text) = doc.text {
        b = b.text(text);
    }
    if let Some(html) = doc.html {
        b = b.html(html);
    }
    for h in doc.headers {
        b = b.header(h.name, h.value);
    }
    for a in doc.attachments {
        let bytes = STANDARD
            .decode(a.base64.as_bytes())
            .map_err(|e| unreadable("invalid attachment bytes").with_source(e))?;
        let mut attachment = Attachment::new(a.name, a.content_type, bytes)?;
        if let Some(cid) = a.content_id {
            attachment = attachment.inline(cid)?;
        }
        b = b.attach(attachment);
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_message_survives_the_round_trip() {
        let message = OutgoingMessage::builder()
            .from("\"García, José\" <jgarcia@contoso.com>")
            .unwrap()
            .to("cliente@example.com")
            .unwrap()
            .to("Ana <ana@example.com>")
            .unwrap()
            .cc("c@example.com")
            .unwrap()
            .bcc("b@example.com")
            .unwrap()
            .reply_to("r@example.com")
            .unwrap()
            .subject("Factura 2026-0042 ñ")
            .text("texto")
            .html("<p>hola <img src=\"cid:logo@g360\"></p>")
            .header("X-G360-Invoice", "2026-0042")
            .importance(Importance::High)
            .attach(Attachment::new("f.pdf", "application/pdf", vec![0, 1, 2, 255]).unwrap())
            .attach(
                Attachment::new("logo.png", "image/png", vec![9; 10])
                    .unwrap()
                    .inline("logo@g360")
                    .unwrap(),
            )
            .build()
            .unwrap();
        let doc = encode(&message).unwrap();
        assert!(!doc.contains("\u{0}"));
        let back = decode(FORMAT_VERSION, &doc).unwrap();
        assert_eq!(back, message);
        assert_eq!(back.uid(), message.uid());
    }

    #[test]
    fn unknown_versions_and_bad_documents_are_refused() {
        let err = decode(99, "{}").unwrap_err();
        assert_eq!(err.code(), Some("outbox.message-unreadable"));
        assert!(decode(FORMAT_VERSION, "not json").is_err());
    }
}
