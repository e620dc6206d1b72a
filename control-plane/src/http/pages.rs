//! The HTML the control plane serves to viewers: the index of videos (`/`), a watch page per
//! video (`/videos/watch/<id>`) and the page's own scripts and styles (`/assets/…`, and
//! the service worker at `/webtorrent-sw.js`, at the root so its scope covers `/webtorrent/`,
//! where it streams to the `<video>` element). Every script is served from here:
//! the WebTorrent bundle is the npm package pinned in `web/package-lock.json`, built in (see
//! `build.rs`). Pure: requests in, responses out.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;
use vidseed_shared::InfoHash;

use super::error::ApiError;
use super::router::Handler;
use crate::library::Library;
use crate::video::Video;

const WEBTORRENT_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/web-dist/webtorrent.min.js"));
/// Our own service worker (web/sw.js): it answers each request from the page that made it.
const SERVICE_WORKER_JS: &str = include_str!("../../web/sw.js");
const WATCH_JS_SOURCE: &str = include_str!("../../web/watch.js");
/// The bundle's URL with a tag of its bytes: cached for good, a new version gets a new URL.
const BUNDLE_PATH: &str = concat!("/assets/webtorrent.", env!("VIDSEED_WEBTORRENT_TAG"), ".min.js");
/// The page's script as served: it imports the bundle by its tagged URL.
static WATCH_JS: std::sync::LazyLock<Bytes> =
    std::sync::LazyLock::new(|| Bytes::from(WATCH_JS_SOURCE.replace("'/assets/webtorrent.min.js'", &format!("'{BUNDLE_PATH}'"))));
const STYLE_CSS: &str = include_str!("../../web/watch.css");

/// Where the watch pages live.
pub const WATCH_PREFIX: &str = "/videos/watch/";

/// A page or asset for `path`, if it is one of ours.
pub fn answer(handler: Handler, rest: &str, library: &Library) -> Response<Full<Bytes>> {
    match (handler, rest) {
        (Handler::Watch, id) => {
            let id = id.trim_end_matches('/');
            let by_hash = id.parse::<InfoHash>().ok();
            match by_hash {
                // The info-hash watch URLs of before: to the video's UUID URL, for good.
                Some(ih) if library.uuid_of(&ih).is_some() && library.by_info_hash(&ih).is_some() => {
                    let to = format!("{WATCH_PREFIX}{}", library.uuid_of(&ih).unwrap_or_default());
                    let mut res = html(StatusCode::MOVED_PERMANENTLY, format!("<a href=\"{0}\">{0}</a>", escape_html(&to)));
                    if let Ok(v) = http::HeaderValue::from_str(&to) {
                        res.headers_mut().insert(http::header::LOCATION, v);
                    }
                    res
                }
                _ => match by_hash.and_then(|ih| library.by_info_hash(&ih)).or_else(|| library.by_uuid(id)) {
                    Some(video) => html(StatusCode::OK, watch_page(&video, library.stun_servers())),
                    None => html(StatusCode::NOT_FOUND, not_found_page()),
                },
            }
        }
        (Handler::Asset, "") => asset(SERVICE_WORKER_JS.as_bytes(), "text/javascript; charset=utf-8", "no-cache"),
        (Handler::Asset, file) if Some(file) == BUNDLE_PATH.strip_prefix("/assets/") => {
            asset(WEBTORRENT_JS, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable")
        }
        (Handler::Asset, "webtorrent.min.js") => asset(WEBTORRENT_JS, "text/javascript; charset=utf-8", "no-cache"),
        (Handler::Asset, "watch.js") => asset_bytes(WATCH_JS.clone(), "text/javascript; charset=utf-8", "no-cache"),
        (Handler::Asset, "watch.css") => asset(STYLE_CSS.as_bytes(), "text/css; charset=utf-8", "no-cache"),
        (Handler::Asset, _) => ApiError::new(StatusCode::NOT_FOUND, "no such asset").response(),
        _ => html(StatusCode::OK, index_page(&library.videos())),
    }
}

fn asset(body: &'static [u8], content_type: &'static str, cache: &'static str) -> Response<Full<Bytes>> {
    asset_bytes(Bytes::from_static(body), content_type, cache)
}

fn asset_bytes(body: Bytes, content_type: &'static str, cache: &'static str) -> Response<Full<Bytes>> {
    let len = body.len();
    let mut res = Response::new(Full::new(body));
    let hs = res.headers_mut();
    hs.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    hs.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    hs.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    hs.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

fn html(status: StatusCode, page: String) -> Response<Full<Bytes>> {
    let len = page.len();
    let mut res = Response::new(Full::new(Bytes::from(page)));
    *res.status_mut() = status;
    let hs = res.headers_mut();
    hs.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    hs.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    hs.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    hs.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

/// Text for HTML content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn head(title: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><link rel=\"stylesheet\" href=\"/assets/watch.css\">",
        escape_html(title)
    )
}

const HEADER: &str = "<header><a href=\"/\">vidseed</a></header>";

fn index_page(videos: &[Video]) -> String {
    let mut html = head("vidseed");
    html.push_str("</head><body>");
    html.push_str(HEADER);
    html.push_str(&format!(
        "<main><h1>Videos</h1><p>{} video(s). As JSON: <a href=\"/api/v1/videos\">/api/v1/videos</a></p><ul class=\"videos\">",
        videos.len()
    ));
    for v in videos {
        html.push_str(&format!(
            "<li><a href=\"{}\">{}</a> ({}) <span class=\"links\"><a href=\"{}\">file</a> <a href=\"{}\">torrent</a> <a href=\"{}\">magnet</a></span></li>",
            escape_html(&v.watch_url),
            escape_html(&v.path),
            human_size(v.size),
            escape_html(&v.file_url),
            escape_html(&v.torrent_url),
            escape_html(&v.magnet_uri),
        ));
    }
    html.push_str("</ul></main></body></html>");
    html
}

/// What the watch page's script needs, embedded in the page as JSON (the video's `trackers`
/// among its fields).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PageData<'a> {
    #[serde(flatten)]
    video: &'a Video,
    /// RTCIceServer objects for WebRTC between viewers: the instance's STUN servers, none by
    /// default (nothing leaves the viewers' network unless the instance says so).
    ice_servers: Vec<serde_json::Value>,
}

fn watch_page(video: &Video, stun_servers: &[String]) -> String {
    let ice_servers = stun_servers.iter().map(|url| serde_json::json!({ "urls": url })).collect();
    let data = PageData { video, ice_servers };
    // JSON inside <script>: `<` escaped so no string can close the element.
    let json = serde_json::to_string(&data).unwrap_or_else(|_| "{}".into()).replace('<', "\\u003c");
    let mut html = head(&format!("{} — vidseed", video.name));
    html.push_str(&format!(
        "<script type=\"application/json\" id=\"vidseed-video\">{json}</script>\
         <script type=\"module\" src=\"/assets/watch.js\"></script></head><body>{HEADER}<main>\
         <h1>{name}</h1>\
         <video id=\"player\" controls playsinline preload=\"auto\"></video>\
         <section id=\"panel\" aria-live=\"polite\"><h2>Live</h2><dl id=\"stats\">\
         <div><dt>State</dt><dd id=\"phase\">starting</dd></div>\
         <div><dt>Downloaded</dt><dd id=\"progress\">—</dd></div>\
         <div><dt>Peers (other viewers)</dt><dd id=\"peers\">0</dd></div>\
         <div><dt>Download speed</dt><dd id=\"down\">—</dd></div>\
         <div><dt>Upload speed</dt><dd id=\"up\">—</dd></div>\
         <div><dt>From WebSeeds</dt><dd id=\"from-webseeds\">0 B</dd></div>\
         <div><dt>From peers</dt><dd id=\"from-peers\">0 B</dd></div>\
         <div><dt>Sent to peers</dt><dd id=\"uploaded\">0 B</dd></div>\
         <div><dt>First frame after</dt><dd id=\"first-frame\">—</dd></div>\
         </dl><h2>WebSeeds</h2><table><thead><tr><th>Node</th><th>URL</th><th>Sent</th><th>State</th></tr></thead>\
         <tbody id=\"webseeds\"></tbody></table></section>\
         <p class=\"links\"><a href=\"{torrent}\">torrent</a> <a href=\"{magnet}\">magnet</a> <a href=\"{file}\">file</a> ({size})</p>\
         <noscript>The player needs JavaScript; the file itself is linked above.</noscript>\
         </main></body></html>",
        name = escape_html(&video.name),
        torrent = escape_html(&video.torrent_url),
        magnet = escape_html(&video.magnet_uri),
        file = escape_html(&video.file_url),
        size = human_size(video.size),
    ));
    html
}

fn not_found_page() -> String {
    let mut html = head("Not found — vidseed");
    html.push_str("</head><body>");
    html.push_str(HEADER);
    html.push_str("<main><h1>No such video</h1><p>No video with this id is published here. <a href=\"/\">All videos</a></p></main></body></html>");
    html
}

fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(name: &str) -> Video {
        Video {
            id: "ab".repeat(20),
            name: name.into(),
            path: format!("dir/{name}"),
            size: 3 * 1024 * 1024,
            content_type: "video/mp4".into(),
            info_hash: InfoHash([0xab; 20]),
            piece_length: 262_144,
            webseeds: vec!["http://127.0.0.1:9001/static/webseed/dir/x.mp4".into()],
            file_url: "http://127.0.0.1:9001/static/webseed/dir/x.mp4".into(),
            torrent_url: "http://127.0.0.1:9000/torrents/x.torrent".into(),
            watch_url: "http://127.0.0.1:9000/videos/watch/x".into(),
            magnet_uri: "magnet:?xt=urn:btih:ab&dn=x".into(),
            nodes: vec!["local".into()],
            trackers: vec!["ws://t/tracker/socket".into()],
            tracker_node: Some("local".into()),
            federated: None,
        }
    }

    #[test]
    fn escapes() {
        assert_eq!(escape_html("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
    }

    #[test]
    fn watch_page_embeds_the_video_safely() {
        let page = watch_page(&video("</script><script>alert(1)</script>.mp4"), &[]);
        // The name appears escaped in HTML and with `<` escaped in the JSON: no element closes early.
        assert_eq!(page.matches("</script>").count(), 2, "{page}");
        let start = page.find("id=\"vidseed-video\">").unwrap() + "id=\"vidseed-video\">".len();
        let end = start + page[start..].find("</script>").unwrap();
        let data: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
        assert_eq!(data["name"], "</script><script>alert(1)</script>.mp4");
        assert_eq!(data["torrentUrl"], "http://127.0.0.1:9000/torrents/x.torrent");
        assert_eq!(data["webseeds"][0], "http://127.0.0.1:9001/static/webseed/dir/x.mp4");
        assert_eq!(data["nodes"][0], "local");
        assert_eq!(data["trackers"][0], "ws://t/tracker/socket");
        assert_eq!(data["iceServers"], serde_json::json!([]));
        let with_stun = watch_page(&video("a.mp4"), &["stun:stun.example.org:3478".into()]);
        assert!(with_stun.contains(r#""iceServers":[{"urls":"stun:stun.example.org:3478"}]"#), "{with_stun}");
        assert!(page.contains("<video id=\"player\""));
        assert!(page.contains("src=\"/assets/watch.js\""));
        assert!(page.contains("&lt;/script&gt;"));
    }

    #[test]
    fn index_links_watch_pages() {
        let page = index_page(&[video("a&b.mp4")]);
        assert!(page.contains("<a href=\"http://127.0.0.1:9000/videos/watch/x\">dir/a&amp;b.mp4</a> (3.0 MiB)"), "{page}");
        assert!(index_page(&[]).contains("0 video(s)"));
    }

    #[test]
    fn the_bundled_scripts_are_the_real_ones() {
        let wt = std::str::from_utf8(WEBTORRENT_JS).unwrap();
        assert!(wt.len() > 100_000 && wt.contains("export{") && wt.contains("webSeed"));
        assert!(SERVICE_WORKER_JS.contains("'webtorrent/'") && SERVICE_WORKER_JS.contains("clients.claim") && SERVICE_WORKER_JS.contains("clients.get(event.clientId)"));
        assert!(WATCH_JS_SOURCE.contains("from '/assets/webtorrent.min.js'") && WATCH_JS_SOURCE.contains("'/webtorrent-sw.js'"));
        // Served, the script imports the bundle by its tagged URL, which serves the same bytes.
        let served = std::str::from_utf8(&WATCH_JS).unwrap();
        assert!(served.contains(&format!("from '{BUNDLE_PATH}'")) && !served.contains("webtorrent.min.js'"), "{BUNDLE_PATH}");
        assert!(BUNDLE_PATH.len() == "/assets/webtorrent..min.js".len() + 16);
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(10), "10 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(100 * 1024 * 1024), "100.0 MiB");
    }
}
