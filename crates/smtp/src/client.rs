//! The SMTP dialogue on lettre's [`AsyncSmtpConnection`], one step at a time so
//! that every failure knows its [`Stage`], and a small pool of authenticated
//! connections.
//!
//! lettre's `AsyncSmtpTransport` would pool too, but its errors do not say
//! whether the message content had been sent when a connection failed, and
//! that is what decides between "send again" and "outcome unknown".

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use g360_mail_core::Secret;
use lettre::Address;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Quit, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use tokio::time::timeout;

use crate::config::{Security, SmtpAuth};
use crate::error::{SmtpError, Stage, connect_stage};

/// How to log in.
#[derive(Clone)]
pub(crate) enum Login {
    /// No `AUTH`.
    None,
    /// `AUTH` with the first of `mechanisms` the server offers.
    Sasl { mechanisms: Vec<Mechanism>, username: String, secret: Secret },
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Login::None => f.write_str("None"),
            Login::Sasl { mechanisms, username, .. } => f
                .debug_struct("Sasl")
                .field("mechanisms", mechanisms)
                .field("username", username)
                .finish_non_exhaustive(),
        }
    }
}

/// What a connection attempt got through, for `verify`.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    pub(crate) connected: bool,
    pub(crate) tls: bool,
    pub(crate) server: Option<String>,
    pub(crate) mechanism: Option<Mechanism>,
}

/// Everything needed to open an authenticated connection.
pub(crate) struct Connector {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) security: Security,
    pub(crate) auth: SmtpAuth,
    pub(crate) tls: Option<TlsParameters>,
    pub(crate) hello: ClientId,
    pub(crate) login: Login,
    pub(crate) connect_timeout: Duration,
    pub(crate) command_timeout: Duration,
    pub(crate) data_timeout: Duration,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

/// An empty line: the answer to an XOAUTH2 error challenge.
struct EmptyLine;

impl fmt::Display for EmptyLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\r\n")
    }
}

/// `AUTH XOAUTH2` with its initial response.
struct Xoauth2<'a>(&'a str);

impl fmt::Display for Xoauth2<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AUTH XOAUTH2 {}\r\n", self.0)
    }
}

async fn step<T>(
    stage: Stage,
    limit: Duration,
    future: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
) -> Result<T, SmtpError> {
    match timeout(limit, future).await {
        Ok(result) => result.map_err(|e| SmtpError::from_lettre(stage, e, None)),
        Err(_) => Err(SmtpError::Timeout { stage }),
    }
}

impl Connector {
    /// `host:port`, for error context.
    pub(crate) fn server(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The login name, when there is a login.
    pub(crate) fn username(&self) -> &str {
        match &self.login {
            Login::None => "",
            Login::Sasl { username, .. } => username,
        }
    }

    /// Resolves, connects, secures, greets and logs in.
    pub(crate) async fn open(
        &self,
        progress: &mut Progress,
    ) -> Result<AsyncSmtpConnection, SmtpError> {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> =
            match timeout(self.connect_timeout, tokio::net::lookup_host((host, self.port))).await {
                Ok(Ok(addrs)) => addrs.collect(),
                Ok(Err(e)) => return Err(SmtpError::Resolve(e)),
                Err(_) => return Err(SmtpError::Timeout { stage: Stage::Resolve }),
            };
        let implicit = self.security == Security::Tls;
        let mut conn = if implicit {
            self.open_implicit_tls(&addrs, progress).await?
        } else {
            // The same budget as with implicit TLS: the connect, then the
            // greeting and EHLO within what is left of both timeouts.
            let deadline = tokio::time::Instant::now()
                + self.connect_timeout.saturating_add(self.command_timeout);
            let stream = connect_tcp(&addrs, self.connect_timeout).await?;
            progress.connected = true;
            let greet = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello);
            match tokio::time::timeout_at(deadline, greet).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(e)) => {
                    return Err(SmtpError::from_lettre(connect_stage(&e, false), e, None));
                }
                Err(_) => return Err(SmtpError::Timeout { stage: Stage::Greeting }),
            }
        };
        progress.connected = true;
        progress.tls = implicit;
        if self.security == Security::Starttls {
            if !conn.server_info().supports_feature(Extension::StartTls) {
                conn.abort().await;
                return Err(SmtpError::NoStarttls);
            }
            let Some(tls) = self.tls.clone() else {
                return Err(SmtpError::NoStarttls);
            };
            step(Stage::Tls, self.command_timeout, conn.starttls(tls, &self.hello)).await?;
            progress.tls = true;
        }
        progress.server = Some(describe_server(&conn));
        if let Login::Sasl { mechanisms, username, secret } = &self.login {
            let info = conn.server_info();
            let Some(mechanism) = info.get_auth_mechanism(mechanisms) else {
                let offered = [Mechanism::Plain, Mechanism::Login, Mechanism::Xoauth2]
                    .into_iter()
                    .filter(|m| info.supports_auth_mechanism(*m))
                    .map(|m| m.to_string())
                    .collect::<Vec<_>>()
                    .join(" ");
                let _ = timeout(Duration::from_secs(2), conn.quit()).await;
                return Err(SmtpError::NoAuthMechanism { wanted: self.auth, offered });
            };
            let result = if mechanism == Mechanism::Xoauth2 {
                self.xoauth2(&mut conn, username, secret).await
            } else {
                let credentials = Credentials::new(username.clone(), secret.expose().to_owned());
                step(Stage::Auth, self.command_timeout, conn.auth(&[mechanism], &credentials))
                    .await
                    .map(drop)
            };
            if let Err(e) = result {
                let _ = timeout(Duration::from_secs(2), conn.quit()).await;
                return Err(e);
            }
            progress.mechanism = Some(mechanism);
        }
        Ok(conn)
    }

    /// Implicit TLS: lettre connects, shakes hands, reads the greeting and
    /// sends EHLO in one call. lettre has no public way to run its TLS over a
    /// stream of ours, so this socket keeps lettre's defaults (no
    /// `TCP_NODELAY`).
    async fn open_implicit_tls(
        &self,
        addrs: &[SocketAddr],
        progress: &mut Progress,
    ) -> Result<AsyncSmtpConnection, SmtpError> {
        // lettre's own timeout covers only the TCP connect.
        let connect = AsyncSmtpConnection::connect_tokio1(
            addrs,
            Some(self.connect_timeout),
            &self.hello,
            self.tls.clone(),
            None,
        );
        // lettre's connect timeout ends first when the TCP connect hangs, so
        // when this outer one ends, the connection was up.
        let limit = self.connect_timeout.saturating_add(self.command_timeout);
        match timeout(limit, connect).await {
            Ok(Ok(conn)) => {
                progress.connected = true;
                Ok(conn)
            }
            Ok(Err(e)) => {
                let stage = connect_stage(&e, true);
                progress.connected = stage > Stage::Connect;
                progress.tls = stage > Stage::Tls;
                Err(SmtpError::from_lettre(stage, e, None))
            }
            Err(_) => {
                progress.connected = true;
                Err(SmtpError::Timeout { stage: Stage::Greeting })
            }
        }
    }

    /// XOAUTH2 by hand: on a bad token the server sends a 334 challenge with
    /// a JSON error that must be answered with an empty line before the
    /// final 535, which lettre's `auth` does not do.
    async fn xoauth2(
        &self,
        conn: &mut AsyncSmtpConnection,
        username: &str,
        token: &Secret,
    ) -> Result<(), SmtpError> {
        let initial = base64::engine::general_purpose::STANDARD
            .encode(format!("user={username}\x01auth=Bearer {}\x01\x01", token.expose()));
        let reply =
            step(Stage::Auth, self.command_timeout, conn.command(Xoauth2(&initial))).await?;
        if reply.has_code(334) {
            step(Stage::Auth, self.command_timeout, conn.command(EmptyLine)).await?;
        }
        Ok(())
    }

    /// One mail transaction on an open connection: `MAIL FROM`, `RCPT TO` for
    /// each recipient, `DATA` and the content. Returns the final reply.
    pub(crate) async fn transact(
        &self,
        conn: &mut AsyncSmtpConnection,
        from: &Address,
        recipients: &[Address],
        content: &[u8],
    ) -> Result<Response, SmtpError> {
        let info = conn.server_info();
        let mut parameters = Vec::new();
        let non_ascii_address =
            std::iter::once(from).chain(recipients).any(|a| !AsRef::<str>::as_ref(a).is_ascii());
        if non_ascii_address {
            if !info.supports_feature(Extension::SmtpUtfEight) {
                return Err(SmtpError::MissingExtension {
                    extension: "SMTPUTF8",
                    stage: Stage::MailFrom,
                });
            }
            parameters.push(MailParameter::SmtpUtfEight);
        }
        if !content.is_ascii() {
            if !info.supports_feature(Extension::EightBitMime) {
                return Err(SmtpError::MissingExtension {
                    extension: "8BITMIME",
                    stage: Stage::MailFrom,
                });
            }
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        step(
            Stage::MailFrom,
            self.command_timeout,
            conn.command(Mail::new(Some(from.clone()), parameters)),
        )
        .await?;
        for rcpt in recipients {
            match timeout(self.command_timeout, conn.command(Rcpt::new(rcpt.clone(), vec![]))).await
            {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    return Err(SmtpError::from_lettre(
                        Stage::RcptTo,
                        e,
                        Some(AsRef::<str>::as_ref(rcpt)),
                    ));
                }
                Err(_) => return Err(SmtpError::Timeout { stage: Stage::RcptTo }),
            }
        }
        step(Stage::Data, self.command_timeout, conn.command(Data)).await?;
        step(Stage::Content, self.data_timeout, conn.message(content)).await
    }

    /// Ends a connection politely, without waiting long for the server.
    pub(crate) async fn close(conn: &mut AsyncSmtpConnection) {
        if !conn.has_broken() {
            let _ = timeout(Duration::from_secs(2), conn.command(Quit)).await;
        }
    }
}

/// Opens a TCP connection to the first of `addrs` that accepts one within
/// `limit` (each address has its own `limit`, as lettre does), with
/// `TCP_NODELAY`: SMTP is request and reply, and lettre writes the end of a
/// message (`\r\n.\r\n`) apart from its content, so with Nagle's algorithm
/// that small write would wait for the server's delayed ACK (about 40 ms on
/// Linux) before the server could answer.
pub(crate) async fn connect_tcp(
    addrs: &[SocketAddr],
    limit: Duration,
) -> Result<tokio::net::TcpStream, SmtpError> {
    let mut last = None;
    for addr in addrs {
        match timeout(limit, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                stream.set_nodelay(true).map_err(SmtpError::Connect)?;
                return Ok(stream);
            }
            Ok(Err(e)) => last = Some(e),
            Err(_) => {
                last = Some(io::Error::new(io::ErrorKind::TimedOut, "connection timed out"));
            }
        }
    }
    Err(SmtpError::Connect(last.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, "the host name resolved to no address")
    })))
}

/// `name (STARTTLS, AUTH PLAIN LOGIN, 8BITMIME)`: what `EHLO` told us.
fn describe_server(conn: &AsyncSmtpConnection) -> String {
    let info = conn.server_info();
    let mut features = Vec::new();
    let auth: Vec<String> = [Mechanism::Plain, Mechanism::Login, Mechanism::Xoauth2]
        .into_iter()
        .filter(|m| info.supports_auth_mechanism(*m))
        .map(|m| m.to_string())
        .collect();
    if !auth.is_empty() {
        features.push(format!("AUTH {}", auth.join(" ")));
    }
    for (ext, name) in
        [(Extension::EightBitMime, "8BITMIME"), (Extension::SmtpUtfEight, "SMTPUTF8")]
    {
        if info.supports_feature(ext) {
            features.push(name.to_owned());
        }
    }
    if features.is_empty() {
        info.name().to_owned()
    } else {
        format!("{} ({})", info.name(), features.join(", "))
    }
}

/// The final reply as one line: `250 2.0.0 OK: queued as 1234`.
pub(crate) fn reply_line(reply: &Response) -> String {
    let text: Vec<&str> = reply.message().collect();
    format!("{} {}", u16::from(reply.code()), text.join(" ")).trim_end().to_owned()
}

/// Idle authenticated connections, newest last.
pub(crate) struct Pool {
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    idle_timeout: Duration,
    pub(crate) permits: tokio::sync::Semaphore,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let idle = self.idle.lock().map(|v| v.len()).unwrap_or(0);
        f.debug_struct("Pool")
            .field("idle", &idle)
            .field("available", &self.permits.available_permits())
            .finish()
    }
}

impl Pool {
    pub(crate) fn new(max_size: usize, idle_timeout: Duration) -> Self {
        Pool {
            idle: Mutex::new(Vec::new()),
            idle_timeout,
            permits: tokio::sync::Semaphore::new(max_size.max(1)),
        }
    }

    /// The most recently used connection that has not idled too long.
    pub(crate) fn take(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        idle.retain(|(_, since)| now.duration_since(*since) < self.idle_timeout);
        idle.pop().map(|(conn, _)| conn)
    }

    /// Keeps a healthy connection for the next send.
    pub(crate) fn put(&self, conn: AsyncSmtpConnection) {
        if !conn.has_broken() {
            self.idle.lock().unwrap_or_else(|e| e.into_inner()).push((conn, Instant::now()));
        }
    }

    /// Drops every idle connection (after one turned out to be dead).
    pub(crate) fn clear(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_are_opened_with_tcp_nodelay() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = connect_tcp(&[addr], Duration::from_secs(5)).await.unwrap();
        assert!(stream.nodelay().unwrap(), "TCP_NODELAY must be set on the provider's sockets");
        let (_accepted, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, stream.local_addr().unwrap());
    }

    #[tokio::test]
    async fn the_next_address_is_tried_when_one_refuses() {
        let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = connect_tcp(&[refused, addr], Duration::from_secs(5)).await.unwrap();
        assert_eq!(stream.peer_addr().unwrap(), addr);
        assert!(stream.nodelay().unwrap());
    }

    #[tokio::test]
    async fn no_address_accepting_is_a_retryable_connect_failure() {
        let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let err = connect_tcp(&[refused], Duration::from_secs(5)).await.unwrap_err();
        assert!(
            matches!(&err, SmtpError::Connect(e) if e.kind() == io::ErrorKind::ConnectionRefused),
            "{err:?}"
        );
        assert_eq!(err.stage(), Stage::Connect);
        assert!(err.is_retryable());
        assert_eq!(err.into_error("127.0.0.1:25").code(), Some("smtp.connect-failed"));

        let err = connect_tcp(&[], Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(err.into_error("nowhere:25").code(), Some("smtp.connect-failed"));
    }
}
