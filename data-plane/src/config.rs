//! The data plane's configuration: listen address, workers, timeouts, TLS. Pure data.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How a data plane listens and serves.
#[derive(Clone, Debug)]
pub struct DataPlaneConfig {
    /// Address for WebSeed (HTTP/1.1 and h2c) traffic.
    pub listen: SocketAddr,
    /// Worker threads, each with its own event loop and its own `SO_REUSEPORT` listener
    /// (default: the number of CPUs).
    pub workers: usize,
    /// How often the files on disk are checked against the catalog (default 5 s); a changed
    /// or truncated file stops being served.
    pub revalidate_interval: Duration,
    /// Connection limits and timeouts (`[http]`).
    pub http: HttpLimits,
    /// On shutdown, how long requests in flight may take to finish (default 5 s).
    pub shutdown_grace: Duration,
    /// Longest request target served, in bytes; longer gets 414 (default 4096).
    pub max_target_len: usize,
    /// How body bytes reach the socket (default: `sendfile` for chunks of 64 KiB and more);
    /// plain connections only: TLS ones always write what rustls encrypted.
    pub send_path: SendPath,
    /// The WebTorrent tracker on the same port.
    pub tracker: crate::tracker::socket::TrackerConfig,
    /// Serve TLS (https and wss) with this configuration instead of plain HTTP (default: none);
    /// made from a [`TlsFiles`] by [`crate::tls::server_config`]. File bytes are then written
    /// from user space (encrypted), never with `sendfile`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// `/metrics` (and the health paths) on the public port or a listener of their own.
    pub metrics: crate::ops::MetricsConfig,
}

/// `[http]`: how long a connection may take at each step, and how many one address or the
/// whole node may hold (see docs/DESIGN.md, "Limits and failure behaviour").
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpLimits {
    /// A new connection's first request, and every request head from its first byte, must
    /// arrive within this (default 30 s; also bounds a TLS handshake).
    #[serde(with = "seconds", rename = "header_timeout_secs")]
    pub header_timeout: Duration,
    /// A kept-alive connection may stay quiet this long between requests (default 75 s, as
    /// nginx); it is closed only between requests.
    #[serde(with = "seconds", rename = "keepalive_timeout_secs")]
    pub keepalive_timeout: Duration,
    /// A response whose reader stopped reading is dropped after this long without progress
    /// (default 60 s).
    #[serde(with = "seconds", rename = "send_timeout_secs")]
    pub send_timeout: Duration,
    /// A request in hand may go this long with no I/O on its connection (default 60 s).
    #[serde(with = "seconds", rename = "request_timeout_secs")]
    pub request_timeout: Duration,
    /// Connections one client address may hold at once, WebSockets included (default 1024;
    /// 0: no cap). More are answered 503 and closed.
    pub max_connections_per_ip: u32,
    /// Connections the node holds at once (default 0: the open-files limit less a reserve
    /// of an eighth, 64 to 4096, for everything else). More are answered 503 and closed.
    pub max_connections: usize,
    /// How plain connections' bytes move: `uring` (the default: io_uring workers for WebSeed
    /// requests, the rest handed to the epoll path) or `epoll`. `uring` falls back to `epoll`,
    /// with one log line, where the kernel or a seccomp profile refuses io_uring, and with TLS.
    pub io: IoBackend,
    /// With `io = "uring"`: bodies of at least this many bytes leave by zero-copy `sendmsg`
    /// (`SEND_ZC`) from the mapping; 0 (the default): never, every body is copied by the kernel.
    pub zero_copy_min: usize,
    /// With `io = "uring"`: bodies of at least this many bytes whose pages are all in memory leave
    /// by `sendfile(2)` from the worker's thread (the page cache's pages go to the socket
    /// uncopied), waiting for room through the ring; bodies that would read the disk by the
    /// ring's copying `sendmsg`, smaller ones as `small_bodies` says. 0: never.
    pub sendfile_min: usize,
    /// With `io = "uring"`: bodies of this many bytes or more go back to the ring's `sendmsg`,
    /// which waits for room inside the kernel (measured ahead of `sendfile` at 1 MiB, behind it
    /// at 256 KiB); 0: no upper bound.
    pub sendfile_max: usize,
    /// With `io = "uring"`: how bodies shorter than `sendfile_min`, pages in memory, leave:
    /// `copy` (the ring's `sendmsg`), `sendfile`, or `auto` (the default: each worker measures
    /// its own CPU time per response both ways and keeps the cheaper, measuring again every
    /// 20 s of such traffic). With `sendfile_min = 0` every body is copied.
    pub small_bodies: crate::uring::small_send::SmallBodies,
}

/// The data plane's I/O backend for plain HTTP connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IoBackend {
    /// Readiness (epoll) event loops, hyper, `sendfile`/`writev`.
    Epoll,
    /// io_uring rings, one per worker: completion-based accept, receive and send (the default;
    /// measured ahead of epoll in docs/PERFORMANCE.md).
    #[default]
    Uring,
}

impl std::str::FromStr for IoBackend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "epoll" => Ok(IoBackend::Epoll),
            "uring" | "io_uring" => Ok(IoBackend::Uring),
            other => Err(format!("unknown I/O backend {other:?}: use epoll or uring")),
        }
    }
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(75),
            send_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(60),
            max_connections_per_ip: 1024,
            max_connections: 0,
            io: IoBackend::Uring,
            zero_copy_min: 0,
            sendfile_min: crate::sendfile::DEFAULT_RING_SENDFILE_MIN,
            sendfile_max: crate::sendfile::DEFAULT_RING_SENDFILE_MAX,
            small_bodies: crate::uring::small_send::SmallBodies::Auto,
        }
    }
}

impl HttpLimits {
    /// The timeouts as the connection guard takes them.
    pub fn timeouts(&self) -> vidseed_conn_guard::Timeouts {
        vidseed_conn_guard::Timeouts {
            header: self.header_timeout,
            keepalive: self.keepalive_timeout,
            send: self.send_timeout,
            request: self.request_timeout,
        }
    }
}

/// `[tls]`: the certificate chain and private key (PEM files) the data plane serves TLS with.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The certificate chain, the node's certificate first (PEM).
    pub certificate: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub private_key: PathBuf,
}

/// How file bytes are handed to the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendPath {
    /// `writev` from the mapping: the kernel copies the bytes into the socket.
    Write,
    /// `sendfile` from the file for chunks of at least `min_chunk` bytes: no copy on the
    /// sending side; shorter chunks and headers are written.
    Sendfile { min_chunk: usize },
}

impl std::str::FromStr for SendPath {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "write" => Ok(SendPath::Write),
            "sendfile" => Ok(SendPath::Sendfile { min_chunk: crate::sendfile::DEFAULT_MIN_SENDFILE }),
            other => Err(format!("unknown send path {other:?}: use sendfile or write")),
        }
    }
}

impl Default for DataPlaneConfig {
    fn default() -> Self {
        DataPlaneConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9001)),
            workers: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            revalidate_interval: Duration::from_secs(5),
            http: HttpLimits::default(),
            shutdown_grace: Duration::from_secs(5),
            max_target_len: 4096,
            send_path: SendPath::Sendfile { min_chunk: crate::sendfile::DEFAULT_MIN_SENDFILE },
            tracker: crate::tracker::socket::TrackerConfig::default(),
            tls: None,
            metrics: crate::ops::MetricsConfig::default(),
        }
    }
}

/// `Duration` fields written as whole seconds in configuration files.
pub mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

/// A node's configuration file (TOML): `[tracker]`, `[tls]`, and `[node]` for a data node that
/// a separate control plane drives; absent keys keep their defaults, unknown keys are refused.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// `io = "epoll" | "uring"` at the top of the file: the same as `[http] io`, which it
    /// overrides.
    pub io: Option<IoBackend>,
    pub http: HttpLimits,
    pub tracker: crate::tracker::socket::TrackerConfig,
    /// Both keys or no section: one without the other is refused.
    pub tls: Option<TlsFiles>,
    pub metrics: crate::ops::MetricsConfig,
    pub node: Option<NodeSection>,
}

/// `[node]`: who this data node is and where its control plane is (what
/// `vidseed admin node add` prints).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    pub name: String,
    pub token: String,
    /// The control plane's catalog channel, `host:port` (UDP).
    pub control: String,
    /// The channel certificate's fingerprint, `sha256:<hex>`.
    pub pin: String,
    /// Where viewers reach this node (informational here: the control plane has it).
    #[serde(default)]
    pub public_url: Option<String>,
    /// HTTP address to listen on (default 0.0.0.0:9001; `--listen` overrides it).
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// Serve files that symbolic links in a folder lead to outside that folder (default false:
    /// such files are refused, with a warning naming them; `--follow-symlinks` also allows it).
    #[serde(default)]
    pub follow_symlinks: bool,
    /// The library folders this node holds and where.
    /// Where this node keeps copies of other instances' videos (redundancy): with it, the node
    /// takes the control plane's fetch orders and serves the copies under /static/redundancy/.
    #[serde(default)]
    pub cache: Option<PathBuf>,
    /// Let copies be downloaded from private, loopback or link-local addresses (closed networks).
    #[serde(default)]
    pub allow_private_sources: bool,
    pub folders: Vec<crate::channel::FolderMapping>,
}

impl FileConfig {
    /// Parses a configuration file's text; the error names the offending key or line.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

/// The default configuration, commented; `vidseed print-config` prints it.
pub const DEFAULT_CONFIG_TOML: &str = r#"# vidseed configuration. Every key is optional; shown are the defaults.

# The data plane's I/O backend may also be set here, before any section, as `io = "uring"`:
# the same as [http] io below (`--io` overrides both).

[http]
# A new connection's first request, and each request head from its first byte, must arrive
# within this (also bounds a TLS handshake).
header_timeout_secs = 30
# A kept-alive connection may stay quiet this long between requests (closed only between them).
keepalive_timeout_secs = 75
# A response whose reader stopped reading is dropped after this long without progress.
send_timeout_secs = 60
# A request in hand may go this long with no I/O on its connection.
request_timeout_secs = 60
# Connections one client address may hold at once, WebSockets included (0: no cap); more are
# answered 503 and closed.
max_connections_per_ip = 1024
# Connections the node holds at once; 0: the open-files limit (raised to its hard limit at
# start) less a reserve of an eighth (64 to 4096) for the database, files and the control plane.
max_connections = 0
# How plain connections' bytes move: "uring" (io_uring rings for WebSeed requests; tracker,
# metrics and HTTP/2 handed to epoll) or "epoll" (readiness event loops, sendfile). "uring"
# falls back to "epoll" with one log line where the kernel or a seccomp profile (Docker's
# default) refuses io_uring, and with TLS. `--io` overrides it.
io = "uring"
# With io = "uring": bodies of at least this many bytes are sent zero-copy (SEND_ZC) from the
# file's mapping; 0: never (the kernel copies them, cheaper over loopback).
zero_copy_min = 0
# With io = "uring": bodies of at least this many bytes, their pages in memory, leave by
# sendfile (no copy of the page cache's pages); smaller ones as small_bodies says. 0: never.
sendfile_min = 131072
# ... and bodies of this many bytes or more by the ring's sendmsg again (it waits for the
# socket inside the kernel; measured ahead at 1 MiB). 0: no upper bound.
sendfile_max = 524288
# With io = "uring": how bodies shorter than sendfile_min, pages in memory, leave: "copy" (the
# ring's sendmsg), "sendfile", or "auto": each worker measures its own CPU time per response
# both ways and keeps the cheaper (which one depends on the host), measuring again every 20 s
# of such traffic. With sendfile_min = 0 every body is copied.
small_bodies = "auto"

[tracker]
# Track any info-hash, not only those of published videos.
open = false
# Swarm shards (swarms are sharded by info-hash; no lock between shards). 0: one per data-plane
# worker, each on its worker's event loop.
shards = 0
# Largest WebSocket message accepted, bytes, all fragments together (Safari's SDPs need over
# 16 KiB); a larger one closes the connection with 1009.
max_message_size = 65536
# Messages (pings included) one connection may send per second, with bursts of one second's
# worth; beyond it a message gets an error reply and a ping no pong (0: no limit).
max_messages_per_sec = 2000
# Replies queued for one connection; further ones are dropped (a slow client sheds load).
send_queue = 64
# Requests queued for one shard before clients are told to retry.
shard_queue = 16384
# Simultaneous WebSocket connections from one IP address.
max_connections_per_ip = 64
# Announces from one IP for one info-hash per window (0: no limit).
max_announces_per_ip = 15
announce_window_secs = 300
# A connection that sends nothing for this long is closed.
idle_timeout_secs = 300
# A WebSocket handshake must complete within this time.
handshake_timeout_secs = 10
# Believe X-Forwarded-For from a reverse proxy on loopback, and from these addresses (client
# addresses matter for the per-IP limits and for HTTP peer lists).
trust_loopback_proxy = true
trusted_proxies = []

[tracker.swarm]
# Announce interval told to clients, seconds.
interval = 120
# A peer that has not announced for this long is removed.
peer_timeout_secs = 180
# An offer not answered within this time can no longer be answered.
offer_timeout_secs = 120
# Swarms one connection may be in.
max_swarms_per_conn = 256

[tracker.limits]
# Offers accepted in one announce.
max_offers = 10
# Info-hashes in one scrape.
max_scrape = 256

[metrics]
# Prometheus metrics (text format) at this path on the public port; "" for none there. /healthz
# (alive) and /readyz (a catalog from the control plane is served) are always answered.
path = "/metrics"
# A port of their own for the metrics, /healthz and /readyz (e.g. "127.0.0.1:9101", reachable
# by Prometheus only); with it, the public port no longer answers `path`. Off by default:
# listen = "127.0.0.1:9101"

# Serve the data plane (WebSeeds and tracker) over TLS: https:// and wss:// on its port, without
# a reverse proxy in front. Both keys or neither; `--tls-certificate` and `--tls-private-key`
# override them. Paths are relative to the working directory. Files are then encrypted in user
# space: TLS connections never use sendfile. Off by default:
# [tls]
# certificate = "/etc/vidseed/fullchain.pem"   # the certificate chain, PEM, the node's first
# private_key = "/etc/vidseed/privkey.pem"     # its private key, PEM (PKCS#8, PKCS#1 or SEC1)

# A data node driven by a separate control plane (`vidseed data --config FILE`) also has a
# [node] section; `vidseed admin node add NAME --public-url URL` prints it:
# [node]
# name = "edge-1"
# token = "…"                        # shown once by `node add`
# control = "control.example.org:9002"   # the control plane's catalog channel (UDP)
# pin = "sha256:…"                   # its certificate's fingerprint
# public_url = "https://edge-1.example.org"
# listen = "0.0.0.0:9001"
# follow_symlinks = false            # serve files that links lead to outside their folder
# cache = "/srv/vidseed/redundancy"  # copies of other instances' videos (redundancy), served
#                                    # under /static/redundancy/ once verified
# allow_private_sources = false      # copies may come from private addresses
# [[node.folders]]
# library = ""                       # a library folder ("" is all of it)…
# path = "/srv/vidseed/media"        # …and where this node keeps it
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_default_is_the_default() {
        let parsed = FileConfig::parse(DEFAULT_CONFIG_TOML).unwrap();
        assert_eq!(format!("{:?}", parsed.tracker), format!("{:?}", crate::tracker::socket::TrackerConfig::default()));
        assert_eq!(parsed.http, HttpLimits::default());
        assert_eq!(parsed.metrics, crate::ops::MetricsConfig::default());
        let c = FileConfig::parse("[metrics]\nlisten = \"127.0.0.1:9101\"\n").unwrap();
        assert_eq!((c.metrics.listen, c.metrics.path.as_str()), (Some("127.0.0.1:9101".parse().unwrap()), "/metrics"));
        assert_eq!(FileConfig::parse("io = \"uring\"\n[http]\nmax_connections = 5\n").unwrap().io, Some(IoBackend::Uring));
        let c = FileConfig::parse("[http]\nio = \"uring\"\nzero_copy_min = 65536\n").unwrap();
        assert_eq!((c.http.io, c.http.zero_copy_min), (IoBackend::Uring, 65536));
        assert!(FileConfig::parse("[http]\nio = \"kqueue\"\n").unwrap_err().contains("kqueue"));
        let c = FileConfig::parse("[http]\nkeepalive_timeout_secs = 5\nmax_connections_per_ip = 3\n").unwrap();
        assert_eq!((c.http.keepalive_timeout, c.http.max_connections_per_ip), (Duration::from_secs(5), 3));
        assert!(FileConfig::parse("[http]\nkeepalive = 5\n").unwrap_err().contains("keepalive"));
        use crate::uring::small_send::SmallBodies;
        for (text, want) in [("copy", SmallBodies::Copy), ("sendfile", SmallBodies::Sendfile), ("auto", SmallBodies::Auto)] {
            assert_eq!(FileConfig::parse(&format!("[http]\nsmall_bodies = \"{text}\"\n")).unwrap().http.small_bodies, want);
        }
        let bad = FileConfig::parse("[http]\nsmall_bodies = \"splice\"\n").unwrap_err();
        assert!(bad.contains("splice") && bad.contains("sendfile"), "{bad}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = FileConfig::parse("[tracker]\nopne = true\n").unwrap_err();
        assert!(e.contains("opne"), "{e}");
        let e = FileConfig::parse("[tracker]\nshards = \"many\"\n").unwrap_err();
        assert!(e.contains("shards"), "{e}");
        let c = FileConfig::parse("[tracker]\nopen = true\n[tracker.swarm]\npeer_timeout_secs = 5\n").unwrap();
        assert!(c.tracker.open);
        assert_eq!(c.tracker.swarm.peer_timeout, std::time::Duration::from_secs(5));
        assert_eq!(c.tracker.max_message_size, 65536);
    }

    #[test]
    fn follow_symlinks_is_off_unless_the_node_says_so() {
        let node = "[node]\nname = \"n\"\ntoken = \"t\"\ncontrol = \"c:1\"\npin = \"p\"\n";
        let folders = "[[node.folders]]\nlibrary = \"\"\npath = \"/m\"\n";
        let c = FileConfig::parse(&format!("{node}{folders}")).unwrap();
        assert!(!c.node.unwrap().follow_symlinks);
        let c = FileConfig::parse(&format!("{node}follow_symlinks = true\n{folders}")).unwrap();
        assert!(c.node.unwrap().follow_symlinks);
        let e = FileConfig::parse(&format!("{node}follow_symlinks = \"yes\"\n{folders}")).unwrap_err();
        assert!(e.contains("follow_symlinks"), "{e}");
    }

    #[test]
    fn tls_needs_both_files() {
        assert_eq!(FileConfig::parse(DEFAULT_CONFIG_TOML).unwrap().tls, None);
        let c = FileConfig::parse("[tls]\ncertificate = \"c.pem\"\nprivate_key = \"k.pem\"\n").unwrap();
        assert_eq!(c.tls, Some(TlsFiles { certificate: "c.pem".into(), private_key: "k.pem".into() }));
        let e = FileConfig::parse("[tls]\ncertificate = \"c.pem\"\n").unwrap_err();
        assert!(e.contains("private_key"), "{e}");
        let e = FileConfig::parse("[tls]\nprivate_key = \"k.pem\"\n").unwrap_err();
        assert!(e.contains("certificate"), "{e}");
        let e =
            FileConfig::parse("[tls]\ncertificate = \"c.pem\"\nprivate_key = \"k.pem\"\nchain = \"x\"\n").unwrap_err();
        assert!(e.contains("chain"), "{e}");
    }
}
