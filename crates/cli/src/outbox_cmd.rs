//! `g360-mail outbox …` and `send --queue`.

use std::sync::Arc;
use std::time::Duration;

use g360_erp_bridge::MailBridge;
use g360_mail_core::{Error, OutgoingMessage};
use g360_mail_outbox::{DeliveryState, MailState, Outbox, OutboxId, Worker, WorkerOptions};
use serde_json::json;

use crate::cli::OutboxCommand;
use crate::i18n::Msg;
use crate::output::{Out, exit};

/// Opens the configured outbox (creating and migrating it).
pub(crate) async fn open(bridge: &MailBridge) -> Result<Outbox, Error> {
    let config = bridge.config();
    let config = config.outbox();
    Outbox::open(&config.url, config.options())
        .await
        .map_err(|e| e.with_context("outbox", config.redacted_url()))
}

/// Makes direct sends share the per-mailbox limits of the outbox when the
/// outbox is in use: a PostgreSQL outbox, or a SQLite file that exists (a
/// direct send never creates one). A database that does not answer within
/// 2 s is skipped with a warning.
pub(crate) async fn share_limits(bridge: &MailBridge) {
    let config = bridge.config();
    let config = config.outbox();
    if let Some(rest) = config.url.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or(path);
        if !std::path::Path::new(path).exists() {
            return;
        }
    }
    let options = g360_mail_outbox::OutboxOptions {
        acquire_timeout: Duration::from_secs(2),
        max_connections: 2,
        ..config.options()
    };
    match Outbox::open(&config.url, options).await {
        Ok(outbox) => {
            bridge.share_limits_with(&outbox);
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot open the outbox; direct sends do not share its limits")
        }
    }
}

/// Queues messages for `user` and prints their outbox ids.
pub(crate) async fn enqueue(
    out: &Out,
    bridge: &MailBridge,
    user: &str,
    messages: Vec<(u64, OutgoingMessage)>,
) -> Result<u8, Error> {
    let outbox = open(bridge).await?;
    let mut ids = Vec::with_capacity(messages.len());
    for (line, message) in messages {
        let uid = message.uid();
        let id = bridge
            .enqueue_as(&outbox, user, message)
            .await
            .map_err(|e| if line > 0 { e.with_context("line", line) } else { e })?;
        ids.push((id, uid));
    }
    if out.json {
        let list: Vec<_> =
            ids.iter().map(|(id, uid)| json!({ "id": id.get(), "uid": uid })).collect();
        out.json_value(
            &json!({ "ok": true, "message": out.t(Msg::Queued), "user": user, "queued": list }),
        );
    } else {
        out.line(format!("{}: {}", out.t(Msg::Queued), ids.len()));
        for (id, uid) in &ids {
            out.line(format!("  {}  {uid}", id.get()));
        }
    }
    Ok(exit::OK)
}

pub(crate) async fn run(
    out: &Out,
    bridge: Arc<MailBridge>,
    command: OutboxCommand,
) -> Result<u8, Error> {
    let outbox = open(&bridge).await?;
    match command {
        OutboxCommand::Run { until_empty, grace, metrics_addr } => {
            let grace = match grace {
                Some(text) => parse_age(&text, "--grace")?,
                None => Duration::from_millis(bridge.config().outbox().shutdown_grace_ms),
            };
            // Listen for signals before anything else runs, so SIGTERM never
            // takes the default action (death, exit 143).
            let stop = stop_signal()?;
            let bridge_for_reports = bridge.clone();
            let worker = Worker::new(outbox.clone(), bridge, WorkerOptions::default());
            let id = worker.id().to_owned();
            let mut handle = if until_empty { worker.spawn_until_empty() } else { worker.spawn() };
            let _reports = crate::bounces_cmd::spawn_periodic_sync(&bridge_for_reports, &outbox);
            let _metrics = match metrics_addr {
                Some(addr) => Some(serve_metrics(addr, outbox.clone()).await?),
                None => None,
            };
            let ended = tokio::select! {
                result = handle.wait() => Some(result),
                () = stop => None,
            };
            let summary = match ended {
                Some(result) => result?,
                None => {
                    tracing::info!(?grace, "stopping: no new claims, sends in flight may finish");
                    handle.shutdown(grace).await?
                }
            };
            if out.json {
                out.json_value(&json!({ "ok": true, "worker": id, "summary": summary }));
            } else {
                let mut line = format!(
                    "{}: {} {}, {} {}, {} {}, {} {}",
                    out.t(Msg::OutboxWorkerDone),
                    summary.sent,
                    out.t(Msg::StateSent),
                    summary.recovered,
                    out.t(Msg::Recovered),
                    summary.retried,
                    out.t(Msg::Retried),
                    summary.failed,
                    out.t(Msg::StateFailed)
                );
                if summary.interrupted > 0 {
                    line.push_str(&format!(
                        ", {} {}",
                        summary.interrupted,
                        out.t(Msg::OutboxInterrupted)
                    ));
                }
                out.line(line);
            }
            Ok(exit::OK)
        }
        OutboxCommand::Status { metrics } => {
            if metrics {
                out.line(outbox.metrics().await?.trim_end());
                return Ok(exit::OK);
            }
            let c = outbox.status().await?;
            let mailboxes = outbox.mailbox_status().await?;
            // What will stop mail from going out: credentials that expire
            // soon (warnings) or have expired (setup problems).
            let config = bridge.config();
            if out.json {
                let warnings: Vec<_> =
                    config.warnings().iter().map(|p| crate::app::problem_json(out, p)).collect();
                let setup: Vec<_> = config
                    .setup_problems()
                    .iter()
                    .map(|p| crate::app::problem_json(out, p))
                    .collect();
                out.json_value(&json!({ "ok": true, "status": c, "mailboxes": mailboxes,
                    "warnings": warnings, "setup_problems": setup }));
            } else {
                for (name, n) in [
                    (out.t(Msg::StateQueued), c.queued),
                    (out.t(Msg::StateSending), c.sending),
                    (out.t(Msg::StateSent), c.sent),
                    (out.t(Msg::StateFailed), c.failed),
                ] {
                    out.line(format!("{name:10} {n}"));
                }
                if c.needs_lookup > 0 {
                    out.line(format!("({} {})", c.needs_lookup, out.t(Msg::NeedsLookup)));
                }
                let now = jiff::Timestamp::now();
                for m in &mailboxes {
                    let next = if m.next_send_at <= now {
                        out.t(Msg::OutboxNow).to_owned()
                    } else {
                        let secs = (m.next_send_at.as_millisecond() - now.as_millisecond())
                            .div_euclid(1000)
                            .max(1);
                        format!("+{secs} s")
                    };
                    let oldest = m
                        .oldest_queued_age_secs
                        .map(|s| format!(", {} {s} s", out.t(Msg::OutboxOldest)))
                        .unwrap_or_default();
                    out.line(format!(
                        "{}: {} {}, {} {}, {} {next}, {} {}, {} {}{oldest}",
                        if m.mailbox.is_empty() { "?" } else { m.mailbox.as_str() },
                        m.queued,
                        out.t(Msg::StateQueued),
                        m.sending,
                        out.t(Msg::StateSending),
                        out.t(Msg::OutboxNextSend),
                        m.sent_last_minute,
                        out.t(Msg::OutboxLastMinute),
                        m.sent_last_day,
                        out.t(Msg::OutboxLastDay),
                    ));
                }
                crate::app::print_warnings(out, config.warnings());
                if !config.setup_problems().is_empty() {
                    eprintln!("{}:", out.t(Msg::SetupProblems));
                    for p in config.setup_problems() {
                        let (message, remedy) = crate::app::problem_text(out, p);
                        eprintln!("  - {}: {message}", p.path);
                        if let Some(r) = remedy {
                            eprintln!("      {}: {r}", out.t(Msg::WhatToDo));
                        }
                    }
                }
            }
            Ok(exit::OK)
        }
        OutboxCommand::List { state, limit } => {
            let mails = match state.as_deref() {
                Some("bounced") => {
                    outbox.list_with_delivery_state(DeliveryState::Bounced, limit).await?
                }
                Some("delayed") => {
                    outbox.list_with_delivery_state(DeliveryState::Delayed, limit).await?
                }
                other => {
                    let state = other.map(str::parse::<MailState>).transpose()?;
                    outbox.list(state, limit).await?
                }
            };
            if out.json {
                out.json_value(&json!({ "ok": true, "mails": mails }));
            } else {
                for m in &mails {
                    out.line(format!(
                        "{:>6}  {:8}  {}  {:24}  {}",
                        m.id.get(),
                        out.t(state_msg(m.state)),
                        m.created_at.strftime("%Y-%m-%d %H:%M"),
                        m.recipients,
                        m.subject
                    ));
                }
            }
            Ok(exit::OK)
        }
        OutboxCommand::Show { id } => {
            let d = outbox.show(OutboxId::new(id)).await?;
            let delivery = crate::bounces_cmd::recipient_states(&outbox, &d.mail).await?;
            if out.json {
                out.json_value(&json!({ "ok": true, "mail": d, "recipients": delivery }));
            } else {
                let m = &d.mail;
                out.line(format!("{} {}  ({})", m.id.get(), out.t(state_msg(m.state)), m.uid));
                out.line(format!("  {}: {}", out.t(Msg::Subject), m.subject));
                out.line(format!("  {}: {}", out.t(Msg::To), m.recipients));
                if let Some(g) = m.guarantee {
                    out.line(format!("  {}: {g}", out.t(Msg::Guarantee)));
                }
                if let Some(route) = &m.route {
                    out.line(format!("  {}: {route}", out.t(Msg::Route)));
                }
                if let Some(e) = &m.last_error {
                    out.line(format!(
                        "  {}: {}",
                        out.t(Msg::Error),
                        serde_json::to_string(e).unwrap_or_default()
                    ));
                }
                crate::bounces_cmd::print_recipient_states(out, &delivery);
                for a in &d.attempts {
                    out.line(format!(
                        "  - {} {} {}",
                        a.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                        a.result.as_str(),
                        a.error
                            .as_ref()
                            .map(|e| serde_json::to_string(e).unwrap_or_default())
                            .unwrap_or_default()
                    ));
                }
            }
            Ok(exit::OK)
        }
        OutboxCommand::Retry { id } => {
            outbox.retry(OutboxId::new(id)).await?;
            if out.json {
                out.json_value(&json!({ "ok": true, "id": id }));
            } else {
                out.line(format!("{}: {id}", out.t(Msg::Queued)));
            }
            Ok(exit::OK)
        }
        OutboxCommand::Purge { sent_older_than } => {
            let age = parse_age(&sent_older_than, "--sent-older-than")?;
            let n = outbox.purge_sent_older_than(age).await?;
            if out.json {
                out.json_value(&json!({ "ok": true, "purged": n }));
            } else {
                out.line(format!("{}: {n}", out.t(Msg::Purged)));
            }
            Ok(exit::OK)
        }
    }
}

/// The text of one mail's state (`outbox list`, `outbox show`).
fn state_msg(state: MailState) -> Msg {
    match state {
        MailState::Queued => Msg::MailQueued,
        MailState::Sending => Msg::MailSending,
        MailState::Sent => Msg::MailSent,
        MailState::Failed => Msg::MailFailed,
    }
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT). Installed at once: from then on
/// neither signal ends the process by itself.
fn stop_signal() -> Result<impl std::future::Future<Output = ()>, Error> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| {
            Error::new(g360_mail_core::ErrorKind::Unexpected, "cannot listen for SIGTERM")
                .with_source(e)
        })?;
    let ctrl_c = tokio::signal::ctrl_c();
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {}
            _ = ctrl_c => {}
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    })
}

/// Serves `GET /metrics` in the Prometheus text format on `addr` until the
/// returned guard drops. A deliberately tiny HTTP/1.1 responder: one request
/// per connection, headers capped at 8 KiB and 5 s.
async fn serve_metrics(
    addr: std::net::SocketAddr,
    outbox: Outbox,
) -> Result<tokio::task::JoinHandle<()>, Error> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        Error::new(g360_mail_core::ErrorKind::Config, "cannot listen for metrics")
            .with_code("outbox.metrics-addr")
            .with_context("option", "--metrics-addr")
            .with_context("address", addr)
            .with_remedy("choose a free port, or an address of this machine")
            .with_source(e)
    })?;
    tracing::info!(%addr, "serving metrics at /metrics");
    Ok(tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { continue };
            let outbox = outbox.clone();
            tokio::spawn(async move {
                let mut head = Vec::with_capacity(512);
                let read = tokio::time::timeout(Duration::from_secs(5), async {
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return false,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    true
                })
                .await;
                if !matches!(read, Ok(true)) {
                    return;
                }
                let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
                let (status, body) = if line.starts_with(b"GET /metrics ") {
                    match outbox.metrics().await {
                        Ok(text) => ("200 OK", text),
                        Err(e) => ("503 Service Unavailable", format!("{e}\n")),
                    }
                } else {
                    ("404 Not Found", "not found\n".to_owned())
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    }))
}

/// `30d`, `12h`, `90m`, `45s`.
pub(crate) fn parse_age(text: &str, option: &'static str) -> Result<Duration, Error> {
    let bad = || {
        Error::invalid_input("invalid age")
            .with_code("outbox.age")
            .with_context("option", option)
            .with_context("age", text.escape_debug())
            .with_remedy("write a number followed by d, h, m or s, e.g. 30d")
    };
    let t = text.trim();
    let unit = t.chars().last().ok_or_else(bad)?;
    let n: u64 = t[..t.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    let secs = match unit {
        'd' => n.checked_mul(86_400),
        'h' => n.checked_mul(3_600),
        'm' => n.checked_mul(60),
        's' => Some(n),
        _ => None,
    }
    .ok_or_else(bad)?;
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ages() {
        let age = |t| parse_age(t, "--grace");
        assert_eq!(age("30d").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(age("12h").unwrap(), Duration::from_secs(12 * 3_600));
        assert_eq!(age("90m").unwrap(), Duration::from_secs(90 * 60));
        for bad in ["", "d", "30", "30w", "-1d", "x1d"] {
            assert!(age(bad).is_err(), "{bad}");
        }
    }
}
