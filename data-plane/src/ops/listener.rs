//! The ops listener (does I/O): `[metrics] listen` gives `/metrics`, `/healthz` and `/readyz`
//! a port of their own (usually on loopback or a private network, away from viewers), served
//! by one thread with its own event loop, plain HTTP/1.1, under the connection guard.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::watch;
use vidseed_conn_guard::{guard, Activity, Answering, Places, Timeouts, Watched};

use super::{Ops, OpsRoute};
use crate::webseed::body::FileBody;

/// A running ops listener; [`OpsListener::shutdown`] stops it.
pub struct OpsListener {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

/// Scrapers and load balancers ask briefly: a few seconds for each step.
const TIMEOUTS: Timeouts = Timeouts {
    header: Duration::from_secs(10),
    keepalive: Duration::from_secs(75),
    send: Duration::from_secs(30),
    request: Duration::from_secs(30),
};

impl OpsListener {
    /// Binds `addr` and serves `path` (metrics) and the health paths on it.
    pub fn start(addr: SocketAddr, path: String, ops: Arc<Ops>) -> std::io::Result<OpsListener> {
        let std_listener = std::net::TcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        let local_addr = std_listener.local_addr()?;
        let (stop, mut stop_rx) = watch::channel(false);
        let thread = std::thread::Builder::new().name("vidseed-ops".into()).spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => return tracing::error!("the metrics listener cannot start its event loop: {e}"),
            };
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(std_listener) {
                    Ok(l) => l,
                    Err(e) => return tracing::error!("the metrics listener cannot use its socket: {e}"),
                };
                let path: Arc<str> = path.into();
                loop {
                    let (stream, _) = tokio::select! {
                        accepted = listener.accept() => match accepted {
                            Ok(c) => c,
                            Err(_) => {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                continue;
                            }
                        },
                        _ = stop_rx.changed() => return,
                    };
                    let ops = Arc::clone(&ops);
                    let path = Arc::clone(&path);
                    let activity = Activity::new();
                    let requests = Arc::clone(&activity);
                    let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let ops = Arc::clone(&ops);
                        let path = Arc::clone(&path);
                        let requests = Arc::clone(&requests);
                        requests.request_started();
                        async move {
                            let route = match req.uri().path() {
                                "/healthz" => Some(OpsRoute::Alive),
                                "/readyz" => Some(OpsRoute::Ready),
                                p if p == &*path => Some(OpsRoute::Metrics),
                                _ => None,
                            };
                            let res = match route {
                                Some(r) => ops.answer(r).await,
                                None => {
                                    let mut res = http::Response::new(FileBody::text("404 Not Found: this port answers /metrics, /healthz and /readyz\n"));
                                    *res.status_mut() = http::StatusCode::NOT_FOUND;
                                    res
                                }
                            };
                            Ok::<_, std::convert::Infallible>(res.map(|b| Answering::new(b, requests)))
                        }
                    });
                    let io = Watched::new(stream, Arc::clone(&activity), Places::default());
                    tokio::spawn(async move {
                        let conn = hyper::server::conn::http1::Builder::new().timer(TokioTimer::new()).header_read_timeout(None).serve_connection(TokioIo::new(io), service);
                        let _ = guard(conn, activity, TIMEOUTS).await;
                    });
                }
            });
        })?;
        Ok(OpsListener { local_addr, stop, thread: Some(thread) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
