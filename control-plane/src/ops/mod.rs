//! What the control plane tells the people who run it (does I/O: the store, the channel):
//! `/healthz`, `/readyz` (the database answers), Prometheus `/metrics` and the status page
//! `/admin` with its traffic graphs. The answers' cores are pure (`health.rs`, `metrics.rs`,
//! `traffic.rs`, `page.rs`); [`ControlOps`] gathers the numbers when asked, and samples the data
//! nodes' reports every 10 s into the last hour of traffic.

pub mod health;
pub mod metrics;
pub mod page;
pub mod traffic;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use vidseed_shared::channel::NodeStats;

use crate::channel::RunningChannel;
use crate::library::{timestamp_ms, Library};
use crate::store::StoreError;

/// The ops state of a running control plane.
pub struct ControlOps {
    library: Arc<Library>,
    channel: Arc<RunningChannel>,
    traffic: Mutex<traffic::Traffic>,
}

impl ControlOps {
    pub fn new(library: Arc<Library>, channel: Arc<RunningChannel>) -> Arc<ControlOps> {
        Arc::new(ControlOps { library, channel, traffic: Mutex::default() })
    }

    /// Samples the nodes' traffic every [`traffic::SAMPLE_SECS`] until aborted.
    pub fn start(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(traffic::SAMPLE_SECS));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                this.sample().await;
            }
        })
    }

    /// Adds one point to the traffic ring from the nodes' latest reports.
    pub async fn sample(&self) {
        let Ok(nodes) = self.library.store().nodes().await else { return };
        let reports: Vec<(String, i64, NodeStats)> = nodes
            .iter()
            .filter(|n| !n.revoked)
            .filter_map(|n| {
                let stats = serde_json::from_str(n.stats_json.as_deref()?).ok()?;
                Some((n.name.clone(), n.stats_at_ms?, stats))
            })
            .collect();
        self.traffic.lock().unwrap_or_else(|p| p.into_inner()).sample(timestamp_ms(), &reports);
    }

    /// The traffic ring as the status page reads it.
    pub fn traffic_json(&self) -> serde_json::Value {
        let t = self.traffic.lock().unwrap_or_else(|p| p.into_inner());
        let points: Vec<&traffic::Point> = t.points().collect();
        serde_json::json!({ "intervalSecs": traffic::SAMPLE_SECS, "points": points })
    }

    /// Whether the database answers within [`health::READY_TIMEOUT`].
    pub async fn database_ready(&self) -> Result<(), String> {
        match tokio::time::timeout(health::READY_TIMEOUT, self.library.store().ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} s", health::READY_TIMEOUT.as_secs())),
        }
    }

    /// The numbers of a scrape.
    pub async fn snapshot(&self) -> Result<metrics::Snapshot, StoreError> {
        let store = self.library.store();
        let nodes = store.nodes().await?;
        let latest_seq = store.last_seq().await?;
        let counts = store.ops_counts().await?;
        let nodes = nodes
            .iter()
            .map(|n| metrics::NodeLine {
                name: n.name.clone(),
                state: if n.revoked {
                    "revoked"
                } else if self.channel.is_connected(&n.name) {
                    "connected"
                } else if n.last_seen_ms.is_none() {
                    "never connected"
                } else {
                    "disconnected"
                },
                acked_seq: n.acked_seq.unwrap_or(0),
                stats: n.stats_json.as_deref().and_then(|s| serde_json::from_str(s).ok()),
            })
            .collect();
        Ok(metrics::Snapshot {
            latest_seq,
            videos: self.library.state().videos.len() as u64,
            nodes,
            counts,
            database_errors: crate::store::database_errors(),
        })
    }

    /// `/healthz`, `/readyz`, `/metrics` (already authorized by the caller).
    pub async fn answer(&self, route: crate::http::router::OpsRoute) -> Response<Full<Bytes>> {
        use crate::http::router::OpsRoute as O;
        let (status, content_type, body) = match route {
            O::Alive => {
                let (s, b) = health::alive();
                (s, "text/plain; charset=utf-8", b)
            }
            O::Ready => {
                let (s, b) = health::ready(self.database_ready().await);
                (s, "text/plain; charset=utf-8", b)
            }
            O::Metrics => match self.snapshot().await {
                Ok(s) => (StatusCode::OK, vidseed_shared::exposition::CONTENT_TYPE, metrics::render(&s)),
                Err(e) => (StatusCode::SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", format!("the database does not answer: {e}\n")),
            },
            O::Traffic => (StatusCode::OK, "application/json", self.traffic_json().to_string()),
            O::StatusPage => return page::page(),
            O::StatusScript => return page::script(),
        };
        let mut res = Response::new(Full::new(Bytes::from(body)));
        *res.status_mut() = status;
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }
}
