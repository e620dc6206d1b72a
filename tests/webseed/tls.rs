//! TLS on the data plane's port, against the real binary with a self-signed certificate made
//! here: https WebSeeds over HTTP/1.1 and HTTP/2 (by ALPN), the tracker over wss://, plain text
//! and stalled handshakes harming no one, and startup errors that name the file at fault.


use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::ws::{hex_to_bin, id, recv, send, upgrade_request, Exec, Ws};
use crate::common::*;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::TlsConnector;

const SIZE: usize = 3 * 1024 * 1024 + 12345;

/// A self-signed certificate for localhost and 127.0.0.1, its key, written as PEM files.
struct Certificate {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
    der: CertificateDer<'static>,
}

fn certificate() -> Certificate {
    let dir = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    Certificate { _dir: dir, cert, key, der: made.cert.der().clone() }
}

impl Certificate {
    fn flags(&self) -> [&str; 4] {
        ["--tls-certificate", self.cert.to_str().unwrap(), "--tls-private-key", self.key.to_str().unwrap()]
    }
}

/// A client trusting only `root`, offering `alpn`.
fn connector(root: &CertificateDer<'static>, alpn: &[&[u8]]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

/// A finished TLS handshake with the node's data plane, the certificate checked for `name`.
async fn tls_connect(node: &Node, connector: &TlsConnector, name: &str) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(node.data).await.unwrap();
    let name = ServerName::try_from(name.to_owned()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp))
        .await
        .expect("the TLS handshake in time")
        .expect("the TLS handshake succeeds")
}

fn alpn(tls: &TlsStream<TcpStream>) -> Option<&[u8]> {
    tls.get_ref().1.alpn_protocol()
}

/// One GET over HTTP/1.1 on a fresh TLS connection: status, headers, body.
async fn get_h1(
    node: &Node,
    connector: &TlsConnector,
    path: &str,
    headers: &[(&str, &str)],
) -> http::Response<bytes::Bytes> {
    let tls = tls_connect(node, connector, "localhost").await;
    assert_eq!(alpn(&tls), Some(&b"http/1.1"[..]));
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::get(path).header("host", "localhost");
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let res = sender.send_request(req.body(Empty::<bytes::Bytes>::new()).unwrap()).await.unwrap();
    assert_eq!(res.version(), http::Version::HTTP_11);
    let (parts, body) = res.into_parts();
    http::Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

/// A WebSocket to the tracker over wss://.
async fn wss_connect(node: &Node, connector: &TlsConnector) -> Ws {
    let tls = tls_connect(node, connector, "127.0.0.1").await;
    let req = upgrade_request("/tracker/socket", &format!("localhost:{}", node.data.port()));
    let (ws, res) = fastwebsockets::handshake::client(&Exec, req, tls).await.unwrap();
    assert_eq!(res.status(), 101);
    fastwebsockets::FragmentCollector::new(ws)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn https_webseeds_over_h1_and_h2_and_the_tracker_over_wss() {
    let tls = certificate();
    let bytes = pseudo_random(SIZE, 11);
    let node = Node::start(&[("movie.mp4", &bytes)], &tls.flags());
    let video = &node.videos()[0];
    let path = file_path(video);
    let port = node.data.port();
    // Without --public-url, the node hands out its own address with the TLS schemes.
    let file_url = video["fileUrl"].as_str().unwrap();
    assert!(file_url.starts_with(&format!("https://127.0.0.1:{port}/static/webseed/")), "{file_url}");
    let magnet = video["magnetUri"].as_str().unwrap();
    assert!(magnet.contains(&format!("tr=wss%3A%2F%2F127.0.0.1%3A{port}%2Ftracker%2Fsocket")), "{magnet}");
    assert!(magnet.contains(&format!("tr=https%3A%2F%2F127.0.0.1%3A{port}%2Ftracker%2Fannounce")), "{magnet}");

    runtime().block_on(async {
        // (a) HTTP/1.1: a Range GET gets 206, the exact bytes and the CORS headers.
        let h1 = connector(&tls.der, &[b"http/1.1"]);
        let res = get_h1(&node, &h1, &path, &[("range", "bytes=1000-200999"), ("origin", "https://viewer.example")]).await;
        assert_eq!(res.status(), 206);
        assert_eq!(res.headers()["content-range"], format!("bytes 1000-200999/{SIZE}"));
        assert_eq!(res.headers()["content-length"], "200000");
        assert!(res.body()[..] == bytes[1000..=200999], "the range's bytes");
        assert_eq!(res.headers()["access-control-allow-origin"], "*");
        let expose = res.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
        assert!(expose.contains("content-range") && expose.contains("content-length"), "{expose}");
        // The whole file: chunks that the default send path would sendfile arrive encrypted.
        let res = get_h1(&node, &h1, &path, &[]).await;
        assert_eq!(res.status(), 200);
        assert!(res.body()[..] == bytes[..], "the whole file");

        // (b) HTTP/2, chosen by ALPN: several ranges on one connection.
        let h2 = connector(&tls.der, &[b"h2", b"http/1.1"]);
        let stream = tls_connect(&node, &h2, "localhost").await;
        assert_eq!(alpn(&stream), Some(&b"h2"[..]));
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        for (a, b) in [(0usize, 99usize), (1 << 20, (1 << 20) + 262143), (SIZE - 7, SIZE - 1)] {
            let req = http::Request::get(format!("https://localhost:{port}{path}"))
                .header("range", format!("bytes={a}-{b}"))
                .body(Empty::<bytes::Bytes>::new())
                .unwrap();
            let res = sender.send_request(req).await.unwrap();
            assert_eq!(res.version(), http::Version::HTTP_2);
            assert_eq!(res.status(), 206);
            assert_eq!(res.headers()["access-control-allow-origin"], "*");
            let body = res.into_body().collect().await.unwrap().to_bytes();
            assert!(body[..] == bytes[a..=b], "{a}-{b} over h2");
        }

        // (c) The tracker over wss://: an announce for the published video is answered.
        let ih = hex_to_bin(video["infoHash"].as_str().unwrap());
        let mut ws = wss_connect(&node, &h1).await;
        send(&mut ws, json!({"action":"announce","info_hash":ih,"peer_id":id(1),"numwant":5,"uploaded":0,"downloaded":0,"left":SIZE,"event":"started","offers":[]})).await;
        let r = recv(&mut ws).await;
        assert_eq!(r["action"], "announce", "{r}");
        assert_eq!(r["info_hash"], ih.as_str());
        assert!(r.get("failure reason").is_none(), "{r}");
        assert_eq!((r["complete"].as_u64(), r["incomplete"].as_u64()), (Some(0), Some(1)));
        // A second peer over another TLS connection sees the first.
        let mut other = wss_connect(&node, &h1).await;
        send(&mut other, json!({"action":"announce","info_hash":ih,"peer_id":id(2),"left":0,"event":"started","offers":[]})).await;
        let r = recv(&mut other).await;
        assert_eq!((r["action"].as_str(), r["complete"].as_u64(), r["incomplete"].as_u64()), (Some("announce"), Some(1), Some(1)));
    });
}

/// Reads until the server closes; `Err` if it keeps the connection open past `within`.
fn read_until_closed(s: &mut std::net::TcpStream, within: Duration) -> Result<Vec<u8>, String> {
    s.set_read_timeout(Some(within)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            // Closed with our request unread: a reset is a close too.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(got),
            Err(e) => return Err(format!("{e} after {} bytes", got.len())),
        }
    }
}

#[test]
fn plain_text_and_stalled_handshakes_harm_no_one() {
    let tls = certificate();
    let bytes = pseudo_random(300_000, 12);
    let node = Node::start(&[("v.mp4", &bytes)], &tls.flags());
    let path = file_path(&node.videos()[0]);
    let rt = runtime();
    let h1 = connector(&tls.der, &[b"http/1.1"]);

    // (d) Clients that connect and never finish a handshake, more than there are workers:
    // silent ones, and one that starts a ClientHello record and stops.
    let mut stalled: Vec<std::net::TcpStream> =
        (0..8).map(|_| std::net::TcpStream::connect(node.data).unwrap()).collect();
    let mut partial = std::net::TcpStream::connect(node.data).unwrap();
    partial.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
    stalled.push(partial);
    // Others are served meanwhile, over both protocols.
    let start = Instant::now();
    rt.block_on(async {
        for _ in 0..4 {
            let res = get_h1(&node, &h1, &path, &[("range", "bytes=0-65535")]).await;
            assert_eq!(res.status(), 206);
            assert!(res.body()[..] == bytes[..65536]);
        }
        let mut ws = wss_connect(&node, &h1).await;
        send(&mut ws, json!({"action":"scrape","info_hash":id(3)})).await;
        assert_eq!(recv(&mut ws).await["action"], "scrape");
    });
    assert!(start.elapsed() < Duration::from_secs(5), "served without waiting for the stalled handshakes");
    // The stalled connections are still open (their timeout is the header timeout, 30 s):
    // the others were served beside them, not after them.
    for s in &mut stalled {
        s.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        assert!(matches!(s.read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock), "still open");
    }

    // A plain-text request to the TLS port gets no HTTP answer and the connection closes
    // (at most a TLS alert comes back).
    for request in [request_bytes("GET", &path, &[]), b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec()] {
        let mut s = connect(node.data);
        s.write_all(&request).unwrap();
        let got =
            read_until_closed(&mut s, Duration::from_secs(10)).expect("the server closes a plain-text connection");
        assert!(!got.starts_with(b"HTTP/"), "no plain-text answer: {:?}", String::from_utf8_lossy(&got));
        assert!(got.is_empty() || got[0] == 0x15, "nothing but a TLS alert: {got:?}");
    }
    // And the node serves on.
    rt.block_on(async {
        let res = get_h1(&node, &h1, &path, &[("range", "bytes=100-199")]).await;
        assert_eq!(res.status(), 206);
        assert!(res.body()[..] == bytes[100..200]);
    });
    drop(stalled);
}

#[test]
fn tls_from_the_configuration_file() {
    let tls = certificate();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vidseed.toml");
    let text = format!(
        "[tls]\ncertificate = {:?}\nprivate_key = {:?}\n",
        tls.cert.to_str().unwrap(),
        tls.key.to_str().unwrap()
    );
    std::fs::write(&config, text).unwrap();
    let bytes = pseudo_random(5000, 13);
    let node = Node::start(&[("v.mp4", &bytes)], &["--config", config.to_str().unwrap()]);
    let path = file_path(&node.videos()[0]);
    assert!(node.videos()[0]["fileUrl"].as_str().unwrap().starts_with("https://"));
    runtime().block_on(async {
        let res = get_h1(&node, &connector(&tls.der, &[b"http/1.1"]), &path, &[("range", "bytes=10-19")]).await;
        assert_eq!(res.status(), 206);
        assert!(res.body()[..] == bytes[10..20]);
    });
}

#[test]
fn turning_tls_on_for_an_existing_state_switches_the_urls() {
    let tls = certificate();
    let dir = tempfile::tempdir().unwrap();
    let (media, state) = (dir.path().join("media"), dir.path().join("state"));
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(media.join("v.mp4"), pseudo_random(5000, 14)).unwrap();
    let plain = Node::start_in(&media, &state, &[]);
    assert!(plain.wait_for_videos(1)[0]["fileUrl"].as_str().unwrap().starts_with("http://"));
    plain.interrupt();
    let node = Node::start_in(&media, &state, &tls.flags());
    // The library is back at once; the embedded node's URL follows as it starts.
    let want = format!("https://127.0.0.1:{}/static/webseed/", node.data.port());
    let video = eventually(Duration::from_secs(20), "the WebSeed URL to switch to https", || {
        let video = node.wait_for_videos(1).remove(0);
        video["fileUrl"].as_str().unwrap().starts_with(&want).then_some(video)
    });
    assert!(video["webseeds"].as_array().unwrap().iter().all(|w| w.as_str().unwrap().starts_with(&want)), "{video}");
    assert!(video["magnetUri"].as_str().unwrap().contains("tr=wss%3A%2F%2F"), "{video}");
}

/// Runs `vidseed serve` on an empty media folder with `args`, expecting it to exit on its own:
/// the exit code and what it wrote to stderr.
fn serve_exit(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vidseed"));
    cmd.arg("serve")
        .arg(&media)
        .args(["--control-listen", "127.0.0.1:0", "--data-listen", "127.0.0.1:0", "--data-workers", "1"])
        .arg("--state")
        .arg(dir.path().join("state"))
        .args(args);
    exit_of(cmd)
}

/// Runs `vidseed data` with a [node] configuration (its control plane need not exist) and
/// `args`, expecting it to exit on its own.
fn data_exit(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("node.toml");
    let node = format!(
        "[node]\nname = \"edge\"\ntoken = \"t\"\ncontrol = \"127.0.0.1:9\"\npin = \"sha256:{}\"\n[[node.folders]]\nlibrary = \"\"\npath = {:?}\n",
        "0".repeat(64),
        dir.path().to_str().unwrap()
    );
    std::fs::write(&config, node).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vidseed"));
    cmd.arg("data").arg("--config").arg(&config).args(["--listen", "127.0.0.1:0", "--data-workers", "1"]).args(args);
    exit_of(cmd)
}

fn exit_of(mut cmd: Command) -> (Option<i32>, String) {
    let mut child = cmd.env("RUST_LOG", "warn").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let lines = lines_of(child.stderr.take().unwrap());
    let status = eventually(Duration::from_secs(20), "vidseed to refuse to start", || child.try_wait().unwrap());
    let mut stderr = String::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
        stderr.push_str(&line);
        stderr.push('\n');
    }
    (status.code(), stderr)
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn startup_errors_name_the_file() {
    let tls = certificate();
    let missing = tls.key.with_file_name("no-such-key.pem");
    let (code, err) = serve_exit(&["--tls-certificate", path_str(&tls.cert), "--tls-private-key", path_str(&missing)]);
    assert!(code.is_some_and(|c| c != 0), "{code:?} {err}");
    assert!(err.contains(path_str(&missing)) && err.contains("private key"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let missing_cert = tls.cert.with_file_name("no-such-cert.pem");
    let (code, err) =
        serve_exit(&["--tls-certificate", path_str(&missing_cert), "--tls-private-key", path_str(&tls.key)]);
    assert!(code.is_some_and(|c| c != 0), "{code:?} {err}");
    assert!(err.contains(path_str(&missing_cert)) && err.contains("certificate"), "{err}");

    // A key that is not the certificate's.
    let other = certificate();
    let (code, err) =
        serve_exit(&["--tls-certificate", path_str(&tls.cert), "--tls-private-key", path_str(&other.key)]);
    assert!(code.is_some_and(|c| c != 0), "{code:?} {err}");
    assert!(
        err.contains("does not match") && err.contains(path_str(&other.key)) && err.contains(path_str(&tls.cert)),
        "{err}"
    );

    // One flag without the other.
    let (code, err) = serve_exit(&["--tls-certificate", path_str(&tls.cert)]);
    assert!(code.is_some_and(|c| c != 0), "{code:?} {err}");
    assert!(err.contains("--tls-private-key"), "{err}");

    // A [tls] section with one key.
    let config = tls.cert.with_file_name("half.toml");
    std::fs::write(&config, format!("[tls]\ncertificate = {:?}\n", path_str(&tls.cert))).unwrap();
    let (code, err) = serve_exit(&["--config", path_str(&config)]);
    assert!(code.is_some_and(|c| c != 0), "{code:?} {err}");
    assert!(err.contains("private_key") && err.contains(path_str(&config)), "{err}");

    // `vidseed data` takes the same flags.
    let (code, err) = data_exit(&["--tls-certificate", path_str(&tls.cert), "--tls-private-key", path_str(&missing)]);
    assert!(code.is_some_and(|c| c != 0), "{code:?} {err}");
    assert!(err.contains(path_str(&missing)) && err.contains("private key"), "{err}");
}

#[test]
fn with_tls_io_uring_stays_off_and_epoll_serves() {
    let tls = certificate();
    let bytes = pseudo_random(300_000, 12);
    let [c, cert, k, key] = tls.flags();
    let node = Node::start(&[("movie.mp4", &bytes)], &[c, cert, k, key, "--io", "uring"]);
    let path = file_path(&node.videos()[0]);
    runtime().block_on(async {
        let h1 = connector(&tls.der, &[b"http/1.1"]);
        let metrics = get_h1(&node, &h1, "/metrics", &[]).await;
        let text = String::from_utf8_lossy(metrics.body()).into_owned();
        assert!(text.contains("vidseed_data_io_backend{backend=\"epoll\"} 1"), "{text}");
        assert!(text.contains("vidseed_data_io_backend{backend=\"uring\"} 0"), "{text}");
        let res = get_h1(&node, &h1, &path, &[("range", "bytes=10-99")]).await;
        assert_eq!(res.status(), 206);
        assert!(res.body()[..] == bytes[10..=99]);
    });
}
