//! The redundancy scheduler (does I/O): runs every `check_interval` and whenever woken (a video
//! changed, the admin changed something). Each run brings the copies in line with the facts —
//! copies of deleted videos, of instances no longer followed or whose redundancy was denied are
//! undone and discarded; copies whose order was never made are prepared; served copies not yet
//! announced are announced; failed copies are tried again when due (a strategy's copy given up
//! is dropped) — then lets the strategies decide ([`super::strategy::decide`]):
//! new copies, later expiries (an Update before the old one passes), drops; and, as an origin,
//! forgets the copies others keep of our videos once they expire.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::engine::{RedundancyEngine, RedundancyError};
use super::retry::given_up;
use super::schedule::{candidate, expiry_margin, held, StoredFiles};
use super::status::status;
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
                // Until the next check, a copy of ours expiring or a failed copy's next try,
                // whichever comes first.
                let next = me.next_expiry_ms.load(std::sync::atomic::Ordering::Relaxed).min(me.next_retry_ms.load(std::sync::atomic::Ordering::Relaxed));
                let until_expiry = next.saturating_sub(timestamp_ms()).max(0);
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
                CopyState::Preparing => self.spawn_prepare(&c.id),
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

        // Failed copies: tried again when due; a failure not counted yet (the process stopped
        // in between) is counted now; a strategy's copy given up is dropped (the reason stays in
        // the log), and the strategy may choose the video again later.
        let policy = self.retry_policy();
        let mut next_retry = i64::MAX;
        for c in &copies {
            let mine: Vec<&crate::store::CopyNodeRecord> = reports.iter().filter(|r| r.copy_id == c.id).collect();
            let result = match c.retry_at_ms {
                Some(at) if at <= now => self.retry_now(c, c.attempts).await,
                Some(at) => {
                    next_retry = next_retry.min(at);
                    Ok(())
                }
                None if given_up(&policy, c.attempts) && c.strategy != MANUAL => {
                    let why = format!("its copy failed {} times in a row: {}", c.attempts, status(c, &mine).reason.unwrap_or_else(|| "unknown".into()));
                    let until = now.saturating_add(i64::try_from(self.check_interval.as_millis()).unwrap_or(i64::MAX));
                    self.given_up_videos.lock().unwrap_or_else(|p| p.into_inner()).insert(c.video_url.clone(), until);
                    self.remove_video_copies(&c.video_url, &why).await.map(|_| ())
                }
                None => match status(c, &mine) {
                    s if s.state == "failed" && !given_up(&policy, c.attempts) => self.note_failure(&c.id, s.reason.as_deref().unwrap_or("failed")).await,
                    _ => Ok(()),
                },
            };
            if let Err(e) = result {
                tracing::warn!("redundancy: {}: {e}", c.id);
            }
        }
        self.next_retry_ms.store(next_retry, std::sync::atomic::Ordering::Relaxed);
        let copies = store.copies().await?;

        // The strategies.
        let strategies = self.strategies().await?;
        if !strategies.is_empty() {
            let videos = store.remote_videos().await?;
            let mut files: HashMap<String, StoredFiles> = HashMap::new();
            let mut candidates = Vec::new();
            let resting = {
                let mut g = self.given_up_videos.lock().unwrap_or_else(|p| p.into_inner());
                g.retain(|_, until| *until > now);
                g.clone()
            };
            for v in &videos {
                if !following.contains(&v.host) || resting.contains_key(&v.url) {
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
                self.spawn_prepare(&c.id);
            }
        }
        Ok(())
    }
}
