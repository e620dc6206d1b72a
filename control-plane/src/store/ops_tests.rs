//! The counts `/metrics` and `/readyz` read, on SQLite and PostgreSQL.

use super::*;
use crate::store::DeliveryCount;

on_both!(counts_follow_the_queues);

async fn counts_follow_the_queues(fx: &Fixture) {
    let store = fx.open().await;
    store.ping().await.unwrap();
    assert_eq!(store.ops_counts().await.unwrap(), OpsCounts::default());
    let targets = vec![("https://a.example/inbox".to_owned(), "a.example".to_owned()), ("https://b.example/inbox".to_owned(), "b.example".to_owned())];
    let ids = store.enqueue_deliveries("https://us.example/act/1", "{}", &targets, 10).await.unwrap();
    assert!(store.delivery_succeeded(ids[0], 11).await.unwrap());
    assert!(store.delivery_failed(ids[1], "refused", Some(100), 12).await.unwrap());
    store.enqueue_deliveries("https://us.example/act/2", "{}", &targets[1..], 13).await.unwrap();
    store.store_inbox(Some("https://b.example/f/1"), "https://b.example/a", "{}", 14).await.unwrap();
    let counts = store.ops_counts().await.unwrap();
    assert_eq!(counts.inbox, vec![("pending".to_owned(), 1)]);
    let d = |host: &str, state: &str, rows, attempts, failing| DeliveryCount { host: host.into(), state: state.into(), rows, attempts, failing };
    // Attempts are counted when a worker claims a row (none was claimed here).
    assert_eq!(counts.deliveries, vec![d("a.example", "delivered", 1, 0, 0), d("b.example", "pending", 2, 0, 1)]);
    assert_eq!(counts.follows, Vec::new());
}
