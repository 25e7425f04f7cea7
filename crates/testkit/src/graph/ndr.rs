//! Non-delivery reports, as Exchange Online writes them into the sender's
//! Inbox after a `202`: for recipients in the tenant's domains that have no
//! (active) mailbox (`550 5.1.10 RESOLVER.ADR.RecipientNotFound`), and for
//! addresses configured to bounce ([`EmulatorOptions::bounces`](super::EmulatorOptions::bounces)).
//!
//! Each report is a real-shaped `multipart/report; report-type=delivery-status`:
//! the human text with "Diagnostic information for administrators" and the
//! original headers, a `message/delivery-status` part, and the returned
//! headers as `text/rfc822-headers`. It carries the message class as the
//! extended property `String 0x001A` (`REPORT.IPM.Note.NDR`, or
//! [`DELAYED_CLASS`] for a delay) and the `X-MS-Exchange-Message-Is-Ndr`
//! header, so a listing filtered on either finds it.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;

use super::model::{BodyType, EmailAddress, MailMessage, MessageBody};
use super::state::State;

/// The MAPI message class property as Graph names it.
pub const MESSAGE_CLASS_PROPERTY: &str = "String 0x001A";
/// The message class of a non-delivery report.
pub const NDR_CLASS: &str = "REPORT.IPM.Note.NDR";
/// The message class the emulator gives a delay report. Exchange's own
/// class for delay notices is not documented where we could check it; a
/// listing should take every `REPORT.IPM.Note.` class but read receipts.
pub const DELAYED_CLASS: &str = "REPORT.IPM.Note.Delayed.DR";
/// The host named as the reporting server.
const HOST: &str = "EMU0PR01MB0001.emulator.prod.outlook.com";

/// What happens to mail for an address configured to bounce: the enhanced
/// status (`5.1.1`; a `4.x.x` status makes a delay report), the remote
/// server's answer and how long after the send the report arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bounce {
    /// RFC 3463 enhanced status code, e.g. `5.1.1` or `4.4.7`.
    pub status: String,
    /// The remote server's answer, e.g. `550 5.1.1 User unknown`.
    pub diagnostic: String,
    /// How long after the send the report appears in the Inbox.
    pub delay: Duration,
}

impl Bounce {
    /// A bounce with `status` and the remote server's `diagnostic`, reported at once.
    pub fn new(status: impl Into<String>, diagnostic: impl Into<String>) -> Self {
        Bounce { status: status.into(), diagnostic: diagnostic.into(), delay: Duration::ZERO }
    }

    /// The report arrives `delay` after the send.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    fn is_delay(&self) -> bool {
        self.status.starts_with('4')
    }
}

/// A report waiting for its time to arrive.
#[derive(Debug, Clone)]
pub(crate) struct PendingReport {
    pub(crate) due: Timestamp,
    pub(crate) mailbox: String,
    pub(crate) message: MailMessage,
}

/// Whether `address` is in one of the tenants' domains.
pub(crate) fn in_tenant_domain(st: &State, address: &str) -> bool {
    let Some((_, domain)) = address.rsplit_once('@') else { return false };
    let domain = domain.to_ascii_lowercase();
    st.tenants.iter().any(|t| t.tenant.domains.contains(&domain))
}

/// Recipients and what happens to their mail.
type Failed = Vec<(String, Bounce)>;

/// Queues the reports for `sent` (as delivered, with its final Message-ID)
/// to `failed` recipients, grouped as Exchange does: one report per delay.
pub(crate) fn queue(st: &mut State, sender: &EmailAddress, sent: &MailMessage, failed: Failed) {
    let now = Timestamp::now();
    let mut groups: Vec<(Duration, bool, Failed)> = Vec::new();
    for (address, bounce) in failed {
        let key = (bounce.delay, bounce.is_delay());
        match groups.iter_mut().find(|(d, delayed, _)| (*d, *delayed) == key) {
            Some(g) => g.2.push((address, bounce)),
            None => groups.push((key.0, key.1, vec![(address, bounce)])),
        }
    }
    for (delay, delayed, recipients) in groups {
        let due = now
            .checked_add(jiff::SignedDuration::try_from(delay).unwrap_or_default())
            .unwrap_or(now);
        let message = report(sender, sent, &recipients, delayed, due);
        st.pending_reports.push(PendingReport {
            due,
            mailbox: sender.address.to_ascii_lowercase(),
            message,
        });
    }
    release_due(st);
}

/// Moves the reports whose time has come into their Inboxes.
pub(crate) fn release_due(st: &mut State) {
    if st.pending_reports.is_empty() {
        return;
    }
    let now = Timestamp::now();
    let (due, later): (Vec<_>, Vec<_>) =
        std::mem::take(&mut st.pending_reports).into_iter().partition(|p| p.due <= now);
    st.pending_reports = later;
    for p in due {
        let mut m = p.message;
        m.received_at = Timestamp::now();
        st.store(&p.mailbox, "inbox", m);
    }
}

/// An RFC 2047 encoded word for a non-ASCII header value.
fn header_text(s: &str) -> String {
    if s.is_ascii() && !s.contains(['\r', '\n']) {
        s.to_owned()
    } else {
        format!("=?utf-8?B?{}?=", STANDARD.encode(s.as_bytes()))
    }
}

fn addr_list(list: &[EmailAddress]) -> String {
    list.iter().map(|a| format!("<{}>", a.address)).collect::<Vec<_>>().join(", ")
}

/// The header block of the original message, as returned in the report.
fn original_headers(sender: &EmailAddress, sent: &MailMessage) -> String {
    let from = sent.from.as_ref().unwrap_or(sender);
    let date = sent.sent_at.unwrap_or_else(Timestamp::now);
    let mut h = format!(
        "From: <{}>\r\nDate: {}\r\nSubject: {}\r\nMessage-ID: {}\r\n",
        from.address,
        rfc2822(date),
        header_text(&sent.subject),
        sent.internet_message_id
    );
    if !sent.to.is_empty() {
        h.push_str(&format!("To: {}\r\n", addr_list(&sent.to)));
    }
    if !sent.cc.is_empty() {
        h.push_str(&format!("Cc: {}\r\n", addr_list(&sent.cc)));
    }
    h.push_str("MIME-Version: 1.0\r\n");
    h
}

fn rfc2822(t: Timestamp) -> String {
    t.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

/// The report for `recipients` of `sent`, as stored in the sender's Inbox.
fn report(
    sender: &EmailAddress,
    sent: &MailMessage,
    recipients: &[(String, Bounce)],
    delayed: bool,
    at: Timestamp,
) -> MailMessage {
    let boundary = format!("_report_{}_", uuid::Uuid::new_v4().simple());
    let id = format!("<{}@{HOST}>", uuid::Uuid::new_v4().simple().to_string().to_ascii_uppercase());
    let domain = sender.address.rsplit_once('@').map_or("emulator.invalid", |(_, d)| d);
    let postmaster = format!("MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@{domain}");
    let subject = if delayed {
        format!("Delivery delayed:{}", sent.subject)
    } else {
        format!("Undeliverable: {}", sent.subject)
    };
    let headers = original_headers(sender, sent);

    let mut text = String::new();
    let list: Vec<&str> = recipients.iter().map(|(a, _)| a.as_str()).collect();
    if delayed {
        text.push_str(&format!(
            "Delivery is delayed to these recipients or groups:\r\n\r\n{}\r\n\r\nSubject: {}\r\n\r\n\
             This message hasn't been delivered yet. Delivery will continue to be attempted.\r\n\r\n",
            list.join("\r\n"),
            sent.subject
        ));
    } else {
        text.push_str(&format!(
            "Your message to {} couldn't be delivered.\r\n\r\n",
            list.join(", ")
        ));
    }
    text.push_str(&format!(
        "Diagnostic information for administrators:\r\n\r\nGenerating server: {HOST}\r\n\r\n"
    ));
    for (address, bounce) in recipients {
        text.push_str(&format!(
            "{address}\r\nRemote Server returned '{}'\r\n\r\n",
            bounce.diagnostic
        ));
    }
    text.push_str(&format!("Original message headers:\r\n\r\n{headers}"));

    let mut dsn = format!(
        "Reporting-MTA: dns;{HOST}\r\nReceived-From-MTA: dns;{HOST}\r\nArrival-Date: {}\r\n",
        rfc2822(sent.sent_at.unwrap_or(at))
    );
    for (address, bounce) in recipients {
        dsn.push_str(&format!(
            "\r\nFinal-Recipient: rfc822;{address}\r\nAction: {}\r\nStatus: {}\r\nDiagnostic-Code: smtp;{}\r\n",
            if delayed { "delayed" } else { "failed" },
            bounce.status,
            bounce.diagnostic
        ));
        if delayed {
            dsn.push_str(&format!(
                "Will-Retry-Until: {}\r\n",
                rfc2822(at.checked_add(jiff::SignedDuration::from_hours(24)).unwrap_or(at))
            ));
        }
    }

    let raw = format!(
        "From: Microsoft Outlook <{postmaster}>\r\n\
         To: <{to}>\r\n\
         Date: {date}\r\n\
         Subject: {subject_h}\r\n\
         Message-ID: {id}\r\n\
         In-Reply-To: {orig}\r\n\
         References: {orig}\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n\
         X-MS-Exchange-Message-Is-Ndr:\r\n\
         Auto-Submitted: auto-replied\r\n\
         Content-Language: en-US\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: text/plain; charset=\"utf-8\"\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         {text}\r\n\
         --{boundary}\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         {dsn}\r\n\
         --{boundary}\r\n\
         Content-Type: text/rfc822-headers\r\n\
         \r\n\
         {headers}\r\n\
         --{boundary}--\r\n",
        to = sender.address,
        date = rfc2822(at),
        subject_h = header_text(&subject),
        orig = sent.internet_message_id,
    );

    let mut m = MailMessage::new(subject);
    m.from = Some(EmailAddress::named(postmaster, "Microsoft Outlook"));
    m.sender = m.from.clone();
    m.to = vec![sender.clone()];
    m.internet_message_id = id;
    m.sent_at = Some(at);
    m.received_at = at;
    m.body = MessageBody::new(BodyType::Text, text);
    m.headers.push(("X-MS-Exchange-Message-Is-Ndr".into(), String::new()));
    m.extended_properties.push((
        MESSAGE_CLASS_PROPERTY.into(),
        if delayed { DELAYED_CLASS } else { NDR_CLASS }.into(),
    ));
    m.mime = Some(raw.into_bytes());
    m
}
