//! Where a copy stands, pure: the control plane's own state of it (preparing its order,
//! ordered, failed) merged with each data node's last report into what the admin sees —
//! `preparing`, `downloading`, `verifying`, `serving` or `failed` with the reason, bytes done
//! of the total, and the nodes that serve it.

use serde::Serialize;

use crate::store::{CopyNodeRecord, CopyRecord, CopyState};

/// A copy as the admin sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyStatus {
    pub state: &'static str,
    pub reason: Option<String>,
    pub done_bytes: u64,
    pub total_bytes: u64,
    /// The nodes serving it, by name.
    pub nodes: Vec<String>,
}

/// The status of `copy` given its nodes' last reports.
pub fn status(copy: &CopyRecord, reports: &[&CopyNodeRecord]) -> CopyStatus {
    let serving: Vec<String> = reports.iter().filter(|r| r.state == "serving").map(|r| r.node.clone()).collect();
    let base = CopyStatus { state: "preparing", reason: None, done_bytes: 0, total_bytes: copy.size, nodes: serving };
    match copy.state {
        CopyState::Preparing => base,
        CopyState::Failed => CopyStatus { state: "failed", reason: copy.reason.clone(), ..base },
        CopyState::Ordered => {
            // The most advanced node speaks for the copy.
            let rank = |s: &str| match s {
                "serving" => 3,
                "verifying" => 2,
                "downloading" => 1,
                _ => 0,
            };
            let best = reports.iter().max_by_key(|r| (rank(&r.state), r.done_bytes));
            match best {
                None => CopyStatus { state: "downloading", ..base },
                Some(r) if rank(&r.state) == 0 => {
                    // Every node failed: their reasons, each once.
                    let mut reasons: Vec<String> = Vec::new();
                    for r in reports {
                        let why = format!("{}: {}", r.node, r.reason.as_deref().unwrap_or("failed"));
                        if !reasons.contains(&why) {
                            reasons.push(why);
                        }
                    }
                    CopyStatus { state: "failed", reason: Some(reasons.join("; ")), done_bytes: r.done_bytes, total_bytes: r.total_bytes.max(1), ..base }
                }
                Some(r) => CopyStatus {
                    state: match rank(&r.state) {
                        3 => "serving",
                        2 => "verifying",
                        _ => "downloading",
                    },
                    done_bytes: r.done_bytes,
                    total_bytes: if r.total_bytes > 0 { r.total_bytes } else { copy.size },
                    ..base
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CopyFileKind, MANUAL};

    fn copy(state: CopyState) -> CopyRecord {
        CopyRecord {
            id: "c".into(),
            video_url: "v".into(),
            kind: CopyFileKind::Hls,
            resolution: None,
            fps: None,
            media_type: "application/x-mpegURL".into(),
            file_name: None,
            size: 1000,
            strategy: MANUAL.into(),
            state,
            reason: (state == CopyState::Failed).then(|| "the torrent does not match".into()),
            order_json: None,
            serve_base: None,
            activity_suffix: None,
            announced_at_ms: None,
            expires_at_ms: None,
            attempts: 0,
            retry_at_ms: None,
            created_at_ms: 0,
            updated_at_ms: 0,
        }
    }

    fn report(node: &str, state: &str, done: u64, reason: Option<&str>) -> CopyNodeRecord {
        CopyNodeRecord { copy_id: "c".into(), node: node.into(), state: state.into(), done_bytes: done, total_bytes: 1100, reason: reason.map(Into::into), updated_at_ms: 0 }
    }

    #[test]
    fn the_control_plane_s_own_states() {
        assert_eq!(status(&copy(CopyState::Preparing), &[]).state, "preparing");
        let failed = status(&copy(CopyState::Failed), &[]);
        assert_eq!((failed.state, failed.reason.as_deref()), ("failed", Some("the torrent does not match")));
        let waiting = status(&copy(CopyState::Ordered), &[]);
        assert_eq!((waiting.state, waiting.done_bytes, waiting.total_bytes), ("downloading", 0, 1000), "ordered, no node has reported yet");
    }

    #[test]
    fn the_most_advanced_node_speaks_for_the_copy() {
        let c = copy(CopyState::Ordered);
        let (a, b) = (report("a", "downloading", 10, None), report("b", "downloading", 500, None));
        let s = status(&c, &[&a, &b]);
        assert_eq!((s.state, s.done_bytes, s.total_bytes), ("downloading", 500, 1100));
        let v = report("a", "verifying", 1100, None);
        assert_eq!(status(&c, &[&v, &b]).state, "verifying");
        let (s1, f) = (report("a", "serving", 1100, None), report("b", "failed", 3, Some("disk full")));
        let s = status(&c, &[&s1, &f]);
        assert_eq!((s.state, s.nodes.clone()), ("serving", vec!["a".to_owned()]), "one node failing does not fail a served copy");
        let f2 = report("a", "failed", 0, Some("the origin is gone"));
        let s = status(&c, &[&f2, &f]);
        assert_eq!(s.state, "failed");
        assert_eq!(s.reason.as_deref(), Some("a: the origin is gone; b: disk full"));
    }
}
