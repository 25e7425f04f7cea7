//! [`MailBridge`]: sending and reading mail as an ERP user, on a
//! configuration that can be replaced while it runs (`apply.rs`).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use g360_mail_core::layers::FallbackProvider;
use g360_mail_core::{
    Error, ErrorKind, Integration, MailAccount, MailProvider, MailboxAccess, MailboxQuery,
    MessagePage, OutgoingMessage, ProviderRegistry, ReceivedMessage, Result, SendReceipt,
    TokenPurpose, VerifyOptions, VerifyReport,
};

use crate::config::BridgeConfig;

/// Sends and reads mail as ERP users, through each user's configured route.
///
/// Providers are built on first use, once per account, and cached. The
/// configuration can be replaced while mail is being sent
/// ([`MailBridge::apply`]): every call works on one snapshot of it from
/// start to end, so a send in flight finishes on the route it started on.
#[derive(Debug)]
pub struct MailBridge {
    pub(crate) state: RwLock<Arc<State>>,
    registry: ProviderRegistry,
    /// The outbox whose per-mailbox limits `send_as` shares (see `outbox.rs`).
    pub(crate) limits: std::sync::OnceLock<g360_mail_outbox::Outbox>,
}

/// One configuration and the providers built for it.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) config: Arc<BridgeConfig>,
    pub(crate) providers: Mutex<HashMap<String, Arc<dyn MailProvider>>>,
    /// Users whose account an [`MailBridge::apply`] removed (and no later
    /// one brought back): they get a clearer error than an unknown user.
    pub(crate) removed: BTreeSet<String>,
}

impl State {
    fn new(config: BridgeConfig) -> Self {
        State {
            config: Arc::new(config),
            providers: Mutex::new(HashMap::new()),
            removed: BTreeSet::new(),
        }
    }
}

impl MailBridge {
    /// A bridge over a validated configuration and the registry it was validated with.
    pub fn new(config: BridgeConfig, registry: ProviderRegistry) -> Self {
        MailBridge {
            state: RwLock::new(Arc::new(State::new(config))),
            registry,
            limits: std::sync::OnceLock::new(),
        }
    }

    /// The current state; what a call works on from start to end.
    fn state(&self) -> Arc<State> {
        self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The configuration in use now (a snapshot: a later
    /// [`MailBridge::apply`] does not change it).
    pub fn config(&self) -> Arc<BridgeConfig> {
        self.state().config.clone()
    }

    /// The registry providers are built with.
    pub fn registry(&self) -> &ProviderRegistry {
        &self.registry
    }

    /// The account of `user`, or a `Config` error listing the known users
    /// (`bridge.account-removed` when an [`MailBridge::apply`] removed it).
    pub fn account(&self, user: &str) -> Result<MailAccount> {
        self.state().account(user).cloned()
    }

    /// Refuses an account whose configuration has setup problems (see
    /// [`BridgeConfig::setup_problems_of`]): a `Config` error carrying the
    /// first problem's code, key and remedy, before any network call.
    pub fn check_setup(&self, user: &str) -> Result<()> {
        self.state().check_setup(user)
    }

    /// The only account's user, when exactly one account is configured.
    pub fn default_user(&self) -> Result<String> {
        match self.state().config.accounts() {
            [one] => Ok(one.user.clone()),
            [] => Err(Error::new(ErrorKind::Config, "no mail account is configured")
                .with_code("bridge.no-accounts")
                .with_remedy("add an [[accounts]] entry to the configuration")),
            many => Err(Error::new(
                ErrorKind::InvalidInput,
                "several accounts are configured; say which user",
            )
            .with_code("bridge.user-required")
            .with_context(
                "users",
                many.iter().map(|a| a.user.as_str()).collect::<Vec<_>>().join(", "),
            )
            .with_remedy("pass --user with one of the users listed")),
        }
    }

    /// The provider of `user`'s account, built once and cached.
    pub fn provider(&self, user: &str) -> Result<Arc<dyn MailProvider>> {
        self.state().provider(user, &self.registry)
    }

    /// Sends `message` as `user`: the sender is the account's address unless
    /// the message names one.
    pub async fn send_as(&self, user: &str, message: OutgoingMessage) -> Result<SendReceipt> {
        let slot = self.direct_slot(user).await?;
        let result = self.send_now(user, message).await;
        self.end_direct_slot(slot, &result).await;
        result
    }

    /// [`send_as`](Self::send_as) without the outbox's per-mailbox limits
    /// (the outbox worker, which holds its own slot), on one snapshot of the
    /// configuration: the route it starts on is the route it finishes on.
    pub(crate) async fn send_now(
        &self,
        user: &str,
        message: OutgoingMessage,
    ) -> Result<SendReceipt> {
        let state = self.state();
        let account = state.account(user)?;
        state.check_setup(user)?;
        let provider = state.provider(user, &self.registry)?;
        let message = state.prepare(user, message, &self.registry)?;
        let integration = state.config.integration_of(account).map(|i| i.id.clone());
        let result = provider.send(&message).await;
        match result {
            Ok(mut receipt) => {
                if receipt.route.is_none() {
                    receipt.route = integration;
                }
                tracing::info!(user, uid = %receipt.uid, route = ?receipt.route, "mail accepted");
                Ok(receipt)
            }
            Err(e) => {
                // The caller gets the error and reports it; logging it at
                // warn would show the same failure twice, in English.
                tracing::debug!(user, uid = %message.uid(), kind = %e.kind(), error = %e, "mail not sent");
                Err(e.with_context("user", user))
            }
        }
    }

    /// Fills in the sender (the account's address unless the message names
    /// one) and checks the provider's capabilities.
    pub(crate) fn prepare(&self, user: &str, message: OutgoingMessage) -> Result<OutgoingMessage> {
        self.state().prepare(user, message, &self.registry)
    }

    /// Lists messages of `user`'s mailbox.
    pub async fn list_as(&self, user: &str, query: &MailboxQuery) -> Result<MessagePage> {
        let state = self.state();
        state.check_setup(user)?;
        let provider = state.provider(user, &self.registry)?;
        require_read(provider.as_ref())?;
        query.validate()?;
        provider.list_messages(query).await.map_err(|e| e.with_context("user", user))
    }

    /// Gets one message of `user`'s mailbox.
    pub async fn get_as(&self, user: &str, id: &str) -> Result<ReceivedMessage> {
        let state = self.state();
        state.check_setup(user)?;
        let provider = state.provider(user, &self.registry)?;
        require_read(provider.as_ref())?;
        provider.get_message(id).await.map_err(|e| e.with_context("user", user))
    }

    /// Runs the checks of `user`'s account.
    pub async fn verify(&self, user: &str, options: &VerifyOptions) -> Result<VerifyReport> {
        let provider = self.provider(user)?;
        provider.verify(options).await.map_err(|e| e.with_context("user", user))
    }
}

impl State {
    fn account(&self, user: &str) -> Result<&MailAccount> {
        if let Some(account) = self.config.account(user) {
            return Ok(account);
        }
        if self.removed.contains(user) {
            return Err(Error::new(
                ErrorKind::Config,
                format!("the mail account of user {user:?} was removed from the configuration"),
            )
            .with_code("bridge.account-removed")
            .with_context("user", user)
            .with_remedy(
                "add the user's mail account again, or send as another user; mail already queued for this user stays queued",
            ));
        }
        let users: Vec<&str> = self.config.accounts().iter().map(|a| a.user.as_str()).collect();
        Err(Error::new(
            ErrorKind::Config,
            format!("no mail account is configured for user {user:?}"),
        )
        .with_code("bridge.unknown-user")
        .with_context(
            "known users",
            if users.is_empty() { "(none)".to_owned() } else { users.join(", ") },
        )
        .with_remedy("add an [[accounts]] entry for this user, or pass one of the known users"))
    }

    fn check_setup(&self, user: &str) -> Result<()> {
        let problems = self.config.setup_problems_of(user);
        let Some(first) = problems.first() else { return Ok(()) };
        let mut err = Error::new(ErrorKind::Config, first.message.clone())
            .with_context("key", &first.path)
            .with_context("user", user);
        if let Some(code) = &first.code {
            err = err.with_code(code.clone());
        }
        if let Some(remedy) = &first.remedy {
            err = err.with_remedy(remedy.clone());
        }
        for other in &problems[1..] {
            err = err.with_context("also", other.to_string());
        }
        Err(err)
    }

    fn prepare(
        &self,
        user: &str,
        message: OutgoingMessage,
        registry: &ProviderRegistry,
    ) -> Result<OutgoingMessage> {
        let account = self.account(user)?;
        self.check_setup(user)?;
        let provider = self.provider(user, registry)?;
        let message = if message.from().is_none() {
            message.with_from(account.address.clone())
        } else {
            message
        };
        check_capabilities(provider.as_ref(), &message)?;
        Ok(message)
    }

    /// The provider of `user`'s account, built once per state (and kept by
    /// an apply that leaves its route alone).
    fn provider(&self, user: &str, registry: &ProviderRegistry) -> Result<Arc<dyn MailProvider>> {
        let account = self.account(user)?;
        let mut cache = self.providers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(p) = cache.get(user) {
            return Ok(p.clone());
        }
        let config = &self.config;
        let integration = config.integration_of(account).ok_or_else(|| {
            Error::new(ErrorKind::Config, "the account has no integration")
                .with_context("user", user)
        })?;
        let primary =
            build(config, registry, integration, &MailboxAccess::from(account)).map_err(|e| {
                e.with_context("user", user).with_context("integration", &integration.id)
            })?;
        let provider = match account.fallback.as_deref().and_then(|id| config.integration(id)) {
            None => primary,
            Some(fallback) => {
                // The fallback route sends as the same mailbox, with its own secret.
                let mut fb_access = MailboxAccess::new(account.address.clone());
                fb_access.secret = account.fallback_secret.clone();
                // A fallback that borrows the primary's app for tokens
                // (`oauth_integration`) uses the primary's client secret
                // unless it has one of its own: one app serves both routes.
                if fb_access.secret.is_none()
                    && registry.token_integration(fallback).as_deref()
                        == Some(integration.id.as_str())
                {
                    fb_access.secret = account.secret.clone();
                    fb_access.secret_next = account.secret_next.clone();
                }
                let secondary = build(config, registry, fallback, &fb_access).map_err(|e| {
                    e.with_context("user", user).with_context("integration", &fallback.id)
                })?;
                Arc::new(FallbackProvider::new(primary, &integration.id, secondary, &fallback.id))
            }
        };
        cache.insert(user.to_owned(), provider.clone());
        Ok(provider)
    }
}

/// Builds the provider of the mailbox of `access` on `integration`, first resolving the
/// integration whose app issues its access tokens, if it names one
/// (`oauth_integration` of an `smtp` integration).
fn build(
    config: &BridgeConfig,
    registry: &ProviderRegistry,
    integration: &Integration,
    access: &MailboxAccess,
) -> Result<Arc<dyn MailProvider>> {
    let Some(id) = registry.token_integration(integration) else {
        return registry.build(integration, access);
    };
    let source = config.integration(&id).ok_or_else(|| {
        Error::new(ErrorKind::Config, format!("oauth_integration names no integration: {id:?}"))
            .with_code("config.invalid")
            .with_context("key", "oauth_integration")
            .with_remedy("set oauth_integration to the id of an office365 integration")
    })?;
    let tokens = registry
        .token_source(source, access, TokenPurpose::ExchangeSmtp)
        .map_err(|e| e.with_context("oauth_integration", &source.id))?;
    registry.build_with_tokens(integration, access, tokens)
}

fn require_read(provider: &dyn MailProvider) -> Result<()> {
    if provider.capabilities().read {
        Ok(())
    } else {
        Err(Error::unsupported(provider.provider_type(), "read mail")
            .with_remedy("reading needs a provider that can read, e.g. office365 with Mail.Read"))
    }
}

/// Refuses, before any network call, what the provider declared it cannot send.
fn check_capabilities(provider: &dyn MailProvider, message: &OutgoingMessage) -> Result<()> {
    let caps = provider.capabilities();
    let name = provider.provider_type();
    if message.html().is_some() && !caps.html_body {
        return Err(Error::unsupported(name, "send HTML bodies"));
    }
    if !message.attachments().is_empty() && !caps.attachments {
        return Err(Error::unsupported(name, "send attachments"));
    }
    if message.attachments().iter().any(|a| a.is_inline()) && !caps.inline_attachments {
        return Err(Error::unsupported(name, "send inline attachments"));
    }
    if !message.headers().is_empty() && !caps.custom_headers {
        return Err(Error::unsupported(name, "send custom headers"));
    }
    if let Some(max) = caps.max_message_bytes
        && message.content_len() > max
    {
        return Err(Error::new(
            ErrorKind::Rejected,
            format!(
                "the message is {} bytes, more than the {max} the {name} provider accepts",
                message.content_len()
            ),
        )
        .with_provider(name)
        .with_code("message.too-large")
        .with_remedy("send fewer or smaller attachments, or share large files as links"));
    }
    Ok(())
}
