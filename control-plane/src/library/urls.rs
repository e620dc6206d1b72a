//! The URLs the node hands out: WebSeed file URLs, tracker URLs, torrent URLs. Pure.

use std::net::SocketAddr;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use vidseed_shared::InfoHash;

/// What `encodeURIComponent` leaves alone: `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
pub const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// The URL prefix under which the data plane serves files.
pub const WEBSEED_PREFIX: &str = "/static/webseed";

/// Base URLs of the two planes as clients must use them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrls {
    /// `http://DATA` or the configured public `https://…` base, without a trailing slash.
    pub data_http: String,
    /// `ws://DATA` or `wss://…`.
    pub data_ws: String,
    /// `http://CONTROL` or the configured public base.
    pub control_http: String,
}

/// Why a public base URL was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("public URL {0:?} must start with http:// or https://")]
    Scheme(String),
    #[error("public URL {0:?} must not have a query or fragment")]
    Extra(String),
}

impl PublicUrls {
    /// From the bound addresses, each optionally replaced by a public base URL
    /// (`https://host[:port][/prefix]`), whose scheme also gives the tracker's (`wss`/`ws`).
    pub fn new(
        data: SocketAddr,
        control: SocketAddr,
        data_public: Option<&str>,
        control_public: Option<&str>,
    ) -> Result<Self, UrlError> {
        let data_http = match data_public {
            Some(u) => normalise(u)?,
            None => format!("http://{data}"),
        };
        let data_ws = if let Some(rest) = data_http.strip_prefix("https://") {
            format!("wss://{rest}")
        } else {
            format!("ws://{}", data_http.trim_start_matches("http://"))
        };
        let control_http = match control_public {
            Some(u) => normalise(u)?,
            None => format!("http://{control}"),
        };
        Ok(PublicUrls { data_http, data_ws, control_http })
    }

    /// The decoded URL path of a file, given its path relative to the media folder.
    pub fn webseed_path(rel_path: &str) -> String {
        format!("{WEBSEED_PREFIX}/{rel_path}")
    }

    /// The full WebSeed URL of a file on this instance's own data plane.
    pub fn webseed_url(&self, rel_path: &str) -> String {
        Self::webseed_url_at(&self.data_http, rel_path)
    }

    /// The full WebSeed URL of a file on the data node at `base` (`http[s]://host[:port]`),
    /// each path segment percent-encoded.
    pub fn webseed_url_at(base: &str, rel_path: &str) -> String {
        let mut url = format!("{}{WEBSEED_PREFIX}", base.trim_end_matches('/'));
        for seg in rel_path.split('/') {
            url.push('/');
            url.extend(utf8_percent_encode(seg, COMPONENT));
        }
        url
    }

    /// The tracker URLs of this instance's data plane (or of `--tracker-url`), WebSocket
    /// first (what browsers use), then HTTP announce.
    pub fn trackers(&self) -> Vec<String> {
        vec![
            format!("{}/tracker/socket", self.data_ws),
            format!("{}/tracker/announce", self.data_http),
        ]
    }

    /// The tracker URLs of the data node at `base` (`http[s]://host[:port][/prefix]`): its
    /// WebSocket tracker (`ws://`, or `wss://` for an https base), then its HTTP announce.
    pub fn trackers_at(base: &str) -> Vec<String> {
        let base = base.trim_end_matches('/');
        let ws = match base.strip_prefix("https://") {
            Some(rest) => format!("wss://{rest}"),
            None => format!("ws://{}", base.trim_start_matches("http://")),
        };
        vec![format!("{ws}/tracker/socket"), format!("{base}/tracker/announce")]
    }

    /// Where the control plane serves a torrent file.
    pub fn torrent_url(&self, info_hash: &InfoHash) -> String {
        format!("{}/torrents/{}.torrent", self.control_http, info_hash.to_hex())
    }

    /// The watch page of a video (a player fed by WebTorrent).
    pub fn watch_url(&self, info_hash: &InfoHash) -> String {
        format!("{}/videos/watch/{}", self.control_http, info_hash.to_hex())
    }

    /// The API URL of a video.
    pub fn video_api_url(&self, info_hash: &InfoHash) -> String {
        format!("{}/api/v1/videos/{}", self.control_http, info_hash.to_hex())
    }
}

/// A public base URL, checked (http or https, no query or fragment), without a trailing slash.
pub fn normalise(u: &str) -> Result<String, UrlError> {
    if !(u.starts_with("http://") || u.starts_with("https://")) {
        return Err(UrlError::Scheme(u.into()));
    }
    if u.contains('?') || u.contains('#') {
        return Err(UrlError::Extra(u.into()));
    }
    Ok(u.trim_end_matches('/').to_string())
}

/// The value of query parameter `name` in `query`, percent-decoded (`+` is a space).
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| percent_encoding::percent_decode_str(&v.replace('+', " ")).decode_utf8_lossy().into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(p: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], p))
    }

    #[test]
    fn local_urls() {
        let u = PublicUrls::new(addr(9001), addr(9000), None, None).unwrap();
        assert_eq!(u.webseed_url("a b/ü#?.mp4"), "http://127.0.0.1:9001/static/webseed/a%20b/%C3%BC%23%3F.mp4");
        assert_eq!(
            u.trackers(),
            vec!["ws://127.0.0.1:9001/tracker/socket", "http://127.0.0.1:9001/tracker/announce"]
        );
        assert_eq!(
            u.torrent_url(&InfoHash([0xab; 20])),
            format!("http://127.0.0.1:9000/torrents/{}.torrent", "ab".repeat(20))
        );
        assert_eq!(PublicUrls::webseed_path("a b/c.mp4"), "/static/webseed/a b/c.mp4");
        assert_eq!(u.watch_url(&InfoHash([1; 20])), format!("http://127.0.0.1:9000/videos/watch/{}", "01".repeat(20)));
    }

    #[test]
    fn a_nodes_trackers_follow_its_public_url() {
        assert_eq!(
            PublicUrls::trackers_at("http://127.0.0.1:9501"),
            ["ws://127.0.0.1:9501/tracker/socket", "http://127.0.0.1:9501/tracker/announce"]
        );
        assert_eq!(
            PublicUrls::trackers_at("https://edge-1.example.org/seed/"),
            ["wss://edge-1.example.org/seed/tracker/socket", "https://edge-1.example.org/seed/tracker/announce"]
        );
    }

    #[test]
    fn public_base_switches_to_tls_schemes() {
        let u = PublicUrls::new(addr(9001), addr(9000), Some("https://seed.example/"), Some("https://videos.example")).unwrap();
        assert_eq!(u.webseed_url("x.mp4"), "https://seed.example/static/webseed/x.mp4");
        assert_eq!(u.trackers()[0], "wss://seed.example/tracker/socket");
        assert_eq!(u.trackers()[1], "https://seed.example/tracker/announce");
        assert!(u.torrent_url(&InfoHash([0; 20])).starts_with("https://videos.example/torrents/"));
        assert_eq!(u.trackers(), PublicUrls::trackers_at("https://seed.example/"));
        assert!(PublicUrls::new(addr(1), addr(2), Some("ftp://x"), None).is_err());
        assert!(PublicUrls::new(addr(1), addr(2), Some("https://x/?a"), None).is_err());
    }
}
