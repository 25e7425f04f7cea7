//! The CLI on an account that sends through Office 365 (the Graph emulator)
//! with an SMTP fallback (nodemailer's smtp-server): what the user sees when
//! the fallback is taken, and when it must not be.

use crate::support::{Run, run};

use std::ops::{Deref, DerefMut};

use g360_mail_testkit::graph::{Endpoint, Fault, FaultMatch};
use g360_mail_testkit::routes::Routes as TestRoutes;
use g360_mail_testkit::smtp::raw_message;

const MAILBOX: &str = TestRoutes::MAILBOX;

/// The testkit's two routes, and a directory whose `g360-mail.toml` gives
/// user `jgarcia` the route `o365` with fallback `smtp-backup`.
struct Routes {
    routes: TestRoutes,
    dir: tempfile::TempDir,
}

impl Deref for Routes {
    type Target = TestRoutes;
    fn deref(&self) -> &TestRoutes {
        &self.routes
    }
}

impl DerefMut for Routes {
    fn deref_mut(&mut self) -> &mut TestRoutes {
        &mut self.routes
    }
}

impl Routes {
    async fn start() -> Routes {
        let routes = TestRoutes::start().await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("g360-mail.toml"), routes.toml_config()).unwrap();
        Routes { routes, dir }
    }

    async fn send(&self, extra: &[&str]) -> Run {
        let mut args = extra.to_vec();
        args.extend([
            "send",
            "--user",
            "jgarcia",
            "--to",
            "cliente@example.com",
            "--subject",
            "Factura 42",
            "--body",
            "Adjunta",
        ]);
        run(self.dir.path(), &args).await
    }

    fn assert_no_secret(&self, r: &Run) {
        for secret in self.secrets() {
            assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret), "a secret printed");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn graph_unavailable_sends_through_the_fallback_and_shows_the_route() {
    let mut routes = Routes::start().await;
    routes.emulator.push_fault_always(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::service_unavailable(None),
    );

    let r = routes.send(&[]).await;

    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("El e-mail se envió correctamente"), "{}", r.stdout);
    assert!(r.stdout.contains("Ruta: smtp-backup (smtp)"), "{}", r.stdout);
    assert!(
        r.stdout.contains("fallback: the office365 route did not accept the mail"),
        "{}",
        r.stdout
    );
    routes.assert_no_secret(&r);
    let got = routes.smtp.next("message").await;
    assert_eq!(got["user"], MAILBOX);
    let raw = String::from_utf8(raw_message(&got)).unwrap();
    assert!(raw.contains("Subject: Factura 42"), "{raw}");
    assert!(routes.smtp.all("message").await.is_empty(), "sent once");
    assert_eq!(routes.emulator.requests_to(Endpoint::SendMail).len(), 3);
    assert!(routes.emulator.sent_items(MAILBOX).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_outcome_exits_6_in_spanish_and_english_without_the_fallback() {
    let mut routes = Routes::start().await;
    // Every sendMail goes out but is answered 504, and Sent Items cannot be
    // read: the provider cannot tell whether the mail was sent.
    routes.emulator.push_fault_always(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::accept_then_gateway_timeout(),
    );
    routes.emulator.push_fault_always(
        FaultMatch::endpoint(Endpoint::ListMessages).path_contains("/mailFolders/sentitems/"),
        Fault::service_unavailable(None),
    );

    let r = routes.send(&[]).await;

    // 6, not 5: a job that retries "temporarily unavailable" must not resend.
    assert_eq!(r.code, 6, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.lines().any(|l| l == "error: No se sabe si el correo se envió"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("Busque el correo en Elementos enviados"), "{}", r.stderr);
    assert!(r.stderr.contains("route: o365"), "{}", r.stderr);
    assert!(!r.stdout.contains("se envió correctamente"), "{}", r.stdout);
    routes.assert_no_secret(&r);

    let r = routes.send(&["--lang", "en"]).await;

    assert_eq!(r.code, 6, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.lines().any(|l| l == "error: The mail may or may not have been sent"),
        "{}",
        r.stderr
    );
    // In English the provider's own remedy is shown (see `localized`).
    assert!(r.stderr.contains("look for the mail in the Sent Items"), "{}", r.stderr);
    routes.assert_no_secret(&r);

    let r = routes.send(&["--json"]).await;

    assert_eq!(r.code, 6, "{}{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["exit_code"], 6, "{v}");
    assert_eq!(v["error"]["exit_code"], 6, "{v}");
    assert_eq!(v["error"]["outcome"], "unknown", "{v}");
    assert_eq!(v["error"]["kind"], "outcome-unknown", "{v}");
    routes.assert_no_secret(&r);

    // Each run sent once through Graph (the mail went out), never again and
    // never through SMTP.
    assert_eq!(routes.emulator.requests_to(Endpoint::SendMail).len(), 3);
    assert_eq!(routes.emulator.deliveries().len(), 3);
    assert_eq!(routes.smtp.remaining().await, Vec::<serde_json::Value>::new());
}
