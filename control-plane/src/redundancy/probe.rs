//! The origin's checks of a copy another instance says it keeps of one of our videos, pure:
//! which of our videos a CacheFile names (its `object`, our watch URL), whether its id and its
//! `href` are on the sender's host, and which byte ranges to read back from the copy — a few
//! pieces, first, middle and last — to compare with our own file before the copy is advertised.

use vidseed_shared::InfoHash;

use crate::activitypub::fetch::host_of;

/// Pieces read back from a copy.
pub const PROBE_PIECES: usize = 3;
/// Bytes read from each probed piece at most (the start of the piece).
pub const PROBE_BYTES: u64 = 64 * 1024;

/// Our video's info-hash in a CacheFile's `object`: `<base>/videos/watch/<info-hash hex>`,
/// where `base` is our public base URL.
pub fn our_video(object: &str, base: &str) -> Option<InfoHash> {
    let rest = object.strip_prefix(base.trim_end_matches('/'))?.strip_prefix("/videos/watch/")?;
    rest.trim_end_matches('/').parse().ok()
}

/// The host name of a URL, without its port.
fn host_name(url: &str) -> Option<String> {
    crate::activitypub::fetch::target(url).ok().map(|t| t.host.to_ascii_lowercase())
}

/// Checks that a received CacheFile belongs to its sender: its id on the sender's host and
/// port (where its control plane answers), its `href` on the sender's host name (a data node
/// of it may listen on another port).
pub fn check_hosts(id: &str, href: &str, actor: &str) -> Result<(), String> {
    let sender = host_of(actor).ok_or_else(|| format!("the actor {actor} is not a URL"))?;
    if host_of(id).as_deref() != Some(sender.as_str()) {
        return Err(format!("the CacheFile id {id} is not on the sender's host {sender}"));
    }
    if host_name(href).is_none() || host_name(href) != host_name(actor) {
        return Err(format!("the copy's URL {href} is not on the sender's host {sender}"));
    }
    Ok(())
}

/// The inclusive byte ranges of our file to read back from a copy: the start of the first,
/// middle and last pieces, [`PROBE_BYTES`] of each at most, each range once.
pub fn probe_spans(size: u64, piece_length: u64) -> Vec<(u64, u64)> {
    if size == 0 || piece_length == 0 {
        return Vec::new();
    }
    let pieces = size.div_ceil(piece_length);
    let mut picks = vec![0, pieces / 2, pieces - 1];
    picks.dedup();
    picks.truncate(PROBE_PIECES);
    picks
        .into_iter()
        .map(|p| {
            let start = p * piece_length;
            let end = (start + piece_length.min(PROBE_BYTES)).min(size) - 1;
            (start, end)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_object_names_one_of_our_videos() {
        let ih = InfoHash([0xab; 20]);
        let base = "https://seed.example";
        assert_eq!(our_video(&format!("{base}/videos/watch/{}", ih.to_hex()), base), Some(ih));
        assert_eq!(our_video(&format!("{base}/videos/watch/{}", ih.to_hex()), "https://seed.example/"), Some(ih));
        assert_eq!(our_video(&format!("https://other.example/videos/watch/{}", ih.to_hex()), base), None);
        assert_eq!(our_video(&format!("{base}/videos/watch/202e2a06-b073-46f0-8197-a77a379ce081"), base), None);
        assert_eq!(our_video(&format!("{base}/videos/watch/"), base), None);
    }

    #[test]
    fn ids_and_hrefs_must_be_on_the_sender_s_host() {
        let actor = "https://cache.example/accounts/peertube";
        check_hosts("https://cache.example/redundancy/videos/u/0", "https://cache.example:9001/static/redundancy/a.mp4", actor).unwrap();
        assert!(check_hosts("https://evil.example/redundancy/videos/u/0", "https://cache.example/a.mp4", actor).unwrap_err().contains("id"));
        assert!(check_hosts("https://cache.example:81/redundancy/videos/u/0", "https://cache.example/a.mp4", actor).unwrap_err().contains("id"));
        assert!(check_hosts("https://cache.example/redundancy/videos/u/0", "https://victim.example/a.mp4", actor).unwrap_err().contains("URL"));
        assert!(check_hosts("https://cache.example/r", "not a url", actor).is_err());
    }

    #[test]
    fn a_few_pieces_are_read_back() {
        assert_eq!(probe_spans(10 * 1024 * 1024, 1024 * 1024), vec![(0, 65535), (5 << 20, (5 << 20) + 65535), (9 << 20, (9 << 20) + 65535)]);
        // Small pieces whole; the last piece ends with the file.
        assert_eq!(probe_spans(2500, 1000), vec![(0, 999), (1000, 1999), (2000, 2499)]);
        assert_eq!(probe_spans(1500, 1000), vec![(0, 999), (1000, 1499)]);
        assert_eq!(probe_spans(5, 1000), vec![(0, 4)]);
        assert!(probe_spans(0, 1000).is_empty());
        assert!(probe_spans(10, 0).is_empty());
    }
}
