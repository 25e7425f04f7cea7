//! An in-process emulator of Microsoft identity (token endpoint, OpenID
//! discovery) and Microsoft Graph mail, for tests of the Office 365 provider,
//! the ERP bridge and the CLI.
//!
//! It follows `reference/graph-mail.md`: request and response shapes, status
//! codes, AADSTS and Graph error bodies, paging, throttling.
//!
//! # Quick start
//!
//! ```no_run
//! # async fn demo() {
//! use g360_mail_testkit::graph::{GraphEmulator, MailMessage, EmailAddress};
//!
//! let emu = GraphEmulator::start().await;
//! let setup = emu.quick_setup(&["erp@contoso.example", "ap@contoso.example"]);
//! // Configure the provider with:
//! //   authority_url = graph_url = emu.url(), allow_insecure_http = true,
//! //   tenant_id = setup.tenant_id, client_id = setup.client_id,
//! //   client secret = setup.secret.
//! emu.seed_inbox("erp@contoso.example", [MailMessage::new("PO 7781")
//!     .with_from(EmailAddress::new("buyer@supplier.example"))
//!     .with_text_body("Please confirm.")]);
//! // ... run the code under test, then assert:
//! assert_eq!(emu.inbox("ap@contoso.example").len(), 0);
//! assert!(emu.max_concurrency("erp@contoso.example") <= 4);
//! # }
//! ```
//!
//! # How the provider reaches it
//!
//! One HTTP listener on `127.0.0.1:PORT` serves both hosts; only paths differ:
//!
//! | Real | Emulator |
//! | --- | --- |
//! | `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token` | `{url}/{tenant}/oauth2/v2.0/token` |
//! | `https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration` | `{url}/{tenant}/v2.0/.well-known/openid-configuration` |
//! | `https://graph.microsoft.com/v1.0/users/{id}/...` | `{url}/v1.0/users/{id}/...` |
//!
//! So the provider is configured with `authority_url = graph_url =
//! emulator.url()` and `allow_insecure_http = true` (plain HTTP on loopback).
//! The `scope` stays `https://graph.microsoft.com/.default` (also accepted:
//! `{url}/.default` and `00000003-0000-0000-c000-000000000000/.default`); the
//! token's `aud` is `https://graph.microsoft.com`. The TOML for the CLI:
//!
//! ```toml
//! [[integrations]]
//! id = "o365"
//! provider = "office365"
//! tenant_id = "<tenant GUID>"
//! client_id = "<client GUID>"
//! authority_url = "http://127.0.0.1:PORT"
//! graph_url = "http://127.0.0.1:PORT"
//! allow_insecure_http = true
//!
//! [[accounts]]
//! user = "erp"
//! provider = "office365"
//! integration = "o365"
//! address = "erp@contoso.example"
//! secret = "<the emulator's test secret>"
//! ```
//!
//! The standalone binary prints exactly this:
//! `cargo run -p g360-mail-testkit --bin graph-emulator -- --mailbox erp@contoso.example`.
//!
//! # What is emulated
//!
//! - **Token endpoint** (§1): form or HTTP Basic client authentication;
//!   AADSTS errors 90002, 900023, 900144, 7000218, 700016, 7000215 (also for
//!   the Secret ID sent as value), 7000222, 7000112, 1002012, 70011, 700022,
//!   500011, 70003 (unsupported grant type), 9001023 (`/common`,
//!   `/organizations`, `/consumers`), with `error`, `error_description`
//!   (`AADSTSnnnnn: ...\r\nTrace ID: ...\r\nCorrelation ID: ...\r\nTimestamp: ...`),
//!   `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`.
//!   `invalid_client` answers 401, the rest 400.
//! - **Access tokens** (§2): JWT-shaped (`header.payload.signature`,
//!   base64url), payload with `aud`, `iss`, `iat`, `nbf`, `exp`,
//!   `app_displayname`, `appid`, `appidacr` ("1" after a client secret, "2"
//!   after a certificate's assertion, as Microsoft's
//!   [access token reference](https://learn.microsoft.com/entra/identity-platform/access-tokens)
//!   gives for v1.0 tokens), `idp`, `idtyp: "app"`, `oid`,
//!   `sub`, `roles` (only when consented), `tid`, `uti`, `ver: "1.0"`. The
//!   signature is random bytes: nobody can verify it, as clients cannot
//!   verify real Graph tokens either.
//! - **OpenID discovery** (§1.1): `token_endpoint`, `issuer`,
//!   `cloud_instance_name`, `msgraph_host`, `tenant_region_scope`, ...;
//!   unknown tenant → 400 `invalid_tenant` AADSTS90002.
//! - **Graph auth**: missing, garbage, expired or revoked bearer → 401
//!   `InvalidAuthenticationToken`; role missing → 403 `ErrorAccessDenied`
//!   (or 401 `NoPermissionsInAccessToken` with
//!   [`EmulatorOptions::no_roles_answers_401`]); Application Access Policy →
//!   403 "Access to OData is disabled."; unknown mailbox or alias → 404
//!   `ErrorInvalidUser`; no EXO mailbox → 404 `MailboxNotEnabledForRESTAPI`;
//!   `/me` → 400; `GET /users/{id}` → 403 `Authorization_RequestDenied`.
//! - **Sending** (§3): `sendMail` JSON (validation: unknown properties,
//!   recipients, `X-` headers, `from` without Send As, attachments, 4 MB) and
//!   MIME; 202 empty body with `request-id`/`client-request-id`; copies into
//!   the sender's Sent Items and every emulated recipient's Inbox (by address
//!   or alias). Drafts, attachments on drafts, upload sessions (PUT ranges to
//!   an emulator URL without `Authorization`), and `/send` of a draft.
//! - **Reading** (§4): folders by well-known name or id, list with `$top`
//!   (default 10, 1–1000), `$select`, `$filter` (see below), `$orderby`
//!   (`receivedDateTime desc|asc`), `$expand` of extended properties,
//!   `@odata.nextLink` with an opaque `$skiptoken`; one message with
//!   `Prefer: outlook.body-content-type` (answered with `Preference-Applied`);
//!   `$value` MIME; attachments; delta with `@odata.nextLink` /
//!   `@odata.deltaLink`, `@removed`, and 410 `syncStateNotFound` for stale
//!   or invalidated tokens; `Prefer: IdType="ImmutableId"`.
//! - **`$filter`**: `isRead eq true|false`, `hasAttachments eq true|false`,
//!   `receivedDateTime ge|gt|le|lt <ISO date>`, `internetMessageId eq '...'`,
//!   `singleValueExtendedProperties/Any(ep: ep/id eq '...' and ep/value eq '...')`,
//!   joined with `and`. Anything else → 400 `BadRequest` "Invalid filter
//!   clause". With `$orderby`, the ordered property must come first in the
//!   filter, else 400 `InefficientFilter` (§4.2).
//! - **Throttling and faults** (§6): optional built-in MailboxConcurrency
//!   limit (429 + `Retry-After`), and scripted [`Fault`]s.
//!
//! Not emulated: reply/replyAll/forward, PATCH/move/delete, `$search`,
//! `$batch`, change notifications, certificate credentials, national clouds
//! (one listener answers for one cloud), per-day sending limits.

mod assertion;
mod fault;
mod handlers;
mod identity;
mod mail;
mod mime;
mod model;
mod ndr;
mod odata;
mod record;
mod server;
mod state;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use assertion::{ALLOWED_SKEW_SECS, AppCertificate};
pub use fault::{Endpoint, Fault, FaultMatch, ScriptedFault};
pub use model::{
    AccessPolicy, App, BodyType, ClientSecret, EXCHANGE_APP_ID, EXCHANGE_RESOURCE, EmailAddress,
    FileAttachment, GRAPH_APP_ID, GRAPH_RESOURCE, MAIL_READ, MAIL_READ_WRITE, MAIL_SEND,
    MailMessage, Mailbox, MailboxState, MessageBody, RbacGrant, RbacScope, SMTP_SEND_AS_APP,
    Tenant,
};
pub use ndr::{Bounce, DELAYED_CLASS, MESSAGE_CLASS_PROPERTY, NDR_CLASS};
pub use record::{Delivery, RECORDED_HEADERS, RequestRecord, SendVia};

use state::State;

/// Behaviour switches of the emulator. Change them with
/// [`GraphEmulator::configure`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EmulatorOptions {
    /// `expires_in` of issued tokens and their `exp` (default 3599 s).
    pub token_lifetime: Duration,
    /// `ext_expires_in` (default 3599 s).
    pub ext_expires_in: Duration,
    /// `refresh_in`, sent only when set (MSAL honours it; Entra sends it for
    /// long-lived tokens).
    pub refresh_in: Option<Duration>,
    /// Built-in throttling: more than this many concurrent requests per
    /// (app, mailbox) → 429 `ApplicationThrottled` "Application is over its
    /// MailboxConcurrency limit.". `None` (default) = off; Graph's limit is 4.
    pub concurrency_limit: Option<usize>,
    /// `Retry-After` seconds of the built-in throttling answer (default 1).
    pub throttle_retry_after: u64,
    /// Keep the client's `internetMessageId` on sent mail (default true).
    /// False models a tenant that overwrites it (reference §10.1).
    pub preserve_internet_message_id: bool,
    /// Largest accepted request body (default 4 MB = 4,194,304 bytes).
    pub max_request_bytes: usize,
    /// Status of the "The maximum request length supported is 4MB." answer:
    /// 400 (default, documented) or 413 (observed).
    pub oversize_status: u16,
    /// Page size without `$top` (default 10).
    pub default_page_size: usize,
    /// Largest `$top` (default 1000).
    pub max_page_size: usize,
    /// Most To+Cc+Bcc recipients per message (default 500).
    pub max_recipients: usize,
    /// Answer calls with a role-less token by 401 `NoPermissionsInAccessToken`
    /// instead of 403 `ErrorAccessDenied` (default false).
    pub no_roles_answers_401: bool,
    /// Enforce the `$orderby`-vs-`$filter` rule (`InefficientFilter`), default true.
    pub enforce_inefficient_filter: bool,
    /// Lifetime of upload sessions (default 15 minutes).
    pub upload_session_lifetime: Duration,
    /// How many seconds the emulator's clock is ahead of the client's when
    /// it checks a client assertion's `nbf`/`exp` (default 0; negative =
    /// behind), to model a server whose clock is wrong.
    pub clock_offset_secs: i64,
    /// Addresses (lowercase) whose mail bounces: a non-delivery or delay
    /// report arrives in the sender's Inbox after the send (default none).
    pub bounces: BTreeMap<String, Bounce>,
    /// Write a non-delivery report (`5.1.10`) for recipients in a tenant's
    /// domains without an active mailbox, as Exchange Online does (default true).
    pub ndr_for_unknown_recipients: bool,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            token_lifetime: Duration::from_secs(3599),
            ext_expires_in: Duration::from_secs(3599),
            refresh_in: None,
            concurrency_limit: None,
            throttle_retry_after: 1,
            preserve_internet_message_id: true,
            max_request_bytes: 4 * 1024 * 1024,
            oversize_status: 400,
            default_page_size: 10,
            max_page_size: 1000,
            max_recipients: 500,
            no_roles_answers_401: false,
            enforce_inefficient_filter: true,
            upload_session_lifetime: Duration::from_secs(15 * 60),
            clock_offset_secs: 0,
            bounces: BTreeMap::new(),
            ndr_for_unknown_recipients: true,
        }
    }
}

/// The identifiers [`GraphEmulator::quick_setup`] created.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QuickSetup {
    /// Tenant GUID.
    pub tenant_id: String,
    /// Verified domain of the tenant (`contoso.onmicrosoft.com`).
    pub domain: String,
    /// Client id of the app (roles `Mail.Send` + `Mail.Read`, consented).
    pub client_id: String,
    /// The secret value (a test fixture, never a real secret).
    pub secret: String,
    /// The secret's key id ("Secret ID").
    pub secret_key_id: String,
    /// The mailboxes, primary addresses.
    pub mailboxes: Vec<String>,
}

impl std::fmt::Debug for QuickSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuickSetup")
            .field("tenant_id", &self.tenant_id)
            .field("domain", &self.domain)
            .field("client_id", &self.client_id)
            .field("secret_key_id", &self.secret_key_id)
            .field("mailboxes", &self.mailboxes)
            .finish_non_exhaustive()
    }
}

impl QuickSetup {
    /// Describes an existing tenant, app client id, secret and mailboxes
    /// (for callers that built them by hand, like the standalone binary).
    pub fn new(
        tenant: &Tenant,
        client_id: impl Into<String>,
        secret: &ClientSecret,
        mailboxes: Vec<String>,
    ) -> Self {
        QuickSetup {
            tenant_id: tenant.id.clone(),
            domain: tenant.domains.first().cloned().unwrap_or_default(),
            client_id: client_id.into(),
            secret: secret.value.clone(),
            secret_key_id: secret.key_id.clone(),
            mailboxes,
        }
    }

    /// A g360-mail TOML configuration for this setup, pointing at `url`:
    /// one `office365` integration and one account per mailbox (user = the
    /// local part), each carrying the emulator's test secret.
    pub fn toml_config(&self, url: &str) -> String {
        let mut out = format!(
            "[[integrations]]\nid = \"o365\"\nprovider = \"office365\"\n\
             description = \"Graph emulator at {url}\"\n\
             tenant_id = \"{}\"\nclient_id = \"{}\"\n\
             authority_url = \"{url}\"\ngraph_url = \"{url}\"\nallow_insecure_http = true\n",
            self.tenant_id, self.client_id
        );
        for mailbox in &self.mailboxes {
            let user = mailbox.split('@').next().unwrap_or(mailbox);
            out.push_str(&format!(
                "\n[[accounts]]\nuser = \"{user}\"\nprovider = \"office365\"\nintegration = \"o365\"\n\
                 address = \"{mailbox}\"\nsecret = \"{}\"\n",
                self.secret
            ));
        }
        out
    }
}

pub(crate) struct Shared {
    pub(crate) base_url: String,
    state: Mutex<State>,
}

impl Shared {
    /// Locks the state; a panic in another test thread does not poison it
    /// for the rest of the run.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running emulator. The server stops when this value is dropped.
///
/// All methods take `&self`: the state sits behind a mutex, so a test can
/// keep inspecting and changing it while requests run.
pub struct GraphEmulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for GraphEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphEmulator").field("url", &self.shared.base_url).finish_non_exhaustive()
    }
}

impl Drop for GraphEmulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GraphEmulator {
    /// Starts an empty emulator on `127.0.0.1` with a free port.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound (test helper).
    pub async fn start() -> GraphEmulator {
        GraphEmulator::start_on(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind the graph emulator on 127.0.0.1")
    }

    /// Starts an empty emulator on `addr` (the binary's `--port`).
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<GraphEmulator> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let shared = Arc::new(Shared { base_url, state: Mutex::new(State::default()) });
        let app = handlers::router(shared.clone());
        let listener = server::CuttableListener::new(listener);
        let task = tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<server::ConnHandle>();
            if let Err(e) = axum::serve(listener, service).await {
                tracing::warn!("graph emulator stopped: {e}");
            }
        });
        Ok(GraphEmulator { shared, addr, task })
    }

    /// `http://127.0.0.1:PORT`, without trailing slash: the authority URL and
    /// the Graph URL.
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes behaviour switches.
    pub fn configure(&self, f: impl FnOnce(&mut EmulatorOptions)) {
        f(&mut self.shared.lock().options);
    }

    /// The current behaviour switches.
    pub fn options(&self) -> EmulatorOptions {
        self.shared.lock().options.clone()
    }

    // --- Directory -------------------------------------------------------

    /// Adds (or replaces) a tenant.
    pub fn add_tenant(&self, tenant: Tenant) {
        self.shared.lock().add_tenant(tenant);
    }

    /// Adds (or replaces, by client id) an app registration in a tenant.
    ///
    /// # Panics
    ///
    /// When the tenant is unknown.
    pub fn add_app(&self, tenant_id: &str, app: App) {
        self.shared.lock().add_app(tenant_id, app);
    }

    /// Adds (or replaces, by address) a mailbox in a tenant.
    ///
    /// # Panics
    ///
    /// When the tenant is unknown.
    pub fn add_mailbox(&self, tenant_id: &str, mailbox: Mailbox) {
        self.shared.lock().add_mailbox(tenant_id, mailbox);
    }

    /// Changes an app in place (secrets, roles, policy). Tokens already
    /// issued keep the roles they were issued with, as on Entra.
    ///
    /// # Panics
    ///
    /// When no tenant has an app with this client id.
    pub fn update_app(&self, client_id: &str, f: impl FnOnce(&mut App)) {
        let mut state = self.shared.lock();
        let app = state.app_mut(client_id).expect("update_app: unknown client id");
        f(app);
    }

    /// Changes a mailbox in place (state, Send As, limits).
    ///
    /// # Panics
    ///
    /// When no tenant has a mailbox with this address.
    pub fn update_mailbox(&self, address: &str, f: impl FnOnce(&mut Mailbox)) {
        let mut state = self.shared.lock();
        let entry = state.mailbox_by_address_mut(address).expect("update_mailbox: unknown mailbox");
        f(&mut entry.mailbox);
    }

    /// One tenant (`contoso.onmicrosoft.com` plus the domains of the
    /// mailboxes), one app with roles `Mail.Send` and `Mail.Read` consented
    /// and one valid secret, and the given mailboxes.
    pub fn quick_setup(&self, mailboxes: &[&str]) -> QuickSetup {
        let mut tenant = Tenant::random().with_domain("contoso.onmicrosoft.com");
        for m in mailboxes {
            if let Some((_, domain)) = m.rsplit_once('@') {
                let domain = domain.to_ascii_lowercase();
                if !tenant.domains.contains(&domain) {
                    tenant = tenant.with_domain(domain);
                }
            }
        }
        let secret = ClientSecret::new(state::random_secret_value());
        let app = App::random().with_secret(secret.clone()).with_roles([MAIL_SEND, MAIL_READ]);
        let setup = QuickSetup {
            tenant_id: tenant.id.clone(),
            domain: "contoso.onmicrosoft.com".into(),
            client_id: app.client_id.clone(),
            secret: secret.value.clone(),
            secret_key_id: secret.key_id.clone(),
            mailboxes: mailboxes.iter().map(|m| m.to_ascii_lowercase()).collect(),
        };
        let tenant_id = tenant.id.clone();
        self.add_tenant(tenant);
        self.add_app(&tenant_id, app);
        for m in mailboxes {
            self.add_mailbox(&tenant_id, Mailbox::new(*m));
        }
        setup
    }

    // --- Tokens ----------------------------------------------------------

    /// Makes every token issued so far invalid, as a revocation does: the
    /// next Graph call answers 401 `InvalidAuthenticationToken`
    /// ("Continuous access evaluation resulted in challenge ...").
    pub fn revoke_all_tokens(&self) {
        self.shared.lock().revoke_all_tokens();
    }

    /// Makes every token issued so far expired (401
    /// `InvalidAuthenticationToken` "Access token has expired or is not yet valid.").
    pub fn expire_all_tokens(&self) {
        self.shared.lock().expire_all_tokens();
    }

    /// Requests made to the token endpoint (successful or not).
    pub fn token_requests(&self) -> usize {
        self.shared.lock().token_requests
    }

    /// Tokens issued.
    pub fn tokens_issued(&self) -> usize {
        self.shared.lock().tokens_issued
    }

    // --- Faults ----------------------------------------------------------

    /// Queues a fault for the next `times` requests matching `when`. Faults
    /// are tried in the order queued; the first match applies.
    pub fn push_fault(&self, when: FaultMatch, fault: Fault, times: usize) {
        self.shared.lock().faults.push(ScriptedFault { when, fault, remaining: Some(times) });
    }

    /// Queues a fault for every request matching `when`, until cleared.
    pub fn push_fault_always(&self, when: FaultMatch, fault: Fault) {
        self.shared.lock().faults.push(ScriptedFault { when, fault, remaining: None });
    }

    /// The faults still queued.
    pub fn pending_faults(&self) -> Vec<ScriptedFault> {
        self.shared.lock().faults.clone()
    }

    /// Removes every queued fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    // --- Mailbox contents ------------------------------------------------

    /// Puts messages into a mailbox's Inbox; returns their ids.
    ///
    /// # Panics
    ///
    /// When the mailbox is unknown.
    pub fn seed_inbox(
        &self,
        address: &str,
        messages: impl IntoIterator<Item = MailMessage>,
    ) -> Vec<String> {
        self.seed_folder(address, "inbox", messages)
    }

    /// Puts messages into a folder (`inbox`, `sentitems`, `drafts`,
    /// `deleteditems`, `junkemail`, `archive`); returns their ids.
    ///
    /// # Panics
    ///
    /// When the mailbox or folder is unknown.
    pub fn seed_folder(
        &self,
        address: &str,
        folder: &str,
        messages: impl IntoIterator<Item = MailMessage>,
    ) -> Vec<String> {
        let mut state = self.shared.lock();
        messages
            .into_iter()
            .map(|m| state.store(address, folder, m).expect("seed: unknown mailbox or folder"))
            .collect()
    }

    /// Removes a message (delta then reports it `@removed`). Returns whether it existed.
    pub fn delete_message(&self, address: &str, id: &str) -> bool {
        self.shared.lock().delete_message(address, id)
    }

    /// Marks a message read or unread (as another client would).
    pub fn set_read(&self, address: &str, id: &str, read: bool) -> bool {
        self.shared.lock().set_read(address, id, read)
    }

    /// Messages of a mailbox folder, newest first; empty for unknown ones.
    pub fn folder(&self, address: &str, folder: &str) -> Vec<MailMessage> {
        let mut st = self.shared.lock();
        ndr::release_due(&mut st);
        st.folder_messages(address, folder)
    }

    /// The Inbox of a mailbox, newest first.
    pub fn inbox(&self, address: &str) -> Vec<MailMessage> {
        self.folder(address, "inbox")
    }

    /// The Sent Items of a mailbox, newest first.
    pub fn sent_items(&self, address: &str) -> Vec<MailMessage> {
        self.folder(address, "sentitems")
    }

    /// The Drafts of a mailbox, newest first.
    pub fn drafts(&self, address: &str) -> Vec<MailMessage> {
        self.folder(address, "drafts")
    }

    /// Makes every delta token of every mailbox stale (next use → 410
    /// `syncStateNotFound`).
    pub fn invalidate_delta_tokens(&self) {
        self.shared.lock().delta_tokens.clear();
    }

    // --- Records ---------------------------------------------------------

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().requests.clone()
    }

    /// The requests to one endpoint kind.
    pub fn requests_to(&self, endpoint: Endpoint) -> Vec<RequestRecord> {
        self.shared.lock().requests.iter().filter(|r| r.endpoint == endpoint).cloned().collect()
    }

    /// Every accepted submission (`sendMail`, draft `/send`), in order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.lock().deliveries.clone()
    }

    /// How many accepted submissions carried this `internetMessageId`
    /// (the one the client asked for, or the one assigned). Proves "exactly once".
    pub fn count_sent_with_internet_message_id(&self, id: &str) -> usize {
        self.shared
            .lock()
            .deliveries
            .iter()
            .filter(|d| {
                d.internet_message_id == id
                    || d.requested_internet_message_id.as_deref() == Some(id)
            })
            .count()
    }

    /// The highest number of concurrent Graph requests seen for a mailbox
    /// (by primary address, or as written in the URL when unknown).
    pub fn max_concurrency(&self, address: &str) -> usize {
        let state = self.shared.lock();
        let key = state.mailbox_key(address);
        state.max_concurrency.get(&key).copied().unwrap_or(0)
    }

    /// [`max_concurrency`](Self::max_concurrency) of every mailbox seen.
    pub fn max_concurrency_all(&self) -> BTreeMap<String, usize> {
        self.shared.lock().max_concurrency.clone()
    }

    /// Forgets recorded requests, deliveries, counters and concurrency maxima
    /// (not the mailboxes' contents).
    pub fn reset_records(&self) {
        self.shared.lock().reset_records();
    }
}
