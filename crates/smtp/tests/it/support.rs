//! Test servers: nodemailer's `smtp-server` (a real SMTP implementation we did
//! not write), installed from npm on first use, and a scripted fake for
//! replies the real one cannot give (Office 365's, hung connections).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const SERVER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp-server");

/// Where the npm packages are installed: `target/test-tools/smtp-server`.
fn tools_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-tools/smtp-server")
}

fn tool_version(tool: &str) -> Option<String> {
    let out = Command::new(tool).arg("--version").output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The `node_modules` directory holding `smtp-server`, installing it the first
/// time (`npm ci` from `tests/smtp-server/package-lock.json`). A file lock
/// keeps parallel test processes from installing at once.
///
/// `G360_MAIL_TEST_SMTP_SERVER_MODULES` may name a `node_modules` directory
/// installed beforehand (offline CI).
fn smtp_server_modules() -> PathBuf {
    static MODULES: OnceLock<PathBuf> = OnceLock::new();
    MODULES.get_or_init(install_smtp_server).clone()
}

#[allow(clippy::disallowed_methods, reason = "test setup: CI may point at preinstalled modules")]
fn preinstalled_modules() -> Option<PathBuf> {
    std::env::var_os("G360_MAIL_TEST_SMTP_SERVER_MODULES").map(PathBuf::from)
}

fn install_smtp_server() -> PathBuf {
    let Some(node) = tool_version("node") else {
        panic!(
            "the SMTP integration tests need Node.js (20 or later) and npm to run nodemailer's smtp-server; \
             install them (e.g. `apt-get install nodejs npm`) and run `cargo test -p g360-mail-smtp` again"
        );
    };
    if let Some(modules) = preinstalled_modules() {
        assert!(
            modules.join("smtp-server/package.json").is_file(),
            "G360_MAIL_TEST_SMTP_SERVER_MODULES={} has no smtp-server package",
            modules.display()
        );
        return modules;
    }
    assert!(
        tool_version("npm").is_some(),
        "the SMTP integration tests need npm (found node {node}) to install smtp-server; install npm"
    );
    let dir = tools_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let lock = File::create(dir.join(".install.lock")).unwrap();
    lock.lock().unwrap();
    let wanted = std::fs::read(Path::new(SERVER_DIR).join("package-lock.json")).unwrap();
    let installed = std::fs::read(dir.join("installed-lock.json")).ok();
    let modules = dir.join("node_modules");
    if installed.as_deref() != Some(&wanted[..]) || !modules.join("smtp-server").is_dir() {
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(Path::new(SERVER_DIR).join(file), dir.join(file)).unwrap();
        }
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"])
            .arg(&dir)
            .output()
            .expect("cannot run npm");
        assert!(
            out.status.success(),
            "`npm ci --prefix {}` failed (the registry must be reachable the first time):\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(dir.join("installed-lock.json"), &wanted).unwrap();
    }
    lock.unlock().unwrap();
    modules
}

/// A test CA and a server certificate it signed, for `localhost` and
/// `127.0.0.1`, made with the `openssl` command line.
#[derive(Debug)]
pub(crate) struct Certs {
    pub(crate) ca: PathBuf,
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

impl Certs {
    pub(crate) fn generate(dir: &Path) -> Certs {
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("the SMTP TLS tests need the openssl command line");
            assert!(
                out.status.success(),
                "openssl {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        let mut ca = vec!["req", "-x509"];
        ca.extend(ec);
        ca.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=G360 Mail Test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&ca);
        let mut csr = vec!["req"];
        csr.extend(ec);
        csr.extend(["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
        openssl(&csr);
        std::fs::write(
            dir.join("server.ext"),
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ]);
        Certs { ca: dir.join("ca.pem"), cert: dir.join("server.pem"), key: dir.join("server.key") }
    }

    /// The `tls` section of the server config.
    pub(crate) fn server_tls(&self) -> Value {
        json!({ "key": self.key, "cert": self.cert })
    }
}

/// A running `smtp-server`, stopped when dropped.
#[derive(Debug)]
pub(crate) struct NodeServer {
    pub(crate) port: u16,
    events: mpsc::UnboundedReceiver<Value>,
    seen: Vec<Value>,
    _child: tokio::process::Child,
}

impl NodeServer {
    /// Starts `tests/smtp-server/server.cjs` with `config` (see the script for
    /// its keys) on a free loopback port.
    pub(crate) async fn start(mut config: Value) -> NodeServer {
        let modules = tokio::task::spawn_blocking(smtp_server_modules).await.unwrap();
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
        let stdout = child.stdout.take().unwrap();
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
        let first = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .expect("smtp-server did not start within 20 s")
            .expect("smtp-server exited before listening");
        assert_eq!(first["event"], "listening", "{first}");
        let port = u16::try_from(first["port"].as_u64().unwrap()).unwrap();
        NodeServer { port, events, seen: Vec::new(), _child: child }
    }

    /// The next event of `kind`, waiting up to 10 s; other events are kept.
    pub(crate) async fn next(&mut self, kind: &str) -> Value {
        if let Some(i) = self.seen.iter().position(|e| e["event"] == kind) {
            return self.seen.remove(i);
        }
        loop {
            let event = tokio::time::timeout(Duration::from_secs(10), self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no {kind} event within 10 s; seen {:?}", self.seen))
                .expect("smtp-server exited");
            if event["event"] == kind {
                return event;
            }
            self.seen.push(event);
        }
    }

    /// Every event of `kind` so far, after letting the server settle briefly.
    pub(crate) async fn all(&mut self, kind: &str) -> Vec<Value> {
        tokio::time::sleep(Duration::from_millis(150)).await;
        while let Ok(event) = self.events.try_recv() {
            self.seen.push(event);
        }
        let (matching, rest) = self.seen.drain(..).partition(|e| e["event"] == kind);
        self.seen = rest;
        matching
    }
}

/// The decoded raw message of a `message` event.
pub(crate) fn raw_message(event: &Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(event["raw"].as_str().unwrap()).unwrap()
}

/// What the scripted fake does with one line from the client.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// Answers with these lines (CRLF added).
    Lines(Vec<String>),
    /// Answers with this line, then closes the connection.
    Last(String),
    /// Never answers.
    Hang,
    /// Closes the connection.
    Close,
}

impl Reply {
    pub(crate) fn line(text: &str) -> Reply {
        Reply::Lines(vec![text.to_owned()])
    }
}

/// A scripted SMTP server in Rust, for replies no real server gives on demand.
///
/// `script` is called with `<connect>` for the greeting, every command line,
/// and `<end-of-data>` after a message body; `DATA` is answered by the script
/// too (354 switches to reading the body). Returns the port and the
/// transcript of client lines.
pub(crate) async fn fake_server(
    script: impl Fn(&str) -> Reply + Send + Sync + 'static,
) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let transcript = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(script);
    let log = transcript.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let script = script.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let mut input = "<connect>".to_owned();
                let mut in_data = false;
                loop {
                    log.lock().unwrap().push(input.clone());
                    match script(&input) {
                        Reply::Lines(reply) => {
                            for line in &reply {
                                if write.write_all(format!("{line}\r\n").as_bytes()).await.is_err()
                                {
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
            });
        }
    });
    (port, transcript)
}
