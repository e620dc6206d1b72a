//! The data plane's configuration: listen address, workers, timeouts. Pure data.

use std::net::SocketAddr;
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
    /// A connection that sends no complete request head within this time is closed
    /// (default 30 s; also bounds idle keep-alive connections).
    pub header_read_timeout: Duration,
    /// On shutdown, how long requests in flight may take to finish (default 5 s).
    pub shutdown_grace: Duration,
    /// Longest request target served, in bytes; longer gets 414 (default 4096).
    pub max_target_len: usize,
    /// How body bytes reach the socket (default: `sendfile` for chunks of 64 KiB and more).
    pub send_path: SendPath,
    /// The WebTorrent tracker on the same port.
    pub tracker: crate::tracker::socket::TrackerConfig,
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
            header_read_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
            max_target_len: 4096,
            send_path: SendPath::Sendfile { min_chunk: crate::sendfile::DEFAULT_MIN_SENDFILE },
            tracker: crate::tracker::socket::TrackerConfig::default(),
        }
    }
}
