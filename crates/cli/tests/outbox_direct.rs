//! Direct sends (`g360-mail send`) to a mailbox whose outbox is in use count
//! against the same per-mailbox limits as the outbox's worker: with both
//! sending at once, the Graph emulator's record stays within the limits.

mod support;

use std::path::Path;
use std::time::Duration;

use g360_mail_testkit::graph::{Endpoint, Fault, FaultMatch, GraphEmulator};

const MAILBOX: &str = "facturas@contoso.com";
const PER_WINDOW: usize = 5;
const WINDOW_MS: i64 = 2_000;
const IN_FLIGHT: usize = 2;

fn csv(dir: &Path, name: &str, n: usize) {
    let mut csv = String::from("to,subject,body\n");
    for i in 0..n {
        csv.push_str(&format!("cliente{i}@example.com,{name} {i},Factura {i}\n"));
    }
    std::fs::write(dir.join(name), csv).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn direct_sends_and_the_worker_share_one_mailboxs_limits() {
    let emulator = GraphEmulator::start().await;
    let setup = emulator.quick_setup(&[MAILBOX]);
    let dir = tempfile::tempdir().unwrap();
    let mut config = setup.toml_config(&emulator.url());
    config.push_str(&format!(
        "\n[outbox]\nurl = \"sqlite://{}\"\nmessages_per_minute = {PER_WINDOW}\n\
         rate_window_ms = {WINDOW_MS}\nmax_in_flight_per_mailbox = {IN_FLIGHT}\n",
        dir.path().join("outbox.db").display()
    ));
    std::fs::write(dir.path().join("g360-mail.toml"), config).unwrap();
    csv(dir.path(), "cola.csv", 8);
    csv(dir.path(), "directo.csv", 8);
    let queued = support::run(dir.path(), &["send", "--queue", "--from-csv", "cola.csv"]).await;
    assert_eq!(queued.code, 0, "{}", queued.stderr);
    emulator.push_fault_always(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::Delay(Duration::from_millis(150)),
    );

    let mut worker = support::command(dir.path(), &["outbox", "run", "--until-empty"]);
    let mut direct = support::command(dir.path(), &["send", "--from-csv", "directo.csv"]);
    let (worker, direct) = (
        worker.env("G360_MAIL_LOG", "warn").output(),
        direct.env("G360_MAIL_LOG", "warn").output(),
    );
    let (worker, direct) =
        tokio::time::timeout(Duration::from_secs(120), async { tokio::join!(worker, direct) })
            .await
            .expect("both finish");
    let (worker, direct) = (worker.unwrap(), direct.unwrap());
    assert!(worker.status.success(), "{}", String::from_utf8_lossy(&worker.stderr));
    assert!(
        direct.status.success(),
        "{}{}",
        String::from_utf8_lossy(&direct.stdout),
        String::from_utf8_lossy(&direct.stderr)
    );

    let mut times: Vec<i64> =
        emulator.requests_to(Endpoint::SendMail).iter().map(|r| r.at.as_millisecond()).collect();
    assert_eq!(times.len(), 16);
    times.sort_unstable();
    let mut worst = 0;
    for (i, start) in times.iter().enumerate() {
        worst = worst.max(times[i..].iter().take_while(|t| **t < start + WINDOW_MS).count());
    }
    assert!(worst <= PER_WINDOW + 1, "{worst} sends within {WINDOW_MS} ms");
    let in_flight = emulator.max_concurrency(MAILBOX);
    assert!(in_flight <= IN_FLIGHT, "{in_flight} requests in flight");
    assert_eq!(emulator.deliveries().len(), 16);
}
