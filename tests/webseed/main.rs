//! The WebSeed and what points at it, against the real binary over loopback: range serving
//! conformance (on epoll and io_uring), the io_uring backend, TLS, torrents and magnets, the viewers' pages, and the real WebTorrent client
//! downloading from the WebSeed.

#[path = "../common/mod.rs"]
mod common;

mod conformance;
mod pages;
mod tls;
mod torrent_and_magnet;
mod uring;
mod webtorrent;
