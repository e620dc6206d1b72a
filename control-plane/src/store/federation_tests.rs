//! The federation state's tests, on both databases like the rest of the store's.

use std::collections::BTreeSet;

use super::{Fixture, Store, StoreError};
use crate::store::{
    Delivery, FollowDirection, FollowRecord, FollowState, InboxItem, RemoteActor, FOLLOW_SCORE_MAX,
    FOLLOW_SCORE_START,
};

use FollowDirection::{Follower, Following};
use FollowState::{Accepted, Pending, Rejected};

on_both!(
    remote_actors_round_trip,
    follows_round_trip_and_states,
    follows_paging_and_counts,
    follow_scores_decay_and_cap,
    blocklist_round_trip,
    undone_follows_are_remembered,
    inbox_round_trip_and_duplicates,
    inbox_duplicates_race,
    inbox_retries_wait_their_turn,
    enqueue_is_all_or_nothing,
    claims_and_leases,
    delivery_outcomes,
    concurrent_claims_never_overlap,
    federation_survives_close_and_reopen,
);

fn remote_actor(host: &str, fetched_at_ms: i64) -> RemoteActor {
    let url = format!("https://{host}/accounts/peertube");
    RemoteActor {
        inbox: format!("{url}/inbox"),
        shared_inbox: Some(format!("https://{host}/inbox")),
        public_key_pem: format!(
            "-----BEGIN PUBLIC KEY-----\nMIIB{host}\n-----END PUBLIC KEY-----\n"
        ),
        key_id: format!("{url}#main-key"),
        url,
        fetched_at_ms,
    }
}

fn follow_of(
    direction: FollowDirection,
    host: &str,
    state: FollowState,
    created_at_ms: i64,
) -> FollowRecord {
    let url = format!("https://{host}/accounts/peertube");
    FollowRecord {
        direction,
        follow_activity_id: match direction {
            Follower => format!("{url}/follows/1"),
            Following => format!("https://us.example/accounts/peertube/follows/{host}"),
        },
        inbox: format!("{url}/inbox"),
        shared_inbox: Some(format!("https://{host}/inbox")),
        actor_url: url,
        host: host.to_owned(),
        state,
        score: FOLLOW_SCORE_START,
        created_at_ms,
        updated_at_ms: created_at_ms,
    }
}

fn urls(follows: &[FollowRecord]) -> Vec<&str> {
    follows.iter().map(|f| f.actor_url.as_str()).collect()
}

fn ids(deliveries: &[Delivery]) -> Vec<u64> {
    deliveries.iter().map(|d| d.id).collect()
}

fn targets(hosts: &[&str]) -> Vec<(String, String)> {
    hosts
        .iter()
        .map(|h| (format!("https://{h}/inbox"), (*h).to_owned()))
        .collect()
}

async fn remote_actors_round_trip(fx: &Fixture) {
    let store = fx.open().await;
    let a = remote_actor("a.example", 100);
    let mut b = remote_actor("b.example", 200);
    b.shared_inbox = None;
    assert_eq!(store.remote_actor(&a.url).await.unwrap(), None);
    store.put_remote_actor(&a).await.unwrap();
    store.put_remote_actor(&b).await.unwrap();
    assert_eq!(store.remote_actor(&a.url).await.unwrap(), Some(a.clone()));
    assert_eq!(store.remote_actor(&b.url).await.unwrap(), Some(b.clone()));
    assert_eq!(
        store.remote_actor_by_key_id(&a.key_id).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.remote_actor_by_key_id(&b.key_id).await.unwrap(),
        Some(b.clone())
    );
    assert_eq!(
        store.remote_actor_by_key_id(&a.url).await.unwrap(),
        None,
        "the key id, not the actor URL"
    );

    // A refetch replaces every field.
    let a2 = RemoteActor {
        inbox: "https://a.example/new-inbox".into(),
        shared_inbox: None,
        public_key_pem: "-----BEGIN PUBLIC KEY-----\nrotated\n-----END PUBLIC KEY-----\n".into(),
        key_id: "https://a.example/keys/2".into(),
        fetched_at_ms: 300,
        ..a.clone()
    };
    store.put_remote_actor(&a2).await.unwrap();
    assert_eq!(store.remote_actor(&a.url).await.unwrap(), Some(a2.clone()));
    assert_eq!(store.remote_actor_by_key_id(&a.key_id).await.unwrap(), None);
    assert_eq!(
        store.remote_actor_by_key_id(&a2.key_id).await.unwrap(),
        Some(a2.clone())
    );

    // Should two actors claim one key id, the most recently fetched wins.
    let c = RemoteActor {
        key_id: a2.key_id.clone(),
        fetched_at_ms: 400,
        ..remote_actor("c.example", 0)
    };
    store.put_remote_actor(&c).await.unwrap();
    assert_eq!(
        store.remote_actor_by_key_id(&a2.key_id).await.unwrap(),
        Some(c)
    );
    store.close().await;
}

async fn follows_round_trip_and_states(fx: &Fixture) {
    let store = fx.open().await;
    let mut f = follow_of(Following, "b.example", Pending, 1000);
    f.score = 5; // ignored: a new follow starts at FOLLOW_SCORE_START
    let stored = store.upsert_follow(&f).await.unwrap();
    assert_eq!(
        stored,
        FollowRecord {
            score: FOLLOW_SCORE_START,
            ..f.clone()
        }
    );
    assert_eq!(
        store.follow(Following, &f.actor_url).await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(store.follow(Follower, &f.actor_url).await.unwrap(), None);

    // The same actor in the other direction is another follow.
    let back = follow_of(Follower, "b.example", Accepted, 1500);
    let back_stored = store.upsert_follow(&back).await.unwrap();
    assert_eq!(back_stored, back);

    // pending → accepted: state and ids change, the creation time and score stay.
    store.add_follow_score("b.example", -300).await.unwrap();
    let back_stored = store
        .follow(Follower, &back.actor_url)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        back_stored.score,
        FOLLOW_SCORE_START - 300,
        "both directions"
    );
    let accepted = FollowRecord {
        state: Accepted,
        inbox: "https://b.example/accounts/peertube/inbox2".into(),
        shared_inbox: None,
        follow_activity_id: "https://us.example/accounts/peertube/follows/again".into(),
        created_at_ms: 9999,
        updated_at_ms: 2000,
        score: 1,
        ..f.clone()
    };
    let got = store.upsert_follow(&accepted).await.unwrap();
    assert_eq!(
        got,
        FollowRecord {
            created_at_ms: 1000,
            score: FOLLOW_SCORE_START - 300,
            ..accepted.clone()
        }
    );
    assert_eq!(
        store.follow(Following, &f.actor_url).await.unwrap(),
        Some(got.clone())
    );

    // accepted → rejected.
    let rejected = store
        .upsert_follow(&FollowRecord {
            state: Rejected,
            updated_at_ms: 3000,
            ..accepted.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        (
            rejected.state,
            rejected.updated_at_ms,
            rejected.created_at_ms
        ),
        (Rejected, 3000, 1000)
    );
    assert_eq!(
        store.follow(Follower, &back.actor_url).await.unwrap(),
        Some(back_stored.clone()),
        "the other direction is untouched"
    );

    // By the Follow activity's id.
    assert_eq!(
        store
            .follow_by_activity_id(&accepted.follow_activity_id)
            .await
            .unwrap(),
        Some(rejected.clone())
    );
    assert_eq!(
        store
            .follow_by_activity_id(&back.follow_activity_id)
            .await
            .unwrap(),
        Some(back_stored.clone())
    );
    assert_eq!(
        store
            .follow_by_activity_id(&f.follow_activity_id)
            .await
            .unwrap(),
        None,
        "the replaced id is forgotten"
    );

    // Listing: by direction and state, oldest first then by actor URL.
    let c = store
        .upsert_follow(&follow_of(Following, "c.example", Accepted, 500))
        .await
        .unwrap();
    let a = store
        .upsert_follow(&follow_of(Following, "a.example", Pending, 1000))
        .await
        .unwrap();
    assert_eq!(
        store.follows(Following, None).await.unwrap(),
        vec![c.clone(), a.clone(), rejected.clone()]
    );
    assert_eq!(
        store.follows(Following, Some(Accepted)).await.unwrap(),
        vec![c.clone()]
    );
    assert_eq!(
        store.follows(Following, Some(Pending)).await.unwrap(),
        vec![a.clone()]
    );
    assert_eq!(
        store.follows(Following, Some(Rejected)).await.unwrap(),
        vec![rejected.clone()]
    );
    assert_eq!(
        store.follows(Follower, None).await.unwrap(),
        vec![back_stored.clone()]
    );
    assert!(store
        .follows(Follower, Some(Pending))
        .await
        .unwrap()
        .is_empty());

    assert!(store.remove_follow(Following, &a.actor_url).await.unwrap());
    assert!(!store.remove_follow(Following, &a.actor_url).await.unwrap());
    assert!(!store.remove_follow(Follower, &c.actor_url).await.unwrap());
    assert_eq!(store.follow(Following, &a.actor_url).await.unwrap(), None);
    assert_eq!(
        urls(&store.follows(Following, None).await.unwrap()),
        vec![c.actor_url.as_str(), rejected.actor_url.as_str()]
    );

    // Removed and followed again: a fresh follow, with a fresh score.
    let again = store
        .upsert_follow(&follow_of(Following, "a.example", Pending, 7000))
        .await
        .unwrap();
    assert_eq!(
        (again.created_at_ms, again.score),
        (7000, FOLLOW_SCORE_START)
    );
    store.close().await;
}

async fn follows_paging_and_counts(fx: &Fixture) {
    let store = fx.open().await;
    // 25 followers, created in pairs sharing a time (ties go by actor URL), every third accepted.
    let mut expected = Vec::new();
    for i in (0..25u32).rev() {
        let state = if i % 3 == 0 { Accepted } else { Pending };
        let f = follow_of(
            Follower,
            &format!("h{i:02}.example"),
            state,
            i64::from(i / 2),
        );
        expected.push(store.upsert_follow(&f).await.unwrap());
    }
    store
        .upsert_follow(&follow_of(Following, "other.example", Accepted, 0))
        .await
        .unwrap();
    expected.sort_by(|a, b| (a.created_at_ms, &a.actor_url).cmp(&(b.created_at_ms, &b.actor_url)));
    assert_eq!(store.follows(Follower, None).await.unwrap(), expected);

    let mut paged = Vec::new();
    for page in 0..4u64 {
        let got = store
            .follows_page(Follower, None, page * 10, 10)
            .await
            .unwrap();
        assert_eq!(got.len(), [10, 10, 5, 0][page as usize]);
        paged.extend(got);
    }
    assert_eq!(paged, expected);
    assert_eq!(store.count_follows(Follower, None).await.unwrap(), 25);
    assert_eq!(store.count_follows(Following, None).await.unwrap(), 1);

    let accepted: Vec<FollowRecord> = expected
        .iter()
        .filter(|f| f.state == Accepted)
        .cloned()
        .collect();
    assert_eq!(accepted.len(), 9);
    assert_eq!(
        store.count_follows(Follower, Some(Accepted)).await.unwrap(),
        9
    );
    assert_eq!(
        store.count_follows(Follower, Some(Pending)).await.unwrap(),
        16
    );
    assert_eq!(
        store.count_follows(Follower, Some(Rejected)).await.unwrap(),
        0
    );
    assert_eq!(
        store
            .follows_page(Follower, Some(Accepted), 3, 4)
            .await
            .unwrap(),
        accepted[3..7].to_vec()
    );
    assert_eq!(
        store
            .follows_page(Follower, Some(Accepted), 8, 100)
            .await
            .unwrap(),
        accepted[8..].to_vec()
    );
    assert!(store
        .follows_page(Follower, None, 0, 0)
        .await
        .unwrap()
        .is_empty());
    // Out-of-range numbers mean "everything" / "past the end", never an error.
    assert_eq!(
        store
            .follows_page(Follower, None, 20, u64::MAX)
            .await
            .unwrap(),
        expected[20..].to_vec()
    );
    assert!(store
        .follows_page(Follower, None, u64::MAX, u64::MAX)
        .await
        .unwrap()
        .is_empty());
    store.close().await;
}

async fn follow_scores_decay_and_cap(fx: &Fixture) {
    let store = fx.open().await;
    let b_following = store
        .upsert_follow(&follow_of(Following, "b.example", Accepted, 1))
        .await
        .unwrap();
    let b_follower = store
        .upsert_follow(&follow_of(Follower, "b.example", Accepted, 2))
        .await
        .unwrap();
    let c = store
        .upsert_follow(&follow_of(Follower, "c.example", Pending, 3))
        .await
        .unwrap();
    let score = |store: &Store, dir, url: String| {
        let store = store.clone();
        async move { store.follow(dir, &url).await.unwrap().map(|f| f.score) }
    };

    // Every follow of the host, in both directions; other hosts untouched.
    assert!(store
        .add_follow_score("b.example", 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        score(&store, Following, b_following.actor_url.clone()).await,
        Some(1010)
    );
    assert_eq!(
        score(&store, Follower, b_follower.actor_url.clone()).await,
        Some(1010)
    );
    assert_eq!(
        score(&store, Follower, c.actor_url.clone()).await,
        Some(1000)
    );
    assert!(store
        .add_follow_score("nobody.example", -5000)
        .await
        .unwrap()
        .is_empty());

    // Capped at FOLLOW_SCORE_MAX, even for absurd deltas.
    assert!(store
        .add_follow_score("b.example", 20_000)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        score(&store, Following, b_following.actor_url.clone()).await,
        Some(FOLLOW_SCORE_MAX)
    );
    assert!(store
        .add_follow_score("b.example", i64::MAX)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        score(&store, Follower, b_follower.actor_url.clone()).await,
        Some(FOLLOW_SCORE_MAX)
    );

    // Falling to exactly 0 deletes: both follows of the host go, and are returned.
    let removed = store
        .add_follow_score("b.example", -FOLLOW_SCORE_MAX)
        .await
        .unwrap();
    assert_eq!(
        removed,
        vec![
            FollowRecord {
                score: 0,
                ..b_following.clone()
            },
            FollowRecord {
                score: 0,
                ..b_follower.clone()
            },
        ]
    );
    assert_eq!(
        store
            .follow(Following, &b_following.actor_url)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.follow(Follower, &b_follower.actor_url).await.unwrap(),
        None
    );
    assert_eq!(
        store.follows(Follower, None).await.unwrap(),
        vec![c.clone()]
    );

    // PeerTube's decay: −10 per failure, so 99 failures leave 10 and the 100th deletes.
    for _ in 0..99 {
        assert!(store
            .add_follow_score("c.example", -10)
            .await
            .unwrap()
            .is_empty());
    }
    assert_eq!(score(&store, Follower, c.actor_url.clone()).await, Some(10));
    let removed = store.add_follow_score("c.example", i64::MIN).await.unwrap();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].actor_url, c.actor_url);
    assert!(removed[0].score <= 0);
    assert_eq!(store.count_follows(Follower, None).await.unwrap(), 0);
    store.close().await;
}

async fn blocklist_round_trip(fx: &Fixture) {
    let store = fx.open().await;
    assert!(store.blocked_hosts().await.unwrap().is_empty());
    assert!(!store.is_blocked("spam.example").await.unwrap());
    assert!(store.block_host("spam.example", 10).await.unwrap());
    assert!(store.block_host("abuse.example", 20).await.unwrap());
    assert!(
        !store.block_host("spam.example", 30).await.unwrap(),
        "already blocked"
    );
    assert!(store.is_blocked("spam.example").await.unwrap());
    assert!(!store.is_blocked("SPAM.example.org").await.unwrap());
    assert_eq!(
        store.blocked_hosts().await.unwrap(),
        vec!["abuse.example".to_owned(), "spam.example".to_owned()]
    );
    assert!(store.unblock_host("spam.example").await.unwrap());
    assert!(!store.unblock_host("spam.example").await.unwrap());
    assert!(!store.is_blocked("spam.example").await.unwrap());
    assert_eq!(
        store.blocked_hosts().await.unwrap(),
        vec!["abuse.example".to_owned()]
    );
    store.close().await;
}

async fn undone_follows_are_remembered(fx: &Fixture) {
    let store = fx.open().await;
    let id = "https://a.example/accounts/peertube/follows/1";
    assert!(!store.is_follow_undone(id).await.unwrap());
    store.record_undone_follow(id, "https://a.example/accounts/peertube", 5).await.unwrap();
    store.record_undone_follow(id, "https://a.example/accounts/peertube", 6).await.unwrap();
    assert!(store.is_follow_undone(id).await.unwrap());
    assert!(!store.is_follow_undone("https://a.example/accounts/peertube/follows/2").await.unwrap());
    store.close().await;
    let again = fx.open().await;
    assert!(again.is_follow_undone(id).await.unwrap(), "kept across a restart");
    again.close().await;
}

async fn inbox_round_trip_and_duplicates(fx: &Fixture) {
    let store = fx.open().await;
    let body = r#"{"type":"Follow","id":"https://b.example/f/1","actor":"https://b.example/a"}"#;
    let first = store
        .store_inbox(
            Some("https://b.example/f/1"),
            "https://b.example/a",
            body,
            100,
        )
        .await
        .unwrap()
        .expect("stored");
    // A second delivery of the same activity id is a duplicate: nothing is stored.
    assert_eq!(
        store
            .store_inbox(
                Some("https://b.example/f/1"),
                "https://c.example/a",
                "{}",
                101
            )
            .await
            .unwrap(),
        None
    );
    // Activities without an id are never duplicates of each other.
    let anon1 = store
        .store_inbox(None, "https://c.example/a", "{\"n\":1}", 102)
        .await
        .unwrap()
        .expect("stored");
    let anon2 = store
        .store_inbox(None, "https://c.example/a", "{\"n\":2}", 103)
        .await
        .unwrap()
        .expect("stored");
    let last = store
        .store_inbox(
            Some("https://c.example/x"),
            "https://c.example/a",
            "ü ✓",
            104,
        )
        .await
        .unwrap()
        .expect("stored");
    assert!(first < anon1 && anon1 < anon2 && anon2 < last, "ids grow");

    let item = |id, activity_id: Option<&str>, actor: &str, body: &str, at| InboxItem {
        id,
        activity_id: activity_id.map(str::to_owned),
        actor: actor.to_owned(),
        body: body.to_owned(),
        received_at_ms: at,
        processed_at_ms: None,
        error: None,
        attempts: 0,
        next_attempt_ms: None,
    };
    let all = vec![
        item(
            first,
            Some("https://b.example/f/1"),
            "https://b.example/a",
            body,
            100,
        ),
        item(anon1, None, "https://c.example/a", "{\"n\":1}", 102),
        item(anon2, None, "https://c.example/a", "{\"n\":2}", 103),
        item(
            last,
            Some("https://c.example/x"),
            "https://c.example/a",
            "ü ✓",
            104,
        ),
    ];
    assert_eq!(store.unprocessed_inbox(100).await.unwrap(), all);
    assert_eq!(store.unprocessed_inbox(2).await.unwrap(), all[..2].to_vec());
    assert!(store.unprocessed_inbox(0).await.unwrap().is_empty());
    assert_eq!(store.inbox_item(anon1).await.unwrap(), Some(all[1].clone()));
    assert_eq!(store.inbox_item(u64::MAX).await.unwrap(), None);

    assert!(store.mark_inbox_processed(first, None, 200).await.unwrap());
    assert!(store
        .mark_inbox_processed(anon2, Some("unknown activity type"), 201)
        .await
        .unwrap());
    assert!(!store
        .mark_inbox_processed(last + 100, None, 202)
        .await
        .unwrap());
    assert!(!store
        .mark_inbox_processed(u64::MAX, None, 202)
        .await
        .unwrap());
    assert_eq!(
        store.unprocessed_inbox(100).await.unwrap(),
        vec![all[1].clone(), all[3].clone()]
    );
    assert_eq!(
        store.inbox_item(first).await.unwrap(),
        Some(InboxItem {
            processed_at_ms: Some(200),
            ..all[0].clone()
        })
    );
    assert_eq!(
        store.inbox_item(anon2).await.unwrap(),
        Some(InboxItem {
            processed_at_ms: Some(201),
            error: Some("unknown activity type".into()),
            ..all[2].clone()
        })
    );
    // Processed, the activity id is still known: a late duplicate is still refused.
    assert_eq!(
        store
            .store_inbox(
                Some("https://b.example/f/1"),
                "https://b.example/a",
                body,
                300
            )
            .await
            .unwrap(),
        None
    );

    // Pruning forgets what was processed before the cutoff, and only that.
    assert_eq!(store.prune_inbox(201).await.unwrap(), 1);
    assert_eq!(store.inbox_item(first).await.unwrap(), None);
    assert!(store.inbox_item(anon2).await.unwrap().is_some());
    assert_eq!(store.unprocessed_inbox(100).await.unwrap().len(), 2);
    let again = store
        .store_inbox(
            Some("https://b.example/f/1"),
            "https://b.example/a",
            body,
            400,
        )
        .await
        .unwrap()
        .expect("forgotten, so stored again");
    assert!(again > last, "ids are never reused");
    store.close().await;
}

async fn inbox_duplicates_race(fx: &Fixture) {
    // Two stores stand for two processes receiving the same activity many times at once.
    let (a, b, results) = fx
        .race(|store, i| async move {
            store
                .store_inbox(Some("https://b.example/act/1"), "https://b.example/a", "{}", i)
                .await
                .unwrap()
        })
        .await;
    let stored: Vec<u64> = results.into_iter().flatten().collect();
    assert_eq!(stored.len(), 1, "exactly one delivery is kept: {stored:?}");
    let items = a.unprocessed_inbox(100).await.unwrap();
    assert_eq!(ids_of(&items), stored);
    a.close().await;
    b.close().await;
}

async fn inbox_retries_wait_their_turn(fx: &Fixture) {
    let store = &fx.open().await;
    let a = store.store_inbox(Some("https://b.example/f/a"), "https://b.example/a", "{}", 100).await.unwrap().unwrap();
    let b = store.store_inbox(Some("https://b.example/f/b"), "https://b.example/a", "{}", 101).await.unwrap().unwrap();
    assert_eq!(ids_of(&store.due_inbox(10, 150).await.unwrap()), vec![a, b]);

    // a failed for a passing reason: not due again before its time, then due, counted.
    assert!(store.retry_inbox_later(a, "https://b.example/a: connection refused", 1_000).await.unwrap());
    assert_eq!(ids_of(&store.due_inbox(10, 999).await.unwrap()), vec![b]);
    let due = store.due_inbox(10, 1_000).await.unwrap();
    assert_eq!(ids_of(&due), vec![a, b]);
    assert_eq!((due[0].attempts, due[0].next_attempt_ms), (1, Some(1_000)));
    assert_eq!(due[0].error.as_deref(), Some("https://b.example/a: connection refused"));
    assert!(store.retry_inbox_later(a, "again", 2_000).await.unwrap());
    assert_eq!(store.inbox_item(a).await.unwrap().unwrap().attempts, 2);
    // Still unprocessed, whatever its schedule.
    assert_eq!(ids_of(&store.unprocessed_inbox(10).await.unwrap()), vec![a, b]);

    // Processed at last: no longer due, no schedule, and no retry can be recorded any more.
    assert!(store.mark_inbox_processed(a, None, 2_100).await.unwrap());
    let done = store.inbox_item(a).await.unwrap().unwrap();
    assert_eq!((done.processed_at_ms, done.next_attempt_ms, done.attempts), (Some(2_100), None, 2));
    assert!(!store.retry_inbox_later(a, "late", 3_000).await.unwrap());
    assert!(!store.retry_inbox_later(u64::MAX, "none", 3_000).await.unwrap());
    assert_eq!(ids_of(&store.due_inbox(10, 5_000).await.unwrap()), vec![b]);
    assert!(store.due_inbox(0, 5_000).await.unwrap().is_empty());
}

fn ids_of(items: &[InboxItem]) -> Vec<u64> {
    items.iter().map(|i| i.id).collect()
}

async fn enqueue_is_all_or_nothing(fx: &Fixture) {
    let store = fx.open().await;
    let act = "https://us.example/activities/1";
    let body = r#"{"type":"Announce"}"#;
    let new = store
        .enqueue_deliveries(
            act,
            body,
            &targets(&["b.example", "c.example", "d.example"]),
            1000,
        )
        .await
        .unwrap();
    assert_eq!(new.len(), 3);
    assert!(new.windows(2).all(|w| w[0] < w[1]), "{new:?}");
    let pending = store.pending_deliveries(None).await.unwrap();
    assert_eq!(
        pending[0],
        Delivery {
            id: new[0],
            activity_id: act.into(),
            inbox_url: "https://b.example/inbox".into(),
            host: "b.example".into(),
            body: body.into(),
            attempts: 0,
            next_at_ms: 1000,
            last_error: None,
            created_at_ms: 1000,
            delivered_at_ms: None,
            gave_up_at_ms: None,
        }
    );
    assert_eq!(ids(&pending), new);
    assert_eq!(
        pending.iter().map(|d| d.host.as_str()).collect::<Vec<_>>(),
        ["b.example", "c.example", "d.example"]
    );
    assert_eq!(
        ids(&store.pending_deliveries(Some("c.example")).await.unwrap()),
        vec![new[1]]
    );
    assert!(store
        .pending_deliveries(Some("z.example"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.delivery(new[2]).await.unwrap(),
        Some(pending[2].clone())
    );
    assert_eq!(store.delivery(u64::MAX).await.unwrap(), None);

    // &str targets work too; none at all stores nothing.
    let one = store
        .enqueue_deliveries(
            "act-2",
            "{}",
            &[("https://e.example/inbox", "e.example")],
            1001,
        )
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    let none: &[(&str, &str)] = &[];
    assert!(store
        .enqueue_deliveries("act-3", "{}", none, 1002)
        .await
        .unwrap()
        .is_empty());

    // One bad target (an empty host) fails the whole batch: the good rows before it are gone.
    let mut bad = targets(&["f.example", "g.example"]);
    bad.push(("https://h.example/inbox".into(), String::new()));
    bad.extend(targets(&["i.example"]));
    assert!(matches!(
        store.enqueue_deliveries("act-4", "{}", &bad, 1003).await,
        Err(StoreError::Database(_))
    ));
    let all = store.pending_deliveries(None).await.unwrap();
    assert_eq!(all.len(), 4);
    assert!(all.iter().all(|d| d.activity_id != "act-4"));
    assert!(store
        .pending_deliveries(Some("f.example"))
        .await
        .unwrap()
        .is_empty());
    store.close().await;
}

async fn claims_and_leases(fx: &Fixture) {
    let store = fx.open().await;
    let first = store
        .enqueue_deliveries(
            "a1",
            "{}",
            &targets(&["b.example", "c.example", "d.example"]),
            100,
        )
        .await
        .unwrap();
    let later = store
        .enqueue_deliveries("a2", "{}", &targets(&["b.example"]), 500)
        .await
        .unwrap();

    // Not due yet.
    assert!(store
        .claim_due_deliveries(99, 10, 60)
        .await
        .unwrap()
        .is_empty());

    // Due rows, oldest first, at most `limit`; the claim counts an attempt and sets the lease.
    let got = store.claim_due_deliveries(200, 2, 60).await.unwrap();
    assert_eq!(ids(&got), first[..2].to_vec());
    assert!(got.iter().all(|d| d.attempts == 1 && d.next_at_ms == 260));
    assert_eq!(
        store.delivery(first[0]).await.unwrap(),
        Some(got[0].clone())
    );

    // Before the lease ends, claimed rows are not claimed again; the rest are.
    let rest = store.claim_due_deliveries(210, 10, 60).await.unwrap();
    assert_eq!(ids(&rest), vec![first[2]]);
    assert_eq!(rest[0].next_at_ms, 270);
    assert!(store
        .claim_due_deliveries(259, 10, 60)
        .await
        .unwrap()
        .is_empty());
    // Claimed rows are still pending: nobody reported on them.
    assert_eq!(store.pending_deliveries(None).await.unwrap().len(), 4);

    // The lease ends at 260: those rows come back (a worker that crashed loses nothing).
    let back = store.claim_due_deliveries(260, 10, 1000).await.unwrap();
    assert_eq!(ids(&back), first[..2].to_vec());
    assert!(back.iter().all(|d| d.attempts == 2 && d.next_at_ms == 1260));

    // At 600 the later activity is due, and so is the row leased until 270.
    let due = store.claim_due_deliveries(600, 10, 1000).await.unwrap();
    assert_eq!(ids(&due), vec![first[2], later[0]]);

    // A zero lease hands the row out again at once; a huge one never overflows.
    store
        .delivery_failed(later[0], "timeout", Some(0), 601)
        .await
        .unwrap();
    let zero = store.claim_due_deliveries(700, 1, 0).await.unwrap();
    assert_eq!((ids(&zero), zero[0].next_at_ms), (later.clone(), 700));
    let huge = store
        .claim_due_deliveries(700, u64::MAX, u64::MAX)
        .await
        .unwrap();
    assert_eq!(ids(&huge), later.clone());
    assert_eq!(huge[0].next_at_ms, i64::MAX);
    assert!(store
        .claim_due_deliveries(i64::MAX - 1, 10, 5)
        .await
        .unwrap()
        .iter()
        .all(|d| d.id != later[0]));
    store.close().await;
}

async fn delivery_outcomes(fx: &Fixture) {
    let store = fx.open().await;
    let act = "https://us.example/activities/7";
    let rows = store
        .enqueue_deliveries(
            act,
            "{}",
            &targets(&["b.example", "c.example", "d.example"]),
            0,
        )
        .await
        .unwrap();
    let (b, c, d) = (rows[0], rows[1], rows[2]);
    assert_eq!(
        store.claim_due_deliveries(10, 10, 60).await.unwrap().len(),
        3
    );
    assert!(store.delivered_hosts(act).await.unwrap().is_empty());

    // b acknowledged: delivered, never claimed again, listed as delivered.
    assert!(store.delivery_succeeded(b, 20).await.unwrap());
    assert!(
        !store.delivery_succeeded(b, 21).await.unwrap(),
        "already delivered"
    );
    assert!(!store
        .delivery_failed(b, "late", Some(30), 22)
        .await
        .unwrap());
    assert_eq!(
        store.delivery(b).await.unwrap().unwrap().delivered_at_ms,
        Some(20)
    );
    assert_eq!(store.delivered_hosts(act).await.unwrap(), vec!["b.example"]);
    assert!(store.delivered_to(act, "b.example").await.unwrap());
    assert!(!store.delivered_to(act, "c.example").await.unwrap());
    assert!(!store.delivered_to("other", "b.example").await.unwrap());

    // c failed: due again at the given time, with the error kept.
    assert!(store
        .delivery_failed(c, "HTTP 502", Some(1000), 25)
        .await
        .unwrap());
    let c_row = store.delivery(c).await.unwrap().unwrap();
    assert_eq!(
        (
            c_row.next_at_ms,
            c_row.last_error.as_deref(),
            c_row.gave_up_at_ms
        ),
        (1000, Some("HTTP 502"), None)
    );

    // d failed for good: given up, not pending, never claimed again.
    assert!(store
        .delivery_failed(d, "HTTP 410", None, 30)
        .await
        .unwrap());
    let d_row = store.delivery(d).await.unwrap().unwrap();
    assert_eq!(
        (
            d_row.gave_up_at_ms,
            d_row.last_error.as_deref(),
            d_row.delivered_at_ms
        ),
        (Some(30), Some("HTTP 410"), None)
    );
    assert!(!store.delivery_failed(d, "again", None, 31).await.unwrap());
    assert_eq!(ids(&store.pending_deliveries(None).await.unwrap()), vec![c]);

    assert!(store
        .claim_due_deliveries(999, 10, 60)
        .await
        .unwrap()
        .is_empty());
    let retry = store.claim_due_deliveries(1000, 10, 60).await.unwrap();
    assert_eq!(ids(&retry), vec![c]);
    assert_eq!(retry[0].attempts, 2);
    assert!(store.delivery_succeeded(c, 1001).await.unwrap());
    assert!(store
        .claim_due_deliveries(i64::MAX, 10, 60)
        .await
        .unwrap()
        .is_empty());
    assert!(store.pending_deliveries(None).await.unwrap().is_empty());
    assert_eq!(
        store.delivered_hosts(act).await.unwrap(),
        vec!["b.example", "c.example"]
    );
    assert!(store.delivered_hosts("other").await.unwrap().is_empty());

    // Unknown rows.
    assert!(!store.delivery_succeeded(d + 100, 1).await.unwrap());
    assert!(!store.delivery_succeeded(u64::MAX, 1).await.unwrap());
    assert!(!store.delivery_failed(u64::MAX, "x", None, 1).await.unwrap());

    // Pruning removes finished rows before the cutoff, never pending ones.
    let pending = store
        .enqueue_deliveries("a8", "{}", &targets(&["e.example"]), 2000)
        .await
        .unwrap();
    assert_eq!(store.prune_deliveries(1001).await.unwrap(), 2, "b and d");
    assert_eq!(store.delivered_hosts(act).await.unwrap(), vec!["c.example"]);
    assert_eq!(store.prune_deliveries(i64::MAX).await.unwrap(), 1, "c");
    assert_eq!(ids(&store.pending_deliveries(None).await.unwrap()), pending);
    store.close().await;
}

async fn concurrent_claims_never_overlap(fx: &Fixture) {
    const ROWS: usize = 60;
    let a = fx.open().await;
    let b = fx.open().await;
    let hosts: Vec<String> = (0..ROWS).map(|i| format!("h{i}.example")).collect();
    let host_refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let all = a
        .enqueue_deliveries("act", "{}", &targets(&host_refs), 0)
        .await
        .unwrap();

    // Four workers claim in small batches, all with a long lease, until nothing is left.
    let mut workers = Vec::new();
    for w in 0..4 {
        let store = if w % 2 == 0 { a.clone() } else { b.clone() };
        workers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            let mut empty = 0;
            while empty < 3 {
                let batch = store.claim_due_deliveries(100, 3, 1_000_000).await.unwrap();
                if batch.is_empty() {
                    empty += 1;
                } else {
                    empty = 0;
                }
                got.extend(batch.into_iter().map(|d| d.id));
                tokio::task::yield_now().await;
            }
            got
        }));
    }
    let mut claimed = Vec::new();
    for w in workers {
        claimed.extend(w.await.unwrap());
    }
    let unique: BTreeSet<u64> = claimed.iter().copied().collect();
    assert_eq!(unique.len(), claimed.len(), "a row was claimed twice");
    assert_eq!(unique, all.iter().copied().collect::<BTreeSet<u64>>());
    let rows = a.pending_deliveries(None).await.unwrap();
    assert!(rows.iter().all(|d| d.attempts == 1), "each claimed once");
    a.close().await;
    b.close().await;
}

async fn federation_survives_close_and_reopen(fx: &Fixture) {
    let store = fx.open().await;
    let actor = remote_actor("b.example", 5);
    store.put_remote_actor(&actor).await.unwrap();
    store
        .upsert_follow(&follow_of(Following, "b.example", Accepted, 1))
        .await
        .unwrap();
    store
        .upsert_follow(&follow_of(Follower, "c.example", Pending, 2))
        .await
        .unwrap();
    store.add_follow_score("b.example", -10).await.unwrap();
    store.block_host("spam.example", 3).await.unwrap();
    let first = store
        .store_inbox(Some("https://b.example/x"), &actor.url, "{}", 4)
        .await
        .unwrap()
        .unwrap();
    store
        .store_inbox(None, &actor.url, "{\"y\":1}", 5)
        .await
        .unwrap()
        .unwrap();
    store
        .mark_inbox_processed(first, Some("boom"), 6)
        .await
        .unwrap();
    let rows = store
        .enqueue_deliveries(
            "act",
            "{}",
            &targets(&["b.example", "c.example", "d.example"]),
            10,
        )
        .await
        .unwrap();
    store.claim_due_deliveries(10, 10, 100).await.unwrap();
    store.delivery_succeeded(rows[0], 11).await.unwrap();
    store
        .delivery_failed(rows[1], "refused", None, 12)
        .await
        .unwrap();
    // rows[2] stays claimed: its worker "crashes" with the store.

    let (r0, r1) = (rows[0], rows[1]);
    let snapshot = |store: Store| async move {
        (
            store
                .remote_actor(&remote_actor("b.example", 0).url)
                .await
                .unwrap(),
            store.follows(Following, None).await.unwrap(),
            store.follows(Follower, None).await.unwrap(),
            store.blocked_hosts().await.unwrap(),
            store.inbox_item(first).await.unwrap(),
            store.unprocessed_inbox(10).await.unwrap(),
            store.delivery(r0).await.unwrap(),
            store.delivery(r1).await.unwrap(),
            store.pending_deliveries(None).await.unwrap(),
            store.delivered_hosts("act").await.unwrap(),
        )
    };
    let before = snapshot(store.clone()).await;
    store.close().await;

    let store = fx.open().await;
    let after = snapshot(store.clone()).await;
    assert_eq!(before, after);
    assert_eq!(after.1[0].score, FOLLOW_SCORE_START - 10);
    assert_eq!(after.3, vec!["spam.example".to_owned()]);
    assert_eq!(after.5.len(), 1);
    assert_eq!(ids(&after.8), vec![rows[2]]);
    // Still a duplicate after the restart.
    assert_eq!(
        store
            .store_inbox(Some("https://b.example/x"), &actor.url, "{}", 20)
            .await
            .unwrap(),
        None
    );
    // The crashed worker's claim comes back once its lease ends, and only then.
    assert!(store
        .claim_due_deliveries(109, 10, 100)
        .await
        .unwrap()
        .is_empty());
    let back = store.claim_due_deliveries(110, 10, 100).await.unwrap();
    assert_eq!(ids(&back), vec![rows[2]]);
    assert_eq!(back[0].attempts, 2);
    store.close().await;
}
