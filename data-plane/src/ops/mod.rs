//! What a data node tells the people who run it (does I/O: reads counters, asks the tracker's
//! shards): `/healthz`, `/readyz` and Prometheus `/metrics`, on the public port or on a
//! listener of their own (`[metrics] listen`, `listener.rs`). The answers' cores are pure
//! (`health.rs`, `metrics.rs`); [`Ops`] gathers the numbers at scrape time from the counters
//! the workers keep, so serving requests pays nothing for it.

pub mod health;
pub mod listener;
pub mod metrics;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use vidseed_conn_guard::ConnBudget;

use crate::catalog::CatalogStore;
use crate::counters::{ServeSnapshot, WorkerCounters};
use crate::tracker::socket::Tracker;
use crate::webseed::body::FileBody;

/// `[metrics]`: where the metrics are answered.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// A listener of their own for `/metrics`, `/healthz` and `/readyz` (e.g.
    /// `127.0.0.1:9101`); with it, the public port no longer answers `path`.
    pub listen: Option<std::net::SocketAddr>,
    /// The metrics' path (default `/metrics`; `""` on the public port: none there).
    pub path: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { listen: None, path: "/metrics".into() }
    }
}

/// What an ops path asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpsRoute {
    Alive,
    Ready,
    Metrics,
}

/// Everything the ops answers read.
pub struct Ops {
    store: Arc<CatalogStore>,
    tracker: Arc<Tracker>,
    counters: Arc<[WorkerCounters]>,
    budget: Arc<ConnBudget>,
    /// The metrics' path on the public port (`None`: not there).
    public_metrics: Option<String>,
    /// The I/O backend serving plain connections.
    io: crate::config::IoBackend,
}

impl Ops {
    pub fn new(store: Arc<CatalogStore>, tracker: Arc<Tracker>, counters: Arc<[WorkerCounters]>, budget: Arc<ConnBudget>, config: &MetricsConfig) -> Ops {
        let public_metrics = (config.listen.is_none() && !config.path.is_empty()).then(|| config.path.clone());
        Ops { store, tracker, counters, budget, public_metrics, io: crate::config::IoBackend::Epoll }
    }

    /// Says which I/O backend serves plain connections (for the `io_backend` metric).
    pub fn with_io(mut self, io: crate::config::IoBackend) -> Ops {
        self.io = io;
        self
    }

    /// The ops route of a path on the public port, if it is one.
    pub fn route(&self, path: &str) -> Option<OpsRoute> {
        match path {
            "/healthz" => Some(OpsRoute::Alive),
            "/readyz" => Some(OpsRoute::Ready),
            p if self.public_metrics.as_deref() == Some(p) => Some(OpsRoute::Metrics),
            _ => None,
        }
    }

    /// The numbers of a scrape.
    pub async fn snapshot(&self) -> metrics::Snapshot {
        let catalog = self.store.load();
        let applies = self.store.applies();
        let copies = &crate::channel::copies::COUNTS;
        metrics::Snapshot {
            io_uring: self.io == crate::config::IoBackend::Uring,
            serve: ServeSnapshot::of(&self.counters),
            open_connections: self.budget.open() as u64,
            max_connections: self.budget.max() as u64,
            tracker: self.tracker.stats().await,
            catalog: metrics::CatalogSnapshot {
                version: catalog.version,
                files: catalog.len() as u64,
                applied: applies.applied.load(Relaxed),
                refused: applies.refused.load(Relaxed),
                last_apply_secs: applies.last_apply_ns.load(Relaxed) as f64 / 1e9,
                last_rejected: applies.last_rejected.load(Relaxed),
            },
            imports: metrics::ImportSnapshot {
                started: copies.started.load(Relaxed),
                running: copies.running.load(Relaxed),
                served: copies.served.load(Relaxed),
                failed: copies.failed.load(Relaxed),
            },
        }
    }

    /// The answer to `route`.
    pub async fn answer(&self, route: OpsRoute) -> http::Response<FileBody> {
        let (status, content_type, body) = match route {
            OpsRoute::Alive => {
                let (s, b) = health::alive();
                (s, "text/plain; charset=utf-8", FileBody::text(b))
            }
            OpsRoute::Ready => {
                let (s, b) = health::ready(self.store.received());
                (s, "text/plain; charset=utf-8", FileBody::text(b))
            }
            OpsRoute::Metrics => {
                let text = metrics::render(&self.snapshot().await);
                (http::StatusCode::OK, vidseed_shared::exposition::CONTENT_TYPE, FileBody::once(text.into()))
            }
        };
        let mut res = http::Response::new(body);
        *res.status_mut() = status;
        res.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
        res.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
        res
    }
}
