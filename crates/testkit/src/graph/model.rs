//! The directory and mailbox fixtures a test puts into the emulator:
//! tenants, app registrations, secrets, mailboxes and messages.

use std::fmt;

use jiff::{SignedDuration, Timestamp};

/// The Microsoft Graph resource as it appears in `scope` and in the token's `aud`.
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";

/// The application id of Microsoft Graph, also accepted as `scope` resource.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// The resource of Exchange Online (Office 365 Exchange Online), whose
/// `.default` scope gives app-only tokens for SMTP, IMAP and POP.
pub const EXCHANGE_RESOURCE: &str = "https://outlook.office365.com";

/// The application id of Office 365 Exchange Online, also accepted as
/// `scope` resource.
pub const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";

/// Exchange Online application role that allows SMTP `AUTH XOAUTH2` as any
/// mailbox the app's service principal was given.
pub const SMTP_SEND_AS_APP: &str = "SMTP.SendAsApp";

/// Application role that allows `sendMail` and sending drafts.
pub const MAIL_SEND: &str = "Mail.Send";
/// Application role that allows reading messages and attachments.
pub const MAIL_READ: &str = "Mail.Read";
/// Application role that allows drafts and upload sessions (and reading).
pub const MAIL_READ_WRITE: &str = "Mail.ReadWrite";

/// A directory (Entra tenant): its GUID and the verified domains by which it
/// can also be addressed in the token URL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tenant {
    /// Tenant (directory) id, a GUID in lowercase.
    pub id: String,
    /// Verified domains, e.g. `contoso.onmicrosoft.com`.
    pub domains: Vec<String>,
    /// `tenant_region_scope` of the discovery document (default `EU`).
    pub region_scope: String,
    /// `msgraph_host` of the discovery document (default `graph.microsoft.com`).
    pub msgraph_host: String,
}

impl Tenant {
    /// A tenant with the given id and no domains.
    pub fn new(id: impl Into<String>) -> Self {
        Tenant {
            id: id.into().to_ascii_lowercase(),
            domains: Vec::new(),
            region_scope: "EU".into(),
            msgraph_host: "graph.microsoft.com".into(),
        }
    }

    /// A tenant with a random GUID.
    pub fn random() -> Self {
        Tenant::new(uuid::Uuid::new_v4().to_string())
    }

    /// Adds a verified domain.
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domains.push(domain.into().to_ascii_lowercase());
        self
    }

    /// Sets the `msgraph_host` the discovery document reports.
    pub fn with_msgraph_host(mut self, host: impl Into<String>) -> Self {
        self.msgraph_host = host.into();
        self
    }
}

/// A client secret of an app registration: the portal's "Secret ID"
/// (`key_id`), the value shown once, and the expiry.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientSecret {
    /// The "Secret ID" GUID (`keyId`). Sending this instead of the value
    /// gives AADSTS7000215, as on Entra.
    pub key_id: String,
    /// The secret value the client must send as `client_secret`.
    pub value: String,
    /// When the secret stops working (AADSTS7000222 afterwards).
    pub expires_at: Timestamp,
}

impl ClientSecret {
    /// A secret with `value`, a random key id, valid for one year.
    pub fn new(value: impl Into<String>) -> Self {
        ClientSecret {
            key_id: uuid::Uuid::new_v4().to_string(),
            value: value.into(),
            expires_at: Timestamp::now() + SignedDuration::from_hours(24 * 365),
        }
    }

    /// A secret with `value` that expired a day ago.
    pub fn expired(value: impl Into<String>) -> Self {
        ClientSecret::new(value).with_expiry(Timestamp::now() - SignedDuration::from_hours(24))
    }

    /// Sets the expiry.
    pub fn with_expiry(mut self, expires_at: Timestamp) -> Self {
        self.expires_at = expires_at;
        self
    }

    /// Sets the key id ("Secret ID").
    pub fn with_key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = key_id.into();
        self
    }

    /// The `hint` Entra stores: the first three characters of the value.
    pub fn hint(&self) -> &str {
        let end = self.value.char_indices().nth(3).map_or(self.value.len(), |(i, _)| i);
        &self.value[..end]
    }
}

impl fmt::Debug for ClientSecret {
    /// Shows the key id, hint and expiry, never the value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSecret")
            .field("key_id", &self.key_id)
            .field("hint", &self.hint())
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Exchange "RBAC for Applications": a role granted to the app in Exchange,
/// not in Entra. It does not show in the token's `roles`, yet calls in scope
/// succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RbacGrant {
    /// The mail role, e.g. [`MAIL_SEND`] ("Application Mail.Send").
    pub role: String,
    /// Which mailboxes the grant covers.
    pub scope: RbacScope,
}

impl RbacGrant {
    /// A grant of `role` over `scope`.
    pub fn new(role: impl Into<String>, scope: RbacScope) -> Self {
        RbacGrant { role: role.into(), scope }
    }
}

/// The resource scope of an [`RbacGrant`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RbacScope {
    /// Every mailbox of the tenant.
    Organization,
    /// Only these mailboxes (addresses or UPNs).
    Mailboxes(Vec<String>),
}

/// An Exchange Application Access Policy on the app (`New-ApplicationAccessPolicy`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessPolicy {
    /// `-AccessRight RestrictAccess`: only these mailboxes are reachable.
    RestrictAccess(Vec<String>),
    /// `-AccessRight DenyAccess`: these mailboxes are not reachable.
    DenyAccess(Vec<String>),
}

/// An app registration with its service principal in one tenant.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct App {
    /// Application (client) id.
    pub client_id: String,
    /// Display name (`app_displayname` claim).
    pub display_name: String,
    /// Object id of the service principal (`oid`/`sub` claims).
    pub object_id: String,
    /// Client secrets.
    pub secrets: Vec<ClientSecret>,
    /// Uploaded certificates (client assertions signed with their keys).
    pub certificates: Vec<super::assertion::AppCertificate>,
    /// Application roles granted **with admin consent**; they go into the
    /// token's `roles`. Empty = no consent: the token has no `roles` claim.
    pub roles: Vec<String>,
    /// Application roles of Office 365 Exchange Online granted with admin
    /// consent (e.g. [`SMTP_SEND_AS_APP`]); they go into the `roles` of
    /// tokens for [`EXCHANGE_RESOURCE`].
    pub exchange_roles: Vec<String>,
    /// Exchange RBAC-for-Applications grants (not in the token).
    pub rbac: Vec<RbacGrant>,
    /// Application Access Policy, if any.
    pub access_policy: Option<AccessPolicy>,
    /// False = the app is disabled (AADSTS7000112).
    pub enabled: bool,
}

impl App {
    /// An enabled app with no secrets and no consented roles.
    pub fn new(client_id: impl Into<String>) -> Self {
        App {
            client_id: client_id.into().to_ascii_lowercase(),
            display_name: "G360 ERP Mail".into(),
            object_id: uuid::Uuid::new_v4().to_string(),
            secrets: Vec::new(),
            certificates: Vec::new(),
            roles: Vec::new(),
            exchange_roles: Vec::new(),
            rbac: Vec::new(),
            access_policy: None,
            enabled: true,
        }
    }

    /// An app with a random client id.
    pub fn random() -> Self {
        App::new(uuid::Uuid::new_v4().to_string())
    }

    /// Adds a client secret.
    pub fn with_secret(mut self, secret: ClientSecret) -> Self {
        self.secrets.push(secret);
        self
    }

    /// Uploads a certificate.
    pub fn with_certificate(mut self, certificate: super::assertion::AppCertificate) -> Self {
        self.certificates.push(certificate);
        self
    }

    /// Grants application roles with admin consent (e.g. [`MAIL_SEND`], [`MAIL_READ`]).
    pub fn with_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// Grants Exchange Online application roles with admin consent (e.g.
    /// [`SMTP_SEND_AS_APP`]).
    pub fn with_exchange_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exchange_roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// Sets the display name.
    pub fn with_display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = name.into();
        self
    }

    /// Adds an Exchange RBAC-for-Applications grant.
    pub fn with_rbac(mut self, grant: RbacGrant) -> Self {
        self.rbac.push(grant);
        self
    }

    /// Sets an Application Access Policy.
    pub fn with_access_policy(mut self, policy: AccessPolicy) -> Self {
        self.access_policy = Some(policy);
        self
    }

    /// Disables the app.
    pub fn disabled(mut self) -> Self {
        self.enabled = false;
        self
    }
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("client_id", &self.client_id)
            .field("display_name", &self.display_name)
            .field("secrets", &self.secrets)
            .field("certificates", &self.certificates)
            .field("roles", &self.roles)
            .field("rbac", &self.rbac)
            .field("access_policy", &self.access_policy)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// How Graph sees a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MailboxState {
    /// A licensed Exchange Online mailbox.
    #[default]
    Active,
    /// No EXO licence, guest, on-premises, soft-deleted: 404
    /// `MailboxNotEnabledForRESTAPI`.
    NotEnabledForRest,
    /// The user is known to the test but Graph does not resolve it: 404
    /// `ErrorInvalidUser` (as for an unknown address).
    Invalid,
}

/// A mailbox of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mailbox {
    /// Primary SMTP address (lowercase).
    pub address: String,
    /// User principal name; defaults to the address.
    pub upn: String,
    /// Extra SMTP addresses: they **receive** mail, but Graph does not resolve
    /// them in `/users/{id}` (404 `ErrorInvalidUser`), as with a real alias ≠ UPN.
    pub aliases: Vec<String>,
    /// Display name.
    pub display_name: String,
    /// Object id of the user (also accepted in `/users/{id}`).
    pub object_id: String,
    /// How Graph treats it.
    pub state: MailboxState,
    /// Addresses this mailbox may put in `from` (Send As); others give 403
    /// `ErrorSendAsDenied`.
    pub send_as: Vec<String>,
    /// Exchange `MaxSendSize` in bytes (default 35 MB).
    pub max_send_size: usize,
}

impl Mailbox {
    /// An active mailbox whose UPN is its address.
    pub fn new(address: impl Into<String>) -> Self {
        let address = address.into().to_ascii_lowercase();
        let display_name = address.split('@').next().unwrap_or_default().to_string();
        Mailbox {
            upn: address.clone(),
            address,
            aliases: Vec::new(),
            display_name,
            object_id: uuid::Uuid::new_v4().to_string(),
            state: MailboxState::Active,
            send_as: Vec::new(),
            max_send_size: 35 * 1024 * 1024,
        }
    }

    /// Sets the UPN (when it differs from the primary address).
    pub fn with_upn(mut self, upn: impl Into<String>) -> Self {
        self.upn = upn.into().to_ascii_lowercase();
        self
    }

    /// Adds a receiving alias.
    pub fn with_alias(mut self, alias: impl Into<String>) -> Self {
        self.aliases.push(alias.into().to_ascii_lowercase());
        self
    }

    /// Sets the display name.
    pub fn with_display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = name.into();
        self
    }

    /// Sets the state.
    pub fn with_state(mut self, state: MailboxState) -> Self {
        self.state = state;
        self
    }

    /// Grants Send As on `address`.
    pub fn with_send_as(mut self, address: impl Into<String>) -> Self {
        self.send_as.push(address.into().to_ascii_lowercase());
        self
    }

    /// Sets `MaxSendSize`.
    pub fn with_max_send_size(mut self, bytes: usize) -> Self {
        self.max_send_size = bytes;
        self
    }
}

/// An address with an optional display name (Graph `emailAddress`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EmailAddress {
    /// The address.
    pub address: String,
    /// The display name.
    pub name: Option<String>,
}

impl EmailAddress {
    /// An address without a name.
    pub fn new(address: impl Into<String>) -> Self {
        EmailAddress { address: address.into(), name: None }
    }

    /// An address with a display name.
    pub fn named(address: impl Into<String>, name: impl Into<String>) -> Self {
        EmailAddress { address: address.into(), name: Some(name.into()) }
    }
}

/// `text` or `html` (Graph `bodyType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyType {
    /// Plain text.
    Text,
    /// HTML (Graph's default when reading).
    #[default]
    Html,
}

impl BodyType {
    /// The Graph spelling: `text` / `html`.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyType::Text => "text",
            BodyType::Html => "html",
        }
    }
}

/// A message body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MessageBody {
    /// Text or HTML.
    pub content_type: BodyType,
    /// The content.
    pub content: String,
}

impl MessageBody {
    /// A body of the given type.
    pub fn new(content_type: BodyType, content: impl Into<String>) -> Self {
        MessageBody { content_type, content: content.into() }
    }
}

/// A file attachment as stored in a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileAttachment {
    /// Attachment id (assigned when stored if empty).
    pub id: String,
    /// Display name.
    pub name: String,
    /// MIME type.
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Inline (embedded image).
    pub is_inline: bool,
    /// CID of an inline attachment.
    pub content_id: Option<String>,
}

impl FileAttachment {
    /// A regular (not inline) attachment.
    pub fn new(name: impl Into<String>, content_type: impl Into<String>, bytes: Vec<u8>) -> Self {
        FileAttachment {
            id: String::new(),
            name: name.into(),
            content_type: content_type.into(),
            bytes,
            is_inline: false,
            content_id: None,
        }
    }

    /// Makes it inline with the given content id.
    pub fn inline(mut self, content_id: impl Into<String>) -> Self {
        self.is_inline = true;
        self.content_id = Some(content_id.into());
        self
    }
}

/// A message in a mailbox folder: what `sendMail` delivered or a test seeded.
///
/// Build one for [`GraphEmulator::seed_inbox`](super::GraphEmulator::seed_inbox)
/// with [`MailMessage::new`] and the `with_*` setters; ids, dates and the
/// `internetMessageId` are filled in when stored if left empty.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailMessage {
    /// Graph message id (changes on move, as on Graph).
    pub id: String,
    /// Immutable id, returned with `Prefer: IdType="ImmutableId"`.
    pub immutable_id: String,
    /// Well-known folder name: `inbox`, `sentitems`, `drafts`, ...
    pub folder: String,
    /// RFC 5322 Message-ID, with angle brackets.
    pub internet_message_id: String,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: MessageBody,
    /// `from`.
    pub from: Option<EmailAddress>,
    /// `sender`.
    pub sender: Option<EmailAddress>,
    /// `toRecipients`.
    pub to: Vec<EmailAddress>,
    /// `ccRecipients`.
    pub cc: Vec<EmailAddress>,
    /// `bccRecipients` (only on the sender's copy).
    pub bcc: Vec<EmailAddress>,
    /// `replyTo`.
    pub reply_to: Vec<EmailAddress>,
    /// `low`, `normal` or `high`.
    pub importance: String,
    /// `receivedDateTime`.
    pub received_at: Timestamp,
    /// `sentDateTime`.
    pub sent_at: Option<Timestamp>,
    /// `isRead`.
    pub is_read: bool,
    /// `isDraft`.
    pub is_draft: bool,
    /// `internetMessageHeaders` (the custom `X-` ones).
    pub headers: Vec<(String, String)>,
    /// `singleValueExtendedProperties`: (id, value).
    pub extended_properties: Vec<(String, String)>,
    /// File attachments.
    pub attachments: Vec<FileAttachment>,
    /// The raw MIME served by `$value`; generated from the fields when `None`.
    pub mime: Option<Vec<u8>>,
    /// `categories`.
    pub categories: Vec<String>,
    /// `conversationId` (assigned when stored if empty).
    pub conversation_id: String,
    /// Internal change counter, for delta queries.
    pub(crate) change_seq: u64,
}

impl Default for MailMessage {
    fn default() -> Self {
        MailMessage {
            id: String::new(),
            immutable_id: String::new(),
            folder: String::new(),
            internet_message_id: String::new(),
            subject: String::new(),
            body: MessageBody::default(),
            from: None,
            sender: None,
            to: Vec::new(),
            cc: Vec::new(),
            bcc: Vec::new(),
            reply_to: Vec::new(),
            importance: "normal".into(),
            received_at: Timestamp::now(),
            sent_at: None,
            is_read: false,
            is_draft: false,
            headers: Vec::new(),
            extended_properties: Vec::new(),
            attachments: Vec::new(),
            mime: None,
            categories: Vec::new(),
            conversation_id: String::new(),
            change_seq: 0,
        }
    }
}

impl MailMessage {
    /// A message with `subject`, an empty HTML body, received now, unread.
    pub fn new(subject: impl Into<String>) -> Self {
        MailMessage { subject: subject.into(), ..MailMessage::default() }
    }

    /// A message built from raw RFC 5322 bytes (parsed with mail-parser);
    /// `$value` returns exactly these bytes.
    pub fn from_mime(raw: &[u8]) -> Option<Self> {
        super::mime::parse(raw)
    }

    /// Sets `from` (and `sender`).
    pub fn with_from(mut self, from: EmailAddress) -> Self {
        self.sender = Some(from.clone());
        self.from = Some(from);
        self
    }

    /// Adds a `To` recipient.
    pub fn with_to(mut self, to: EmailAddress) -> Self {
        self.to.push(to);
        self
    }

    /// Adds a `Cc` recipient.
    pub fn with_cc(mut self, cc: EmailAddress) -> Self {
        self.cc.push(cc);
        self
    }

    /// Sets a plain-text body.
    pub fn with_text_body(mut self, text: impl Into<String>) -> Self {
        self.body = MessageBody::new(BodyType::Text, text);
        self
    }

    /// Sets an HTML body.
    pub fn with_html_body(mut self, html: impl Into<String>) -> Self {
        self.body = MessageBody::new(BodyType::Html, html);
        self
    }

    /// Sets `receivedDateTime` (and `sentDateTime` one second earlier).
    pub fn with_received_at(mut self, at: Timestamp) -> Self {
        self.received_at = at;
        self.sent_at = Some(at - SignedDuration::from_secs(1));
        self
    }

    /// Sets `isRead`.
    pub fn with_read(mut self, read: bool) -> Self {
        self.is_read = read;
        self
    }

    /// Sets `internetMessageId`.
    pub fn with_internet_message_id(mut self, id: impl Into<String>) -> Self {
        self.internet_message_id = id.into();
        self
    }

    /// Adds a custom Internet header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds a single-value extended property.
    pub fn with_extended_property(
        mut self,
        id: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.extended_properties.push((id.into(), value.into()));
        self
    }

    /// Adds an attachment.
    pub fn with_attachment(mut self, attachment: FileAttachment) -> Self {
        self.attachments.push(attachment);
        self
    }

    /// Sets `importance`.
    pub fn with_importance(mut self, importance: impl Into<String>) -> Self {
        self.importance = importance.into();
        self
    }

    /// `hasAttachments`: true when a non-inline attachment exists.
    pub fn has_attachments(&self) -> bool {
        self.attachments.iter().any(|a| !a.is_inline)
    }

    /// The value of the extended property `id` (case-insensitive id match).
    pub fn extended_property(&self, id: &str) -> Option<&str> {
        self.extended_properties
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(id))
            .map(|(_, v)| v.as_str())
    }
}
