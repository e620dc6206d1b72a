//! The one error answer of the control plane's HTTP server, pure: a status and a JSON body
//! `{"error": what, "status": code, "hint": what to do}` (the hint when there is one), the same
//! for the public API, the federation endpoints, the inboxes and the admin API. The body's type,
//! [`ErrorBody`], is the admin API's (`admin/wire.rs`), which `vidseed admin` reads back.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::Value;

use crate::admin::wire::{self, ErrorBody};

/// An error to answer with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub hint: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), hint: None }
    }

    /// Adds what the client can do about it.
    pub fn hint(mut self, hint: impl Into<String>) -> ApiError {
        self.hint = Some(hint.into());
        self
    }

    /// The body, typed.
    pub fn wire(&self) -> ErrorBody {
        ErrorBody { error: self.message.clone(), status: Some(self.status.as_u16()), hint: self.hint.clone() }
    }

    /// The body as JSON.
    pub fn body(&self) -> Value {
        wire::to_json(&self.wire())
    }

    /// The response: JSON, never cached, readable from other origins like the rest of the API.
    pub fn response(&self) -> Response<Full<Bytes>> {
        let body = self.body().to_string();
        let len = body.len();
        let mut res = Response::new(Full::new(Bytes::from(body)));
        *res.status_mut() = self.status;
        let hs = res.headers_mut();
        hs.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        hs.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        hs.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        hs.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        res
    }
}

impl From<ApiError> for Response<Full<Bytes>> {
    fn from(e: ApiError) -> Self {
        e.response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_body_names_the_error_its_status_and_the_hint() {
        let e = ApiError::new(StatusCode::NOT_FOUND, "no video has this id");
        assert_eq!(e.body(), json!({"error": "no video has this id", "status": 404}));
        let e = e.hint("see /api/v1/videos");
        assert_eq!(e.body()["hint"], "see /api/v1/videos");
        let res = e.response();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    }
}
