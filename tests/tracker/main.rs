//! The WebTorrent tracker over real sockets: WebSocket announces and relays, the classic HTTP
//! tracker, every limit, and a differential test against the npm `bittorrent-tracker` server.

#[path = "../common/mod.rs"]
mod common;

mod http;
mod interop;
mod limits;
mod ws;
