//! The control plane's HTTP server (does network I/O): accepts connections under the connection
//! guard and answers each request through the route table (`router`, every route in one place)
//! and its handlers: `public` (the video API and torrents), `pages` (the viewers' pages),
//! `activitypub` (discovery, the actor, its collections), `origin_docs` (our videos, account and
//! channel as ActivityPub documents), `inbox`, `admin` (the admin API).
//! Errors are answered one way (`error`).

pub mod activitypub;
pub mod admin;
pub mod error;
pub mod inbox;
pub mod origin_docs;
pub mod pages;
pub mod public;
pub mod router;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use vidseed_conn_guard::{guard, Activity, Answering, ConnBudget, PerIp, Places, Timeouts, Watched};

use crate::http::admin::{AdminApi, AdminBody};
use crate::http::error::ApiError;
use crate::http::router::{resolve, Handler, OpsRoute, Resolved};
use crate::ops::ControlOps;
use crate::http::activitypub::Federation;

/// Starts the API server.
pub struct ApiServer;

/// A running API server.
pub struct RunningApi {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl ApiServer {
    /// Serves the API on `listener` until [`RunningApi::shutdown`].
    pub fn start(listener: TcpListener, admin: Arc<AdminApi>, federation: Arc<Federation>, ops: Arc<ControlOps>) -> std::io::Result<RunningApi> {
        let local_addr = listener.local_addr()?;
        let (stop, mut stop_rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // The connection guard keeps the time (see [`LIMITS`]): hyper's own header timer
            // starts as soon as a response ends and could cut a request arriving as it fires.
            builder.http1().timer(TokioTimer::new()).header_read_timeout(None);
            let graceful = GracefulShutdown::new();
            let budget = ConnBudget::new(LIMITS.max_connections());
            let per_ip = PerIp::new(LIMITS.max_connections_per_ip);
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, peer)) = accepted else {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        };
                        let (Some(conn), Some(ip)) = (budget.admit(), per_ip.admit(peer.ip())) else {
                            let _ = stream.try_write(vidseed_conn_guard::refusal("too many connections; retry later").as_bytes());
                            continue;
                        };
                        let admin = Arc::clone(&admin);
                        let federation = Arc::clone(&federation);
                        let ops = Arc::clone(&ops);
                        let activity = Activity::new();
                        let requests = Arc::clone(&activity);
                        let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                            let admin = Arc::clone(&admin);
                            let federation = Arc::clone(&federation);
                            let ops = Arc::clone(&ops);
                            let requests = Arc::clone(&requests);
                            requests.request_started();
                            async move {
                                let res = answer(&admin, &federation, &ops, req).await;
                                Ok::<_, Infallible>(res.map(|body| Answering::new(body, requests)))
                            }
                        });
                        let io = Watched::new(stream, Arc::clone(&activity), Places { conn: Some(conn), ip: Some(ip) });
                        let conn = graceful.watch(builder.serve_connection(TokioIo::new(io), service).into_owned());
                        tokio::spawn(async move {
                            if let Some(v) = guard(conn, activity, LIMITS.timeouts).await {
                                tracing::debug!("closed the API connection from {peer}: {}", v.reason());
                            }
                        });
                    }
                    _ = stop_rx.changed() => break,
                }
            }
            let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
        });
        Ok(RunningApi { local_addr, stop, task })
    }
}

/// The API server's connection limits, nginx's defaults in front of PeerTube: a request head
/// within 30 s of its first byte (and a new connection's first request within 30 s), 75 s of
/// keep-alive between requests (closed only between them), 60 s for a stalled response or
/// request, 256 connections per client address.
pub struct ApiLimits {
    pub timeouts: Timeouts,
    pub max_connections_per_ip: u32,
}

pub const LIMITS: ApiLimits = ApiLimits {
    timeouts: Timeouts {
        header: Duration::from_secs(30),
        keepalive: Duration::from_secs(75),
        send: Duration::from_secs(60),
        request: Duration::from_secs(60),
    },
    max_connections_per_ip: 256,
};

impl ApiLimits {
    /// A quarter of what the open-files limit leaves for connections (the data plane may share
    /// the process), at least 64.
    pub fn max_connections(&self) -> usize {
        (ConnBudget::for_limit(vidseed_conn_guard::nofile_limit()).max() / 4).max(64)
    }
}

/// Answers one request: resolved by the route table (`router`), then answered by its handler.
async fn answer(admin: &AdminApi, federation: &Federation, ops: &ControlOps, req: Request<hyper::body::Incoming>) -> Response<AdminBody> {
    let path = req.uri().path().to_owned();
    let resolved = resolve(req.method(), &path);
    if let Resolved::Found(Handler::Ops(route), _) = resolved {
        // Metrics and traffic need the admin token (Prometheus sends it as a bearer token).
        if matches!(route, OpsRoute::Metrics | OpsRoute::Traffic) && !admin.authorized(&req) {
            return admin::unauthorized();
        }
        return ops.answer(route).await.map(admin::full);
    }
    if path.starts_with(router::ADMIN_PREFIX) {
        // The token is checked before anything about the admin API is told.
        return admin.handle(req, resolved).await;
    }
    let library = admin.library();
    let res = match resolved {
        Resolved::Found(Handler::Inbox, _) => federation.inbox.handle(req).await,
        Resolved::Found(Handler::LocalInbox, _) if federation.is_local_inbox(&path) => federation.inbox.handle(req).await,
        Resolved::Found(Handler::LocalInbox, _) => ApiError::new(StatusCode::NOT_FOUND, "no such inbox").response(),
        Resolved::Found(Handler::LocalActor, _) => federation.local_actor(&req).await,
        Resolved::Found(Handler::Image, rest) => federation.image(rest).await,
        Resolved::Found(Handler::Watch, rest) if origin_docs::wants_ap(&req) => match federation.watch_document(rest, req.uri().query().unwrap_or("")) {
            Some(res) => res,
            None => pages::answer(Handler::Watch, rest, library),
        },
        Resolved::Found(handler @ (Handler::Videos | Handler::Video | Handler::Torrent), rest) => public::answer(handler, rest, library, &req),
        Resolved::Found(handler @ (Handler::Index | Handler::Watch | Handler::Asset), rest) => pages::answer(handler, rest, library),
        Resolved::Found(Handler::Admin(_), _) => ApiError::new(StatusCode::NOT_FOUND, "no such endpoint").response(),
        Resolved::Found(handler, _) => federation.answer(handler, library, &req).await,
        Resolved::Preflight => public::preflight(),
        Resolved::MethodNotAllowed(allow) => {
            let mut res = ApiError::new(StatusCode::METHOD_NOT_ALLOWED, format!("this endpoint answers {allow}")).response();
            res.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
            res
        }
        Resolved::NotFound => ApiError::new(StatusCode::NOT_FOUND, "no such endpoint; the video list is at /api/v1/videos").response(),
    };
    res.map(admin::full)
}

impl RunningApi {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting and waits for requests in flight (at most 5 s).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
