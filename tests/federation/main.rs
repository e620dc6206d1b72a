//! Federation between real instances on loopback: discovery documents, deliveries, and interop
//! with PeerTube's own libraries (signatures both ways).

#[path = "../common/mod.rs"]
mod common;

mod delivery;
mod discovery;
mod interop;
