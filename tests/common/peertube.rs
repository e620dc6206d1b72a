//! A PeerTube-shaped instance served from the test over loopback (a small hyper server): its
//! instance actor and account (with the key pair of the RsaSignature2017 vector), an outbox, and
//! Videos built from PeerTube 6.3.3's own `video-object.json` with every URL pointing at it and
//! every file generated here — web videos and HLS fragmented files with their torrents (the
//! magnets' info-hashes rewritten to match), the master and resolution playlists and the
//! segments-sha256 file. GETs answer ranges; POSTs to its inboxes are recorded (a Follow is
//! answered with a signed Accept). It signs what it posts the way PeerTube does (HTTP
//! Signature over `(request-target) host date digest`). Used with `#[path]` beside `mod common;`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use serde_json::{json, Value};
use sha1::Digest as _;
use vidseed_control_plane::activitypub::http_signature::{date_header, digest, signature_header, SignRequest};
use vidseed_control_plane::activitypub::keys::InstanceKeys;

use crate::common::pseudo_random;

const VIDEO_VECTOR: &str = include_str!("../../control-plane/tests-data/peertube-6.3/video-object.json");
const MASTER_VECTOR: &str = include_str!("../../control-plane/tests-data/peertube-6.3/master.m3u8");
/// The documents of PeerTube after 6.3.3, derived from 6.3.3's (their README says how).
const VIDEO_7: &str = include_str!("../../control-plane/tests-data/peertube-7/video-object.json");
const MASTER_7: &str = include_str!("../../control-plane/tests-data/peertube-7/master.m3u8");
const CAPTION_7: &str = include_str!("../../control-plane/tests-data/peertube-7/caption-en.m3u8");
const CAPTION_7_NAME: &str = "e4a0c6d2-5b8f-4c1e-9a3d-7f2b6e0c4a18-en.m3u8";
const API_VIDEO_VECTOR: &str = include_str!("../../control-plane/tests-data/peertube-6.3/api-video-with-redundancy.json");
/// The cache instance of the API vector.
const VECTOR_CACHE: &str = "http://127.0.0.1:9012";
const MEDIA_240_VECTOR: &str = include_str!("../../control-plane/tests-data/peertube-6.3/resolution-240.m3u8");
const KEY_VECTOR: &str = include_str!("../../control-plane/tests-data/rsasig2017-cachefile.json");
/// Where the vectors were captured, and the video's uuid there.
const VECTOR_BASE: &str = "http://127.0.0.1:9011";
pub const VECTOR_UUID: &str = "202e2a06-b073-46f0-8197-a77a379ce081";
/// An HLS file: its name, its init section's length and its segments (inclusive ranges).
type Segmented = (&'static str, u64, &'static [(u64, u64)]);
/// The segments of the vector's HLS files (the 240p playlist's, and those its hashes give 360p).
const SEGMENTS: [Segmented; 3] = [
    ("f861c810-93c0-4a8f-8894-8aacc213f95f-240-fragmented.mp4", 1377, &[(1377, 61036), (61037, 121540)]),
    ("32a9a9c1-6773-4804-a24b-a446b40f2e4d-360-fragmented.mp4", 1373, &[(1373, 70596), (70597, 141443)]),
    // The audio-only file of the derived 7.x documents.
    ("7c1e4a51-0a8f-4f43-9a3e-5d2b0e6a1c11-0-fragmented.mp4", 820, &[(820, 65999), (66000, 131044)]),
];
pub const PIECE: usize = 16384;

type Files = Arc<Mutex<HashMap<String, (String, Vec<u8>)>>>;

/// What the instance does to the answers of one path (GETs).
#[derive(Clone, Copy, Debug, Default)]
pub struct PathFaults {
    /// Bytes per second for every answer of the path together (0: as fast as it goes); a paced
    /// body goes out in 64 KiB frames.
    pub bytes_per_sec: u64,
    /// Flip the byte at this file offset in every answer that holds it.
    pub corrupt_at: Option<u64>,
}

/// Per path: its faults, the body bytes handed out so far, and when the next paced frame may go.
#[derive(Default)]
struct PathState {
    faults: PathFaults,
    served: u64,
    next_frame: Option<tokio::time::Instant>,
}

type Paths = Arc<Mutex<HashMap<String, PathState>>>;

/// What a fake instance received on its inboxes: (path, activity, its Signature header).
pub type Posts = Arc<Mutex<Vec<(String, Value, String)>>>;

/// A served file of a video, with what the test checks against.
#[derive(Clone, Debug)]
pub struct FakeFile {
    pub name: String,
    pub url: String,
    pub bytes: Vec<u8>,
    pub info_hash: String,
    /// SHA-1 hex of each piece of [`PIECE`] bytes.
    pub pieces: Vec<String>,
    /// HLS files: `(start, end, sha256 hex)` of each segment.
    pub segments: Vec<(u64, u64, String)>,
}

/// A Video served by the fake instance.
#[derive(Clone, Debug)]
pub struct FakeVideo {
    pub url: String,
    pub uuid: String,
    pub object: Value,
    pub web: Vec<FakeFile>,
    pub hls: Vec<FakeFile>,
    pub master_url: String,
    pub master: String,
    pub segments_sha256_url: String,
}

/// The fake instance.
pub struct FakePeerTube {
    pub addr: SocketAddr,
    pub base: String,
    files: Files,
    paths: Paths,
    pub posts: Posts,
    keys: Arc<InstanceKeys>,
    /// The private key, PEM, for Linked Data signatures.
    pem: String,
}

fn sha1_hex(b: &[u8]) -> String {
    hex(&sha1::Sha1::digest(b))
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A single-file torrent of `data` (pieces of [`PIECE`] bytes): its bytes, info-hash and pieces.
pub fn torrent_of(name: &str, data: &[u8], tracker: &str) -> (Vec<u8>, String, Vec<String>) {
    let mut pieces = Vec::new();
    let mut hexes = Vec::new();
    for chunk in data.chunks(PIECE) {
        let h = sha1::Sha1::digest(chunk);
        pieces.extend_from_slice(&h);
        hexes.push(hex(&h));
    }
    let mut info = format!("d6:lengthi{}e4:name{}:{name}12:piece lengthi{PIECE}e6:pieces{}:", data.len(), name.len(), pieces.len()).into_bytes();
    info.extend_from_slice(&pieces);
    info.push(b'e');
    let info_hash = sha1_hex(&info);
    let mut t = format!("d8:announce{}:{tracker}4:info", tracker.len()).into_bytes();
    t.extend_from_slice(&info);
    t.push(b'e');
    (t, info_hash, hexes)
}

/// A base URL as it stands percent-encoded in a magnet.
fn encoded(url: &str) -> String {
    url.replace(':', "%3A").replace('/', "%2F")
}

/// The path (and query) of a URL.
pub fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/".to_owned(), |i| rest[i..].to_owned())
}

/// `bytes=a-b` (or `a-`) of a file of `len` bytes.
fn range_of(header: &str, len: usize) -> Option<(usize, usize)> {
    let spec = header.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let start: usize = a.parse().ok()?;
    let end: usize = if b.is_empty() { len.checked_sub(1)? } else { b.parse::<usize>().ok()?.min(len.checked_sub(1)?) };
    (start <= end).then_some((start, end))
}

/// What the server's connections share.
struct Shared {
    files: Files,
    paths: Paths,
    posts: Posts,
    keys: Arc<InstanceKeys>,
    base: String,
}

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// A body handed out frame by frame from a channel; each frame is counted for its path as
/// hyper takes it.
struct Paced {
    frames: tokio::sync::mpsc::Receiver<Bytes>,
    paths: Paths,
    path: String,
}

impl hyper::body::Body for Paced {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        self.frames.poll_recv(cx).map(|frame| {
            frame.map(|b| {
                self.paths.lock().unwrap().entry(self.path.clone()).or_default().served += b.len() as u64;
                Ok(hyper::body::Frame::data(b))
            })
        })
    }
}

/// The body of `bytes` (file offset `at` on) for `path`, with its faults applied.
fn body_for(shared: &Shared, path: &str, at: usize, mut bytes: Vec<u8>) -> Body {
    let faults = shared.paths.lock().unwrap().get(path).map(|p| p.faults).unwrap_or_default();
    if let Some(bad) = faults.corrupt_at.and_then(|c| usize::try_from(c).ok()) {
        if (at..at + bytes.len()).contains(&bad) {
            bytes[bad - at] ^= 0xff;
        }
    }
    if faults.bytes_per_sec == 0 {
        shared.paths.lock().unwrap().entry(path.to_owned()).or_default().served += bytes.len() as u64;
        return full(bytes);
    }
    const FRAME: usize = 64 * 1024;
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let paths = Arc::clone(&shared.paths);
    let (p, rate) = (path.to_owned(), faults.bytes_per_sec);
    tokio::spawn(async move {
        for chunk in Bytes::from(bytes).chunks(FRAME).map(Bytes::copy_from_slice) {
            // Every answer of the path shares the rate: each frame takes the next free slot.
            let slot = {
                let mut all = paths.lock().unwrap();
                let state = all.entry(p.clone()).or_default();
                let now = tokio::time::Instant::now();
                let slot = state.next_frame.map_or(now, |n| n.max(now));
                state.next_frame = Some(slot + Duration::from_secs_f64(chunk.len() as f64 / rate as f64));
                slot
            };
            tokio::time::sleep_until(slot).await;
            if tx.send(chunk).await.is_err() {
                return; // the client went away
            }
        }
    });
    Paced { frames: rx, paths: Arc::clone(&shared.paths), path: path.to_owned() }.boxed()
}

async fn answer(shared: Arc<Shared>, req: Request<hyper::body::Incoming>) -> Result<Response<Body>, Infallible> {
    let target = req.uri().path_and_query().map_or("/".to_owned(), |p| p.as_str().to_owned());
    if req.method() == hyper::Method::POST {
        let signature = req.headers().get("signature").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let activity: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        shared.posts.lock().unwrap().push((target.clone(), activity.clone(), signature));
        if activity["type"] == "Follow" {
            // Accept it, as PeerTube does, from another thread (the answer comes first).
            let follower = activity["actor"].as_str().unwrap_or_default().to_owned();
            let (keys, base) = (Arc::clone(&shared.keys), shared.base.clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                let accept = json!({
                    "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                    "type": "Accept", "id": format!("{base}/accepts/follows/1"), "actor": format!("{base}/accounts/peertube"),
                    "object": { "type": "Follow", "id": activity["id"], "actor": follower, "object": activity["object"] },
                });
                let (status, body) = post_signed_with(&keys, &format!("{base}/accounts/peertube"), &format!("{follower}/inbox"), &accept);
                assert!((200..300).contains(&status), "the follower refused our Accept: {status} {body}");
            });
        }
        let mut res = Response::new(full(Bytes::new()));
        *res.status_mut() = hyper::StatusCode::NO_CONTENT;
        return Ok(res);
    }
    let found = shared.files.lock().unwrap().get(&target).cloned();
    let Some((content_type, bytes)) = found else {
        let mut res = Response::new(full(Bytes::from_static(b"not found")));
        *res.status_mut() = hyper::StatusCode::NOT_FOUND;
        return Ok(res);
    };
    let range = req.headers().get("range").and_then(|v| v.to_str().ok()).and_then(|r| range_of(r, bytes.len()));
    let mut res = match range {
        Some((a, b)) => {
            let len = bytes.len();
            let mut res = Response::new(body_for(&shared, &target, a, bytes[a..=b].to_vec()));
            *res.status_mut() = hyper::StatusCode::PARTIAL_CONTENT;
            res.headers_mut().insert("content-range", format!("bytes {a}-{b}/{len}").parse().unwrap());
            res
        }
        None => Response::new(body_for(&shared, &target, 0, bytes)),
    };
    res.headers_mut().insert("content-type", content_type.parse().unwrap());
    Ok(res)
}

/// POSTs `activity` to `inbox`, signed by `actor` with `keys` as PeerTube signs: status and body.
pub fn post_signed_with(keys: &InstanceKeys, actor: &str, inbox: &str, activity: &Value) -> (u16, String) {
    let body = activity.to_string();
    let rest = inbox.split_once("://").unwrap().1;
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let date = date_header(SystemTime::now());
    let d = digest(body.as_bytes());
    let sig = signature_header(keys, actor, &SignRequest { method: "POST", path, host, date: &date, digest: Some(&d) });
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let req = format!(
        "POST {path} HTTP/1.0\r\nHost: {host}\r\nDate: {date}\r\nDigest: {d}\r\nSignature: {sig}\r\nContent-Type: application/activity+json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|x| x.parse().ok()).unwrap_or(0);
    (status, text.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned()))
}

impl FakePeerTube {
    /// Starts the instance on 127.0.0.1 (a thread with its own runtime).
    pub fn start() -> FakePeerTube {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{addr}");
        let files: Files = Arc::default();
        let paths: Paths = Arc::default();
        let posts: Posts = Arc::default();
        let v: Value = serde_json::from_str(KEY_VECTOR).unwrap();
        let pem = v["privateKeyPem"].as_str().unwrap().to_owned();
        let keys = Arc::new(InstanceKeys::from_pem(&pem).unwrap());
        let shared = Arc::new(Shared { files: Arc::clone(&files), paths: Arc::clone(&paths), posts: Arc::clone(&posts), keys: Arc::clone(&keys), base: base.clone() });
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else { continue };
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| answer(Arc::clone(&shared), req));
                        let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
                    });
                }
            });
        });
        let fake = FakePeerTube { addr, base, files, paths, posts, keys, pem };
        fake.serve_actors();
        fake
    }

    /// `host:port`, as vidseed names hosts.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn actor(&self) -> String {
        format!("{}/accounts/peertube", self.base)
    }

    pub fn account(&self) -> String {
        format!("{}/accounts/root", self.base)
    }

    /// Serves `bytes` at `path` (with its query, if any).
    pub fn serve(&self, path: &str, content_type: &str, bytes: Vec<u8>) {
        self.files.lock().unwrap().insert(path.to_owned(), (content_type.to_owned(), bytes));
    }

    /// Sets what the instance does to the answers of `path`.
    pub fn set_faults(&self, path: &str, faults: PathFaults) {
        self.paths.lock().unwrap().entry(path.to_owned()).or_default().faults = faults;
    }

    /// Body bytes handed out for `path` so far (a paced body's frames as the server took them).
    pub fn served(&self, path: &str) -> u64 {
        self.paths.lock().unwrap().get(path).map_or(0, |p| p.served)
    }

    pub fn serve_json(&self, path: &str, v: &Value) {
        self.serve(path, "application/activity+json; charset=utf-8", v.to_string().into_bytes());
    }

    fn serve_actors(&self) {
        let pem = self.keys.public_pem().to_owned();
        for (path, kind, name) in [("/accounts/peertube", "Application", "peertube"), ("/accounts/root", "Person", "root")] {
            let id = format!("{}{path}", self.base);
            self.serve_json(
                path,
                &json!({
                    "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                    "type": kind, "id": id, "preferredUsername": name, "name": name,
                    "inbox": format!("{id}/inbox"), "outbox": format!("{id}/outbox"),
                    "followers": format!("{id}/followers"), "following": format!("{id}/following"),
                    "endpoints": { "sharedInbox": format!("{}/inbox", self.base) },
                    "publicKey": { "id": format!("{id}#main-key"), "owner": id, "publicKeyPem": pem },
                }),
            );
        }
    }

    /// The instance actor's outbox: one page holding `items`.
    pub fn serve_outbox(&self, items: &[Value]) {
        let outbox = format!("{}/outbox", self.actor());
        self.serve_json(
            "/accounts/peertube/outbox",
            &json!({ "@context": "https://www.w3.org/ns/activitystreams", "id": outbox, "type": "OrderedCollection",
                     "totalItems": items.len(), "first": format!("{outbox}?page=1") }),
        );
        self.serve_json(
            "/accounts/peertube/outbox?page=1",
            &json!({ "@context": "https://www.w3.org/ns/activitystreams", "id": format!("{outbox}?page=1"), "type": "OrderedCollectionPage",
                     "totalItems": items.len(), "partOf": outbox, "orderedItems": items }),
        );
    }

    /// POSTs an activity to `inbox`, signed by this instance's actor.
    pub fn post(&self, inbox: &str, activity: &Value) -> (u16, String) {
        post_signed_with(&self.keys, &self.actor(), inbox, activity)
    }

    /// `activity` with PeerTube's context for `kind` and this instance's Linked Data signature
    /// (RsaSignature2017, creator its actor), as PeerTube sends its activities.
    pub fn ld_signed(&self, kind: &str, activity: &Value) -> Value {
        use vidseed_control_plane::activitypub::ld_signature;
        let mut with_context = serde_json::Map::new();
        with_context.insert("@context".into(), ld_signature::peertube_context(kind).unwrap());
        with_context.extend(activity.as_object().unwrap().clone());
        let key = ld_signature::private_key_from_pem(&self.pem).unwrap();
        let created = vidseed_control_plane::clock::iso_8601(SystemTime::now());
        ld_signature::sign(&Value::Object(with_context), &self.actor(), &created, &key).unwrap()
    }

    /// Asks `instance_actor` (another instance's actor) to be followed by this instance.
    pub fn follow(&self, instance_actor: &str) -> (u16, String) {
        let follow = json!({ "@context": "https://www.w3.org/ns/activitystreams", "type": "Follow",
            "id": format!("{}/follows/1", self.actor()),
            "actor": self.actor(), "object": instance_actor });
        let inbox = format!("{}/inbox", instance_actor.trim_end_matches("/accounts/peertube"));
        self.post(&inbox, &follow)
    }

    /// Activities received so far.
    pub fn received(&self) -> Vec<(String, Value, String)> {
        self.posts.lock().unwrap().clone()
    }

    /// Serves PeerTube's REST API entry of `video` (`/api/v1/videos/<uuid>`, from 6.3.3's
    /// vector of a video with a cache) naming `cache` as holding a copy of every file: a second
    /// `ws=` in each web video's magnet, and `redundancies[].baseUrl` of its HLS playlist.
    pub fn serve_api_video(&self, video: &FakeVideo, cache: &str) {
        let text = API_VIDEO_VECTOR
            .replace(VECTOR_BASE, &self.base)
            .replace(&encoded(VECTOR_BASE), &encoded(&self.base))
            .replace(VECTOR_CACHE, cache)
            .replace(&encoded(VECTOR_CACHE), &encoded(cache))
            .replace(VECTOR_UUID, &video.uuid);
        self.serve(&format!("/api/v1/videos/{}", video.uuid), "application/json; charset=utf-8", text.into_bytes());
    }

    /// Publishes a Video (PeerTube 6.3.3's vector, its uuid replaced by `uuid`, every URL here)
    /// with generated files, torrents, playlists and segment hashes.
    pub fn publish_video(&self, uuid: &str, name: &str) -> FakeVideo {
        self.publish_video_sized(uuid, name, |_| None)
    }

    /// Like [`FakePeerTube::publish_video`], the web-video file of each height for which
    /// `web_size` names a size made that large (its Link's `size` says so).
    pub fn publish_video_sized(&self, uuid: &str, name: &str, web_size: impl Fn(u64) -> Option<u64>) -> FakeVideo {
        self.publish_shaped(uuid, name, web_size, false)
    }

    /// Publishes a Video in the shapes of PeerTube after 6.3.3 (`tests-data/peertube-7/`: audio
    /// and video split in HLS, captions as subtitle playlists, the short watch URL Link, …).
    pub fn publish_video_7(&self, uuid: &str, name: &str) -> FakeVideo {
        self.publish_shaped(uuid, name, |_| None, true)
    }

    fn publish_shaped(&self, uuid: &str, name: &str, web_size: impl Fn(u64) -> Option<u64>, peertube_7: bool) -> FakeVideo {
        let (vector, master_text) = if peertube_7 { (VIDEO_7, MASTER_7) } else { (VIDEO_VECTOR, MASTER_VECTOR) };
        let text = vector.replace(VECTOR_BASE, &self.base).replace(&encoded(VECTOR_BASE), &encoded(&self.base)).replace(VECTOR_UUID, uuid);
        let mut object: Value = serde_json::from_str(&text).unwrap();
        object.as_object_mut().unwrap().remove("@context");
        object["name"] = json!(name);
        for l in object["url"].as_array_mut().unwrap() {
            if l["mediaType"] == "video/mp4" && l.get("rel").is_none() {
                if let Some(size) = l["height"].as_u64().and_then(&web_size) {
                    l["size"] = json!(size);
                }
            }
        }
        let tracker = format!("{}/tracker/announce", self.base);
        let mut seed = 7u64; // the same files for every video (they share paths)
        // Each file of the Video: generated bytes, its torrent, its magnet's info-hash.
        let mut make = |links: &mut Vec<Value>| -> Vec<FakeFile> {
            let mut out = Vec::new();
            let files: Vec<(String, u64, u64, Option<u64>)> = links
                .iter()
                .filter(|l| (l["mediaType"] == "video/mp4" || l["mediaType"] == "audio/mp4") && l.get("rel").is_none())
                .map(|l| (l["href"].as_str().unwrap().to_owned(), l["size"].as_u64().unwrap(), l["height"].as_u64().unwrap(), l["fps"].as_u64()))
                .collect();
            for (url, size, height, fps) in files {
                seed += 1;
                let name = url.rsplit('/').next().unwrap().to_owned();
                let bytes = pseudo_random(size as usize, seed);
                let (torrent, info_hash, pieces) = torrent_of(&name, &bytes, &tracker);
                let same = |l: &Value, t: &str| l["mediaType"] == t && l["height"].as_u64() == Some(height) && l["fps"].as_u64() == fps;
                let torrent_url = links.iter().find(|l| same(l, "application/x-bittorrent")).unwrap()["href"].as_str().unwrap().to_owned();
                self.serve(&path_of(&torrent_url), "application/x-bittorrent", torrent);
                for l in links.iter_mut().filter(|l| same(l, "application/x-bittorrent;x-scheme-handler/magnet")) {
                    let magnet = l["href"].as_str().unwrap();
                    let at = magnet.find("xt=urn:btih:").unwrap() + "xt=urn:btih:".len();
                    l["href"] = json!(format!("{}{info_hash}{}", &magnet[..at], &magnet[at + 40..]));
                }
                self.serve(&path_of(&url), "video/mp4", bytes.clone());
                out.push(FakeFile { name, url, bytes, info_hash, pieces, segments: Vec::new() });
            }
            out
        };
        let mut links = object["url"].as_array().unwrap().clone();
        let web = make(&mut links);
        let hls_at = links.iter().position(|l| l["mediaType"] == "application/x-mpegURL").unwrap();
        let mut tags = links[hls_at]["tag"].as_array().unwrap().clone();
        let mut hls = make(&mut tags);
        let master_url = links[hls_at]["href"].as_str().unwrap().to_owned();
        let segments_sha256_url = tags.iter().find(|t| t["name"] == "sha256").unwrap()["href"].as_str().unwrap().to_owned();
        links[hls_at]["tag"] = Value::Array(tags);
        object["url"] = Value::Array(links);

        // Playlists and segment hashes over the generated bytes.
        let folder = master_url.rsplit_once('/').unwrap().0.to_owned();
        let mut hashes = serde_json::Map::new();
        for (file, init, spans) in SEGMENTS {
            let Some(f) = hls.iter_mut().find(|f| f.name == file) else { continue };
            let mut ranges = serde_json::Map::new();
            for &(a, b) in spans {
                let h = hex(&<sha2::Sha256 as sha2::Digest>::digest(&f.bytes[a as usize..=b as usize]));
                ranges.insert(format!("{a}-{b}"), json!(h));
                f.segments.push((a, b, h));
            }
            hashes.insert(file.to_owned(), Value::Object(ranges));
            let playlist = if file.contains("-240-") {
                MEDIA_240_VECTOR.to_owned()
            } else {
                let mut p = format!("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"{file}\",BYTERANGE=\"{init}@0\"\n");
                for &(a, b) in spans {
                    p.push_str(&format!("#EXTINF:4.000000,\n#EXT-X-BYTERANGE:{}@{a}\n{file}\n", b - a + 1));
                }
                p.push_str("#EXT-X-ENDLIST\n");
                p
            };
            let playlist_name = file.replace("-fragmented.mp4", ".m3u8");
            self.serve(&path_of(&format!("{folder}/{playlist_name}")), "application/vnd.apple.mpegurl", playlist.into_bytes());
        }
        self.serve(&path_of(&master_url), "application/vnd.apple.mpegurl", master_text.as_bytes().to_vec());
        if peertube_7 {
            let caption = CAPTION_7.replace(VECTOR_BASE, &self.base);
            self.serve(&path_of(&format!("{folder}/{CAPTION_7_NAME}")), "application/vnd.apple.mpegurl", caption.into_bytes());
        }
        self.serve(&path_of(&segments_sha256_url), "application/json", Value::Object(hashes).to_string().into_bytes());
        let url = object["id"].as_str().unwrap().to_owned();
        self.serve_json(&path_of(&url), &object);
        FakeVideo { url, uuid: uuid.to_owned(), object, web, hls, master_url, master: master_text.to_owned(), segments_sha256_url }
    }
}
