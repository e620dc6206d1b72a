//! The data plane's I/O shell: one thread per worker, each with a single-threaded event loop
//! and its own `SO_REUSEPORT` listener (share-nothing, like nginx's workers), serving HTTP/1.1
//! and h2c with graceful shutdown (or, when configured, the same over TLS: https with ALPN h2,
//! and wss); plus the revalidation thread that watches the disk.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::either::Either;

use crate::catalog::CatalogStore;
use crate::config::{DataPlaneConfig, IoBackend, SendPath};
use crate::counters::{Counted, Refusal, Sent};
use crate::ops::listener::OpsListener;
use crate::ops::Ops;
use crate::rewind::Rewind;
use crate::sendfile::SendfileStream;
use crate::tracker::socket::{empty_body_response, Shard, Tracker};
use crate::uring::worker::HandOff;
use crate::webseed::body::FileBody;
use crate::webseed::serve::respond;
use vidseed_conn_guard::{guard, Activity, ConnBudget, PerIp, Places, Watched};

/// Entry point: starts a data plane serving `store`.
pub struct DataPlane;

pub use crate::counters::{ServeTotals, WorkerCounters};

/// A started data plane; dropping it does not stop it, [`RunningDataPlane::shutdown`] does.
pub struct RunningDataPlane {
    local_addr: SocketAddr,
    counters: Arc<[WorkerCounters]>,
    tracker: Arc<Tracker>,
    ops: Arc<Ops>,
    ops_listener: Option<OpsListener>,
    stop: watch::Sender<bool>,
    stop_uring: Arc<AtomicBool>,
    stop_revalidate: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    revalidator: Option<JoinHandle<()>>,
    io: IoBackend,
}

impl DataPlane {
    /// Binds the listeners and starts the workers; returns once the port accepts connections.
    pub fn start(config: &DataPlaneConfig, store: Arc<CatalogStore>) -> std::io::Result<RunningDataPlane> {
        let workers = config.workers.max(1);
        let uring = uring_support(config);
        let first = bind(config.listen)?;
        let local_addr = first.local_addr()?;
        let mut listeners = vec![first];
        for _ in 1..workers {
            listeners.push(bind(local_addr)?);
        }
        let (stop, stop_rx) = watch::channel(false);
        let (tracker, shards) = Tracker::new(config.tracker.clone(), Arc::clone(&store), workers);
        let mut per_worker: Vec<Vec<Shard>> = (0..workers).map(|_| Vec::new()).collect();
        for shard in shards {
            per_worker[shard.index() % workers].push(shard);
        }
        let counters: Arc<[WorkerCounters]> = (0..workers).map(|_| WorkerCounters::default()).collect();
        let budget = match config.http.max_connections {
            0 => ConnBudget::for_limit(vidseed_conn_guard::nofile_limit()),
            n => ConnBudget::new(n),
        };
        tracing::info!("data plane: at most {} connections, {} per client address", budget.max(), config.http.max_connections_per_ip);
        let per_ip = PerIp::new(config.http.max_connections_per_ip);
        let io = if uring.is_some() { IoBackend::Uring } else { IoBackend::Epoll };
        let ops = Arc::new(Ops::new(Arc::clone(&store), Arc::clone(&tracker), Arc::clone(&counters), Arc::clone(&budget), &config.metrics).with_io(io));
        let ops_listener = match config.metrics.listen {
            Some(addr) => {
                let path = if config.metrics.path.is_empty() { "/metrics".to_owned() } else { config.metrics.path.clone() };
                Some(OpsListener::start(addr, path, Arc::clone(&ops))?)
            }
            None => None,
        };
        let mut handles = Vec::with_capacity(workers * 2);
        let stop_uring = Arc::new(AtomicBool::new(false));
        for (i, (listener, shards)) in listeners.into_iter().zip(per_worker).enumerate() {
            // With io_uring, worker i's ring accepts and the epoll loop of the same index serves
            // what the ring hands it (tracker, operations, HTTP/2, …).
            let (listener, handoffs) = match uring {
                Some(support) => {
                    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                    let shared = crate::uring::worker::Shared {
                        index: i,
                        store: Arc::clone(&store),
                        ops: Arc::clone(&ops),
                        counters: Arc::clone(&counters),
                        budget: Arc::clone(&budget),
                        per_ip: Arc::clone(&per_ip),
                        timeouts: config.http.timeouts(),
                        max_target_len: config.max_target_len,
                        min_zero_copy: match config.http.zero_copy_min {
                            n if n > 0 && support.zero_copy => n,
                            _ => usize::MAX,
                        },
                        defer_taskrun: support.defer_taskrun,
                        sendfile: match (config.http.sendfile_min, config.http.sendfile_max) {
                            (0, _) => 0..0,
                            (min, 0) => min..usize::MAX,
                            (min, max) => min..max,
                        },
                        small_bodies: match config.http.sendfile_min {
                            0 => crate::uring::small_send::SmallBodies::Copy,
                            _ => config.http.small_bodies,
                        },
                        shutdown_grace: config.shutdown_grace,
                        stop: Arc::clone(&stop_uring),
                        hand_off: tx,
                    };
                    let handle = std::thread::Builder::new().name(format!("vidseed-ring-{i}")).spawn(move || {
                        // A ring that stops would leave its listener's connections unanswered:
                        // stop the node with the reason instead, as a failed tracker shard does.
                        let why = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| crate::uring::worker::run(listener, shared))) {
                            Ok(Ok(())) => return,
                            Ok(Err(e)) => format!(": {e}"),
                            Err(_) => String::new(), // the panic printed its own message
                        };
                        tracing::error!("data plane io_uring worker {i} failed{why}; stopping the node");
                        std::process::exit(70);
                    })?;
                    handles.push(handle);
                    (None, Some(rx))
                }
                None => (Some(listener), None),
            };
            let ctx = WorkerContext {
                shards,
                store: Arc::clone(&store),
                tracker: Arc::clone(&tracker),
                config: config.clone(),
                stop: stop_rx.clone(),
                counters: Arc::clone(&counters),
                index: i,
                budget: Arc::clone(&budget),
                per_ip: Arc::clone(&per_ip),
                ops: Arc::clone(&ops),
                handoffs,
            };
            let handle = std::thread::Builder::new()
                .name(format!("vidseed-data-{i}"))
                .spawn(move || run_worker(listener, ctx))?;
            handles.push(handle);
        }
        let stop_revalidate = Arc::new(AtomicBool::new(false));
        let revalidator = {
            let stop = Arc::clone(&stop_revalidate);
            let interval = config.revalidate_interval;
            std::thread::Builder::new()
                .name("vidseed-revalidate".into())
                .spawn(move || revalidate_loop(&store, interval, &stop))?
        };
        Ok(RunningDataPlane {
            local_addr,
            counters,
            tracker,
            ops,
            ops_listener,
            stop,
            stop_uring,
            stop_revalidate,
            workers: handles,
            revalidator: Some(revalidator),
            io,
        })
    }
}

impl RunningDataPlane {
    /// The address the listeners are bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Requests, bytes and errors so far, over all workers.
    pub fn totals(&self) -> ServeTotals {
        ServeTotals::of(&self.counters)
    }

    /// A handle on the counters that outlives borrows of the data plane.
    pub fn counters(&self) -> Arc<[WorkerCounters]> {
        Arc::clone(&self.counters)
    }

    /// The tracker, for its statistics.
    pub fn tracker(&self) -> &Arc<Tracker> {
        &self.tracker
    }

    /// `/metrics`, `/healthz` and `/readyz`.
    pub fn ops(&self) -> &Arc<Ops> {
        &self.ops
    }

    /// The I/O backend serving plain connections (`uring` only when configured and allowed).
    pub fn io_backend(&self) -> IoBackend {
        self.io
    }

    /// Where `[metrics] listen` bound, if set.
    pub fn ops_addr(&self) -> Option<SocketAddr> {
        self.ops_listener.as_ref().map(OpsListener::local_addr)
    }

    /// Stops accepting, lets requests in flight finish (up to the configured grace), and joins
    /// every thread.
    pub fn shutdown(mut self) {
        let _ = self.stop.send(true);
        self.stop_uring.store(true, Ordering::Relaxed);
        if let Some(l) = self.ops_listener.take() {
            l.shutdown();
        }
        self.stop_revalidate.store(true, Ordering::Relaxed);
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        if let Some(r) = self.revalidator.take() {
            crate::catalog::wake_revalidation();
            let _ = r.join();
        }
    }
}

struct WorkerContext {
    shards: Vec<Shard>,
    store: Arc<CatalogStore>,
    tracker: Arc<Tracker>,
    config: DataPlaneConfig,
    stop: watch::Receiver<bool>,
    counters: Arc<[WorkerCounters]>,
    index: usize,
    budget: Arc<ConnBudget>,
    per_ip: Arc<PerIp>,
    ops: Arc<Ops>,
    /// Connections an io_uring worker hands over (with `io = "uring"`, in place of a listener).
    handoffs: Option<tokio::sync::mpsc::UnboundedReceiver<HandOff>>,
}

/// Whether the io_uring workers run: configured, plain HTTP, and allowed by the kernel; one log
/// line says why not otherwise.
fn uring_support(config: &DataPlaneConfig) -> Option<crate::uring::Support> {
    if config.http.io != IoBackend::Uring {
        return None;
    }
    if config.tls.is_some() {
        tracing::warn!("data plane: io = \"uring\" serves plain HTTP only; with TLS every connection stays on epoll");
        return None;
    }
    match crate::uring::probe() {
        Ok(support) => {
            tracing::info!("data plane: io_uring workers serve WebSeed requests (zero-copy send {})", if support.zero_copy { "available" } else { "not available" });
            Some(support)
        }
        Err(why) => {
            tracing::warn!("data plane: falling back to epoll: {why}");
            None
        }
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<StdListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

fn run_worker(listener: Option<StdListener>, ctx: WorkerContext) {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("data plane worker cannot start its event loop: {e}");
            std::process::abort();
        }
    };
    rt.block_on(async move {
        let listener = match listener.map(TcpListener::from_std).transpose() {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("data plane worker cannot use its listener: {e}");
                std::process::abort();
            }
        };
        accept_loop(listener, ctx).await;
    });
}

async fn accept_loop(listener: Option<TcpListener>, mut ctx: WorkerContext) {
    for shard in ctx.shards.drain(..) {
        let index = shard.index();
        let task = tokio::spawn(shard.run());
        tokio::spawn(async move {
            // A shard that dies would leave its swarms unanswered forever: stop the node with
            // the reason instead of limping on.
            if let Err(e) = task.await {
                if e.is_panic() {
                    tracing::error!("tracker swarm shard {index} failed; stopping the node");
                    std::process::exit(70);
                }
            }
        });
    }
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .keep_alive(true)
        // Queue body chunks as iovecs for writev: the bytes go from the mapping straight to
        // the kernel. (hyper's `pipeline_flush` would switch to copying every body into one
        // buffer, so it stays off; pipelined requests are still answered in order.)
        .writev(true)
        .timer(TokioTimer::new())
        // The connection guard keeps the time instead (`vidseed_conn_guard`): hyper's timer
        // starts when the previous response ends and cuts a request arriving as it fires.
        .header_read_timeout(None);
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(128);
    // Shared with the tasks that first finish a TLS handshake; plain connections borrow it here.
    let builder = Arc::new(builder);
    let tls = ctx.config.tls.clone().map(TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    let mut stop = ctx.stop.clone();
    let store = ctx.store;
    let tracker = ctx.tracker;
    let max_target = ctx.config.max_target_len;
    let send_path = ctx.config.send_path;
    let timeouts = ctx.config.http.timeouts();
    let copies = tls.is_some();
    let mut failing = AcceptFailures::default();
    let mut handoffs = ctx.handoffs.take();
    let index = ctx.index;
    loop {
        let (stream, peer, places, read) = tokio::select! {
            accepted = accept(listener.as_ref()) => {
                let (stream, peer) = match accepted {
                    Ok(c) => {
                        failing.succeeded();
                        c
                    }
                    Err(e) => {
                        // Out of descriptors and the like: back off (up to a second) instead of
                        // spinning, and say so once a second, not per attempt.
                        tokio::time::sleep(failing.failed(&e)).await;
                        continue;
                    }
                };
                let places = match admit(&ctx.budget, &ctx.per_ip, peer.ip()) {
                    Ok(places) => places,
                    Err((reason, why)) => {
                        refuse(&stream, reason, &ctx.counters[index], why);
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                (stream, peer, places, Bytes::new())
            }
            Some(h) = handed_off(handoffs.as_mut()) => {
                match tokio::net::TcpStream::from_std(h.stream) {
                    Ok(stream) => (stream, h.peer, h.places, h.read),
                    Err(_) => continue,
                }
            }
            _ = stop.changed() => break,
        };
        let counters = Arc::clone(&ctx.counters);
        let store = Arc::clone(&store);
        let tracker = Arc::clone(&tracker);
        let ops = Arc::clone(&ctx.ops);
        let activity = Activity::new();
        let requests = Arc::clone(&activity);
        let service = service_fn(move |req| {
            requests.request_started();
            let path = req.uri().path();
            let res = if Tracker::is_socket_request(&req) {
                let ip = tracker.client_ip_of(&req, peer.ip());
                empty_body_response(tracker.upgrade(req, ip))
            } else if path == "/tracker/socket" {
                upgrade_required()
            } else if path == "/tracker/stats" {
                let tracker = Arc::clone(&tracker);
                let requests = Arc::clone(&requests);
                return Either::Right(Box::pin(async move {
                    let res = stats_response(tracker.stats().await);
                    requests.request_done();
                    Ok::<_, std::convert::Infallible>(res)
                }) as BoxedResponse);
            } else if let Some(route) = ops.route(path) {
                let ops = Arc::clone(&ops);
                let requests = Arc::clone(&requests);
                return Either::Right(Box::pin(async move {
                    let res = ops.answer(route).await;
                    requests.request_done();
                    Ok::<_, std::convert::Infallible>(res)
                }) as BoxedResponse);
            } else if path == "/tracker/announce" || path == "/tracker/scrape" {
                // The only path that waits on another thread: boxed, off the WebSeed path.
                let tracker = Arc::clone(&tracker);
                let requests = Arc::clone(&requests);
                let (path, query) = (path.to_owned(), req.uri().query().unwrap_or("").to_owned());
                let client = std::net::SocketAddr::new(tracker.client_ip_of(&req, peer.ip()), peer.port());
                return Either::Right(Box::pin(async move {
                    let res = tracker.http(&path, &query, client).await;
                    requests.request_done();
                    Ok::<_, std::convert::Infallible>(res)
                }) as BoxedResponse);
            } else {
                let started = Instant::now();
                let mut res = respond(&store, max_target, &req);
                // TLS and HTTP/2 copy file bytes in user space: check each chunk is
                // still in the file first, so a truncated file never sends zeros.
                if copies || req.version() == http::Version::HTTP_2 {
                    res.body_mut().check_before_copy();
                }
                let body = http_body::Body::size_hint(res.body()).exact();
                counters[index].response(req.method(), res.status(), body, started.elapsed());
                res
            };
            requests.request_done();
            Either::Left(std::future::ready(Ok::<_, std::convert::Infallible>(res)))
        });
        if let Some(acceptor) = &tls {
            // The handshake runs in the connection's own task, under the guard's first
            // request limit and dropped on shutdown: a client that never finishes it
            // holds only its socket. File bytes are encrypted in user space, so the TLS
            // runs over the plain stream, never the sendfile one.
            let acceptor = acceptor.clone();
            let builder = Arc::clone(&builder);
            let watcher = graceful.watcher();
            let mut stop = ctx.stop.clone();
            let sent = Arc::clone(&ctx.counters);
            tokio::spawn(async move {
                let io = Watched::new(Counted::new(stream, Arc::clone(&sent), index, Sent::Tls), Arc::clone(&activity), places);
                let handshaken = AtomicBool::new(false);
                let served = async {
                    let tls = tokio::select! {
                        done = acceptor.accept(io) => match done {
                            Ok(tls) => tls,
                            Err(e) => {
                                sent[index].refused(Refusal::TlsHandshake);
                                tracing::debug!("TLS handshake with {peer} failed: {e}");
                                return;
                            }
                        },
                        _ = stop.changed() => return,
                    };
                    handshaken.store(true, Ordering::Relaxed);
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                    let _ = watcher.watch(conn).await;
                };
                if let Some(v) = guard(served, Arc::clone(&activity), timeouts).await {
                    if !handshaken.load(Ordering::Relaxed) {
                        sent[index].refused(Refusal::TlsHandshake);
                    }
                    tracing::debug!("closed the TLS connection from {peer}: {}", v.reason());
                }
            });
            continue;
        }
        // `write` is the same stream that never picks sendfile: every chunk is written
        // from the mapping (and a file that shrank under it is noticed the same way).
        let min_chunk = match send_path {
            SendPath::Sendfile { min_chunk } => min_chunk,
            SendPath::Write => usize::MAX,
        };
        let io = SendfileStream::new(stream, min_chunk).counted(Arc::clone(&ctx.counters), index);
        // A connection an io_uring worker handed over is read from its first byte.
        let io = Watched::new(Rewind::new(io, read), Arc::clone(&activity), places);
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Some(v) = guard(conn, activity, timeouts).await {
                tracing::debug!("closed the connection from {peer}: {}", v.reason());
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(ctx.config.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::info!("data plane: grace period over, closing remaining connections");
    }
}

/// The places a new connection takes in the node's budget and its address's cap, or why it may
/// not have them (the reason its 503 says, and what is counted). Both backends admit with it.
pub(crate) fn admit(budget: &Arc<ConnBudget>, per_ip: &Arc<PerIp>, ip: std::net::IpAddr) -> Result<Places, (&'static str, Refusal)> {
    let conn = budget.admit().ok_or(("the node holds as many connections as it may; retry later", Refusal::NodeFull))?;
    let ip = per_ip.admit(ip).ok_or(("too many connections from your address", Refusal::PerIp))?;
    Ok(Places { conn: Some(conn), ip: Some(ip) })
}

/// The next connection from the listener; never, without one (the io_uring workers accept).
async fn accept(listener: Option<&TcpListener>) -> std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// The next connection an io_uring worker hands over; never, without such a worker.
async fn handed_off(rx: Option<&mut tokio::sync::mpsc::UnboundedReceiver<HandOff>>) -> Option<HandOff> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Answers a connection it will not serve with a 503 saying why (one non-blocking write into an
/// empty socket buffer, never a wait), then closes it.
fn refuse(stream: &tokio::net::TcpStream, reason: &str, counters: &WorkerCounters, why: Refusal) {
    let _ = stream.try_write(vidseed_conn_guard::refusal(reason).as_bytes());
    counters.refused(why);
}

/// Failed accepts in a row: the back-off before the next attempt and a log line a second.
#[derive(Default)]
pub(crate) struct AcceptFailures {
    delay: Duration,
    since_log: u64,
    last_log: Option<std::time::Instant>,
}

impl AcceptFailures {
    pub(crate) fn succeeded(&mut self) {
        self.delay = Duration::ZERO;
    }

    /// Records a failure; returns how long to wait before accepting again.
    pub(crate) fn failed(&mut self, e: &std::io::Error) -> Duration {
        self.since_log += 1;
        let now = std::time::Instant::now();
        if self.last_log.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1)) {
            tracing::warn!(
                "accept failed {} time(s): {e}{}",
                self.since_log,
                if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) { " (out of file descriptors: raise LimitNOFILE, or lower [http] max_connections)" } else { "" }
            );
            self.since_log = 0;
            self.last_log = Some(now);
        }
        self.delay = (self.delay * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
        self.delay
    }
}

fn revalidate_loop(store: &CatalogStore, interval: Duration, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        crate::catalog::wait_for_revalidation(interval);
        if stop.load(Ordering::Relaxed) {
            break;
        }
        store.revalidate();
    }
}

type BoxedResponse = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<http::Response<FileBody>, std::convert::Infallible>> + Send>,
>;

fn stats_response(s: crate::tracker::socket::TrackerStats) -> http::Response<FileBody> {
    let json = format!(
        "{{\"connections\":{},\"messages\":{},\"swarms\":{},\"peers\":{},\"seeders\":{},\"leechers\":{},\"dropped\":{},\"rateLimited\":{}}}",
        s.connections, s.messages, s.swarms, s.peers, s.seeders, s.peers - s.seeders, s.dropped, s.rate_limited
    );
    let mut res = http::Response::new(FileBody::once(json.into()));
    res.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    res.headers_mut().insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, http::HeaderValue::from_static("*"));
    res
}

fn upgrade_required() -> http::Response<FileBody> {
    let mut res = http::Response::new(FileBody::text("426 Upgrade Required: the tracker speaks WebSocket here\n"));
    *res.status_mut() = http::StatusCode::UPGRADE_REQUIRED;
    res.headers_mut().insert(http::header::UPGRADE, http::HeaderValue::from_static("websocket"));
    res.headers_mut().insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, http::HeaderValue::from_static("*"));
    res
}
