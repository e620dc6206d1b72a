//! A token bucket: how many messages one connection may send per second, with bursts up to one
//! second's worth. Pure: the caller passes the time.

use std::time::Instant;

/// Admits up to `per_sec` events per second on average, `per_sec` at once after a quiet second.
#[derive(Debug)]
pub struct TokenBucket {
    per_sec: u32,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket; `per_sec` 0 admits everything.
    pub fn new(per_sec: u32, now: Instant) -> TokenBucket {
        TokenBucket { per_sec, tokens: f64::from(per_sec), last: now }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        if self.per_sec == 0 {
            return true;
        }
        let rate = f64::from(self.per_sec);
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * rate).min(rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn admits_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, t0);
        assert_eq!((0..15).filter(|_| b.take(t0)).count(), 10, "a burst of one second's worth");
        assert!(!b.take(t0));
        assert!(b.take(t0 + Duration::from_millis(100)), "one more after a tenth of a second");
        assert!(!b.take(t0 + Duration::from_millis(100)));
        // A long silence refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..30).filter(|_| b.take(later)).count(), 10);
        // Over ten seconds at twice the rate, about half is admitted.
        let mut b = TokenBucket::new(10, t0);
        let admitted = (1..=200).filter(|i| b.take(t0 + Duration::from_millis(50 * i))).count();
        assert!((100..=111).contains(&admitted), "{admitted}");
    }

    #[test]
    fn zero_means_no_limit() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(0, t0);
        assert!((0..10_000).all(|_| b.take(t0)));
    }
}
