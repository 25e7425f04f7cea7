//! The emulator's mutable state: directory, tokens, mailboxes, records.

use std::collections::{BTreeMap, HashMap, HashSet};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use jiff::Timestamp;
use rand::Rng as _;

use super::EmulatorOptions;
use super::fault::ScriptedFault;
use super::model::{App, MailMessage, Mailbox, Tenant};
use super::record::{Delivery, RequestRecord};

/// Well-known folder names and their display names.
pub(crate) const FOLDERS: &[(&str, &str)] = &[
    ("inbox", "Inbox"),
    ("sentitems", "Sent Items"),
    ("drafts", "Drafts"),
    ("deleteditems", "Deleted Items"),
    ("junkemail", "Junk Email"),
    ("archive", "Archive"),
    ("outbox", "Outbox"),
];

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) options: EmulatorOptions,
    pub(crate) tenants: Vec<TenantEntry>,
    pub(crate) tokens: HashMap<String, IssuedToken>,
    /// `client id \0 jti` of every client assertion accepted.
    pub(crate) assertion_ids: HashSet<String>,
    pub(crate) faults: Vec<ScriptedFault>,
    pub(crate) requests: Vec<RequestRecord>,
    pub(crate) token_requests: usize,
    pub(crate) tokens_issued: usize,
    /// In-flight Graph requests per mailbox key.
    pub(crate) inflight: HashMap<String, usize>,
    /// In-flight Graph requests per (client id, mailbox key).
    pub(crate) inflight_app: HashMap<(String, String), usize>,
    pub(crate) max_concurrency: BTreeMap<String, usize>,
    pub(crate) deliveries: Vec<Delivery>,
    pub(crate) next_request_seq: u64,
    pub(crate) change_seq: u64,
    pub(crate) delta_tokens: HashMap<String, DeltaState>,
    pub(crate) upload_sessions: HashMap<String, UploadSession>,
    /// Delivery reports not yet arrived (`Bounce::delay`).
    pub(crate) pending_reports: Vec<super::ndr::PendingReport>,
}

#[derive(Debug)]
pub(crate) struct TenantEntry {
    pub(crate) tenant: Tenant,
    pub(crate) apps: Vec<App>,
    pub(crate) mailboxes: Vec<MailboxEntry>,
}

#[derive(Debug)]
pub(crate) struct MailboxEntry {
    pub(crate) mailbox: Mailbox,
    pub(crate) tenant_id: String,
    pub(crate) messages: Vec<MailMessage>,
    pub(crate) removed: Vec<Removed>,
}

/// A message that left a folder, for delta `@removed`.
#[derive(Debug, Clone)]
pub(crate) struct Removed {
    pub(crate) folder: String,
    pub(crate) id: String,
    pub(crate) immutable_id: String,
    pub(crate) seq: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    pub(crate) tenant_id: String,
    pub(crate) client_id: String,
    pub(crate) roles: Vec<String>,
    pub(crate) expires_at: Timestamp,
    pub(crate) revoked: bool,
}

/// What a `$deltatoken` stands for.
#[derive(Debug, Clone)]
pub(crate) struct DeltaState {
    pub(crate) mailbox: String,
    pub(crate) folder: String,
    pub(crate) seq: u64,
    /// The query options of the first request (`$select`, `$top`, ...).
    pub(crate) options: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub(crate) struct UploadSession {
    pub(crate) mailbox: String,
    pub(crate) message_id: String,
    pub(crate) name: String,
    pub(crate) content_type: String,
    pub(crate) is_inline: bool,
    pub(crate) content_id: Option<String>,
    pub(crate) size: usize,
    pub(crate) received: Vec<u8>,
    pub(crate) auth_token: String,
    pub(crate) expires_at: Timestamp,
}

/// A random secret value in Entra's style (40 characters, with `~`, `.`,
/// `_` and `-` so clients must form-encode it).
pub(crate) fn random_secret_value() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~._-";
    let mut rng = rand::rng();
    let mut out: String =
        (0..36).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    // Entra values have a `Q~` after the three-character hint.
    out.replace_range(3..5, "8Q~");
    out.truncate(40);
    out
}

/// A random opaque id in base64url (with `=` padding like Graph ids).
pub(crate) fn random_id(prefix: &str, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    format!("{prefix}{}", URL_SAFE.encode(buf))
}

/// A random token-like string without padding.
pub(crate) fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

/// The id of a well-known folder of a mailbox (stable, opaque).
pub(crate) fn folder_id(mailbox: &Mailbox, folder: &str) -> String {
    format!("AAMkAG{}", URL_SAFE.encode(format!("{}:{folder}", mailbox.object_id)))
}

/// Standard base64 (for `contentBytes`).
pub(crate) fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

impl State {
    pub(crate) fn add_tenant(&mut self, tenant: Tenant) {
        if let Some(entry) = self.tenants.iter_mut().find(|t| t.tenant.id == tenant.id) {
            entry.tenant = tenant;
        } else {
            self.tenants.push(TenantEntry { tenant, apps: Vec::new(), mailboxes: Vec::new() });
        }
    }

    fn tenant_mut(&mut self, tenant_id: &str) -> &mut TenantEntry {
        let id = tenant_id.to_ascii_lowercase();
        self.tenants
            .iter_mut()
            .find(|t| t.tenant.id == id)
            .unwrap_or_else(|| panic!("unknown tenant {tenant_id}; call add_tenant first"))
    }

    pub(crate) fn add_app(&mut self, tenant_id: &str, app: App) {
        let tenant = self.tenant_mut(tenant_id);
        tenant.apps.retain(|a| a.client_id != app.client_id);
        tenant.apps.push(app);
    }

    pub(crate) fn add_mailbox(&mut self, tenant_id: &str, mailbox: Mailbox) {
        let tenant = self.tenant_mut(tenant_id);
        let tid = tenant.tenant.id.clone();
        if let Some(entry) =
            tenant.mailboxes.iter_mut().find(|m| m.mailbox.address == mailbox.address)
        {
            entry.mailbox = mailbox;
        } else {
            tenant.mailboxes.push(MailboxEntry {
                mailbox,
                tenant_id: tid,
                messages: Vec::new(),
                removed: Vec::new(),
            });
        }
    }

    /// The tenant addressed by a GUID or verified domain.
    pub(crate) fn tenant(&self, id_or_domain: &str) -> Option<&Tenant> {
        let key = id_or_domain.to_ascii_lowercase();
        self.tenants.iter().map(|t| &t.tenant).find(|t| t.id == key || t.domains.contains(&key))
    }

    pub(crate) fn app(&self, tenant_id: &str, client_id: &str) -> Option<&App> {
        let client_id = client_id.to_ascii_lowercase();
        self.tenants
            .iter()
            .find(|t| t.tenant.id == tenant_id)?
            .apps
            .iter()
            .find(|a| a.client_id == client_id)
    }

    pub(crate) fn app_mut(&mut self, client_id: &str) -> Option<&mut App> {
        let client_id = client_id.to_ascii_lowercase();
        self.tenants.iter_mut().flat_map(|t| t.apps.iter_mut()).find(|a| a.client_id == client_id)
    }

    /// The mailbox Graph resolves for `/users/{key}`: UPN, primary address or
    /// object id (not aliases), in any tenant.
    pub(crate) fn resolve_user(&self, key: &str) -> Option<&MailboxEntry> {
        let key = key.to_ascii_lowercase();
        self.tenants.iter().flat_map(|t| t.mailboxes.iter()).find(|m| {
            m.mailbox.upn == key || m.mailbox.address == key || m.mailbox.object_id == key
        })
    }

    /// The mailbox that receives mail for `address` (primary or alias).
    pub(crate) fn recipient_mailbox(&self, address: &str) -> Option<String> {
        let key = address.to_ascii_lowercase();
        self.tenants
            .iter()
            .flat_map(|t| t.mailboxes.iter())
            .find(|m| m.mailbox.address == key || m.mailbox.aliases.contains(&key))
            .map(|m| m.mailbox.address.clone())
    }

    /// The mailbox with any identifier (address, UPN, alias, object id).
    pub(crate) fn mailbox_by_address_mut(&mut self, key: &str) -> Option<&mut MailboxEntry> {
        let key = key.to_ascii_lowercase();
        self.tenants.iter_mut().flat_map(|t| t.mailboxes.iter_mut()).find(|m| {
            m.mailbox.address == key
                || m.mailbox.upn == key
                || m.mailbox.object_id == key
                || m.mailbox.aliases.contains(&key)
        })
    }

    fn mailbox_by_key(&self, key: &str) -> Option<&MailboxEntry> {
        let key = key.to_ascii_lowercase();
        self.tenants.iter().flat_map(|t| t.mailboxes.iter()).find(|m| {
            m.mailbox.address == key
                || m.mailbox.upn == key
                || m.mailbox.object_id == key
                || m.mailbox.aliases.contains(&key)
        })
    }

    /// The key under which concurrency is counted: the primary address when
    /// known, the lowercase URL segment otherwise.
    pub(crate) fn mailbox_key(&self, segment: &str) -> String {
        self.mailbox_by_key(segment)
            .map(|m| m.mailbox.address.clone())
            .unwrap_or_else(|| segment.to_ascii_lowercase())
    }

    pub(crate) fn next_change(&mut self) -> u64 {
        self.change_seq += 1;
        self.change_seq
    }

    /// Stores a message in a folder, filling ids; returns its id.
    pub(crate) fn store(
        &mut self,
        address: &str,
        folder: &str,
        mut m: MailMessage,
    ) -> Option<String> {
        let folder = normalize_folder(folder)?;
        let seq = self.next_change();
        let entry = self.mailbox_by_address_mut(address)?;
        if m.id.is_empty() {
            m.id = random_id("AAMkAGE1", 48);
        }
        if m.immutable_id.is_empty() {
            m.immutable_id = random_id("AAkALgAA", 48);
        }
        if m.internet_message_id.is_empty() {
            m.internet_message_id = new_internet_message_id();
        }
        if m.conversation_id.is_empty() {
            m.conversation_id = random_id("AAQkAG", 16);
        }
        for a in &mut m.attachments {
            if a.id.is_empty() {
                a.id = random_id("AAMkAGAtt", 24);
            }
        }
        if m.sent_at.is_none() {
            m.sent_at = Some(m.received_at);
        }
        m.folder = folder.to_string();
        m.change_seq = seq;
        let id = m.id.clone();
        entry.messages.push(m);
        Some(id)
    }

    pub(crate) fn delete_message(&mut self, address: &str, id: &str) -> bool {
        let seq = self.next_change();
        let Some(entry) = self.mailbox_by_address_mut(address) else { return false };
        let Some(pos) = entry.messages.iter().position(|m| m.id == id || m.immutable_id == id)
        else {
            return false;
        };
        let m = entry.messages.remove(pos);
        entry.removed.push(Removed {
            folder: m.folder,
            id: m.id,
            immutable_id: m.immutable_id,
            seq,
        });
        true
    }

    pub(crate) fn set_read(&mut self, address: &str, id: &str, read: bool) -> bool {
        let seq = self.next_change();
        let Some(entry) = self.mailbox_by_address_mut(address) else { return false };
        match entry.messages.iter_mut().find(|m| m.id == id || m.immutable_id == id) {
            Some(m) => {
                m.is_read = read;
                m.change_seq = seq;
                true
            }
            None => false,
        }
    }

    pub(crate) fn folder_messages(&self, address: &str, folder: &str) -> Vec<MailMessage> {
        let (Some(entry), Some(folder)) = (self.mailbox_by_key(address), normalize_folder(folder))
        else {
            return Vec::new();
        };
        let mut out: Vec<MailMessage> =
            entry.messages.iter().filter(|m| m.folder == folder).cloned().collect();
        out.sort_by_key(|m| std::cmp::Reverse(m.received_at));
        out
    }

    pub(crate) fn revoke_all_tokens(&mut self) {
        for t in self.tokens.values_mut() {
            t.revoked = true;
        }
    }

    pub(crate) fn expire_all_tokens(&mut self) {
        let past = Timestamp::now() - jiff::SignedDuration::from_secs(60);
        for t in self.tokens.values_mut() {
            t.expires_at = past;
        }
    }

    pub(crate) fn reset_records(&mut self) {
        self.requests.clear();
        self.deliveries.clear();
        self.token_requests = 0;
        self.tokens_issued = 0;
        self.max_concurrency.clear();
    }
}

/// `inbox`, `Inbox`, `SentItems` → the well-known lowercase name.
pub(crate) fn normalize_folder(folder: &str) -> Option<&'static str> {
    let lower = folder.to_ascii_lowercase();
    FOLDERS.iter().map(|(name, _)| *name).find(|name| *name == lower)
}

/// A new `internetMessageId` in Exchange Online's style.
pub(crate) fn new_internet_message_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string().to_ascii_uppercase();
    format!("<{id}@EMU0PR01MB0001.emulator.prod.outlook.com>")
}
