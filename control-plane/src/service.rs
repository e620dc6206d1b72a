//! The control plane as a running service, `ControlPlane` (does I/O): the store, the library, the catalog
//! channel, the HTTP API (public and admin), and, for `vidseed serve`, following the media
//! folder with its console report.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::activitypub::actor::Instance;
use crate::http::admin::AdminApi;
use crate::http::activitypub::Federation;
use crate::http::{ApiServer, RunningApi};
use crate::channel::{ChannelIdentity, ChannelServer, RunningChannel};
use crate::library::{timestamp_ms, Library, LibraryConfig};
use crate::store::{random_token, sha256_hex, Database, Store};

/// How the control plane runs.
#[derive(Clone, Debug)]
pub struct ControlPlaneConfig {
    pub library: LibraryConfig,
    pub database: Database,
    /// The catalog channel's UDP address.
    pub channel_listen: SocketAddr,
    /// The channel's address as data nodes reach it (default: the bound address).
    pub channel_public: Option<String>,
    /// Follow the library folder: publish new files, drop vanished ones, at this interval
    /// (`vidseed serve`). `None`: the library changes only through the admin API.
    pub follow_interval: Option<Duration>,
    /// Whether a first scan of the library folder runs at start (with `follow_interval`).
    pub follow: bool,
    /// Track any info-hash on every node.
    pub open_tracker: bool,
    /// Before the first "ready" report, wait (up to 15 s) until this node serves the library.
    pub ready_node: Option<String>,
    /// Let federation fetches reach private, loopback and link-local addresses (tests, closed
    /// networks); off, they are refused.
    pub allow_private_fetches: bool,
    /// First delay before a failed delivery is retried (doubles each attempt).
    pub federation_retry: Duration,
    /// How often the redundancy scheduler runs (PeerTube's `check_interval`: 1 h).
    pub redundancy_check: Duration,
    /// The names of the account and channel the instance's videos are published under.
    pub publish: crate::publish::PublishConfig,
}

/// A running control plane.
pub struct ControlPlane {
    pub library: Arc<Library>,
    /// Redundancy: the catalog channel hands it the data nodes' fetch reports
    /// ([`crate::redundancy::RedundancyEngine::on_report`]) and gives it a sink for the orders
    /// ([`crate::redundancy::RedundancyEngine::set_sink`]).
    pub redundancy: Arc<crate::redundancy::RedundancyEngine>,
    api: RunningApi,
    channel: Arc<RunningChannel>,
    pin: String,
    /// The admin token, when it was made by this start (print it once).
    pub new_admin_token: Option<String>,
    stop: Arc<AtomicBool>,
    syncer: Option<JoinHandle<()>>,
    engine_tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl ControlPlane {
    /// Opens the store, starts the channel and the API on `listener`, and follows the library
    /// folder if asked to.
    pub async fn start(cfg: ControlPlaneConfig, listener: TcpListener) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let store = Store::open(&cfg.database).await.with_context(|| format!("cannot open the {} database", cfg.database.kind()))?;
        store
            .set_setting(crate::channel::server::TRACKER_OPEN_SETTING, if cfg.open_tracker { "true" } else { "false" })
            .await?;
        let library = Library::open(cfg.library.clone(), store.clone()).await?;
        let identity = ChannelIdentity::load_or_create(&store).await?;
        let pin = identity.pin();
        let channel = Arc::new(
            ChannelServer::start(cfg.channel_listen, &identity, Arc::clone(&library))
                .await
                .with_context(|| format!("cannot listen on {} (UDP) for the catalog channel", cfg.channel_listen))?,
        );
        let channel_public = cfg.channel_public.clone().unwrap_or_else(|| {
            let bound = channel.local_addr();
            if bound.ip().is_unspecified() {
                // Listening on every address: nodes need one they can reach.
                tracing::warn!("the catalog channel listens on {bound}: set --channel-public HOST:PORT so that data nodes' configs name a reachable address (127.0.0.1 is used meanwhile)");
                format!("127.0.0.1:{}", bound.port())
            } else {
                bound.to_string()
            }
        });
        let new_admin_token = AdminApi::ensure_token(&library).await?;
        let keys = Arc::new(actor_keys(&store).await?);
        let instance = Instance::new(&cfg.library.urls.control_http);
        let fetcher = crate::activitypub::fetch::Fetcher::new(Arc::clone(&keys), instance.clone(), cfg.allow_private_fetches);
        let engine = crate::federation::Engine::new(store.clone(), fetcher.clone(), instance.clone(), cfg.federation_retry, keys.private_pem())?;
        let redundancy = crate::redundancy::RedundancyEngine::new(Arc::clone(&engine), Arc::clone(&library), cfg.redundancy_check);
        let mut engine_tasks = engine.start();
        let publisher = crate::publish::Publisher::new(Arc::clone(&library), Arc::clone(&engine), &cfg.publish).await?;
        engine_tasks.push(publisher.start());
        channel.fetch_hub().attach(Arc::clone(&redundancy));
        engine_tasks.push(redundancy.start());
        let admin = Arc::new(
            AdminApi::new(Arc::clone(&library), Arc::clone(&channel), channel_public, pin.clone(), Arc::clone(&engine), Arc::clone(&redundancy)).await?,
        );
        admin.attach_publisher(Arc::clone(&publisher));
        let federation = Arc::new(Federation {
            instance,
            public_key_pem: keys.public_pem().to_owned(),
            published: keys_published(&store).await?,
            inbox: crate::http::inbox::Inbox { store: store.clone(), fetcher, engine: Arc::clone(&engine) },
            engine,
            redundancy: Arc::clone(&redundancy),
            publisher,
        });
        let ops = crate::ops::ControlOps::new(Arc::clone(&library), Arc::clone(&channel));
        engine_tasks.push(ops.start());
        let api = ApiServer::start(listener, admin, federation, ops)?;
        let stop = Arc::new(AtomicBool::new(false));
        let syncer = if cfg.follow {
            let library = Arc::clone(&library);
            let stop = Arc::clone(&stop);
            let interval = cfg.follow_interval;
            let ready_node = cfg.ready_node.clone();
            Some(
                std::thread::Builder::new()
                    .name("vidseed-follow".into())
                    .spawn(move || follow_loop(&library, interval, ready_node.as_deref(), &stop))?,
            )
        } else {
            None
        };
        Ok(ControlPlane { library, redundancy, api, channel, pin, new_admin_token, stop, syncer, engine_tasks })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.api.local_addr()
    }

    pub fn channel_addr(&self) -> SocketAddr {
        self.channel.local_addr()
    }

    /// The channel certificate's fingerprint, for data nodes' configurations.
    pub fn pin(&self) -> &str {
        &self.pin
    }

    /// The token of the data node embedded in this process (`vidseed serve`), made on first use
    /// and kept in the store with its node record.
    pub async fn embedded_node_token(&self, name: &str, public_url: &str) -> anyhow::Result<String> {
        let store = self.library.store();
        let key = format!("embedded_node_token:{name}");
        let token = store.setting_or_insert(&key, &random_token()).await?;
        match store.node(name).await? {
            Some(n) if n.token_sha256 == sha256_hex(token.as_bytes()) && !n.revoked => {
                // This start's address or public URL wins (e.g. https:// once TLS is on).
                if n.public_url != public_url {
                    store.set_node_public_url(name, public_url).await?;
                }
            }
            Some(_) => anyhow::bail!("a node named {name:?} exists with another token or was revoked; start with a fresh --state"),
            None => {
                store.add_node(name, public_url, &sha256_hex(token.as_bytes()), timestamp_ms()).await?;
            }
        }
        self.library.reload_nodes().await?;
        Ok(token)
    }

    /// Stops following and hashing, then the API and the channel.
    pub async fn shutdown(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.library.cancel();
        if let Some(s) = self.syncer.take() {
            s.thread().unpark();
            let _ = tokio::task::spawn_blocking(move || s.join()).await;
        }
        self.api.shutdown().await;
        for t in &self.engine_tasks {
            t.abort();
        }
        self.channel.shutdown().await;
        self.library.store().close().await;
    }
}

/// The instance actor's RSA-2048 key pair: made once (on a blocking thread: key generation
/// takes a while) and kept in the store; two processes racing keep the first one saved.
async fn actor_keys(store: &Store) -> anyhow::Result<crate::activitypub::keys::InstanceKeys> {
    use crate::activitypub::keys::InstanceKeys;
    const KEY: &str = "actor_private_key_pem";
    if let Some(pem) = store.setting(KEY).await? {
        return Ok(InstanceKeys::from_pem(&pem)?);
    }
    let fresh = tokio::task::spawn_blocking(InstanceKeys::generate).await??;
    let pem = store.setting_or_insert(KEY, fresh.private_pem()).await?;
    Ok(InstanceKeys::from_pem(&pem)?)
}

/// When the instance actor was made (ISO 8601), recorded with its keys.
async fn keys_published(store: &Store) -> anyhow::Result<String> {
    let now = crate::clock::iso_8601(std::time::SystemTime::now());
    Ok(store.setting_or_insert("actor_published", &now).await?)
}

/// Waits until node `name` has acknowledged the library's last change (at most 15 s).
fn wait_until_served(library: &Library, name: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while std::time::Instant::now() < deadline {
        let served = library.block_on(async {
            let last = library.store().last_seq().await.ok()?;
            let node = library.store().node(name).await.ok()??;
            Some(node.acked_seq.unwrap_or(0) >= last && node.last_seen_ms.is_some())
        });
        if served == Some(true) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    tracing::warn!("data node {name:?} has not acknowledged the catalog yet");
}

fn follow_loop(library: &Library, interval: Option<Duration>, ready_node: Option<&str>, stop: &AtomicBool) {
    let mut first = true;
    loop {
        let bar = progress_bar();
        let result = library.sync_root(&mut |p| {
            if p.total > 0 {
                bar.set_length(p.total);
                bar.set_position(p.done);
                bar.set_message(p.file.clone());
            }
        });
        bar.finish_and_clear();
        match result {
            Ok(report) => {
                if first {
                    if let Some(name) = ready_node {
                        wait_until_served(library, name);
                    }
                    print_ready(library, report.published, report.failed);
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
        let Some(interval) = interval else { return };
        std::thread::park_timeout(interval);
        if stop.load(Ordering::Relaxed) {
            return;
        }
    }
}

fn progress_bar() -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template("hashing {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {wide_msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn print_ready(library: &Library, published: usize, failed: usize) {
    let urls = library.urls();
    let videos = library.videos();
    let mut out = format!("vidseed ready: {published} video(s) published");
    if failed > 0 {
        out.push_str(&format!(", {failed} failed (see the log)"));
    }
    out.push_str(&format!(
        "\n  index:    {0}/\n  API:      {0}/api/v1/videos\n  trackers: {1}\n",
        urls.control_http,
        urls.trackers().join(" "),
    ));
    for v in videos.iter().take(20) {
        out.push_str(&format!(
            "  {}\n    watch:   {}\n    file:    {}\n    torrent: {}\n",
            v.path, v.watch_url, v.file_url, v.torrent_url
        ));
    }
    if videos.len() > 20 {
        out.push_str(&format!("  … and {} more: see the API\n", videos.len() - 20));
    }
    print!("{out}");
}
