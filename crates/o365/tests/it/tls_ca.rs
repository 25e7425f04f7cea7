//! `tls_ca_file`: a company CA (a proxy that inspects TLS) trusted besides
//! the system's, for the token endpoint and Graph. The Graph emulator is put
//! behind a TLS front whose certificate a private CA made with `openssl`
//! signed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use g360_mail_core::{EmailAddress, ErrorKind, MailProvider, Secret};
use g360_mail_o365::O365Settings;
use g360_mail_testkit::certs::openssl;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};

use crate::util::*;

/// `ca.crt` (the company CA) and `srv.crt`/`srv.key` (a server certificate
/// for 127.0.0.1 signed by it) in `dir`.
fn private_ca(dir: &Path) -> PathBuf {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Contoso Inspection CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
        ],
    );
    std::fs::write(
        dir.join("srv.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "srv.ext",
            "-out",
            "srv.crt",
        ],
    );
    dir.join("ca.crt")
}

/// A TLS front on 127.0.0.1 for `backend` (plain HTTP), with the server
/// certificate of [`private_ca`]; returns its `https://` URL.
async fn tls_front(dir: &Path, backend: std::net::SocketAddr) -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let certs: Vec<_> = CertificateDer::pem_file_iter(dir.join("srv.crt"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("srv.key")).unwrap();
    let config =
        rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(certs, key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut plain) = TcpStream::connect(backend).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    url
}

fn tls_settings(env: &Env, url: &str, ca: Option<&Path>) -> O365Settings {
    let mut s = settings(env);
    s.authority_url = Some(url.to_owned());
    s.graph_url = Some(url.to_owned());
    s.allow_insecure_http = false;
    s.max_attempts = 1;
    s.tls_ca_file = ca.map(|p| p.display().to_string());
    s
}

fn build(env: &Env, s: O365Settings) -> g360_mail_core::Result<g360_mail_o365::O365Provider> {
    env.factory
        .builder(s)
        .with_mailbox(EmailAddress::new(ERP).unwrap())
        .with_client_secret(Secret::new(env.setup.secret.clone()))
        .build()
}

#[tokio::test]
async fn a_company_ca_in_tls_ca_file_is_trusted_for_token_and_graph() {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = private_ca(dir.path());
    let url = tls_front(dir.path(), env.emu.addr()).await;

    // Without the CA the inspected connection is refused: nothing is sent.
    let p = build(&env, tls_settings(&env, &url, None)).unwrap();
    let err = p.send(&simple("sin CA")).await.unwrap_err();
    assert_ne!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.remedy().is_some_and(|r| r.contains("tls_ca_file")), "{err:?}");
    assert_eq!(env.send_requests(), 0);

    // With it, the token and the send go through the TLS front.
    let p = build(&env, tls_settings(&env, &url, Some(&ca))).unwrap();
    p.send(&simple("con CA")).await.unwrap();
    assert_eq!(env.send_requests(), 1);
}

#[tokio::test]
async fn an_unusable_tls_ca_file_is_a_config_error_naming_the_key() {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let url = "https://login.example.com";

    let missing = dir.path().join("missing.pem");
    let err = build(&env, tls_settings(&env, url, Some(&missing))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(err.code(), Some("o365.tls-ca-file"));
    assert_eq!(err.context_value("key"), Some("tls_ca_file"));
    assert!(err.remedy().is_some());

    let not_pem = dir.path().join("notes.txt");
    std::fs::write(&not_pem, "this is not a certificate\n").unwrap();
    let err = build(&env, tls_settings(&env, url, Some(&not_pem))).unwrap_err();
    assert_eq!(err.code(), Some("o365.tls-ca-file"));
    assert_eq!(err.context_value("key"), Some("tls_ca_file"));
    assert!(err.to_string().contains("no PEM certificate"), "{err}");

    let broken = dir.path().join("broken.pem");
    std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        .unwrap();
    let err = build(&env, tls_settings(&env, url, Some(&broken))).unwrap_err();
    assert_eq!(err.code(), Some("o365.tls-ca-file"), "{err}");
}
