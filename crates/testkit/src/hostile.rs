//! [`HostileHttpServer`]: a scripted HTTP/1.1 server on loopback for the
//! answers no honest server gives: redirects to another origin, endless
//! bodies, absurd `Retry-After` and `expires_in`, silence, one byte a second.
//!
//! Every request is read in full and recorded; a script picks the [`Reply`].
//! Each connection serves one request and is then closed, so that a reply
//! without `Content-Length` ends at the close. Nothing large is allocated: an
//! endless body is written from one small buffer.
//!
//! ```no_run
//! # async fn demo() {
//! use g360_mail_testkit::hostile::{HostileHttpServer, Reply};
//!
//! let elsewhere = HostileHttpServer::start(|_| Reply::json(200, "{}")).await;
//! let target = format!("{}/stolen", elsewhere.url());
//! let server = HostileHttpServer::start(move |_| Reply::redirect(307, &target)).await;
//! // ... point the client at server.url(), then:
//! assert_eq!(elsewhere.connections(), 0);
//! # }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Most bytes of a request head read before giving up on it.
const MAX_HEAD: usize = 64 * 1024;

/// One request the server read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, as sent.
    pub body: Vec<u8>,
}

impl SeenRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

/// What the server does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// A complete answer with `Content-Length`.
    Full {
        /// The status code.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
    /// A status and headers, then `len` bytes of `fill` written from a small
    /// buffer until done or the client goes away. With `declare_length` the
    /// head carries `Content-Length: len`; without, the body ends at the
    /// close of the connection.
    Endless {
        /// The status code.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// How many body bytes to offer.
        len: u64,
        /// The byte repeated.
        fill: u8,
        /// Whether to announce `len` as `Content-Length`.
        declare_length: bool,
    },
    /// Reads the request and never answers; the connection stays open
    /// until the server is dropped.
    Silent,
    /// The head at once, then the body one byte every `every`.
    Trickle {
        /// The status code.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
        /// The pause before each byte.
        every: Duration,
    },
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: &str) -> Reply {
        Reply::Full {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    /// A redirect to `location`.
    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::Full {
            status,
            headers: vec![("location".into(), location.into())],
            body: Vec::new(),
        }
    }

    /// Adds a header to a [`Reply::Full`], [`Reply::Endless`] or
    /// [`Reply::Trickle`].
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        match &mut self {
            Reply::Full { headers, .. }
            | Reply::Endless { headers, .. }
            | Reply::Trickle { headers, .. } => headers.push((name.into(), value.into())),
            Reply::Silent => {}
        }
        self
    }
}

type Script = dyn Fn(&SeenRequest) -> Reply + Send + Sync;

#[derive(Default)]
struct Counters {
    requests: Mutex<Vec<SeenRequest>>,
    connections: AtomicU64,
    body_bytes: AtomicU64,
}

/// A scripted HTTP server on `127.0.0.1`, stopped when dropped.
pub struct HostileHttpServer {
    url: String,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for HostileHttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostileHttpServer").field("url", &self.url).finish_non_exhaustive()
    }
}

impl HostileHttpServer {
    /// Listens on a free loopback port; `script` answers every request.
    pub async fn start(script: impl Fn(&SeenRequest) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let counters = Arc::new(Counters::default());
        let script: Arc<Script> = Arc::new(script);
        let c = counters.clone();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                c.connections.fetch_add(1, Ordering::SeqCst);
                conns.spawn(serve(stream, script.clone(), c.clone()));
            }
        });
        HostileHttpServer { url, counters, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Every request read so far.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.counters.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Connections accepted so far (a client that never connects leaves 0).
    pub fn connections(&self) -> u64 {
        self.counters.connections.load(Ordering::SeqCst)
    }

    /// Body bytes of [`Reply::Endless`] and [`Reply::Trickle`] answers the
    /// client accepted so far.
    pub fn body_bytes_written(&self) -> u64 {
        self.counters.body_bytes.load(Ordering::SeqCst)
    }
}

impl Drop for HostileHttpServer {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every
        // connection task (silent ones included).
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, script: Arc<Script>, counters: Arc<Counters>) {
    let Some(req) = read_request(&mut stream).await else {
        return;
    };
    counters.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(req.clone());
    match script(&req) {
        Reply::Full { status, headers, body } => {
            let head = head(status, &headers, Some(body.len() as u64));
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&body).await;
            let _ = stream.shutdown().await;
        }
        Reply::Endless { status, headers, len, fill, declare_length } => {
            let head = head(status, &headers, declare_length.then_some(len));
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = vec![fill; 64 * 1024];
            let mut left = len;
            while left > 0 {
                let n = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
                if stream.write_all(&chunk[..n]).await.is_err() {
                    return;
                }
                counters.body_bytes.fetch_add(n as u64, Ordering::SeqCst);
                left -= n as u64;
            }
            let _ = stream.shutdown().await;
        }
        Reply::Silent => {
            // Keep the connection open, reading (and dropping) whatever comes.
            let mut sink = [0u8; 1024];
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            std::future::pending::<()>().await;
        }
        Reply::Trickle { status, headers, body, every } => {
            let head = head(status, &headers, Some(body.len() as u64));
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for b in body {
                tokio::time::sleep(every).await;
                if stream.write_all(&[b]).await.is_err() || stream.flush().await.is_err() {
                    return;
                }
                counters.body_bytes.fetch_add(1, Ordering::SeqCst);
            }
            let _ = stream.shutdown().await;
        }
    }
}

fn head(status: u16, headers: &[(String, String)], len: Option<u64>) -> String {
    let mut h = format!("HTTP/1.1 {status} Scripted\r\nconnection: close\r\n");
    if let Some(n) = len {
        h.push_str(&format!("content-length: {n}\r\n"));
    }
    for (name, value) in headers {
        h.push_str(&format!("{name}: {value}\r\n"));
    }
    h.push_str("\r\n");
    h
}

async fn read_request(stream: &mut TcpStream) -> Option<SeenRequest> {
    let mut buf = Vec::with_capacity(4096);
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[end + 4..].to_vec();
    while body.len() < len {
        let mut chunk = vec![0u8; (len - body.len()).min(64 * 1024)];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(SeenRequest { method, target, headers, body })
}
