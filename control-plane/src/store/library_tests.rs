//! The store's library tables, on SQLite and PostgreSQL: videos, the change log the data nodes
//! follow, data nodes, and what survives a reopen or races between writers.

use std::collections::BTreeMap;

use vidseed_shared::InfoHash;

use super::*;

on_both!(
    videos_and_change_log,
    changes_after_and_pruning,
    nodes_round_trip,
    corrupt_rows_are_reported,
    survives_close_and_reopen,
    concurrent_writers_get_dense_seqs,
);

async fn videos_and_change_log(fx: &Fixture) {
    let store = fx.open().await;
    let b = video("shows/b.mp4", 2);
    let a = video("a.mp4", 1);
    assert_eq!(store.put_video(&b).await.unwrap(), 1);
    assert_eq!(store.put_video(&a).await.unwrap(), 2);
    assert_eq!(
        store.videos().await.unwrap(),
        vec![a.clone(), b.clone()],
        "ordered by path"
    );
    assert_eq!(store.video("a.mp4").await.unwrap(), Some(a.clone()));
    assert_eq!(store.video("missing.mp4").await.unwrap(), None);
    assert_eq!(
        store.video_by_info_hash(&InfoHash([2; 20])).await.unwrap(),
        Some(b.clone())
    );
    assert_eq!(
        store.video_by_info_hash(&InfoHash([9; 20])).await.unwrap(),
        None
    );

    // Replacing by path updates every field and logs another change.
    let mut a2 = video("a.mp4", 3);
    a2.size = i64::MAX as u64;
    a2.mtime_ms = -5;
    a2.info = Vec::new();
    a2.content_type = "video/webm".into();
    assert_eq!(store.put_video(&a2).await.unwrap(), 3);
    assert_eq!(store.video("a.mp4").await.unwrap(), Some(a2.clone()));
    assert_eq!(
        store.video_by_info_hash(&InfoHash([1; 20])).await.unwrap(),
        None
    );
    assert_eq!(
        store.video_by_info_hash(&InfoHash([3; 20])).await.unwrap(),
        Some(a2.clone())
    );
    assert_eq!(store.videos().await.unwrap().len(), 2);

    // Sizes the database cannot hold are refused before anything is written.
    let mut huge = video("huge.mp4", 4);
    huge.size = u64::MAX;
    assert!(matches!(
        store.put_video(&huge).await,
        Err(StoreError::OutOfRange(_))
    ));
    assert_eq!(store.video("huge.mp4").await.unwrap(), None);
    assert_eq!(store.last_seq().await.unwrap(), 3);

    assert_eq!(store.remove_video("a.mp4").await.unwrap(), Some(4));
    assert_eq!(store.video("a.mp4").await.unwrap(), None);
    // Removing a missing video logs nothing and leaves no gap.
    assert_eq!(store.remove_video("a.mp4").await.unwrap(), None);
    assert_eq!(store.last_seq().await.unwrap(), 4);
    assert_eq!(
        store
            .log_change(ChangeKind::Settings, "public_url")
            .await
            .unwrap(),
        5
    );
    assert_eq!(store.videos().await.unwrap(), vec![b.clone()]);

    assert_eq!(
        store.changes_after(0).await.unwrap(),
        Some(vec![
            change(1, ChangeKind::Video, "shows/b.mp4"),
            change(2, ChangeKind::Video, "a.mp4"),
            change(3, ChangeKind::Video, "a.mp4"),
            change(4, ChangeKind::Video, "a.mp4"),
            change(5, ChangeKind::Settings, "public_url"),
        ])
    );
    store.close().await;
}

async fn changes_after_and_pruning(fx: &Fixture) {
    let store = fx.open().await;
    for i in 1..=5u64 {
        assert_eq!(
            store
                .log_change(ChangeKind::Video, &format!("v{i}"))
                .await
                .unwrap(),
            i
        );
    }
    let tail = |from: u64| -> Vec<Change> {
        (from..=5)
            .map(|s| change(s, ChangeKind::Video, &format!("v{s}")))
            .collect()
    };
    assert_eq!(store.changes_after(2).await.unwrap(), Some(tail(3)));
    assert_eq!(store.changes_after(5).await.unwrap(), Some(vec![]));
    // A position beyond the log comes from another history: the caller needs a snapshot.
    assert_eq!(store.changes_after(6).await.unwrap(), None);
    assert_eq!(store.changes_after(u64::MAX).await.unwrap(), None);

    store.prune_changes(10).await.unwrap();
    assert_eq!(
        store.changes_after(0).await.unwrap(),
        Some(tail(1)),
        "nothing to prune"
    );

    store.prune_changes(2).await.unwrap();
    assert_eq!(store.changes_after(3).await.unwrap(), Some(tail(4)));
    assert_eq!(store.changes_after(4).await.unwrap(), Some(tail(5)));
    assert_eq!(
        store.changes_after(2).await.unwrap(),
        None,
        "seq 3 was pruned"
    );
    assert_eq!(store.changes_after(0).await.unwrap(), None);
    assert_eq!(store.last_seq().await.unwrap(), 5);

    // Keeping more than before does not bring anything back.
    store.prune_changes(4).await.unwrap();
    assert_eq!(store.changes_after(2).await.unwrap(), None);
    assert_eq!(store.changes_after(3).await.unwrap(), Some(tail(4)));

    store.prune_changes(0).await.unwrap();
    assert_eq!(store.changes_after(4).await.unwrap(), None);
    assert_eq!(store.changes_after(5).await.unwrap(), Some(vec![]));
    assert_eq!(
        store.last_seq().await.unwrap(),
        5,
        "pruning never lowers the last seq"
    );

    assert_eq!(
        store.log_change(ChangeKind::Settings, "s").await.unwrap(),
        6
    );
    assert_eq!(
        store.changes_after(5).await.unwrap(),
        Some(vec![change(6, ChangeKind::Settings, "s")])
    );
    assert_eq!(store.changes_after(4).await.unwrap(), None);
    store.close().await;
}

async fn nodes_round_trip(fx: &Fixture) {
    let store = fx.open().await;
    let token = random_token();
    let hash = sha256_hex(token.as_bytes());
    let n2 = store
        .add_node("n2", "https://n2.example", &hash, 1000)
        .await
        .unwrap();
    assert_eq!(
        n2,
        NodeRecord {
            name: "n2".into(),
            public_url: "https://n2.example".into(),
            token_sha256: hash.clone(),
            revoked: false,
            created_at_ms: 1000,
            folders: vec![],
            last_seen_ms: None,
            acked_seq: None,
            rejected: vec![],
            stats_json: None,
            stats_at_ms: None,
        }
    );
    let n1 = store
        .add_node("n1", "https://n1.example", "ab".repeat(32).as_str(), 2000)
        .await
        .unwrap();
    match store
        .add_node("n1", "https://other.example", "cd", 3000)
        .await
    {
        Err(StoreError::NodeExists(name)) => assert_eq!(name, "n1"),
        other => panic!("expected NodeExists, got {other:?}"),
    }
    assert_eq!(
        store.node("n1").await.unwrap(),
        Some(n1.clone()),
        "the duplicate changed nothing"
    );
    assert_eq!(
        store.nodes().await.unwrap(),
        vec![n1.clone(), n2.clone()],
        "ordered by name"
    );
    assert_eq!(store.node("nope").await.unwrap(), None);

    let folders = vec!["movies".to_owned(), "séries/été \"2024\"".to_owned()];
    store.set_node_hello("n2", &folders, 5000).await.unwrap();
    let rejected = vec![
        ("movies/a.mp4".to_owned(), "file changed".to_owned()),
        (
            "movies/b.mp4".to_owned(),
            "permission denied, \"quoted\"".to_owned(),
        ),
    ];
    store.set_node_ack("n2", 42, &rejected, 6000).await.unwrap();
    store
        .set_node_stats("n2", r#"{"bytes_out":123,"peers":4}"#, 7000)
        .await
        .unwrap();
    let got = store.node("n2").await.unwrap().unwrap();
    assert_eq!(
        got,
        NodeRecord {
            folders: folders.clone(),
            last_seen_ms: Some(7000),
            acked_seq: Some(42),
            rejected: rejected.clone(),
            stats_json: Some(r#"{"bytes_out":123,"peers":4}"#.into()),
            stats_at_ms: Some(7000),
            ..n2.clone()
        }
    );
    // A later ack replaces the rejected list.
    store.set_node_ack("n2", 43, &[], 8000).await.unwrap();
    let got = store.node("n2").await.unwrap().unwrap();
    assert_eq!(
        (got.acked_seq, got.rejected.len(), got.last_seen_ms),
        (Some(43), 0, Some(8000))
    );
    assert_eq!(got.folders, folders);
    assert!(matches!(
        store.set_node_ack("n2", u64::MAX, &[], 9000).await,
        Err(StoreError::OutOfRange(_))
    ));

    for result in [
        store.set_node_hello("nope", &[], 1).await,
        store.set_node_ack("nope", 1, &[], 1).await,
        store.set_node_stats("nope", "{}", 1).await,
    ] {
        match result {
            Err(StoreError::NoSuchNode(name)) => assert_eq!(name, "nope"),
            other => panic!("expected NoSuchNode, got {other:?}"),
        }
    }

    assert!(store.revoke_node("n1").await.unwrap());
    assert!(!store.revoke_node("n1").await.unwrap(), "already revoked");
    assert!(!store.revoke_node("nope").await.unwrap());
    assert!(store.node("n1").await.unwrap().unwrap().revoked);
    assert!(!store.node("n2").await.unwrap().unwrap().revoked);
    assert!(matches!(
        store.add_node("n1", "https://n1.example", "ef", 1).await,
        Err(StoreError::NodeExists(_))
    ));
    store.close().await;
}

async fn corrupt_rows_are_reported(fx: &Fixture) {
    let store = fx.open().await;
    store
        .add_node("n", "https://n.example", "00", 1)
        .await
        .unwrap();
    read!(&store, |db| {
        sqlx::query("UPDATE nodes SET folders = 'not json' WHERE name = 'n'")
            .execute(db)
            .await
            .unwrap();
    });
    assert!(matches!(store.node("n").await, Err(StoreError::Corrupt(_))));
    assert!(matches!(store.nodes().await, Err(StoreError::Corrupt(_))));
    store.close().await;
}

async fn survives_close_and_reopen(fx: &Fixture) {
    let store = fx.open().await;
    store.set_setting("a", "1").await.unwrap();
    store.put_video(&video("x.mp4", 7)).await.unwrap();
    store.put_video(&video("y/z.webm", 8)).await.unwrap();
    store.remove_video("x.mp4").await.unwrap();
    store.log_change(ChangeKind::Settings, "a").await.unwrap();
    store.prune_changes(2).await.unwrap();
    store
        .add_node("n", "https://n.example", "ff", 10)
        .await
        .unwrap();
    store
        .set_node_ack("n", 3, &[("p".into(), "r".into())], 11)
        .await
        .unwrap();
    store
        .add_node("gone", "https://g.example", "ee", 12)
        .await
        .unwrap();
    store.revoke_node("gone").await.unwrap();
    let before = (
        store.videos().await.unwrap(),
        store.nodes().await.unwrap(),
        store.changes_after(2).await.unwrap(),
        store.last_seq().await.unwrap(),
    );
    store.close().await;
    assert!(
        store.setting("a").await.is_err(),
        "a closed store refuses work"
    );

    let store = fx.open().await;
    assert_eq!(store.setting("a").await.unwrap().as_deref(), Some("1"));
    let after = (
        store.videos().await.unwrap(),
        store.nodes().await.unwrap(),
        store.changes_after(2).await.unwrap(),
        store.last_seq().await.unwrap(),
    );
    assert_eq!(before, after);
    assert_eq!(after.0, vec![video("y/z.webm", 8)]);
    assert_eq!(after.3, 4);
    assert_eq!(
        store.changes_after(1).await.unwrap(),
        None,
        "the pruned mark survives too"
    );
    assert_eq!(
        store
            .log_change(ChangeKind::Video, "y/z.webm")
            .await
            .unwrap(),
        5
    );
    store.close().await;
}

async fn concurrent_writers_get_dense_seqs(fx: &Fixture) {
    const TASKS: usize = 4;
    const PER_TASK: usize = 10;
    let a = fx.open().await;
    let b = fx.open().await;

    // A reader polls while the writers run: whatever it sees must start at 1 without gaps.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let store = b.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut polls = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let seen = store
                    .changes_after(0)
                    .await
                    .unwrap()
                    .expect("nothing was pruned");
                for (i, c) in seen.iter().enumerate() {
                    assert_eq!(c.seq, i as u64 + 1);
                }
                polls += 1;
                tokio::task::yield_now().await;
            }
            polls
        })
    };

    let mut writers = Vec::new();
    for t in 0..TASKS {
        let store = if t % 2 == 0 { a.clone() } else { b.clone() };
        writers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..PER_TASK {
                let path = format!("t{t}/v{i}.mp4");
                let seq = store
                    .put_video(&video(&path, (t * PER_TASK + i) as u8))
                    .await
                    .unwrap();
                got.push((seq, path));
            }
            got
        }));
    }
    let mut by_seq = BTreeMap::new();
    for w in writers {
        let got = w.await.unwrap();
        // Each writer's own seqs increase.
        assert!(got.windows(2).all(|p| p[0].0 < p[1].0), "{got:?}");
        for (seq, path) in got {
            assert!(
                by_seq.insert(seq, path).is_none(),
                "seq {seq} handed out twice"
            );
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.await.unwrap() > 0);

    let total = (TASKS * PER_TASK) as u64;
    assert_eq!(
        by_seq.keys().copied().collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    assert_eq!(a.last_seq().await.unwrap(), total);
    let log = a.changes_after(0).await.unwrap().unwrap();
    let logged: BTreeMap<u64, String> = log.into_iter().map(|c| (c.seq, c.path)).collect();
    assert_eq!(
        logged, by_seq,
        "each change names the video whose put returned its seq"
    );
    assert_eq!(a.videos().await.unwrap().len(), TASKS * PER_TASK);
    a.close().await;
    b.close().await;
}
