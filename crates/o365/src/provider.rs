//! [`O365Provider`]: [`MailProvider`] over Microsoft Graph for one mailbox.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use g360_mail_core::{
    Capabilities, Check, EmailAddress, Error, ErrorKind, Folder, Importance, MAX_MESSAGE_BYTES,
    MailProvider, MailboxQuery, MessagePage, MessageUid, OutgoingMessage, ReceivedAttachment,
    ReceivedMessage, Result, SendReceipt, Timestamp, VerifyOptions, VerifyReport,
};
use reqwest::Method;
use url::Url;

use crate::O365_PROVIDER_TYPE;
use crate::auth::AccessToken;
use crate::body::SendMailBody;
use crate::client::{
    Body, Call, GraphClient, MAX_REQUEST_BYTES, Outcome, PREFER_IMMUTABLE_HTML,
    PREFER_IMMUTABLE_TEXT, encode_query, exhausted, is_retryable_status, odata_string,
};
use crate::config::{Cloud, O365Settings, is_guid};
use crate::error::{O365Error, own};
use crate::graph_model::{
    AttachmentItem, CreateUploadSession, CreatedItem, GraphAttachment, GraphBody,
    GraphEmailAddressOut, GraphExtendedProperty, GraphHeader, GraphMessage, GraphOutgoing,
    GraphPage, GraphRecipient, GraphRecipientOut, OpenIdConfiguration, TokenErrorBody,
    UploadSession,
};

/// The single-value extended property that carries our uid on every sent
/// mail, in a GUID namespace of g360-mail. Filterable in Sent Items.
pub const UID_PROPERTY_ID: &str = "String {6f1c9a52-3b7e-4d8a-9c21-5e0b7d4a8f13} Name G360MailUid";

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

/// Attachments of at least this size go through an upload session.
const UPLOAD_SESSION_MIN: usize = 3 * 1024 * 1024;
/// Bytes per `PUT` of an upload session (a multiple of 320 KiB, under 4 MB).
const UPLOAD_CHUNK: usize = 6 * 320 * 1024;
/// Most pages followed in one delta round or attachment listing.
const MAX_PAGES: usize = 10_000;

/// What the configuration check knows about the account's secret, computed
/// when the provider is built so the secret itself is not kept here.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SecretShape {
    pub(crate) guid_like: bool,
    pub(crate) whitespace: bool,
}

impl SecretShape {
    pub(crate) fn of(secret: &str) -> Self {
        SecretShape { guid_like: is_guid(secret.trim()), whitespace: secret.trim() != secret }
    }

    /// The problems of this shape, with their codes (`verify`'s configuration
    /// check and `config check` report the same).
    pub(crate) fn problems(self) -> Vec<(&'static str, g360_mail_core::ConfigProblem)> {
        let mut problems = Vec::new();
        if self.whitespace {
            problems.extend(crate::config::whitespace_problem("secret", " ").map(|(c, p)| {
                (c, p.with_remedy("remove the spaces or line breaks around the account's secret; copy the client secret Value again"))
            }));
        }
        if self.guid_like {
            problems.push((
                "o365.secret-is-id",
                g360_mail_core::ConfigProblem::new("secret", "the secret looks like a GUID: almost surely the Secret ID, not the secret's Value")
                    .with_remedy("in Entra ID > App registrations > the app > Certificates & secrets, copy the Value column (shown only when the secret is created; create a new one if it is hidden) into the account's secret (Token field in G360 ERP)"),
            ));
        }
        problems
    }
}

/// Sends and reads the mail of one Exchange Online mailbox through Microsoft
/// Graph with an app-only (client credentials) token.
///
/// Built by [`O365Builder`](crate::O365Builder) or by
/// [`O365Factory`](crate::O365Factory); cheap to share behind an `Arc`.
pub struct O365Provider {
    pub(crate) client: GraphClient,
    pub(crate) settings: Arc<O365Settings>,
    pub(crate) mailbox: EmailAddress,
    pub(crate) authority: Url,
    pub(crate) secret_shape: SecretShape,
}

impl fmt::Debug for O365Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("O365Provider")
            .field("mailbox", &self.mailbox.addr())
            .field("client_id", &self.settings.client_id)
            .field("tenant_id", &self.settings.tenant_id)
            .field("cloud", &self.settings.cloud)
            .field("authority", &self.authority.as_str())
            .field("graph", &self.settings.graph_url())
            .finish_non_exhaustive()
    }
}

/// One round of delta synchronisation of a folder
/// ([`O365Provider::delta`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeltaSync {
    /// Messages created or changed since the previous round (no bodies).
    pub changed: Vec<ReceivedMessage>,
    /// Ids of messages deleted or moved out of the folder.
    pub removed: Vec<String>,
    /// The opaque token to pass to the next round.
    pub token: String,
    /// True when the given token had expired and this round is a full
    /// synchronisation: the caller must discard what it kept of the folder.
    pub restarted: bool,
}

/// Which form of the body [`O365Provider::get_message_with`] asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyFormat {
    /// The HTML body and its plain-text rendering (two requests for HTML mail).
    #[default]
    Both,
    /// The body as HTML (plain-text mail is returned as text).
    Html,
    /// The body converted to plain text.
    Text,
}

impl O365Provider {
    /// The mailbox this provider sends as and reads.
    pub fn mailbox(&self) -> &EmailAddress {
        &self.mailbox
    }

    /// The settings in use.
    pub fn settings(&self) -> &O365Settings {
        &self.settings
    }

    /// The Internet Message-ID a send of `uid` carries.
    pub fn internet_message_id(&self, uid: MessageUid) -> String {
        uid.internet_message_id(self.mailbox.domain())
    }

    fn can_read(&self, token: &AccessToken) -> bool {
        self.settings.rbac_for_applications
            || token.has_role("Mail.Read") != Some(false)
            || token.has_role("Mail.ReadWrite") == Some(true)
    }

    // ----- sending -------------------------------------------------------

    /// The Graph message for `msg`, without its attachments.
    pub(crate) fn graph_message<'a>(
        &self,
        msg: &'a OutgoingMessage,
        imid: &'a str,
    ) -> Result<GraphOutgoing<'a>> {
        let rcpt = |a: &'a EmailAddress| GraphRecipientOut {
            email_address: GraphEmailAddressOut { address: a.addr(), name: a.name() },
        };
        let body = match (msg.html(), msg.text()) {
            (Some(html), _) => GraphBody { content_type: "html", content: html },
            (None, Some(text)) => GraphBody { content_type: "text", content: text },
            (None, None) => GraphBody { content_type: "text", content: "" },
        };
        let mut headers = Vec::with_capacity(msg.headers().len());
        for h in msg.headers() {
            if !h.name().get(..2).is_some_and(|p| p.eq_ignore_ascii_case("x-")) {
                return Err(own(
                    ErrorKind::InvalidInput,
                    "message.header-invalid",
                    "only custom headers starting with X- can be sent through Graph",
                )
                .with_context("header", h.name().escape_debug())
                .with_context("sent", "no")
                .with_context("delivered", "no")
                .with_not_delivered()
                .with_remedy("rename the header to X-Something"));
            }
            headers.push(GraphHeader { name: h.name(), value: h.value() });
        }
        let from = msg.from().filter(|f| !f.same_mailbox(&self.mailbox)).map(rcpt);
        Ok(GraphOutgoing {
            subject: msg.subject(),
            body,
            from,
            to_recipients: msg.to().iter().map(rcpt).collect(),
            cc_recipients: msg.cc().iter().map(rcpt).collect(),
            bcc_recipients: msg.bcc().iter().map(rcpt).collect(),
            reply_to: msg.reply_to().iter().map(rcpt).collect(),
            importance: match msg.importance() {
                Importance::Low => "low",
                Importance::Normal => "normal",
                Importance::High => "high",
            },
            internet_message_id: imid,
            internet_message_headers: headers,
            single_value_extended_properties: vec![GraphExtendedProperty {
                id: UID_PROPERTY_ID,
                value: msg.uid().to_string(),
            }],
        })
    }

    /// The exact `sendMail` request body for `msg`.
    pub fn send_mail_body(&self, msg: &OutgoingMessage) -> Result<Vec<u8>> {
        let imid = self.internet_message_id(msg.uid());
        match self.encode_send_mail(msg, &imid, None)? {
            SendMailBody::Built(body) => Ok(body),
            // Without a limit the body is always built.
            SendMailBody::TooLarge(len) => Err(too_large(len)),
        }
    }

    /// The `sendMail` body of `msg`, built once into a buffer of its exact
    /// size; only its length when that is over `limit`.
    fn encode_send_mail(
        &self,
        msg: &OutgoingMessage,
        imid: &str,
        limit: Option<usize>,
    ) -> Result<SendMailBody> {
        crate::body::send_mail(&self.graph_message(msg, imid)?, msg.attachments(), limit)
    }

    fn receipt(
        &self,
        uid: MessageUid,
        imid: &str,
        answer: Option<&crate::client::Answer>,
    ) -> SendReceipt {
        let mut r = SendReceipt::new(O365_PROVIDER_TYPE, uid, imid);
        if let Some(a) = answer {
            r.request_id = a.request_id.clone();
            r.client_request_id = Some(a.client_request_id());
        }
        r
    }

    /// Sends `call` (a `sendMail` or a draft's `send`) and never delivers the
    /// mail twice: see the crate docs, "Retries that never duplicate a mail".
    async fn deliver(&self, call: Call, uid: MessageUid, imid: &str) -> Result<SendReceipt> {
        let retry = &self.client.retry;
        let mut attempt = 0u32;
        let mut waited = Duration::ZERO;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let token = match self.client.token().await {
                Ok(t) => t,
                Err(e) => {
                    self.pause_unsent(e, attempt, &mut waited).await?;
                    continue;
                }
            };
            let ambiguous = match self.client.attempt(&call, Some(&token)).await {
                Outcome::Answer(a) if (200..300).contains(&a.status) => match a.retry_after() {
                    None => {
                        tracing::info!(uid = %uid, request_id = a.request_id.as_deref().unwrap_or(""), "mail accepted by Graph");
                        return Ok(self.receipt(uid, imid, Some(&a)));
                    }
                    Some(ra) => own(
                        ErrorKind::Throttled,
                        "o365.accepted-with-retry-after",
                        "Graph accepted the mail but asked to retry later",
                    )
                    .with_retry_after(ra)
                    .with_http_status(a.status)
                    .with_context("request_id", a.request_id.as_deref().unwrap_or("")),
                },
                Outcome::Answer(a)
                    if a.status == 401
                        && a.code() == "InvalidAuthenticationToken"
                        && !refreshed =>
                {
                    self.client.tokens().invalidate(&token).await;
                    refreshed = true;
                    attempt -= 1;
                    continue;
                }
                Outcome::Answer(a) if is_retryable_status(a.status) => a.error(),
                Outcome::Answer(a) => {
                    return Err(a
                        .error()
                        .with_context("sent", "no")
                        .with_context("delivered", "no")
                        .with_not_delivered());
                }
                Outcome::NotSent(e) => {
                    self.pause_unsent(e, attempt, &mut waited).await?;
                    continue;
                }
                Outcome::Unknown(e) => e,
            };
            tracing::warn!(uid = %uid, attempt, code = ambiguous.code(), "ambiguous answer to a send; looking the mail up before any resend");
            if !self.can_read(&token) {
                return Err(outcome_unknown(
                    ambiguous,
                    uid,
                    imid,
                    "the app has no Mail.Read to look in Sent Items",
                ));
            }
            let started = tokio::time::Instant::now();
            let looked = self.await_in_sent(uid, imid, retry.settle).await;
            waited += started.elapsed();
            match looked {
                Ok(Some(_)) => {
                    tracing::info!(uid = %uid, "the mail was found in Sent Items; not sending it again");
                    let mut r = self.receipt(uid, imid, None);
                    r.recovered = true;
                    return Ok(r);
                }
                Ok(None) => {}
                Err(e) => {
                    let reason = format!(
                        "looking in Sent Items failed ({})",
                        e.code().unwrap_or(e.kind().as_str())
                    );
                    return Err(outcome_unknown(ambiguous, uid, imid, &reason));
                }
            }
            let delay = retry.delay(attempt, ambiguous.retry_after()).saturating_sub(retry.settle);
            if attempt >= retry.max_attempts || waited + delay > retry.max_total {
                return Err(exhausted(ambiguous, attempt)
                    .with_context("sent", "no")
                    .with_context("delivered", "no")
                    .with_not_delivered());
            }
            tokio::time::sleep(delay).await;
            waited += delay;
        }
    }

    async fn pause_unsent(&self, err: Error, attempt: u32, waited: &mut Duration) -> Result<()> {
        let retry = &self.client.retry;
        let not_sent = |e: Error| {
            e.with_context("sent", "no").with_context("delivered", "no").with_not_delivered()
        };
        if !err.is_temporary() {
            return Err(not_sent(err));
        }
        let delay = retry.delay(attempt, err.retry_after());
        if attempt >= retry.max_attempts || *waited + delay > retry.max_total {
            return Err(not_sent(exhausted(err, attempt)));
        }
        tokio::time::sleep(delay).await;
        *waited += delay;
        Ok(())
    }

    /// Looks our mail up in Sent Items until it shows up or `patience` has
    /// passed: at once, then every half second (Exchange files the Sent Items
    /// copy only once transport took the mail). `None` means it was not there
    /// for the whole time.
    async fn await_in_sent(
        &self,
        uid: MessageUid,
        imid: &str,
        patience: Duration,
    ) -> Result<Option<GraphMessage>> {
        let deadline = tokio::time::Instant::now() + patience;
        let step = patience.min(Duration::from_millis(500));
        loop {
            if let Some(found) = self.lookup_sent(uid, imid).await? {
                return Ok(Some(found));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(step.min(deadline - now)).await;
        }
    }

    /// Looks our mail up in Sent Items: by Internet Message-ID, then by the
    /// extended property (in case Exchange rewrote the Message-ID).
    async fn lookup_sent(&self, uid: MessageUid, imid: &str) -> Result<Option<GraphMessage>> {
        let url = self.client.user_url(&["mailFolders", "sentitems", "messages"]);
        let by_id = format!("internetMessageId eq {}", odata_string(imid));
        if let Some(m) = self.query_one(url.clone(), by_id).await? {
            return Ok(Some(m));
        }
        let by_prop = format!(
            "singleValueExtendedProperties/Any(ep: ep/id eq {} and ep/value eq {})",
            odata_string(UID_PROPERTY_ID),
            odata_string(&uid.to_string())
        );
        match self.query_one(url, by_prop).await {
            Ok(found) => Ok(found),
            // A Graph (or emulator) that cannot filter on extended properties
            // answers 400; the Message-ID lookup above is then the answer.
            Err(e) if e.http_status() == Some(400) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn query_one(&self, mut url: Url, filter: String) -> Result<Option<GraphMessage>> {
        url.set_query(Some(&encode_query(&[
            ("$filter", filter),
            ("$select", "id,internetMessageId,sentDateTime".into()),
            ("$top", "1".into()),
        ])));
        let page: GraphPage<GraphMessage> =
            self.client.get_json(&Call::get(url, "the Sent Items lookup")).await?;
        Ok(page.value.into_iter().next())
    }

    /// The draft + upload-session path for messages over the request limit
    /// (needs Mail.ReadWrite).
    async fn send_large(&self, msg: &OutgoingMessage, imid: &str) -> Result<SendReceipt> {
        let draft = self.graph_message(msg, imid)?;
        let json = serde_json::to_vec(&draft).map_err(|e| {
            own(ErrorKind::Unexpected, "o365.encode", format!("could not encode the message: {e}"))
        })?;
        if json.len() > MAX_REQUEST_BYTES {
            return Err(too_large(json.len()));
        }
        let created: CreatedItem = self
            .client
            .write(&Call::post_json(
                self.client.user_url(&["messages"]),
                json,
                "the draft creation",
            ))
            .await
            .map_err(not_delivered)?
            .json("the draft creation")
            .map_err(not_delivered)?;
        let result = async {
            for a in msg.attachments() {
                self.attach_to_draft(&created.id, a).await?;
            }
            Ok::<(), Error>(())
        }
        .await;
        if let Err(e) = result {
            self.delete_draft(&created.id).await;
            return Err(not_delivered(e));
        }
        let mut send = Call::post_json(
            self.client.user_url(&["messages", &created.id, "send"]),
            bytes::Bytes::new(),
            "the draft send",
        );
        send.body = None;
        self.deliver(send, msg.uid(), imid).await
    }

    async fn attach_to_draft(&self, draft_id: &str, a: &g360_mail_core::Attachment) -> Result<()> {
        if a.bytes().len() < UPLOAD_SESSION_MIN {
            let json = crate::body::file_attachment(a)?;
            let url = self.client.user_url(&["messages", draft_id, "attachments"]);
            self.client.write(&Call::post_json(url, json, "the attachment upload")).await?;
            return Ok(());
        }
        let body = CreateUploadSession {
            attachment_item: AttachmentItem {
                attachment_type: "file",
                name: a.name(),
                size: a.bytes().len() as u64,
                content_type: a.content_type(),
                is_inline: a.is_inline(),
                content_id: a.content_id(),
            },
        };
        let json = serde_json::to_vec(&body)
            .map_err(|e| own(ErrorKind::Unexpected, "o365.encode", e.to_string()))?;
        let url =
            self.client.user_url(&["messages", draft_id, "attachments", "createUploadSession"]);
        let session: UploadSession = self
            .client
            .write(&Call::post_json(url, json, "the upload session"))
            .await?
            .json("the upload session")?;
        let upload = self.client.check_upload_url(&session.upload_url)?;
        let total = a.bytes().len();
        let mut start = 0;
        while start < total {
            let end = (start + UPLOAD_CHUNK).min(total);
            let range = format!("bytes {start}-{}/{total}", end - 1);
            let content_range = reqwest::header::HeaderValue::from_str(&range)
                .map_err(|e| own(ErrorKind::Unexpected, "o365.encode", e.to_string()))?;
            let call = Call {
                method: Method::PUT,
                url: upload.clone(),
                // One copy of the chunk, shared by every attempt.
                body: Some(Body::Bytes {
                    bytes: bytes::Bytes::copy_from_slice(&a.bytes()[start..end]),
                    content_range,
                }),
                prefer: None,
                auth: false,
                what: "the attachment upload",
            };
            self.client.read(&call).await?;
            start = end;
        }
        Ok(())
    }

    async fn delete_draft(&self, id: &str) {
        let mut call = Call::get(self.client.user_url(&["messages", id]), "the draft deletion");
        call.method = Method::DELETE;
        if let Err(e) = self.client.read(&call).await {
            tracing::warn!(code = e.code(), "could not delete the draft of a failed send");
        }
    }

    // ----- reading -------------------------------------------------------

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
        let mut call =
            Call::get(self.client.user_url(&["messages", id, "attachments"]), "the attachments");
        for _ in 0..MAX_PAGES {
            let page: GraphPage<GraphAttachment> = self.client.get_json(&call).await?;
            for a in page.value {
                let is_file = a.odata_type.as_deref().is_none_or(|t| t.ends_with("fileAttachment"));
                let bytes = match (is_file, &a.content_bytes) {
                    (false, _) => None,
                    (true, Some(b64)) => Some(
                        base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| {
                            own(
                                ErrorKind::Unexpected,
                                "o365.bad-answer",
                                "an attachment's contentBytes is not base64",
                            )
                            .with_context("attachment_id", &a.id)
                        })?,
                    ),
                    (true, None) => {
                        let url =
                            self.client.user_url(&["messages", id, "attachments", &a.id, "$value"]);
                        Some(Vec::from(
                            self.client.read(&Call::get(url, "the attachment")).await?.body,
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
                Some(link) => call = Call::get(self.client.own_link(&link)?, "the attachments"),
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
                    return Err(own(
                        ErrorKind::Unexpected,
                        "o365.bad-answer",
                        "the delta page has neither a next link nor a delta link",
                    ));
                }
            }
        }
        Err(own(ErrorKind::Unexpected, "o365.bad-answer", "the delta query did not end"))
    }

    // ----- verify --------------------------------------------------------

    fn check_configuration(&self) -> Check {
        let mut problems: Vec<(&'static str, g360_mail_core::ConfigProblem)> =
            self.settings.identity_problems();
        problems.extend(self.secret_shape.problems());
        if problems.is_empty() {
            return Check::pass(
                "configuration",
                format!(
                    "client_id, tenant_id and secret are well formed (cloud {})",
                    self.settings.cloud
                ),
            );
        }
        let detail = problems.iter().map(|(_, p)| p.to_string()).collect::<Vec<_>>().join("; ");
        let (code, first) = &problems[0];
        let mut err = Error::new(ErrorKind::Config, detail)
            .with_code(*code)
            .with_provider(O365_PROVIDER_TYPE);
        if let Some(r) = &first.remedy {
            err = err.with_remedy(r.clone());
        }
        Check::fail("configuration", &err)
    }

    async fn check_tenant(&self) -> Check {
        let mut url = self.authority.clone();
        if let Ok(mut p) = url.path_segments_mut() {
            p.pop_if_empty().extend([
                self.settings.tenant_id.trim(),
                "v2.0",
                ".well-known",
                "openid-configuration",
            ]);
        }
        let call = Call {
            method: Method::GET,
            url,
            body: None,
            prefer: None,
            auth: false,
            what: "the tenant discovery",
        };
        let mut attempt = 0;
        let answer = loop {
            attempt += 1;
            let err = match self.client.attempt(&call, None).await {
                Outcome::Answer(a) if a.status == 200 => break a,
                // The discovery endpoint answers errors like the token endpoint.
                Outcome::Answer(a) if (400..500).contains(&a.status) && a.status != 429 => {
                    let body: TokenErrorBody = serde_json::from_slice(&a.body).unwrap_or_default();
                    return Check::fail("tenant", &Error::from(O365Error::token(a.status, body)));
                }
                Outcome::Answer(a) => own(
                    ErrorKind::Unavailable,
                    "o365.discovery-unavailable",
                    "the tenant discovery endpoint is unavailable",
                )
                .with_http_status(a.status),
                Outcome::NotSent(e) | Outcome::Unknown(e) => e,
            };
            if attempt >= self.client.retry.max_attempts {
                return Check::fail("tenant", &err);
            }
            tokio::time::sleep(self.client.retry.backoff(attempt)).await;
        };
        let doc: OpenIdConfiguration = serde_json::from_slice(&answer.body).unwrap_or_default();
        let instance = doc.cloud_instance_name.clone().unwrap_or_default();
        let graph_host = doc.msgraph_host.clone().unwrap_or_default();
        let cloud = self.settings.cloud;
        let wrong_instance = !instance.is_empty()
            && !cloud.instance_names().iter().any(|n| n.eq_ignore_ascii_case(&instance));
        let wrong_graph = !graph_host.is_empty()
            && !cloud.graph_hosts().iter().any(|h| h.eq_ignore_ascii_case(&graph_host));
        if wrong_instance || wrong_graph {
            let (seen, actual) = if wrong_instance {
                (instance.clone(), Cloud::from_instance_name(&instance))
            } else {
                (graph_host.clone(), Cloud::from_graph_host(&graph_host))
            };
            let remedy = match actual {
                Some(c) => format!(
                    "set the integration's cloud to {c} (the tenant lives in the {seen} cloud) and register the app in that cloud"
                ),
                None => {
                    format!("set the integration's cloud to the tenant's national cloud ({seen})")
                }
            };
            let err = own(
                ErrorKind::Config,
                "o365.wrong-cloud",
                "the tenant lives in another national cloud",
            )
            .with_context("cloud", cloud)
            .with_context("tenant_cloud", &seen)
            .with_remedy(remedy);
            return Check::fail("tenant", &err);
        }
        let region = doc.tenant_region_scope.map(|r| format!(", region {r}")).unwrap_or_default();
        Check::pass(
            "tenant",
            format!(
                "tenant {} found in the {} cloud{region}",
                self.settings.tenant_id.trim(),
                if instance.is_empty() { self.settings.cloud.as_str() } else { &instance }
            ),
        )
    }

    fn check_permissions(&self, token: &AccessToken) -> Check {
        let rbac = self.settings.rbac_for_applications;
        let Some(claims) = token.claims() else {
            return Check::warn(
                "permissions",
                "o365.token-opaque",
                "the access token cannot be read, so its roles are unknown",
                "nothing to do if the mailbox check passes; otherwise check Mail.Send and Mail.Read in Entra ID > API permissions",
            );
        };
        let roles = claims.roles.clone().unwrap_or_default();
        let missing: Vec<&str> = ["Mail.Send", "Mail.Read"]
            .into_iter()
            .filter(|r| {
                !roles.iter().any(|x| {
                    x.eq_ignore_ascii_case(r)
                        || (*r == "Mail.Read" && x.eq_ignore_ascii_case("Mail.ReadWrite"))
                })
            })
            .collect();
        if missing.is_empty() {
            return Check::pass(
                "permissions",
                format!("the token carries the application roles {}", roles.join(", ")),
            );
        }
        let (code, detail) = if claims.roles.as_ref().is_none_or(Vec::is_empty) {
            (
                "o365.no-roles",
                "the token carries no application roles: Mail.Send and Mail.Read were added as Delegated permissions, or admin consent was not granted".to_owned(),
            )
        } else {
            (
                "o365.missing-role",
                format!("the token lacks the application role(s) {}", missing.join(", ")),
            )
        };
        let remedy = "in Entra ID > App registrations > the app > API permissions, add Microsoft Graph > Application permissions > Mail.Send and Mail.Read, then press Grant admin consent (Type: Application, Status: Granted)";
        if rbac {
            return Check::warn(
                "permissions",
                code,
                format!(
                    "{detail}; accepted because the integration uses Exchange RBAC for Applications, whose grants do not appear in the token"
                ),
                "nothing to do if the mailbox check passes; otherwise assign the Application Mail.Send and Mail.Read roles to the app in Exchange",
            );
        }
        let err = Error::new(ErrorKind::Permission, detail)
            .with_code(code)
            .with_remedy(remedy)
            .with_provider(O365_PROVIDER_TYPE);
        Check::fail("permissions", &err)
    }

    async fn check_mailbox(&self) -> Check {
        let mut url = self.client.user_url(&["mailFolders", "inbox"]);
        url.set_query(Some(&encode_query(&[("$select", "id".into())])));
        match self.client.read(&Call::get(url, "the mailbox check")).await {
            Ok(_) => Check::pass(
                "mailbox",
                format!("the mailbox {} is reachable through Graph", self.mailbox.addr()),
            ),
            Err(e) => Check::fail("mailbox", &e.with_context("mailbox", self.mailbox.addr())),
        }
    }

    async fn check_test_mail(&self, to: &EmailAddress) -> Check {
        let msg = OutgoingMessage::builder()
            .to_all([to.clone()])
            .subject("G360 ERP: mensaje de prueba / test message")
            .text("Este es un mensaje de prueba de G360 ERP (verificación de la cuenta de Office 365).\r\n\r\nThis is a test message from G360 ERP (Office 365 account verification).")
            .header("X-G360-Verify", "1")
            .build();
        let msg = match msg {
            Ok(m) => m,
            Err(e) => return Check::fail("test-mail", &e),
        };
        let receipt = match self.send(&msg).await {
            Ok(r) => r,
            Err(e) => return Check::fail("test-mail", &e),
        };
        let imid = receipt.internet_message_id.clone();
        match self.await_in_sent(msg.uid(), &imid, self.client.retry.settle * 3).await {
            Ok(Some(_)) => {
                return Check::pass(
                    "test-mail",
                    format!("test mail sent to {} and found in Sent Items as {imid}", to.addr()),
                );
            }
            Ok(None) => {}
            Err(e) => {
                return Check::warn(
                    "test-mail",
                    e.code().unwrap_or("o365.sent-lookup-failed").to_owned(),
                    format!(
                        "test mail sent to {}, but Sent Items could not be searched: {e}",
                        to.addr()
                    ),
                    "grant Mail.Read (Application) so duplicate sends can be prevented after ambiguous answers",
                );
            }
        }
        Check::warn(
            "test-mail",
            "o365.test-mail-not-in-sent",
            format!(
                "test mail sent to {}, but not found in Sent Items by its id {imid}",
                to.addr()
            ),
            "check that the mail arrived and that Sent Items keeps a copy; look for a non-delivery report in the mailbox's Inbox",
        )
    }
}

/// Refuses ids Graph never hands out (they are URL-safe base64), so that an
/// id cannot change the request path.
fn check_id(what: &'static str, id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 2048
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_=+.".contains(&b))
        && id != "."
        && id != "..";
    if ok {
        return Ok(());
    }
    Err(own(ErrorKind::InvalidInput, "o365.invalid-id", format!("invalid {what} id"))
        .with_context("id", id.escape_debug())
        .with_remedy("pass an id exactly as a listing returned it"))
}

fn too_large(len: usize) -> Error {
    own(ErrorKind::Rejected, "o365.message-too-large", "the message is larger than the 4 MB Graph accepts in one request")
        .with_context("request_bytes", len)
        .with_context("sent", "no").with_context("delivered", "no").with_not_delivered()
        .with_remedy("send attachments of less than 3 MB in total (links instead of files), or grant the app Microsoft Graph Mail.ReadWrite (Application, with admin consent) so large attachments are uploaded separately")
}

fn not_delivered(e: Error) -> Error {
    if e.kind() == ErrorKind::OutcomeUnknown {
        e
    } else {
        e.with_context("sent", "no").with_context("delivered", "no").with_not_delivered()
    }
}

fn outcome_unknown(cause: Error, uid: MessageUid, imid: &str, reason: &str) -> Error {
    let cause_code = cause.code().unwrap_or(cause.kind().as_str()).to_owned();
    // Without Mail.Read the provider cannot look by itself; with it, the
    // lookup itself failed and a person has to look.
    let (code, remedy) = if reason.contains("Mail.Read") {
        (
            "o365.outcome-unknown-no-read",
            "look for the mail in the Sent Items of the mailbox before sending it again; grant Microsoft Graph Mail.Read (Application) so the provider can check by itself",
        )
    } else {
        (
            "o365.outcome-unknown",
            "look for the mail in the Sent Items of the mailbox before sending it again",
        )
    };
    let mut err = own(ErrorKind::OutcomeUnknown, code, "the mail may or may not have been sent")
        .with_remedy(remedy)
        .with_context("uid", uid)
        .with_context("internet_message_id", imid)
        .with_context("cause", cause_code)
        .with_context("reason", reason);
    if let Some(s) = cause.http_status() {
        err = err.with_http_status(s);
    }
    err.with_source(cause)
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

fn timestamp(s: Option<&str>) -> Option<Timestamp> {
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

#[async_trait]
impl MailProvider for O365Provider {
    fn provider_type(&self) -> &'static str {
        O365_PROVIDER_TYPE
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
        // The upload-session path takes up to Exchange's largest message; whether
        // it is open (Mail.ReadWrite) is known only from a token, so `send`
        // refuses a request over 4 MB without it, with the remedy.
        c.max_message_bytes = Some(MAX_MESSAGE_BYTES);
        c
    }

    async fn send(&self, message: &OutgoingMessage) -> Result<SendReceipt> {
        let uid = message.uid();
        let imid = self.internet_message_id(uid);
        // Over the request limit, the body is measured but never built.
        let body = match self.encode_send_mail(message, &imid, Some(MAX_REQUEST_BYTES))? {
            SendMailBody::Built(body) => body,
            SendMailBody::TooLarge(len) => {
                let token = self.client.token().await.map_err(not_delivered)?;
                if token.has_role("Mail.ReadWrite") == Some(true) {
                    tracing::info!(uid = %uid, bytes = len, "large message: sending through a draft and upload sessions");
                    return self.send_large(message, &imid).await;
                }
                return Err(too_large(len));
            }
        };
        let call = Call::post_json(self.client.send_mail.clone(), body, "the sendMail request");
        self.deliver(call, uid, &imid).await
    }

    async fn list_messages(&self, query: &MailboxQuery) -> Result<MessagePage> {
        query.validate()?;
        check_id("folder", query.folder.as_str())?;
        let url = match &query.continuation {
            Some(c) => self.client.own_link(c)?,
            None => {
                let mut url =
                    self.client.user_url(&["mailFolders", query.folder.as_str(), "messages"]);
                let mut pairs = vec![
                    ("$top", query.page_size.to_string()),
                    ("$select", LIST_SELECT.to_owned()),
                ];
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
        let page: GraphPage<GraphMessage> =
            self.client.get_json(&Call::get(url, "the message list")).await?;
        Ok(MessagePage::new(page.value.into_iter().map(to_received).collect(), page.next_link))
    }

    async fn get_message(&self, id: &str) -> Result<ReceivedMessage> {
        self.get_message_with(id, BodyFormat::Both).await
    }

    async fn raw_message(&self, id: &str) -> Result<Vec<u8>> {
        check_id("message", id)?;
        let url = self.client.user_url(&["messages", id, "$value"]);
        Ok(Vec::from(self.client.read(&Call::get(url, "the raw message")).await?.body))
    }

    async fn find_sent(&self, uid: MessageUid) -> Result<Option<SendReceipt>> {
        let imid = self.internet_message_id(uid);
        Ok(self.lookup_sent(uid, &imid).await?.map(|m| {
            let mut r =
                SendReceipt::new(O365_PROVIDER_TYPE, uid, m.internet_message_id.unwrap_or(imid));
            if let Some(at) = timestamp(m.sent_date_time.as_deref()) {
                r.accepted_at = at;
            }
            r.recovered = true;
            r
        }))
    }

    async fn verify(&self, options: &VerifyOptions) -> Result<VerifyReport> {
        const NAMES: [&str; 6] =
            ["configuration", "tenant", "token", "permissions", "mailbox", "test-mail"];
        let mut report = VerifyReport::new(O365_PROVIDER_TYPE);
        report.push(self.check_configuration());
        if !failed_of(&report) {
            report.push(self.check_tenant().await);
        }
        let mut token = None;
        if !failed_of(&report) {
            match self.client.tokens().fresh_token().await {
                Ok(t) => {
                    let app = t
                        .claims()
                        .and_then(|c| c.appid.clone().or_else(|| c.azp.clone()))
                        .unwrap_or_else(|| self.settings.client_id.clone());
                    report.push(Check::pass(
                        "token",
                        format!("the token endpoint issued an app-only token for app {app}"),
                    ));
                    token = Some(t);
                }
                Err(e) => {
                    report.push(Check::fail("token", &e));
                }
            }
        }
        if let Some(t) = &token
            && !failed_of(&report)
        {
            report.push(self.check_permissions(t));
        }
        if !failed_of(&report) {
            report.push(self.check_mailbox().await);
        }
        if !failed_of(&report) {
            match &options.send_test_to {
                Some(to) => {
                    report.push(self.check_test_mail(to).await);
                }
                None => {
                    let mut c = Check::skipped("test-mail");
                    c.detail = "not requested".into();
                    report.push(c);
                }
            }
        }
        for name in NAMES {
            if !report.checks.iter().any(|c| c.name == name) {
                report.push(Check::skipped(name));
            }
        }
        Ok(report)
    }
}

fn failed_of(report: &VerifyReport) -> bool {
    !report.passed()
}
