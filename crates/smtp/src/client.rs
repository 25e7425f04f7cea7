//! The SMTP dialogue on lettre's [`AsyncSmtpConnection`], one step at a time so
//! that every failure knows its [`Stage`], every step runs under a deadline,
//! and a small pool of authenticated connections.
//!
//! lettre's `AsyncSmtpTransport` would pool too, but its errors do not say
//! whether the message content had been sent when a connection failed, and
//! that is what decides between "send again" and "outcome unknown". The
//! socket and TLS are ours too (see [`crate::wire`]): lettre only speaks SMTP
//! over a stream we hand it.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use g360_mail_core::{AccessTokenSource, Secret};
use lettre::Address;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::{Data, Mail, Quit, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use rustls::pki_types::ServerName;
use tokio::time::{Instant, timeout_at};

use crate::config::{Security, SmtpAuth};
use crate::error::{SmtpError, Stage};
use crate::wire::{Tail, Wire, starttls_plaintext};

/// How long a polite `QUIT` may take before the connection is just dropped.
const QUIT_TIMEOUT: Duration = Duration::from_secs(2);

/// How to log in.
#[derive(Clone)]
pub(crate) enum Login {
    /// No `AUTH`.
    None,
    /// `AUTH` with the first of `mechanisms` the server offers.
    Sasl { mechanisms: Vec<Mechanism>, username: String, secret: Secret },
    /// `AUTH XOAUTH2` with a token from `tokens`.
    OAuth2 { username: String, tokens: Arc<dyn AccessTokenSource> },
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
            Login::OAuth2 { username, tokens } => f
                .debug_struct("OAuth2")
                .field("username", username)
                .field("tokens", &tokens.describe())
                .finish(),
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

/// TLS of ours: the rustls configuration (system roots plus `tls_ca_file`)
/// and the name the certificate must carry.
#[derive(Clone)]
pub(crate) struct Tls {
    pub(crate) config: Arc<rustls::ClientConfig>,
    pub(crate) name: ServerName<'static>,
}

/// Everything needed to open an authenticated connection.
pub(crate) struct Connector {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) security: Security,
    pub(crate) auth: SmtpAuth,
    pub(crate) allow_insecure: bool,
    pub(crate) tls: Option<Tls>,
    pub(crate) hello: ClientId,
    pub(crate) login: Login,
    pub(crate) connect_timeout: Duration,
    pub(crate) command_timeout: Duration,
    pub(crate) data_timeout: Duration,
    pub(crate) send_timeout: Duration,
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

/// An open connection: lettre's client over our [`Wire`].
pub(crate) struct Session {
    pub(crate) conn: AsyncSmtpConnection,
    tail: Tail,
}

impl Session {
    /// Whether the connection can be reused.
    pub(crate) fn is_healthy(&self) -> bool {
        !self.conn.has_broken()
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

/// Runs one lettre call within `limit` and before `deadline`.
async fn step<T>(
    stage: Stage,
    limit: Duration,
    deadline: Instant,
    future: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
) -> Result<T, SmtpError> {
    let by = Instant::now().checked_add(limit).map_or(deadline, |at| at.min(deadline));
    match timeout_at(by, future).await {
        Ok(result) => result.map_err(|e| SmtpError::from_lettre(stage, e, None)),
        Err(_) => Err(SmtpError::Timeout { stage, overall: by >= deadline }),
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
            Login::Sasl { username, .. } | Login::OAuth2 { username, .. } => username,
        }
    }

    /// The end of a send or verify that starts now.
    pub(crate) fn deadline(&self) -> Instant {
        let now = Instant::now();
        now.checked_add(self.send_timeout).unwrap_or(now + Duration::from_secs(86_400 * 365))
    }

    /// The addresses a connection may go to: with `security = "none"`, only
    /// loopback ones, unless `allow_insecure_dangerous` is set.
    pub(crate) fn permitted(&self, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, SmtpError> {
        if self.security != Security::None || self.allow_insecure {
            return Ok(addrs);
        }
        let (loopback, other): (Vec<_>, Vec<_>) =
            addrs.into_iter().partition(|a| a.ip().to_canonical().is_loopback());
        match (loopback.is_empty(), other.first()) {
            (true, Some(address)) => Err(SmtpError::PlaintextRefused { address: *address }),
            _ => Ok(loopback),
        }
    }

    /// Resolves, connects, secures, greets and logs in, all before `deadline`.
    pub(crate) async fn open(
        &self,
        progress: &mut Progress,
        deadline: Instant,
    ) -> Result<Session, SmtpError> {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        let by = |limit: Duration| {
            Instant::now().checked_add(limit).map_or(deadline, |at| at.min(deadline))
        };
        let resolve_by = by(self.connect_timeout);
        let addrs: Vec<SocketAddr> =
            match timeout_at(resolve_by, tokio::net::lookup_host((host, self.port))).await {
                Ok(Ok(addrs)) => addrs.collect(),
                Ok(Err(e)) => return Err(SmtpError::Resolve(e)),
                Err(_) => {
                    return Err(SmtpError::Timeout {
                        stage: Stage::Resolve,
                        overall: resolve_by >= deadline,
                    });
                }
            };
        let addrs = self.permitted(addrs)?;
        let mut tcp = connect_tcp(&addrs, self.connect_timeout, deadline).await?;
        progress.connected = true;
        let wire = match (self.security, &self.tls) {
            (Security::None, _) => Wire::plain(tcp),
            (Security::Tls, Some(tls)) => Wire::tls(self.handshake(tls, tcp, deadline).await?),
            (Security::Starttls, Some(tls)) => {
                starttls_plaintext(&mut tcp, &self.hello, self.command_timeout, deadline).await?;
                Wire::after_starttls(self.handshake(tls, tcp, deadline).await?)
            }
            (_, None) => return Err(SmtpError::NoStarttls),
        };
        progress.tls = wire.is_tls();
        let encrypted = wire.is_tls();
        let tail = wire.tail();
        let greet = AsyncSmtpConnection::connect_with_transport(Box::new(wire), &self.hello);
        let conn = step(Stage::Greeting, self.command_timeout, deadline, greet).await?;
        let mut session = Session { conn, tail };
        progress.server = Some(describe_server(&session.conn));
        if let Login::Sasl { mechanisms, username, secret } = &self.login {
            if !encrypted {
                // Refused when the settings are checked; this keeps it so.
                return Err(SmtpError::AuthInClear);
            }
            let info = session.conn.server_info();
            let Some(mechanism) = info.get_auth_mechanism(mechanisms) else {
                let offered = [Mechanism::Plain, Mechanism::Login, Mechanism::Xoauth2]
                    .into_iter()
                    .filter(|m| info.supports_auth_mechanism(*m))
                    .map(|m| m.to_string())
                    .collect::<Vec<_>>()
                    .join(" ");
                Connector::close(&mut session, deadline).await;
                return Err(SmtpError::NoAuthMechanism { wanted: self.auth, offered });
            };
            let result = if mechanism == Mechanism::Xoauth2 {
                self.xoauth2(&mut session.conn, username, secret, deadline).await
            } else {
                let credentials = Credentials::new(username.clone(), secret.expose().to_owned());
                let mechanisms = [mechanism];
                let auth = session.conn.auth(&mechanisms, &credentials);
                step(Stage::Auth, self.command_timeout, deadline, auth).await.map(drop)
            };
            if let Err(e) = result {
                if e.server_still_talking() {
                    Connector::close(&mut session, deadline).await;
                }
                return Err(e);
            }
            progress.mechanism = Some(mechanism);
        }
        if let Login::OAuth2 { username, tokens } = &self.login {
            if !encrypted {
                return Err(SmtpError::AuthInClear);
            }
            if !session.conn.server_info().supports_auth_mechanism(Mechanism::Xoauth2) {
                let info = session.conn.server_info();
                let offered = [Mechanism::Plain, Mechanism::Login]
                    .into_iter()
                    .filter(|m| info.supports_auth_mechanism(*m))
                    .map(|m| m.to_string())
                    .collect::<Vec<_>>()
                    .join(" ");
                Connector::close(&mut session, deadline).await;
                return Err(SmtpError::NoAuthMechanism { wanted: self.auth, offered });
            }
            let by = Instant::now()
                .checked_add(self.command_timeout)
                .map_or(deadline, |at| at.min(deadline));
            let token = match timeout_at(by, tokens.access_token()).await {
                Ok(Ok(token)) => token,
                Ok(Err(e)) => {
                    Connector::close(&mut session, deadline).await;
                    return Err(SmtpError::Token(e));
                }
                Err(_) => {
                    return Err(SmtpError::Timeout { stage: Stage::Auth, overall: by >= deadline });
                }
            };
            if let Err(e) = self.xoauth2(&mut session.conn, username, &token, deadline).await {
                let e = match e {
                    SmtpError::Reply { code, text, .. } => {
                        // A token refused now may lack a role granted since.
                        tokens.invalidate(&token).await;
                        SmtpError::OAuthRefused { code, text }
                    }
                    other => other,
                };
                if e.server_still_talking() {
                    Connector::close(&mut session, deadline).await;
                }
                return Err(e);
            }
            progress.mechanism = Some(Mechanism::Xoauth2);
        }
        Ok(session)
    }

    /// The TLS handshake on our socket, within `command_timeout`.
    async fn handshake(
        &self,
        tls: &Tls,
        tcp: tokio::net::TcpStream,
        deadline: Instant,
    ) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, SmtpError> {
        let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
        let by = Instant::now()
            .checked_add(self.command_timeout)
            .map_or(deadline, |at| at.min(deadline));
        match timeout_at(by, connector.connect(tls.name.clone(), tcp)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(source)) => Err(SmtpError::Tls(source)),
            Err(_) => Err(SmtpError::Timeout { stage: Stage::Tls, overall: by >= deadline }),
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
        deadline: Instant,
    ) -> Result<(), SmtpError> {
        let initial = base64::engine::general_purpose::STANDARD
            .encode(format!("user={username}\x01auth=Bearer {}\x01\x01", token.expose()));
        let reply =
            step(Stage::Auth, self.command_timeout, deadline, conn.command(Xoauth2(&initial)))
                .await?;
        if reply.has_code(334) {
            step(Stage::Auth, self.command_timeout, deadline, conn.command(EmptyLine)).await?;
        }
        Ok(())
    }

    /// One mail transaction on an open connection: `MAIL FROM`, `RCPT TO` for
    /// each recipient, `DATA` and the content. Returns the final reply.
    pub(crate) async fn transact(
        &self,
        session: &mut Session,
        from: &Address,
        recipients: &[Address],
        content: &[u8],
        deadline: Instant,
    ) -> Result<Response, SmtpError> {
        let conn = &mut session.conn;
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
        let limit = self.command_timeout;
        let mail = conn.command(Mail::new(Some(from.clone()), parameters));
        step(Stage::MailFrom, limit, deadline, mail).await?;
        for rcpt in recipients {
            let command = conn.command(Rcpt::new(rcpt.clone(), vec![]));
            step(Stage::RcptTo, limit, deadline, command).await.map_err(|e| match e {
                SmtpError::Reply { stage, code, text, .. } => SmtpError::Reply {
                    stage,
                    code,
                    text,
                    recipient: Some(AsRef::<str>::as_ref(rcpt).to_owned()),
                },
                other => other,
            })?;
        }
        step(Stage::Data, limit, deadline, conn.command(Data)).await?;
        let result = step(Stage::Content, self.data_timeout, deadline, conn.message(content)).await;
        // Whether the failure came before or after the end of the message
        // went out decides between "not delivered" and "outcome unknown".
        result.map_err(|e| if session.tail.end_of_data_sent() { e.after_end_of_data() } else { e })
    }

    /// Ends a connection politely, without waiting long for the server nor
    /// past `deadline`.
    pub(crate) async fn close(session: &mut Session, deadline: Instant) {
        if session.is_healthy() {
            let by =
                Instant::now().checked_add(QUIT_TIMEOUT).map_or(deadline, |at| at.min(deadline));
            let _ = timeout_at(by, session.conn.command(Quit)).await;
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
    deadline: Instant,
) -> Result<tokio::net::TcpStream, SmtpError> {
    let mut last = None;
    for addr in addrs {
        let by = Instant::now().checked_add(limit).map_or(deadline, |at| at.min(deadline));
        match timeout_at(by, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                stream.set_nodelay(true).map_err(SmtpError::Connect)?;
                return Ok(stream);
            }
            Ok(Err(e)) => last = Some(e),
            Err(_) if by >= deadline => {
                return Err(SmtpError::Timeout { stage: Stage::Connect, overall: true });
            }
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
    idle: Mutex<Vec<(Session, std::time::Instant)>>,
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
    pub(crate) fn take(&self) -> Option<Session> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        idle.retain(|(_, since)| now.duration_since(*since) < self.idle_timeout);
        idle.pop().map(|(conn, _)| conn)
    }

    /// Keeps a healthy connection for the next send.
    pub(crate) fn put(&self, session: Session) {
        if session.is_healthy() {
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((session, std::time::Instant::now()));
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

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[tokio::test]
    async fn connections_are_opened_with_tcp_nodelay() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = connect_tcp(&[addr], Duration::from_secs(5), far()).await.unwrap();
        assert!(stream.nodelay().unwrap(), "TCP_NODELAY must be set on the provider's sockets");
        let (_accepted, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, stream.local_addr().unwrap());
    }

    #[tokio::test]
    async fn the_next_address_is_tried_when_one_refuses() {
        let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = connect_tcp(&[refused, addr], Duration::from_secs(5), far()).await.unwrap();
        assert_eq!(stream.peer_addr().unwrap(), addr);
        assert!(stream.nodelay().unwrap());
    }

    #[tokio::test]
    async fn no_address_accepting_is_a_retryable_connect_failure() {
        let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let err = connect_tcp(&[refused], Duration::from_secs(5), far()).await.unwrap_err();
        assert!(
            matches!(&err, SmtpError::Connect(e) if e.kind() == io::ErrorKind::ConnectionRefused),
            "{err:?}"
        );
        assert_eq!(err.stage(), Stage::Connect);
        assert!(err.is_retryable());
        assert_eq!(err.into_error("127.0.0.1:25").code(), Some("smtp.connect-failed"));

        let err = connect_tcp(&[], Duration::from_secs(5), far()).await.unwrap_err();
        assert_eq!(err.into_error("nowhere:25").code(), Some("smtp.connect-failed"));
    }

    fn plaintext(host: &str, allow: bool) -> crate::SmtpProvider {
        crate::SmtpBuilder::new(host)
            .with_security(Security::None)
            .with_auth(SmtpAuth::None)
            .with_allow_insecure_dangerous(allow)
            .with_sender("erp@example.test".parse().unwrap())
            .build()
            .unwrap()
    }

    #[test]
    fn plaintext_goes_only_to_loopback_addresses() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        // A name that merely looks local (`relay.localhost`) passes the
        // settings check; the addresses it resolves to decide.
        let provider = plaintext("relay.localhost", false);
        let connector = &provider.connector;
        let err = connector.permitted(vec![addr("192.0.2.7:25")]).unwrap_err();
        assert!(matches!(err, SmtpError::PlaintextRefused { .. }), "{err:?}");
        assert!(!err.is_retryable());
        let err = err.into_error("relay.localhost:25");
        assert_eq!(err.kind(), g360_mail_core::ErrorKind::Config);
        assert_eq!(err.code(), Some("smtp.plaintext-refused"));
        assert_eq!(err.context_value("key"), Some("security"));
        assert_eq!(err.context_value("address"), Some("192.0.2.7:25"));
        assert!(err.remedy().unwrap().contains("allow_insecure_dangerous"));

        let mixed = vec![addr("192.0.2.7:25"), addr("127.0.0.1:25"), addr("[::ffff:127.0.0.1]:25")];
        assert_eq!(
            connector.permitted(mixed.clone()).unwrap(),
            [addr("127.0.0.1:25"), addr("[::ffff:127.0.0.1]:25")],
            "only loopback addresses are used"
        );
        assert_eq!(
            plaintext("relay.localhost", true).connector.permitted(mixed.clone()).unwrap(),
            mixed
        );
        let tls = crate::SmtpBuilder::new("relay.example.test")
            .with_sender("erp@example.test".parse().unwrap())
            .with_secret(Secret::new("pw"))
            .build()
            .unwrap();
        assert_eq!(tls.connector.permitted(mixed.clone()).unwrap(), mixed);
    }
}
