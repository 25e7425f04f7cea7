//! [`FakeSmtpServer`]: a scripted SMTP server for replies no real test
//! server gives on demand (Office 365's texts, hung or closed connections).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What the [`FakeSmtpServer`] does with one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Answers with these lines (CRLF added). A last line starting with
    /// `354` switches to reading a message body.
    Lines(Vec<String>),
    /// Answers with this line, then closes the connection.
    Last(String),
    /// Never answers (the connection stays open).
    Hang,
    /// Closes the connection without answering.
    Close,
}

impl Reply {
    /// Answers with one line.
    pub fn line(text: &str) -> Reply {
        Reply::Lines(vec![text.to_owned()])
    }
}

type Transcript = Arc<Mutex<Vec<String>>>;

/// A scripted SMTP server on `127.0.0.1`, stopped (no new connections) when
/// dropped.
///
/// The script is called with `<connect>` for the greeting, with every
/// command line the client sends, and with `<end-of-data>` after a message
/// body; it answers `DATA` itself (a `354` reply switches to reading the
/// body, whose lines are not passed to it). Every input is kept in the
/// [`transcript`](Self::transcript).
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
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("a bound address").port();
        let transcript = Transcript::default();
        let script = Arc::new(script);
        let log = transcript.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, script.clone(), log.clone()));
            }
        });
        FakeSmtpServer { port, transcript, task }
    }

    /// The port it listens on (on `127.0.0.1`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every input so far, of every connection, in arrival order:
    /// `<connect>`, command lines, `<end-of-data>`.
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

async fn serve(
    socket: tokio::net::TcpStream,
    script: Arc<impl Fn(&str) -> Reply + Send + Sync + 'static>,
    log: Transcript,
) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut input = "<connect>".to_owned();
    let mut in_data = false;
    loop {
        log.lock().unwrap_or_else(|e| e.into_inner()).push(input.clone());
        match script(&input) {
            Reply::Lines(reply) => {
                for line in &reply {
                    if write.write_all(format!("{line}\r\n").as_bytes()).await.is_err() {
                        return;
                    }
                }
                if reply.last().is_some_and(|l| l.starts_with("354")) {
                    in_data = true;
                }
            }
            Reply::Last(line) => {
                let _ = write.write_all(format!("{line}\r\n").as_bytes()).await;
                return;
            }
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            Reply::Close => return,
        }
        loop {
            let Ok(Some(line)) = lines.next_line().await else { return };
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
