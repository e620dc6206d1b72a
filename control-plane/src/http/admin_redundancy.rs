//! The admin API's redundancy endpoints (does I/O, through the redundancy engine):
//! `redundancy` (the copies this instance keeps with their progress: list, add `{"videoUrl"}`,
//! remove `?videoUrl=`), `redundancy/hosts` (allow `{"host"}`, deny `?host=`),
//! `redundancy/strategies` (the strategies and `acceptFrom`), `redundancy/orders` (the data
//! nodes' fetch orders), `redundancy/received` (copies others keep of our videos) and
//! `redundancy/videos` (the followed instances' videos known here).

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::Value;

use super::{error, json_response, store_error, AdminApi, AdminBody};
use crate::admin::wire::{self, Field};
use crate::http::router::AdminRoute;
use crate::library::urls::query_param;
use crate::redundancy::schedule::StoredFiles;
use crate::redundancy::strategy::{Strategy, StrategyKind};
use crate::redundancy::{CopyView, RedundancyError};

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

/// The request body, typed (see [`wire::request`]), or the answer to a body that is not JSON.
fn body_json<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> Result<T, Box<Response<AdminBody>>> {
    serde_json::from_slice::<Value>(body)
        .map(wire::request)
        .map_err(|e| Box::new(error(StatusCode::BAD_REQUEST, &format!("the body is not JSON: {e}"), Some("send a JSON object"))))
}

/// A copy and its progress as the API lists it.
fn copy_info(view: &CopyView) -> wire::CopyInfo {
    let (c, status) = (&view.copy, &view.status);
    wire::CopyInfo {
        id: c.id.clone(),
        video_url: c.video_url.clone(),
        video_name: view.video_name.clone(),
        kind: c.kind.as_str().to_owned(),
        resolution: c.resolution,
        fps: c.fps,
        size: c.size,
        strategy: c.strategy.clone(),
        state: status.state.to_owned(),
        reason: status.reason.clone(),
        done_bytes: status.done_bytes,
        total_bytes: status.total_bytes,
        nodes: status.nodes.clone(),
        expires: c.expires_at_ms.map(crate::clock::iso_of_ms),
        expires_at: c.expires_at_ms,
        announced: c.announced_at_ms.is_some(),
        created_at: c.created_at_ms,
        updated_at: c.updated_at_ms,
        attempts: c.attempts,
        retry_at: c.retry_at_ms.map(crate::clock::iso_of_ms),
        gave_up: view.gave_up,
    }
}

/// A strategy as the API gives it (`minViews` for recently-added only).
fn strategy_info(s: &Strategy) -> wire::StrategyInfo {
    wire::StrategyInfo {
        strategy: s.kind.as_str().to_owned(),
        size: s.size,
        min_lifetime: s.min_lifetime.as_secs(),
        min_views: (s.kind == StrategyKind::RecentlyAdded).then_some(s.min_views),
    }
}

impl AdminApi {
    /// Answers one of the redundancy endpoints.
    pub(super) async fn redundancy(&self, route: AdminRoute, query: &str, body: &Bytes) -> Response<AdminBody> {
        use AdminRoute as A;
        let r = &self.redundancy;
        match route {
            A::ListCopies => self.copies(None).await,
            A::AddCopy => {
                let req: wire::AddCopy = match body_json(body) {
                    Ok(v) => v,
                    Err(res) => return *res,
                };
                let Some(url) = req.video_url.given() else {
                    return error(StatusCode::BAD_REQUEST, "missing \"videoUrl\"", Some("send {\"videoUrl\": \"https://peertube.example/videos/watch/<uuid>\"}"));
                };
                match r.add_manual(&url).await {
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
                    Ok(n) => json_response(StatusCode::OK, &wire::CopiesRemoved { video_url: url, removed: n as u64 }),
                    Err(e) => failed(e),
                }
            }
            A::RedundancyHosts => match r.hosts().await {
                Ok(hosts) => {
                    let hosts = hosts.into_iter().map(|(host, allowed, followed)| wire::HostInfo { host, allowed, followed }).collect();
                    json_response(StatusCode::OK, &wire::HostList { hosts })
                }
                Err(e) => failed(e),
            },
            A::AllowRedundancy => {
                let req: wire::HostRequest = match body_json(body) {
                    Ok(v) => v,
                    Err(res) => return *res,
                };
                let Some(host) = req.host.given() else {
                    return error(StatusCode::BAD_REQUEST, "missing \"host\"", Some("send {\"host\": \"peertube.example.org\"}"));
                };
                match r.allow_host(&host).await {
                    Ok(()) => {
                        let answer = wire::HostPermission { host: host.trim().to_ascii_lowercase(), allowed: true, removed_copies: None };
                        json_response(StatusCode::OK, &answer)
                    }
                    Err(e) => failed(e),
                }
            }
            A::DenyRedundancy => {
                let Some(host) = query_param(query, "host") else { return error(StatusCode::BAD_REQUEST, "missing ?host=", None) };
                match r.deny_host(&host).await {
                    Ok(n) => {
                        let answer = wire::HostPermission { host: host.trim().to_ascii_lowercase(), allowed: false, removed_copies: Some(n as u64) };
                        json_response(StatusCode::OK, &answer)
                    }
                    Err(e) => failed(e),
                }
            }
            A::RedundancySettings => self.redundancy_settings().await,
            A::SetRedundancySettings => {
                let change: wire::RedundancyChange = match body_json(body) {
                    Ok(v) => v,
                    Err(res) => return *res,
                };
                if let Field::Given(list) | Field::Wrong(list) = &change.strategies {
                    if let Err(e) = r.set_strategies(list).await {
                        return failed(e);
                    }
                }
                match &change.accept_from {
                    Field::Absent => {}
                    Field::Given(s) => {
                        if let Err(e) = r.set_accept_from(s).await {
                            return failed(e);
                        }
                    }
                    Field::Wrong(_) => return error(StatusCode::BAD_REQUEST, "\"acceptFrom\" must be \"nobody\", \"anybody\" or \"followings\"", None),
                }
                self.redundancy_settings().await
            }
            A::FetchOrders => match r.orders().await {
                Ok(orders) => json_response(StatusCode::OK, &wire::OrderList { orders }),
                Err(e) => failed(e),
            },
            A::ReceivedCopies => match self.library.store().received_copies().await {
                Ok(list) => {
                    let received = list
                        .into_iter()
                        .map(|c| wire::ReceivedCopy {
                            info_hash: c.info_hash.to_hex(),
                            expires: c.expires_at_ms.map(crate::clock::iso_of_ms),
                            verified: c.verified_at_ms.is_some(),
                            id: c.id,
                            actor: c.actor,
                            video_url: c.video_url,
                            href: c.href,
                        })
                        .collect();
                    json_response(StatusCode::OK, &wire::ReceivedList { received })
                }
                Err(e) => store_error(e),
            },
            A::RemoteVideos => {
                let store = self.library.store();
                match (store.remote_videos().await, store.copies().await) {
                    (Ok(videos), Ok(copies)) => {
                        let videos = videos
                            .into_iter()
                            .map(|v| {
                                let files = StoredFiles::from_json(&v.files_json).unwrap_or_default();
                                wire::RemoteVideoInfo {
                                    copied: copies.iter().any(|c| c.video_url == v.url),
                                    url: v.url,
                                    name: v.name,
                                    host: v.host,
                                    published: v.published,
                                    views: v.views,
                                    size: files.total_size(),
                                    web_videos: files.web_videos.len() as u64,
                                    hls: files.hls.is_some(),
                                }
                            })
                            .collect();
                        json_response(StatusCode::OK, &wire::RemoteVideoList { videos })
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
                let copies = list.iter().filter(|c| video_url.is_none_or(|u| c.copy.video_url == u)).map(copy_info).collect();
                json_response(StatusCode::OK, &wire::CopyList { copies })
            }
            Err(e) => failed(e),
        }
    }

    async fn redundancy_settings(&self) -> Response<AdminBody> {
        let r = &self.redundancy;
        match (r.strategies().await, r.accept_from().await) {
            (Ok(s), Ok(a)) => {
                let settings = wire::RedundancySettings {
                    strategies: s.iter().map(strategy_info).collect(),
                    accept_from: a.as_str().to_owned(),
                    check_interval: Some(r.check_interval.as_secs()),
                };
                json_response(StatusCode::OK, &settings)
            }
            (Err(e), _) | (_, Err(e)) => failed(e),
        }
    }
}
