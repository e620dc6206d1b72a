//! Retry delays, one formula for every retry in vidseed (federation deliveries, received
//! activities tried again, a data node reconnecting to its control plane): exponential from a
//! base, capped, spread by jitter so that many clients do not retry in step. Pure: the random
//! number comes from the caller.

use std::time::Duration;

/// `base × 2^attempt`, at most `max`, then scaled by a factor drawn in `[1 − spread, 1 + spread]`
/// (`spread` in percent, at most 100).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    pub spread_percent: u8,
}

impl Backoff {
    /// The delay before retry number `attempt` (0 for the first retry), with `random` any number
    /// (e.g. from the OS's random source).
    pub fn delay(&self, attempt: u32, random: u64) -> Duration {
        let exp = self.base.saturating_mul(1u32 << attempt.min(30)).min(self.max);
        let ms = u64::try_from(exp.as_millis()).unwrap_or(u64::MAX);
        let spread = u64::from(self.spread_percent.min(100));
        let low = ms / 100 * (100 - spread) + ms % 100 * (100 - spread) / 100;
        let width = (ms / 100 * spread + ms % 100 * spread / 100) * 2;
        Duration::from_millis(low.saturating_add(random % (width + 1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn doubles_from_the_base_up_to_the_cap() {
        let b = Backoff { base: S, max: 60 * S, spread_percent: 0 };
        let delays: Vec<u64> = (0..8).map(|n| b.delay(n, 12345).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(b.delay(u32::MAX, 0), 60 * S, "no overflow on huge attempts");
    }

    #[test]
    fn jitter_stays_within_the_spread_and_covers_it() {
        let b = Backoff { base: 10 * S, max: 100 * S, spread_percent: 20 };
        let all: Vec<Duration> = (0..10_000u64).map(|r| b.delay(0, r.wrapping_mul(0x9E37_79B9_7F4A_7C15))).collect();
        assert!(all.iter().all(|d| (8 * S..=12 * S).contains(d)), "within ±20 %");
        assert!(all.iter().any(|d| *d < Duration::from_millis(8_200)));
        assert!(all.iter().any(|d| *d > Duration::from_millis(11_800)));
        let half = Backoff { base: Duration::from_millis(250), max: 8 * S, spread_percent: 50 };
        assert!((0..1000).all(|r| (Duration::from_millis(125)..=Duration::from_millis(375)).contains(&half.delay(0, r))));
    }
}
