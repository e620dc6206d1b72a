//! The `vidseed` command line (clap): the commands, their flags and the checks of flag values.
//! Pure declarations; `main.rs` builds the planes' configurations from them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use vidseed_control_plane::library::piece_length;
use vidseed_data_plane::{IoBackend, SendPath, TlsFiles};

/// vidseed: a seeding and tracker node for the PeerTube video federation.
#[derive(Parser, Debug)]
#[command(version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// How log lines (stderr) are written: `text`, or `json` (one object per line with the
    /// fields `timestamp`, `level`, `target`, `message` and the event's own). Which lines: the
    /// `RUST_LOG` filter (default `info`; e.g. `RUST_LOG=warn,vidseed_data_plane=debug`).
    #[arg(long, global = true, value_enum, default_value = "text", env = "VIDSEED_LOG_FORMAT")]
    pub(crate) log_format: crate::logging::LogFormat,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Publish every file under MEDIA_DIR and serve it: both planes in one process.
    Serve(Box<ServeArgs>),
    /// Run the control plane alone: the library, the API, the admin API and the catalog channel
    /// that data nodes (`vidseed data`) connect to.
    Control(Box<ControlArgs>),
    /// Run a data node alone, driven by a control plane (its config comes from
    /// `vidseed admin node add`).
    Data(Box<DataArgs>),
    /// Drive a running control plane: videos, data nodes, settings (see `vidseed admin --help`).
    Admin(vidseed_control_plane::admin::AdminArgs),
    /// Print the default configuration file, commented.
    PrintConfig,
    /// Print a hardened systemd unit for `serve`, `control` or `data` (dedicated user,
    /// read-only system, no capabilities).
    PrintSystemd {
        #[arg(value_enum)]
        unit: crate::systemd::Unit,
    },
}

#[derive(Parser, Debug)]
#[command(args_override_self = true)]
pub(crate) struct ServeArgs {
    /// The folder whose files are published (searched recursively; hidden files are skipped).
    pub(crate) media_dir: PathBuf,
    /// Address of the control plane: the API, torrents and the index page.
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub(crate) control_listen: SocketAddr,
    /// Address of the data plane: WebSeed files under /static/webseed/ and the tracker.
    #[arg(long, default_value = "127.0.0.1:9001")]
    pub(crate) data_listen: SocketAddr,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
    /// Where the node keeps its state (made torrents, …).
    #[arg(long, default_value = "./vidseed-state")]
    pub(crate) state: PathBuf,
    /// Public base URL of the data plane (e.g. https://seed.example.org) used in torrents and
    /// magnets instead of http://DATA-LISTEN (https:// with TLS); an https base gives wss://
    /// tracker URLs.
    #[arg(long)]
    pub(crate) public_url: Option<String>,
    /// Public base URL of the control plane, used for torrent URLs.
    #[arg(long)]
    pub(crate) control_public_url: Option<String>,
    /// Smallest piece length for new torrents, in bytes (a power of two).
    #[arg(long, default_value_t = piece_length::DEFAULT_FLOOR)]
    pub(crate) min_piece_length: u64,
    /// Use exactly this piece length for new torrents, in bytes (a power of two).
    #[arg(long)]
    pub(crate) piece_length: Option<u64>,
    /// Data-plane worker threads (default: one per CPU).
    #[arg(long)]
    pub(crate) data_workers: Option<usize>,
    /// Threads hashing a file (default: one per CPU).
    #[arg(long)]
    pub(crate) hash_threads: Option<usize>,
    /// How file bytes reach the socket: `sendfile` (the default: zero-copy from the page cache
    /// for chunks of 64 KiB and more, smaller ones written from the mapping) or `write` (always
    /// from the file's mapping).
    #[arg(long, default_value = "sendfile")]
    pub(crate) send_path: SendPath,
    /// The data plane's I/O backend for plain HTTP: `uring` (io_uring workers for WebSeed
    /// requests, falling back to epoll where refused) or `epoll`; default: `[http] io`, else
    /// uring.
    #[arg(long)]
    pub(crate) io: Option<IoBackend>,
    /// A configuration file (TOML; `vidseed print-config` shows every key and its default).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Track any info-hash, not only those of published videos.
    #[arg(long)]
    pub(crate) open_tracker: bool,
    /// Seconds between rescans of the media folder (0: never rescan).
    #[arg(long, default_value_t = 30)]
    pub(crate) rescan_interval: u64,
    /// The database: a SQLite file (default: vidseed.db in --state) or postgres://… .
    #[arg(long)]
    pub(crate) database: Option<String>,
    /// With PostgreSQL: keep vidseed's tables in this schema (made if missing).
    #[arg(long)]
    pub(crate) database_schema: Option<String>,
    /// UDP address of the catalog channel between the planes (loopback; port 0: any free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub(crate) channel_listen: SocketAddr,
    /// Publish and serve files that symbolic links in MEDIA_DIR lead to outside it (refused by
    /// default, with a warning naming each).
    #[arg(long)]
    pub(crate) follow_symlinks: bool,
    #[command(flatten)]
    pub(crate) instance: InstanceArgs,
}

#[derive(Parser, Debug)]
pub(crate) struct ControlArgs {
    /// The library folder: videos are added from it (`vidseed admin add`), and data nodes
    /// find them by their path in it.
    #[arg(long)]
    pub(crate) library: PathBuf,
    /// Address of the HTTP API, the admin API, torrents and the index page.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub(crate) listen: SocketAddr,
    /// UDP address of the catalog channel data nodes connect to.
    #[arg(long, default_value = "0.0.0.0:9002")]
    pub(crate) channel_listen: SocketAddr,
    /// The channel's address as data nodes reach it, host:port (default: --channel-listen).
    #[arg(long)]
    pub(crate) channel_public: Option<String>,
    /// Where the control plane keeps its state (the SQLite database by default).
    #[arg(long, default_value = "./vidseed-state")]
    pub(crate) state: PathBuf,
    /// The database: a SQLite file (default: vidseed.db in --state) or postgres://… .
    #[arg(long)]
    pub(crate) database: Option<String>,
    /// With PostgreSQL: keep vidseed's tables in this schema (made if missing).
    #[arg(long)]
    pub(crate) database_schema: Option<String>,
    /// Public base URL of the one data node whose tracker every torrent names (e.g.
    /// https://seed.example.org; an https base gives wss:// tracker URLs). Without it, each
    /// video's torrent names the tracker of one data node that serves it, chosen by rendezvous
    /// hashing of its info-hash over those nodes.
    #[arg(long, value_name = "URL")]
    pub(crate) tracker_url: Option<String>,
    /// Public base URL of this control plane, used for torrent URLs.
    #[arg(long)]
    pub(crate) public_url: Option<String>,
    /// Smallest piece length for new torrents, in bytes (a power of two).
    #[arg(long, default_value_t = piece_length::DEFAULT_FLOOR)]
    pub(crate) min_piece_length: u64,
    /// Use exactly this piece length for new torrents, in bytes (a power of two).
    #[arg(long)]
    pub(crate) piece_length: Option<u64>,
    /// Threads hashing a file (default: one per CPU).
    #[arg(long)]
    pub(crate) hash_threads: Option<usize>,
    /// Every data node tracks any info-hash, not only the library's.
    #[arg(long)]
    pub(crate) open_tracker: bool,
    /// Also follow the library folder: publish new files, drop vanished ones, every N seconds
    /// (0: only through the admin API).
    #[arg(long, default_value_t = 0)]
    pub(crate) follow_interval: u64,
    /// Publish files that symbolic links in the library lead to outside it (refused by default,
    /// with a warning naming each). Data nodes decide for themselves what they serve
    /// (`follow_symlinks` in their [node] section).
    #[arg(long)]
    pub(crate) follow_symlinks: bool,
    #[command(flatten)]
    pub(crate) instance: InstanceArgs,
}

#[derive(Parser, Debug)]
pub(crate) struct DataArgs {
    /// The node's configuration file (TOML with a [node] section, as `vidseed admin node add`
    /// prints it; `vidseed print-config` shows the other keys).
    #[arg(long)]
    pub(crate) config: PathBuf,
    /// HTTP address (overrides [node] listen; default 0.0.0.0:9001).
    #[arg(long)]
    pub(crate) listen: Option<SocketAddr>,
    /// Worker threads (default: one per CPU).
    #[arg(long)]
    pub(crate) data_workers: Option<usize>,
    /// How file bytes reach the socket: `sendfile` or `write`.
    #[arg(long, default_value = "sendfile")]
    pub(crate) send_path: SendPath,
    /// The I/O backend for plain HTTP: `uring` or `epoll`; default: `[http] io`, else uring.
    #[arg(long)]
    pub(crate) io: Option<IoBackend>,
    /// Serve files that symbolic links in the node's folders lead to outside them (as
    /// `follow_symlinks = true` in [node]; refused by default, with a warning naming each).
    #[arg(long)]
    pub(crate) follow_symlinks: bool,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
}

/// What the control plane tells viewers and other instances, for `serve` and `control`.
#[derive(clap::Args, Debug)]
pub(crate) struct InstanceArgs {
    /// A STUN server for the viewers' WebRTC connections on the watch pages
    /// (`stun:host[:port]`, repeatable); none by default: viewers connect directly.
    #[arg(long = "stun-server", value_name = "URL", value_parser = parse_stun_url)]
    pub(crate) stun_servers: Vec<String>,
    /// Let federation fetches (remote actors, keys) reach private, loopback and link-local
    /// addresses; refused by default.
    #[arg(long)]
    pub(crate) allow_private_federation: bool,
    /// First delay before a failed delivery is retried, in seconds (doubles each attempt).
    #[arg(long, default_value_t = 60)]
    pub(crate) federation_retry_secs: u64,
    /// Seconds between runs of the redundancy scheduler (PeerTube's check_interval)
    #[arg(long, default_value_t = 3600)]
    pub(crate) redundancy_check_secs: u64,
    /// Bytes per second one copy's download may take on a data node, e.g. 50MB (sizes as in
    /// PeerTube's configuration: 1MB = 1024 × 1024 bytes; 0: no cap).
    #[arg(long, default_value = "0", value_parser = parse_rate)]
    pub(crate) redundancy_bandwidth: u64,
    /// Ranges a data node fetches at once for one copy (1 to 16).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub(crate) redundancy_parallel: u32,
    /// The account the instance's videos are published under (a PeerTube `Person`,
    /// acct:NAME@host); set it before the first videos federate [default: vidseed]
    #[arg(long, value_name = "NAME")]
    pub(crate) account_name: Option<String>,
    /// The account's display name [default: the account name]
    #[arg(long, value_name = "TEXT")]
    pub(crate) account_display_name: Option<String>,
    /// The channel the videos are published in (a PeerTube `Group`, followable on its own)
    /// [default: ACCOUNT_channel]
    #[arg(long, value_name = "NAME")]
    pub(crate) channel_name: Option<String>,
    /// The channel's display name [default: "Main ACCOUNT channel"]
    #[arg(long, value_name = "TEXT")]
    pub(crate) channel_display_name: Option<String>,
    /// First delay before a failed copy is tried again, in seconds (doubles each time, at most
    /// an hour).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) redundancy_retry_secs: u64,
    /// Failures in a row before a copy is given up (a manual copy then stays failed until added
    /// again; a strategy's copy is dropped).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub(crate) redundancy_retries: u32,
}

/// A size per second as `50MB`, `1GiB` or bytes.
fn parse_rate(s: &str) -> Result<u64, String> {
    if s.trim() == "0" {
        return Ok(0);
    }
    vidseed_control_plane::redundancy::config::parse_size(s)
}

impl InstanceArgs {
    /// The account's and channel's names.
    pub(crate) fn publish(&self) -> vidseed_control_plane::publish::PublishConfig {
        use vidseed_control_plane::publish::actors::ActorNames;
        let account = self.account_name.clone().or_else(|| self.account_display_name.as_ref().map(|_| "vidseed".to_owned()));
        let account = account.map(|name| ActorNames { display: self.account_display_name.clone().unwrap_or_else(|| name.clone()), name });
        let account_name = account.as_ref().map_or("vidseed", |a| a.name.as_str());
        let channel = match (&self.channel_name, &self.channel_display_name) {
            (None, None) => None,
            (name, display) => {
                let name = name.clone().unwrap_or_else(|| format!("{account_name}_channel"));
                Some(ActorNames { display: display.clone().unwrap_or_else(|| format!("Main {account_name} channel")), name })
            }
        };
        vidseed_control_plane::publish::PublishConfig { account, channel }
    }

    pub(crate) fn federation_retry(&self) -> Duration {
        Duration::from_secs(self.federation_retry_secs.max(1))
    }

    /// How failed copies are tried again.
    pub(crate) fn retry_policy(&self) -> vidseed_control_plane::redundancy::RetryPolicy {
        vidseed_control_plane::redundancy::RetryPolicy::new(Duration::from_secs(self.redundancy_retry_secs), self.redundancy_retries)
    }

    /// What each copy's download may take on a data node.
    pub(crate) fn import_limits(&self) -> vidseed_control_plane::redundancy::ImportLimits {
        vidseed_control_plane::redundancy::ImportLimits { max_bytes_per_sec: self.redundancy_bandwidth, parallel: self.redundancy_parallel }
    }
}

/// TLS on the data plane's port, for `serve` and `data`.
#[derive(clap::Args, Debug)]
pub(crate) struct TlsArgs {
    /// Serve the data plane over TLS (https:// WebSeeds, wss:// tracker) with this certificate
    /// chain (PEM); needs --tls-private-key. Overrides [tls] in --config. TLS connections are
    /// encrypted in user space: no sendfile for them.
    #[arg(long, value_name = "FILE", requires = "tls_private_key")]
    pub(crate) tls_certificate: Option<PathBuf>,
    /// The private key (PEM) of --tls-certificate.
    #[arg(long, value_name = "FILE", requires = "tls_certificate")]
    pub(crate) tls_private_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The TLS files from the flags, else from the configuration file's [tls], else none.
    pub(crate) fn files(self, file: Option<TlsFiles>) -> Result<Option<TlsFiles>> {
        match (self.tls_certificate, self.tls_private_key) {
            (Some(certificate), Some(private_key)) => Ok(Some(TlsFiles { certificate, private_key })),
            (None, None) => Ok(file),
            _ => bail!("TLS needs both --tls-certificate and --tls-private-key"),
        }
    }
}

/// A `--stun-server` value: `stun:` or `stuns:`, a host, an optional port.
pub(crate) fn parse_stun_url(s: &str) -> Result<String, String> {
    let rest = s.strip_prefix("stun:").or_else(|| s.strip_prefix("stuns:")).ok_or("a STUN server URL starts with stun: or stuns: (e.g. stun:stun.example.org:3478)")?;
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        // [IPv6]:port
        let (addr, after) = v6.split_once(']').ok_or_else(|| format!("{s:?}: an IPv6 address ends with ]"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| format!("{s:?}: give stun:[IPv6]:PORT"))?),
        };
        (addr, port)
    } else {
        // Browsers split at the first colon: a host holds none (an IPv6 address goes in brackets).
        match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!("{s:?}: give stun:HOST[:PORT]"));
    }
    if let Some(p) = port {
        p.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(|| format!("{s:?}: the port must be 1..65535"))?;
    }
    Ok(s.to_owned())
}

