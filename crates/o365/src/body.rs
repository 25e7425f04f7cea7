//! The JSON bodies that carry attachments, built once into a buffer of the
//! exact size: the small part (the message without its attachments) goes
//! through serde, the base64 of each attachment is written straight into the
//! output, without an intermediate `String` and without a scan for
//! characters to escape (the base64 alphabet needs none).
//!
//! The bytes are those of serde_json for the same structure: compact, fields
//! in declaration order (`attachments` last in the message,
//! `saveToSentItems` after the message).

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::Simd;
use base64::engine::general_purpose::PAD;
use g360_mail_core::{Attachment, Result};
use serde::Serialize;

use crate::graph_model::GraphOutgoing;

/// The `sendMail` body of a message, or its size when it is over the limit
/// (then nothing was built).
#[derive(Debug)]
pub(crate) enum SendMailBody {
    Built(Vec<u8>),
    TooLarge(usize),
}

/// Where JSON goes: a buffer, or a counter of its length.
trait Sink {
    fn raw(&mut self, bytes: &[u8]);
    fn json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()>;
    fn base64(&mut self, data: &[u8]) -> Result<()>;
}

impl Sink for Vec<u8> {
    fn raw(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    fn json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        serde_json::to_writer(&mut *self, value).map_err(encode_error)
    }

    fn base64(&mut self, data: &[u8]) -> Result<()> {
        let start = self.len();
        self.resize(start + base64_len(data.len())?, 0);
        encode_base64(data, &mut self[start..])
    }
}

/// The base64 crate's standard padded engine with SIMD (AVX2, NEON) where
/// the CPU has it, detected once; its scalar engine elsewhere.
static ENGINE: LazyLock<Simd> = LazyLock::new(|| Simd::standard(PAD));

/// Standard padded base64 of `input` into `out`, which must be exactly
/// [`base64_len`] long.
fn encode_base64(input: &[u8], out: &mut [u8]) -> Result<()> {
    if out.len() != base64_len(input.len())? {
        return Err(encode_error("the base64 buffer has the wrong size"));
    }
    let written = ENGINE.encode_slice(input, out).map_err(|e| encode_error(e.to_string()))?;
    if written != out.len() {
        return Err(encode_error("the base64 buffer has the wrong size"));
    }
    Ok(())
}

/// Counts the bytes a [`Sink`] would receive.
#[derive(Default)]
struct Count(usize);

impl std::io::Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink for Count {
    fn raw(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }

    fn json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        serde_json::to_writer(&mut *self, value).map_err(encode_error)
    }

    fn base64(&mut self, data: &[u8]) -> Result<()> {
        self.0 += base64_len(data.len())?;
        Ok(())
    }
}

/// The exact length of the padded standard base64 of `len` bytes.
fn base64_len(len: usize) -> Result<usize> {
    base64::encoded_len(len, true).ok_or_else(|| encode_error("the attachment is too large"))
}

fn encode_error(e: impl std::fmt::Display) -> g360_mail_core::Error {
    crate::error::encode(e)
}

/// `fileAttachment` as written: `@odata.type`, `name`, `contentType`,
/// `contentBytes` (standard base64), `isInline`, `contentId` when set.
///
/// <https://learn.microsoft.com/graph/api/resources/fileattachment>
fn write_attachment(out: &mut impl Sink, a: &Attachment) -> Result<()> {
    out.raw(br##"{"@odata.type":"#microsoft.graph.fileAttachment","name":"##);
    out.json(a.name())?;
    out.raw(br#","contentType":"#);
    out.json(a.content_type())?;
    out.raw(br#","contentBytes":""#);
    out.base64(a.bytes())?;
    out.raw(if a.is_inline() { br#"","isInline":true"# } else { br#"","isInline":false"# });
    if let Some(cid) = a.content_id() {
        out.raw(br#","contentId":"#);
        out.json(cid)?;
    }
    out.raw(b"}");
    Ok(())
}

/// The body of `POST …/attachments` for one file attachment.
pub(crate) fn file_attachment(a: &Attachment) -> Result<Vec<u8>> {
    let mut count = Count::default();
    write_attachment(&mut count, a)?;
    let mut out = Vec::with_capacity(count.0);
    write_attachment(&mut out, a)?;
    Ok(out)
}

const MESSAGE_OPEN: &[u8] = br#"{"message":"#;
const ATTACHMENTS_OPEN: &[u8] = br#","attachments":["#;
const SEND_MAIL_CLOSE: &[u8] = br#","saveToSentItems":true}"#;

/// The `sendMail` body: `{"message":{…,"attachments":[…]},"saveToSentItems":true}`,
/// where `message` has no attachments of its own. When `limit` is given and
/// the body would be longer, only its length is computed.
pub(crate) fn send_mail(
    message: &GraphOutgoing<'_>,
    attachments: &[Attachment],
    limit: Option<usize>,
) -> Result<SendMailBody> {
    if attachments.is_empty() {
        // One pass: the body is the message and a few bytes; a text mail over
        // the limit is rare enough to be built before it is measured.
        let mut out = Vec::with_capacity(estimate(message));
        out.raw(MESSAGE_OPEN);
        out.json(message)?;
        out.raw(SEND_MAIL_CLOSE);
        return Ok(match limit {
            Some(l) if out.len() > l => SendMailBody::TooLarge(out.len()),
            _ => SendMailBody::Built(out),
        });
    }
    // The message without attachments is small: measure it and the
    // attachments, then write everything into a buffer of the exact size.
    let mut attachments_len = 0;
    if !attachments.is_empty() {
        let mut count = Count::default();
        for a in attachments {
            write_attachment(&mut count, a)?;
        }
        // `[` … `]` with commas between, replacing the message's `}`.
        attachments_len = ATTACHMENTS_OPEN.len() + count.0 + (attachments.len() - 1) + 1;
    }
    let mut head = Count::default();
    head.json(message)?;
    let total = MESSAGE_OPEN.len() + head.0 + attachments_len + SEND_MAIL_CLOSE.len();
    if limit.is_some_and(|l| total > l) {
        return Ok(SendMailBody::TooLarge(total));
    }
    let mut out = Vec::with_capacity(total);
    out.raw(MESSAGE_OPEN);
    out.json(message)?;
    if !attachments.is_empty() {
        out.pop(); // the message's closing `}`
        out.raw(ATTACHMENTS_OPEN);
        for (i, a) in attachments.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_attachment(&mut out, a)?;
        }
        out.raw(b"]}");
    }
    out.raw(SEND_MAIL_CLOSE);
    debug_assert_eq!(out.len(), total);
    Ok(SendMailBody::Built(out))
}

/// Room for the `sendMail` body of `m` without attachments: its strings, a
/// margin for escapes, and the fixed parts.
fn estimate(m: &GraphOutgoing<'_>) -> usize {
    let rcpt = |list: &[crate::graph_model::GraphRecipientOut<'_>]| -> usize {
        list.iter()
            .map(|r| 48 + r.email_address.address.len() + r.email_address.name.map_or(0, str::len))
            .sum()
    };
    let strings = m.subject.len()
        + m.body.content.len()
        + m.internet_message_id.len()
        + m.from.as_ref().map_or(0, |f| rcpt(std::slice::from_ref(f)))
        + rcpt(&m.to_recipients)
        + rcpt(&m.cc_recipients)
        + rcpt(&m.bcc_recipients)
        + rcpt(&m.reply_to)
        + m.internet_message_headers
            .iter()
            .map(|h| 24 + h.name.len() + h.value.len())
            .sum::<usize>()
        + m.single_value_extended_properties
            .iter()
            .map(|p| 24 + p.id.len() + p.value.len())
            .sum::<usize>();
    strings + strings / 8 + 256
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph_model::{
        GraphBody, GraphEmailAddressOut, GraphExtendedProperty, GraphRecipientOut,
    };

    /// The former encoding: serde structs with the base64 in a `String`.
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Reference<'a> {
        message: WithAttachments<'a>,
        save_to_sent_items: bool,
    }

    #[derive(Serialize)]
    struct WithAttachments<'a> {
        #[serde(flatten)]
        message: &'a GraphOutgoing<'a>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<ReferenceAttachment<'a>>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ReferenceAttachment<'a> {
        #[serde(rename = "@odata.type")]
        odata_type: &'static str,
        name: &'a str,
        content_type: &'a str,
        content_bytes: String,
        is_inline: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        content_id: Option<&'a str>,
    }

    fn reference(a: &Attachment) -> ReferenceAttachment<'_> {
        ReferenceAttachment {
            odata_type: "#microsoft.graph.fileAttachment",
            name: a.name(),
            content_type: a.content_type(),
            content_bytes: base64::engine::general_purpose::STANDARD.encode(a.bytes()),
            is_inline: a.is_inline(),
            content_id: a.content_id(),
        }
    }

    fn message<'a>(subject: &'a str, to: &'a str) -> GraphOutgoing<'a> {
        let rcpt = GraphRecipientOut {
            email_address: GraphEmailAddressOut { address: to, name: Some("Dña. \"Ñ\"") },
        };
        GraphOutgoing {
            subject,
            body: GraphBody { content_type: "text", content: "línea 1\r\n\tlínea 2 </script>" },
            from: None,
            to_recipients: vec![rcpt],
            cc_recipients: Vec::new(),
            bcc_recipients: Vec::new(),
            reply_to: Vec::new(),
            importance: "normal",
            internet_message_id: "<a@b>",
            internet_message_headers: Vec::new(),
            single_value_extended_properties: vec![GraphExtendedProperty {
                id: "String {x} Name y",
                value: "uid".into(),
            }],
        }
    }

    fn attachments() -> Vec<Attachment> {
        let data: Vec<u8> = (0..=255u8).cycle().take(70_001).collect();
        vec![
            Attachment::new("factura \"1\" ü.pdf", "application/pdf", data.clone()).unwrap(),
            Attachment::new("a", "text/plain", Vec::new()).unwrap(),
            Attachment::new("b.bin", "application/octet-stream", vec![0xff]).unwrap(),
            Attachment::new("c.bin", "application/octet-stream", vec![1, 2]).unwrap(),
            Attachment::new("logo ñ.png", "image/png", vec![9; 100])
                .and_then(|a| a.inline("logo@x"))
                .unwrap(),
        ]
    }

    #[test]
    fn base64_is_the_standard_padded_encoding() {
        let data: Vec<u8> =
            (0..200u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for len in (0..=100).chain([191, 192, 193, 200]) {
            let input = &data[..len];
            let mut out = vec![0; base64_len(len).unwrap()];
            encode_base64(input, &mut out).unwrap();
            assert_eq!(out, base64::engine::general_purpose::STANDARD.encode(input).as_bytes());
        }
        // Long enough for the SIMD blocks, with every tail length after them.
        let long: Vec<u8> =
            (0..4200u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
        for len in 4096..4200 {
            let mut out = vec![0; base64_len(len).unwrap()];
            encode_base64(&long[..len], &mut out).unwrap();
            let expected = base64::engine::general_purpose::STANDARD.encode(&long[..len]);
            assert_eq!(out, expected.as_bytes(), "{len}");
        }
        let all: Vec<u8> = (0..=255u8).collect();
        let mut out = vec![0; base64_len(all.len()).unwrap()];
        encode_base64(&all, &mut out).unwrap();
        assert_eq!(out, base64::engine::general_purpose::STANDARD.encode(&all).as_bytes());
        let mut short = vec![0; 3];
        assert!(encode_base64(b"ab", &mut short).is_err());
    }

    #[test]
    fn same_bytes_as_serde_with_and_without_attachments() {
        let all = attachments();
        for n in 0..=all.len() {
            let msg = message("Factura \u{7f} \\ /", "x@y.example");
            let atts = &all[..n];
            let expected = serde_json::to_vec(&Reference {
                message: WithAttachments {
                    message: &msg,
                    attachments: atts.iter().map(reference).collect(),
                },
                save_to_sent_items: true,
            })
            .unwrap();
            let SendMailBody::Built(got) = send_mail(&msg, atts, None).unwrap() else {
                panic!("no limit, yet too large");
            };
            assert_eq!(
                String::from_utf8(got.clone()).unwrap(),
                String::from_utf8(expected.clone()).unwrap()
            );
            if n > 0 {
                assert_eq!(got.capacity(), got.len(), "the buffer is sized exactly");
            } else {
                assert!(got.capacity() >= got.len() && got.capacity() < 2 * got.len() + 512);
            }
            match send_mail(&msg, atts, Some(expected.len())).unwrap() {
                SendMailBody::Built(b) => assert_eq!(b, expected),
                SendMailBody::TooLarge(_) => panic!("at the limit is not over it"),
            }
            match send_mail(&msg, atts, Some(expected.len() - 1)).unwrap() {
                SendMailBody::TooLarge(len) => assert_eq!(len, expected.len()),
                SendMailBody::Built(_) => panic!("over the limit"),
            }
        }
        for a in &all {
            assert_eq!(file_attachment(a).unwrap(), serde_json::to_vec(&reference(a)).unwrap());
        }
    }
}
