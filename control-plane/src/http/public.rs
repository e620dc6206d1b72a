//! The public API (does no I/O of its own: it reads the library in memory): every published video
//! and each one as JSON, and their `.torrent` files, readable from other origins (CORS).

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use vidseed_shared::InfoHash;

use super::error::ApiError;
use super::router::Handler;
use crate::library::Library;

type Body = Full<Bytes>;

/// A CORS preflight: the API and torrents are for other origins too.
pub fn preflight() -> Response<Body> {
    let mut res = respond(StatusCode::NO_CONTENT, "", Bytes::new());
    res.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, HEAD, OPTIONS"));
    res.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("*"));
    res
}

/// Answers a GET or HEAD of the video list (`Videos`), one video (`Video`, `rest` its
/// info-hash) or a torrent (`Torrent`, `rest` `<infoHash>.torrent`).
pub fn answer<B>(handler: Handler, rest: &str, library: &Library, req: &Request<B>) -> Response<Body> {
    let head = req.method() == Method::HEAD;
    let mut res = match handler {
        Handler::Videos => json(StatusCode::OK, &library.videos()),
        Handler::Video => match rest.parse::<InfoHash>().ok().and_then(|ih| library.by_info_hash(&ih)) {
            Some(v) => json(StatusCode::OK, &v),
            None => ApiError::new(StatusCode::NOT_FOUND, "no video has this id").response(),
        },
        _ => {
            let ih = rest.strip_suffix(".torrent").and_then(|hex| hex.parse::<InfoHash>().ok());
            match ih.and_then(|ih| Some((ih, library.torrent(&ih)?))) {
                Some((ih, torrent)) => {
                    let mut res = respond(StatusCode::OK, "application/x-bittorrent", Bytes::from(torrent));
                    let disposition = format!("attachment; filename=\"{}.torrent\"", ih.to_hex());
                    if let Ok(d) = HeaderValue::from_str(&disposition) {
                        res.headers_mut().insert(header::CONTENT_DISPOSITION, d);
                    }
                    res
                }
                None => ApiError::new(StatusCode::NOT_FOUND, "no torrent has this info-hash").response(),
            }
        }
    };
    if head {
        let len = res.headers().get(header::CONTENT_LENGTH).cloned();
        *res.body_mut() = Full::new(Bytes::new());
        if let Some(len) = len {
            res.headers_mut().insert(header::CONTENT_LENGTH, len);
        }
    }
    res
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let len = body.len();
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    let hs = res.headers_mut();
    if !content_type.is_empty() {
        hs.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        hs.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    hs.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    res
}

pub fn json<T: serde::Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(raw) => respond(status, "application/json", Bytes::from(raw)),
        Err(e) => {
            tracing::error!("cannot encode an API answer: {e}");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode the answer").response()
        }
    }
}
