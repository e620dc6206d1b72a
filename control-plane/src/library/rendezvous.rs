//! Which data node's tracker a video's torrent names, by rendezvous (highest-random-weight)
//! hashing: each candidate node gets the weight SHA-256(info-hash ‖ node name) and the heaviest
//! wins. Every viewer of a video is sent to the same tracker (a swarm is never split between
//! two), the videos spread evenly over the nodes, and a node that joins or leaves moves only the
//! videos it wins or won: the others keep their tracker. Pure.

use sha2::{Digest, Sha256};
use vidseed_shared::InfoHash;

/// The weight of `node` for the video `info_hash`: the first 8 bytes of
/// SHA-256(info-hash ‖ node name), big-endian. The info-hash has a fixed length, so the
/// concatenation is unambiguous.
pub fn weight(info_hash: &InfoHash, node: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(info_hash.0);
    h.update(node.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// The candidate with the highest weight for `info_hash` (`name` gives a candidate's node
/// name); `None` when there is none. The order of the candidates does not matter: equal weights
/// (practically never) go to the smaller name.
pub fn choose<'a, T>(info_hash: &InfoHash, candidates: impl IntoIterator<Item = &'a T>, name: impl Fn(&T) -> &str) -> Option<&'a T> {
    candidates
        .into_iter()
        .map(|c| (weight(info_hash, name(c)), c))
        .max_by(|(wa, a), (wb, b)| wa.cmp(wb).then_with(|| name(b).cmp(name(a))))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distinct info-hashes, as many as asked.
    fn hashes(n: u32) -> Vec<InfoHash> {
        (0..n)
            .map(|i| {
                let mut b = [0u8; 20];
                b[..4].copy_from_slice(&i.to_be_bytes());
                let d = Sha256::digest(b);
                let mut ih = [0u8; 20];
                ih.copy_from_slice(&d[..20]);
                InfoHash(ih)
            })
            .collect()
    }

    fn pick<'a>(ih: &InfoHash, nodes: &'a [&'a str]) -> &'a str {
        choose(ih, nodes, |n| n).copied().unwrap()
    }

    #[test]
    fn no_candidate_no_choice_and_one_candidate_wins() {
        let ih = InfoHash([7; 20]);
        assert_eq!(choose(&ih, &[] as &[&str], |n| n), None);
        assert_eq!(pick(&ih, &["edge-1"]), "edge-1");
    }

    #[test]
    fn the_choice_depends_on_the_set_not_on_its_order() {
        for ih in hashes(200) {
            let a = pick(&ih, &["a", "b", "c", "d"]);
            assert_eq!(a, pick(&ih, &["d", "c", "b", "a"]));
            assert_eq!(a, pick(&ih, &["c", "a", "d", "b"]));
        }
    }

    #[test]
    fn the_weight_mixes_both_inputs() {
        let ih = InfoHash([1; 20]);
        assert_ne!(weight(&ih, "a"), weight(&ih, "b"));
        assert_ne!(weight(&ih, "a"), weight(&InfoHash([2; 20]), "a"));
        assert_eq!(weight(&ih, "a"), weight(&InfoHash([1; 20]), "a"), "a pure function");
    }

    #[test]
    fn videos_spread_over_the_nodes() {
        let nodes = ["edge-1", "edge-2", "edge-3"];
        let mut counts = [0usize; 3];
        let all = hashes(3000);
        for ih in &all {
            let chosen = pick(ih, &nodes);
            counts[nodes.iter().position(|n| *n == chosen).unwrap()] += 1;
        }
        for (node, n) in nodes.iter().zip(counts) {
            assert!((800..=1200).contains(&n), "{node} tracks {n} of 3000 videos: {counts:?}");
        }
    }

    #[test]
    fn a_node_that_joins_takes_only_videos_for_itself() {
        let before = ["a", "b", "c"];
        let after = ["a", "b", "c", "d"];
        let mut moved = 0;
        for ih in hashes(2000) {
            let (old, new) = (pick(&ih, &before), pick(&ih, &after));
            if old != new {
                assert_eq!(new, "d", "a video moved from {old} to {new}, not to the new node");
                moved += 1;
            }
        }
        // About a quarter of the videos go to the fourth node; nothing else moves.
        assert!((350..=650).contains(&moved), "{moved} of 2000 moved");
    }

    #[test]
    fn a_node_that_leaves_gives_up_only_its_own_videos_to_the_next_ranked() {
        let before = ["a", "b", "c", "d"];
        let after = ["a", "b", "d"];
        let mut moved = 0;
        for ih in hashes(2000) {
            let old = pick(&ih, &before);
            let new = pick(&ih, &after);
            if old == "c" {
                moved += 1;
                // The one that takes over is the second in c's ranking for this video.
                let mut ranked = before.to_vec();
                ranked.sort_by_key(|n| std::cmp::Reverse(weight(&ih, n)));
                assert_eq!(ranked[0], "c");
                assert_eq!(new, ranked[1]);
            } else {
                assert_eq!(old, new, "a video of {old} moved when c left");
            }
        }
        assert!(moved > 0);
    }
}
