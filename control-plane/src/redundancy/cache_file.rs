//! `CacheFile` objects and the activities that announce them, in PeerTube's shapes and ids, and
//! the check of one received from another instance (PeerTube's `isCacheFileObjectValid`). Pure.
//!
//! Ids: `<base>/redundancy/videos/<uuid>/<resolution>[-<fps>]` for a web-video file,
//! `<base>/redundancy/streaming-playlists/hls/<uuid>` for an HLS playlist. Create: the object's
//! id + `/activity`; Update: + `/updates/<updated ISO>`; Undo: + `/undo`, wrapping the Create
//! with the default audience (Public, our followers). Sent to the origin video's account:
//! `to: [account]`, `cc: []` on the activity and its object.

use serde_json::{json, Value};

use crate::activitypub::ld_signature::peertube_context;

const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// What a copy holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CopyKind {
    /// One web-video file: its resolution, fps, size, media type and the file name the origin
    /// gives it.
    WebVideo { resolution: u32, fps: Option<u32>, size: u64, media_type: String, file_name: String },
    /// The HLS playlist's files.
    Hls,
}

/// A copy of a remote video's file(s) held by this instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copy {
    /// This instance's base URL, e.g. `https://cache.example`.
    pub base: String,
    /// Where the copy is served from (our data nodes' public URL).
    pub serve_base: String,
    pub video_uuid: String,
    /// The video's ActivityPub id (its watch URL at the origin).
    pub video_url: String,
    pub kind: CopyKind,
    /// ISO 8601; `None` for a copy kept until removed (manual).
    pub expires: Option<String>,
}

impl Copy {
    /// The CacheFile's id.
    pub fn id(&self) -> String {
        match &self.kind {
            CopyKind::WebVideo { resolution, fps, .. } => {
                let suffix = fps.map(|f| format!("-{f}")).unwrap_or_default();
                format!("{}/redundancy/videos/{}/{resolution}{suffix}", self.base, self.video_uuid)
            }
            CopyKind::Hls => format!("{}/redundancy/streaming-playlists/hls/{}", self.base, self.video_uuid),
        }
    }

    /// Where the copy's bytes are: the web-video file's URL, or the HLS folder's (the player
    /// appends the file names).
    pub fn href(&self) -> String {
        match &self.kind {
            CopyKind::WebVideo { file_name, .. } => format!("{}/static/redundancy/{file_name}", self.serve_base),
            CopyKind::Hls => format!("{}/static/redundancy/hls/{}", self.serve_base, self.video_uuid),
        }
    }

    /// The object, with its audience.
    pub fn object(&self, to: &[String], cc: &[String]) -> Value {
        let url = match &self.kind {
            CopyKind::WebVideo { resolution, fps, size, media_type, .. } => {
                let mut u = json!({ "type": "Link", "mediaType": media_type, "href": self.href(), "height": resolution, "size": size });
                if let Some(f) = fps {
                    u["fps"] = json!(f);
                }
                u
            }
            CopyKind::Hls => json!({ "type": "Link", "mediaType": "application/x-mpegURL", "href": self.href() }),
        };
        json!({
            "to": to, "cc": cc, "id": self.id(), "type": "CacheFile", "object": self.video_url,
            "expires": self.expires, "url": url,
        })
    }

    /// The object as served at its id: the default audience (Public, our followers).
    pub fn public_object(&self, our_actor: &str) -> Value {
        with_context(self.object(&[PUBLIC.to_owned()], &[format!("{our_actor}/followers")]))
    }

    /// `Create` of the copy, addressed to the origin video's account (unsigned).
    pub fn create(&self, our_actor: &str, origin_account: &str) -> Value {
        self.create_as(our_actor, origin_account, "")
    }

    /// `Create` of the copy whose activity id ends with `suffix` (`""`: PeerTube's id). A copy
    /// made again after it was undone needs a new activity id: delivery queues and inboxes
    /// take an activity id once.
    pub fn create_as(&self, our_actor: &str, origin_account: &str, suffix: &str) -> Value {
        let to = [origin_account.to_owned()];
        with_context(json!({
            "to": to, "cc": [], "type": "Create", "id": format!("{}/activity{suffix}", self.id()), "actor": our_actor,
            "object": self.object(&to, &[]),
        }))
    }

    /// `Update` of the copy (a later `expires`), `updated` the ISO time of the change.
    pub fn update(&self, our_actor: &str, origin_account: &str, updated: &str) -> Value {
        let to = [origin_account.to_owned()];
        with_context(json!({
            "to": to, "cc": [], "type": "Update", "id": format!("{}/updates/{updated}", self.id()), "actor": our_actor,
            "object": self.object(&to, &[]),
        }))
    }

    /// `Undo` of the Create (the copy is gone), the inner Create with the default audience.
    pub fn undo(&self, our_actor: &str, origin_account: &str) -> Value {
        self.undo_as(our_actor, origin_account, "")
    }

    /// `Undo` of the Create made by [`Copy::create_as`] with `suffix`.
    pub fn undo_as(&self, our_actor: &str, origin_account: &str, suffix: &str) -> Value {
        let public = [PUBLIC.to_owned()];
        let followers = [format!("{our_actor}/followers")];
        let inner = json!({
            "to": public, "cc": followers, "type": "Create", "id": format!("{}/activity{suffix}", self.id()), "actor": our_actor,
            "object": self.object(&public, &followers),
        });
        with_context(json!({
            "to": [origin_account], "cc": [], "type": "Undo", "id": format!("{}/undo{suffix}", self.id()), "actor": our_actor,
            "object": inner,
        }))
    }
}

fn with_context(mut v: Value) -> Value {
    if let (Value::Object(map), Some(ctx)) = (&mut v, peertube_context("CacheFile")) {
        let mut out = serde_json::Map::new();
        out.insert("@context".into(), ctx);
        out.append(map);
        return Value::Object(out);
    }
    v
}

/// A CacheFile received from another instance, checked as PeerTube checks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedCopy {
    pub id: String,
    pub video_url: String,
    pub href: String,
    pub expires: Option<String>,
    /// `None` for HLS; the file's height and fps for a web video.
    pub file: Option<(u32, Option<i64>)>,
}

fn is_http_url(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://")) && s.len() > 8 && !s.contains(char::is_whitespace)
}

/// Checks a received CacheFile object; the error says what is wrong.
pub fn parse_received(v: &Value) -> Result<ReceivedCopy, String> {
    if v.get("type").and_then(Value::as_str) != Some("CacheFile") {
        return Err("not a CacheFile".into());
    }
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    let id = s("id").filter(|u| is_http_url(u)).ok_or("the CacheFile's id is not a URL")?;
    let video_url = s("object").filter(|u| is_http_url(u)).ok_or("the CacheFile's object is not a URL")?;
    let expires = match v.get("expires") {
        None | Some(Value::Null) => None,
        Some(Value::String(e)) if e.len() >= 20 && e.as_bytes()[4] == b'-' && e.contains('T') => Some(e.clone()),
        Some(other) => return Err(format!("expires {other} is not an ISO date")),
    };
    let url = v.get("url").ok_or("the CacheFile has no url")?;
    let href = url.get("href").and_then(Value::as_str).filter(|u| is_http_url(u)).ok_or("the CacheFile's url has no href URL")?;
    let media = url.get("mediaType").or_else(|| url.get("mimeType")).and_then(Value::as_str).unwrap_or_default();
    let file = if media == "application/x-mpegURL" {
        None
    } else if media.starts_with("video/") || media.starts_with("audio/") {
        let int = |k: &str| url.get(k).or_else(|| url.get(format!("_:{k}").as_str())).and_then(Value::as_i64);
        let height = int("height").and_then(|h| u32::try_from(h).ok()).ok_or("the web-video Link has no integer height ≥ 0")?;
        int("size").filter(|s| *s >= 0).ok_or("the web-video Link has no integer size ≥ 0")?;
        let fps = match int("fps") {
            Some(f) if f < -1 => return Err(format!("fps {f} is below -1")),
            f => f,
        };
        Some((height, fps))
    } else {
        return Err(format!("media type {media:?} is neither HLS nor a video"));
    };
    Ok(ReceivedCopy { id: id.to_owned(), video_url: video_url.to_owned(), href: href.to_owned(), expires, file })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(name: &str) -> Value {
        let text = match name {
            "create-hls" => include_str!("../../tests-data/peertube-6.3/activity-Create-CacheFile.json"),
            "create-web" => include_str!("../../tests-data/peertube-6.3/activity-Create-CacheFile-web-video.json"),
            "undo-hls" => include_str!("../../tests-data/peertube-6.3/activity-Undo-CacheFile.json"),
            _ => unreachable!(),
        };
        let mut v: Value = serde_json::from_str(text).unwrap();
        v.as_object_mut().unwrap().remove("signature");
        v
    }

    const ACTOR: &str = "http://127.0.0.1:9012/accounts/peertube";
    const ORIGIN_ACCOUNT: &str = "http://127.0.0.1:9011/accounts/root";

    fn copy(kind: CopyKind) -> Copy {
        Copy {
            base: "http://127.0.0.1:9012".into(),
            serve_base: "http://127.0.0.1:9012".into(),
            video_uuid: "202e2a06-b073-46f0-8197-a77a379ce081".into(),
            video_url: "http://127.0.0.1:9011/videos/watch/202e2a06-b073-46f0-8197-a77a379ce081".into(),
            kind,
            expires: None,
        }
    }

    fn web360() -> CopyKind {
        CopyKind::WebVideo {
            resolution: 360,
            fps: Some(25),
            size: 142634,
            media_type: "video/mp4".into(),
            file_name: "ea838cde-910a-4f1f-91c9-0634fa207b7e-360.mp4".into(),
        }
    }

    #[test]
    fn activities_are_peertube_s_own_to_the_byte() {
        assert_eq!(copy(CopyKind::Hls).create(ACTOR, ORIGIN_ACCOUNT), vector("create-hls"));
        assert_eq!(copy(web360()).create(ACTOR, ORIGIN_ACCOUNT), vector("create-web"));
        assert_eq!(copy(CopyKind::Hls).undo(ACTOR, ORIGIN_ACCOUNT), vector("undo-hls"));
    }

    #[test]
    fn a_copy_made_again_gets_new_activity_ids() {
        let c = copy(web360());
        let create = c.create_as(ACTOR, ORIGIN_ACCOUNT, "/2");
        let undo = c.undo_as(ACTOR, ORIGIN_ACCOUNT, "/2");
        assert_eq!(create["id"], format!("{}/activity/2", c.id()));
        assert_eq!(undo["id"], format!("{}/undo/2", c.id()));
        assert_eq!(undo["object"]["id"], create["id"], "the Undo names the Create it undoes");
        assert_eq!(create["object"], c.create(ACTOR, ORIGIN_ACCOUNT)["object"], "the same CacheFile");
    }

    #[test]
    fn updates_and_expiring_copies() {
        let mut c = copy(web360());
        c.expires = Some("2026-12-08T01:00:00.000Z".into());
        let u = c.update(ACTOR, ORIGIN_ACCOUNT, "2026-12-07T01:00:00.000Z");
        assert_eq!(u["id"], format!("{}/updates/2026-12-07T01:00:00.000Z", c.id()));
        assert_eq!(u["object"]["expires"], "2026-12-08T01:00:00.000Z");
        assert_eq!(u["type"], "Update");
        let no_fps = copy(CopyKind::WebVideo { resolution: 360, fps: None, size: 1, media_type: "video/webm".into(), file_name: "a.webm".into() });
        assert!(no_fps.id().ends_with("/360"), "no -fps suffix without fps");
        let served = copy(CopyKind::Hls).public_object(ACTOR);
        assert_eq!(served["to"][0], PUBLIC);
        assert_eq!(served["cc"][0], format!("{ACTOR}/followers"));
        assert!(served.get("@context").is_some());
    }

    #[test]
    fn received_cache_files_are_checked_as_peertube_does() {
        let web = parse_received(&vector("create-web")["object"]).unwrap();
        assert_eq!(web.file, Some((360, Some(25))));
        assert!(web.href.ends_with("-360.mp4"));
        let hls = parse_received(&vector("create-hls")["object"]).unwrap();
        assert_eq!(hls.file, None);
        let bad = |f: &dyn Fn(&mut Value)| {
            let mut v = vector("create-web")["object"].clone();
            f(&mut v);
            parse_received(&v).unwrap_err()
        };
        assert!(bad(&|v| v["type"] = "Note".into()).contains("not a CacheFile"));
        assert!(bad(&|v| v["object"] = "javascript:x".into()).contains("object"));
        assert!(bad(&|v| v["url"]["href"] = "ftp://x".into()).contains("href"));
        assert!(bad(&|v| v["url"]["height"] = "high".into()).contains("height"));
        assert!(bad(&|v| v["url"]["fps"] = (-2).into()).contains("fps"));
        assert!(bad(&|v| v["url"]["mediaType"] = "text/html".into()).contains("media type"));
        assert!(bad(&|v| v["expires"] = 5.into()).contains("expires"));
    }
}
