//! The store's queues, on SQLite and PostgreSQL: the inbox (duplicates, retries) and the
//! delivery queue (all-or-nothing enqueue, claims and leases, outcomes, concurrent claims), and
//! what survives a reopen.

use super::*;

on_both!(
    inbox_round_trip_and_duplicates,
    inbox_duplicates_race,
    inbox_retries_wait_their_turn,
    enqueue_is_all_or_nothing,
    claims_and_leases,
    claims_take_the_longest_due_first,
    delivery_outcomes,
    concurrent_claims_never_overlap,
    federation_survives_close_and_reopen,
);

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

/// A row retried later waits behind rows due before it, whatever their ids; the claim reads
/// only pending rows (an index of them), so rows already delivered cost it nothing.
async fn claims_take_the_longest_due_first(fx: &Fixture) {
    let store = fx.open().await;
    let old = store.enqueue_deliveries("r1", "{}", &targets(&["b.example", "c.example"]), 0).await.unwrap();
    // The first row fails and is due again at 900; a new activity is queued, due at 500.
    assert_eq!(ids(&store.claim_due_deliveries(10, 1, 60).await.unwrap()), vec![old[0]]);
    store.delivery_failed(old[0], "timeout", Some(900), 20).await.unwrap();
    let new = store.enqueue_deliveries("r2", "{}", &targets(&["d.example"]), 500).await.unwrap();
    store.delivery_succeeded(old[1], 30).await.unwrap();
    // At 1000 both are due: the one due since 500 goes first, though its id is higher.
    assert_eq!(ids(&store.claim_due_deliveries(1000, 1, 60).await.unwrap()), new);
    assert_eq!(ids(&store.claim_due_deliveries(1000, 1, 60).await.unwrap()), vec![old[0]]);
    assert!(store.claim_due_deliveries(1000, 10, 60).await.unwrap().is_empty());
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
    assert!(store.delivered_to(act, "https://b.example/inbox").await.unwrap());
    assert!(!store.delivered_to(act, "https://c.example/inbox").await.unwrap());
    assert!(!store.delivered_to("other", "https://b.example/inbox").await.unwrap());


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

    // Two actors of one host without a shared inbox: each inbox gets its own copy.
    let inboxes = [("https://b.example/users/x/inbox".to_owned(), "b.example".to_owned()), ("https://b.example/users/y/inbox".to_owned(), "b.example".to_owned())];
    let rows = store.enqueue_deliveries("a9", "{}", &inboxes, 0).await.unwrap();
    assert!(store.delivery_succeeded(rows[0], 30).await.unwrap());
    assert!(store.delivered_to("a9", &inboxes[0].0).await.unwrap());
    assert!(!store.delivered_to("a9", &inboxes[1].0).await.unwrap(), "the other inbox of the host still gets it");
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
