//! The WebTorrent tracker: wire messages (`protocol`, `http`, `ws_frames`), swarm logic
//! (`swarm`), client addresses and per-address limits (`clients`, `rate`), all pure; the shell
//! that connects them to sockets and shard threads (`socket`, with each connection's `outbox`) on top.

pub mod clients;
pub mod http;
pub mod id_hash;
pub mod outbox;
pub mod protocol;
pub mod rate;
pub mod socket;
pub mod swarm;
pub mod ws_frames;
