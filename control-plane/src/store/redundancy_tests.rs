//! The redundancy tables' tests, on both databases like the rest of the store's: remote videos
//! (upsert, deletion that sticks), copies with their states, announcements claimed once, expiry
//! and the nodes' reports (dropped with their copy), the hosts allowed, received copies
//! (replaced only by their sender, expired ones dropped), and the migration's constraints.

use vidseed_shared::InfoHash;

use super::Fixture;
use crate::store::{CopyFileKind, CopyNodeRecord, CopyRecord, CopyState, ReceivedCopyRecord, RemoteVideoRecord, MANUAL};

on_both!(
    remote_videos_round_trip_and_deletion,
    copies_states_announcements_and_reports,
    redundancy_hosts_allow_and_deny,
    received_copies_by_sender_and_expiry,
);

fn remote_video(url: &str, views: u64) -> RemoteVideoRecord {
    RemoteVideoRecord {
        url: url.into(),
        uuid: "202e2a06-b073-46f0-8197-a77a379ce081".into(),
        host: "origin.example".into(),
        name: "sample clip".into(),
        published: "2026-12-07T01:00:00.000Z".into(),
        published_ms: 1_796_605_200_000,
        views,
        views_history: vec![(1, 2), (3, views)],
        account: Some("https://origin.example/accounts/root".into()),
        files_json: "{\"webVideos\":[]}".into(),
        fetched_at_ms: 10,
        updated_at_ms: 10,
        deleted_at_ms: None,
    }
}

fn copy(id: &str, video_url: &str, created: i64) -> CopyRecord {
    CopyRecord {
        id: id.into(),
        video_url: video_url.into(),
        kind: CopyFileKind::WebVideo,
        resolution: Some(360),
        fps: Some(25),
        media_type: "video/mp4".into(),
        file_name: Some("a-360.mp4".into()),
        size: 142_634,
        strategy: MANUAL.into(),
        state: CopyState::Preparing,
        reason: None,
        order_json: None,
        serve_base: None,
        activity_suffix: None,
        announced_at_ms: None,
        expires_at_ms: None,
        attempts: 0,
        retry_at_ms: None,
        created_at_ms: created,
        updated_at_ms: created,
    }
}

async fn remote_videos_round_trip_and_deletion(fx: &Fixture) {
    let store = fx.open().await;
    let a = remote_video("https://origin.example/videos/watch/a", 5);
    let b = remote_video("https://origin.example/videos/watch/b", 0);
    assert_eq!(store.remote_video(&a.url).await.unwrap(), None);
    store.put_remote_video(&a).await.unwrap();
    store.put_remote_video(&b).await.unwrap();
    assert_eq!(store.remote_video(&a.url).await.unwrap(), Some(a.clone()));
    assert_eq!(store.remote_videos().await.unwrap(), vec![a.clone(), b.clone()]);

    // An Update replaces every field.
    let a2 = RemoteVideoRecord { views: 50, name: "renamed".into(), views_history: vec![(1, 2), (3, 5), (9, 50)], updated_at_ms: 20, ..a.clone() };
    store.put_remote_video(&a2).await.unwrap();
    assert_eq!(store.remote_video(&a.url).await.unwrap(), Some(a2.clone()));

    // Deleted: out of the list, kept deleted through a later upsert, deleted once.
    assert!(store.mark_remote_video_deleted(&a.url, 30).await.unwrap());
    assert!(!store.mark_remote_video_deleted(&a.url, 31).await.unwrap());
    assert!(!store.mark_remote_video_deleted("https://origin.example/videos/watch/none", 31).await.unwrap());
    assert_eq!(store.remote_videos().await.unwrap(), vec![b.clone()]);
    store.put_remote_video(&a2).await.unwrap();
    let got = store.remote_video(&a.url).await.unwrap().unwrap();
    assert_eq!(got.deleted_at_ms, Some(30), "a late Update does not bring a deleted video back");
    assert_eq!(store.remote_videos().await.unwrap().len(), 1);

    // Out of range values are refused, not wrapped.
    let huge = RemoteVideoRecord { views: u64::MAX, ..remote_video("https://origin.example/videos/watch/c", 0) };
    assert!(store.put_remote_video(&huge).await.is_err());
    store.close().await;
}

async fn copies_states_announcements_and_reports(fx: &Fixture) {
    let store = fx.open().await;
    let v = "https://origin.example/videos/watch/a";
    let web = copy("https://me.example/redundancy/videos/u/360-25", v, 1);
    let hls = CopyRecord {
        kind: CopyFileKind::Hls,
        resolution: None,
        fps: None,
        media_type: "application/x-mpegURL".into(),
        file_name: None,
        strategy: "most-views".into(),
        expires_at_ms: Some(1000),
        ..copy("https://me.example/redundancy/streaming-playlists/hls/u", v, 2)
    };
    let other = copy("https://me.example/redundancy/videos/w/240", "https://origin.example/videos/watch/b", 3);
    assert!(store.insert_copy(&web).await.unwrap());
    assert!(!store.insert_copy(&web).await.unwrap(), "one copy per id");
    assert!(store.insert_copy(&hls).await.unwrap());
    assert!(store.insert_copy(&other).await.unwrap());
    assert_eq!(store.copies().await.unwrap(), vec![web.clone(), hls.clone(), other.clone()]);
    assert_eq!(store.copies_of_video(v).await.unwrap(), vec![web.clone(), hls.clone()]);
    assert_eq!(store.copy(&hls.id).await.unwrap(), Some(hls.clone()));

    // Ordered with its order; a later failure keeps the order.
    assert!(store.set_copy_state(&web.id, CopyState::Ordered, None, Some("{\"id\":1}"), 5).await.unwrap());
    assert!(store.set_copy_state(&web.id, CopyState::Failed, Some("the torrent does not match"), None, 6).await.unwrap());
    let got = store.copy(&web.id).await.unwrap().unwrap();
    assert_eq!((got.state, got.reason.as_deref(), got.order_json.as_deref(), got.updated_at_ms), (CopyState::Failed, Some("the torrent does not match"), Some("{\"id\":1}"), 6));
    assert!(!store.set_copy_state("https://me.example/none", CopyState::Ordered, None, None, 5).await.unwrap());

    // Failures counted, a try scheduled; the count is kept until it works again.
    assert!(store.set_copy_retry(&web.id, 2, Some(500), 6).await.unwrap());
    let got = store.copy(&web.id).await.unwrap().unwrap();
    assert_eq!((got.attempts, got.retry_at_ms), (2, Some(500)));
    assert!(store.set_copy_retry(&web.id, 2, None, 6).await.unwrap());
    assert_eq!(store.copy(&web.id).await.unwrap().unwrap().retry_at_ms, None);
    assert!(!store.set_copy_retry("https://me.example/none", 1, None, 6).await.unwrap());

    // Announced once, by one caller; taken back when its Create could not be queued.
    assert!(store.claim_copy_announcement(&web.id, "https://node.example", "", 7).await.unwrap());
    assert!(!store.claim_copy_announcement(&web.id, "https://other.example", "/8", 8).await.unwrap());
    let got = store.copy(&web.id).await.unwrap().unwrap();
    assert_eq!((got.serve_base.as_deref(), got.activity_suffix.as_deref(), got.announced_at_ms), (Some("https://node.example"), Some(""), Some(7)));
    store.unclaim_copy_announcement(&web.id).await.unwrap();
    assert!(store.claim_copy_announcement(&web.id, "https://node.example", "/9", 9).await.unwrap());
    assert_eq!(store.copy(&web.id).await.unwrap().unwrap().activity_suffix.as_deref(), Some("/9"));

    // Whether an activity id was queued before (a copy announced again needs a new one).
    assert!(!store.activity_queued(&format!("{}/activity", web.id)).await.unwrap());
    store.enqueue_deliveries(&format!("{}/activity", web.id), "{}", &[("https://o.example/inbox", "o.example")], 9).await.unwrap();
    assert!(store.activity_queued(&format!("{}/activity", web.id)).await.unwrap());

    // Expiry.
    assert!(store.set_copy_expiry(&hls.id, Some(5000), 10).await.unwrap());
    assert_eq!(store.copy(&hls.id).await.unwrap().unwrap().expires_at_ms, Some(5000));
    assert!(store.set_copy_expiry(&hls.id, None, 11).await.unwrap());
    assert_eq!(store.copy(&hls.id).await.unwrap().unwrap().expires_at_ms, None);
    // A strategy's copy kept by hand.
    assert!(store.set_copy_strategy(&hls.id, MANUAL, None, 11).await.unwrap());
    assert_eq!(store.copy(&hls.id).await.unwrap().unwrap().strategy, MANUAL);
    assert!(store.set_copy_strategy(&hls.id, "trending", Some(9), 12).await.unwrap());
    let got = store.copy(&hls.id).await.unwrap().unwrap();
    assert_eq!((got.strategy.as_str(), got.expires_at_ms), ("trending", Some(9)));
    assert!(!store.set_copy_strategy("https://me.example/none", MANUAL, None, 11).await.unwrap());

    // Reports per node, replaced by the next; none kept for an unknown copy.
    let report = |node: &str, state: &str, done: u64| CopyNodeRecord {
        copy_id: web.id.clone(),
        node: node.into(),
        state: state.into(),
        done_bytes: done,
        total_bytes: 142_634,
        reason: None,
        updated_at_ms: 12,
    };
    assert!(store.put_copy_report(&report("edge-2", "downloading", 10)).await.unwrap());
    assert!(store.put_copy_report(&report("edge-1", "downloading", 10)).await.unwrap());
    assert!(store.put_copy_report(&report("edge-1", "serving", 142_634)).await.unwrap());
    let unknown = CopyNodeRecord { copy_id: "https://me.example/none".into(), ..report("edge-1", "serving", 1) };
    assert!(!store.put_copy_report(&unknown).await.unwrap());
    assert_eq!(store.reports_of_copy(&web.id).await.unwrap(), vec![report("edge-1", "serving", 142_634), report("edge-2", "downloading", 10)]);
    assert_eq!(store.copy_reports().await.unwrap().len(), 2);
    assert!(store.put_copy_report(&CopyNodeRecord { copy_id: hls.id.clone(), ..report("edge-1", "verifying", 3) }).await.unwrap());
    // Failure reports go when the copy is tried again; the others stay.
    assert!(store.put_copy_report(&report("edge-2", "failed", 10)).await.unwrap());
    assert_eq!(store.clear_failed_reports(&web.id).await.unwrap(), 1);
    assert_eq!(store.reports_of_copy(&web.id).await.unwrap(), vec![report("edge-1", "serving", 142_634)]);
    assert!(store.put_copy_report(&report("edge-2", "downloading", 10)).await.unwrap());
    // A state the table does not know is refused by the database.
    assert!(store.put_copy_report(&report("edge-3", "teleporting", 1)).await.is_err());

    // Removed with its reports; the other copies stay.
    assert!(store.remove_copy(&web.id).await.unwrap());
    assert!(!store.remove_copy(&web.id).await.unwrap());
    assert_eq!(store.copy(&web.id).await.unwrap(), None);
    assert!(store.reports_of_copy(&web.id).await.unwrap().is_empty());
    assert_eq!(store.copy_reports().await.unwrap().len(), 1);
    assert_eq!(store.copies().await.unwrap().len(), 2);
    store.close().await;
}

async fn redundancy_hosts_allow_and_deny(fx: &Fixture) {
    let store = fx.open().await;
    assert!(store.redundancy_hosts().await.unwrap().is_empty(), "off by default, as in PeerTube");
    assert!(store.allow_redundancy("b.example", 1).await.unwrap());
    assert!(!store.allow_redundancy("b.example", 2).await.unwrap());
    assert!(store.allow_redundancy("a.example:9011", 3).await.unwrap());
    assert_eq!(store.redundancy_hosts().await.unwrap(), vec!["a.example:9011".to_owned(), "b.example".to_owned()]);
    assert!(store.deny_redundancy("b.example").await.unwrap());
    assert!(!store.deny_redundancy("b.example").await.unwrap());
    assert_eq!(store.redundancy_hosts().await.unwrap(), vec!["a.example:9011".to_owned()]);
    store.close().await;
}

async fn received_copies_by_sender_and_expiry(fx: &Fixture) {
    let store = fx.open().await;
    let rc = |id: &str, expires: Option<i64>| ReceivedCopyRecord {
        id: id.into(),
        actor: "https://cache.example/accounts/peertube".into(),
        info_hash: InfoHash([7; 20]),
        video_url: "https://me.example/videos/watch/07".into(),
        href: "https://cache.example/static/redundancy/v.mp4".into(),
        resolution: Some(0),
        fps: Some(-1),
        expires_at_ms: expires,
        verified_at_ms: Some(5),
        created_at_ms: 1,
        updated_at_ms: 1,
    };
    let a = rc("https://cache.example/redundancy/videos/x/0", Some(100));
    let b = rc("https://cache.example/redundancy/videos/y/0", None);
    store.put_received_copy(&a).await.unwrap();
    store.put_received_copy(&b).await.unwrap();
    assert_eq!(store.received_copies().await.unwrap(), vec![a.clone(), b.clone()]);
    // An Update (later expiry) replaces it; its sender stays the first one.
    let a2 = ReceivedCopyRecord { expires_at_ms: Some(200), actor: "https://intruder.example/accounts/peertube".into(), updated_at_ms: 2, ..a.clone() };
    store.put_received_copy(&a2).await.unwrap();
    let got = store.received_copy(&a.id).await.unwrap().unwrap();
    assert_eq!((got.expires_at_ms, got.actor.as_str()), (Some(200), "https://cache.example/accounts/peertube"));
    // Only its sender removes it.
    assert!(!store.remove_received_copy(&a.id, "https://intruder.example/accounts/peertube").await.unwrap());
    // Expired ones go; one without expiry stays.
    assert_eq!(store.remove_expired_received_copies(199).await.unwrap(), 0);
    assert_eq!(store.remove_expired_received_copies(200).await.unwrap(), 1);
    assert_eq!(store.received_copies().await.unwrap(), vec![b.clone()]);
    assert!(store.remove_received_copy(&b.id, &b.actor).await.unwrap());
    assert!(store.received_copies().await.unwrap().is_empty());
    assert_eq!(store.received_copy(&b.id).await.unwrap(), None);
    store.close().await;
}
