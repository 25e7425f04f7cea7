//! The per-mailbox limits hold across worker processes: three `g360-mail
//! outbox run` processes on one PostgreSQL outbox (two on one SQLite file)
//! drain 300 mails from two mailboxes through the Graph emulator, one of them
//! is killed with SIGKILL midway, and the emulator's own record shows, per
//! mailbox, no rate window over the limit (+1 for arrival jitter), never more
//! than 4 requests in flight, every mail delivered, none twice.

#![allow(clippy::print_stderr, reason = "the measured maxima are printed")]

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use g360_mail_testkit::graph::{Endpoint, Fault, FaultMatch, GraphEmulator};

const MAILBOXES: [&str; 2] = ["facturas@contoso.com", "ventas@contoso.com"];
const MAILS: usize = 300;
const IN_FLIGHT: usize = 4;

struct Limits {
    per_window: usize,
    window_ms: i64,
}

async fn run_ok(dir: &Path, args: &[&str]) -> String {
    let out = crate::support::command(dir, args).output().await.unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The emulator, a config for `outbox_url` with `limits`, and 150 queued
/// mails per mailbox; every send takes `send_delay` at the emulator.
async fn setup(
    outbox_url: &str,
    limits: &Limits,
    send_delay: Duration,
) -> (GraphEmulator, tempfile::TempDir) {
    let emulator = GraphEmulator::start().await;
    let setup = emulator.quick_setup(&MAILBOXES);
    let dir = tempfile::tempdir().unwrap();
    let mut config = setup.toml_config(&emulator.url());
    config.push_str(&format!(
        "\n[outbox]\nurl = \"{outbox_url}\"\nmessages_per_minute = {}\nrate_window_ms = {}\n\
         max_in_flight_per_mailbox = {IN_FLIGHT}\nlease_ms = 3000\nsettle_delay_ms = 300\n\
         base_backoff_ms = 50\nmax_backoff_ms = 500\nmax_attempts = 50\n",
        limits.per_window, limits.window_ms
    ));
    std::fs::write(dir.path().join("g360-mail.toml"), config).unwrap();
    for mailbox in MAILBOXES {
        let user = mailbox.split('@').next().unwrap();
        let mut csv = String::from("to,subject,body\n");
        for i in 0..MAILS / MAILBOXES.len() {
            csv.push_str(&format!("cliente{i}@example.com,{user} {i},Factura {i}\n"));
        }
        let file = format!("{user}.csv");
        std::fs::write(dir.path().join(&file), csv).unwrap();
        run_ok(dir.path(), &["send", "--queue", "--user", user, "--from-csv", &file]).await;
    }
    emulator.push_fault_always(FaultMatch::endpoint(Endpoint::SendMail), Fault::Delay(send_delay));
    (emulator, dir)
}

/// Runs `workers` processes until the outbox is empty, killing one of them
/// (SIGKILL) once `kill_after` sends have reached the emulator.
async fn drain(dir: &Path, emulator: &GraphEmulator, workers: usize, kill_after: usize) {
    let mut children: Vec<_> = (0..workers)
        .map(|_| {
            let mut cmd = crate::support::command(dir, &["outbox", "run", "--until-empty"]);
            cmd.env("G360_MAIL_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    let started = tokio::time::Instant::now();
    while emulator.requests_to(Endpoint::SendMail).len() < kill_after {
        assert!(started.elapsed() < Duration::from_secs(60), "the workers do not send");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut victim = children.remove(0);
    victim.start_kill().unwrap();
    let _ = victim.wait().await;
    for c in children {
        let out = tokio::time::timeout(Duration::from_secs(240), c.wait_with_output())
            .await
            .expect("the other workers finish")
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// What the emulator saw: per mailbox, the most sends in any window and the
/// most requests in flight; every mail delivered exactly once.
fn check_record(emulator: &GraphEmulator, limits: &Limits) {
    let sends = emulator.requests_to(Endpoint::SendMail);
    for mailbox in MAILBOXES {
        let mut times: Vec<i64> = sends
            .iter()
            .filter(|r| r.mailbox.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(mailbox)))
            .map(|r| r.at.as_millisecond())
            .collect();
        times.sort_unstable();
        let mut worst = 0;
        for (i, start) in times.iter().enumerate() {
            let n = times[i..].iter().take_while(|t| **t < start + limits.window_ms).count();
            worst = worst.max(n);
        }
        assert!(
            worst <= limits.per_window + 1,
            "{mailbox}: {worst} sends within {} ms (limit {})",
            limits.window_ms,
            limits.per_window
        );
        let in_flight = emulator.max_concurrency(mailbox);
        eprintln!("{mailbox}: at most {worst} sends per window, {in_flight} in flight");
        assert!(in_flight <= IN_FLIGHT, "{mailbox}: {in_flight} requests in flight at once");
        assert!(in_flight >= 2, "{mailbox}: the test should reach the in-flight limit");
    }
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for d in emulator.deliveries() {
        *per_id
            .entry(d.requested_internet_message_id.unwrap_or(d.internet_message_id))
            .or_default() += 1;
    }
    let duplicates: Vec<_> = per_id.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicates.is_empty(), "mails delivered more than once: {duplicates:?}");
    assert_eq!(per_id.len(), MAILS, "every queued mail delivered");
}

async fn check_status(dir: &Path) {
    let out = run_ok(dir, &["--json", "outbox", "status"]).await;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"]["sent"], MAILS, "{v}");
    assert_eq!(v["status"]["sending"], 0, "{v}");
    let mailboxes = v["mailboxes"].as_array().unwrap();
    assert_eq!(mailboxes.len(), 2, "{v}");
    for m in mailboxes {
        assert_eq!(m["sent_total"], MAILS / 2, "{m}");
        assert_eq!(m["queued"], 0, "{m}");
    }
    let metrics = run_ok(dir, &["outbox", "status", "--metrics"]).await;
    for mailbox in MAILBOXES {
        let line = format!("g360_outbox_sent_total{{mailbox=\"{mailbox}\"}} {}\n", MAILS / 2);
        assert!(metrics.contains(&line), "{metrics}");
    }
}

/// Exchange's real scale: a 60-second window. 150 mails per mailbox at 120
/// per minute take one full window; the test lasts a little over a minute.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_three_workers_keep_each_mailboxs_limits_through_a_kill() {
    let Some(pg) = crate::support::PgSchema::fresh("g360_limits_test").await else { return };
    let url = pg.url.clone();
    let limits = Limits { per_window: 120, window_ms: 60_000 };
    let (emulator, dir) = setup(&url, &limits, Duration::from_millis(150)).await;
    drain(dir.path(), &emulator, 3, 60).await;
    check_record(&emulator, &limits);
    check_status(dir.path()).await;
    pg.drop_schema().await;
}

/// The same with two processes on one SQLite file, on a shortened window.
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_two_workers_keep_each_mailboxs_limits_through_a_kill() {
    let db = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", db.path().join("outbox.db").display());
    let limits = Limits { per_window: 40, window_ms: 3_000 };
    let (emulator, dir) = setup(&url, &limits, Duration::from_millis(100)).await;
    drain(dir.path(), &emulator, 2, 50).await;
    check_record(&emulator, &limits);
    check_status(dir.path()).await;
}
