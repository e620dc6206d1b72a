//! The store's follow tables, on SQLite and PostgreSQL: remote actors, follows in both
//! directions with their states, paging and scores, the blocklist, undone follows.

use super::*;

on_both!(
    remote_actors_round_trip,
    follows_round_trip_and_states,
    follows_paging_and_counts,
    follow_scores_decay_and_cap,
    blocklist_round_trip,
    undone_follows_are_remembered,
);

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
