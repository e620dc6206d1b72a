//! The data node's side of the control plane: the catalog channel (QUIC), the certificate pin
//! it trusts, the channel's messages turned into the node's own types, and the node's view of
//! the library that becomes its served catalog. `update`, `node_catalog` and `pin` are pure;
//! `client` (QUIC), `copies` (imports ordered by the control plane) and `disk` (stat,
//! canonicalize) do I/O.

pub mod client;
pub mod copies;
pub mod disk;
pub mod node_catalog;
pub mod pin;
pub mod update;

pub use client::{ChannelClient, ChannelConfig, ChannelStatus, StatsSource};
pub use node_catalog::{local_path, FolderMapping, NodeCatalog, OnDisk};
pub use pin::Pin;
pub use update::{InvalidField, LibraryChange, LibraryFile, LibraryUpdate, Tracked, TrackerPolicy};
