//! Fuzz target `mime`: received mail as raw bytes, and what we render read
//! back.
//!
//! Properties: [`parse`] never panics on any bytes (random, header soup,
//! damaged renders of real messages) and its error never shows a planted
//! secret nor a control character; [`render`] then [`parse`] keeps subject,
//! recipients (To, Cc, Bcc, Reply-To, with display names) and attachments
//! (name, content type, bytes, inline and content id) byte-exact.
//! `G360_FUZZ_CASES` sets the number of cases (`cargo xtask fuzz --target mime`).

use g360_mail_core::{
    Attachment, EmailAddress, Error, Importance, OutgoingMessage, ReceivedAttachment, Timestamp,
};
use g360_mail_mime::{RenderOptions, parse, render};
use g360_mail_testkit::fuzz::config;
use proptest::prelude::*;

/// Planted in inputs; must never come back in an error.
const SECRET: &str = "Zq8~fuzz-secret-7f3a9c";

fn address() -> impl Strategy<Value = EmailAddress> {
    let local = "[a-zA-Z0-9._%+-]{1,16}";
    let domain = "[a-z0-9]{1,10}(\\.[a-z]{2,5}){1,2}";
    let name = proptest::option::of(prop_oneof![
        "[a-zA-Z ]{1,20}",
        "[a-zA-Z0-9 ,;:<>@()\"\\\\'ñéÜ😀.=?_-]{1,30}",
        "\\PC{1,30}",
    ]);
    (local, domain, name).prop_filter_map("valid address", |(l, d, n)| {
        let a = EmailAddress::new(&format!("{l}@{d}")).ok()?;
        match n {
            Some(n) if !n.trim().is_empty() => a.with_name(n).ok(),
            _ => Some(a),
        }
    })
}

fn attachment() -> impl Strategy<Value = Attachment> {
    let name = prop_oneof![
        "[a-zA-Z0-9 ._-]{1,30}\\.(pdf|txt|csv|png|xml)",
        "[^/\\\\\\p{Cc}]{1,60}",
        "[a-zA-Z0-9 ,;:\"'()=?ñé😀._-]{1,80}",
    ];
    let content_type = prop_oneof![
        Just("application/pdf"),
        Just("application/octet-stream"),
        Just("image/png"),
        Just("text/plain"),
        Just("text/csv"),
        Just("text/html"),
        Just("application/xml"),
        Just("message/rfc822"),
    ];
    let bytes = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2048),
        "[ -~\r\n\t]{0,400}".prop_map(String::into_bytes),
    ];
    let inline = proptest::option::of("[a-zA-Z0-9.-]{1,12}@[a-z]{1,8}");
    (name, content_type, bytes, inline).prop_filter_map(
        "valid attachment",
        |(name, ct, bytes, cid)| {
            let a = Attachment::new(name, ct, bytes).ok()?;
            match cid {
                Some(cid) => a.inline(cid).ok(),
                None => Some(a),
            }
        },
    )
}

fn message() -> impl Strategy<Value = (EmailAddress, OutgoingMessage)> {
    let recipients = || proptest::collection::vec(address(), 0..3);
    (
        address(),
        proptest::collection::vec(address(), 1..4),
        recipients(),
        recipients(),
        recipients(),
        prop_oneof!["[a-zA-Z0-9 ]{0,40}", "[^\\p{Cc}]{0,120}", "[ -~]{0,300}", "[a-z]{990,1100}"],
        proptest::option::of("\\PC{0,200}"),
        proptest::option::of("<p>[a-z <>/]{0,100}</p>"),
        proptest::collection::vec(attachment(), 0..4),
        prop_oneof![Just(Importance::Normal), Just(Importance::High), Just(Importance::Low)],
    )
        .prop_filter_map(
            "valid message",
            |(from, to, cc, bcc, reply_to, subject, text, html, attachments, importance)| {
                let mut b = OutgoingMessage::builder()
                    .to_all(to)
                    .cc_all(cc)
                    .bcc_all(bcc)
                    .reply_to_all(reply_to)
                    .subject(subject)
                    .importance(importance);
                if let Some(t) = text {
                    b = b.text(t);
                }
                let has_html = html.is_some();
                if let Some(h) = html {
                    b = b.html(h);
                }
                // An inline text part with no HTML body to show it is read as
                // more body text, as mail clients do (noted, not a round trip).
                let loose_text =
                    |a: &Attachment| a.is_inline() && a.content_type().starts_with("text/");
                if !has_html && attachments.iter().any(loose_text) {
                    return None;
                }
                for a in attachments {
                    b = b.attach(a);
                }
                Some((from, b.build().ok()?))
            },
        )
}

/// A header block of names that matter to a parser, with arbitrary values.
fn header_soup() -> impl Strategy<Value = Vec<u8>> {
    let name = prop_oneof![
        Just("From"),
        Just("To"),
        Just("Cc"),
        Just("Subject"),
        Just("Date"),
        Just("Message-ID"),
        Just("Importance"),
        Just("X-Priority"),
        Just("Content-Type"),
        Just("Content-Transfer-Encoding"),
        Just("Content-Disposition"),
        Just("Content-ID"),
        Just("MIME-Version"),
    ];
    let value = prop_oneof![
        "[ -~]{0,80}",
        "multipart/(mixed|alternative|related); boundary=\"?[a-z=_]{0,10}\"?",
        "(text|application|image|message)/[a-z0-9.+-]{1,12}(; (charset|name|filename)=\"?[ -~]{0,20}\"?)*",
        "=\\?[a-z0-9-]{0,12}\\?[qQbB]\\?[ -~]{0,40}\\?=",
        "\\PC{0,60}",
    ];
    let header = (name, value).prop_map(|(n, v)| format!("{n}: {v}\r\n"));
    let body = prop_oneof![
        "[ -~\r\n]{0,300}",
        proptest::collection::vec(any::<u8>(), 0..300)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        "(--[a-z=_]{0,10}(--)?\r\n([A-Za-z-]{1,20}: [ -~]{0,40}\r\n){0,3}\r\n[ -~]{0,40}\r\n){0,6}",
    ];
    (proptest::collection::vec(header, 0..12), body)
        .prop_map(|(headers, body)| format!("{}\r\n{body}", headers.concat()).into_bytes())
}

/// A real render, then damaged: cut, bytes overwritten, bytes inserted.
fn damaged_render() -> impl Strategy<Value = Vec<u8>> {
    (
        message(),
        any::<prop::sample::Index>(),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<bool>()), 0..8),
    )
        .prop_map(|((from, m), cut, edits)| {
            let mut raw = render(&m, &from, &stored()).expect("a valid message renders");
            raw.truncate(cut.index(raw.len() + 1).max(1));
            for (at, byte, insert) in edits {
                let i = at.index(raw.len());
                if insert { raw.insert(i, byte) } else { raw[i] = byte }
            }
            raw
        })
}

fn stored() -> RenderOptions {
    RenderOptions {
        include_bcc: true,
        date: Some("2026-12-06T10:00:00Z".parse::<Timestamp>().expect("a valid date")),
    }
}

/// Addresses exact; display names with blanks collapsed, since an unquoted
/// RFC 5322 phrase is words separated by blanks of no meaning.
fn words(list: &[EmailAddress]) -> Vec<(String, Option<String>)> {
    list.iter()
        .map(|a| {
            let name = a.name().map(|n| {
                n.split([' ', '\t']).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
            });
            (a.addr().to_owned(), name)
        })
        .collect()
}

fn assert_clean(err: &Error) {
    let debug = format!("{err:?}");
    for text in [err.to_string(), err.remedy().unwrap_or_default().to_owned(), debug] {
        assert!(!text.contains(SECRET), "the secret leaked: {text}");
    }
    assert!(!err.to_string().chars().any(char::is_control), "control character in {err}");
}

fn check_parse(raw: &[u8]) {
    match parse("id-1", raw) {
        Ok(m) => {
            // Whatever is read is consistent: sizes are the bytes held.
            for a in &m.attachments {
                assert_eq!(a.size, a.bytes.as_ref().map_or(0, Vec::len) as u64);
            }
        }
        Err(e) => assert_clean(&e),
    }
}

fn with_secret(mut raw: Vec<u8>, at: prop::sample::Index) -> Vec<u8> {
    let i = at.index(raw.len() + 1);
    raw.splice(i..i, SECRET.bytes());
    raw
}

fn same_attachment(sent: &Attachment, got: &ReceivedAttachment) -> Result<(), TestCaseError> {
    prop_assert_eq!(sent.name(), got.name.as_str());
    prop_assert_eq!(sent.content_type(), got.content_type.as_str());
    prop_assert_eq!(Some(sent.bytes()), got.bytes.as_deref(), "bytes of {:?}", sent.name());
    prop_assert_eq!(sent.bytes().len() as u64, got.size);
    prop_assert_eq!(sent.content_id(), got.content_id.as_deref());
    prop_assert_eq!(sent.is_inline(), got.inline);
    Ok(())
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn prop_parsing_any_bytes_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..4096), at: prop::sample::Index) {
        check_parse(&with_secret(raw, at));
    }

    #[test]
    fn prop_parsing_header_soup_never_panics(raw in header_soup(), at: prop::sample::Index) {
        check_parse(&raw);
        check_parse(&with_secret(raw, at));
    }

    #[test]
    fn prop_parsing_damaged_renders_never_panics(raw in damaged_render()) {
        check_parse(&raw);
    }

    #[test]
    fn prop_render_then_parse_keeps_subject_recipients_and_attachments((from, sent) in message()) {
        let raw = match render(&sent, &from, &stored()) {
            Ok(raw) => raw,
            // Refusals are allowed (addresses lettre cannot write), cleanly.
            Err(e) => {
                assert_clean(&e);
                return Ok(());
            }
        };
        let got = parse("id", &raw).expect("what we render parses");
        // Blanks at either end of a header value may be lost (an RFC 5322
        // reader drops them unless they are encoded); everything between is
        // kept exactly.
        let blank = [' ', '\t'];
        prop_assert_eq!(sent.subject().trim_matches(blank), got.subject.trim_matches(blank));
        prop_assert!(sent.subject().contains(got.subject.as_str()), "{:?} became {:?}", sent.subject(), got.subject);
        prop_assert_eq!(words(std::slice::from_ref(&from)), words(got.from.as_slice()));
        prop_assert_eq!(words(sent.to()), words(&got.to));
        prop_assert_eq!(words(sent.cc()), words(&got.cc));
        prop_assert_eq!(words(sent.bcc()), words(&got.bcc));
        prop_assert_eq!(words(sent.reply_to()), words(&got.reply_to));
        prop_assert_eq!(sent.importance(), got.importance);
        prop_assert_eq!(sent.attachments().len(), got.attachments.len());
        // Parts come back in MIME order: inline ones first when they sit in
        // the HTML's related part, last when there is no HTML body.
        let mut expected: Vec<&Attachment> = sent.attachments().iter().collect();
        let html = sent.html().is_some();
        expected.sort_by_key(|a| a.is_inline() != html);
        for (s, g) in expected.iter().zip(&got.attachments) {
            same_attachment(s, g)?;
        }
    }
}

// Regressions found by this target.

fn round_trip(message: &OutgoingMessage) -> g360_mail_core::ReceivedMessage {
    let from = EmailAddress::new("facturas@contoso.com").unwrap();
    parse("id", &render(message, &from, &stored()).unwrap()).unwrap()
}

#[test]
fn a_subject_ending_in_a_run_of_blanks_reads_back() {
    // Found by the 10-minute run: such a subject is now written as encoded
    // words, which keep the blanks at its end too.
    let subject = "00 0 A0AaAa0 A  Aaaa AAA0 A 0 aAaaa0A 00aAA Aa0 a000 a0aaAa   A a   ";
    let m = OutgoingMessage::builder().to("a@b.cc").unwrap().subject(subject).build().unwrap();
    assert_eq!(round_trip(&m).subject, subject);
}

#[test]
fn a_run_of_blanks_beside_non_ascii_text_is_kept() {
    // Found by the second 10-minute run.
    for subject in ["A  ¡", "Factura  nº 42", "Ñandú   S.A."] {
        let m = OutgoingMessage::builder().to("a@b.cc").unwrap().subject(subject).build().unwrap();
        assert_eq!(round_trip(&m).subject, subject);
    }
}

#[test]
fn a_folded_run_of_blanks_in_the_subject_is_kept() {
    let subject = " A00A00a0  AAAaAa0a    A  aa AAa0A0Aa0   A   AA   AAA0   aaA!a0Aa!00";
    let m = OutgoingMessage::builder().to("a@b.cc").unwrap().subject(subject).build().unwrap();
    assert_eq!(round_trip(&m).subject, subject);
}

#[test]
fn a_text_file_that_is_not_utf8_comes_back_byte_for_byte() {
    // Latin-1 "Año;Importe\r\n", as a spreadsheet exports it.
    let latin1 = b"A\xf1o;Importe\r\n\xff\xfe\x00".to_vec();
    for ct in ["text/plain", "text/csv", "text/html"] {
        let m = OutgoingMessage::builder()
            .to("a@b.cc")
            .unwrap()
            .text("adjunto")
            .attach(Attachment::new("datos.csv", ct, latin1.clone()).unwrap())
            .build()
            .unwrap();
        let got = round_trip(&m);
        assert_eq!(got.attachments[0].bytes.as_deref(), Some(&latin1[..]), "{ct}");
        assert_eq!(got.attachments[0].size, latin1.len() as u64);
    }
}

#[test]
fn a_quoted_printable_text_attachment_of_other_mail_keeps_its_bytes() {
    let raw = concat!(
        "From: a@example.com\r\n",
        "Content-Type: multipart/mixed; boundary=b\r\n",
        "\r\n",
        "--b\r\n",
        "Content-Type: text/plain\r\n",
        "\r\n",
        "hola\r\n",
        "--b\r\n",
        "Content-Type: text/plain; charset=iso-8859-1\r\n",
        "Content-Disposition: attachment; filename=\"a.txt\"\r\n",
        "Content-Transfer-Encoding: quoted-printable\r\n",
        "\r\n",
        "A=F1o=3B1\r\n",
        "--b--\r\n",
    );
    let got = parse("id", raw.as_bytes()).unwrap();
    assert_eq!(got.attachments[0].bytes.as_deref(), Some(&b"A\xf1o;1"[..]));
}
