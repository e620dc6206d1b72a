//! Another cache as a second source: the origin's API (PeerTube 6.3.3's shape) names a cache
//! holding the video's files; the fetch orders carry it after the origin, and when the origin
//! sends a bad piece of a web video and a bad HLS segment, the node fetches those again from the
//! cache — those alone — and the copies end as the origin's exact bytes.

use serde_json::{json, Value};

use super::Instance;
use crate::common::{eventually, get};
use crate::peertube::{path_of, FakePeerTube, PathFaults, PIECE};

const UUID: &str = "0a1b2c3d-0000-4000-8000-0000000000f1";

#[test]
fn a_bad_piece_and_a_bad_segment_come_again_from_another_cache() {
    let origin = FakePeerTube::start();
    let video = origin.publish_video(UUID, "cached elsewhere");
    // Another PeerTube instance keeps a copy, where PeerTube keeps them, and the origin's API
    // says so.
    let cache = FakePeerTube::start();
    for f in &video.web {
        cache.serve(&format!("/static/redundancy/{}", f.name), "video/mp4", f.bytes.clone());
    }
    for f in &video.hls {
        cache.serve(&format!("/static/redundancy/hls/{UUID}/{}", f.name), "video/mp4", f.bytes.clone());
    }
    origin.serve_api_video(&video, &cache.base);
    // The origin flips a byte of the 360p web video's piece 4 and of the 240p HLS file's second
    // segment, every time.
    let web = video.web.iter().find(|f| f.name.ends_with("-360.mp4")).unwrap();
    let hls = video.hls.iter().find(|f| f.name.contains("-240-")).unwrap();
    let (seg_start, seg_end, _) = hls.segments[1].clone();
    origin.set_faults(&path_of(&web.url), PathFaults { bytes_per_sec: 0, corrupt_at: Some(4 * PIECE as u64 + 11) });
    origin.set_faults(&path_of(&hls.url), PathFaults { bytes_per_sec: 0, corrupt_at: Some(seg_start + 100) });

    let a = Instance::start_with(&[]);
    let (code, out) = a.cli(&["follow", &origin.base]);
    assert_eq!(code, Some(0), "{out}");
    eventually(super::WAIT, "the follow accepted", || (a.state("following", &origin.actor()).as_deref() == Some("accepted")).then_some(()));
    assert_eq!(a.cli(&["redundancy", "allow", &origin.host()]).0, Some(0));
    let (code, out) = a.cli(&["redundancy", "add", &video.url]);
    assert_eq!(code, Some(0), "{out}");

    // The orders name the cache after the origin, for the files a cache holds.
    let orders = a.admin("GET", "/api/v1/admin/redundancy/orders", None)["orders"].as_array().unwrap().clone();
    let files: Vec<&Value> = orders.iter().flat_map(|o| o["files"].as_array().unwrap()).collect();
    let sources = |name: &str| files.iter().find(|f| f["path"].as_str().unwrap().ends_with(name)).unwrap()["sources"].clone();
    assert_eq!(sources(&web.name), json!([web.url, format!("{}/static/redundancy/{}", cache.base, web.name)]));
    assert_eq!(sources(&hls.name), json!([hls.url, format!("{}/static/redundancy/hls/{UUID}/{}", cache.base, hls.name)]));
    let master = video.master_url.rsplit('/').next().unwrap();
    assert_eq!(sources(master), json!([video.master_url]), "caches hold no playlist");

    // The origin's bytes, the bad parts alone taken from the cache.
    let r = get(a.node.data, &format!("/static/redundancy/{}", web.name), &[]).unwrap();
    assert!(r.status == 200 && r.body == web.bytes, "the 360p web video");
    let r = get(a.node.data, &format!("/static/redundancy/hls/{UUID}/{}", hls.name), &[]).unwrap();
    assert!(r.status == 200 && r.body == hls.bytes, "the 240p HLS file");
    assert_eq!(cache.served(&format!("/static/redundancy/{}", web.name)), PIECE as u64, "one piece from the cache");
    assert_eq!(cache.served(&format!("/static/redundancy/hls/{UUID}/{}", hls.name)), seg_end - seg_start + 1, "one segment from the cache");
    for f in video.web.iter().chain(&video.hls).filter(|f| f.name != web.name && f.name != hls.name) {
        assert_eq!(cache.served(&format!("/static/redundancy/{}", f.name)) + cache.served(&format!("/static/redundancy/hls/{UUID}/{}", f.name)), 0, "{}", f.name);
    }
}
