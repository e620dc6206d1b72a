//! The watch page in a real browser: Debian's Chromium driven by playwright-core
//! (tests/interop/watch_page.mjs) against real vidseed processes, all inside a network namespace
//! of the test's own with only loopback (`unshare -n`), where WebRTC between two browsers works
//! with no STUN server.
//!
//! 1. A page plays a video from the WebSeed (currentTime advances) and WebTorrent's bytes hash to
//!    the file's SHA-256; a second browser, its WebSeed requests blocked, gets every piece from the
//!    first over WebRTC, signalled through our tracker, and plays too; two watch pages of two
//!    videos in one browser both play their own video.
//! 2. Two data nodes serve the video; the viewer seeks ahead mid-download and plays on from there;
//!    one node is killed mid-play: playback goes on from the other.
//! 3. A WebSeed behind a proxy without CORS stalls WebTorrent silently; the page's panel says so.
//!
//! Each test re-runs itself (`--exact NAME --ignored`) inside the namespace: the `inner_` tests
//! are those halves. They need root (for `unshare`), `chromium`, `ffmpeg` and `ip` (`.ci/run`
//! installs them). On a failure the pages' screenshots are under
//! `target/tmp/browser-screenshots/` and their paths are in the message.

mod common;
#[path = "common/cluster.rs"]
mod cluster;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use cluster::*;
use common::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// One browser scenario at a time: each runs one or two Chromiums, and on 2 cores two scenarios
/// at once would mostly measure each other.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs the `inner` test of this binary inside a new network namespace with only loopback up.
fn in_loopback_namespace(inner: &str) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new("unshare")
        .args(["--net", "--", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        .arg(exe)
        .args([inner, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("VIDSEED_IN_TEST_NAMESPACE", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run unshare (util-linux) for the browser tests: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{inner} inside a loopback-only network namespace failed ({}).\n\
         (It needs root for `unshare --net`, /usr/bin/chromium, ffmpeg and ip; .ci/run installs them.)\n\
         stdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
}

/// An H.264/AAC MP4 with its index first (what PeerTube serves), made by ffmpeg.
fn make_video(path: &Path, seconds: u32, kbps: u32) -> Vec<u8> {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
        .args(["-t", &seconds.to_string(), "-c:v", "libx264", "-preset", "ultrafast", "-b:v", &format!("{kbps}k")])
        .args(["-g", "50", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart"])
        .arg(path)
        .status()
        .unwrap_or_else(|e| panic!("ffmpeg is needed to make the test video (apt-get install ffmpeg): {e}"));
    assert!(status.success(), "ffmpeg failed: {status}");
    std::fs::read(path).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn shots_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots")
}

/// Runs a scenario of the browser harness and returns its findings.
fn browser(scenario: &str, config: Value) -> Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: run `npm ci --ignore-scripts --prefix tests/interop` (.ci/run does)"
    );
    let mut config = config;
    config["shots"] = json!(shots_dir());
    let out = Command::new("node")
        .current_dir(&dir)
        .args(["watch_page.mjs", scenario, &config.to_string()])
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    let found: Value = serde_json::from_str(last).unwrap_or_else(|e| {
        panic!("the browser harness said no JSON ({e}):\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr))
    });
    assert!(
        out.status.success() && found["ok"] == true,
        "browser scenario {scenario} failed: {}\nscreenshots: {}\n{}",
        found["error"],
        found["screenshots"],
        String::from_utf8_lossy(&out.stderr)
    );
    found
}

fn n(v: &Value) -> u64 {
    v.as_f64().map(|f| f as u64).unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn the_page_plays_and_a_second_viewer_gets_it_over_webrtc() {
    in_loopback_namespace("inner_the_page_plays_and_a_second_viewer_gets_it_over_webrtc");
}

#[test]
#[ignore = "run by the_page_plays_and_a_second_viewer_gets_it_over_webrtc inside its network namespace"]
fn inner_the_page_plays_and_a_second_viewer_gets_it_over_webrtc() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    let bytes = make_video(&media.join("clip.mp4"), 30, 2500);
    let other = make_video(&media.join("other.mp4"), 12, 1500);
    let node = Node::start_in(&media, &tmp.path().join("state"), &[]);
    let videos = node.wait_for_videos(2);
    let video = videos.iter().find(|v| v["name"] == "clip.mp4").unwrap();
    let other_video = videos.iter().find(|v| v["name"] == "other.mp4").unwrap();
    let watch = video["watchUrl"].as_str().unwrap();
    // The info-hash address until the publisher gives the video its UUID (then that one; the
    // older address redirects): the page is the same.
    assert!(watch.starts_with(&format!("http://{}/videos/watch/", node.control)), "{watch}");
    let got = browser("play-and-share", json!({ "watchUrl": watch }));
    let size = bytes.len() as u64;
    let sha = sha256_hex(&bytes);

    let a = &got["a"];
    assert_eq!(a["sha256"], sha.as_str(), "page A assembled the file's exact bytes");
    assert!(a["streaming"] == true, "page A streams through the service worker: {a}");
    assert!(n(&a["fromWebSeeds"]) >= size && n(&a["fromPeers"]) == 0, "page A's bytes came from the WebSeed: {a}");
    let ws = &a["webseeds"][0];
    assert_eq!(ws["label"], "local");
    assert_eq!(ws["url"], video["fileUrl"]);
    assert!(n(&ws["bytes"]) >= size && ws["problem"].is_null(), "the panel credits the WebSeed: {ws}");
    assert!(a["panel"].as_str().unwrap().contains("From WebSeeds"), "{a}");

    let b = &got["b"];
    assert!(n(&got["blockedWebSeedRequests"]) > 0, "B's WebSeed requests were blocked: {got}");
    assert_eq!(b["sha256"], sha.as_str(), "page B assembled the file's exact bytes");
    assert_eq!(n(&b["fromWebSeeds"]), 0, "B got nothing from the WebSeed: {b}");
    assert!(n(&b["fromPeers"]) >= size && n(&b["peers"]) >= 1, "B got every piece from A over WebRTC: {b}");
    assert!(n(&got["aAfter"]["uploaded"]) >= size, "A's panel counts what it sent to B: {}", got["aAfter"]);

    // Two watch pages in one browser share the service worker; each plays its own video.
    let tabs = browser("two-tabs", json!({ "watchUrls": [watch, other_video["watchUrl"]] }));
    assert_eq!(tabs["a"]["sha256"], sha.as_str(), "tab 1 got its own video");
    assert_eq!(tabs["b"]["sha256"], sha256_hex(&other).as_str(), "tab 2 got its own video");
}

#[test]
fn playback_survives_losing_one_of_two_webseeds() {
    in_loopback_namespace("inner_playback_survives_losing_one_of_two_webseeds");
}

#[test]
#[ignore = "run by playback_survives_losing_one_of_two_webseeds inside its network namespace"]
fn inner_playback_survives_losing_one_of_two_webseeds() {
    let tmp = tempfile::tempdir().unwrap();
    let library = tmp.path().join("library");
    std::fs::create_dir_all(&library).unwrap();
    let bytes = make_video(&library.join("clip.mp4"), 40, 3000);
    let control = start_control(&library, &tmp.path().join("state"), None, free_tcp_port(), free_udp_port(), None);
    let (p1, p2) = (free_tcp_port(), free_tcp_port());
    let cfg1 = add_node(&control, tmp.path(), "n1", p1, &library);
    let cfg2 = add_node(&control, tmp.path(), "n2", p2, &library);
    let n1 = Proc::start(&["data", "--config", cfg1.to_str().unwrap(), "--data-workers", "1"]);
    let _n2 = Proc::start(&["data", "--config", cfg2.to_str().unwrap(), "--data-workers", "1"]);
    add(control.http, &control.token, "clip.mp4");
    let video = eventually(WAIT, "the video on both nodes", || {
        let list: Value = serde_json::from_slice(&get(control.http, "/api/v1/videos", &[]).ok()?.body).ok()?;
        let v = list.as_array()?.first()?.clone();
        (v["webseeds"].as_array()?.len() == 2).then_some(v)
    });
    let got = browser(
        "failover",
        json!({ "watchUrl": video["watchUrl"], "killPid": n1.child.id(), "delayMs": 150 }),
    );
    let (before, after) = (&got["before"], &got["after"]);
    assert!(before["done"] == false && !before["firstFrameMs"].is_null(), "it played before the download ended: {before}");
    assert!(n(&got["seekTo"]) >= 20 && n(&before["currentTime"]) >= n(&got["seekTo"]), "it played on from a seek ahead, mid-download: {got}");
    assert_eq!(after["sha256"], sha256_hex(&bytes).as_str(), "the file came out whole");
    let bytes_of = |s: &Value, label: &str| n(&s["webseeds"].as_array().unwrap().iter().find(|w| w["label"] == label).unwrap()["bytes"]);
    assert!(bytes_of(before, "n1") > 0, "n1 was serving before it stopped: {before}");
    assert!(bytes_of(after, "n2") > bytes_of(before, "n2"), "n2 carried on after n1 stopped: {after}");
    assert!(after["playerError"].is_null() && after["error"].is_null(), "{after}");
}

#[test]
fn the_panel_names_a_webseed_without_cors() {
    in_loopback_namespace("inner_the_panel_names_a_webseed_without_cors");
}

#[test]
#[ignore = "run by the_panel_names_a_webseed_without_cors inside its network namespace"]
fn inner_the_panel_names_a_webseed_without_cors() {
    let tmp = tempfile::tempdir().unwrap();
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    make_video(&media.join("clip.mp4"), 10, 1000);
    // The node's public URL is a proxy (started by the harness) that drops CORS.
    let proxy = free_tcp_port();
    let public = format!("http://127.0.0.1:{proxy}");
    let node = Node::start_in(&media, &tmp.path().join("state"), &["--public-url", &public]);
    let video = &node.wait_for_videos(1)[0];
    assert!(video["fileUrl"].as_str().unwrap().starts_with(&public));
    let got = browser(
        "cors",
        json!({ "watchUrl": video["watchUrl"], "proxyPort": proxy, "upstream": node.data.to_string() }),
    );
    let ws = &got["webseeds"][0];
    // WebTorrent did add the WebSeed (its wire exists) once the torrent was ready, and then got
    // nothing from it.
    assert!(!got["metadataMs"].is_null() && !ws["addedAt"].is_null(), "{got}");
    assert_eq!(ws["status"], "stalled", "{got}");
    assert!(ws["problem"].as_str().unwrap().contains("without the CORS headers"), "{ws}");
    assert_eq!(n(&got["fromWebSeeds"]), 0);
    let panel = got["panel"].as_str().unwrap();
    assert!(panel.contains("stalled: no WebSeed sends data") && panel.contains("Access-Control-Allow-Origin"), "{panel}");
}
