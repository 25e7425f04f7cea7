//! The fallback route end to end: an account whose primary route is
//! `office365` (on the Graph emulator) and whose fallback is `smtp` (on
//! nodemailer's smtp-server), through [`MailBridge`].
//!
//! The mail takes the fallback only when Office 365 certainly did not send
//! it, and every mail goes out exactly once: the SMTP server's and the
//! emulator's records prove which route delivered it.

use std::ops::{Deref, DerefMut};
use std::time::Instant;

use g360_erp_bridge::{BridgeConfig, MailBridge};
use g360_mail_core::{ErrorKind, OutgoingMessage, ProviderRegistry};
use g360_mail_testkit::graph::{Endpoint, Fault, FaultMatch};
use g360_mail_testkit::routes::Routes as TestRoutes;
use g360_mail_testkit::smtp::raw_message;
use serde_json::{Value, json};

const USER: &str = TestRoutes::USER;
const MAILBOX: &str = TestRoutes::MAILBOX;
const CUSTOMER: &str = "cliente@example.com";
const PRIMARY: &str = TestRoutes::PRIMARY;
const FALLBACK: &str = TestRoutes::FALLBACK;

/// The testkit's two routes and a bridge whose account `jgarcia` sends
/// through Office 365 with an SMTP fallback.
struct Routes {
    routes: TestRoutes,
    bridge: MailBridge,
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
    /// Both routes up; the account's client secret is the emulator's.
    async fn start() -> Routes {
        Routes::start_with_secret(None).await
    }

    /// Both routes up; the account uses `secret` as client secret when given.
    async fn start_with_secret(secret: Option<&str>) -> Routes {
        let routes = TestRoutes::start().await;
        let config = routes.config(secret.unwrap_or(&routes.setup.secret));
        let mut registry = ProviderRegistry::new();
        g360_mail_o365::register(&mut registry);
        g360_mail_smtp::register(&mut registry);
        let config = BridgeConfig::from_value(config, &registry).unwrap();
        let bridge = MailBridge::new(config, registry);
        Routes { routes, bridge }
    }

    fn send_mail_requests(&self) -> usize {
        self.emulator.requests_to(Endpoint::SendMail).len()
    }

    /// Asserts that the SMTP route was never used: not even a connection.
    async fn assert_smtp_untouched(&mut self) {
        assert_eq!(self.smtp.remaining().await, Vec::<Value>::new());
    }

    /// Asserts that the SMTP server received `message` exactly once, from the
    /// account over TLS with its login, with the receipt's Message-ID.
    async fn assert_smtp_delivered_once(&mut self, message_id: &str) {
        let got = self.smtp.next("message").await;
        assert_eq!(got["secure"], true);
        assert_eq!(got["user"], MAILBOX);
        assert_eq!(got["mail_from"], MAILBOX);
        assert_eq!(got["rcpt_to"], json!([CUSTOMER]));
        let raw = String::from_utf8(raw_message(&got)).unwrap();
        assert!(raw.contains(&format!("Message-ID: {message_id}\r\n")), "{raw}");
        assert!(raw.contains("Subject: Factura 2026-0042"), "{raw}");
        assert_eq!(self.smtp.all("message").await, Vec::<Value>::new(), "sent twice");
    }
}

fn invoice() -> OutgoingMessage {
    OutgoingMessage::builder()
        .to(CUSTOMER)
        .unwrap()
        .subject("Factura 2026-0042")
        .text("Adjuntamos la factura.")
        .build()
        .unwrap()
}

#[tokio::test]
async fn graph_unavailable_until_retries_run_out_goes_out_once_through_smtp() {
    let mut routes = Routes::start().await;
    routes.emulator.push_fault_always(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::service_unavailable(None),
    );
    let message = invoice();

    let started = Instant::now();
    let receipt = routes.bridge.send_as(USER, message.clone()).await.unwrap();
    let took = started.elapsed();

    assert_eq!(receipt.route.as_deref(), Some(FALLBACK));
    assert_eq!(receipt.provider, "smtp");
    assert_eq!(receipt.uid, message.uid());
    assert!(!receipt.recovered);
    let reason = receipt.fallback_reason.as_deref().unwrap();
    assert!(
        reason.contains("office365")
            && reason.contains("(unavailable)")
            && reason.contains("attempts: 3")
            && reason.contains("delivered: no"),
        "{reason}"
    );
    // The SMTP route sends the Message-ID Office 365 would have sent.
    assert_eq!(receipt.internet_message_id, message.uid().internet_message_id("contoso.com"));
    routes.assert_smtp_delivered_once(&receipt.internet_message_id).await;

    // Office 365 was asked max_attempts times, looked in Sent Items before
    // each resend and at the end, and sent nothing.
    assert_eq!(routes.send_mail_requests(), 3);
    let lookups = routes.emulator.requests_to(Endpoint::ListMessages);
    assert!(lookups.iter().all(|r| r.path.ends_with("/mailFolders/sentitems/messages")));
    assert!(lookups.len() >= 3, "{} lookups", lookups.len());
    assert!(routes.emulator.deliveries().is_empty());
    assert!(routes.emulator.sent_items(MAILBOX).is_empty());
    assert_eq!(
        routes.emulator.count_sent_with_internet_message_id(&receipt.internet_message_id),
        0
    );
    assert!(took.as_secs() < 5, "retries and settling took {took:?}");
}

#[tokio::test]
async fn graph_504_after_sending_is_recovered_from_sent_items_not_sent_again() {
    let mut routes = Routes::start().await;
    routes.emulator.push_fault(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::accept_then_gateway_timeout(),
        1,
    );
    let message = invoice();

    let receipt = routes.bridge.send_as(USER, message.clone()).await.unwrap();

    assert!(receipt.recovered, "{receipt:?}");
    assert_eq!(receipt.route.as_deref(), Some(PRIMARY));
    assert_eq!(receipt.provider, "office365");
    assert_eq!(receipt.fallback_reason, None);
    assert_eq!(routes.send_mail_requests(), 1, "not resent through Graph");
    assert_eq!(
        routes.emulator.count_sent_with_internet_message_id(&receipt.internet_message_id),
        1
    );
    assert_eq!(routes.emulator.sent_items(MAILBOX).len(), 1);
    routes.assert_smtp_untouched().await;
}

#[tokio::test]
async fn an_outcome_graph_cannot_resolve_never_goes_to_the_fallback() {
    let mut routes = Routes::start().await;
    // The mail goes out but the answer is a 504, and Sent Items cannot be read
    // to find out: only a person can tell whether it was sent.
    routes.emulator.push_fault(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::accept_then_gateway_timeout(),
        1,
    );
    routes.emulator.push_fault_always(
        FaultMatch::endpoint(Endpoint::ListMessages).path_contains("/mailFolders/sentitems/"),
        Fault::service_unavailable(None),
    );
    let message = invoice();

    let err = routes.bridge.send_as(USER, message.clone()).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::OutcomeUnknown, "{err:?}");
    assert_eq!(err.code(), Some("o365.outcome-unknown"));
    assert!(!err.is_temporary());
    assert!(!err.is_not_delivered());
    assert_eq!(err.context_value("route"), Some(PRIMARY));
    assert_eq!(err.context_value("user"), Some(USER));
    assert_eq!(err.context_value("uid"), Some(message.uid().to_string().as_str()));
    assert!(err.context_value("reason").unwrap().contains("Sent Items"), "{err:?}");
    assert_eq!(routes.send_mail_requests(), 1, "never resent blindly");
    assert!(!routes.emulator.requests_to(Endpoint::ListMessages).is_empty());
    let imid = message.uid().internet_message_id("contoso.com");
    assert_eq!(routes.emulator.count_sent_with_internet_message_id(&imid), 1);
    routes.assert_smtp_untouched().await;
}

#[tokio::test]
async fn a_refused_client_secret_goes_through_smtp_and_the_receipt_says_why() {
    let wrong = "Wrong8Q~secret-value-0123456789abcdefghijkl";
    let mut routes = Routes::start_with_secret(Some(wrong)).await;
    let message = invoice();

    let receipt = routes.bridge.send_as(USER, message.clone()).await.unwrap();

    assert_eq!(receipt.route.as_deref(), Some(FALLBACK));
    assert_eq!(receipt.provider, "smtp");
    let reason = receipt.fallback_reason.as_deref().unwrap();
    assert!(reason.contains("office365") && reason.contains("(auth)"), "{reason}");
    assert!(reason.contains("client secret is invalid"), "{reason}");
    assert!(!reason.contains(wrong) && !reason.contains(&routes.setup.secret), "{reason}");
    routes.assert_smtp_delivered_once(&receipt.internet_message_id).await;
    assert!(routes.emulator.token_requests() >= 1);
    assert_eq!(routes.emulator.tokens_issued(), 0);
    assert_eq!(routes.send_mail_requests(), 0, "Graph was never asked to send");
    assert!(routes.emulator.deliveries().is_empty());
}
