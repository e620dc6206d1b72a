//! The control plane's end of the catalog channel: its certificate, the updates each data node
//! gets, and the QUIC server that keeps every node's catalog in step with the library.

pub mod cert;
pub mod fetch;
pub mod server;
pub mod updates;

pub use cert::ChannelIdentity;
pub use server::{ChannelServer, RunningChannel};
