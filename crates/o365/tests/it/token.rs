//! Tokens: one per app and secret, single flight, refresh, 401 once, and
//! every AADSTS error mapped to its kind and remedy.

use std::sync::Arc;
use std::time::Duration;

use g360_mail_core::{
    EmailAddress, ErrorKind, Integration, MailProvider, MailboxAccess, ProviderRegistry, Secret,
};
use g360_mail_o365::O365Factory;
use g360_mail_testkit::graph::{
    App, ClientSecret, Endpoint, Fault, FaultMatch, MAIL_READ, MAIL_SEND,
};
use tokio::sync::Semaphore;

use crate::util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_sends_fifty_at_a_time_cost_one_token() {
    let env = env().await;
    let p = env.shared();
    let gate = Arc::new(Semaphore::new(50));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let p = p.clone();
        let gate = gate.clone();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            p.send(&simple(&format!("mail {i}"))).await
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    assert_eq!(env.emu.token_requests(), 1);
    assert_eq!(env.emu.deliveries().len(), 1000);
    assert!(env.emu.max_concurrency(ERP) <= 4);
}

#[tokio::test]
async fn accounts_on_the_same_integration_and_secret_share_one_token() {
    let env = env().await;
    let mut registry = ProviderRegistry::new();
    registry.register(O365Factory::default());
    let integration =
        Integration::new("o365", "office365", serde_json::to_value(settings(&env)).unwrap());
    let account = |addr: &str| {
        MailboxAccess::new(EmailAddress::new(addr).unwrap())
            .with_secret(Secret::new(env.setup.secret.clone()))
    };
    let erp = registry.build(&integration, &account(ERP)).unwrap();
    let ap = registry.build(&integration, &account(AP)).unwrap();
    erp.send(&simple("a")).await.unwrap();
    ap.send(&simple("b")).await.unwrap();
    erp.send(&simple("c")).await.unwrap();
    assert_eq!(env.emu.token_requests(), 1);

    // A different secret of the same app is another cache.
    let second = ClientSecret::new("Zz8Q~second-secret-value.with+plus");
    env.emu.update_app(&env.setup.client_id, |app| app.secrets.push(second.clone()));
    let other = MailboxAccess::new(EmailAddress::new(ERP).unwrap())
        .with_secret(Secret::new(second.value.clone()));
    registry.build(&integration, &other).unwrap().send(&simple("d")).await.unwrap();
    assert_eq!(env.emu.token_requests(), 2);
    // The '+' of the secret arrived intact: it was form-encoded.
    assert_eq!(env.emu.tokens_issued(), 2);
}

#[tokio::test]
async fn the_token_request_is_form_encoded_client_credentials() {
    let env = env().await;
    env.provider().send(&simple("x")).await.unwrap();
    let req = &env.emu.requests_to(Endpoint::Token)[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, format!("/{}/oauth2/v2.0/token", env.setup.tenant_id));
    assert_eq!(req.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(req.form_field("grant_type"), Some("client_credentials"));
    assert_eq!(req.form_field("scope"), Some("https://graph.microsoft.com/.default"));
    assert_eq!(req.form_field("client_id"), Some(env.setup.client_id.as_str()));
}

#[tokio::test]
async fn tokens_are_refreshed_ahead_of_expiry() {
    let env = env().await;
    env.emu.configure(|o| o.token_lifetime = Duration::from_secs(2));
    let p = env.provider();
    p.send(&simple("1")).await.unwrap();
    p.send(&simple("2")).await.unwrap();
    assert_eq!(env.emu.token_requests(), 1);
    // Renewed at half the lifetime when the margin exceeds it: after 1 s.
    tokio::time::sleep(ms(1100)).await;
    p.send(&simple("3")).await.unwrap();
    assert_eq!(env.emu.token_requests(), 2);
    // No 401 happened: the old token was replaced before it expired.
    assert!(env.emu.requests_to(Endpoint::SendMail).iter().all(|r| r.status == Some(202)));
}

#[tokio::test]
async fn refresh_in_is_honoured() {
    let env = env().await;
    env.emu.configure(|o| o.refresh_in = Some(Duration::from_secs(1)));
    let p = env.provider();
    p.send(&simple("1")).await.unwrap();
    p.send(&simple("2")).await.unwrap();
    assert_eq!(env.emu.token_requests(), 1);
    tokio::time::sleep(ms(1100)).await;
    p.send(&simple("3")).await.unwrap();
    assert_eq!(env.emu.token_requests(), 2);
}

#[tokio::test]
async fn a_refused_token_is_renewed_and_the_request_retried_once() {
    let env = env().await;
    let p = env.provider();
    p.send(&simple("1")).await.unwrap();
    env.emu.revoke_all_tokens();
    let r = p.send(&simple("2")).await.unwrap();
    assert!(!r.recovered);
    assert_eq!(env.emu.token_requests(), 2);
    let sends = env.emu.requests_to(Endpoint::SendMail);
    assert_eq!(sends.iter().map(|r| r.status.unwrap()).collect::<Vec<_>>(), [202, 401, 202]);
    assert_eq!(env.emu.deliveries().len(), 2);

    // Reads too.
    env.emu.expire_all_tokens();
    p.list_messages(&Default::default()).await.unwrap();
    assert_eq!(env.emu.token_requests(), 3);

    // A 401 that persists after a fresh token is retried only once.
    env.emu.push_fault_always(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::status(401, "InvalidAuthenticationToken", "Access token validation failure."),
    );
    let before = env.send_requests();
    let err = p.send(&simple("3")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.code(), Some("InvalidAuthenticationToken"));
    assert!(err.is_not_delivered());
    assert_eq!(env.send_requests() - before, 2);
}

#[tokio::test]
async fn a_temporary_token_failure_is_retried() {
    let env = env().await;
    env.emu.push_fault(
        FaultMatch::endpoint(Endpoint::Token),
        Fault::token_temporarily_unavailable(),
        1,
    );
    env.provider().send(&simple("x")).await.unwrap();
    assert_eq!(env.emu.token_requests(), 2);
}

/// (what to do, expected code, kind, a word of the remedy)
#[tokio::test]
async fn token_errors_map_to_setup_errors_with_remedies() {
    let env = env().await;
    let other_app = App::random()
        .with_secret(ClientSecret::new("another-app-secret"))
        .with_roles([MAIL_SEND, MAIL_READ]);
    let other_id = other_app.client_id.clone();
    env.emu.add_app(&env.setup.tenant_id, other_app);
    let expired = ClientSecret::expired("Exp8Q~expired-secret-value");
    env.emu.update_app(&env.setup.client_id, |a| a.secrets.push(expired.clone()));
    let disabled = App::random().with_secret(ClientSecret::new("disabled-app-secret")).disabled();
    let disabled_id = disabled.client_id.clone();
    env.emu.add_app(&env.setup.tenant_id, disabled);

    struct Case {
        name: &'static str,
        client_id: String,
        tenant: String,
        secret: String,
        fault: Option<Fault>,
        code: &'static str,
        kind: ErrorKind,
        remedy_has: &'static str,
    }
    let base = |name, code, kind, remedy_has| Case {
        name,
        client_id: env.setup.client_id.clone(),
        tenant: env.setup.tenant_id.clone(),
        secret: env.setup.secret.clone(),
        fault: None,
        code,
        kind,
        remedy_has,
    };
    let aadsts = |n: u32, error: &str| {
        Some(Fault::TokenError {
            status: 400,
            error: error.into(),
            aadsts: n,
            description: "scripted".into(),
        })
    };
    let cases = vec![
        Case {
            secret: "wrong-secret".into(),
            ..base("wrong secret", "AADSTS7000215", ErrorKind::Auth, "Value (not the Secret ID)")
        },
        Case {
            secret: env.setup.secret_key_id.clone(),
            ..base("secret id", "AADSTS7000215", ErrorKind::Auth, "Certificates & secrets")
        },
        Case {
            secret: expired.value.clone(),
            ..base("expired", "AADSTS7000222", ErrorKind::Auth, "create a new client secret")
        },
        Case {
            client_id: uuid::Uuid::new_v4().to_string(),
            ..base("unknown app", "AADSTS700016", ErrorKind::Config, "client_id")
        },
        Case {
            client_id: other_id.clone(),
            secret: "another-app-secret".into(),
            tenant: uuid::Uuid::new_v4().to_string(),
            ..base("unknown tenant", "AADSTS90002", ErrorKind::Config, "tenant_id")
        },
        Case {
            fault: aadsts(900023, "invalid_request"),
            ..base("malformed tenant", "AADSTS900023", ErrorKind::Config, "tenant_id")
        },
        Case {
            fault: aadsts(9001023, "invalid_request"),
            ..base("common", "AADSTS9001023", ErrorKind::Config, "tenant_id")
        },
        // A tenant or client id that cannot be right is refused before any
        // request is made.
        Case {
            tenant: "not a tenant!".into(),
            ..base("malformed tenant, local", "o365.tenant-id-invalid", ErrorKind::Config, "tenant")
        },
        Case {
            tenant: "common".into(),
            ..base("common, local", "o365.tenant-id-invalid", ErrorKind::Config, "tenant")
        },
        Case {
            client_id: "G360 ERP - MAIL".into(),
            ..base(
                "malformed client id, local",
                "o365.client-id-invalid",
                ErrorKind::Config,
                "client",
            )
        },
        Case {
            client_id: disabled_id.clone(),
            secret: "disabled-app-secret".into(),
            ..base("disabled", "AADSTS7000112", ErrorKind::Auth, "Enterprise applications")
        },
        Case {
            fault: Some(Fault::token_conditional_access()),
            ..base("conditional access", "AADSTS53003", ErrorKind::Permission, "Conditional Access")
        },
        Case {
            fault: aadsts(1002012, "invalid_scope"),
            ..base("scope", "AADSTS1002012", ErrorKind::Config, "cloud")
        },
        Case {
            fault: aadsts(70011, "invalid_scope"),
            ..base("scope 2", "AADSTS70011", ErrorKind::Config, "cloud")
        },
        Case {
            fault: aadsts(700022, "invalid_scope"),
            ..base("two resources", "AADSTS700022", ErrorKind::Config, "cloud")
        },
        Case {
            fault: aadsts(500011, "invalid_resource"),
            ..base("resource", "AADSTS500011", ErrorKind::Config, "cloud")
        },
        Case {
            fault: aadsts(90038, "invalid_request"),
            ..base("cross cloud", "AADSTS90038", ErrorKind::Config, "cloud")
        },
        Case {
            fault: aadsts(900144, "invalid_request"),
            ..base("missing parameter", "AADSTS900144", ErrorKind::Config, "client_id")
        },
        Case {
            fault: aadsts(7000218, "invalid_request"),
            ..base("no secret", "AADSTS7000218", ErrorKind::Auth, "secret")
        },
        Case {
            fault: aadsts(50194, "invalid_request"),
            ..base("single tenant", "AADSTS50194", ErrorKind::Config, "tenant_id")
        },
        Case {
            fault: aadsts(123456, "invalid_grant"),
            ..base("unknown code", "AADSTS123456", ErrorKind::Auth, "secret")
        },
    ];
    for case in cases {
        env.emu.clear_faults();
        if let Some(f) = case.fault.clone() {
            env.emu.push_fault_always(FaultMatch::endpoint(Endpoint::Token), f);
        }
        let mut s = settings(&env);
        s.client_id = case.client_id.clone();
        s.tenant_id = case.tenant.clone();
        let p = env.provider_with(s, ERP, &case.secret);
        let before = env.send_requests();
        let err = p.send(&simple("x")).await.unwrap_err();
        assert_eq!(err.code(), Some(case.code), "{}: {err:?}", case.name);
        assert_eq!(err.kind(), case.kind, "{}", case.name);
        assert!(!err.is_temporary(), "{}", case.name);
        assert!(
            err.remedy().unwrap().contains(case.remedy_has),
            "{}: {:?}",
            case.name,
            err.remedy()
        );
        assert!(err.is_not_delivered(), "{}", case.name);
        assert_eq!(err.provider(), Some("office365"));
        if (case.fault.is_none() && !case.name.ends_with(", local")) || case.code == "AADSTS53003" {
            assert!(err.context_value("trace_id").is_some(), "{}: {err:?}", case.name);
            assert!(err.context_value("correlation_id").is_some(), "{}", case.name);
        }
        assert_eq!(env.send_requests(), before, "{}: nothing reaches Graph", case.name);
        if case.name == "secret id" {
            assert!(err.context_value("secret").unwrap().contains("Secret ID"));
        }
    }
    env.emu.clear_faults();

    // Throttling of the token endpoint is temporary and retried, then persistent.
    env.emu.push_fault_always(
        FaultMatch::endpoint(Endpoint::Token),
        Fault::TokenError {
            status: 400,
            error: "invalid_request".into(),
            aadsts: 90055,
            description: "throttled".into(),
        },
    );
    let err = env
        .provider_with(settings(&env), AP, &env.setup.secret)
        .send(&simple("x"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.code(), Some("AADSTS90055"));
    assert!(!err.is_temporary());
    assert_eq!(err.context_value("attempts"), Some("4"));
}
