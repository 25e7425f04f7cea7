//! Outbox URLs as people write them: `sqlite:///path/outbox.db` without
//! `?mode=rwc` creates a private file; a file that cannot be created is
//! explained in the run's language.

mod support;

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_url_without_mode_works_and_failures_speak_spanish() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("outbox.db");
    let config = format!("lang = \"es\"\n\n[outbox]\nurl = \"sqlite://{}\"\n", db.display());
    std::fs::write(dir.path().join("g360-mail.toml"), config).unwrap();
    let run = support::run(dir.path(), &["outbox", "status"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("en cola"), "{}", run.stdout);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "the outbox file is {mode:o}");
    }

    let missing = dir.path().join("no-existe").join("outbox.db");
    let config = format!("lang = \"es\"\n\n[outbox]\nurl = \"sqlite://{}\"\n", missing.display());
    std::fs::write(dir.path().join("g360-mail.toml"), config).unwrap();
    let run = support::run(dir.path(), &["outbox", "status"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("No se puede abrir el fichero de la bandeja de salida"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Compruebe que la carpeta"), "{}", run.stderr);
    assert!(!run.stderr.contains("check that the folder"), "English remedy: {}", run.stderr);
}
