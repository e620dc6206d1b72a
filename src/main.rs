//! The `vidseed` binary: parses the command line and starts the planes. No logic of its own.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use vidseed_control_plane::library::piece_length::{self, PiecePolicy};
use vidseed_control_plane::store::Database;
use vidseed_control_plane::library::TrackerChoice;
use vidseed_control_plane::{ControlPlane, ControlPlaneConfig, LibraryConfig, PublicUrls};
use vidseed_data_plane::channel::{ChannelConfig, FolderMapping, Pin};
use vidseed_data_plane::node::warn_plain_url_over_tls;
use vidseed_data_plane::{DataNode, DataNodeConfig, DataPlaneConfig, FileConfig, SendPath, TlsFiles, DEFAULT_CONFIG_TOML};

/// The tracker allocates a few small buffers per message (parsed offers, reply JSON); glibc's
/// malloc took a fifth of its CPU under load, mimalloc a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// vidseed: a seeding and tracker node for the PeerTube video federation.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
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
}

#[derive(Parser, Debug)]
#[command(args_override_self = true)]
struct ServeArgs {
    /// The folder whose files are published (searched recursively; hidden files are skipped).
    media_dir: PathBuf,
    /// Address of the control plane: the API, torrents and the index page.
    #[arg(long, default_value = "127.0.0.1:9000")]
    control_listen: SocketAddr,
    /// Address of the data plane: WebSeed files under /static/webseed/ and the tracker.
    #[arg(long, default_value = "127.0.0.1:9001")]
    data_listen: SocketAddr,
    #[command(flatten)]
    tls: TlsArgs,
    /// Where the node keeps its state (made torrents, …).
    #[arg(long, default_value = "./vidseed-state")]
    state: PathBuf,
    /// Public base URL of the data plane (e.g. https://seed.example.org) used in torrents and
    /// magnets instead of http://DATA-LISTEN (https:// with TLS); an https base gives wss://
    /// tracker URLs.
    #[arg(long)]
    public_url: Option<String>,
    /// Public base URL of the control plane, used for torrent URLs.
    #[arg(long)]
    control_public_url: Option<String>,
    /// Smallest piece length for new torrents, in bytes (a power of two).
    #[arg(long, default_value_t = piece_length::DEFAULT_FLOOR)]
    min_piece_length: u64,
    /// Use exactly this piece length for new torrents, in bytes (a power of two).
    #[arg(long)]
    piece_length: Option<u64>,
    /// Data-plane worker threads (default: one per CPU).
    #[arg(long)]
    data_workers: Option<usize>,
    /// Threads hashing a file (default: one per CPU).
    #[arg(long)]
    hash_threads: Option<usize>,
    /// How file bytes reach the socket: `sendfile` (the default: zero-copy from the page cache
    /// for chunks of 64 KiB and more, smaller ones written from the mapping) or `write` (always
    /// from the file's mapping).
    #[arg(long, default_value = "sendfile")]
    send_path: SendPath,
    /// A configuration file (TOML; `vidseed print-config` shows every key and its default).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Track any info-hash, not only those of published videos.
    #[arg(long)]
    open_tracker: bool,
    /// Seconds between rescans of the media folder (0: never rescan).
    #[arg(long, default_value_t = 30)]
    rescan_interval: u64,
    /// The database: a SQLite file (default: vidseed.db in --state) or postgres://… .
    #[arg(long)]
    database: Option<String>,
    /// With PostgreSQL: keep vidseed's tables in this schema (made if missing).
    #[arg(long)]
    database_schema: Option<String>,
    /// UDP address of the catalog channel between the planes (loopback; port 0: any free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    channel_listen: SocketAddr,
    /// Publish and serve files that symbolic links in MEDIA_DIR lead to outside it (refused by
    /// default, with a warning naming each).
    #[arg(long)]
    follow_symlinks: bool,
    #[command(flatten)]
    instance: InstanceArgs,
}

#[derive(Parser, Debug)]
struct ControlArgs {
    /// The library folder: videos are added from it (`vidseed admin add`), and data nodes
    /// find them by their path in it.
    #[arg(long)]
    library: PathBuf,
    /// Address of the HTTP API, the admin API, torrents and the index page.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// UDP address of the catalog channel data nodes connect to.
    #[arg(long, default_value = "0.0.0.0:9002")]
    channel_listen: SocketAddr,
    /// The channel's address as data nodes reach it, host:port (default: --channel-listen).
    #[arg(long)]
    channel_public: Option<String>,
    /// Where the control plane keeps its state (the SQLite database by default).
    #[arg(long, default_value = "./vidseed-state")]
    state: PathBuf,
    /// The database: a SQLite file (default: vidseed.db in --state) or postgres://… .
    #[arg(long)]
    database: Option<String>,
    /// With PostgreSQL: keep vidseed's tables in this schema (made if missing).
    #[arg(long)]
    database_schema: Option<String>,
    /// Public base URL of the one data node whose tracker every torrent names (e.g.
    /// https://seed.example.org; an https base gives wss:// tracker URLs). Without it, each
    /// video's torrent names the tracker of one data node that serves it, chosen by rendezvous
    /// hashing of its info-hash over those nodes.
    #[arg(long, value_name = "URL")]
    tracker_url: Option<String>,
    /// Public base URL of this control plane, used for torrent URLs.
    #[arg(long)]
    public_url: Option<String>,
    /// Smallest piece length for new torrents, in bytes (a power of two).
    #[arg(long, default_value_t = piece_length::DEFAULT_FLOOR)]
    min_piece_length: u64,
    /// Use exactly this piece length for new torrents, in bytes (a power of two).
    #[arg(long)]
    piece_length: Option<u64>,
    /// Threads hashing a file (default: one per CPU).
    #[arg(long)]
    hash_threads: Option<usize>,
    /// Every data node tracks any info-hash, not only the library's.
    #[arg(long)]
    open_tracker: bool,
    /// Also follow the library folder: publish new files, drop vanished ones, every N seconds
    /// (0: only through the admin API).
    #[arg(long, default_value_t = 0)]
    follow_interval: u64,
    /// Publish files that symbolic links in the library lead to outside it (refused by default,
    /// with a warning naming each). Data nodes decide for themselves what they serve
    /// (`follow_symlinks` in their [node] section).
    #[arg(long)]
    follow_symlinks: bool,
    #[command(flatten)]
    instance: InstanceArgs,
}

#[derive(Parser, Debug)]
struct DataArgs {
    /// The node's configuration file (TOML with a [node] section, as `vidseed admin node add`
    /// prints it; `vidseed print-config` shows the other keys).
    #[arg(long)]
    config: PathBuf,
    /// HTTP address (overrides [node] listen; default 0.0.0.0:9001).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Worker threads (default: one per CPU).
    #[arg(long)]
    data_workers: Option<usize>,
    /// How file bytes reach the socket: `sendfile` or `write`.
    #[arg(long, default_value = "sendfile")]
    send_path: SendPath,
    /// Serve files that symbolic links in the node's folders lead to outside them (as
    /// `follow_symlinks = true` in [node]; refused by default, with a warning naming each).
    #[arg(long)]
    follow_symlinks: bool,
    #[command(flatten)]
    tls: TlsArgs,
}

/// What the control plane tells viewers and other instances, for `serve` and `control`.
#[derive(clap::Args, Debug)]
struct InstanceArgs {
    /// A STUN server for the viewers' WebRTC connections on the watch pages
    /// (`stun:host[:port]`, repeatable); none by default: viewers connect directly.
    #[arg(long = "stun-server", value_name = "URL", value_parser = parse_stun_url)]
    stun_servers: Vec<String>,
    /// Let federation fetches (remote actors, keys) reach private, loopback and link-local
    /// addresses; refused by default.
    #[arg(long)]
    allow_private_federation: bool,
    /// First delay before a failed delivery is retried, in seconds (doubles each attempt).
    #[arg(long, default_value_t = 60)]
    federation_retry_secs: u64,
    /// Seconds between runs of the redundancy scheduler (PeerTube's check_interval)
    #[arg(long, default_value_t = 3600)]
    redundancy_check_secs: u64,
}

impl InstanceArgs {
    fn federation_retry(&self) -> Duration {
        Duration::from_secs(self.federation_retry_secs.max(1))
    }
}

/// TLS on the data plane's port, for `serve` and `data`.
#[derive(clap::Args, Debug)]
struct TlsArgs {
    /// Serve the data plane over TLS (https:// WebSeeds, wss:// tracker) with this certificate
    /// chain (PEM); needs --tls-private-key. Overrides [tls] in --config. TLS connections are
    /// encrypted in user space: no sendfile for them.
    #[arg(long, value_name = "FILE", requires = "tls_private_key")]
    tls_certificate: Option<PathBuf>,
    /// The private key (PEM) of --tls-certificate.
    #[arg(long, value_name = "FILE", requires = "tls_certificate")]
    tls_private_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The TLS files from the flags, else from the configuration file's [tls], else none.
    fn files(self, file: Option<TlsFiles>) -> Result<Option<TlsFiles>> {
        match (self.tls_certificate, self.tls_private_key) {
            (Some(certificate), Some(private_key)) => Ok(Some(TlsFiles { certificate, private_key })),
            (None, None) => Ok(file),
            _ => bail!("TLS needs both --tls-certificate and --tls-private-key"),
        }
    }
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let command = Cli::parse().command;
    if matches!(command, Command::Serve(_) | Command::Control(_) | Command::Data(_)) {
        // Servers hold a descriptor per connection: take all the system allows.
        let limit = vidseed_conn_guard::raise_nofile_limit();
        tracing::info!("open files limit: {limit}");
    }
    let result = match command {
        Command::Admin(args) => return vidseed_control_plane::admin::run_blocking(args),
        Command::Serve(args) => serve(*args),
        Command::Control(args) => control(*args),
        Command::Data(args) => data_node(*args),
        Command::PrintConfig => {
            print!("{DEFAULT_CONFIG_TOML}");
            Ok(())
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:?}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn piece_policy(fixed: Option<u64>, floor: u64) -> Result<PiecePolicy> {
    Ok(match fixed {
        Some(len) => PiecePolicy::Fixed(piece_length::validate(len).context("--piece-length")?),
        None => PiecePolicy::Auto { floor: piece_length::validate(floor).context("--min-piece-length")? },
    })
}

fn read_file_config(path: Option<&PathBuf>) -> Result<FileConfig> {
    match path {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the configuration file {}", path.display()))?;
            FileConfig::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
        }
        None => Ok(FileConfig::default()),
    }
}

fn database(arg: Option<&str>, schema: Option<&str>, state: &std::path::Path) -> Result<Database> {
    let mut db = match arg {
        Some(s) => Database::parse(s).map_err(|e| anyhow::anyhow!("--database: {e}"))?,
        None => Database::in_state_dir(state),
    };
    match (&mut db, schema) {
        (Database::Postgres { schema: s, .. }, Some(name)) => *s = Some(name.to_owned()),
        (Database::Sqlite(_), Some(_)) => bail!("--database-schema needs a postgres:// --database"),
        _ => {}
    }
    Ok(db)
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A `--stun-server` value: `stun:` or `stuns:`, a host, an optional port.
fn parse_stun_url(s: &str) -> Result<String, String> {
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

fn serve(args: ServeArgs) -> Result<()> {
    let pieces = piece_policy(args.piece_length, args.min_piece_length)?;
    if !args.media_dir.is_dir() {
        bail!("{} is not a folder: give the folder that holds your videos", args.media_dir.display());
    }
    std::fs::create_dir_all(&args.state)
        .with_context(|| format!("cannot create the state folder {}", args.state.display()))?;
    let mut file_config = read_file_config(args.config.as_ref())?;
    file_config.tracker.open |= args.open_tracker;
    // Unreadable files or a key that does not match fail here, naming the file.
    let tls = args.tls.files(file_config.tls)?.map(|f| vidseed_data_plane::tls::server_config(&f)).transpose()?;
    let db = database(args.database.as_deref(), args.database_schema.as_deref(), &args.state)?;

    warn_plain_url_over_tls(tls.is_some(), args.public_url.as_deref(), "--public-url");
    let servers = DataPlaneConfig {
        listen: args.data_listen,
        workers: args.data_workers.unwrap_or(cpus()),
        send_path: args.send_path,
        http: file_config.http,
        tracker: file_config.tracker,
        tls,
        ..DataPlaneConfig::default()
    };
    let mut data = DataNode::start(DataNodeConfig { servers })
        .with_context(|| format!("cannot listen on {} (--data-listen)", args.data_listen))?;
    let data_scheme = data.scheme();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("vidseed-control")
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.control_listen)
            .await
            .with_context(|| format!("cannot listen on {} (--control-listen)", args.control_listen))?;
        // Without --public-url, the data plane's own address, https:// (and wss://) with TLS.
        let data_public = args
            .public_url
            .clone()
            .or_else(|| (data_scheme == "https").then(|| format!("https://{}", data.local_addr())));
        let urls = PublicUrls::new(
            data.local_addr(),
            listener.local_addr()?,
            data_public.as_deref(),
            args.control_public_url.as_deref(),
        )?;
        println!(
            "vidseed: data plane on {data_scheme}://{} (files under /static/webseed/), control plane on http://{}",
            data.local_addr(),
            listener.local_addr()?
        );
        println!("vidseed: publishing {} …", args.media_dir.display());
        let media_dir = args.media_dir.canonicalize()?;
        let data_public = urls.data_http.clone();
        let node = ControlPlane::start(
            ControlPlaneConfig {
                library: LibraryConfig {
                    root: media_dir.clone(),
                    urls,
                    pieces,
                    hash_threads: args.hash_threads.unwrap_or(cpus()),
                    stun_servers: args.instance.stun_servers.clone(),
                    follow_symlinks: args.follow_symlinks,
                    trackers: TrackerChoice::Fixed,
                },
                database: db,
                channel_listen: args.channel_listen,
                channel_public: None,
                follow: true,
                follow_interval: (args.rescan_interval > 0).then(|| Duration::from_secs(args.rescan_interval)),
                open_tracker: args.open_tracker,
                ready_node: Some(EMBEDDED_NODE.into()),
                allow_private_fetches: args.instance.allow_private_federation,
                federation_retry: args.instance.federation_retry(),
                redundancy_check: Duration::from_secs(args.instance.redundancy_check_secs.max(1)),
            },
            listener,
        )
        .await?;
        if let Some(token) = &node.new_admin_token {
            println!("vidseed: admin token (shown only this once; `vidseed admin --token …`): {token}");
        }
        let token = node.embedded_node_token(EMBEDDED_NODE, &data_public).await?;
        data.follow(ChannelConfig {
            control: node.channel_addr().to_string(),
            pin: node.pin().parse::<Pin>().map_err(|e| anyhow::anyhow!(e))?,
            node: EMBEDDED_NODE.into(),
            token,
            folders: vec![FolderMapping { library: String::new(), path: media_dir }],
            public_url: None,
            follow_symlinks: args.follow_symlinks,
            cache: Some(args.state.join("redundancy")),
            allow_private_sources: args.instance.allow_private_federation,
        })?;
        wait_for_stop().await;
        println!("vidseed: stopping");
        node.shutdown().await;
        tokio::task::spawn_blocking(move || data.shutdown()).await?;
        Ok(())
    })
}

/// The data node `vidseed serve` runs in its own process.
const EMBEDDED_NODE: &str = "local";

fn control(args: ControlArgs) -> Result<()> {
    let pieces = piece_policy(args.piece_length, args.min_piece_length)?;
    if !args.library.is_dir() {
        bail!("{} is not a folder: give the library folder (--library)", args.library.display());
    }
    std::fs::create_dir_all(&args.state)
        .with_context(|| format!("cannot create the state folder {}", args.state.display()))?;
    let db = database(args.database.as_deref(), args.database_schema.as_deref(), &args.state)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("vidseed-control").enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {} (--listen)", args.listen))?;
        // Without --tracker-url, each video names a serving node's tracker; this one is named
        // only while no node serves the video.
        let (tracker_base, trackers) = match &args.tracker_url {
            Some(url) => (vidseed_control_plane::library::urls::normalise(url).context("--tracker-url")?, TrackerChoice::Fixed),
            None => ("http://127.0.0.1:9001".to_owned(), TrackerChoice::ServingNode),
        };
        let urls = PublicUrls::new(listener.local_addr()?, listener.local_addr()?, Some(&tracker_base), args.public_url.as_deref())?;
        let node = ControlPlane::start(
            ControlPlaneConfig {
                library: LibraryConfig {
                    root: args.library.canonicalize()?,
                    urls,
                    pieces,
                    hash_threads: args.hash_threads.unwrap_or(cpus()),
                    stun_servers: args.instance.stun_servers.clone(),
                    follow_symlinks: args.follow_symlinks,
                    trackers,
                },
                database: db,
                channel_listen: args.channel_listen,
                channel_public: args.channel_public.clone(),
                follow: args.follow_interval > 0,
                follow_interval: (args.follow_interval > 0).then(|| Duration::from_secs(args.follow_interval)),
                open_tracker: args.open_tracker,
                ready_node: None,
                allow_private_fetches: args.instance.allow_private_federation,
                federation_retry: args.instance.federation_retry(),
                redundancy_check: Duration::from_secs(args.instance.redundancy_check_secs.max(1)),
            },
            listener,
        )
        .await?;
        println!(
            "vidseed: control plane on http://{}, catalog channel on {} (udp), pin {}",
            node.local_addr(),
            node.channel_addr(),
            node.pin()
        );
        if let Some(token) = &node.new_admin_token {
            println!("vidseed: admin token (shown only this once; `vidseed admin --token …`): {token}");
        }
        wait_for_stop().await;
        println!("vidseed: stopping");
        node.shutdown().await;
        Ok(())
    })
}

fn data_node(args: DataArgs) -> Result<()> {
    let file_config = read_file_config(Some(&args.config))?;
    let Some(section) = file_config.node.clone() else {
        bail!("{} has no [node] section: use the configuration `vidseed admin node add` printed", args.config.display());
    };
    let pin: Pin = section.pin.parse().map_err(|e| anyhow::anyhow!("{}: [node] pin: {e}", args.config.display()))?;
    if section.folders.is_empty() {
        bail!("{}: [node] has no folders: add [[node.folders]] with library and path", args.config.display());
    }
    let listen = args.listen.or(section.listen).unwrap_or(vidseed_shared::channel::DEFAULT_NODE_LISTEN);
    let tls = args.tls.files(file_config.tls)?.map(|f| vidseed_data_plane::tls::server_config(&f)).transpose()?;
    warn_plain_url_over_tls(tls.is_some(), section.public_url.as_deref(), "[node] public_url");
    let servers = DataPlaneConfig {
        listen,
        workers: args.data_workers.unwrap_or(cpus()),
        send_path: args.send_path,
        http: file_config.http,
        tracker: file_config.tracker,
        tls,
        ..DataPlaneConfig::default()
    };
    let mut data = DataNode::start(DataNodeConfig { servers }).with_context(|| format!("cannot listen on {listen}"))?;
    println!(
        "vidseed: data node {:?} on {}://{} (files under /static/webseed/), control plane at {}",
        section.name,
        data.scheme(),
        data.local_addr(),
        section.control
    );
    let public_url = section.public_url.clone().unwrap_or_else(|| data.own_url());
    data.follow(ChannelConfig {
        control: section.control.clone(),
        pin,
        node: section.name.clone(),
        token: section.token.clone(),
        folders: section.folders.clone(),
        public_url: Some(public_url),
        follow_symlinks: args.follow_symlinks || section.follow_symlinks,
        cache: section.cache.clone(),
        allow_private_sources: section.allow_private_sources,
    })?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(wait_for_stop());
    println!("vidseed: stopping");
    data.shutdown();
    Ok(())
}

async fn wait_for_stop() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}
