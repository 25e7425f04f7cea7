//! Fuzz target `graph`: the JSON answers of Microsoft Graph and the identity
//! platform (messages, pages, attachments, error bodies, token answers and
//! discovery documents), read and classified as the provider does.
//!
//! Properties: reading any bytes or any JSON of the right shape never
//! panics, nor does turning what was read into core types and errors; an
//! access token planted in a token answer never shows in an error (`Display`,
//! `Debug`, remedy) nor in the `Debug` of what was read; Graph 5xx and 429
//! answers are temporary. `G360_FUZZ_CASES` sets the number of cases
//! (`cargo xtask fuzz --target graph`).

use g360_mail_core::{Error, ErrorKind};
use g360_mail_testkit::fuzz::config;
use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::auth::decode_claims;
use crate::error::{O365Error, graph_error};
use crate::graph_model::{
    CreatedItem, GraphAttachment, GraphErrorBody, GraphMessage, GraphPage, OpenIdConfiguration,
    TokenErrorBody, TokenResponse, UploadSession,
};
use crate::read::to_received;

/// An access token, planted in token answers; must never come back.
const SECRET: &str = "eyJ0eXAiOiJKV1QifQ.ZnV6ei1zZWNyZXQ.c2ln-7f3a9c";

/// The names Graph and Entra use, so that generated objects hit real fields.
const KEYS: &[&str] = &[
    "id",
    "value",
    "@odata.nextLink",
    "@odata.deltaLink",
    "@odata.type",
    "@removed",
    "internetMessageId",
    "subject",
    "from",
    "sender",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "emailAddress",
    "address",
    "name",
    "sentDateTime",
    "receivedDateTime",
    "isRead",
    "importance",
    "bodyPreview",
    "body",
    "contentType",
    "content",
    "hasAttachments",
    "attachments",
    "size",
    "isInline",
    "contentId",
    "contentBytes",
    "uploadUrl",
    "error",
    "code",
    "message",
    "innerError",
    "request-id",
    "client-request-id",
    "access_token",
    "expires_in",
    "refresh_in",
    "token_type",
    "error_description",
    "error_codes",
    "trace_id",
    "correlation_id",
    "timestamp",
    "token_endpoint",
    "cloud_instance_name",
    "msgraph_host",
    "tenant_region_scope",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just(u64::MAX.to_string()),
            Just("3599".to_owned()),
            Just("-1".to_owned()),
            Just("2026-12-06T10:00:00Z".to_owned()),
            Just("9999-99-99T99:99:99Z".to_owned()),
            Just("html".to_owned()),
            Just("high".to_owned()),
            Just("a@b.cc".to_owned()),
            Just("\"José\" <jose@example.com>".to_owned()),
            Just("AAEC".to_owned()),
            Just("#microsoft.graph.fileAttachment".to_owned()),
            Just(SECRET.to_owned()),
            "\\PC{0,40}",
            any::<String>(),
        ]
        .prop_map(Value::String),
    ]
}

/// Any JSON, with keys mostly taken from [`KEYS`].
fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 8, |inner| {
        let key = prop_oneof![4 => proptest::sample::select(KEYS).prop_map(str::to_owned), 1 => "\\PC{0,12}"];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key, inner), 0..10)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Bytes an endpoint may answer: JSON text, damaged JSON, or anything.
fn answer() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => json().prop_map(|v| serde_json::to_vec(&v).expect("a value serialises")),
        1 => (json(), any::<prop::sample::Index>()).prop_map(|(v, cut)| {
            let mut b = serde_json::to_vec(&v).expect("a value serialises");
            b.truncate(cut.index(b.len() + 1));
            b
        }),
        1 => proptest::collection::vec(any::<u8>(), 0..256),
    ]
}

/// A token answer holding [`SECRET`], in a shape that may or may not be valid.
fn token_answer() -> impl Strategy<Value = Vec<u8>> {
    let secret = || Value::String(SECRET.to_owned());
    prop_oneof![
        // The token in its field, other fields anything (wrong types included).
        // (Other fields never hold the token: a token in `expires_in` is not one.)
        proptest::collection::vec(
            (proptest::sample::select(KEYS), leaf().prop_filter("not the token", |v| v != SECRET)),
            0..6,
        )
        .prop_map(
            move |kv| {
                let mut m: Map<String, Value> =
                    kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                m.insert("access_token".into(), secret());
                serde_json::to_vec(&Value::Object(m)).expect("a value serialises")
            }
        ),
        // The token where a number or an object was expected, or bare.
        proptest::sample::select(&["expires_in", "refresh_in", "token_type", "error"][..])
            .prop_map(move |k| serde_json::to_vec(&serde_json::json!({ "access_token": 7, k: SECRET }))
                .expect("a value serialises")),
        Just(serde_json::to_vec(&secret()).expect("a value serialises")),
        Just(serde_json::to_vec(&serde_json::json!([SECRET, "x", 1, 2])).expect("a value serialises")),
        Just(serde_json::to_vec(&serde_json::json!({ "access_token": [SECRET] })).expect("a value serialises")),
        // Damaged: cut anywhere.
        (any::<prop::sample::Index>()).prop_map(move |cut| {
            let b = serde_json::to_vec(&serde_json::json!({ "token_type": "Bearer", "access_token": SECRET, "expires_in": 3599 }))
                .expect("a value serialises");
            b[..cut.index(b.len() + 1)].to_vec()
        }),
    ]
}

fn assert_no_secret(err: &Error) {
    for text in [err.to_string(), format!("{err:?}"), err.remedy().unwrap_or_default().to_owned()] {
        assert!(!text.contains(SECRET), "the access token leaked: {text}");
    }
}

/// What `auth.rs` does with a 200 answer of the token endpoint.
fn read_token_answer(body: &[u8]) -> Result<TokenResponse, Error> {
    serde_json::from_slice(body)
        .map_err(|e| Error::from(O365Error::Decode { what: "the token endpoint", source: e }))
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn prop_reading_messages_and_pages_never_panics(body in answer()) {
        if let Ok(m) = serde_json::from_slice::<GraphMessage>(&body) {
            let _ = format!("{m:?}");
            let _ = to_received(m);
        }
        if let Ok(page) = serde_json::from_slice::<GraphPage<GraphMessage>>(&body) {
            for m in page.value {
                let _ = to_received(m);
            }
        }
        if let Ok(page) = serde_json::from_slice::<GraphPage<GraphAttachment>>(&body) {
            let _ = format!("{page:?}");
        }
        let _ = serde_json::from_slice::<UploadSession>(&body).map(|s| s.upload_url);
        let _ = serde_json::from_slice::<CreatedItem>(&body);
        let _ = serde_json::from_slice::<OpenIdConfiguration>(&body);
    }

    #[test]
    fn prop_graph_error_answers_classify_without_panic(status in 100u16..1000, body in answer(), retry in proptest::option::of(any::<u64>())) {
        let detail = serde_json::from_slice::<GraphErrorBody>(&body).unwrap_or_default().error;
        let retry_after = retry.map(std::time::Duration::from_secs);
        let err = Error::from(O365Error::graph(status, detail, Some("req".into()), None, retry_after));
        prop_assert!(err.code().is_some_and(|c| !c.is_empty()));
        prop_assert_eq!(err.http_status(), Some(status));
        if (500..600).contains(&status) || status == 429 {
            prop_assert!(err.is_temporary() || err.kind() == ErrorKind::Permission, "{err:?}");
        }
        let _ = format!("{err} {err:?}");
    }

    #[test]
    fn prop_graph_error_codes_and_messages_never_panic(status in 0u16..1000, code in "\\PC{0,30}", inner in proptest::option::of("\\PC{0,30}"), message in "\\PC{0,80}") {
        let err = graph_error(status, &code, inner.as_deref(), &message);
        prop_assert!(err.code().is_some());
    }

    #[test]
    fn prop_token_error_answers_classify_without_panic(status in 100u16..1000, body in answer()) {
        let parsed: TokenErrorBody = serde_json::from_slice(&body).unwrap_or_default();
        let err = Error::from(O365Error::token(status, parsed));
        prop_assert!(err.code().is_some_and(|c| !c.is_empty()));
        let _ = format!("{err} {err:?}");
    }

    #[test]
    fn prop_a_token_answer_never_shows_the_token(body in token_answer()) {
        match read_token_answer(&body) {
            Ok(t) => {
                let shown = format!("{t:?}");
                prop_assert!(!shown.contains(SECRET));
                let _ = t.expires_in.as_ref().and_then(|v| v.as_u64());
                let _ = t.refresh_in.as_ref().and_then(|v| v.as_u64());
                let _ = decode_claims(&t.access_token);
            }
            Err(e) => assert_no_secret(&e),
        }
    }

    #[test]
    fn prop_decoding_any_token_claims_never_panics(header in "[A-Za-z0-9_=-]{0,20}", payload in json(), sig in "[A-Za-z0-9_.=-]{0,20}", raw in "\\PC{0,60}") {
        use base64::Engine as _;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&payload).expect("a value serialises"));
        let _ = decode_claims(&format!("{header}.{payload}.{sig}"));
        let _ = decode_claims(&raw);
    }
}

/// Found by this target: a token answer that is a bare JSON string (a broken
/// proxy, a misconfigured endpoint) put the token into the error's `Debug`
/// through serde_json's "invalid type: string \"…\"".
#[test]
fn an_unreadable_token_answer_does_not_quote_it() {
    for body in
        [format!("\"{SECRET}\""), format!("{{\"access_token\": 7, \"expires_in\": \"{SECRET}\"}}")]
    {
        let err = read_token_answer(body.as_bytes()).unwrap_err();
        assert_no_secret(&err);
        assert_eq!(err.code(), Some("o365.bad-answer"));
        assert_eq!(err.context_value("problem"), Some("data"));
    }
}
