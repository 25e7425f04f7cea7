//! Sending: `sendMail`, the draft and upload-session path for large
//! messages, and the Sent Items lookup that keeps an ambiguous send from
//! being delivered twice.

use std::time::Duration;

use g360_mail_core::{
    EmailAddress, Error, Importance, MessageUid, OutgoingMessage, Result, SendReceipt,
};
use reqwest::Method;
use tokio::time::Instant;
use url::Url;

use crate::O365_PROVIDER_TYPE;
use crate::body::SendMailBody;
use crate::client::{
    Body, Call, ErrorShape, MAX_JSON_BYTES, MAX_REQUEST_BYTES, Step, encode_query, odata_string,
};
use crate::error;
use crate::graph_model::{
    AttachmentItem, CreateUploadSession, CreatedItem, GraphBody, GraphEmailAddressOut,
    GraphExtendedProperty, GraphHeader, GraphMessage, GraphOutgoing, GraphPage, GraphRecipientOut,
    UploadSession,
};
use crate::provider::{O365Provider, UID_PROPERTY_ID};
use crate::read::timestamp;

/// Attachments of at least this size go through an upload session.
const UPLOAD_SESSION_MIN: usize = 3 * 1024 * 1024;
/// Bytes per `PUT` of an upload session (a multiple of 320 KiB, under 4 MB).
const UPLOAD_CHUNK: usize = 6 * 320 * 1024;

impl O365Provider {
    /// Sends `message` within the send deadline (`send_timeout_ms`).
    pub(crate) async fn send_message(&self, message: &OutgoingMessage) -> Result<SendReceipt> {
        let deadline = Instant::now()
            .checked_add(self.client.retry.send_timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
        let uid = message.uid();
        let imid = self.internet_message_id(uid);
        // Over the request limit, the body is measured but never built.
        let body = match self.encode_send_mail(message, &imid, Some(MAX_REQUEST_BYTES))? {
            SendMailBody::Built(body) => body,
            SendMailBody::TooLarge(len) => {
                let token = tokio::time::timeout_at(deadline, self.client.token())
                    .await
                    .unwrap_or_else(|_| Err(error::deadline_passed("the token request")))
                    .map_err(error::not_delivered)?;
                if token.has_role("Mail.ReadWrite") == Some(true) {
                    tracing::info!(uid = %uid, bytes = len, "large message: sending through a draft and upload sessions");
                    return self.send_large(message, &imid, deadline).await;
                }
                return Err(error::too_large(len));
            }
        };
        let call = Call::post_json(self.client.send_mail.clone(), body, "the sendMail request");
        let sent = self.deliver(&call, uid, &imid, deadline).await;
        // The request is over: its buffer serves the next large body.
        if let Some(Body::Json(body)) = call.body {
            self.client.buffers.give(body);
        }
        sent
    }

    /// The receipt of a mail found in Sent Items by its uid.
    pub(crate) async fn find_sent_receipt(&self, uid: MessageUid) -> Result<Option<SendReceipt>> {
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
                return Err(error::header_not_custom(h.name()));
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
        // A pool of its own: the body is the caller's, never handed back, so
        // it must not take a buffer from the sends' pool.
        let body = crate::body::send_mail(
            &self.graph_message(msg, &imid)?,
            msg.attachments(),
            None,
            &crate::body::BufferPool::default(),
        )?;
        match body {
            SendMailBody::Built(body) => Ok(body.into()),
            // Without a limit the body is always built.
            SendMailBody::TooLarge(len) => Err(error::too_large(len)),
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
        crate::body::send_mail(
            &self.graph_message(msg, imid)?,
            msg.attachments(),
            limit,
            &self.client.buffers,
        )
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

    /// The end of the attempts of a send ending at `deadline`: a quarter
    /// of the send's time stays for the look in Sent Items that an
    /// ambiguous outcome needs.
    fn attempts_end(&self, deadline: Instant) -> Instant {
        let reserve = self.client.retry.send_timeout / 4;
        deadline.checked_sub(reserve).unwrap_or(deadline)
    }

    /// Sends `call` (a `sendMail` or a draft's `send`) and never delivers the
    /// mail twice: see the crate docs, "Retries that never duplicate a mail".
    ///
    /// The retry driver resends only what surely was not accepted; after an
    /// ambiguous outcome (a timeout once the body was handed over, a 5xx or
    /// 429, a 2xx with `Retry-After`) the mail is looked up in Sent Items
    /// before anything else. Past `deadline` nothing is resent: a mail that
    /// may have gone out and cannot be found in time is an outcome unknown.
    async fn deliver(
        &self,
        call: &Call,
        uid: MessageUid,
        imid: &str,
        deadline: Instant,
    ) -> Result<SendReceipt> {
        let policy = &self.client.retry;
        let mut retry = policy.start(Some(self.attempts_end(deadline)));
        loop {
            let (ambiguous, token) = match self
                .client
                .drive(call, &mut retry)
                .await
                .map_err(error::not_delivered)?
            {
                Step::Done(a, token) => match a.retry_after() {
                    None => {
                        tracing::info!(uid = %uid, request_id = a.request_id.as_deref().unwrap_or(""), "mail accepted by Graph");
                        return Ok(self.receipt(uid, imid, Some(&a)));
                    }
                    Some(ra) => (error::accepted_with_retry_after(&a, ra), token),
                },
                Step::Ambiguous(e, token) => (e, token),
            };
            tracing::warn!(uid = %uid, attempt = retry.attempts(), code = ambiguous.code(), "ambiguous answer to a send; looking the mail up before any resend");
            if token.as_deref().is_some_and(|t| !self.can_read(t)) {
                return Err(error::outcome_unknown(
                    ambiguous,
                    uid,
                    imid,
                    "the app has no Mail.Read to look in Sent Items",
                ));
            }
            let started = Instant::now();
            let left = deadline.saturating_duration_since(started);
            let patience = policy.settle.min(left);
            let looked =
                tokio::time::timeout_at(deadline, self.await_in_sent(uid, imid, patience)).await;
            retry.count_waited(started.elapsed());
            match looked {
                Ok(Ok(Some(_))) => {
                    tracing::info!(uid = %uid, "the mail was found in Sent Items; not sending it again");
                    let mut r = self.receipt(uid, imid, None);
                    r.recovered = true;
                    return Ok(r);
                }
                Ok(Ok(None)) if patience < policy.settle => {
                    return Err(error::outcome_unknown(
                        ambiguous,
                        uid,
                        imid,
                        "the send deadline passed before the mail could settle in Sent Items",
                    ));
                }
                Ok(Ok(None)) => {}
                Ok(Err(e)) => {
                    let reason = format!(
                        "looking in Sent Items failed ({})",
                        e.code().unwrap_or(e.kind().as_str())
                    );
                    return Err(error::outcome_unknown(ambiguous, uid, imid, &reason));
                }
                Err(_) => {
                    return Err(error::outcome_unknown(
                        ambiguous,
                        uid,
                        imid,
                        "looking in Sent Items did not end before the send deadline",
                    ));
                }
            }
            // Not in Sent Items after settling: Graph did not take it. The
            // settle time counts towards the next delay.
            retry.pause(ambiguous, policy.settle).await.map_err(error::not_delivered)?;
        }
    }

    /// Looks our mail up in Sent Items until it shows up or `patience` has
    /// passed: at once, then every half second (Exchange files the Sent Items
    /// copy only once transport took the mail). `None` means it was not there
    /// for the whole time.
    pub(crate) async fn await_in_sent(
        &self,
        uid: MessageUid,
        imid: &str,
        patience: Duration,
    ) -> Result<Option<GraphMessage>> {
        let deadline = Instant::now().checked_add(patience);
        let step = patience.min(Duration::from_millis(500));
        loop {
            if let Some(found) = self.lookup_sent(uid, imid).await? {
                return Ok(Some(found));
            }
            let left =
                deadline.map_or(Duration::ZERO, |d| d.saturating_duration_since(Instant::now()));
            if left.is_zero() {
                return Ok(None);
            }
            tokio::time::sleep(step.min(left)).await;
        }
    }

    /// Looks our mail up in Sent Items: by Internet Message-ID, then by the
    /// extended property (in case Exchange rewrote the Message-ID).
    pub(crate) async fn lookup_sent(
        &self,
        uid: MessageUid,
        imid: &str,
    ) -> Result<Option<GraphMessage>> {
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
    async fn send_large(
        &self,
        msg: &OutgoingMessage,
        imid: &str,
        deadline: Instant,
    ) -> Result<SendReceipt> {
        let draft = self.graph_message(msg, imid)?;
        let json = serde_json::to_vec(&draft).map_err(error::encode)?;
        if json.len() > MAX_REQUEST_BYTES {
            return Err(error::too_large(json.len()));
        }
        let draft_end = self.attempts_end(deadline);
        let created = tokio::time::timeout_at(draft_end, async {
            let call =
                Call::post_json(self.client.user_url(&["messages"]), json, "the draft creation");
            self.client.run(&call).await?.json::<CreatedItem>("the draft creation")
        })
        .await
        .unwrap_or_else(|_| Err(error::deadline_passed("the draft creation")))
        .map_err(error::not_delivered)?;
        // Until the draft is sent, nothing goes out: the deadline ends here
        // with a certain "not delivered".
        let result = tokio::time::timeout_at(draft_end, async {
            for a in msg.attachments() {
                self.attach_to_draft(&created.id, a).await?;
            }
            Ok::<(), Error>(())
        })
        .await
        .unwrap_or_else(|_| Err(error::deadline_passed("the attachment upload")));
        if let Err(e) = result {
            self.delete_draft(&created.id).await;
            return Err(error::not_delivered(e));
        }
        let mut send = Call::post_json(
            self.client.user_url(&["messages", &created.id, "send"]),
            bytes::Bytes::new(),
            "the draft send",
        );
        send.body = None;
        self.deliver(&send, msg.uid(), imid, deadline).await
    }

    async fn attach_to_draft(&self, draft_id: &str, a: &g360_mail_core::Attachment) -> Result<()> {
        if a.bytes().len() < UPLOAD_SESSION_MIN {
            let json = crate::body::file_attachment(a)?;
            let url = self.client.user_url(&["messages", draft_id, "attachments"]);
            self.client.run(&Call::post_json(url, json, "the attachment upload")).await?;
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
        let json = serde_json::to_vec(&body).map_err(error::encode)?;
        let url =
            self.client.user_url(&["messages", draft_id, "attachments", "createUploadSession"]);
        let session: UploadSession = self
            .client
            .run(&Call::post_json(url, json, "the upload session"))
            .await?
            .json("the upload session")?;
        let upload = self.client.check_upload_url(&session.upload_url)?;
        let total = a.bytes().len();
        let mut start = 0;
        while start < total {
            let end = (start + UPLOAD_CHUNK).min(total);
            let range = format!("bytes {start}-{}/{total}", end - 1);
            let content_range =
                reqwest::header::HeaderValue::from_str(&range).map_err(error::encode)?;
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
                // A PUT of a byte range: the same bytes land in the same place.
                idempotent: true,
                max_body: MAX_JSON_BYTES,
                errors: ErrorShape::Graph,
                what: "the attachment upload",
            };
            self.client.run(&call).await?;
            start = end;
        }
        Ok(())
    }

    async fn delete_draft(&self, id: &str) {
        let mut call = Call::get(self.client.user_url(&["messages", id]), "the draft deletion");
        call.method = Method::DELETE;
        if let Err(e) = self.client.run(&call).await {
            tracing::warn!(code = e.code(), "could not delete the draft of a failed send");
        }
    }
}
