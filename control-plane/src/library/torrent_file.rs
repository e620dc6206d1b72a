//! Assembles a `.torrent` from a stored info dictionary and the current trackers and WebSeeds.
//! The info dictionary (and so the info-hash) never changes once hashed; the `url-list` does,
//! whenever a data node starts or stops serving the video. Pure.

/// The bencoded torrent: `announce`, `announce-list` (one tier per tracker), `created by`,
/// `info` (the stored bytes, verbatim) and `url-list`, keys in the sorted order bencoding
/// requires.
pub fn torrent_bytes(info: &[u8], trackers: &[String], url_list: &[String]) -> Vec<u8> {
    let mut w = vidseed_bencode::Writer::with_capacity(info.len() + 256);
    w.dict();
    if let Some(first) = trackers.first() {
        w.str("announce").str(first);
        w.str("announce-list").list();
        for t in trackers {
            w.list().str(t).end();
        }
        w.end();
    }
    w.str("created by").str(concat!("vidseed/", env!("CARGO_PKG_VERSION")));
    w.str("info").raw(info);
    if !url_list.is_empty() {
        w.str("url-list").list();
        for u in url_list {
            w.str(u);
        }
        w.end();
    }
    w.end();
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lava_torrent::torrent::v1::Torrent;

    #[test]
    fn lava_torrent_reads_back_what_we_assemble() {
        // Piece hashes are binary (not UTF-8), as real ones are.
        let mut info = b"d6:lengthi5e4:name5:a.mp412:piece lengthi262144e6:pieces20:".to_vec();
        info.extend_from_slice(&[0xff; 20]);
        info.push(b'e');
        let info = &info[..];
        let trackers = vec!["ws://h/tracker/socket".to_owned(), "http://h/tracker/announce".to_owned()];
        let urls = vec!["http://n1/static/webseed/a.mp4".to_owned(), "http://n2/static/webseed/a.mp4".to_owned()];
        let bytes = torrent_bytes(info, &trackers, &urls);
        let t = Torrent::read_from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)));
        assert_eq!(t.name, "a.mp4");
        assert_eq!(t.length, 5);
        assert_eq!(t.announce.as_deref(), Some("ws://h/tracker/socket"));
        assert_eq!(t.announce_list, Some(vec![vec![trackers[0].clone()], vec![trackers[1].clone()]]));
        let hash = <sha1::Sha1 as sha1::Digest>::digest(info);
        assert_eq!(t.info_hash_bytes(), hash.to_vec(), "the info dictionary is kept byte for byte");
        let extra = t.extra_fields.unwrap();
        let list = format!("{:?}", extra.get("url-list").unwrap());
        assert!(list.contains("n1") && list.contains("n2"), "{list}");
        let bare = torrent_bytes(info, &[], &[]);
        let t = Torrent::read_from_bytes(&bare).unwrap();
        assert!(t.announce.is_none() && t.extra_fields.is_none_or(|e| !e.contains_key("url-list")));
    }
}
