//! Verify: every check passing and failing, in setup-guide order.

use g360_mail_core::{
    CheckStatus, EmailAddress, ErrorKind, MailProvider, VerifyOptions, VerifyReport,
};
use g360_mail_o365::{O365Factory, O365Settings};
use g360_mail_testkit::graph::{
    AccessPolicy, ClientSecret, Endpoint, Fault, FaultMatch, MAIL_READ, MAIL_SEND, MailboxState,
    RbacGrant, RbacScope, Tenant,
};

use crate::util::*;

const NAMES: [&str; 6] =
    ["configuration", "tenant", "token", "permissions", "mailbox", "test-mail"];

fn statuses(r: &VerifyReport) -> Vec<(&str, CheckStatus)> {
    r.checks.iter().map(|c| (c.name.as_str(), c.status)).collect()
}

/// Asserts `name` failed with `code` and every later check was skipped.
fn failed_at(r: &VerifyReport, name: &str, code: &str) -> ErrorKind {
    assert_eq!(r.checks.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), NAMES);
    let i = NAMES.iter().position(|n| *n == name).unwrap();
    for c in &r.checks[..i] {
        assert!(matches!(c.status, CheckStatus::Pass | CheckStatus::Warn), "{c:?}");
    }
    let c = &r.checks[i];
    assert_eq!(c.status, CheckStatus::Fail, "{r:#?}");
    assert_eq!(c.code.as_deref(), Some(code), "{c:#?}");
    assert!(c.remedy.as_deref().is_some_and(|r| !r.is_empty()), "{c:#?}");
    for c in &r.checks[i + 1..] {
        assert_eq!(c.status, CheckStatus::Skipped);
    }
    c.error_kind.unwrap()
}

async fn verify_with(env: &Env, s: O365Settings, mailbox: &str, secret: &str) -> VerifyReport {
    let p = O365Factory::default()
        .builder(s)
        .with_mailbox(EmailAddress::new(mailbox).unwrap())
        .with_client_secret(g360_mail_core::Secret::new(secret))
        .build()
        .unwrap();
    let _ = env;
    p.verify(&VerifyOptions::default()).await.unwrap()
}

#[tokio::test]
async fn everything_passes_and_the_test_mail_is_found_in_sent_items() {
    let env = env().await;
    let p = env.provider();
    let r = p.verify(&VerifyOptions::default()).await.unwrap();
    assert!(r.passed());
    assert_eq!(r.provider, "office365");
    assert_eq!(
        statuses(&r),
        [
            ("configuration", CheckStatus::Pass),
            ("tenant", CheckStatus::Pass),
            ("token", CheckStatus::Pass),
            ("permissions", CheckStatus::Pass),
            ("mailbox", CheckStatus::Pass),
            ("test-mail", CheckStatus::Skipped),
        ]
    );
    assert_eq!(r.checks[5].detail, "not requested");
    let probe = env.emu.requests_to(Endpoint::MailFolder);
    assert_eq!(probe[0].path, format!("/v1.0/users/{ERP}/mailFolders/inbox"));
    assert_eq!(probe[0].query_param("$select").as_deref(), Some("id"));

    let r = p
        .verify(&VerifyOptions::default().send_test_to(EmailAddress::new(AP).unwrap()))
        .await
        .unwrap();
    assert_eq!(r.checks[5].status, CheckStatus::Pass, "{:#?}", r.checks[5]);
    assert_eq!(env.emu.inbox(AP).len(), 1);
}

#[tokio::test]
async fn configuration_failures() {
    let env = env().await;
    let mut s = settings(&env);
    s.client_id = "G360 ERP - MAIL".into();
    let r = verify_with(&env, s, ERP, &env.setup.secret).await;
    assert_eq!(failed_at(&r, "configuration", "o365.client-id-invalid"), ErrorKind::Config);
    assert!(r.checks[0].detail.contains("client_id"));

    let mut s = settings(&env);
    s.tenant_id = format!(" {} ", env.setup.tenant_id);
    let r = verify_with(&env, s, ERP, &env.setup.secret).await;
    failed_at(&r, "configuration", "o365.whitespace");

    // The Secret ID pasted instead of the value.
    let r = verify_with(&env, settings(&env), ERP, &env.setup.secret_key_id).await;
    failed_at(&r, "configuration", "o365.secret-is-id");
    assert!(r.checks[0].remedy.as_deref().unwrap().contains("Value"));

    let r = verify_with(&env, settings(&env), ERP, &format!("{}\n", env.setup.secret)).await;
    failed_at(&r, "configuration", "o365.whitespace");
    assert!(env.emu.requests().is_empty(), "nothing was asked of Microsoft");
}

#[tokio::test]
async fn tenant_failures() {
    let env = env().await;
    let mut s = settings(&env);
    s.tenant_id = uuid::Uuid::new_v4().to_string();
    let r = verify_with(&env, s, ERP, &env.setup.secret).await;
    assert_eq!(failed_at(&r, "tenant", "AADSTS90002"), ErrorKind::Config);

    // A tenant of the US Government cloud reached with cloud = global.
    let gov =
        Tenant::random().with_domain("agency.example").with_msgraph_host("graph.microsoft.us");
    let gov_id = gov.id.clone();
    env.emu.add_tenant(gov);
    let mut s = settings(&env);
    s.tenant_id = gov_id;
    let r = verify_with(&env, s, ERP, &env.setup.secret).await;
    failed_at(&r, "tenant", "o365.wrong-cloud");
    assert!(r.checks[1].remedy.as_deref().unwrap().contains("usgov"));
}

#[tokio::test]
async fn token_failures() {
    let env = env().await;
    let r = verify_with(&env, settings(&env), ERP, "Wrong8Q~secret").await;
    assert_eq!(failed_at(&r, "token", "AADSTS7000215"), ErrorKind::Auth);

    let expired = ClientSecret::expired("Exp8Q~expired");
    env.emu.update_app(&env.setup.client_id, |a| a.secrets.push(expired.clone()));
    let r = verify_with(&env, settings(&env), ERP, &expired.value).await;
    failed_at(&r, "token", "AADSTS7000222");

    let mut s = settings(&env);
    s.client_id = uuid::Uuid::new_v4().to_string();
    let r = verify_with(&env, s, ERP, &env.setup.secret).await;
    assert_eq!(failed_at(&r, "token", "AADSTS700016"), ErrorKind::Config);

    env.emu.push_fault(FaultMatch::endpoint(Endpoint::Token), Fault::token_conditional_access(), 1);
    let r = verify_with(&env, settings(&env), ERP, &env.setup.secret).await;
    assert_eq!(failed_at(&r, "token", "AADSTS53003"), ErrorKind::Permission);
}

#[tokio::test]
async fn permission_failures_and_the_rbac_warning() {
    let env = env().await;
    env.emu.update_app(&env.setup.client_id, |a| a.roles.clear());
    let r = verify_with(&env, settings(&env), ERP, &env.setup.secret).await;
    assert_eq!(failed_at(&r, "permissions", "o365.no-roles"), ErrorKind::Permission);
    assert!(r.checks[3].remedy.as_deref().unwrap().contains("Grant admin consent"));

    env.emu.update_app(&env.setup.client_id, |a| a.roles = vec![MAIL_SEND.into()]);
    let r = verify_with(&env, settings(&env), ERP, &env.setup.secret).await;
    failed_at(&r, "permissions", "o365.missing-role");
    assert!(r.checks[3].detail.contains("Mail.Read"));

    // Rights granted through Exchange RBAC for Applications: no roles in
    // the token, a warning, and the mailbox check decides.
    env.emu.update_app(&env.setup.client_id, |a| {
        a.roles.clear();
        a.rbac = vec![
            RbacGrant::new(MAIL_SEND, RbacScope::Mailboxes(vec![ERP.into()])),
            RbacGrant::new(MAIL_READ, RbacScope::Mailboxes(vec![ERP.into()])),
        ];
    });
    let mut s = settings(&env);
    s.rbac_for_applications = true;
    let r = verify_with(&env, s, ERP, &env.setup.secret).await;
    assert_eq!(r.checks[3].status, CheckStatus::Warn, "{r:#?}");
    assert_eq!(r.checks[3].code.as_deref(), Some("o365.no-roles"));
    assert_eq!(r.checks[4].status, CheckStatus::Pass, "{r:#?}");
    assert!(r.passed());
}

#[tokio::test]
async fn mailbox_failures() {
    let env = env().await;
    let r = verify_with(&env, settings(&env), "alias@contoso.example", &env.setup.secret).await;
    assert_eq!(failed_at(&r, "mailbox", "ErrorInvalidUser"), ErrorKind::Config);

    env.emu.update_mailbox(AP, |m| m.state = MailboxState::NotEnabledForRest);
    let r = verify_with(&env, settings(&env), AP, &env.setup.secret).await;
    assert_eq!(failed_at(&r, "mailbox", "MailboxNotEnabledForRESTAPI"), ErrorKind::Config);

    env.emu.update_app(&env.setup.client_id, |a| {
        a.access_policy = Some(AccessPolicy::RestrictAccess(vec![AP.into()]))
    });
    let r = verify_with(&env, settings(&env), ERP, &env.setup.secret).await;
    assert_eq!(failed_at(&r, "mailbox", "o365.mailbox-not-in-app-scope"), ErrorKind::Permission);
    assert!(r.checks[4].remedy.as_deref().unwrap().contains("Exchange administrator"));
}

#[tokio::test]
async fn test_mail_failure() {
    let env = env().await;
    env.emu.push_fault(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::status(403, "ErrorSendAsDenied", "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account."),
        1,
    );
    let p = env.provider();
    let r = p
        .verify(&VerifyOptions::default().send_test_to(EmailAddress::new(AP).unwrap()))
        .await
        .unwrap();
    assert_eq!(failed_at(&r, "test-mail", "ErrorSendAsDenied"), ErrorKind::Permission);
}
