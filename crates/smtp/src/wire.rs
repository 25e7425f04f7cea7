//! The byte stream lettre's [`AsyncSmtpConnection`] runs over: a TCP socket
//! we opened (with `TCP_NODELAY`), usually with TLS of ours on top, and the
//! plaintext part of `STARTTLS` done here without reading ahead.
//!
//! Why not lettre's own `starttls`: `AsyncSmtpConnection` reads replies
//! through a `BufReader` and, on `STARTTLS`, swaps the socket under that
//! reader for the TLS stream *without emptying its buffer*. Whatever
//! plaintext arrived together with the server's `220` is then read as the
//! replies to the commands sent over TLS: a man in the middle can forge the
//! `EHLO` capabilities, a `235` to `AUTH` and a final `250` to the message.
//! Here the plaintext replies are read one at a time, any byte after the
//! `220` is refused ([`SmtpError::Injected`]), and lettre gets a stream that
//! is encrypted from its first byte.
//!
//! [`AsyncSmtpConnection`]: lettre::transport::smtp::client::AsyncSmtpConnection

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use lettre::transport::smtp::client::AsyncTokioStream;
use lettre::transport::smtp::commands::{Ehlo, Starttls};
use lettre::transport::smtp::extension::{ClientId, Extension, ServerInfo};
use lettre::transport::smtp::response::Response;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::client::TlsStream;

use crate::error::{SmtpError, Stage};

/// The greeting lettre reads first when it gets a stream on which `STARTTLS`
/// already happened (after `STARTTLS` the server sends no new greeting; the
/// real one came in plaintext). It never comes from the network.
const AFTER_STARTTLS: &[u8] = b"220 g360-mail: TLS started\r\n";

/// The end of the message content, as written after `DATA`.
const END_OF_DATA: u64 = 0x000D_0A2E_0D0A;
/// The bits of the last five bytes written.
const TAIL_MASK: u64 = 0x00FF_FFFF_FFFF;

/// The longest reply line and reply we read in the plaintext part (RFC 5321
/// allows 512 bytes a line; lettre's limits are of the same order).
const MAX_LINE: usize = 4096;
const MAX_REPLY: usize = 64 * 1024;

enum Inner {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// A connection's stream: plain TCP (only with `security = "none"`) or TLS
/// of ours, optionally behind a synthetic greeting, recording the last bytes
/// written so that a failure after `DATA` can tell whether the end of the
/// message went out ([`Tail::end_of_data_sent`]).
pub(crate) struct Wire {
    prefix: &'static [u8],
    read: usize,
    inner: Inner,
    tail: Tail,
}

impl fmt::Debug for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wire")
            .field("tls", &matches!(self.inner, Inner::Tls(_)))
            .finish_non_exhaustive()
    }
}

/// The last five bytes written on a [`Wire`], shared with the session.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tail(Arc<AtomicU64>);

impl Tail {
    fn record(&self, written: &[u8]) {
        let mut tail = self.0.load(Ordering::Relaxed);
        for byte in &written[written.len().saturating_sub(5)..] {
            tail = ((tail << 8) | u64::from(*byte)) & TAIL_MASK;
        }
        self.0.store(tail, Ordering::Relaxed);
    }

    /// Whether the last bytes handed to the stream were `CRLF . CRLF`, the
    /// end of a message: from then on the server may have accepted it.
    /// Dot-stuffing makes this sequence impossible inside the content.
    pub(crate) fn end_of_data_sent(&self) -> bool {
        self.0.load(Ordering::Relaxed) == END_OF_DATA
    }
}

impl Wire {
    /// Plain TCP (`security = "none"`).
    pub(crate) fn plain(stream: TcpStream) -> Wire {
        Wire { prefix: b"", read: 0, inner: Inner::Plain(stream), tail: Tail::default() }
    }

    /// Implicit TLS: the server's greeting comes over TLS.
    pub(crate) fn tls(stream: TlsStream<TcpStream>) -> Wire {
        Wire { prefix: b"", read: 0, inner: Inner::Tls(Box::new(stream)), tail: Tail::default() }
    }

    /// TLS after `STARTTLS`: lettre first reads a local greeting.
    pub(crate) fn after_starttls(stream: TlsStream<TcpStream>) -> Wire {
        Wire { prefix: AFTER_STARTTLS, ..Wire::tls(stream) }
    }

    /// Whether the stream is encrypted.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.inner, Inner::Tls(_))
    }

    /// The record of the last bytes written.
    pub(crate) fn tail(&self) -> Tail {
        self.tail.clone()
    }
}

impl AsyncRead for Wire {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.read < this.prefix.len() {
            let rest = &this.prefix[this.read..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.read += n;
            return Poll::Ready(Ok(()));
        }
        match &mut this.inner {
            Inner::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Wire {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = match &mut this.inner {
            Inner::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        };
        if let Poll::Ready(Ok(n)) = result {
            this.tail.record(&buf[..n]);
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::Plain(s) => Pin::new(s).poll_flush(cx),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl AsyncTokioStream for Wire {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        match &self.inner {
            Inner::Plain(s) => s.peer_addr(),
            Inner::Tls(s) => s.get_ref().0.peer_addr(),
        }
    }
}

/// The plaintext part of `STARTTLS` (RFC 3207) on a fresh connection: reads
/// the greeting, sends `EHLO`, checks that `STARTTLS` is offered, sends it
/// and reads the `220`, each reply within `limit` of its command. On
/// success the socket holds nothing unread: the next byte from the server is
/// the TLS handshake's.
pub(crate) async fn starttls_plaintext(
    stream: &mut TcpStream,
    hello: &ClientId,
    limit: std::time::Duration,
    deadline: Instant,
) -> Result<(), SmtpError> {
    let by = |from: Instant| (from + limit).min(deadline);
    let greeting = read_reply(stream, Stage::Greeting, by(Instant::now()), deadline).await?;
    expect_positive(&greeting, Stage::Greeting)?;
    write(stream, Ehlo::new(hello.clone()).to_string().as_bytes(), Stage::Greeting, deadline)
        .await?;
    let ehlo = read_reply(stream, Stage::Greeting, by(Instant::now()), deadline).await?;
    expect_positive(&ehlo, Stage::Greeting)?;
    let info = ServerInfo::from_response(&ehlo).map_err(|e| SmtpError::Protocol {
        stage: Stage::Greeting,
        detail: format!("unreadable EHLO reply: {e}"),
    })?;
    if !info.supports_feature(Extension::StartTls) {
        // A courtesy QUIT, without waiting for any answer.
        let _ = timeout_at(by(Instant::now()), stream.write_all(b"QUIT\r\n")).await;
        return Err(SmtpError::NoStarttls);
    }
    write(stream, Starttls.to_string().as_bytes(), Stage::Tls, deadline).await?;
    let ready = read_reply(stream, Stage::Tls, by(Instant::now()), deadline).await?;
    expect_positive(&ready, Stage::Tls)?;
    if !ready.has_code(220) {
        return Err(SmtpError::Protocol {
            stage: Stage::Tls,
            detail: format!("STARTTLS answered {} instead of 220", u16::from(ready.code())),
        });
    }
    Ok(())
}

fn expect_positive(reply: &Response, stage: Stage) -> Result<(), SmtpError> {
    if reply.is_positive() {
        return Ok(());
    }
    Err(SmtpError::Reply {
        stage,
        code: reply.code().into(),
        text: reply.message().collect::<Vec<_>>().join(" "),
        recipient: None,
    })
}

async fn write(
    stream: &mut TcpStream,
    bytes: &[u8],
    stage: Stage,
    deadline: Instant,
) -> Result<(), SmtpError> {
    match timeout_at(deadline, stream.write_all(bytes)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(source)) => Err(SmtpError::Io { stage, source }),
        Err(_) => Err(SmtpError::Timeout { stage, overall: true }),
    }
}

/// Reads one whole reply and refuses any byte that came after it: before
/// TLS, the server has no reason to send anything we did not ask for, and
/// after the `220` to `STARTTLS` such bytes are an injection.
async fn read_reply(
    stream: &mut TcpStream,
    stage: Stage,
    by: Instant,
    deadline: Instant,
) -> Result<Response, SmtpError> {
    let mut buf: Vec<u8> = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let n = match timeout_at(by, stream.read(&mut chunk)).await {
            Ok(Ok(0)) => {
                return Err(SmtpError::Io {
                    stage,
                    source: io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection",
                    ),
                });
            }
            Ok(Ok(n)) => n,
            Ok(Err(source)) => return Err(SmtpError::Io { stage, source }),
            Err(_) => return Err(SmtpError::Timeout { stage, overall: by >= deadline }),
        };
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = reply_end(&buf, stage)? {
            if end < buf.len() {
                return Err(SmtpError::Injected { stage, bytes: buf.len() - end });
            }
            let text = std::str::from_utf8(&buf).map_err(|_| SmtpError::Protocol {
                stage,
                detail: "the reply is not UTF-8".to_owned(),
            })?;
            return Response::from_str(text).map_err(|e| SmtpError::Protocol {
                stage,
                detail: format!("unreadable reply: {e}"),
            });
        }
        if buf.len() > MAX_REPLY {
            return Err(SmtpError::Protocol { stage, detail: "the reply is too long".to_owned() });
        }
    }
}

/// The length of the first complete reply in `buf` (through the CRLF of its
/// last line: a line whose code is followed by a space, or by nothing), or
/// `None` while it is incomplete.
fn reply_end(buf: &[u8], stage: Stage) -> Result<Option<usize>, SmtpError> {
    let mut start = 0;
    while let Some(pos) = buf[start..].iter().position(|b| *b == b'\n') {
        let line = &buf[start..start + pos];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > MAX_LINE {
            return Err(SmtpError::Protocol {
                stage,
                detail: "a reply line is too long".to_owned(),
            });
        }
        start += pos + 1;
        if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
            return Err(SmtpError::Protocol {
                stage,
                detail: "a reply line does not start with a code".to_owned(),
            });
        }
        match line.get(3) {
            None | Some(b' ') => return Ok(Some(start)),
            Some(b'-') => {}
            Some(_) => {
                return Err(SmtpError::Protocol {
                    stage,
                    detail: "a reply line has no separator after its code".to_owned(),
                });
            }
        }
    }
    if buf.len() - start > MAX_LINE {
        return Err(SmtpError::Protocol { stage, detail: "a reply line is too long".to_owned() });
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_end_of_a_reply() {
        let end = |b: &[u8]| reply_end(b, Stage::Greeting).unwrap();
        assert_eq!(end(b"220 ready\r\n"), Some(11));
        assert_eq!(end(b"250-a\r\n250 b\r\n"), Some(14));
        assert_eq!(end(b"250-a\r\n250 b"), None);
        assert_eq!(end(b"220\r\n"), Some(5));
        assert_eq!(end(b"220 go\r\n250 forged\r\n"), Some(8), "bytes after the reply are seen");
        assert!(reply_end(b"hello\r\n", Stage::Greeting).is_err());
        assert!(reply_end(&[b'2'; MAX_LINE + 10], Stage::Greeting).is_err());
    }

    #[test]
    fn the_tail_sees_the_end_of_data_only_as_the_last_bytes() {
        let tail = Tail::default();
        tail.record(b"DATA\r\n");
        assert!(!tail.end_of_data_sent());
        tail.record(b"Subject: x\r\n\r\n..\r\nbody");
        assert!(!tail.end_of_data_sent());
        tail.record(b"\r\n.");
        assert!(!tail.end_of_data_sent());
        tail.record(b"\r\n");
        assert!(tail.end_of_data_sent());
        tail.record(b"QUIT\r\n");
        assert!(!tail.end_of_data_sent());
    }
}
