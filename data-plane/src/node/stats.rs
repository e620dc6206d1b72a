//! The report a data node sends its control plane at each interval: its servers' totals, its
//! tracker's counts, tracker messages per second since the previous report and the free space
//! on its disk. [`MessageRate`] and [`report`] are pure (the instant is passed in);
//! [`disk_free_bytes`] asks the kernel (`statvfs`), and [`source`] gathers it all.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use vidseed_shared::channel::NodeStats;

use crate::channel::StatsSource;
use crate::server::{RunningDataPlane, ServeTotals};
use crate::tracker::socket::TrackerStats;

/// Messages per second between two reports, from a running total.
#[derive(Clone, Copy, Debug, Default)]
pub struct MessageRate {
    previous: Option<(u64, Instant)>,
}

impl MessageRate {
    /// The rate since the previous call (rounded; 0 the first time), given the total `messages`
    /// at `now`.
    pub fn per_sec(&mut self, messages: u64, now: Instant) -> u64 {
        let previous = self.previous.replace((messages, now));
        previous.map_or(0, |(n, at)| {
            let secs = now.duration_since(at).as_secs_f64();
            if secs > 0.0 {
                (messages.saturating_sub(n) as f64 / secs).round() as u64
            } else {
                0
            }
        })
    }
}

/// One report, from what the node counted.
pub fn report(served: ServeTotals, tracker: &TrackerStats, tracker_messages_per_sec: u64, disk_free_bytes: u64) -> NodeStats {
    NodeStats {
        bytes_served: served.bytes,
        requests: served.requests,
        errors: served.errors,
        peers: tracker.peers as u64,
        swarms: tracker.swarms as u64,
        tracker_messages: tracker.messages,
        tracker_messages_per_sec,
        disk_free_bytes,
    }
}

/// Bytes an unprivileged user may still write on the file system holding `path` (0 if it
/// cannot be asked).
pub fn disk_free_bytes(path: &Path) -> u64 {
    rustix::fs::statvfs(path).map_or(0, |s| s.f_bavail.saturating_mul(s.f_frsize))
}

/// The channel's stats source for `servers`, reporting the disk that holds `disk`.
pub fn source(servers: &RunningDataPlane, disk: PathBuf) -> StatsSource {
    let counters = servers.counters();
    let tracker = Arc::clone(servers.tracker());
    let rate = Arc::new(Mutex::new(MessageRate::default()));
    Arc::new(move || {
        let counters = Arc::clone(&counters);
        let tracker = Arc::clone(&tracker);
        let disk = disk.clone();
        let rate = Arc::clone(&rate);
        Box::pin(async move {
            let t = tracker.stats().await;
            let per_sec = rate.lock().unwrap_or_else(|p| p.into_inner()).per_sec(t.messages, Instant::now());
            report(ServeTotals::of(&counters), &t, per_sec, disk_free_bytes(&disk))
        })
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn rate_is_per_second_since_the_previous_report() {
        let t0 = Instant::now();
        let mut rate = MessageRate::default();
        assert_eq!(rate.per_sec(500, t0), 0, "nothing to compare the first report with");
        assert_eq!(rate.per_sec(2500, t0 + Duration::from_secs(10)), 200);
        assert_eq!(rate.per_sec(2500, t0 + Duration::from_secs(20)), 0);
        assert_eq!(rate.per_sec(2501, t0 + Duration::from_secs(23)), 0, "rounded");
        assert_eq!(rate.per_sec(2503, t0 + Duration::from_secs(24)), 2);
        assert_eq!(rate.per_sec(9000, t0 + Duration::from_secs(24)), 0, "no time passed");
        assert_eq!(rate.per_sec(10, t0 + Duration::from_secs(25)), 0, "a total that went down");
    }

    #[test]
    fn a_report_holds_every_count() {
        let served = ServeTotals { requests: 2, bytes: 1, errors: 3, refused: 9 };
        let tracker = TrackerStats { connections: 7, messages: 70, swarms: 5, peers: 4, seeders: 1, ..Default::default() };
        assert_eq!(
            report(served, &tracker, 8, 6),
            NodeStats { bytes_served: 1, requests: 2, errors: 3, peers: 4, swarms: 5, tracker_messages: 70, tracker_messages_per_sec: 8, disk_free_bytes: 6 }
        );
    }

    #[test]
    fn free_space_of_a_real_folder_and_of_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(disk_free_bytes(dir.path()) > 0);
        assert_eq!(disk_free_bytes(&dir.path().join("missing")), 0);
    }
}
