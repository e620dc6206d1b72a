//! The admin API's redundancy endpoints (does I/O, through the redundancy engine):
//! `redundancy` (the copies this instance keeps with their progress: list, add `{"videoUrl"}`,
//! remove `?videoUrl=`), `redundancy/hosts` (allow `{"host"}`, deny `?host=`),
//! `redundancy/strategies` (the strategies and `acceptFrom`), `redundancy/orders` (the data
//! nodes' fetch orders), `redundancy/received` (copies others keep of our videos) and
//! `redundancy/videos` (the followed instances' videos known here).

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::{error, json_response, store_error, AdminApi, AdminBody};
use crate::http::router::AdminRoute;
use crate::library::urls::query_param;
use crate::redundancy::config::strategies_to_json;
use crate::redundancy::schedule::StoredFiles;
use crate::redundancy::RedundancyError;

fn failed(e: RedundancyError) -> Response<AdminBody> {
    let status = match &e {
        RedundancyError::NotFound { .. } => StatusCode::NOT_FOUND,
        RedundancyError::Refused { .. } => StatusCode::BAD_REQUEST,
        RedundancyError::Remote(_) => StatusCode::BAD_GATEWAY,
        RedundancyError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if let RedundancyError::Store(s) = e {
        return store_error(s);
    }
    error(status, &e.to_string(), e.hint().as_deref())
}

fn body_json(body: &Bytes) -> Result<Value, Box<Response<AdminBody>>> {
    serde_json::from_slice(body).map_err(|e| Box::new(error(StatusCode::BAD_REQUEST, &format!("the body is not JSON: {e}"), Some("send a JSON object"))))
}

impl AdminApi {
    /// Answers one of the redundancy endpoints.
    pub(super) async fn redundancy(&self, route: AdminRoute, query: &str, body: &Bytes) -> Response<AdminBody> {
        use AdminRoute as A;
        let r = &self.redundancy;
        match route {
            A::ListCopies => self.copies(None).await,
            A::AddCopy => {
                let v = match body_json(body) {
                    Ok(v) => v,
                    Err(res) => return *res,
                };
                let Some(url) = v.get("videoUrl").and_then(Value::as_str) else {
                    return error(StatusCode::BAD_REQUEST, "missing \"videoUrl\"", Some("send {\"videoUrl\": \"https://peertube.example/videos/watch/<uuid>\"}"));
                };
                match r.add_manual(url).await {
                    Ok(copies) => {
                        let video = copies.first().map(|c| c.video_url.clone());
                        let mut res = self.copies(video.as_deref()).await;
                        *res.status_mut() = StatusCode::CREATED;
                        res
                    }
                    Err(e) => failed(e),
                }
            }
            A::RemoveCopy => {
                let Some(url) = query_param(query, "videoUrl") else {
                    return error(StatusCode::BAD_REQUEST, "missing ?videoUrl=", Some("give the video's URL at its origin"));
                };
                match r.remove(&url).await {
                    Ok(n) => json_response(StatusCode::OK, &json!({ "videoUrl": url, "removed": n })),
                    Err(e) => failed(e),
                }
            }
            A::RedundancyHosts => match r.hosts().await {
                Ok(hosts) => {
                    let list: Vec<Value> = hosts.iter().map(|(h, allowed, followed)| json!({ "host": h, "allowed": allowed, "followed": followed })).collect();
                    json_response(StatusCode::OK, &json!({ "hosts": list }))
                }
                Err(e) => failed(e),
            },
            A::AllowRedundancy => {
                let v = match body_json(body) {
                    Ok(v) => v,
                    Err(res) => return *res,
                };
                let Some(host) = v.get("host").and_then(Value::as_str) else {
                    return error(StatusCode::BAD_REQUEST, "missing \"host\"", Some("send {\"host\": \"peertube.example.org\"}"));
                };
                match r.allow_host(host).await {
                    Ok(()) => json_response(StatusCode::OK, &json!({ "host": host.trim().to_ascii_lowercase(), "allowed": true })),
                    Err(e) => failed(e),
                }
            }
            A::DenyRedundancy => {
                let Some(host) = query_param(query, "host") else { return error(StatusCode::BAD_REQUEST, "missing ?host=", None) };
                match r.deny_host(&host).await {
                    Ok(n) => json_response(StatusCode::OK, &json!({ "host": host.trim().to_ascii_lowercase(), "allowed": false, "removedCopies": n })),
                    Err(e) => failed(e),
                }
            }
            A::RedundancySettings => self.redundancy_settings().await,
            A::SetRedundancySettings => {
                let v = match body_json(body) {
                    Ok(v) => v,
                    Err(res) => return *res,
                };
                if let Some(list) = v.get("strategies") {
                    if let Err(e) = r.set_strategies(list).await {
                        return failed(e);
                    }
                }
                match v.get("acceptFrom") {
                    None => {}
                    Some(Value::String(s)) => {
                        if let Err(e) = r.set_accept_from(s).await {
                            return failed(e);
                        }
                    }
                    Some(_) => return error(StatusCode::BAD_REQUEST, "\"acceptFrom\" must be \"nobody\", \"anybody\" or \"followings\"", None),
                }
                self.redundancy_settings().await
            }
            A::FetchOrders => match r.orders().await {
                Ok(orders) => json_response(StatusCode::OK, &json!({ "orders": orders })),
                Err(e) => failed(e),
            },
            A::ReceivedCopies => match self.library.store().received_copies().await {
                Ok(list) => {
                    let items: Vec<Value> = list
                        .iter()
                        .map(|c| {
                            json!({ "id": c.id, "actor": c.actor, "videoUrl": c.video_url, "infoHash": c.info_hash.to_hex(), "href": c.href,
                                    "expires": c.expires_at_ms.map(crate::clock::iso_of_ms), "verified": c.verified_at_ms.is_some() })
                        })
                        .collect();
                    json_response(StatusCode::OK, &json!({ "received": items }))
                }
                Err(e) => store_error(e),
            },
            A::RemoteVideos => {
                let store = self.library.store();
                match (store.remote_videos().await, store.copies().await) {
                    (Ok(videos), Ok(copies)) => {
                        let items: Vec<Value> = videos
                            .iter()
                            .map(|v| {
                                let files = StoredFiles::from_json(&v.files_json).unwrap_or_default();
                                json!({ "url": v.url, "name": v.name, "host": v.host, "published": v.published, "views": v.views,
                                        "size": files.total_size(), "webVideos": files.web_videos.len(), "hls": files.hls.is_some(),
                                        "copied": copies.iter().any(|c| c.video_url == v.url) })
                            })
                            .collect();
                        json_response(StatusCode::OK, &json!({ "videos": items }))
                    }
                    (Err(e), _) | (_, Err(e)) => store_error(e),
                }
            }
            _ => error(StatusCode::NOT_FOUND, "no such admin endpoint", None),
        }
    }

    /// The copies with their progress (of one video, or all).
    async fn copies(&self, video_url: Option<&str>) -> Response<AdminBody> {
        match self.redundancy.list().await {
            Ok(list) => {
                let items: Vec<Value> = list.iter().filter(|c| video_url.is_none_or(|u| c.copy.video_url == u)).map(|c| c.to_json()).collect();
                json_response(StatusCode::OK, &json!({ "copies": items }))
            }
            Err(e) => failed(e),
        }
    }

    async fn redundancy_settings(&self) -> Response<AdminBody> {
        let r = &self.redundancy;
        match (r.strategies().await, r.accept_from().await) {
            (Ok(s), Ok(a)) => json_response(
                StatusCode::OK,
                &json!({ "strategies": strategies_to_json(&s), "acceptFrom": a.as_str(), "checkInterval": r.check_interval.as_secs() }),
            ),
            (Err(e), _) | (_, Err(e)) => failed(e),
        }
    }
}
