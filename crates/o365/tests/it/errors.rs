//! Graph error answers mapped to kinds, codes and remedies; refusals are
//! never retried.

use g360_mail_core::{EmailAddress, ErrorKind, MailProvider, MailboxQuery, OutgoingMessage};
use g360_mail_testkit::graph::{
    AccessPolicy, Endpoint, Fault, FaultMatch, MAIL_READ, MAIL_SEND, MailboxState,
};

use crate::util::*;

#[tokio::test]
async fn mailbox_problems_are_setup_errors() {
    let env = env().await;
    // An address that is not a mailbox of the tenant.
    let p = env.provider_with(settings(&env), "nobody@contoso.example", &env.setup.secret);
    let err = p.send(&simple("x")).await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Config, Some("ErrorInvalidUser")));
    assert!(err.remedy().unwrap().contains("user principal name"));
    assert_eq!(err.http_status(), Some(404));
    assert!(err.is_not_delivered());
    assert!(err.context_value("request_id").is_some());
    assert_eq!(env.send_requests(), 1, "a 404 is not retried");

    // No Exchange Online licence.
    env.emu.update_mailbox(AP, |m| m.state = MailboxState::NotEnabledForRest);
    let p = env.provider_with(settings(&env), AP, &env.setup.secret);
    let err = p.send(&simple("x")).await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Config, Some("MailboxNotEnabledForRESTAPI")));
    assert!(err.remedy().unwrap().contains("licence"));
    let err = p.list_messages(&MailboxQuery::default()).await.unwrap_err();
    assert_eq!(err.code(), Some("MailboxNotEnabledForRESTAPI"));
}

#[tokio::test]
async fn permission_problems_are_permission_errors() {
    let env = env().await;
    // Application Access Policy excluding the mailbox.
    env.emu.update_app(&env.setup.client_id, |a| {
        a.access_policy = Some(AccessPolicy::RestrictAccess(vec![AP.into()]))
    });
    let p = env.provider();
    let err = p.send(&simple("x")).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::Permission, Some("o365.mailbox-not-in-app-scope"))
    );
    assert!(err.remedy().unwrap().contains("Application Access Policy"));
    assert_eq!(env.send_requests(), 1, "a 403 is not retried");
    env.emu.update_app(&env.setup.client_id, |a| a.access_policy = None);

    // Only Mail.Read: sending is denied.
    env.emu.update_app(&env.setup.client_id, |a| a.roles = vec![MAIL_READ.into()]);
    let f = g360_mail_o365::O365Factory::default();
    let p = f
        .builder(settings(&env))
        .with_mailbox(EmailAddress::new(ERP).unwrap())
        .with_client_secret(g360_mail_core::Secret::new(env.setup.secret.clone()))
        .build()
        .unwrap();
    let err = p.send(&simple("x")).await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Permission, Some("ErrorAccessDenied")));
    assert!(err.remedy().unwrap().contains("Application permissions"));

    // No roles at all, answered 401 NoPermissionsInAccessToken: not a token to renew.
    env.emu.update_app(&env.setup.client_id, |a| a.roles.clear());
    env.emu.configure(|o| o.no_roles_answers_401 = true);
    let f = g360_mail_o365::O365Factory::default();
    let p = f
        .builder(settings(&env))
        .with_mailbox(EmailAddress::new(ERP).unwrap())
        .with_client_secret(g360_mail_core::Secret::new(env.setup.secret.clone()))
        .build()
        .unwrap();
    let before = env.emu.token_requests();
    let err = p.send(&simple("x")).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::Permission, Some("NoPermissionsInAccessToken"))
    );
    assert!(err.remedy().unwrap().contains("Grant admin consent"));
    assert_eq!(env.emu.token_requests() - before, 1);
    env.emu
        .update_app(&env.setup.client_id, |a| a.roles = vec![MAIL_SEND.into(), MAIL_READ.into()]);

    // Sending as another mailbox without Send As.
    let p = env.provider_with(settings(&env), ERP, &env.setup.secret);
    let msg = OutgoingMessage::builder()
        .from("ceo@contoso.example")
        .unwrap()
        .to(AP)
        .unwrap()
        .build()
        .unwrap();
    let err = p.send(&msg).await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Permission, Some("ErrorSendAsDenied")));
    // Sending "from" the mailbox itself does not write a from.
    let msg = OutgoingMessage::builder()
        .from("ERP <erp@contoso.example>")
        .unwrap()
        .to(AP)
        .unwrap()
        .build()
        .unwrap();
    p.send(&msg).await.unwrap();
    let last = env.emu.requests_to(Endpoint::SendMail).pop().unwrap();
    assert!(last.body_json.unwrap()["message"].get("from").is_none());
}

#[tokio::test]
async fn every_documented_graph_error_has_its_kind() {
    let env = env().await;
    let p = env.provider();
    let cases: &[(u16, &str, &str, ErrorKind, &str)] = &[
        (
            400,
            "InvalidInternetMessageHeader",
            "The internet message header name 'List-Unsubscribe' should start with 'x-' or 'X-'.",
            ErrorKind::InvalidInput,
            "InvalidInternetMessageHeader",
        ),
        (
            400,
            "ErrorInvalidRecipients",
            "At least one recipient is not valid.",
            ErrorKind::Rejected,
            "ErrorInvalidRecipients",
        ),
        (
            400,
            "BadRequest",
            "The maximum request length supported is 4MB.",
            ErrorKind::Rejected,
            "o365.message-too-large",
        ),
        (413, "", "Request Entity Too Large", ErrorKind::Rejected, "o365.message-too-large"),
        (
            400,
            "ErrorMessageSizeExceeded",
            "The message exceeds the maximum supported size.",
            ErrorKind::Rejected,
            "ErrorMessageSizeExceeded",
        ),
        (
            403,
            "ErrorQuotaExceeded",
            "Mailbox has exceeded maximum mailbox size.",
            ErrorKind::Rejected,
            "ErrorQuotaExceeded",
        ),
        (
            403,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
            ErrorKind::Permission,
            "ErrorAccessDenied",
        ),
        (
            403,
            "ExtensionError",
            "Operation failed with exception 'Reason: Access to OData is disabled.'",
            ErrorKind::Permission,
            "o365.mailbox-not-in-app-scope",
        ),
        (
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
            ErrorKind::Permission,
            "Authorization_RequestDenied",
        ),
        (
            403,
            "MailboxNotEnabledForRESTAPI",
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            ErrorKind::Config,
            "MailboxNotEnabledForRESTAPI",
        ),
        (
            400,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
            ErrorKind::Unexpected,
            "BadRequest",
        ),
        (
            400,
            "ErrorMimeContentInvalidBase64String",
            "Invalid base64 string for MIME content.",
            ErrorKind::Unexpected,
            "ErrorMimeContentInvalidBase64String",
        ),
    ];
    for (status, code, message, kind, our_code) in cases {
        env.emu.clear_faults();
        env.emu.push_fault(
            FaultMatch::endpoint(Endpoint::SendMail),
            Fault::status(*status, *code, *message),
            1,
        );
        let before = env.send_requests();
        let err = p.send(&simple("x")).await.unwrap_err();
        assert_eq!(err.kind(), *kind, "{code} {message}");
        assert_eq!(err.code(), Some(*our_code), "{code} {message}");
        assert_eq!(err.http_status(), Some(*status));
        assert!(err.is_not_delivered());
        assert_eq!(env.send_requests() - before, 1, "{code}: refusals are not retried");
    }
    assert!(env.emu.deliveries().is_empty());

    // Reads: a message that is gone, and a filter Graph refuses.
    let err = p.get_message("AAMkAGI-does-not-exist").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    env.emu.push_fault(
        FaultMatch::endpoint(Endpoint::ListMessages),
        Fault::status(
            400,
            "InefficientFilter",
            "The restriction or sort order is too complex for this operation.",
        ),
        1,
    );
    let err = p.list_messages(&MailboxQuery::default()).await.unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Unexpected, Some("InefficientFilter")));
}
