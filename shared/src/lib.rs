//! The contract between vidseed's control plane and its data nodes, and the ids both use: serde
//! types and pure functions, no I/O.
//!
//! The catalog channel's versioned messages and their framing ([`channel`]), the fetch orders it
//! carries ([`fetch`]), the info-hash, the content type of a file name, a file's identity on
//! disk, the one retry [`Backoff`] and the Prometheus text both planes' `/metrics` answer
//! ([`exposition`]).
//! Each plane turns the channel's wire types into its own domain types at its edge.

pub mod backoff;
pub mod channel;
pub mod content_type;
pub mod exposition;
pub mod fetch;
pub mod file_identity;
pub mod info_hash;

pub use backoff::Backoff;
pub use file_identity::FileIdentity;
pub use info_hash::InfoHash;
