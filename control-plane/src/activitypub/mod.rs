//! ActivityPub for the instance: its actor and discovery documents, HTTP Signatures and Linked
//! Data Signatures as PeerTube makes and checks them (pure cores; the I/O is in the HTTP server).

pub mod activities;
pub mod actor;
pub mod encoding;
pub mod fetch;
pub mod http_signature;
pub mod keys;
pub mod ld_signature;
