//! `vidseed admin …`, the command-line client of the control plane's admin API: `cli` parses
//! and runs the commands (`redundancy_cli` the `redundancy` ones), `client` speaks HTTP to the
//! control plane (these do I/O), `table` and `redundancy_table` turn the answers into text
//! (pure). `wire` holds the API's request and answer bodies, shared with the server
//! (`http/admin.rs`).

pub mod cli;
pub mod client;
pub mod redundancy_cli;
pub mod redundancy_table;
pub mod table;
pub mod videos_cli;
pub mod wire;

#[cfg(test)]
mod tests;

pub use cli::{run, run_blocking, AdminArgs, AdminCommand, NodeCommand};
pub use client::{AdminClient, AdminError};
