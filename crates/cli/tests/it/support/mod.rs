//! What the CLI's end-to-end tests share: spawning the `g360-mail` binary as
//! a user would, with none of the caller's `G360_MAIL_*` settings leaking in.

#![allow(dead_code, reason = "helpers kept for the tests that use them in turn")]

use std::path::Path;

/// The outcome of one run of the binary.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    fn from(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().expect("an exit code (not killed by a signal)"),
            stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
            stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
        }
    }
}

/// The binary, run in `dir` with `args`, the environment scrubbed of
/// `G360_MAIL_*`, `NO_COLOR` and `LANG`, and debug logs on (so tests that look
/// for secrets in the output see every log line too).
pub(crate) fn command(dir: &Path, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_g360-mail"));
    cmd.current_dir(dir).args(args).kill_on_drop(true);
    for (k, _) in std::env::vars() {
        if k.starts_with("G360_MAIL_") || k == "NO_COLOR" || k == "LANG" {
            cmd.env_remove(k);
        }
    }
    cmd.env("G360_MAIL_LOG", "debug");
    cmd
}

/// Runs the binary to its end.
pub(crate) async fn run(dir: &Path, args: &[&str]) -> Run {
    run_env(dir, args, &[]).await
}

/// Runs the binary to its end with extra environment variables.
pub(crate) async fn run_env(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let out =
        command(dir, args).envs(envs.iter().copied()).output().await.expect("the binary runs");
    Run::from(out)
}

/// [`run_env`] for tests without a runtime.
pub(crate) fn run_blocking(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(run_env(dir, args, envs))
}

/// Runs the binary with logging at its default level (no `G360_MAIL_LOG`),
/// as a person runs it.
pub(crate) async fn run_default_log(dir: &Path, args: &[&str]) -> Run {
    let out =
        command(dir, args).env_remove("G360_MAIL_LOG").output().await.expect("the binary runs");
    Run::from(out)
}

/// A fresh schema on the test PostgreSQL (`G360_MAIL_TEST_PG_URL`, by default
/// 127.0.0.1:5432, database `test`), for tests that share one database
/// between worker processes.
pub(crate) struct PgSchema {
    conn: sqlx::PgConnection,
    schema: String,
    /// The outbox URL whose `search_path` is this schema.
    pub(crate) url: String,
}

impl PgSchema {
    /// A new schema named `PREFIX_<uuid>`; `None` with a notice when no
    /// server answers outside CI. In CI (`CI` set) a missing server fails the
    /// test: the CI machine has one.
    pub(crate) async fn fresh(prefix: &str) -> Option<PgSchema> {
        use sqlx::Connection as _;
        #[allow(clippy::disallowed_methods, reason = "tests read their own variables")]
        let base = std::env::var("G360_MAIL_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        #[allow(clippy::disallowed_methods, reason = "tests read their own variables")]
        let in_ci = std::env::var_os("CI").is_some();
        let connect = sqlx::PgConnection::connect(&base);
        let mut conn = match tokio::time::timeout(std::time::Duration::from_secs(5), connect).await
        {
            Ok(Ok(c)) => c,
            other if in_ci => {
                panic!("PostgreSQL at {base} is required in CI: {:?}", other.map(|r| r.map(|_| ())))
            }
            _ => {
                #[allow(clippy::print_stderr, reason = "a skipped test says why")]
                {
                    eprintln!("NOTICE: skipping: no PostgreSQL at {base} (set CI to fail instead)");
                }
                return None;
            }
        };
        let schema = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let url = format!("{base}?options=-c%20search_path%3D{schema}");
        Some(PgSchema { conn, schema, url })
    }

    /// Drops the schema and everything in it.
    pub(crate) async fn drop_schema(mut self) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {} CASCADE", self.schema)))
            .execute(&mut self.conn)
            .await
            .unwrap();
    }
}
