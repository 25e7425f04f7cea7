//! The outbox's state in the Prometheus text exposition format.

use std::fmt::Write as _;

use crate::model::{MailboxStatus, StatusCounts};

/// A per-mailbox metric: name, help text, and its value for a mailbox.
type Metric<'a> = (&'a str, &'a str, &'a dyn Fn(&MailboxStatus) -> String);

/// Escapes a label value: backslash, double quote and line feed.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Renders `counts` and `mailboxes` as Prometheus text (format 0.0.4).
/// `now_ms` is the time `next_send_at` is measured from.
pub(crate) fn render(counts: &StatusCounts, mailboxes: &[MailboxStatus], now_ms: i64) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in rows {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    family(
        "g360_outbox_mails",
        "gauge",
        "Mails in the outbox by state.",
        [
            ("queued", counts.queued),
            ("sending", counts.sending),
            ("sent", counts.sent),
            ("failed", counts.failed),
        ]
        .into_iter()
        .map(|(state, n)| (format!("{{state=\"{state}\"}}"), n.to_string()))
        .collect(),
    );
    family(
        "g360_outbox_needs_lookup",
        "gauge",
        "Queued or sending mails whose last outcome is unknown.",
        vec![(String::new(), counts.needs_lookup.to_string())],
    );
    let per = |f: &dyn Fn(&MailboxStatus) -> String| -> Vec<(String, String)> {
        mailboxes.iter().map(|m| (format!("{{mailbox=\"{}\"}}", label(&m.mailbox)), f(m))).collect()
    };
    let gauges: [Metric<'_>; 7] = [
        ("g360_outbox_mailbox_queued", "Mails queued per sending mailbox.", &|m| {
            m.queued.to_string()
        }),
        ("g360_outbox_mailbox_sending", "Mails claimed by a worker per sending mailbox.", &|m| {
            m.sending.to_string()
        }),
        ("g360_outbox_mailbox_in_flight", "Requests in flight per sending mailbox.", &|m| {
            m.in_flight.to_string()
        }),
        (
            "g360_outbox_mailbox_next_send_seconds",
            "Seconds until the mailbox may start its next send (0: now).",
            &|m| {
                let wait = (m.next_send_at.as_millisecond() - now_ms).max(0);
                format!("{:.3}", wait as f64 / 1000.0)
            },
        ),
        (
            "g360_outbox_mailbox_window_starts",
            "Sends started in the mailbox's current rate window.",
            &|m| m.window_starts.to_string(),
        ),
        ("g360_outbox_mailbox_sent_last_minute", "Mails sent in the last minute.", &|m| {
            m.sent_last_minute.to_string()
        }),
        (
            "g360_outbox_mailbox_oldest_queued_seconds",
            "Age of the oldest queued mail (0 when none).",
            &|m| m.oldest_queued_age_secs.unwrap_or(0).to_string(),
        ),
    ];
    for (name, help, f) in gauges {
        family(name, "gauge", help, per(f));
    }
    let counters: [Metric<'_>; 5] = [
        ("g360_outbox_sent_total", "Mails sent.", &|m| m.sent_total.to_string()),
        ("g360_outbox_failed_total", "Mails failed.", &|m| m.failed_total.to_string()),
        ("g360_outbox_retried_total", "Tries that ended in a retry.", &|m| {
            m.retried_total.to_string()
        }),
        ("g360_outbox_outcome_unknown_total", "Sends whose outcome was unknown.", &|m| {
            m.unknown_total.to_string()
        }),
        ("g360_outbox_throttled_total", "Times the provider throttled the mailbox.", &|m| {
            m.throttled_total.to_string()
        }),
    ];
    for (name, help, f) in counters {
        family(name, "counter", help, per(f));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
