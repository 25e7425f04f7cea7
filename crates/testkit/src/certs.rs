//! Certificates for the tests of certificate credentials, made by `openssl`:
//! an implementation of X.509 and RSA we did not write, driven with the
//! commands the setup guides give administrators.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `openssl ARGS` in `dir` and returns its standard output; panics with
/// openssl's own message when it fails.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl (the tests need it): {e}"));
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// `NAME.crt` and `NAME.key` in `dir`: a self-signed RSA 2048 certificate
/// valid for `days`, made with the guide's command
/// (`openssl req -x509 -newkey rsa:2048 -sha256 -days N -nodes …`).
pub fn self_signed(dir: &Path, name: &str, days: u32) -> (PathBuf, PathBuf) {
    let (crt, key) = (format!("{name}.crt"), format!("{name}.key"));
    let days = days.to_string();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-sha256",
            "-days",
            &days,
            "-nodes",
            "-subj",
            "/CN=g360-mail",
            "-keyout",
            &key,
            "-out",
            &crt,
        ],
    );
    (dir.join(crt), dir.join(key))
}

/// `old.crt` and `old.key` in `dir`: a certificate valid only in January
/// 2020, signed by its own key (`openssl ca -selfsign` takes explicit dates).
pub fn expired(dir: &Path) -> (PathBuf, PathBuf) {
    openssl(
        dir,
        &[
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=old", "-keyout",
            "old.key", "-out", "old.csr",
        ],
    );
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("serial"), "01\n").unwrap();
    std::fs::write(
        dir.join("ca.cnf"),
        "[ca]\ndefault_ca = c\n[c]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n\
         default_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-selfsign",
            "-keyfile",
            "old.key",
            "-in",
            "old.csr",
            "-out",
            "old.crt",
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20200201000000Z",
        ],
    );
    (dir.join("old.crt"), dir.join("old.key"))
}
