//! The data node's end of the catalog channel (does I/O): connects to the control plane over
//! QUIC, trusts only the pinned certificate, says hello with the node's token and folders,
//! applies every update to the served catalog atomically and acknowledges it, reports its
//! counters at the interval the control plane asks for, and, whenever the control plane is
//! away, keeps serving the last catalog and reconnects with backoff and jitter.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin as StdPin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;
use vidseed_shared::channel::{self, ControlMessage, NodeMessage, NodeStats, NodeUpdate, RejectedFile, Resume, CHANNEL_VERSION};

use vidseed_shared::fetch::{FETCH_CAPABILITY, KEPT_CAPABILITY};
use vidseed_shared::Backoff;

use super::copies::{CopyEvent, Copies, Outbox};
use super::node_catalog::{FolderMapping, NodeCatalog};
use super::pin::{Pin, PinVerifier};
use super::update::LibraryUpdate;
use crate::catalog::CatalogStore;

/// Where the control plane is and who this node is.
#[derive(Clone, Debug)]
pub struct ChannelConfig {
    /// The control plane's channel address, `host:port` (UDP).
    pub control: String,
    pub pin: Pin,
    pub node: String,
    pub token: String,
    pub folders: Vec<FolderMapping>,
    /// Where viewers reach this node (sent in the hello).
    pub public_url: Option<String>,
    /// Serve files that symbolic links lead to outside their folder (refused otherwise).
    pub follow_symlinks: bool,
    /// Where this node keeps copies of other instances' videos (redundancy); with one, the
    /// node takes fetch orders.
    pub cache: Option<std::path::PathBuf>,
    /// Let copies be downloaded from private, loopback or link-local addresses.
    pub allow_private_sources: bool,
}

/// Gathers the node's counters for a stats report.
pub type StatsSource = Arc<dyn Fn() -> StdPin<Box<dyn Future<Output = NodeStats> + Send>> + Send + Sync>;

/// What the channel is doing, for logs, stats and tests.
#[derive(Debug, Default)]
pub struct ChannelStatus {
    pub connected: AtomicBool,
    /// The last update applied (0: none yet).
    pub seq: AtomicU64,
    /// Why the last connection attempt or session ended.
    pub last_error: Mutex<Option<String>>,
}

/// The running channel; [`ChannelClient::shutdown`] stops it.
pub struct ChannelClient {
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
    status: Arc<ChannelStatus>,
}

impl ChannelClient {
    /// Starts the channel on its own thread.
    pub fn start(config: ChannelConfig, store: Arc<CatalogStore>, stats: StatsSource) -> std::io::Result<ChannelClient> {
        let (stop, stop_rx) = watch::channel(false);
        let status = Arc::new(ChannelStatus::default());
        let st = Arc::clone(&status);
        let thread = std::thread::Builder::new().name("vidseed-channel".into()).spawn(move || {
            match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt.block_on(run(config, store, stats, st, stop_rx)),
                Err(e) => tracing::error!("catalog channel cannot start its event loop: {e}"),
            }
        })?;
        Ok(ChannelClient { stop, thread: Some(thread), status })
    }

    pub fn status(&self) -> &Arc<ChannelStatus> {
        &self.status
    }

    pub fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("the control plane refused this node: {0}")]
    Refused(String),
    #[error("{0}")]
    Io(String),
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl From<std::io::Error> for SessionError {
    fn from(e: std::io::Error) -> Self {
        SessionError::Io(e.to_string())
    }
}

/// Reconnection delays: 250 ms doubling to 8 s, each spread ±50 % so that nodes do not
/// reconnect in step.
const RECONNECT: Backoff = Backoff { base: Duration::from_millis(250), max: Duration::from_secs(8), spread_percent: 50 };

async fn run(cfg: ChannelConfig, store: Arc<CatalogStore>, stats: StatsSource, status: Arc<ChannelStatus>, mut stop: watch::Receiver<bool>) {
    let mut node = NodeCatalog::default();
    let mut position: Option<Resume> = None;
    let mut copies = cfg.cache.clone().map(|c| Copies::new(c, cfg.allow_private_sources));
    let mut failures = 0u32;
    loop {
        let mut welcomed = false;
        let result = tokio::select! {
            r = session(&cfg, &store, &stats, &status, &mut node, &mut position, &mut welcomed, copies.as_mut()) => r,
            _ = stop.changed() => return,
        };
        status.connected.store(false, Ordering::Relaxed);
        if welcomed {
            failures = 0;
        }
        let why = match result {
            Ok(()) => "the control plane closed the channel".to_owned(),
            Err(e) => e.to_string(),
        };
        let delay = RECONNECT.delay(failures, getrandom::u64().unwrap_or(0));
        tracing::warn!(
            "catalog channel to {}: {why}; serving the last catalog (update {}), retrying in {} ms",
            cfg.control,
            status.seq.load(Ordering::Relaxed),
            delay.as_millis()
        );
        *status.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        failures = failures.saturating_add(1);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return,
        }
    }
}

fn endpoint_for(addr: SocketAddr, cfg: &ChannelConfig) -> Result<quinn::Endpoint, SessionError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut crypto = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| SessionError::Io(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinVerifier::new(cfg.pin, provider)))
        .with_no_client_auth();
    crypto.alpn_protocols = vec![channel::ALPN.to_vec()];
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(crypto).map_err(|e| SessionError::Io(e.to_string()))?;
    let mut client = quinn::ClientConfig::new(Arc::new(quic));
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(Duration::from_secs(2)));
    transport.max_idle_timeout(Some(quinn::IdleTimeout::from(quinn::VarInt::from_u32(8_000))));
    client.transport_config(Arc::new(transport));
    let bind: SocketAddr = if addr.is_ipv6() { "[::]:0".parse() } else { "0.0.0.0:0".parse() }.map_err(|_| SessionError::Io("bad bind address".into()))?;
    let mut endpoint = quinn::Endpoint::client(bind)?;
    endpoint.set_default_client_config(client);
    Ok(endpoint)
}

/// Reads one frame from the stream.
async fn read_frame(recv: &mut quinn::RecvStream) -> Result<ControlMessage, SessionError> {
    let mut header = [0u8; 4];
    recv.read_exact(&mut header).await.map_err(read_error)?;
    let len = channel::frame_len(header).map_err(|e| SessionError::Protocol(e.to_string()))?;
    let mut body = vec![0u8; len];
    recv.read_exact(&mut body).await.map_err(read_error)?;
    channel::decode(&body).map_err(|e| SessionError::Protocol(e.to_string()))
}

fn read_error(e: quinn::ReadExactError) -> SessionError {
    match e {
        quinn::ReadExactError::ReadError(quinn::ReadError::ConnectionLost(quinn::ConnectionError::ApplicationClosed(c))) => {
            let reason = String::from_utf8_lossy(&c.reason).into_owned();
            // Code 1 is a refusal (unknown node, revoked); anything else a plain close.
            if c.error_code == quinn::VarInt::from_u32(1) {
                SessionError::Refused(reason)
            } else if reason.is_empty() {
                SessionError::Io("the control plane closed the channel".into())
            } else {
                SessionError::Io(format!("the control plane closed the channel: {reason}"))
            }
        }
        other => SessionError::Io(other.to_string()),
    }
}

async fn send(stream: &mut quinn::SendStream, msg: &NodeMessage) -> Result<(), SessionError> {
    stream.write_all(&channel::encode(msg)).await.map_err(|e| SessionError::Io(e.to_string()))
}

/// Stops a task when its owner goes.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[allow(clippy::too_many_arguments)]
async fn session(
    cfg: &ChannelConfig,
    store: &CatalogStore,
    stats: &StatsSource,
    status: &ChannelStatus,
    node: &mut NodeCatalog,
    position: &mut Option<Resume>,
    welcomed: &mut bool,
    copies: Option<&mut (Arc<Copies>, Outbox)>,
) -> Result<(), SessionError> {
    let (copies, mut outbox) = match copies {
        Some((c, out)) => (Some(Arc::clone(c)), Some(out)),
        None => (None, None),
    };
    let addr = tokio::net::lookup_host(&cfg.control)
        .await?
        .next()
        .ok_or_else(|| SessionError::Io(format!("{} resolves to no address", cfg.control)))?;
    let endpoint = endpoint_for(addr, cfg)?;
    let conn = endpoint
        .connect(addr, "vidseed-control")
        .map_err(|e| SessionError::Io(e.to_string()))?
        .await
        .map_err(|e| SessionError::Io(format!("cannot connect: {e}")))?;
    let (mut tx, mut rx) = conn.open_bi().await.map_err(|e| SessionError::Io(e.to_string()))?;
    let hello = NodeMessage::Hello {
        version: CHANNEL_VERSION,
        node: cfg.node.clone(),
        token: cfg.token.clone(),
        folders: cfg.folders.iter().map(|f| f.library.trim_matches('/').to_owned()).collect(),
        resume: position.clone(),
        public_url: cfg.public_url.clone(),
        capabilities: if copies.is_some() { vec![FETCH_CAPABILITY.to_owned(), KEPT_CAPABILITY.to_owned()] } else { Vec::new() },
    };
    send(&mut tx, &hello).await?;
    let (log_id, interval) = match read_frame(&mut rx).await? {
        ControlMessage::Welcome { version, log_id, stats_interval_secs } => {
            if version != CHANNEL_VERSION {
                return Err(SessionError::Protocol(format!("the control plane speaks version {version}, this node {CHANNEL_VERSION}")));
            }
            (log_id, Duration::from_secs(u64::from(stats_interval_secs.max(1))))
        }
        ControlMessage::Refused { reason } => return Err(SessionError::Refused(reason)),
        _ => return Err(SessionError::Protocol("a message before the welcome".into())),
    };
    *welcomed = true;
    status.connected.store(true, Ordering::Relaxed);
    tracing::info!("catalog channel: connected to the control plane at {} as node {:?}", cfg.control, cfg.node);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Frames are read by a task of their own: a read cut short by `select!` would lose bytes.
    let (msgs_tx, mut msgs) = tokio::sync::mpsc::channel(2);
    let reader = tokio::spawn(async move {
        loop {
            let msg = read_frame(&mut rx).await;
            let end = msg.is_err();
            if msgs_tx.send(msg).await.is_err() || end {
                return;
            }
        }
    });
    let _abort_reader = AbortOnDrop(reader);
    loop {
        tokio::select! {
            msg = msgs.recv() => match msg.unwrap_or_else(|| Err(SessionError::Io("the channel ended".into())))? {
                ControlMessage::Update { seq, update } => {
                    let (files_served, rejected) = apply_update(cfg, store, node, seq, update, copies.as_deref());
                    status.seq.store(seq, Ordering::Relaxed);
                    *position = Some(Resume { log_id: log_id.clone(), seq });
                    send(&mut tx, &NodeMessage::Ack { seq, files_served, rejected }).await?;
                }
                ControlMessage::Refused { reason } => return Err(SessionError::Refused(reason)),
                ControlMessage::Welcome { .. } => return Err(SessionError::Protocol("a second welcome".into())),
                ControlMessage::Fetch { order } => match &copies {
                    Some(c) => c.order(order),
                    None => tracing::warn!("a fetch order, but this node has no cache folder: ignored"),
                },
                ControlMessage::Discard(d) => {
                    if let Some(c) = &copies {
                        c.discard(&d.id);
                    }
                }
                ControlMessage::Kept(k) => {
                    if let Some(c) = &copies {
                        c.keep_only(&k.ids);
                    }
                }
            },
            Some(event) = async { match outbox.as_deref_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => match event {
                CopyEvent::Report(report) => send(&mut tx, &NodeMessage::FetchReport(report)).await?,
                CopyEvent::Changed => {
                    // A copy started or stopped being served: the catalog again, same library.
                    let seq = status.seq.load(Ordering::Relaxed);
                    let (mut catalog, _) = node.catalog(seq, &cfg.folders);
                    if let Some(c) = &copies {
                        c.extend(&mut catalog);
                    }
                    if let Err(e) = store.apply(catalog) {
                        tracing::error!("the catalog with the node's copies was refused: {}", e.reason);
                    }
                }
            },
            _ = tick.tick() => {
                let report = stats().await;
                send(&mut tx, &NodeMessage::Stats(report)).await?;
            }
        }
    }
}

/// Applies update `seq` to the node's view and the served catalog: how many files are served now
/// and which are not. An update the node cannot take (a field it refuses) or a catalog the store
/// refuses leaves the last good catalog served, named `*` among the rejected.
fn apply_update(cfg: &ChannelConfig, store: &CatalogStore, node: &mut NodeCatalog, seq: u64, update: NodeUpdate, copies: Option<&Copies>) -> (usize, Vec<RejectedFile>) {
    let snapshot = matches!(update, NodeUpdate::Snapshot { .. });
    let started = std::time::Instant::now();
    let refused = |reason: String, mut rejected: Vec<RejectedFile>| {
        tracing::error!("catalog update {seq} refused, the last good catalog stays: {reason}");
        rejected.push(RejectedFile { url_path: "*".into(), reason });
        (store.load().len(), rejected)
    };
    let (files_served, rejected) = match LibraryUpdate::try_from(update) {
        Err(invalid) => refused(invalid.to_string(), Vec::new()),
        Ok(update) => {
            node.apply(update, &cfg.folders, &|folder, file| super::disk::on_disk(folder, file, cfg.follow_symlinks));
            let (mut catalog, mut rejected) = node.catalog(seq, &cfg.folders);
            if let Some(c) = copies {
                c.extend(&mut catalog);
            }
            match store.apply(catalog) {
                Ok(ack) => {
                    rejected.extend(ack.rejected);
                    (ack.files_served, rejected)
                }
                Err(e) => refused(e.reason, rejected),
            }
        }
    };
    tracing::info!(
        "catalog update {seq} ({}) applied in {} ms: {files_served} file(s) served, {} not",
        if snapshot { "snapshot" } else { "delta" },
        started.elapsed().as_millis(),
        rejected.len()
    );
    (files_served, rejected)
}
