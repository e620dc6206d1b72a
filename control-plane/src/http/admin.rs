//! The admin API under `/api/v1/admin/` (does I/O): the library (list, add with streamed hashing
//! progress, remove), data nodes (add with their token and config, revoke, list with state and
//! stats), the instance's settings, federation, and redundancy (`admin_redundancy.rs`). Every
//! request needs the admin's bearer token; a missing or wrong one gets 401 and nothing else.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;

use super::error::ApiError;
use super::router::{AdminRoute, Handler, Resolved};
use crate::admin::wire::{self, Field};
use crate::channel::RunningChannel;
use crate::library::urls::query_param;
use crate::library::{timestamp_ms, Library};
use crate::store::{random_token, sha256_hex, FollowDirection, StoreError};

#[path = "admin_redundancy.rs"]
mod redundancy;
#[path = "admin_videos.rs"]
pub mod videos;

/// Where the admin API lives.
pub const PREFIX: &str = super::router::ADMIN_PREFIX;

/// The settings key of the admin token's hash.
pub const ADMIN_TOKEN_SETTING: &str = "admin_token_sha256";

/// Response bodies: whole, or streamed (hashing progress).
pub type AdminBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// A whole body.
/// 401 with `WWW-Authenticate: Bearer`: the token is missing or wrong.
pub fn unauthorized() -> Response<AdminBody> {
    let mut res = error(StatusCode::UNAUTHORIZED, "unauthorized", None);
    res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    res
}

pub fn full(body: Full<Bytes>) -> AdminBody {
    body.boxed()
}

/// Lines sent as they come.
struct LineStream(mpsc::Receiver<Bytes>);

impl http_body::Body for LineStream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(http_body::Frame::data(b))))
    }
}

/// What the admin API needs to know beyond the library.
pub struct AdminApi {
    /// The publisher (our videos as federated), attached once it runs.
    publisher: std::sync::OnceLock<Arc<crate::publish::Publisher>>,
    library: Arc<Library>,
    token_sha256: String,
    channel: Arc<RunningChannel>,
    /// The channel's address as data nodes reach it, and its certificate's pin.
    channel_public: String,
    pin: String,
    engine: Arc<crate::federation::Engine>,
    redundancy: Arc<crate::redundancy::RedundancyEngine>,
}

fn error(status: StatusCode, what: &str, hint: Option<&str>) -> Response<AdminBody> {
    let e = ApiError { status, message: what.to_owned(), hint: hint.map(str::to_owned) };
    json_response(status, &e.wire())
}

/// An answer: the body's JSON (see [`wire::to_json`]), never cached.
fn json_response(status: StatusCode, body: &impl Serialize) -> Response<AdminBody> {
    let mut res = Response::new(full(Full::new(Bytes::from(wire::to_json(body).to_string()))));
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn store_error(e: StoreError) -> Response<AdminBody> {
    tracing::error!("admin API: {e}");
    error(StatusCode::INTERNAL_SERVER_ERROR, &format!("database: {e}"), Some(&e.hint()))
}

/// Constant-time comparison of two hex digests.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}


/// Unix milliseconds as the API writes them (a time before 1970 is 0).
fn ms(t: i64) -> u64 {
    u64::try_from(t).unwrap_or(0)
}

fn valid_node_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// The data node's configuration file, as `vidseed admin node add` prints it: every `[node]`
/// key, the optional ones commented with their default, one `[[node.folders]]` per folder (its
/// `path` for the admin to set), and where the other sections are described.
pub fn node_config_text(name: &str, token: &str, control: &str, pin: &str, public_url: &str, folders: &[String]) -> String {
    let q = |s: &str| toml_string(s);
    let listen = vidseed_shared::channel::DEFAULT_NODE_LISTEN;
    let mut t = format!(
        "# vidseed data node {name:?}. On the node's host, set each [[node.folders]] path below, then\n\
         # run `vidseed data --config` with this file. The token is shown only this once, here:\n\
         # keep this file private (mode 0600). Optional keys are commented, with their default.\n\
         \n\
         [node]\n\
         # The node's name and secret, as the control plane knows them.\n\
         name = {name_value}\n\
         token = {token}\n\
         # The control plane's catalog channel (QUIC over UDP, host:port) and its certificate's fingerprint.\n\
         control = {control}\n\
         pin = {pin}\n\
         # Where viewers reach this node: its WebSeed URLs and its tracker (ws:// or wss://) start with it.\n\
         # Default: http://ADDRESS of `listen` (127.0.0.1 when it listens on every address).\n\
         {public_url}\n\
         # The address the node listens on, for its WebSeeds and its tracker (`--listen` overrides it).\n\
         # listen = \"{listen}\"\n\
         # Serve files that symbolic links in a folder lead to outside that folder (also `--follow-symlinks`).\n\
         # follow_symlinks = false\n\
         # A folder for copies of other instances' videos (redundancy): with it the node downloads,\n\
         # verifies and serves the copies the control plane orders, under /static/redundancy/.\n\
         # cache = \"/srv/vidseed/redundancy\"\n\
         # Let copies be downloaded from private or loopback addresses (closed networks only).\n\
         # allow_private_sources = false\n",
        name_value = q(name),
        token = q(token),
        control = q(control),
        pin = q(pin),
        public_url = if public_url.is_empty() {
            format!("# public_url = {}", q("https://this-node.example.org"))
        } else {
            format!("public_url = {}", q(public_url))
        },
    );
    for f in folders {
        t.push_str(&format!(
            "\n# The library folder {} and where this node keeps it: set `path`.\n[[node.folders]]\nlibrary = {}\npath = {}\n",
            if f.is_empty() { "(all of it)".to_owned() } else { format!("{f:?}") },
            q(f),
            q(format!("/srv/vidseed/media/{f}").trim_end_matches('/'))
        ));
    }
    t.push_str(
        "\n# The other sections, all optional: [http] (connection timeouts and limits), [tracker] (the\n\
         # tracker's limits) and [tls] (https:// and wss:// on this node's port). `vidseed print-config`\n\
         # prints each with every key and its default: add the ones you change below.\n",
    );
    t
}

fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl AdminApi {
    /// Loads the admin token's hash, or makes the token on first start: then it is returned so
    /// that the caller prints it once (only its hash is kept).
    pub async fn ensure_token(library: &Library) -> Result<Option<String>, StoreError> {
        if library.store().setting(ADMIN_TOKEN_SETTING).await?.is_some() {
            return Ok(None);
        }
        let token = random_token();
        let stored = library.store().setting_or_insert(ADMIN_TOKEN_SETTING, &sha256_hex(token.as_bytes())).await?;
        Ok((stored == sha256_hex(token.as_bytes())).then_some(token))
    }

    pub async fn new(
        library: Arc<Library>,
        channel: Arc<RunningChannel>,
        channel_public: String,
        pin: String,
        engine: Arc<crate::federation::Engine>,
        redundancy: Arc<crate::redundancy::RedundancyEngine>,
    ) -> Result<AdminApi, StoreError> {
        let token_sha256 = library.store().setting(ADMIN_TOKEN_SETTING).await?.unwrap_or_default();
        Ok(AdminApi { publisher: std::sync::OnceLock::new(), library, token_sha256, channel, channel_public, pin, engine, redundancy })
    }

    /// Attaches the publisher (once).
    pub fn attach_publisher(&self, p: Arc<crate::publish::Publisher>) {
        let _ = self.publisher.set(p);
    }

    pub fn library(&self) -> &Library {
        &self.library
    }

    pub fn channel(&self) -> &Arc<RunningChannel> {
        &self.channel
    }

    /// Whether a request carries the admin's bearer token.
    pub fn authorized<B>(&self, req: &Request<B>) -> bool {
        req.headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| !self.token_sha256.is_empty() && same(&sha256_hex(t.trim().as_bytes()), &self.token_sha256))
    }

    /// Answers one admin request, resolved by the route table; the bearer token is checked first
    /// (a missing or wrong one gets 401 and nothing else).
    pub async fn handle<B>(&self, req: Request<B>, resolved: Resolved<'_>) -> Response<AdminBody>
    where
        B: http_body::Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if !self.authorized(&req) {
            return unauthorized();
        }
        let (route, rest) = match resolved {
            Resolved::Found(Handler::Admin(route), rest) => (route, rest.to_owned()),
            Resolved::MethodNotAllowed(allow) => {
                let mut res = error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here", None);
                res.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
                return res;
            }
            _ => return error(StatusCode::NOT_FOUND, "no such admin endpoint", Some("see `vidseed admin --help`")),
        };
        let query = req.uri().query().unwrap_or("").to_owned();
        let body = match Limited::new(req.into_body(), 64 * 1024).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "the request body is too large or was cut", None),
        };
        let parsed = || -> Result<Value, Box<Response<AdminBody>>> {
            serde_json::from_slice(&body)
                .map_err(|e| Box::new(error(StatusCode::BAD_REQUEST, &format!("the body is not JSON: {e}"), Some("send a JSON object"))))
        };
        use AdminRoute as A;
        match route {
            A::ListVideos => self.list_videos().await,
            A::AddVideos => match parsed() {
                Ok(v) => self.add_videos(wire::request(v)).await,
                Err(res) => *res,
            },
            A::RemoveVideos => self.remove_videos(&query).await,
            A::ListNodes => self.list_nodes().await,
            A::AddNode => match parsed() {
                Ok(v) => self.add_node(wire::request(v)).await,
                Err(res) => *res,
            },
            A::RevokeNode => self.revoke_node(&rest).await,
            A::Settings => self.settings().await,
            A::ListFollowing => self.list_follows(FollowDirection::Following).await,
            A::ListFollowers => self.list_follows(FollowDirection::Follower).await,
            A::Follow => match parsed() {
                Ok(v) => self.follow(wire::request(v)).await,
                Err(res) => *res,
            },
            A::Unfollow => self.unfollow(&query).await,
            A::AcceptFollower | A::RejectFollower => match parsed() {
                Ok(v) => self.answer_follower(wire::request(v), route == A::AcceptFollower).await,
                Err(res) => *res,
            },
            A::ListBlocked => match self.library.store().blocked_hosts().await {
                Ok(hosts) => json_response(StatusCode::OK, &wire::BlockList { hosts }),
                Err(e) => store_error(e),
            },
            A::Block => match parsed() {
                Ok(v) => self.block(wire::request(v), true).await,
                Err(res) => *res,
            },
            A::Unblock => match query_param(&query, "host") {
                Some(h) => self.block(wire::HostRequest { host: Field::Given(h) }, false).await,
                None => error(StatusCode::BAD_REQUEST, "missing ?host=", None),
            },
            A::FederationSettings => self.federation_settings().await,
            A::Deliveries => match self.library.store().pending_deliveries(query_param(&query, "host").as_deref()).await {
                Ok(list) => {
                    let deliveries = list
                        .into_iter()
                        .map(|d| wire::DeliveryInfo {
                            activity_id: d.activity_id,
                            inbox: d.inbox_url,
                            host: d.host,
                            attempts: d.attempts,
                            next_at: d.next_at_ms,
                            last_error: d.last_error,
                        })
                        .collect();
                    json_response(StatusCode::OK, &wire::DeliveryList { deliveries })
                }
                Err(e) => store_error(e),
            },
            A::SetFederationSettings => match parsed() {
                Ok(v) => self.set_federation(wire::request(v)).await,
                Err(res) => *res,
            },
            A::ListCopies
            | A::AddCopy
            | A::RemoveCopy
            | A::RedundancyHosts
            | A::AllowRedundancy
            | A::DenyRedundancy
            | A::RedundancySettings
            | A::SetRedundancySettings
            | A::FetchOrders
            | A::ReceivedCopies
            | A::RemoteVideos => self.redundancy(route, &query, &body).await,
            A::PublishedVideos | A::EditVideo => self.published_videos(route, &rest, &body).await,
        }
    }

    /// Every video of the library, each with its federated facts once the publisher knows it.
    async fn list_videos(&self) -> Response<AdminBody> {
        let mut videos = self.library.all_videos();
        if let Some(p) = self.publisher.get() {
            match videos::entries(p, &self.library).await {
                Ok(entries) => {
                    let mut by_path: std::collections::HashMap<String, _> = entries.into_iter().map(|e| (e.path.clone(), e)).collect();
                    for v in &mut videos {
                        v.federated = by_path.remove(&v.path);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "the videos' federated facts could not be read; listing without them"),
            }
        }
        json_response(StatusCode::OK, &wire::VideoList { videos })
    }

    async fn add_videos(&self, req: wire::AddVideos) -> Response<AdminBody> {
        let Some(path) = req.path.given() else {
            return error(StatusCode::BAD_REQUEST, "missing \"path\"", Some("send {\"path\": \"<file or folder>\"}"));
        };
        if let Err(e) = self.library.library_path(&path) {
            return error(StatusCode::BAD_REQUEST, &e.to_string(), e.hint().as_deref());
        }
        let (tx, rx) = mpsc::channel::<Bytes>(64);
        let library = Arc::clone(&self.library);
        tokio::task::spawn_blocking(move || {
            let line = |event: &wire::AddEvent| Bytes::from(format!("{}\n", wire::to_json(event)));
            let mut last = Instant::now() - Duration::from_secs(1);
            let result = library.add_path(&path, &mut |p| {
                if last.elapsed() >= Duration::from_millis(100) || p.done == p.total {
                    last = Instant::now();
                    let _ = tx.try_send(line(&wire::AddEvent::Progress(p.clone())));
                }
            });
            let end = match result {
                Ok(report) => {
                    let st = library.state();
                    let added = report.added.iter().filter_map(|p| st.videos.get(p)).map(|v| library.view(&st, v)).collect();
                    let failed = report.failed.into_iter().map(|(path, error)| wire::AddFailure { path, error }).collect();
                    wire::AddEvent::Result(wire::AddResult { added, unchanged: report.unchanged, failed })
                }
                Err(e) => wire::AddEvent::Error(wire::ErrorBody { error: e.to_string(), status: None, hint: e.hint() }),
            };
            let _ = tx.blocking_send(line(&end));
        });
        let mut res = Response::new(LineStream(rx).boxed());
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }

    async fn remove_videos(&self, query: &str) -> Response<AdminBody> {
        let Some(path) = query_param(query, "path") else {
            return error(StatusCode::BAD_REQUEST, "missing ?path=", Some("give the library path of a video or folder"));
        };
        match self.library.remove_path(&path).await {
            Ok(removed) => json_response(StatusCode::OK, &wire::Removed { removed }),
            Err(e @ crate::library::LibraryError::NotFound(_)) => error(StatusCode::NOT_FOUND, &e.to_string(), e.hint().as_deref()),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), e.hint().as_deref()),
        }
    }

    async fn list_nodes(&self) -> Response<AdminBody> {
        let store = self.library.store();
        let (nodes, latest) = match (store.nodes().await, store.last_seq().await) {
            (Ok(n), Ok(l)) => (n, l),
            (Err(e), _) | (_, Err(e)) => return store_error(e),
        };
        let st = self.library.state();
        let nodes = nodes
            .iter()
            .map(|n| {
                let state = if n.revoked {
                    "revoked"
                } else if self.channel.is_connected(&n.name) {
                    "connected"
                } else if n.last_seen_ms.is_none() {
                    "never connected"
                } else {
                    "disconnected"
                };
                let files = st.videos.keys().filter(|p| st.serving(p).any(|v| v.name == n.name)).count();
                let stats = n.stats_json.as_deref().and_then(|s| serde_json::from_str::<wire::NodeStats>(s).ok()).map(|s| {
                    wire::NodeStats { at: n.stats_at_ms.map(ms), ..s }
                });
                wire::NodeInfo {
                    name: n.name.clone(),
                    public_url: n.public_url.clone(),
                    state: state.to_owned(),
                    folders: n.folders.clone(),
                    catalog_seq: n.acked_seq,
                    latest_seq: latest,
                    last_seen: n.last_seen_ms.map(ms),
                    files: files as u64,
                    rejected: n.rejected.len() as u64,
                    stats,
                }
            })
            .collect();
        json_response(StatusCode::OK, &wire::NodeList { nodes })
    }

    async fn add_node(&self, req: wire::AddNode) -> Response<AdminBody> {
        let name = req.name.given().unwrap_or_default();
        let name = name.as_str();
        if !valid_node_name(name) {
            return error(StatusCode::BAD_REQUEST, &format!("invalid node name {name:?}"), Some("use 1 to 64 letters, digits, '-', '_' or '.'"));
        }
        // Without a URL here, the node's hello gives it (its `public_url`, or its address).
        let public_url = match req.public_url.given().as_deref().map(crate::library::urls::normalise) {
            Some(Ok(u)) => u,
            Some(Err(e)) => return error(StatusCode::BAD_REQUEST, &e.to_string(), Some("give the node's base URL, e.g. https://edge1.example.org")),
            None => String::new(),
        };
        let folders: Vec<String> = match req.folders {
            Field::Absent | Field::Wrong(Value::Null) => vec![String::new()],
            Field::Given(a) if !a.is_empty() => a.iter().map(|s| s.trim_matches('/').to_owned()).collect(),
            Field::Given(_) | Field::Wrong(_) => return error(StatusCode::BAD_REQUEST, "\"folders\" must be a non-empty list of library folders", Some("use \"\" for the whole library")),
        };
        if folders.iter().any(|f| f.split('/').any(|s| s == ".." || s == ".")) {
            return error(StatusCode::BAD_REQUEST, "a folder may not contain '.' or '..'", None);
        }
        let token = random_token();
        match self.library.store().add_node(name, &public_url, &sha256_hex(token.as_bytes()), timestamp_ms()).await {
            Ok(_) => {}
            Err(StoreError::NodeExists(_)) => {
                return error(StatusCode::CONFLICT, &format!("a node named {name:?} exists"), Some("choose another name, or revoke the old node first (names are not reused)"))
            }
            Err(e) => return store_error(e),
        }
        let _ = self.library.reload_nodes().await;
        let config = node_config_text(name, &token, &self.channel_public, &self.pin, &public_url, &folders);
        let node = wire::NewNode {
            name: name.to_owned(),
            token,
            pin: self.pin.clone(),
            control: self.channel_public.clone(),
            public_url,
            folders,
            config,
        };
        json_response(StatusCode::CREATED, &node)
    }

    async fn revoke_node(&self, name: &str) -> Response<AdminBody> {
        let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy().into_owned();
        match self.library.store().revoke_node(&name).await {
            Ok(true) => {}
            Ok(false) => {
                return match self.library.store().node(&name).await {
                    Ok(Some(_)) => error(StatusCode::CONFLICT, &format!("node {name:?} is already revoked"), None),
                    Ok(None) => error(StatusCode::NOT_FOUND, &format!("no node named {name:?}"), Some("list the nodes with `vidseed admin node list`")),
                    Err(e) => store_error(e),
                }
            }
            Err(e) => return store_error(e),
        }
        self.channel.disconnect(&name, "this node was revoked");
        let _ = self.library.reload_nodes().await;
        tracing::info!("node {name:?} revoked");
        json_response(StatusCode::OK, &wire::Revoked { revoked: name })
    }

    async fn list_follows(&self, direction: FollowDirection) -> Response<AdminBody> {
        match self.library.store().follows(direction, None).await {
            Ok(list) => {
                let items: Vec<wire::FollowInfo> = list
                    .into_iter()
                    .map(|f| wire::FollowInfo { actor: f.actor_url, host: f.host, state: f.state.as_str().to_owned(), score: f.score, since: f.created_at_ms })
                    .collect();
                match direction {
                    FollowDirection::Follower => json_response(StatusCode::OK, &wire::Followers { followers: items }),
                    FollowDirection::Following => json_response(StatusCode::OK, &wire::Following { following: items }),
                }
            }
            Err(e) => store_error(e),
        }
    }

    async fn follow(&self, req: wire::HostRequest) -> Response<AdminBody> {
        let Some(host) = req.host.given() else {
            return error(StatusCode::BAD_REQUEST, "missing \"host\"", Some("send {\"host\": \"peertube.example.org\"} (or a base URL)"));
        };
        match self.engine.follow(&host).await {
            Ok(f) => json_response(StatusCode::OK, &wire::Followed { actor: f.actor_url, host: f.host, state: f.state.as_str().to_owned() }),
            Err(crate::federation::FederationError::Store(e)) => store_error(e),
            Err(e) => error(StatusCode::BAD_GATEWAY, &e.to_string(), Some("check the host name, and that it is a PeerTube (or vidseed) instance")),
        }
    }

    async fn unfollow(&self, query: &str) -> Response<AdminBody> {
        let Some(host) = query_param(query, "host") else { return error(StatusCode::BAD_REQUEST, "missing ?host=", None) };
        match self.engine.unfollow(&host).await {
            Ok(true) => json_response(StatusCode::OK, &wire::Unfollowed { unfollowed: host }),
            Ok(false) => error(StatusCode::NOT_FOUND, &format!("this instance does not follow {host}"), Some("list them with `vidseed admin following`")),
            Err(crate::federation::FederationError::Store(e)) => store_error(e),
            Err(e) => error(StatusCode::BAD_GATEWAY, &e.to_string(), None),
        }
    }

    async fn answer_follower(&self, req: wire::ActorRequest, accept: bool) -> Response<AdminBody> {
        let Some(actor) = req.actor.given() else { return error(StatusCode::BAD_REQUEST, "missing \"actor\"", None) };
        match self.engine.answer_follower(&actor, accept).await {
            Ok(true) => {
                let state = if accept { "accepted" } else { "rejected" };
                json_response(StatusCode::OK, &wire::FollowerAnswered { actor, state: state.to_owned() })
            }
            Ok(false) => error(StatusCode::NOT_FOUND, &format!("{actor} does not follow this instance"), Some("list them with `vidseed admin followers`")),
            Err(crate::federation::FederationError::Store(e)) => store_error(e),
            Err(e) => error(StatusCode::BAD_GATEWAY, &e.to_string(), None),
        }
    }

    async fn block(&self, req: wire::HostRequest, block: bool) -> Response<AdminBody> {
        let Some(host) = req.host.given().map(|h| h.trim().to_ascii_lowercase()) else {
            return error(StatusCode::BAD_REQUEST, "missing \"host\"", None);
        };
        let store = self.library.store();
        let done = if block { store.block_host(&host, timestamp_ms()).await } else { store.unblock_host(&host).await };
        match done {
            Ok(_) if block => {
                // A blocked instance is no longer a follower.
                if let Ok(followers) = store.follows(FollowDirection::Follower, None).await {
                    for f in followers.into_iter().filter(|f| f.host == host) {
                        let _ = self.engine.answer_follower(&f.actor_url, false).await;
                        let _ = store.remove_follow(FollowDirection::Follower, &f.actor_url).await;
                    }
                }
                json_response(StatusCode::OK, &wire::Blocked { blocked: host })
            }
            Ok(_) => json_response(StatusCode::OK, &wire::Unblocked { unblocked: host }),
            Err(e) => store_error(e),
        }
    }

    async fn federation_settings(&self) -> Response<AdminBody> {
        let store = self.library.store();
        let get = |k: &'static str| async move { store.setting(k).await.ok().flatten().is_some_and(|v| v == "true") };
        let settings = wire::FederationSettings {
            auto_follow_back: get(crate::federation::SETTING_FOLLOW_BACK).await,
            manual_approval: get(crate::federation::SETTING_MANUAL).await,
            reject_followers: get(crate::federation::SETTING_REJECT_ALL).await,
        };
        json_response(StatusCode::OK, &settings)
    }

    async fn set_federation(&self, change: wire::FederationChange) -> Response<AdminBody> {
        let store = self.library.store();
        for (field, key, value) in [
            ("autoFollowBack", crate::federation::SETTING_FOLLOW_BACK, change.auto_follow_back),
            ("manualApproval", crate::federation::SETTING_MANUAL, change.manual_approval),
            ("rejectFollowers", crate::federation::SETTING_REJECT_ALL, change.reject_followers),
        ] {
            match value {
                Field::Absent => {}
                Field::Given(b) => {
                    if let Err(e) = store.set_setting(key, if b { "true" } else { "false" }).await {
                        return store_error(e);
                    }
                }
                Field::Wrong(_) => return error(StatusCode::BAD_REQUEST, &format!("\"{field}\" must be true or false"), None),
            }
        }
        self.federation_settings().await
    }

    async fn settings(&self) -> Response<AdminBody> {
        let store = self.library.store();
        let open = store.setting(crate::channel::server::TRACKER_OPEN_SETTING).await.ok().flatten().is_some_and(|v| v == "true");
        let urls = self.library.urls();
        let st = self.library.state();
        // Per video, the tracker is one of the nodes serving it: `vidseed admin videos` shows it.
        let (data_url, trackers, choice) = match self.library.tracker_choice() {
            crate::library::TrackerChoice::Fixed => (Some(urls.data_http.clone()), urls.trackers(), "fixed"),
            crate::library::TrackerChoice::ServingNode => (None, Vec::new(), "a serving node's, by rendezvous hashing of the info-hash"),
        };
        let settings = wire::Settings {
            instance: wire::InstanceSettings { control_url: urls.control_http.clone(), data_url, trackers, tracker_choice: choice.to_owned() },
            database: store.kind().to_owned(),
            library_folder: self.library.root().display().to_string(),
            channel: wire::ChannelSettings { address: self.channel_public.clone(), pin: self.pin.clone() },
            tracker: wire::TrackerSettings { open },
            videos: st.videos.len() as u64,
            nodes: st.nodes.len() as u64,
        };
        json_response(StatusCode::OK, &settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_and_digests() {
        assert!(valid_node_name("edge-1.eu_west"));
        for bad in ["", "a b", "ü", "x/y", &"a".repeat(65)] {
            assert!(!valid_node_name(bad), "{bad}");
        }
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd") && !same("abc", "ab"));
    }

    /// The text with the commented `key = value` lines of [node] made live.
    fn uncommented(text: &str) -> String {
        text.lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if ["public_url = ", "listen = ", "follow_symlinks = "].iter().any(|k| rest.starts_with(k)) => rest,
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_node_config_is_valid_toml_with_every_field() {
        let text = node_config_text("n\"1", "tok", "127.0.0.1:9", "sha256:00", "http://h:1", &["".into(), "movies".into()]);
        let v: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(v["node"]["name"].as_str(), Some("n\"1"));
        assert_eq!(v["node"]["token"].as_str(), Some("tok"));
        assert_eq!(v["node"]["control"].as_str(), Some("127.0.0.1:9"));
        assert_eq!(v["node"]["pin"].as_str(), Some("sha256:00"));
        assert_eq!(v["node"]["public_url"].as_str(), Some("http://h:1"));
        // Optional keys are there, commented, with their defaults.
        assert!(v["node"].get("listen").is_none() && v["node"].get("follow_symlinks").is_none());
        let live: toml::Value = toml::from_str(&uncommented(&text)).unwrap();
        assert_eq!(live["node"]["listen"].as_str(), Some("0.0.0.0:9001"));
        assert_eq!(live["node"]["follow_symlinks"].as_bool(), Some(false));
        let folders = v["node"]["folders"].as_array().unwrap();
        assert_eq!(folders.len(), 2);
        assert_eq!(folders[0]["library"].as_str(), Some(""));
        assert_eq!(folders[1]["library"].as_str(), Some("movies"));
        assert_eq!(folders[1]["path"].as_str(), Some("/srv/vidseed/media/movies"));
        for section in ["[http]", "[tracker]", "[tls]", "vidseed print-config"] {
            assert!(text.contains(section), "no pointer to {section}:\n{text}");
        }
    }

    #[test]
    fn a_node_without_a_url_gets_it_commented_and_odd_text_stays_inside_its_string() {
        let text = node_config_text("edge-1", "t\u{7f}\n\"x", "c:1", "sha256:00", "", &["".into()]);
        let v: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(v["node"]["token"].as_str(), Some("t\u{7f}\n\"x"));
        assert!(v["node"].get("public_url").is_none());
        let live: toml::Value = toml::from_str(&uncommented(&text)).unwrap();
        assert_eq!(live["node"]["public_url"].as_str(), Some("https://this-node.example.org"));
        assert!(text.starts_with("# vidseed data node \"edge-1\"."), "{text}");
    }
}
