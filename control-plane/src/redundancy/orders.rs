//! Fetch orders for the data nodes, pure: a chosen copy of a remote video, with the origin's
//! documents already fetched (the file's `.torrent`; for HLS the master and resolution
//! playlists, the segments-sha256 file and the fragmented files' torrents), checked and turned
//! into a [`FetchOrder`] — every file, where to download it from and how to verify it before it
//! is kept. A torrent must be single-file, of the file's size, and its info dictionary must hash
//! to the info-hash the Video's magnet gives; HLS playlists must read only files of the Video
//! and every segment must have a hash.

use sha2::{Digest, Sha256};
use vidseed_shared::fetch::{FetchFile, FetchOrder, FileCheck, SegmentHash};
use vidseed_shared::InfoHash;

use super::hls::{self, SegmentHashes};
use super::remote_video::{file_name, RemoteFile, RemoteHls};

/// Ranges a node fetches at once for one copy.
pub const PARALLEL: u32 = 4;

/// Where copies are served on a data node, under its public URL.
pub const URL_PREFIX: &str = "/static/redundancy";

/// A torrent's info dictionary, as far as a copy needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorrentInfo {
    pub info_hash: InfoHash,
    pub piece_length: u64,
    pub length: u64,
    /// SHA-1 of each piece.
    pub pieces: Vec<[u8; 20]>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a single-file v1 torrent; the error says what is wrong.
pub fn read_torrent(bytes: &[u8]) -> Result<TorrentInfo, String> {
    let t = lava_torrent::torrent::v1::Torrent::read_from_bytes(bytes).map_err(|e| format!("not a torrent: {e}"))?;
    if t.files.is_some() {
        return Err("the torrent holds several files; a video file's torrent holds one".into());
    }
    let piece_length = u64::try_from(t.piece_length).ok().filter(|p| *p > 0).ok_or_else(|| format!("piece length {} is not positive", t.piece_length))?;
    let length = u64::try_from(t.length).map_err(|_| format!("length {} is negative", t.length))?;
    let mut pieces = Vec::with_capacity(t.pieces.len());
    for p in &t.pieces {
        pieces.push(<[u8; 20]>::try_from(p.as_slice()).map_err(|_| "a piece hash is not 20 bytes".to_owned())?);
    }
    if pieces.len() as u64 != length.div_ceil(piece_length) {
        return Err(format!("{} piece hashes for {length} bytes in pieces of {piece_length}", pieces.len()));
    }
    let hash: [u8; 20] = t.info_hash_bytes().try_into().map_err(|_| "SHA-1 is 20 bytes".to_owned())?;
    Ok(TorrentInfo { info_hash: InfoHash(hash), piece_length, length, pieces })
}

/// Checks a file's torrent against what the Video says of the file.
pub fn check_torrent(file: &RemoteFile, torrent: &[u8]) -> Result<TorrentInfo, String> {
    let info = read_torrent(torrent).map_err(|e| format!("{}: {e}", file.torrent_url.as_deref().unwrap_or(&file.url)))?;
    match file.info_hash {
        Some(want) if want != info.info_hash => {
            return Err(format!(
                "the torrent of {} has info-hash {}, the Video's magnet says {}",
                file.url,
                info.info_hash.to_hex(),
                want.to_hex()
            ))
        }
        None => return Err(format!("the Video gives no info-hash for {} (no magnet)", file.url)),
        Some(_) => {}
    }
    if info.length != file.size {
        return Err(format!("the torrent of {} is for {} bytes, the Video says {}", file.url, info.length, file.size));
    }
    Ok(info)
}

/// A name a copy can keep and serve as it is: letters, digits, `.`, `_` and `-`, not only dots.
pub fn safe_name(name: &str) -> Result<&str, String> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !name.bytes().all(|b| b == b'.');
    if ok {
        Ok(name)
    } else {
        Err(format!("file name {name:?} is not one a copy can keep (letters, digits, '.', '_' and '-' only)"))
    }
}

fn pieces_check(info: &TorrentInfo) -> FileCheck {
    FileCheck::Pieces { piece_length: info.piece_length, sha1: info.pieces.iter().map(|p| hex(p)).collect() }
}

/// The order for a copy of one web-video file, checked by its torrent's pieces.
pub fn web_video_order(copy_id: &str, file: &RemoteFile, torrent: &[u8]) -> Result<FetchOrder, String> {
    let name = safe_name(file.file_name())?;
    let info = check_torrent(file, torrent)?;
    Ok(FetchOrder {
        id: copy_id.to_owned(),
        files: vec![FetchFile {
            path: name.to_owned(),
            url_path: format!("{URL_PREFIX}/{name}"),
            size: file.size,
            content_type: file.media_type.clone(),
            sources: vec![file.url.clone()],
            check: pieces_check(&info),
        }],
        info_hashes: vec![info.info_hash],
        max_bytes_per_sec: 0,
        parallel: PARALLEL,
    })
}

/// The origin's HLS documents, fetched.
#[derive(Clone, Debug, Default)]
pub struct HlsDocuments {
    pub master: String,
    /// Each resolution playlist the master names: (its URI as written there, its text).
    pub media: Vec<(String, String)>,
    pub segments_sha256: String,
    /// Each subtitle playlist the master names (captions over HLS): (its URI, its text).
    pub subtitles: Vec<(String, String)>,
    /// The torrents of the fragmented files that have one: (file name, bytes).
    pub torrents: Vec<(String, Vec<u8>)>,
}

/// The master playlist's media playlists (variants and audio renditions) as absolute URLs
/// (beside the master), with their URIs.
pub fn variant_urls(master_url: &str, master: &str) -> Result<Vec<(String, String)>, String> {
    let base = master_url.rsplit_once('/').map_or(master_url, |(b, _)| b);
    Ok(hls::parse_master(master)?.into_iter().map(|uri| (format!("{base}/{uri}"), uri)).collect())
}

/// The master playlist's subtitle playlists as absolute URLs (beside the master), with their URIs.
pub fn subtitle_urls(master_url: &str, master: &str) -> Result<Vec<(String, String)>, String> {
    let base = master_url.rsplit_once('/').map_or(master_url, |(b, _)| b);
    Ok(hls::subtitle_playlists(master)?.into_iter().map(|uri| (format!("{base}/{uri}"), uri)).collect())
}

/// The order for a copy of a video's HLS playlist: each fragmented file checked by its
/// segments' SHA-256 (and its torrent's pieces for the init section, when it has a torrent),
/// and the playlists and the segments-sha256 file themselves, checked whole, so that the copy
/// can be played from its own folder.
pub fn hls_order(copy_id: &str, uuid: &str, hls: &RemoteHls, docs: &HlsDocuments) -> Result<FetchOrder, String> {
    let folder = format!("hls/{}", safe_name(uuid)?);
    let hashes: SegmentHashes = hls::parse_segment_hashes(&docs.segments_sha256)?;
    let variants = variant_urls(&hls.master_url, &docs.master)?;
    let mut files = Vec::new();
    let mut info_hashes = Vec::new();
    let mut covered = Vec::new();
    let whole = |name: &str, url: &str, text: &str, content_type: &str| -> Result<FetchFile, String> {
        let name = safe_name(name)?;
        Ok(FetchFile {
            path: format!("{folder}/{name}"),
            url_path: format!("{URL_PREFIX}/{folder}/{name}"),
            size: text.len() as u64,
            content_type: content_type.to_owned(),
            sources: vec![url.to_owned()],
            check: FileCheck::Sha256 { sha256: hex(&Sha256::digest(text.as_bytes())) },
        })
    };
    files.push(whole(file_name(&hls.master_url), &hls.master_url, &docs.master, "application/vnd.apple.mpegurl")?);
    for (url, uri) in &variants {
        let text = docs.media.iter().find(|(u, _)| u == uri).map(|(_, t)| t).ok_or_else(|| format!("the resolution playlist {uri} was not fetched"))?;
        let playlist = hls::parse_media(text).map_err(|e| format!("{url}: {e}"))?;
        let file = hls
            .files
            .iter()
            .find(|f| f.file_name() == playlist.file)
            .ok_or_else(|| format!("{url} reads {}, which the Video does not list", playlist.file))?;
        hls::check_against(&playlist, &hashes, file.size)?;
        files.push(whole(uri, url, text, "application/vnd.apple.mpegurl")?);
        covered.push(playlist.file);
    }
    // Caption playlists are copied as they are (they name the captions at the origin), so that
    // the copied master playlist reads only files the copy holds.
    for (url, uri) in subtitle_urls(&hls.master_url, &docs.master)? {
        let text = docs.subtitles.iter().find(|(u, _)| *u == uri).map(|(_, t)| t).ok_or_else(|| format!("the subtitle playlist {uri} was not fetched"))?;
        files.push(whole(&uri, &url, text, "application/vnd.apple.mpegurl")?);
    }
    files.push(whole(file_name(&hls.segments_sha256_url), &hls.segments_sha256_url, &docs.segments_sha256, "application/json")?);
    for file in &hls.files {
        let name = safe_name(file.file_name())?;
        if !covered.iter().any(|c| c == name) {
            return Err(format!("{} is in no resolution playlist of {}", file.url, hls.master_url));
        }
        let segments = hashes
            .get(name)
            .map(|spans| spans.iter().map(|(s, h)| SegmentHash { start: s.start, end: s.end, sha256: hex(h) }).collect())
            .unwrap_or_default();
        let (piece_length, sha1) = match docs.torrents.iter().find(|(n, _)| n == name) {
            Some((_, bytes)) => {
                let info = check_torrent(file, bytes)?;
                info_hashes.push(info.info_hash);
                (Some(info.piece_length), info.pieces.iter().map(|p| hex(p)).collect())
            }
            None => (None, Vec::new()),
        };
        files.push(FetchFile {
            path: format!("{folder}/{name}"),
            url_path: format!("{URL_PREFIX}/{folder}/{name}"),
            size: file.size,
            content_type: file.media_type.clone(),
            sources: vec![file.url.clone()],
            check: FileCheck::Segments { segments, piece_length, sha1 },
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(dup) = files.iter().find(|f| !seen.insert(f.path.clone())) {
        return Err(format!("two files of the playlist would be kept as {}", dup.path));
    }
    // PeerTube's HLS player announces the playlist's swarm ids (its `Infohash` tags): the
    // copy's node tracks them too.
    for id in &hls.swarm_ids {
        if let Ok(ih) = id.parse::<vidseed_shared::InfoHash>() {
            if !info_hashes.contains(&ih) {
                info_hashes.push(ih);
            }
        }
    }
    Ok(FetchOrder { id: copy_id.to_owned(), files, info_hashes, max_bytes_per_sec: 0, parallel: PARALLEL })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redundancy::remote_video::parse_video;

    const MASTER: &str = include_str!("../../tests-data/peertube-6.3/master.m3u8");
    const MEDIA_240: &str = include_str!("../../tests-data/peertube-6.3/resolution-240.m3u8");
    const HASHES: &str = include_str!("../../tests-data/peertube-6.3/segments-sha256.json");

    fn video() -> crate::redundancy::remote_video::RemoteVideo {
        parse_video(&serde_json::from_str(include_str!("../../tests-data/peertube-6.3/video-object.json")).unwrap()).unwrap()
    }

    /// A single-file torrent of `data` in pieces of `piece`, as bencode; and its info-hash.
    fn torrent_of(name: &str, data: &[u8], piece: usize) -> (Vec<u8>, InfoHash) {
        let mut pieces = Vec::new();
        for chunk in data.chunks(piece) {
            pieces.extend_from_slice(&<sha1::Sha1 as sha1::Digest>::digest(chunk));
        }
        let mut info = format!("d6:lengthi{}e4:name{}:{name}12:piece lengthi{piece}e6:pieces{}:", data.len(), name.len(), pieces.len()).into_bytes();
        info.extend_from_slice(&pieces);
        info.push(b'e');
        let hash = InfoHash(<sha1::Sha1 as sha1::Digest>::digest(&info).into());
        let mut t = b"d8:announce3:x:y4:info".to_vec();
        t.extend_from_slice(&info);
        t.push(b'e');
        (t, hash)
    }

    #[test]
    fn reads_peertube_s_torrents() {
        let web = read_torrent(include_bytes!("../../tests-data/peertube-6.3/web-video-file.torrent")).unwrap();
        let hls = read_torrent(include_bytes!("../../tests-data/peertube-6.3/hls-file.torrent")).unwrap();
        for t in [&web, &hls] {
            assert_eq!(t.pieces.len() as u64, t.length.div_ceil(t.piece_length));
        }
        // The Video's magnets name these info-hashes.
        let v = video();
        let all: Vec<InfoHash> = v.web_videos.iter().chain(&v.hls.as_ref().unwrap().files).filter_map(|f| f.info_hash).collect();
        assert!(all.contains(&web.info_hash), "{}", web.info_hash.to_hex());
        assert!(all.contains(&hls.info_hash), "{}", hls.info_hash.to_hex());
    }

    #[test]
    fn a_web_video_order_names_the_file_its_source_and_its_pieces() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let (torrent, ih) = torrent_of("a-360.mp4", &data, 16384);
        let file = RemoteFile {
            resolution: 360,
            fps: Some(25),
            size: data.len() as u64,
            url: "https://origin.example/static/web-videos/a-360.mp4".into(),
            media_type: "video/mp4".into(),
            torrent_url: Some("https://origin.example/lazy-static/torrents/t-360.torrent".into()),
            info_hash: Some(ih),
            mirrors: vec![],
        };
        let order = web_video_order("https://me.example/redundancy/videos/u/360-25", &file, &torrent).unwrap();
        assert_eq!(order.id, "https://me.example/redundancy/videos/u/360-25");
        assert_eq!(order.info_hashes, vec![ih]);
        let f = &order.files[0];
        assert_eq!((f.path.as_str(), f.url_path.as_str(), f.size), ("a-360.mp4", "/static/redundancy/a-360.mp4", 100_000));
        assert_eq!(f.sources, vec![file.url.clone()]);
        let FileCheck::Pieces { piece_length, sha1 } = &f.check else { panic!("{:?}", f.check) };
        assert_eq!((*piece_length, sha1.len()), (16384, 7));
        assert_eq!(sha1[0], hex(&<sha1::Sha1 as sha1::Digest>::digest(&data[..16384])));

        // A torrent of other bytes, of another size, without the Video's info-hash: refused.
        let (other, _) = torrent_of("a-360.mp4", &data[1..], 16384);
        assert!(web_video_order("x", &file, &other).unwrap_err().contains("info-hash"));
        let resized = RemoteFile { size: 5, ..file.clone() };
        assert!(web_video_order("x", &resized, &torrent).unwrap_err().contains("bytes"));
        let no_magnet = RemoteFile { info_hash: None, ..file.clone() };
        assert!(web_video_order("x", &no_magnet, &torrent).unwrap_err().contains("no info-hash"));
        assert!(web_video_order("x", &file, b"<html>").unwrap_err().contains("not a torrent"));
        let hostile = RemoteFile { url: "https://origin.example/static/..%2f.mp4/x y.mp4".into(), ..file.clone() };
        assert!(web_video_order("x", &hostile, &torrent).unwrap_err().contains("file name"));
    }

    #[test]
    fn an_hls_order_checks_playlists_against_the_video_and_the_hashes() {
        let v = video();
        let hls = v.hls.clone().unwrap();
        // The vector holds the 240p playlist; the 360p one is built alike from the hashes.
        let hashes = hls::parse_segment_hashes(HASHES).unwrap();
        let f360 = hls.files.iter().find(|f| f.resolution == 360).unwrap();
        let spans: Vec<_> = hashes[f360.file_name()].keys().copied().collect();
        let mut media_360 = format!("#EXTM3U\n#EXT-X-MAP:URI=\"{}\",BYTERANGE=\"{}@0\"\n", f360.file_name(), spans[0].start);
        for s in &spans {
            media_360.push_str(&format!("#EXTINF:4,\n#EXT-X-BYTERANGE:{}@{}\n{}\n", s.len(), s.start, f360.file_name()));
        }
        let uris = hls::parse_master(MASTER).unwrap();
        let docs = HlsDocuments {
            master: MASTER.into(),
            media: vec![(uris[0].clone(), MEDIA_240.into()), (uris[1].clone(), media_360.clone())],
            segments_sha256: HASHES.into(),
            subtitles: vec![],
            torrents: vec![],
        };
        let id = format!("https://me.example/redundancy/streaming-playlists/hls/{}", v.uuid);
        let order = hls_order(&id, &v.uuid, &hls, &docs).unwrap();
        let paths: Vec<&str> = order.files.iter().map(|f| f.path.as_str()).collect();
        let folder = format!("hls/{}", v.uuid);
        assert_eq!(order.files.len(), 6, "{paths:?}");
        assert!(paths.iter().all(|p| p.starts_with(&folder)), "{paths:?}");
        assert!(order.files.iter().all(|f| f.url_path == format!("/static/redundancy/{}", f.path)));
        let master = &order.files[0];
        assert_eq!(master.sources, vec![hls.master_url.clone()]);
        assert_eq!(master.check, FileCheck::Sha256 { sha256: hex(&Sha256::digest(MASTER.as_bytes())) });
        let h240 = order.files.iter().find(|f| f.path.ends_with("-240-fragmented.mp4")).unwrap();
        assert_eq!(h240.size, 121541);
        let FileCheck::Segments { segments, piece_length, sha1 } = &h240.check else { panic!() };
        assert_eq!(segments.len(), 2);
        assert_eq!((segments[0].start, segments[0].end), (1377, 61036));
        assert_eq!((*piece_length, sha1.len()), (None, 0), "no torrent given: segments only");
        assert!(h240.sources[0].ends_with("-240-fragmented.mp4"));
        // The player's swarm ids are tracked with the copy.
        for id in &hls.swarm_ids {
            assert!(order.info_hashes.iter().any(|ih| ih.to_hex() == *id), "{id}");
        }

        // A playlist naming a file the Video does not list, a segment without a hash, a
        // missing playlist: refused.
        let mut bad = docs.clone();
        bad.media[0].1 = MEDIA_240.replace("f861c810-93c0-4a8f-8894-8aacc213f95f-240-fragmented.mp4", "other.mp4");
        assert!(hls_order(&id, &v.uuid, &hls, &bad).unwrap_err().contains("does not list"));
        let mut bad = docs.clone();
        bad.segments_sha256 = HASHES.replace("1377-61036", "1377-61035");
        assert!(hls_order(&id, &v.uuid, &hls, &bad).is_err());
        let mut bad = docs.clone();
        bad.media.pop();
        assert!(hls_order(&id, &v.uuid, &hls, &bad).unwrap_err().contains("was not fetched"));
        // A torrent that is not the file's.
        let mut bad = docs.clone();
        bad.torrents = vec![(f360.file_name().to_owned(), torrent_of("x", b"abc", 16384).0)];
        assert!(hls_order(&id, &v.uuid, &hls, &bad).unwrap_err().contains("info-hash"));
    }

    /// A resolution playlist of `file` in PeerTube's shape: an init section, then `spans`.
    fn media_of(file: &str, spans: &[hls::Span]) -> String {
        let mut m = format!("#EXTM3U\n#EXT-X-MAP:URI=\"{file}\",BYTERANGE=\"{}@0\"\n", spans[0].start);
        for s in spans {
            m.push_str(&format!("#EXTINF:4,\n#EXT-X-BYTERANGE:{}@{}\n{file}\n", s.len(), s.start));
        }
        m
    }

    /// PeerTube after 6.3.3 (`tests-data/peertube-7/`): audio and video split — the audio-only
    /// file is an audio rendition of the master playlist — and captions as subtitle playlists.
    #[test]
    fn an_hls_order_of_split_audio_and_captions() {
        let doc = serde_json::from_str(include_str!("../../tests-data/peertube-7/video-object.json")).unwrap();
        let v = parse_video(&doc).unwrap();
        let hls = v.hls.clone().unwrap();
        let master = include_str!("../../tests-data/peertube-7/master.m3u8");
        let caption = include_str!("../../tests-data/peertube-7/caption-en.m3u8");
        // The 6.3.3 hashes, and the audio file's (two segments after its init section).
        let audio = hls.files.iter().find(|f| f.resolution == 0).unwrap();
        let audio_spans = [hls::Span { start: 820, end: 65_999 }, hls::Span { start: 66_000, end: 131_044 }];
        let mut hashes: serde_json::Value = serde_json::from_str(HASHES).unwrap();
        hashes[audio.file_name()] = serde_json::json!({ "820-65999": "ab".repeat(32), "66000-131044": "cd".repeat(32) });
        let parsed = hls::parse_segment_hashes(HASHES).unwrap();
        let f360 = hls.files.iter().find(|f| f.resolution == 360).unwrap();
        let spans_360: Vec<_> = parsed[f360.file_name()].keys().copied().collect();
        let uris = hls::parse_master(master).unwrap();
        let docs = HlsDocuments {
            master: master.into(),
            media: vec![(uris[0].clone(), media_of(audio.file_name(), &audio_spans)), (uris[1].clone(), MEDIA_240.into()), (uris[2].clone(), media_of(f360.file_name(), &spans_360))],
            segments_sha256: hashes.to_string(),
            subtitles: vec![("e4a0c6d2-5b8f-4c1e-9a3d-7f2b6e0c4a18-en.m3u8".into(), caption.into())],
            torrents: vec![],
        };
        let order = hls_order("https://me.example/redundancy/streaming-playlists/hls/u", &v.uuid, &hls, &docs).unwrap();
        let names: Vec<&str> = order.files.iter().map(|f| f.path.rsplit('/').next().unwrap()).collect();
        assert_eq!(order.files.len(), 9, "master, 3 media playlists, the caption playlist, the hashes, 3 fragmented files: {names:?}");
        let a = order.files.iter().find(|f| f.path.ends_with("-0-fragmented.mp4")).unwrap();
        assert_eq!((a.size, a.content_type.as_str()), (131_045, "audio/mp4"));
        let FileCheck::Segments { segments, .. } = &a.check else { panic!() };
        assert_eq!(segments.len(), 2);
        let c = order.files.iter().find(|f| f.path.ends_with("-en.m3u8")).unwrap();
        assert_eq!(c.check, FileCheck::Sha256 { sha256: hex(&Sha256::digest(caption.as_bytes())) });
        assert_eq!(c.sources, vec![hls.master_url.rsplit_once('/').unwrap().0.to_owned() + "/e4a0c6d2-5b8f-4c1e-9a3d-7f2b6e0c4a18-en.m3u8"]);
        // Without the audio rendition's playlist, the audio file would be in no playlist.
        let mut bad = docs.clone();
        bad.master = master.replace("#EXT-X-MEDIA:TYPE=AUDIO", "#EXT-X-IGNORED:TYPE=AUDIO");
        bad.media.remove(0);
        assert!(hls_order("x", &v.uuid, &hls, &bad).unwrap_err().contains("in no resolution playlist"));
        let mut bad = docs.clone();
        bad.subtitles.clear();
        assert!(hls_order("x", &v.uuid, &hls, &bad).unwrap_err().contains("subtitle playlist"));
    }

    #[test]
    fn names_a_copy_can_keep() {
        for ok in ["a-360.mp4", "f861c810-93c0-4a8f-8894-8aacc213f95f-240-fragmented.mp4", "x_y.m3u8"] {
            assert!(safe_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "%2e%2e", "ü.mp4", &"a".repeat(256)] {
            assert!(safe_name(bad).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn torrent_reading_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = read_torrent(&bytes);
            let mut t = b"d4:infod".to_vec();
            t.extend_from_slice(&bytes);
            let _ = read_torrent(&t);
        }
    }
}
