//! Differential test of the WebSocket tracker: the same scripted conversation is played against
//! the npm `bittorrent-tracker` server (what PeerTube runs) and against vidseed by
//! `tests/interop/tracker_diff.mjs`; every reply must agree field by field (error texts aside).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

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
