//! The one proptest configuration of the workspace's property tests.
//!
//! `G360_FUZZ_CASES` overrides the number of cases (`cargo xtask fuzz` sets
//! it for longer runs); failures are not persisted to files, so a run leaves
//! nothing behind in the source tree and the seed printed on failure is what
//! reproduces it.

use proptest::test_runner::Config;

/// The variable that sets the number of cases.
pub const CASES_VAR: &str = "G360_FUZZ_CASES";

/// A proptest configuration of `default_cases` cases, or of as many as
/// `G360_FUZZ_CASES` says, without failure persistence.
///
/// ```
/// let config = g360_mail_testkit::fuzz::config(64);
/// assert!(config.failure_persistence.is_none());
/// ```
pub fn config(default_cases: u32) -> Config {
    #[allow(clippy::disallowed_methods, reason = "the fuzz budget is a test setting")]
    let cases = std::env::var(CASES_VAR).ok().and_then(|v| v.parse().ok());
    cases_or(cases, default_cases)
}

fn cases_or(cases: Option<u32>, default_cases: u32) -> Config {
    Config { cases: cases.unwrap_or(default_cases), failure_persistence: None, ..Config::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_overrides_the_default_number_of_cases() {
        assert_eq!(cases_or(None, 64).cases, 64);
        assert_eq!(cases_or(Some(5000), 64).cases, 5000);
        assert!(cases_or(None, 1).failure_persistence.is_none());
    }
}
