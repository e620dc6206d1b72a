//! The ActivityPub endpoints of the control plane's HTTP server (does I/O): the instance actor
//! with content negotiation, its collections, WebFinger, host-meta, NodeInfo, and the CacheFiles
//! of the copies this instance keeps (at their ids, where PeerTube 6.3 answers 404 or 500). Documents come
//! from [`crate::activitypub::actor`]. Every URL those documents name answers: the collections
//! (followers, following, outbox and the always empty video playlists) as paged
//! `OrderedCollection`s, the inboxes to a GET with 405 (they take signed POSTs).

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use serde_json::Value;

use crate::activitypub::actor::{collection, wants_activity_json, Instance, PAGE_SIZE};
use super::error::ApiError;
use super::router::Handler;
use crate::library::urls::query_param;
use crate::library::Library;
use crate::store::{FollowDirection, FollowState};

/// What the endpoints need: the instance's URLs, its public key, when the actor was made, and
/// the inboxes.
pub struct Federation {
    pub instance: Instance,
    pub public_key_pem: String,
    pub published: String,
    pub inbox: crate::http::inbox::Inbox,
    pub engine: std::sync::Arc<crate::federation::Engine>,
    /// Serves the CacheFiles of the copies this instance keeps.
    pub redundancy: std::sync::Arc<crate::redundancy::RedundancyEngine>,
    /// Our videos, account and channel as documents (`origin_docs`).
    pub publisher: std::sync::Arc<crate::publish::Publisher>,
}


const AP_TYPE: &str = "application/activity+json; charset=utf-8";

fn respond(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let len = body.len();
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        res.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    res.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    res.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    res
}

fn json(status: StatusCode, content_type: &str, v: &Value) -> Response<Full<Bytes>> {
    respond(status, content_type, v.to_string().into_bytes())
}

fn error(status: StatusCode, what: &str) -> Response<Full<Bytes>> {
    ApiError::new(status, what).response()
}


impl Federation {
    /// Answers a request the route table gave one of the federation handlers.
    pub async fn answer<B>(&self, handler: Handler, library: &Library, req: &Request<B>) -> Response<Full<Bytes>> {
        let path = req.uri().path();
        let query = req.uri().query().unwrap_or("");
        match handler {
            Handler::WebFinger => match query_param(query, "resource") {
                None => error(StatusCode::BAD_REQUEST, "missing ?resource="),
                Some(r) => match self.instance.webfinger(&r).or_else(|| self.publisher.actors.webfinger(&r)) {
                    Some(doc) => json(StatusCode::OK, "application/jrd+json; charset=utf-8", &doc),
                    None => error(StatusCode::NOT_FOUND, "no such account here"),
                },
            },
            Handler::HostMeta => respond(StatusCode::OK, "application/xrd+xml; charset=utf-8", self.instance.host_meta().into_bytes()),
            Handler::NodeInfoLinks => json(StatusCode::OK, "application/json; charset=utf-8", &self.instance.nodeinfo_links()),
            Handler::NodeInfo => json(
                StatusCode::OK,
                "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.0#\"; charset=utf-8",
                &self.instance.nodeinfo(library.state().videos.len()),
            ),
            Handler::Actor => {
                let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
                if wants_activity_json(accept) {
                    json(StatusCode::OK, AP_TYPE, &self.instance.actor(&self.public_key_pem, &self.published))
                } else {
                    // A browser: the instance's page.
                    let mut res = respond(StatusCode::FOUND, "text/plain; charset=utf-8", b"see /\n".to_vec());
                    res.headers_mut().insert(header::LOCATION, HeaderValue::from_static("/"));
                    res
                }
            }
            Handler::InboxOtherMethod => {
                let mut res = error(StatusCode::METHOD_NOT_ALLOWED, "an inbox takes signed POSTs of ActivityPub activities");
                res.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
                res
            }
            Handler::Collection if path.ends_with("/outbox") => self.instance_outbox(path, query),
            Handler::Collection => {
                let p = path;
                let id = format!("{}{}", self.instance.base, p);
                let page = query_param(query, "page").and_then(|p| p.parse::<usize>().ok()).filter(|p| *p >= 1);
                let direction = if p.ends_with("/followers") {
                    Some(FollowDirection::Follower)
                } else if p.ends_with("/following") {
                    Some(FollowDirection::Following)
                } else {
                    // The outbox: nothing public is published there yet; the video playlists:
                    // the instance has none (PeerTube fetches the collection when it meets us).
                    None
                };
                let store = &self.inbox.store;
                let (total, items) = match direction {
                    Some(d) => {
                        let total = store.count_follows(d, Some(FollowState::Accepted)).await.unwrap_or(0) as usize;
                        let items = match page {
                            Some(n) => store
                                .follows_page(d, Some(FollowState::Accepted), ((n - 1) * PAGE_SIZE) as u64, PAGE_SIZE as u64)
                                .await
                                .unwrap_or_default()
                                .into_iter()
                                .map(|f| f.actor_url)
                                .collect(),
                            None => Vec::new(),
                        };
                        (total, items)
                    }
                    None => (0, Vec::new()),
                };
                json(StatusCode::OK, AP_TYPE, &collection(&id, total, page, &items))
            }
            Handler::CacheFile => match self.redundancy.cache_file_object(path).await {
                Ok(Some(object)) => json(StatusCode::OK, AP_TYPE, &object),
                Ok(None) => error(StatusCode::NOT_FOUND, "this instance keeps no copy with this id"),
                Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
            },
            _ => error(StatusCode::NOT_FOUND, "no such document"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::library::urls::query_param;

    #[test]
    fn query_parameters_are_decoded() {
        assert_eq!(query_param("resource=acct%3Apeertube%40a.example&x=1", "resource").as_deref(), Some("acct:peertube@a.example"));
        assert_eq!(query_param("page=2", "page").as_deref(), Some("2"));
        assert_eq!(query_param("pages=2", "page"), None);
    }
}
