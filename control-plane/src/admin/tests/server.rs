//! The client against the real control plane on a loopback port: each answer the server gives,
//! read by the client into its `wire.rs` type and written again, is the very JSON that was sent
//! (nothing the server says is lost or misnamed on the way), and its errors reach the admin with
//! their status and hint. Nothing leaves the machine: follows are put in the store, not made.

use std::time::Duration;

use http::Method;
use serde::Serialize;
use serde_json::Value;

use crate::admin::client::{body, AdminClient, AdminError, Answer};
use crate::admin::redundancy_table::with_strategy;
use crate::admin::wire::{self, Field};
use crate::library::piece_length::PiecePolicy;
use crate::library::{LibraryConfig, TrackerChoice};
use crate::store::{Database, FollowDirection, FollowRecord, FollowState, RemoteVideoRecord, Store};
use crate::{ControlPlane, ControlPlaneConfig, PublicUrls};

/// The answer as typed, written again, is the answer as sent.
#[track_caller]
fn same<T: Serialize>(answer: &Answer<T>) {
    assert_eq!(wire::to_json(&answer.data), answer.raw, "the typed answer differs from what the server sent");
}

/// A control plane over `dir`, with the instance key of a test vector (making one takes long
/// without optimisation).
async fn start(dir: &std::path::Path) -> ControlPlane {
    let media = dir.join("media");
    std::fs::create_dir_all(media.join("films")).unwrap();
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(media.join("films/a.mp4"), bytes).unwrap();
    let database = Database::in_state_dir(dir);
    let store = Store::open(&database).await.unwrap();
    let vector: Value = serde_json::from_str(include_str!("../../../tests-data/rsasig2017-cachefile.json")).unwrap();
    store.set_setting("actor_private_key_pem", vector["privateKeyPem"].as_str().unwrap()).await.unwrap();
    store.close().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cfg = ControlPlaneConfig {
        library: LibraryConfig {
            root: media,
            urls: PublicUrls::new(addr, addr, None, None).unwrap(),
            pieces: PiecePolicy::default(),
            hash_threads: 1,
            stun_servers: vec![],
            follow_symlinks: false,
            trackers: TrackerChoice::Fixed,
        },
        database,
        channel_listen: "127.0.0.1:0".parse().unwrap(),
        channel_public: None,
        follow_interval: None,
        follow: false,
        open_tracker: false,
        ready_node: None,
        allow_private_fetches: false,
        federation_retry: Duration::from_secs(3600),
        redundancy_check: Duration::from_secs(3600),
        publish: Default::default(),
    };
    ControlPlane::start(cfg, listener).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_the_server_reads_into_its_type_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let cp = start(dir.path()).await;
    let store = cp.library.store().clone();
    let token = cp.new_admin_token.clone().expect("a first start makes the admin token");
    let client = AdminClient::new(&format!("http://{}", cp.local_addr()), &token).unwrap();

    // The library.
    let mut progress = 0;
    let added = client.add("films", |_| progress += 1).await.unwrap();
    same(&added);
    assert!(progress > 0, "hashing progress was streamed");
    assert_eq!(added.data.added.len(), 1);
    assert_eq!(added.data.added[0].path, "films/a.mp4");
    let videos = client.videos().await.unwrap();
    same(&videos);
    assert_eq!(videos.data.videos, added.data.added);

    // A data node, with the counters it reported.
    let node = client.add_node("edge-1", Some("https://edge1.example.org"), &["films".to_owned()]).await.unwrap();
    same(&node);
    assert_eq!((node.data.pin.as_str(), node.data.folders.as_slice()), (cp.pin(), &["films".to_owned()][..]));
    let reported = vidseed_shared::channel::NodeStats { bytes_served: 5, peers: 2, disk_free_bytes: 9, ..Default::default() };
    store.set_node_stats("edge-1", &serde_json::to_string(&reported).unwrap(), 1_234).await.unwrap();
    let nodes = client.nodes().await.unwrap();
    same(&nodes);
    let stats = nodes.data.nodes[0].stats.clone().expect("the stats are listed");
    assert_eq!((stats.bytes_served, stats.peers, stats.disk_free_bytes, stats.at), (Some(5), Some(2), Some(9), Some(1_234)));
    let settings = client.settings().await.unwrap();
    same(&settings);
    assert_eq!((settings.data.videos, settings.data.nodes, settings.data.channel.pin.as_str()), (1, 1, cp.pin()));

    // Federation, with a followed instance put in the store.
    let followed = FollowRecord {
        direction: FollowDirection::Following,
        actor_url: "https://a.example/accounts/peertube".into(),
        host: "a.example".into(),
        inbox: "https://a.example/accounts/peertube/inbox".into(),
        shared_inbox: None,
        state: FollowState::Accepted,
        follow_activity_id: "https://me/follows/1".into(),
        score: 0,
        created_at_ms: 7,
        updated_at_ms: 7,
    };
    store.upsert_follow(&followed).await.unwrap();
    let following = client.admin::<wire::Following>(Method::GET, "following", None).await.unwrap();
    same(&following);
    assert_eq!(following.data.following[0].host, "a.example");
    same(&client.admin::<wire::Followers>(Method::GET, "followers", None).await.unwrap());
    let change = wire::FederationChange { manual_approval: Field::Given(true), ..Default::default() };
    let federation = client.admin::<wire::FederationSettings>(Method::PUT, "federation", body(&change)).await.unwrap();
    same(&federation);
    assert!(federation.data.manual_approval);
    let blocked = client.admin::<wire::Blocked>(Method::POST, "blocklist", body(&wire::HostRequest { host: Field::Given("B.example".into()) })).await.unwrap();
    same(&blocked);
    assert_eq!(blocked.data.blocked, "b.example");
    same(&client.admin::<wire::BlockList>(Method::GET, "blocklist", None).await.unwrap());
    same(&client.admin::<wire::Unblocked>(Method::DELETE, "blocklist?host=b.example", None).await.unwrap());
    same(&client.admin::<wire::DeliveryList>(Method::GET, "deliveries", None).await.unwrap());

    // Redundancy.
    let remote = RemoteVideoRecord {
        url: "https://a.example/videos/watch/u".into(),
        uuid: "u".into(),
        host: "a.example".into(),
        name: "clip".into(),
        published: "2025-01-02T03:04:05.000Z".into(),
        published_ms: 1,
        views: 3,
        views_history: vec![],
        account: None,
        files_json: crate::redundancy::schedule::StoredFiles::default().to_json(),
        fetched_at_ms: 1,
        updated_at_ms: 1,
        deleted_at_ms: None,
    };
    store.put_remote_video(&remote).await.unwrap();
    let hosts = client.admin::<wire::HostList>(Method::GET, "redundancy/hosts", None).await.unwrap();
    same(&hosts);
    assert_eq!(hosts.data.hosts, vec![wire::HostInfo { host: "a.example".into(), allowed: false, followed: true }]);
    let allowed = client.admin::<wire::HostPermission>(Method::POST, "redundancy/hosts", body(&wire::HostRequest { host: Field::Given("a.example".into()) })).await.unwrap();
    same(&allowed);
    let denied = client.admin::<wire::HostPermission>(Method::DELETE, "redundancy/hosts?host=a.example", None).await.unwrap();
    same(&denied);
    assert_eq!(denied.data.removed_copies, Some(0));
    let strategies = with_strategy(&[], "recently-added", 10 << 30, 90_000, Some(2));
    let change = wire::RedundancyChange { strategies: Field::Given(wire::to_json(&strategies)), accept_from: Field::Given("followings".into()) };
    let settings = client.admin::<wire::RedundancySettings>(Method::PUT, "redundancy/strategies", body(&change)).await.unwrap();
    same(&settings);
    assert_eq!((settings.data.strategies, settings.data.accept_from.as_str()), (strategies, "followings"));
    let remote_videos = client.admin::<wire::RemoteVideoList>(Method::GET, "redundancy/videos", None).await.unwrap();
    same(&remote_videos);
    assert_eq!(remote_videos.data.videos[0].name, "clip");
    same(&client.admin::<wire::CopyList>(Method::GET, "redundancy", None).await.unwrap());
    same(&client.admin::<wire::OrderList>(Method::GET, "redundancy/orders", None).await.unwrap());
    same(&client.admin::<wire::ReceivedList>(Method::GET, "redundancy/received", None).await.unwrap());

    // Errors: the server's words, status and hint.
    match client.remove("films/none.mp4").await {
        Err(AdminError::Api { status: 404, hint: Some(_), .. }) => {}
        other => panic!("{other:?}"),
    }
    let bad = wire::AddNode { name: Field::Given("a b".into()), ..Default::default() };
    match client.admin::<Value>(Method::POST, "nodes", body(&bad)).await {
        Err(AdminError::Api { status: 400, error, hint: Some(_) }) => assert!(error.contains("invalid node name"), "{error}"),
        other => panic!("{other:?}"),
    }

    // Undone.
    let removed = client.remove("films/a.mp4").await.unwrap();
    same(&removed);
    assert_eq!(removed.data.removed, ["films/a.mp4"]);
    let revoked = client.revoke_node("edge-1").await.unwrap();
    same(&revoked);
    cp.shutdown().await;
}
