//! The federation engine (does I/O): what it holds and how activities we author are signed and
//! queued. Its jobs live beside it: `follows` (following and answering instances), `inbox_worker`
//! (processing stored activities), `delivery` (the worker that posts the queue: signed POSTs, a
//! bounded number per host, never twice to a host that acknowledged, unreachable hosts' follows
//! decaying away as PeerTube's scores do), `videos` (the followed instances' videos, from
//! their activities and outboxes) and `policy` (pure: who is accepted, when to retry, when to
//! give up).

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;

use crate::activitypub::activities;
use policy::FollowPolicy;
use crate::activitypub::actor::Instance;
use crate::activitypub::ld_signature;
use crate::activitypub::fetch::{parse_actor, FetchError, Fetcher};
use crate::activitypub::fetch::host_of;
use crate::library::timestamp_ms;
use crate::store::{FollowDirection, FollowRecord, FollowState, RemoteActor, Store, StoreError};

/// Requests at once to one host.
pub const PER_HOST: usize = 2;
/// Score change per delivery (PeerTube's ACTOR_FOLLOW_SCORE bonus/penalty).
const SCORE_STEP: i64 = 10;

mod delivery;
mod follows;
mod inbox_worker;
pub mod policy;
mod videos;

pub use policy::MAX_ATTEMPTS;

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
    /// The redundancy engine, told of video changes and handed received CacheFiles.
    redundancy: OnceLock<Weak<crate::redundancy::RedundancyEngine>>,
    /// Our other actors (the account and the channel), by URL: they sign what they send and
    /// can be followed.
    local_actors: std::sync::RwLock<std::collections::HashMap<String, Arc<LocalSigner>>>,
}

/// One of our actors other than the instance: its key pair and its role's name.
pub struct LocalSigner {
    pub url: String,
    /// `account` or `channel`: the key of its followers in the store.
    pub role: &'static str,
    pub keys: Arc<crate::activitypub::keys::InstanceKeys>,
}

/// A number from the operating system's random source, for retry jitter.
fn random() -> u64 {
    getrandom::u64().unwrap_or(0)
}

impl Engine {
    pub fn new(store: Store, fetcher: Fetcher, instance: Instance, retry_base: Duration, private_pem: &str) -> Result<Arc<Engine>, FederationError> {
        let signer = ld_signature::private_key_from_pem(private_pem).map_err(|e| FederationError::Remote(format!("the instance key: {e}")))?;
        Ok(Arc::new(Engine {
            signer,
            store,
            fetcher,
            instance,
            retry_base,
            wake: Notify::new(),
            redundancy: OnceLock::new(),
            local_actors: Default::default(),
        }))
    }

    /// Attaches the redundancy engine (once).
    pub(crate) fn attach_redundancy(&self, r: Weak<crate::redundancy::RedundancyEngine>) {
        let _ = self.redundancy.set(r);
    }

    /// The redundancy engine, while it runs.
    pub(crate) fn redundancy(&self) -> Option<Arc<crate::redundancy::RedundancyEngine>> {
        self.redundancy.get().and_then(Weak::upgrade)
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

    /// Registers one of our actors besides the instance (its deliveries are signed with its
    /// keys; Follows of it are answered).
    pub fn add_local_actor(&self, signer: LocalSigner) {
        self.local_actors.write().unwrap_or_else(|p| p.into_inner()).insert(signer.url.clone(), Arc::new(signer));
    }

    /// The local actor (account or channel) with this URL.
    pub fn local_actor(&self, url: &str) -> Option<Arc<LocalSigner>> {
        self.local_actors.read().unwrap_or_else(|p| p.into_inner()).get(url).cloned()
    }

    /// Signs an activity (Linked Data signature) and queues it for these inboxes.
    pub(crate) async fn send(&self, activity: &Value, inboxes: &[String]) -> Result<(), FederationError> {
        self.send_as(activity, inboxes, None).await
    }

    /// Signs an activity as its actor (the instance with `None`, else a local actor) and queues
    /// it for these inboxes; its deliveries are signed by the same actor.
    pub async fn send_as(&self, activity: &Value, inboxes: &[String], by: Option<&LocalSigner>) -> Result<(), FederationError> {
        let created = crate::clock::iso_8601(std::time::SystemTime::now());
        let signed = match by {
            Some(l) => ld_signature::sign(activity, &l.url, &created, l.keys.key_pair()),
            None => ld_signature::sign(activity, &self.instance.actor_url(), &created, &self.signer),
        };
        let activity = signed.map_err(|e| FederationError::Remote(format!("cannot sign the activity: {e}")))?;
        let id = activity.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let targets: Vec<(String, String)> = inboxes.iter().filter_map(|i| Some((i.clone(), host_of(i)?))).collect();
        self.store.enqueue_deliveries(&id, &activity.to_string(), &targets, timestamp_ms()).await?;
        self.poke();
        Ok(())
    }

    /// Forwards another instance's activity to this instance's followers as PeerTube forwards
    /// activities about its videos: the body exactly as received (its sender's Linked Data
    /// signature is what the receivers check), HTTP-signed by this instance when delivered; never
    /// to the sender's own inboxes nor ours. Only an activity that carries a Linked Data
    /// signature is forwarded (receivers refuse a forwarded one without). How many inboxes it
    /// was queued for.
    pub async fn forward(&self, body: &str, activity: &Value, sender: &str) -> Result<usize, FederationError> {
        if activity.get("signature").is_none() {
            tracing::debug!("activity from {sender} not forwarded: it has no Linked Data signature");
            return Ok(0);
        }
        let id = activity.get("id").and_then(Value::as_str).ok_or_else(|| FederationError::Remote("an activity to forward has no id".into()))?;
        let sender = self.actor(sender).await?;
        let theirs = [Some(sender.inbox.clone()), sender.shared_inbox.clone()];
        let followers = self.store.follows(FollowDirection::Follower, Some(FollowState::Accepted)).await?;
        let inboxes: Vec<String> = broadcast_inboxes(&followers, &self.instance.shared_inbox()).into_iter().filter(|i| !theirs.contains(&Some(i.clone()))).collect();
        let targets: Vec<(String, String)> = inboxes.iter().filter_map(|i| Some((i.clone(), host_of(i)?))).collect();
        if !targets.is_empty() {
            self.store.enqueue_deliveries(id, body, &targets, timestamp_ms()).await?;
            self.poke();
        }
        Ok(targets.len())
    }

    /// Sends an activity to every accepted follower, once per shared inbox (as PeerTube
    /// broadcasts); returns how many inboxes it was queued for.
    pub async fn broadcast(&self, activity: &Value) -> Result<usize, FederationError> {
        let followers = self.store.follows(FollowDirection::Follower, Some(FollowState::Accepted)).await?;
        let inboxes = broadcast_inboxes(&followers, &self.instance.shared_inbox());
        self.send(activity, &inboxes).await?;
        Ok(inboxes.len())
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

}
