//! The classic HTTP tracker (bencoded announce and scrape, compact peers) on the data plane's
//! port, sharing swarms with the WebSocket tracker.


use std::collections::BTreeMap;

use crate::common::*;
use serde::Deserialize;

fn pct(b: &[u8]) -> String {
    b.iter().map(|x| format!("%{x:02X}")).collect()
}

fn ih_bytes(node: &Node) -> Vec<u8> {
    let hex = node.videos()[0]["infoHash"].as_str().unwrap().to_string();
    (0..20).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect()
}

#[derive(Deserialize, Debug)]
struct Announce {
    complete: u64,
    incomplete: u64,
    interval: u64,
    #[serde(with = "serde_bytes")]
    peers: Vec<u8>,
    #[serde(with = "serde_bytes")]
    peers6: Vec<u8>,
}

#[derive(Deserialize, Debug)]
struct PeerDict {
    ip: String,
    port: u16,
    #[serde(rename = "peer id", with = "serde_bytes")]
    peer_id: Vec<u8>,
}

#[derive(Deserialize, Debug)]
struct AnnounceList {
    peers: Vec<PeerDict>,
}

#[derive(Deserialize, Debug)]
struct Failure {
    #[serde(rename = "failure reason")]
    reason: String,
}

#[derive(Deserialize, Debug)]
struct FileCounts {
    complete: u64,
    incomplete: u64,
    downloaded: u64,
}

#[derive(Deserialize, Debug)]
struct Scrape {
    files: BTreeMap<serde_bytes::ByteBuf, FileCounts>,
}

fn announce(node: &Node, ih: &[u8], peer: u8, port: u16, extra: &str) -> Response {
    let q = format!("/tracker/announce?info_hash={}&peer_id={}&port={port}&uploaded=0&downloaded=0{extra}", pct(ih), pct(&[peer; 20]));
    let r = get(node.data, &q, &[]).unwrap();
    assert_eq!(r.status, 200);
    r
}

#[test]
fn announce_and_scrape_bencoded() {
    let node = Node::start(&[("v.mp4", &pseudo_random(10_000, 4))], &[]);
    let ih = ih_bytes(&node);
    let a: Announce = serde_bencode::from_bytes(&announce(&node, &ih, 1, 6881, "&left=100&event=started&compact=1").body).unwrap();
    assert_eq!((a.complete, a.incomplete, a.interval), (0, 1, 120));
    assert!(a.peers.is_empty() && a.peers6.is_empty());
    let a: Announce = serde_bencode::from_bytes(&announce(&node, &ih, 2, 6882, "&left=0&event=started&compact=1").body).unwrap();
    assert_eq!((a.complete, a.incomplete), (1, 1));
    assert_eq!(a.peers, vec![127, 0, 0, 1, 0x1a, 0xe1], "peer 1 at 127.0.0.1:6881, compact");
    let l: AnnounceList = serde_bencode::from_bytes(&announce(&node, &ih, 1, 6881, "&left=100").body).unwrap();
    assert_eq!(l.peers.len(), 1);
    assert_eq!((l.peers[0].ip.as_str(), l.peers[0].port, l.peers[0].peer_id.as_slice()), ("127.0.0.1", 6882, &[2u8; 20][..]));

    let s = get(node.data, &format!("/tracker/scrape?info_hash={}&info_hash={}", pct(&ih), pct(&[9; 20])), &[]).unwrap();
    let s: Scrape = serde_bencode::from_bytes(&s.body).unwrap();
    let mine = &s.files[&serde_bytes::ByteBuf::from(ih.clone())];
    assert_eq!((mine.complete, mine.incomplete, mine.downloaded), (1, 1, 1));
    assert_eq!(s.files[&serde_bytes::ByteBuf::from(vec![9u8; 20])].complete, 0);

    announce(&node, &ih, 2, 6882, "&event=stopped");
    let s: Scrape = serde_bencode::from_bytes(&get(node.data, &format!("/tracker/scrape?info_hash={}", pct(&ih)), &[]).unwrap().body).unwrap();
    assert_eq!(s.files.values().next().unwrap().complete, 0);
}

#[test]
fn http_errors_are_failure_reasons() {
    let node = Node::start(&[("v.mp4", &pseudo_random(10_000, 5))], &[]);
    let ih = ih_bytes(&node);
    for (target, why) in [
        (format!("/tracker/announce?info_hash={}&peer_id={}&port=1", pct(&[7; 20]), pct(&[1; 20])), "not tracked"),
        (format!("/tracker/announce?info_hash={}&peer_id={}", pct(&ih), pct(&[1; 20])), "port"),
        (format!("/tracker/announce?info_hash=abc&peer_id={}&port=1", pct(&[1; 20])), "info_hash"),
        (format!("/tracker/announce?info_hash={}&peer_id={}&port=1&event=x", pct(&ih), pct(&[1; 20])), "event"),
        ("/tracker/scrape".to_string(), "full scrape"),
    ] {
        let r = get(node.data, &target, &[]).unwrap();
        assert_eq!(r.status, 200);
        let f: Failure = serde_bencode::from_bytes(&r.body).unwrap_or_else(|e| panic!("{target}: {e}"));
        assert!(f.reason.contains(why), "{target}: {}", f.reason);
    }
}

#[test]
fn behind_a_reverse_proxy_peers_get_their_real_address() {
    let node = Node::start(&[("v.mp4", &pseudo_random(10_000, 6))], &[]);
    let ih = ih_bytes(&node);
    let q = |peer: u8, port: u16| format!("/tracker/announce?info_hash={}&peer_id={}&port={port}&left=1&compact=1", pct(&ih), pct(&[peer; 20]));
    let r = get(node.data, &q(1, 7000), &[("X-Forwarded-For", "203.0.113.9")]).unwrap();
    assert_eq!(r.status, 200);
    let r = get(node.data, &q(2, 7001), &[("X-Forwarded-For", "198.51.100.1, 203.0.113.10")]).unwrap();
    let a: Announce = serde_bencode::from_bytes(&r.body).unwrap();
    assert_eq!(a.peers, vec![203, 0, 113, 9, 0x1b, 0x58], "the first peer at its forwarded address");
}
