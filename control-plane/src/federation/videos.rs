//! The followed instances' videos (does I/O): Create, Update and Delete of `Video`s and
//! `Announce`s received from instances this one follows (the Video fetched when only its URL
//! comes), and a walk of a newly followed instance's outbox (paged, bounded) — each video read
//! with [`crate::redundancy::remote_video::parse_video`] and kept with what redundancy needs;
//! CacheFiles received are handed to the redundancy engine. Malformed objects are refused with
//! their reason; one bad item of an outbox never stops the walk.

use serde_json::Value;

use super::*;
use crate::redundancy::remote_video::{account_of, parse_video, RemoteVideo};
use crate::redundancy::schedule::{push_views, StoredFiles, TRENDING_WINDOW};
use crate::store::{InboxItem, RemoteVideoRecord};

/// Pages of an outbox read at most when following an instance.
pub const OUTBOX_PAGES: usize = 20;
/// Items of an outbox looked at, at most.
pub const OUTBOX_ITEMS: usize = 500;

fn id_of_object(object: &Value) -> Option<&str> {
    object.as_str().or_else(|| object.get("id").and_then(Value::as_str))
}

impl Engine {
    /// Whether this instance follows an instance on `host` (an accepted follow).
    pub async fn follows_host(&self, host: &str) -> Result<bool, FederationError> {
        let following = self.store.follows(FollowDirection::Following, Some(FollowState::Accepted)).await?;
        Ok(following.iter().any(|f| f.host == host))
    }

    /// The host of the activity's actor, which this instance must follow.
    async fn followed_sender(&self, item: &InboxItem, what: &str) -> Result<String, FederationError> {
        let host = host_of(&item.actor).ok_or_else(|| FederationError::Remote(format!("the actor {} is not a URL", item.actor)))?;
        if !self.follows_host(&host).await? {
            return Err(FederationError::Remote(format!("{what} from {host}, which this instance does not follow: ignored")));
        }
        Ok(host)
    }

    /// A Create or Update of a Video: kept if it comes from a followed instance and the Video
    /// is on the sender's host.
    pub(super) async fn video_created_or_updated(&self, item: &InboxItem, object: &Value) -> Result<(), FederationError> {
        let host = self.followed_sender(item, "a Video").await?;
        let id = id_of_object(object).unwrap_or_default();
        if host_of(id).as_deref() != Some(host.as_str()) {
            return Err(FederationError::Remote(format!("a Video {id} that is not on the sender's host {host}")));
        }
        self.learn_video(object, None).await.map(|_| ())
    }

    /// An Announce: the Video it shares (embedded when on the sender's host, else fetched).
    pub(super) async fn announced(&self, item: &InboxItem, object: &Value) -> Result<(), FederationError> {
        let host = self.followed_sender(item, "an Announce").await?;
        self.video_from(object, &host).await.map(|_| ())
    }

    /// The Video an activity names: embedded and trusted when on `host` (the sender's), else
    /// fetched from its id. `Ok(None)` for an object that is not a Video (a playlist shared).
    async fn video_from(&self, object: &Value, host: &str) -> Result<Option<RemoteVideo>, FederationError> {
        let Some(id) = id_of_object(object) else {
            return Err(FederationError::Remote("the object has no id".into()));
        };
        let embedded = object.get("type").is_some();
        if embedded && object.get("type").and_then(Value::as_str) != Some("Video") {
            return Ok(None);
        }
        if embedded && host_of(id).as_deref() == Some(host) {
            return self.learn_video(object, None).await.map(Some);
        }
        let doc = self.fetcher.get_json(id).await?;
        if doc.get("type").and_then(Value::as_str) != Some("Video") {
            return Ok(None);
        }
        self.learn_video(&doc, Some(id)).await.map(Some)
    }

    /// Fetches the Video at `url` and keeps it.
    pub async fn fetch_video(&self, url: &str) -> Result<RemoteVideo, FederationError> {
        let doc = self.fetcher.get_json(url).await?;
        self.learn_video(&doc, Some(url)).await
    }

    /// Reads a Video and keeps it (with a new sample of its views); `fetched_from` is the URL
    /// it was fetched from, which must be its id.
    pub async fn learn_video(&self, doc: &Value, fetched_from: Option<&str>) -> Result<RemoteVideo, FederationError> {
        let video = parse_video(doc).map_err(FederationError::Remote)?;
        if let Some(url) = fetched_from {
            if video.url != url {
                return Err(FederationError::Remote(format!("the document at {url} is {}", video.url)));
            }
        }
        let host = host_of(&video.url).ok_or_else(|| FederationError::Remote(format!("the Video's id {} is not a URL", video.url)))?;
        let now = timestamp_ms();
        let previous = self.store.remote_video(&video.url).await?;
        let history = previous.as_ref().map(|p| p.views_history.clone()).unwrap_or_default();
        let record = RemoteVideoRecord {
            url: video.url.clone(),
            uuid: video.uuid.clone(),
            host,
            name: video.name.clone(),
            published: video.published.clone(),
            published_ms: crate::clock::parse_iso_8601(&video.published).unwrap_or(now),
            views: video.views,
            views_history: push_views(&history, now, video.views, TRENDING_WINDOW),
            account: account_of(doc),
            files_json: StoredFiles::of(&video).to_json(),
            fetched_at_ms: now,
            updated_at_ms: now,
            deleted_at_ms: None,
        };
        self.store.put_remote_video(&record).await?;
        if let Some(r) = self.redundancy() {
            r.wake();
        }
        Ok(video)
    }

    /// A Delete: a followed video on the sender's host is marked deleted (its copies are undone
    /// by the redundancy engine). Deletes of anything else are ignored.
    pub(super) async fn video_deleted(&self, item: &InboxItem, object: &Value) -> Result<(), FederationError> {
        let Some(id) = id_of_object(object) else { return Ok(()) };
        if self.store.remote_video(id).await?.is_none() {
            return Ok(());
        }
        if host_of(id) != host_of(&item.actor) {
            return Err(FederationError::Remote(format!("a Delete of {id} by {}, not on its host", item.actor)));
        }
        if self.store.mark_remote_video_deleted(id, timestamp_ms()).await? {
            tracing::info!("{id} was deleted at its origin");
            if let Some(r) = self.redundancy() {
                r.wake();
            }
        }
        Ok(())
    }

    /// A CacheFile's Create, Update or Undo, for the redundancy engine.
    pub(super) async fn cache_file(&self, item: &InboxItem, kind: &str, activity: &Value) -> Result<(), FederationError> {
        match self.redundancy() {
            Some(r) => r.received_cache_file(&item.actor, kind, activity, &item.body).await,
            None => Err(FederationError::Unreachable("the redundancy engine is not running yet".into())),
        }
    }

    /// Walks a followed instance's outbox (`<actor>/outbox`: `first`, then each page's `next`),
    /// keeping the Videos of its Create and Announce items; at most [`OUTBOX_PAGES`] pages and
    /// [`OUTBOX_ITEMS`] items. A bad page ends the walk, a bad item is skipped; both are logged.
    pub async fn walk_outbox(self: Arc<Self>, actor_url: String) {
        let (learned, skipped) = self.walk_outbox_counted(&actor_url).await;
        tracing::info!("outbox of {actor_url}: {learned} video(s) learned, {skipped} item(s) skipped");
    }

    /// [`Self::walk_outbox`], returning (videos learned, items skipped).
    pub async fn walk_outbox_counted(&self, actor_url: &str) -> (usize, usize) {
        let Some(host) = host_of(actor_url) else { return (0, 0) };
        let outbox = format!("{actor_url}/outbox");
        let collection = match self.fetcher.get_json(&outbox).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("cannot read the outbox of {actor_url}: {e}");
                return (0, 0);
            }
        };
        let (mut learned, mut skipped, mut items_seen) = (0, 0, 0);
        // `first` may be a page's URL or the page itself; a collection may also list items.
        let mut page: Option<Value> = match collection.get("first") {
            Some(Value::String(url)) => self.outbox_page(url, &host).await,
            Some(p @ Value::Object(_)) => Some(p.clone()),
            _ => Some(collection.clone()),
        };
        let mut pages = 0;
        while let Some(p) = page.take() {
            pages += 1;
            let items = p.get("orderedItems").or_else(|| p.get("items")).and_then(Value::as_array).cloned().unwrap_or_default();
            for activity in items {
                if items_seen >= OUTBOX_ITEMS {
                    break;
                }
                items_seen += 1;
                let kind = activity.get("type").and_then(Value::as_str).unwrap_or_default();
                if kind != "Create" && kind != "Announce" {
                    continue;
                }
                let object = activity.get("object").cloned().unwrap_or(Value::Null);
                let actor = activity.get("actor").and_then(|a| a.as_str().or_else(|| a.get("id").and_then(Value::as_str))).unwrap_or(actor_url);
                // An item's own object is trusted only when the item's actor is on the host.
                let trusted_host = if host_of(actor).as_deref() == Some(host.as_str()) { host.as_str() } else { "" };
                match self.video_from(&object, trusted_host).await {
                    Ok(Some(_)) => learned += 1,
                    Ok(None) => {}
                    Err(e) => {
                        skipped += 1;
                        tracing::warn!("outbox of {actor_url}: item {}: {e}", id_of_object(&activity).unwrap_or("(no id)"));
                    }
                }
            }
            if pages >= OUTBOX_PAGES || items_seen >= OUTBOX_ITEMS {
                break;
            }
            if let Some(next) = p.get("next").and_then(Value::as_str) {
                page = self.outbox_page(next, &host).await;
            }
        }
        (learned, skipped)
    }

    /// One outbox page, on the instance's own host.
    async fn outbox_page(&self, url: &str, host: &str) -> Option<Value> {
        if host_of(url).as_deref() != Some(host) {
            tracing::warn!("outbox page {url} is not on {host}: not read");
            return None;
        }
        match self.fetcher.get_json(url).await {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!("cannot read the outbox page {url}: {e}");
                None
            }
        }
    }
}
