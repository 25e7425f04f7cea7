//! Reading: message pages, one message with its body and attachments, raw
//! MIME and delta rounds, each answer read under a size cap.

use base64::Engine as _;
use g360_mail_core::{
    EmailAddress, Folder, Importance, MailboxQuery, MessagePage, ReceivedAttachment,
    ReceivedMessage, ReportCursor, ReportPage, ReportQuery, ReportRef, Result, Timestamp,
};

use crate::client::{
    ATTACHMENT_SLACK, Call, MAX_MIME_BYTES, PREFER_IMMUTABLE_HTML, PREFER_IMMUTABLE_TEXT,
    encode_query, odata_string,
};
use crate::error;
use crate::graph_model::{
    GraphAttachment, GraphMessage, GraphPage, GraphRecipient, GraphReportRef,
};
use crate::provider::{BodyFormat, DeltaSync, O365Provider};

/// Fields asked for when listing messages (no bodies).
const LIST_SELECT: &str = "id,internetMessageId,subject,from,sender,toRecipients,ccRecipients,\
bccRecipients,replyTo,sentDateTime,receivedDateTime,isRead,importance,bodyPreview,hasAttachments";

/// The query of `get_message`: `$select` of [`LIST_SELECT`] and `body`, encoded once.
fn get_message_query() -> &'static str {
    static QUERY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    QUERY.get_or_init(|| encode_query(&[("$select", format!("{LIST_SELECT},body"))]))
}

/// The query of the second, text-only `get_message` request.
const BODY_ONLY_QUERY: &str = "$select=body";

/// Largest page with bodies read: 64 MiB.
const MAX_PAGE_WITH_BODIES_BYTES: usize = 64 * 1024 * 1024;

/// Most pages followed in one delta round or attachment listing.
const MAX_PAGES: usize = 10_000;

/// The MAPI message class (`PidTagMessageClass`) as a Graph extended property id.
pub(crate) const MESSAGE_CLASS_PROPERTY: &str = "String 0x001A";

/// The prefix of the delivery report classes: `REPORT.IPM.Note.NDR`
/// (non-delivery), `REPORT.IPM.Note.DR` (delivery) and the delay report's.
pub(crate) const REPORT_CLASS_PREFIX: &str = "REPORT.IPM.Note.";

/// How far back of the stored watermark a listing starts again: Exchange
/// indexes a late arrival with its own `receivedDateTime`, which may be
/// before a report already read.
const REPORT_OVERLAP: jiff::SignedDuration = jiff::SignedDuration::from_secs(10 * 60);

/// Whether a message class is a delivery report's: `REPORT.IPM.Note.*`
/// except read receipts (`.IPNRN`, `.IPNNRN`), which share the prefix.
fn is_report_class(class: &str) -> bool {
    let class = class.to_ascii_uppercase();
    class.starts_with(&REPORT_CLASS_PREFIX.to_ascii_uppercase())
        && !class.ends_with(".IPNRN")
        && !class.ends_with(".IPNNRN")
}

/// The `receivedDateTime` a listing after `after` starts from: the stored
/// watermark less the overlap, to the second.
fn report_watermark(after: Option<&ReportCursor>) -> Result<String> {
    let Some(c) = after else { return Ok("1900-01-01T00:00:00Z".to_owned()) };
    let w: Timestamp = c.as_str().parse().map_err(|_| {
        g360_mail_core::Error::invalid_input("invalid report cursor")
            .with_provider(crate::O365_PROVIDER_TYPE)
            .with_code("query.continuation")
            .with_context("cursor", c.as_str().escape_debug())
            .with_remedy("pass back the cursor the provider gave, unchanged")
    })?;
    let w = w.checked_sub(REPORT_OVERLAP).unwrap_or(w);
    Ok(Timestamp::from_second(w.as_second()).unwrap_or(w).to_string())
}

impl O365Provider {
    /// One page of the Inbox's delivery reports after `query.after`, oldest
    /// first. A mailbox that answers the class filter with 400
    /// `InefficientFilter` is asked again without it, and the class expanded
    /// on each message decides.
    pub(crate) async fn reports_page(&self, query: &ReportQuery) -> Result<ReportPage> {
        query.validate()?;
        let page: GraphPage<GraphReportRef> = match &query.continuation {
            Some(c) => {
                let url = self.client.own_link(c)?;
                self.client.get_json(&Call::get(url, "the delivery reports")).await?
            }
            None => {
                let since = report_watermark(query.after.as_ref())?;
                let url = self.reports_url(&since, query.page_size, true);
                match self.client.get_json(&Call::get(url, "the delivery reports")).await {
                    Err(e) if e.code() == Some("InefficientFilter") => {
                        tracing::info!(
                            "the mailbox refuses the message class filter; filtering the Inbox by class here"
                        );
                        let url = self.reports_url(&since, query.page_size, false);
                        self.client.get_json(&Call::get(url, "the delivery reports")).await?
                    }
                    other => other?,
                }
            }
        };
        let reports = page
            .value
            .into_iter()
            .filter(|m| {
                m.single_value_extended_properties.iter().any(|p| {
                    p.id.eq_ignore_ascii_case(MESSAGE_CLASS_PROPERTY)
                        && p.value.as_deref().is_some_and(is_report_class)
                })
            })
            .filter_map(|m| {
                let received: Option<Timestamp> =
                    m.received_date_time.as_deref().and_then(|t| t.parse().ok());
                // Without a time there is no watermark to resume from.
                let at = received?;
                let mut r = ReportRef::new(m.id, ReportCursor::new(at.to_string()));
                r.received_at = Some(at);
                r.internet_message_id = m.internet_message_id;
                Some(r)
            })
            .collect();
        Ok(ReportPage::new(reports, page.next_link))
    }

    /// The Inbox listing from `since`, oldest first, with the message class
    /// expanded; only report classes when `class_filter`.
    fn reports_url(&self, since: &str, top: u32, class_filter: bool) -> url::Url {
        let mut url = self.client.user_url(&["mailFolders", "inbox", "messages"]);
        // $orderby's property leads the $filter (else InefficientFilter).
        let mut filter = format!("receivedDateTime ge {since}");
        if class_filter {
            filter.push_str(&format!(
                " and singleValueExtendedProperties/any(ep: ep/id eq {} and startswith(ep/value, {}))",
                odata_string(MESSAGE_CLASS_PROPERTY),
                odata_string(REPORT_CLASS_PREFIX)
            ));
        }
        let pairs = [
            ("$filter", filter),
            ("$orderby", "receivedDateTime asc".to_owned()),
            ("$select", "id,receivedDateTime,internetMessageId".to_owned()),
            (
                "$expand",
                format!(
                    "singleValueExtendedProperties($filter=id eq {})",
                    odata_string(MESSAGE_CLASS_PROPERTY)
                ),
            ),
            ("$top", top.to_string()),
        ];
        url.set_query(Some(&encode_query(&pairs)));
        url
    }

    /// One page of `query`.
    pub(crate) async fn list_page(&self, query: &MailboxQuery) -> Result<MessagePage> {
        query.validate()?;
        check_id("folder", query.folder.as_str())?;
        let url = match &query.continuation {
            Some(c) => self.client.own_link(c)?,
            None => {
                let mut url =
                    self.client.user_url(&["mailFolders", query.folder.as_str(), "messages"]);
                let select = if query.with_bodies {
                    format!("{LIST_SELECT},body")
                } else {
                    LIST_SELECT.to_owned()
                };
                let mut pairs = vec![("$top", query.page_size.to_string()), ("$select", select)];
                if let Some(id) = &query.internet_message_id {
                    pairs.push(("$filter", format!("internetMessageId eq {}", odata_string(id))));
                } else if query.unread_only || query.since.is_some() {
                    // $orderby properties must come first in $filter (else
                    // InefficientFilter), hence the always-true date bound.
                    let since = query.since.map_or_else(
                        || "1900-01-01T00:00:00Z".to_owned(),
                        |t| {
                            Timestamp::from_second(t.as_second())
                                .map_or_else(|_| t.to_string(), |t| t.to_string())
                        },
                    );
                    let mut f = format!("receivedDateTime ge {since}");
                    if query.unread_only {
                        f.push_str(" and isRead eq false");
                    }
                    pairs.push(("$filter", f));
                    pairs.push(("$orderby", "receivedDateTime desc".to_owned()));
                } else {
                    pairs.push(("$orderby", "receivedDateTime desc".to_owned()));
                }
                url.set_query(Some(&encode_query(&pairs)));
                url
            }
        };
        let mut call = Call::get(url, "the message list");
        if query.with_bodies {
            // The next links keep `$select`; the body format is a header,
            // sent with every page.
            call = call.prefer_exactly(PREFER_IMMUTABLE_TEXT).max_body(MAX_PAGE_WITH_BODIES_BYTES);
        }
        let page: GraphPage<GraphMessage> = self.client.get_json(&call).await.map_err(|e| {
            if query.with_bodies && e.code() == Some("o365.answer-too-large") {
                error::page_too_large(e)
            } else {
                e
            }
        })?;
        Ok(MessagePage::new(page.value.into_iter().map(to_received).collect(), page.next_link))
    }

    /// The MIME of message `id`, at most [`MAX_MIME_BYTES`] long.
    pub(crate) async fn raw(&self, id: &str) -> Result<Vec<u8>> {
        check_id("message", id)?;
        let url = self.client.user_url(&["messages", id, "$value"]);
        let call = Call::get(url, "the raw message").max_body(MAX_MIME_BYTES);
        Ok(Vec::from(self.client.run(&call).await?.body))
    }

    /// Gets one message with the body in `format`, its attachments' bytes.
    pub async fn get_message_with(&self, id: &str, format: BodyFormat) -> Result<ReceivedMessage> {
        check_id("message", id)?;
        let mut url = self.client.user_url(&["messages", id]);
        url.set_query(Some(get_message_query()));
        let prefer = match format {
            BodyFormat::Text => PREFER_IMMUTABLE_TEXT,
            _ => PREFER_IMMUTABLE_HTML,
        };
        let m: GraphMessage =
            self.client.get_json(&Call::get(url, "the message").prefer_exactly(prefer)).await?;
        let mut msg = to_received(m);
        if format == BodyFormat::Both && msg.html.is_some() {
            let mut url = self.client.user_url(&["messages", id]);
            url.set_query(Some(BODY_ONLY_QUERY));
            let call = Call::get(url, "the message").prefer_exactly(PREFER_IMMUTABLE_TEXT);
            let m: GraphMessage = self.client.get_json(&call).await?;
            if let Some(b) = m.body
                && !b.content_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("html"))
            {
                msg.text = b.content;
            }
        }
        msg.attachments = self.attachments(id).await?;
        msg.has_attachments = msg.has_attachments || msg.attachments.iter().any(|a| !a.inline);
        Ok(msg)
    }

    async fn attachments(&self, id: &str) -> Result<Vec<ReceivedAttachment>> {
        let mut out = Vec::new();
        // A page may carry every attachment's bytes inline: it is bounded by
        // the largest message Exchange holds.
        let page_call = |url| Call::get(url, "the attachments").max_body(MAX_MIME_BYTES);
        let mut call = page_call(self.client.user_url(&["messages", id, "attachments"]));
        for _ in 0..MAX_PAGES {
            let page: GraphPage<GraphAttachment> = self.client.get_json(&call).await?;
            for a in page.value {
                let is_file = a.odata_type.as_deref().is_none_or(|t| t.ends_with("fileAttachment"));
                let bytes = match (is_file, &a.content_bytes) {
                    (false, _) => None,
                    (true, Some(b64)) => Some(
                        base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| {
                            error::bad_answer("an attachment's contentBytes is not base64")
                                .with_context("attachment_id", &a.id)
                        })?,
                    ),
                    (true, None) => {
                        // Never more than Graph declared for it (plus slack).
                        let cap = a.size.map_or(MAX_MIME_BYTES, |n| {
                            usize::try_from(n)
                                .unwrap_or(usize::MAX)
                                .saturating_add(ATTACHMENT_SLACK)
                                .min(MAX_MIME_BYTES)
                        });
                        let url =
                            self.client.user_url(&["messages", id, "attachments", &a.id, "$value"]);
                        Some(Vec::from(
                            self.client
                                .run(&Call::get(url, "the attachment").max_body(cap))
                                .await?
                                .body,
                        ))
                    }
                };
                let mut r = ReceivedAttachment::new(
                    a.id,
                    a.name.unwrap_or_default(),
                    a.content_type.unwrap_or_else(|| "application/octet-stream".into()),
                    a.size.unwrap_or(0),
                );
                r.inline = a.is_inline.unwrap_or(false);
                r.content_id = a.content_id;
                r.bytes = bytes;
                out.push(r);
            }
            match page.next_link {
                Some(link) => call = page_call(self.client.own_link(&link)?),
                None => break,
            }
        }
        Ok(out)
    }

    /// One round of delta synchronisation of `folder`: pass `None` the first
    /// time, then the [`DeltaSync::token`] of the previous round. An expired
    /// token (410, `syncStateNotFound`) starts a full round over, flagged
    /// [`DeltaSync::restarted`].
    pub async fn delta(&self, folder: &Folder, token: Option<&str>) -> Result<DeltaSync> {
        match token {
            Some(t) => match self.delta_round(folder, Some(t)).await {
                Err(e) if e.code() == Some("syncStateNotFound") => {
                    tracing::info!(folder = %folder, "the delta token expired; synchronising the folder from scratch");
                    let mut round = self.delta_round(folder, None).await?;
                    round.restarted = true;
                    Ok(round)
                }
                other => other,
            },
            None => self.delta_round(folder, None).await,
        }
    }

    async fn delta_round(&self, folder: &Folder, token: Option<&str>) -> Result<DeltaSync> {
        check_id("folder", folder.as_str())?;
        let mut url = match token {
            Some(t) => self.client.own_link(t)?,
            None => {
                let mut u =
                    self.client.user_url(&["mailFolders", folder.as_str(), "messages", "delta"]);
                u.set_query(Some(&encode_query(&[("$select", LIST_SELECT.into())])));
                u
            }
        };
        let mut sync = DeltaSync {
            changed: Vec::new(),
            removed: Vec::new(),
            token: String::new(),
            restarted: false,
        };
        for _ in 0..MAX_PAGES {
            let page: GraphPage<GraphMessage> =
                self.client.get_json(&Call::get(url, "the delta query")).await?;
            for m in page.value {
                if m.removed.is_some() {
                    sync.removed.push(m.id);
                } else {
                    sync.changed.push(to_received(m));
                }
            }
            match (page.next_link, page.delta_link) {
                (Some(next), _) => url = self.client.own_link(&next)?,
                (None, Some(delta)) => {
                    sync.token = delta;
                    return Ok(sync);
                }
                (None, None) => {
                    return Err(error::bad_answer(
                        "the delta page has neither a next link nor a delta link",
                    ));
                }
            }
        }
        Err(error::bad_answer("the delta query did not end"))
    }
}

/// Refuses ids Graph never hands out (they are URL-safe base64), so that an
/// id cannot change the request path.
pub(crate) fn check_id(what: &'static str, id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 2048
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_=+.".contains(&b))
        && id != "."
        && id != "..";
    if ok {
        return Ok(());
    }
    Err(error::invalid_id(what, id))
}
fn address(r: &GraphRecipient) -> Option<EmailAddress> {
    let e = r.email_address.as_ref()?;
    let addr = e.address.as_deref()?.trim();
    let parsed = match EmailAddress::new(addr) {
        Ok(a) => a,
        Err(_) => {
            tracing::debug!("skipping an address Graph returned that is not an e-mail address");
            return None;
        }
    };
    match e.name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() && !n.eq_ignore_ascii_case(addr) => {
            Some(parsed.clone().with_name(n).unwrap_or(parsed))
        }
        _ => Some(parsed),
    }
}

fn addresses(list: Option<&Vec<GraphRecipient>>) -> Vec<EmailAddress> {
    list.map(|l| l.iter().filter_map(address).collect()).unwrap_or_default()
}

pub(crate) fn timestamp(s: Option<&str>) -> Option<Timestamp> {
    s.and_then(|s| s.parse::<Timestamp>().ok())
}

/// Maps a Graph message to the core type.
pub(crate) fn to_received(m: GraphMessage) -> ReceivedMessage {
    let mut r = ReceivedMessage::new(m.id);
    r.internet_message_id = m.internet_message_id;
    r.from = m.from.as_ref().or(m.sender.as_ref()).and_then(address);
    r.to = addresses(m.to_recipients.as_ref());
    r.cc = addresses(m.cc_recipients.as_ref());
    r.bcc = addresses(m.bcc_recipients.as_ref());
    r.reply_to = addresses(m.reply_to.as_ref());
    r.subject = m.subject.unwrap_or_default();
    r.sent_at = timestamp(m.sent_date_time.as_deref());
    r.received_at = timestamp(m.received_date_time.as_deref());
    r.is_read = m.is_read.unwrap_or(false);
    r.importance = match m.importance.as_deref() {
        Some(i) if i.eq_ignore_ascii_case("low") => Importance::Low,
        Some(i) if i.eq_ignore_ascii_case("high") => Importance::High,
        _ => Importance::Normal,
    };
    r.preview = m.body_preview.filter(|p| !p.is_empty());
    if let Some(b) = m.body {
        if b.content_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("html")) {
            r.html = b.content;
        } else {
            r.text = b.content;
        }
    }
    r.has_attachments = m.has_attachments.unwrap_or(false);
    r
}
