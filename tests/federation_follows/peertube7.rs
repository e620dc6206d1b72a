//! A followed instance in the shapes of PeerTube after 6.3.3 (documents derived from 6.3.3's in
//! `control-plane/tests-data/peertube-7/`, whose README names the source of each difference):
//! its Video, learned from its outbox, is copied whole — the web videos, and the HLS playlist
//! with its audio-only file (audio and video split) and its caption playlist — and served.

use serde_json::json;

use super::Instance;
use crate::common::{eventually, get};
use crate::peertube::FakePeerTube;

const UUID: &str = "0a1b2c3d-0000-4000-8000-000000000071";

#[test]
fn a_peertube_7_video_with_split_audio_and_captions_is_copied_whole() {
    let origin = FakePeerTube::start();
    let video = origin.publish_video_7(UUID, "seven");
    origin.serve_outbox(&[json!({
        "type": "Create", "id": format!("{}/activity", video.url), "actor": format!("{}/video-channels/root_channel", origin.base),
        "to": ["https://www.w3.org/ns/activitystreams#Public"], "object": video.object,
    })]);
    let a = Instance::start();
    assert_eq!(a.cli(&["follow", &origin.base]).0, Some(0));
    eventually(super::WAIT, "the 7.x video learned from the outbox", || {
        a.admin("GET", "/api/v1/admin/redundancy/videos", None)["videos"].as_array()?.iter().any(|v| v["url"] == video.url.as_str()).then_some(())
    });
    assert_eq!(a.cli(&["redundancy", "allow", &origin.host()]).0, Some(0));
    let (code, out) = a.cli(&["redundancy", "add", &video.url]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("3 serving"), "two web videos and the HLS playlist: {out}");

    // The audio-only file is part of the HLS copy, served with its type.
    let audio = video.hls.iter().find(|f| f.name.contains("-0-fragmented")).expect("the derived documents hold an audio-only file");
    let r = get(a.node.data, &format!("/static/redundancy/hls/{UUID}/{}", audio.name), &[]).unwrap();
    assert!(r.status == 200 && r.body == audio.bytes, "the audio-only file");
    assert_eq!(r.header("content-type"), Some("audio/mp4"));
    for f in video.web.iter().chain(&video.hls) {
        let path = if f.segments.is_empty() { format!("/static/redundancy/{}", f.name) } else { format!("/static/redundancy/hls/{UUID}/{}", f.name) };
        let r = get(a.node.data, &path, &[]).unwrap();
        assert!(r.status == 200 && r.body == f.bytes, "{}", f.name);
    }
    // The master playlist (with its audio rendition) and the caption playlist it names.
    let master = video.master_url.rsplit('/').next().unwrap();
    let r = get(a.node.data, &format!("/static/redundancy/hls/{UUID}/{master}"), &[]).unwrap();
    assert!(r.status == 200 && r.body == video.master.as_bytes());
    assert!(video.master.contains("TYPE=AUDIO") && video.master.contains("TYPE=SUBTITLES"));
    let caption = get(a.node.data, &format!("/static/redundancy/hls/{UUID}/e4a0c6d2-5b8f-4c1e-9a3d-7f2b6e0c4a18-en.m3u8"), &[]).unwrap();
    assert_eq!(caption.status, 200);
    assert!(String::from_utf8_lossy(&caption.body).contains(&format!("{}/lazy-static/video-captions/", origin.base)), "the caption stays at the origin");
    // The node tracks the audio file's swarm id too (PeerTube's player announces it).
    let orders = a.admin("GET", "/api/v1/admin/redundancy/orders", None);
    let hls = orders["orders"].as_array().unwrap().iter().find(|o| o["id"].as_str().unwrap().contains("/streaming-playlists/hls/")).unwrap();
    assert_eq!(hls["files"].as_array().unwrap().len(), 9, "{hls}");
    assert!(hls["infoHashes"].as_array().unwrap().contains(&json!(audio.info_hash)));
}
