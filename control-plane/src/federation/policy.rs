//! Federation decisions, pure: who may follow us, when a failed delivery or a received activity
//! that failed for a passing reason is tried again, and when it is given up. Time and randomness
//! come from the caller; the workers (`delivery`, `inbox_worker`) only carry the decisions out.

use std::time::Duration;

use vidseed_shared::Backoff;

/// Attempts of one delivery before giving up (PeerTube's follow jobs: 5).
pub const MAX_ATTEMPTS: u64 = 5;
/// Tries of a received activity that fail for a passing reason before it is given up.
pub const INBOX_ATTEMPTS: u64 = 5;
/// Jitter on every retry delay, in percent of it (±).
const SPREAD_PERCENT: u8 = 20;

/// How the instance answers followers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FollowPolicy {
    /// Refuse every follower.
    pub reject_all: bool,
    /// New followers wait for the admin.
    pub manual_approval: bool,
    /// Follow back any instance whose follow is accepted.
    pub auto_follow_back: bool,
}

/// What a received Follow gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowDecision {
    Accept,
    Reject,
    /// Kept pending for the admin.
    Pending,
}

/// The decision for a Follow from a host that is `blocked` or not, whose earlier follow (if
/// any) was `previously_rejected` — PeerTube rejects again in that case.
pub fn decide_follow(policy: FollowPolicy, blocked: bool, previously_rejected: bool) -> FollowDecision {
    if policy.reject_all || blocked || previously_rejected {
        FollowDecision::Reject
    } else if policy.manual_approval {
        FollowDecision::Pending
    } else {
        FollowDecision::Accept
    }
}

/// What to do after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Try again at this time (milliseconds since the epoch).
    At(i64),
    GiveUp,
}

fn backoff(base: Duration) -> Backoff {
    Backoff { base, max: base.saturating_mul(1 << 20), spread_percent: SPREAD_PERCENT }
}

fn after(now_ms: i64, delay: Duration) -> i64 {
    now_ms.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX))
}

/// A delivery failed on its `attempts`-th attempt (1 for the first) at `now_ms`: the next try,
/// `base × 2^(attempts−1)` ±20 % later, or giving up after [`MAX_ATTEMPTS`].
pub fn delivery_retry(attempts: u64, now_ms: i64, base: Duration, random: u64) -> Retry {
    if attempts >= MAX_ATTEMPTS {
        return Retry::GiveUp;
    }
    let n = u32::try_from(attempts.saturating_sub(1)).unwrap_or(u32::MAX);
    Retry::At(after(now_ms, backoff(base).delay(n, random)))
}

/// A received activity failed after `attempts` earlier tries: tried again `base × 2^attempts`
/// ±20 % later when the failure may pass and tries remain, else given up (marked processed with
/// its error).
pub fn inbox_retry(attempts: u64, passing: bool, now_ms: i64, base: Duration, random: u64) -> Retry {
    if !passing || attempts + 1 >= INBOX_ATTEMPTS {
        return Retry::GiveUp;
    }
    let n = u32::try_from(attempts).unwrap_or(u32::MAX);
    Retry::At(after(now_ms, backoff(base).delay(n, random)))
}

/// How long a claimed delivery stays with its worker before another may take it: longer than any
/// request (7 s), and back soon if the worker's process died.
pub fn delivery_lease_ms(base: Duration) -> u64 {
    u64::try_from(base.as_millis()).unwrap_or(u64::MAX).clamp(10_000, 60_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_decisions() {
        let p = FollowPolicy::default();
        assert_eq!(decide_follow(p, false, false), FollowDecision::Accept);
        assert_eq!(decide_follow(p, true, false), FollowDecision::Reject);
        assert_eq!(decide_follow(p, false, true), FollowDecision::Reject);
        assert_eq!(decide_follow(FollowPolicy { manual_approval: true, ..p }, false, false), FollowDecision::Pending);
        assert_eq!(decide_follow(FollowPolicy { reject_all: true, manual_approval: true, ..p }, false, false), FollowDecision::Reject);
    }

    const BASE: Duration = Duration::from_secs(60);

    #[test]
    fn deliveries_back_off_then_give_up_after_five_attempts() {
        let at = |attempts, random| match delivery_retry(attempts, 1_000_000, BASE, random) {
            Retry::At(t) => t - 1_000_000,
            Retry::GiveUp => -1,
        };
        // 60 s, 120 s, 240 s, 480 s (±20 %), then no fifth retry.
        for (attempts, expect) in [(1u64, 60_000i64), (2, 120_000), (3, 240_000), (4, 480_000)] {
            for random in [0u64, u64::MAX / 2, u64::MAX] {
                let d = at(attempts, random);
                assert!((expect * 4 / 5..=expect * 6 / 5).contains(&d), "attempt {attempts}: {d} ms");
            }
        }
        assert_eq!(delivery_retry(MAX_ATTEMPTS, 0, BASE, 7), Retry::GiveUp);
        assert_eq!(delivery_retry(MAX_ATTEMPTS + 3, 0, BASE, 7), Retry::GiveUp);
    }

    #[test]
    fn received_activities_are_retried_only_for_passing_failures() {
        assert_eq!(inbox_retry(0, false, 0, BASE, 1), Retry::GiveUp, "a failure that will not pass");
        assert!(matches!(inbox_retry(0, true, 0, BASE, 1), Retry::At(t) if (48_000..=72_000).contains(&t)));
        assert!(matches!(inbox_retry(3, true, 0, BASE, 1), Retry::At(t) if (384_000..=576_000).contains(&t)));
        assert_eq!(inbox_retry(INBOX_ATTEMPTS - 1, true, 0, BASE, 1), Retry::GiveUp, "five tries in all");
    }

    #[test]
    fn leases_outlive_a_request_and_stay_short() {
        assert_eq!(delivery_lease_ms(Duration::from_secs(1)), 10_000);
        assert_eq!(delivery_lease_ms(BASE), 60_000);
        assert_eq!(delivery_lease_ms(Duration::from_secs(3600)), 60_000);
    }
}
