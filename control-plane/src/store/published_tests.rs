//! The published-videos tables' tests, on both databases: a path keeps its UUID, facts and
//! announcements are recorded, the admin's edits and removal (images go with the video), and
//! the account's and channel's followers.

use super::Fixture;
use crate::store::LocalFollower;

on_both!(published_videos_keep_their_uuid, local_followers_round_trip);

async fn published_videos_keep_their_uuid(fx: &Fixture) {
    let store = fx.open().await;
    let a = store.ensure_published("dir/a.mp4", "11111111-1111-4111-8111-111111111111", "a", 5).await.unwrap();
    assert_eq!((a.uuid.as_str(), a.title.as_str(), a.published_at_ms), ("11111111-1111-4111-8111-111111111111", "a", 5));
    // A second call for the path (another process, a restart) keeps the first UUID.
    let again = store.ensure_published("dir/a.mp4", "22222222-2222-4222-8222-222222222222", "other", 9).await.unwrap();
    assert_eq!(again, a);
    // Two paths cannot share a UUID.
    assert!(store.ensure_published("b.mp4", &a.uuid, "b", 9).await.is_err());

    store.set_media_facts("dir/a.mp4", "ab", Ok((8, 640, 360, 25)), 10).await.unwrap();
    store.set_announced("dir/a.mp4", "ab", 11).await.unwrap();
    let v = store.published_by_uuid(&a.uuid).await.unwrap().unwrap();
    assert_eq!((v.duration_s, v.width, v.height, v.fps, v.probe_error.as_deref()), (Some(8), Some(640), Some(360), Some(25), None));
    assert_eq!((v.probed_info_hash.as_deref(), v.announced_info_hash.as_deref(), v.announced_at_ms), (Some("ab"), Some("ab"), Some(11)));
    store.set_media_facts("dir/a.mp4", "cd", Err("not a video".into()), 12).await.unwrap();
    let v = store.published_by_uuid(&a.uuid).await.unwrap().unwrap();
    assert_eq!((v.duration_s, v.probe_error.as_deref()), (None, Some("not a video")));

    let mut edit = v.clone();
    edit.title = "A better title".into();
    edit.description = Some("About it".into());
    edit.licence = Some(1);
    edit.tags = "[\"one\",\"two\"]".into();
    let edited = store.edit_published(&edit, 20).await.unwrap().unwrap();
    assert_eq!((edited.title.as_str(), edited.updated_at_ms, edited.tag_list()), ("A better title", 20, vec!["one".to_owned(), "two".to_owned()]));
    edit.uuid = "33333333-3333-4333-8333-333333333333".into();
    assert_eq!(store.edit_published(&edit, 21).await.unwrap(), None);

    store.put_video_image(&a.uuid, "thumbnail", b"jpeg", 280, 157).await.unwrap();
    store.put_video_image(&a.uuid, "thumbnail", b"jpeg2", 280, 157).await.unwrap();
    let img = store.video_image(&a.uuid, "thumbnail").await.unwrap().unwrap();
    assert_eq!((img.bytes.as_slice(), img.width, img.height), (&b"jpeg2"[..], 280, 157));
    assert!(store.put_video_image(&a.uuid, "poster", b"x", 1, 1).await.is_err(), "only thumbnail and preview");

    store.remove_published("dir/a.mp4").await.unwrap();
    assert!(store.published_by_uuid(&a.uuid).await.unwrap().is_none());
    assert!(store.video_image(&a.uuid, "thumbnail").await.unwrap().is_none());
    assert!(store.published_videos().await.unwrap().is_empty());
}

async fn local_followers_round_trip(fx: &Fixture) {
    let store = fx.open().await;
    let f = |actor: &str, follow: &str, at: i64| LocalFollower {
        local_actor: "channel".into(),
        actor_url: actor.into(),
        host: "pt.example".into(),
        inbox: format!("{actor}/inbox"),
        shared_inbox: Some("https://pt.example/inbox".into()),
        follow_activity_id: follow.into(),
        created_at_ms: at,
    };
    store.put_local_follower(&f("https://pt.example/accounts/alice", "f1", 1)).await.unwrap();
    store.put_local_follower(&f("https://pt.example/accounts/bob", "f2", 2)).await.unwrap();
    store.put_local_follower(&f("https://pt.example/accounts/alice", "f3", 3)).await.unwrap();
    assert_eq!(store.count_local_followers("channel").await.unwrap(), 2);
    assert_eq!(store.count_local_followers("account").await.unwrap(), 0);
    let page = store.local_followers("channel", 0, 10).await.unwrap();
    assert_eq!(page.iter().map(|f| f.follow_activity_id.as_str()).collect::<Vec<_>>(), vec!["f3", "f2"]);
    assert_eq!(store.local_followers("channel", 1, 10).await.unwrap().len(), 1);
    // An Undo of an older follow leaves the newer one.
    assert!(!store.remove_local_follower("channel", "https://pt.example/accounts/alice", "f1").await.unwrap());
    assert!(store.remove_local_follower("channel", "https://pt.example/accounts/alice", "f3").await.unwrap());
    assert_eq!(store.count_local_followers("channel").await.unwrap(), 1);
}
