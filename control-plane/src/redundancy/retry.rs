//! When a failed copy is tried again, pure: a copy whose order could not be made, or whose
//! import failed on the nodes (an origin down, a source that kept sending bad data, a full
//! disk), is tried again after the shared [`Backoff`] (from `--redundancy-retry-secs`, doubling,
//! at most an hour, ±20 %), at most `attempts` times in a row; then it is given up: a manual copy
//! stays failed with its reason until the admin adds it again, a strategy's copy is dropped
//! (the strategy may choose the video again later).

use std::time::Duration;

use vidseed_shared::backoff::Backoff;

/// How failed copies are tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub backoff: Backoff,
    /// Failures in a row before the copy is given up.
    pub attempts: u32,
}

impl RetryPolicy {
    /// Retries from `base`, doubling up to an hour, `attempts` failures in a row at most.
    pub fn new(base: Duration, attempts: u32) -> RetryPolicy {
        let base = base.max(Duration::from_millis(10));
        RetryPolicy { backoff: Backoff { base, max: Duration::from_secs(3600).max(base), spread_percent: 20 }, attempts: attempts.max(1) }
    }
}

impl Default for RetryPolicy {
    /// A minute, then 2, 4, … up to an hour: 8 failures in a row (about three hours) at most.
    fn default() -> Self {
        RetryPolicy::new(Duration::from_secs(60), 8)
    }
}

/// What follows a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again at this time (ms); `attempts` failures so far.
    RetryAt { attempts: u32, at_ms: i64 },
    /// That was the last try.
    GiveUp { attempts: u32 },
}

/// What follows a copy's failure when it had failed `before` times in a row already.
pub fn after_failure(policy: &RetryPolicy, before: u32, now_ms: i64, random: u64) -> AfterFailure {
    let attempts = before.saturating_add(1);
    if attempts >= policy.attempts {
        return AfterFailure::GiveUp { attempts };
    }
    let delay = policy.backoff.delay(attempts - 1, random);
    AfterFailure::RetryAt { attempts, at_ms: now_ms.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)) }
}

/// Whether a copy with `attempts` failures in a row has been given up.
pub fn given_up(policy: &RetryPolicy, attempts: u32) -> bool {
    attempts >= policy.attempts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_tried_again_later_each_time_then_given_up() {
        let p = RetryPolicy { backoff: Backoff { base: Duration::from_secs(60), max: Duration::from_secs(3600), spread_percent: 0 }, attempts: 4 };
        assert_eq!(after_failure(&p, 0, 1_000, 7), AfterFailure::RetryAt { attempts: 1, at_ms: 61_000 });
        assert_eq!(after_failure(&p, 1, 1_000, 7), AfterFailure::RetryAt { attempts: 2, at_ms: 121_000 });
        assert_eq!(after_failure(&p, 2, 1_000, 7), AfterFailure::RetryAt { attempts: 3, at_ms: 241_000 });
        assert_eq!(after_failure(&p, 3, 1_000, 7), AfterFailure::GiveUp { attempts: 4 });
        assert!(!given_up(&p, 3) && given_up(&p, 4) && given_up(&p, 9));
        assert_eq!(after_failure(&p, u32::MAX, 0, 0), AfterFailure::GiveUp { attempts: u32::MAX });
    }

    #[test]
    fn the_default_spreads_retries_over_hours_and_the_admin_s_base_is_kept() {
        let d = RetryPolicy::default();
        assert_eq!((d.backoff.base, d.backoff.max, d.backoff.spread_percent, d.attempts), (Duration::from_secs(60), Duration::from_secs(3600), 20, 8));
        let AfterFailure::RetryAt { at_ms, .. } = after_failure(&d, 0, 0, 12_345) else { panic!() };
        assert!((48_000..=72_000).contains(&at_ms), "a minute, ±20 %: {at_ms}");
        let fast = RetryPolicy::new(Duration::from_secs(1), 0);
        assert_eq!((fast.backoff.base, fast.attempts), (Duration::from_secs(1), 1), "at least one try");
        let slow = RetryPolicy::new(Duration::from_secs(7200), 3);
        assert_eq!(slow.backoff.max, Duration::from_secs(7200), "the cap is never below the base");
    }
}
