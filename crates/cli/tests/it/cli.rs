//! End-to-end tests of the `g360-mail` binary: spawned as a user would, in a
//! temporary working directory.

use crate::support::Run;

use std::path::Path;

fn eml_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("mail-outbox"))
        .map(|rd| {
            rd.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn send_on_the_embedded_default_writes_an_eml_and_inbox_show_read_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &["send", "--to", "cliente@example.com", "--subject", "Hola", "--body", "Prueba"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("El e-mail se envió correctamente\n"), "{}", r.stdout);
    let files = eml_files(dir.path());
    assert_eq!(files.len(), 1);
    let raw = std::fs::read_to_string(&files[0]).unwrap();
    for header in [
        "From: demo@localhost",
        "To: cliente@example.com",
        "Subject: Hola",
        "Message-ID: <",
        "Date: ",
    ] {
        assert!(raw.contains(header), "{header} missing in\n{raw}");
    }
    assert!(
        r.stdout.contains(&files[0].file_name().unwrap().to_string_lossy().to_string()),
        "{}",
        r.stdout
    );

    let r = run(dir.path(), &["inbox"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Hola") && r.stdout.contains("demo@localhost"), "{}", r.stdout);
    let id = files[0].file_stem().unwrap().to_string_lossy().to_string();
    assert!(r.stdout.contains(&id), "{}", r.stdout);

    let r = run(dir.path(), &["show", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Asunto: Hola") && r.stdout.contains("Prueba"), "{}", r.stdout);
}

#[test]
fn english_and_json_output() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &["--lang", "en", "send", "--to", "a@example.com", "--subject", "Hi", "--body", "x"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("The e-mail was sent successfully"), "{}", r.stdout);

    let r = run(
        dir.path(),
        &["--json", "send", "--to", "a@example.com", "--subject", "Hi", "--body", "x"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["receipt"]["provider"], "file");
    assert_eq!(v["receipt"]["route"], "local");
    assert!(v["receipt"]["internet_message_id"].as_str().unwrap().ends_with("@localhost>"));

    let r = run(dir.path(), &["--json", "inbox", "--top", "1"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["page"]["messages"].as_array().unwrap().len(), 1);
    assert!(v["page"]["continuation"].is_string(), "{v}");
}

#[test]
fn send_with_attachment_html_and_header() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("factura.pdf"), b"%PDF-1.4 test").unwrap();
    std::fs::write(dir.path().join("body.html"), "<p>Adjuntamos la <b>factura</b></p>").unwrap();
    let r = run(
        dir.path(),
        &[
            "send",
            "--to",
            "a@example.com,b@example.com",
            "--cc",
            "c@example.com",
            "--subject",
            "Factura",
            "--body",
            "texto",
            "--html-file",
            "body.html",
            "--attach",
            "factura.pdf",
            "--header",
            "X-G360-Invoice: 42",
            "--importance",
            "high",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let raw = std::fs::read_to_string(&eml_files(dir.path())[0]).unwrap();
    assert!(raw.contains("X-G360-Invoice: 42"), "{raw}");
    assert!(raw.contains("factura.pdf"), "{raw}");
    assert!(raw.contains("multipart/mixed"), "{raw}");
    let r = run(dir.path(), &["--json", "inbox"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let id = v["page"]["messages"][0]["id"].as_str().unwrap().to_owned();
    let r = run(dir.path(), &["--json", "show", &id]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["message"]["attachments"][0]["name"], "factura.pdf");
    assert_eq!(v["message"]["attachments"][0]["size"], 13);
    assert_eq!(v["message"]["importance"], "high");
}

#[test]
fn usage_errors_exit_2_with_a_clear_message_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["send", "--to", "not-an-address", "--subject", "x", "--body", "y"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("Dirección de e-mail no válida"), "{}", r.stderr);
    assert!(r.stderr.contains("not-an-address") && r.stderr.contains("qué hacer"), "{}", r.stderr);
    let r = run(
        dir.path(),
        &["--lang", "en", "send", "--to", "not-an-address", "--subject", "x", "--body", "y"],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("Invalid e-mail address") && r.stderr.contains("what to do"),
        "{}",
        r.stderr
    );
    // clap usage errors: missing --to, no body.
    assert_eq!(run(dir.path(), &["send", "--subject", "x", "--body", "y"]).code, 2);
    assert_eq!(run(dir.path(), &["send", "--to", "a@b.c", "--subject", "x"]).code, 2);
    assert_eq!(run(dir.path(), &["--lang", "fr", "providers"]).code, 2);
    // Header injection through the subject.
    let r = run(
        dir.path(),
        &["send", "--to", "a@b.c", "--subject", "x\r\nBcc: all@b.c", "--body", "y"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(eml_files(dir.path()).is_empty());
    // A missing attachment names the file.
    let r = run(
        dir.path(),
        &["send", "--to", "a@b.c", "--subject", "x", "--body", "y", "--attach", "nope.pdf"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("nope.pdf"), "{}", r.stderr);
    assert_eq!(run(dir.path(), &["--help"]).code, 0);
}

#[test]
fn json_errors_are_one_object_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &["--json", "--lang", "en", "send", "--to", "bad", "--subject", "x", "--body", "y"],
    );
    assert_eq!(r.code, 2);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "invalid-input");
    assert_eq!(v["error"]["code"], "address.invalid");
    assert_eq!(v["error"]["exit_code"], 2);
    assert_eq!(v["exit_code"], 2);
    assert_eq!(v["error"]["outcome"], "failed");
}

/// Every `--json` result, success or failure, is one object with a top-level
/// `exit_code` equal to the process's exit code.
#[test]
fn every_json_result_carries_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let send = ["--json", "send", "--to", "a@example.com", "--subject", "Hi", "--body", "x"];
    let runs: Vec<Vec<&str>> = vec![
        send.to_vec(),
        vec!["--json", "inbox"],
        vec!["--json", "providers"],
        vec!["--json", "config", "check"],
        vec!["--json", "config", "show"],
        vec!["--json", "verify"],
        vec!["--json", "show", "nope"],
        vec!["--json", "send", "--to", "bad", "--subject", "x", "--body", "y"],
        vec!["--json", "--config", "missing.toml", "providers"],
        vec!["--json", "--config", "missing.toml", "inbox"],
        vec!["--json", "send", "--subject", "no recipient"],
        vec!["--json", "no-such-command"],
    ];
    for args in runs {
        let r = run(dir.path(), &args);
        let v: serde_json::Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}\n{}{}", r.stdout, r.stderr));
        assert_eq!(v["exit_code"], r.code, "{args:?}: {v}");
        assert_eq!(v["ok"], r.code == 0, "{args:?}: {v}");
        assert_eq!(v["schema"], 1, "{args:?}: {v}");
    }
    let r = run(dir.path(), &send);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["outcome"], "sent", "{v}");
}

/// `--help` lists the exit codes, 6 (outcome unknown) among them.
#[test]
fn help_lists_the_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["--lang", "en", "--help"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("5  temporarily unavailable or throttled: retry later"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("6  outcome unknown: do not resend; look the mail up"),
        "{}",
        r.stdout
    );
    let r = run(dir.path(), &["--help"]);
    assert!(r.stdout.contains("6  resultado desconocido: no lo reenvíe"), "{}", r.stdout);
}

const BAD_CONFIG: &str = r#"
lang = "es"
[[integrations]]
id = "local"
provider = "file"
directory = "./out"
colour = "blue"

[[integrations]]
id = "local"
provider = "pigeon"

[[accounts]]
user = "jgarcia"
provider = "file"
address = "jgarcia@"
"#;

#[test]
fn config_check_lists_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("g360-mail.toml"), BAD_CONFIG).unwrap();
    let r = run(dir.path(), &["config", "check"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    for needle in [
        "integrations[local].colour: Clave desconocida (unknown field `colour`",
        "integrations[1].id: Identificador repetido (duplicate integration id",
        "integrations[1].provider: Tipo de proveedor desconocido (unknown provider type \"pigeon\"; registered types: file, office365, smtp)",
        "accounts[jgarcia].address: Dirección de e-mail no válida",
    ] {
        assert!(r.stderr.contains(needle), "{needle} not in\n{}", r.stderr);
    }
    assert!(r.stderr.starts_with("La configuración tiene problemas"), "{}", r.stderr);
    // Every command refuses to run on an invalid configuration.
    assert_eq!(
        run(dir.path(), &["send", "--to", "a@b.c", "--subject", "x", "--body", "y"]).code,
        2
    );
    // A named file that does not exist.
    let r = run(dir.path(), &["--config", "absent.toml", "config", "check"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("absent.toml"), "{}", r.stderr);
}

#[test]
fn config_show_redacts_secrets_and_config_env_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("custom.toml");
    std::fs::write(
        &cfg,
        r#"
lang = "en"
[[integrations]]
id = "files"
provider = "file"
directory = "./elsewhere"
[[accounts]]
user = "ana"
provider = "file"
address = "ana@contoso.com"
secret = "Abc8Q~not-needed-but-secret-0123456789abcdef"
"#,
    )
    .unwrap();
    let r = run_in(dir.path(), &["config", "show"], &[("G360_MAIL_CONFIG", cfg.to_str().unwrap())]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("not-needed-but-secret"), "{}", r.stdout);
    assert!(
        r.stdout.contains("[redacted]") && r.stdout.contains("ana@contoso.com"),
        "{}",
        r.stdout
    );
    let r = run_in(
        dir.path(),
        &["send", "--to", "x@example.com", "--subject", "s", "--body", "b"],
        &[("G360_MAIL_CONFIG", cfg.to_str().unwrap())],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("The e-mail was sent successfully"),
        "lang from config: {}",
        r.stdout
    );
    assert!(dir.path().join("elsewhere").read_dir().unwrap().count() >= 1);
}

#[test]
fn several_accounts_need_user() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("g360-mail.toml"),
        r#"
[[integrations]]
id = "files"
provider = "file"
[[accounts]]
user = "ana"
provider = "file"
address = "ana@contoso.com"
[[accounts]]
user = "luis"
provider = "file"
address = "luis@contoso.com"
"#,
    )
    .unwrap();
    let r = run(dir.path(), &["send", "--to", "x@example.com", "--subject", "s", "--body", "b"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("ana, luis") && r.stderr.contains("--user"), "{}", r.stderr);
    let r = run(
        dir.path(),
        &["send", "--user", "luis", "--to", "x@example.com", "--subject", "s", "--body", "b"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(
        dir.path(),
        &["send", "--user", "nadie", "--to", "x@example.com", "--subject", "s", "--body", "b"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("No hay cuenta de correo para ese usuario"), "{}", r.stderr);
}

#[test]
fn verify_and_providers() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["verify"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("✓"), "{}", r.stdout);
    let r = run(dir.path(), &["verify", "--send-test-to", "admin@example.com"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("El e-mail se envió correctamente"), "{}", r.stdout);
    let r = run(dir.path(), &["--json", "verify", "--all"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["accounts"][0]["passed"], true);
    // The mailbox directory is a regular file: verify fails.
    std::fs::write(dir.path().join("g360-mail.toml"), "[[integrations]]\nid = \"f\"\nprovider = \"file\"\ndirectory = \"blocker\"\n[[accounts]]\nuser = \"u\"\nprovider = \"file\"\naddress = \"u@x.com\"\n").unwrap();
    std::fs::write(dir.path().join("blocker"), "not a directory").unwrap();
    let r = run(dir.path(), &["verify"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("✗"), "{}", r.stdout);
    let r = run(dir.path(), &["providers"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("file"), "{}", r.stdout);
}

#[test]
fn providers_says_when_no_secret_is_needed() {
    let dir = tempfile::tempdir().unwrap();
    let line = |stdout: &str, ty: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{ty} ")))
            .unwrap_or_else(|| panic!("no {ty} line: {stdout}"))
            .to_owned()
    };
    let r = run(dir.path(), &["--lang", "en", "providers"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let smtp = line(&r.stdout, "smtp");
    assert!(
        smtp.ends_with("(needs a secret except with auth = \"none\" or auth = \"oauth2\")"),
        "{smtp}"
    );
    let o365 = line(&r.stdout, "office365");
    assert!(
        o365.ends_with(
            "(needs a secret except with certificate_file = \"…\" or certificate_env = \"…\")"
        ),
        "{o365}"
    );
    assert!(!line(&r.stdout, "file").contains("secret"), "{}", r.stdout);

    let r = run(dir.path(), &["--lang", "es", "providers"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let smtp = line(&r.stdout, "smtp");
    assert!(
        smtp.ends_with("(necesita secreto salvo con auth = \"none\" o auth = \"oauth2\")"),
        "{smtp}"
    );

    let r = run(dir.path(), &["--json", "providers"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let smtp = v["providers"].as_array().unwrap().iter().find(|p| p["provider_type"] == "smtp");
    let smtp = smtp.unwrap();
    assert_eq!(smtp["needs_secret"], true);
    assert_eq!(smtp["secret_not_needed_with"][0], "auth = \"none\"");
}

#[test]
fn no_colour_when_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["verify"]);
    assert!(!r.stdout.contains('\x1b'), "{:?}", r.stdout);
}

fn run_in(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    crate::support::run_blocking(dir, args, envs)
}

fn run(dir: &Path, args: &[&str]) -> Run {
    run_in(dir, args, &[])
}

#[test]
fn inbox_all_follows_every_page() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..7 {
        let r = run(
            dir.path(),
            &["send", "--to", "a@example.com", "--subject", &format!("m{i}"), "--body", "x"],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let r = run(dir.path(), &["--json", "inbox", "--all", "--top", "2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let subjects: Vec<&str> = v["page"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects.len(), 7, "{subjects:?}");
    let unique: std::collections::BTreeSet<_> = subjects.iter().collect();
    assert_eq!(unique.len(), 7, "no message twice: {subjects:?}");
    assert!(v["page"]["continuation"].is_null());
    // Without --all, one page and its continuation.
    let r = run(dir.path(), &["--json", "inbox", "--top", "2"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["page"]["messages"].as_array().unwrap().len(), 2);
    assert!(v["page"]["continuation"].is_string());
}

/// A received mail written to take over the terminal: escape sequences that
/// clear the screen (CSI 2J), fake a hyperlink (OSC 8), write the clipboard
/// (OSC 52), a C1 CSI, and a bidirectional override, in the sender, the
/// subject, the body and an attachment's name.
const HOSTILE_EML: &str = "From: =?utf-8?q?Banco=1B]8;;https://evil.example/=1B\\\\Santander=1B]8;;=1B\\\\?= <evil@example.com>\r\n\
To: demo@localhost\r\n\
Subject: =?utf-8?q?Hola=1B[2J=1B]52;c;cGF5bG9hZA=3D=3D=07_fin=E2=80=AEfdp.exe?=\r\n\
Date: Mon, 1 Dec 2026 10:00:00 +0000\r\n\
Message-ID: <hostile@example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Cuerpo=1B[2J=1B[H=1B]52;c;cGF5bG9hZA=3D=3D=07 y =C2=9B31m fin\r\n\
segunda l=C3=ADnea=0Dtapada\r\n\
--b\r\n\
Content-Type: application/octet-stream\r\n\
Content-Disposition: attachment; filename*=utf-8''factura%1B%5B31m.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
eHg=\r\n\
--b--\r\n";

#[test]
fn received_mail_cannot_drive_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("mail-outbox")).unwrap();
    std::fs::write(dir.path().join("mail-outbox/20261201T100000Z-hostile.eml"), HOSTILE_EML)
        .unwrap();
    let clean = |what: &str, text: &str| {
        for bad in ['\x1b', '\x07', '\u{9b}', '\r', '\u{202e}'] {
            assert!(!text.contains(bad), "{what}: {bad:?} reached the terminal:\n{text:?}");
        }
    };

    let r = run(dir.path(), &["inbox"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    clean("inbox", &r.stdout);
    clean("inbox stderr", &r.stderr);
    assert!(r.stdout.contains("Hola␛[2J␛]52;c;cGF5bG9hZA==␇ fin"), "{}", r.stdout);

    let r = run(dir.path(), &["--json", "inbox"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let m = &v["page"]["messages"][0];
    // JSON stays exact: the ERP stores what was received.
    assert_eq!(m["subject"], "Hola\x1b[2J\x1b]52;c;cGF5bG9hZA==\x07 fin\u{202e}fdp.exe", "{m}");
    // The parser already drops a display name with control characters.
    assert_eq!(m["from"], "evil@example.com", "{m}");
    let id = m["id"].as_str().unwrap().to_owned();

    let r = run(dir.path(), &["show", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    clean("show", &r.stdout);
    clean("show stderr", &r.stderr);
    assert!(r.stdout.contains("De: evil@example.com"), "{}", r.stdout);
    assert!(
        r.stdout.contains("Cuerpo␛[2J␛[H␛]52;c;cGF5bG9hZA==␇ y \u{fffd}31m fin"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("segunda línea␍tapada"), "{}", r.stdout);
    assert!(r.stdout.contains("factura␛[31m.pdf"), "{}", r.stdout);

    let r = run(dir.path(), &["--json", "show", &id]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(v["message"]["text"].as_str().unwrap().contains("Cuerpo\x1b[2J\x1b[H"), "{v}");
    assert_eq!(v["message"]["attachments"][0]["name"], "factura\x1b[31m.pdf", "{v}");
}

/// The `.eml` files and the mailbox directory are private whatever the
/// umask: 0600 / 0700 under a permissive one, and a stricter one still
/// applies (nothing is widened afterwards).
#[test]
fn written_mail_is_private_under_any_umask() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let send_with_umask = |dir: &Path, umask: &str| {
        let script = format!("umask {umask}; exec \"$0\" \"$@\"");
        let out = std::process::Command::new("sh")
            .current_dir(dir)
            .args(["-c", &script, env!("CARGO_BIN_EXE_g360-mail")])
            .args(["send", "--to", "a@example.com", "--subject", "Nómina", "--body", "privado"])
            .env_remove("G360_MAIL_CONFIG")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };

    let dir = tempfile::tempdir().unwrap();
    send_with_umask(dir.path(), "000");
    let outbox = dir.path().join("mail-outbox");
    assert_eq!(mode(&outbox), 0o700);
    assert_eq!(mode(&outbox.join(".tmp")), 0o700);
    let files = eml_files(dir.path());
    assert_eq!(files.len(), 1);
    assert_eq!(mode(&files[0]), 0o600);

    // Owner read-only under umask 277: the mail is 0400, not chmod-ed back.
    send_with_umask(dir.path(), "277");
    let files = eml_files(dir.path());
    assert_eq!(files.len(), 2);
    let modes: Vec<u32> = files.iter().map(|f| mode(f)).collect();
    assert!(modes.contains(&0o400) && modes.contains(&0o600), "{modes:?}");
}

/// The outbox's errors are translated: a SQLite file whose folder is
/// missing, in a Spanish run, has a Spanish message and remedy.
#[test]
fn outbox_errors_are_translated() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("g360-mail.toml"),
        "[outbox]\nurl = \"sqlite:///nonexistent-g360-dir/sub/outbox.db\"\n",
    )
    .unwrap();
    let r = run(dir.path(), &["outbox", "status"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.starts_with("error: No se puede abrir el fichero de la bandeja de salida"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("qué hacer: Compruebe que la carpeta"), "{}", r.stderr);
    let r = run(dir.path(), &["--lang", "en", "outbox", "status"]);
    assert!(r.stderr.starts_with("error: Cannot open the outbox database file"), "{}", r.stderr);
    let r = run(dir.path(), &["--json", "outbox", "status"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["error"]["code"], "outbox.open-file", "{v}");
    assert_eq!(v["exit_code"], r.code, "{v}");
}

const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
const TENANT_ID: &str = "66666666-7777-8888-9999-000000000000";

fn o365_config(extra_integration: &str, client_id: &str, secret: &str) -> String {
    format!(
        "[[integrations]]\nid = \"o365\"\nprovider = \"office365\"\nclient_id = \"{client_id}\"\n\
         tenant_id = \"{TENANT_ID}\"\nauthority_url = \"http://127.0.0.1:9\"\n\
         graph_url = \"http://127.0.0.1:9\"\nallow_insecure_http = true\n{extra_integration}\n\
         [[accounts]]\nuser = \"jgarcia\"\nprovider = \"office365\"\naddress = \"jgarcia@contoso.com\"\n\
         secret = \"{secret}\"\n"
    )
}

/// `config check` reports every problem in one pass: an unknown key and a
/// value of the wrong type do not hide a malformed client id, and a secret
/// that is the Secret ID (a GUID) or has a trailing space is reported at once.
#[test]
fn config_check_reports_every_problem_in_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let config = o365_config(
        "colour = \"blue\"\nmax_attempts = \"many\"\n",
        "G360 ERP - MAIL",
        &format!("{CLIENT_ID} "),
    );
    std::fs::write(dir.path().join("g360-mail.toml"), config).unwrap();
    let r = run(dir.path(), &["--json", "--lang", "en", "config", "check"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let found: Vec<(String, String)> = v["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (p["path"].as_str().unwrap().to_owned(), p["code"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    for want in [
        ("integrations[o365].colour", "config.unknown-key"),
        ("integrations[o365].max_attempts", "config.invalid-value"),
        ("integrations[o365].client_id", "o365.client-id-invalid"),
        ("accounts[jgarcia].secret", "o365.whitespace"),
        ("accounts[jgarcia].secret", "o365.secret-is-id"),
    ] {
        assert!(
            found.contains(&(want.0.to_owned(), want.1.to_owned())),
            "{want:?} not in {found:?}"
        );
    }
    assert_eq!(found.len(), 5, "{found:?}");
}

/// One setup problem, one exit code: 3 from `config check`, `verify`,
/// `send`, `send --from-csv`, `inbox` and `show`, none of them trying the
/// network, in both languages.
#[test]
fn one_setup_problem_exits_3_from_every_command() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("g360-mail.toml"), o365_config("", CLIENT_ID, CLIENT_ID))
        .unwrap();
    std::fs::write(dir.path().join("envio.csv"), "to,subject,body\na@example.com,x,y\n").unwrap();
    let send = ["send", "--to", "a@example.com", "--subject", "x", "--body", "y"];
    let commands: [&[&str]; 6] = [
        &["config", "check"],
        &["verify"],
        &send,
        &["send", "--from-csv", "envio.csv"],
        &["inbox"],
        &["show", "AAMk"],
    ];
    for command in commands {
        for lang in ["es", "en"] {
            let mut args = vec!["--lang", lang];
            args.extend(command);
            let r = run(dir.path(), &args);
            assert_eq!(r.code, 3, "{args:?}:\n{}{}", r.stdout, r.stderr);
            let all = format!("{}{}", r.stdout, r.stderr);
            let message = if lang == "es" { "El secreto parece un GUID" } else { "Secret ID" };
            assert!(all.contains(message), "{args:?}:\n{all}");
            args.insert(0, "--json");
            let r = run(dir.path(), &args);
            let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
            assert_eq!((r.code, v["exit_code"].as_i64()), (3, Some(3)), "{args:?}: {v}");
        }
    }
}

/// `config show` keeps the README's order.
#[test]
fn config_show_keeps_the_readme_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("g360-mail.toml"),
        o365_config("", CLIENT_ID, "Abc8Q~x-0123456789abcdef"),
    )
    .unwrap();
    let r = run(dir.path(), &["config", "show"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let at =
        |needle: &str| r.stdout.find(needle).unwrap_or_else(|| panic!("{needle}:\n{}", r.stdout));
    let order = [
        "lang = ",
        "[[integrations]]",
        "id = \"o365\"",
        "provider = \"office365\"",
        "client_id = ",
        "tenant_id = ",
        "[[accounts]]",
        "user = \"jgarcia\"",
        "provider = \"office365\"\naddress",
        "secret = \"[redacted]\"",
        "[outbox]",
        "\nurl = ",
    ];
    let positions: Vec<usize> = order.iter().map(|n| at(n)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{order:?} {positions:?}\n{}", r.stdout);
    assert!(!r.stdout.contains("Abc8Q"), "{}", r.stdout);
}

/// Accounts of one integration repeating the same secret are a note, in
/// both languages, pointing to the integration-level key; the check passes.
#[test]
fn config_check_notes_a_secret_repeated_by_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "Abc8Q~repeated-secret-value-0123456789abcd";
    let config = format!(
        "{}\n[[accounts]]\nuser = \"mlopez\"\nprovider = \"office365\"\naddress = \"mlopez@contoso.com\"\nsecret = \"{secret}\"\n",
        o365_config("", CLIENT_ID, secret)
    );
    std::fs::write(dir.path().join("g360-mail.toml"), config).unwrap();
    let r = run(dir.path(), &["config", "check"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("Aviso: integrations[o365].secret: Varias cuentas de la integración repiten el mismo secreto"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("una sola vez en la integración"), "{}", r.stderr);
    let r = run(dir.path(), &["--json", "--lang", "en", "config", "check"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["warnings"][0]["code"], "config.secret-repeated");
    assert_eq!(v["warnings"][0]["path"], "integrations[o365].secret");
    for shown in [&r.stdout, &r.stderr] {
        assert!(!shown.contains("repeated-secret"), "{shown}");
    }
    // Once on the integration, there is nothing to note.
    let config = o365_config("", CLIENT_ID, secret)
        .replace(&format!("secret = \"{secret}\"\n"), "")
        .replace("graph_url", &format!("secret = \"{secret}\"\ngraph_url"));
    std::fs::write(dir.path().join("g360-mail.toml"), config).unwrap();
    let r = run(dir.path(), &["config", "check"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("Aviso"), "{}", r.stderr);
    let r = run(dir.path(), &["config", "show"]);
    assert!(r.stdout.contains("secret = \"[redacted]\""), "{}", r.stdout);
    assert!(!r.stdout.contains("repeated-secret"), "{}", r.stdout);
}
