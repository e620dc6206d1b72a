//! The catalog channel's QUIC server (does I/O): authenticates each data node by its token,
//! sends it a snapshot or the deltas it missed, then every change of the library as it happens;
//! records its acknowledgements and stats in the store; cuts a revoked node off at once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use vidseed_shared::channel::{self, ControlMessage, NodeMessage, TrackerSettings, CHANNEL_VERSION};

use vidseed_shared::fetch::{FETCH_CAPABILITY, KEPT_CAPABILITY};

use super::cert::ChannelIdentity;
use super::fetch::FetchHub;
use super::updates;
use crate::library::{timestamp_ms, Library};
use crate::store::{random_token, sha256_hex};

/// The tracker settings' key in the store.
pub const TRACKER_OPEN_SETTING: &str = "tracker_open";

/// Starts the channel.
pub struct ChannelServer;

/// The running channel.
pub struct RunningChannel {
    local_addr: SocketAddr,
    endpoint: quinn::Endpoint,
    live: Arc<Live>,
    hub: Arc<FetchHub>,
    task: tokio::task::JoinHandle<()>,
}

/// The nodes connected now, by name.
#[derive(Default)]
struct Live {
    next: std::sync::atomic::AtomicU64,
    conns: Mutex<HashMap<String, (u64, quinn::Connection)>>,
}

impl Live {
    fn insert(&self, name: &str, conn: quinn::Connection) -> u64 {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let old = self.conns.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_owned(), (id, conn));
        if let Some((_, old)) = old {
            old.close(quinn::VarInt::from_u32(2), b"replaced by a newer connection of this node");
        }
        id
    }

    fn remove(&self, name: &str, id: u64) {
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        if conns.get(name).is_some_and(|(i, _)| *i == id) {
            conns.remove(name);
        }
    }
}

/// How often nodes report their counters.
pub const STATS_INTERVAL_SECS: u32 = 5;

impl ChannelServer {
    /// Listens on `addr` (UDP) with the store's certificate.
    pub async fn start(addr: SocketAddr, identity: &ChannelIdentity, library: Arc<Library>) -> std::io::Result<RunningChannel> {
        let err = |e: String| std::io::Error::other(e);
        let log_id = library.store().setting_or_insert("channel_log_id", &random_token()).await.map_err(|e| err(e.to_string()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key_der.clone()));
        let mut crypto = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| err(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(identity.cert_der.clone())], key)
            .map_err(|e| err(format!("the channel certificate is unusable: {e}")))?;
        crypto.alpn_protocols = vec![channel::ALPN.to_vec()];
        let quic = quinn::crypto::rustls::QuicServerConfig::try_from(crypto).map_err(|e| err(e.to_string()))?;
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(quic));
        let mut transport = quinn::TransportConfig::default();
        transport.keep_alive_interval(Some(Duration::from_secs(2)));
        transport.max_idle_timeout(Some(quinn::IdleTimeout::from(quinn::VarInt::from_u32(8_000))));
        // A snapshot of 100 000 files is ~30 MB: let it stream without waiting on window updates.
        transport.send_window(64 * 1024 * 1024);
        config.transport_config(Arc::new(transport));
        let endpoint = quinn::Endpoint::server(config, addr)?;
        let local_addr = endpoint.local_addr()?;
        let live = Arc::new(Live::default());
        let hub = Arc::new(FetchHub::default());
        let task = {
            let endpoint = endpoint.clone();
            let live = Arc::clone(&live);
            let hub = Arc::clone(&hub);
            tokio::spawn(async move {
                while let Some(incoming) = endpoint.accept().await {
                    let library = Arc::clone(&library);
                    let live = Arc::clone(&live);
                    let hub = Arc::clone(&hub);
                    let log_id = log_id.clone();
                    tokio::spawn(async move {
                        let remote = incoming.remote_address();
                        match incoming.await {
                            Ok(conn) => {
                                if let Err(e) = serve_node(conn, &library, &live, &hub, &log_id).await {
                                    tracing::info!("catalog channel with {remote}: {e}");
                                }
                            }
                            Err(e) => tracing::info!("catalog channel: connection from {remote} failed: {e}"),
                        }
                    });
                }
            })
        };
        Ok(RunningChannel { local_addr, endpoint, live, hub, task })
    }
}

impl RunningChannel {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Cuts a node's connection at once (after its revocation).
    pub fn disconnect(&self, name: &str, reason: &str) {
        if let Some((_, conn)) = self.live.conns.lock().unwrap_or_else(|p| p.into_inner()).remove(name) {
            conn.close(quinn::VarInt::from_u32(1), reason.as_bytes());
        }
    }

    /// Where fetch orders go to the nodes that take them, and their reports come back.
    pub fn fetch_hub(&self) -> &Arc<FetchHub> {
        &self.hub
    }

    /// Whether a node is connected now.
    pub fn is_connected(&self, name: &str) -> bool {
        self.live.conns.lock().unwrap_or_else(|p| p.into_inner()).contains_key(name)
    }

    pub async fn shutdown(&self) {
        self.endpoint.close(quinn::VarInt::from_u32(0), b"the control plane is stopping");
        self.task.abort();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.endpoint.wait_idle()).await;
    }
}

/// Largest hello accepted (it comes before authentication).
const MAX_HELLO: usize = 64 * 1024;
/// Largest other message from a node (an acknowledgement may list many refused files).
const MAX_NODE_MESSAGE: usize = 64 * 1024 * 1024;

async fn read_frame(recv: &mut quinn::RecvStream, max: usize) -> Result<NodeMessage, String> {
    let mut header = [0u8; 4];
    recv.read_exact(&mut header).await.map_err(|e| e.to_string())?;
    let len = channel::frame_len(header).map_err(|e| e.to_string())?;
    if len > max {
        return Err(format!("a message of {len} bytes, over the limit of {max}"));
    }
    let mut body = vec![0u8; len];
    recv.read_exact(&mut body).await.map_err(|e| e.to_string())?;
    channel::decode(&body).map_err(|e| e.to_string())
}

async fn send(tx: &mut quinn::SendStream, msg: &ControlMessage) -> Result<(), String> {
    tx.write_all(&channel::encode(msg)).await.map_err(|e| e.to_string())
}

async fn tracker_settings(library: &Library) -> TrackerSettings {
    let open = library.store().setting(TRACKER_OPEN_SETTING).await.ok().flatten().is_some_and(|v| v == "true");
    TrackerSettings { open }
}

async fn refuse(tx: &mut quinn::SendStream, conn: &quinn::Connection, reason: &str) -> String {
    let _ = send(tx, &ControlMessage::Refused { reason: reason.to_owned() }).await;
    let _ = tx.finish();
    tokio::time::sleep(Duration::from_millis(100)).await;
    conn.close(quinn::VarInt::from_u32(1), reason.as_bytes());
    reason.to_owned()
}

async fn serve_node(conn: quinn::Connection, library: &Arc<Library>, live: &Live, hub: &FetchHub, log_id: &str) -> Result<(), String> {
    let remote = conn.remote_address();
    let (mut tx, mut rx) = tokio::time::timeout(Duration::from_secs(10), conn.accept_bi())
        .await
        .map_err(|_| "no hello within 10 s".to_owned())?
        .map_err(|e| e.to_string())?;
    let hello = tokio::time::timeout(Duration::from_secs(10), read_frame(&mut rx, MAX_HELLO))
        .await
        .map_err(|_| "no hello within 10 s".to_owned())??;
    let NodeMessage::Hello { version, node, token, folders, resume, public_url, capabilities } = hello else {
        return Err(refuse(&mut tx, &conn, "the first message must be a hello").await);
    };
    if version != CHANNEL_VERSION {
        let why = format!("this control plane speaks channel version {CHANNEL_VERSION}, the node {version}: upgrade the older one");
        tracing::warn!("refused node {node:?} from {remote}: {why}");
        return Err(refuse(&mut tx, &conn, &why).await);
    }
    let store = library.store();
    let record = store.node(&node).await.map_err(|e| e.to_string())?;
    let refusal = match &record {
        None => Some("unknown node or wrong token"),
        Some(r) if r.token_sha256 != sha256_hex(token.as_bytes()) => Some("unknown node or wrong token"),
        Some(r) if r.revoked => Some("this node was revoked"),
        Some(_) => None,
    };
    if let Some(why) = refusal {
        tracing::warn!("refused node {node:?} from {remote}: {why}");
        return Err(refuse(&mut tx, &conn, why).await);
    }
    if let (Some(r), Some(url)) = (&record, public_url) {
        if r.public_url.is_empty() {
            match crate::library::urls::normalise(&url) {
                Ok(url) => store.set_node_public_url(&node, &url).await.map_err(|e| e.to_string())?,
                Err(e) => tracing::warn!("node {node:?} gave an unusable public URL: {e}"),
            }
        }
    }
    let previous_folders = record.map(|r| r.folders).unwrap_or_default();
    let folders: Vec<String> = folders.into_iter().map(|f| f.trim_matches('/').to_owned()).collect();
    store.set_node_hello(&node, &folders, timestamp_ms()).await.map_err(|e| e.to_string())?;
    let id = live.insert(&node, conn.clone());
    let _ = library.reload_nodes().await;
    tracing::info!("node {node:?} connected from {remote}, holding {folders:?}");
    let resume = resume.filter(|r| r.log_id == log_id && previous_folders == folders).map(|r| r.seq);
    let session = Session { conn: &conn, library, node: &node, folders: &folders, log_id, hub };
    // A node with a cache folder takes fetch orders: every current one now, new ones as they come.
    let kept = capabilities.iter().any(|c| c == KEPT_CAPABILITY);
    let orders = if capabilities.iter().any(|c| c == FETCH_CAPABILITY) { Some(hub.join(&node, id, kept).await) } else { None };
    // Frames are read by a task of their own: a read cut short by `select!` would lose bytes.
    let (msgs_tx, msgs) = tokio::sync::mpsc::channel(4);
    let reader = tokio::spawn(async move {
        loop {
            let msg = read_frame(&mut rx, MAX_NODE_MESSAGE).await;
            let end = msg.is_err();
            if msgs_tx.send(msg).await.is_err() || end {
                return;
            }
        }
    });
    let result = session.run(&mut tx, msgs, orders, resume).await;
    reader.abort();
    hub.leave(&node, id);
    live.remove(&node, id);
    let _ = library.reload_nodes().await;
    tracing::info!("node {node:?} disconnected: {}", result.as_ref().err().map_or("closed", |e| e.as_str()));
    result
}

/// One authenticated node's connection.
struct Session<'a> {
    conn: &'a quinn::Connection,
    library: &'a Arc<Library>,
    node: &'a str,
    folders: &'a [String],
    log_id: &'a str,
    hub: &'a FetchHub,
}

impl Session<'_> {
    /// Sends the node what it lacks, then every change, and records what it reports.
    async fn run(
        &self,
        tx: &mut quinn::SendStream,
        mut msgs: tokio::sync::mpsc::Receiver<Result<NodeMessage, String>>,
        mut orders: Option<tokio::sync::mpsc::UnboundedReceiver<ControlMessage>>,
        resume: Option<u64>,
    ) -> Result<(), String> {
        let Session { conn, library, node, folders, log_id, hub } = *self;
        let store = library.store();
        let mut changed = library.subscribe();
        send(tx, &ControlMessage::Welcome { version: CHANNEL_VERSION, log_id: log_id.to_owned(), stats_interval_secs: STATS_INTERVAL_SECS }).await?;
        // `sent`: the change-log position this node has been sent (None: nothing yet, snapshot due).
        let mut sent = resume;
        loop {
            let last = *changed.borrow_and_update();
            if sent != Some(last) {
                let st = library.state();
                let tracker = tracker_settings(library).await;
                let update = match sent {
                    Some(after) if after <= last => match store.changes_after(after).await.map_err(|e| e.to_string())? {
                        Some(log) => updates::delta(&st, folders, &log, tracker),
                        None => updates::snapshot(&st, folders, tracker),
                    },
                    _ => updates::snapshot(&st, folders, tracker),
                };
                send(tx, &ControlMessage::Update { seq: last, update }).await?;
                sent = Some(last);
            }
            tokio::select! {
                r = changed.changed() => if r.is_err() { return Ok(()) },
                msg = msgs.recv() => match msg.unwrap_or_else(|| Err("the connection ended".into()))? {
                    NodeMessage::Ack { seq, rejected, .. } => {
                        let rejected: Vec<(String, String)> = rejected.into_iter().map(|r| (r.url_path, r.reason)).collect();
                        store.set_node_ack(node, seq, &rejected, timestamp_ms()).await.map_err(|e| e.to_string())?;
                        let _ = library.reload_nodes().await;
                    }
                    NodeMessage::Stats(stats) => {
                        let json = serde_json::to_string(&stats).unwrap_or_default();
                        store.set_node_stats(node, &json, timestamp_ms()).await.map_err(|e| e.to_string())?;
                    }
                    NodeMessage::FetchReport(report) => hub.report(node, report).await,
                    NodeMessage::Hello { .. } => return Err("a second hello".into()),
                },
                // Fetch orders and discards, once the node has its first update.
                Some(order) = async { match orders.as_mut() { Some(rx) if sent.is_some() => rx.recv().await, _ => std::future::pending().await } } => {
                    send(tx, &order).await?;
                }
                e = conn.closed() => return Err(e.to_string()),
            }
        }
    }
}
