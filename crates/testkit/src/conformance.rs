//! The provider conformance suite: what every [`MailProvider`] must do.
//!
//! A provider crate runs it with one call from a `#[tokio::test]`:
//!
//! ```no_run
//! # async fn demo(provider: std::sync::Arc<dyn g360_mail_core::MailProvider>) {
//! use g360_mail_testkit::conformance::{self, Conformance};
//! conformance::run(provider.as_ref(), &Conformance::new("someone@example.com")).await;
//! # }
//! ```
//!
//! It sends real mail through the provider (so point the provider at a test
//! server or directory), reads it back where the provider can read, and checks
//! that what it cannot do fails with a typed `Unsupported` error, that bad input
//! is refused without a panic, and that `Debug` output holds no secret.

use g360_mail_core::{
    ErrorKind, Folder, MailProvider, MailboxQuery, OutgoingMessage, VerifyOptions,
};

/// What the suite needs to know about the provider under test.
#[derive(Debug, Clone)]
pub struct Conformance {
    /// Where the test mails go.
    pub recipient: String,
    /// The account's secret, which must never appear in `Debug` output or errors.
    pub secret: Option<String>,
    /// The folder where a sent mail can be read back (Sent Items by default).
    pub readback_folder: Folder,
}

impl Conformance {
    /// Test mails go to `recipient`.
    pub fn new(recipient: impl Into<String>) -> Self {
        Conformance {
            recipient: recipient.into(),
            secret: None,
            readback_folder: Folder::SentItems,
        }
    }

    /// The secret that must never be printed.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// Reads sent mail back from `folder` instead of Sent Items.
    pub fn readback_folder(mut self, folder: Folder) -> Self {
        self.readback_folder = folder;
        self
    }
}

/// Runs every check; panics with a message naming the first check that fails.
pub async fn run(provider: &dyn MailProvider, c: &Conformance) {
    debug_holds_no_secret(provider, c);
    let uid = sends_plain_text(provider, c).await;
    reads_back_what_it_sent(provider, c, &uid).await;
    unsupported_operations_are_typed(provider).await;
    bad_ids_are_refused_without_panic(provider).await;
    verify_reports_named_checks(provider, c).await;
}

/// `Debug` of the provider does not contain the secret.
pub fn debug_holds_no_secret(provider: &dyn MailProvider, c: &Conformance) {
    if let Some(secret) = &c.secret {
        let debug = format!("{provider:?} {provider:#?}");
        assert!(
            !debug.contains(secret.as_str()),
            "conformance: Debug output of the provider contains the secret"
        );
    }
}

/// A plain-text mail is accepted and the receipt names it.
pub async fn sends_plain_text(provider: &dyn MailProvider, c: &Conformance) -> String {
    let message = OutgoingMessage::builder()
        .to(&c.recipient)
        .expect("conformance: a valid recipient")
        .subject("g360-mail conformance")
        .text("conformance test mail")
        .build()
        .expect("conformance: a valid message");
    let receipt =
        provider.send(&message).await.unwrap_or_else(|e| panic!("conformance: send failed: {e:?}"));
    assert_eq!(receipt.uid, message.uid(), "conformance: the receipt names another message");
    assert_eq!(
        receipt.provider,
        provider.provider_type(),
        "conformance: the receipt names another provider"
    );
    assert!(
        g360_mail_core::MessageUid::from_internet_message_id(&receipt.internet_message_id)
            == Some(message.uid()),
        "conformance: the Internet Message-ID {} is not derived from the message uid",
        receipt.internet_message_id
    );
    receipt.internet_message_id
}

/// Where the provider can read: the sent mail is found by its Message-ID and
/// read in full; where it can look sent mail up, `find_sent` finds it.
pub async fn reads_back_what_it_sent(
    provider: &dyn MailProvider,
    c: &Conformance,
    internet_message_id: &str,
) {
    let caps = provider.capabilities();
    if caps.read {
        let query = MailboxQuery::folder(c.readback_folder.clone())
            .internet_message_id(internet_message_id);
        let page = provider
            .list_messages(&query)
            .await
            .unwrap_or_else(|e| panic!("conformance: list_messages failed: {e:?}"));
        assert_eq!(page.messages.len(), 1, "conformance: the sent mail is not listed exactly once");
        let got = provider
            .get_message(&page.messages[0].id)
            .await
            .unwrap_or_else(|e| panic!("conformance: get_message failed: {e:?}"));
        assert_eq!(got.subject, "g360-mail conformance");
        assert_eq!(got.internet_message_id.as_deref(), Some(internet_message_id));
        assert!(
            got.text
                .as_deref()
                .or(got.html.as_deref())
                .is_some_and(|b| b.contains("conformance test mail")),
            "conformance: the body was not read back"
        );
    }
    if caps.find_sent {
        let uid =
            g360_mail_core::MessageUid::from_internet_message_id(internet_message_id).expect("uid");
        let found = provider
            .find_sent(uid)
            .await
            .unwrap_or_else(|e| panic!("conformance: find_sent failed: {e:?}"));
        assert!(found.is_some(), "conformance: find_sent does not find a mail just sent");
    }
}

/// What the provider declares it cannot do fails with `Unsupported`.
pub async fn unsupported_operations_are_typed(provider: &dyn MailProvider) {
    let caps = provider.capabilities();
    if !caps.read {
        let e = provider
            .list_messages(&MailboxQuery::default())
            .await
            .expect_err("conformance: list without read");
        assert_eq!(
            e.kind(),
            ErrorKind::Unsupported,
            "conformance: list_messages without read: {e:?}"
        );
        let e = provider.get_message("x").await.expect_err("conformance: get without read");
        assert_eq!(
            e.kind(),
            ErrorKind::Unsupported,
            "conformance: get_message without read: {e:?}"
        );
    }
    if !caps.find_sent {
        let e = provider
            .find_sent(g360_mail_core::MessageUid::new_random())
            .await
            .expect_err("find_sent");
        assert_eq!(
            e.kind(),
            ErrorKind::Unsupported,
            "conformance: find_sent without the capability: {e:?}"
        );
    }
    if !caps.raw_mime {
        let e = provider.raw_message("x").await.expect_err("raw_message");
        assert_eq!(
            e.kind(),
            ErrorKind::Unsupported,
            "conformance: raw_message without the capability: {e:?}"
        );
    }
}

/// Malformed ids are refused with an error, never a panic or a result.
pub async fn bad_ids_are_refused_without_panic(provider: &dyn MailProvider) {
    if !provider.capabilities().read {
        return;
    }
    for id in ["../../etc/passwd", "", "no-such-message-id"] {
        let e = provider.get_message(id).await.expect_err("conformance: a bad id must fail");
        assert!(
            matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::NotFound),
            "conformance: bad id {id:?} gave {e:?}"
        );
    }
}

/// `verify` returns named checks, and no secret in them.
pub async fn verify_reports_named_checks(provider: &dyn MailProvider, c: &Conformance) {
    let report = provider
        .verify(&VerifyOptions::default())
        .await
        .unwrap_or_else(|e| panic!("conformance: verify failed: {e:?}"));
    assert!(!report.checks.is_empty(), "conformance: verify ran no check");
    assert!(report.checks.iter().all(|c| !c.name.is_empty()), "conformance: a check has no name");
    if let Some(secret) = &c.secret {
        assert!(
            !format!("{report:?}").contains(secret.as_str()),
            "conformance: the verify report contains the secret"
        );
    }
}
