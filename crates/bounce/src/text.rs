//! Reports without a usable `message/delivery-status` part, read from their
//! human text: Exchange / Office 365 ("Diagnostic information for
//! administrators", `Remote Server returned '550 5.1.10 …'`), Exim ("The
//! following address(es) failed") and Gmail ("Delivery to the following
//! recipient failed permanently").

use crate::dsn::collapse;
use crate::kind::classify;
use crate::report::{Action, RecipientReport, ReportFormat, StatusCode};

/// How much of the human text is read; the recipients and their answers come
/// first, a longer text is a quoted message or an attack.
const MAX_TEXT_BYTES: usize = 256 * 1024;

/// What the human text of a report says.
#[derive(Debug)]
pub(crate) struct TextReport {
    pub(crate) format: ReportFormat,
    pub(crate) reporting_mta: Option<String>,
    pub(crate) recipients: Vec<RecipientReport>,
}

/// Lines that start the copy of the original message (or its headers) that
/// servers append to their text, lower case.
const QUOTED_MARKERS: &[&str] = &[
    "original message headers:",
    "------ this is a copy of the message",
    "----- original message -----",
    "----- original message follows -----",
    "----- message header follows -----",
];

/// One family of text reports: where its recipient list starts and ends and
/// what its wording says about the action.
struct Family {
    format: ReportFormat,
    /// Lower-case markers, best first; the text after the first one found is read.
    starts: &'static [&'static str],
    /// Lower-case markers that end the part to read.
    ends: &'static [&'static str],
    /// Lower-case words that make it a delay rather than a failure.
    delayed: &'static [&'static str],
}

const FAMILIES: &[Family] = &[
    Family {
        format: ReportFormat::Exchange,
        starts: &[
            "diagnostic information for administrators:",
            "delivery has failed to these recipients",
            "delivery is delayed to these recipients",
            "rejected your message to the following e",
        ],
        ends: &["original message headers:"],
        delayed: &["delivery is delayed to these recipients"],
    },
    Family {
        format: ReportFormat::Exim,
        starts: &[
            "the following address(es) failed:",
            "address(es) to which delivery has not yet been attempted",
            "has not yet been delivered to one or more of its",
        ],
        ends: &["------ this is a copy of the message", "no action is required on your part"],
        delayed: &["has not yet been delivered"],
    },
    Family {
        format: ReportFormat::Gmail,
        starts: &["delivery to the following recipient"],
        ends: &[
            "----- original message -----",
            "----- original message follows -----",
            "----- message header follows -----",
        ],
        delayed: &["has been delayed", "delivery to the following recipient has been delayed"],
    },
];

/// Reads the human text of a report; `failed` are the addresses of an
/// `X-Failed-Recipients` header, used when the text lists none on its own.
/// `None` when no family's wording is found or no recipient can be read.
pub(crate) fn parse(text: &str, failed: &[String]) -> Option<TextReport> {
    let text = head(text, MAX_TEXT_BYTES);
    let lower = text.to_ascii_lowercase();
    for family in FAMILIES {
        let Some(start) = family.starts.iter().find_map(|m| lower.find(m)) else {
            continue;
        };
        // Read from the line after the marker to the first end marker.
        let from = lower[start..].find('\n').map_or(lower.len(), |n| start + n + 1);
        let to = family
            .ends
            .iter()
            .filter_map(|m| lower[from..].find(m))
            .min()
            .map_or(text.len(), |n| from + n);
        let action = if family.delayed.iter().any(|w| lower.contains(w)) {
            Action::Delayed
        } else {
            Action::Failed
        };
        let mut scan = scan(&text[from..to]);
        if scan.drafts.is_empty() {
            scan.drafts = failed.iter().map(|a| Draft::new(a.clone())).collect();
            if let Some(draft) = scan.drafts.first_mut() {
                draft.free.push(collapse(&text[from..to]));
            }
        }
        // Exchange puts the "Generating server" line before the recipients.
        let reporting_mta = scan.generating_server.or_else(|| {
            let i = lower.find("generating server:")?;
            let rest = &text[i + "generating server:".len()..];
            Some(rest.lines().next()?.trim().to_owned()).filter(|h| !h.is_empty())
        });
        let recipients: Vec<_> =
            scan.drafts.into_iter().map(|d| d.finish(family.format, action)).collect();
        if recipients.is_empty() {
            return None;
        }
        return Some(TextReport { format: family.format, reporting_mta, recipients });
    }
    None
}

/// The headers of the original message as quoted in the report's text,
/// from the line after the marker (leading blank lines skipped).
pub(crate) fn quoted_headers(text: &str) -> Option<&str> {
    let lower = text.to_ascii_lowercase();
    let start = QUOTED_MARKERS.iter().filter_map(|m| lower.find(m)).min()?;
    let from = lower[start..].find('\n').map(|n| start + n + 1)?;
    Some(text[from..].trim_start_matches(['\r', '\n', ' ', '\t']))
}

/// The first `max` bytes of `text`, cut at a character boundary.
fn head(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[derive(Debug)]
struct Draft {
    address: String,
    diagnostic: Option<String>,
    remote_mta: Option<String>,
    /// Lines about this recipient that are not a quoted server answer.
    free: Vec<String>,
}

impl Draft {
    fn new(address: String) -> Self {
        Draft { address, diagnostic: None, remote_mta: None, free: Vec::new() }
    }

    fn finish(self, format: ReportFormat, action: Action) -> RecipientReport {
        let free = collapse(&self.free.join(" "));
        let mut remote_mta = self.remote_mta;
        let mut diagnostic = self.diagnostic.map(|d| collapse(&d));
        if diagnostic.is_none() && !free.is_empty() {
            // Exim: "SMTP error from remote mail server after RCPT TO:<a>:
            // host mx.example.jp [192.0.2.1]: 550 5.1.1 … User Unknown".
            match host_answer(&free) {
                Some((host, answer)) => {
                    remote_mta.get_or_insert_with(|| host.to_owned());
                    diagnostic = Some(answer.to_owned());
                }
                None => diagnostic = Some(free.clone()),
            }
        }
        if remote_mta.is_none() && format == ReportFormat::Gmail {
            // "… rejected by the server for the recipient domain example.jp by mx.example.jp. [192.0.2.153]."
            remote_mta = gmail_host(&free).map(str::to_owned);
        }
        let status = diagnostic
            .as_deref()
            .and_then(StatusCode::find_in)
            .or_else(|| StatusCode::find_in(&free));
        RecipientReport {
            final_recipient: self.address,
            original_recipient: None,
            action,
            status,
            kind: classify(action, status, diagnostic.as_deref()),
            diagnostic: diagnostic.filter(|d| !d.is_empty()),
            remote_mta,
        }
    }
}

#[derive(Debug, Default)]
struct Scan {
    drafts: Vec<Draft>,
    generating_server: Option<String>,
}

/// Reads the recipient list: a line holding only an address starts a
/// recipient; a quoted server answer belongs to every recipient listed since
/// the previous answer (Gmail lists the addresses, then one answer); other
/// lines are kept as the last recipient's free text.
fn scan(section: &str) -> Scan {
    let mut out = Scan::default();
    let mut open_from = 0;
    let mut lines = section.lines().peekable();
    while let Some(raw) = lines.next() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(host) = strip_prefix_ci(line, "generating server:") {
            out.generating_server.get_or_insert_with(|| host.trim().to_owned());
            continue;
        }
        if let Some(address) = address_line(line) {
            out.drafts.push(Draft::new(address));
            continue;
        }
        if out.drafts.is_empty() {
            continue;
        }
        let answer = if let Some(rest) = strip_prefix_ci(line, "remote server returned") {
            // The quoted answer may go on over several lines, to the closing quote.
            let mut answer = rest.trim().to_owned();
            while !(answer.len() > 1 && answer.ends_with('\'')) {
                match lines.peek() {
                    Some(next) if !next.trim().is_empty() => {
                        answer.push(' ');
                        answer.push_str(next.trim());
                        lines.next();
                    }
                    _ => break,
                }
            }
            Some(answer.trim_start_matches('\'').trim_end_matches('\'').to_owned())
        } else if line.starts_with('#') {
            Some(exchange_hash(line).to_owned())
        } else if line.eq_ignore_ascii_case("the error that the other server returned was:") {
            let mut answer = String::new();
            while let Some(next) = lines.peek().filter(|n| !n.trim().is_empty()) {
                answer.push_str(next.trim());
                answer.push(' ');
                lines.next();
            }
            Some(answer)
        } else {
            None
        };
        match answer {
            Some(answer) => {
                for draft in &mut out.drafts[open_from..] {
                    draft.diagnostic.get_or_insert_with(|| answer.clone());
                }
                open_from = out.drafts.len();
            }
            None => {
                let last = out.drafts.last_mut().expect("drafts is not empty here");
                if last.remote_mta.is_none()
                    && last.diagnostic.is_none()
                    && last.free.is_empty()
                    && is_hostname(line)
                {
                    // Office 365 names the remote server on the line before its answer.
                    last.remote_mta = Some(line.to_owned());
                } else {
                    last.free.push(line.to_owned());
                }
            }
        }
    }
    out
}

/// Exchange's `#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##` and
/// `#< #5.1.1 smtp;550 5.1.1 …> #SMTP#`, reduced to the server's answer.
fn exchange_hash(line: &str) -> &str {
    let mut answer = line.trim_start_matches(['#', '<', ' ']);
    if let Some(i) = answer.to_ascii_lowercase().find("smtp;") {
        answer = &answer[i + "smtp;".len()..];
    }
    for end in ["##", "> #", ">#"] {
        if let Some(i) = answer.find(end) {
            answer = &answer[..i];
        }
    }
    answer.trim().trim_end_matches('>').trim()
}

/// `host mx.example.jp [192.0.2.1]: 550 …` in free text: the host and the answer.
fn host_answer(text: &str) -> Option<(&str, &str)> {
    let i = text.to_ascii_lowercase().find("host ")?;
    let rest = text[i + "host ".len()..].trim_start();
    let host = rest.split_whitespace().next()?;
    let after = rest[host.len()..].trim_start();
    let close = after.strip_prefix('[')?.find("]:")?;
    let answer = after[1 + close + 2..].trim();
    (!answer.is_empty() && is_hostname(host)).then_some((host, answer))
}

fn gmail_host(text: &str) -> Option<&str> {
    let i = text.find(". [")?;
    let host = text[..i].rsplit(' ').next()?;
    is_hostname(host).then_some(host)
}

fn strip_prefix_ci<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let head = line.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &line[prefix.len()..])
}

/// A line that holds one address and nothing else: `a@b.example`,
/// `<a@b.example>`, or Exchange's `Name<mailto:a@b.example>`.
fn address_line(line: &str) -> Option<String> {
    if let Some(i) = line.find("<mailto:") {
        let rest = &line[i + "<mailto:".len()..];
        let end = rest.find('>')?;
        return rest[end + 1..].trim().is_empty().then(|| plain_address(&rest[..end])).flatten();
    }
    let bare = line.strip_prefix('<').and_then(|l| l.strip_suffix('>')).unwrap_or(line);
    plain_address(bare)
}

fn plain_address(text: &str) -> Option<String> {
    let text = text.trim();
    let (local, domain) = text.split_once('@')?;
    let ok = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[],;:\"\\@".contains(c))
    };
    (text.len() <= 320 && ok(local) && ok(domain) && domain.contains('.')).then(|| text.to_owned())
}

fn is_hostname(text: &str) -> bool {
    text.len() <= 255
        && text.contains('.')
        && !text.starts_with(['.', '-'])
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && text.bytes().any(|b| b.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_lines() {
        assert_eq!(address_line("kijitora@example.jp").as_deref(), Some("kijitora@example.jp"));
        assert_eq!(address_line("<kijitora@example.jp>").as_deref(), Some("kijitora@example.jp"));
        assert_eq!(
            address_line("Neko<mailto:mikeneko@example.co.jp>").as_deref(),
            Some("mikeneko@example.co.jp")
        );
        assert_eq!(address_line("a@b.example: host said"), None);
        assert_eq!(address_line("mail to a@b.example"), None);
        assert_eq!(address_line("a@localhost"), None);
        assert_eq!(address_line("<mailto:"), None);
    }

    #[test]
    fn exchange_answers() {
        assert_eq!(
            exchange_hash("#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##"),
            "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"
        );
        assert_eq!(
            exchange_hash("#< #5.1.1 smtp;550 5.1.1 RESOLVER.ADR.RecipNotFound; not found> #SMTP#"),
            "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"
        );
        assert_eq!(exchange_hash("#"), "");
    }

    #[test]
    fn host_answers() {
        assert_eq!(
            host_answer(
                "SMTP error after RCPT TO:<a@b.jp>: host mx.b.jp [192.0.2.1]: 550 5.1.1 no"
            ),
            Some(("mx.b.jp", "550 5.1.1 no"))
        );
        assert_eq!(host_answer("host mx.b.jp said nothing"), None);
        assert_eq!(host_answer("host"), None);
        assert_eq!(host_answer("host  ñ [1]: 5"), None);
        assert_eq!(host_answer("host  mx.b.jp  [1]: 550 ñ"), Some(("mx.b.jp", "550 ñ")));
    }

    #[test]
    fn head_cuts_at_a_character_boundary() {
        assert_eq!(head("ñññ", 3), "ñ");
        assert_eq!(head("abc", 10), "abc");
    }
}
