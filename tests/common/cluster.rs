//! A control plane and its data nodes as real processes, for the tests that need the split:
//! `vidseed control` with its admin token, nodes created through the admin API and started as
//! `vidseed data` with the configuration the API hands out. Used with `#[path]` beside
//! `mod common;`.

#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use crate::common::{admin, admin_json, get, lines_of};
use serde_json::{json, Value};

pub const WAIT: Duration = Duration::from_secs(40);

/// A child process whose stdout lines arrive on a channel and whose stderr is kept.
pub struct Proc {
    pub child: Child,
    pub stdout: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Proc {
    pub fn start(args: &[&str]) -> Proc {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vidseed"));
        command.args(args).env("RUST_LOG", "info");
        Proc::spawn(command)
    }

    /// Runs `command` (its stdout and stderr are taken here).
    pub fn spawn(mut command: Command) -> Proc {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("vidseed starts");
        let rx = lines_of(child.stdout.take().unwrap());
        let stderr = Arc::new(Mutex::new(String::new()));
        let err_lines = lines_of(child.stderr.take().unwrap());
        let keep = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in err_lines {
                keep.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        Proc { child, stdout: rx, stderr }
    }

    pub fn line_with(&self, marker: &str) -> String {
        loop {
            let line = self.stdout.recv_timeout(WAIT).unwrap_or_else(|_| panic!("no line with {marker:?}; stderr:\n{}", self.log()));
            if line.contains(marker) {
                return line;
            }
        }
    }

    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Adds a library path through the admin API and returns the final line of the stream.
pub fn add(control: SocketAddr, token: &str, path: &str) -> Value {
    let (status, text) = admin(control, token, "POST", "/api/v1/admin/videos", Some(&json!({ "path": path })));
    assert_eq!(status, 200, "{text}");
    let last = text.lines().rfind(|l| !l.trim().is_empty()).unwrap().to_owned();
    let v: Value = serde_json::from_str(&last).unwrap();
    assert!(v["result"]["failed"].as_array().is_some_and(|a| a.is_empty()), "{v}");
    v
}

pub struct Control {
    pub proc: Proc,
    pub http: SocketAddr,
    pub token: String,
}

pub fn start_control(library: &Path, state: &Path, database: Option<(&str, &str)>, listen: u16, channel: u16, token: Option<&str>) -> Control {
    start_control_with(library, state, database, listen, channel, token, &[])
}

/// [`start_control`] with more arguments.
pub fn start_control_with(library: &Path, state: &Path, database: Option<(&str, &str)>, listen: u16, channel: u16, token: Option<&str>, extra: &[&str]) -> Control {
    let listen_s = format!("127.0.0.1:{listen}");
    let channel_s = format!("127.0.0.1:{channel}");
    let mut args = vec!["control", "--library", library.to_str().unwrap(), "--state", state.to_str().unwrap(), "--listen", &listen_s, "--channel-listen", &channel_s];
    if let Some((url, schema)) = database {
        args.extend(["--database", url, "--database-schema", schema]);
    }
    args.extend_from_slice(extra);
    let proc = Proc::start(&args);
    let line = proc.line_with("control plane on http://");
    let http: SocketAddr = line.split("http://").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
    let token = match token {
        Some(t) => t.to_owned(),
        None => proc.line_with("admin token").rsplit(' ').next().unwrap().to_owned(),
    };
    Control { proc, http, token }
}

/// Creates a node through the admin API and writes its configuration, pointed at `folder`.
/// The node's URL is given to the admin API, or (`url_in_config`) only in the node's own
/// configuration, which it then reports when it connects.
pub fn add_node_with(c: &Control, dir: &Path, name: &str, port: u16, folder: &Path, url_in_config: bool) -> PathBuf {
    let url = format!("http://127.0.0.1:{port}");
    let body = if url_in_config { json!({ "name": name }) } else { json!({ "name": name, "publicUrl": url }) };
    let v = admin_json(c.http, &c.token, "POST", "/api/v1/admin/nodes", Some(&body));
    let mut config: toml::Value = toml::from_str(v["config"].as_str().unwrap()).unwrap();
    if url_in_config {
        config["node"].as_table_mut().unwrap().insert("public_url".into(), toml::Value::String(url));
    }
    config["node"]["folders"][0]["path"] = toml::Value::String(folder.to_str().unwrap().to_owned());
    config["node"].as_table_mut().unwrap().insert("listen".into(), toml::Value::String(format!("127.0.0.1:{port}")));
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    path
}

pub fn add_node(c: &Control, dir: &Path, name: &str, port: u16, folder: &Path) -> PathBuf {
    add_node_with(c, dir, name, port, folder, false)
}

pub fn status_of(addr: SocketAddr, rel: &str) -> u16 {
    get(addr, &format!("/static/webseed/{rel}"), &[]).map(|r| r.status).unwrap_or(0)
}

pub fn node_state(c: &Control, name: &str) -> Value {
    let v = admin_json(c.http, &c.token, "GET", "/api/v1/admin/nodes", None);
    v["nodes"].as_array().unwrap().iter().find(|n| n["name"] == name).cloned().unwrap()
}
