//! PeerTube's rules for a remote Video (`sanitizeAndCheckVideoTorrentObject`,
//! `isRemoteVideoUrlValid`, `setValidRemoteIcon`, `setValidAttributedTo`, and what
//! `getFileAttributesFromUrl` needs of a file: a magnet of the same height whose `xs` is the
//! torrent) reproduced as a checker, proven on PeerTube's own object (the 6.3 vector), shown to
//! refuse broken objects, then applied to ours.

use serde_json::{json, Value};

use super::*;
use crate::activitypub::actor::Instance;

fn is_url(v: &Value) -> bool {
    v.as_str().is_some_and(|u| (u.starts_with("http://") || u.starts_with("https://")) && u.len() > 10 && u.len() <= 2000 && !u.contains(' '))
}

fn is_int(v: &Value, min: i64) -> bool {
    match v {
        Value::Number(n) => n.as_i64().is_some_and(|i| i >= min),
        Value::String(s) => s.parse::<i64>().is_ok_and(|i| i >= min),
        _ => false,
    }
}

fn is_date(v: &Value) -> bool {
    v.as_str().and_then(crate::clock::parse_iso_8601).is_some()
}

const VIDEO_TYPES: [&str; 4] = ["video/mp4", "video/webm", "video/ogg", "audio/mp4"];

fn url_valid(u: &Value) -> bool {
    let mt = u["mediaType"].as_str().unwrap_or("");
    u["type"] == "Link"
        && ((VIDEO_TYPES.contains(&mt) && is_url(&u["href"]) && is_int(&u["height"], 0) && is_int(&u["size"], 0) && (u.get("fps").is_none_or(|f| is_int(f, -1))))
            || (mt == "application/x-bittorrent" && is_url(&u["href"]) && is_int(&u["height"], 0))
            || (mt == "application/x-bittorrent;x-scheme-handler/magnet" && u["href"].as_str().is_some_and(|h| h.len() >= 5) && is_int(&u["height"], 0))
            || (mt == "application/x-mpegURL" && is_url(&u["href"]) && u["tag"].is_array())
            || (u["rel"].as_array().is_some_and(|r| r.iter().any(|x| x == "tracker")) && is_url(&u["href"]))
            || (mt == "application/json" && u["rel"].as_array().is_some_and(|r| r.iter().any(|x| x == "metadata"))))
}

/// What PeerTube 6.3 checks before it creates a remote video, and what it needs to make its
/// file rows.
pub(crate) fn peertube_accepts(v: &Value) -> Result<(), String> {
    if v["type"] != "Video" {
        return Err("type".into());
    }
    let urls: Vec<&Value> = v["url"].as_array().ok_or("url is not an array")?.iter().filter(|u| url_valid(u)).collect();
    let by: Vec<&Value> = match &v["attributedTo"] {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let by: Vec<&Value> = by.into_iter().filter(|a| is_url(a) || ((a["type"] == "Group" || a["type"] == "Person") && is_url(&a["id"]))).collect();
    let icons = match &v["icon"] {
        Value::Array(a) => a.clone(),
        Value::Null => vec![],
        other => vec![other.clone()],
    };
    let icons: Vec<&Value> = icons
        .iter()
        .filter(|i| i["type"] == "Image" && is_url(&i["url"]) && i["mediaType"].as_str().is_some_and(|m| m.starts_with("image/")) && is_int(&i["width"], 0) && is_int(&i["height"], 0))
        .collect();
    if icons.is_empty() {
        return Err("icons".into());
    }
    if !is_url(&v["id"]) {
        return Err("id".into());
    }
    let name = v["name"].as_str().ok_or("name")?;
    if !(3..=120).contains(&name.chars().count()) {
        return Err("name".into());
    }
    let d = v["duration"].as_str().ok_or("duration format")?;
    if !(d.starts_with("PT") && d.ends_with('S')) || d[2..d.len() - 1].parse::<u64>().is_err() {
        return Err("duration".into());
    }
    if !super::is_uuid(v["uuid"].as_str().unwrap_or("")) {
        return Err("uuid".into());
    }
    if v.get("category").is_some_and(|c| !c.is_null() && !is_int(&c["identifier"], 0)) {
        return Err("category".into());
    }
    if v.get("language").is_some_and(|l| !l.is_null() && !l["identifier"].is_string()) {
        return Err("language".into());
    }
    if !is_int(&v["views"], 0) {
        return Err("views".into());
    }
    if !is_date(&v["published"]) || !is_date(&v["updated"]) {
        return Err("dates".into());
    }
    if let Some(c) = v.get("content").filter(|c| !c.is_null()) {
        let ok = matches!(v["mediaType"].as_str(), Some("text/markdown" | "text/html")) && c.as_str().is_some_and(|c| (3..=10_000).contains(&c.chars().count()));
        if !ok {
            return Err("mediaType/content".into());
        }
    }
    if by.is_empty() {
        return Err("attributedTo".into());
    }
    if !by.iter().any(|a| a["type"] == "Group") {
        return Err("no channel (Group) in attributedTo".into());
    }
    // The files: each needs a magnet of its height, whose info-hash is valid and whose `xs` is
    // the torrent.
    for f in urls.iter().filter(|u| VIDEO_TYPES.contains(&u["mediaType"].as_str().unwrap_or(""))) {
        let magnet = urls
            .iter()
            .find(|u| u["mediaType"] == "application/x-bittorrent;x-scheme-handler/magnet" && u["height"] == f["height"])
            .ok_or("a file without a magnet of its height")?;
        let href = magnet["href"].as_str().unwrap_or("");
        let ih = href.split("xt=urn:btih:").nth(1).map(|r| r.split('&').next().unwrap_or("")).unwrap_or("");
        if ih.len() != 40 || !ih.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err("the magnet's info-hash".into());
        }
        if !href.contains("xs=") {
            return Err("the magnet names no torrent (xs)".into());
        }
    }
    if !urls.iter().any(|u| VIDEO_TYPES.contains(&u["mediaType"].as_str().unwrap_or(""))) {
        return Err("no playable file".into());
    }
    Ok(())
}

fn vector() -> Value {
    let text = include_str!("../../tests-data/peertube-6.3/video-object.json");
    serde_json::from_str(text).unwrap()
}

#[test]
fn the_checker_takes_peertubes_own_video_and_refuses_broken_ones() {
    let v = vector();
    peertube_accepts(&v).unwrap();
    type Breaking = fn(&mut Value);
    let broken: [(&str, Breaking); 9] = [
        ("short name", |v| v["name"] = "ab".into()),
        ("long name", |v| v["name"] = "x".repeat(121).into()),
        ("duration in seconds", |v| v["duration"] = 8.into()),
        ("ISO duration with minutes", |v| v["duration"] = "PT1M8S".into()),
        ("no icon", |v| v["icon"] = json!([])),
        ("icon without size", |v| v["icon"] = json!([{ "type": "Image", "url": "http://127.0.0.1:9011/t.jpg", "mediaType": "image/jpeg" }])),
        ("no attribution", |v| v["attributedTo"] = json!([])),
        ("bad uuid", |v| v["uuid"] = "202E2A06-B073-46F0-8197-A77A379CE081x".into()),
        ("one-character description", |v| v["content"] = "x".into()),
    ];
    for (what, breaking) in broken {
        let mut b = v.clone();
        breaking(&mut b);
        assert!(peertube_accepts(&b).is_err(), "{what}");
    }
}

fn published(uuid: &str) -> PublishedVideo {
    PublishedVideo {
        path: "films/My_holiday.mp4".into(),
        uuid: uuid.into(),
        title: "My holiday".into(),
        description: Some("Sea and **sun**".into()),
        language: Some("en".into()),
        licence: Some(1),
        category: Some(6),
        tags: "[\"sea\",\"sun\"]".into(),
        duration_s: Some(8),
        width: Some(640),
        height: Some(360),
        fps: Some(25),
        probe_error: None,
        probed_info_hash: Some("ab".repeat(20)),
        announced_info_hash: None,
        announced_at_ms: None,
        published_at_ms: 1_796_605_200_000,
        updated_at_ms: 1_796_605_200_500,
    }
}

fn file() -> Video {
    let ih = vidseed_shared::InfoHash([0xab; 20]);
    let trackers = vec!["ws://127.0.0.1:9001/tracker/socket".to_owned(), "http://127.0.0.1:9001/tracker/announce".to_owned()];
    let webseeds = vec!["http://127.0.0.1:9001/films/My_holiday.mp4".to_owned()];
    let torrent_url = format!("http://127.0.0.1:9000/torrents/{}.torrent", ih.to_hex());
    let magnet = crate::library::magnet::magnet_uri(&crate::library::magnet::MagnetParts { info_hash: &ih, name: "My_holiday.mp4", trackers: &trackers, webseeds: &webseeds, torrent_url: &torrent_url });
    Video {
        id: ih.to_hex(),
        name: "My_holiday.mp4".into(),
        path: "films/My_holiday.mp4".into(),
        size: 142_634,
        content_type: "video/mp4".into(),
        info_hash: ih,
        piece_length: 16384,
        file_url: webseeds[0].clone(),
        webseeds,
        torrent_url,
        watch_url: String::new(),
        magnet_uri: magnet,
        nodes: vec!["local".into()],
        trackers,
        tracker_node: None,
        federated: None,
    }
}

fn actors() -> LocalActors {
    LocalActors::new(Instance::new("http://127.0.0.1:9000"), None, None).unwrap()
}

const IMAGES: [ImageSize; 2] = [ImageSize { preview: false, width: 280, height: 157 }, ImageSize { preview: true, width: 850, height: 480 }];

#[test]
fn our_video_object_passes_peertubes_rules_field_by_field() {
    let uuid = new_uuid();
    let o = video_object(&actors(), &published(&uuid), &file(), &IMAGES);
    peertube_accepts(&o).unwrap();
    assert_eq!(o["id"], format!("http://127.0.0.1:9000/videos/watch/{uuid}"));
    assert_eq!(o["duration"], "PT8S");
    assert_eq!((o["published"].as_str(), o["updated"].as_str()), (Some("2026-12-07T01:00:00.000Z"), Some("2026-12-07T01:00:00.500Z")));
    assert_eq!(o["to"], json!([PUBLIC]));
    assert_eq!(o["cc"], json!(["http://127.0.0.1:9000/accounts/vidseed/followers"]));
    assert_eq!(o["attributedTo"], json!([{ "type": "Person", "id": "http://127.0.0.1:9000/accounts/vidseed" }, { "type": "Group", "id": "http://127.0.0.1:9000/video-channels/vidseed_channel" }]));
    let links = o["url"].as_array().unwrap();
    assert_eq!(links[0], json!({ "type": "Link", "mediaType": "text/html", "href": o["id"] }));
    let mp4 = links.iter().find(|l| l["mediaType"] == "video/mp4").unwrap();
    assert_eq!((mp4["href"].as_str(), mp4["height"].as_i64(), mp4["width"].as_i64(), mp4["size"].as_i64(), mp4["fps"].as_i64()), (Some("http://127.0.0.1:9001/films/My_holiday.mp4"), Some(360), Some(640), Some(142_634), Some(25)));
    let torrent = links.iter().find(|l| l["mediaType"] == "application/x-bittorrent").unwrap();
    assert_eq!(torrent["href"], format!("http://127.0.0.1:9000/torrents/{}.torrent", "ab".repeat(20)));
    assert!(links.iter().any(|l| l["rel"] == json!(["tracker", "websocket"]) && l["href"] == "ws://127.0.0.1:9001/tracker/socket"));
    assert!(links.iter().any(|l| l["rel"] == json!(["tracker", "http"])));
    assert_eq!(o["icon"][0]["url"], format!("http://127.0.0.1:9000/lazy-static/thumbnails/{uuid}.jpg"));
    assert_eq!((o["icon"][1]["width"].as_u64(), o["icon"][1]["height"].as_u64()), (Some(850), Some(480)));
    assert_eq!(o["tag"], json!([{ "type": "Hashtag", "name": "sea" }, { "type": "Hashtag", "name": "sun" }]));
    assert_eq!(o["licence"], json!({ "identifier": "1", "name": "Attribution" }));
    assert_eq!(o["category"], json!({ "identifier": "6", "name": "Travels" }));
    assert_eq!(o["language"], json!({ "identifier": "en", "name": "English" }));
    assert_eq!(o["content"], "Sea and **sun**");
    assert_eq!(o["aspectRatio"], 1.7778);
    // Every field PeerTube's own object has, we have too (storyboards and chapters aside).
    let ours: std::collections::BTreeSet<&String> = o.as_object().unwrap().keys().collect();
    for key in vector().as_object().unwrap().keys().filter(|k| *k != "hasParts") {
        assert!(ours.contains(key), "missing {key}");
    }
}

#[test]
fn without_images_or_facts_a_video_is_not_federable() {
    let o = video_object(&actors(), &published(&new_uuid()), &file(), &[]);
    assert_eq!(peertube_accepts(&o), Err("icons".into()));
    let mut v = published(&new_uuid());
    assert!(federable(&v, "video/mp4").is_ok());
    assert!(federable(&v, "video/x-matroska").unwrap_err().contains("MP4, WebM"));
    v.probe_error = Some("no moov box".into());
    assert_eq!(federable(&v, "video/mp4"), Err("no moov box".into()));
}

#[test]
fn activities_have_peertubes_ids_and_audiences() {
    let a = actors();
    let uuid = new_uuid();
    let o = video_object(&a, &published(&uuid), &file(), &IMAGES);
    let url = o["id"].as_str().unwrap().to_owned();
    let c = create(&a, &o);
    assert_eq!((c["type"].as_str(), c["id"].as_str(), c["actor"].as_str()), (Some("Create"), Some(format!("{url}/activity").as_str()), Some("http://127.0.0.1:9000/accounts/vidseed")));
    assert!(c["object"].get("@context").is_none());
    assert_eq!(c["object"]["to"], c["to"]);
    peertube_accepts(&c["object"]).unwrap();
    let an = announce(&a, &url, Sharer::Channel);
    assert_eq!(an["actor"], "http://127.0.0.1:9000/video-channels/vidseed_channel");
    assert_eq!(an["object"], url);
    assert_eq!(
        an["to"],
        json!([PUBLIC, "http://127.0.0.1:9000/video-channels/vidseed_channel/followers", "http://127.0.0.1:9000/accounts/peertube/followers", "http://127.0.0.1:9000/accounts/vidseed/followers"])
    );
    assert_ne!(announce_id(&url, Sharer::Instance), announce_id(&url, Sharer::Channel));
    let u = update(&a, &o);
    assert_eq!(u["id"], format!("{url}/updates/2026-12-07T01:00:00.500Z"));
    let d = delete(&a, &url);
    assert_eq!((d["id"].as_str(), d["object"].as_str()), (Some(format!("{url}/delete").as_str()), Some(url.as_str())));
}

#[test]
fn uuids() {
    let u = new_uuid();
    assert!(is_uuid(&u), "{u}");
    assert_eq!(&u[14..15], "4");
    assert_ne!(new_uuid(), u);
    assert!(!is_uuid("202e2a06-b073-46f0-8197-a77a379ce08"));
    assert!(!is_uuid("202E2A06-B073-46F0-8197-A77A379CE081"));
    assert!(is_uuid("202e2a06-b073-46f0-8197-a77a379ce081"));
}

#[test]
fn the_create_is_signed_with_every_term_defined() {
    // The Linked Data signature canonicalises in safe mode: a term missing from the context
    // would make signing fail.
    let keys = crate::activitypub::keys::InstanceKeys::generate().unwrap();
    let o = video_object(&actors(), &published(&new_uuid()), &file(), &IMAGES);
    let c = create(&actors(), &o);
    let signed = crate::activitypub::ld_signature::sign(&c, "http://127.0.0.1:9000/accounts/vidseed", "2026-12-07T00:00:00.000Z", keys.key_pair()).unwrap();
    assert_eq!(signed["signature"]["type"], "RsaSignature2017");
}
