//! Every tracker limit, set small in a configuration file, enforced over real WebSockets; and
//! the switch that opens the tracker to any info-hash.


use std::time::Duration;

use crate::common::ws::*;
use crate::common::{get, pseudo_random, Node};
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
    let (node, ih, _d) = node_with("[tracker]\nidle_timeout_secs = 3\n", &[]);
    rt().block_on(async {
        let mut a = connect(&node, "/tracker/socket").await;
        send(&mut a, json!({"action":"announce","info_hash":ih,"peer_id":id(1),"event":"started","left":1})).await;
        recv(&mut a).await;
        assert_eq!(stats(&node)["peers"], 1);
        assert!(closed_by_server(&mut a, Duration::from_secs(10)).await, "an idle socket is closed");
    });
    crate::common::eventually(Duration::from_secs(10), "the idle peer to leave", || (stats(&node)["peers"] == 0).then_some(()));
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
    crate::common::eventually(Duration::from_secs(10), "the peer to leave", || (stats(&node)["peers"] == 0).then_some(()));
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

/// A WebSocket opened by hand over a blocking socket, for frames no well-behaved client sends.
fn raw_socket(node: &Node) -> std::net::TcpStream {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(node.data).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET /tracker/socket HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        node.data
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    s
}

/// A client frame, masked unless `masked` is false.
fn raw_frame(fin: bool, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let key = [1u8, 2, 3, 4];
    let mut out = vec![(u8::from(fin) << 7) | opcode];
    let m = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(m | n as u8),
        n if n <= 0xFFFF => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(m | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// Reads server frames until a close frame (its code) or the end of the stream (None).
fn close_code(s: &mut std::net::TcpStream) -> Option<u16> {
    use std::io::Read;
    loop {
        let mut head = [0u8; 2];
        s.read_exact(&mut head).ok()?;
        let len = match head[1] & 0x7f {
            126 => {
                let mut n = [0u8; 2];
                s.read_exact(&mut n).ok()?;
                usize::from(u16::from_be_bytes(n))
            }
            127 => {
                let mut n = [0u8; 8];
                s.read_exact(&mut n).ok()?;
                u64::from_be_bytes(n) as usize
            }
            n => usize::from(n),
        };
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload).ok()?;
        if head[0] & 0x0f == 0x8 {
            return (len >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
        }
    }
}

#[test]
fn a_message_in_endless_fragments_is_refused_at_the_limit_with_1009() {
    use std::io::Write;
    let (node, _, _d) = node_with("", &[]);
    let before = crate::common::rss_anon_kib(node.pid());
    let mut s = raw_socket(&node);
    // A text frame without FIN, then continuations of 60 KB: the attack that grew the node from
    // 49 MB to 3 GB in seconds. The whole message may not pass 64 KiB (the default).
    s.write_all(&raw_frame(false, 0x1, b"{\"action\":\"announce\",\"pad\":\"", true)).unwrap();
    let chunk = raw_frame(false, 0x0, &[b'x'; 60_000], true);
    let mut sent = 0usize;
    while sent < 300_000_000 {
        if s.write_all(&chunk).is_err() {
            break; // the server closed the connection: what should happen
        }
        sent += chunk.len();
    }
    assert!(sent < 300_000_000, "the server took {sent} bytes of one message without closing");
    assert_eq!(close_code(&mut s), Some(1009), "closed with 'message too big'");
    let after = crate::common::rss_anon_kib(node.pid());
    assert!(after < before + 32 * 1024, "resident memory grew from {before} KiB to {after} KiB");
    // The node still serves others.
    let s2 = raw_socket(&node);
    drop(s2);
}

#[test]
fn unmasked_client_frames_are_refused_with_1002() {
    use std::io::Write;
    let (node, ih, _d) = node_with("", &[]);
    let mut s = raw_socket(&node);
    let msg = json!({"action":"scrape","info_hash":ih}).to_string();
    s.write_all(&raw_frame(true, 0x1, msg.as_bytes(), false)).unwrap();
    assert_eq!(close_code(&mut s), Some(1002));
}

#[test]
fn pings_count_against_the_message_rate() {
    let (node, ih, _d) = node_with("[tracker]\nmax_messages_per_sec = 20\n", &[]);
    rt().block_on(async {
        let mut a = connect(&node, "/tracker/socket").await;
        // A flood of pings: only about a second's budget gets pongs.
        for _ in 0..200 {
            a.write_frame(Frame::new(true, fastwebsockets::OpCode::Ping, None, Payload::Owned(b"p".to_vec()))).await.unwrap();
        }
        // Then a message: over the budget, refused with a reason, the socket kept.
        send(&mut a, json!({"action":"scrape","info_hash":ih})).await;
        let mut pongs = 0u64;
        let refused = loop {
            let f = tokio::time::timeout(Duration::from_secs(10), a.read_frame()).await.expect("a frame in time").unwrap();
            match f.opcode {
                fastwebsockets::OpCode::Pong => pongs += 1,
                fastwebsockets::OpCode::Text => break serde_json::from_slice::<serde_json::Value>(&f.payload).unwrap(),
                other => panic!("unexpected {other:?}"),
            }
        };
        // A second's budget, plus what refilled while the 200 arrived (a slow machine stretches
        // that): far fewer than 200 in any case.
        assert!((20..=100).contains(&pongs), "{pongs} pongs for 200 pings at 20/s");
        assert!(refused["failure reason"].as_str().unwrap().contains("too many messages"), "{refused}");
        // Every ping not answered, and the scrape, were refused.
        assert!(stats(&node)["rateLimited"].as_u64().unwrap() >= 201 - pongs, "{pongs} pongs");
        // After a pause the budget is back.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        send(&mut a, json!({"action":"scrape","info_hash":ih})).await;
        assert_eq!(recv(&mut a).await["action"], "scrape");
    });
}
