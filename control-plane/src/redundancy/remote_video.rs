//! A followed instance's video as redundancy needs it, read from the ActivityPub `Video` object
//! PeerTube 6.x/7.x serves and federates. Pure: JSON in, a checked value or the reason out.
//!
//! What is kept: the video's URL and uuid, name, published date and views, each web-video file
//! (resolution, fps, size, URL, torrent URL, info-hash from its magnet) and the HLS playlist
//! (master URL, segments-sha256 URL, the `Infohash` swarm ids the player uses, each fragmented
//! file with its resolution, fps, size, URL, torrent URL and info-hash). PeerTube writes files as
//! `Link`s in `url` (web videos at the top level, HLS files in the playlist's `tag`), attaches
//! `metadata`, torrent and magnet `Link`s of the same height and fps beside each file, and marks
//! the kind with a `peertube_format_flag` attachment (`web-video`, `fragmented`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use vidseed_shared::InfoHash;

/// A web-video file or an HLS fragmented file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteFile {
    /// Height in pixels (PeerTube's "resolution"); 0 for audio only.
    pub resolution: u32,
    /// Frames per second, when given (−1 or absent: none).
    pub fps: Option<u32>,
    pub size: u64,
    pub url: String,
    pub media_type: String,
    /// The file's `.torrent` (its info dictionary must match `info_hash`).
    pub torrent_url: Option<String>,
    /// From the file's magnet `xt=urn:btih:`.
    pub info_hash: Option<InfoHash>,
    /// Other copies of the file its magnet names (`ws=` beside the file's own URL), when the
    /// sender lists caches there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<String>,
}

impl RemoteFile {
    /// The file name as the origin names it (the last path segment of its URL).
    pub fn file_name(&self) -> &str {
        file_name(&self.url)
    }
}

/// The HLS playlist of a video.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteHls {
    pub master_url: String,
    pub segments_sha256_url: String,
    /// The swarm ids of PeerTube's HLS player (the playlist's `Infohash` tags).
    pub swarm_ids: Vec<String>,
    pub files: Vec<RemoteFile>,
}

/// A remote video.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteVideo {
    /// The object's id (its watch URL).
    pub url: String,
    pub uuid: String,
    pub name: String,
    /// ISO 8601, as published.
    pub published: String,
    pub views: u64,
    /// `attributedTo`'s actors (account and channel).
    pub attributed_to: Vec<String>,
    pub web_videos: Vec<RemoteFile>,
    pub hls: Option<RemoteHls>,
}

impl RemoteVideo {
    /// Bytes of every file, web videos and HLS together (what a copy of the whole video takes).
    pub fn total_size(&self) -> u64 {
        let hls = self.hls.as_ref().map_or(0, |h| h.files.iter().map(|f| f.size).sum());
        self.web_videos.iter().map(|f| f.size).sum::<u64>() + hls
    }
}

/// The last path segment of a URL.
pub fn file_name(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or(path)
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn media_type(link: &Value) -> &str {
    // PeerTube before 2.x wrote `mimeType`.
    str_of(link, "mediaType").or_else(|| str_of(link, "mimeType")).unwrap_or_default()
}

fn is_video_type(t: &str) -> bool {
    t.starts_with("video/") || t == "audio/mp4" || t == "audio/mpeg" || t == "audio/ogg"
}

fn format_flag(link: &Value) -> Option<&str> {
    link.get("attachment")?.as_array()?.iter().find(|a| str_of(a, "name") == Some("peertube_format_flag")).and_then(|a| str_of(a, "value"))
}

fn fps_of(link: &Value) -> Option<u32> {
    // `_:fps` from PeerTube < 6.1 senders.
    let fps = link.get("fps").or_else(|| link.get("_:fps"))?.as_i64()?;
    u32::try_from(fps).ok()
}

fn info_hash_of_magnet(magnet: &str) -> Option<InfoHash> {
    let query = magnet.strip_prefix("magnet:?")?;
    query.split('&').find_map(|kv| kv.strip_prefix("xt=urn:btih:")).and_then(|h| h.parse().ok())
}

/// Reads the files among `links`: each video `Link`, with the torrent and magnet of the same
/// height and fps.
fn files_of(links: &[Value], want_flag: &str) -> Result<Vec<RemoteFile>, String> {
    let mut files = Vec::new();
    for link in links {
        let t = media_type(link);
        if !is_video_type(t) || link.get("rel").is_some() {
            continue;
        }
        if format_flag(link).is_some_and(|f| f != want_flag) {
            continue;
        }
        let url = str_of(link, "href").ok_or("a file Link without href")?;
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(format!("file URL {url:?} is not http(s)"));
        }
        let height = link.get("height").and_then(Value::as_u64).ok_or_else(|| format!("file {url} has no integer height"))?;
        let size = link.get("size").or_else(|| link.get("_:size")).and_then(Value::as_u64).ok_or_else(|| format!("file {url} has no integer size"))?;
        let fps = fps_of(link);
        let beside = |kind: &str| {
            links.iter().find(|l| {
                media_type(l) == kind && l.get("height").and_then(Value::as_u64) == Some(height) && fps_of(l) == fps
            })
        };
        let torrent_url = beside("application/x-bittorrent").and_then(|l| str_of(l, "href")).map(str::to_owned);
        let magnet = beside("application/x-bittorrent;x-scheme-handler/magnet").and_then(|l| str_of(l, "href"));
        let info_hash = magnet.and_then(info_hash_of_magnet);
        let mirrors = magnet.map(|m| super::mirrors::magnet_web_seeds(m, url)).unwrap_or_default();
        files.push(RemoteFile {
            resolution: u32::try_from(height).map_err(|_| format!("file {url}: height {height} is out of range"))?,
            fps,
            size,
            url: url.to_owned(),
            media_type: t.to_owned(),
            torrent_url,
            info_hash,
            mirrors,
        });
    }
    Ok(files)
}

/// The account that published a Video (its `attributedTo` of type `Person`, else the first
/// actor named): where PeerTube addresses the CacheFile activities of the video.
pub fn account_of(v: &Value) -> Option<String> {
    let list: Vec<&Value> = match v.get("attributedTo")? {
        Value::Array(a) => a.iter().collect(),
        one => vec![one],
    };
    let id = |a: &Value| a.as_str().or_else(|| str_of(a, "id")).map(str::to_owned);
    list.iter().find(|a| str_of(a, "type") == Some("Person")).and_then(|a| id(a)).or_else(|| list.first().and_then(|a| id(a)))
}

/// Reads a `Video` object; the error says what is missing or malformed.
pub fn parse_video(v: &Value) -> Result<RemoteVideo, String> {
    if str_of(v, "type") != Some("Video") {
        return Err(format!("not a Video object (type {:?})", v.get("type")));
    }
    let url = str_of(v, "id").ok_or("the Video has no id")?.to_owned();
    let uuid = str_of(v, "uuid").ok_or("the Video has no uuid")?;
    if uuid.len() != 36 || !uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(format!("uuid {uuid:?} is not a UUID"));
    }
    let name = str_of(v, "name").ok_or("the Video has no name")?.to_owned();
    let published = str_of(v, "published").unwrap_or_default().to_owned();
    let views = v.get("views").and_then(Value::as_u64).unwrap_or(0);
    let attributed_to = match v.get("attributedTo") {
        Some(Value::Array(list)) => list.iter().filter_map(|a| a.as_str().or_else(|| str_of(a, "id"))).map(str::to_owned).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    let links: Vec<Value> = match v.get("url") {
        Some(Value::Array(list)) => list.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => return Err("the Video has no url Links".into()),
    };
    let web_videos = files_of(&links, "web-video")?;
    let mut hls = None;
    for link in &links {
        if media_type(link) != "application/x-mpegURL" {
            continue;
        }
        let master_url = str_of(link, "href").ok_or("an HLS Link without href")?.to_owned();
        let tags = link.get("tag").and_then(Value::as_array).cloned().unwrap_or_default();
        let swarm_ids = tags.iter().filter(|t| str_of(t, "type") == Some("Infohash")).filter_map(|t| str_of(t, "name")).map(str::to_owned).collect();
        let segments_sha256_url = tags
            .iter()
            .find(|t| str_of(t, "name") == Some("sha256") && media_type(t) == "application/json")
            .and_then(|t| str_of(t, "href"))
            .ok_or_else(|| format!("the HLS playlist {master_url} has no segments-sha256 Link"))?
            .to_owned();
        let files = files_of(&tags, "fragmented")?;
        if files.is_empty() {
            return Err(format!("the HLS playlist {master_url} lists no fragmented file"));
        }
        hls = Some(RemoteHls { master_url, segments_sha256_url, swarm_ids, files });
    }
    Ok(RemoteVideo { url, uuid: uuid.to_owned(), name, published, views, attributed_to, web_videos, hls })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector() -> Value {
        serde_json::from_str(include_str!("../../tests-data/peertube-6.3/video-object.json")).unwrap()
    }

    #[test]
    fn reads_peertube_6_3s_video_object() {
        let v = parse_video(&vector()).unwrap();
        assert_eq!(v.uuid, "202e2a06-b073-46f0-8197-a77a379ce081");
        assert_eq!(v.url, "http://127.0.0.1:9011/videos/watch/202e2a06-b073-46f0-8197-a77a379ce081");
        assert_eq!(v.web_videos.len(), 2);
        let w360 = v.web_videos.iter().find(|f| f.resolution == 360).unwrap();
        assert_eq!((w360.fps, w360.size), (Some(25), 142634));
        assert_eq!(w360.file_name(), "ea838cde-910a-4f1f-91c9-0634fa207b7e-360.mp4");
        assert_eq!(w360.torrent_url.as_deref(), Some("http://127.0.0.1:9011/lazy-static/torrents/ee0691f2-8b92-41b6-95e5-09be5c69a4f8-360.torrent"));
        assert_eq!(w360.info_hash.unwrap().to_hex(), "eee75db15099d1ae1f594549da25bb2ecde3a091");
        let hls = v.hls.as_ref().unwrap();
        assert!(hls.master_url.ends_with("-master.m3u8"));
        assert!(hls.segments_sha256_url.ends_with("-segments-sha256.json"));
        assert_eq!(hls.swarm_ids.len(), 2);
        assert_eq!(hls.files.len(), 2);
        let h240 = hls.files.iter().find(|f| f.resolution == 240).unwrap();
        assert_eq!((h240.size, h240.file_name()), (121541, "f861c810-93c0-4a8f-8894-8aacc213f95f-240-fragmented.mp4"));
        assert_eq!(h240.info_hash.unwrap().to_hex(), "78f0f146be1127be778a3b5a4dd45a568bcd84a1");
        assert_eq!(v.total_size(), 142634 + 122411 + 141444 + 121541);
        assert!(!v.attributed_to.is_empty());
    }

    /// The Video object as PeerTube's formatter after 6.3.3 writes it (`tests-data/peertube-7/`,
    /// derived from the 6.3.3 capture; its README names the source of each difference): the
    /// short watch URL Link first, audio and video split in HLS with an audio-only fragmented
    /// file (`audio/mp4`, height 0, width null, fps 0), a `SensitiveTag`, caption file Links,
    /// `schedules` and `playerSettings`.
    #[test]
    fn reads_the_video_object_of_peertube_7() {
        let doc: Value = serde_json::from_str(include_str!("../../tests-data/peertube-7/video-object.json")).unwrap();
        let v = parse_video(&doc).unwrap();
        assert_eq!(v.url, "http://127.0.0.1:9011/videos/watch/202e2a06-b073-46f0-8197-a77a379ce081", "the object's id, not the short URL");
        assert_eq!(v.web_videos.len(), 2, "web videos as before");
        let hls = v.hls.as_ref().unwrap();
        assert_eq!(hls.swarm_ids.len(), 3, "one swarm id per file, the audio file's too");
        assert_eq!(hls.files.len(), 3);
        let audio = hls.files.iter().find(|f| f.resolution == 0).unwrap();
        assert_eq!((audio.media_type.as_str(), audio.fps, audio.size), ("audio/mp4", Some(0), 131045));
        assert_eq!(audio.file_name(), "7c1e4a51-0a8f-4f43-9a3e-5d2b0e6a1c11-0-fragmented.mp4");
        assert_eq!(audio.torrent_url.as_deref(), Some("http://127.0.0.1:9011/lazy-static/torrents/9d3f2b7e-61c4-4e0a-b8a5-2f6e1d0c3b48-0-hls.torrent"));
        assert_eq!(audio.info_hash.unwrap().to_hex(), "3b1f0c9e5a7d2e4f6a8b0c1d2e3f4a5b6c7d8e9f");
        assert!(audio.mirrors.is_empty(), "its magnet names the origin alone");
        let h360 = hls.files.iter().find(|f| f.resolution == 360).unwrap();
        assert_eq!(h360.info_hash.unwrap().to_hex(), "f4e1f56280c1fb8de8b4372772c0b830aa56ca94");
        assert_eq!(v.total_size(), 142634 + 122411 + 141444 + 121541 + 131045);
        // Caption playlists (inside subtitleLanguage) are not taken for the video's playlist.
        assert!(hls.master_url.ends_with("-master.m3u8"));
    }

    #[test]
    fn the_publishing_account_is_the_person() {
        assert_eq!(account_of(&vector()).as_deref(), Some("http://127.0.0.1:9011/accounts/root"));
        let v = serde_json::json!({ "attributedTo": ["https://a/video-channels/c", "https://a/accounts/u"] });
        assert_eq!(account_of(&v).as_deref(), Some("https://a/video-channels/c"), "no types: the first");
        assert_eq!(account_of(&serde_json::json!({ "attributedTo": "https://a/accounts/u" })).as_deref(), Some("https://a/accounts/u"));
        assert_eq!(account_of(&serde_json::json!({})), None);
    }

    #[test]
    fn malformed_objects_are_refused_with_a_reason() {
        let mut v = vector();
        v["type"] = "Note".into();
        assert!(parse_video(&v).unwrap_err().contains("not a Video"));
        let mut v = vector();
        v["uuid"] = "../etc".into();
        assert!(parse_video(&v).unwrap_err().contains("not a UUID"));
        let mut v = vector();
        v["url"][1]["href"] = "file:///etc/passwd".into();
        assert!(parse_video(&v).unwrap_err().contains("not http(s)"));
        let mut v = vector();
        v["url"][1].as_object_mut().unwrap().remove("size");
        assert!(parse_video(&v).unwrap_err().contains("no integer size"));
        let mut v = vector();
        v.as_object_mut().unwrap().remove("url");
        assert!(parse_video(&v).unwrap_err().contains("no url"));
    }

    #[test]
    fn older_senders_underscore_keys_are_read() {
        let mut v = vector();
        let link = v["url"][1].as_object_mut().unwrap();
        let size = link.remove("size").unwrap();
        link.insert("_:size".into(), size);
        let parsed = parse_video(&v).unwrap();
        assert_eq!(parsed.web_videos.iter().find(|f| f.resolution == 360).unwrap().size, 142634);
    }
}
