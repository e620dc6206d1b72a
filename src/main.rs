//! The `vidseed` binary: parses the command line and starts the planes. No logic of its own.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use vidseed_control_plane::piece_length::{self, PiecePolicy};
use vidseed_control_plane::{NodeConfig, PublicUrls, PublisherConfig, RunningNode};
use vidseed_data_plane::{CatalogStore, DataPlane, DataPlaneConfig, FileConfig, SendPath, DEFAULT_CONFIG_TOML};

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
    /// Print the default configuration file, commented.
    PrintConfig,
}

#[derive(Parser, Debug)]
struct ServeArgs {
    /// The folder whose files are published (searched recursively; hidden files are skipped).
    media_dir: PathBuf,
    /// Address of the control plane: the API, torrents and the index page.
    #[arg(long, default_value = "127.0.0.1:9000")]
    control_listen: SocketAddr,
    /// Address of the data plane: WebSeed files under /static/webseed/ and the tracker.
    #[arg(long, default_value = "127.0.0.1:9001")]
    data_listen: SocketAddr,
    /// Where the node keeps its state (made torrents, …).
    #[arg(long, default_value = "./vidseed-state")]
    state: PathBuf,
    /// Public base URL of the data plane (e.g. https://seed.example.org) used in torrents and
    /// magnets instead of http://DATA-LISTEN; an https base gives wss:// tracker URLs.
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
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve(*args),
        Command::PrintConfig => {
            print!("{DEFAULT_CONFIG_TOML}");
            Ok(())
        }
    }
}

fn serve(args: ServeArgs) -> Result<()> {
    let pieces = match args.piece_length {
        Some(len) => PiecePolicy::Fixed(piece_length::validate(len).context("--piece-length")?),
        None => PiecePolicy::Auto { floor: piece_length::validate(args.min_piece_length).context("--min-piece-length")? },
    };
    if !args.media_dir.is_dir() {
        bail!("{} is not a folder: give the folder that holds your videos", args.media_dir.display());
    }
    std::fs::create_dir_all(&args.state)
        .with_context(|| format!("cannot create the state folder {}", args.state.display()))?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut file_config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the configuration file {}", path.display()))?;
            FileConfig::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => FileConfig::default(),
    };
    file_config.tracker.open |= args.open_tracker;

    let store = Arc::new(CatalogStore::new());
    let data_cfg = DataPlaneConfig {
        listen: args.data_listen,
        workers: args.data_workers.unwrap_or(cpus),
        send_path: args.send_path,
        tracker: file_config.tracker,
        ..DataPlaneConfig::default()
    };
    let data = DataPlane::start(&data_cfg, Arc::clone(&store))
        .with_context(|| format!("cannot listen on {} (--data-listen)", args.data_listen))?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("vidseed-control")
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.control_listen)
            .await
            .with_context(|| format!("cannot listen on {} (--control-listen)", args.control_listen))?;
        let urls = PublicUrls::new(
            data.local_addr(),
            listener.local_addr()?,
            args.public_url.as_deref(),
            args.control_public_url.as_deref(),
        )?;
        println!(
            "vidseed: data plane on http://{} (files under /static/webseed/), control plane on http://{}",
            data.local_addr(),
            listener.local_addr()?
        );
        println!("vidseed: publishing {} …", args.media_dir.display());
        let media_dir = args.media_dir.canonicalize()?;
        let node = RunningNode::start(
            NodeConfig {
                publisher: PublisherConfig {
                    media_dir,
                    state_dir: args.state.clone(),
                    urls,
                    pieces,
                    hash_threads: args.hash_threads.unwrap_or(cpus),
                    progress: true,
                },
                rescan_interval: (args.rescan_interval > 0).then(|| Duration::from_secs(args.rescan_interval)),
            },
            listener,
            store,
        )?;
        wait_for_stop().await;
        println!("vidseed: stopping");
        node.shutdown().await;
        tokio::task::spawn_blocking(move || data.shutdown()).await?;
        Ok(())
    })
}

async fn wait_for_stop() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}
