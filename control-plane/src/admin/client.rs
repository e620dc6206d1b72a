//! The HTTP client of the control plane's admin API (plain HTTP, bearer token) and the errors
//! `vidseed admin` reports. Does network I/O; the interpretation of answers is pure.

use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::table::{parse_event, snippet, AddStream, LineError, StreamError, StreamEvent};
use super::wire::{self, AddResult, ErrorBody, Field, NewNode, NodeList, Progress, Removed, Revoked, Settings, VideoList};

/// Where the control plane listens unless told otherwise.
pub const DEFAULT_CONTROL_URL: &str = "http://127.0.0.1:8081";
/// How long a TCP connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long any request but `add` may take, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest JSON answer read.
const MAX_ANSWER: usize = 64 << 20;

const VIDEOS: &str = "/api/v1/admin/videos";
const NODES: &str = "/api/v1/admin/nodes";
const SETTINGS: &str = "/api/v1/admin/settings";

/// Everything `vidseed admin` can fail with; [`AdminError::render`] gives the `error:` and
/// `hint:` lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    #[error("no admin token was given")]
    NoToken,
    #[error("cannot read the token file {path} ({reason})")]
    TokenFile { path: String, reason: String },
    #[error("the admin token contains characters that cannot be sent in an HTTP header")]
    BadToken,
    #[error("invalid control plane URL {url:?} ({reason})")]
    BadUrl { url: String, reason: String },
    #[error("https control plane URLs are not supported yet ({url})")]
    Https { url: String },
    #[error("cannot reach the control plane at {url} ({reason})")]
    Unreachable { url: String, reason: String },
    #[error("the connection to the control plane at {url} failed ({reason})")]
    Transport { url: String, reason: String },
    #[error("the control plane at {url} did not answer within {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error("the control plane refused the admin token")]
    Unauthorized,
    /// An error answer of the API: its own words.
    #[error("{error}")]
    Api { status: u16, error: String, hint: Option<String> },
    #[error("the control plane answered {status} with something other than the expected JSON: {body}")]
    NotJson { status: String, body: String },
    #[error("the control plane's answer was not understood ({reason})")]
    Unexpected { reason: String },
    #[error("the control plane sent an unreadable progress line ({0})")]
    Stream(LineError),
    #[error("the control plane ended its answer before reporting the result")]
    StreamEnded,
    #[error("the connection to the control plane broke while it was adding videos ({reason})")]
    StreamBroken { reason: String },
    /// A problem on this side (a path that cannot be sent, …), already worded.
    #[error("{what}")]
    Local { what: String, hint: Option<String> },
}

const TOKEN_HINT: &str = "pass the token the control plane printed at its first start with --token, --token-file \
                          or the VIDSEED_ADMIN_TOKEN environment variable";
const RETRY_HINT: &str = "the control plane may have stopped: check its log, then run the command again";

impl AdminError {
    /// What the admin can do about it.
    pub fn hint(&self) -> Option<String> {
        let hint = match self {
            Self::NoToken | Self::Unauthorized => TOKEN_HINT,
            Self::TokenFile { .. } => "check the path given to --token-file",
            Self::BadToken => "check the token: it is the single line the control plane printed at its first start",
            Self::BadUrl { .. } => "pass --control-url http://HOST:PORT (by default http://127.0.0.1:8081)",
            Self::Https { .. } => {
                "reach the control plane over plain http, on its host or through a tunnel \
                 (e.g. ssh -L 8081:127.0.0.1:8081 HOST)"
            }
            Self::Unreachable { .. } => {
                "start it with `vidseed control` or `vidseed serve`, or pass --control-url (or set \
                 VIDSEED_CONTROL_URL) if it listens elsewhere"
            }
            Self::Transport { .. } | Self::NotJson { .. } => {
                "check that --control-url points at vidseed's control plane, and the control plane's log"
            }
            Self::Timeout { .. } => "check the control plane's log: it may be overloaded or stuck",
            Self::Api { hint, .. } | Self::Local { hint, .. } => return hint.clone(),
            Self::Unexpected { .. } => "this command and the control plane may be different versions of vidseed",
            Self::Stream(_) | Self::StreamEnded | Self::StreamBroken { .. } => RETRY_HINT,
        };
        Some(hint.to_owned())
    }

    /// `error: …` and, when there is one, `hint: …`, without a final newline.
    pub fn render(&self) -> String {
        match self.hint() {
            Some(hint) => format!("error: {self}\nhint: {hint}"),
            None => format!("error: {self}"),
        }
    }

    fn unexpected(e: &serde_json::Error) -> Self {
        Self::Unexpected { reason: e.to_string() }
    }
}

/// An answer both as sent (for `--json`) and typed (for tables).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<T> {
    pub raw: Value,
    pub data: T,
}

/// Characters escaped in a query value or a path segment.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// `http://host:port[/prefix]` without a trailing slash; `host:port` alone means http.
pub fn normalize_url(url: &str) -> Result<String, AdminError> {
    let given = url.trim();
    let bad = |reason: &str| AdminError::BadUrl { url: given.to_owned(), reason: reason.to_owned() };
    let with_scheme = if given.contains("://") { given.to_owned() } else { format!("http://{given}") };
    let uri: Uri = with_scheme.parse().map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => return Err(AdminError::Https { url: given.to_owned() }),
        _ => return Err(bad("only http:// URLs are supported")),
    }
    let Some(authority) = uri.authority() else { return Err(bad("no host in it")) };
    if authority.host().is_empty() {
        return Err(bad("no host in it"));
    }
    if uri.query().is_some() {
        return Err(bad("a query has no place in it"));
    }
    Ok(format!("http://{authority}{}", uri.path().trim_end_matches('/')))
}

/// The admin API's client.
#[derive(Debug, Clone)]
pub struct AdminClient {
    base: String,
    auth: HeaderValue,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl AdminClient {
    /// A client of the control plane at `control_url` (see [`normalize_url`]) with the admin
    /// token `token`. Connects lazily.
    pub fn new(control_url: &str, token: &str) -> Result<Self, AdminError> {
        let base = normalize_url(control_url)?;
        let token = token.trim();
        if token.is_empty() {
            return Err(AdminError::NoToken);
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| AdminError::BadToken)?;
        auth.set_sensitive(true);
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        // A host that vanishes mid-`add` is noticed within a minute instead of never.
        connector.set_keepalive(Some(Duration::from_secs(20)));
        connector.set_keepalive_interval(Some(Duration::from_secs(10)));
        connector.set_keepalive_retries(Some(3));
        let http = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self { base, auth, http })
    }

    /// The control plane's URL, normalized.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// `GET /api/v1/admin/videos`.
    pub async fn videos(&self) -> Result<Answer<VideoList>, AdminError> {
        self.call(Method::GET, VIDEOS.to_owned(), None).await
    }

    /// `POST /api/v1/admin/videos`: publishes the file or folder `path` (absolute on the control
    /// plane's host, or relative to its library), reporting the hashing's progress as it goes.
    /// Not timed out (hashing takes as long as it takes); ends when the connection does.
    pub async fn add(
        &self,
        path: &str,
        mut on_progress: impl FnMut(&Progress),
    ) -> Result<Answer<AddResult>, AdminError> {
        let request = wire::AddVideos { path: Field::Given(path.to_owned()) };
        let response = self.send(Method::POST, VIDEOS.to_owned(), Some(wire::to_json(&request))).await?;
        let status = response.status();
        if !status.is_success() {
            let body = self.read_body(response).await?;
            return Err(failure(status, &body));
        }
        let ndjson = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|ct| !ct.trim_start().starts_with("application/json"));
        if !ndjson {
            // A server may answer at once with the final event as a plain JSON document.
            let body = self.read_body(response).await?;
            let value = interpret(status, &body)?;
            return match parse_event(value, &String::from_utf8_lossy(&body)).map_err(AdminError::Stream)? {
                StreamEvent::Result { result, raw } => Ok(Answer { raw, data: result }),
                StreamEvent::Error(e) => Err(api_error(status, e)),
                StreamEvent::Progress(_) => Err(AdminError::StreamEnded),
            };
        }
        let mut body = response.into_body();
        let mut stream = AddStream::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| AdminError::StreamBroken { reason: error_chain(&e) })?;
            if let Some(data) = frame.data_ref() {
                stream.feed(data, &mut on_progress).map_err(|e| stream_error(status, e))?;
            }
        }
        let (result, raw) = stream.finish(&mut on_progress).map_err(|e| stream_error(status, e))?;
        Ok(Answer { raw, data: result })
    }

    /// `DELETE /api/v1/admin/videos?path=…`: stops publishing a file or a folder's files.
    pub async fn remove(&self, path: &str) -> Result<Answer<Removed>, AdminError> {
        let target = format!("{VIDEOS}?path={}", utf8_percent_encode(path, COMPONENT));
        self.call(Method::DELETE, target, None).await
    }

    /// `GET /api/v1/admin/nodes`.
    pub async fn nodes(&self) -> Result<Answer<NodeList>, AdminError> {
        self.call(Method::GET, NODES.to_owned(), None).await
    }

    /// `POST /api/v1/admin/nodes`: registers a data node. No `folders` means the whole library.
    pub async fn add_node(
        &self,
        name: &str,
        public_url: Option<&str>,
        folders: &[String],
    ) -> Result<Answer<NewNode>, AdminError> {
        let request = wire::AddNode {
            name: Field::Given(name.to_owned()),
            public_url: Field::from_option(public_url.map(str::to_owned)),
            folders: if folders.is_empty() { Field::Absent } else { Field::Given(folders.to_vec()) },
        };
        self.call(Method::POST, NODES.to_owned(), Some(wire::to_json(&request))).await
    }

    /// `DELETE /api/v1/admin/nodes/<name>`.
    pub async fn revoke_node(&self, name: &str) -> Result<Answer<Revoked>, AdminError> {
        let target = format!("{NODES}/{}", utf8_percent_encode(name, COMPONENT));
        self.call(Method::DELETE, target, None).await
    }

    /// `GET /api/v1/admin/settings`.
    pub async fn settings(&self) -> Result<Answer<Settings>, AdminError> {
        self.call(Method::GET, SETTINGS.to_owned(), None).await
    }

    /// Any admin endpoint under `/api/v1/admin/` (`target` is what follows it, query included),
    /// its JSON answer as sent and as `T` (one of `wire.rs`'s answers, or `Value` as it is).
    /// Requests are sent as [`body`] makes them.
    pub async fn admin<T: DeserializeOwned>(&self, method: Method, target: &str, body: Option<Value>) -> Result<Answer<T>, AdminError> {
        self.call(method, format!("/api/v1/admin/{target}"), body).await
    }

    /// A value for a query string, percent-encoded.
    pub fn encode_query(value: &str) -> String {
        utf8_percent_encode(value, COMPONENT).to_string()
    }

    /// A request with a JSON answer, timed out after [`REQUEST_TIMEOUT`].
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        target: String,
        body: Option<Value>,
    ) -> Result<Answer<T>, AdminError> {
        let exchange = async {
            let response = self.send(method, target, body).await?;
            let status = response.status();
            let body = self.read_body(response).await?;
            interpret(status, &body)
        };
        let raw = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| AdminError::Timeout { url: self.base.clone(), secs: REQUEST_TIMEOUT.as_secs() })??;
        let data = T::deserialize(&raw).map_err(|e| AdminError::unexpected(&e))?;
        Ok(Answer { raw, data })
    }

    async fn send(
        &self,
        method: Method,
        target: String,
        body: Option<Value>,
    ) -> Result<Response<Incoming>, AdminError> {
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{target}", self.base))
            .header(AUTHORIZATION, self.auth.clone())
            .header(ACCEPT, "application/json, application/x-ndjson")
            .header(USER_AGENT, concat!("vidseed-admin/", env!("CARGO_PKG_VERSION")));
        let request = match body {
            Some(body) => {
                request.header(CONTENT_TYPE, "application/json").body(Full::new(Bytes::from(body.to_string())))
            }
            None => request.body(Full::new(Bytes::new())),
        }
        .map_err(|e| AdminError::Local { what: format!("cannot build the request ({e})"), hint: None })?;
        self.http.request(request).await.map_err(|e| self.transport_error(&e))
    }

    async fn read_body(&self, response: Response<Incoming>) -> Result<Bytes, AdminError> {
        Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .map_err(|e| AdminError::Transport { url: self.base.clone(), reason: error_chain(&*e) })
    }

    fn transport_error(&self, e: &hyper_util::client::legacy::Error) -> AdminError {
        let url = self.base.clone();
        if e.is_connect() {
            let reason = match find_io_error(e) {
                Some(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                    format!("no connection within {} s", CONNECT_TIMEOUT.as_secs())
                }
                Some(io) => io.to_string(),
                None => error_chain(e),
            };
            AdminError::Unreachable { url, reason }
        } else {
            AdminError::Transport { url, reason: error_chain(e) }
        }
    }
}

/// A request body as sent: one of `wire.rs`'s requests as JSON.
pub fn body(request: &impl serde::Serialize) -> Option<Value> {
    Some(wire::to_json(request))
}

/// An answer's body as the JSON it should be, or the error it stands for.
pub fn interpret(status: StatusCode, body: &[u8]) -> Result<Value, AdminError> {
    if status.is_success() {
        return serde_json::from_slice(body).map_err(|_| not_json(status, body));
    }
    Err(failure(status, body))
}

/// The error a status other than a success stands for.
fn failure(status: StatusCode, body: &[u8]) -> AdminError {
    if status == StatusCode::UNAUTHORIZED {
        return AdminError::Unauthorized;
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) if status.is_client_error() || status.is_server_error() => api_error(status, e),
        _ => not_json(status, body),
    }
}

fn not_json(status: StatusCode, body: &[u8]) -> AdminError {
    AdminError::NotJson { status: status.to_string(), body: snippet(body) }
}

fn api_error(status: StatusCode, e: ErrorBody) -> AdminError {
    AdminError::Api { status: status.as_u16(), error: e.error, hint: e.hint.filter(|h| !h.trim().is_empty()) }
}

fn stream_error(status: StatusCode, e: StreamError) -> AdminError {
    match e {
        StreamError::Line(e) => AdminError::Stream(e),
        StreamError::EndedWithoutResult => AdminError::StreamEnded,
        StreamError::LineTooLong => AdminError::Unexpected { reason: e.to_string() },
        StreamError::Server(body) => api_error(status, body),
    }
}

fn find_io_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cur = err.source();
    }
    None
}

/// An error and its causes, `: `-separated, repeated wordings left out.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}
