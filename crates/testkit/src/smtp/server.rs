//! [`SmtpTestServer`]: nodemailer's `smtp-server` as a child process, and
//! its installation on first use.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

/// The directory of the committed server files: `package.json`,
/// `package-lock.json` and `server.cjs`.
pub const SERVER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/smtp-server");

/// The environment variable that may name a `node_modules` directory holding
/// `smtp-server`, installed beforehand (offline CI).
pub const MODULES_ENV: &str = "G360_MAIL_TEST_SMTP_SERVER_MODULES";

/// How long [`SmtpTestServer::start`] waits for the server to listen.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long [`SmtpTestServer::next`] waits for an event.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`SmtpTestServer::all`] lets the server settle.
const SETTLE: Duration = Duration::from_millis(150);

/// Where the npm packages are installed: `target/test-tools/smtp-server`.
fn tools_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tools/smtp-server")
}

fn tool_version(tool: &str) -> Option<String> {
    let out = Command::new(tool).arg("--version").output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The `node_modules` directory holding `smtp-server`, installed once per
/// test process.
fn smtp_server_modules() -> PathBuf {
    static MODULES: OnceLock<PathBuf> = OnceLock::new();
    MODULES.get_or_init(install_smtp_server).clone()
}

#[allow(clippy::disallowed_methods, reason = "test setup: CI may point at preinstalled modules")]
fn preinstalled_modules() -> Option<PathBuf> {
    std::env::var_os(MODULES_ENV).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// Installs `smtp-server` with `npm ci` from the committed lock file, unless
/// the installed copy was made from the same lock file. A file lock keeps
/// parallel test processes from installing at once.
fn install_smtp_server() -> PathBuf {
    let Some(node) = tool_version("node") else {
        panic!(
            "the SMTP test server needs Node.js (20 or later) and npm to run nodemailer's \
             smtp-server; install them (e.g. `apt-get install nodejs npm`) and run the tests again"
        );
    };
    if let Some(modules) = preinstalled_modules() {
        assert!(
            modules.join("smtp-server/package.json").is_file(),
            "{MODULES_ENV}={} has no smtp-server package",
            modules.display()
        );
        return modules;
    }
    assert!(
        tool_version("npm").is_some(),
        "the SMTP test server needs npm (found node {node}) to install smtp-server; install npm, \
         or set {MODULES_ENV} to a node_modules directory holding smtp-server"
    );
    let dir = tools_dir();
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let lock = File::create(dir.join(".install.lock")).unwrap();
    lock.lock().unwrap();
    let server_dir = Path::new(SERVER_DIR);
    let wanted = std::fs::read(server_dir.join("package-lock.json")).unwrap();
    let installed = std::fs::read(dir.join("installed-lock.json")).ok();
    let modules = dir.join("node_modules");
    if installed.as_deref() != Some(&wanted[..]) || !modules.join("smtp-server").is_dir() {
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(server_dir.join(file), dir.join(file)).unwrap();
        }
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"])
            .arg(&dir)
            .output()
            .expect("cannot run npm");
        assert!(
            out.status.success(),
            "`npm ci --prefix {}` failed (the registry must be reachable the first time, \
             or set {MODULES_ENV}):\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(dir.join("installed-lock.json"), &wanted).unwrap();
    }
    lock.unlock().unwrap();
    modules
}

/// A running nodemailer `smtp-server` on `127.0.0.1`, stopped when dropped.
///
/// The server is configured by one JSON object (every key optional):
///
/// | Key | Meaning |
/// | --- | --- |
/// | `secure` | `true`: implicit TLS (needs `tls`) |
/// | `tls` | `{ "key": path, "cert": path }` ([`Certs::server_tls`](crate::smtp::Certs::server_tls)); `null`: no STARTTLS |
/// | `auth` | `{ "methods": ["PLAIN", "LOGIN", "XOAUTH2"], "users": { login: password }, "tokens": { login: token }, "oauth": { "audience": aud, "role": role }, "allow_insecure": false }`; `null`: no AUTH. With `oauth`, XOAUTH2 takes any JWT whose payload has that `aud` and that role in `roles` (as Exchange Online takes app-only tokens) and answers others `535 5.7.3` |
/// | `faults.mail_from` | per `MAIL FROM`, in order: `"drop"` (close the connection) or `"ok"` |
/// | `faults.rcpt_reject` | addresses answered `550 5.1.1` |
/// | `faults.data` | per message, in order: `"451"`, `"554"` (any 4xx/5xx), `"drop"`, `"hang"` or `"ok"` |
///
/// It reports one JSON event per line, read with [`next`](Self::next),
/// [`all`](Self::all) and [`remaining`](Self::remaining):
///
/// | `event` | Other keys |
/// | --- | --- |
/// | `connect` | `session` |
/// | `auth` | `session`, `method`, `username`, `ok`; with `auth.oauth` also the token's `aud` and `roles` |
/// | `message` | `session`, `secure`, `user`, `mail_from`, `rcpt_to`, `raw` (base64, see [`raw_message`]), `action` |
/// | `fault` | `session`, `at`, `action` |
///
/// A message answered by a `faults.data` fault is reported too (with its
/// `action`): the event says what the server received, not what it accepted.
#[derive(Debug)]
pub struct SmtpTestServer {
    port: u16,
    events: mpsc::UnboundedReceiver<Value>,
    seen: Vec<Value>,
    _child: tokio::process::Child,
}

impl SmtpTestServer {
    /// Starts `smtp-server` with `config` (see the type's docs) on a free
    /// loopback port, installing it first when needed.
    ///
    /// # Panics
    ///
    /// When node or npm is missing, the installation fails, or the server
    /// does not listen within 20 seconds (test helper: fail, never skip).
    pub async fn start(mut config: Value) -> SmtpTestServer {
        let modules = match tokio::task::spawn_blocking(smtp_server_modules).await {
            Ok(modules) => modules,
            // The installer's message ("install node", ...) is the test's.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        config["modules"] = json!(modules);
        let mut child = tokio::process::Command::new("node")
            .arg(Path::new(SERVER_DIR).join("server.cjs"))
            .arg(config.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("cannot start node");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, mut events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| json!({ "event": "output", "line": line }));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let first = tokio::time::timeout(START_TIMEOUT, events.recv())
            .await
            .expect("smtp-server did not start within 20 s")
            .expect("smtp-server exited before listening");
        assert_eq!(first["event"], "listening", "{first}");
        let port = first["port"].as_u64().and_then(|p| u16::try_from(p).ok()).expect("a port");
        SmtpTestServer { port, events, seen: Vec::new(), _child: child }
    }

    /// The port it listens on (on `127.0.0.1`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The next event of `kind` (`"message"`, `"auth"`, ...), waiting up to
    /// 10 seconds; events of other kinds are kept for later calls.
    ///
    /// # Panics
    ///
    /// When no such event comes in time, or the server exited.
    pub async fn next(&mut self, kind: &str) -> Value {
        if let Some(i) = self.seen.iter().position(|e| e["event"] == kind) {
            return self.seen.remove(i);
        }
        loop {
            let event = tokio::time::timeout(EVENT_TIMEOUT, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no {kind} event within 10 s; seen {:?}", self.seen))
                .expect("smtp-server exited");
            if event["event"] == kind {
                return event;
            }
            self.seen.push(event);
        }
    }

    /// Every event of `kind` not yet taken, after letting the server settle
    /// for 150 ms. Use it to assert that something did *not* happen.
    pub async fn all(&mut self, kind: &str) -> Vec<Value> {
        self.settle().await;
        let (matching, rest) = self.seen.drain(..).partition(|e| e["event"] == kind);
        self.seen = rest;
        matching
    }

    /// Every event not yet taken, of any kind, after letting the server
    /// settle for 150 ms: empty when nobody even connected since.
    pub async fn remaining(&mut self) -> Vec<Value> {
        self.settle().await;
        std::mem::take(&mut self.seen)
    }

    async fn settle(&mut self) {
        tokio::time::sleep(SETTLE).await;
        while let Ok(event) = self.events.try_recv() {
            self.seen.push(event);
        }
    }
}

/// The raw message (RFC 5322 bytes, as received after `DATA`) of a
/// `message` event.
///
/// # Panics
///
/// When `event` has no base64 `raw` key.
pub fn raw_message(event: &Value) -> Vec<u8> {
    use base64::Engine as _;
    let raw = event["raw"].as_str().expect("a message event with a raw key");
    base64::engine::general_purpose::STANDARD.decode(raw).expect("raw is base64")
}
