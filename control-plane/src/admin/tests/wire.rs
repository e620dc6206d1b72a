//! Every body of the admin API in its JSON shape (the names, the `null`s, the fields left out)
//! and back: what the server writes is what the client reads.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use vidseed_shared::fetch::{FetchFile, FileCheck};
use vidseed_shared::InfoHash;

use crate::admin::wire::*;

/// `value` is written as `expected`, and `expected` reads back as `value`.
#[track_caller]
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: T, expected: Value) {
    assert_eq!(to_json(&value), expected, "written");
    assert_eq!(serde_json::from_value::<T>(expected).unwrap(), value, "read back");
}

fn video() -> Video {
    Video {
        id: "ab".repeat(20),
        name: "a.mp4".into(),
        path: "films/a.mp4".into(),
        size: 13_107_200,
        content_type: "video/mp4".into(),
        info_hash: InfoHash([0xab; 20]),
        piece_length: 262_144,
        webseeds: vec!["http://n1/static/webseed/films/a.mp4".into()],
        file_url: "http://n1/static/webseed/films/a.mp4".into(),
        torrent_url: "http://c/torrents/x.torrent".into(),
        watch_url: "http://c/videos/watch/x".into(),
        magnet_uri: "magnet:?xt=urn:btih:x".into(),
        nodes: vec!["n1".into()],
        trackers: vec!["ws://n1/tracker/socket".into()],
        tracker_node: None,
        federated: None,
    }
}

fn video_json() -> Value {
    json!({ "id": "ab".repeat(20), "name": "a.mp4", "path": "films/a.mp4", "size": 13_107_200, "contentType": "video/mp4",
            "infoHash": "ab".repeat(20), "pieceLength": 262_144, "webseeds": ["http://n1/static/webseed/films/a.mp4"],
            "fileUrl": "http://n1/static/webseed/films/a.mp4", "torrentUrl": "http://c/torrents/x.torrent",
            "watchUrl": "http://c/videos/watch/x", "magnetUri": "magnet:?xt=urn:btih:x", "nodes": ["n1"],
            "trackers": ["ws://n1/tracker/socket"], "trackerNode": null })
}

#[test]
fn errors_carry_their_status_and_a_hint_only_when_there_is_one() {
    round_trip(ErrorBody { error: "no".into(), status: Some(404), hint: None }, json!({ "error": "no", "status": 404 }));
    round_trip(ErrorBody { error: "no".into(), status: Some(400), hint: Some("do".into()) }, json!({ "error": "no", "status": 400, "hint": "do" }));
    // What a client may meet elsewhere: no status.
    assert_eq!(serde_json::from_value::<ErrorBody>(json!({ "error": "unauthorized" })).unwrap().status, None);
}

#[test]
fn requests_send_only_their_fields_and_keep_what_does_not_fit() {
    round_trip(AddVideos { path: Field::Given("films".into()) }, json!({ "path": "films" }));
    round_trip(AddNode { name: Field::Given("n1".into()), ..AddNode::default() }, json!({ "name": "n1" }));
    round_trip(
        AddNode { name: Field::Given("n1".into()), public_url: Field::Given("https://n1".into()), folders: Field::Given(vec!["films".into()]) },
        json!({ "name": "n1", "publicUrl": "https://n1", "folders": ["films"] }),
    );
    round_trip(HostRequest { host: Field::Given("a.example".into()) }, json!({ "host": "a.example" }));
    round_trip(ActorRequest { actor: Field::Given("https://a/accounts/peertube".into()) }, json!({ "actor": "https://a/accounts/peertube" }));
    round_trip(AddCopy { video_url: Field::Given("https://a/videos/watch/u".into()) }, json!({ "videoUrl": "https://a/videos/watch/u" }));
    round_trip(
        FederationChange { manual_approval: Field::Given(true), ..FederationChange::default() },
        json!({ "manualApproval": true }),
    );
    round_trip(
        RedundancyChange { strategies: Field::Given(json!([{ "strategy": "trending", "size": "10GB", "minLifetime": "25 hours" }])), accept_from: Field::Given("nobody".into()) },
        json!({ "strategies": [{ "strategy": "trending", "size": "10GB", "minLifetime": "25 hours" }], "acceptFrom": "nobody" }),
    );
    // As the server reads them: wrong types kept for the handler to name, `null` included.
    let node: AddNode = request(json!({ "name": 5, "folders": null, "other": 1 }));
    assert_eq!((node.name, node.public_url, node.folders), (Field::Wrong(json!(5)), Field::Absent, Field::Wrong(Value::Null)));
    let change: FederationChange = request(json!({ "autoFollowBack": "yes" }));
    assert_eq!(change.auto_follow_back, Field::Wrong(json!("yes")));
    assert_eq!(request::<AddVideos>(json!(["a.mp4"])), AddVideos::default(), "a body that is not an object is an empty one");
    assert_eq!(request::<RedundancyChange>(json!({ "strategies": null })).strategies, Field::Given(Value::Null));
}

#[test]
fn library_and_node_answers() {
    round_trip(VideoList { videos: vec![video()] }, json!({ "videos": [video_json()] }));
    round_trip(Removed { removed: vec!["a.mp4".into()] }, json!({ "removed": ["a.mp4"] }));
    round_trip(Revoked { revoked: "n1".into() }, json!({ "revoked": "n1" }));
    let stats = NodeStats { bytes_served: Some(5), requests: Some(2), errors: Some(0), peers: Some(1), swarms: Some(1), tracker_messages: Some(9), tracker_messages_per_sec: Some(3), disk_free_bytes: Some(7), at: Some(1000) };
    let node = NodeInfo {
        name: "n1".into(),
        public_url: "https://n1".into(),
        state: "connected".into(),
        folders: vec!["".into()],
        catalog_seq: None,
        latest_seq: 4,
        last_seen: None,
        files: 2,
        rejected: 1,
        stats: Some(stats),
    };
    round_trip(
        NodeList { nodes: vec![node.clone(), NodeInfo { stats: None, ..node }] },
        json!({ "nodes": [
            { "name": "n1", "publicUrl": "https://n1", "state": "connected", "folders": [""], "catalogSeq": null, "latestSeq": 4,
              "lastSeen": null, "files": 2, "rejected": 1,
              "stats": { "bytesServed": 5, "requests": 2, "errors": 0, "peers": 1, "swarms": 1, "trackerMessages": 9,
                         "trackerMessagesPerSec": 3, "diskFreeBytes": 7, "at": 1000 } },
            { "name": "n1", "publicUrl": "https://n1", "state": "connected", "folders": [""], "catalogSeq": null, "latestSeq": 4,
              "lastSeen": null, "files": 2, "rejected": 1, "stats": null } ] }),
    );
    // A report of an older node lacks counters: left out, `at` is always there.
    round_trip(NodeStats { peers: Some(1), ..NodeStats::default() }, json!({ "peers": 1, "at": null }));
    round_trip(
        NewNode { name: "n1".into(), token: "t".into(), pin: "sha256:00".into(), control: "c:1".into(), public_url: "".into(), folders: vec!["".into()], config: "[node]\n".into() },
        json!({ "name": "n1", "token": "t", "pin": "sha256:00", "control": "c:1", "publicUrl": "", "folders": [""], "config": "[node]\n" }),
    );
    round_trip(
        Settings {
            instance: InstanceSettings { control_url: "http://c".into(), data_url: None, trackers: vec![], tracker_choice: "fixed".into() },
            database: "sqlite".into(),
            library_folder: "/srv/media".into(),
            channel: ChannelSettings { address: "c:4433".into(), pin: "sha256:00".into() },
            tracker: TrackerSettings { open: false },
            videos: 3,
            nodes: 1,
        },
        json!({ "instance": { "controlUrl": "http://c", "dataUrl": null, "trackers": [], "trackerChoice": "fixed" }, "database": "sqlite",
                "libraryFolder": "/srv/media", "channel": { "address": "c:4433", "pin": "sha256:00" }, "tracker": { "open": false },
                "videos": 3, "nodes": 1 }),
    );
}

#[test]
fn add_events_are_one_object_a_line() {
    let progress = AddEvent::Progress(Progress { file: "a.mp4".into(), done: 1, total: 2 });
    round_trip(progress, json!({ "progress": { "file": "a.mp4", "done": 1, "total": 2 } }));
    let result = AddResult { added: vec![video()], unchanged: vec!["b.mp4".into()], failed: vec![AddFailure { path: "c.mp4".into(), error: "bad".into() }] };
    round_trip(AddEvent::Result(result), json!({ "result": { "added": [video_json()], "unchanged": ["b.mp4"], "failed": [{ "path": "c.mp4", "error": "bad" }] } }));
    // The final error names its hint, `null` when there is none.
    round_trip(AddEvent::Error(ErrorBody { error: "gone".into(), status: None, hint: None }), json!({ "error": "gone", "hint": null }));
    assert_eq!(AddEvent::from_json(json!({ "heartbeat": 1 })), Err(EventError::Unrecognized));
    assert!(matches!(AddEvent::from_json(json!({ "progress": { "file": "a" } })), Err(EventError::Malformed { kind: "progress", .. })));
    assert!(serde_json::from_value::<AddEvent>(json!({ "result": { "added": "yes" } })).is_err());
}

#[test]
fn federation_answers() {
    let follow = FollowInfo { actor: "https://a/accounts/peertube".into(), host: "a".into(), state: "accepted".into(), score: -3, since: 17 };
    let follow_json = json!({ "actor": "https://a/accounts/peertube", "host": "a", "state": "accepted", "score": -3, "since": 17 });
    round_trip(Following { following: vec![follow.clone()] }, json!({ "following": [follow_json.clone()] }));
    round_trip(Followers { followers: vec![follow] }, json!({ "followers": [follow_json] }));
    round_trip(Followed { actor: "x".into(), host: "a".into(), state: "pending".into() }, json!({ "actor": "x", "host": "a", "state": "pending" }));
    round_trip(Unfollowed { unfollowed: "a".into() }, json!({ "unfollowed": "a" }));
    round_trip(FollowerAnswered { actor: "x".into(), state: "rejected".into() }, json!({ "actor": "x", "state": "rejected" }));
    round_trip(BlockList { hosts: vec!["a".into()] }, json!({ "hosts": ["a"] }));
    round_trip(Blocked { blocked: "a".into() }, json!({ "blocked": "a" }));
    round_trip(Unblocked { unblocked: "a".into() }, json!({ "unblocked": "a" }));
    round_trip(
        FederationSettings { auto_follow_back: true, manual_approval: false, reject_followers: false },
        json!({ "autoFollowBack": true, "manualApproval": false, "rejectFollowers": false }),
    );
    round_trip(
        DeliveryList { deliveries: vec![DeliveryInfo { activity_id: "x".into(), inbox: "https://a/inbox".into(), host: "a".into(), attempts: 2, next_at: 99, last_error: None }] },
        json!({ "deliveries": [{ "activityId": "x", "inbox": "https://a/inbox", "host": "a", "attempts": 2, "nextAt": 99, "lastError": null }] }),
    );
}

#[test]
fn redundancy_answers() {
    let copy = CopyInfo {
        id: "https://me/redundancy/1".into(),
        video_url: "https://a/videos/watch/u".into(),
        video_name: None,
        kind: "web-video".into(),
        resolution: Some(720),
        fps: None,
        size: 10,
        strategy: "manual".into(),
        state: "serving".into(),
        reason: None,
        done_bytes: 10,
        total_bytes: 10,
        nodes: vec!["n1".into()],
        expires: Some("2026-12-08T00:00:00.000Z".into()),
        expires_at: Some(1_796_688_000_000),
        announced: true,
        created_at: 1,
        updated_at: 2,
        attempts: 2,
        retry_at: Some("2026-12-08T00:01:00.000Z".into()),
        gave_up: false,
    };
    round_trip(
        CopyList { copies: vec![copy] },
        json!({ "copies": [{ "id": "https://me/redundancy/1", "videoUrl": "https://a/videos/watch/u", "videoName": null, "kind": "web-video",
                             "resolution": 720, "fps": null, "size": 10, "strategy": "manual", "state": "serving", "reason": null,
                             "doneBytes": 10, "totalBytes": 10, "nodes": ["n1"], "expires": "2026-12-08T00:00:00.000Z",
                             "expiresAt": 1_796_688_000_000_i64, "announced": true, "createdAt": 1, "updatedAt": 2,
                             "attempts": 2, "retryAt": "2026-12-08T00:01:00.000Z", "gaveUp": false }] }),
    );
    round_trip(CopiesRemoved { video_url: "u".into(), removed: 2 }, json!({ "videoUrl": "u", "removed": 2 }));
    round_trip(HostList { hosts: vec![HostInfo { host: "a".into(), allowed: true, followed: false }] }, json!({ "hosts": [{ "host": "a", "allowed": true, "followed": false }] }));
    round_trip(HostPermission { host: "a".into(), allowed: true, removed_copies: None }, json!({ "host": "a", "allowed": true }));
    round_trip(HostPermission { host: "a".into(), allowed: false, removed_copies: Some(0) }, json!({ "host": "a", "allowed": false, "removedCopies": 0 }));
    round_trip(
        RedundancySettings {
            strategies: vec![
                StrategyInfo { strategy: "most-views".into(), size: 10, min_lifetime: 90_000, min_views: None },
                StrategyInfo { strategy: "recently-added".into(), size: 20, min_lifetime: 90_000, min_views: Some(0) },
            ],
            accept_from: "anybody".into(),
            check_interval: Some(3600),
        },
        json!({ "strategies": [{ "strategy": "most-views", "size": 10, "minLifetime": 90_000 },
                               { "strategy": "recently-added", "size": 20, "minLifetime": 90_000, "minViews": 0 }],
                "acceptFrom": "anybody", "checkInterval": 3600 }),
    );
    let order = FetchOrder {
        id: "o".into(),
        files: vec![FetchFile {
            path: "a.mp4".into(),
            url_path: "/static/redundancy/a.mp4".into(),
            size: 5,
            content_type: "video/mp4".into(),
            sources: vec!["https://a/a.mp4".into()],
            check: FileCheck::Sha256 { sha256: "00".repeat(32) },
        }],
        info_hashes: vec![],
        max_bytes_per_sec: 0,
        parallel: 4,
    };
    let order_json = to_json(&order);
    round_trip(OrderList { orders: vec![order] }, json!({ "orders": [order_json] }));
    round_trip(
        ReceivedList { received: vec![ReceivedCopy { id: "i".into(), actor: "x".into(), video_url: "u".into(), info_hash: "ab".repeat(20), href: "h".into(), expires: None, verified: false }] },
        json!({ "received": [{ "id": "i", "actor": "x", "videoUrl": "u", "infoHash": "ab".repeat(20), "href": "h", "expires": null, "verified": false }] }),
    );
    round_trip(
        RemoteVideoList { videos: vec![RemoteVideoInfo { url: "u".into(), name: "n".into(), host: "a".into(), published: "2025-01-01T00:00:00.000Z".into(), views: 3, size: 9, web_videos: 2, hls: true, copied: false }] },
        json!({ "videos": [{ "url": "u", "name": "n", "host": "a", "published": "2025-01-01T00:00:00.000Z", "views": 3, "size": 9, "webVideos": 2, "hls": true, "copied": false }] }),
    );
}
