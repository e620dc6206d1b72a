//! The contract between vidseed's control plane and data plane: serde types, no I/O.
//!
//! The control plane decides *what* is served (the [`catalog::Catalog`]); the data plane serves it.
//! Everything the two planes exchange is defined here, so that the embedded mode (both planes in
//! one process) and a later network channel speak exactly the same messages.

pub mod backoff;
pub mod catalog;
pub mod channel;
pub mod content_type;
pub mod fetch;
pub mod info_hash;
pub mod net;
pub mod protocol;

pub use backoff::Backoff;
pub use catalog::{Catalog, CatalogFile, FileIdentity};
pub use info_hash::InfoHash;
pub use protocol::{CatalogAck, CatalogUpdate, DataPlaneLink, RejectedFile, PROTOCOL_VERSION};
