//! The last hour of the data nodes' traffic, pure: each sample takes every node's latest stats
//! report (running totals and when it was made) and turns what changed since that node's
//! previous report into rates — requests/s, bytes/s, tracker messages/s — kept in a ring of
//! [`CAPACITY`] points for the status page's graphs. A node whose totals went down (it
//! restarted) starts over without a negative rate; one that sent no new report adds nothing.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;
use vidseed_shared::channel::NodeStats;

/// Points kept: an hour at one sample every 10 s.
pub const CAPACITY: usize = 360;
/// How often the control plane samples.
pub const SAMPLE_SECS: u64 = 10;

/// One node's rates over one sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rates {
    pub requests_per_sec: f64,
    pub bytes_per_sec: f64,
    pub tracker_messages_per_sec: f64,
}

impl Rates {
    fn add(&mut self, o: &Rates) {
        self.requests_per_sec += o.requests_per_sec;
        self.bytes_per_sec += o.bytes_per_sec;
        self.tracker_messages_per_sec += o.tracker_messages_per_sec;
    }
}

/// One point of the graphs: the time (ms since the epoch), the sum over the nodes, and each node.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    pub at: i64,
    pub total: Rates,
    pub nodes: BTreeMap<String, Rates>,
}

/// The ring and each node's previous report.
#[derive(Debug, Default)]
pub struct Traffic {
    points: VecDeque<Point>,
    previous: BTreeMap<String, (i64, NodeStats)>,
    /// Each node's rates from its last two distinct reports (kept while it sends nothing new).
    current: BTreeMap<String, Rates>,
}

impl Traffic {
    /// Adds a point at `now_ms` from each node's latest report `(name, made at ms, stats)`.
    /// Nodes absent from `reports` (revoked) are forgotten.
    pub fn sample(&mut self, now_ms: i64, reports: &[(String, i64, NodeStats)]) {
        let mut nodes = BTreeMap::new();
        for (name, at, stats) in reports {
            let rates = match self.previous.get(name) {
                Some((prev_at, prev)) if at > prev_at => {
                    let secs = (at - prev_at) as f64 / 1000.0;
                    let per = |now: u64, before: u64| if now >= before { (now - before) as f64 / secs } else { 0.0 };
                    let restarted = stats.requests < prev.requests || stats.bytes_served < prev.bytes_served;
                    let r = if restarted {
                        Rates::default()
                    } else {
                        Rates {
                            requests_per_sec: per(stats.requests, prev.requests),
                            bytes_per_sec: per(stats.bytes_served, prev.bytes_served),
                            tracker_messages_per_sec: per(stats.tracker_messages, prev.tracker_messages),
                        }
                    };
                    self.current.insert(name.clone(), r);
                    r
                }
                Some(_) => self.current.get(name).copied().unwrap_or_default(),
                None => Rates::default(),
            };
            if self.previous.get(name).is_none_or(|(prev_at, _)| at > prev_at) {
                self.previous.insert(name.clone(), (*at, *stats));
            }
            nodes.insert(name.clone(), rates);
        }
        self.previous.retain(|n, _| nodes.contains_key(n));
        self.current.retain(|n, _| nodes.contains_key(n));
        let mut total = Rates::default();
        for r in nodes.values() {
            total.add(r);
        }
        if self.points.len() == CAPACITY {
            self.points.pop_front();
        }
        self.points.push_back(Point { at: now_ms, total, nodes });
    }

    /// The points, oldest first.
    pub fn points(&self) -> impl Iterator<Item = &Point> {
        self.points.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(requests: u64, bytes: u64, messages: u64) -> NodeStats {
        NodeStats { requests, bytes_served: bytes, tracker_messages: messages, ..Default::default() }
    }

    #[test]
    fn rates_come_from_consecutive_reports_of_each_node() {
        let mut t = Traffic::default();
        t.sample(0, &[("a".into(), 1_000, stats(10, 1000, 5))]);
        assert_eq!(t.points().last().unwrap().total, Rates::default(), "one report: no rate yet");
        t.sample(10_000, &[("a".into(), 6_000, stats(60, 6000, 30)), ("b".into(), 6_000, stats(1, 1, 1))]);
        let p = t.points().last().unwrap();
        assert_eq!(p.nodes["a"], Rates { requests_per_sec: 10.0, bytes_per_sec: 1000.0, tracker_messages_per_sec: 5.0 });
        assert_eq!(p.nodes["b"], Rates::default());
        // No new report from a: its last rates stay; b's first rate.
        t.sample(20_000, &[("a".into(), 6_000, stats(60, 6000, 30)), ("b".into(), 8_000, stats(5, 2001, 1))]);
        let p = t.points().last().unwrap();
        assert_eq!(p.nodes["a"].requests_per_sec, 10.0);
        assert_eq!(p.nodes["b"], Rates { requests_per_sec: 2.0, bytes_per_sec: 1000.0, tracker_messages_per_sec: 0.0 });
        assert_eq!(p.total.bytes_per_sec, 2000.0);
        // a restarted: its totals went down, no negative rate.
        t.sample(30_000, &[("a".into(), 9_000, stats(1, 10, 0))]);
        let p = t.points().last().unwrap();
        assert_eq!(p.nodes["a"], Rates::default());
        assert!(!p.nodes.contains_key("b"), "b was revoked: forgotten");
    }

    #[test]
    fn the_ring_keeps_the_last_hour() {
        let mut t = Traffic::default();
        for i in 0..(CAPACITY as i64 + 5) {
            t.sample(i * 10_000, &[]);
        }
        assert_eq!(t.points().count(), CAPACITY);
        assert_eq!(t.points().next().unwrap().at, 50_000);
    }
}
