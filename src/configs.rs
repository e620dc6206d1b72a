//! What the binary reads besides its flags: piece-length policy, the configuration file, the
//! database address, the CPU count; and the planes' configurations the commands share. Small
//! helpers for `main.rs`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use vidseed_control_plane::library::piece_length::{self, PiecePolicy};
use vidseed_control_plane::store::Database;
use vidseed_control_plane::{ControlPlaneConfig, LibraryConfig};
use vidseed_data_plane::{DataPlaneConfig, FileConfig, IoBackend, SendPath};

use crate::cli::InstanceArgs;

/// A data plane's servers (`serve` and `data`): flags first, then the configuration file.
pub(crate) fn data_plane_config(
    listen: SocketAddr,
    workers: Option<usize>,
    (send_path, io): (SendPath, Option<IoBackend>),
    file: FileConfig,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> DataPlaneConfig {
    let mut http = file.http;
    http.io = io.or(file.io).unwrap_or(http.io);
    DataPlaneConfig {
        listen,
        workers: workers.unwrap_or(cpus()),
        send_path,
        http,
        metrics: file.metrics,
        tracker: file.tracker,
        tls,
        ..DataPlaneConfig::default()
    }
}

/// A control plane as `control` starts it (no rescans, no embedded node); `serve` changes the
/// fields it runs differently.
pub(crate) fn control_plane_config(instance: &InstanceArgs, library: LibraryConfig, database: Database, channel_listen: SocketAddr) -> ControlPlaneConfig {
    ControlPlaneConfig {
        library,
        database,
        channel_listen,
        channel_public: None,
        follow: false,
        follow_interval: None,
        open_tracker: false,
        ready_node: None,
        allow_private_fetches: instance.allow_private_federation,
        federation_retry: instance.federation_retry(),
        redundancy_check: Duration::from_secs(instance.redundancy_check_secs.max(1)),
        publish: instance.publish(),
    }
}

pub(crate) fn piece_policy(fixed: Option<u64>, floor: u64) -> Result<PiecePolicy> {
    Ok(match fixed {
        Some(len) => PiecePolicy::Fixed(piece_length::validate(len).context("--piece-length")?),
        None => PiecePolicy::Auto { floor: piece_length::validate(floor).context("--min-piece-length")? },
    })
}

pub(crate) fn read_file_config(path: Option<&PathBuf>) -> Result<FileConfig> {
    match path {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the configuration file {}", path.display()))?;
            FileConfig::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
        }
        None => Ok(FileConfig::default()),
    }
}

pub(crate) fn database(arg: Option<&str>, schema: Option<&str>, state: &std::path::Path) -> Result<Database> {
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

pub(crate) fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

