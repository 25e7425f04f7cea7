//! The factory and registry: settings checked with their keys, providers built
//! from integrations and accounts.

use g360_mail_core::{
    EmailAddress, ErrorKind, Integration, MailboxAccess, ProviderRegistry, Secret,
};
use g360_mail_o365::{O365_PROVIDER_TYPE, O365Builder};

#[test]
fn registers_the_office365_type() {
    let mut r = ProviderRegistry::new();
    g360_mail_o365::register(&mut r);
    let info = r.list();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].provider_type, O365_PROVIDER_TYPE);
    assert!(info[0].needs_secret);
    assert_eq!(
        info[0].description,
        "Office 365 / Microsoft 365 mailbox through Microsoft Graph (Mail.Send, Mail.Read)"
    );
}

#[test]
fn settings_problems_carry_their_keys() {
    let mut r = ProviderRegistry::new();
    g360_mail_o365::register(&mut r);
    let problems = r
        .check_settings(
            "office365",
            &serde_json::json!({
                "client_id": "not-a-guid",
                "tenant_id": "",
                "graph_url": "http://graph.example.com",
                "authority_url": "http://127.0.0.1:9",
                "max_concurrent_requests": 10,
            }),
        )
        .unwrap_err();
    let keys: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        keys,
        ["client_id", "tenant_id", "authority_url", "graph_url", "max_concurrent_requests"]
    );
    assert!(problems.iter().all(|p| p.remedy.is_some()
        || p.path == "max_concurrent_requests"
        || p.path.ends_with("_url")));

    let unknown =
        r.check_settings("office365", &serde_json::json!({"client_secret": "x"})).unwrap_err();
    assert!(unknown[0].message.contains("unknown field"));

    assert!(
        r.check_settings(
            "office365",
            &serde_json::json!({
                "client_id": "11111111-2222-3333-4444-555555555555",
                "tenant_id": "contoso.onmicrosoft.com",
                "cloud": "china",
                "rbac_for_applications": true,
                "graph_url": "http://localhost:8080",
                "authority_url": "http://[::1]:8080",
                "allow_insecure_http": true,
            })
        )
        .is_ok()
    );
}

#[test]
fn build_refuses_insecure_endpoints_and_missing_secret() {
    let mut r = ProviderRegistry::new();
    g360_mail_o365::register(&mut r);
    let access = MailboxAccess::new(EmailAddress::new("u@contoso.com").unwrap());
    let integration = Integration::new(
        "o365",
        "office365",
        serde_json::json!({"client_id": "11111111-2222-3333-4444-555555555555", "tenant_id": "contoso.com"}),
    );
    let err = r.build(&integration, &access).unwrap_err();
    assert_eq!((err.kind(), err.code()), (ErrorKind::Config, Some("o365.secret-missing")));
    assert!(err.remedy().unwrap().contains("Certificates & secrets"));

    let access = access.with_secret(Secret::new("s3cr3t-value"));
    let p = r.build(&integration, &access).unwrap();
    assert_eq!(p.provider_type(), "office365");
    assert!(p.capabilities().read && p.capabilities().find_sent);

    let insecure = Integration::new(
        "o365",
        "office365",
        serde_json::json!({"client_id": "11111111-2222-3333-4444-555555555555", "tenant_id": "contoso.com",
            "graph_url": "http://graph.example.com", "allow_insecure_http": true}),
    );
    let err = r.build(&insecure, &access).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(err.context_value("key"), Some("graph_url"));

    let err = O365Builder::default()
        .with_client_id("11111111-2222-3333-4444-555555555555")
        .with_tenant_id("contoso.com")
        .with_client_secret(Secret::new("x"))
        .with_mailbox(EmailAddress::new("u@contoso.com").unwrap())
        .with_graph_url("http://127.0.0.1:1")
        .build()
        .unwrap_err();
    assert_eq!(err.context_value("key"), Some("graph_url"), "http needs allow_insecure_http");
    assert!(
        O365Builder::default()
            .with_client_secret(Secret::new("x"))
            .with_mailbox(EmailAddress::new("u@contoso.com").unwrap())
            .with_graph_url("http://127.0.0.1:1")
            .with_allow_insecure_http_dangerous(true)
            .build()
            .is_ok()
    );
}
