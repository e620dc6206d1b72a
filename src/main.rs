//! The `vidseed` binary: parses the command line (`cli`), builds each plane's configuration
//! (`configs`), starts the planes and waits for a signal. No logic of its own.

mod cli;
mod configs;
mod logging;
mod systemd;

use cli::{Cli, Command, ControlArgs, DataArgs, InstanceArgs, ServeArgs};
use configs::{control_plane_config, cpus, data_plane_config, database, piece_policy, read_file_config};

use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use vidseed_control_plane::library::TrackerChoice;
use vidseed_control_plane::{ControlPlane, ControlPlaneConfig, LibraryConfig, PublicUrls};
use vidseed_data_plane::channel::{ChannelConfig, FolderMapping, Pin};
use vidseed_data_plane::node::warn_plain_url_over_tls;
use vidseed_data_plane::{DataNode, DataNodeConfig, DEFAULT_CONFIG_TOML};

/// The tracker allocates a few small buffers per message (parsed offers, reply JSON); glibc's
/// malloc took a fifth of its CPU under load, mimalloc a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    let command = cli.command;
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
        Command::PrintSystemd { unit } => {
            print!("{}", systemd::unit(unit));
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
    let tls = args.tls.files(file_config.tls.take())?.map(|f| vidseed_data_plane::tls::server_config(&f)).transpose()?;
    let db = database(args.database.as_deref(), args.database_schema.as_deref(), &args.state)?;

    warn_plain_url_over_tls(tls.is_some(), args.public_url.as_deref(), "--public-url");
    let servers = data_plane_config(args.data_listen, args.data_workers, (args.send_path, args.io), file_config, tls);
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
        let library = LibraryConfig {
            root: media_dir.clone(),
            urls,
            pieces,
            hash_threads: args.hash_threads.unwrap_or(cpus()),
            stun_servers: args.instance.stun_servers.clone(),
            follow_symlinks: args.follow_symlinks,
            trackers: TrackerChoice::Fixed,
        };
        let config = ControlPlaneConfig {
            follow: true,
            follow_interval: (args.rescan_interval > 0).then(|| Duration::from_secs(args.rescan_interval)),
            open_tracker: args.open_tracker,
            ready_node: Some(EMBEDDED_NODE.into()),
            ..control_plane_config(&args.instance, library, db, args.channel_listen)
        };
        let node = ControlPlane::start(config, listener).await?;
        started(&node, &args.instance);
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
        let library = LibraryConfig {
            root: args.library.canonicalize()?,
            urls,
            pieces,
            hash_threads: args.hash_threads.unwrap_or(cpus()),
            stun_servers: args.instance.stun_servers.clone(),
            follow_symlinks: args.follow_symlinks,
            trackers,
        };
        let config = ControlPlaneConfig {
            channel_public: args.channel_public.clone(),
            follow: args.follow_interval > 0,
            follow_interval: (args.follow_interval > 0).then(|| Duration::from_secs(args.follow_interval)),
            open_tracker: args.open_tracker,
            ..control_plane_config(&args.instance, library, db, args.channel_listen)
        };
        let node = ControlPlane::start(config, listener).await?;
        println!(
            "vidseed: control plane on http://{}, catalog channel on {} (udp), pin {}",
            node.local_addr(),
            node.channel_addr(),
            node.pin()
        );
        started(&node, &args.instance);
        wait_for_stop().await;
        println!("vidseed: stopping");
        node.shutdown().await;
        Ok(())
    })
}

fn data_node(args: DataArgs) -> Result<()> {
    let mut file_config = read_file_config(Some(&args.config))?;
    let Some(section) = file_config.node.clone() else {
        bail!("{} has no [node] section: use the configuration `vidseed admin node add` printed", args.config.display());
    };
    let pin: Pin = section.pin.parse().map_err(|e| anyhow::anyhow!("{}: [node] pin: {e}", args.config.display()))?;
    if section.folders.is_empty() {
        bail!("{}: [node] has no folders: add [[node.folders]] with library and path", args.config.display());
    }
    let listen = args.listen.or(section.listen).unwrap_or(vidseed_shared::channel::DEFAULT_NODE_LISTEN);
    let tls = args.tls.files(file_config.tls.take())?.map(|f| vidseed_data_plane::tls::server_config(&f)).transpose()?;
    warn_plain_url_over_tls(tls.is_some(), section.public_url.as_deref(), "[node] public_url");
    let servers = data_plane_config(listen, args.data_workers, (args.send_path, args.io), file_config, tls);
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

/// The instance settings a started control plane takes, and its new admin token said once.
fn started(node: &ControlPlane, instance: &InstanceArgs) {
    node.redundancy.set_import_limits(instance.import_limits());
    node.redundancy.set_retry_policy(instance.retry_policy());
    if let Some(token) = &node.new_admin_token {
        println!("vidseed: admin token (shown only this once; `vidseed admin --token …`): {token}");
    }
}

async fn wait_for_stop() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}
