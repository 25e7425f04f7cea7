//! [`MailBridge::apply`]: a new configuration while the bridge runs.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use g360_mail_core::{MailAccount, Result};

use crate::bridge::{MailBridge, State};
use crate::config::BridgeConfig;

/// What [`MailBridge::apply`] changed, by ERP user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApplyReport {
    /// Accounts new in this configuration.
    pub added: Vec<String>,
    /// Accounts no longer configured: they refuse new sends
    /// (`bridge.account-removed`).
    pub removed: Vec<String>,
    /// Accounts whose route changed (their own keys, their integration's or
    /// their fallback's): their provider is built anew on next use.
    pub changed: Vec<String>,
    /// Accounts whose route did not change and whose provider (token cache,
    /// connection pool) was kept.
    pub kept: Vec<String>,
}

impl ApplyReport {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Everything a user's provider is built from: two routes are equal when
/// their providers would be the same.
#[derive(PartialEq)]
struct Route<'a> {
    account: &'a MailAccount,
    integrations: Vec<(&'a str, &'a str, &'a serde_json::Value)>,
}

fn route<'a>(config: &'a BridgeConfig, account: &'a MailAccount) -> Route<'a> {
    let mut ids: Vec<&str> = Vec::new();
    if let Some(i) = config.integration_of(account) {
        ids.push(&i.id);
    }
    ids.extend(account.fallback.as_deref());
    // The integrations whose apps issue tokens for these routes count too
    // (`oauth_integration`): their tenant or client id changes the route.
    let mut integrations = Vec::new();
    let mut seen = BTreeSet::new();
    while let Some(id) = ids.pop() {
        if !seen.insert(id) {
            continue;
        }
        if let Some(i) = config.integration(id) {
            integrations.push((i.id.as_str(), i.provider.as_str(), &i.settings));
            for (key, value) in i.settings.as_object().into_iter().flatten() {
                if key == "oauth_integration"
                    && let Some(other) = value.as_str()
                {
                    ids.push(other);
                }
            }
        }
    }
    integrations.sort_by(|a, b| a.0.cmp(b.0));
    Route { account, integrations }
}

impl MailBridge {
    /// Replaces the configuration atomically, without a restart.
    ///
    /// - Sends, reads and verifies already started finish on the old
    ///   configuration (they hold a snapshot of it).
    /// - An account whose route did not change (its own keys, its
    ///   integration's and its fallback's settings) keeps its provider, and
    ///   with it the token cache and connection pool.
    /// - An account no longer configured refuses new sends with
    ///   `bridge.account-removed`.
    ///
    /// A configuration whose provider types or settings this bridge's
    /// registry does not accept is refused whole (`config.invalid`, one
    /// `problem` context per problem) and the old one stays.
    pub fn apply(&self, config: BridgeConfig) -> Result<ApplyReport> {
        let problems = config.check_against(self.registry());
        if !problems.is_empty() {
            return Err(crate::ConfigError::invalid(config.source(), problems).into());
        }
        let mut slot = self.state.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let old = slot.clone();
        let old_providers =
            old.providers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let mut report = ApplyReport::default();
        let mut providers = HashMap::new();
        for account in config.accounts() {
            let user = &account.user;
            match old.config.account(user) {
                None => report.added.push(user.clone()),
                Some(before) if route(&old.config, before) == route(&config, account) => {
                    if let Some(p) = old_providers.get(user) {
                        providers.insert(user.clone(), p.clone());
                    }
                    report.kept.push(user.clone());
                }
                Some(_) => report.changed.push(user.clone()),
            }
        }
        let mut removed = old.removed.clone();
        for account in old.config.accounts() {
            if config.account(&account.user).is_none() {
                report.removed.push(account.user.clone());
                removed.insert(account.user.clone());
            }
        }
        removed.retain(|u| config.account(u).is_none());
        *slot =
            Arc::new(State { config: Arc::new(config), providers: Mutex::new(providers), removed });
        drop(slot);
        tracing::info!(
            added = report.added.len(),
            removed = report.removed.len(),
            changed = report.changed.len(),
            kept = report.kept.len(),
            "configuration applied"
        );
        Ok(report)
    }
}
