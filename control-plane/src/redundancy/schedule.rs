//! What the redundancy scheduler feeds [`super::strategy::decide`], pure: the stored remote
//! videos as candidates (their size from the parsed files, their views in the trending window
//! from the samples kept at each Update), the copies held grouped per video — with their expiry
//! brought forward by a margin, so that a kept copy is extended (an `Update CacheFile`) *before*
//! the origin drops it at `expires` — and the files kept per video as JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::remote_video::{RemoteFile, RemoteHls, RemoteVideo};
use super::strategy::{Candidate, Held, StrategyKind};
use crate::store::{CopyRecord, RemoteVideoRecord, MANUAL};

/// The trending strategy counts views of the last 7 days (PeerTube's
/// `trending.videos.interval_days` default).
pub const TRENDING_WINDOW: Duration = Duration::from_secs(7 * 86_400);

/// Samples of a video's views kept at most (older ones are thinned out).
const MAX_SAMPLES: usize = 64;

/// A remote video's files as the store keeps them (`remote_videos.files_json`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredFiles {
    pub web_videos: Vec<RemoteFile>,
    pub hls: Option<RemoteHls>,
}

impl StoredFiles {
    pub fn of(v: &RemoteVideo) -> StoredFiles {
        StoredFiles { web_videos: v.web_videos.clone(), hls: v.hls.clone() }
    }

    pub fn to_json(&self) -> String {
        // Strings and numbers only: cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<StoredFiles, String> {
        serde_json::from_str(text).map_err(|e| format!("the stored files do not read back: {e}"))
    }

    /// Bytes of every file (what a copy of the whole video takes).
    pub fn total_size(&self) -> u64 {
        let hls = self.hls.as_ref().map_or(0, |h| h.files.iter().map(|f| f.size).sum());
        self.web_videos.iter().map(|f| f.size).sum::<u64>() + hls
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The views samples after a new reading: appended, only what the window needs kept (the last
/// sample before it starts, and those inside it), at most [`MAX_SAMPLES`] (the oldest inside
/// the window dropped first, keeping the first).
pub fn push_views(history: &[(i64, u64)], now_ms: i64, views: u64, window: Duration) -> Vec<(i64, u64)> {
    let start = now_ms.saturating_sub(ms(window));
    let mut out: Vec<(i64, u64)> = Vec::with_capacity(history.len() + 1);
    let before = history.iter().rev().find(|(at, _)| *at <= start);
    out.extend(before);
    out.extend(history.iter().filter(|(at, _)| *at > start && *at <= now_ms));
    if out.last().is_none_or(|(_, v)| *v != views) {
        out.push((now_ms, views));
    }
    while out.len() > MAX_SAMPLES {
        out.remove(1);
    }
    out
}

/// Views in the window ending at `now_ms`: all of them for a video published inside it, else
/// the growth since the last sample before the window (or since the first sample).
pub fn recent_views(history: &[(i64, u64)], views: u64, published_ms: i64, now_ms: i64, window: Duration) -> u64 {
    let start = now_ms.saturating_sub(ms(window));
    if published_ms >= start {
        return views;
    }
    let base = history.iter().rev().find(|(at, _)| *at <= start).or(history.first()).map_or(views, |(_, v)| *v);
    views.saturating_sub(base)
}

/// A stored remote video as a candidate for the strategies.
pub fn candidate(v: &RemoteVideoRecord, files: &StoredFiles, host_allowed: bool, now_ms: i64) -> Candidate {
    Candidate {
        video_url: v.url.clone(),
        size: files.total_size(),
        views: v.views,
        recent_views: recent_views(&v.views_history, v.views, v.published_ms, now_ms, TRENDING_WINDOW),
        published_ms: v.published_ms,
        host_allowed,
    }
}

/// How long before a copy's expiry the scheduler extends (or drops) it: two check intervals,
/// so that a run always falls in between, at least a minute.
pub fn expiry_margin(check_interval: Duration) -> Duration {
    check_interval.saturating_mul(2).max(Duration::from_secs(60))
}

/// The copies held, one per video: a video with any manual copy is manual; its size is the
/// sum of its copies', its expiry the earliest brought forward by `margin`, its creation the
/// earliest.
pub fn held(copies: &[CopyRecord], margin: Duration) -> Vec<Held> {
    let mut by_video: BTreeMap<&str, Held> = BTreeMap::new();
    for c in copies {
        let strategy = if c.strategy == MANUAL { None } else { StrategyKind::parse(&c.strategy) };
        let expires = c.expires_at_ms.map(|e| e.saturating_sub(ms(margin)));
        let h = by_video.entry(&c.video_url).or_insert_with(|| Held {
            video_url: c.video_url.clone(),
            strategy,
            size: 0,
            expires_ms: expires,
            created_ms: c.created_at_ms,
        });
        h.size = h.size.saturating_add(c.size);
        if strategy.is_none() || c.expires_at_ms.is_none() {
            // Manual, or kept until removed: never expires.
            h.strategy = if strategy.is_none() { None } else { h.strategy };
            h.expires_ms = None;
        } else if let (Some(a), Some(b)) = (h.expires_ms, expires) {
            h.expires_ms = Some(a.min(b));
        }
        h.created_ms = h.created_ms.min(c.created_at_ms);
    }
    by_video.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CopyFileKind, CopyState};

    const DAY: i64 = 86_400_000;

    #[test]
    fn views_samples_keep_what_the_window_needs() {
        let w = Duration::from_millis(10 * DAY as u64);
        let mut h = Vec::new();
        for day in 0..30 {
            h = push_views(&h, day * DAY, day as u64 * 10, w);
        }
        // The last sample before the window (day 19) and those inside it (days 20..=29).
        assert_eq!(h.first(), Some(&(19 * DAY, 190)));
        assert_eq!(h.len(), 11);
        // The same reading twice is kept once.
        let again = push_views(&h, 29 * DAY + 5, 290, w);
        assert_eq!(again.len(), 11);
        // Readings far apart keep at most MAX_SAMPLES.
        let mut many = Vec::new();
        for i in 0..500 {
            many = push_views(&many, i, i as u64, w);
        }
        assert_eq!(many.len(), MAX_SAMPLES);
        assert_eq!(many[0], (0, 0), "the first sample stays");
    }

    #[test]
    fn recent_views_count_the_growth_in_the_window() {
        let w = Duration::from_millis(7 * DAY as u64);
        let h = vec![(0, 100), (5 * DAY, 150), (9 * DAY, 400)];
        // At day 10 the window starts at day 3: growth since day 0's 100.
        assert_eq!(recent_views(&h, 400, -DAY, 10 * DAY, w), 300);
        // At day 13 it starts at day 6: growth since day 5's 150.
        assert_eq!(recent_views(&h, 400, -DAY, 13 * DAY, w), 250);
        // Published inside the window: every view is recent.
        assert_eq!(recent_views(&h, 400, 8 * DAY, 10 * DAY, w), 400);
        // First seen inside the window: growth since the first sample.
        assert_eq!(recent_views(&[(9 * DAY, 40)], 45, 0, 10 * DAY, w), 5);
        assert_eq!(recent_views(&[], 45, 0, 10 * DAY, w), 0);
    }

    fn copy(video: &str, strategy: &str, size: u64, expires: Option<i64>, created: i64) -> CopyRecord {
        CopyRecord {
            id: format!("{video}/{created}"),
            video_url: video.into(),
            kind: CopyFileKind::WebVideo,
            resolution: Some(360),
            fps: None,
            media_type: "video/mp4".into(),
            file_name: Some("a.mp4".into()),
            size,
            strategy: strategy.into(),
            state: CopyState::Ordered,
            reason: None,
            order_json: None,
            serve_base: None,
            activity_suffix: None,
            announced_at_ms: None,
            expires_at_ms: expires,
            attempts: 0,
            retry_at_ms: None,
            created_at_ms: created,
            updated_at_ms: created,
        }
    }

    #[test]
    fn copies_are_held_per_video_with_their_expiry_brought_forward() {
        let m = Duration::from_secs(10);
        let copies = vec![
            copy("v1", "most-views", 10, Some(100_000), 5),
            copy("v1", "most-views", 20, Some(90_000), 3),
            copy("v2", MANUAL, 7, None, 1),
            copy("v3", "trending", 1, None, 2),
        ];
        let h = held(&copies, m);
        assert_eq!(h.len(), 3);
        assert_eq!(h[0], Held { video_url: "v1".into(), strategy: Some(StrategyKind::MostViews), size: 30, expires_ms: Some(80_000), created_ms: 3 });
        assert_eq!((h[1].strategy, h[1].expires_ms), (None, None), "manual");
        assert_eq!((h[2].strategy, h[2].expires_ms), (Some(StrategyKind::Trending), None));
        assert_eq!(expiry_margin(Duration::from_secs(3600)), Duration::from_secs(7200));
        assert_eq!(expiry_margin(Duration::from_secs(1)), Duration::from_secs(60));
    }

    #[test]
    fn stored_files_round_trip() {
        let v = crate::redundancy::remote_video::parse_video(&serde_json::from_str(include_str!("../../tests-data/peertube-6.3/video-object.json")).unwrap()).unwrap();
        let files = StoredFiles::of(&v);
        let back = StoredFiles::from_json(&files.to_json()).unwrap();
        assert_eq!(back, files);
        assert_eq!(back.total_size(), v.total_size());
        assert!(StoredFiles::from_json("[1]").is_err());
    }
}
