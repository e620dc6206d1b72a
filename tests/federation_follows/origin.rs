//! vidseed as an origin, between two real instances over loopback: B publishes a real MP4 of
//! its media folder; A follows B and learns the video from the activities and documents alone
//! (its PeerTube-shaped reader of remote videos, the one it uses for PeerTube instances): name,
//! size, file; B's Video object, account, channel and images answer as PeerTube fetches them;
//! the info-hash watch URL redirects; an admin edit reaches A as an Update, a removed file as a
//! Delete; the channel can be followed on its own.

use std::time::Duration;

use serde_json::{json, Value};

use super::common::{eventually, get, Node};
use super::Instance;

const WAIT: Duration = Duration::from_secs(40);
const CLIP: &[u8] = include_bytes!("../../control-plane/tests-data/media/clip-320x180-25fps-3s.mp4");

fn ap(node: &Node, target: &str) -> (u16, Value) {
    let r = get(node.control, target, &[("Accept", "application/activity+json")]).unwrap();
    (r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null))
}

fn remote_videos(a: &Instance) -> Vec<Value> {
    a.admin("GET", "/api/v1/admin/redundancy/videos", None)["videos"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_follower_learns_our_videos_from_their_objects_and_follows_edits_and_removals() {
    let b = Instance { node: Node::start(&[("films/My_holiday.mp4", CLIP)], &["--allow-private-federation", "--rescan-interval", "1"]), token: String::new() };
    let b = Instance { token: super::common::admin_token(&b.node), node: b.node };
    let a = Instance::start();

    // B's own view: a UUID, facts read from the file, federated once its node serves it.
    let v = eventually(WAIT, "B's video federated", || {
        let list = b.admin("GET", "/api/v1/admin/videos/published", None);
        list["videos"].as_array()?.first().filter(|v| v["state"] == "federated").cloned()
    });
    let uuid = v["uuid"].as_str().unwrap().to_owned();
    assert_eq!((v["title"].as_str(), v["duration"].as_i64(), v["width"].as_i64(), v["height"].as_i64(), v["fps"].as_i64()), (Some("My holiday"), Some(3), Some(320), Some(180), Some(25)));
    let url = format!("{}/videos/watch/{uuid}", b.base());
    assert_eq!(v["url"], url);

    // The documents PeerTube fetches.
    let (status, video) = ap(&b.node, &format!("/videos/watch/{uuid}"));
    assert_eq!(status, 200);
    assert_eq!((video["type"].as_str(), video["id"].as_str(), video["duration"].as_str()), (Some("Video"), Some(url.as_str()), Some("PT3S")));
    let file = video["url"].as_array().unwrap().iter().find(|l| l["mediaType"] == "video/mp4").unwrap().clone();
    assert_eq!((file["width"].as_i64(), file["height"].as_i64(), file["fps"].as_i64(), file["size"].as_u64()), (Some(320), Some(180), Some(25), Some(CLIP.len() as u64)));
    let file_url = file["href"].as_str().unwrap();
    let data = file_url.strip_prefix(&format!("http://{}", b.node.data)).unwrap();
    let bytes = get(b.node.data, data, &[]).unwrap();
    assert_eq!((bytes.status, bytes.body.len()), (200, CLIP.len()), "the file link is B's WebSeed");
    for icon in video["icon"].as_array().unwrap() {
        let path = icon["url"].as_str().unwrap().strip_prefix(&b.base()).unwrap();
        let img = get(b.node.control, path, &[]).unwrap();
        assert_eq!((img.status, img.header("content-type")), (200, Some("image/jpeg")));
        assert!(img.body.starts_with(&[0xff, 0xd8]));
    }
    let (status, person) = ap(&b.node, "/accounts/vidseed");
    assert_eq!((status, person["type"].as_str()), (200, Some("Person")));
    let (status, group) = ap(&b.node, "/video-channels/vidseed_channel");
    assert_eq!((status, group["type"].as_str(), group["attributedTo"][0]["id"].as_str()), (200, Some("Group"), person["id"].as_str()));
    let finger = get(b.node.control, &format!("/.well-known/webfinger?resource=acct:vidseed_channel@{}", b.node.control), &[]).unwrap();
    assert_eq!(finger.status, 200);
    // A browser gets the page; the old info-hash URL sends it to the UUID one.
    let page = get(b.node.control, &format!("/videos/watch/{uuid}"), &[("Accept", "text/html")]).unwrap();
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("<video"));
    let ih = video["url"].as_array().unwrap().iter().find_map(|l| l["href"].as_str()?.split("btih:").nth(1)?.get(..40).map(str::to_owned)).unwrap();
    let old = get(b.node.control, &format!("/videos/watch/{ih}"), &[]).unwrap();
    assert_eq!((old.status, old.header("location")), (301, Some(format!("/videos/watch/{uuid}").as_str())));

    // A follows B: from B's outbox and activities, A knows the video, read as PeerTube's are.
    a.admin("POST", "/api/v1/admin/following", Some(json!({ "host": b.base() })));
    let known = eventually(WAIT, "A to know B's video", || remote_videos(&a).into_iter().find(|v| v["url"] == url));
    assert_eq!((known["name"].as_str(), known["webVideos"].as_u64(), known["size"].as_u64()), (Some("My holiday"), Some(1), Some(CLIP.len() as u64)));
    let (_, outbox) = ap(&b.node, "/accounts/peertube/outbox?page=1");
    assert_eq!((outbox["totalItems"].as_u64(), outbox["orderedItems"][0]["type"].as_str(), outbox["orderedItems"][0]["object"].as_str()), (Some(1), Some("Announce"), Some(url.as_str())));

    // An edit reaches A as an Update.
    let (code, out) = b.cli(&["video", "edit", &uuid, "--title", "Sea and sun", "--description", "Three seconds of test card", "--tag", "sea"]);
    assert_eq!(code, Some(0), "{out}");
    eventually(WAIT, "A to see the new title", || remote_videos(&a).into_iter().find(|v| v["url"] == url && v["name"] == "Sea and sun"));
    let (code, table) = b.cli(&["video", "list"]);
    assert_eq!(code, Some(0), "{table}");
    assert!(table.lines().any(|l| l.contains(&uuid) && l.contains("Sea and sun") && l.contains("0:03") && l.contains("320x180 25fps")), "{table}");
    let (code, table) = b.cli(&["videos"]);
    assert_eq!(code, Some(0), "{table}");
    assert!(table.lines().any(|l| l.starts_with(&uuid) && l.contains("Sea and sun") && l.contains("0:03") && l.contains("320x180 25fps")), "{table}");
    assert!(table.contains("    path      films/My_holiday.mp4"), "{table}");

    // The channel can be followed on its own: A's instance actor follows it like a PeerTube
    // user would, and B counts the follower.
    a.admin("POST", "/api/v1/admin/following", Some(json!({ "host": format!("{}/video-channels/vidseed_channel", b.base()) })));
    eventually(WAIT, "the channel's follower", || (ap(&b.node, "/video-channels/vidseed_channel/followers").1["totalItems"] == 1).then_some(()));

    // Removing the file deletes the video at A.
    std::fs::remove_file(b.node.media.join("films/My_holiday.mp4")).unwrap();
    eventually(WAIT, "A to forget B's video", || (!remote_videos(&a).iter().any(|v| v["url"] == url)).then_some(()));
    assert_eq!(ap(&b.node, &format!("/videos/watch/{uuid}")).0, 404);
}
