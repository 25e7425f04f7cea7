//! SMTP servers for tests: nodemailer's `smtp-server` (a real SMTP
//! implementation we did not write) run as a child process, test
//! certificates made with `openssl`, and a scripted fake for replies no real
//! server gives on demand.
//!
//! | Item | What it is |
//! | --- | --- |
//! | [`SmtpTestServer`] | `smtp-server` on a free loopback port, configured by JSON, reporting JSON events |
//! | [`Certs`] | a throw-away CA and a `localhost` / `127.0.0.1` server certificate |
//! | [`FakeSmtpServer`] | a scripted server in Rust: any reply, hung, slow, trickling or closed connections, STARTTLS with replies injected before TLS (a man in the middle) |
//! | [`office365`] | Office 365's SMTP submission as a script for the fake: greeting, EHLO, STARTTLS, `AUTH LOGIN` up to the password |
//! | [`raw_message`] | the raw RFC 5322 bytes of a `message` event |
//!
//! # Quick start
//!
//! ```no_run
//! # async fn demo(dir: &std::path::Path) {
//! use g360_mail_testkit::smtp::{Certs, SmtpTestServer, raw_message};
//! use serde_json::json;
//!
//! let certs = Certs::generate(dir); // e.g. a temporary directory
//! let mut server = SmtpTestServer::start(json!({
//!     "tls": certs.server_tls(),
//!     "auth": { "methods": ["PLAIN", "LOGIN"], "users": { "erp@contoso.test": "pw" } },
//! }))
//! .await;
//! // Point the SMTP provider at 127.0.0.1:server.port() with STARTTLS and
//! // tls_ca_file = certs.ca, send, then:
//! let message = server.next("message").await;
//! assert_eq!(message["user"], "erp@contoso.test");
//! let raw = raw_message(&message);
//! # let _ = raw;
//! # }
//! ```
//!
//! # Requirements
//!
//! [`SmtpTestServer`] needs `node` (20 or later) and `npm` on the `PATH`;
//! [`Certs`] needs the `openssl` command line. Without them the tests
//! **fail** (never skip) with a message naming what to install.
//!
//! The first [`SmtpTestServer::start`] of a build installs `smtp-server`
//! with `npm ci` from the committed `crates/testkit/smtp-server/package-lock.json`
//! into `target/test-tools/smtp-server` (the registry must be reachable
//! then), under a file lock so parallel test processes install once; it
//! installs again only when the lock file changes.
//! `G360_MAIL_TEST_SMTP_SERVER_MODULES` may name a `node_modules` directory
//! installed beforehand (offline CI).

mod certs;
mod fake;
pub mod office365;
mod server;

pub use certs::Certs;
pub use fake::{FakeSmtpServer, Reply};
pub use server::{MODULES_ENV, SERVER_DIR, SmtpTestServer, raw_message};
