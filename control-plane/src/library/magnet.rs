//! Magnet URIs (BEP 9, with BEP 19's `ws` and the `xs` exact source). Pure.

use percent_encoding::utf8_percent_encode;
use vidseed_shared::InfoHash;

use crate::library::urls::COMPONENT;

/// What a magnet URI carries.
#[derive(Clone, Debug)]
pub struct MagnetParts<'a> {
    pub info_hash: &'a InfoHash,
    pub name: &'a str,
    pub trackers: &'a [String],
    pub webseeds: &'a [String],
    pub torrent_url: &'a str,
}

/// `magnet:?xt=urn:btih:<hex>&dn=…&tr=…&ws=…&xs=…`, every value percent-encoded.
pub fn magnet_uri(p: &MagnetParts<'_>) -> String {
    let mut uri = format!("magnet:?xt=urn:btih:{}", p.info_hash.to_hex());
    let mut push = |key: &str, value: &str| {
        uri.push('&');
        uri.push_str(key);
        uri.push('=');
        uri.extend(utf8_percent_encode(value, COMPONENT));
    };
    push("dn", p.name);
    for t in p.trackers {
        push("tr", t);
    }
    for w in p.webseeds {
        push("ws", w);
    }
    push("xs", p.torrent_url);
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_every_part() {
        let ih = InfoHash([0x12; 20]);
        let m = magnet_uri(&MagnetParts {
            info_hash: &ih,
            name: "my video & co.mp4",
            trackers: &["ws://h:1/tracker/socket".into(), "http://h:1/tracker/announce".into()],
            webseeds: &["http://h:1/static/webseed/my%20video.mp4".into()],
            torrent_url: "http://h:0/torrents/x.torrent",
        });
        assert_eq!(
            m,
            format!(
                "magnet:?xt=urn:btih:{}&dn=my%20video%20%26%20co.mp4&tr=ws%3A%2F%2Fh%3A1%2Ftracker%2Fsocket\
                 &tr=http%3A%2F%2Fh%3A1%2Ftracker%2Fannounce&ws=http%3A%2F%2Fh%3A1%2Fstatic%2Fwebseed%2Fmy%2520video.mp4\
                 &xs=http%3A%2F%2Fh%3A0%2Ftorrents%2Fx.torrent",
                "12".repeat(20)
            )
        );
    }
}
