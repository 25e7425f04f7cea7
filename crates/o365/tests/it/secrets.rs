//! The client secret and access tokens never appear in any output: errors,
//! Debug, receipts, reports, logs.

use g360_mail_core::{EmailAddress, MailProvider, MailboxQuery, VerifyOptions};
use g360_mail_testkit::graph::{Endpoint, Fault, FaultMatch};

use crate::util::*;

#[tokio::test]
async fn no_secret_or_token_in_any_output() {
    let env = env().await;
    let secret = env.setup.secret.clone();
    let mut out: Vec<String> = Vec::new();
    let p = env.provider();
    out.push(format!("{p:?} {:?}", env.factory));

    let r = p.send(&simple("x")).await.unwrap();
    out.push(format!("{r:?} {}", serde_json::to_string(&r).unwrap()));
    env.emu.revoke_all_tokens();
    p.send(&simple("y")).await.unwrap();
    env.emu.push_fault(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::accept_then_gateway_timeout(),
        1,
    );
    out.push(format!("{:?}", p.send(&simple("z")).await.unwrap()));
    out.push(format!("{:?}", p.list_messages(&MailboxQuery::default()).await.unwrap()));
    let report = p
        .verify(&VerifyOptions::default().send_test_to(EmailAddress::new(AP).unwrap()))
        .await
        .unwrap();
    out.push(format!("{report:?} {}", serde_json::to_string(&report).unwrap()));

    // Failures: a refused secret, a refused token, a throttled mailbox.
    let wrong = env.provider_with(settings(&env), ERP, "Wrong8Q~secret+value");
    let err = wrong.send(&simple("x")).await.unwrap_err();
    out.push(format!("{err} {err:?} {:?}", std::error::Error::source(&err)));
    env.emu.push_fault_always(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::status(
            401,
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
        ),
    );
    let err = p.send(&simple("x")).await.unwrap_err();
    out.push(format!("{err} {err:?} {:?}", std::error::Error::source(&err)));
    env.emu.clear_faults();
    env.emu.push_fault_always(FaultMatch::endpoint(Endpoint::SendMail), Fault::throttled(0));
    let err = p.send(&simple("x")).await.unwrap_err();
    out.push(format!("{err} {err:?}"));
    out.push(format!("{:?}", settings(&env)));

    // The log of the whole run so far (every test logs into it).
    out.push(String::from_utf8_lossy(&capture_logs().lock().unwrap()).into_owned());
    let all = out.join("\n");
    assert!(all.contains("graph answered"), "tracing output was captured");
    assert!(!all.contains(&secret), "the client secret leaked");
    assert!(!all.contains("Wrong8Q~secret"), "a wrong secret leaked");
    // Every token the emulator issues is a JWT, whose text starts with "eyJ".
    assert!(!all.contains("eyJ"), "an access token leaked");
    assert!(!all.to_ascii_lowercase().contains("bearer ey"));
}
