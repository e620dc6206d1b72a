//! The control plane's HTTP server (does network I/O): the public API (the video list and each
//! video as JSON, the `.torrent` files), the viewers' pages (see [`crate::http::pages`]) and, under `/api/v1/admin/`, the
//! admin API (see [`crate::http::admin`]).

pub mod activitypub;
pub mod admin;
pub mod inbox;
pub mod pages;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;
use vidseed_shared::InfoHash;

use vidseed_conn_guard::{guard, Activity, Answering, ConnBudget, PerIp, Places, Timeouts, Watched};

use crate::http::admin::AdminApi;
use crate::http::activitypub::Federation;
use crate::library::Library;

type Body = Full<Bytes>;

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
    pub fn start(listener: TcpListener, admin: Arc<AdminApi>, federation: Arc<Federation>) -> std::io::Result<RunningApi> {
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
                        let activity = Activity::new();
                        let requests = Arc::clone(&activity);
                        let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                            let admin = Arc::clone(&admin);
                            let federation = Arc::clone(&federation);
                            let requests = Arc::clone(&requests);
                            requests.request_started();
                            async move {
                                let res = answer(&admin, &federation, req).await;
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

/// Routes one request: the admin API, the inboxes, the federation documents, then the public
/// API and pages.
async fn answer(admin: &AdminApi, federation: &Federation, req: Request<hyper::body::Incoming>) -> Response<crate::http::admin::AdminBody> {
    if req.uri().path().starts_with(crate::http::admin::PREFIX) {
        return admin.handle(req).await;
    }
    if Federation::is_inbox_post(&req) {
        return federation.inbox.handle(req).await.map(crate::http::admin::full);
    }
    let res = match federation.route(admin.library(), &req).await {
        Some(res) => res,
        None => route(admin.library(), &req),
    };
    res.map(crate::http::admin::full)
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

/// Answers one API request.
pub fn route<B>(library: &Library, req: &Request<B>) -> Response<Body> {
    let head = req.method() == Method::HEAD;
    if req.method() == Method::OPTIONS {
        let mut res = respond(StatusCode::NO_CONTENT, "", Bytes::new());
        res.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, HEAD, OPTIONS"));
        res.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("*"));
        return res;
    }
    if req.method() != Method::GET && !head {
        let mut res = json_error(StatusCode::METHOD_NOT_ALLOWED, "this endpoint answers GET, HEAD and OPTIONS");
        res.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
        return res;
    }
    let path = req.uri().path();
    let mut res = if path == "/api/v1/videos" || path == "/api/v1/videos/" {
        json(StatusCode::OK, &library.videos())
    } else if let Some(id) = path.strip_prefix("/api/v1/videos/") {
        match id.parse::<InfoHash>().ok().and_then(|ih| library.by_info_hash(&ih)) {
            Some(v) => json(StatusCode::OK, &v),
            None => json_error(StatusCode::NOT_FOUND, "no video has this id"),
        }
    } else if let Some(file) = path.strip_prefix("/torrents/") {
        let ih = file.strip_suffix(".torrent").and_then(|hex| hex.parse::<InfoHash>().ok());
        match ih.and_then(|ih| Some((ih, library.torrent(&ih)?))) {
            Some((ih, torrent)) => {
                let mut res = respond(StatusCode::OK, "application/x-bittorrent", Bytes::from(torrent));
                let disposition = format!("attachment; filename=\"{}.torrent\"", ih.to_hex());
                if let Ok(d) = HeaderValue::from_str(&disposition) {
                    res.headers_mut().insert(header::CONTENT_DISPOSITION, d);
                }
                res
            }
            None => json_error(StatusCode::NOT_FOUND, "no torrent has this info-hash"),
        }
    } else if let Some(page) = crate::http::pages::route(library, path) {
        // CORS stays off the pages: only the API and torrents are for other origins.
        page
    } else {
        json_error(StatusCode::NOT_FOUND, "no such endpoint; the video list is at /api/v1/videos")
    };
    if head {
        let len = res.headers().get(header::CONTENT_LENGTH).cloned();
        *res.body_mut() = Full::new(Bytes::new());
        if let Some(len) = len {
            res.headers_mut().insert(header::CONTENT_LENGTH, len);
        }
    }
    res
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let len = body.len();
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    let hs = res.headers_mut();
    if !content_type.is_empty() {
        hs.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        hs.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    hs.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    res
}

pub fn json<T: serde::Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(raw) => respond(status, "application/json", Bytes::from(raw)),
        Err(e) => {
            tracing::error!("cannot encode an API answer: {e}");
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode the answer")
        }
    }
}

pub fn json_error(status: StatusCode, msg: &str) -> Response<Body> {
    let raw = serde_json::json!({ "error": msg, "status": status.as_u16() }).to_string();
    respond(status, "application/json", Bytes::from(raw))
}
