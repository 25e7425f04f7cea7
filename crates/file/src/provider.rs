//! [`FileProvider`]: a mailbox directory of `.eml` files behind [`MailProvider`].

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use g360_mail_core::{
    Capabilities, Check, EmailAddress, Error, ErrorKind, Folder, MailProvider, MailboxQuery,
    MessagePage, MessageUid, OutgoingMessage, ReceivedMessage, ReportCursor, ReportPage,
    ReportQuery, ReportRef, Result, SendReceipt, Timestamp, VerifyOptions, VerifyReport,
};
use g360_mail_mime::{RenderOptions, parse, render};

use crate::FILE_PROVIDER_TYPE;
use crate::store::{self, Store};

/// Subject of the mail `verify` sends with [`VerifyOptions::send_test_to`].
const TEST_SUBJECT: &str = "g360-mail test";

/// The `file` provider: every sent mail becomes an `.eml` file in a directory,
/// which also serves as the account's inbox and sent items (a catch-all
/// mailbox, like a local Mailpit).
///
/// ```text
/// <dir>/<YYYYMMDDTHHMMSSmmmZ>-<uid>.eml   one mail (UTC time, our uid); its id is the file stem
/// <dir>/.tmp/                             mails being written; renamed into <dir> when complete
/// <dir>/.seen/<id>                        empty marker: the mail has been read
/// ```
///
/// Names sort oldest to newest. Writes are atomic: a crash never leaves a
/// half-written `.eml` in the mailbox. The stored copy keeps the `Bcc` header.
///
/// The methods run blocking file I/O on tokio's blocking pool, so they must
/// be called inside a tokio runtime.
#[derive(Debug, Clone)]
pub struct FileProvider {
    directory: PathBuf,
    address: EmailAddress,
}

impl FileProvider {
    /// A provider for the mailbox at `directory`, sending as `address` when a
    /// message names no sender. A relative directory is made absolute against
    /// the current working directory now. Nothing is touched on disk until the
    /// first call.
    pub fn new(directory: impl Into<PathBuf>, address: EmailAddress) -> Self {
        let directory = directory.into();
        let directory = std::path::absolute(&directory).unwrap_or(directory);
        FileProvider { directory, address }
    }

    /// The mailbox directory.
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// The account's address.
    pub fn address(&self) -> &EmailAddress {
        &self.address
    }

    /// Marks a message read, so [`MailboxQuery::unread_only`] leaves it out.
    /// Reading a message with [`get_message`](MailProvider::get_message) does
    /// not mark it.
    ///
    /// # Errors
    /// `InvalidInput` for a malformed id, `NotFound` for an unknown one.
    pub async fn mark_read(&self, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.blocking(move |store| store.mark_seen(&id)).await
    }

    fn store(&self) -> Store {
        Store::new(self.directory.clone())
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(Store) -> Result<T> + Send + 'static,
    {
        let store = self.store();
        tokio::task::spawn_blocking(move || f(store)).await.map_err(|e| {
            Error::new(ErrorKind::Unexpected, "the file task did not complete")
                .with_provider(FILE_PROVIDER_TYPE)
                .with_source(e)
        })?
    }

    /// Renders and stores `message` as received at `at`.
    async fn store_message(&self, message: &OutgoingMessage, at: Timestamp) -> Result<SendReceipt> {
        let from = message.from().unwrap_or(&self.address).clone();
        let options = RenderOptions { include_bcc: true, date: Some(at) };
        let raw =
            render(message, &from, &options).map_err(|e| e.with_provider(FILE_PROVIDER_TYPE))?;
        let uid = message.uid();
        let id = store::message_id(at, uid);
        let path = self.blocking(move |store| store.write(&id, &raw)).await?;
        let mut receipt =
            SendReceipt::new(FILE_PROVIDER_TYPE, uid, uid.internet_message_id(from.domain()));
        receipt.accepted_at = at;
        receipt.location = Some(path.display().to_string());
        Ok(receipt)
    }
}

/// Reads and parses one stored mail, with the mailbox's own fields filled in.
fn load(store: &Store, id: &str) -> Result<ReceivedMessage> {
    let raw = store.read(id)?;
    let mut message = parse(id, &raw).map_err(|e| e.with_provider(FILE_PROVIDER_TYPE))?;
    message.received_at = store.received_at(id);
    message.is_read = store.is_seen(id);
    Ok(message)
}

/// The `<...>` form of a Message-ID, however the caller wrote it.
fn bracketed(id: &str) -> String {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    format!("<{id}>")
}

/// Whether a mail falls at or after `since`. The `Date` header counts whole
/// seconds, so it is compared with `since` truncated to the second; mails
/// without one are judged by the time they were stored.
fn is_since(message: &ReceivedMessage, since: Timestamp) -> bool {
    match (message.sent_at, message.received_at) {
        (Some(sent), _) => sent.as_second() >= since.as_second(),
        (None, Some(received)) => received >= since,
        (None, None) => true,
    }
}

fn list(store: &Store, query: &MailboxQuery) -> Result<MessagePage> {
    let ids = store.ids_newest_first()?;
    let start = match &query.continuation {
        None => 0,
        Some(token) if store::is_valid_id(token) => ids.partition_point(|id| id >= token),
        Some(token) => {
            return Err(Error::invalid_input("invalid continuation token")
                .with_provider(FILE_PROVIDER_TYPE)
                .with_code("query.continuation")
                .with_context("continuation", token.escape_debug())
                .with_remedy("pass the continuation of the previous page unchanged, or none for the first page"));
        }
    };
    let wanted_id = query.internet_message_id.as_deref().map(bracketed);
    let page_size = query.page_size as usize;
    let mut messages = Vec::with_capacity(page_size);
    let mut more = false;
    for id in &ids[start..] {
        if query.unread_only && store.is_seen(id) {
            continue;
        }
        let message = match load(store, id) {
            Ok(m) => m,
            // Removed since the directory was read.
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            // A foreign file that is not a mail still shows up, so that
            // `get_message` can say what is wrong with it.
            Err(e) if e.kind() == ErrorKind::Unexpected => {
                let mut m = ReceivedMessage::new(id.as_str());
                m.received_at = store.received_at(id);
                m.is_read = store.is_seen(id);
                m
            }
            Err(e) => return Err(e),
        };
        if query.since.is_some_and(|since| !is_since(&message, since)) {
            continue;
        }
        if let Some(wanted) = &wanted_id
            && message.internet_message_id.as_deref().map(bracketed).as_ref() != Some(wanted)
        {
            continue;
        }
        if messages.len() == page_size {
            more = true;
            break;
        }
        messages.push(summary(message));
    }
    let continuation =
        if more { messages.last().map(|m: &ReceivedMessage| m.id.clone()) } else { None };
    Ok(MessagePage::new(messages, continuation))
}

/// A listing entry: headers, preview and attachment names, no bodies or bytes.
fn summary(mut message: ReceivedMessage) -> ReceivedMessage {
    message.text = None;
    message.html = None;
    for a in &mut message.attachments {
        a.bytes = None;
    }
    message
}

/// How much of each file is read to tell a delivery report by its headers.
const REPORT_SNIFF_BYTES: u64 = 64 * 1024;

/// A file's place in the report listing: when it came into the directory
/// ([`Store::placed_at`]), to the millisecond, then its id.
fn report_key(store: &Store, id: &str) -> (i64, String) {
    (store.placed_at(id).map_or(0, |t| t.as_millisecond()), id.to_owned())
}

fn parse_report_cursor(text: &str, what: &'static str) -> Result<(i64, String)> {
    text.split_once(':')
        .and_then(|(ms, id)| Some((ms.parse().ok()?, id.to_owned())))
        .filter(|(_, id)| id.is_empty() || store::is_valid_id(id))
        .ok_or_else(|| {
            Error::invalid_input(format!("invalid report {what}"))
                .with_provider(FILE_PROVIDER_TYPE)
                .with_code("query.continuation")
                .with_context(what, text.escape_debug())
                .with_remedy("pass back the value the provider gave, unchanged")
        })
}

/// The delivery reports dropped into the directory after the cursor, oldest
/// first: files whose headers mark them as reports
/// ([`g360_mail_bounce::looks_like_report`]).
fn reports(store: &Store, query: &ReportQuery) -> Result<ReportPage> {
    let after = match (&query.continuation, &query.after) {
        (Some(c), _) => Some(parse_report_cursor(c, "continuation")?),
        (None, Some(a)) => Some(parse_report_cursor(a.as_str(), "cursor")?),
        (None, None) => None,
    };
    let mut keys: Vec<(i64, String)> = store
        .ids_newest_first()?
        .iter()
        .map(|id| report_key(store, id))
        .filter(|k| after.as_ref().is_none_or(|a| k > a))
        .collect();
    keys.sort_unstable();
    let page_size = query.page_size as usize;
    let mut page = Vec::new();
    let mut more = false;
    for (ms, id) in keys {
        let head = match store.read_head(&id, REPORT_SNIFF_BYTES) {
            Ok(head) => head,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if !g360_mail_bounce::looks_like_report(&head) {
            continue;
        }
        if page.len() == page_size {
            more = true;
            break;
        }
        let mut r = ReportRef::new(id.as_str(), ReportCursor::new(format!("{ms}:{id}")));
        r.received_at = Timestamp::from_millisecond(ms).ok();
        page.push(r);
    }
    let continuation =
        if more { page.last().map(|r: &ReportRef| r.cursor.as_str().to_owned()) } else { None };
    Ok(ReportPage::new(page, continuation))
}

fn find(store: &Store, uid: MessageUid) -> Result<Option<(String, PathBuf)>> {
    let suffix = format!("-{uid}");
    let found = store.ids_newest_first()?.into_iter().rev().find(|id| id.ends_with(&suffix));
    Ok(found.map(|id| {
        let path = store.path(&id);
        (id, path)
    }))
}

#[async_trait]
impl MailProvider for FileProvider {
    fn provider_type(&self) -> &'static str {
        FILE_PROVIDER_TYPE
    }

    fn capabilities(&self) -> Capabilities {
        let mut c = Capabilities::default();
        c.read = true;
        c.html_body = true;
        c.attachments = true;
        c.inline_attachments = true;
        c.custom_headers = true;
        c.save_to_sent = true;
        c.find_sent = true;
        c.raw_mime = true;
        c.delivery_reports = true;
        c.max_message_bytes = None;
        c
    }

    async fn send(&self, message: &OutgoingMessage) -> Result<SendReceipt> {
        self.store_message(message, Timestamp::now()).await
    }

    async fn list_messages(&self, query: &MailboxQuery) -> Result<MessagePage> {
        query.validate()?;
        if !matches!(query.folder, Folder::Inbox | Folder::SentItems) {
            return Err(Error::new(ErrorKind::NotFound, "the file provider has no such folder")
                .with_provider(FILE_PROVIDER_TYPE)
                .with_code("folder.not-found")
                .with_context("folder", query.folder.as_str().escape_debug())
                .with_remedy("use inbox or sentitems: both list the mailbox directory"));
        }
        let query = query.clone();
        self.blocking(move |store| list(&store, &query)).await
    }

    async fn get_message(&self, id: &str) -> Result<ReceivedMessage> {
        let id = id.to_owned();
        self.blocking(move |store| load(&store, &id)).await
    }

    async fn verify(&self, options: &VerifyOptions) -> Result<VerifyReport> {
        let mut report = VerifyReport::new(FILE_PROVIDER_TYPE);
        let dir = self.directory.display().to_string();
        let directory = self.blocking(|store| store.ensure_dir()).await;
        let ready = match directory {
            Ok(created) => {
                let how = if created { "created" } else { "exists" };
                report.push(Check::pass("directory", format!("{dir} {how}")));
                match self.blocking(|store| store.probe()).await {
                    Ok(()) => {
                        report.push(Check::pass("writable", format!("{dir} accepts new files")));
                        true
                    }
                    Err(e) => {
                        report.push(Check::fail("writable", &e));
                        false
                    }
                }
            }
            Err(e) => {
                report.push(Check::fail("directory", &e));
                report.push(Check::skipped("writable"));
                false
            }
        };
        if let Some(to) = &options.send_test_to {
            if !ready {
                report.push(Check::skipped("test-mail"));
                return Ok(report);
            }
            let message = OutgoingMessage::builder()
                .to_all([to.clone()])
                .subject(TEST_SUBJECT)
                .text(format!(
                    "This is a test mail from g360-mail, stored by the file provider for {}.",
                    self.address
                ))
                .build()?;
            match self.send(&message).await {
                Ok(receipt) => report.push(Check::pass(
                    "test-mail",
                    format!("stored as {}", receipt.location.unwrap_or_default()),
                )),
                Err(e) => report.push(Check::fail("test-mail", &e)),
            };
        }
        Ok(report)
    }

    async fn find_sent(&self, uid: MessageUid) -> Result<Option<SendReceipt>> {
        let Some((id, path)) = self.blocking(move |store| find(&store, uid)).await? else {
            return Ok(None);
        };
        let message = self.get_message(&id).await?;
        let internet_message_id = message
            .internet_message_id
            .unwrap_or_else(|| uid.internet_message_id(self.address.domain()));
        let mut receipt = SendReceipt::new(FILE_PROVIDER_TYPE, uid, internet_message_id);
        if let Some(at) = store::stored_at(&id) {
            receipt.accepted_at = at;
        }
        receipt.location = Some(path.display().to_string());
        receipt.recovered = true;
        Ok(Some(receipt))
    }

    async fn raw_message(&self, id: &str) -> Result<Vec<u8>> {
        let id = id.to_owned();
        self.blocking(move |store| store.read(&id)).await
    }

    async fn list_delivery_reports(&self, query: &ReportQuery) -> Result<ReportPage> {
        query.validate()?;
        let query = query.clone();
        self.blocking(move |store| reports(&store, &query)).await
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use g360_mail_core::{
        Attachment, CheckStatus, Importance, Integration, MailboxAccess, ProviderRegistry,
    };
    use tempfile::TempDir;

    use super::*;
    use crate::register;

    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\nbinary \x00\xff bytes\n%%EOF\n";
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";

    fn setup() -> (TempDir, FileProvider) {
        let dir = tempfile::tempdir().unwrap();
        let provider =
            FileProvider::new(dir.path().join("outbox"), "ERP <erp@contoso.com>".parse().unwrap());
        (dir, provider)
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn simple(subject: &str) -> OutgoingMessage {
        OutgoingMessage::builder()
            .to("cliente@example.com")
            .unwrap()
            .subject(subject)
            .text("cuerpo")
            .build()
            .unwrap()
    }

    fn full() -> OutgoingMessage {
        let pdf = Attachment::new("Factura nº 42.pdf", "application/pdf", PDF.to_vec()).unwrap();
        let logo = Attachment::new("logo.png", "image/png", PNG.to_vec())
            .unwrap()
            .inline("logo@g360")
            .unwrap();
        OutgoingMessage::builder()
            .from("Facturación <facturas@contoso.com>")
            .unwrap()
            .to("José Müller <jose@example.com>")
            .unwrap()
            .cc("ana@example.org")
            .unwrap()
            .bcc("audit@example.net")
            .unwrap()
            .reply_to("soporte@contoso.com")
            .unwrap()
            .subject("Factura 2026-0042 — ¡vencida!")
            .text("Adjuntamos la factura nº 42.")
            .html("<p>Adjuntamos la factura nº 42.</p><img src=\"cid:logo@g360\">")
            .attach(pdf)
            .attach(logo)
            .header("X-G360-Invoice", "2026-0042")
            .importance(Importance::High)
            .build()
            .unwrap()
    }

    fn eml_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".eml"))
            .collect();
        names.sort();
        names
    }

    /// Sends `n` simple mails an hour apart starting at 2026-11-29T08:00Z;
    /// returns their ids, oldest first.
    async fn send_hourly(provider: &FileProvider, n: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for i in 0..n {
            let when = at("2026-11-29T08:00:00Z") + jiff::SignedDuration::from_hours(i as i64);
            let receipt = provider.store_message(&simple(&format!("m{i}")), when).await.unwrap();
            ids.push(store::message_id(when, receipt.uid));
        }
        ids
    }

    #[tokio::test]
    async fn round_trip_send_list_get() {
        let (_tmp, provider) = setup();
        let message = full();
        let receipt = provider.send(&message).await.unwrap();

        assert_eq!(receipt.provider, "file");
        assert_eq!(receipt.uid, message.uid());
        assert_eq!(receipt.internet_message_id, message.uid().internet_message_id("contoso.com"));
        assert!(!receipt.recovered);
        let location = PathBuf::from(receipt.location.clone().unwrap());
        assert_eq!(location.parent(), Some(provider.directory()));
        let name = location.file_name().unwrap().to_str().unwrap().to_owned();
        assert_eq!(eml_files(provider.directory()), [name.as_str()]);
        let id = name.strip_suffix(".eml").unwrap();
        assert_eq!(
            store::stored_at(id).map(|t| t.as_millisecond()),
            Some(receipt.accepted_at.as_millisecond())
        );
        assert!(id.ends_with(&format!("-{}", message.uid())));

        for folder in [Folder::Inbox, Folder::SentItems] {
            let page = provider.list_messages(&MailboxQuery::folder(folder)).await.unwrap();
            assert_eq!(page.continuation, None);
            let [listed] = &page.messages[..] else { panic!("{page:?}") };
            assert_eq!(listed.id, id);
            assert_eq!(listed.subject, message.subject());
            assert_eq!(listed.from.as_ref(), message.from());
            assert_eq!(listed.to, message.to());
            assert_eq!(listed.bcc, message.bcc());
            assert!(listed.preview.as_deref().unwrap().contains("factura"));
            assert!(!listed.is_read);
            assert!(listed.has_attachments);
            assert_eq!(listed.attachments.len(), 2);
            assert!(listed.attachments.iter().all(|a| a.bytes.is_none()));
            assert_eq!((listed.text.as_deref(), listed.html.as_deref()), (None, None));
        }

        let got = provider.get_message(id).await.unwrap();
        assert_eq!(got.id, id);
        assert_eq!(got.internet_message_id.as_deref(), Some(receipt.internet_message_id.as_str()));
        assert_eq!(got.from.as_ref(), message.from());
        assert_eq!(got.to, message.to());
        assert_eq!(got.cc, message.cc());
        assert_eq!(got.bcc, message.bcc());
        assert_eq!(got.reply_to, message.reply_to());
        assert_eq!(got.subject, message.subject());
        assert_eq!(got.importance, Importance::High);
        assert_eq!(got.text.as_deref(), message.text());
        assert_eq!(got.html.as_deref(), message.html());
        assert_eq!(got.sent_at.map(|t| t.as_second()), Some(receipt.accepted_at.as_second()));
        assert_eq!(
            got.received_at.map(|t| t.as_millisecond()),
            Some(receipt.accepted_at.as_millisecond())
        );
        assert!(!got.is_read);
        let pdf = got.attachments.iter().find(|a| a.name == "Factura nº 42.pdf").unwrap();
        assert_eq!(pdf.bytes.as_deref(), Some(PDF));
        assert_eq!(pdf.content_type, "application/pdf");
        let logo = got.attachments.iter().find(|a| a.name == "logo.png").unwrap();
        assert_eq!(logo.bytes.as_deref(), Some(PNG));
        assert!(logo.inline);
        assert_eq!(logo.content_id.as_deref(), Some("logo@g360"));

        let raw = provider.raw_message(id).await.unwrap();
        assert_eq!(raw, fs::read(&location).unwrap());
        let raw = String::from_utf8(raw).unwrap();
        assert!(raw.contains("\r\nBcc: audit@example.net\r\n"), "the stored copy keeps Bcc");
        assert!(raw.contains("\r\nX-G360-Invoice: 2026-0042\r\n"));
    }

    #[tokio::test]
    async fn sends_as_the_account_when_the_message_names_no_sender() {
        let (_tmp, provider) = setup();
        let receipt = provider.send(&simple("x")).await.unwrap();
        let id =
            provider.list_messages(&MailboxQuery::default()).await.unwrap().messages[0].id.clone();
        let got = provider.get_message(&id).await.unwrap();
        assert_eq!(got.from.unwrap().to_string(), "ERP <erp@contoso.com>");
        assert!(receipt.internet_message_id.ends_with("@contoso.com>"));
    }

    #[tokio::test]
    async fn pages_newest_first() {
        let (_tmp, provider) = setup();
        let ids = send_hourly(&provider, 5).await;
        let mut query = MailboxQuery::default().page_size(2);
        let mut pages = Vec::new();
        loop {
            let page = provider.list_messages(&query).await.unwrap();
            pages.push(page.messages.iter().map(|m| m.subject.clone()).collect::<Vec<_>>());
            match page.continuation {
                Some(token) => query = query.continuation(token),
                None => break,
            }
        }
        assert_eq!(pages, [vec!["m4", "m3"], vec!["m2", "m1"], vec!["m0"]]);

        let exact = provider.list_messages(&MailboxQuery::default().page_size(5)).await.unwrap();
        assert_eq!(exact.messages.len(), 5);
        assert_eq!(exact.continuation, None, "no empty last page");
        let first = exact.messages.iter().map(|m| m.id.as_str()).collect::<Vec<_>>();
        assert_eq!(first, ids.iter().rev().map(String::as_str).collect::<Vec<_>>());

        for bad in ["../etc", "a/b", "", ".seen"] {
            let err = provider
                .list_messages(&MailboxQuery::default().continuation(bad))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
            assert_eq!(err.code(), Some("query.continuation"));
        }
        let err = provider.list_messages(&MailboxQuery::default().page_size(0)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[tokio::test]
    async fn unread_filter_follows_mark_read_only() {
        let (_tmp, provider) = setup();
        let ids = send_hourly(&provider, 3).await;
        provider.get_message(&ids[0]).await.unwrap();
        let unread = MailboxQuery::default().unread_only(true);
        assert_eq!(provider.list_messages(&unread).await.unwrap().messages.len(), 3);

        provider.mark_read(&ids[1]).await.unwrap();
        provider.mark_read(&ids[1]).await.unwrap();
        let page = provider.list_messages(&unread).await.unwrap();
        let subjects: Vec<_> = page.messages.iter().map(|m| m.subject.as_str()).collect();
        assert_eq!(subjects, ["m2", "m0"]);
        assert!(provider.get_message(&ids[1]).await.unwrap().is_read);
        assert!(provider.directory().join(".seen").join(&ids[1]).is_file());

        let err = provider.mark_read("20260101T000000000Z-missing").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        let err = provider.mark_read("../outside").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[tokio::test]
    async fn since_uses_the_date_header_then_the_file_time() {
        let (_tmp, provider) = setup();
        send_hourly(&provider, 3).await;
        let subjects = |page: MessagePage| -> Vec<String> {
            page.messages.into_iter().map(|m| m.subject).collect()
        };
        let since = |s: &str| MailboxQuery::default().since(at(s));
        let page = provider.list_messages(&since("2026-11-29T09:00:00Z")).await.unwrap();
        assert_eq!(subjects(page), ["m2", "m1"]);
        // The Date header has whole seconds: a mail stored at 09:00:00.000 is
        // not before 09:00:00.400.
        let page = provider.list_messages(&since("2026-11-29T09:00:00.400Z")).await.unwrap();
        assert_eq!(subjects(page), ["m2", "m1"]);
        let page = provider.list_messages(&since("2026-11-29T09:00:01Z")).await.unwrap();
        assert_eq!(subjects(page), ["m2"]);

        // A dropped-in mail without a Date header is judged by its file name's time.
        let foreign = "From: a@example.com\r\nSubject: no date\r\n\r\nhi\r\n";
        let dir = provider.directory();
        fs::write(dir.join("20261129T093000000Z-foreign.eml"), foreign).unwrap();
        let page = provider.list_messages(&since("2026-11-29T09:15:00Z")).await.unwrap();
        assert_eq!(subjects(page), ["m2", "no date"]);
        let page = provider.list_messages(&since("2026-11-29T09:45:00Z")).await.unwrap();
        assert_eq!(subjects(page), ["m2"]);
    }

    #[tokio::test]
    async fn filters_by_internet_message_id() {
        let (_tmp, provider) = setup();
        let mut receipts = Vec::new();
        for i in 0..3 {
            receipts.push(provider.send(&simple(&format!("m{i}"))).await.unwrap());
        }
        let wanted = &receipts[1].internet_message_id;
        let bare = wanted.trim_start_matches('<').trim_end_matches('>');
        for form in [wanted.as_str(), bare] {
            let query = MailboxQuery::default().internet_message_id(form);
            let page = provider.list_messages(&query).await.unwrap();
            let [only] = &page.messages[..] else { panic!("{form}: {page:?}") };
            assert_eq!(only.subject, "m1");
            assert_eq!(only.internet_message_id.as_ref(), Some(wanted));
        }
        let query = MailboxQuery::default().internet_message_id("<nobody@example.com>");
        assert!(provider.list_messages(&query).await.unwrap().messages.is_empty());
    }

    #[tokio::test]
    async fn writes_are_atomic_and_leftovers_ignored() {
        let (_tmp, provider) = setup();
        let store = provider.store();
        let id = store::message_id(Timestamp::now(), MessageUid::new_random());
        let staged =
            store.stage(&id, b"From: a@example.com\r\nSubject: staged\r\n\r\nx\r\n").unwrap();
        assert_eq!(staged.parent(), Some(provider.directory().join(".tmp").as_path()));
        assert!(staged.is_file());
        assert!(eml_files(provider.directory()).is_empty());
        assert!(
            provider.list_messages(&MailboxQuery::default()).await.unwrap().messages.is_empty()
        );
        let err = provider.get_message(&id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);

        store.publish(&staged, &id).unwrap();
        assert!(!staged.exists());
        assert_eq!(eml_files(provider.directory()), [format!("{id}.eml")]);
        let page = provider.list_messages(&MailboxQuery::default()).await.unwrap();
        assert_eq!(page.messages[0].subject, "staged");

        // A crash between the two halves leaves only a file in .tmp.
        let uid = MessageUid::new_random();
        let crashed = store::message_id(Timestamp::now(), uid);
        fs::write(
            provider.directory().join(".tmp").join(format!("{crashed}.eml")),
            b"From: a@b.c\r\nSubj",
        )
        .unwrap();
        let page = provider.list_messages(&MailboxQuery::default()).await.unwrap();
        assert_eq!(page.messages.len(), 1);
        assert_eq!(provider.find_sent(uid).await.unwrap(), None);
    }

    #[tokio::test]
    async fn refuses_bad_ids_and_reports_unknown_ones() {
        let (_tmp, provider) = setup();
        provider.send(&simple("x")).await.unwrap();
        fs::write(provider.directory().parent().unwrap().join("secret.eml"), "Subject: s\r\n\r\n")
            .unwrap();
        for id in ["../secret", "..", "a/b", "a\\b", "", ".tmp", ".seen/x", "x\r\ny", "/etc/passwd"]
        {
            let err = provider.get_message(id).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{id:?}");
            assert_eq!(err.code(), Some("message.id-invalid"));
            assert!(!err.to_string().contains('\n'));
            assert_eq!(provider.raw_message(id).await.unwrap_err().kind(), ErrorKind::InvalidInput);
        }
        let err = provider.get_message("20260101T000000000Z-unknown").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.remedy().is_some());
        assert_eq!(err.context_value("id"), Some("20260101T000000000Z-unknown"));
        assert_eq!(
            provider.raw_message("20260101T000000000Z-unknown").await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }

    #[tokio::test]
    async fn lists_unreadable_files_and_explains_them_on_get() {
        let (_tmp, provider) = setup();
        provider.send(&simple("ok")).await.unwrap();
        fs::write(provider.directory().join("20200101T000000000Z-broken.eml"), b"").unwrap();
        fs::write(provider.directory().join("notes.txt"), b"not a mail").unwrap();
        let page = provider.list_messages(&MailboxQuery::default()).await.unwrap();
        let ids: Vec<_> = page.messages.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids.len(), 2);
        assert_eq!(ids[1], "20200101T000000000Z-broken");
        let err = provider.get_message("20200101T000000000Z-broken").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unexpected);
        assert_eq!(err.context_value("id"), Some("20200101T000000000Z-broken"));
        assert_eq!(err.provider(), Some("file"));
    }

    #[tokio::test]
    async fn other_folders_are_not_found() {
        let (_tmp, provider) = setup();
        for folder in [Folder::Drafts, Folder::Archive, Folder::Id("AAMkAD=".into())] {
            let err =
                provider.list_messages(&MailboxQuery::folder(folder.clone())).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotFound, "{folder}");
            assert_eq!(err.code(), Some("folder.not-found"));
            assert!(err.remedy().unwrap().contains("inbox"));
        }
        // An empty or missing mailbox directory is an empty inbox.
        assert!(
            provider.list_messages(&MailboxQuery::default()).await.unwrap().messages.is_empty()
        );
    }

    #[tokio::test]
    async fn verify_passes_and_sends_a_test_mail() {
        let (_tmp, provider) = setup();
        let report = provider.verify(&VerifyOptions::default()).await.unwrap();
        let names: Vec<_> = report.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["directory", "writable"]);
        assert!(report.passed(), "{report:?}");
        assert!(report.checks[0].detail.contains("created"));
        assert!(
            fs::read_dir(provider.directory().join(".tmp")).unwrap().next().is_none(),
            "probe removed"
        );

        let to: EmailAddress = "dev@example.com".parse().unwrap();
        let report =
            provider.verify(&VerifyOptions::default().send_test_to(to.clone())).await.unwrap();
        assert_eq!(report.checks[0].detail, format!("{} exists", provider.directory().display()));
        assert_eq!(report.checks[2].name, "test-mail");
        assert_eq!(report.checks[2].status, CheckStatus::Pass);
        let page = provider.list_messages(&MailboxQuery::default()).await.unwrap();
        assert_eq!(page.messages[0].subject, "g360-mail test");
        assert_eq!(page.messages[0].to, [to]);
    }

    #[tokio::test]
    async fn verify_and_send_fail_when_the_directory_is_a_file() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("outbox");
        fs::write(&file, b"in the way").unwrap();
        let provider = FileProvider::new(&file, "erp@contoso.com".parse().unwrap());
        let options = VerifyOptions::default().send_test_to("dev@example.com".parse().unwrap());
        let report = provider.verify(&options).await.unwrap();
        assert!(!report.passed());
        let statuses: Vec<_> = report.checks.iter().map(|c| (c.name.as_str(), c.status)).collect();
        assert_eq!(
            statuses,
            [
                ("directory", CheckStatus::Fail),
                ("writable", CheckStatus::Skipped),
                ("test-mail", CheckStatus::Skipped)
            ]
        );
        let failed = report.first_failure().unwrap();
        assert_eq!(failed.error_kind, Some(ErrorKind::Config));
        assert!(failed.remedy.is_some());

        let err = provider.send(&simple("x")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(!err.is_temporary());
        assert_eq!(err.context_value("path"), Some(file.display().to_string().as_str()));
        assert!(err.remedy().is_some());
        assert_eq!(
            provider.list_messages(&MailboxQuery::default()).await.unwrap_err().kind(),
            ErrorKind::Config
        );
    }

    #[tokio::test]
    async fn lists_report_files_oldest_first_after_the_cursor() {
        let (_dir, provider) = setup();
        assert!(provider.capabilities().delivery_reports);
        provider.send(&simple("Factura 1")).await.unwrap();
        let report = |n: u32| {
            format!(
                "From: MAILER-DAEMON@relay.example\r\nSubject: Undelivered {n}\r\n\
                 Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n--b--\r\n"
            )
        };
        let dir = provider.directory().to_path_buf();
        fs::write(dir.join("bounce-a.eml"), report(1)).unwrap();
        fs::write(dir.join("notes.eml"), "From: ana@example.com\r\n\r\nhola\r\n").unwrap();
        let mut query = ReportQuery::default();
        query.page_size = 1;
        let first = provider.list_delivery_reports(&query).await.unwrap();
        assert_eq!(first.reports.len(), 1);
        assert_eq!(first.reports[0].id, "bounce-a");
        assert_eq!(first.continuation, None, "the sent mail and the note are no reports");
        // A report dropped later comes after the cursor; the first does not.
        std::thread::sleep(std::time::Duration::from_millis(5));
        fs::write(dir.join("bounce-b.eml"), report(2)).unwrap();
        let after = ReportQuery::after(Some(first.reports[0].cursor.clone()));
        let next = provider.list_delivery_reports(&after).await.unwrap();
        assert_eq!(next.reports.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["bounce-b"]);
        // A copy that keeps an old modification time (`cp -p`) is placed
        // when it arrives.
        std::thread::sleep(std::time::Duration::from_millis(5));
        let copied = dir.join("bounce-c.eml");
        fs::write(&copied, report(3)).unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        fs::File::options().write(true).open(&copied).unwrap().set_modified(old).unwrap();
        let after = ReportQuery::after(Some(next.reports[0].cursor.clone()));
        let last = provider.list_delivery_reports(&after).await.unwrap();
        assert_eq!(last.reports.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["bounce-c"]);
        let bad = ReportQuery::after(Some(ReportCursor::new("../x")));
        let err = provider.list_delivery_reports(&bad).await.unwrap_err();
        assert_eq!(err.code(), Some("query.continuation"));
    }

    #[tokio::test]
    async fn finds_sent_mail_by_uid() {
        let (_tmp, provider) = setup();
        let message = full();
        let sent = provider.send(&message).await.unwrap();
        provider.send(&simple("other")).await.unwrap();
        let found = provider.find_sent(message.uid()).await.unwrap().unwrap();
        assert!(found.recovered);
        assert_eq!(found.uid, message.uid());
        assert_eq!(found.provider, "file");
        assert_eq!(found.internet_message_id, sent.internet_message_id);
        assert_eq!(found.location, sent.location);
        assert_eq!(found.accepted_at.as_millisecond(), sent.accepted_at.as_millisecond());
        assert_eq!(provider.find_sent(MessageUid::new_random()).await.unwrap(), None);
    }

    #[test]
    fn declares_capabilities_and_shows_itself() {
        let provider = FileProvider::new("/srv/mail", "erp@contoso.com".parse().unwrap());
        let c = provider.capabilities();
        assert!(c.read && c.html_body && c.attachments && c.inline_attachments);
        assert!(c.custom_headers && c.save_to_sent && c.find_sent && c.raw_mime);
        assert_eq!(c.max_message_bytes, None);
        assert_eq!(provider.provider_type(), "file");
        let debug = format!("{provider:?}");
        assert!(debug.contains("/srv/mail") && debug.contains("erp@contoso.com"), "{debug}");
        let relative = FileProvider::new("mail-outbox", "erp@contoso.com".parse().unwrap());
        assert!(relative.directory().is_absolute());
        assert!(relative.directory().ends_with("mail-outbox"));
    }

    #[tokio::test]
    async fn registers_a_factory_that_builds_from_settings() {
        let mut registry = ProviderRegistry::new();
        register(&mut registry);
        assert_eq!(registry.types(), ["file"]);
        assert_eq!(registry.needs_secret("file"), Some(false));
        assert!(registry.check_settings("file", &serde_json::json!({})).is_ok());
        let problems =
            registry.check_settings("file", &serde_json::json!({ "directory": "" })).unwrap_err();
        assert_eq!(problems[0].path, "directory");
        assert!(problems[0].remedy.is_some());
        let problems =
            registry.check_settings("file", &serde_json::json!({ "dir": "/tmp" })).unwrap_err();
        assert!(problems[0].message.contains("unknown field"), "{problems:?}");

        let tmp = tempfile::tempdir().unwrap();
        let settings = serde_json::json!({ "directory": tmp.path() });
        let integration = Integration::new("dev", "file", settings);
        let access = MailboxAccess::new("erp@contoso.com".parse().unwrap());
        let provider = registry.build(&integration, &access).unwrap();
        assert_eq!(provider.provider_type(), "file");
        let receipt = provider.send(&simple("via registry")).await.unwrap();
        assert!(receipt.location.unwrap().starts_with(&tmp.path().display().to_string()));

        let empty = Integration::new("dev", "file", serde_json::json!({ "directory": "" }));
        let err = registry.build(&empty, &access).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert_eq!(err.context_value("key"), Some("directory"));
        assert_eq!(crate::FileSettings::default().directory, PathBuf::from("./mail-outbox"));
    }
}
