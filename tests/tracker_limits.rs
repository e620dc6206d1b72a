//! Every tracker limit, set small in a configuration file, enforced over real WebSockets; and
//! the switch that opens the tracker to any info-hash.

mod common;

use std::time::Duration;

use common::ws::*;
use common::{get, pseudo_random, Node};
use fastwebsockets::{Frame, Payload};
use serde_json::json;

fn node_with(config: &str, extra: &[&str]) -> (Node, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vidseed.toml");
    std::fs::write(&path, config).unwrap();
    let mut args = vec!["--config", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let node = Node::start(&[("v.mp4", &pseudo_random(20_000, 3))], &args);
    let ih = hex_to_bin(node.videos()[0]["infoHash"].as_str().unwrap());
    (node, ih, dir)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn stats(node: &Node) -> serde_json::Value {
    serde_json::from_slice(&get(node.data, "/tracker/stats", &[]).unwrap().body).unwrap()
}

#[test]
fn connections_per_ip() {
    let (node, _, _d) = node_with("[tracker]\nmax_connections_per_ip = 2\n", &[]);
    rt().block_on(async {
        let a = connect(&node, "/tracker/socket").await;
        let b = connect(&node, "/tracker/socket").await;
        let third = try_connect(&node, "/tracker/socket").await;
        assert!(third.is_err(), "a third connection from the same address is refused");
        drop(a);
        // Once one closes, a new one is admitted.
        let start = std::time::Instant::now();
        loop {
            if try_connect(&node, "/tracker/socket").await.is_ok() {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(10));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(b);
    });
}

#[test]
fn announces_per_ip_per_window() {
    let (node, ih, _d) = node_with("[tracker]\nmax_announces_per_ip = 3\nannounce_window_secs = 600\n", &[]);
    rt().block_on(async {
        let mut a = connect(&node, "/tracker/socket").await;
        for _ in 0..3 {
            send(&mut a, json!({"action":"announce","info_hash":ih,"peer_id":id(1),"event":"started","left":1})).await;
            assert_eq!(recv(&mut a).await["action"], "announce");
        }
        send(&mut a, json!({"action":"announce","info_hash":ih,"peer_id":id(1),"left":1})).await;
        let e = recv(&mut a).await;
        assert!(e["failure reason"].as_str().unwrap().contains("too many announces"), "{e}");
        assert_eq!(e["info_hash"], ih.as_str());
    });
}

#[test]
fn idle_connections_are_closed_and_peers_removed() {
    let (node, ih, _d) = node_with("[tracker]\nidle_timeout_secs = 1\n", &[]);
    rt().block_on(async {
        let mut a = connect(&node, "/tracker/socket").await;
        send(&mut a, json!({"action":"announce","info_hash":ih,"peer_id":id(1),"event":"started","left":1})).await;
        recv(&mut a).await;
        assert_eq!(stats(&node)["peers"], 1);
        assert!(closed_by_server(&mut a, Duration::from_secs(10)).await, "an idle socket is closed");
    });
    common::eventually(Duration::from_secs(10), "the idle peer to leave", || (stats(&node)["peers"] == 0).then_some(()));
}

#[test]
fn peers_that_stop_announcing_time_out() {
    let (node, ih, _d) = node_with("[tracker.swarm]\npeer_timeout_secs = 1\n", &[]);
    rt().block_on(async {
        let mut a = connect(&node, "/tracker/socket").await;
        send(&mut a, json!({"action":"announce","info_hash":ih,"peer_id":id(1),"event":"started","left":1})).await;
        recv(&mut a).await;
        // The socket stays open; the peer alone expires (cleaning runs every 10 s).
        let start = std::time::Instant::now();
        loop {
            send(&mut a, json!({"action":"scrape","info_hash":ih})).await;
            let r = recv(&mut a).await;
            if r["files"][&ih]["incomplete"] == 0 {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "peer timed out");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

#[test]
fn message_size_limit() {
    let (node, ih, _d) = node_with("[tracker]\nmax_message_size = 2048\n", &[]);
    rt().block_on(async {
        let mut a = connect(&node, "/tracker/socket").await;
        let sdp = "x".repeat(1500);
        send(&mut a, json!({"action":"announce","info_hash":ih,"peer_id":id(1),"event":"started","left":1,"offers":[{"offer":{"type":"offer","sdp":sdp},"offer_id":id(9)}]})).await;
        assert_eq!(recv(&mut a).await["action"], "announce", "under the limit");
        let big = "x".repeat(3000);
        let _ = a.write_frame(Frame::text(Payload::Owned(json!({"action":"announce","pad":big}).to_string().into_bytes()))).await;
        assert!(closed_by_server(&mut a, Duration::from_secs(10)).await, "over the limit closes the socket");
    });
}

#[test]
fn a_client_that_does_not_read_sheds_its_own_load() {
    let (node, ih, _d) = node_with("[tracker]\nsend_queue = 4\nmax_announces_per_ip = 0\n", &[]);
    rt().block_on(async {
        // B joins and then never reads.
        let mut b = connect(&node, "/tracker/socket").await;
        send(&mut b, json!({"action":"announce","info_hash":ih,"peer_id":id(2),"event":"started","left":1})).await;
        let mut a = connect(&node, "/tracker/socket").await;
        let sdp = "y".repeat(16 * 1024);
        let (mut ra, mut wa) = (0, 0);
        // A floods B with large offers, reading its own replies as it goes.
        while stats(&node)["dropped"].as_u64().unwrap() == 0 {
            send(&mut a, json!({"action":"announce","info_hash":ih,"peer_id":id(1),"left":1,"offers":[{"offer":{"type":"offer","sdp":sdp},"offer_id":id(9)}]})).await;
            wa += 1;
            if recv(&mut a).await["action"] == "announce" {
                ra += 1;
            }
            assert!(wa < 5000, "the stalled client's queue never overflowed");
        }
        assert_eq!(ra, wa, "the reading client got every reply");
        // The node is fine and A is still served.
        send(&mut a, json!({"action":"scrape","info_hash":ih})).await;
        assert_eq!(recv(&mut a).await["files"][&ih]["incomplete"], 2);
        drop(b);
    });
}

#[test]
fn open_tracker_tracks_any_info_hash() {
    let (node, _, _d) = node_with("", &["--open-tracker"]);
    rt().block_on(async {
        let mut a = connect(&node, "/tracker/socket").await;
        send(&mut a, json!({"action":"announce","info_hash":id(0x42),"peer_id":id(1),"event":"started","left":0})).await;
        let r = recv(&mut a).await;
        assert_eq!((r["complete"].as_u64(), r["incomplete"].as_u64()), (Some(1), Some(0)));
        let s = stats(&node);
        assert_eq!((s["swarms"].as_u64(), s["peers"].as_u64(), s["seeders"].as_u64()), (Some(1), Some(1), Some(1)));
        assert_eq!(s["connections"], 1);
    });
    // The socket is gone: so is its peer.
    common::eventually(Duration::from_secs(10), "the peer to leave", || (stats(&node)["peers"] == 0).then_some(()));
}

#[test]
fn a_bad_configuration_file_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[tracker]\nmax_mesage_size = 1\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vidseed"))
        .arg("serve")
        .arg(dir.path())
        .arg("--config")
        .arg(&cfg)
        .args(["--data-listen", "127.0.0.1:0", "--control-listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_mesage_size"), "{}", String::from_utf8_lossy(&out.stderr));
}
