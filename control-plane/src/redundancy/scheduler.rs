//! The redundancy scheduler (does I/O): runs every `check_interval` and whenever woken (a video
//! changed, the admin changed something). Each run brings the copies in line with the facts —
//! copies of deleted videos, of instances no longer followed or whose redundancy was denied are
//! undone and discarded; copies whose order was never made are prepared; served copies not yet
//! announced are announced — then lets the strategies decide ([`super::strategy::decide`]):
//! new copies, later expiries (an Update before the old one passes), drops; and, as an origin,
//! forgets the copies others keep of our videos once they expire.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::engine::{RedundancyEngine, RedundancyError};
use super::schedule::{candidate, expiry_margin, held, StoredFiles};
use super::strategy::{decide, Decision};
use crate::activitypub::fetch::host_of;
use crate::library::timestamp_ms;
use crate::store::{CopyState, FollowDirection, FollowState, MANUAL};

impl RedundancyEngine {
    /// Starts the scheduler: a run at once (orders left unprepared by a stop, the copies others
    /// keep of our videos advertised again), then one every `check_interval` or when woken.
    pub fn start(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                if let Err(e) = me.run_once().await {
                    tracing::warn!("redundancy: {e}");
                }
                // Until the next check, or until a copy of ours expires, whichever comes first.
                let until_expiry = me.next_expiry_ms.load(std::sync::atomic::Ordering::Relaxed).saturating_sub(timestamp_ms()).max(0);
                let sleep = me.check_interval.min(std::time::Duration::from_millis(u64::try_from(until_expiry).unwrap_or(u64::MAX)));
                tokio::select! {
                    _ = tokio::time::sleep(sleep) => {}
                    _ = me.woken() => {}
                }
            }
        })
    }

    /// One run of the scheduler.
    pub async fn run_once(self: &Arc<Self>) -> Result<(), RedundancyError> {
        let store = &self.fed.store;
        let now = timestamp_ms();
        let following: HashSet<String> = store.follows(FollowDirection::Following, Some(FollowState::Accepted)).await?.into_iter().map(|f| f.host).collect();
        let allowed: HashSet<String> = store.redundancy_hosts().await?.into_iter().collect();

        // Copies that may no longer be kept.
        let mut checked = HashSet::new();
        for c in store.copies().await? {
            if !checked.insert(c.video_url.clone()) {
                continue;
            }
            let host = host_of(&c.video_url).unwrap_or_default();
            let video = store.remote_video(&c.video_url).await?;
            let why = if video.as_ref().is_none_or(|v| v.deleted_at_ms.is_some()) {
                Some("the video was deleted at its origin".to_owned())
            } else if !following.contains(&host) {
                Some(format!("this instance no longer follows {host}"))
            } else if !allowed.contains(&host) {
                Some(format!("redundancy is not allowed for {host}"))
            } else {
                None
            };
            if let Some(why) = why {
                if let Err(e) = self.remove_video_copies(&c.video_url, &why).await {
                    tracing::warn!("cannot remove the copies of {} ({why}): {e}; trying again at the next run", c.video_url);
                }
            }
        }

        // Orders never made (the process stopped while preparing them), announcements that
        // could not be queued.
        let copies = store.copies().await?;
        let reports = store.copy_reports().await?;
        for c in &copies {
            match c.state {
                CopyState::Preparing => self.spawn_prepare(c.clone()),
                CopyState::Ordered if c.announced_at_ms.is_none() => {
                    if let Some(r) = reports.iter().find(|r| r.copy_id == c.id && r.state == "serving") {
                        if let Err(e) = self.announce(c, &r.node).await {
                            tracing::warn!("cannot announce {}: {e}", c.id);
                        }
                    }
                }
                _ => {}
            }
        }

        // A strategy's copy that failed is dropped after a check interval (the reason stays in
        // the log); the strategy may choose the video again later.
        let stale = now.saturating_sub(i64::try_from(self.check_interval.as_millis()).unwrap_or(i64::MAX));
        for c in copies.iter().filter(|c| c.strategy != MANUAL && c.state == CopyState::Failed && c.updated_at_ms <= stale) {
            let why = format!("its copy failed: {}", c.reason.as_deref().unwrap_or("unknown"));
            if let Err(e) = self.remove_video_copies(&c.video_url, &why).await {
                tracing::warn!("cannot remove the failed copy {}: {e}", c.id);
            }
        }
        let copies = store.copies().await?;

        // The strategies.
        let strategies = self.strategies().await?;
        if !strategies.is_empty() {
            let videos = store.remote_videos().await?;
            let mut files: HashMap<String, StoredFiles> = HashMap::new();
            let mut candidates = Vec::new();
            for v in &videos {
                if !following.contains(&v.host) {
                    continue;
                }
                let Ok(f) = StoredFiles::from_json(&v.files_json) else { continue };
                let c = candidate(v, &f, allowed.contains(&v.host), now);
                if c.size > 0 {
                    candidates.push(c);
                    files.insert(v.url.clone(), f);
                }
            }
            let held = held(&copies, expiry_margin(self.check_interval));
            let random = getrandom::u64().unwrap_or(0);
            for d in decide(&strategies, &candidates, &held, now, random) {
                let result = match &d {
                    Decision::Copy { video_url, strategy, expires_ms } => self.copy_for_strategy(video_url, &files, strategy.as_str(), *expires_ms).await,
                    Decision::Extend { video_url, expires_ms } => self.extend(video_url, *expires_ms).await,
                    Decision::Drop { video_url, reason } => self.remove_video_copies(video_url, reason).await.map(|_| ()),
                };
                if let Err(e) = result {
                    tracing::warn!("redundancy: {d:?}: {e}");
                }
            }
        }

        // As an origin: copies others keep of our videos, dropped at their expiry.
        store.remove_expired_received_copies(now).await?;
        self.refresh_advertised().await?;
        Ok(())
    }

    /// Starts copying a video a strategy chose.
    async fn copy_for_strategy(self: &Arc<Self>, video_url: &str, files: &HashMap<String, StoredFiles>, strategy: &str, expires_ms: i64) -> Result<(), RedundancyError> {
        let store = &self.fed.store;
        let (Some(video), Some(f)) = (store.remote_video(video_url).await?, files.get(video_url)) else { return Ok(()) };
        for c in self.new_copies(&video, f, strategy, Some(expires_ms)) {
            if store.insert_copy(&c).await? {
                tracing::info!("{strategy} keeps a copy of {video_url}: {}", c.id);
                self.spawn_prepare(c);
            }
        }
        Ok(())
    }
}
