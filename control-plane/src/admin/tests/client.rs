//! The client against a tiny HTTP server that answers with canned contract answers (the real
//! server is tested with the server): authorization, error bodies, the streamed `add`, a dead
//! port, and whole commands with their output and exit codes.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};

use super::{videos, VIDEOS_JSON, VIDEOS_LINES};
use crate::admin::cli::{execute, AdminArgs, AdminCommand, AdminEnv, NodeCommand};
use crate::admin::client::{AdminClient, AdminError};
use crate::admin::table::LineError;
use crate::admin::wire::Progress;

const TOKEN: &str = "s3cret-admin-token";

/// A body whose chunks the handler sends one by one; an `Err` aborts the connection.
struct ChunkBody(mpsc::UnboundedReceiver<Result<Bytes, std::io::Error>>);

impl hyper::body::Body for ChunkBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0.poll_recv(cx).map(|next| next.map(|chunk| chunk.map(Frame::data)))
    }
}

type Chunks = mpsc::UnboundedSender<Result<Bytes, std::io::Error>>;

fn answer(status: StatusCode, content_type: &str, body: &str) -> Response<ChunkBody> {
    let (tx, rx) = mpsc::unbounded_channel();
    tx.send(Ok(Bytes::from(body.to_owned()))).unwrap();
    Response::builder().status(status).header("content-type", content_type).body(ChunkBody(rx)).unwrap()
}

fn json_answer(status: StatusCode, body: &Value) -> Response<ChunkBody> {
    answer(status, "application/json", &body.to_string())
}

fn streamed() -> (Chunks, Response<ChunkBody>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let response = Response::builder().header("content-type", "application/x-ndjson").body(ChunkBody(rx)).unwrap();
    (tx, response)
}

/// What the server saw, and a way for a test to tell it that a progress event arrived.
#[derive(Default)]
struct Server {
    /// `METHOD target body` per request.
    seen: Mutex<Vec<String>>,
    progress_seen: Notify,
    /// Whether the client reported the first progress before the rest of the stream was sent.
    streamed_live: Mutex<Option<bool>>,
}

async fn handle(req: Request<Incoming>, server: Arc<Server>) -> Result<Response<ChunkBody>, Infallible> {
    let method = req.method().clone();
    let target = req.uri().path_and_query().map(ToString::to_string).unwrap_or_default();
    let authorized = req.headers().get("authorization").is_some_and(|v| v == format!("Bearer {TOKEN}").as_str());
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    server.seen.lock().unwrap().push(format!("{method} {target} {body}").trim_end().to_owned());
    if !authorized {
        return Ok(json_answer(StatusCode::UNAUTHORIZED, &json!({"error": "unauthorized"})));
    }
    let response = match (method.as_str(), target.as_str()) {
        ("GET", "/api/v1/admin/videos") => answer(StatusCode::OK, "application/json", VIDEOS_JSON),
        ("GET", "/api/v1/admin/nodes") => json_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": "the node registry is not open yet",
                    "hint": "wait for the control plane to finish starting"}),
        ),
        ("GET", "/api/v1/admin/settings") => {
            answer(StatusCode::BAD_GATEWAY, "text/html", "<html><h1>502 Bad Gateway</h1></html>")
        }
        ("DELETE", t) if t.starts_with("/api/v1/admin/videos?path=") => {
            json_answer(StatusCode::OK, &json!({"removed": ["films/My Film é.mp4"]}))
        }
        ("DELETE", "/api/v1/admin/nodes/paris%201") => json_answer(StatusCode::OK, &json!({"revoked": "paris 1"})),
        ("POST", "/api/v1/admin/nodes") => json_answer(
            StatusCode::CREATED,
            &json!({"name": "paris-1", "token": "node-token", "pin": "ab:cd", "control": "cp.example.org:4433",
                    "config": NODE_CONFIG}),
        ),
        ("POST", "/api/v1/admin/videos") => {
            let path = serde_json::from_str::<Value>(&body).ok().and_then(|v| v["path"].as_str().map(str::to_owned));
            add_answer(path.as_deref().unwrap_or_default(), &server)
        }
        _ => json_answer(StatusCode::NOT_FOUND, &json!({"error": "no such endpoint"})),
    };
    Ok(response)
}

const P0: &str = "{\"progress\":{\"file\":\"films/a.mp4\",\"done\":0,\"total\":300}}\n";

fn add_answer(path: &str, server: &Arc<Server>) -> Response<ChunkBody> {
    match path {
        "films" => {
            let (tx, response) = streamed();
            let server = Arc::clone(server);
            tokio::spawn(async move {
                // The first event and half of the second in one chunk, the rest in others.
                tx.send(Ok(Bytes::from(format!("{P0}{{\"progress\":{{\"file\":\"films/a.mp4\",\"done\":2")))).unwrap();
                let live = tokio::time::timeout(Duration::from_secs(5), server.progress_seen.notified()).await.is_ok();
                *server.streamed_live.lock().unwrap() = Some(live);
                tx.send(Ok(Bytes::from_static(b"00,\"total\":300}}\n"))).unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
                let video = serde_json::from_str::<Value>(VIDEOS_JSON).unwrap()["videos"][0].clone();
                let result = json!({"result": {"added": [video], "unchanged": ["films/old.mp4"],
                                               "failed": [{"path": "films/bad.mp4", "error": "not a video"}]}});
                tx.send(Ok(Bytes::from(format!("{result}\n")))).unwrap();
            });
            response
        }
        "dies" => {
            let (tx, response) = streamed();
            tx.send(Ok(Bytes::from_static(P0.as_bytes()))).unwrap();
            response
        }
        "breaks" => {
            let (tx, response) = streamed();
            tx.send(Ok(Bytes::from_static(P0.as_bytes()))).unwrap();
            // Once the first event is out, the server fails mid-body and drops the connection.
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                tx.send(Err(std::io::Error::other("disk gone"))).unwrap();
            });
            response
        }
        "fails" => {
            let (tx, response) = streamed();
            tx.send(Ok(Bytes::from(format!(
                "{P0}{{\"error\":\"hashing failed: I/O error\",\"hint\":\"check the disk\"}}\n"
            ))))
            .unwrap();
            response
        }
        "garbage" => {
            let (tx, response) = streamed();
            tx.send(Ok(Bytes::from(format!("{P0}Internal Server Error\n")))).unwrap();
            response
        }
        _ => json_answer(
            StatusCode::NOT_FOUND,
            &json!({"error": format!("no such file or folder: {path}"),
                    "hint": "give a path in the library or an absolute path"}),
        ),
    }
}

async fn start() -> (SocketAddr, Arc<Server>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Arc::new(Server::default());
    let shared = Arc::clone(&server);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let server = Arc::clone(&shared);
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(req, Arc::clone(&server)));
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    (addr, server)
}

fn client(addr: SocketAddr, token: &str) -> AdminClient {
    AdminClient::new(&format!("http://{addr}"), token).unwrap()
}

#[tokio::test]
async fn lists_videos_with_the_token() {
    let (addr, server) = start().await;
    let answer = client(addr, TOKEN).videos().await.unwrap();
    assert_eq!(answer.data.videos, videos());
    assert_eq!(answer.raw, serde_json::from_str::<Value>(VIDEOS_JSON).unwrap());
    assert_eq!(*server.seen.lock().unwrap(), ["GET /api/v1/admin/videos"]);
}

#[tokio::test]
async fn a_wrong_token_is_a_401() {
    let (addr, _server) = start().await;
    assert_eq!(client(addr, "wrong").videos().await.unwrap_err(), AdminError::Unauthorized);
    assert_eq!(client(addr, "wrong").add("films", |_| {}).await.unwrap_err(), AdminError::Unauthorized);
}

#[tokio::test]
async fn a_json_error_keeps_its_hint() {
    let (addr, _server) = start().await;
    assert_eq!(
        client(addr, TOKEN).nodes().await.unwrap_err(),
        AdminError::Api {
            status: 503,
            error: "the node registry is not open yet".to_owned(),
            hint: Some("wait for the control plane to finish starting".to_owned()),
        }
    );
    // A validation error of `add` comes before any streaming, as a plain JSON error.
    assert_eq!(
        client(addr, TOKEN).add("nowhere", |_| panic!("no progress expected")).await.unwrap_err(),
        AdminError::Api {
            status: 404,
            error: "no such file or folder: nowhere".to_owned(),
            hint: Some("give a path in the library or an absolute path".to_owned()),
        }
    );
}

#[tokio::test]
async fn a_non_json_answer_shows_status_and_start() {
    let (addr, _server) = start().await;
    assert_eq!(
        client(addr, TOKEN).settings().await.unwrap_err(),
        AdminError::NotJson {
            status: "502 Bad Gateway".to_owned(),
            body: "<html><h1>502 Bad Gateway</h1></html>".to_owned()
        }
    );
}

#[tokio::test]
async fn add_streams_progress_as_it_comes() {
    let (addr, server) = start().await;
    let mut seen: Vec<Progress> = Vec::new();
    let answer = client(addr, TOKEN)
        .add("films", |p| {
            seen.push(p.clone());
            server.progress_seen.notify_one();
        })
        .await
        .unwrap();
    let done: Vec<u64> = seen.iter().map(|p| p.done).collect();
    assert_eq!(done, [0, 200]);
    assert!(seen.iter().all(|p| p.total == 300 && p.file == "films/a.mp4"));
    // The first event reached us while the server still held the rest back.
    assert_eq!(*server.streamed_live.lock().unwrap(), Some(true));
    assert_eq!(answer.data.added, videos()[..1]);
    assert_eq!(answer.data.unchanged, ["films/old.mp4"]);
    assert_eq!(answer.data.failed.len(), 1);
    assert_eq!(answer.raw["failed"][0]["error"], "not a video");
    assert_eq!(*server.seen.lock().unwrap(), [r#"POST /api/v1/admin/videos {"path":"films"}"#]);
}

#[tokio::test]
async fn add_streams_that_end_badly() {
    let (addr, _server) = start().await;
    let c = client(addr, TOKEN);
    let mut count = 0;
    assert_eq!(c.add("dies", |_| count += 1).await.unwrap_err(), AdminError::StreamEnded);
    assert_eq!(count, 1);
    let mut count = 0;
    let err = c.add("breaks", |_| count += 1).await.unwrap_err();
    assert!(matches!(err, AdminError::StreamBroken { .. }), "{err:?}");
    assert_eq!(count, 1);
    assert_eq!(
        c.add("fails", |_| {}).await.unwrap_err(),
        AdminError::Api {
            status: 200,
            error: "hashing failed: I/O error".to_owned(),
            hint: Some("check the disk".to_owned())
        }
    );
    assert_eq!(
        c.add("garbage", |_| {}).await.unwrap_err(),
        AdminError::Stream(LineError::NotJson("Internal Server Error".to_owned()))
    );
}

#[tokio::test]
async fn paths_and_names_are_percent_encoded() {
    let (addr, server) = start().await;
    let c = client(addr, TOKEN);
    assert_eq!(c.remove("films/My Film é.mp4").await.unwrap().data.removed, ["films/My Film é.mp4"]);
    assert_eq!(c.revoke_node("paris 1").await.unwrap().data.revoked, "paris 1");
    let node = c.add_node("paris-1", Some("https://seed1.example.org"), &["films".to_owned()]).await.unwrap();
    assert_eq!(node.data.token, "node-token");
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen[0], "DELETE /api/v1/admin/videos?path=films%2FMy%20Film%20%C3%A9.mp4");
    assert_eq!(seen[1], "DELETE /api/v1/admin/nodes/paris%201");
    let body: Value = serde_json::from_str(seen[2].strip_prefix("POST /api/v1/admin/nodes ").unwrap()).unwrap();
    assert_eq!(body, json!({"name": "paris-1", "publicUrl": "https://seed1.example.org", "folders": ["films"]}));
}

async fn dead_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn a_dead_port_is_unreachable() {
    let addr = dead_port().await;
    let err = client(addr, TOKEN).videos().await.unwrap_err();
    let AdminError::Unreachable { url, reason } = &err else { panic!("{err:?}") };
    assert_eq!(*url, format!("http://{addr}"));
    assert!(reason.to_lowercase().contains("refused"), "{reason}");
    assert!(err.render().starts_with(&format!("error: cannot reach the control plane at http://{addr} (")));
    assert!(matches!(client(addr, TOKEN).add("films", |_| {}).await, Err(AdminError::Unreachable { .. })));
}

// ---- whole commands ----

fn args(command: AdminCommand, url: String) -> AdminArgs {
    AdminArgs { control_url: Some(url), token: None, token_file: None, json: false, command }
}

fn env() -> AdminEnv {
    AdminEnv { control_url: None, token: Some(TOKEN.to_owned()) }
}

async fn run(args: AdminArgs, env: &AdminEnv) -> (ExitCode, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = execute(args, env, &mut out, &mut err, false).await;
    (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

#[tokio::test]
async fn videos_command_prints_the_table() {
    let (addr, _server) = start().await;
    let (code, out, err) = run(args(AdminCommand::Videos, format!("http://{addr}")), &env()).await;
    assert_eq!(code, ExitCode::SUCCESS);
    assert_eq!(out, VIDEOS_LINES.join("\n") + "\n");
    assert_eq!(err, "");
}

#[tokio::test]
async fn json_flag_prints_the_answer() {
    let (addr, _server) = start().await;
    let mut a = args(AdminCommand::Videos, format!("http://{addr}"));
    a.json = true;
    let (code, out, _) = run(a, &env()).await;
    assert_eq!(code, ExitCode::SUCCESS);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), serde_json::from_str::<Value>(VIDEOS_JSON).unwrap());
}

#[tokio::test]
async fn add_command_with_a_failure_exits_1() {
    let (addr, server) = start().await;
    // Nobody waits for progress here: the server goes on after its 5 s wait.
    server.progress_seen.notify_one();
    let a = args(AdminCommand::Add { path: "films".into() }, format!("http://{addr}"));
    let (code, out, err) = run(a, &env()).await;
    assert_eq!(code, ExitCode::FAILURE);
    assert!(out.starts_with("added 1 video:\nUUID"), "{out}");
    assert!(out.ends_with("1 file was already published, unchanged\n"), "{out}");
    assert_eq!(err, "error: could not add films/bad.mp4: not a video\n");
}

const NODE_CONFIG: &str = "[control]\naddress = \"cp.example.org:4433\"\n";

fn node_add(output: Option<std::path::PathBuf>, force: bool) -> AdminCommand {
    AdminCommand::Node {
        command: NodeCommand::Add {
            name: "paris-1".into(),
            public_url: Some("https://seed1.example.org".into()),
            folders: vec![],
            output,
            force,
        },
    }
}

#[tokio::test]
async fn node_add_puts_only_the_config_on_stdout_and_the_token_on_stderr() {
    let (addr, _server) = start().await;
    let (code, out, err) = run(args(node_add(None, false), format!("http://{addr}")), &env()).await;
    assert_eq!(code, ExitCode::SUCCESS);
    assert_eq!(out, NODE_CONFIG, "`> paris-1.toml` must save the configuration alone");
    assert!(err.starts_with("node paris-1 added\n  token    node-token\n"), "{err}");
    assert!(err.contains("shown only once") && err.contains("`vidseed data --config paris-1.toml`"), "{err}");

    // --json: the API's answer alone, on stdout.
    let mut a = args(node_add(None, false), format!("http://{addr}"));
    a.json = true;
    let (code, out, err) = run(a, &env()).await;
    assert_eq!(code, ExitCode::SUCCESS);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["config"], NODE_CONFIG);
    assert_eq!(err, "");
}

#[tokio::test]
async fn node_add_output_writes_a_private_file_and_never_overwrites_unasked() {
    use std::os::unix::fs::PermissionsExt;
    let (addr, server) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("paris-1.toml");
    let (code, out, err) = run(args(node_add(Some(file.clone()), false), format!("http://{addr}")), &env()).await;
    assert_eq!(code, ExitCode::SUCCESS, "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), NODE_CONFIG);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(out.starts_with("node paris-1 added\n  token    node-token\n"), "{out}");
    assert!(out.contains(&format!("Its configuration is in {}", file.display())), "{out}");
    assert!(!out.contains("[control]"), "the summary only: {out}");
    assert_eq!(err, "");

    // An existing file is refused before the node is added (its token would be lost).
    std::fs::write(&file, "mine").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = server.seen.lock().unwrap().len();
    let (code, out, err) = run(args(node_add(Some(file.clone()), false), format!("http://{addr}")), &env()).await;
    assert_eq!((code, out.as_str()), (ExitCode::FAILURE, ""));
    assert_eq!(
        err,
        format!("error: {} exists; the node was not added\nhint: give another --output file, or add --force to overwrite it\n", file.display())
    );
    assert_eq!(server.seen.lock().unwrap().len(), before, "no request was made");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");

    // --force overwrites it, and makes it private.
    let (code, _, err) = run(args(node_add(Some(file.clone()), true), format!("http://{addr}")), &env()).await;
    assert_eq!(code, ExitCode::SUCCESS, "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), NODE_CONFIG);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);

    // A file that cannot be written once the node exists: the configuration still reaches the
    // admin, on stdout, and the error says what happened.
    let unwritable = dir.path().join("no-such-folder").join("x.toml");
    let (code, out, err) = run(args(node_add(Some(unwritable.clone()), false), format!("http://{addr}")), &env()).await;
    assert_eq!(code, ExitCode::FAILURE);
    assert_eq!(out, NODE_CONFIG);
    assert!(err.starts_with(&format!("error: node paris-1 was added, but its configuration could not be written to {}", unwritable.display())), "{err}");
}

#[tokio::test]
async fn command_errors_go_to_stderr_and_exit_1() {
    let (addr, server) = start().await;
    let url = format!("http://{addr}");

    let (code, out, err) = run(args(AdminCommand::Nodes, url.clone()), &env()).await;
    assert_eq!((code, out.as_str()), (ExitCode::FAILURE, ""));
    assert_eq!(err, "error: the node registry is not open yet\nhint: wait for the control plane to finish starting\n");

    let wrong = AdminEnv { token: Some("nope".to_owned()), ..env() };
    let (code, _, err) = run(args(AdminCommand::Videos, url.clone()), &wrong).await;
    assert_eq!(code, ExitCode::FAILURE);
    assert!(err.starts_with("error: the control plane refused the admin token\nhint: pass the token"), "{err}");

    // No token anywhere: said before connecting.
    let before = server.seen.lock().unwrap().len();
    let (code, _, err) = run(args(AdminCommand::Videos, url), &AdminEnv::default()).await;
    assert_eq!(code, ExitCode::FAILURE);
    assert!(err.starts_with("error: no admin token was given\nhint: "), "{err}");
    assert_eq!(server.seen.lock().unwrap().len(), before);

    let dead = dead_port().await;
    let (code, _, err) = run(args(AdminCommand::Settings, format!("http://{dead}")), &env()).await;
    assert_eq!(code, ExitCode::FAILURE);
    assert!(err.starts_with(&format!("error: cannot reach the control plane at http://{dead} (")), "{err}");
    assert!(err.contains("\nhint: start it with `vidseed control` or `vidseed serve`, or pass --control-url"), "{err}");

    let (code, _, err) = run(args(AdminCommand::Videos, "https://cp.example.org".to_owned()), &env()).await;
    assert_eq!(code, ExitCode::FAILURE);
    assert!(
        err.starts_with("error: https control plane URLs are not supported yet (https://cp.example.org)\n"),
        "{err}"
    );
}

#[test]
fn run_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let future = crate::admin::run(args(AdminCommand::Videos, "http://127.0.0.1:1".to_owned()));
    assert_send(&future);
}
