//! Failed copies are tried again: after the shared backoff, as many times in a row as the admin
//! allows, then given up (a manual copy stays failed until added again, a strategy's copy is
//! dropped and the video left alone for a check interval); the state, the reason and the next
//! try are in `redundancy list`. Through the real binary: an origin that keeps sending bad data
//! is abandoned with a clear reason, and a copy recovers by itself once the origin is fixed.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use vidseed_control_plane::redundancy::RetryPolicy;
use vidseed_shared::fetch::{FetchReport, FetchState};

use super::redundancy::{in_process_following, until};
use super::Instance;
use crate::common::{eventually, get};
use crate::peertube::{path_of, FakePeerTube, PathFaults};

const UUID_M: &str = "0a1b2c3d-0000-4000-8000-0000000000e1";
const UUID_B: &str = "0a1b2c3d-0000-4000-8000-0000000000e2";

/// How many orders the nodes were handed for copy `id`.
fn orders_of(recorder: &super::redundancy::Recorder, id: &str) -> usize {
    recorder.orders.lock().unwrap().iter().filter(|o| o.id == id).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_copies_are_tried_again_after_a_backoff_then_given_up() {
    let origin = FakePeerTube::start();
    let video = origin.publish_video(UUID_M, "flaky");
    let e = in_process_following(&origin).await;
    let (r, recorder) = (Arc::clone(&e.r), Arc::clone(&e.recorder));
    // A backoff long enough that the checks of a waiting copy run before its retry on a
    // loaded machine; shortened below, where nothing looks at a copy between its tries.
    r.set_retry_policy(RetryPolicy::new(Duration::from_secs(2), 3));
    r.add_manual(&video.url).await.unwrap();
    let id = format!("{}/redundancy/videos/{UUID_M}/360-25", e.base);
    until("the first order", async || (orders_of(&recorder, &id) == 1).then_some(())).await;
    let fail = |why: &str| FetchReport { id: id.clone(), state: FetchState::Failed, done_bytes: 10, total_bytes: 100, reason: Some(why.into()) };
    let view = async || r.list().await.unwrap().into_iter().find(|c| c.copy.id == id).unwrap();

    // A node's import failed: listed as failed with the node's reason and the next try.
    r.on_report("edge-1", fail("no source left: the origin kept sending bad data")).await.unwrap();
    let v = view().await;
    assert_eq!((v.status.state, v.copy.attempts, v.gave_up), ("failed", 1, false));
    assert_eq!(v.status.reason.as_deref(), Some("edge-1: no source left: the origin kept sending bad data"));
    assert!(v.copy.retry_at_ms.is_some(), "the next try is set: {:?}", v.copy);
    // A second node's failure of the same try is not counted again.
    r.on_report("edge-2", fail("disk full")).await.unwrap();
    assert_eq!(view().await.copy.attempts, 1);
    // Tried again: the order handed out anew, the failure reports forgotten.
    until("the order handed out again", async || (orders_of(&recorder, &id) == 2).then_some(())).await;
    let v = view().await;
    assert_eq!((v.status.state, v.copy.retry_at_ms), ("downloading", None), "{:?}", v.status);
    // It works: the count starts again from zero.
    r.on_report("edge-1", FetchReport { id: id.clone(), state: FetchState::Serving, done_bytes: 100, total_bytes: 100, reason: None }).await.unwrap();
    assert_eq!(view().await.copy.attempts, 0);
    r.set_retry_policy(RetryPolicy::new(Duration::from_millis(300), 3));

    // Three failures in a row: given up, no more orders.
    r.remove(&video.url).await.unwrap();
    // (Counted before the add: the order is made by a task of its own, which may run first.)
    let before = orders_of(&recorder, &id);
    r.add_manual(&video.url).await.unwrap();
    until("the copy ordered again", async || (orders_of(&recorder, &id) == before + 1).then_some(())).await;
    for n in 1..=3 {
        r.on_report("edge-1", fail("the origin answered 500")).await.unwrap();
        if n < 3 {
            until("the next try", async || (orders_of(&recorder, &id) == before + 1 + n).then_some(())).await;
        }
    }
    let v = view().await;
    assert_eq!((v.status.state, v.copy.attempts, v.copy.retry_at_ms, v.gave_up), ("failed", 3, None, true));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    r.wake();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(orders_of(&recorder, &id), before + 3, "no try after the last");
    assert!(r.list().await.unwrap().iter().any(|c| c.copy.id == id), "a manual copy stays, failed");
    // Added again by the admin: tried at once, counted from zero.
    r.add_manual(&video.url).await.unwrap();
    assert_eq!(view().await.copy.attempts, 0);
    until("the order handed out after the admin's add", async || (orders_of(&recorder, &id) == before + 4).then_some(())).await;
    r.remove(&video.url).await.unwrap();

    // A strategy's copy given up is dropped, and the strategy leaves the video alone for now.
    let before = orders_of(&recorder, &id);
    r.set_strategies(&json!([{ "strategy": "most-views", "size": "1GB", "minLifetime": 60 }])).await.unwrap();
    until("the strategy's order", async || (orders_of(&recorder, &id) == before + 1).then_some(())).await;
    assert_eq!(view().await.copy.strategy, "most-views");
    for n in 1..=3 {
        r.on_report("edge-1", fail("the origin answered 500")).await.unwrap();
        if n < 3 {
            until("the next try", async || (orders_of(&recorder, &id) == before + 1 + n).then_some(())).await;
        }
    }
    until("the strategy's copies dropped", async || r.list().await.unwrap().is_empty().then_some(())).await;
    assert!(recorder.discards.lock().unwrap().iter().any(|(d, _)| *d == id), "the nodes told to delete it");
    r.wake();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(r.list().await.unwrap().is_empty(), "not chosen again at once");
    e.cp.shutdown().await;
}

/// The admin API's entry for copy `id`.
fn copy(a: &Instance, id: &str) -> Option<Value> {
    a.admin("GET", "/api/v1/admin/redundancy", None)["copies"].as_array()?.iter().find(|c| c["id"] == id).cloned()
}

#[test]
fn an_origin_that_keeps_sending_bad_data_is_abandoned_with_its_reason_and_tried_again() {
    let origin = FakePeerTube::start();
    let video = origin.publish_video(UUID_B, "bad bytes");
    let file = |res: &str| video.web.iter().find(|f| f.name.ends_with(&format!("-{res}.mp4"))).unwrap().clone();
    let (f240, f360) = (file("240"), file("360"));
    // Both web videos come with a flipped byte, every time.
    let corrupt = PathFaults { bytes_per_sec: 0, corrupt_at: Some(100_000) };
    origin.set_faults(&path_of(&f240.url), corrupt);
    origin.set_faults(&path_of(&f360.url), corrupt);
    let a = Instance::start_with(&["--redundancy-retry-secs", "1", "--redundancy-retries", "4"]);
    let (code, out) = a.cli(&["follow", &origin.base]);
    assert_eq!(code, Some(0), "{out}");
    eventually(super::WAIT, "the follow accepted", || (a.state("following", &origin.actor()).as_deref() == Some("accepted")).then_some(()));
    assert_eq!(a.cli(&["redundancy", "allow", &origin.host()]).0, Some(0));
    // (The admin API, not the command: a copy may fail before the command would print.)
    a.admin("POST", "/api/v1/admin/redundancy", Some(json!({ "videoUrl": video.url })));
    let (id240, id360) = (format!("{}/redundancy/videos/{UUID_B}/240-25", a.base()), format!("{}/redundancy/videos/{UUID_B}/360-25", a.base()));

    // Failed, with the node's reason and when it is tried again.
    let failed = eventually(super::WAIT, "the 360p copy failed, its next try set", || copy(&a, &id360).filter(|c| c["state"] == "failed" && c["retryAt"].is_string()));
    let reason = failed["reason"].as_str().unwrap();
    assert!(reason.contains(&format!("{} kept sending bad data", f360.url)) && reason.contains("failed their hash"), "{failed}");
    assert!(failed["retryAt"].is_string() && failed["attempts"].as_u64() >= Some(1), "{failed}");
    // (Asked again if the command ran while a retry was under way.)
    eventually(super::WAIT, "`redundancy list` showing the failure and the next try", || {
        let (code, out) = a.cli(&["redundancy", "list"]);
        assert_eq!(code, Some(0), "{out}");
        (out.contains("kept sending bad data") && out.contains("next try at")).then_some(())
    });
    assert_eq!(get(a.node.data, &format!("/static/redundancy/{}", f360.name), &[]).unwrap().status, 404, "nothing unverified is served");

    // The origin is fixed for the 360p file: the next try makes the copy, nobody asked.
    origin.set_faults(&path_of(&f360.url), PathFaults::default());
    eventually(super::WAIT, "the 360p copy served after a retry", || copy(&a, &id360).filter(|c| c["state"] == "serving"));
    let r = get(a.node.data, &format!("/static/redundancy/{}", f360.name), &[]).unwrap();
    assert!(r.status == 200 && r.body == f360.bytes, "the origin's bytes");
    assert_eq!(copy(&a, &id360).unwrap()["attempts"], 0);

    // The 240p file stays bad: given up after four failures in a row, said so.
    let gave_up = eventually(super::WAIT, "the 240p copy given up", || copy(&a, &id240).filter(|c| c["gaveUp"] == true));
    assert_eq!((gave_up["state"].as_str(), gave_up["attempts"].as_u64(), &gave_up["retryAt"]), (Some("failed"), Some(4), &Value::Null), "{gave_up}");
    assert!(gave_up["reason"].as_str().unwrap().contains("kept sending bad data"), "{gave_up}");
    let (_, out) = a.cli(&["redundancy", "list"]);
    assert!(out.contains("given up after 4 failures in a row; add it again"), "{out}");
    // Fixed, and added again by the admin: made, the command waits for it.
    origin.set_faults(&path_of(&f240.url), PathFaults::default());
    let (code, out) = a.cli(&["redundancy", "add", &video.url]);
    assert_eq!(code, Some(0), "{out}");
    let r = get(a.node.data, &format!("/static/redundancy/{}", f240.name), &[]).unwrap();
    assert!(r.status == 200 && r.body == f240.bytes, "the origin's bytes");
}
