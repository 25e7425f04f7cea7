//! [`AccessTokenSource`]: OAuth 2.0 access tokens for one resource, renewed
//! as needed, for providers that authenticate with a bearer token they do
//! not fetch themselves (SMTP `AUTH XOAUTH2` with an Entra app's tokens).

use async_trait::async_trait;

use crate::error::Result;
use crate::secret::Secret;

/// What a token is for: the provider that builds the source picks the
/// resource (and its cloud) from it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    /// SMTP submission (`AUTH XOAUTH2`) to Exchange Online: app-only tokens
    /// for `https://outlook.office365.com/.default` on the global cloud.
    ExchangeSmtp,
}

/// A source of access tokens for one resource: a valid token on each call,
/// renewed before it expires, one request in flight at a time however many
/// callers ask.
///
/// Implemented by a provider crate that knows an identity platform (the
/// `office365` provider for Entra ID apps); used by another that only
/// presents tokens (the `smtp` provider with `auth = "oauth2"`).
///
/// ```
/// use async_trait::async_trait;
/// use g360_mail_core::{AccessTokenSource, Result, Secret};
///
/// #[derive(Debug)]
/// struct Fixed(Secret);
///
/// #[async_trait]
/// impl AccessTokenSource for Fixed {
///     async fn access_token(&self) -> Result<Secret> {
///         Ok(self.0.clone())
///     }
///     fn describe(&self) -> String {
///         "a fixed token".to_owned()
///     }
/// }
/// ```
#[async_trait]
pub trait AccessTokenSource: Send + Sync + std::fmt::Debug + 'static {
    /// A token valid now: the cached one, or a new one when it is due.
    ///
    /// # Errors
    ///
    /// The identity platform's refusal, with its code and remedy (a wrong
    /// secret, a missing consent), or its unavailability.
    async fn access_token(&self) -> Result<Secret>;

    /// Forgets `token` after the resource refused it (so that a role granted
    /// since is picked up by the next token). A token fetched meanwhile by
    /// another caller is kept. By default nothing is cached to forget.
    async fn invalidate(&self, token: &Secret) {
        let _ = token;
    }

    /// Where the tokens come from, for reports: the app and the resource,
    /// never a secret.
    fn describe(&self) -> String;
}
