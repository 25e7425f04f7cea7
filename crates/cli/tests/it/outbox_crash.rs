//! The outbox survives `kill -9`: worker processes are killed at random
//! moments while draining queued mail to the Graph emulator (which also
//! answers 429 and 503); after restarts every mail went out exactly once.

#![allow(clippy::print_stderr, reason = "the rounds are printed so a failing run can be replayed")]

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use g360_mail_testkit::graph::{Endpoint, Fault, FaultMatch, GraphEmulator};

const MAILBOX: &str = "facturas@contoso.com";

async fn run_ok(dir: &Path, args: &[&str]) -> String {
    let out = crate::support::command(dir, args).output().await.unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A small deterministic generator, so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

async fn setup(outbox_url: &str, mails: usize) -> (GraphEmulator, tempfile::TempDir) {
    let emulator = GraphEmulator::start().await;
    let setup = emulator.quick_setup(&[MAILBOX]);
    let dir = tempfile::tempdir().unwrap();
    let mut config = setup.toml_config(&emulator.url());
    // Short delays for the test: the provider's own retries and lookups, the
    // outbox lease and backoff.
    config = config.replace(
        "allow_insecure_http = true\n",
        "allow_insecure_http = true\nmax_attempts = 2\ninitial_backoff_ms = 5\nmax_backoff_ms = 20\nsent_lookup_delay_ms = 30\n",
    );
    config.push_str(&format!(
        "\n[outbox]\nurl = \"{outbox_url}\"\nmessages_per_minute = 10000\nlease_ms = 1500\nsettle_delay_ms = 500\nbase_backoff_ms = 10\nmax_backoff_ms = 100\nmax_attempts = 50\n"
    ));
    std::fs::write(dir.path().join("g360-mail.toml"), config).unwrap();
    let mut csv = String::from("to,subject,body\n");
    for i in 0..mails {
        csv.push_str(&format!("cliente{i}@example.com,Factura {i},Adjuntamos la factura {i}\n"));
    }
    std::fs::write(dir.path().join("envio.csv"), csv).unwrap();
    run_ok(dir.path(), &["send", "--queue", "--from-csv", "envio.csv"]).await;
    // Graph throttles and fails now and then while the workers drain.
    emulator.push_fault(FaultMatch::endpoint(Endpoint::SendMail), Fault::throttled(0), 25);
    emulator.push_fault(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::service_unavailable(Some(0)),
        25,
    );
    emulator.push_fault(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::accept_then_gateway_timeout(),
        10,
    );
    (emulator, dir)
}

/// Starts `workers` worker processes, kills one at a random moment, and
/// repeats `rounds` times; then drains to the end without killing.
async fn drain_with_kills(dir: &Path, workers: usize, rounds: usize, seed: u64) {
    let mut rng = Rng(seed);
    for round in 0..rounds {
        let mut children: Vec<_> = (0..workers)
            .map(|_| quiet(dir, &["outbox", "run", "--until-empty"]).spawn().unwrap())
            .collect();
        tokio::time::sleep(Duration::from_millis(20 + rng.below(250))).await;
        let victim = rng.below(workers as u64) as usize;
        children[victim].start_kill().unwrap(); // SIGKILL
        let _ = children[victim].wait().await;
        eprintln!("round {round}: killed worker {victim}");
        if workers > 1 {
            // The others keep going for a while, then are killed too.
            tokio::time::sleep(Duration::from_millis(rng.below(150))).await;
        }
        for mut c in children {
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
    }
    let finals: Vec<_> = (0..workers)
        .map(|_| quiet(dir, &["outbox", "run", "--until-empty"]).spawn().unwrap())
        .collect();
    for c in finals {
        let out = tokio::time::timeout(Duration::from_secs(120), c.wait_with_output())
            .await
            .expect("the final workers finish")
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

fn assert_exactly_once(emulator: &GraphEmulator, dir: &Path, mails: usize) {
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for d in emulator.deliveries() {
        *per_id
            .entry(d.requested_internet_message_id.unwrap_or(d.internet_message_id))
            .or_default() += 1;
    }
    let duplicates: Vec<_> = per_id.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicates.is_empty(), "mails delivered more than once: {duplicates:?}");
    assert_eq!(per_id.len(), mails, "every queued mail delivered");
    assert_eq!(emulator.sent_items(MAILBOX).len(), mails);
    let _ = dir;
}

async fn status(dir: &Path) -> serde_json::Value {
    let out = run_ok(dir, &["--json", "outbox", "status"]).await;
    serde_json::from_str::<serde_json::Value>(&out).unwrap()["status"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_outbox_delivers_every_mail_exactly_once_across_kill_9() {
    let dir0 = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir0.path().join("outbox.db").display());
    let (emulator, dir) = setup(&url, 500).await;
    drain_with_kills(dir.path(), 1, 6, 0x9E37_79B9_7F4A_7C15).await;
    let s = status(dir.path()).await;
    assert_eq!(s["sent"], 500, "{s}");
    assert_eq!(s["failed"], 0, "{s}");
    assert_exactly_once(&emulator, dir.path(), 500);
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_outbox_two_workers_one_killed_never_send_a_mail_twice() {
    let Some(pg) = crate::support::PgSchema::fresh("g360_crash_test").await else { return };
    let url = pg.url.clone();
    let (emulator, dir) = setup(&url, 300).await;
    drain_with_kills(dir.path(), 2, 5, 0xD1B5_4A32_D192_ED03).await;
    let s = status(dir.path()).await;
    assert_eq!(s["sent"], 300, "{s}");
    assert_exactly_once(&emulator, dir.path(), 300);
    pg.drop_schema().await;
}

/// A worker whose output is not read (stderr kept for the failure message).
fn quiet(dir: &Path, args: &[&str]) -> tokio::process::Command {
    let mut cmd = crate::support::command(dir, args);
    cmd.env("G360_MAIL_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    cmd
}
