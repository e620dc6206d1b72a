//! The delivery queue across failures, with real instances over loopback: an activity for an
//! instance that is down is kept and retried with backoff, and arrives once the instance is back
//! (same address, same database), and a restart of the sender in between loses nothing; a
//! Follow sent while its target is down completes when the target is back.


use std::time::Duration;

use crate::common::{admin_json, admin_token, eventually, Node};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

/// Waits until A's delivery to `host` has failed at least once (the instance there is down).
fn wait_failed_delivery(node: &Node, token: &str, host: &str) {
    eventually(WAIT, "a failed delivery attempt", || {
        let v: Value = admin_json(node.control, token, "GET", &format!("/api/v1/admin/deliveries?host={host}"), None);
        v["deliveries"].as_array()?.iter().any(|d| d["attempts"].as_u64() >= Some(1) && d["lastError"].is_string()).then_some(())
    });
}

fn state_of(node: &Node, token: &str, list: &str, actor: &str) -> Option<String> {
    let v: Value = admin_json(node.control, token, "GET", &format!("/api/v1/admin/{list}"), None);
    v[list].as_array()?.iter().find(|f| f["actor"] == actor).and_then(|f| f["state"].as_str()).map(str::to_owned)
}

#[test]
fn deliveries_to_an_instance_that_is_down_arrive_when_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let folder = |n: &str| {
        let p = dir.path().join(n);
        std::fs::create_dir_all(p.join("media")).unwrap();
        std::fs::write(p.join("media/v.mp4"), b"video").unwrap();
        p
    };
    let (a_dir, b_dir) = (folder("a"), folder("b"));
    let port = |p: u16| format!("127.0.0.1:{p}");
    let (pa, pb) = (free_port(), free_port());
    let args = |p: u16| vec!["--allow-private-federation".to_owned(), "--federation-retry-secs".into(), "1".into(), "--control-listen".into(), port(p)];
    let start = |d: &std::path::Path, p: u16| {
        let a = args(p);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let n = Node::start_in(&d.join("media"), &d.join("state"), &refs);
        n.wait_for_videos(1);
        n
    };
    let a = start(&a_dir, pa);
    let a_token = admin_token(&a);
    let mut b = start(&b_dir, pb);
    let b_token = admin_token(&b);
    let (a_actor, b_base) = (format!("http://{}/accounts/peertube", port(pa)), format!("http://{}", port(pb)));
    let b_actor = format!("{b_base}/accounts/peertube");

    admin_json(a.control, &a_token, "POST", "/api/v1/admin/following", Some(&json!({ "host": b_base })));
    eventually(WAIT, "A follows B", || (state_of(&a, &a_token, "following", &b_actor).as_deref() == Some("accepted")).then_some(()));
    assert_eq!(state_of(&b, &b_token, "followers", &a_actor).as_deref(), Some("accepted"));

    // B goes down; A unfollows: the Undo cannot be delivered now.
    let _ = b.child.kill();
    let _ = b.child.wait();
    admin_json(a.control, &a_token, "DELETE", &format!("/api/v1/admin/following?host={b_base}"), None);
    wait_failed_delivery(&a, &a_token, &port(pb));
    // A restarts too (same database): the queued delivery survives.
    a.interrupt();
    let a = start(&a_dir, pa);
    // B comes back at the same address with its database: the retried Undo arrives.
    b = start(&b_dir, pb);
    eventually(WAIT, "B to receive the Undo and forget A", || state_of(&b, &b_token, "followers", &a_actor).is_none().then_some(()));
    assert_eq!(state_of(&a, &a_token, "following", &b_actor), None);

    // B goes down again and A follows it meanwhile: the Follow waits in A's queue, and the follow
    // completes once B is back.
    let _ = b.child.kill();
    let _ = b.child.wait();
    admin_json(a.control, &a_token, "POST", "/api/v1/admin/following", Some(&json!({ "host": b_base })));
    assert_eq!(state_of(&a, &a_token, "following", &b_actor).as_deref(), Some("pending"));
    wait_failed_delivery(&a, &a_token, &port(pb));
    let b = start(&b_dir, pb);
    eventually(WAIT, "the follow to complete", || (state_of(&a, &a_token, "following", &b_actor).as_deref() == Some("accepted")).then_some(()));
    assert_eq!(state_of(&b, &b_token, "followers", &a_actor).as_deref(), Some("accepted"));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
