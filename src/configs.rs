//! What the binary reads besides its flags: piece-length policy, the configuration file, the
//! database address, the CPU count. Small helpers for `main.rs`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use vidseed_control_plane::library::piece_length::{self, PiecePolicy};
use vidseed_control_plane::store::Database;
use vidseed_data_plane::FileConfig;

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

