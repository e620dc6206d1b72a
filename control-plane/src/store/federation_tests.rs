//! The federation state's tests, on both databases like the rest of the store's.

use std::collections::BTreeSet;

use super::{Fixture, Store, StoreError};
use crate::store::{
    Delivery, FollowDirection, FollowRecord, FollowState, InboxItem, RemoteActor, FOLLOW_SCORE_MAX,
    FOLLOW_SCORE_START,
};

use FollowDirection::{Follower, Following};
use FollowState::{Accepted, Pending, Rejected};


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

#[path = "follow_tests.rs"]
mod follows;

#[path = "queue_tests.rs"]
mod queues;
