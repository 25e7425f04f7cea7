//! [`VerifyReport`]: the named checks a provider runs to prove an account works.

use serde::Serialize;

use crate::address::EmailAddress;
use crate::error::{Error, ErrorKind};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// The check passed.
    Pass,
    /// The check passed with a caveat a person should read.
    Warn,
    /// The check failed; the setup must be fixed.
    Fail,
    /// The check was not run because an earlier one failed.
    Skipped,
}

/// One named check, in the order of the setup guide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Check {
    /// Stable name of the check (`configuration`, `tenant`, `token`, ...).
    pub name: String,
    /// The outcome.
    pub status: CheckStatus,
    /// What was found, in English; user interfaces translate by `code`.
    pub detail: String,
    /// What to do, when something is wrong.
    pub remedy: Option<String>,
    /// Stable diagnostic code, when the check failed or warned for a known reason.
    pub code: Option<String>,
    /// The error kind behind a failure.
    #[serde(serialize_with = "ser_kind")]
    pub error_kind: Option<ErrorKind>,
    /// The configuration key the failure or warning is about
    /// (`certificate_file`, `certificate_env`…), when one is; user interfaces
    /// pick the remedy that names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

fn ser_kind<S: serde::Serializer>(k: &Option<ErrorKind>, s: S) -> Result<S::Ok, S::Error> {
    match k {
        Some(k) => s.serialize_str(k.as_str()),
        None => s.serialize_none(),
    }
}

impl Check {
    /// A passed check.
    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            status: CheckStatus::Pass,
            detail: detail.into(),
            remedy: None,
            code: None,
            error_kind: None,
            key: None,
        }
    }

    /// A warning with its code and remedy.
    pub fn warn(
        name: impl Into<String>,
        code: impl Into<String>,
        detail: impl Into<String>,
        remedy: impl Into<String>,
    ) -> Self {
        Check {
            name: name.into(),
            status: CheckStatus::Warn,
            detail: detail.into(),
            remedy: Some(remedy.into()),
            code: Some(code.into()),
            error_kind: None,
            key: None,
        }
    }

    /// A failed check, described by the error that made it fail.
    pub fn fail(name: impl Into<String>, error: &Error) -> Self {
        Check {
            name: name.into(),
            status: CheckStatus::Fail,
            detail: error.to_string(),
            remedy: error.remedy().map(str::to_owned),
            code: error.code().map(str::to_owned),
            error_kind: Some(error.kind()),
            key: error.context_value("key").map(str::to_owned),
        }
    }

    /// A check not run because an earlier one failed.
    pub fn skipped(name: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            status: CheckStatus::Skipped,
            detail: "not run: an earlier check failed".into(),
            remedy: None,
            code: None,
            error_kind: None,
            key: None,
        }
    }

    /// Names the configuration key the check is about (see [`Check::key`]).
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }
}

/// What to do besides the checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyOptions {
    /// Send a test mail to this address as the last check.
    pub send_test_to: Option<EmailAddress>,
}

impl VerifyOptions {
    /// Also sends a test mail to `to`.
    pub fn send_test_to(mut self, to: EmailAddress) -> Self {
        self.send_test_to = Some(to);
        self
    }
}

/// The checks of one account, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct VerifyReport {
    /// The provider type that ran the checks.
    pub provider: String,
    /// The checks, in the order they ran.
    pub checks: Vec<Check>,
}

impl VerifyReport {
    /// An empty report for `provider`.
    pub fn new(provider: impl Into<String>) -> Self {
        VerifyReport { provider: provider.into(), checks: Vec::new() }
    }

    /// Appends a check.
    pub fn push(&mut self, check: Check) -> &mut Self {
        self.checks.push(check);
        self
    }

    /// Whether no check failed.
    pub fn passed(&self) -> bool {
        !self.checks.iter().any(|c| c.status == CheckStatus::Fail)
    }

    /// The first failed check.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| c.status == CheckStatus::Fail)
    }
}
