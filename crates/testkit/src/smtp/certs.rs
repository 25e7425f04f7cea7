//! [`Certs`]: a test CA and a server certificate, made with `openssl`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

/// A throw-away CA and a server certificate it signed for `localhost` and
/// `127.0.0.1` (P-256 keys, valid two days), as PEM files in a directory.
///
/// Give [`ca`](Self::ca) to the client (`tls_ca_file`) and
/// [`server_tls`](Self::server_tls) to the
/// [`SmtpTestServer`](crate::smtp::SmtpTestServer).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Certs {
    /// The CA certificate (`ca.pem`).
    pub ca: PathBuf,
    /// The server certificate (`server.pem`).
    pub cert: PathBuf,
    /// The server's private key (`server.key`).
    pub key: PathBuf,
}

impl Certs {
    /// Generates the CA and the server certificate into `dir` (usually a
    /// temporary directory).
    ///
    /// # Panics
    ///
    /// When the `openssl` command line is missing or fails (test helper:
    /// fail, never skip).
    pub fn generate(dir: &Path) -> Certs {
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl").args(args).current_dir(dir).output().expect(
                "the SMTP test certificates need the openssl command line; install it \
                 (e.g. `apt-get install openssl`)",
            );
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
        .unwrap_or_else(|e| panic!("cannot write into {}: {e}", dir.display()));
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

    /// The `tls` key of the [`SmtpTestServer`](crate::smtp::SmtpTestServer)
    /// config: `{ "key": ..., "cert": ... }`.
    pub fn server_tls(&self) -> Value {
        json!({ "key": self.key, "cert": self.cert })
    }
}
