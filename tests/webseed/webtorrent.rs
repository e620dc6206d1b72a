//! Interop with the real WebTorrent libraries from npm (installed by `.ci/run` into
//! `tests/interop/node_modules`): parse-torrent reads our torrents and magnets, and a WebTorrent
//! client downloads a video from our WebSeed and gets the file's exact bytes.


use std::path::Path;
use std::process::Command;

use crate::common::*;
use sha1::{Digest, Sha1};

fn peer(args: &[&str]) -> serde_json::Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    assert!(
        dir.join("node_modules/webtorrent").is_dir(),
        "the npm interop peers are missing: run `npm ci --ignore-scripts --prefix tests/interop` (.ci/run does)"
    );
    let out = Command::new("node").current_dir(&dir).arg("webtorrent_peer.mjs").args(args).output().expect("node runs");
    assert!(out.status.success(), "interop peer failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn parse_torrent_reads_our_torrent_and_magnet() {
    let bytes = pseudo_random(3 * 1024 * 1024 + 5, 31);
    let node = Node::start(&[("my video.mp4", &bytes)], &[]);
    let v = &node.videos()[0];
    let parsed = peer(&["parse", v["torrentUrl"].as_str().unwrap(), v["magnetUri"].as_str().unwrap()]);
    let t = &parsed["torrent"];
    assert_eq!(t["infoHash"], v["infoHash"]);
    assert_eq!(t["name"], "my video.mp4");
    assert_eq!(t["length"], bytes.len());
    assert_eq!(t["pieceLength"], 262144);
    assert_eq!(t["pieces"], bytes.len().div_ceil(262144));
    assert_eq!(t["lastPieceLength"], bytes.len() % 262144);
    assert_eq!(t["urlList"], serde_json::json!([v["fileUrl"]]));
    let trackers = serde_json::json!([format!("ws://{}/tracker/socket", node.data), format!("http://{}/tracker/announce", node.data)]);
    assert_eq!(t["announce"], trackers);
    let m = &parsed["magnet"];
    assert_eq!(m["infoHash"], v["infoHash"]);
    assert_eq!(m["name"], "my video.mp4");
    assert_eq!(m["announce"], trackers);
    assert_eq!(m["urlList"], serde_json::json!([v["fileUrl"]]));
    assert_eq!(m["xs"], v["torrentUrl"]);
}

#[test]
fn webtorrent_downloads_from_our_webseed() {
    let bytes = pseudo_random(6 * 1024 * 1024 + 4321, 32);
    let node = Node::start(&[("film.webm", &bytes)], &[]);
    let v = &node.videos()[0];
    let got = peer(&["download", v["torrentUrl"].as_str().unwrap()]);
    assert_eq!(got["length"], bytes.len());
    assert_eq!(got["sha1"], hex(&Sha1::digest(&bytes)), "WebTorrent assembled the file's exact bytes");
    assert!(got["webSeedWires"].as_u64().unwrap() >= 1, "the bytes came over the WebSeed: {got}");
}
