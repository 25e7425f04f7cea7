//! [`ExchangeTokenSource`]: app-only tokens of an `office365` integration's
//! Entra app for Exchange Online itself (not Graph), for SMTP `AUTH
//! XOAUTH2`: client credentials for `https://outlook.office365.com/.default`,
//! cached, renewed before expiry with one request in flight, by the same
//! [`TokenCache`] the Graph route uses.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use g360_mail_core::{AccessTokenSource, Result, Secret};

use crate::auth::TokenCache;
use crate::config::{Cloud, O365Settings, parse_endpoint};
use crate::credential::Credential;
use crate::error;

/// The client-credentials scope of Exchange Online on the global cloud.
pub(crate) const EXCHANGE_SCOPE: &str = "https://outlook.office365.com/.default";

/// Tokens for Exchange Online from one app registration and credential.
pub(crate) struct ExchangeTokenSource {
    pub(crate) cache: Arc<TokenCache>,
    pub(crate) client_id: String,
}

impl fmt::Debug for ExchangeTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeTokenSource")
            .field("client_id", &self.client_id)
            .field("scope", &EXCHANGE_SCOPE)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl AccessTokenSource for ExchangeTokenSource {
    async fn access_token(&self) -> Result<Secret> {
        let token = self.cache.token().await?;
        token.bearer().ok_or_else(error::token_unusable)
    }

    async fn invalidate(&self, used: &Secret) {
        if let Some(current) = self.cache.current().await
            && current.bearer().is_some_and(|t| t.expose() == used.expose())
        {
            self.cache.invalidate(&current).await;
        }
    }

    fn describe(&self) -> String {
        format!("app {} for {EXCHANGE_SCOPE}", self.client_id)
    }
}

/// The pieces of a token cache for Exchange Online: checks the settings and
/// builds the HTTP client and the token URL, as the Graph route does.
pub(crate) fn exchange_cache(
    settings: &O365Settings,
    credential: Credential,
) -> Result<TokenCache> {
    let config = error::invalid_key;
    if settings.cloud != Cloud::Global {
        return Err(config(
            format!(
                "SMTP with OAuth is supported here only on the global cloud, not on {}",
                settings.cloud
            ),
            "cloud",
        )
        .with_remedy("send through the office365 provider (Graph), or use an SMTP relay"));
    }
    let authority =
        parse_endpoint("authority_url", settings.authority_url(), settings.allow_insecure_http)
            .map_err(|p| config(format!("invalid setting: {}", p.message), "authority_url"))?;
    let mut token_url = authority;
    if let Ok(mut p) = token_url.path_segments_mut() {
        p.pop_if_empty().extend([settings.tenant_id.trim(), "oauth2", "v2.0", "token"]);
    }
    let http = settings.http_client_builder()?.build().map_err(error::http_client)?;
    Ok(TokenCache::new(
        http,
        token_url,
        settings.client_id.trim().to_owned(),
        credential,
        EXCHANGE_SCOPE.to_owned(),
        settings.token_refresh_margin(),
        settings.request_timeout(),
    ))
}
