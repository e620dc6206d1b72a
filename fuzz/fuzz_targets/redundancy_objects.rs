//! Fuzzes what a cache instance reads from other instances before it copies anything: HLS
//! master and resolution playlists, the segments-sha256 file, a PeerTube Video object and a
//! received CacheFile.
#![no_main]

use vidseed_control_plane::redundancy::{cache_file, hls, remote_video};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = hls::parse_master(text);
    if let Ok(p) = hls::parse_media(text) {
        assert!(!p.segments.is_empty());
    }
    let _ = hls::parse_segment_hashes(text);
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
        let _ = remote_video::parse_video(&v);
        let _ = cache_file::parse_received(&v);
    }
});
