//! The inbox worker (does I/O): processes stored activities in order — Follow, Accept, Reject,
//! Undo; the followed instances' Create/Update/Delete of videos and Announces (`videos`); the
//! CacheFiles others send for our videos (handed to the redundancy engine) — idempotently; a
//! failure that may pass keeps the activity for a later try, a malformed one is recorded as
//! processed with its reason.

use std::time::Duration;

use serde_json::Value;

use super::policy::{decide_follow, inbox_retry, FollowDecision, Retry};
use super::*;
use crate::activitypub::activities::id_of;
use crate::store::InboxItem;

impl Engine {
    pub(super) async fn inbox_loop(self: Arc<Self>) {
        loop {
            let items = self.store.due_inbox(32, timestamp_ms()).await.unwrap_or_default();
            if items.is_empty() {
                let _ = tokio::time::timeout(Duration::from_secs(1), self.wake.notified()).await;
                continue;
            }
            for item in items {
                let result = self.process(&item).await;
                let id = item.activity_id.as_deref().unwrap_or("(no id)");
                let retry = match &result {
                    Err(e) => inbox_retry(item.attempts, e.is_passing(), timestamp_ms(), self.retry_base, random()),
                    Ok(()) => Retry::GiveUp,
                };
                match (result, retry) {
                    (Err(e), Retry::At(next)) => {
                        // Kept, and tried again later: nothing received is lost to a passing failure.
                        let secs = (next - timestamp_ms()).max(0) / 1000;
                        tracing::warn!("activity {id} from {}: {e}; trying again in {secs} s", item.actor);
                        if self.store.retry_inbox_later(item.id, &e.to_string(), next).await.is_err() {
                            // Not even the retry could be recorded (the database is away): pause
                            // instead of trying the same activity again at once.
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                    (result, _) => {
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
    async fn process(self: &Arc<Self>, item: &InboxItem) -> Result<(), FederationError> {
        let activity: Value = serde_json::from_str(&item.body).map_err(|e| FederationError::Remote(e.to_string()))?;
        let me = self.instance.actor_url();
        let object = activity.get("object").cloned().unwrap_or(Value::Null);
        match activity.get("type").and_then(Value::as_str).unwrap_or_default() {
            "Follow" => {
                if let Some(local) = id_of(&object).and_then(|o| self.local_actor(o)) {
                    return self.local_actor_followed(item, &activity, &local).await;
                }
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
                if kind == "Accept" {
                    // Learn what the instance already has, in the background.
                    tokio::spawn(Arc::clone(self).walk_outbox(f.actor_url.clone()));
                }
                Ok(())
            }
            kind @ ("Create" | "Update") => match object.get("type").and_then(Value::as_str) {
                Some("Video") => self.video_created_or_updated(item, &object).await,
                Some("CacheFile") => self.cache_file(item, kind, &activity).await,
                _ => Ok(()),
            },
            "Delete" => self.video_deleted(item, &object).await,
            "Announce" => self.announced(item, &object).await,
            "Undo" if object.get("type").and_then(Value::as_str) == Some("Create") => {
                let inner = object.get("object").cloned().unwrap_or(Value::Null);
                let cache_file = inner.get("type").and_then(Value::as_str) == Some("CacheFile")
                    || inner.as_str().is_some_and(|id| id.contains("/redundancy/"));
                if cache_file {
                    self.cache_file(item, "Undo", &activity).await
                } else {
                    Ok(())
                }
            }
            "Undo" if object.get("type").and_then(Value::as_str) == Some("Follow")
                && object.get("object").and_then(id_of).and_then(|o| self.local_actor(o)).is_some() =>
            {
                let local = object.get("object").and_then(id_of).and_then(|o| self.local_actor(o));
                if let (Some(local), Some(follow_id)) = (local, id_of(&object)) {
                    if object.get("actor").and_then(Value::as_str) == Some(item.actor.as_str()) {
                        self.store.remove_local_follower(local.role, &item.actor, follow_id).await?;
                    }
                }
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
}
