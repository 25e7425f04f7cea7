//! `g360-mail outbox run` stops gracefully on SIGTERM, as systemd and
//! container runtimes stop services: it claims nothing more, lets the sends in
//! flight finish, gives the other mails back, prints its summary and exits 0;
//! nothing stays `sending`, and a restart delivers the rest exactly once.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use g360_mail_testkit::graph::{Endpoint, Fault, FaultMatch, GraphEmulator};

const MAILBOX: &str = "facturas@contoso.com";
const MAILS: usize = 20;

async fn run_ok(dir: &Path, args: &[&str]) -> String {
    let out = support::command(dir, args).output().await.unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Sends SIGTERM with the system's `kill`, as an init system would.
async fn sigterm(pid: u32) {
    let status =
        tokio::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
    assert!(status.unwrap().success());
}

/// `GET /metrics` over a plain TCP connection, as Prometheus scrapes.
async fn scrape(addr: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    answer
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_slow_sends_finish_then_exits_0() {
    let emulator = GraphEmulator::start().await;
    let setup = emulator.quick_setup(&[MAILBOX]);
    let dir = tempfile::tempdir().unwrap();
    let mut config = setup.toml_config(&emulator.url());
    config.push_str(&format!(
        "\n[outbox]\nurl = \"sqlite://{}?mode=rwc\"\nmax_in_flight_per_mailbox = 4\n\
         messages_per_minute = 10000\nshutdown_grace_ms = 8000\nlease_ms = 3000\n",
        dir.path().join("outbox.db").display()
    ));
    std::fs::write(dir.path().join("g360-mail.toml"), config).unwrap();
    let mut csv = String::from("to,subject,body\n");
    for i in 0..MAILS {
        csv.push_str(&format!("cliente{i}@example.com,Factura {i},Adjuntamos la factura {i}\n"));
    }
    std::fs::write(dir.path().join("envio.csv"), csv).unwrap();
    run_ok(dir.path(), &["send", "--queue", "--from-csv", "envio.csv"]).await;
    // Each send takes 1.5 s at Graph: a SIGTERM finds sends in flight.
    emulator.push_fault_always(
        FaultMatch::endpoint(Endpoint::SendMail),
        Fault::Delay(Duration::from_millis(1500)),
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd =
        support::command(dir.path(), &["--json", "outbox", "run", "--metrics-addr", &addr]);
    cmd.env("G360_MAIL_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let started = tokio::time::Instant::now();
    while emulator.requests_to(Endpoint::SendMail).is_empty() {
        assert!(started.elapsed() < Duration::from_secs(30), "no send began");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let metrics = scrape(&addr).await;
    assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"), "{metrics}");
    assert!(
        metrics.contains("g360_outbox_mailbox_in_flight{mailbox=\"facturas@contoso.com\"} 4\n"),
        "{metrics}"
    );
    let in_flight = emulator.requests_to(Endpoint::SendMail).len();
    let stopping = tokio::time::Instant::now();
    sigterm(child.id().unwrap()).await;
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the worker stops")
        .unwrap();
    let took = stopping.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "exit status {:?}: {stderr}", out.status);
    assert!(took < Duration::from_secs(8), "took {took:?}, longer than the grace period");
    assert!(
        took >= Duration::from_millis(800),
        "took {took:?}: it did not wait for the sends: {stderr} {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sent = summary["summary"]["sent"].as_u64().unwrap();
    assert!(sent >= 1 && (sent as usize) < MAILS, "{summary}");
    assert_eq!(sent as usize, in_flight, "the sends in flight finished, no new one began");
    assert_eq!(summary["summary"]["interrupted"], 0, "{summary}");

    let status = run_ok(dir.path(), &["--json", "outbox", "status"]).await;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["status"]["sending"], 0, "nothing stays sending: {status}");
    assert_eq!(status["status"]["sent"], sent, "{status}");

    emulator.clear_faults();
    run_ok(dir.path(), &["outbox", "run", "--until-empty"]).await;
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for d in emulator.deliveries() {
        *per_id
            .entry(d.requested_internet_message_id.unwrap_or(d.internet_message_id))
            .or_default() += 1;
    }
    assert!(per_id.values().all(|n| *n == 1), "a mail went out twice: {per_id:?}");
    assert_eq!(per_id.len(), MAILS);
}
