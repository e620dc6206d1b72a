//! The data node's `/metrics`, pure: a [`Snapshot`] of what the node counted (taken by
//! `ops::Ops` on each scrape) rendered as Prometheus text. Names start with `vidseed_data_`.

use vidseed_shared::exposition::{Exposition, Labels};

use crate::counters::{ServeSnapshot, CLASSES, DURATION_BOUNDS, METHODS, REFUSALS, SEND_PATHS};
use crate::tracker::socket::TrackerStats;

/// Everything a scrape reports.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Plain connections are served by io_uring workers (else epoll).
    pub io_uring: bool,
    pub serve: ServeSnapshot,
    pub open_connections: u64,
    pub max_connections: u64,
    pub tracker: TrackerStats,
    pub catalog: CatalogSnapshot,
    pub imports: ImportSnapshot,
}

/// The served catalog and how its updates went.
#[derive(Clone, Copy, Debug, Default)]
pub struct CatalogSnapshot {
    /// The control plane's change-log position of the served catalog (0: none yet).
    pub version: u64,
    pub files: u64,
    pub applied: u64,
    pub refused: u64,
    pub last_apply_secs: f64,
    pub last_rejected: u64,
}

/// Copies of other instances' videos (redundancy imports).
#[derive(Clone, Copy, Debug, Default)]
pub struct ImportSnapshot {
    pub started: u64,
    pub running: u64,
    pub served: u64,
    pub failed: u64,
}

fn label(name: &'static str, value: &str) -> Labels {
    vec![(name, value.to_owned())]
}

/// The Prometheus text of `s`.
pub fn render(s: &Snapshot) -> String {
    let mut e = Exposition::new();
    e.gauges("build_info", "The running vidseed's version (always 1).", vec![(label("version", env!("CARGO_PKG_VERSION")), 1.0)]);
    e.gauge("ready", "1 once a catalog from the control plane is served (what /readyz says).", f64::from(u8::from(s.catalog.applied > 0)));
    let io = [("epoll", !s.io_uring), ("uring", s.io_uring)].iter().map(|(b, on)| (label("backend", b), f64::from(u8::from(*on)))).collect();
    e.gauges("io_backend", "The I/O backend serving plain HTTP connections (1: in use).", io);

    // WebSeed.
    let mut responses = Vec::new();
    for (m, method) in METHODS.iter().enumerate() {
        for (c, class) in CLASSES.iter().enumerate() {
            responses.push((vec![("method", (*method).to_owned()), ("class", (*class).to_owned())], s.serve.responses[m][c]));
        }
    }
    e.counters("webseed_responses", "WebSeed responses by request method and status class.", responses);
    e.counter("webseed_body_bytes", "Body bytes of WebSeed responses, as planned (a client may close before the end).", s.serve.bytes);
    e.histogram(
        "webseed_request_duration_seconds",
        "Time from a WebSeed request's head to its response head (the body then streams from the page cache).",
        &DURATION_BOUNDS,
        &s.serve.duration_buckets,
        s.serve.duration_sum_secs,
    );
    let sent = SEND_PATHS.iter().zip(s.serve.sent).map(|(p, n)| (label("path", p), n)).collect();
    e.counters("sent_bytes", "Bytes written to client sockets by path: sendfile (zero-copy), write (from memory), tls (encrypted).", sent);
    e.gauge(
        "small_bodies_sendfile",
        "io_uring workers whose small bodies (below [http] sendfile_min) leave by sendfile now, a trial's sendfile epochs included; the others copy them ([http] small_bodies).",
        s.serve.small_by_sendfile as f64,
    );

    // Connections.
    e.gauge("open_connections", "Client connections open now (WebSockets included).", s.open_connections as f64);
    e.gauge("max_connections", "Connections the node may hold ([http] max_connections, or from the open-files limit).", s.max_connections as f64);
    let refused = REFUSALS.iter().zip(s.serve.refused).map(|(r, n)| (label("reason", r), n)).collect();
    e.counters("refused_connections", "Connections refused by reason: per_ip (max_connections_per_ip), node_full (the connection budget), tls_handshake (failed or timed out).", refused);

    // Tracker.
    let t = &s.tracker;
    e.gauge("tracker_connections", "Tracker WebSocket connections open now.", t.connections as f64);
    e.gauge("tracker_swarms", "Swarms (info-hashes with peers).", t.swarms as f64);
    e.gauges(
        "tracker_peers",
        "Peers in the swarms by kind.",
        vec![(label("kind", "seeder"), t.seeders as f64), (label("kind", "leecher"), t.peers.saturating_sub(t.seeders) as f64)],
    );
    e.counter("tracker_messages_received", "Tracker messages received (WebSocket messages and HTTP announces).", t.messages);
    e.counter("tracker_messages_sent", "Tracker messages written to WebSocket clients.", t.sent);
    e.counter("tracker_dropped", "Tracker replies dropped (or offers not sent) because a client's queue was full.", t.dropped);
    let errors = [
        ("rate_limited", t.rate_limited),
        ("invalid", t.errors.invalid),
        ("overloaded", t.errors.overloaded),
        ("announce_limited", t.errors.announce_limited),
        ("protocol", t.errors.protocol),
        ("connection_cap", t.errors.connection_cap),
    ];
    e.counters("tracker_errors", "Tracker refusals by reason.", errors.iter().map(|(r, n)| (label("reason", r), *n)).collect());

    // Catalog.
    let c = &s.catalog;
    e.gauge("catalog_version", "The change-log position of the served catalog (0: none yet).", c.version as f64);
    e.gauge("catalog_files", "Files served.", c.files as f64);
    e.counters(
        "catalog_updates",
        "Catalog updates from the control plane by result.",
        vec![(label("result", "applied"), c.applied), (label("result", "refused"), c.refused)],
    );
    e.gauge("catalog_last_apply_seconds", "How long the last applied catalog update took (checks, mappings, swap).", c.last_apply_secs);
    e.gauge("catalog_rejected_files", "Files of the last applied update the node could not serve.", c.last_rejected as f64);

    // Imports.
    let i = &s.imports;
    e.counter("imports_started", "Copies of other instances' videos started (or resumed).", i.started);
    e.gauge("imports_running", "Copies being downloaded now.", i.running as f64);
    e.counters(
        "imports_finished",
        "Copies finished by result: served (verified and served) or failed.",
        vec![(label("result", "served"), i.served), (label("result", "failed"), i.failed)],
    );
    e.render("vidseed_data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_count_appears_under_its_name_and_labels() {
        let mut s = Snapshot { open_connections: 3, max_connections: 100, ..Default::default() };
        s.serve.responses[0][1] = 7;
        s.serve.sent = [10, 20, 30, 40];
        s.serve.refused = [1, 2, 3];
        s.serve.duration_buckets[0] = 7;
        s.serve.small_by_sendfile = 2;
        s.tracker.peers = 5;
        s.tracker.seeders = 2;
        s.tracker.errors.announce_limited = 4;
        s.catalog = CatalogSnapshot { version: 9, files: 2, applied: 1, refused: 0, last_apply_secs: 0.5, last_rejected: 0 };
        s.imports.failed = 6;
        let text = render(&s);
        for line in [
            "vidseed_data_ready 1",
            "vidseed_data_io_backend{backend=\"epoll\"} 1",
            "vidseed_data_io_backend{backend=\"uring\"} 0",
            "vidseed_data_webseed_responses_total{method=\"GET\",class=\"2xx\"} 7",
            "vidseed_data_webseed_responses_total{method=\"other\",class=\"5xx\"} 0",
            "vidseed_data_sent_bytes_total{path=\"tls\"} 30",
            "vidseed_data_sent_bytes_total{path=\"zerocopy\"} 40",
            "vidseed_data_refused_connections_total{reason=\"node_full\"} 2",
            "vidseed_data_small_bodies_sendfile 2",
            "vidseed_data_open_connections 3",
            "vidseed_data_webseed_request_duration_seconds_bucket{le=\"+Inf\"} 7",
            "vidseed_data_tracker_peers{kind=\"leecher\"} 3",
            "vidseed_data_tracker_errors_total{reason=\"announce_limited\"} 4",
            "vidseed_data_catalog_version 9",
            "vidseed_data_catalog_last_apply_seconds 0.5",
            "vidseed_data_imports_finished_total{result=\"failed\"} 6",
        ] {
            assert!(text.lines().any(|l| l.starts_with(line)), "no {line:?} in\n{text}");
        }
    }
}
