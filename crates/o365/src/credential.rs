//! The app's credential: a client secret (with the next one during a
//! rotation) or a certificate, and what the token request sends for it.

use std::fmt;
use std::sync::{Arc, OnceLock};

use g360_mail_core::Secret;
use jiff::Timestamp;

use crate::certificate::CertificateCredential;

/// The `client_assertion_type` of a certificate credential.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the app proves itself to the token endpoint.
#[derive(Clone)]
pub(crate) enum Credential {
    /// A client secret; during a rotation `next` is tried first and `secret`
    /// only when Entra ID refuses `next` as invalid or expired.
    Secret { secret: Secret, next: Option<Secret> },
    /// A certificate and its private key, signing a client assertion per
    /// token request.
    Certificate(Arc<CertificateCredential>),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Secret { next, .. } => {
                f.debug_struct("Secret").field("rotating", &next.is_some()).finish_non_exhaustive()
            }
            Credential::Certificate(c) => c.fmt(f),
        }
    }
}

impl Credential {
    /// Identifies the credential in a cache key without keeping it: an HMAC
    /// under a key drawn once per process, or the certificate's thumbprint.
    pub(crate) fn fingerprint(&self) -> String {
        static KEY: OnceLock<ring::hmac::Key> = OnceLock::new();
        let key = KEY.get_or_init(|| {
            ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
                .unwrap_or_else(|_| ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"g360-mail"))
        });
        match self {
            Credential::Secret { secret, next } => {
                let mut ctx = ring::hmac::Context::with_key(key);
                ctx.update(secret.expose().as_bytes());
                if let Some(n) = next {
                    ctx.update(b"\0next\0");
                    ctx.update(n.expose().as_bytes());
                }
                let tag = ctx.sign();
                let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
                format!("secret:{hex}")
            }
            // The source too: a credential (and its texts) is shared only
            // by accounts whose certificate comes from the same place.
            Credential::Certificate(c) => format!("x5t#S256:{}:{}", c.thumbprint(), c.source()),
        }
    }

    /// The certificate, when the credential is one.
    pub(crate) fn certificate(&self) -> Option<&CertificateCredential> {
        match self {
            Credential::Certificate(c) => Some(c),
            Credential::Secret { .. } => None,
        }
    }
}

/// Which credential obtained a token, for `verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CredentialUsed {
    /// The only client secret.
    Secret,
    /// `secret_next`, the new secret of a rotation.
    SecretNext,
    /// `secret`, after Entra ID refused `secret_next` with this code.
    SecretAfterNextRefused(String),
    /// The certificate with this thumbprint, valid until the given time.
    Certificate { thumbprint: String, not_after: Timestamp },
}

impl CredentialUsed {
    /// How `verify` names it.
    pub(crate) fn describe(&self) -> String {
        match self {
            CredentialUsed::Secret => "the client secret (secret)".to_owned(),
            CredentialUsed::SecretNext => "the new client secret (secret_next)".to_owned(),
            CredentialUsed::SecretAfterNextRefused(code) => {
                format!("the old client secret (secret), after secret_next was refused with {code}")
            }
            CredentialUsed::Certificate { thumbprint, not_after } => format!(
                "the certificate with thumbprint (x5t#S256) {thumbprint}, valid until {}",
                not_after.strftime("%Y-%m-%d")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_credentials_apart_without_showing_them() {
        let secret = |s: &str, n: Option<&str>| Credential::Secret {
            secret: Secret::new(s),
            next: n.map(Secret::new),
        };
        let a = secret("Abc8Q~first-secret-value", None);
        assert_eq!(a.fingerprint(), secret("Abc8Q~first-secret-value", None).fingerprint());
        assert_ne!(a.fingerprint(), secret("Abc8Q~other-secret-value", None).fingerprint());
        let rotating = secret("Abc8Q~first-secret-value", Some("New8Q~next"));
        assert_ne!(a.fingerprint(), rotating.fingerprint());
        for c in [&a, &rotating] {
            let shown = format!("{} {c:?}", c.fingerprint());
            assert!(!shown.contains("first-secret") && !shown.contains("New8Q"), "{shown}");
        }
    }
}
