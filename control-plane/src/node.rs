//! The control plane as a running service (does I/O): the API server, the first publication of
//! the media folder with its console report, and the periodic rescan.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::TcpListener;
use vidseed_shared::DataPlaneLink;

use crate::api::{ApiServer, RunningApi};
use crate::publisher::{Publisher, PublisherConfig};

/// How the control plane runs.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub publisher: PublisherConfig,
    /// How often the media folder is scanned again after the first publication (`None`: never).
    pub rescan_interval: Option<Duration>,
}

/// A running control plane.
pub struct RunningNode {
    pub publisher: Arc<Publisher>,
    api: RunningApi,
    stop: Arc<AtomicBool>,
    syncer: Option<JoinHandle<()>>,
}

impl RunningNode {
    /// Starts the API on `listener` and publishes the media folder in the background.
    pub fn start(cfg: NodeConfig, listener: TcpListener, link: Arc<dyn DataPlaneLink>) -> std::io::Result<Self> {
        let publisher = Publisher::new(cfg.publisher, link)?;
        let api = ApiServer::start(listener, Arc::clone(&publisher))?;
        let stop = Arc::new(AtomicBool::new(false));
        let syncer = {
            let publisher = Arc::clone(&publisher);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("vidseed-publish".into())
                .spawn(move || sync_loop(&publisher, cfg.rescan_interval, &stop))?
        };
        Ok(RunningNode { publisher, api, stop, syncer: Some(syncer) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.api.local_addr()
    }

    /// Stops hashing and rescanning, then the API.
    pub async fn shutdown(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.publisher.cancel();
        if let Some(s) = self.syncer.take() {
            s.thread().unpark();
            let _ = tokio::task::spawn_blocking(move || s.join()).await;
        }
        self.api.shutdown().await;
    }
}

fn sync_loop(publisher: &Publisher, rescan: Option<Duration>, stop: &AtomicBool) {
    let mut first = true;
    loop {
        match publisher.sync() {
            Ok(report) => {
                if first {
                    print_ready(publisher, report.published, report.failed);
                } else if report.hashed + report.removed + report.failed > 0 {
                    tracing::info!(
                        "media folder changed: {} published, {} new, {} removed, {} failed",
                        report.published, report.hashed, report.removed, report.failed
                    );
                }
            }
            Err(e) => tracing::error!("cannot scan the media folder: {e}"),
        }
        first = false;
        let Some(interval) = rescan else { return };
        std::thread::park_timeout(interval);
        if stop.load(Ordering::Relaxed) {
            return;
        }
    }
}

fn print_ready(publisher: &Publisher, published: usize, failed: usize) {
    let urls = publisher.urls();
    let videos = publisher.videos();
    let mut out = format!("vidseed ready: {published} video(s) published");
    if failed > 0 {
        out.push_str(&format!(", {failed} failed (see the log)"));
    }
    out.push_str(&format!(
        "\n  index:    {0}/\n  API:      {0}/api/v1/videos\n  trackers: {1}\n",
        urls.control_http,
        urls.trackers().join(" "),
    ));
    for v in videos.values().take(20) {
        out.push_str(&format!("  {}\n    file:    {}\n    torrent: {}\n", v.path, v.file_url, v.torrent_url));
    }
    if videos.len() > 20 {
        out.push_str(&format!("  … and {} more: see the API\n", videos.len() - 20));
    }
    print!("{out}");
}
