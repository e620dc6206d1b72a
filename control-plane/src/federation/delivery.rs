//! The delivery worker (does I/O): claims due rows of the queue with a lease, posts them signed,
//! at most `PER_HOST` at once per host, records the outcome; retries and give-ups follow the
//! policy.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Semaphore;

use super::policy::{delivery_lease_ms, delivery_retry, Retry};
use super::*;

/// The one field a delivery reads of its body.
#[derive(serde::Deserialize)]
struct ActorOnly<'a> {
    #[serde(borrow)]
    actor: std::borrow::Cow<'a, str>,
}

impl Engine {
    pub(super) async fn delivery_loop(self: Arc<Self>) {
        let per_host: Arc<std::sync::Mutex<HashMap<String, Arc<Semaphore>>>> = Arc::default();
        loop {
            let now = timestamp_ms();
            // A claim outlives any request (7 s) and comes back if this process dies.
            let lease = delivery_lease_ms(self.retry_base);
            let batch = self.store.claim_due_deliveries(now, 32, lease).await.unwrap_or_default();
            if batch.is_empty() {
                let _ = tokio::time::timeout(Duration::from_secs(1), self.wake.notified()).await;
                continue;
            }
            let mut tasks = tokio::task::JoinSet::new();
            for d in batch {
                let sem = Arc::clone(per_host.lock().unwrap_or_else(|p| p.into_inner()).entry(d.host.clone()).or_insert_with(|| Arc::new(Semaphore::new(PER_HOST))));
                let engine = Arc::clone(&self);
                tasks.spawn(async move {
                    let _permit = sem.acquire_owned().await;
                    engine.deliver(d).await;
                });
            }
            while tasks.join_next().await.is_some() {}
        }
    }

    async fn deliver(&self, d: crate::store::Delivery) {
        let now = timestamp_ms();
        // An inbox that acknowledged this activity never gets it again (a retry after a crash).
        if !d.activity_id.is_empty() && self.store.delivered_to(&d.activity_id, &d.inbox_url).await.unwrap_or(false) {
            let _ = self.store.delivery_succeeded(d.id, now).await;
            return;
        }
        // Signed by the activity's actor: the instance, or our account or channel.
        let signer = serde_json::from_str::<ActorOnly<'_>>(&d.body).ok().and_then(|a| self.local_actor(&a.actor));
        let posted = match signer {
            Some(l) => self.fetcher.post_activity_as(&d.inbox_url, Bytes::from(d.body), &l.keys, &l.url).await,
            None => self.fetcher.post_activity(&d.inbox_url, Bytes::from(d.body)).await,
        };
        match posted {
            Ok(status) if status.is_success() => {
                let _ = self.store.delivery_succeeded(d.id, timestamp_ms()).await;
                let _ = self.store.add_follow_score(&d.host, SCORE_STEP).await;
            }
            outcome => {
                let why = match outcome {
                    Ok(status) => format!("answered {status}"),
                    Err(e) => e.to_string(),
                };
                let next = match delivery_retry(d.attempts, timestamp_ms(), self.retry_base, random()) {
                    Retry::At(t) => Some(t),
                    Retry::GiveUp => None,
                };
                if next.is_none() {
                    tracing::warn!("gave up delivering {} to {} after {} attempts: {why}", d.activity_id, d.inbox_url, d.attempts);
                    if let Ok(removed) = self.store.add_follow_score(&d.host, -SCORE_STEP).await {
                        for f in removed {
                            tracing::warn!("{} is unreachable: dropped from {}", f.actor_url, f.direction.as_str());
                        }
                    }
                }
                let _ = self.store.delivery_failed(d.id, &why, next, timestamp_ms()).await;
            }
        }
    }
}
