//! [`Secret`]: a string that never prints.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What [`Secret`] prints and serialises instead of its value.
pub const REDACTED: &str = "[redacted]";

/// A client secret, password or token.
///
/// `Debug`, `Display` and `Serialize` all write [`REDACTED`]; the value is
/// zeroised when dropped and read only through [`Secret::expose`], which makes
/// every use easy to find in review.
///
/// ```
/// use g360_mail_core::Secret;
///
/// let s = Secret::new("abc~very-secret-value");
/// assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
/// assert_eq!(s.expose(), "abc~very-secret-value");
/// ```
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }

    /// The secret value. Never log or print what this returns.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether the secret is empty or only white space.
    pub fn is_blank(&self) -> bool {
        self.expose().trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl std::hash::Hash for Secret {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.expose().hash(state);
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

/// `url` with every credential replaced by [`REDACTED`]: the password of
/// `user:password@`, and the value of every query parameter whose name says it
/// holds one (`password`, `sslpassword`, `secret`, `token`, `key`, `sig`, …,
/// matched case-insensitively after percent-decoding). The one URL redactor of
/// the workspace: configuration output, `Debug` and errors all use it.
///
/// ```
/// use g360_mail_core::redact_url;
///
/// assert_eq!(
///     redact_url("postgres://erp:s3cret@db:5432/erp?sslmode=require&password=s3cret"),
///     "postgres://erp:[redacted]@db:5432/erp?sslmode=require&password=[redacted]"
/// );
/// assert_eq!(redact_url("sqlite://outbox.db?mode=rwc"), "sqlite://outbox.db?mode=rwc");
/// ```
pub fn redact_url(url: &str) -> String {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let (base, query) = match before_fragment.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (before_fragment, None),
    };
    let mut out = redact_userinfo(base);
    if let Some(query) = query {
        out.push('?');
        let params: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if credential_name(name) => format!("{name}={REDACTED}"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    if let Some(fragment) = fragment {
        // A fragment never reaches a server, but tokens do travel in them.
        out.push('#');
        out.push_str(if fragment.contains('=') { REDACTED } else { fragment });
    }
    out
}

/// `scheme://user:password@host/…` → `scheme://user:[redacted]@host/…`.
fn redact_userinfo(base: &str) -> String {
    let Some((scheme, rest)) = base.split_once("://") else { return base.to_owned() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:{REDACTED}@{host}{path}"),
            None => base.to_owned(),
        },
        None => base.to_owned(),
    }
}

/// Whether a query parameter's name says it carries a credential.
fn credential_name(name: &str) -> bool {
    let decoded = percent_decode(name).to_ascii_lowercase();
    const WORDS: &[&str] =
        &["pass", "pwd", "secret", "token", "key", "sig", "auth", "cred", "session"];
    WORDS.iter().any(|w| decoded.contains(w))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', ..) => {
                out.push(b' ');
                i += 1;
            }
            (b, ..) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_every_credential_of_a_url() {
        for (url, want) in [
            ("postgres://u:pw@h:5432/db", "postgres://u:[redacted]@h:5432/db"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("postgres://h/db?user=u&password=pw", "postgres://h/db?user=u&password=[redacted]"),
            (
                "postgres://h/db?PassWord=pw&sslmode=require",
                "postgres://h/db?PassWord=[redacted]&sslmode=require",
            ),
            ("postgres://h/db?pass%77ord=pw", "postgres://h/db?pass%77ord=[redacted]"),
            ("postgres://h/db?sslpassword=pw", "postgres://h/db?sslpassword=[redacted]"),
            ("postgres://u:p@ss@h/db?x", "postgres://u:[redacted]@h/db?x"),
            (
                "https://h/p?access_token=t#id_token=t",
                "https://h/p?access_token=[redacted]#[redacted]",
            ),
            ("sqlite://x.db?mode=rwc", "sqlite://x.db?mode=rwc"),
            ("sqlite:x.db?mode=rwc&key=k", "sqlite:x.db?mode=rwc&key=[redacted]"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }

    #[test]
    fn never_prints_or_serialises_the_value() {
        let s = Secret::new("Abc8Q~0123456789abcdefghijklmnopqrstuvwxyz");
        let json = serde_json::to_string(&s).unwrap();
        for out in [format!("{s}"), format!("{s:?}"), format!("{s:#?}"), json] {
            assert!(!out.contains("Abc8Q"), "{out}");
            assert!(out.contains(REDACTED));
        }
    }

    #[test]
    fn deserialises_from_a_string() {
        let s: Secret = serde_json::from_str("\"pw\"").unwrap();
        assert_eq!(s.expose(), "pw");
        assert!(Secret::new("  ").is_blank());
    }
}
