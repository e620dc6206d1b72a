//! The control plane's `/metrics`, pure: a [`Snapshot`] (gathered by `ops::ControlOps` at
//! scrape time from the store and the catalog channel) rendered as Prometheus text. Names start
//! with `vidseed_control_`.

use vidseed_shared::channel::NodeStats;
use vidseed_shared::exposition::{Exposition, Labels};

use crate::store::{OpsCounts, FAULT_LABELS};

/// One data node as the control plane knows it.
#[derive(Clone, Debug, Default)]
pub struct NodeLine {
    pub name: String,
    /// `connected`, `disconnected`, `never connected` or `revoked`.
    pub state: &'static str,
    pub acked_seq: u64,
    pub stats: Option<NodeStats>,
}

/// Everything a scrape reports.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub latest_seq: u64,
    pub videos: u64,
    pub nodes: Vec<NodeLine>,
    pub counts: OpsCounts,
    pub database_errors: [u64; 10],
}

fn label(name: &'static str, value: &str) -> Labels {
    vec![(name, value.to_owned())]
}

/// The node states, in the order they are listed.
pub const NODE_STATES: [&str; 4] = ["connected", "disconnected", "never connected", "revoked"];

/// The Prometheus text of `s`.
pub fn render(s: &Snapshot) -> String {
    let mut e = Exposition::new();
    e.gauges("build_info", "The running vidseed's version (always 1).", vec![(label("version", env!("CARGO_PKG_VERSION")), 1.0)]);
    e.gauge("catalog_version", "The library's change-log position (what nodes catch up to).", s.latest_seq as f64);
    e.gauge("videos", "Videos published by the library.", s.videos as f64);

    // Data nodes and their channel sessions.
    let states = NODE_STATES.iter().map(|st| (label("state", st), s.nodes.iter().filter(|n| n.state == *st).count() as f64)).collect();
    e.gauges("nodes", "Data nodes by state.", states);
    let live: Vec<&NodeLine> = s.nodes.iter().filter(|n| n.state != "revoked").collect();
    let per_node = |f: &dyn Fn(&NodeLine) -> f64| live.iter().map(|n| (label("node", &n.name), f(n))).collect::<Vec<_>>();
    e.gauges("channel_sessions", "Catalog channel sessions open per data node (0 or 1).", per_node(&|n| f64::from(u8::from(n.state == "connected"))));
    e.gauges("node_catalog_version", "The change-log position each data node acknowledged.", per_node(&|n| n.acked_seq as f64));
    let stat = |f: fn(&NodeStats) -> u64| move |n: &NodeLine| n.stats.as_ref().map_or(0.0, |st| f(st) as f64);
    e.gauges("node_requests", "WebSeed requests a data node reported since it started.", per_node(&stat(|st| st.requests)));
    e.gauges("node_served_bytes", "WebSeed body bytes a data node reported since it started.", per_node(&stat(|st| st.bytes_served)));
    e.gauges("node_tracker_messages", "Tracker messages a data node reported since it started.", per_node(&stat(|st| st.tracker_messages)));
    e.gauges("node_tracker_peers", "Tracker peers on a data node now.", per_node(&stat(|st| st.peers)));
    e.gauges("node_disk_free_bytes", "Free bytes on the disk of a data node's first folder.", per_node(&stat(|st| st.disk_free_bytes)));

    // Federation.
    let c = &s.counts;
    let inbox = ["pending", "processed", "failed"]
        .iter()
        .map(|st| (label("state", st), c.inbox.iter().find(|(k, _)| k == st).map_or(0.0, |(_, n)| *n as f64)))
        .collect();
    e.gauges("inbox_activities", "Activities received in the inbox by state: pending (not processed yet, or retried), processed, failed.", inbox);
    let deliveries = ["pending", "delivered", "given_up"]
        .iter()
        .map(|st| (label("state", st), c.deliveries.iter().filter(|d| d.state == *st).map(|d| d.rows as f64).sum()))
        .collect();
    e.gauges("deliveries", "Outgoing deliveries by state; pending is the queue's depth.", deliveries);
    e.gauge("delivery_attempts", "Delivery attempts recorded in the queue.", c.deliveries.iter().map(|d| d.attempts as f64).sum());
    let failing = c
        .deliveries
        .iter()
        .filter(|d| d.failing > 0 && d.state != "delivered")
        .map(|d| (vec![("host", d.host.clone()), ("state", d.state.clone())], d.failing as f64))
        .collect();
    e.gauges("delivery_failures", "Deliveries whose last attempt failed, by host: pending ones will be retried, given_up ones will not.", failing);
    let follows = c.follows.iter().map(|(dir, st, n)| (vec![("direction", dir.clone()), ("state", st.clone())], *n as f64)).collect();
    e.gauges("follows", "Follows by direction (follower: they follow us; following: we follow them) and state.", follows);

    let errors = FAULT_LABELS.iter().zip(s.database_errors).map(|(f, n)| (label("fault", f), n)).collect();
    e.counters("database_errors", "Database errors since the process started, by fault.", errors);
    e.render("vidseed_control")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DeliveryCount;

    fn counts() -> OpsCounts {
        let d = |host: &str, state: &str, rows, attempts, failing| DeliveryCount { host: host.into(), state: state.into(), rows, attempts, failing };
        OpsCounts {
            inbox: vec![("failed".into(), 1), ("processed".into(), 5)],
            deliveries: vec![d("a.example", "pending", 3, 4, 2), d("b.example", "given_up", 1, 3, 1), d("b.example", "delivered", 2, 0, 0)],
            follows: vec![("following".into(), "accepted".into(), 2)],
        }
    }

    #[test]
    fn nodes_federation_and_errors_appear() {
        let mut s = Snapshot { latest_seq: 4, videos: 2, counts: counts(), ..Default::default() };
        s.nodes = vec![
            NodeLine { name: "edge-1".into(), state: "connected", acked_seq: 4, stats: Some(NodeStats { requests: 12, ..Default::default() }) },
            NodeLine { name: "old".into(), state: "revoked", acked_seq: 1, stats: None },
        ];
        s.database_errors[0] = 2;
        let text = render(&s);
        for line in [
            "vidseed_control_catalog_version 4",
            "vidseed_control_nodes{state=\"connected\"} 1",
            "vidseed_control_nodes{state=\"revoked\"} 1",
            "vidseed_control_channel_sessions{node=\"edge-1\"} 1",
            "vidseed_control_node_requests{node=\"edge-1\"} 12",
            "vidseed_control_inbox_activities{state=\"failed\"} 1",
            "vidseed_control_deliveries{state=\"pending\"} 3",
            "vidseed_control_delivery_attempts 7",
            "vidseed_control_delivery_failures{host=\"b.example\",state=\"given_up\"} 1",
            "vidseed_control_follows{direction=\"following\",state=\"accepted\"} 2",
            "vidseed_control_database_errors_total{fault=\"disk_full\"} 2",
        ] {
            assert!(text.lines().any(|l| l.starts_with(line)), "no {line:?} in\n{text}");
        }
        assert!(!text.contains("node=\"old\""), "revoked nodes have no per-node series");
    }
}
