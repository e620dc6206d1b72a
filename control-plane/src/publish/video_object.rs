//! The ActivityPub `Video` object of one of our videos and the activities that carry it, pure,
//! in PeerTube 6.3's shapes (field by field after a real one): what PeerTube requires (name,
//! `PT<n>S` duration, uuid, dates, icons with sizes, `url` Links to the watch page, the file
//! with its height, width, size and fps, its torrent and magnet, the trackers, `attributedTo`
//! a Person and a Group) and what it uses (description, language, licence, category, tags).
//! Activities: the account's `Create`, the channel's and instance's `Announce`, `Update`,
//! `Delete`, with PeerTube's ids and audiences.

use serde_json::{json, Map, Value};

use super::actors::{LocalActors, Role};
use super::metadata::{category_name, language_name, licence_name};
use crate::store::PublishedVideo;
use crate::video::Video;

pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// PeerTube's thumbnail and preview sizes (`THUMBNAILS_SIZE`, `PREVIEWS_SIZE`).
pub const THUMBNAIL: (u32, u32) = (280, 157);
pub const PREVIEW: (u32, u32) = (850, 480);

/// The media types PeerTube takes for a video file Link (`MIMETYPES.AP_VIDEO`).
pub const PLAYABLE: [&str; 4] = ["video/mp4", "video/webm", "video/ogg", "audio/mp4"];

/// The context of a Video and of activities carrying one: PeerTube's own terms, so that its
/// Linked Data signature canonicalises every field.
pub fn video_context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        { "RsaSignature2017": "https://w3id.org/security#RsaSignature2017" },
        {
            "pt": "https://joinpeertube.org/ns#",
            "sc": "http://schema.org/",
            "Hashtag": "as:Hashtag",
            "category": "sc:category",
            "licence": "sc:license",
            "subtitleLanguage": "sc:subtitleLanguage",
            "sensitive": "as:sensitive",
            "language": "sc:inLanguage",
            "identifier": "sc:identifier",
            "isLiveBroadcast": "sc:isLiveBroadcast",
            "liveSaveReplay": { "@type": "sc:Boolean", "@id": "pt:liveSaveReplay" },
            "permanentLive": { "@type": "sc:Boolean", "@id": "pt:permanentLive" },
            "latencyMode": { "@type": "sc:Number", "@id": "pt:latencyMode" },
            "Infohash": "pt:Infohash",
            "aspectRatio": { "@type": "sc:Float", "@id": "pt:aspectRatio" },
            "uuid": { "@type": "sc:identifier", "@id": "pt:uuid" },
            "originallyPublishedAt": "sc:datePublished",
            "uploadDate": "sc:uploadDate",
            "views": { "@type": "sc:Number", "@id": "pt:views" },
            "state": { "@type": "sc:Number", "@id": "pt:state" },
            "size": { "@type": "sc:Number", "@id": "pt:size" },
            "fps": { "@type": "sc:Number", "@id": "pt:fps" },
            "commentsEnabled": { "@type": "sc:Boolean", "@id": "pt:commentsEnabled" },
            "canReply": "pt:canReply",
            "commentsPolicy": { "@type": "sc:Number", "@id": "pt:commentsPolicy" },
            "downloadEnabled": { "@type": "sc:Boolean", "@id": "pt:downloadEnabled" },
            "waitTranscoding": { "@type": "sc:Boolean", "@id": "pt:waitTranscoding" },
            "support": { "@type": "sc:Text", "@id": "pt:support" },
            "likes": { "@id": "as:likes", "@type": "@id" },
            "dislikes": { "@id": "as:dislikes", "@type": "@id" },
            "shares": { "@id": "as:shares", "@type": "@id" },
            "comments": { "@id": "as:comments", "@type": "@id" },
            "PropertyValue": "sc:PropertyValue",
            "value": "sc:value"
        }
    ])
}

/// The watch URL of a video: its ActivityPub id.
pub fn video_url(base: &str, uuid: &str) -> String {
    format!("{base}/videos/watch/{uuid}")
}

/// Where an image of a video is served (`kind`: thumbnail or preview).
pub fn image_url(base: &str, kind: &str, uuid: &str) -> String {
    let folder = if kind == "preview" { "previews" } else { "thumbnails" };
    format!("{base}/lazy-static/{folder}/{uuid}.jpg")
}

/// Whether a UUID is written as PeerTube writes them (lower-case 8-4-4-4-12 hex).
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

/// A fresh random (version 4) UUID.
pub fn new_uuid() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // The OS random source failed: time and a counter still give a unique id.
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        b = t.to_le_bytes();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// Whether a video can be described to PeerTube, and why not.
pub fn federable(v: &PublishedVideo, content_type: &str) -> Result<(), String> {
    if let Some(e) = &v.probe_error {
        return Err(e.clone());
    }
    if v.duration_s.is_none() {
        return Err("its file has not been read yet".into());
    }
    if !PLAYABLE.contains(&content_type) {
        return Err(format!("PeerTube plays only MP4, WebM and Ogg files (this one is {content_type})"));
    }
    Ok(())
}

/// An image as the Video's `icon` lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageSize {
    pub preview: bool,
    pub width: u32,
    pub height: u32,
}

fn file_link(media_type: &str, href: &str, v: &PublishedVideo) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), "Link".into());
    m.insert("mediaType".into(), media_type.into());
    m.insert("href".into(), href.into());
    m.insert("height".into(), v.height.unwrap_or(0).into());
    m.insert("width".into(), v.width.unwrap_or(0).into());
    m
}

/// The Video object. `file` is the library's view of the video (its file, torrent, magnet and
/// trackers); `images` the icons that exist.
pub fn video_object(actors: &LocalActors, v: &PublishedVideo, file: &Video, images: &[ImageSize]) -> Value {
    let base = &actors.instance.base;
    let url = video_url(base, &v.uuid);
    let fps = v.fps.unwrap_or(0);
    let mut links: Vec<Value> = vec![json!({ "type": "Link", "mediaType": "text/html", "href": url })];
    let mut media = file_link(&file.content_type, &file.file_url, v);
    media.insert("size".into(), file.size.into());
    media.insert("fps".into(), fps.into());
    media.insert("attachment".into(), json!([{ "type": "PropertyValue", "name": "peertube_format_flag", "value": "web-video" }]));
    links.push(Value::Object(media));
    let mut torrent = file_link("application/x-bittorrent", &file.torrent_url, v);
    torrent.insert("fps".into(), fps.into());
    links.push(Value::Object(torrent));
    let mut magnet = file_link("application/x-bittorrent;x-scheme-handler/magnet", &file.magnet_uri, v);
    magnet.insert("fps".into(), fps.into());
    links.push(Value::Object(magnet));
    for t in &file.trackers {
        let kind = if t.starts_with("ws") { "websocket" } else { "http" };
        links.push(json!({ "type": "Link", "name": format!("tracker-{kind}"), "rel": ["tracker", kind], "href": t }));
    }
    let icons: Vec<Value> = images
        .iter()
        .map(|i| {
            json!({
                "type": "Image",
                "url": image_url(base, if i.preview { "preview" } else { "thumbnail" }, &v.uuid),
                "mediaType": "image/jpeg",
                "width": i.width,
                "height": i.height,
            })
        })
        .collect();
    let tags: Vec<Value> = v.tag_list().into_iter().map(|t| json!({ "type": "Hashtag", "name": t })).collect();
    let aspect = match (v.width, v.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => json!((w as f64 / h as f64 * 10_000.0).round() / 10_000.0),
        _ => Value::Null,
    };
    let mut o = json!({
        "@context": video_context(),
        "to": [PUBLIC],
        "cc": [actors.followers(Role::Account)],
        "type": "Video",
        "id": url,
        "name": v.title,
        "duration": format!("PT{}S", v.duration_s.unwrap_or(0)),
        "uuid": v.uuid,
        "views": 0,
        "sensitive": false,
        "waitTranscoding": false,
        "state": 1,
        "commentsEnabled": false,
        "canReply": null,
        "commentsPolicy": 2,
        "downloadEnabled": true,
        "published": crate::clock::iso_of_ms(v.published_at_ms),
        "originallyPublishedAt": null,
        "updated": crate::clock::iso_of_ms(v.updated_at_ms.max(v.published_at_ms)),
        "tag": tags,
        "mediaType": "text/markdown",
        "content": v.description,
        "support": null,
        "subtitleLanguage": [],
        "icon": icons,
        "preview": [],
        "aspectRatio": aspect,
        "url": links,
        "likes": format!("{url}/likes"),
        "dislikes": format!("{url}/dislikes"),
        "shares": format!("{url}/announces"),
        "comments": format!("{url}/comments"),
        "attributedTo": [
            { "type": "Person", "id": actors.url(Role::Account) },
            { "type": "Group", "id": actors.url(Role::Channel) }
        ],
        "isLiveBroadcast": false,
        "liveSaveReplay": null,
        "permanentLive": null,
        "latencyMode": null,
    });
    if let Some(l) = &v.language {
        o["language"] = json!({ "identifier": l, "name": language_name(l) });
    }
    if let Some(id) = v.licence {
        o["licence"] = json!({ "identifier": id.to_string(), "name": licence_name(id).unwrap_or("Unknown") });
    }
    if let Some(id) = v.category {
        o["category"] = json!({ "identifier": id.to_string(), "name": category_name(id).unwrap_or("Unknown") });
    }
    o
}

/// The audience of the Announces (and of the Update and Delete): the public and the followers
/// of every actor involved in the video (the instance, which shares it, the channel and the
/// account).
pub fn involved_audience(actors: &LocalActors) -> Vec<String> {
    vec![
        PUBLIC.to_owned(),
        actors.followers(Role::Channel),
        format!("{}/followers", actors.instance.actor_url()),
        actors.followers(Role::Account),
    ]
}

/// The account's `Create` of the video (id `<video>/activity`, to the public, cc the account's
/// followers; the object carries the same audience).
pub fn create(actors: &LocalActors, object: &Value) -> Value {
    let mut a = json!({
        "@context": video_context(),
        "to": [PUBLIC],
        "cc": [actors.followers(Role::Account)],
        "type": "Create",
        "id": format!("{}/activity", object["id"].as_str().unwrap_or_default()),
        "actor": actors.url(Role::Account),
        "object": object,
    });
    if let Some(o) = a["object"].as_object_mut() {
        o.remove("@context");
    }
    a
}

/// Who shares a video: the instance actor or the channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sharer {
    Instance,
    Channel,
}

/// The id of a sharer's Announce of a video.
pub fn announce_id(video_url: &str, by: Sharer) -> String {
    format!("{video_url}/announces/{}", match by {
        Sharer::Instance => "instance",
        Sharer::Channel => "channel",
    })
}

/// An `Announce` of the video by the instance actor or the channel (the object is the video's
/// URL, as PeerTube sends it).
pub fn announce(actors: &LocalActors, video_url: &str, by: Sharer) -> Value {
    json!({
        "@context": crate::activitypub::actor::context(),
        "to": involved_audience(actors),
        "cc": [],
        "type": "Announce",
        "id": announce_id(video_url, by),
        "actor": match by {
            Sharer::Instance => actors.instance.actor_url(),
            Sharer::Channel => actors.url(Role::Channel),
        },
        "object": video_url,
    })
}

/// The account's `Update` of the video (id `<video>/updates/<updated>`).
pub fn update(actors: &LocalActors, object: &Value) -> Value {
    let mut a = create(actors, object);
    let url = object["id"].as_str().unwrap_or_default();
    a["type"] = "Update".into();
    a["id"] = format!("{url}/updates/{}", object["updated"].as_str().unwrap_or_default()).into();
    a
}

/// The account's `Delete` of the video (id `<video>/delete`).
pub fn delete(actors: &LocalActors, video_url: &str) -> Value {
    json!({
        "@context": crate::activitypub::actor::context(),
        "to": involved_audience(actors),
        "cc": [],
        "type": "Delete",
        "id": format!("{video_url}/delete"),
        "actor": actors.url(Role::Account),
        "object": video_url,
    })
}

#[cfg(test)]
#[path = "video_object_tests.rs"]
mod tests;
