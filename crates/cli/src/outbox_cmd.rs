//! `g360-mail outbox …` and `send --queue`.

use std::sync::Arc;
use std::time::Duration;

use g360_erp_bridge::MailBridge;
use g360_mail_core::{Error, OutgoingMessage};
use g360_mail_outbox::{MailState, Outbox, OutboxId, Worker, WorkerOptions};
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
        OutboxCommand::Run { until_empty } => {
            let worker = Worker::new(outbox, bridge, WorkerOptions::default());
            let summary = if until_empty {
                worker.run_until_empty().await?
            } else {
                worker
                    .run(async {
                        let _ = tokio::signal::ctrl_c().await;
                    })
                    .await?
            };
            if out.json {
                out.json_value(&json!({ "ok": true, "worker": worker.id(), "summary": summary }));
            } else {
                out.line(format!(
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
                ));
            }
            Ok(exit::OK)
        }
        OutboxCommand::Status => {
            let c = outbox.status().await?;
            if out.json {
                out.json_value(&json!({ "ok": true, "status": c }));
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
            }
            Ok(exit::OK)
        }
        OutboxCommand::List { state, limit } => {
            let state = state.as_deref().map(str::parse::<MailState>).transpose()?;
            let mails = outbox.list(state, limit).await?;
            if out.json {
                out.json_value(&json!({ "ok": true, "mails": mails }));
            } else {
                for m in &mails {
                    out.line(format!(
                        "{:>6}  {:8}  {}  {:24}  {}",
                        m.id.get(),
                        m.state.as_str(),
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
            if out.json {
                out.json_value(&json!({ "ok": true, "mail": d }));
            } else {
                let m = &d.mail;
                out.line(format!("{} {}  ({})", m.id.get(), m.state.as_str(), m.uid));
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
            let age = parse_age(&sent_older_than)?;
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

/// `30d`, `12h`, `90m`, `45s`.
fn parse_age(text: &str) -> Result<Duration, Error> {
    let bad = || {
        Error::invalid_input("invalid age")
            .with_code("outbox.age")
            .with_context("option", "--sent-older-than")
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
        assert_eq!(parse_age("30d").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(parse_age("12h").unwrap(), Duration::from_secs(12 * 3_600));
        assert_eq!(parse_age("90m").unwrap(), Duration::from_secs(90 * 60));
        for bad in ["", "d", "30", "30w", "-1d", "x1d"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }
}
