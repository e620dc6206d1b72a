//! The federation engine (does I/O): processes stored inbox activities (follows in both
//! directions), authors activities and hands them to the persistent delivery queue, and runs the
//! delivery worker — signed POSTs, retried with exponential backoff and jitter, a bounded number
//! of requests per host, never twice to a host that acknowledged an activity, unreachable hosts'
//! follows decaying away as PeerTube's scores do.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::{Notify, Semaphore};

use crate::activitypub::activities::{self, decide_follow, id_of, FollowDecision, FollowPolicy};
use crate::activitypub::actor::Instance;
use crate::activitypub::ld_signature;
use crate::activitypub::fetch::{parse_actor, FetchError, Fetcher};
use crate::http::inbox::host_of;
use crate::library::timestamp_ms;
use crate::store::{FollowDirection, FollowRecord, FollowState, InboxItem, RemoteActor, Store, StoreError};

/// Attempts of one delivery before giving up (PeerTube's follow jobs: 5).
pub const MAX_ATTEMPTS: u64 = 5;
/// Requests at once to one host.
pub const PER_HOST: usize = 2;
/// Score change per delivery (PeerTube's ACTOR_FOLLOW_SCORE bonus/penalty).
const SCORE_STEP: i64 = 10;

/// The settings keys of the follow policy.
pub const SETTING_REJECT_ALL: &str = "federation_reject_followers";
pub const SETTING_MANUAL: &str = "federation_manual_approval";
pub const SETTING_FOLLOW_BACK: &str = "federation_auto_follow_back";

/// Why a federation operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("{0}")]
    Remote(String),
    /// A remote server could not be reached or failed for now (network error, 5xx, 429):
    /// worth trying again later.
    #[error("{0}")]
    Unreachable(String),
    #[error("database: {0}")]
    Store(#[from] StoreError),
}

impl FederationError {
    /// Whether the failure may pass: the same work could succeed later.
    pub fn is_passing(&self) -> bool {
        match self {
            FederationError::Unreachable(_) => true,
            // A database away or busy; not a row that will never decode or fit.
            FederationError::Store(StoreError::Database(e)) => matches!(
                e,
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed | sqlx::Error::Protocol(_)
            ) || e.as_database_error().is_some_and(|d| !matches!(d.kind(), sqlx::error::ErrorKind::UniqueViolation | sqlx::error::ErrorKind::ForeignKeyViolation | sqlx::error::ErrorKind::NotNullViolation | sqlx::error::ErrorKind::CheckViolation)),
            _ => false,
        }
    }
}

impl From<FetchError> for FederationError {
    fn from(e: FetchError) -> Self {
        let passing = match &e {
            FetchError::Network(..) => true,
            FetchError::Status(_, status) => status.is_server_error() || status.as_u16() == 429,
            _ => false,
        };
        if passing {
            FederationError::Unreachable(e.to_string())
        } else {
            FederationError::Remote(e.to_string())
        }
    }
}

/// Tries of a received activity that fail for a passing reason before it is given up.
const INBOX_ATTEMPTS: u64 = 5;

/// The engine.
pub struct Engine {
    /// Signs the activities we author (RsaSignature2017), as PeerTube does.
    signer: ring::signature::RsaKeyPair,
    pub store: Store,
    pub fetcher: Fetcher,
    pub instance: Instance,
    /// First retry delay (doubles each attempt).
    pub retry_base: Duration,
    wake: Notify,
}

fn jitter(ms: u64) -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    // 80 % to 120 % of the delay.
    ms * 4 / 5 + u64::from_le_bytes(b) % (ms * 2 / 5 + 1)
}

impl Engine {
    pub fn new(store: Store, fetcher: Fetcher, instance: Instance, retry_base: Duration, private_pem: &str) -> Result<Arc<Engine>, FederationError> {
        let signer = ld_signature::private_key_from_pem(private_pem).map_err(|e| FederationError::Remote(format!("the instance key: {e}")))?;
        Ok(Arc::new(Engine { signer, store, fetcher, instance, retry_base, wake: Notify::new() }))
    }

    /// Starts the inbox processor and the delivery worker.
    pub fn start(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let (a, b) = (Arc::clone(self), Arc::clone(self));
        vec![tokio::spawn(async move { a.inbox_loop().await }), tokio::spawn(async move { b.delivery_loop().await })]
    }

    /// Wakes the workers (an activity arrived, a delivery was queued).
    pub fn poke(&self) {
        self.wake.notify_waiters();
    }

    async fn policy(&self) -> FollowPolicy {
        let on = |v: Option<String>| v.is_some_and(|v| v == "true");
        FollowPolicy {
            reject_all: on(self.store.setting(SETTING_REJECT_ALL).await.ok().flatten()),
            manual_approval: on(self.store.setting(SETTING_MANUAL).await.ok().flatten()),
            auto_follow_back: on(self.store.setting(SETTING_FOLLOW_BACK).await.ok().flatten()),
        }
    }

    /// A remote actor, from the cache or fetched.
    pub async fn actor(&self, url: &str) -> Result<RemoteActor, FederationError> {
        if let Some(a) = self.store.remote_actor(url).await? {
            return Ok(a);
        }
        let doc = self.fetcher.get_json(url).await?;
        let a = parse_actor(&doc).map_err(FederationError::Remote)?;
        let record = RemoteActor {
            url: a.id,
            inbox: a.inbox,
            shared_inbox: a.shared_inbox,
            public_key_pem: a.public_key_pem,
            key_id: a.key_id,
            fetched_at_ms: timestamp_ms(),
        };
        self.store.put_remote_actor(&record).await?;
        Ok(record)
    }

    /// Signs an activity (Linked Data signature) and queues it for these inboxes.
    async fn send(&self, activity: &Value, inboxes: &[String]) -> Result<(), FederationError> {
        let created = crate::clock::iso_8601(std::time::SystemTime::now());
        let activity = ld_signature::sign(activity, &self.instance.actor_url(), &created, &self.signer)
            .map_err(|e| FederationError::Remote(format!("cannot sign the activity: {e}")))?;
        let id = activity.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let targets: Vec<(String, String)> = inboxes.iter().filter_map(|i| Some((i.clone(), host_of(i)?))).collect();
        self.store.enqueue_deliveries(&id, &activity.to_string(), &targets, timestamp_ms()).await?;
        self.poke();
        Ok(())
    }

    /// Sends an activity to every accepted follower, once per shared inbox (as PeerTube
    /// broadcasts); returns how many inboxes it was queued for.
    pub async fn broadcast(&self, activity: &Value) -> Result<usize, FederationError> {
        let followers = self.store.follows(FollowDirection::Follower, Some(FollowState::Accepted)).await?;
        let inboxes = broadcast_inboxes(&followers, &self.instance.shared_inbox());
        self.send(activity, &inboxes).await?;
        Ok(inboxes.len())
    }

    /// The server actor of `instance` (a host, or a base URL): its NodeInfo's Application link,
    /// else `<base>/accounts/peertube`. A bare host is tried over https, and over http too when
    /// private addresses are allowed (instances on loopback in tests).
    pub async fn resolve_instance(&self, instance: &str) -> Result<String, FederationError> {
        let instance = instance.trim().trim_end_matches('/');
        let bases: Vec<String> = if instance.starts_with("http://") || instance.starts_with("https://") {
            vec![instance.to_owned()]
        } else if self.fetcher.allow_private {
            vec![format!("https://{instance}"), format!("http://{instance}")]
        } else {
            vec![format!("https://{instance}")]
        };
        if bases[0].contains("/accounts/") {
            return Ok(bases[0].clone());
        }
        for base in &bases {
            if let Ok(links) = self.fetcher.get_json(&format!("{base}/.well-known/nodeinfo")).await {
                let app = links["links"].as_array().and_then(|l| {
                    l.iter().find(|x| x["rel"] == "https://www.w3.org/ns/activitystreams#Application").and_then(|x| x["href"].as_str())
                });
                return Ok(app.map_or_else(|| format!("{base}/accounts/peertube"), str::to_owned));
            }
        }
        Ok(format!("{}/accounts/peertube", bases[bases.len() - 1]))
    }

    /// Follows an instance: a pending following and a Follow to its own inbox.
    pub async fn follow(&self, instance: &str) -> Result<FollowRecord, FederationError> {
        let target = self.resolve_instance(instance).await?;
        let actor = self.actor(&target).await?;
        let host = host_of(&actor.url).ok_or_else(|| FederationError::Remote(format!("{} is not a URL", actor.url)))?;
        if self.store.is_blocked(&host).await? {
            return Err(FederationError::Remote(format!("{host} is blocked; unblock it first")));
        }
        if let Some(existing) = self.store.follow(FollowDirection::Following, &actor.url).await? {
            if existing.state != FollowState::Rejected {
                return Ok(existing);
            }
        }
        let me = self.instance.actor_url();
        let follow_id = format!("{me}/follows/{}", crate::store::random_token());
        let now = timestamp_ms();
        let record = self
            .store
            .upsert_follow(&FollowRecord {
                direction: FollowDirection::Following,
                actor_url: actor.url.clone(),
                host,
                inbox: actor.inbox.clone(),
                shared_inbox: actor.shared_inbox.clone(),
                state: FollowState::Pending,
                follow_activity_id: follow_id.clone(),
                score: 0,
                created_at_ms: now,
                updated_at_ms: now,
            })
            .await?;
        self.send(&activities::follow(&follow_id, &me, &actor.url), &[actor.inbox]).await?;
        Ok(record)
    }

    /// Stops following: Undo to its inbox, and the following is forgotten.
    pub async fn unfollow(&self, instance: &str) -> Result<bool, FederationError> {
        let target = self.resolve_instance(instance).await?;
        let Some(f) = self.store.follow(FollowDirection::Following, &target).await? else { return Ok(false) };
        let me = self.instance.actor_url();
        if f.state != FollowState::Rejected {
            let undo = activities::undo_follow(&me, activities::embedded_follow(&f.follow_activity_id, &me, &f.actor_url));
            self.send(&undo, std::slice::from_ref(&f.inbox)).await?;
        }
        Ok(self.store.remove_follow(FollowDirection::Following, &f.actor_url).await?)
    }

    /// Answers a pending follower (manual approval), or drops an accepted one (Reject).
    pub async fn answer_follower(&self, actor_url: &str, accept: bool) -> Result<bool, FederationError> {
        let Some(mut f) = self.store.follow(FollowDirection::Follower, actor_url).await? else { return Ok(false) };
        let me = self.instance.actor_url();
        let follow = activities::embedded_follow(&f.follow_activity_id, &f.actor_url, &me);
        let token = crate::store::random_token();
        if accept {
            self.send(&activities::accept(&format!("{}/accepts/follows/{token}", self.instance.base), &me, follow), std::slice::from_ref(&f.inbox)).await?;
            f.state = FollowState::Accepted;
        } else {
            self.send(&activities::reject(&format!("{}/rejects/follows/{token}", self.instance.base), &me, follow), std::slice::from_ref(&f.inbox)).await?;
            f.state = FollowState::Rejected;
        }
        f.updated_at_ms = timestamp_ms();
        self.store.upsert_follow(&f).await?;
        if accept && self.policy().await.auto_follow_back {
            self.follow_back(&f.actor_url).await;
        }
        Ok(true)
    }

    async fn follow_back(&self, actor_url: &str) {
        match self.store.follow(FollowDirection::Following, actor_url).await {
            Ok(Some(_)) => {}
            _ => {
                if let Err(e) = self.follow(actor_url).await {
                    tracing::warn!("cannot follow back {actor_url}: {e}");
                }
            }
        }
    }

    async fn inbox_loop(self: Arc<Self>) {
        loop {
            let items = self.store.due_inbox(32, timestamp_ms()).await.unwrap_or_default();
            if items.is_empty() {
                let _ = tokio::time::timeout(Duration::from_secs(1), self.wake.notified()).await;
                continue;
            }
            for item in items {
                let result = self.process(&item).await;
                let id = item.activity_id.as_deref().unwrap_or("(no id)");
                match result {
                    Err(e) if e.is_passing() && item.attempts + 1 < INBOX_ATTEMPTS => {
                        // Kept, and tried again later: nothing received is lost to a passing failure.
                        let base = self.retry_base.as_millis() as u64;
                        let delay = jitter(base.saturating_mul(1 << item.attempts.min(20)));
                        tracing::warn!("activity {id} from {}: {e}; trying again in {} s", item.actor, delay / 1000);
                        let next = timestamp_ms().saturating_add(i64::try_from(delay).unwrap_or(i64::MAX));
                        if self.store.retry_inbox_later(item.id, &e.to_string(), next).await.is_err() {
                            // Not even the retry could be recorded (the database is away): pause
                            // instead of trying the same activity again at once.
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                    result => {
                        let error = result.err().map(|e| e.to_string());
                        if let Some(e) = &error {
                            tracing::warn!("activity {id} from {}: {e}", item.actor);
                        }
                        let _ = self.store.mark_inbox_processed(item.id, error.as_deref(), timestamp_ms()).await;
                    }
                }
            }
        }
    }

    /// Processes one stored activity (idempotent: a duplicate changes nothing twice).
    async fn process(&self, item: &InboxItem) -> Result<(), FederationError> {
        let activity: Value = serde_json::from_str(&item.body).map_err(|e| FederationError::Remote(e.to_string()))?;
        let me = self.instance.actor_url();
        let object = activity.get("object").cloned().unwrap_or(Value::Null);
        match activity.get("type").and_then(Value::as_str).unwrap_or_default() {
            "Follow" => {
                if id_of(&object) != Some(me.as_str()) {
                    return Err(FederationError::Remote("a Follow of someone else than this instance".into()));
                }
                let follow_id = activity.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
                if self.store.is_follow_undone(&follow_id).await? {
                    // Its Undo came first (out of order): the follow stays undone.
                    return Ok(());
                }
                let actor = self.actor(&item.actor).await?;
                let host = host_of(&actor.url).unwrap_or_default();
                let previous = self.store.follow(FollowDirection::Follower, &actor.url).await?;
                let decision = decide_follow(
                    self.policy().await,
                    self.store.is_blocked(&host).await?,
                    previous.as_ref().is_some_and(|p| p.state == FollowState::Rejected),
                );
                let now = timestamp_ms();
                let state = match decision {
                    FollowDecision::Accept => FollowState::Pending, // becomes accepted below
                    FollowDecision::Pending => FollowState::Pending,
                    FollowDecision::Reject => FollowState::Rejected,
                };
                self.store
                    .upsert_follow(&FollowRecord {
                        direction: FollowDirection::Follower,
                        actor_url: actor.url.clone(),
                        host,
                        inbox: actor.inbox.clone(),
                        shared_inbox: actor.shared_inbox.clone(),
                        state,
                        follow_activity_id: follow_id,
                        score: 0,
                        created_at_ms: now,
                        updated_at_ms: now,
                    })
                    .await?;
                match decision {
                    FollowDecision::Accept => {
                        self.answer_follower(&actor.url, true).await?;
                    }
                    FollowDecision::Reject => {
                        self.answer_follower(&actor.url, false).await?;
                    }
                    FollowDecision::Pending => tracing::info!("{} asks to follow this instance: `vidseed admin followers` to answer", actor.url),
                }
                Ok(())
            }
            kind @ ("Accept" | "Reject") => {
                let follow_id = id_of(&object).unwrap_or_default();
                let Some(mut f) = self.store.follow_by_activity_id(follow_id).await? else {
                    return Err(FederationError::Remote(format!("{kind} of an unknown follow {follow_id}")));
                };
                if f.direction != FollowDirection::Following || f.actor_url != item.actor {
                    return Err(FederationError::Remote(format!("{kind} by someone who was not followed")));
                }
                f.state = if kind == "Accept" { FollowState::Accepted } else { FollowState::Rejected };
                f.updated_at_ms = timestamp_ms();
                self.store.upsert_follow(&f).await?;
                Ok(())
            }
            "Undo" => {
                if object.get("type").and_then(Value::as_str) == Some("Follow") && object.get("actor").and_then(Value::as_str) == Some(item.actor.as_str()) {
                    if let Some(follow_id) = id_of(&object) {
                        self.store.record_undone_follow(follow_id, &item.actor, timestamp_ms()).await?;
                        // Only the follow it names: a newer Follow of the same actor stays.
                        let current = self.store.follow(FollowDirection::Follower, &item.actor).await?;
                        if current.is_some_and(|f| f.follow_activity_id == follow_id) {
                            self.store.remove_follow(FollowDirection::Follower, &item.actor).await?;
                        }
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    async fn delivery_loop(self: Arc<Self>) {
        let per_host: Arc<std::sync::Mutex<HashMap<String, Arc<Semaphore>>>> = Arc::default();
        loop {
            let now = timestamp_ms();
            // A claim outlives any request (7 s) and comes back if this process dies.
            let lease = (self.retry_base.as_millis() as u64).clamp(10_000, 60_000);
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
        // A host that acknowledged this activity never gets it again (a retry after a crash).
        if !d.activity_id.is_empty() && self.store.delivered_to(&d.activity_id, &d.host).await.unwrap_or(false) {
            let _ = self.store.delivery_succeeded(d.id, now).await;
            return;
        }
        match self.fetcher.post_activity(&d.inbox_url, Bytes::from(d.body)).await {
            Ok(status) if status.is_success() => {
                let _ = self.store.delivery_succeeded(d.id, timestamp_ms()).await;
                let _ = self.store.add_follow_score(&d.host, SCORE_STEP).await;
            }
            outcome => {
                let why = match outcome {
                    Ok(status) => format!("answered {status}"),
                    Err(e) => e.to_string(),
                };
                let next = (d.attempts < MAX_ATTEMPTS).then(|| {
                    let delay = self.retry_base.as_millis() as u64 * (1u64 << (d.attempts.saturating_sub(1)).min(20));
                    timestamp_ms() + jitter(delay) as i64
                });
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

/// The inboxes a broadcast goes to: each follower's shared inbox where it offers one, else its
/// own, each once, never ours.
pub fn broadcast_inboxes(followers: &[FollowRecord], own_shared_inbox: &str) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    followers
        .iter()
        .map(|f| f.shared_inbox.clone().unwrap_or_else(|| f.inbox.clone()))
        .filter(|i| i != own_shared_inbox && seen.insert(i.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn follower(actor: &str, inbox: &str, shared: Option<&str>) -> FollowRecord {
        FollowRecord {
            direction: FollowDirection::Follower,
            actor_url: actor.into(),
            host: "h".into(),
            inbox: inbox.into(),
            shared_inbox: shared.map(Into::into),
            state: FollowState::Accepted,
            follow_activity_id: "f".into(),
            score: 1000,
            created_at_ms: 0,
            updated_at_ms: 0,
        }
    }

    #[test]
    fn broadcasts_use_shared_inboxes_once() {
        let f = [
            follower("https://a/accounts/peertube", "https://a/accounts/peertube/inbox", Some("https://a/inbox")),
            follower("https://a/accounts/other", "https://a/accounts/other/inbox", Some("https://a/inbox")),
            follower("https://b/accounts/peertube", "https://b/accounts/peertube/inbox", None),
            follower("https://me/accounts/x", "https://me/accounts/x/inbox", Some("https://me/inbox")),
        ];
        assert_eq!(broadcast_inboxes(&f, "https://me/inbox"), vec!["https://a/inbox".to_owned(), "https://b/accounts/peertube/inbox".to_owned()]);
    }

    #[test]
    fn passing_failures_are_told_apart() {
        use http::StatusCode;
        let url = || "https://b.example/a".to_owned();
        let passing = |e: FetchError| FederationError::from(e).is_passing();
        assert!(passing(FetchError::Network(url(), "connection refused".into())));
        assert!(passing(FetchError::Status(url(), StatusCode::SERVICE_UNAVAILABLE)));
        assert!(passing(FetchError::Status(url(), StatusCode::TOO_MANY_REQUESTS)));
        assert!(!passing(FetchError::Status(url(), StatusCode::NOT_FOUND)));
        assert!(!passing(FetchError::Status(url(), StatusCode::GONE)));
        assert!(!passing(FetchError::NotJson(url(), "<html>".into())));
        assert!(!passing(FetchError::BadUrl(url())));
        assert!(!FederationError::Remote("a Follow of someone else".into()).is_passing());
        assert!(FederationError::Store(StoreError::Database(sqlx::Error::PoolTimedOut)).is_passing());
        assert!(!FederationError::Store(StoreError::Corrupt("a row".into())).is_passing());
        assert!(!FederationError::Store(StoreError::Database(sqlx::Error::RowNotFound)).is_passing());
    }

    #[test]
    fn jitter_stays_within_a_fifth() {
        for _ in 0..1000 {
            let j = jitter(1000);
            assert!((800..=1200).contains(&j), "{j}");
        }
    }
}
