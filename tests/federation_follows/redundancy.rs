//! Redundancy against a PeerTube-shaped instance served from the test: vidseed follows it,
//! learns its videos (outbox, Announce, Delete; a malformed Video refused without stopping the
//! inbox), keeps copies whose fetch orders name the right files, sources and checks; a copy a
//! node serves is announced to the origin (Create CacheFile to its account), served at its id,
//! extended (Update) and undone (Undo before the nodes are told to delete it); and, as the
//! origin, vidseed checks a copy of its own video by reading pieces back, advertises it (API,
//! magnet `ws=`, torrent url-list with the same info-hash) and forgets it on Undo.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use sha1::Digest as _;

use super::{Instance, WAIT};
use crate::common::{eventually, get, pseudo_random, Node};
use crate::peertube::{hex, FakePeerTube, FakeVideo};

const UUID_A: &str = "0a1b2c3d-0000-4000-8000-00000000000a";
const UUID_B: &str = "0a1b2c3d-0000-4000-8000-00000000000b";
const UUID_BROKEN: &str = "0a1b2c3d-0000-4000-8000-00000000000c";

fn known_videos(a: &Instance) -> Vec<String> {
    let v = a.admin("GET", "/api/v1/admin/redundancy/videos", None);
    v["videos"].as_array().unwrap().iter().map(|x| x["url"].as_str().unwrap().to_owned()).collect()
}

fn order_for<'a>(orders: &'a [Value], id: &str) -> &'a Value {
    orders.iter().find(|o| o["id"] == id).unwrap_or_else(|| panic!("no order {id} in {orders:?}"))
}

/// The file of an order whose path ends with `name`.
fn file_named<'a>(order: &'a Value, name: &str) -> &'a Value {
    order["files"].as_array().unwrap().iter().find(|f| f["path"].as_str().unwrap().ends_with(name)).unwrap_or_else(|| panic!("no {name} in {order}"))
}

/// ISO 8601 (`2026-12-07T03:40:15.000Z`) of a time, as a CacheFile's `expires`.
fn iso(t: std::time::SystemTime) -> String {
    vidseed_control_plane::clock::iso_8601(t)
}

fn sha256_hex(b: &[u8]) -> String {
    hex(&<sha2::Sha256 as sha2::Digest>::digest(b))
}

#[test]
fn a_followed_peertube_instance_s_videos_are_learned_and_copied_by_fetch_orders() {
    let origin = FakePeerTube::start();
    let video: FakeVideo = origin.publish_video(UUID_A, "first clip");
    // PeerTube's outbox holds the channel's Create of each video.
    origin.serve_outbox(&[json!({
        "type": "Create", "id": format!("{}/activity", video.url), "actor": format!("{}/video-channels/root_channel", origin.base),
        "to": ["https://www.w3.org/ns/activitystreams#Public"], "object": video.object,
    })]);
    // The admin's caps on each copy's download reach the nodes in every order.
    let a = Instance::start_with(&["--redundancy-bandwidth", "50MB", "--redundancy-parallel", "2"]);

    // Following it: Follow, its Accept, then its outbox is walked.
    let (code, out) = a.cli(&["follow", &origin.base]);
    assert_eq!(code, Some(0), "{out}");
    eventually(WAIT, "the follow accepted", || (a.state("following", &origin.actor()).as_deref() == Some("accepted")).then_some(()));
    eventually(WAIT, "the outbox's video learned", || known_videos(&a).contains(&video.url).then_some(()));
    let (code, out) = a.cli(&["redundancy", "videos"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("first clip") && out.contains("2 web + HLS"), "{out}");

    // A malformed Video is refused; the Announce after it (of a Video given by its URL, which
    // vidseed fetches) is processed all the same.
    let inbox = format!("{}/inbox", a.base());
    let second = origin.publish_video(UUID_B, "second clip");
    let mut broken = second.object.clone();
    broken["id"] = json!(format!("{}/videos/watch/{UUID_BROKEN}", origin.base));
    broken.as_object_mut().unwrap().remove("uuid");
    let (status, body) = origin.post(&inbox, &json!({ "type": "Create", "id": format!("{}/activity", broken["id"].as_str().unwrap()), "actor": origin.actor(), "object": broken }));
    assert_eq!(status, 204, "{body}");
    let (status, body) = origin.post(&inbox, &json!({ "type": "Announce", "id": format!("{}/announces/1", second.url), "actor": origin.actor(), "object": second.url }));
    assert_eq!(status, 204, "{body}");
    eventually(WAIT, "the announced video learned", || known_videos(&a).contains(&second.url).then_some(()));
    assert!(!known_videos(&a).iter().any(|u| u.contains(UUID_BROKEN)), "a Video without uuid is refused");
    // Its Delete: forgotten.
    let (status, _) = origin.post(&inbox, &json!({ "type": "Delete", "id": format!("{}/delete", second.url), "actor": origin.actor(), "object": second.url }));
    assert_eq!(status, 204);
    eventually(WAIT, "the deleted video forgotten", || (!known_videos(&a).contains(&second.url)).then_some(()));

    // Copies need the admin to allow the host, as in PeerTube.
    let (code, out) = a.cli(&["redundancy", "add", &video.url, "--no-wait"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("redundancy is not allowed for {}", origin.host())) && out.contains("redundancy allow"), "{out}");
    let (code, out) = a.cli(&["redundancy", "allow", &origin.host()]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = a.cli(&["redundancy", "hosts"]);
    assert!(code == Some(0) && out.lines().any(|l| l.contains(&origin.host()) && l.contains("allowed")), "{out}");
    let (code, out) = a.cli(&["redundancy", "add", &video.url, "--no-wait"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("web-video 360p25") && out.contains("web-video 240p25") && out.contains("HLS"), "{out}");

    // One order per web-video file and one for the HLS playlist.
    let orders: Vec<Value> = eventually(WAIT, "three fetch orders", || {
        let v = a.admin("GET", "/api/v1/admin/redundancy/orders", None);
        let list = v["orders"].as_array()?.clone();
        (list.len() == 3).then_some(list)
    });
    for (res, file) in [("360-25", &video.web[0]), ("240-25", &video.web[1])] {
        assert!(file.name.contains(&format!("-{}.mp4", &res[..3])), "{}", file.name);
        let o = order_for(&orders, &format!("{}/redundancy/videos/{UUID_A}/{res}", a.base()));
        assert_eq!((o["maxBytesPerSec"].as_u64(), o["parallel"].as_u64()), (Some(50 * 1024 * 1024), Some(2)), "{o}");
        assert_eq!(o["infoHashes"], json!([file.info_hash]));
        let f = &o["files"][0];
        assert_eq!(o["files"].as_array().unwrap().len(), 1);
        assert_eq!(f["path"], file.name.as_str());
        assert_eq!(f["urlPath"], format!("/static/redundancy/{}", file.name));
        assert_eq!(f["size"], file.bytes.len());
        assert_eq!(f["contentType"], "video/mp4");
        assert_eq!(f["sources"], json!([file.url]));
        assert_eq!(f["check"], json!({ "kind": "pieces", "pieceLength": 16384, "sha1": file.pieces }));
    }
    let hls = order_for(&orders, &format!("{}/redundancy/streaming-playlists/hls/{UUID_A}", a.base()));
    let files = hls["files"].as_array().unwrap();
    assert_eq!(files.len(), 6, "master, two resolution playlists, segments-sha256, two fragmented files: {hls}");
    assert!(files.iter().all(|f| f["path"].as_str().unwrap().starts_with(&format!("hls/{UUID_A}/"))), "{hls}");
    let master = file_named(hls, "-master.m3u8");
    assert_eq!(master["sources"], json!([video.master_url]));
    assert_eq!(master["check"], json!({ "kind": "sha256", "sha256": sha256_hex(video.master.as_bytes()) }));
    assert_eq!(file_named(hls, "-segments-sha256.json")["sources"], json!([video.segments_sha256_url]));
    for file in &video.hls {
        let f = file_named(hls, &file.name);
        assert_eq!(f["sources"], json!([file.url]));
        assert_eq!(f["size"], file.bytes.len());
        let segments: Vec<Value> = file.segments.iter().map(|(a, b, h)| json!({ "start": a, "end": b, "sha256": h })).collect();
        assert_eq!(f["check"], json!({ "kind": "segments", "segments": segments, "pieceLength": 16384, "sha1": file.pieces }), "{}", file.name);
        assert!(hls["infoHashes"].as_array().unwrap().contains(&json!(file.info_hash)));
    }

    // The embedded data node holds a cache folder: it downloads each copy, verifies it and
    // serves it, and the control plane then tells the origin.
    let copies = eventually(WAIT, "the node to serve the three copies", || {
        let list = a.admin("GET", "/api/v1/admin/redundancy", None);
        let copies = list["copies"].as_array()?.clone();
        (copies.len() == 3 && copies.iter().all(|c| c["state"] == "serving")).then_some(copies)
    });
    for c in &copies {
        assert_eq!((c["strategy"].as_str(), c["videoName"].as_str()), (Some("manual"), Some("first clip")), "{c}");
        assert_eq!(c["nodes"], json!(["local"]), "{c}");
        assert_eq!(c["doneBytes"], c["totalBytes"], "{c}");
    }
    // The origin's bytes, where PeerTube serves its own copies.
    for file in &video.web {
        let r = get(a.node.data, &format!("/static/redundancy/{}", file.name), &[]).unwrap();
        assert_eq!(r.status, 200, "{}", file.name);
        assert!(r.body == file.bytes, "{}: the origin's bytes", file.name);
        let r = get(a.node.data, &format!("/static/redundancy/{}", file.name), &[("Range", "bytes=10-19")]).unwrap();
        assert_eq!((r.status, r.header("access-control-allow-origin")), (206, Some("*")));
    }
    for file in &video.hls {
        let r = get(a.node.data, &format!("/static/redundancy/hls/{UUID_A}/{}", file.name), &[]).unwrap();
        assert!(r.status == 200 && r.body == file.bytes, "{}", file.name);
    }
    let r = get(a.node.data, &format!("/static/redundancy/hls/{UUID_A}/{}", video.master_url.rsplit('/').next().unwrap()), &[]).unwrap();
    assert!(r.status == 200 && r.body == video.master.as_bytes(), "the master playlist");
    // Its CacheFile is served at its id, and the origin got a Create for each copy.
    let r = get(a.node.control, &format!("/redundancy/videos/{UUID_A}/360-25"), &[("Accept", "application/activity+json")]).unwrap();
    assert_eq!(r.status, 200);
    // (Counted by id: a delivery tried again on a loaded machine may arrive twice.)
    let ids = |keep: &dyn Fn(&Value) -> bool| -> std::collections::BTreeSet<String> {
        origin.received().iter().filter(|(_, v, _)| keep(v)).map(|(_, v, _)| v["id"].as_str().unwrap_or_default().to_owned()).collect()
    };
    eventually(WAIT, "three Create CacheFile at the origin", || {
        (ids(&|v| v["type"] == "Create" && v["object"]["type"] == "CacheFile").len() == 3).then_some(())
    });

    // Removed: an Undo for each, then the node stops serving and deletes the files.
    let (code, out) = a.cli(&["redundancy", "remove", &video.url]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("removed 3"), "{out}");
    assert_eq!(a.admin("GET", "/api/v1/admin/redundancy/orders", None)["orders"], json!([]));
    eventually(WAIT, "three Undo at the origin", || (ids(&|v| v["type"] == "Undo").len() == 3).then_some(()));
    eventually(WAIT, "the copies no longer served", || {
        let r = get(a.node.data, &format!("/static/redundancy/{}", video.web[0].name), &[]).ok()?;
        (r.status == 404).then_some(())
    });
    let (code, out) = a.cli(&["redundancy", "remove", &video.url]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("keeps no copy"), "{out}");

    // Unfollowing the instance denies its redundancy and removes the copies of its videos.
    let (code, out) = a.cli(&["redundancy", "add", &video.url, "--no-wait"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = a.cli(&["unfollow", &origin.base]);
    assert_eq!(code, Some(0), "{out}");
    eventually(WAIT, "the copies removed", || a.admin("GET", "/api/v1/admin/redundancy", None)["copies"].as_array()?.is_empty().then_some(()));
    assert_eq!(a.admin("GET", "/api/v1/admin/redundancy/orders", None)["orders"], json!([]));
    let (code, out) = a.cli(&["redundancy", "hosts"]);
    assert!(code == Some(0) && !out.contains("allowed"), "{out}");
}

/// Records the orders and discards the engine hands the nodes; for each discard, whether the
/// copy's Undo was already queued then.
pub(super) struct Recorder {
    store: vidseed_control_plane::store::Store,
    pub orders: Mutex<Vec<vidseed_shared::fetch::FetchOrder>>,
    pub discards: Mutex<Vec<(String, bool)>>,
}

impl vidseed_control_plane::redundancy::FetchSink for Recorder {
    fn order(&self, order: &vidseed_shared::fetch::FetchOrder) {
        self.orders.lock().unwrap().push(order.clone());
    }

    fn discard(&self, discard: &vidseed_shared::fetch::Discard) {
        let undo = format!("{}/undo", discard.id);
        let store = self.store.clone();
        let queued = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                let pending = store.pending_deliveries(None).await.unwrap();
                pending.iter().any(|d| d.activity_id == undo) || !store.delivered_hosts(&undo).await.unwrap().is_empty()
            })
        });
        self.discards.lock().unwrap().push((discard.id.clone(), queued));
    }
}

pub(super) async fn until<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(super) fn activities(origin: &FakePeerTube, kind: &str) -> Vec<(Value, String)> {
    origin.received().into_iter().filter(|(path, v, _)| path == "/inbox" && v["type"] == kind).map(|(_, v, sig)| (v, sig)).collect()
}

/// A control plane in this process that follows `origin` and allows its redundancy, with a
/// [`Recorder`] in place of the data nodes.
pub(super) struct InProcess {
    pub cp: vidseed_control_plane::ControlPlane,
    pub r: Arc<vidseed_control_plane::redundancy::RedundancyEngine>,
    pub store: vidseed_control_plane::store::Store,
    pub recorder: Arc<Recorder>,
    pub addr: std::net::SocketAddr,
    pub base: String,
    _dir: tempfile::TempDir,
}

pub(super) async fn in_process_following(origin: &FakePeerTube) -> InProcess {
    use vidseed_control_plane::library::{piece_length::PiecePolicy, LibraryConfig, TrackerChoice};
    use vidseed_control_plane::store::{Database, FollowDirection, FollowRecord, FollowState};
    use vidseed_control_plane::{ControlPlane, ControlPlaneConfig, PublicUrls};

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let cfg = ControlPlaneConfig {
        library: LibraryConfig {
            root: dir.path().join("media"),
            urls: PublicUrls::new(addr, addr, None, None).unwrap(),
            pieces: PiecePolicy::default(),
            hash_threads: 1,
            stun_servers: vec![],
            follow_symlinks: false,
            trackers: TrackerChoice::Fixed,
        },
        database: Database::in_state_dir(dir.path()),
        channel_listen: "127.0.0.1:0".parse().unwrap(),
        channel_public: None,
        follow_interval: None,
        follow: false,
        open_tracker: false,
        ready_node: None,
        allow_private_fetches: true,
        federation_retry: Duration::from_secs(1),
        redundancy_check: Duration::from_secs(3600),
        publish: Default::default(),
    };
    let cp = ControlPlane::start(cfg, listener).await.unwrap();
    let store = cp.library.store().clone();
    let r = Arc::clone(&cp.redundancy);
    let recorder = Arc::new(Recorder { store: store.clone(), orders: Mutex::default(), discards: Mutex::default() });
    r.set_sink(recorder.clone());

    // This instance follows the origin, which allows redundancy.
    store
        .upsert_follow(&FollowRecord {
            direction: FollowDirection::Following,
            actor_url: origin.actor(),
            host: origin.host(),
            inbox: format!("{}/inbox", origin.actor()),
            shared_inbox: Some(format!("{}/inbox", origin.base)),
            state: FollowState::Accepted,
            follow_activity_id: format!("{base}/accounts/peertube/follows/1"),
            score: 0,
            created_at_ms: 0,
            updated_at_ms: 0,
        })
        .await
        .unwrap();
    r.allow_host(&origin.host()).await.unwrap();
    InProcess { cp, r, store, recorder, addr, base, _dir: dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_a_node_serves_is_announced_to_its_origin_extended_and_undone() {
    use vidseed_shared::fetch::{FetchReport, FetchState};

    let origin = FakePeerTube::start();
    let video = origin.publish_video(UUID_A, "clip");
    let InProcess { cp, r, store, recorder, addr, base, _dir } = in_process_following(&origin).await;
    // The 240p file's torrent is broken at first: that copy fails with the reason; added
    // again once the origin serves it right, it is prepared again.
    let torrent_240 = video.object["url"].as_array().unwrap().iter().find(|l| l["mediaType"] == "application/x-bittorrent" && l["height"] == 240).unwrap()["href"].as_str().unwrap().to_owned();
    let torrent_path = torrent_240.split_once(&origin.base).unwrap().1.to_owned();
    origin.serve(&torrent_path, "application/x-bittorrent", b"<html>oops</html>".to_vec());
    let copies = r.add_manual(&video.url).await.unwrap();
    assert_eq!(copies.len(), 3);
    let id_240 = format!("{base}/redundancy/videos/{UUID_A}/240-25");
    let failed = until("the 240p copy failed", async || r.list().await.unwrap().into_iter().find(|c| c.copy.id == id_240 && c.status.state == "failed")).await;
    assert!(failed.status.reason.as_deref().unwrap_or_default().contains("not a torrent"), "{:?}", failed.status);
    origin.publish_video(UUID_A, "clip");
    r.add_manual(&video.url).await.unwrap();
    // Each of the three copies ordered (the failed one may be ordered twice: once by its
    // automatic retry, once by the new add, whichever comes first on a loaded machine).
    until("the three orders handed to the nodes", async || {
        let ids: std::collections::BTreeSet<String> = recorder.orders.lock().unwrap().iter().map(|o| o.id.clone()).collect();
        (ids.len() == 3 && ids.contains(&id_240)).then_some(())
    })
    .await;
    let ordered_before_strategy = recorder.orders.lock().unwrap().len();
    let web = &video.web[0];
    let id = format!("{base}/redundancy/videos/{UUID_A}/360-25");

    // A node downloads, then serves it.
    let report = |state, done: u64| FetchReport { id: id.clone(), state, done_bytes: done, total_bytes: web.bytes.len() as u64, reason: None };
    r.on_report("edge-1", report(FetchState::Downloading, 1000)).await.unwrap();
    let listed = r.list().await.unwrap();
    let mine = listed.iter().find(|c| c.copy.id == id).unwrap();
    assert_eq!((mine.status.state, mine.status.done_bytes), ("downloading", 1000));
    assert!(activities(&origin, "Create").is_empty(), "announced only once served");
    r.on_report("edge-1", report(FetchState::Serving, web.bytes.len() as u64)).await.unwrap();
    let (create, signature) = until("the Create CacheFile at the origin's shared inbox", async || activities(&origin, "Create").into_iter().next()).await;
    assert_eq!(create["id"], format!("{id}/activity"));
    assert_eq!(create["actor"], format!("{base}/accounts/peertube"));
    assert_eq!((&create["to"], &create["cc"]), (&json!([origin.account()]), &json!([])));
    assert_eq!(create["object"]["type"], "CacheFile");
    assert_eq!(create["object"]["id"], id);
    assert_eq!(create["object"]["object"], video.url);
    assert_eq!(create["object"]["url"], json!({ "type": "Link", "mediaType": "video/mp4", "href": format!("{base}/static/redundancy/{}", web.name), "height": 360, "size": web.bytes.len(), "fps": 25 }));
    assert_eq!(create["signature"]["type"], "RsaSignature2017", "Linked Data signed");
    assert!(signature.contains(&format!("keyId=\"{base}/accounts/peertube\"")) && signature.contains("(request-target) host date digest"), "{signature}");
    assert_eq!(r.list().await.unwrap().iter().find(|c| c.copy.id == id).unwrap().status.nodes, vec!["edge-1".to_owned()]);
    // Served at its id (where PeerTube 6.3.3 answers 500), with the default audience.
    let path = format!("/redundancy/videos/{UUID_A}/360-25");
    let served = tokio::task::spawn_blocking(move || get(addr, &path, &[("Accept", "application/activity+json")]).unwrap()).await.unwrap();
    assert_eq!(served.status, 200);
    let object: Value = serde_json::from_slice(&served.body).unwrap();
    assert_eq!((object["id"].as_str(), object["to"][0].as_str()), (Some(id.as_str()), Some("https://www.w3.org/ns/activitystreams#Public")));
    // A report on a copy this instance does not keep gets a discard back.
    r.on_report("edge-1", FetchReport { id: "https://elsewhere.example/redundancy/videos/x/1".into(), state: FetchState::Serving, done_bytes: 1, total_bytes: 1, reason: None })
        .await
        .unwrap();
    assert!(recorder.discards.lock().unwrap().iter().any(|(d, _)| d == "https://elsewhere.example/redundancy/videos/x/1"));

    // Removed: the Undo is queued before the nodes are told to delete the files.
    assert_eq!(r.remove(&video.url).await.unwrap(), 3);
    assert!(recorder.discards.lock().unwrap().contains(&(id.clone(), true)), "{:?}", recorder.discards.lock().unwrap());
    let (undo, _) = until("the Undo CacheFile", async || activities(&origin, "Undo").into_iter().next()).await;
    assert_eq!((undo["id"].as_str(), undo["object"]["type"].as_str(), undo["object"]["object"]["id"].as_str()), (Some(format!("{id}/undo").as_str()), Some("Create"), Some(id.as_str())));
    assert_eq!(activities(&origin, "Undo").len(), 1, "copies never announced are not undone");

    // A strategy copies it again, with an expiry; once served it is announced with it, and kept
    // copies are extended (Update) before they expire.
    r.set_strategies(&json!([{ "strategy": "most-views", "size": "1GB", "minLifetime": 60 }])).await.unwrap();
    until("the strategy's order of the copy", async || recorder.orders.lock().unwrap()[ordered_before_strategy..].iter().any(|o| o.id == id).then_some(())).await;
    let copy = store.copy(&id).await.unwrap().unwrap();
    assert_eq!(copy.strategy, "most-views");
    assert!(copy.expires_at_ms.is_some());
    r.on_report("edge-1", report(FetchState::Serving, web.bytes.len() as u64)).await.unwrap();
    let (create, _) = until("the second Create", async || activities(&origin, "Create").into_iter().nth(1)).await;
    let again = create["id"].as_str().unwrap();
    assert!(again.starts_with(&format!("{id}/activity/")), "made again after its Undo: a new activity id ({again})");
    let first_expiry = create["object"]["expires"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    r.wake();
    let (update, _) = until("an Update CacheFile with a later expiry", async || activities(&origin, "Update").into_iter().next()).await;
    assert!(update["id"].as_str().unwrap().starts_with(&format!("{id}/updates/")), "{update}");
    assert!(update["object"]["expires"].as_str().unwrap() > first_expiry.as_str(), "{update} after {first_expiry}");

    // The origin deletes the video: its copies are undone and discarded.
    store.mark_remote_video_deleted(&video.url, 1).await.unwrap();
    r.wake();
    until("the copies of the deleted video removed", async || store.copies().await.unwrap().is_empty().then_some(())).await;
    let (undo, _) = until("its Undo", async || activities(&origin, "Undo").into_iter().nth(1)).await;
    assert_eq!(undo["object"]["id"], again, "the Undo names the Create it undoes");
    cp.shutdown().await;
}

#[test]
fn a_peertube_copy_of_our_video_is_checked_advertised_and_forgotten() {
    let bytes = pseudo_random(600_000, 3);
    let node = Node::start(&[("v.mp4", bytes.as_slice())], &["--allow-private-federation"]);
    let token = crate::common::admin_token(&node);
    let a = Instance { node, token };
    let video = a.node.videos().remove(0);
    let ih = video["infoHash"].as_str().unwrap().to_owned();
    let watch = video["watchUrl"].as_str().unwrap().to_owned();
    let cache = FakePeerTube::start();
    cache.serve("/static/redundancy/v.mp4", "video/mp4", bytes.clone());
    let mut wrong = bytes.clone();
    wrong[262_144 + 5] ^= 1;
    cache.serve("/static/redundancy/wrong.mp4", "video/mp4", wrong);
    let cache_file = |n: &str, file: &str| {
        let id = format!("{}/redundancy/videos/{UUID_A}/{n}", cache.base);
        let object = json!({ "id": id, "type": "CacheFile", "object": watch, "expires": null,
            "url": { "type": "Link", "mediaType": "video/mp4", "href": format!("{}/static/redundancy/{file}", cache.base), "height": 0, "size": bytes.len() } });
        (id.clone(), json!({ "type": "Create", "id": format!("{id}/activity"), "actor": cache.actor(), "to": [], "cc": [], "object": object }))
    };
    let inbox = format!("{}/inbox", a.base());
    let received = || -> Vec<Value> { a.admin("GET", "/api/v1/admin/redundancy/received", None)["received"].as_array().unwrap().clone() };
    let torrent = || get(a.node.control, &format!("/torrents/{ih}.torrent"), &[]).unwrap().body;
    let href = format!("{}/static/redundancy/v.mp4", cache.base);
    assert!(!String::from_utf8_lossy(&torrent()).contains(&href));

    // A copy whose bytes are not ours is refused; a good one (sent after it) is checked and kept.
    let (bad_id, bad) = cache_file("1", "wrong.mp4");
    let (good_id, good) = cache_file("0", "v.mp4");
    assert_eq!(cache.post(&inbox, &bad).0, 204);
    assert_eq!(cache.post(&inbox, &good).0, 204);
    let list = eventually(WAIT, "the good copy accepted", || received().iter().any(|c| c["id"] == good_id).then(received));
    assert!(!list.iter().any(|c| c["id"] == bad_id), "a copy that does not hold our bytes is not kept: {list:?}");
    assert_eq!(list[0]["verified"], true);
    let (code, out) = a.cli(&["redundancy", "received"]);
    assert!(code == Some(0) && out.contains(&href), "{out}");
    // `vidseed admin videos` says where each of our videos is cached.
    let (code, out) = a.cli(&["videos"]);
    let row = out.lines().nth(1).unwrap_or_default();
    assert!(code == Some(0) && out.starts_with("UUID") && row.ends_with(&cache.host()), "{out}");

    // Advertised: in the API's WebSeeds, as a ws= of the magnet, and in the torrent's url-list,
    // whose info dictionary (so the info-hash) is unchanged.
    // (What the torrent and the API advertise follows the store a moment later.)
    let video_json = || -> Value { serde_json::from_slice(&get(a.node.control, &format!("/api/v1/videos/{ih}"), &[]).unwrap().body).unwrap() };
    let v = eventually(WAIT, "the copy among the video's WebSeeds", || Some(video_json()).filter(|v| v["webseeds"].as_array().is_some_and(|w| w.contains(&json!(href)))));
    let ws: String = percent_encoding::utf8_percent_encode(&href, vidseed_control_plane::library::urls::COMPONENT).collect();
    assert!(v["magnetUri"].as_str().unwrap().contains(&format!("&ws={ws}")), "{}", v["magnetUri"]);
    let t = torrent();
    let text = String::from_utf8_lossy(&t).into_owned();
    assert!(text.contains(&format!("{}:{href}", href.len())), "{text}");
    let start = t.windows(6).position(|w| w == b"4:info").unwrap() + 6;
    let end = t.windows(10).rposition(|w| w == b"8:url-list").unwrap();
    assert_eq!(hex(&sha1::Sha1::digest(&t[start..end])), ih, "the info-hash does not change");

    // A copy with an expiry stops being advertised when it expires (not at the next hourly run).
    let (soon_id, mut soon) = cache_file("3", "v.mp4");
    let expires = std::time::SystemTime::now() + Duration::from_secs(8);
    soon["object"]["expires"] = json!(iso(expires));
    assert_eq!(cache.post(&inbox, &soon).0, 204);
    eventually(WAIT, "the expiring copy accepted", || received().iter().any(|c| c["id"] == soon_id).then_some(()));
    eventually(WAIT, "the expired copy dropped", || (!received().iter().any(|c| c["id"] == soon_id)).then_some(()));
    assert!(received().iter().any(|c| c["id"] == good_id), "the copy without expiry stays");

    // With accept-from nobody, a new copy is refused; the Undo of the first forgets it.
    let (code, out) = a.cli(&["redundancy", "accept-from", "nobody"]);
    assert!(code == Some(0) && out.contains("nobody"), "{out}");
    let (other_id, other) = cache_file("2", "v.mp4");
    assert_eq!(cache.post(&inbox, &other).0, 204);
    let mut undo_object = good["object"].clone();
    undo_object.as_object_mut().unwrap().remove("to");
    let undo = json!({ "type": "Undo", "id": format!("{good_id}/undo"), "actor": cache.actor(), "object": { "type": "Create", "id": format!("{good_id}/activity"), "actor": cache.actor(), "object": undo_object } });
    assert_eq!(cache.post(&inbox, &undo).0, 204);
    eventually(WAIT, "the copy forgotten", || received().is_empty().then_some(()));
    eventually(WAIT, "the copy no longer advertised", || {
        let gone = !video_json()["webseeds"].as_array().is_some_and(|w| w.contains(&json!(href)));
        (gone && !String::from_utf8_lossy(&torrent()).contains(&href)).then_some(())
    });
    assert!(!received().iter().any(|c| c["id"] == other_id));
}
