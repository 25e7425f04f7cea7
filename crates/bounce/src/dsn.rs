//! The body of a `message/delivery-status` part (RFC 3464 §2): a group of
//! per-message fields, then one group per recipient, separated by blank lines.

use crate::kind::classify;
use crate::report::{Action, RecipientReport, StatusCode};

/// What a delivery-status body says.
#[derive(Debug, Default)]
pub(crate) struct DeliveryStatus {
    pub(crate) reporting_mta: Option<String>,
    pub(crate) recipients: Vec<RecipientReport>,
}

/// One recipient's fields as written, before they are checked.
#[derive(Debug, Default)]
struct Fields {
    final_recipient: Option<String>,
    original_recipient: Option<String>,
    action: Option<String>,
    status: Option<String>,
    diagnostic: Option<String>,
    remote_mta: Option<String>,
}

/// Reads a delivery-status body. Lenient, as real servers are: field names
/// in any case, continuation lines that lost their indentation, the blank
/// line between recipients missing. A recipient group without an address,
/// or with neither a known `Action` nor a valid `Status`, is skipped.
pub(crate) fn parse(body: &str) -> DeliveryStatus {
    let mut out = DeliveryStatus::default();
    let mut current = Fields::default();
    for group in groups(body) {
        for (name, value) in group {
            let value = collapse(&value);
            match name.to_ascii_lowercase().as_str() {
                "reporting-mta" => {
                    out.reporting_mta.get_or_insert_with(|| strip_type(&value).to_owned());
                }
                "final-recipient" => {
                    if current.final_recipient.is_some() {
                        finish(&mut current, &mut out.recipients);
                    }
                    current.final_recipient = Some(address(&value));
                }
                "original-recipient" => {
                    // Original-Recipient comes first in its group; after a
                    // complete recipient it starts the next one.
                    let complete = current.final_recipient.is_some()
                        && (current.action.is_some() || current.status.is_some());
                    if current.original_recipient.is_some() || complete {
                        finish(&mut current, &mut out.recipients);
                    }
                    current.original_recipient = Some(address(&value));
                }
                "action" => current.action = Some(value),
                "status" => current.status = Some(value),
                "diagnostic-code" => current.diagnostic = Some(strip_type(&value).to_owned()),
                "remote-mta" => current.remote_mta = Some(strip_type(&value).to_owned()),
                _ => {}
            }
        }
        finish(&mut current, &mut out.recipients);
    }
    out
}

fn finish(fields: &mut Fields, into: &mut Vec<RecipientReport>) {
    let f = std::mem::take(fields);
    let Some(final_recipient) = f.final_recipient.or_else(|| f.original_recipient.clone()) else {
        return;
    };
    if final_recipient.is_empty() {
        return;
    }
    // Status is required too; without it the code in the answer will do.
    let status = f
        .status
        .as_deref()
        .and_then(|s| s.split_whitespace().next()?.parse::<StatusCode>().ok())
        .or_else(|| f.diagnostic.as_deref().and_then(StatusCode::find_in));
    let action = f.action.as_deref().and_then(Action::parse).or_else(|| {
        // RFC 3464 requires Action; when a server leaves it out (or writes
        // something else), the status class says what happened.
        Some(match status?.class() {
            5 => Action::Failed,
            4 => Action::Delayed,
            _ => Action::Delivered,
        })
    });
    let Some(action) = action else { return };
    let diagnostic = f.diagnostic.filter(|d| !d.is_empty());
    into.push(RecipientReport {
        original_recipient: f.original_recipient.filter(|o| !o.is_empty()),
        kind: classify(action, status, diagnostic.as_deref()),
        final_recipient,
        action,
        status,
        diagnostic,
        remote_mta: f.remote_mta.filter(|r| !r.is_empty()),
    });
}

/// The groups of `name: value` fields, continuation lines unfolded.
fn groups(body: &str) -> Vec<Vec<(String, String)>> {
    let mut groups = Vec::new();
    let mut group: Vec<(String, String)> = Vec::new();
    for line in body.lines() {
        if line.trim().is_empty() {
            if !group.is_empty() {
                groups.push(std::mem::take(&mut group));
            }
            continue;
        }
        let field = line.split_once(':').filter(|(name, _)| {
            !line.starts_with([' ', '\t'])
                && !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        match (field, group.last_mut()) {
            (Some((name, value)), _) => group.push((name.to_owned(), value.trim().to_owned())),
            (None, Some((_, value))) => {
                value.push(' ');
                value.push_str(line.trim());
            }
            (None, None) => {}
        }
    }
    if !group.is_empty() {
        groups.push(group);
    }
    groups
}

/// `rfc822; a@b` → `a@b`; `dns; host` → `host`; `smtp; 550 …` → `550 …`.
/// A value without a `type;` prefix is returned as is.
pub(crate) fn strip_type(value: &str) -> &str {
    match value.split_once(';') {
        Some((kind, rest))
            if !kind.trim().is_empty()
                && kind.trim().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            rest.trim()
        }
        _ => value.trim(),
    }
}

/// A recipient field's address: type stripped, angle brackets removed.
fn address(value: &str) -> String {
    let a = strip_type(value);
    let a = a.strip_prefix('<').and_then(|a| a.strip_suffix('>')).unwrap_or(a);
    a.trim().to_owned()
}

/// Runs of whitespace as one space, ends trimmed.
pub(crate) fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
