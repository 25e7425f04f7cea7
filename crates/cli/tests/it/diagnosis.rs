//! Every diagnosis of the administrator guides (`docs/setup-office365.es.md`,
//! `docs/setup-office365.en.md`), provoked for real — against the Graph
//! emulator or a scripted SMTP server — and read through `g360-mail verify`
//! in Spanish and in English: the exit code, the failing check, the
//! translated message of its code, a remedy line, and no secret anywhere.

use crate::support::{Run, run, run_env};

use std::any::Any;
use std::path::Path;

use g360_mail_testkit::graph::{
    AccessPolicy, ClientSecret, EmulatorOptions, Fault, FaultMatch, GraphEmulator, MAIL_SEND,
    MailboxState, QuickSetup, RbacGrant, RbacScope, Tenant,
};
use g360_mail_texts::{Lang, error_text};
use tokio::net::TcpListener;

const LANGS: [Lang; 2] = [Lang::Es, Lang::En];

/// The account every situation verifies.
const USER: &str = "jgarcia";
const MAILBOX: &str = "jgarcia@contoso.com";

/// Short timeouts and no retries: every diagnosis here is a final answer, and
/// the tests must not wait on backoff.
const FAST_O365: &str = "allow_insecure_http = true\nmax_attempts = 1\n\
    request_timeout_ms = 5000\nconnect_timeout_ms = 2000\n\
    initial_backoff_ms = 10\nmax_backoff_ms = 10\nsent_lookup_delay_ms = 10\n";

/// A configuration in a temporary directory, the secrets it holds, and the
/// server its endpoints point at (kept alive as long as the situation).
struct Situation {
    dir: tempfile::TempDir,
    secrets: Vec<String>,
    /// Environment variables every command of the situation runs with.
    env: Vec<(String, String)>,
    _server: Box<dyn Any + Send>,
}

impl Situation {
    fn new(config: &str, secrets: Vec<String>, server: Box<dyn Any + Send>) -> Situation {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("g360-mail.toml"), config).unwrap();
        Situation { dir, secrets, env: Vec::new(), _server: server }
    }

    /// Runs the binary in the situation's directory with its environment;
    /// no secret may be in the output.
    async fn run(&self, args: &[&str]) -> Run {
        let env: Vec<(&str, &str)> =
            self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = run_env(self.dir.path(), args, &env).await;
        self.assert_no_secret(&r);
        r
    }

    async fn verify(&self, lang: Lang) -> Run {
        self.run(&["--lang", lang.as_str(), "verify", "--user", USER]).await
    }

    fn assert_no_secret(&self, r: &Run) {
        for s in &self.secrets {
            assert!(!r.stdout.contains(s.trim()), "a secret in stdout:\n{}", r.stdout);
            assert!(!r.stderr.contains(s.trim()), "a secret in stderr:\n{}", r.stderr);
        }
        for out in [&r.stdout, &r.stderr] {
            assert!(!out.contains("eyJ"), "an access token in the output:\n{out}");
        }
    }
}

/// The emulator with one tenant, one consented app and the mailboxes
/// `jgarcia@contoso.com` and `mlopez@contoso.com`; `change` breaks one thing
/// in the emulator or in the configuration text.
async fn office365(
    change: impl FnOnce(&GraphEmulator, &QuickSetup, &mut String) -> Vec<String>,
) -> Situation {
    let emulator = GraphEmulator::start().await;
    let setup = emulator.quick_setup(&[MAILBOX, "mlopez@contoso.com"]);
    let mut config =
        setup.toml_config(&emulator.url()).replace("allow_insecure_http = true\n", FAST_O365);
    let mut secrets = vec![setup.secret.clone()];
    secrets.extend(change(&emulator, &setup, &mut config));
    Situation::new(&config, secrets, Box::new(emulator))
}

/// The check that failed, its message and remedy, as `verify` printed them.
fn failing_check<'a>(stdout: &'a str, check: &str) -> (&'a str, &'a str) {
    let lines: Vec<&str> = stdout.lines().collect();
    let failed: Vec<usize> = (0..lines.len()).filter(|i| lines[*i].starts_with("  ✗ ")).collect();
    assert_eq!(failed.len(), 1, "exactly one failed check expected:\n{stdout}");
    let line = lines[failed[0]];
    let rest = &line["  ✗ ".len()..];
    let name = rest.split_whitespace().next().unwrap_or_default();
    assert_eq!(name, check, "the failing check:\n{stdout}");
    let text = rest[name.len()..].trim_start();
    let remedy = lines.get(failed[0] + 1).map(|l| l.trim_start()).unwrap_or_default();
    (text, remedy)
}

/// What a diagnosis looks like in the CLI: the check that fails, the code
/// whose translation it prints, and the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Want {
    check: &'static str,
    code: &'static str,
    exit: i32,
}

const fn w(check: &'static str, code: &'static str, exit: i32) -> Want {
    Want { check, code, exit }
}

/// Every diagnosis of the guides' tables, as the tests below provoke it.
const DIAGNOSES: &[Want] = &[
    w("configuration", "o365.client-id-invalid", 3),
    w("configuration", "o365.tenant-id-invalid", 3),
    w("configuration", "o365.secret-is-id", 3),
    w("configuration", "o365.whitespace", 3),
    w("tenant", "AADSTS90002", 3),
    w("tenant", "o365.wrong-cloud", 3),
    w("token", "AADSTS700016", 3),
    w("token", "AADSTS7000215", 3),
    w("token", "AADSTS7000222", 3),
    w("token", "AADSTS7000112", 3),
    w("token", "AADSTS53003", 3),
    w("configuration", "o365.secret-expired", 3),
    w("account", "o365.certificate-unreadable", 3),
    w("account", "o365.certificate-key-mismatch", 3),
    w("configuration", "o365.certificate-expired", 3),
    w("token", "AADSTS700027", 3),
    w("token", "AADSTS700024", 3),
    w("permissions", "o365.missing-role", 3),
    w("permissions", "o365.no-roles", 3),
    w("mailbox", "NoPermissionsInAccessToken", 3),
    w("mailbox", "ErrorInvalidUser", 3),
    w("mailbox", "MailboxNotEnabledForRESTAPI", 3),
    w("mailbox", "o365.mailbox-not-in-app-scope", 3),
    w("mailbox", "ErrorAccessDenied", 3),
    w("connect", "smtp.connect-failed", 5),
    w("tls", "smtp.starttls-unavailable", 3),
    w("auth", "smtp.auth-unavailable", 3),
    w("auth", "smtp.auth-failed", 3),
    w("auth", "smtp.auth-disabled", 3),
];

/// The diagnosis of `code`.
fn want(code: &str) -> Want {
    *DIAGNOSES.iter().find(|d| d.code == code).unwrap_or_else(|| panic!("{code} not in DIAGNOSES"))
}

/// The rows `(check, code)` of a guide's diagnosis table.
fn guide_rows(file: &str, header: &str) -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines().skip_while(|l| l.trim() != header).skip(2);
    let mut rows = Vec::new();
    while let Some(line) = lines.next().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        let unquote = |c: &str| c.trim_matches('`').to_owned();
        rows.push((unquote(cells[1]), unquote(cells[2])));
    }
    assert!(!rows.is_empty(), "no diagnosis table in {file}");
    rows
}

/// The guides list exactly the diagnoses provoked here, each with the check
/// that catches it.
#[test]
fn the_guides_tables_are_the_diagnoses_tested_here() {
    for (file, header) in [
        ("setup-office365.es.md", "| Paso | Comprobación | Código | Mensaje |"),
        ("setup-office365.en.md", "| Step | Check | Code | Message |"),
    ] {
        let rows = guide_rows(file, header);
        for (check, code) in &rows {
            assert_eq!(want(code).check, check, "{file}: the check of {code}");
        }
        for d in DIAGNOSES {
            assert!(rows.iter().any(|(_, c)| c == d.code), "{file} does not list {}", d.code);
        }
    }
}

/// Runs `verify` in both languages and checks the diagnosis.
async fn diagnose(s: &Situation, want: Want) {
    for lang in LANGS {
        let r = s.verify(lang).await;
        let all = format!("{}\n{}", r.stdout, r.stderr);
        assert_eq!(r.code, want.exit, "exit code of {want:?} in {lang}:\n{all}");
        let (message, remedy) = error_text(want.code, lang)
            .unwrap_or_else(|| panic!("{} has no {lang} text", want.code));
        let (text, remedy_line) = failing_check(&r.stdout, want.check);
        assert!(
            text.starts_with(&format!("{message} — ")),
            "{want:?} in {lang}: expected the message {message:?}, got:\n{all}"
        );
        let what = match lang {
            Lang::Es => "qué hacer",
            Lang::En => "what to do",
        };
        assert_eq!(remedy_line, format!("{what}: {remedy}"), "{want:?} in {lang}:\n{all}");
        let last = match lang {
            Lang::Es => "Hay comprobaciones que fallan",
            Lang::En => "Some checks failed",
        };
        assert!(r.stdout.trim_end().ends_with(last), "{lang}:\n{}", r.stdout);
    }
}

/// `config check` lists a setup problem (translated) and exits 3, while the
/// configuration still loads.
async fn config_check_lists(s: &Situation, key: &str, code: &str) {
    for lang in LANGS {
        let r = s.run(&["--lang", lang.as_str(), "config", "check"]).await;
        let all = format!("{}\n{}", r.stdout, r.stderr);
        assert_eq!(r.code, 3, "{key} in {lang}:\n{all}");
        let (message, _) = error_text(code, lang).expect("a translated code");
        assert!(r.stderr.contains(&format!("  - {key}: {message}")), "{key} in {lang}:\n{all}");
    }
}

/// Runs `verify` in both languages and checks that the configuration is
/// refused when loaded, before any check runs: exit 2, the key path, the
/// problem and a remedy line.
///
/// A problem with a code is shown translated, followed by the provider's or
/// the bridge's English detail in brackets.
async fn refused_on_load(s: &Situation, want: Option<Want>, key: &str, problem: &str) {
    if let Some(want) = want {
        assert_eq!((want.check, want.exit), ("config check", 2), "{want:?}");
    }
    for lang in LANGS {
        let r = s.verify(lang).await;
        let all = format!("{}\n{}", r.stdout, r.stderr);
        assert_eq!(r.code, 2, "{key} in {lang}:\n{all}");
        assert!(r.stdout.is_empty(), "no check runs:\n{all}");
        let (title, what) = match lang {
            Lang::Es => ("La configuración tiene problemas", "qué hacer: "),
            Lang::En => ("The configuration has problems", "what to do: "),
        };
        assert!(r.stderr.starts_with(title), "{lang}:\n{all}");
        let line = r
            .stderr
            .lines()
            .find(|l| l.starts_with(&format!("  - {key}: ")))
            .unwrap_or_else(|| panic!("{key} in {lang}:\n{all}"));
        assert!(line.to_lowercase().contains(&problem.to_lowercase()), "{key} in {lang}:\n{all}");
        if let Some(want) = want {
            let (message, _) = error_text(want.code, lang).expect("a translated code");
            assert!(line.contains(message), "{key} in {lang}: {message:?} not in\n{all}");
        }
        assert!(r.stderr.contains(what), "no remedy in {lang}:\n{all}");
    }
}

// ----- Office 365: the configuration -------------------------------------

/// A client id that is not a GUID never reaches `verify`: the configuration
/// is refused on load.
#[tokio::test(flavor = "multi_thread")]
async fn o365_client_id_invalid() {
    let s = office365(|_, setup, config| {
        *config = config.replace(&setup.client_id, "G360 ERP - MAIL");
        vec![]
    })
    .await;
    diagnose(&s, want("o365.client-id-invalid")).await;
    config_check_lists(&s, "integrations[o365].client_id", "o365.client-id-invalid").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn o365_tenant_id_invalid() {
    let s = office365(|_, setup, config| {
        *config = config.replace(&setup.tenant_id, "https://portal.azure.com/contoso");
        vec![]
    })
    .await;
    diagnose(&s, want("o365.tenant-id-invalid")).await;
    config_check_lists(&s, "integrations[o365].tenant_id", "o365.tenant-id-invalid").await;
}

/// `common` and `organizations` are not tenants for client credentials.
#[tokio::test(flavor = "multi_thread")]
async fn o365_tenant_id_common() {
    let s = office365(|_, setup, config| {
        *config = config.replace(&setup.tenant_id, "common");
        vec![]
    })
    .await;
    diagnose(&s, want("o365.tenant-id-invalid")).await;
}

/// White space around an id is refused on load; around the secret, by the
/// `configuration` check (below).
#[tokio::test(flavor = "multi_thread")]
async fn o365_whitespace_around_the_client_id() {
    let s = office365(|_, setup, config| {
        *config = config.replace(&setup.client_id, &format!("{} ", setup.client_id));
        vec![]
    })
    .await;
    diagnose(&s, want("o365.whitespace")).await;
}

/// The "Token" field left empty.
#[tokio::test(flavor = "multi_thread")]
async fn o365_secret_missing() {
    let s = office365(|_, setup, config| {
        *config = config.replace(&format!("secret = \"{}\"\n", setup.secret), "");
        vec![]
    })
    .await;
    refused_on_load(
        &s,
        None,
        "accounts[jgarcia].secret",
        "missing: accounts of provider \"office365\" need a secret",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn o365_secret_is_id() {
    let s = office365(|_, setup, config| {
        *config = config.replace(&setup.secret, &setup.secret_key_id);
        vec![setup.secret_key_id.clone()]
    })
    .await;
    diagnose(&s, want("o365.secret-is-id")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn o365_whitespace_around_the_secret() {
    let s = office365(|_, setup, config| {
        *config = config.replace(&setup.secret, &format!("{} ", setup.secret));
        vec![]
    })
    .await;
    diagnose(&s, want("o365.whitespace")).await;
}

// ----- Office 365: tenant and token --------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn aadsts90002_tenant_not_found() {
    let s = office365(|_, setup, config| {
        *config = config.replace(&setup.tenant_id, "0b0b0b0b-1111-2222-3333-444444444444");
        vec![]
    })
    .await;
    diagnose(&s, want("AADSTS90002")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn o365_wrong_cloud() {
    let s = office365(|emulator, setup, _| {
        let tenant = Tenant::new(&setup.tenant_id)
            .with_domain("contoso.onmicrosoft.com")
            .with_domain("contoso.com")
            .with_msgraph_host("graph.microsoft.us");
        emulator.add_tenant(tenant);
        vec![]
    })
    .await;
    diagnose(&s, want("o365.wrong-cloud")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aadsts700016_app_not_in_tenant() {
    let s = office365(|_, setup, config| {
        *config = config.replace(&setup.client_id, "0c0c0c0c-1111-2222-3333-444444444444");
        vec![]
    })
    .await;
    diagnose(&s, want("AADSTS700016")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aadsts7000215_wrong_secret() {
    const WRONG: &str = "Wrong8Q~secret-value-0123456789abcdefghijkl";
    let s = office365(|_, setup, config| {
        *config = config.replace(&setup.secret, WRONG);
        vec![WRONG.into()]
    })
    .await;
    diagnose(&s, want("AADSTS7000215")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aadsts7000222_expired_secret() {
    let s = office365(|emulator, setup, _| {
        let expired = ClientSecret::expired(setup.secret.clone());
        emulator.update_app(&setup.client_id, |app| app.secrets = vec![expired]);
        vec![]
    })
    .await;
    diagnose(&s, want("AADSTS7000222")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aadsts7000112_app_disabled() {
    let s = office365(|emulator, setup, _| {
        emulator.update_app(&setup.client_id, |app| app.enabled = false);
        vec![]
    })
    .await;
    diagnose(&s, want("AADSTS7000112")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aadsts53003_conditional_access() {
    let s = office365(|emulator, _, _| {
        emulator.push_fault_always(
            FaultMatch::endpoint(g360_mail_testkit::graph::Endpoint::Token),
            Fault::token_conditional_access(),
        );
        vec![]
    })
    .await;
    diagnose(&s, want("AADSTS53003")).await;
}

// ----- Office 365: certificates and expiry --------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn o365_secret_expired_by_its_date() {
    let s = office365(|_, _, config| {
        *config = config.replacen(
            "allow_insecure_http = true\n",
            "allow_insecure_http = true\nsecret_expires = \"2026-01-31\"\n",
            1,
        );
        vec![]
    })
    .await;
    diagnose(&s, want("o365.secret-expired")).await;
    config_check_lists(&s, "integrations[o365].secret_expires", "o365.secret-expired").await;
}

use g360_mail_testkit::certs::openssl;

/// `app.crt`/`app.key` and `other.crt`/`other.key`, made with the guide's command.
fn make_certificates(dir: &Path) {
    for name in ["app", "other"] {
        g360_mail_testkit::certs::self_signed(dir, name, 365);
    }
}

/// A certificate valid only in January 2020 (`old.crt`, `old.key`).
fn make_expired_certificate(dir: &Path) {
    g360_mail_testkit::certs::expired(dir);
}

/// The base64 lines of a PEM key: none may ever be printed.
fn key_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 20)
        .map(str::to_owned)
        .collect()
}

/// The emulator's app signs in with a certificate: the accounts lose their
/// secrets and the integration gets `certificate_file` and
/// `private_key_file`; `change` uploads (or not) and picks the files.
async fn office365_certificate(
    change: impl FnOnce(&GraphEmulator, &QuickSetup, &Path) -> (&'static str, &'static str),
) -> Situation {
    let files = tempfile::tempdir().unwrap();
    make_certificates(files.path());
    let emulator = GraphEmulator::start().await;
    let setup = emulator.quick_setup(&[MAILBOX, "mlopez@contoso.com"]);
    let (crt, key) = change(&emulator, &setup, files.path());
    let (crt, key) = (files.path().join(crt), files.path().join(key));
    let config = setup
        .toml_config(&emulator.url())
        .replace("allow_insecure_http = true\n", FAST_O365)
        .replace(&format!("secret = \"{}\"\n", setup.secret), "")
        .replacen(
            "max_attempts = 1\n",
            &format!(
                "max_attempts = 1\ncertificate_file = {:?}\nprivate_key_file = {:?}\n",
                crt.display().to_string(),
                key.display().to_string()
            ),
            1,
        );
    let mut secrets = vec![setup.secret.clone()];
    for k in ["app.key", "other.key", "old.key"] {
        if files.path().join(k).exists() {
            secrets.extend(key_lines(&files.path().join(k)));
        }
    }
    Situation::new(&config, secrets, Box::new((emulator, files)))
}

fn upload(emulator: &GraphEmulator, setup: &QuickSetup, crt: &Path) {
    let cert =
        g360_mail_testkit::graph::AppCertificate::from_pem(&std::fs::read_to_string(crt).unwrap())
            .unwrap();
    emulator.update_app(&setup.client_id, |app| app.certificates.push(cert));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_passes_verify_in_both_languages_and_names_its_thumbprint() {
    let s = office365_certificate(|emulator, setup, dir| {
        upload(emulator, setup, &dir.join("app.crt"));
        ("app.crt", "app.key")
    })
    .await;
    for lang in LANGS {
        let r = s.verify(lang).await;
        assert_eq!(r.code, 0, "{lang}:\n{}\n{}", r.stdout, r.stderr);
        assert!(r.stdout.contains("x5t#S256"), "{lang}: the thumbprint is shown:\n{}", r.stdout);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn o365_certificate_unreadable() {
    let s = office365_certificate(|_, _, _| ("missing.crt", "app.key")).await;
    diagnose(&s, want("o365.certificate-unreadable")).await;
    config_check_lists(&s, "integrations[o365].certificate_file", "o365.certificate-unreadable")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn o365_certificate_key_mismatch() {
    let s = office365_certificate(|emulator, setup, dir| {
        upload(emulator, setup, &dir.join("app.crt"));
        ("app.crt", "other.key")
    })
    .await;
    diagnose(&s, want("o365.certificate-key-mismatch")).await;
    config_check_lists(&s, "integrations[o365].private_key_file", "o365.certificate-key-mismatch")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn o365_certificate_expired() {
    let s = office365_certificate(|emulator, setup, dir| {
        make_expired_certificate(dir);
        upload(emulator, setup, &dir.join("old.crt"));
        ("old.crt", "old.key")
    })
    .await;
    diagnose(&s, want("o365.certificate-expired")).await;
    config_check_lists(&s, "integrations[o365].certificate_file", "o365.certificate-expired").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aadsts700027_certificate_not_uploaded() {
    let s = office365_certificate(|_, _, _| ("app.crt", "app.key")).await;
    diagnose(&s, want("AADSTS700027")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aadsts700024_clock_skew() {
    let s = office365_certificate(|emulator, setup, dir| {
        upload(emulator, setup, &dir.join("app.crt"));
        emulator.configure(|o| o.clock_offset_secs = 2 * 3600);
        ("app.crt", "app.key")
    })
    .await;
    diagnose(&s, want("AADSTS700024")).await;
}

/// Runs `verify` in both languages: it passes (exit 0) with a warning of
/// `code` on `check`, translated, with its remedy line.
async fn warned(s: &Situation, check: &str, code: &str) -> Vec<String> {
    warned_about(s, check, code, None).await
}

/// [`warned`], the remedy being the one for configuration key `key`.
async fn warned_about(s: &Situation, check: &str, code: &str, key: Option<&str>) -> Vec<String> {
    let mut outputs = Vec::new();
    for lang in LANGS {
        let r = s.verify(lang).await;
        let all = format!("{}\n{}", r.stdout, r.stderr);
        assert_eq!(r.code, 0, "{code} in {lang}:\n{all}");
        let (message, remedy) =
            g360_mail_texts::error_text_at(code, key, lang).expect("a translated code");
        let lines: Vec<&str> = r.stdout.lines().collect();
        let i = lines
            .iter()
            .position(|l| l.contains(&format!(" {check} ")) && l.contains(message))
            .unwrap_or_else(|| panic!("no warning {message:?} on {check} in {lang}:\n{all}"));
        assert!(!lines[i].trim_start().starts_with('✗'), "{all}");
        let what = match lang {
            Lang::Es => "qué hacer",
            Lang::En => "what to do",
        };
        assert!(lines[i + 1].trim_start() == format!("{what}: {remedy}"), "{lang}:\n{all}");
        outputs.push(r.stdout);
    }
    outputs
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_a_refused_secret_next_warns_and_mail_goes_on_with_the_old_one() {
    const NEXT: &str = "New8Q~rotated-but-never-saved-0123456789ab";
    let s = office365(|_, setup, config| {
        *config = config.replacen(
            &format!("secret = \"{}\"\n", setup.secret),
            &format!("secret = \"{}\"\nsecret_next = \"{NEXT}\"\n", setup.secret),
            1,
        );
        vec![NEXT.into()]
    })
    .await;
    let outputs = warned(&s, "token", "o365.secret-next-refused").await;
    assert!(outputs.iter().all(|o| o.contains("AADSTS7000215")), "{outputs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_verify_says_the_new_secret_works() {
    const NEXT: &str = "New8Q~rotated-and-saved-0123456789abcdef";
    let s = office365(|emulator, setup, config| {
        emulator.update_app(&setup.client_id, |app| app.secrets.push(ClientSecret::new(NEXT)));
        *config = config.replacen(
            &format!("secret = \"{}\"\n", setup.secret),
            &format!("secret = \"{}\"\nsecret_next = \"{NEXT}\"\n", setup.secret),
            1,
        );
        vec![NEXT.into()]
    })
    .await;
    for lang in LANGS {
        let r = s.verify(lang).await;
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let token = r.stdout.lines().find(|l| l.contains(" token ")).unwrap();
        assert!(token.contains("secret_next"), "{lang}: {token}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_about_to_expire_warns_in_both_languages() {
    let s = office365_certificate(|emulator, setup, dir| {
        openssl(
            dir,
            &[
                "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-days", "10", "-nodes", "-subj",
                "/CN=soon", "-keyout", "soon.key", "-out", "soon.crt",
            ],
        );
        upload(emulator, setup, &dir.join("soon.crt"));
        ("soon.crt", "soon.key")
    })
    .await;
    warned(&s, "configuration", "o365.certificate-expiring").await;
    config_check_warns(&s, "integrations[o365].certificate_file", "o365.certificate-expiring")
        .await;
}

/// [`office365_certificate`] with the PEM texts in the environment variables
/// `APP_CERT` and `APP_KEY` (`certificate_env`, `private_key_env`) instead
/// of files.
async fn office365_certificate_env(
    change: impl FnOnce(&GraphEmulator, &QuickSetup, &Path) -> (&'static str, &'static str),
) -> Situation {
    let mut s = office365_certificate(change).await;
    let config = std::fs::read_to_string(s.dir.path().join("g360-mail.toml")).unwrap();
    let mut lines = Vec::new();
    for line in config.lines() {
        if let Some(path) = line.strip_prefix("certificate_file = ") {
            let path: String = serde_json::from_str(path).unwrap();
            s.env.push(("APP_CERT".into(), std::fs::read_to_string(path).unwrap()));
            lines.push("certificate_env = \"APP_CERT\"".to_owned());
        } else if let Some(path) = line.strip_prefix("private_key_file = ") {
            let path: String = serde_json::from_str(path).unwrap();
            s.env.push(("APP_KEY".into(), std::fs::read_to_string(path).unwrap()));
            lines.push("private_key_env = \"APP_KEY\"".to_owned());
        } else {
            lines.push(line.to_owned());
        }
    }
    std::fs::write(s.dir.path().join("g360-mail.toml"), lines.join("\n") + "\n").unwrap();
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_from_the_environment_signs_in_and_never_prints() {
    let s = office365_certificate_env(|emulator, setup, dir| {
        upload(emulator, setup, &dir.join("app.crt"));
        ("app.crt", "app.key")
    })
    .await;
    for lang in LANGS {
        let r = s.verify(lang).await;
        assert_eq!(r.code, 0, "{lang}:\n{}\n{}", r.stdout, r.stderr);
        assert!(r.stdout.contains("x5t#S256"), "{lang}: the thumbprint is shown:\n{}", r.stdout);
    }
    let r = s.run(&args_of_send()).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = s.run(&["config", "show"]).await;
    assert!(r.stdout.contains("certificate_env = \"APP_CERT\""), "{}", r.stdout);
    assert!(r.stdout.contains("private_key_env = \"APP_KEY\""), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_from_the_environment_that_is_not_the_certificates_is_named_by_its_key() {
    let s = office365_certificate_env(|emulator, setup, dir| {
        upload(emulator, setup, &dir.join("app.crt"));
        ("app.crt", "other.key")
    })
    .await;
    diagnose(&s, want("o365.certificate-key-mismatch")).await;
    config_check_lists(&s, "integrations[o365].private_key_env", "o365.certificate-key-mismatch")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_from_the_environment_about_to_expire_warns() {
    let s = office365_certificate_env(|emulator, setup, dir| {
        openssl(
            dir,
            &[
                "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-days", "10", "-nodes", "-subj",
                "/CN=soon", "-keyout", "soon.key", "-out", "soon.crt",
            ],
        );
        upload(emulator, setup, &dir.join("soon.crt"));
        ("soon.crt", "soon.key")
    })
    .await;
    // The remedy says where the new certificate goes: the variables.
    warned_about(&s, "configuration", "o365.certificate-expiring", Some("certificate_env")).await;
    config_check_warns(&s, "integrations[o365].certificate_env", "o365.certificate-expiring").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_about_to_expire_warns_in_both_languages() {
    let soon = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 12))
        .strftime("%Y-%m-%d")
        .to_string();
    let s = office365(|_, _, config| {
        *config = config.replacen(
            "allow_insecure_http = true\n",
            &format!("allow_insecure_http = true\nsecret_expires = \"{soon}\"\n"),
            1,
        );
        vec![]
    })
    .await;
    warned(&s, "configuration", "o365.secret-expiring").await;
    // `send` keeps working and says it in --json.
    let args = [
        "--json",
        "send",
        "--user",
        USER,
        "--to",
        "mlopez@contoso.com",
        "--subject",
        "s",
        "--body",
        "b",
    ];
    let r = run(s.dir.path(), &args).await;
    s.assert_no_secret(&r);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["receipt"]["warnings"][0]["code"], "o365.secret-expiring", "{v}");
    assert_eq!(v["warnings"][0]["code"], "o365.secret-expiring", "{v}");
    config_check_warns(&s, "integrations[o365].secret_expires", "o365.secret-expiring").await;
    outbox_status_warns(&s, "integrations[o365].secret_expires", "o365.secret-expiring").await;
    // In text, the mail goes out and the warning follows on stderr.
    for lang in LANGS {
        let mut args = vec!["--lang", lang.as_str()];
        args.extend_from_slice(&args_of_send()[1..]);
        let r = s.run(&args).await;
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        let (message, remedy) = error_text("o365.secret-expiring", lang).unwrap();
        assert!(r.stderr.contains(message) && r.stderr.contains(remedy), "{lang}:\n{}", r.stderr);
    }
}

fn args_of_send() -> [&'static str; 10] {
    [
        "--json",
        "send",
        "--user",
        USER,
        "--to",
        "mlopez@contoso.com",
        "--subject",
        "s",
        "--body",
        "b",
    ]
}

/// A day `days` from today, as `secret_expires` takes it.
fn day_from_today(days: i64) -> String {
    (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * days))
        .strftime("%Y-%m-%d")
        .to_string()
}

/// The word that opens a warning line.
fn note(lang: Lang) -> &'static str {
    match lang {
        Lang::Es => "Aviso",
        Lang::En => "Note",
    }
}

/// `config check` in both languages: exit 0, the configuration loads, and
/// the warning of `code` at `key` is printed, translated, with its remedy;
/// `--json` lists it under `warnings`.
async fn config_check_warns(s: &Situation, key: &str, code: &str) {
    for lang in LANGS {
        let r = s.run(&["--lang", lang.as_str(), "config", "check"]).await;
        let all = format!("{}\n{}", r.stdout, r.stderr);
        assert_eq!(r.code, 0, "{key} in {lang}:\n{all}");
        let (message, _) = error_text(code, lang).expect("a translated code");
        let line = format!("{}: {key}: {message}", note(lang));
        let lines: Vec<&str> = r.stderr.lines().collect();
        let i = lines
            .iter()
            .position(|l| l.starts_with(&line))
            .unwrap_or_else(|| panic!("{line:?} in {lang}:\n{all}"));
        // The remedy names the portal step that renews the credential.
        let (what, step) = match lang {
            Lang::Es => ("qué hacer: ", "Certificados y secretos"),
            Lang::En => ("what to do: ", "Certificates & secrets"),
        };
        let remedy = lines.get(i + 1).map(|l| l.trim_start()).unwrap_or_default();
        assert!(remedy.starts_with(what) && remedy.contains(step), "{lang}:\n{all}");
        // A certificate's remedy names where it comes from (its key).
        let source = key.rsplit('.').next().unwrap_or_default();
        if source.starts_with("certificate") {
            assert!(remedy.contains(source), "{lang}:\n{all}");
            assert!(source == "certificate_file" || !remedy.contains("_file"), "{lang}:\n{all}");
        }
        let r = s.run(&["--lang", lang.as_str(), "--json", "config", "check"]).await;
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!((v["exit_code"].as_i64(), v["ok"].as_bool()), (Some(0), Some(true)), "{v}");
        let w = v["warnings"].as_array().unwrap();
        assert!(w.iter().any(|w| w["code"] == code && w["path"] == key), "{v}");
    }
}

/// `outbox status` in both languages names the same warning.
async fn outbox_status_warns(s: &Situation, key: &str, code: &str) {
    for lang in LANGS {
        let r = s.run(&["--lang", lang.as_str(), "outbox", "status"]).await;
        let all = format!("{}\n{}", r.stdout, r.stderr);
        assert_eq!(r.code, 0, "{all}");
        let (message, _) = error_text(code, lang).expect("a translated code");
        let line = format!("{}: {key}: {message}", note(lang));
        assert!(r.stderr.contains(&line), "{line:?} in {lang}:\n{all}");
    }
    let r = s.run(&["--json", "outbox", "status"]).await;
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(v["warnings"].as_array().unwrap().iter().any(|w| w["code"] == code), "{v}");
}

/// `secret_expires` on an account: its own date, for its own secret.
async fn account_secret_expires(days: i64) -> Situation {
    office365(|_, setup, config| {
        let own = format!("secret = \"{}\"\n", setup.secret);
        *config = config.replacen(
            &own,
            &format!("{own}secret_expires = \"{}\"\n", day_from_today(days)),
            1,
        );
        vec![]
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_secret_about_to_expire_warns_and_one_expired_fails() {
    let s = account_secret_expires(5).await;
    config_check_warns(&s, "accounts[jgarcia].secret_expires", "o365.secret-expiring").await;
    warned(&s, "configuration", "o365.secret-expiring").await;
    let s = account_secret_expires(-3).await;
    diagnose(&s, want("o365.secret-expired")).await;
    config_check_lists(&s, "accounts[jgarcia].secret_expires", "o365.secret-expired").await;
    // The same setup problem exits 3 from `send` too.
    let r = s.run(&args_of_send()).await;
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn expiry_warning_days_moves_the_warning() {
    let s = office365(|_, _, config| {
        *config = config.replacen(
            "allow_insecure_http = true\n",
            &format!(
                "allow_insecure_http = true\nsecret_expires = \"{}\"\nexpiry_warning_days = 7\n",
                day_from_today(12)
            ),
            1,
        );
        vec![]
    })
    .await;
    let r = s.run(&["--json", "config", "check"]).await;
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let expiring = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["code"] == "o365.secret-expiring")
        .count();
    assert_eq!(expiring, 0, "12 days left, warned from 7: {v}");
    let s = office365(|_, _, config| {
        *config = config.replacen(
            "allow_insecure_http = true\n",
            &format!(
                "allow_insecure_http = true\nsecret_expires = \"{}\"\nexpiry_warning_days = 60\n",
                day_from_today(45)
            ),
            1,
        );
        vec![]
    })
    .await;
    config_check_warns(&s, "integrations[o365].secret_expires", "o365.secret-expiring").await;
}

// ----- Office 365: permissions --------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn o365_missing_role() {
    let s = office365(|emulator, setup, _| {
        emulator.update_app(&setup.client_id, |app| app.roles = vec![MAIL_SEND.into()]);
        vec![]
    })
    .await;
    diagnose(&s, want("o365.missing-role")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn o365_no_roles() {
    let s = office365(|emulator, setup, _| {
        emulator.update_app(&setup.client_id, |app| app.roles.clear());
        vec![]
    })
    .await;
    diagnose(&s, want("o365.no-roles")).await;
}

// ----- Office 365: the mailbox ---------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn error_invalid_user() {
    let s = office365(|_, _, config| {
        *config = config
            .replace(&format!("address = \"{MAILBOX}\""), "address = \"j.garcia@contoso.com\"");
        vec![]
    })
    .await;
    diagnose(&s, want("ErrorInvalidUser")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mailbox_not_enabled_for_rest_api() {
    let s = office365(|emulator, _, _| {
        emulator.update_mailbox(MAILBOX, |m| m.state = MailboxState::NotEnabledForRest);
        vec![]
    })
    .await;
    diagnose(&s, want("MailboxNotEnabledForRESTAPI")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn o365_mailbox_not_in_app_scope() {
    let s = office365(|emulator, setup, _| {
        let policy = AccessPolicy::RestrictAccess(vec!["mlopez@contoso.com".into()]);
        emulator.update_app(&setup.client_id, |app| app.access_policy = Some(policy));
        vec![]
    })
    .await;
    diagnose(&s, want("o365.mailbox-not-in-app-scope")).await;
}

/// RBAC for Applications scoped to other mailboxes, no Entra consent: the
/// permissions check only warns (`rbac_for_applications = true`), the
/// mailbox check fails.
#[tokio::test(flavor = "multi_thread")]
async fn error_access_denied_outside_rbac_scope() {
    let s = office365(|emulator, setup, config| {
        let grant =
            RbacGrant::new(MAIL_SEND, RbacScope::Mailboxes(vec!["mlopez@contoso.com".into()]));
        emulator.update_app(&setup.client_id, |app| {
            app.roles.clear();
            app.rbac = vec![grant];
        });
        *config = config.replace(FAST_O365, &format!("{FAST_O365}rbac_for_applications = true\n"));
        vec![]
    })
    .await;
    diagnose(&s, want("ErrorAccessDenied")).await;
}

/// `rbac_for_applications = true` but neither consent nor an RBAC grant,
/// on a Graph that answers role-less tokens with 401.
#[tokio::test(flavor = "multi_thread")]
async fn no_permissions_in_access_token() {
    let s = office365(|emulator, setup, config| {
        emulator.update_app(&setup.client_id, |app| app.roles.clear());
        emulator.configure(|o: &mut EmulatorOptions| o.no_roles_answers_401 = true);
        *config = config.replace(FAST_O365, &format!("{FAST_O365}rbac_for_applications = true\n"));
        vec![]
    })
    .await;
    diagnose(&s, want("NoPermissionsInAccessToken")).await;
}

// ----- SMTP ----------------------------------------------------------------

const SMTP_PASSWORD: &str = "Smtp-Test-Passw0rd!";
/// The password in base64, as `AUTH LOGIN` sends it: it must not print either.
const SMTP_PASSWORD_B64: &str = "U210cC1UZXN0LVBhc3N3MHJkIQ==";

/// The testkit's scripted SMTP server, speaking STARTTLS with a test CA's
/// certificate when `tls` is set: `script` answers `<connect>` and every
/// command line after TLS began with some lines, or `None` to close the
/// connection. Without `tls`, `script` answers everything.
async fn smtp_fake(
    script: fn(&str) -> Option<Vec<String>>,
    tls: bool,
) -> (u16, std::path::PathBuf, Box<dyn Any + Send>) {
    use std::sync::atomic::{AtomicBool, Ordering};

    use g360_mail_testkit::smtp::{Certs, FakeSmtpServer, Reply};

    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let started = AtomicBool::new(false);
    let server = FakeSmtpServer::start_tls(&certs, move |line| {
        if line == "<connect>" {
            started.store(false, Ordering::SeqCst);
        }
        let upper = line.to_ascii_uppercase();
        if tls && !started.load(Ordering::SeqCst) {
            if upper.starts_with("EHLO") {
                return Reply::lines(&["250-relay.test", "250 STARTTLS"]);
            }
            if upper == "STARTTLS" {
                started.store(true, Ordering::SeqCst);
                return Reply::StartTls(vec!["220 2.0.0 SMTP server ready".into()]);
            }
        }
        match script(line) {
            Some(lines) => Reply::Lines(lines),
            None => Reply::Close,
        }
    })
    .await;
    (server.port(), certs.ca.clone(), Box::new((server, dir)))
}

fn lines(l: &[&str]) -> Option<Vec<String>> {
    Some(l.iter().map(|s| (*s).to_owned()).collect())
}

/// Office 365 as the testkit scripts it, answering the password with
/// `after_password`.
async fn smtp_office365(after_password: &str) -> Situation {
    use g360_mail_testkit::smtp::{Certs, FakeSmtpServer, office365};

    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let server = FakeSmtpServer::start_tls(&certs, office365::script(after_password)).await;
    smtp_situation(server.port(), &certs.ca.clone(), Box::new((server, dir)))
}

async fn smtp(script: fn(&str) -> Option<Vec<String>>, tls: bool) -> Situation {
    let (port, ca, server) = smtp_fake(script, tls).await;
    smtp_situation(port, &ca, server)
}

/// A STARTTLS `smtp` integration on `127.0.0.1:port` trusting `ca`, with
/// short timeouts and one attempt, and one account with a password.
fn smtp_situation(port: u16, ca: &Path, server: Box<dyn Any + Send>) -> Situation {
    let ca = ca.display();
    let config = format!(
        "[[integrations]]\nid = \"relay\"\nprovider = \"smtp\"\nhost = \"127.0.0.1\"\n\
         port = {port}\ntls_ca_file = \"{ca}\"\nconnect_timeout_ms = 2000\n\
         command_timeout_ms = 2000\nmax_attempts = 1\nretry_delay_ms = 10\n\n\
         [[accounts]]\nuser = \"{USER}\"\nprovider = \"smtp\"\n\
         address = \"facturas@contoso.com\"\nsecret = \"{SMTP_PASSWORD}\"\n"
    );
    Situation::new(&config, vec![SMTP_PASSWORD.into(), SMTP_PASSWORD_B64.into()], server)
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_auth_disabled() {
    let s = smtp_office365("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information. [AM0PR10CA0001.EURPRD10.PROD.OUTLOOK.COM]").await;
    diagnose(&s, want("smtp.auth-disabled")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_auth_failed() {
    let s = smtp_office365("535 5.7.139 Authentication unsuccessful, the user credentials were incorrect. [AM0PR10CA0001.EURPRD10.PROD.OUTLOOK.COM]").await;
    diagnose(&s, want("smtp.auth-failed")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_auth_unavailable() {
    let s = smtp(
        |line| {
            let upper = line.to_ascii_uppercase();
            match () {
                _ if line == "<connect>" => lines(&["220 relay.test ESMTP"]),
                _ if upper.starts_with("EHLO") => lines(&["250-relay.test", "250 8BITMIME"]),
                _ if upper.starts_with("QUIT") => None,
                _ => lines(&["502 5.5.1 Command not implemented"]),
            }
        },
        true,
    )
    .await;
    diagnose(&s, want("smtp.auth-unavailable")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_starttls_unavailable() {
    let s = smtp(
        |line| {
            let upper = line.to_ascii_uppercase();
            match () {
                _ if line == "<connect>" => lines(&["220 relay.test ESMTP"]),
                _ if upper.starts_with("EHLO") => {
                    lines(&["250-relay.test", "250-AUTH PLAIN LOGIN", "250 8BITMIME"])
                }
                _ if upper.starts_with("QUIT") => None,
                _ => lines(&["502 5.5.1 Command not implemented"]),
            }
        },
        false,
    )
    .await;
    diagnose(&s, want("smtp.starttls-unavailable")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_connect_failed() {
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let certs = g360_mail_testkit::smtp::Certs::generate(dir.path());
    let s = smtp_situation(port, &certs.ca, Box::new(dir));
    diagnose(&s, want("smtp.connect-failed")).await;
}

// ----- SMTP without Basic authentication ------------------------------------
// Not in the Office 365 guides' tables (DIAGNOSES): they are SMTP diagnoses,
// listed in docs/providers/smtp.md.

#[tokio::test(flavor = "multi_thread")]
async fn smtp_basic_auth_retired() {
    let s =
        smtp_office365("550 5.7.30 Basic authentication is not supported for Client Submission.")
            .await;
    diagnose(&s, w("auth", "smtp.basic-auth-retired", 3)).await;
}

/// An `smtp` route with `auth = "oauth2"` on the emulator's app, whose
/// tokens lack `SMTP.SendAsApp`, against a server that checks them as
/// Exchange Online does. The output must hold neither the client secret nor
/// any token.
#[tokio::test(flavor = "multi_thread")]
async fn smtp_oauth_refused() {
    use g360_mail_testkit::graph::{EXCHANGE_RESOURCE, SMTP_SEND_AS_APP};
    use g360_mail_testkit::smtp::{Certs, SmtpTestServer};

    let emulator = GraphEmulator::start().await;
    let setup = emulator.quick_setup(&[MAILBOX]);
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::generate(dir.path());
    let server = SmtpTestServer::start(serde_json::json!({
        "tls": certs.server_tls(),
        "auth": {
            "methods": ["XOAUTH2"],
            "oauth": { "audience": EXCHANGE_RESOURCE, "role": SMTP_SEND_AS_APP },
        },
    }))
    .await;
    let config = format!(
        "[[integrations]]\nid = \"o365\"\nprovider = \"office365\"\ntenant_id = \"{tenant}\"\n\
         client_id = \"{client}\"\nauthority_url = \"{url}\"\ngraph_url = \"{url}\"\n{FAST_O365}\n\
         [[integrations]]\nid = \"o365-smtp\"\nprovider = \"smtp\"\nhost = \"127.0.0.1\"\n\
         port = {port}\ntls_ca_file = \"{ca}\"\nauth = \"oauth2\"\noauth_integration = \"o365\"\n\
         connect_timeout_ms = 2000\ncommand_timeout_ms = 2000\nmax_attempts = 1\n\n\
         [[accounts]]\nuser = \"{USER}\"\nprovider = \"smtp\"\nintegration = \"o365-smtp\"\n\
         address = \"{MAILBOX}\"\nsecret = \"{secret}\"\n",
        tenant = setup.tenant_id,
        client = setup.client_id,
        url = emulator.url(),
        port = server.port(),
        ca = certs.ca.display(),
        secret = setup.secret,
    );
    let s = Situation::new(&config, vec![setup.secret.clone()], Box::new((emulator, server, dir)));
    diagnose(&s, w("auth", "smtp.oauth-refused", 3)).await;
}
