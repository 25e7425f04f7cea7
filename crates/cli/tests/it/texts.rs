//! Every line a person reads comes in Spanish and English (issue 12.1):
//! check lines, provider descriptions, outbox states, errors of `show`,
//! `inbox`, a missing configuration and the outbox commands, counts, and
//! clap's own help and usage errors, with `lang` taken from a configuration
//! file even when that file has problems.

use std::path::Path;

use crate::support::{Run, run_blocking};

/// The binary at its default log level, as a person runs it: stderr holds
/// what the person reads, nothing else.
fn run(dir: &Path, args: &[&str]) -> Run {
    run_blocking(dir, args, &[("G360_MAIL_LOG", "error")])
}

/// `args` run in Spanish and in English.
fn both(dir: &Path, args: &[&str]) -> (Run, Run) {
    let with = |lang: &str| {
        let mut all = vec!["--lang", lang];
        all.extend_from_slice(args);
        run(dir, &all)
    };
    (with("es"), with("en"))
}

#[test]
fn check_lines_are_translated_passed_failed_and_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let (es, en) = both(dir.path(), &["verify"]);
    assert_eq!((es.code, en.code), (0, 0), "{}{}", es.stderr, en.stderr);
    assert!(
        es.stdout.contains("✓ writable   Se puede escribir en la carpeta del buzón — "),
        "{}",
        es.stdout
    );
    assert!(
        en.stdout.contains("✓ writable   ") && en.stdout.contains("accepts new files"),
        "{}",
        en.stdout
    );
    assert!(!en.stdout.contains("Se puede"), "{}", en.stdout);

    std::fs::write(
        dir.path().join("g360-mail.toml"),
        "[[integrations]]\nid = \"f\"\nprovider = \"file\"\ndirectory = \"blocker\"\n\
         [[accounts]]\nuser = \"u\"\nprovider = \"file\"\naddress = \"u@example.com\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("blocker"), "not a directory").unwrap();
    let (es, en) = both(dir.path(), &["verify"]);
    assert_ne!(es.code, 0);
    assert!(
        es.stdout.contains("- writable   no se ha hecho: ha fallado una comprobación anterior"),
        "{}",
        es.stdout
    );
    assert!(en.stdout.contains("- writable   not run: an earlier check failed"), "{}", en.stdout);
}

#[test]
fn provider_descriptions_come_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let listed = run(dir.path(), &["--json", "providers"]);
    let v: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let (es, en) = both(dir.path(), &["providers"]);
    for p in v["providers"].as_array().unwrap() {
        let ty = p["provider_type"].as_str().unwrap();
        let line = |out: &str| {
            out.lines()
                .find(|l| l.trim_start().starts_with(&format!("{ty} ")))
                .unwrap_or_else(|| panic!("no {ty} line in {out}"))
                .to_owned()
        };
        let (es_line, en_line) = (line(&es.stdout), line(&en.stdout));
        assert!(en_line.contains(p["description"].as_str().unwrap()), "{en_line}");
        assert!(
            !es_line.contains(p["description"].as_str().unwrap()),
            "{ty}: no Spanish description (crates/texts: provider_description): {es_line}"
        );
    }
}

#[test]
fn outbox_states_and_errors_are_translated() {
    let dir = tempfile::tempdir().unwrap();
    let queued = run(
        dir.path(),
        &["--json", "send", "--queue", "--to", "a@example.com", "--subject", "Hola", "--body", "x"],
    );
    assert_eq!(queued.code, 0, "{}{}", queued.stdout, queued.stderr);
    let v: serde_json::Value = serde_json::from_str(&queued.stdout).unwrap();
    let id = v["queued"][0]["id"].to_string();
    let (es, en) = both(dir.path(), &["outbox", "list"]);
    assert!(es.stdout.contains(" en cola "), "{}", es.stdout);
    assert!(en.stdout.contains(" queued "), "{}", en.stdout);
    let (es, en) = both(dir.path(), &["outbox", "show", &id]);
    assert!(es.stdout.starts_with(&format!("{id} en cola ")), "{}", es.stdout);
    assert!(en.stdout.starts_with(&format!("{id} queued ")), "{}", en.stdout);

    let (es, en) = both(dir.path(), &["outbox", "retry", "999"]);
    assert!(es.stderr.starts_with("error: No hay ningún correo con ese id"), "{}", es.stderr);
    assert!(en.stderr.starts_with("error: No mail in the outbox has that id"), "{}", en.stderr);
    let (es, en) = both(dir.path(), &["outbox", "retry", &id]);
    assert!(
        es.stderr.starts_with("error: Solo se pueden reintentar los correos fallidos"),
        "{}",
        es.stderr
    );
    assert!(en.stderr.starts_with("error: Only failed mails can be retried"), "{}", en.stderr);
    let (es, en) = both(dir.path(), &["outbox", "purge", "--sent-older-than", "soon"]);
    assert_eq!((es.code, en.code), (2, 2));
    assert!(es.stderr.contains("qué hacer: "), "{}", es.stderr);
    assert!(en.stderr.contains("what to do: "), "{}", en.stderr);
}

#[test]
fn errors_of_show_inbox_and_a_missing_file_are_translated() {
    let dir = tempfile::tempdir().unwrap();
    let (es, en) = both(dir.path(), &["show", "nope"]);
    assert!(
        es.stderr.starts_with("error: No hay ningún mensaje con ese identificador"),
        "{}",
        es.stderr
    );
    assert!(
        en.stderr.starts_with("error: No message with this id in the mailbox"),
        "{}",
        en.stderr
    );
    let (es, en) = both(dir.path(), &["inbox", "--folder", "nowhere"]);
    assert!(es.stderr.starts_with("error: Este proveedor no tiene esa carpeta"), "{}", es.stderr);
    assert!(en.stderr.starts_with("error: This provider has no such folder"), "{}", en.stderr);
    let (es, en) = both(dir.path(), &["--config", "missing.toml", "config", "check"]);
    assert_eq!((es.code, en.code), (2, 2));
    assert!(
        es.stderr.starts_with("error: No existe el fichero de configuración\n"),
        "{}",
        es.stderr
    );
    assert!(es.stderr.contains("qué hacer: Indique la ruta"), "{}", es.stderr);
    assert!(
        en.stderr.starts_with("error: The configuration file does not exist\n"),
        "{}",
        en.stderr
    );
    let r = run(dir.path(), &["--json", "--config", "missing.toml", "inbox"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["error"]["code"], "config.missing", "{v}");
}

#[test]
fn config_check_counts_in_singular_and_plural() {
    let dir = tempfile::tempdir().unwrap();
    let (es, en) = both(dir.path(), &["config", "check"]);
    assert!(es.stdout.ends_with(": 1 integración, 1 cuenta\n"), "{}", es.stdout);
    assert!(en.stdout.ends_with(": 1 integration, 1 account\n"), "{}", en.stdout);
    std::fs::write(
        dir.path().join("g360-mail.toml"),
        "[[integrations]]\nid = \"f\"\nprovider = \"file\"\n\
         [[accounts]]\nuser = \"a\"\nprovider = \"file\"\naddress = \"a@example.com\"\n\
         [[accounts]]\nuser = \"b\"\nprovider = \"file\"\naddress = \"b@example.com\"\n",
    )
    .unwrap();
    let (es, en) = both(dir.path(), &["config", "check"]);
    assert!(es.stdout.ends_with(": 1 integración, 2 cuentas\n"), "{}", es.stdout);
    assert!(en.stdout.ends_with(": 1 integration, 2 accounts\n"), "{}", en.stdout);
}

#[test]
fn clap_help_and_usage_errors_speak_the_users_language() {
    let dir = tempfile::tempdir().unwrap();
    let (es, en) = both(dir.path(), &["send", "--help"]);
    assert_eq!((es.code, en.code), (0, 0));
    assert!(
        es.stdout.contains("Uso: g360-mail send") && es.stdout.contains("Opciones:"),
        "{}",
        es.stdout
    );
    assert!(es.stdout.contains("Destinatarios, separados por comas"), "{}", es.stdout);
    assert!(
        en.stdout.contains("Usage: g360-mail send") && en.stdout.contains("Options:"),
        "{}",
        en.stdout
    );
    assert!(en.stdout.contains("Recipients, separated by commas"), "{}", en.stdout);

    let (es, en) = both(dir.path(), &["send", "--to", "a@example.com", "--subject", "x"]);
    assert_eq!((es.code, en.code), (2, 2));
    assert!(
        es.stderr.starts_with("error: faltan argumentos obligatorios: '--body <BODY>'"),
        "{}",
        es.stderr
    );
    assert!(es.stderr.contains("Uso: g360-mail send"), "{}", es.stderr);
    assert!(
        en.stderr.contains("the following required arguments were not provided"),
        "{}",
        en.stderr
    );
    let (es, en) = both(dir.path(), &["sned"]);
    assert!(
        es.stderr.starts_with("error: comando desconocido: 'sned'\n  sugerencia: 'send'"),
        "{}",
        es.stderr
    );
    assert!(en.stderr.contains("unrecognized subcommand 'sned'"), "{}", en.stderr);
    // Under --json a usage error is one object, in the user's language.
    let (es, en) = both(dir.path(), &["--json", "sned"]);
    for (r, message) in
        [(es, "comando desconocido: 'sned'"), (en, "unrecognized subcommand: 'sned'")]
    {
        assert_eq!(r.code, 2);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!((v["schema"].as_u64(), v["exit_code"].as_u64()), (Some(1), Some(2)), "{v}");
        assert_eq!(v["error"]["code"], "usage.invalid", "{v}");
        assert_eq!(v["error"]["message"], message, "{v}");
    }
}

/// `lang = "en"` in a file with problems: the problems, the help and the
/// usage errors are in English all the same.
#[test]
fn the_files_lang_applies_even_when_the_file_has_problems() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("g360-mail.toml"),
        "lang = \"en\"\n[[integrations]]\nid = \"x\"\ncolour = \"blue\"\n",
    )
    .unwrap();
    let r = run(dir.path(), &["config", "check"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with("The configuration has problems"), "{}", r.stderr);
    assert!(r.stderr.contains("what to do"), "{}", r.stderr);
    let r = run(dir.path(), &["--help"]);
    assert!(r.stdout.contains("Usage: g360-mail"), "{}", r.stdout);
    let r = run(dir.path(), &["sned"]);
    assert!(r.stderr.contains("unrecognized subcommand"), "{}", r.stderr);
    // A file broken beyond TOML still says its language.
    std::fs::write(dir.path().join("g360-mail.toml"), "lang = 'en'\n[[integrations\n").unwrap();
    let r = run(dir.path(), &["config", "check"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with("error: Cannot read the configuration\n"), "{}", r.stderr);
    // --lang still wins.
    let r = run(dir.path(), &["--lang", "es", "config", "check"]);
    assert!(r.stderr.starts_with("error: No se puede leer la configuración\n"), "{}", r.stderr);
}

#[test]
fn outbox_section_problems_come_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("g360-mail.toml"),
        "[outbox]\nurl = \"sqlite://o.db\"\nbatch_size = 0\nflush_interval_ms = \"x\"\n",
    )
    .unwrap();
    let (es, en) = both(dir.path(), &["config", "check"]);
    for r in [&es, &en] {
        assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    }
    // Both problems at once, each at its key; the precise English detail in
    // brackets after the Spanish text, the remedy in Spanish.
    for key in ["outbox.batch_size", "outbox.flush_interval_ms"] {
        assert!(es.stderr.contains(key), "{}", es.stderr);
        assert!(en.stderr.contains(key), "{}", en.stderr);
    }
    assert_eq!(es.stderr.matches("Valor no válido").count(), 2, "{}", es.stderr);
    assert!(es.stderr.contains("Corrija el valor"), "{}", es.stderr);
    assert!(!es.stderr.contains("what to do"), "{}", es.stderr);
    assert!(!en.stderr.contains("Valor no válido"), "{}", en.stderr);
}
