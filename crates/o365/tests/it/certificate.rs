//! Certificate credentials, expiry warnings and secret rotation against the
//! emulator; openssl makes the certificates and signs an assertion of its own.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use g360_mail_core::{
    CheckStatus, EmailAddress, ErrorKind, MailProvider, Secret, VerifyOptions, VerifyReport,
};
use g360_mail_o365::{O365Provider, O365Settings};
use g360_mail_testkit::graph::{AppCertificate, ClientSecret, Endpoint};

use crate::util::*;

pub(crate) use g360_mail_testkit::certs::openssl;

/// `name.crt` and `name.key`, made with the guide's command.
pub(crate) fn make_cert(dir: &Path, name: &str, days: u32) -> (PathBuf, PathBuf) {
    g360_mail_testkit::certs::self_signed(dir, name, days)
}

fn expired_cert(dir: &Path) -> (PathBuf, PathBuf) {
    g360_mail_testkit::certs::expired(dir)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// Uploads the certificate at `crt` to the emulator's app.
fn upload(env: &Env, crt: &Path) {
    let cert = AppCertificate::from_pem(&read(crt)).unwrap();
    env.emu.update_app(&env.setup.client_id, |a| a.certificates.push(cert));
}

fn cert_settings(env: &Env, crt: &Path, key: &Path) -> O365Settings {
    let mut s = settings(env);
    s.certificate_file = Some(crt.display().to_string());
    s.private_key_file = Some(key.display().to_string());
    s
}

fn build(env: &Env, s: O365Settings) -> g360_mail_core::Result<O365Provider> {
    env.factory.builder(s).with_mailbox(EmailAddress::new(ERP).unwrap()).build()
}

async fn verify(p: &O365Provider) -> VerifyReport {
    p.verify(&VerifyOptions::default()).await.unwrap()
}

fn check<'a>(r: &'a VerifyReport, name: &str) -> &'a g360_mail_core::Check {
    r.checks.iter().find(|c| c.name == name).unwrap()
}

/// The x5t#S256 thumbprint openssl computes for `crt`.
fn openssl_thumbprint(dir: &Path, crt: &Path) -> String {
    let out = String::from_utf8(openssl(
        dir,
        &["x509", "-in", crt.to_str().unwrap(), "-noout", "-fingerprint", "-sha256"],
    ))
    .unwrap();
    let hex = out.trim().rsplit('=').next().unwrap().replace(':', "");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn a_certificate_gets_tokens_sends_and_verify_names_it() {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = make_cert(dir.path(), "app", 365);
    upload(&env, &crt);
    let p = build(&env, cert_settings(&env, &crt, &key)).unwrap();

    p.send(&simple("con certificado")).await.unwrap();
    let tokens = env.emu.requests_to(Endpoint::Token);
    let form = &tokens.last().unwrap();
    assert_eq!(
        form.form_field("client_assertion_type"),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    assert!(form.form_field("client_secret").is_none());
    let jwt = form.form_field("client_assertion").unwrap();
    let part = |i: usize| -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(i).unwrap()).unwrap())
            .unwrap()
    };
    let (header, claims) = (part(0), part(1));
    let thumbprint = openssl_thumbprint(dir.path(), &crt);
    assert_eq!(header["x5t#S256"], thumbprint.as_str());
    assert_eq!(header["alg"], "PS256");
    assert_eq!(
        claims["aud"],
        format!("{}/{}/oauth2/v2.0/token", env.emu.url(), env.setup.tenant_id).as_str()
    );
    assert_eq!(claims["iss"], env.setup.client_id.as_str());
    assert_eq!(claims["sub"], env.setup.client_id.as_str());
    let lifetime = claims["exp"].as_i64().unwrap() - claims["nbf"].as_i64().unwrap();
    assert!((60..=600).contains(&lifetime), "a short exp: {lifetime}");
    assert!(uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).is_ok());

    let r = verify(&p).await;
    assert!(r.passed(), "{r:#?}");
    let config = check(&r, "configuration");
    assert_eq!(config.status, CheckStatus::Pass);
    assert!(config.detail.contains(&thumbprint), "{config:?}");
    let not_after = String::from_utf8(openssl(
        dir.path(),
        &["x509", "-in", "app.crt", "-noout", "-enddate", "-dateopt", "iso_8601"],
    ))
    .unwrap();
    let day = not_after.trim().trim_start_matches("notAfter=").get(..10).unwrap().to_owned();
    assert!(config.detail.contains(&format!("valid until {day}")), "{config:?} vs {day}");
    let token = check(&r, "token");
    assert_eq!(token.status, CheckStatus::Pass);
    assert!(token.detail.contains("certificate") && token.detail.contains(&thumbprint));

    // Each token request signs a new assertion: a unique jti, accepted again.
    let again = build(&env, cert_settings(&env, &crt, &key)).unwrap();
    again.verify(&VerifyOptions::default()).await.unwrap();
    let jtis: std::collections::BTreeSet<String> = env
        .emu
        .requests_to(Endpoint::Token)
        .iter()
        .map(|r| r.form_field("client_assertion").unwrap().to_owned())
        .collect();
    assert_eq!(jtis.len(), env.emu.requests_to(Endpoint::Token).len());
    assert!(jtis.iter().all(|j| j.contains(".<redacted len=")), "the signature is not recorded");
}

#[tokio::test]
async fn pem_texts_from_the_erps_store_work_too_and_share_the_cache() {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = make_cert(dir.path(), "app", 365);
    upload(&env, &crt);
    // A PKCS#1 key, as older tools export it.
    openssl(dir.path(), &["rsa", "-in", "app.key", "-traditional", "-out", "app1.key"]);
    let pem = |k: &Path| {
        env.factory
            .builder(settings(&env))
            .with_mailbox(EmailAddress::new(ERP).unwrap())
            .with_certificate_pem(read(&crt), Secret::new(read(k)))
            .build()
            .unwrap()
    };
    let (a, b) = (pem(&key), pem(&dir.path().join("app1.key")));
    a.send(&simple("uno")).await.unwrap();
    b.send(&simple("dos")).await.unwrap();
    assert_eq!(env.emu.tokens_issued(), 1, "one cache for one certificate");
    // A secret for the same app is another credential: its own cache.
    env.provider().send(&simple("tres")).await.unwrap();
    assert_eq!(env.emu.tokens_issued(), 2);
}

#[tokio::test]
async fn a_certificate_not_uploaded_is_diagnosed_with_the_portal_step() {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = make_cert(dir.path(), "app", 365);
    let p = build(&env, cert_settings(&env, &crt, &key)).unwrap();
    let err = p.send(&simple("x")).await.unwrap_err();
    assert_eq!(err.code(), Some("AADSTS700027"));
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(err.remedy().unwrap().contains("Certificates & secrets > Certificates"));
    let r = verify(&p).await;
    assert_eq!(check(&r, "token").code.as_deref(), Some("AADSTS700027"));
    // Another certificate uploaded does not help.
    let (other, _) = make_cert(dir.path(), "other", 365);
    upload(&env, &other);
    assert_eq!(p.send(&simple("x")).await.unwrap_err().code(), Some("AADSTS700027"));
}

#[tokio::test]
async fn a_skewed_clock_is_diagnosed() {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = make_cert(dir.path(), "app", 365);
    upload(&env, &crt);
    env.emu.configure(|o| o.clock_offset_secs = 3600);
    let p = build(&env, cert_settings(&env, &crt, &key)).unwrap();
    let r = verify(&p).await;
    let token = check(&r, "token");
    assert_eq!(token.status, CheckStatus::Fail);
    assert_eq!(token.code.as_deref(), Some("AADSTS700024"));
    assert!(token.remedy.as_deref().unwrap().contains("clock"));
    // A few minutes of skew are accepted.
    env.emu.configure(|o| o.clock_offset_secs = -120);
    assert!(verify(&p).await.passed());
}

#[tokio::test]
async fn unusable_files_fail_the_build_naming_the_field() {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = make_cert(dir.path(), "app", 365);
    let (_, other_key) = make_cert(dir.path(), "other", 365);

    let err = build(&env, cert_settings(&env, &crt, &other_key)).unwrap_err();
    assert_eq!(err.code(), Some("o365.certificate-key-mismatch"));
    assert_eq!(err.context_value("key"), Some("private_key_file"));

    let missing = dir.path().join("nope.crt");
    let err = build(&env, cert_settings(&env, &missing, &key)).unwrap_err();
    assert_eq!(err.code(), Some("o365.certificate-unreadable"));
    assert_eq!(err.context_value("key"), Some("certificate_file"));

    // The key where the certificate belongs, and the reverse.
    let err = build(&env, cert_settings(&env, &key, &key)).unwrap_err();
    assert_eq!(err.code(), Some("o365.certificate-unreadable"));
    assert_eq!(err.context_value("key"), Some("certificate_file"));
    let err = build(&env, cert_settings(&env, &crt, &crt)).unwrap_err();
    assert_eq!(err.code(), Some("o365.certificate-unreadable"));
    assert_eq!(err.context_value("key"), Some("private_key_file"));
    let key_line = read(&key).lines().nth(1).unwrap().to_owned();
    let err = build(&env, cert_settings(&env, &key, &key)).unwrap_err();
    assert!(!format!("{err} {err:?}").contains(&key_line), "no key material in errors");

    // A certificate without its key is a setting problem.
    let mut s = settings(&env);
    s.certificate_file = Some(crt.display().to_string());
    let err = build(&env, s).unwrap_err();
    assert_eq!(err.context_value("key"), Some("private_key_file"));
}

#[tokio::test]
async fn an_expired_certificate_fails_verify_and_sends_without_asking() {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = expired_cert(dir.path());
    upload(&env, &crt);
    let p = build(&env, cert_settings(&env, &crt, &key)).unwrap();
    let r = verify(&p).await;
    let c = check(&r, "configuration");
    assert_eq!(c.status, CheckStatus::Fail, "{r:#?}");
    assert_eq!(c.code.as_deref(), Some("o365.certificate-expired"));
    assert!(c.detail.contains("2020-02-01"), "{c:?}");
    assert!(c.remedy.as_deref().unwrap().contains("Certificates & secrets > Certificates"));
    let before = env.emu.token_requests();
    let err = p.send(&simple("x")).await.unwrap_err();
    assert_eq!(err.code(), Some("o365.certificate-expired"));
    assert_eq!(err.context_value("key"), Some("certificate_file"));
    assert_eq!(env.emu.token_requests(), before, "no request with an expired certificate");
}

#[tokio::test]
async fn a_certificate_about_to_expire_warns_from_the_configured_days() {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = make_cert(dir.path(), "app", 10);
    upload(&env, &crt);
    let p = build(&env, cert_settings(&env, &crt, &key)).unwrap();
    let r = verify(&p).await;
    assert!(r.passed(), "a warning does not fail verify: {r:#?}");
    let c = check(&r, "configuration");
    assert_eq!(c.status, CheckStatus::Warn);
    assert_eq!(c.code.as_deref(), Some("o365.certificate-expiring"));
    assert!(c.detail.contains("certificate_file") && c.detail.contains("days"), "{c:?}");
    assert_eq!(check(&r, "mailbox").status, CheckStatus::Pass);

    let mut s = cert_settings(&env, &crt, &key);
    s.expiry_warning_days = 7;
    let r = verify(&build(&env, s).unwrap()).await;
    assert_eq!(check(&r, "configuration").status, CheckStatus::Pass);
}

#[tokio::test]
async fn secret_expires_warns_before_and_fails_after() {
    let env = env().await;
    let day = |days: i64| {
        (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * days))
            .strftime("%Y-%m-%d")
            .to_string()
    };
    let with = |date: String| {
        let mut s = settings(&env);
        s.secret_expires = Some(date);
        env.provider_with(s, ERP, &env.setup.secret)
    };
    let r = verify(&with(day(20))).await;
    let c = check(&r, "configuration");
    assert_eq!((c.status, c.code.as_deref()), (CheckStatus::Warn, Some("o365.secret-expiring")));
    assert!(c.detail.contains("secret_expires"), "{c:?}");
    assert!(c.remedy.as_deref().unwrap().contains("secret_next"));

    let r = verify(&with(day(-1))).await;
    let c = check(&r, "configuration");
    assert_eq!((c.status, c.code.as_deref()), (CheckStatus::Fail, Some("o365.secret-expired")));
    assert!(c.remedy.as_deref().unwrap().contains("Certificates & secrets > Client secrets"));

    let r = verify(&with(day(200))).await;
    assert_eq!(check(&r, "configuration").status, CheckStatus::Pass);

    let mut s = settings(&env);
    s.secret_expires = Some("30/06/2027".into());
    let err = env
        .factory
        .builder(s)
        .with_mailbox(EmailAddress::new(ERP).unwrap())
        .with_client_secret(Secret::new(&env.setup.secret))
        .build()
        .unwrap_err();
    assert_eq!(err.context_value("key"), Some("secret_expires"));
}

/// A provider with `secret` and `secret_next`.
fn rotating(env: &Env, secret: &str, next: &str) -> O365Provider {
    env.factory
        .builder(settings(env))
        .with_mailbox(EmailAddress::new(ERP).unwrap())
        .with_client_secret(Secret::new(secret))
        .with_client_secret_next(Secret::new(next))
        .build()
        .unwrap()
}

#[tokio::test]
async fn rotation_uses_the_new_secret_and_falls_back_only_when_it_is_refused() {
    let env = env().await;
    let old = env.setup.secret.clone();
    let new = "New8Q~rotated.secret-value_0123456789abcd".to_owned();

    // The new secret is not in the app yet (typo, or not saved): the old one works.
    let p = rotating(&env, &old, &new);
    p.send(&simple("uno")).await.unwrap();
    let forms: Vec<String> = env
        .emu
        .requests_to(Endpoint::Token)
        .iter()
        .map(|r| r.form_field("client_secret").unwrap().to_owned())
        .collect();
    let redacted = |s: &str| format!("<redacted len={}>", s.len());
    assert_eq!(forms, [redacted(&new), redacted(&old)], "the new one first, then the old one");
    assert_ne!(new.len(), old.len());
    let r = verify(&p).await;
    assert!(r.passed(), "{r:#?}");
    let t = check(&r, "token");
    assert_eq!(
        (t.status, t.code.as_deref()),
        (CheckStatus::Warn, Some("o365.secret-next-refused"))
    );
    assert!(t.detail.contains("AADSTS7000215"), "{t:?}");

    // Both in the app: the new one, alone.
    env.emu.update_app(&env.setup.client_id, |a| a.secrets.push(ClientSecret::new(&new)));
    let p = rotating(&env, &old, &new);
    env.emu.reset_records();
    let r = verify(&p).await;
    let t = check(&r, "token");
    assert_eq!(t.status, CheckStatus::Pass);
    assert!(t.detail.contains("secret_next"), "{t:?}");
    assert_eq!(env.emu.requests_to(Endpoint::Token).len(), 1);

    // The old one revoked (deleted in the portal): nothing changes.
    env.emu.update_app(&env.setup.client_id, |a| a.secrets.retain(|s| s.value != old));
    let p = rotating(&env, &old, &new);
    let r = verify(&p).await;
    assert_eq!(check(&r, "token").status, CheckStatus::Pass, "{r:#?}");
    p.send(&simple("dos")).await.unwrap();

    // The new one expired while the old one still works: the old one, with the code.
    env.emu.update_app(&env.setup.client_id, |a| {
        a.secrets = vec![ClientSecret::new(&old), ClientSecret::expired(&new)];
    });
    let p = rotating(&env, &old, &new);
    let r = verify(&p).await;
    assert!(check(&r, "token").detail.contains("AADSTS7000222"), "{r:#?}");

    // Both refused: the old one's error is reported.
    env.emu.update_app(&env.setup.client_id, |a| a.secrets.clear());
    let p = rotating(&env, &old, &new);
    let r = verify(&p).await;
    assert_eq!(check(&r, "token").code.as_deref(), Some("AADSTS7000215"), "{r:#?}");
}

#[tokio::test]
async fn other_refusals_of_the_new_secret_do_not_fall_back() {
    let env = env().await;
    env.emu.update_app(&env.setup.client_id, |a| a.enabled = false);
    let p = rotating(&env, &env.setup.secret, "New8Q~whatever");
    let err = p.send(&simple("x")).await.unwrap_err();
    assert_eq!(err.code(), Some("AADSTS7000112"));
    assert_eq!(env.emu.token_requests(), 1, "no second try with the old secret");
}

/// The JWT of a client assertion, signed by `openssl dgst -sign`.
fn openssl_assertion(
    dir: &Path,
    key: &str,
    header: serde_json::Value,
    claims: serde_json::Value,
    pss: bool,
) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    std::fs::write(dir.join("input"), &input).unwrap();
    let mut args = vec!["dgst", "-sha256", "-sign", key];
    if pss {
        args.extend(["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"]);
    }
    args.extend(["-out", "sig", "input"]);
    openssl(dir, &args);
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(std::fs::read(dir.join("sig")).unwrap()))
}

#[tokio::test]
async fn the_emulator_accepts_an_assertion_signed_by_openssl_and_refuses_forgeries() {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let (crt, _) = make_cert(dir.path(), "app", 365);
    upload(&env, &crt);
    make_cert(dir.path(), "other", 365);
    let token_url = format!("{}/{}/oauth2/v2.0/token", env.emu.url(), env.setup.tenant_id);
    let thumbprint = openssl_thumbprint(dir.path(), &crt);
    let now = jiff::Timestamp::now().as_second();
    let claims = |jti: &str, nbf: i64| {
        serde_json::json!({
            "aud": token_url, "iss": env.setup.client_id, "sub": env.setup.client_id,
            "jti": jti, "nbf": nbf, "iat": nbf, "exp": nbf + 600,
        })
    };
    let header = |alg: &str| serde_json::json!({"alg": alg, "typ": "JWT", "x5t#S256": thumbprint});
    // This test's own client: the crypto provider is installed here, not by a
    // provider built earlier in the same binary (the test runs alone too).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http =
        reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().unwrap();
    let ask = |jwt: String| {
        let http = http.clone();
        let url = token_url.clone();
        let form = [
            ("client_id", env.setup.client_id.clone()),
            ("scope", "https://graph.microsoft.com/.default".into()),
            ("grant_type", "client_credentials".into()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ),
            ("client_assertion", jwt),
        ];
        async move {
            let resp = http.post(url).form(&form).send().await.unwrap();
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await.unwrap();
            if status == 200 {
                // The token says how the app authenticated: "2", a certificate.
                let token = body["access_token"].as_str().unwrap();
                let payload = URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap();
                let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
                assert_eq!(claims["appidacr"], "2");
            }
            (status, body["error_codes"][0].as_u64())
        }
    };

    let ps = openssl_assertion(dir.path(), "app.key", header("PS256"), claims("a-1", now), true);
    assert_eq!(ask(ps.clone()).await, (200, None), "PS256 signed by openssl");
    let rs = openssl_assertion(dir.path(), "app.key", header("RS256"), claims("a-2", now), false);
    assert_eq!(ask(rs).await, (200, None), "RS256 signed by openssl");

    assert_eq!(ask(ps).await, (401, Some(50027)), "a jti used twice");
    let forged =
        openssl_assertion(dir.path(), "other.key", header("PS256"), claims("a-3", now), true);
    assert_eq!(ask(forged).await, (401, Some(700027)), "signed by another key");
    let wrong_alg =
        openssl_assertion(dir.path(), "app.key", header("PS256"), claims("a-4", now), false);
    assert_eq!(ask(wrong_alg).await, (401, Some(700027)), "RS256 bytes under PS256");
    let future =
        openssl_assertion(dir.path(), "app.key", header("PS256"), claims("a-5", now + 3600), true);
    assert_eq!(ask(future).await, (401, Some(700024)), "not yet valid");
    let stale =
        openssl_assertion(dir.path(), "app.key", header("PS256"), claims("a-6", now - 3600), true);
    assert_eq!(ask(stale).await, (401, Some(700024)), "expired");
    let mut c = claims("a-7", now);
    c["sub"] = "someone-else".into();
    let other_sub = openssl_assertion(dir.path(), "app.key", header("PS256"), c, true);
    assert_eq!(ask(other_sub).await, (401, Some(700021)));
    let mut c = claims("a-8", now);
    c["aud"] = "https://login.microsoftonline.com/other/oauth2/v2.0/token".into();
    let other_aud = openssl_assertion(dir.path(), "app.key", header("PS256"), c, true);
    assert_eq!(ask(other_aud).await, (401, Some(50027)));
}

#[tokio::test]
async fn sends_near_an_expiry_carry_a_warning_logged_once_a_day() {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = make_cert(dir.path(), "app", 10);
    upload(&env, &crt);
    let p = build(&env, cert_settings(&env, &crt, &key)).unwrap();
    let other = env
        .factory
        .builder(cert_settings(&env, &crt, &key))
        .with_mailbox(EmailAddress::new(AP).unwrap())
        .build()
        .unwrap();
    for provider in [&p, &other, &p] {
        let receipt = provider.send(&simple("pronto caduca")).await.unwrap();
        assert_eq!(receipt.warnings.len(), 1, "{receipt:?}");
        let w = &receipt.warnings[0];
        assert_eq!(w.code.as_deref(), Some("o365.certificate-expiring"));
        assert!(w.detail.contains("certificate_file"), "{w:?}");
        let json = serde_json::to_value(&receipt).unwrap();
        assert_eq!(json["warnings"][0]["code"], "o365.certificate-expiring");
    }
    let log = String::from_utf8_lossy(&capture_logs().lock().unwrap()).into_owned();
    let logged = log
        .lines()
        .filter(|l| l.contains("credential expires soon") && l.contains(&env.setup.client_id))
        .count();
    assert_eq!(logged, 1, "one log line for the three sends of two accounts");

    // A secret far from its date: no warning, and none in the JSON.
    let mut s = settings(&env);
    s.secret_expires = Some("2099-01-01".into());
    let receipt = env.provider_with(s, ERP, &env.setup.secret).send(&simple("x")).await.unwrap();
    assert!(receipt.warnings.is_empty());
    assert!(serde_json::to_value(&receipt).unwrap().get("warnings").is_none());
    // A secret whose date passed while Entra still takes it: sent, with the warning.
    let mut s = settings(&env);
    s.secret_expires = Some("2020-01-01".into());
    let receipt = env.provider_with(s, ERP, &env.setup.secret).send(&simple("x")).await.unwrap();
    assert_eq!(receipt.warnings[0].code.as_deref(), Some("o365.secret-expired"));
}

/// The remedies and the detail of an expiring or expired certificate name
/// where it comes from: files, the environment variables of
/// `certificate_env`/`private_key_env`, or PEM texts the ERP gives.
#[tokio::test]
async fn certificate_remedies_name_the_source_in_use() {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = make_cert(dir.path(), "app", 10);
    upload(&env, &crt);
    let pem = |b: g360_mail_o365::O365Builder| {
        b.with_mailbox(EmailAddress::new(ERP).unwrap())
            .with_certificate_pem(read(&crt), Secret::new(read(&key)))
    };
    let files = build(&env, cert_settings(&env, &crt, &key)).unwrap();
    let given = pem(env.factory.builder(settings(&env))).build().unwrap();
    let from_env = pem(env.factory.builder(settings(&env)))
        .with_certificate_env_names("APP_CERT_PEM", "APP_KEY_PEM")
        .build()
        .unwrap();
    for (p, key, says) in [
        (&files, "certificate_file", "point certificate_file and private_key_file"),
        (&given, "certificate", "in the ERP"),
        (&from_env, "certificate_env", "in APP_CERT_PEM and its key in APP_KEY_PEM"),
    ] {
        let r = verify(p).await;
        let c = check(&r, "configuration");
        assert_eq!(c.code.as_deref(), Some("o365.certificate-expiring"), "{c:?}");
        assert!(c.detail.contains(&format!("({key})")), "{c:?}");
        assert_eq!(c.key.as_deref(), Some(key));
        let remedy = c.remedy.as_deref().unwrap();
        assert!(remedy.contains(says), "{key}: {remedy}");
        if key != "certificate_file" {
            assert!(!remedy.contains("certificate_file") && !c.detail.contains("_file"), "{c:?}");
        }
    }

    let (old_crt, old_key) = expired_cert(dir.path());
    let p = env
        .factory
        .builder(settings(&env))
        .with_mailbox(EmailAddress::new(ERP).unwrap())
        .with_certificate_pem(read(&old_crt), Secret::new(read(&old_key)))
        .with_certificate_env_names("APP_CERT_PEM", "APP_KEY_PEM")
        .build()
        .unwrap();
    let r = verify(&p).await;
    let c = check(&r, "configuration");
    assert_eq!(c.code.as_deref(), Some("o365.certificate-expired"), "{c:?}");
    assert_eq!(c.key.as_deref(), Some("certificate_env"));
    let err = p.send(&simple("x")).await.unwrap_err();
    assert_eq!(err.code(), Some("o365.certificate-expired"));
    assert_eq!(err.context_value("key"), Some("certificate_env"));
    let remedy = err.remedy().unwrap();
    assert!(remedy.contains("in APP_CERT_PEM and its key in APP_KEY_PEM"), "{remedy}");
    assert!(!remedy.contains("certificate_file"), "{remedy}");
}
