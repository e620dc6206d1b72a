//! The admin API's endpoints for our published videos (does I/O, through the publisher):
//! `GET videos/published` (UUID, title, duration, resolution, state, who caches each) and
//! `PUT videos/published/<uuid>` with a [`VideoEdit`] (the Update is federated at once).

use bytes::Bytes;
use http::{Response, StatusCode};

use super::{error, json_response, store_error, AdminApi, AdminBody};
use crate::http::router::AdminRoute;
use crate::publish::video_object::{federable, video_url};
use crate::publish::wire::{PublishedEntry, PublishedList, VideoEdit};
use crate::publish::{PublishError, Publisher};

fn failed(e: PublishError) -> Response<AdminBody> {
    match e {
        PublishError::NotFound(_) => error(StatusCode::NOT_FOUND, &e.to_string(), Some("list the videos with `vidseed admin videos`")),
        PublishError::Invalid(_) => error(StatusCode::BAD_REQUEST, &e.to_string(), None),
        PublishError::Store(s) => store_error(s),
        PublishError::Federation(f) => error(StatusCode::INTERNAL_SERVER_ERROR, &f.to_string(), None),
    }
}

/// The admin's entries, by path.
pub async fn entries(p: &Publisher, library: &crate::library::Library) -> Result<Vec<PublishedEntry>, PublishError> {
    let cached = p.cached_at().await?;
    let st = library.state();
    Ok(p
        .list()
        .into_iter()
        .map(|r| {
            let rec = st.videos.get(&r.path);
            let state = match rec {
                None => "removed".to_owned(),
                Some(rec) => match federable(&r, &rec.content_type) {
                    Err(why) => format!("not federated: {why}"),
                    Ok(()) if r.announced_at_ms.is_none() => "waiting for a data node".to_owned(),
                    Ok(()) => "federated".to_owned(),
                },
            };
            let cached_at = rec.and_then(|rec| cached.get(&rec.info_hash.to_hex())).map(|s| s.iter().cloned().collect()).unwrap_or_default();
            PublishedEntry {
                url: video_url(&p.actors.instance.base, &r.uuid),
                tags: r.tag_list(),
                uuid: r.uuid,
                title: r.title,
                path: r.path,
                duration: r.duration_s,
                width: r.width,
                height: r.height,
                fps: r.fps,
                state,
                description: r.description,
                language: r.language,
                licence: r.licence,
                category: r.category,
                cached_at,
            }
        })
        .collect())
}

impl AdminApi {
    pub(super) async fn published_videos(&self, route: AdminRoute, rest: &str, body: &Bytes) -> Response<AdminBody> {
        let Some(p) = self.publisher.get() else {
            return error(StatusCode::SERVICE_UNAVAILABLE, "the publisher is not running yet", Some("retry in a moment"));
        };
        match route {
            AdminRoute::EditVideo => {
                let edit: VideoEdit = match serde_json::from_slice(body) {
                    Ok(e) => e,
                    Err(e) => return error(StatusCode::BAD_REQUEST, &format!("the body is not a video edit: {e}"), Some("send {\"title\": …, \"description\": …}")),
                };
                match p.edit(rest.trim_end_matches('/'), &edit).await {
                    Ok(_) => match entries(p, &self.library).await {
                        Ok(list) => match list.into_iter().find(|e| e.uuid == rest.trim_end_matches('/')) {
                            Some(e) => json_response(StatusCode::OK, &serde_json::to_value(e).unwrap_or_default()),
                            None => error(StatusCode::NOT_FOUND, "the video was removed meanwhile", None),
                        },
                        Err(e) => failed(e),
                    },
                    Err(e) => failed(e),
                }
            }
            _ => match entries(p, &self.library).await {
                Ok(videos) => json_response(StatusCode::OK, &serde_json::to_value(PublishedList { videos }).unwrap_or_default()),
                Err(e) => failed(e),
            },
        }
    }
}
