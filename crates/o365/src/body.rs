//! The JSON bodies that carry attachments, built once into a buffer of the
//! exact size: the small part (the message without its attachments) goes
//! through serde, the base64 of each attachment is written straight into the
//! output, without an intermediate `String` and without a scan for
//! characters to escape (the base64 alphabet needs none).
//!
//! The bytes are those of serde_json for the same structure: compact, fields
//! in declaration order (`attachments` last in the message,
//! `saveToSentItems` after the message).
//!
//! Bodies with attachments are written into buffers recycled from earlier
//! sends ([`BufferPool`]): a fresh megabyte buffer costs the kernel a page
//! fault and a cleared page per 4 KiB, several times the base64 encoding
//! itself when many sends are in flight.

use std::sync::{LazyLock, Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::Simd;
use base64::engine::general_purpose::PAD;
use bytes::{Bytes, BytesMut};
use g360_mail_core::{Attachment, Result};
use serde::Serialize;

use crate::graph_model::GraphOutgoing;

/// The `sendMail` body of a message, or its size when it is over the limit
/// (then nothing was built).
#[derive(Debug)]
pub(crate) enum SendMailBody {
    Built(Bytes),
    TooLarge(usize),
}

/// Request bodies from this size on are built in recycled buffers; smaller
/// ones come from the allocator's own free lists at no cost.
const RECYCLE_MIN: usize = 256 * 1024;

/// Buffers of large request bodies (one pool per factory), handed back once
/// a request is over and reused for the next body: memory that is already mapped, so writing a
/// body causes no page faults. Bounded: at most [`BufferPool::MAX_BUFFERS`]
/// buffers and [`BufferPool::MAX_BYTES`] bytes wait in it; what does not fit
/// goes back to the allocator.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    free: Mutex<Vec<BytesMut>>,
}

impl BufferPool {
    /// Buffers kept at most.
    pub(crate) const MAX_BUFFERS: usize = 8;
    /// Bytes kept at most (capacity of the buffers in the pool).
    pub(crate) const MAX_BYTES: usize = 16 * 1024 * 1024;

    /// A buffer of exactly `len` bytes, of unspecified content: a recycled
    /// one when one is large enough, else a new zeroed one (the allocator's
    /// zeroed pages, not written by us).
    fn take(&self, len: usize) -> BytesMut {
        if len >= RECYCLE_MIN {
            let recycled = {
                let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
                free.iter().position(|b| b.capacity() >= len).map(|i| free.swap_remove(i))
            };
            if let Some(mut buf) = recycled {
                if buf.len() >= len {
                    buf.truncate(len);
                } else {
                    buf.resize(len, 0);
                }
                return buf;
            }
        }
        BytesMut::zeroed(len)
    }

    /// Takes `body` back once its request is over. Kept only when nothing
    /// else holds it (the HTTP client has dropped its copy) and the pool has
    /// room.
    pub(crate) fn give(&self, body: Bytes) {
        if body.len() < RECYCLE_MIN {
            return;
        }
        let Ok(buf) = body.try_into_mut() else { return };
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        let kept: usize = free.iter().map(BytesMut::capacity).sum();
        if free.len() < Self::MAX_BUFFERS && kept + buf.capacity() <= Self::MAX_BYTES {
            free.push(buf);
        }
    }

    /// Buffers waiting in the pool.
    pub(crate) fn len(&self) -> usize {
        self.free.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
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

/// Writes into a buffer of the exact final size.
struct Cursor<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn next(&mut self, len: usize) -> Result<&mut [u8]> {
        let end = self.pos + len;
        let out = self
            .buf
            .get_mut(self.pos..end)
            .ok_or_else(|| encode_error("the body buffer is too small"))?;
        self.pos = end;
        Ok(out)
    }
}

impl Sink for Cursor<'_> {
    fn raw(&mut self, bytes: &[u8]) {
        // Sized by a `Count` pass over the same values: a short buffer is a
        // bug, caught by the final length check.
        if let Ok(out) = self.next(bytes.len()) {
            out.copy_from_slice(bytes);
        }
    }

    fn json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let mut rest = &mut self.buf[self.pos..];
        let room = rest.len();
        serde_json::to_writer(&mut rest, value).map_err(encode_error)?;
        self.pos += room - rest.len();
        Ok(())
    }

    fn base64(&mut self, data: &[u8]) -> Result<()> {
        let len = base64_len(data.len())?;
        encode_base64(data, self.next(len)?)
    }
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
/// the body would be longer, only its length is computed. A body with
/// attachments is written into a buffer from `pool`; give it back with
/// [`BufferPool::give`] once its request is over.
pub(crate) fn send_mail(
    message: &GraphOutgoing<'_>,
    attachments: &[Attachment],
    limit: Option<usize>,
    pool: &BufferPool,
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
            _ => SendMailBody::Built(out.into()),
        });
    }
    // The message without attachments is small: measure it and the
    // attachments, then write everything into a buffer of the exact size.
    let mut count = Count::default();
    for a in attachments {
        write_attachment(&mut count, a)?;
    }
    // `[` … `]` with commas between, replacing the message's `}`.
    let attachments_len = ATTACHMENTS_OPEN.len() + count.0 + (attachments.len() - 1) + 1;
    let mut head = Count::default();
    head.json(message)?;
    let total = MESSAGE_OPEN.len() + head.0 + attachments_len + SEND_MAIL_CLOSE.len();
    if limit.is_some_and(|l| total > l) {
        return Ok(SendMailBody::TooLarge(total));
    }
    let mut buf = pool.take(total);
    let mut out = Cursor { buf: &mut buf, pos: 0 };
    out.raw(MESSAGE_OPEN);
    out.json(message)?;
    out.pos -= 1; // the message's closing `}`
    out.raw(ATTACHMENTS_OPEN);
    for (i, a) in attachments.iter().enumerate() {
        if i > 0 {
            out.raw(b",");
        }
        write_attachment(&mut out, a)?;
    }
    out.raw(b"]}");
    out.raw(SEND_MAIL_CLOSE);
    if out.pos != total {
        return Err(encode_error("the body did not fill its measured size"));
    }
    Ok(SendMailBody::Built(buf.freeze()))
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

    /// The body serde writes for `msg` with `atts`.
    fn expected(msg: &GraphOutgoing<'_>, atts: &[Attachment]) -> Vec<u8> {
        serde_json::to_vec(&Reference {
            message: WithAttachments {
                message: msg,
                attachments: atts.iter().map(reference).collect(),
            },
            save_to_sent_items: true,
        })
        .unwrap()
    }

    #[test]
    fn same_bytes_as_serde_with_and_without_attachments() {
        let all = attachments();
        let pool = BufferPool::default();
        for n in 0..=all.len() {
            let msg = message("Factura \u{7f} \\ /", "x@y.example");
            let atts = &all[..n];
            let expected = expected(&msg, atts);
            let SendMailBody::Built(got) = send_mail(&msg, atts, None, &pool).unwrap() else {
                panic!("no limit, yet too large");
            };
            assert_eq!(
                String::from_utf8(got.to_vec()).unwrap(),
                String::from_utf8(expected.clone()).unwrap()
            );
            match send_mail(&msg, atts, Some(expected.len()), &pool).unwrap() {
                SendMailBody::Built(b) => assert_eq!(b, expected),
                SendMailBody::TooLarge(_) => panic!("at the limit is not over it"),
            }
            match send_mail(&msg, atts, Some(expected.len() - 1), &pool).unwrap() {
                SendMailBody::TooLarge(len) => assert_eq!(len, expected.len()),
                SendMailBody::Built(_) => panic!("over the limit"),
            }
        }
        for a in &all {
            assert_eq!(file_attachment(a).unwrap(), serde_json::to_vec(&reference(a)).unwrap());
        }
    }

    /// A large attachment, so that its body is built in a pooled buffer.
    fn large(len: usize, seed: u8) -> Attachment {
        let data: Vec<u8> =
            (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
        Attachment::new("grande.pdf", "application/pdf", data).unwrap()
    }

    #[test]
    fn recycled_buffers_give_the_same_bytes_whatever_they_held() {
        let pool = BufferPool::default();
        let msg = message("Factura", "x@y.example");
        // Each body is built in the buffer of the one before (the first is
        // the largest): longer, shorter and equal earlier contents must
        // leave no trace.
        let mut address = None;
        for (len, seed) in [(900_000, 1), (300_000, 2), (600_000, 3), (900_000, 4), (450_001, 5)] {
            let atts = [large(len, seed), large(RECYCLE_MIN, seed)];
            let SendMailBody::Built(got) = send_mail(&msg, &atts, None, &pool).unwrap() else {
                panic!("no limit, yet too large");
            };
            assert!(got == expected(&msg, &atts), "body of {len} bytes differs");
            assert_eq!(*address.get_or_insert(got.as_ptr()), got.as_ptr(), "not reused");
            pool.give(got);
            assert_eq!(pool.len(), 1);
        }
    }

    #[test]
    fn the_pool_reuses_memory_and_stays_bounded() {
        let pool = BufferPool::default();
        let msg = message("Factura", "x@y.example");
        let atts = [large(700_000, 9)];
        let build = |pool: &BufferPool| match send_mail(&msg, &atts, None, pool).unwrap() {
            SendMailBody::Built(b) => b,
            SendMailBody::TooLarge(_) => panic!("no limit, yet too large"),
        };
        // A body handed back is the memory of the next one.
        let first = build(&pool);
        let address = first.as_ptr();
        pool.give(first);
        let second = build(&pool);
        assert_eq!(second.as_ptr(), address, "the buffer was not reused");
        // A body still held elsewhere (a request not over) is not taken.
        let shared = second.clone();
        pool.give(second);
        assert_eq!(pool.len(), 0);
        drop(shared);
        // Small bodies are left to the allocator.
        pool.give(Bytes::from(vec![0; RECYCLE_MIN - 1]));
        assert_eq!(pool.len(), 0);
        // At most MAX_BUFFERS buffers, and at most MAX_BYTES bytes.
        let bodies: Vec<Bytes> = (0..BufferPool::MAX_BUFFERS + 2).map(|_| build(&pool)).collect();
        for b in bodies {
            pool.give(b);
        }
        assert_eq!(pool.len(), BufferPool::MAX_BUFFERS);
        let pool = BufferPool::default();
        let big = BufferPool::MAX_BYTES / 3 + 1;
        for _ in 0..3 {
            pool.give(Bytes::from(vec![7; big]));
        }
        assert_eq!(pool.len(), 2, "a third buffer would pass MAX_BYTES");
    }
}
