//! Which videos to keep copies of, decided the way PeerTube's redundancy scheduler does, pure:
//! strategies `most-views`, `trending` (views of the last days) and `recently-added` (with
//! `min_views`), each with a size budget and a `min_lifetime`; run every `check_interval` with
//! the time and a random number passed in. Per strategy: copies past their expiry are extended
//! (an `Update CacheFile`) while the strategy still wants them and the budget holds, else
//! dropped (an `Undo`); then one new video is chosen at random among the five best candidates
//! (remote, from a host whose redundancy is allowed, not held yet) if it fits the budget after
//! evicting the strategy's expired copies, oldest first. Manual copies are never touched here.

use std::time::Duration;

/// A strategy's name, as PeerTube's configuration spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StrategyKind {
    MostViews,
    Trending,
    RecentlyAdded,
}

impl StrategyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::MostViews => "most-views",
            StrategyKind::Trending => "trending",
            StrategyKind::RecentlyAdded => "recently-added",
        }
    }

    pub fn parse(s: &str) -> Option<StrategyKind> {
        match s {
            "most-views" => Some(StrategyKind::MostViews),
            "trending" => Some(StrategyKind::Trending),
            "recently-added" => Some(StrategyKind::RecentlyAdded),
            _ => None,
        }
    }
}

/// One configured strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Strategy {
    pub kind: StrategyKind,
    /// Bytes its copies may take together.
    pub size: u64,
    /// How long a copy is kept at least (PeerTube: ≥ 10 h in production).
    pub min_lifetime: Duration,
    /// `recently-added` only: fewer views and a video is not a candidate.
    pub min_views: u64,
}

/// A followed instance's video that could be copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub video_url: String,
    pub size: u64,
    pub views: u64,
    /// Views in the trending window (PeerTube: the last days).
    pub recent_views: u64,
    pub published_ms: i64,
    /// The admin allowed redundancy for the video's host.
    pub host_allowed: bool,
}

/// A copy this instance holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    pub video_url: String,
    /// `None`: a manual copy.
    pub strategy: Option<StrategyKind>,
    pub size: u64,
    pub expires_ms: Option<i64>,
    pub created_ms: i64,
}

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Copy this video for this strategy, kept until `expires_ms`.
    Copy { video_url: String, strategy: StrategyKind, expires_ms: i64 },
    /// Keep this copy longer (send `Update CacheFile`).
    Extend { video_url: String, expires_ms: i64 },
    /// Remove this copy (send `Undo`, then delete the files).
    Drop { video_url: String, reason: String },
}

/// How many of the best candidates one is drawn from (PeerTube's `RANDOMIZED_FACTOR`).
pub const RANDOMIZED_FACTOR: usize = 5;

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// One run of the scheduler.
pub fn decide(strategies: &[Strategy], candidates: &[Candidate], held: &[Held], now_ms: i64, random: u64) -> Vec<Decision> {
    let mut out = Vec::new();
    let mut dropped: Vec<&str> = Vec::new();
    let mut taken: Vec<&str> = held.iter().map(|h| h.video_url.as_str()).collect();
    for s in strategies {
        let mine: Vec<&Held> = held.iter().filter(|h| h.strategy == Some(s.kind)).collect();
        let mut used: u64 = mine.iter().map(|h| h.size).sum();
        // Expired copies: extended while within the budget, else dropped.
        for h in &mine {
            if h.expires_ms.is_some_and(|e| e <= now_ms) {
                if used <= s.size {
                    out.push(Decision::Extend { video_url: h.video_url.clone(), expires_ms: now_ms.saturating_add(ms(s.min_lifetime)) });
                } else {
                    out.push(Decision::Drop { video_url: h.video_url.clone(), reason: format!("over the {} budget", s.kind.as_str()) });
                    dropped.push(&h.video_url);
                    used -= h.size;
                }
            }
        }
        // One new copy.
        let mut pool: Vec<&Candidate> = candidates
            .iter()
            .filter(|c| c.host_allowed && !taken.contains(&c.video_url.as_str()))
            .filter(|c| s.kind != StrategyKind::RecentlyAdded || c.views >= s.min_views)
            .collect();
        match s.kind {
            StrategyKind::MostViews => pool.sort_by(|a, b| b.views.cmp(&a.views).then(a.video_url.cmp(&b.video_url))),
            StrategyKind::Trending => pool.sort_by(|a, b| b.recent_views.cmp(&a.recent_views).then(a.video_url.cmp(&b.video_url))),
            StrategyKind::RecentlyAdded => pool.sort_by(|a, b| b.published_ms.cmp(&a.published_ms).then(a.video_url.cmp(&b.video_url))),
        }
        pool.truncate(RANDOMIZED_FACTOR);
        if pool.is_empty() {
            continue;
        }
        let pick = pool[(random % pool.len() as u64) as usize];
        if used.saturating_add(pick.size) > s.size {
            // Make room with this strategy's expired copies, oldest first.
            let mut expired: Vec<&&Held> = mine
                .iter()
                .filter(|h| h.expires_ms.is_some_and(|e| e <= now_ms) && !dropped.contains(&h.video_url.as_str()))
                .collect();
            expired.sort_by_key(|h| h.created_ms);
            let mut evict = Vec::new();
            for h in expired {
                if used.saturating_add(pick.size) <= s.size {
                    break;
                }
                used -= h.size;
                evict.push(h);
            }
            if used.saturating_add(pick.size) > s.size {
                continue; // does not fit even so: skipped this run
            }
            for h in evict {
                // It was to be extended above: it goes instead.
                out.retain(|d| !matches!(d, Decision::Extend { video_url, .. } if *video_url == h.video_url));
                out.push(Decision::Drop { video_url: h.video_url.clone(), reason: format!("evicted for a new {} copy", s.kind.as_str()) });
                dropped.push(&h.video_url);
            }
        }
        out.push(Decision::Copy { video_url: pick.video_url.clone(), strategy: s.kind, expires_ms: now_ms.saturating_add(ms(s.min_lifetime)) });
        taken.push(&pick.video_url);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Duration = Duration::from_secs(3600);
    const NOW: i64 = 1_000_000_000;

    fn cand(url: &str, size: u64, views: u64, recent: u64, published: i64) -> Candidate {
        Candidate { video_url: url.into(), size, views, recent_views: recent, published_ms: published, host_allowed: true }
    }

    fn strategy(kind: StrategyKind, size: u64) -> Strategy {
        Strategy { kind, size, min_lifetime: 10 * H, min_views: 0 }
    }

    #[test]
    fn each_strategy_picks_among_the_five_best_it_has_room_for() {
        let c: Vec<Candidate> = (0..10).map(|i| cand(&format!("v{i}"), 100, i, 10 - i, i as i64)).collect();
        for random in 0..20 {
            let d = decide(&[strategy(StrategyKind::MostViews, 1000)], &c, &[], NOW, random);
            let [Decision::Copy { video_url, strategy, expires_ms }] = &d[..] else { panic!("{d:?}") };
            assert!(["v9", "v8", "v7", "v6", "v5"].contains(&video_url.as_str()), "{video_url}");
            assert_eq!((*strategy, *expires_ms), (StrategyKind::MostViews, NOW + 10 * 3_600_000));
        }
        let d = decide(&[strategy(StrategyKind::Trending, 1000)], &c, &[], NOW, 0);
        assert!(matches!(&d[0], Decision::Copy { video_url, .. } if ["v0", "v1", "v2", "v3", "v4"].contains(&video_url.as_str())));
        // Too big for the budget: nothing.
        assert!(decide(&[strategy(StrategyKind::MostViews, 99)], &c, &[], NOW, 0).is_empty());
    }

    #[test]
    fn recently_added_needs_min_views_and_hosts_must_allow_it() {
        let mut c = vec![cand("new", 10, 1, 0, 50), cand("old", 10, 100, 0, 10)];
        let s = Strategy { min_views: 5, ..strategy(StrategyKind::RecentlyAdded, 100) };
        assert!(matches!(&decide(&[s], &c, &[], NOW, 0)[0], Decision::Copy { video_url, .. } if video_url == "old"));
        c[1].host_allowed = false;
        assert!(decide(&[s], &c, &[], NOW, 0).is_empty(), "redundancy is off for that host");
    }

    #[test]
    fn expired_copies_are_extended_within_budget_and_evicted_for_room() {
        let c = vec![cand("big", 60, 1000, 0, 0)];
        let held = vec![
            Held { video_url: "a".into(), strategy: Some(StrategyKind::MostViews), size: 30, expires_ms: Some(NOW - 1), created_ms: 1 },
            Held { video_url: "b".into(), strategy: Some(StrategyKind::MostViews), size: 30, expires_ms: Some(NOW - 1), created_ms: 2 },
            Held { video_url: "m".into(), strategy: None, size: 500, expires_ms: None, created_ms: 0 },
        ];
        // Budget 100: both expired copies fit (extended), the new one (60) needs the oldest out.
        let d = decide(&[strategy(StrategyKind::MostViews, 100)], &c, &held, NOW, 0);
        assert!(d.contains(&Decision::Drop { video_url: "a".into(), reason: "evicted for a new most-views copy".into() }), "{d:?}");
        assert!(d.contains(&Decision::Extend { video_url: "b".into(), expires_ms: NOW + 36_000_000 }), "{d:?}");
        assert!(d.iter().any(|x| matches!(x, Decision::Copy { video_url, .. } if video_url == "big")));
        assert!(!d.iter().any(|x| matches!(x, Decision::Drop { video_url, .. } | Decision::Extend { video_url, .. } if video_url == "m")), "manual copies stay");
        // A budget lowered below what is held: expired copies go.
        let d = decide(&[strategy(StrategyKind::MostViews, 10)], &[], &held, NOW, 0);
        assert_eq!(d.iter().filter(|x| matches!(x, Decision::Drop { .. })).count(), 2, "{d:?}");
        // A copy not expired is left alone.
        let fresh = vec![Held { expires_ms: Some(NOW + 5), ..held[0].clone() }];
        assert!(decide(&[strategy(StrategyKind::MostViews, 10)], &[], &fresh, NOW, 0).is_empty());
    }

    #[test]
    fn two_strategies_never_copy_the_same_video() {
        let c = vec![cand("only", 10, 5, 5, 5)];
        let d = decide(&[strategy(StrategyKind::MostViews, 100), strategy(StrategyKind::Trending, 100)], &c, &[], NOW, 0);
        assert_eq!(d.len(), 1);
        assert_eq!(StrategyKind::parse("trending"), Some(StrategyKind::Trending));
        assert_eq!(StrategyKind::parse(StrategyKind::RecentlyAdded.as_str()), Some(StrategyKind::RecentlyAdded));
        assert_eq!(StrategyKind::parse("manual"), None);
    }
}
