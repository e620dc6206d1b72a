//! Fuzzes what a cache instance reads from other instances before it copies anything: HLS
//! master and resolution playlists, the segments-sha256 file, a PeerTube Video object, the
//! origin's API entry naming other caches (and a magnet's web seeds) and a received CacheFile.
#![no_main]

use vidseed_control_plane::redundancy::{cache_file, hls, mirrors, remote_video};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = hls::parse_master(text);
    let _ = hls::subtitle_playlists(text);
    if let Ok(p) = hls::parse_media(text) {
        assert!(!p.segments.is_empty());
    }
    let _ = hls::parse_segment_hashes(text);
    for url in mirrors::magnet_web_seeds(text, "") {
        assert!(url.starts_with("http://") || url.starts_with("https://"));
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
        let _ = remote_video::parse_video(&v);
        let _ = cache_file::parse_received(&v);
        let other = mirrors::from_api_video(&v);
        assert!(other.files.values().flatten().chain(&other.hls_bases).all(|u| u.starts_with("http")));
    }
});
