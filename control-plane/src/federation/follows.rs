//! Following and answering instances (does I/O): resolve an instance's server actor, follow and
//! unfollow it (its videos' copies then undone), accept or reject a follower, follow back.

use super::*;

impl Engine {
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
        if bases[0].contains("/accounts/") || bases[0].contains("/video-channels/") {
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
        let removed = self.store.remove_follow(FollowDirection::Following, &f.actor_url).await?;
        // As PeerTube does: its videos may no longer be copied, and the copies are undone.
        self.store.deny_redundancy(&f.host).await?;
        if let Some(r) = self.redundancy() {
            r.wake();
        }
        Ok(removed)
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

    /// A Follow of our account or channel: accepted (unless the follower's host is blocked), as
    /// PeerTube accepts follows of its accounts and channels, and answered by that actor.
    pub(super) async fn local_actor_followed(&self, item: &crate::store::InboxItem, follow: &Value, local: &LocalSigner) -> Result<(), FederationError> {
        let follow_id = follow.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        if follow_id.is_empty() {
            return Err(FederationError::Remote("a Follow without an id".into()));
        }
        let actor = self.actor(&item.actor).await?;
        let host = host_of(&actor.url).unwrap_or_default();
        let answer_id = format!("{}/accepts/follows/{}", local.url, crate::store::random_token());
        let embedded = activities::embedded_follow(&follow_id, &actor.url, &local.url);
        if self.store.is_blocked(&host).await? || self.store.is_follow_undone(&follow_id).await? {
            let reject = activities::reject(&answer_id.replace("/accepts/", "/rejects/"), &local.url, embedded);
            return self.send_as(&reject, std::slice::from_ref(&actor.inbox), Some(local)).await;
        }
        self.store
            .put_local_follower(&crate::store::LocalFollower {
                local_actor: local.role.to_owned(),
                actor_url: actor.url.clone(),
                host,
                inbox: actor.inbox.clone(),
                shared_inbox: actor.shared_inbox.clone(),
                follow_activity_id: follow_id,
                created_at_ms: timestamp_ms(),
            })
            .await?;
        let accept = activities::accept(&answer_id, &local.url, embedded);
        self.send_as(&accept, std::slice::from_ref(&actor.inbox), Some(local)).await
    }
}
