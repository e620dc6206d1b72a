//! One download source (does network I/O): an `http(s)` URL read by range requests over one
//! kept-alive HTTP/1.1 connection (opened by `vidseed-outbound`, as the control plane's
//! fetches), reopened when it breaks. Every answer is checked before its
//! bytes are handed on: `206` with the asked `Content-Range` and the whole file's expected size
//! (a `200`, another size or another range means the origin's file is not the one ordered).

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use vidseed_outbound::{target, ConnectError, ResolveError, Target};

/// How long one range may take.
const RANGE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a range could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// Unreachable, reset, timed out, 5xx, 429: worth trying again later.
    #[error("{0}")]
    Passing(String),
    /// The source will not serve this file as ordered (not found, another size, no ranges,
    /// a forbidden address): give it up.
    #[error("{0}")]
    Refused(String),
}

/// A source and its connection.
pub struct Source {
    pub url: String,
    target: Target,
    expected_size: u64,
    allow_private: bool,
    conn: Option<SendRequest<Empty<Bytes>>>,
}

impl Source {
    /// A source for a file of `expected_size` bytes; `allow_private` lets it be on a private
    /// or loopback address.
    pub fn new(url: &str, expected_size: u64, allow_private: bool) -> Result<Source, SourceError> {
        let target = target(url).ok_or_else(|| SourceError::Refused(format!("{url} is not an http(s) URL")))?;
        Ok(Source { url: url.to_owned(), target, expected_size, allow_private, conn: None })
    }

    async fn connect(&mut self) -> Result<SendRequest<Empty<Bytes>>, SourceError> {
        let t = &self.target;
        let what = |e: &dyn std::fmt::Display| SourceError::Passing(format!("{}: {e}", t.authority));
        let addr = vidseed_outbound::resolve(t, self.allow_private).await.map_err(|e| match e {
            ResolveError::Forbidden(ip) => SourceError::Refused(format!("{} resolves to {ip}, a private address; refused", t.host)),
            other => what(&other),
        })?;
        let io = vidseed_outbound::open(t, addr, Some(CONNECT_TIMEOUT)).await.map_err(|e| match e {
            ConnectError::ServerName(e) => SourceError::Refused(e),
            other => what(&other),
        })?;
        vidseed_outbound::http1(io).await.map_err(|e| SourceError::Passing(e.to_string()))
    }

    /// Bytes `start..=end` of the file, as the frames they arrived in (not gathered).
    pub async fn range(&mut self, start: u64, end: u64) -> Result<Frames, SourceError> {
        let mut sender = match self.conn.take() {
            Some(s) if s.is_ready() => s,
            _ => self.connect().await?,
        };
        let t = &self.target;
        let req = Request::get(t.path_and_query.as_str())
            .header(http::header::HOST, t.authority.as_str())
            .header(http::header::RANGE, format!("bytes={start}-{end}"))
            .header(http::header::USER_AGENT, concat!("vidseed/", env!("CARGO_PKG_VERSION")))
            .body(Empty::new())
            .map_err(|e| SourceError::Refused(e.to_string()))?;
        let url = self.url.clone();
        let want = end - start + 1;
        let expected_size = self.expected_size;
        let work = async move {
            let res = sender.send_request(req).await.map_err(|e| SourceError::Passing(format!("{url}: {e}")))?;
            let status = res.status();
            if status != StatusCode::PARTIAL_CONTENT {
                let e = format!("{url} answered {status} to a range request");
                return Err(if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS { SourceError::Passing(e) } else { SourceError::Refused(e) });
            }
            let range = res.headers().get(http::header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).unwrap_or("");
            if range != format!("bytes {start}-{end}/{expected_size}") {
                return Err(SourceError::Refused(format!("{url}: the file is not the one ordered (asked bytes {start}-{end} of {expected_size}, got Content-Range {range:?})")));
            }
            let mut body = res.into_body();
            let mut frames = Frames { start, parts: Vec::new(), len: 0 };
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| SourceError::Passing(format!("{url}: {e}")))?;
                if let Ok(data) = frame.into_data() {
                    if frames.len + data.len() as u64 > want {
                        return Err(SourceError::Refused(format!("{url} sent more than the range")));
                    }
                    frames.len += data.len() as u64;
                    frames.parts.push(data);
                }
            }
            if frames.len != want {
                return Err(SourceError::Passing(format!("{url}: the range was cut after {} of {want} bytes", frames.len)));
            }
            Ok((frames, sender))
        };
        let (bytes, sender) = tokio::time::timeout(RANGE_TIMEOUT, work).await.map_err(|_| SourceError::Passing(format!("{}: a range timed out", self.url)))??;
        self.conn = Some(sender);
        Ok(bytes)
    }
}

/// A range's body as it arrived: the frames, in order, from file offset `start`.
pub struct Frames {
    pub start: u64,
    parts: Vec<Bytes>,
    len: u64,
}

impl Frames {
    /// The pieces of memory that hold file bytes `from..=to` (inside the range), with the file
    /// offset each starts at.
    pub fn slices(&self, from: u64, to: u64) -> impl Iterator<Item = (u64, &[u8])> {
        let mut at = self.start;
        self.parts.iter().filter_map(move |p| {
            let (p_start, p_end) = (at, at + p.len() as u64); // [p_start, p_end)
            at = p_end;
            let (a, b) = (from.max(p_start), (to + 1).min(p_end));
            (a < b).then(|| (a, &p[(a - p_start) as usize..(b - p_start) as usize]))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_give_the_slices_of_any_span_inside_them() {
        let parts = vec![Bytes::from_static(b"abcd"), Bytes::from_static(b"ef"), Bytes::from_static(b"ghij")];
        let frames = Frames { start: 100, parts, len: 10 };
        let got = |a, b| frames.slices(a, b).map(|(at, p)| (at, String::from_utf8(p.to_vec()).unwrap())).collect::<Vec<_>>();
        assert_eq!(got(100, 109), vec![(100, "abcd".into()), (104, "ef".into()), (106, "ghij".into())]);
        assert_eq!(got(102, 106), vec![(102, "cd".into()), (104, "ef".into()), (106, "g".into())]);
        assert_eq!(got(105, 105), vec![(105, "f".into())]);
        assert_eq!(got(107, 109), vec![(107, "hij".into())]);
    }
}
