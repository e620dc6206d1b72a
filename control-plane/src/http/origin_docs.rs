//! The ActivityPub documents of the instance's own videos and of its account and channel (does
//! I/O through the publisher): `/accounts/<account>` and `/video-channels/<channel>` with their
//! inboxes, outboxes, followers, following and playlists; the `Video` at `/videos/watch/<uuid>`
//! for ActivityPub clients, its Announces, likes, dislikes and comments; the thumbnails and
//! previews at `/lazy-static/…`.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use serde_json::Value;

use super::activitypub::Federation;
use super::error::ApiError;
use crate::activitypub::actor::{collection_of, context, wants_activity_json};
use crate::library::urls::query_param;
use crate::publish::actors::Role;
use crate::publish::video_object::is_uuid;

const AP_TYPE: &str = "application/activity+json; charset=utf-8";

fn ap(v: &Value) -> Response<Full<Bytes>> {
    let body = v.to_string().into_bytes();
    let len = body.len();
    let mut res = Response::new(Full::new(Bytes::from(body)));
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(AP_TYPE));
    res.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    res.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    res
}

fn not_found(what: &str) -> Response<Full<Bytes>> {
    ApiError::new(StatusCode::NOT_FOUND, what).response()
}

fn page_of(query: &str) -> Option<usize> {
    query_param(query, "page").and_then(|p| p.parse::<usize>().ok()).filter(|p| *p >= 1)
}

/// Whether the request asks for an ActivityPub document.
pub fn wants_ap<B>(req: &Request<B>) -> bool {
    wants_activity_json(req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or(""))
}

impl Federation {
    /// `GET /accounts/<name>…` or `/video-channels/<name>…` of our account or channel.
    pub async fn local_actor<B>(&self, req: &Request<B>) -> Response<Full<Bytes>> {
        let p = &self.publisher;
        let path = req.uri().path();
        let Some((role, rest)) = p.actors.role_of_path(path) else {
            return not_found("no such account or channel here");
        };
        let id = format!("{}{}", self.instance.base, path);
        let page = page_of(req.uri().query().unwrap_or(""));
        match rest {
            "" | "/" => {
                if wants_ap(req) {
                    ap(&p.actor_document(role))
                } else {
                    let mut res = Response::new(Full::new(Bytes::from_static(b"see /\n")));
                    *res.status_mut() = StatusCode::FOUND;
                    res.headers_mut().insert(header::LOCATION, HeaderValue::from_static("/"));
                    res
                }
            }
            "/outbox" => ap(&p.outbox(Some(role), &id, page)),
            "/followers" => match p.followers(role, &id, page).await {
                Ok(v) => ap(&v),
                Err(e) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).response(),
            },
            "/following" | "/video-playlists" | "/playlists" => ap(&collection_of(&id, 0, page, Vec::new())),
            "/video-channels" if role == Role::Account => {
                let channel = Value::String(p.actors.url(Role::Channel));
                ap(&collection_of(&id, 1, page, if page == Some(1) { vec![channel] } else { Vec::new() }))
            }
            "/inbox" => {
                let mut res = ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "an inbox takes signed POSTs of ActivityPub activities").response();
                res.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
                res
            }
            _ => not_found("no such document"),
        }
    }

    /// Whether a POST is for our account's or channel's inbox.
    pub fn is_local_inbox(&self, path: &str) -> bool {
        matches!(self.publisher.actors.role_of_path(path), Some((_, "/inbox")))
    }

    /// `/videos/watch/<uuid>[/…]` for an ActivityPub client; None when `rest` is no such
    /// document (the HTML pages answer then).
    pub fn watch_document(&self, rest: &str, query: &str) -> Option<Response<Full<Bytes>>> {
        let p = &self.publisher;
        let mut parts = rest.trim_end_matches('/').splitn(3, '/');
        let uuid = parts.next().filter(|u| is_uuid(u))?;
        let base = format!("{}/videos/watch/{uuid}", self.instance.base);
        let page = page_of(query);
        Some(match (parts.next(), parts.next()) {
            (None, _) => match p.video_document(uuid) {
                Some(v) => ap(&v),
                None => not_found("no such video here"),
            },
            (Some("announces"), None) => {
                let shares = p.shares(uuid);
                let items = if page == Some(1) { shares.clone() } else { Vec::new() };
                ap(&collection_of(&format!("{base}/announces"), shares.len(), page, items))
            }
            (Some("announces"), Some(which)) => match p.announce_document(uuid, which) {
                Some(a) => ap(&a),
                None => not_found("no such announce"),
            },
            (Some(kind @ ("likes" | "dislikes" | "comments")), None) if p.row(uuid).is_some() => {
                ap(&collection_of(&format!("{base}/{kind}"), 0, page, Vec::new()))
            }
            _ => not_found("no such document"),
        })
    }

    /// `/lazy-static/thumbnails/<uuid>.jpg` and `/lazy-static/previews/<uuid>.jpg`.
    pub async fn image(&self, rest: &str) -> Response<Full<Bytes>> {
        let (kind, file) = match rest.split_once('/') {
            Some(("thumbnails", f)) => ("thumbnail", f),
            Some(("previews", f)) => ("preview", f),
            _ => return not_found("no such image"),
        };
        let Some(uuid) = file.strip_suffix(".jpg").filter(|u| is_uuid(u)) else {
            return not_found("no such image");
        };
        match self.inbox.store.video_image(uuid, kind).await {
            Ok(Some(img)) => {
                let len = img.bytes.len();
                let mut res = Response::new(Full::new(Bytes::from(img.bytes)));
                res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
                res.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
                res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
                res.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
                res
            }
            Ok(None) => not_found("no such image"),
            Err(e) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).response(),
        }
    }

    /// The instance actor's outbox: its Announces of our videos.
    pub fn instance_outbox(&self, path: &str, query: &str) -> Response<Full<Bytes>> {
        let id = format!("{}{}", self.instance.base, path);
        let mut v = self.publisher.outbox(None, &id, page_of(query));
        v["@context"] = context();
        ap(&v)
    }
}
