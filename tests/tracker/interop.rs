//! Differential test of the WebSocket tracker: the same scripted conversation is played against
//! the npm `bittorrent-tracker` server (what PeerTube runs) and against vidseed by
//! `tests/interop/tracker_diff.mjs`; every reply must agree field by field (error texts aside).


use std::path::Path;
use std::process::Command;

use crate::common::*;

#[test]
fn replies_agree_with_bittorrent_tracker() {
    let node = Node::start(&[("v.mp4", &pseudo_random(50_000, 8))], &[]);
    let ih = node.videos()[0]["infoHash"].as_str().unwrap().to_string();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    assert!(
        dir.join("node_modules/bittorrent-tracker").is_dir(),
        "the npm interop peers are missing: run `npm ci --ignore-scripts --prefix tests/interop` (.ci/run does)"
    );
    let out = Command::new("node")
        .current_dir(&dir)
        .arg("tracker_diff.mjs")
        .arg(format!("ws://{}/tracker/socket", node.data))
        .arg(&ih)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "replies differ:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("\"failures\":0"), "{stdout}");
}

#[test]
fn bittorrent_tracker_clients_announce_and_scrape_over_http() {
    let node = Node::start(&[("v.mp4", &pseudo_random(50_000, 9))], &[]);
    let ih = node.videos()[0]["infoHash"].as_str().unwrap().to_string();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    let out = Command::new("node")
        .current_dir(&dir)
        .arg("http_tracker_client.mjs")
        .arg(format!("http://{}/tracker/announce", node.data))
        .arg(&ih)
        .output()
        .expect("node runs");
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["a"]["update"], serde_json::json!({"complete": 0, "incomplete": 1}));
    assert_eq!(v["b"]["update"], serde_json::json!({"complete": 1, "incomplete": 1}));
    assert_eq!(v["b"]["peers"], serde_json::json!(["127.0.0.1:6881"]), "the seeder was told of the leecher, compactly");
    assert_eq!(v["scrape"], serde_json::json!({"complete": 1, "incomplete": 1, "downloaded": 1}));
}
