//! HLS as PeerTube publishes it, pure: the master playlist (one resolution playlist per variant,
//! and since audio and video may be split, the audio-only file's playlist as an audio rendition;
//! subtitle playlists beside them),
//! each resolution playlist (one fragmented mp4 per resolution: an `EXT-X-MAP` init section and
//! segments as `EXT-X-BYTERANGE`s of that file) and the segments-sha256 file
//! (`{file name: {"start-end": sha256 hex}}`, the init section not in it), and the check of a
//! segment's bytes against it. What to fetch, and whether it is right; the fetching is elsewhere.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// Inclusive byte range `start..=end` of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

impl Span {
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

/// One resolution playlist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaPlaylist {
    /// The fragmented file the playlist reads (PeerTube: one per resolution).
    pub file: String,
    /// The init section (`EXT-X-MAP`), when given as a byte range.
    pub init: Option<Span>,
    pub segments: Vec<Span>,
}

/// The URIs of a master playlist's media playlists, in order: each variant's
/// (`EXT-X-STREAM-INF`) and each audio or video rendition's (`EXT-X-MEDIA` of `TYPE=AUDIO` or
/// `VIDEO` with a `URI`: PeerTube's audio-only file when it splits audio and video), each once.
pub fn parse_master(text: &str) -> Result<Vec<String>, String> {
    let mut lines = text.lines().map(str::trim);
    if lines.next() != Some("#EXTM3U") {
        return Err("not an HLS playlist (no #EXTM3U)".into());
    }
    let mut variants: Vec<String> = Vec::new();
    let add = |uri: String, list: &mut Vec<String>| -> Result<(), String> {
        check_relative(&uri)?;
        if !list.contains(&uri) {
            list.push(uri);
        }
        Ok(())
    };
    let mut expect_uri = false;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if line.starts_with("#EXT-X-STREAM-INF") {
            expect_uri = true;
        } else if let Some(media) = line.strip_prefix("#EXT-X-MEDIA:") {
            if matches!(attribute(media, "TYPE").as_deref(), Some("AUDIO" | "VIDEO")) {
                if let Some(uri) = attribute(media, "URI") {
                    add(uri, &mut variants)?;
                }
            }
        } else if !line.starts_with('#') && expect_uri {
            add(line.to_owned(), &mut variants)?;
            expect_uri = false;
        }
    }
    if variants.is_empty() {
        return Err("the master playlist lists no variant".into());
    }
    Ok(variants)
}

/// The URIs of a master playlist's subtitle playlists (`EXT-X-MEDIA:TYPE=SUBTITLES`; PeerTube
/// names one per caption since it serves captions over HLS), in order, each once.
pub fn subtitle_playlists(text: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for media in text.lines().filter_map(|l| l.trim().strip_prefix("#EXT-X-MEDIA:")) {
        if attribute(media, "TYPE").as_deref() == Some("SUBTITLES") {
            if let Some(uri) = attribute(media, "URI") {
                check_relative(&uri)?;
                if !out.contains(&uri) {
                    out.push(uri);
                }
            }
        }
    }
    Ok(out)
}

/// A URI in a playlist must name a file beside it (what a copy can serve under the same names).
fn check_relative(uri: &str) -> Result<(), String> {
    let ok = !uri.is_empty()
        && !uri.contains("://")
        && !uri.starts_with('/')
        && !uri.split('/').any(|s| s == ".." || s == ".")
        && !uri.contains(['?', '#', '\\']);
    if ok {
        Ok(())
    } else {
        Err(format!("playlist URI {uri:?} is not a file name beside the playlist"))
    }
}

/// `LEN@OFFSET` (the offset is required here: PeerTube always writes it).
fn byterange(s: &str) -> Result<Span, String> {
    let (len, at) = s.split_once('@').ok_or_else(|| format!("byte range {s:?} has no @offset"))?;
    let len: u64 = len.trim().parse().map_err(|_| format!("byte range length {len:?}"))?;
    let at: u64 = at.trim().parse().map_err(|_| format!("byte range offset {at:?}"))?;
    if len == 0 {
        return Err(format!("empty byte range {s:?}"));
    }
    let end = at.checked_add(len - 1).ok_or_else(|| format!("byte range {s:?} overflows"))?;
    Ok(Span { start: at, end })
}

/// Reads a resolution playlist; every segment must be a byte range of the one file it names.
pub fn parse_media(text: &str) -> Result<MediaPlaylist, String> {
    let mut lines = text.lines().map(str::trim);
    if lines.next() != Some("#EXTM3U") {
        return Err("not an HLS playlist (no #EXTM3U)".into());
    }
    let mut file: Option<String> = None;
    let mut init = None;
    let mut segments = Vec::new();
    let mut pending: Option<Span> = None;
    let mut same_file = |uri: &str| -> Result<(), String> {
        check_relative(uri)?;
        match &file {
            Some(f) if f != uri => Err(format!("the playlist reads two files ({f} and {uri})")),
            Some(_) => Ok(()),
            None => {
                file = Some(uri.to_owned());
                Ok(())
            }
        }
    };
    for line in lines {
        if let Some(map) = line.strip_prefix("#EXT-X-MAP:") {
            let uri = attribute(map, "URI").ok_or("EXT-X-MAP without URI")?;
            same_file(&uri)?;
            init = attribute(map, "BYTERANGE").map(|r| byterange(&r)).transpose()?;
        } else if let Some(r) = line.strip_prefix("#EXT-X-BYTERANGE:") {
            pending = Some(byterange(r)?);
        } else if !line.is_empty() && !line.starts_with('#') {
            same_file(line)?;
            segments.push(pending.take().ok_or_else(|| format!("segment {line} is not given as a byte range"))?);
        }
    }
    let file = file.ok_or("the playlist names no file")?;
    if segments.is_empty() {
        return Err("the playlist has no segment".into());
    }
    Ok(MediaPlaylist { file, init, segments })
}

/// The value of `KEY=...` in an attribute list (quoted or not).
fn attribute(list: &str, key: &str) -> Option<String> {
    let mut rest = list;
    while !rest.is_empty() {
        let (k, after) = rest.split_once('=')?;
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], q[end + 1..].trim_start_matches(','))
        } else {
            match after.split_once(',') {
                Some((v, n)) => (v, n),
                None => (after, ""),
            }
        };
        if k.trim() == key {
            return Some(value.to_owned());
        }
        rest = next;
    }
    None
}

/// The segments-sha256 file: per file, each segment's range and its SHA-256.
pub type SegmentHashes = BTreeMap<String, BTreeMap<Span, [u8; 32]>>;

/// Reads the segments-sha256 JSON.
pub fn parse_segment_hashes(json: &str) -> Result<SegmentHashes, String> {
    let raw: BTreeMap<String, BTreeMap<String, String>> = serde_json::from_str(json).map_err(|e| format!("segments-sha256: {e}"))?;
    let mut out = SegmentHashes::new();
    for (file, ranges) in raw {
        check_relative(&file)?;
        let mut spans = BTreeMap::new();
        for (range, hex) in ranges {
            let (a, b) = range.split_once('-').ok_or_else(|| format!("segments-sha256: range {range:?}"))?;
            let span = Span {
                start: a.parse().map_err(|_| format!("segments-sha256: range {range:?}"))?,
                end: b.parse().map_err(|_| format!("segments-sha256: range {range:?}"))?,
            };
            if span.end < span.start {
                return Err(format!("segments-sha256: range {range:?} ends before it starts"));
            }
            spans.insert(span, hex32(&hex).ok_or_else(|| format!("segments-sha256: {hex:?} is not a SHA-256"))?);
        }
        out.insert(file, spans);
    }
    Ok(out)
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Whether `bytes` are the segment `span` of `file` as the origin hashed it. `None`: the file
/// has no hash for that range (a playlist and hashes that disagree: refuse the copy).
pub fn segment_is_good(hashes: &SegmentHashes, file: &str, span: Span, bytes: &[u8]) -> Option<bool> {
    let want = hashes.get(file)?.get(&span)?;
    Some(bytes.len() as u64 == span.len() && Sha256::digest(bytes).as_slice() == want)
}

/// Checks that every segment of `playlist` has a hash, and that its spans follow one another
/// from the init section to the file's end (`size`): a copy is whole when all are verified.
pub fn check_against(playlist: &MediaPlaylist, hashes: &SegmentHashes, size: u64) -> Result<(), String> {
    let Some(known) = hashes.get(&playlist.file) else {
        return Err(format!("no segment hashes for {}", playlist.file));
    };
    let mut next = playlist.init.map_or(0, |i| i.end + 1);
    for s in &playlist.segments {
        if !known.contains_key(s) {
            return Err(format!("{}: segment {}-{} has no hash", playlist.file, s.start, s.end));
        }
        if s.start != next {
            return Err(format!("{}: segment {}-{} does not follow the previous one", playlist.file, s.start, s.end));
        }
        next = s.end + 1;
    }
    if next != size {
        return Err(format!("{}: the segments end at {next}, the file has {size} bytes", playlist.file));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = include_str!("../../tests-data/peertube-6.3/master.m3u8");
    const MEDIA: &str = include_str!("../../tests-data/peertube-6.3/resolution-240.m3u8");
    const HASHES: &str = include_str!("../../tests-data/peertube-6.3/segments-sha256.json");

    #[test]
    fn reads_peertube_6_3s_playlists_and_hashes() {
        let variants = parse_master(MASTER).unwrap();
        assert_eq!(variants, vec!["f861c810-93c0-4a8f-8894-8aacc213f95f-240.m3u8", "32a9a9c1-6773-4804-a24b-a446b40f2e4d-360.m3u8"]);
        let p = parse_media(MEDIA).unwrap();
        assert_eq!(p.file, "f861c810-93c0-4a8f-8894-8aacc213f95f-240-fragmented.mp4");
        assert_eq!(p.init, Some(Span { start: 0, end: 1376 }));
        assert_eq!(p.segments, vec![Span { start: 1377, end: 61036 }, Span { start: 61037, end: 121540 }]);
        let h = parse_segment_hashes(HASHES).unwrap();
        assert_eq!(h.len(), 2);
        check_against(&p, &h, 121541).unwrap();
        assert!(check_against(&p, &h, 121542).unwrap_err().contains("the file has 121542 bytes"));
    }

    /// PeerTube after 6.3.3 splits audio and video and serves captions over HLS (the master
    /// playlist `updateMasterHLSPlaylist` writes, `tests-data/peertube-7/README.md`).
    #[test]
    fn reads_the_master_playlist_of_split_audio_and_captions() {
        let master = include_str!("../../tests-data/peertube-7/master.m3u8");
        assert_eq!(
            parse_master(master).unwrap(),
            vec!["7c1e4a51-0a8f-4f43-9a3e-5d2b0e6a1c11-0.m3u8", "f861c810-93c0-4a8f-8894-8aacc213f95f-240.m3u8", "32a9a9c1-6773-4804-a24b-a446b40f2e4d-360.m3u8"],
            "the audio rendition is a media playlist like the variants"
        );
        assert_eq!(subtitle_playlists(master).unwrap(), vec!["e4a0c6d2-5b8f-4c1e-9a3d-7f2b6e0c4a18-en.m3u8"]);
        assert_eq!(subtitle_playlists(MASTER).unwrap(), Vec::<String>::new());
        // A rendition's URI is held to the same rule as a variant's; one without URI is muxed.
        assert!(parse_master("#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",URI=\"../x.m3u8\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n").is_err());
        assert!(subtitle_playlists("#EXTM3U\n#EXT-X-MEDIA:TYPE=SUBTITLES,URI=\"https://evil.example/s.m3u8\"\n").is_err());
        assert_eq!(parse_master("#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"x\"\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\nv.m3u8\n").unwrap(), vec!["v.m3u8"]);
    }

    #[test]
    fn a_segment_is_checked_by_its_hash() {
        let mut h = SegmentHashes::new();
        let span = Span { start: 10, end: 14 };
        let bytes = b"hello";
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        h.entry("f.mp4".into()).or_default().insert(span, digest);
        assert_eq!(segment_is_good(&h, "f.mp4", span, bytes), Some(true));
        assert_eq!(segment_is_good(&h, "f.mp4", span, b"hellO"), Some(false));
        assert_eq!(segment_is_good(&h, "f.mp4", span, b"hell"), Some(false));
        assert_eq!(segment_is_good(&h, "f.mp4", Span { start: 0, end: 4 }, bytes), None);
        assert_eq!(segment_is_good(&h, "g.mp4", span, bytes), None);
    }

    #[test]
    fn hostile_playlists_are_refused() {
        assert!(parse_master("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nhttp://evil.example/x.m3u8\n").is_err());
        assert!(parse_master("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n../../etc/passwd\n").is_err());
        assert!(parse_master("nope").is_err());
        assert!(parse_master("#EXTM3U\n").is_err());
        let two_files = "#EXTM3U\n#EXT-X-MAP:URI=\"a.mp4\",BYTERANGE=\"10@0\"\n#EXT-X-BYTERANGE:5@10\nb.mp4\n";
        assert!(parse_media(two_files).unwrap_err().contains("two files"));
        let no_range = "#EXTM3U\n#EXTINF:4,\na.mp4\n";
        assert!(parse_media(no_range).unwrap_err().contains("not given as a byte range"));
        assert!(parse_media("#EXTM3U\n#EXT-X-BYTERANGE:0@0\na.mp4\n").is_err());
        assert!(parse_media("#EXTM3U\n#EXT-X-BYTERANGE:18446744073709551615@2\na.mp4\n").is_err());
        assert!(parse_segment_hashes("{\"/abs.mp4\":{}}").is_err());
        assert!(parse_segment_hashes("{\"a.mp4\":{\"5-1\":\"00\"}}").is_err());
        assert!(parse_segment_hashes("{\"a.mp4\":{\"1-5\":\"zz\"}}").is_err());
        // A gap or an overlap between segments.
        let gap = parse_media("#EXTM3U\n#EXT-X-BYTERANGE:5@0\na.mp4\n#EXT-X-BYTERANGE:5@6\na.mp4\n").unwrap();
        let mut h = SegmentHashes::new();
        for s in &gap.segments {
            h.entry("a.mp4".into()).or_default().insert(*s, [0; 32]);
        }
        assert!(check_against(&gap, &h, 11).unwrap_err().contains("does not follow"));
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(text in "\\PC{0,300}") {
            let _ = parse_master(&text);
            let _ = parse_media(&text);
            let _ = parse_segment_hashes(&text);
            let _ = parse_media(&format!("#EXTM3U\n{text}"));
        }
    }
}
