//! A cache killed mid-import (SIGKILL of the real `vidseed serve` process) and started again on
//! the same state folder: the copy resumes from what was verified, the origin serves the rest
//! only, and the copy ends as the origin's exact bytes.

use std::time::Duration;

use serde_json::Value;

use super::Instance;
use crate::common::{admin_token, eventually, get, Node};
use crate::peertube::{path_of, FakePeerTube, PathFaults};

const UUID: &str = "0a1b2c3d-0000-4000-8000-0000000000d1";
/// The 360p web video's size: large enough that the import, paced by the origin, is still
/// running when the test kills the cache.
const BIG: u64 = 24 << 20;
/// What the origin sends per second for that file, all connections together.
const ORIGIN_RATE: u64 = 3 << 20;
/// The most a range request of the importer asks at once (its batch, in the data plane):
/// what a kill can leave fetched but not yet verified, per range in flight.
const BATCH: u64 = 4 << 20;
const PARALLEL: u64 = 2;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The admin API's entry for copy `id`.
fn copy(a: &Instance, id: &str) -> Option<Value> {
    a.admin("GET", "/api/v1/admin/redundancy", None)["copies"].as_array()?.iter().find(|c| c["id"] == id).cloned()
}

#[test]
fn a_cache_killed_mid_import_resumes_without_fetching_verified_data_again() {
    let origin = FakePeerTube::start();
    let video = origin.publish_video_sized(UUID, "long clip", |height| (height == 360).then_some(BIG));
    let web = video.web.iter().find(|f| f.name.ends_with("-360.mp4")).unwrap().clone();
    assert_eq!(web.bytes.len() as u64, BIG);
    let path = path_of(&web.url);
    origin.set_faults(&path, PathFaults { bytes_per_sec: ORIGIN_RATE, corrupt_at: None });

    let dir = tempfile::tempdir().unwrap();
    let (media, state) = (dir.path().join("media"), dir.path().join("state"));
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(media.join("v.mp4"), b"video").unwrap();
    // The same addresses after the restart: the copies' ids and URLs name them.
    let (control, data) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    let parallel = PARALLEL.to_string();
    let args = ["--allow-private-federation", "--control-listen", &control, "--data-listen", &data, "--redundancy-parallel", &parallel];
    let node = Node::start_in(&media, &state, &args);
    node.wait_for_videos(1);
    let token = admin_token(&node);
    let mut a = Instance { node, token };

    let (code, out) = a.cli(&["follow", &origin.base]);
    assert_eq!(code, Some(0), "{out}");
    eventually(super::WAIT, "the follow accepted", || (a.state("following", &origin.actor()).as_deref() == Some("accepted")).then_some(()));
    let (code, out) = a.cli(&["redundancy", "allow", &origin.host()]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = a.cli(&["redundancy", "add", &video.url, "--no-wait"]);
    assert_eq!(code, Some(0), "{out}");

    // Killed (SIGKILL: nothing is flushed or saved on the way out) once a third of the big file
    // is verified.
    let id = format!("{}/redundancy/videos/{UUID}/360-25", a.base());
    let verified = eventually(Duration::from_secs(60), "a third of the big file verified", || {
        let c = copy(&a, &id)?;
        let done = c["doneBytes"].as_u64()?;
        assert_ne!(c["state"], "serving", "the import was over before the kill: {c}");
        (done >= BIG / 3).then_some(done)
    });
    a.node.child.kill().unwrap();
    a.node.child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let before = origin.served(&path);
    assert!(before < BIG, "the origin had not sent the whole file yet ({before} bytes)");
    let partial = state.join("redundancy/.partial").join(&web.name);
    assert!(partial.exists(), "the partial file stays for the restart");
    assert!(!state.join("redundancy").join(&web.name).exists(), "nothing unverified in place");

    // Started again on the same state: the node gets its orders again and resumes.
    a.node = Node::start_in(&media, &state, &args);
    a.node.wait_for_videos(1);
    eventually(Duration::from_secs(90), "the three copies served after the restart", || {
        let list = a.admin("GET", "/api/v1/admin/redundancy", None);
        let copies = list["copies"].as_array()?.clone();
        (copies.len() == 3 && copies.iter().all(|c| c["state"] == "serving")).then_some(())
    });
    let after = origin.served(&path) - before;
    // What was verified before the kill is not fetched again: the second run fetches at most
    // the rest, plus one batch for a report that raced the last save of the record.
    assert!(after <= BIG - verified + BATCH, "the second run fetched {after} bytes of {BIG}, {verified} of which were verified before the kill");
    // In all, well under twice the file: at most the ranges in flight at the kill are lost.
    let total = before + after;
    assert!(total <= BIG + PARALLEL * BATCH + BATCH, "the origin sent {total} bytes for a file of {BIG}");

    // The origin's exact bytes, where PeerTube serves its copies.
    let r = get(a.node.data, &format!("/static/redundancy/{}", web.name), &[]).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body == web.bytes, "the copy holds the origin's bytes");
    assert!(!partial.exists(), "the partial file moved into place");
}
