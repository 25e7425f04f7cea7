//! [`FakeSmtpServer`]: a scripted SMTP server for replies no real test
//! server gives on demand (Office 365's texts, hung, slow or closed
//! connections, and hostile peers such as a man in the middle that injects
//! replies around `STARTTLS`).

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::smtp::Certs;

/// What the [`FakeSmtpServer`] does with one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Answers with these lines (CRLF added), all in one write. A last line
    /// starting with `354` switches to reading a message body.
    Lines(Vec<String>),
    /// Answers with this line, then closes the connection.
    Last(String),
    /// Never answers (the connection stays open).
    Hang,
    /// Closes the connection without answering.
    Close,
    /// Answers with these lines, then neither reads nor writes again (the
    /// connection stays open): a server that stops taking a message body
    /// after its `354`, so that the client's writes block.
    Stall(Vec<String>),
    /// Answers with these lines (CRLF added) in one write, so that they
    /// arrive in one TCP segment, then starts TLS as the server (the server
    /// must have been started with [`FakeSmtpServer::start_tls`]). With a
    /// `220` first and more lines after it, this is a man in the middle
    /// injecting plaintext replies that a careless client reads as if they
    /// came over TLS.
    StartTls(Vec<String>),
    /// Waits, then does the other reply.
    Delay(Duration, Box<Reply>),
    /// Writes `text` (CRLF added) one byte at a time, one byte every
    /// `every`: a trickling server.
    Trickle {
        /// The reply.
        text: String,
        /// The pause before each byte.
        every: Duration,
    },
}

impl Reply {
    /// Answers with one line.
    pub fn line(text: &str) -> Reply {
        Reply::Lines(vec![text.to_owned()])
    }

    /// Answers with these lines.
    pub fn lines(lines: &[&str]) -> Reply {
        Reply::Lines(lines.iter().map(|l| (*l).to_owned()).collect())
    }
}

type Transcript = Arc<Mutex<Vec<String>>>;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A scripted SMTP server on `127.0.0.1`, stopped (no new connections) when
/// dropped.
///
/// The script is called with `<connect>` for the greeting, with every
/// command line the client sends, and with `<end-of-data>` after a message
/// body; it answers `DATA` itself (a `354` reply switches to reading the
/// body, whose lines are not passed to it). Every input is kept in the
/// [`transcript`](Self::transcript), and so is `<tls>` once a
/// [`Reply::StartTls`] handshake succeeded (`<tls-failed>` when it did not):
/// what comes after `<tls>` travelled encrypted.
///
/// ```no_run
/// # async fn demo() {
/// use g360_mail_testkit::smtp::{FakeSmtpServer, Reply};
///
/// let server = FakeSmtpServer::start(|line| match line {
///     "<connect>" => Reply::line("421 4.3.2 Service not available"),
///     _ => Reply::Close,
/// })
/// .await;
/// // ... point the SMTP provider at 127.0.0.1:server.port(), send, then:
/// assert_eq!(server.transcript(), ["<connect>"]);
/// # }
/// ```
#[derive(Debug)]
pub struct FakeSmtpServer {
    port: u16,
    transcript: Transcript,
    task: JoinHandle<()>,
}

impl Drop for FakeSmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeSmtpServer {
    /// Starts the server on a free loopback port; `script` answers every
    /// input of every connection.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound (test helper).
    pub async fn start(script: impl Fn(&str) -> Reply + Send + Sync + 'static) -> FakeSmtpServer {
        FakeSmtpServer::start_with(None, script).await
    }

    /// [`start`](Self::start) for a server that can answer
    /// [`Reply::StartTls`] with the certificate of `certs` (valid for
    /// `localhost` and `127.0.0.1`, signed by `certs.ca`).
    ///
    /// # Panics
    ///
    /// When the certificate or key cannot be read, or no loopback port can
    /// be bound (test helper).
    pub async fn start_tls(
        certs: &Certs,
        script: impl Fn(&str) -> Reply + Send + Sync + 'static,
    ) -> FakeSmtpServer {
        FakeSmtpServer::start_with(Some(acceptor(&certs.cert, &certs.key)), script).await
    }

    async fn start_with(
        tls: Option<TlsAcceptor>,
        script: impl Fn(&str) -> Reply + Send + Sync + 'static,
    ) -> FakeSmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("a bound address").port();
        let transcript = Transcript::default();
        let script = Arc::new(script);
        let log = transcript.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let _ = socket.set_nodelay(true);
                tokio::spawn(serve(Box::new(socket), script.clone(), log.clone(), tls.clone()));
            }
        });
        FakeSmtpServer { port, transcript, task }
    }

    /// The port it listens on (on `127.0.0.1`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every input so far, of every connection, in arrival order:
    /// `<connect>`, command lines, `<tls>`, `<end-of-data>`.
    pub fn transcript(&self) -> Vec<String> {
        self.lock().clone()
    }

    /// Forgets the transcript so far.
    pub fn clear_transcript(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, Vec<String>> {
        self.transcript.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn acceptor(cert: &Path, key: &Path) -> TlsAcceptor {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", cert.display()));
    let key = PrivateKeyDer::from_pem_file(key)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", key.display()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("default TLS versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("a usable test certificate");
    TlsAcceptor::from(Arc::new(config))
}

async fn write_lines(conn: &mut BufReader<Box<dyn Io>>, lines: &[String]) -> bool {
    let text: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
    conn.get_mut().write_all(text.as_bytes()).await.is_ok() && conn.get_mut().flush().await.is_ok()
}

async fn serve(
    socket: Box<dyn Io>,
    script: Arc<impl Fn(&str) -> Reply + Send + Sync + 'static>,
    log: Transcript,
    tls: Option<TlsAcceptor>,
) {
    let push = |entry: &str| log.lock().unwrap_or_else(|e| e.into_inner()).push(entry.to_owned());
    let mut conn = BufReader::new(socket);
    let mut input = "<connect>".to_owned();
    let mut in_data = false;
    loop {
        push(&input);
        let mut reply = script(&input);
        while let Reply::Delay(pause, next) = reply {
            tokio::time::sleep(pause).await;
            reply = *next;
        }
        match reply {
            Reply::Lines(lines) => {
                if !write_lines(&mut conn, &lines).await {
                    return;
                }
                if lines.last().is_some_and(|l| l.starts_with("354")) {
                    in_data = true;
                }
            }
            Reply::Last(line) => {
                let _ = write_lines(&mut conn, &[line]).await;
                return;
            }
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            Reply::Close => return,
            Reply::Stall(lines) => {
                let _ = write_lines(&mut conn, &lines).await;
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            Reply::StartTls(lines) => {
                if !write_lines(&mut conn, &lines).await {
                    return;
                }
                let acceptor =
                    tls.clone().expect("Reply::StartTls needs FakeSmtpServer::start_tls");
                match acceptor.accept(conn.into_inner()).await {
                    Ok(stream) => {
                        push("<tls>");
                        conn = BufReader::new(Box::new(stream));
                    }
                    Err(_) => {
                        push("<tls-failed>");
                        return;
                    }
                }
            }
            Reply::Trickle { text, every } => {
                for byte in text.bytes().chain(*b"\r\n") {
                    tokio::time::sleep(every).await;
                    if conn.get_mut().write_all(&[byte]).await.is_err() {
                        return;
                    }
                    let _ = conn.get_mut().flush().await;
                }
            }
            Reply::Delay(..) => unreachable!("delays are unwrapped above"),
        }
        loop {
            let mut line = String::new();
            match conn.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = line.trim_end_matches(['\r', '\n']).to_owned();
            if in_data {
                if line == "." {
                    in_data = false;
                    input = "<end-of-data>".to_owned();
                    break;
                }
                continue;
            }
            input = line;
            break;
        }
    }
}
