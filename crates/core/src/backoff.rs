//! [`Backoff`]: how long to wait before trying again, for every retry loop of
//! g360-mail (Office 365 requests, SMTP submissions, outbox attempts).
//!
//! Pure arithmetic and a random draw: no clock, no sleeping, no I/O. Delays
//! grow exponentially from `initial`, never exceed `max`, and carry "equal
//! jitter" (a random delay in `[d/2, d]`) so that many clients throttled at
//! once do not come back at once. A delay a server asked for
//! (`Retry-After`) is honoured through [`Backoff::clamp_server_delay`], which
//! bounds it so that an absurd value cannot stall or overflow a clock.
//!
//! ```
//! use std::time::Duration;
//! use g360_mail_core::Backoff;
//!
//! let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
//! assert_eq!(b.ceiling(1), Duration::from_millis(100));
//! assert_eq!(b.ceiling(3), Duration::from_millis(400));
//! assert_eq!(b.ceiling(30), Duration::from_secs(2));
//! let d = b.delay(3);
//! assert!(d >= Duration::from_millis(200) && d <= Duration::from_millis(400));
//! ```

use std::time::Duration;

use rand::Rng;

/// The longest delay a server may ask for that is taken as given: one day.
/// Longer requests (a `Retry-After` of 10^12 seconds) are read as this.
pub const MAX_SERVER_DELAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Exponential backoff with a cap and jitter.
///
/// Retry `n` (1 for the first retry) waits up to `initial * 2^(n-1)`, at most
/// `max`; [`Backoff::delay`] draws the actual delay from the upper half of
/// that range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
}

impl Backoff {
    /// Delays starting at `initial` and doubling up to `max` (raised to
    /// `initial` when smaller).
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff { initial, max: max.max(initial) }
    }

    /// The first delay, before jitter.
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The longest delay.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The delay before retry `retry` without jitter: `initial * 2^(retry-1)`,
    /// at most [`Backoff::max`]. Retry 0 counts as retry 1. Never overflows.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        self.initial.saturating_mul(1u32 << doublings).min(self.max)
    }

    /// The delay before retry `retry`, drawn from `[ceiling/2, ceiling]` with
    /// the thread's random generator.
    pub fn delay(&self, retry: u32) -> Duration {
        self.delay_with(retry, &mut rand::rng())
    }

    /// [`Backoff::delay`] with the given random generator (for reproducible
    /// tests).
    pub fn delay_with<R: Rng + ?Sized>(&self, retry: u32, rng: &mut R) -> Duration {
        let ceiling = self.ceiling(retry);
        let half = ceiling / 2;
        let spread = u64::try_from((ceiling - half).as_nanos()).unwrap_or(u64::MAX);
        if spread == 0 {
            return ceiling;
        }
        half.saturating_add(Duration::from_nanos(rng.random_range(0..=spread)))
    }

    /// The delay before retry `retry` when the server may have asked for one:
    /// the server's delay (bounded by [`MAX_SERVER_DELAY`]) when given, else
    /// [`Backoff::delay`].
    pub fn delay_or(&self, retry: u32, server: Option<Duration>) -> Duration {
        match server {
            Some(d) => Backoff::clamp_server_delay(d),
            None => self.delay(retry),
        }
    }

    /// Bounds a delay that came from a server to [`MAX_SERVER_DELAY`], so
    /// that adding it to a clock reading cannot overflow.
    pub fn clamp_server_delay(delay: Duration) -> Duration {
        delay.min(MAX_SERVER_DELAY)
    }
}

/// A random delay in `[0, max]` from the thread's generator: the spread added
/// to a server's `Retry-After`, so that mails throttled together do not all
/// come back at the same instant.
pub fn jitter(max: Duration) -> Duration {
    let spread = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    if spread == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(rand::rng().random_range(0..=spread))
}

impl Default for Backoff {
    /// One second, doubling up to one minute.
    fn default() -> Self {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_its_bound() {
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
        let max = Duration::from_millis(5);
        let draws: Vec<Duration> = (0..200).map(|_| jitter(max)).collect();
        assert!(draws.iter().all(|d| *d <= max), "{draws:?}");
        assert!(draws.iter().any(|d| *d != draws[0]), "the draws vary");
    }

    #[test]
    fn grows_doubles_and_caps() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(2), Duration::from_millis(200));
        assert_eq!(b.ceiling(3), Duration::from_millis(350));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_millis(350));
        for _ in 0..200 {
            let d1 = b.delay(1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100), "{d1:?}");
            let d3 = b.delay(3);
            assert!(d3 >= Duration::from_millis(175) && d3 <= Duration::from_millis(350), "{d3:?}");
        }
    }

    #[test]
    fn jitter_spreads_the_delays() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
        let draws: std::collections::HashSet<Duration> = (0..50).map(|_| b.delay(1)).collect();
        assert!(draws.len() > 10, "{} distinct delays", draws.len());
    }

    #[test]
    fn huge_settings_and_server_delays_do_not_overflow() {
        let b = Backoff::new(Duration::MAX, Duration::MAX);
        assert_eq!(b.ceiling(40), Duration::MAX);
        assert!(b.delay(40) >= Duration::MAX / 2);
        let b = Backoff::new(Duration::from_secs(5), Duration::from_secs(1));
        assert_eq!(b.max(), Duration::from_secs(5));
        assert_eq!(
            Backoff::clamp_server_delay(Duration::from_secs(10u64.pow(12))),
            MAX_SERVER_DELAY
        );
        assert_eq!(
            b.delay_or(1, Some(Duration::from_secs(7))),
            Duration::from_secs(7),
            "a sane server delay is honoured exactly"
        );
        assert!(
            std::time::Instant::now().checked_add(b.delay_or(1, Some(Duration::MAX))).is_some()
        );
        assert_eq!(Backoff::new(Duration::ZERO, Duration::ZERO).delay(3), Duration::ZERO);
    }
}
