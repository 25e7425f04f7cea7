//! Fuzz target `smtp`: SMTP replies as a server may send them, parsed by
//! lettre and classified by [`SmtpError::into_error`].
//!
//! Properties: parsing and classifying any reply at any stage never panics; a
//! 5xx reply is never temporary, and only a 421 before the content is sent
//! again; the error text and remedy carry no control character (the reply
//! is the server's text, shown in terminals and logs). `G360_FUZZ_CASES` sets
//! the number of cases (`cargo xtask fuzz --target smtp`).

use std::str::FromStr;

use g360_mail_testkit::fuzz::config;
use lettre::transport::smtp::response::Response;
use proptest::prelude::*;

use crate::error::{SmtpError, Stage};

const STAGES: &[Stage] = &[
    Stage::Resolve,
    Stage::Connect,
    Stage::Tls,
    Stage::Greeting,
    Stage::Auth,
    Stage::MailFrom,
    Stage::RcptTo,
    Stage::Data,
    Stage::Content,
];

/// Reply text with the words the classifier looks for.
fn text() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        Just("5.7.139"),
        Just("5.7.3"),
        Just("5.7.60"),
        Just("5.7.57"),
        Just("5.7.64"),
        Just("5.3.4"),
        Just("4.7.0"),
        Just("disabled"),
        Just("SmtpClientAuthentication is disabled"),
        Just("SendAsDenied"),
        Just("STARTTLS command first"),
        Just("Authentication required"),
        Just("relay"),
        Just("message size exceeds"),
        Just("rate limit"),
        Just("throttled"),
        Just("too many"),
        Just("\u{1b}[2J"),
        Just("\u{1b}]8;;http://evil.test\u{7}"),
        Just("\r"),
        Just("\n"),
        Just("\u{0}"),
        Just("\u{9b}"),
        Just("ñ"),
        Just(" "),
    ]
    .prop_map(str::to_owned);
    prop_oneof![
        proptest::collection::vec(prop_oneof![word, "[ -~]{0,12}"], 0..8).prop_map(|w| w.join(" ")),
        any::<String>(),
    ]
}

/// A reply on the wire: one or more lines `NNN-text` / `NNN text`, or bytes.
fn wire() -> impl Strategy<Value = String> {
    let code = prop_oneof![200u16..600, 0u16..1000];
    let line = (code, any::<bool>(), text());
    prop_oneof![
        3 => proptest::collection::vec(line, 1..4).prop_map(|lines| {
            let n = lines.len();
            lines
                .into_iter()
                .enumerate()
                .map(|(i, (c, dash, t))| {
                    let sep = if i + 1 < n || dash { '-' } else { ' ' };
                    format!("{c:03}{sep}{t}\r\n")
                })
                .collect()
        }),
        1 => any::<String>(),
    ]
}

fn check(
    stage: Stage,
    code: u16,
    text: &str,
    recipient: Option<&str>,
) -> Result<(), TestCaseError> {
    let reply = SmtpError::Reply {
        stage,
        code,
        text: text.to_owned(),
        recipient: recipient.map(str::to_owned),
    };
    let retryable = reply.is_retryable();
    prop_assert_eq!(retryable, code == 421 && stage < Stage::Content);
    let err = reply.into_error("smtp.example.com:587");
    if code >= 500 {
        prop_assert!(!err.is_temporary(), "{code} {text:?} at {stage:?}: {err:?}");
    }
    prop_assert_eq!(err.smtp_code(), Some(code));
    for shown in [err.to_string(), err.remedy().unwrap_or_default().to_owned()] {
        prop_assert!(!shown.chars().any(char::is_control), "control character in {shown:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn prop_any_reply_text_classifies_without_panic(
        stage in proptest::sample::select(STAGES),
        code in prop_oneof![400u16..600, 0u16..1000],
        text in text(),
        recipient in proptest::option::of("[a-z]{1,8}@[a-z]{1,8}\\.es"),
    ) {
        check(stage, code, &text, recipient.as_deref())?;
    }

    #[test]
    fn prop_any_reply_on_the_wire_parses_and_classifies_without_panic(
        raw in wire(),
        stage in proptest::sample::select(STAGES),
    ) {
        let Ok(response) = Response::from_str(&raw) else { return Ok(()) };
        if response.is_positive() {
            return Ok(());
        }
        // What lettre puts in its error: the lines joined by spaces.
        let text = response.message().collect::<Vec<_>>().join(" ");
        check(stage, u16::from(response.code()), &text, None)?;
    }
}

/// Found by this target: a reply's escape sequences reached the error text
/// raw (clear screen, OSC 8 links, forged log lines).
#[test]
fn control_characters_of_a_reply_are_escaped() {
    let err = SmtpError::Reply {
        stage: Stage::RcptTo,
        code: 550,
        text: "5.1.1 \u{1b}[2J\u{1b}]8;;http://evil.test\u{7}click\r\nok ñ".into(),
        recipient: None,
    }
    .into_error("smtp.example.com:587");
    assert_eq!(
        err.context_value("reply"),
        Some("550 5.1.1 \\u{1b}[2J\\u{1b}]8;;http://evil.test\\u{7}click\\r\\nok ñ")
    );
}
