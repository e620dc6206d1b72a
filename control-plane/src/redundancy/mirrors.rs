//! Other copies of a video's files — other instances' caches — as extra sources for a fetch
//! order, pure. PeerTube 6.x does not name its video's caches in the ActivityPub `Video` object
//! (its `url` Links come from the files alone); its REST API does
//! (`GET /api/v1/videos/<uuid>`): each web-video file's `magnetUri` carries one `ws=` per
//! cache beside the file's own URL, and each streaming playlist lists `redundancies[].baseUrl`,
//! the folder under which a cache serves the fragmented files by their own names (PeerTube's
//! caches keep no playlists). A magnet of a `Video` object is read the same way, for senders
//! whose magnets name caches. Every byte from these sources is verified like the origin's; a
//! source that sends bad data is dropped by the node.

use std::collections::BTreeMap;

use serde_json::Value;
use vidseed_shared::fetch::{FetchOrder, FileCheck};

use super::remote_video::file_name;

/// Extra sources a file gets at most (a cache list is the origin's to write).
pub const MAX_EXTRA_SOURCES: usize = 4;

/// The other copies of one video's files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OtherCopies {
    /// File name (web video or HLS fragmented file) → URLs of copies of it.
    pub files: BTreeMap<String, Vec<String>>,
    /// Folders under which caches serve the HLS fragmented files by name.
    pub hls_bases: Vec<String>,
}

fn is_http(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://")) && url.len() <= 2048 && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The `ws=` URLs of a magnet other than `own` (the file's URL at its origin), decoded.
pub fn magnet_web_seeds(magnet: &str, own: &str) -> Vec<String> {
    let Some(query) = magnet.strip_prefix("magnet:?") else { return Vec::new() };
    let mut out: Vec<String> = Vec::new();
    for value in query.split('&').filter_map(|kv| kv.strip_prefix("ws=")) {
        let url = percent_encoding::percent_decode_str(&value.replace('+', " ")).decode_utf8_lossy().into_owned();
        if url != own && is_http(&url) && !out.contains(&url) {
            out.push(url);
        }
    }
    out
}

/// Reads the copies PeerTube's REST API lists for a video; what is malformed is passed over.
pub fn from_api_video(v: &Value) -> OtherCopies {
    let mut out = OtherCopies::default();
    let mut files: Vec<&Value> = v.get("files").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default();
    for p in v.get("streamingPlaylists").and_then(Value::as_array).into_iter().flatten() {
        for r in p.get("redundancies").and_then(Value::as_array).into_iter().flatten() {
            if let Some(base) = r.get("baseUrl").and_then(Value::as_str).map(|b| b.trim_end_matches('/')) {
                if is_http(base) && !out.hls_bases.iter().any(|b| b == base) {
                    out.hls_bases.push(base.to_owned());
                }
            }
        }
        files.extend(p.get("files").and_then(Value::as_array).into_iter().flatten());
    }
    for f in files {
        let (Some(url), Some(magnet)) = (f.get("fileUrl").and_then(Value::as_str), f.get("magnetUri").and_then(Value::as_str)) else { continue };
        let seeds = magnet_web_seeds(magnet, url);
        if !seeds.is_empty() {
            out.files.entry(file_name(url).to_owned()).or_default().extend(seeds);
        }
    }
    out
}

/// Where PeerTube's REST API describes the video `uuid` of the instance at `video_url`.
pub fn api_video_url(video_url: &str, uuid: &str) -> Option<String> {
    let (scheme, rest) = video_url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().filter(|a| !a.is_empty())?;
    let ok = matches!(scheme, "http" | "https") && uuid.len() == 36 && uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    ok.then(|| format!("{scheme}://{authority}/api/v1/videos/{uuid}"))
}

impl OtherCopies {
    /// The copies a Video object's magnets named, kept with its files.
    pub fn from_video_files(files: &super::schedule::StoredFiles) -> OtherCopies {
        let mut out = OtherCopies::default();
        let hls = files.hls.iter().flat_map(|h| &h.files);
        for f in files.web_videos.iter().chain(hls).filter(|f| !f.mirrors.is_empty()) {
            out.files.insert(f.file_name().to_owned(), f.mirrors.clone());
        }
        out
    }

    /// Adds what `other` knows.
    pub fn merge(&mut self, other: OtherCopies) {
        for (name, urls) in other.files {
            let mine = self.files.entry(name).or_default();
            for u in urls {
                if !mine.contains(&u) {
                    mine.push(u);
                }
            }
        }
        for b in other.hls_bases {
            if !self.hls_bases.contains(&b) {
                self.hls_bases.push(b);
            }
        }
    }

    /// Adds these copies to the order's files as sources after the origin: a file gets the
    /// copies of its name, an HLS fragmented file (checked by segments) also the caches'
    /// folders with its name. Playlists and segment hashes keep the origin alone (caches do not
    /// hold them). URLs under `exclude` (this instance's own addresses) are left out.
    pub fn add_sources(&self, order: &mut FetchOrder, exclude: &[String]) {
        let ours = |url: &str| exclude.iter().any(|base| !base.is_empty() && url.starts_with(base.trim_end_matches('/')));
        for f in &mut order.files {
            let name = f.path.rsplit('/').next().unwrap_or(&f.path).to_owned();
            let named = self.files.get(&name).cloned().unwrap_or_default();
            let extra: Vec<String> = match &f.check {
                FileCheck::Pieces { .. } => named,
                FileCheck::Segments { .. } => named.into_iter().chain(self.hls_bases.iter().map(|b| format!("{b}/{name}"))).collect(),
                FileCheck::Sha256 { .. } => Vec::new(),
            };
            let mut added = 0;
            for url in extra {
                if added == MAX_EXTRA_SOURCES {
                    break;
                }
                if !ours(&url) && !f.sources.contains(&url) {
                    f.sources.push(url);
                    added += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use vidseed_shared::fetch::{FetchFile, SegmentHash};

    use super::*;

    const API: &str = include_str!("../../tests-data/peertube-6.3/api-video-with-redundancy.json");
    const UUID: &str = "202e2a06-b073-46f0-8197-a77a379ce081";

    #[test]
    fn peertube_s_api_names_its_caches_of_both_kinds() {
        let other = from_api_video(&serde_json::from_str(API).unwrap());
        assert_eq!(other.hls_bases, vec![format!("http://127.0.0.1:9012/static/redundancy/hls/{UUID}")]);
        assert_eq!(
            other.files.get("ea838cde-910a-4f1f-91c9-0634fa207b7e-360.mp4"),
            Some(&vec!["http://127.0.0.1:9012/static/redundancy/ea838cde-910a-4f1f-91c9-0634fa207b7e-360.mp4".to_owned()])
        );
        assert_eq!(other.files.len(), 2, "both web videos, and no HLS file (their magnets name the origin alone): {other:?}");
        // The Video object of the same video names no cache: nothing from its magnets.
        let video: Value = serde_json::from_str(include_str!("../../tests-data/peertube-6.3/video-object.json")).unwrap();
        for l in video["url"].as_array().unwrap().iter().filter(|l| l["mediaType"] == "application/x-bittorrent;x-scheme-handler/magnet") {
            let own = l["href"].as_str().unwrap().split("&ws=").nth(1).map(|w| percent_encoding::percent_decode_str(w).decode_utf8_lossy().into_owned()).unwrap();
            assert!(magnet_web_seeds(l["href"].as_str().unwrap(), &own).is_empty());
        }
    }

    #[test]
    fn the_api_is_at_the_origin_s_root() {
        assert_eq!(api_video_url(&format!("https://o.example:8443/videos/watch/{UUID}"), UUID), Some(format!("https://o.example:8443/api/v1/videos/{UUID}")));
        assert_eq!(api_video_url("https://o.example/w/x", "../../x"), None);
        assert_eq!(api_video_url("ftp://o.example/x", UUID), None);
    }

    #[test]
    fn malformed_entries_are_passed_over() {
        let v = json!({ "files": [{ "fileUrl": "https://o/a.mp4", "magnetUri": "magnet:?ws=javascript%3Aalert(1)&ws=https%3A%2F%2Fc%2Fa.mp4&ws=https%3A%2F%2Fc%2Fa.mp4" }, { "fileUrl": 3 }],
                        "streamingPlaylists": [{ "redundancies": [{ "baseUrl": "ftp://x" }, { "baseUrl": "https://c/hls/u/" }, {}] }, "nonsense"] });
        let other = from_api_video(&v);
        assert_eq!(other.files.get("a.mp4"), Some(&vec!["https://c/a.mp4".to_owned()]));
        assert_eq!(other.hls_bases, vec!["https://c/hls/u".to_owned()]);
        assert_eq!(from_api_video(&json!("not an object")), OtherCopies::default());
        assert!(magnet_web_seeds("http://not-a-magnet?ws=https://c/a", "").is_empty());
    }

    fn file(path: &str, check: FileCheck) -> FetchFile {
        FetchFile { path: path.into(), url_path: format!("/static/redundancy/{path}"), size: 1, content_type: "video/mp4".into(), sources: vec![format!("https://o/{path}")], check }
    }

    #[test]
    fn copies_are_added_after_the_origin_to_the_files_caches_hold() {
        let mut order = FetchOrder {
            id: "c".into(),
            files: vec![
                file("a-360.mp4", FileCheck::Pieces { piece_length: 1, sha1: vec![] }),
                file("hls/u/b-360-fragmented.mp4", FileCheck::Segments { segments: vec![SegmentHash { start: 0, end: 0, sha256: String::new() }], piece_length: None, sha1: vec![] }),
                file("hls/u/b-master.m3u8", FileCheck::Sha256 { sha256: String::new() }),
            ],
            info_hashes: vec![],
            max_bytes_per_sec: 0,
            parallel: 4,
        };
        let mut other = OtherCopies::default();
        other.files.insert("a-360.mp4".into(), (0..7).map(|i| format!("https://c{i}/static/redundancy/a-360.mp4")).collect());
        other.merge(OtherCopies { files: BTreeMap::new(), hls_bases: vec!["https://me.example/static/redundancy/hls/u".into(), "https://c/static/redundancy/hls/u".into()] });
        other.add_sources(&mut order, &["https://me.example".to_owned(), "https://c0".to_owned()]);
        let sources: Vec<&[String]> = order.files.iter().map(|f| f.sources.as_slice()).collect();
        assert_eq!(sources[0].len(), 1 + MAX_EXTRA_SOURCES, "{sources:?}");
        assert_eq!((sources[0][0].as_str(), sources[0][1].as_str()), ("https://o/a-360.mp4", "https://c1/static/redundancy/a-360.mp4"), "the origin first, our own address left out");
        assert_eq!(sources[1], ["https://o/hls/u/b-360-fragmented.mp4".to_owned(), "https://c/static/redundancy/hls/u/b-360-fragmented.mp4".to_owned()]);
        assert_eq!(sources[2], ["https://o/hls/u/b-master.m3u8".to_owned()], "caches hold no playlist");
    }
}
