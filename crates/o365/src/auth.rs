//! Client-credentials tokens: one [`TokenCache`] per (authority, tenant,
//! client id, credential), shared by every account that uses the same app and
//! credential, refreshed ahead of expiry, one request in flight at a time.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use g360_mail_core::{Error, Result, Secret};
use reqwest::header::HeaderValue;
use tokio::sync::{Mutex, RwLock};
use tokio::time::Instant;
use url::Url;

use crate::client::{Capped, MAX_JSON_BYTES, read_capped};
use crate::credential::{Credential, CredentialUsed, JWT_BEARER};
use crate::error::O365Error;
use crate::graph_model::{TokenClaims, TokenErrorBody, TokenResponse};

/// Lifetime assumed when the token endpoint does not say.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3599);
/// Longest lifetime believed: Entra ID tokens live at most a day, and a
/// larger `expires_in` must not overflow the clock.
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// An access token and what we know about it.
pub(crate) struct AccessToken {
    /// `Bearer {token}`, marked sensitive; `None` when the token has bytes a
    /// header cannot carry (then no `Authorization` is sent, and Graph says
    /// why).
    authorization: Option<HeaderValue>,
    refresh_at: Instant,
    expires_at: Instant,
    claims: Option<TokenClaims>,
    used: CredentialUsed,
}

impl AccessToken {
    /// The `Authorization` header value, built once per token and marked
    /// sensitive (its `Debug` does not show it). Never log it.
    pub(crate) fn authorization(&self) -> Option<&HeaderValue> {
        self.authorization.as_ref()
    }

    /// The credential that obtained the token.
    pub(crate) fn credential_used(&self) -> &CredentialUsed {
        &self.used
    }

    /// The token itself, for protocols that carry it elsewhere than in an
    /// `Authorization` header (SMTP `AUTH XOAUTH2`).
    pub(crate) fn bearer(&self) -> Option<Secret> {
        let value = self.authorization.as_ref()?.to_str().ok()?;
        value.strip_prefix("Bearer ").map(|t| Secret::new(t.to_owned()))
    }

    /// The decoded claims, when the token is a readable JWT.
    pub(crate) fn claims(&self) -> Option<&TokenClaims> {
        self.claims.as_ref()
    }

    /// Whether the token's `roles` include `role`; `None` when the token
    /// cannot be read (Microsoft documents tokens as opaque).
    pub(crate) fn has_role(&self, role: &str) -> Option<bool> {
        let claims = self.claims.as_ref()?;
        Some(claims.roles.as_ref().is_some_and(|r| r.iter().any(|x| x.eq_ignore_ascii_case(role))))
    }

    fn needs_refresh(&self, now: Instant) -> bool {
        now >= self.refresh_at
    }

    fn usable(&self, now: Instant) -> bool {
        now.checked_add(Duration::from_secs(5)).is_some_and(|t| t < self.expires_at)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("roles", &self.claims.as_ref().map(|c| &c.roles))
            .finish_non_exhaustive()
    }
}

/// Decodes the payload of a JWT for diagnostics; `None` if it is not one.
pub(crate) fn decode_claims(token: &str) -> Option<TokenClaims> {
    let mut parts = token.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Identifies a token cache: tokens are shared only when all five match.
/// The credential is kept as [`Credential::fingerprint`], never in clear. The
/// CA file is part of it because the cache keeps its own HTTP client, which
/// trusts that file's CAs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct TokenKey {
    pub(crate) authority: String,
    pub(crate) tenant: String,
    pub(crate) client_id: String,
    pub(crate) credential: String,
    pub(crate) tls_ca_file: Option<String>,
}

/// Tokens of one app registration and credential.
pub(crate) struct TokenCache {
    http: reqwest::Client,
    token_url: Url,
    client_id: String,
    credential: Credential,
    scope: String,
    margin: Duration,
    timeout: Duration,
    state: RwLock<Option<Arc<AccessToken>>>,
    refresh: Mutex<()>,
    /// When an expiry warning was last logged for this credential.
    expiry_logged: std::sync::Mutex<Option<jiff::Timestamp>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    pub(crate) fn new(
        http: reqwest::Client,
        token_url: Url,
        client_id: String,
        credential: Credential,
        scope: String,
        margin: Duration,
        timeout: Duration,
    ) -> Self {
        TokenCache {
            http,
            token_url,
            client_id,
            credential,
            scope,
            margin,
            timeout,
            state: RwLock::new(None),
            refresh: Mutex::new(()),
            expiry_logged: std::sync::Mutex::new(None),
        }
    }

    /// A valid token: the cached one, or a new one when it is due for renewal.
    /// Concurrent callers share one request.
    pub(crate) async fn token(&self) -> Result<Arc<AccessToken>> {
        if let Some(t) = self.current().await
            && !t.needs_refresh(Instant::now())
        {
            return Ok(t);
        }
        let _flight = self.refresh.lock().await;
        let cached = self.current().await;
        if let Some(t) = &cached
            && !t.needs_refresh(Instant::now())
        {
            return Ok(t.clone());
        }
        match self.fetch().await {
            Ok(t) => {
                *self.state.write().await = Some(t.clone());
                Ok(t)
            }
            // A token due for renewal but not expired still works: keep using
            // it while the token endpoint has a temporary problem.
            Err(e) if e.is_temporary() => match cached {
                Some(t) if t.usable(Instant::now()) => {
                    tracing::warn!(
                        code = e.code(),
                        "token renewal failed; using the current token until it expires"
                    );
                    Ok(t)
                }
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// A token fetched now, whatever the cache holds (after consent was
    /// granted, a cached token still lacks the new roles).
    pub(crate) async fn fresh_token(&self) -> Result<Arc<AccessToken>> {
        let _flight = self.refresh.lock().await;
        let t = self.fetch().await?;
        *self.state.write().await = Some(t.clone());
        Ok(t)
    }

    /// Forgets `used` after Graph refused it; a token fetched meanwhile by
    /// another caller is kept.
    pub(crate) async fn invalidate(&self, used: &Arc<AccessToken>) {
        let mut state = self.state.write().await;
        if state.as_ref().is_some_and(|t| Arc::ptr_eq(t, used)) {
            *state = None;
        }
    }

    /// The cached token without fetching one.
    pub(crate) async fn current(&self) -> Option<Arc<AccessToken>> {
        self.state.read().await.clone()
    }

    /// The credential in use.
    pub(crate) fn credential(&self) -> &Credential {
        &self.credential
    }

    /// Whether an expiry warning of this credential is due in the log: at
    /// most once a day for all the accounts that share it.
    pub(crate) fn expiry_log_due(&self, now: jiff::Timestamp) -> bool {
        let mut last = self.expiry_logged.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = last.is_none_or(|t| now.as_second() - t.as_second() >= 24 * 60 * 60);
        if due {
            *last = Some(now);
        }
        due
    }

    /// A token for the credential: a signed assertion for a certificate; the
    /// next secret of a rotation, then the old one only when Entra ID refuses
    /// the next one as invalid or expired.
    async fn fetch(&self) -> Result<Arc<AccessToken>> {
        match &self.credential {
            Credential::Certificate(cert) => {
                let now = jiff::Timestamp::now();
                cert.check_validity(now)
                    .map_err(|p| crate::error::certificate(&p, cert.source()))?;
                let jti = uuid::Uuid::new_v4().to_string();
                let assertion = Secret::new(cert.assertion(
                    &self.client_id,
                    self.token_url.as_str(),
                    now,
                    &jti,
                    crate::certificate::AssertionAlgorithm::default(),
                ));
                let used = CredentialUsed::Certificate {
                    thumbprint: cert.thumbprint().to_owned(),
                    not_after: cert.not_after(),
                };
                let fields = [
                    ("client_assertion_type", JWT_BEARER),
                    ("client_assertion", assertion.expose()),
                ];
                self.fetch_with(&fields, None, used).await
            }
            Credential::Secret { secret, next: Some(next) } => {
                let fields = [("client_secret", next.expose())];
                match self.fetch_with(&fields, Some(next), CredentialUsed::SecretNext).await {
                    Err(e) if matches!(e.code(), Some("AADSTS7000215" | "AADSTS7000222")) => {
                        let code = e.code().unwrap_or_default().to_owned();
                        tracing::warn!(
                            code,
                            "the token endpoint refused secret_next; trying the old secret"
                        );
                        let fields = [("client_secret", secret.expose())];
                        let used = CredentialUsed::SecretAfterNextRefused(code);
                        self.fetch_with(&fields, Some(secret), used).await
                    }
                    other => other,
                }
            }
            Credential::Secret { secret, next: None } => {
                let fields = [("client_secret", secret.expose())];
                self.fetch_with(&fields, Some(secret), CredentialUsed::Secret).await
            }
        }
    }

    async fn fetch_with(
        &self,
        credential: &[(&str, &str)],
        secret: Option<&Secret>,
        used: CredentialUsed,
    ) -> Result<Arc<AccessToken>> {
        tracing::debug!(token_url = %self.token_url, client_id = %self.client_id, "requesting an access token");
        let mut form = vec![
            ("client_id", self.client_id.as_str()),
            ("scope", self.scope.as_str()),
            ("grant_type", "client_credentials"),
        ];
        form.extend_from_slice(credential);
        let started = Instant::now();
        let host = self.token_url.host_str().unwrap_or_default().to_owned();
        let exchange = async {
            let mut resp = self
                .http
                .post(self.token_url.clone())
                .form(&form)
                .timeout(self.timeout)
                .send()
                .await
                .map_err(|e| Error::from(O365Error::transport("the token endpoint", e)))?;
            let status = resp.status().as_u16();
            if resp.status().is_redirection() {
                let to = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(|l| {
                        self.token_url.join(l).ok().and_then(|u| u.host_str().map(str::to_owned))
                    })
                    .map(Option::unwrap_or_default);
                return Err(crate::error::redirected(&host, status, to.as_deref()));
            }
            let body = read_capped(&mut resp, MAX_JSON_BYTES).await.map_err(|e| match e {
                Capped::TooLarge { declared } => {
                    crate::error::answer_too_large("the token endpoint", MAX_JSON_BYTES, declared)
                        .with_http_status(status)
                }
                Capped::Transport(e) => O365Error::transport("the token endpoint", e).into(),
            })?;
            Ok((status, body))
        };
        // reqwest bounds the exchange too; this bound holds whatever the
        // transport does, body included.
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(crate::error::timed_out("the token endpoint", self.timeout)))?;
        if status != 200 {
            let parsed: TokenErrorBody = serde_json::from_slice(&body).unwrap_or_default();
            let secret_is_id = parsed.error_codes.contains(&7000215)
                && secret.is_some_and(|s| crate::config::is_guid(s.expose().trim()));
            let mut err = Error::from(O365Error::token(status, parsed));
            if secret_is_id {
                // The most common setup mistake: the Secret ID pasted instead of the value.
                let key = match used {
                    CredentialUsed::SecretNext => "secret_next",
                    _ => "secret",
                };
                err = err
                    .with_context(key, "shaped like a GUID: the Secret ID, not the secret's Value");
            }
            tracing::warn!(status, code = err.code(), "the token endpoint refused the request");
            return Err(err);
        }
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            Error::from(O365Error::Decode { what: "the token endpoint", source: e })
        })?;
        // Server numbers meet the clock here: bounded, and added with
        // checked arithmetic.
        let lifetime = parsed
            .expires_in
            .as_ref()
            .and_then(|v| v.as_u64())
            .map_or(DEFAULT_LIFETIME, |s| Duration::from_secs(s).min(MAX_LIFETIME));
        let ahead = lifetime.saturating_sub(self.margin.min(lifetime / 2));
        let ahead = match parsed.refresh_in.as_ref().and_then(|v| v.as_u64()) {
            Some(r) => ahead.min(Duration::from_secs(r)),
            None => ahead,
        };
        let claims = decode_claims(&parsed.access_token);
        tracing::debug!(
            lifetime_s = lifetime.as_secs(),
            roles = ?claims.as_ref().and_then(|c| c.roles.as_ref()),
            "access token received"
        );
        // The token itself is kept only inside the sensitive header value.
        let token = Secret::new(parsed.access_token);
        let bearer = Secret::new(format!("Bearer {}", token.expose()));
        let authorization = HeaderValue::from_str(bearer.expose()).ok().map(|mut v| {
            v.set_sensitive(true);
            v
        });
        let expires_at = started.checked_add(lifetime).unwrap_or(started);
        Ok(Arc::new(AccessToken {
            authorization,
            refresh_at: started.checked_add(ahead).unwrap_or(started),
            expires_at,
            claims,
            used,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_roles_of_a_jwt() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"roles":["Mail.Send","Mail.Read"],"tid":"t","idtyp":"app"}"#);
        let claims = decode_claims(&format!("eyJhbGciOiJub25lIn0.{payload}.sig")).unwrap();
        assert_eq!(claims.roles.unwrap(), ["Mail.Send", "Mail.Read"]);
        assert!(decode_claims("opaque-token").is_none());
        assert!(decode_claims("a.!!!.c").is_none());
    }

    #[test]
    fn the_cached_authorization_header_is_sensitive() {
        let mut v = HeaderValue::from_str("Bearer secret-token-value").unwrap();
        v.set_sensitive(true);
        let t = AccessToken {
            authorization: Some(v),
            refresh_at: Instant::now(),
            expires_at: Instant::now(),
            claims: None,
            used: CredentialUsed::Secret,
        };
        let a = t.authorization().unwrap();
        assert!(a.is_sensitive());
        assert_eq!(a.to_str().unwrap(), "Bearer secret-token-value");
        assert!(!format!("{a:?} {t:?}").contains("secret-token-value"));
    }
}
