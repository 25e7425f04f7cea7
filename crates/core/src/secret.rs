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

#[cfg(test)]
mod tests {
    use super::*;

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
