//! The WebTorrent tracker over real WebSockets on the data plane's port: offers, answers,
//! counts, scrape, refusals and malformed input.


use std::time::Duration;

use crate::common::ws::*;
use crate::common::{get, pseudo_random, Node};
use fastwebsockets::{Frame, OpCode, Payload};
use serde_json::{json, Value};

async fn scrape(ws: &mut Ws, ih: &str) -> (u64, u64) {
    send(ws, json!({"action": "scrape", "info_hash": ih})).await;
    let r = recv(ws).await;
    assert_eq!(r["action"], "scrape");
    let f = &r["files"][ih];
    (f["complete"].as_u64().unwrap(), f["incomplete"].as_u64().unwrap())
}

fn offer(n: u8) -> Value {
    json!({"offer": {"type": "offer", "sdp": format!("v=0 offer {n}")}, "offer_id": id(100 + n)})
}

#[test]
fn two_peers_meet_through_the_tracker() {
    let node = Node::start(&[("v.mp4", &pseudo_random(300_000, 1))], &[]);
    let ih = hex_to_bin(node.videos()[0]["infoHash"].as_str().unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let mut a = connect(&node, "/tracker/socket").await;
        send(&mut a, json!({"action":"announce","info_hash":ih,"peer_id":id(1),"numwant":5,"uploaded":0,"downloaded":0,"left":300000,"event":"started","offers":[offer(1)]})).await;
        let r = recv(&mut a).await;
        assert_eq!((r["action"].as_str(), r["info_hash"].as_str(), r["interval"].as_u64()), (Some("announce"), Some(ih.as_str()), Some(120)));
        assert_eq!((r["complete"].as_u64(), r["incomplete"].as_u64()), (Some(0), Some(1)));

        // B, a seeder on another connection (the path `/` is accepted too), offers twice.
        let mut b = connect(&node, "/").await;
        send(&mut b, json!({"action":"announce","info_hash":ih,"peer_id":id(2),"left":0,"event":"started","offers":[offer(2), offer(3)]})).await;
        let r = recv(&mut b).await;
        assert_eq!((r["complete"].as_u64(), r["incomplete"].as_u64()), (Some(1), Some(1)));
        // A gets exactly one of B's offers.
        let o = recv(&mut a).await;
        assert_eq!(o["action"], "announce");
        assert_eq!(o["peer_id"], id(2));
        assert_eq!(o["info_hash"], ih);
        assert_eq!(o["offer"]["type"], "offer");
        let offer_id = o["offer_id"].as_str().unwrap().to_string();
        assert!(offer_id == id(102) || offer_id == id(103));

        // A answers; only B gets it.
        send(&mut a, json!({"action":"announce","info_hash":ih,"peer_id":id(1),"to_peer_id":id(2),"answer":{"type":"answer","sdp":"v=0 answer"},"offer_id":offer_id})).await;
        let ans = recv(&mut b).await;
        assert_eq!(ans["answer"]["sdp"], "v=0 answer");
        assert_eq!(ans["peer_id"], id(1));
        assert_eq!(ans["offer_id"], offer_id);
        assert_eq!(ans["info_hash"], ih);

        // A spoofed answer (to an offer never forwarded to the answerer) is refused.
        send(&mut a, json!({"action":"announce","info_hash":ih,"peer_id":id(1),"to_peer_id":id(2),"answer":{"type":"answer","sdp":"x"},"offer_id":id(77)})).await;
        let e = recv(&mut a).await;
        assert!(e["failure reason"].is_string());
        assert_eq!((e["action"].as_str(), e["info_hash"].as_str()), (Some("announce"), Some(ih.as_str())));

        assert_eq!(scrape(&mut a, &ih).await, (1, 1));
        // A completes: two seeders.
        send(&mut a, json!({"action":"announce","info_hash":ih,"peer_id":id(1),"left":0,"event":"completed"})).await;
        let r = recv(&mut a).await;
        assert_eq!((r["complete"].as_u64(), r["incomplete"].as_u64()), (Some(2), Some(0)));
        // B's socket closes: it leaves the swarm at once.
        drop(b);
        let start = std::time::Instant::now();
        while scrape(&mut a, &ih).await != (1, 0) {
            assert!(start.elapsed() < Duration::from_secs(10), "B left the swarm in time");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A stops.
        send(&mut a, json!({"action":"announce","info_hash":ih,"peer_id":id(1),"event":"stopped","left":0})).await;
        let r = recv(&mut a).await;
        assert_eq!((r["complete"].as_u64(), r["incomplete"].as_u64()), (Some(0), Some(0)));
    });
}

#[test]
fn refusals_and_malformed_input() {
    let node = Node::start(&[("v.mp4", &pseudo_random(1000, 2))], &[]);
    let ih = hex_to_bin(node.videos()[0]["infoHash"].as_str().unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let mut a = connect(&node, "/tracker/socket").await;
        // An info-hash the control plane never published.
        send(&mut a, json!({"action":"announce","info_hash":id(9),"peer_id":id(1),"event":"started","left":1})).await;
        let e = recv(&mut a).await;
        assert!(e["failure reason"].as_str().unwrap().contains("not tracked"));
        assert_eq!((e["action"].as_str(), e["info_hash"].as_str()), (Some("announce"), Some(id(9).as_str())));
        // Wrong types and lengths get a reason and the socket stays usable.
        for bad in [
            json!({"action":"announce","info_hash":ih,"peer_id":"short","event":"started"}),
            json!({"action":"announce","info_hash":ih,"peer_id":id(1),"event":"exploded"}),
            json!({"action":"announce","info_hash":"\u{100}".repeat(20),"peer_id":id(1)}),
            json!({"action":"dance","info_hash":ih}),
            json!({"action":"announce","info_hash":ih,"peer_id":id(1),"offers":"nope"}),
            json!({"action":"scrape"}),
        ] {
            send(&mut a, bad.clone()).await;
            let e = recv(&mut a).await;
            assert!(e["failure reason"].is_string(), "{bad} → {e}");
        }
        // Binary frames work as text does.
        let msg = json!({"action":"announce","info_hash":ih,"peer_id":id(1),"event":"started","left":1}).to_string();
        a.write_frame(Frame::binary(Payload::Owned(msg.into_bytes()))).await.unwrap();
        assert_eq!(recv(&mut a).await["incomplete"], 1);
        // The same peer id from another connection is refused.
        let mut b = connect(&node, "/tracker/socket").await;
        send(&mut b, json!({"action":"announce","info_hash":ih,"peer_id":id(1),"event":"started","left":0})).await;
        assert!(recv(&mut b).await["failure reason"].is_string());
        // A message over the size limit closes that connection only.
        let big = format!(r#"{{"action":"announce","pad":"{}"}}"#, "x".repeat(70 * 1024));
        let _ = b.write_frame(Frame::text(Payload::Owned(big.into_bytes()))).await;
        let closed = tokio::time::timeout(Duration::from_secs(10), b.read_frame()).await.unwrap();
        assert!(closed.is_err() || closed.unwrap().opcode == OpCode::Close);
        // Garbage that is not JSON: a reason, then the socket is closed.
        let mut c = connect(&node, "/tracker/socket").await;
        c.write_frame(Frame::text(Payload::Borrowed(b"{not json"))).await.unwrap();
        assert!(recv(&mut c).await["failure reason"].is_string());
        let next = tokio::time::timeout(Duration::from_secs(10), c.read_frame()).await.unwrap();
        assert!(next.is_err() || next.unwrap().opcode == OpCode::Close);
        // A keeps working.
        assert_eq!(scrape(&mut a, &ih).await, (0, 1));
    });
    // A plain GET of the socket path says what it is.
    let r = get(node.data, "/tracker/socket", &[]).unwrap();
    assert_eq!(r.status, 426);
}

#[test]
fn many_peers_offers_fan_out_and_answers_return() {
    let node = Node::start(&[("v.mp4", &pseudo_random(4_000, 6))], &[]);
    let ih = hex_to_bin(node.videos()[0]["infoHash"].as_str().unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let n = 12u8;
        let mut peers = Vec::new();
        for p in 1..=n {
            let mut ws = connect(&node, "/tracker/socket").await;
            let left = if p % 3 == 0 { 0 } else { 100 };
            send(&mut ws, json!({"action":"announce","info_hash":ih,"peer_id":id(p),"event":"started","left":left})).await;
            let r = recv(&mut ws).await;
            assert_eq!(r["complete"].as_u64().unwrap() + r["incomplete"].as_u64().unwrap(), u64::from(p));
            peers.push(ws);
        }
        // A newcomer offers five times: five different peers get one offer each.
        let mut me = connect(&node, "/tracker/socket").await;
        let offers: Vec<_> = (0..5).map(|i| json!({"offer":{"type":"offer","sdp":format!("sdp{i}")},"offer_id":id(200 + i)})).collect();
        send(&mut me, json!({"action":"announce","info_hash":ih,"peer_id":id(99),"event":"started","left":100,"offers":offers})).await;
        let r = recv(&mut me).await;
        assert_eq!((r["complete"].as_u64(), r["incomplete"].as_u64()), (Some(4), Some(9)));
        let mut got = Vec::new();
        for (i, ws) in peers.iter_mut().enumerate() {
            if let Ok(Ok(frame)) = tokio::time::timeout(Duration::from_millis(500), ws.read_frame()).await {
                let o: Value = serde_json::from_slice(&frame.payload).unwrap();
                assert_eq!(o["peer_id"], id(99));
                got.push((i, o["offer_id"].as_str().unwrap().to_string()));
            }
        }
        assert_eq!(got.len(), 5, "five distinct peers got one offer each");
        let mut ids: Vec<&String> = got.iter().map(|g| &g.1).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 5, "each offer went to one peer only");
        // Every one of them answers; all five answers reach the newcomer, from the right peers.
        for (i, offer_id) in &got {
            let from = *i as u8 + 1;
            send(&mut peers[*i], json!({"action":"announce","info_hash":ih,"peer_id":id(from),"to_peer_id":id(99),"offer_id":offer_id,"answer":{"type":"answer","sdp":format!("ans{from}")}})).await;
        }
        let mut answered = Vec::new();
        for _ in 0..5 {
            let a = recv(&mut me).await;
            assert_eq!(a["answer"]["sdp"], format!("ans{}", a["peer_id"].as_str().unwrap().chars().next().unwrap() as u32));
            answered.push(a["peer_id"].as_str().unwrap().to_string());
        }
        answered.sort();
        let mut want: Vec<String> = got.iter().map(|(i, _)| id(*i as u8 + 1)).collect();
        want.sort();
        assert_eq!(answered, want);
    });
}

/// The tracker's numbers reach the control plane in the node's stats (what `vidseed admin nodes`
/// shows): peers, swarms, messages and messages per second.
#[test]
fn tracker_stats_reach_the_control_plane() {
    let node = Node::start(&[("v.mp4", &pseudo_random(100_000, 9))], &[]);
    let token = crate::common::admin_token(&node);
    let ih = hex_to_bin(node.videos()[0]["infoHash"].as_str().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _ws = rt.block_on(async {
        let mut ws = connect(&node, "/tracker/socket").await;
        for _ in 0..3 {
            send(&mut ws, json!({"action":"announce","info_hash":ih,"peer_id":id(1),"left":5,"numwant":0})).await;
            assert_eq!(recv(&mut ws).await["action"], "announce");
        }
        ws
    });
    let stats = crate::common::eventually(Duration::from_secs(30), "the node's stats with its tracker peer", || {
        let v = crate::common::admin_json(node.control, &token, "GET", "/api/v1/admin/nodes", None);
        let s = v["nodes"][0]["stats"].clone();
        (s["peers"] == 1 && s["trackerMessages"].as_u64() >= Some(3)).then_some(s)
    });
    assert_eq!(stats["swarms"], 1, "{stats}");
    assert!(stats["trackerMessagesPerSec"].is_u64(), "{stats}");
}
