//! A download's bandwidth cap (does timing I/O: it sleeps): bytes per second for every range of
//! one copy together, with bursts of one second's worth; 0 is no cap.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

/// Shared by a copy's workers.
pub struct ByteRate {
    per_sec: u64,
    state: Mutex<(f64, Instant)>,
}

impl ByteRate {
    pub fn new(per_sec: u64) -> ByteRate {
        ByteRate { per_sec, state: Mutex::new((per_sec as f64, Instant::now())) }
    }

    /// Waits until `n` bytes may be fetched.
    pub async fn take(&self, n: u64) {
        if self.per_sec == 0 {
            return;
        }
        let wait = {
            let mut s = self.state.lock().await;
            let rate = self.per_sec as f64;
            let now = Instant::now();
            s.0 = (s.0 + now.duration_since(s.1).as_secs_f64() * rate).min(rate);
            s.1 = now;
            s.0 -= n as f64;
            // In debt: wait until it is paid back.
            (s.0 < 0.0).then(|| Duration::from_secs_f64(-s.0 / rate))
        };
        if let Some(w) = wait {
            tokio::time::sleep(w).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn holds_the_rate_after_a_burst() {
        let r = ByteRate::new(1_000_000);
        let start = Instant::now();
        for _ in 0..6 {
            r.take(250_000).await;
        }
        // One second's burst (1 MB), then half a second for the other 0.5 MB.
        let took = start.elapsed();
        // At least the half second the rate owes; the upper bound only catches a cap that never
        // lets go (a loaded machine sleeps longer than asked).
        assert!(took >= Duration::from_millis(450) && took <= Duration::from_secs(10), "{took:?}");
        let free = ByteRate::new(0);
        let start = Instant::now();
        free.take(u64::MAX).await;
        assert!(start.elapsed() < Duration::from_millis(50));
    }
}
