//! [`O365Provider`]: [`MailProvider`] over Microsoft Graph for one mailbox.
//! The operations live in `send.rs`, `read.rs` and `verify.rs`.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use g360_mail_core::{
    Capabilities, Check, EmailAddress, MAX_MESSAGE_BYTES, MailProvider, MailboxQuery, MessagePage,
    MessageUid, OutgoingMessage, ReceivedMessage, ReportPage, ReportQuery, Result, SendReceipt,
    VerifyOptions, VerifyReport,
};
use url::Url;

use crate::O365_PROVIDER_TYPE;
use crate::auth::AccessToken;
use crate::client::GraphClient;
use crate::config::{O365Settings, is_guid};
use crate::verify::Expiry;

/// The single-value extended property that carries our uid on every sent
/// mail, in a GUID namespace of g360-mail. Filterable in Sent Items.
pub const UID_PROPERTY_ID: &str = "String {6f1c9a52-3b7e-4d8a-9c21-5e0b7d4a8f13} Name G360MailUid";

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
    /// The HTML body and its plain-text rendering: two requests whenever
    /// Graph answers with HTML, which it does for plain-text mail too (it
    /// converts the body to the `Prefer`red format).
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

    pub(crate) fn can_read(&self, token: &AccessToken) -> bool {
        self.settings.rbac_for_applications
            || token.has_role("Mail.Read") != Some(false)
            || token.has_role("Mail.ReadWrite") == Some(true)
    }
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
        c.delivery_reports = true;
        // The upload-session path takes up to Exchange's largest message; whether
        // it is open (Mail.ReadWrite) is known only from a token, so `send`
        // refuses a request over 4 MB without it, with the remedy.
        c.max_message_bytes = Some(MAX_MESSAGE_BYTES);
        c
    }

    async fn send(&self, message: &OutgoingMessage) -> Result<SendReceipt> {
        let mut receipt = self.send_message(message).await?;
        // Mail keeps going near or past a credential's date (the date may be
        // wrong); the receipt carries the warning, the log says it once a day.
        let now = jiff::Timestamp::now();
        let warning = match self.expiry("credential", now) {
            Expiry::Far => None,
            Expiry::Soon(w) => Some(w),
            Expiry::Passed(e) => Some(Check::warn(
                "credential",
                e.code().unwrap_or("o365.credential-expired"),
                e.message(),
                e.remedy().unwrap_or_default(),
            )),
        };
        if let Some(w) = warning {
            if self.client.tokens().expiry_log_due(now) {
                tracing::warn!(
                    client_id = %self.settings.client_id,
                    code = w.code.as_deref().unwrap_or_default(),
                    detail = %w.detail,
                    "the app's credential expires soon or has expired"
                );
            }
            receipt.warnings.push(w);
        }
        Ok(receipt)
    }

    async fn list_messages(&self, query: &MailboxQuery) -> Result<MessagePage> {
        self.list_page(query).await
    }

    async fn get_message(&self, id: &str) -> Result<ReceivedMessage> {
        self.get_message_with(id, BodyFormat::Both).await
    }

    async fn raw_message(&self, id: &str) -> Result<Vec<u8>> {
        self.raw(id).await
    }

    async fn list_delivery_reports(&self, query: &ReportQuery) -> Result<ReportPage> {
        self.reports_page(query).await
    }

    async fn find_sent(&self, uid: MessageUid) -> Result<Option<SendReceipt>> {
        self.find_sent_receipt(uid).await
    }

    async fn verify(&self, options: &VerifyOptions) -> Result<VerifyReport> {
        self.verify_all(options).await
    }
}
