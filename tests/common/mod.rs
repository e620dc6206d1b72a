//! Test harness: runs the real `vidseed` binary on a temporary media folder over loopback, and a
//! small blocking HTTP/1.1 client that shows exactly what the server sent.
#![allow(dead_code)]

pub mod ws;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The lines a child writes to a pipe, as they come.
pub fn lines_of(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits until `f` returns `Some`, polling, or panics with `what` after `deadline`.
pub fn eventually<T>(deadline: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Deterministic pseudo-random bytes (xorshift), so failures are reproducible.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A running `vidseed serve` process.
pub struct Node {
    pub child: Child,
    pub data: SocketAddr,
    pub control: SocketAddr,
    pub media: PathBuf,
    pub state: PathBuf,
    _dir: Option<tempfile::TempDir>,
    pub stdout: mpsc::Receiver<String>,
}

impl Node {
    /// Starts a node over `files` (relative path → bytes) and waits until all are published.
    pub fn start(files: &[(&str, &[u8])], extra_args: &[&str]) -> Node {
        Node::start_wrapped(files, extra_args, &[])
    }

    /// Like [`Node::start`], run by a wrapper command (e.g. `prlimit --nofile=N:N --`).
    pub fn start_wrapped(files: &[(&str, &[u8])], extra_args: &[&str], wrapper: &[&str]) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let media = dir.path().join("media");
        let state = dir.path().join("state");
        std::fs::create_dir_all(&media).unwrap();
        for (rel, bytes) in files {
            let p = media.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
        let node = Node::spawn(&media, &state, extra_args, Some(dir), wrapper);
        node.wait_for_videos(files.len());
        node
    }

    /// Starts a node on folders the caller keeps (to restart on the same state); waits for its
    /// addresses only.
    pub fn start_in(media: &Path, state: &Path, extra_args: &[&str]) -> Node {
        Node::spawn(media, state, extra_args, None, &[])
    }

    fn spawn(media: &Path, state: &Path, extra_args: &[&str], dir: Option<tempfile::TempDir>, wrapper: &[&str]) -> Node {
        let mut command = match wrapper {
            [] => Command::new(env!("CARGO_BIN_EXE_vidseed")),
            [program, args @ ..] => {
                let mut c = Command::new(program);
                c.args(args).arg(env!("CARGO_BIN_EXE_vidseed"));
                c
            }
        };
        let mut child = command
            .arg("serve")
            .arg(media)
            .args(["--control-listen", "127.0.0.1:0", "--data-listen", "127.0.0.1:0", "--data-workers", "2"])
            .arg("--state")
            .arg(state)
            .args(extra_args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("vidseed starts");
        let rx = lines_of(child.stdout.take().unwrap());
        let first = rx.recv_timeout(Duration::from_secs(20)).expect("vidseed prints its addresses");
        let tls = first.contains("data plane on https://");
        let data = addr_after(&first, if tls { "data plane on https://" } else { "data plane on http://" });
        let control = addr_after(&first, "control plane on http://");
        Node { child, data, control, media: media.to_path_buf(), state: state.to_path_buf(), _dir: dir, stdout: rx }
    }

    /// Waits until the API lists `n` videos and returns the list.
    pub fn wait_for_videos(&self, n: usize) -> Vec<serde_json::Value> {
        eventually(Duration::from_secs(60), "videos to be published", || {
            let res = get(self.control, "/api/v1/videos", &[]).ok()?;
            let list: Vec<serde_json::Value> = serde_json::from_slice(&res.body).ok()?;
            (list.len() == n).then_some(list)
        })
    }

    pub fn videos(&self) -> Vec<serde_json::Value> {
        let res = get(self.control, "/api/v1/videos", &[]).unwrap();
        serde_json::from_slice(&res.body).unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGINT (Ctrl-C) and waits for the exit status.
    pub fn interrupt(mut self) -> std::process::ExitStatus {
        // SAFETY-free: kill(1) via the libc call on our own child.
        send_signal(self.child.id(), libc::SIGINT);
        eventually(Duration::from_secs(15), "vidseed to exit", || self.child.try_wait().unwrap())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[allow(unsafe_code)]
fn send_signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

fn addr_after(line: &str, marker: &str) -> SocketAddr {
    let start = line.find(marker).unwrap_or_else(|| panic!("no {marker:?} in {line:?}")) + marker.len();
    let rest = &line[start..];
    let end = rest.find([' ', ',']).unwrap_or(rest.len());
    rest[..end].parse().unwrap()
}

/// One parsed HTTP/1.1 response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The value of a header (case-insensitive name), if present once or more (first wins).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Connects with sane timeouts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Builds a request's bytes.
pub fn request_bytes(method: &str, target: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut r = format!("{method} {target} HTTP/1.1\r\nHost: test\r\n");
    for (n, v) in headers {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// Reads one response from a keep-alive connection; `head` says whether it answers a HEAD.
pub fn read_response(reader: &mut BufReader<TcpStream>, head: bool) -> std::io::Result<Response> {
    let mut status_line = String::new();
    if reader.read_line(&mut status_line)? == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (n, v) = line.split_once(':').ok_or_else(|| std::io::Error::other("bad header"))?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let mut res = Response { status, headers, body: Vec::new() };
    let no_body = head || status == 204 || status == 304 || (100..200).contains(&status);
    if !no_body {
        let len: usize = res
            .header("content-length")
            .ok_or_else(|| std::io::Error::other("no content-length"))?
            .parse()
            .map_err(std::io::Error::other)?;
        res.body = vec![0; len];
        reader.read_exact(&mut res.body)?;
    }
    Ok(res)
}

/// One request on a fresh connection.
pub fn send(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> std::io::Result<Response> {
    let mut s = connect(addr);
    s.write_all(&request_bytes(method, target, headers))?;
    let mut reader = BufReader::new(s);
    read_response(&mut reader, method == "HEAD")
}

pub fn get(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> std::io::Result<Response> {
    send(addr, "GET", target, headers)
}

/// Reads a process's resident anonymous memory (heap and stacks, not mapped files), in KiB.
pub fn rss_anon_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The URL path of a video's file from the API's `fileUrl`.
pub fn file_path(video: &serde_json::Value) -> String {
    let url = video["fileUrl"].as_str().unwrap();
    let after_scheme = url.split_once("://").unwrap().1;
    after_scheme[after_scheme.find('/').unwrap()..].to_string()
}

pub fn media_path(node: &Node, rel: &str) -> PathBuf {
    node.media.join(Path::new(rel))
}

/// One admin request over HTTP/1.0 (the answer ends with the connection): status and body.
pub fn admin(control: SocketAddr, token: &str, method: &str, target: &str, body: Option<&serde_json::Value>) -> (u16, String) {
    let mut s = TcpStream::connect(control).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {target} HTTP/1.0\r\nHost: test\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, body.to_owned())
}

pub fn admin_json(control: SocketAddr, token: &str, method: &str, target: &str, body: Option<&serde_json::Value>) -> serde_json::Value {
    let (status, text) = admin(control, token, method, target, body);
    assert!((200..300).contains(&status), "{method} {target}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {target}: {e}: {text}"))
}

/// The admin token a node printed at its first start.
pub fn admin_token(node: &Node) -> String {
    loop {
        let line = node.stdout.recv_timeout(Duration::from_secs(20)).expect("the node prints its admin token");
        if line.contains("admin token") {
            return line.rsplit(' ').next().unwrap().to_owned();
        }
    }
}
