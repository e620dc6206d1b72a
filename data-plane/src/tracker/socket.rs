//! The tracker's I/O shell: WebSocket connections (fastwebsockets, upgraded from the data plane's
//! hyper server) and swarm shard threads. Swarms are sharded by info-hash over threads that each
//! own theirs outright (no lock on the hot path); a connection calls a shard of its own thread
//! directly and passes the others' requests over bounded channels; replies are framed into
//! bounded per-connection outboxes (`outbox`) that shed load when full.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use fastwebsockets::{OpCode, WebSocket};
use http::{Request, Response, StatusCode};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, oneshot};
use vidseed_shared::InfoHash;

use super::clients::{client_ip, AnnounceLimit, ConnectionsPerIp, ProxyTrust};
use super::outbox::{outbox, OutboxReceiver, OutboxSender, Pushed};
use super::protocol::{parse_request, Action, Bin20, Counts, ParseLimits, Reply, Request as TrackerRequest};
use super::rate::TokenBucket;
use super::swarm::{ConnId, Gates, RandomSource, SwarmConfig, SwarmStats, Swarms};
use super::ws_frames::{Decoder, Message};
use crate::catalog::CatalogStore;

/// Tracker settings; every limit has a default sized for browsers.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackerConfig {
    /// Track any info-hash, not only the catalog's (default false).
    pub open: bool,
    /// Swarm shards (default 0: one per data-plane worker, each run on its worker's event loop so
    /// that a request for a swarm of the same worker never crosses threads).
    pub shards: usize,
    /// Largest WebSocket message accepted, bytes (default 64 KiB: Safari's SDPs exceed 16 KiB).
    pub max_message_size: usize,
    /// Messages (pings included) one connection may send per second, with bursts of one
    /// second's worth (default 2000; 0: no limit). Beyond it a message gets an error reply and a
    /// ping no pong.
    pub max_messages_per_sec: u32,
    /// Replies queued for one connection before further ones are dropped (default 64).
    pub send_queue: usize,
    /// Requests queued for one shard before clients are told to retry (default 16384).
    pub shard_queue: usize,
    /// Simultaneous WebSocket connections from one IP address (default 64).
    pub max_connections_per_ip: usize,
    /// Announces from one IP for one info-hash per `announce_window` (default 15 per 5 min, as
    /// PeerTube's `reject_too_many_announces`; 0 disables).
    pub max_announces_per_ip: u32,
    #[serde(with = "crate::config::seconds", rename = "announce_window_secs")]
    pub announce_window: Duration,
    /// A connection that sends nothing for this long is closed (default 300 s).
    #[serde(with = "crate::config::seconds", rename = "idle_timeout_secs")]
    pub idle_timeout: Duration,
    /// A WebSocket handshake must complete within this time (default 10 s).
    #[serde(with = "crate::config::seconds", rename = "handshake_timeout_secs")]
    pub handshake_timeout: Duration,
    /// Proxies whose `X-Forwarded-For` is believed, beside loopback when `trust_loopback_proxy`:
    /// behind a reverse proxy every client would otherwise share the proxy's address (and its
    /// per-IP limits), and HTTP peers would be listed at the proxy's address.
    pub trusted_proxies: Vec<IpAddr>,
    /// Believe `X-Forwarded-For` from loopback (a reverse proxy on the same host; default true,
    /// as PeerTube trusts loopback by default).
    pub trust_loopback_proxy: bool,
    pub swarm: SwarmConfig,
    pub limits: ParseLimits,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            open: false,
            shards: 0,
            max_message_size: 64 * 1024,
            max_messages_per_sec: 2000,
            send_queue: 64,
            shard_queue: 16384,
            max_connections_per_ip: 64,
            max_announces_per_ip: 15,
            announce_window: Duration::from_secs(300),
            idle_timeout: Duration::from_secs(300),
            handshake_timeout: Duration::from_secs(10),
            trusted_proxies: Vec::new(),
            trust_loopback_proxy: true,
            swarm: SwarmConfig::default(),
            limits: ParseLimits::default(),
        }
    }
}

type ConnTx = OutboxSender;

enum ShardMsg {
    Announce { conn: ConnId, ip: IpAddr, tx: ConnTx, req: super::protocol::AnnounceRequest },
    HttpAnnounce {
        req: super::http::HttpAnnounce,
        addr: std::net::SocketAddr,
        reply: oneshot::Sender<super::swarm::HttpAnnounceResult>,
    },
    Scrape { hashes: Vec<Bin20>, reply: oneshot::Sender<Vec<Counts>> },
    Closed { conn: ConnId },
    /// Swarm counts, replies dropped, announces refused for the per-address limit.
    Stats { reply: oneshot::Sender<(SwarmStats, u64, u64)> },
}

/// Counters the control plane can read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackerStats {
    pub connections: u64,
    pub messages: u64,
    pub swarms: usize,
    pub peers: usize,
    pub seeders: usize,
    /// Replies dropped, or offers not sent, because a client's queue was full.
    pub dropped: u64,
    /// Messages refused because their connection was over `max_messages_per_sec`.
    pub rate_limited: u64,
    /// Messages sent to WebSocket clients (replies, relayed offers and answers, errors).
    pub sent: u64,
    /// Other refusals and errors, by reason.
    pub errors: TrackerErrors,
}

/// What the tracker refused or failed, by reason (besides `rate_limited` and `dropped`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackerErrors {
    /// Messages (WebSocket or HTTP) that did not parse: answered with a failure reason, or the
    /// socket closed when they were not JSON at all.
    pub invalid: u64,
    /// Requests refused because a swarm shard's queue was full.
    pub overloaded: u64,
    /// Announces refused for `max_announces_per_ip`.
    pub announce_limited: u64,
    /// WebSockets closed for breaking RFC 6455 or the message-size limit.
    pub protocol: u64,
    /// WebSocket upgrades refused (429) for `max_connections_per_ip`.
    pub connection_cap: u64,
}

/// Indexes of [`Tracker`]'s own error counters.
const INVALID: usize = 0;
const OVERLOADED: usize = 1;
const PROTOCOL: usize = 2;
const CONNECTION_CAP: usize = 3;

/// The running tracker: shard threads and connection bookkeeping.
pub struct Tracker {
    /// This tracker's number among the process's (see [`NEXT_TRACKER`]).
    id: u64,
    config: TrackerConfig,
    shards: Vec<mpsc::Sender<ShardMsg>>,
    next_conn: AtomicU64,
    connections: AtomicU64,
    messages: AtomicU64,
    rate_limited: AtomicU64,
    /// Messages written to WebSocket clients.
    sent: Arc<AtomicU64>,
    errors: [AtomicU64; 4],
    per_ip: Mutex<ConnectionsPerIp>,
}

impl Tracker {
    /// Creates the tracker and its swarm shards; the caller runs each [`Shard`] on an event
    /// loop (`shards` of 0 means `workers` shards).
    pub fn new(mut config: TrackerConfig, store: Arc<CatalogStore>, workers: usize) -> (Arc<Tracker>, Vec<Shard>) {
        if config.shards == 0 {
            config.shards = workers.max(1);
        }
        let id = NEXT_TRACKER.fetch_add(1, Ordering::Relaxed);
        let mut senders = Vec::new();
        let mut shards = Vec::new();
        for i in 0..config.shards {
            let (tx, rx) = mpsc::channel(config.shard_queue.max(1));
            shards.push(Shard {
                rx,
                core: ShardCore {
                    tracker: id,
                    index: i,
                    swarms: Swarms::new(config.swarm.clone()),
                    store: Arc::clone(&store),
                    open: config.open,
                    announces: AnnounceLimit::new(config.max_announces_per_ip, config.announce_window),
                    rng: XorShift(0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1)),
                    senders: HashMap::default(),
                    dropped: 0,
                    announce_limited: 0,
                    out: Vec::new(),
                },
            });
            senders.push(tx);
        }
        let per_ip = Mutex::new(ConnectionsPerIp::new(config.max_connections_per_ip));
        let tracker = Arc::new(Tracker {
            id,
            config,
            shards: senders,
            next_conn: AtomicU64::new(1),
            connections: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            sent: Arc::default(),
            errors: Default::default(),
            per_ip,
        });
        (tracker, shards)
    }

    /// The client's address for a request that came from `peer` (see [`client_ip`]).
    pub fn client_ip_of<B>(&self, req: &Request<B>, peer: IpAddr) -> IpAddr {
        let xff = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
        let trust = ProxyTrust { trusted: &self.config.trusted_proxies, loopback: self.config.trust_loopback_proxy };
        client_ip(peer, xff, trust)
    }

    /// Whether this request asks for the tracker's WebSocket.
    pub fn is_socket_request<B>(req: &Request<B>) -> bool {
        matches!(req.uri().path(), "/tracker/socket" | "/") && fastwebsockets::upgrade::is_upgrade_request(req)
    }

    /// Answers an upgrade request and serves the socket in a new task.
    pub fn upgrade<B>(self: &Arc<Self>, mut req: Request<B>, ip: IpAddr) -> Response<()> {
        let admitted = self.per_ip.lock().unwrap_or_else(|p| p.into_inner()).admit(ip);
        if !admitted {
            self.error(CONNECTION_CAP);
            return status(StatusCode::TOO_MANY_REQUESTS);
        }
        let (res, fut) = match fastwebsockets::upgrade::upgrade(&mut req) {
            Ok(x) => x,
            Err(_) => {
                self.release_ip(ip);
                return status(StatusCode::BAD_REQUEST);
            }
        };
        let tracker = Arc::clone(self);
        tokio::spawn(async move {
            if let Ok(Ok(ws)) = tokio::time::timeout(tracker.config.handshake_timeout, fut).await {
                Arc::clone(&tracker).serve(ws, ip).await;
            }
            tracker.release_ip(ip);
        });
        res.map(|_| ())
    }

    fn error(&self, which: usize) {
        self.errors[which].fetch_add(1, Ordering::Relaxed);
    }

    fn release_ip(&self, ip: IpAddr) {
        self.per_ip.lock().unwrap_or_else(|p| p.into_inner()).release(ip);
    }

    fn shard_of(&self, ih: &Bin20) -> &mpsc::Sender<ShardMsg> {
        &self.shards[self.shard_index(ih)]
    }

    fn shard_index(&self, ih: &Bin20) -> usize {
        usize::from(ih.0[0]) % self.shards.len()
    }

    async fn serve(self: Arc<Self>, ws: WebSocket<TokioIo<Upgraded>>, ip: IpAddr) {
        use tokio::io::AsyncReadExt;
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        self.connections.fetch_add(1, Ordering::Relaxed);
        // fastwebsockets did the handshake; frames are read by our own decoder (`ws_frames`),
        // which bounds whole messages, not single frames, and refuses unmasked ones. Replies are
        // framed into the connection's outbox where they are made; the writer sends what it
        // holds with one write.
        let (mut read, write) = tokio::io::split(ws.into_inner());
        let (tx, rx) = outbox(self.config.send_queue);
        let writer = tokio::spawn(write_replies(write, rx, Arc::clone(&self.sent)));
        let mut decoder = Decoder::new(self.config.max_message_size);
        let mut budget = TokenBucket::new(self.config.max_messages_per_sec, Instant::now());
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        loop {
            let message = match decoder.next(&mut buf) {
                Ok(Some(m)) => m,
                Ok(None) => {
                    if buf.capacity() - buf.len() < READ_CHUNK / 2 {
                        buf.reserve(READ_CHUNK);
                    }
                    match tokio::time::timeout(self.config.idle_timeout, read.read_buf(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => continue,
                        _ => break,
                    }
                }
                Err(v) => {
                    self.error(PROTOCOL);
                    tracing::debug!("tracker connection from {ip} closed: {v}");
                    let _ = tx.control_waiting(OpCode::Close, &close_payload(v.code, v.reason.as_bytes())).await;
                    break;
                }
            };
            let admitted = match message {
                Message::Pong => continue,
                Message::Close(_) => {
                    let _ = tx.control_waiting(OpCode::Close, &close_payload(1000, b"")).await;
                    break;
                }
                _ => budget.take(Instant::now()),
            };
            match message {
                Message::Ping(payload) if admitted => {
                    // Waits for room: a client that pings without reading stops being read.
                    if !tx.control_waiting(OpCode::Pong, &payload).await {
                        break;
                    }
                }
                Message::Text(payload) | Message::Binary(payload) => {
                    self.messages.fetch_add(1, Ordering::Relaxed);
                    if !admitted {
                        self.rate_limited.fetch_add(1, Ordering::Relaxed);
                        let reason = "too many messages on this connection, slow down";
                        let _ = tx.reply(&Reply::Error { action: None, info_hash: None, reason: reason.into() });
                        continue;
                    }
                    if !self.handle(conn, ip, &tx, &payload).await {
                        let _ = tx.control_waiting(OpCode::Close, &close_payload(1003, b"invalid message")).await;
                        break;
                    }
                }
                _ => {
                    self.rate_limited.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        for (i, shard) in self.shards.iter().enumerate() {
            // Must arrive (the peers must leave): wait for room rather than drop it.
            if let Some(msg) = local_shard_handle(self.id, i, ShardMsg::Closed { conn }) {
                let _ = shard.send(msg).await;
            }
        }
        // Every sender must go for the writer to finish: ours and the shards' (dropped when they
        // handle `Closed`).
        drop(tx);
        let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
        self.connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// Handles one message; false closes the socket (garbage that is not JSON at all).
    async fn handle(&self, conn: ConnId, ip: IpAddr, tx: &ConnTx, payload: &[u8]) -> bool {
        match parse_request(payload, &self.config.limits) {
            Err(e) => {
                self.error(INVALID);
                let garbage = e.action.is_none() && e.reason.starts_with("invalid JSON");
                let _ = tx.reply(&e.into());
                !garbage
            }
            Ok(TrackerRequest::Announce(req)) => {
                let ih = req.info_hash;
                let msg = ShardMsg::Announce { conn, ip, tx: tx.clone(), req };
                // A shard of this thread's is called at once; another thread's gets a message.
                let index = self.shard_index(&ih);
                let queued = match local_shard_handle(self.id, index, msg) {
                    None => true,
                    Some(msg) => self.shards[index].try_send(msg).is_ok(),
                };
                if !queued {
                    self.error(OVERLOADED);
                    let _ = tx.reply(&Reply::Error {
                        action: Some(Action::Announce),
                        info_hash: Some(ih),
                        reason: "the tracker is overloaded, retry later".into(),
                    });
                }
                true
            }
            Ok(TrackerRequest::Scrape(req)) => {
                if req.info_hashes.is_empty() {
                    let _ = tx.reply(&Reply::Error {
                        action: Some(Action::Scrape),
                        info_hash: None,
                        reason: "full scrapes are not allowed".into(),
                    });
                    return true;
                }
                let counts = self.scrape(&req.info_hashes).await;
                let files = req.info_hashes.iter().copied().zip(counts).collect();
                let _ = tx.reply(&Reply::Scrape { files, min_request_interval: self.config.swarm.scrape_interval() });
                true
            }
        }
    }

    /// Answers `GET /tracker/announce` and `GET /tracker/scrape` (bencoded, always 200 as
    /// BitTorrent clients expect; errors are a `failure reason`).
    pub async fn http(&self, path: &str, query: &str, peer: std::net::SocketAddr) -> Response<crate::webseed::body::FileBody> {
        use super::http::{announce_response, failure, parse_announce, parse_scrape, scrape_response};
        let interval = self.config.swarm.interval;
        let body = if path == "/tracker/announce" {
            match parse_announce(query) {
                Err(reason) => {
                    self.error(INVALID);
                    failure(reason)
                }
                Ok(req) => {
                    self.messages.fetch_add(1, Ordering::Relaxed);
                    let (compact, addr) = (req.compact, std::net::SocketAddr::new(peer.ip(), req.port));
                    let (reply, rx) = oneshot::channel();
                    let shard = self.shard_of(&req.info_hash);
                    if shard.try_send(ShardMsg::HttpAnnounce { req, addr, reply }).is_err() {
                        self.error(OVERLOADED);
                        failure("the tracker is overloaded, retry later")
                    } else {
                        match rx.await {
                            Ok(Ok((counts, peers))) => announce_response(counts, interval, &peers, compact),
                            Ok(Err(reason)) => failure(reason),
                            Err(_) => failure("the tracker is shutting down"),
                        }
                    }
                }
            }
        } else {
            match parse_scrape(query, self.config.limits.max_scrape) {
                Err(reason) => {
                    self.error(INVALID);
                    failure(reason)
                }
                Ok(hashes) => {
                    let counts = self.scrape(&hashes).await;
                    let files: Vec<(Bin20, Counts)> = hashes.into_iter().zip(counts).collect();
                    scrape_response(&files, self.config.swarm.scrape_interval())
                }
            }
        };
        let mut res = Response::new(crate::webseed::body::FileBody::once(body.into()));
        res.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
        res.headers_mut().insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, http::HeaderValue::from_static("*"));
        res
    }

    /// Counts for each info-hash, asked of the shards that own them.
    pub async fn scrape(&self, hashes: &[Bin20]) -> Vec<Counts> {
        let mut out = vec![Counts::default(); hashes.len()];
        let n = self.shards.len();
        for (s, shard) in self.shards.iter().enumerate() {
            let idx: Vec<usize> = (0..hashes.len()).filter(|&i| usize::from(hashes[i].0[0]) % n == s).collect();
            if idx.is_empty() {
                continue;
            }
            let (reply, rx) = oneshot::channel();
            let asked = idx.iter().map(|&i| hashes[i]).collect();
            if shard.try_send(ShardMsg::Scrape { hashes: asked, reply }).is_ok() {
                if let Ok(counts) = rx.await {
                    for (i, c) in idx.into_iter().zip(counts) {
                        out[i] = c;
                    }
                }
            }
        }
        out
    }

    /// Current totals.
    pub async fn stats(&self) -> TrackerStats {
        let mut s = TrackerStats {
            connections: self.connections.load(Ordering::Relaxed),
            messages: self.messages.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            errors: TrackerErrors {
                invalid: self.errors[INVALID].load(Ordering::Relaxed),
                overloaded: self.errors[OVERLOADED].load(Ordering::Relaxed),
                protocol: self.errors[PROTOCOL].load(Ordering::Relaxed),
                connection_cap: self.errors[CONNECTION_CAP].load(Ordering::Relaxed),
                announce_limited: 0,
            },
            ..Default::default()
        };
        for shard in &self.shards {
            let (reply, rx) = oneshot::channel();
            if shard.try_send(ShardMsg::Stats { reply }).is_ok() {
                if let Ok((st, dropped, announce_limited)) = rx.await {
                    s.errors.announce_limited += announce_limited;
                    s.swarms += st.swarms;
                    s.peers += st.peers;
                    s.seeders += st.seeders;
                    s.dropped += dropped;
                }
            }
        }
        s
    }
}

/// Room made in a connection's read buffer before a read (frames longer than this grow it, up
/// to the message size limit).
const READ_CHUNK: usize = 8 * 1024;

/// A connection's writer: waits for what the outbox holds, takes it all and writes it at once.
/// Under load a peer gets many replies per system call (and reads them with one); an idle one
/// holds no buffer.
async fn write_replies<W: tokio::io::AsyncWrite + Unpin>(mut write: W, mut rx: OutboxReceiver, written: Arc<AtomicU64>) {
    use tokio::io::AsyncWriteExt;
    while let Some(batch) = rx.take().await {
        let sent = tokio::time::timeout(Duration::from_secs(10), write.write_all(&batch.bytes)).await;
        if matches!(sent, Ok(Ok(()))) {
            written.fetch_add(batch.replies, Ordering::Relaxed);
        }
        if !matches!(sent, Ok(Ok(()))) || batch.closing {
            let _ = tokio::time::timeout(Duration::from_secs(1), write.shutdown()).await;
            break;
        }
    }
}

/// A close frame's payload: the status code, then the reason.
fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

fn status(code: StatusCode) -> Response<()> {
    let mut r = Response::new(());
    *r.status_mut() = code;
    r
}

struct XorShift(u64);

impl RandomSource for XorShift {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// One shard of the swarms, with everything it owns; run it with [`Shard::run`].
pub struct Shard {
    rx: mpsc::Receiver<ShardMsg>,
    core: ShardCore,
}

/// A shard's swarms and bookkeeping: what handles its messages, on its own thread.
struct ShardCore {
    /// Which tracker (of those in this process) the shard belongs to.
    tracker: u64,
    index: usize,
    swarms: Swarms,
    store: Arc<CatalogStore>,
    open: bool,
    announces: AnnounceLimit,
    rng: XorShift,
    senders: HashMap<ConnId, ConnTx, super::id_hash::IdHash>,
    dropped: u64,
    announce_limited: u64,
    /// Replies of the message being handled (kept for its allocation).
    out: Vec<(ConnId, Reply)>,
}

thread_local! {
    /// The swarm shards this thread runs: a connection served on the same thread hands them its
    /// requests by a call instead of a queued message (no queue, no task switch). Borrowed only
    /// for one message at a time, never across an await.
    static LOCAL_SHARDS: RefCell<Vec<ShardCore>> = const { RefCell::new(Vec::new()) };
}

/// Numbers the trackers of this process (tests run several), so a thread's shards are told apart.
static NEXT_TRACKER: AtomicU64 = AtomicU64::new(1);

/// Runs `f` on this thread's shard `index` of `tracker`, if this thread runs it.
fn with_local_shard<R>(tracker: u64, index: usize, f: impl FnOnce(&mut ShardCore) -> R) -> Option<R> {
    LOCAL_SHARDS.with(|shards| {
        let mut shards = shards.try_borrow_mut().ok()?;
        let core = shards.iter_mut().find(|c| c.tracker == tracker && c.index == index)?;
        Some(f(core))
    })
}

/// Hands `msg` to this thread's shard `index` of `tracker`; gives it back (to be queued for the
/// shard's own thread) when this thread does not run that shard.
fn local_shard_handle(tracker: u64, index: usize, msg: ShardMsg) -> Option<ShardMsg> {
    let mut msg = Some(msg);
    with_local_shard(tracker, index, |core| {
        if let Some(msg) = msg.take() {
            core.handle(Instant::now(), msg);
        }
    });
    msg
}

/// Takes the shard out of this thread's list when its task ends.
struct Unregister {
    tracker: u64,
    index: usize,
}

impl Drop for Unregister {
    fn drop(&mut self) {
        let _ = LOCAL_SHARDS.try_with(|shards| {
            if let Ok(mut shards) = shards.try_borrow_mut() {
                shards.retain(|c| !(c.tracker == self.tracker && c.index == self.index));
            }
        });
    }
}

const CLEAN_EVERY: Duration = Duration::from_secs(10);

impl Shard {
    /// Which shard this is (shard `i` belongs on worker `i % workers`).
    pub fn index(&self) -> usize {
        self.core.index
    }

    /// Serves requests until every sender is gone; cleans expired peers every 10 s. On a
    /// current-thread event loop (the data plane's workers) the shard stays on its thread:
    /// connections of that thread call it directly, others send it messages. On any other
    /// runtime, where a task may move between threads, it keeps its state and takes messages only.
    pub async fn run(self) {
        use tokio::runtime::{Handle, RuntimeFlavor};
        let Shard { mut rx, core } = self;
        let (tracker, index) = (core.tracker, core.index);
        let mut owned = None;
        let _unregister = if Handle::current().runtime_flavor() == RuntimeFlavor::CurrentThread {
            LOCAL_SHARDS.with(|shards| shards.borrow_mut().push(core));
            Some(Unregister { tracker, index })
        } else {
            owned = Some(core);
            None
        };
        // The shard's state, wherever it is kept.
        let mut on_core = |f: &mut dyn FnMut(&mut ShardCore)| match owned.as_mut() {
            Some(core) => f(core),
            None => {
                with_local_shard(tracker, index, f);
            }
        };
        let mut tick = tokio::time::interval(CLEAN_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                msg = rx.recv() => {
                    let Some(msg) = msg else { return };
                    let now = Instant::now();
                    let mut msg = Some(msg);
                    on_core(&mut |core| {
                        if let Some(msg) = msg.take() {
                            core.handle(now, msg);
                        }
                        // Drain what is already queued without going back to the scheduler.
                        for _ in 0..64 {
                            match rx.try_recv() {
                                Ok(msg) => core.handle(now, msg),
                                Err(_) => break,
                            }
                        }
                    });
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    on_core(&mut |core| {
                        core.swarms.clean(now);
                        core.announces.clean(now);
                    });
                }
            }
        }
    }
}

impl ShardCore {
    fn handle(&mut self, now: Instant, msg: ShardMsg) {
        let mut out = std::mem::take(&mut self.out);
        self.handle_into(now, msg, &mut out);
        out.clear();
        self.out = out;
    }

    fn handle_into(&mut self, now: Instant, msg: ShardMsg, out: &mut Vec<(ConnId, Reply)>) {
        match msg {
            ShardMsg::Announce { conn, ip, tx, req } => {
                self.senders.entry(conn).or_insert(tx);
                let ih = req.info_hash;
                if req.answer.is_none() && self.announces.over(now, ip, ih) {
                    self.announce_limited += 1;
                    out.push((conn, Reply::Error {
                        action: Some(Action::Announce),
                        info_hash: Some(ih),
                        reason: "too many announces from your address, slow down".into(),
                    }));
                } else {
                    let catalog = self.store.load();
                    let open = self.open;
                    let allowed = |ih: &Bin20| open || catalog.tracks(&InfoHash(ih.0));
                    let senders = &self.senders;
                    // An offer not sent to a full connection counts as shed, like a dropped reply.
                    let skipped = std::cell::Cell::new(0u64);
                    let deliverable = |c: ConnId| {
                        let room = senders.get(&c).is_some_and(OutboxSender::has_room);
                        skipped.set(skipped.get() + u64::from(!room));
                        room
                    };
                    self.swarms.announce(now, &mut self.rng, conn, req, &Gates { tracked: &allowed, deliverable: &deliverable }, out);
                    self.dropped += skipped.get();
                }
                for (to, reply) in out.drain(..) {
                    if let Some(s) = self.senders.get(&to) {
                        // Encoded in place, only when there is room: a reply that would be
                        // dropped is never encoded.
                        if s.reply(&reply) != Pushed::Queued {
                            self.dropped += 1;
                        }
                    }
                }
            }
            ShardMsg::HttpAnnounce { req, addr, reply } => {
                let result = if self.announces.over(now, addr.ip(), req.info_hash) {
                    self.announce_limited += 1;
                    Err("too many announces from your address, slow down")
                } else {
                    let catalog = self.store.load();
                    let open = self.open;
                    let allowed = |ih: &Bin20| open || catalog.tracks(&InfoHash(ih.0));
                    self.swarms.http_announce(now, &mut self.rng, &req, addr, &allowed)
                };
                let _ = reply.send(result);
            }
            ShardMsg::Scrape { hashes, reply } => {
                let _ = reply.send(hashes.iter().map(|h| self.swarms.counts(h)).collect());
            }
            ShardMsg::Closed { conn } => {
                self.swarms.connection_closed(conn);
                self.senders.remove(&conn);
            }
            ShardMsg::Stats { reply } => {
                let _ = reply.send((self.swarms.stats(), self.dropped, self.announce_limited));
            }
        }
    }
}

/// Turns an upgrade response into the data plane's body type.
pub fn empty_body_response(res: Response<()>) -> Response<crate::webseed::body::FileBody> {
    res.map(|()| crate::webseed::body::FileBody::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An HTTP announce (through the shard's queue) and the swarm counts it leaves, with the
    /// shards run on `rt`.
    fn announce_on(rt: &tokio::runtime::Runtime) -> TrackerStats {
        rt.block_on(async {
            let config = TrackerConfig { open: true, ..TrackerConfig::default() };
            let (tracker, shards) = Tracker::new(config, Arc::new(CatalogStore::new()), 2);
            for shard in shards {
                tokio::spawn(shard.run());
            }
            let peer: std::net::SocketAddr = "192.0.2.7:6881".parse().unwrap();
            let query = "info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=6881&left=0&compact=1";
            let res = tracker.http("/tracker/announce", query, peer).await;
            assert_eq!(res.status(), StatusCode::OK);
            tracker.stats().await
        })
    }

    #[test]
    fn shards_keep_their_swarms_on_either_kind_of_runtime() {
        // The data plane's kind: each shard registered with its thread.
        let current = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let s = announce_on(&current);
        assert_eq!((s.swarms, s.peers, s.seeders), (1, 1, 1));
        // Tasks that may move between threads: the shard keeps its own state.
        let multi = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let s = announce_on(&multi);
        assert_eq!((s.swarms, s.peers, s.seeders), (1, 1, 1));
    }
}
