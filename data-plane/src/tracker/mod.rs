//! The WebTorrent tracker: wire messages (`protocol`) and swarm logic (`swarm`), both pure;
//! the WebSocket shell that connects them to sockets comes on top.

pub mod http;
pub mod id_hash;
pub mod protocol;
pub mod rate;
pub mod socket;
pub mod swarm;
pub mod ws_frames;
