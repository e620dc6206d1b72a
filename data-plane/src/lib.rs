//! vidseed's data plane: serves the catalogued files as WebSeeds (BEP 19) over HTTP/1.1 and
//! h2c (or, with TLS, https with ALPN h2), straight from mmap'd files, runs the WebTorrent
//! tracker on the same port, and swaps its catalog atomically when the control plane it follows
//! over the catalog channel publishes a new one. [`DataNode`] puts it all together. Each module
//! says whether it is pure or does I/O.

pub mod catalog;
pub mod channel;
pub mod config;
pub mod counters;
pub mod import;
pub mod node;
pub mod ops;
pub mod sendfile;
pub mod rewind;
pub mod server;
pub mod sigbus;
pub mod tls;
pub mod tracker;
pub mod uring;
pub mod webseed;

pub use catalog::CatalogStore;
pub use config::{DataPlaneConfig, FileConfig, HttpLimits, IoBackend, SendPath, TlsFiles, DEFAULT_CONFIG_TOML};
pub use node::{DataNode, DataNodeConfig};
pub use server::{DataPlane, RunningDataPlane};
