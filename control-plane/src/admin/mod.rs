//! `vidseed admin …`, the command-line client of the control plane's admin API: `cli` parses
//! and runs the commands, `client` speaks HTTP to the control plane (both do I/O), `table`
//! turns the answers into text (pure).

pub mod cli;
pub mod client;
pub mod table;

#[cfg(test)]
mod tests;

pub use cli::{run, run_blocking, AdminArgs, AdminCommand, NodeCommand};
pub use client::{AdminClient, AdminError};
