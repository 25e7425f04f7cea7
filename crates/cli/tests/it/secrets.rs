//! The scan of every output for secrets: each command, in text and JSON, in
//! Spanish and English, run on configurations broken in the ways that used
//! to print a secret (a TOML syntax error on its line, a secret of the wrong
//! type, a database password in the outbox URL's user info or query).

use crate::support::{Run, run_env};

const SECRET: &str = "Abc8Q~scan-secret-value-0123456789";
const ENV_SECRET: &str = "Env8Q~scan-env-secret-value-987654";
const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
const TENANT_ID: &str = "66666666-7777-8888-9999-000000000000";

/// Every configuration, by name.
fn configurations() -> Vec<(&'static str, String)> {
    let o365 = format!(
        "[[integrations]]\nid = \"o365\"\nprovider = \"office365\"\nclient_id = \"{CLIENT_ID}\"\n\
         tenant_id = \"{TENANT_ID}\"\n\n[[accounts]]\nuser = \"jgarcia\"\nprovider = \"office365\"\n\
         address = \"jgarcia@contoso.com\"\n"
    );
    vec![
        ("unterminated string", format!("{o365}secret = \"{SECRET}\n")),
        ("bare value", format!("{o365}secret = {SECRET}\n")),
        ("bad escape", format!("{o365}secret = \"{SECRET}\\q\"\n")),
        ("multi-line string", format!("{o365}secret = \"\"\"{SECRET}\n")),
        ("a list", format!("{o365}secret = [\"{SECRET}\"]\n")),
        ("a table", format!("{o365}secret = {{ value = \"{SECRET}\" }}\n")),
        (
            "a fallback list",
            format!("{o365}secret_env = \"SCAN_SECRET\"\nfallback_secret = [\"{SECRET}\", 1]\n"),
        ),
        (
            "integration key",
            format!("{o365}secret_env = \"SCAN_SECRET\"\n").replace(
                "provider = \"office365\"\nclient_id",
                &format!("provider = \"office365\"\nclient_secret = [\"{SECRET}\"]\nclient_id"),
            ),
        ),
        (
            "outbox url userinfo",
            format!(
                "{o365}secret_env = \"SCAN_SECRET\"\n[outbox]\nurl = \"postgres://erp:{SECRET}@127.0.0.1:1/erp\"\n"
            ),
        ),
        (
            "outbox url query",
            format!(
                "{o365}secret_env = \"SCAN_SECRET\"\n[outbox]\nurl = \"postgres://erp@127.0.0.1:1/erp?sslmode=disable&password={SECRET}\"\n"
            ),
        ),
        (
            "unsupported outbox url",
            format!(
                "{o365}secret_env = \"SCAN_SECRET\"\n[outbox]\nurl = \"mysql://u:{SECRET}@h/db?password={SECRET}\"\n"
            ),
        ),
        (
            "integration secret",
            o365.replace("tenant_id = ", &format!("secret = \"{SECRET}\"\ntenant_id = ")),
        ),
        (
            "integration secret with a space, repeated by accounts",
            format!(
                "{}secret = \"{SECRET}\"\n\n[[accounts]]\nuser = \"mlopez\"\nprovider = \"office365\"\n\
                 address = \"mlopez@contoso.com\"\nsecret = \"{SECRET}\"\n",
                o365.replace("tenant_id = ", &format!("secret = \"{SECRET} \"\ntenant_id = "))
            ),
        ),
        (
            "integration secret_env and a list",
            o365.replace("tenant_id = ", "secret_env = \"SCAN_SECRET\"\ntenant_id = ")
                + &format!("fallback_secret = [\"{SECRET}\"]\n"),
        ),
        (
            "environment secret with a bad key",
            format!("{o365}secret_env = \"SCAN_SECRET\"\ncolour = \"blue\"\n"),
        ),
        (
            "certificate and private key from the environment",
            o365.replace(
                "tenant_id = ",
                "certificate_env = \"SCAN_CERT\"\nprivate_key_env = \"SCAN_KEY\"\ntenant_id = ",
            ),
        ),
        (
            "a private key from the environment that is no key",
            o365.replace(
                "tenant_id = ",
                "certificate_env = \"SCAN_CERT\"\nprivate_key_env = \"SCAN_BAD_KEY\"\ntenant_id = ",
            ),
        ),
        (
            "a private key from the environment beside a key file",
            o365.replace(
                "tenant_id = ",
                "certificate_env = \"SCAN_CERT\"\nprivate_key_env = \"SCAN_KEY\"\nprivate_key_file = \"k.pem\"\ntenant_id = ",
            ),
        ),
    ]
}

/// A private key that is no key, with a marker no output may hold.
const BAD_KEY: &str = "-----BEGIN PRIVATE KEY-----\nscan-private-key-material-0123456789\n-----END PRIVATE KEY-----\n";

/// A certificate and its private key (made with openssl) as PEM texts, and
/// the base64 lines of the key, which no output may hold.
fn certificate_texts(dir: &std::path::Path) -> (String, String, Vec<String>) {
    let (crt, key) = g360_mail_testkit::certs::self_signed(dir, "scan", 365);
    let (crt, key) = (std::fs::read_to_string(crt).unwrap(), std::fs::read_to_string(key).unwrap());
    let lines = key
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 20)
        .map(str::to_owned)
        .collect();
    (crt, key, lines)
}

const COMMANDS: &[&[&str]] = &[
    &["config", "check"],
    &["config", "show"],
    &["send", "--to", "a@example.com", "--subject", "x", "--body", "y"],
    &["verify"],
    &["inbox"],
    &["outbox", "status"],
];

fn assert_clean(what: &str, r: &Run) {
    for s in [SECRET, ENV_SECRET, "scan-secret", "scan-env-secret", "scan-private-key"] {
        assert!(!r.stdout.contains(s), "{what}: a secret in stdout:\n{}", r.stdout);
        assert!(!r.stderr.contains(s), "{what}: a secret in stderr:\n{}", r.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_output_of_any_command_holds_a_secret() {
    let certs = tempfile::tempdir().unwrap();
    let (crt, key, key_lines) = certificate_texts(certs.path());
    for (name, config) in configurations() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("g360-mail.toml"), &config).unwrap();
        for command in COMMANDS {
            for prefix in [&["--lang", "es"][..], &["--lang", "en", "--json"][..]] {
                let args: Vec<&str> = prefix.iter().chain(command.iter()).copied().collect();
                let r = run_env(
                    dir.path(),
                    &args,
                    &[
                        ("SCAN_SECRET", ENV_SECRET),
                        ("G360_MAIL_ACCOUNTS__JGARCIA__FALLBACK", "x"),
                        ("SCAN_CERT", &crt),
                        ("SCAN_KEY", &key),
                        ("SCAN_BAD_KEY", BAD_KEY),
                    ],
                )
                .await;
                assert_clean(&format!("{name}: {args:?}"), &r);
                for line in &key_lines {
                    assert!(
                        !r.stdout.contains(line) && !r.stderr.contains(line),
                        "{name}: {args:?}: a line of the private key in the output"
                    );
                }
                if prefix.contains(&"--json") && r.code != 0 {
                    let v: serde_json::Value = serde_json::from_str(&r.stdout)
                        .unwrap_or_else(|e| panic!("{name}: {args:?}: {e}\n{}", r.stdout));
                    assert_eq!(v["exit_code"], r.code, "{name}: {args:?}");
                }
            }
        }
    }
}

/// A syntax error says where (file, line, column, key) so it can be fixed
/// without the text being shown.
#[tokio::test(flavor = "multi_thread")]
async fn a_syntax_error_is_located_without_its_text() {
    let (_, config) = configurations().remove(0);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("g360-mail.toml"), &config).unwrap();
    let r = run_env(dir.path(), &["config", "check"], &[]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("g360-mail.toml"), "{}", r.stderr);
    assert!(r.stderr.contains("line 11, column"), "{}", r.stderr);
    assert!(r.stderr.contains("key `secret`"), "{}", r.stderr);
    assert_clean("syntax", &r);
}

/// The same through the environment layer: a secret of the wrong type, and
/// an outbox URL with a password, given as `G360_MAIL_…` variables.
#[tokio::test(flavor = "multi_thread")]
async fn no_output_holds_a_secret_given_in_the_environment() {
    let (_, config) = configurations().remove(6);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("g360-mail.toml"), config).unwrap();
    let array = format!("[\"{ENV_SECRET}\"]");
    let url = format!("postgres://erp:{ENV_SECRET}@127.0.0.1:1/erp?password={ENV_SECRET}");
    let table = format!("{{ v = \"{ENV_SECRET}\" }}");
    let cases: [&[(&str, &str)]; 4] = [
        &[("G360_MAIL_ACCOUNTS__JGARCIA__SECRET", &array)],
        &[("G360_MAIL_ACCOUNTS__JGARCIA__FALLBACK_SECRET", &table)],
        &[("G360_MAIL_OUTBOX__URL", &url)],
        &[("G360_MAIL_ACCOUNTS__0__SECRET", ENV_SECRET), ("G360_MAIL_LANG", ENV_SECRET)],
    ];
    for env in cases {
        let mut env = env.to_vec();
        env.push(("SCAN_SECRET", ENV_SECRET));
        for command in COMMANDS {
            for prefix in [&["--lang", "es"][..], &["--json"][..]] {
                let args: Vec<&str> = prefix.iter().chain(command.iter()).copied().collect();
                let r = run_env(dir.path(), &args, &env).await;
                assert_clean(&format!("{env:?}: {args:?}"), &r);
            }
        }
    }
}
