//! The WebSeed HTTP service: maps a request onto the catalog, plans it (see `plan`) and answers
//! with slices of the file's mapping. No file system access happens here: a path is only ever
//! looked up in the catalog. No I/O of its own: the server's shell writes what it returns.

use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::OnceLock;

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;

use super::body::FileBody;
use super::plan::{plan, Conditions, Plan, Resource};
use super::range::ByteRange;
use crate::catalog::{CatalogStore, ServedFile};

const ALLOW_METHODS: HeaderValue = HeaderValue::from_static("GET, HEAD, OPTIONS");
const ALLOW_HEADERS: HeaderValue = HeaderValue::from_static(
    "Range, Cache-Control, User-Agent, If-Range, If-None-Match, If-Modified-Since, If-Match, Pragma",
);
const EXPOSE_HEADERS: HeaderValue =
    HeaderValue::from_static("Content-Range, Content-Length, Accept-Ranges, ETag");
const ANY_ORIGIN: HeaderValue = HeaderValue::from_static("*");
const BYTES: HeaderValue = HeaderValue::from_static("bytes");
const MAX_AGE: HeaderValue = HeaderValue::from_static("86400");
const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

/// Answers one WebSeed request. `max_target_len` bounds the request target (414 beyond).
pub fn respond<B>(store: &CatalogStore, max_target_len: usize, req: &Request<B>) -> Response<FileBody> {
    let uri = req.uri();
    let target_len = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    if target_len > max_target_len {
        return error(StatusCode::URI_TOO_LONG, "414 URI Too Long: the request target is longer than this server accepts\n");
    }
    let method = req.method();
    if method == Method::OPTIONS {
        return preflight();
    }
    let head = method == Method::HEAD;
    if !head && method != Method::GET {
        let mut res = error(StatusCode::METHOD_NOT_ALLOWED, "405 Method Not Allowed: a WebSeed answers GET, HEAD and OPTIONS\n");
        res.headers_mut().insert(header::ALLOW, ALLOW_METHODS);
        return res;
    }
    let Ok(path) = percent_decode_str(uri.path()).decode_utf8() else {
        return not_found();
    };
    let catalog = store.load();
    let Some(file) = catalog.file(&path) else {
        return not_found();
    };
    let bytes = match file.bytes() {
        Ok(b) => b,
        Err(reason) => {
            tracing::warn!(path = %path, reason, "published file cannot be served");
            return error(StatusCode::NOT_FOUND, "404 Not Found: the file is no longer available\n");
        }
    };
    let h = req.headers();
    let conditions = Conditions {
        range: raw(h, &header::RANGE),
        if_range: raw(h, &header::IF_RANGE),
        if_match: raw(h, &header::IF_MATCH),
        if_none_match: raw(h, &header::IF_NONE_MATCH),
        if_modified_since: raw(h, &header::IF_MODIFIED_SINCE),
        if_unmodified_since: raw(h, &header::IF_UNMODIFIED_SINCE),
    };
    let size = file.source.size;
    let resource = Resource { size, etag: file.etag.as_bytes(), last_modified: file.source.last_modified };
    match plan(&conditions, &resource) {
        Plan::Full => {
            let mut res = Response::new(if head { FileBody::empty() } else { FileBody::once(bytes.clone()) });
            representation_headers(res.headers_mut(), file);
            res.headers_mut().insert(header::CONTENT_LENGTH, file.content_length.clone());
            res
        }
        Plan::Partial(r) => {
            let mut res = Response::new(FileBody::empty());
            *res.status_mut() = StatusCode::PARTIAL_CONTENT;
            let hs = res.headers_mut();
            representation_headers(hs, file);
            hs.insert(header::CONTENT_RANGE, content_range(r, size));
            if head {
                hs.insert(header::CONTENT_LENGTH, HeaderValue::from(r.len()));
            } else {
                // hyper writes Content-Length from the body's exact size, without formatting
                // a header value on the heap.
                *res.body_mut() = FileBody::once(slice(bytes, r));
            }
            res
        }
        Plan::Multipart(ranges) => multipart(file, bytes, &ranges, head),
        Plan::NotModified => {
            let mut res = Response::new(FileBody::empty());
            *res.status_mut() = StatusCode::NOT_MODIFIED;
            let hs = res.headers_mut();
            cors(hs);
            hs.insert(header::ETAG, file.etag.clone());
            hs.insert(header::LAST_MODIFIED, file.last_modified.clone());
            res
        }
        Plan::PreconditionFailed => error(StatusCode::PRECONDITION_FAILED, "412 Precondition Failed: the file does not match If-Match/If-Unmodified-Since\n"),
        Plan::RangeNotSatisfiable => {
            let mut res = error(StatusCode::RANGE_NOT_SATISFIABLE, "416 Range Not Satisfiable: no requested range overlaps the file\n");
            let hs = res.headers_mut();
            hs.insert(header::CONTENT_RANGE, unsatisfied_range(size));
            hs.insert(header::ACCEPT_RANGES, BYTES);
            res
        }
    }
}

fn raw<'a>(h: &'a HeaderMap, name: &HeaderName) -> Option<&'a [u8]> {
    h.get(name).map(HeaderValue::as_bytes)
}

fn slice(bytes: &Bytes, r: ByteRange) -> Bytes {
    bytes.slice(r.start as usize..=r.end as usize)
}

fn cors(hs: &mut HeaderMap) {
    hs.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, ANY_ORIGIN);
    hs.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS);
}

fn representation_headers(hs: &mut HeaderMap, file: &ServedFile) {
    // One allocation for every header a response carries, instead of growing step by step.
    hs.reserve(10);
    cors(hs);
    hs.insert(header::ACCEPT_RANGES, BYTES);
    hs.insert(header::CONTENT_TYPE, file.content_type.clone());
    hs.insert(header::ETAG, file.etag.clone());
    hs.insert(header::LAST_MODIFIED, file.last_modified.clone());
}

fn preflight() -> Response<FileBody> {
    let mut res = Response::new(FileBody::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    let hs = res.headers_mut();
    hs.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, ANY_ORIGIN);
    hs.insert(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS);
    hs.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS);
    hs.insert(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE);
    res
}

fn not_found() -> Response<FileBody> {
    error(StatusCode::NOT_FOUND, "404 Not Found: no file is published at this path\n")
}

fn error(status: StatusCode, msg: &'static str) -> Response<FileBody> {
    let mut res = Response::new(FileBody::text(msg));
    *res.status_mut() = status;
    let hs = res.headers_mut();
    cors(hs);
    hs.insert(header::CONTENT_TYPE, TEXT);
    hs.insert(header::CONTENT_LENGTH, HeaderValue::from(msg.len()));
    res
}

/// `bytes a-b/size`, formatted on the stack.
fn content_range(r: ByteRange, size: u64) -> HeaderValue {
    let mut buf = [0u8; 72];
    let mut w = &mut buf[..];
    let _ = write!(w, "bytes {}-{}/{}", r.start, r.end, size);
    let n = 72 - w.len();
    HeaderValue::from_bytes(&buf[..n]).unwrap_or(HeaderValue::from_static("bytes */0"))
}

fn unsatisfied_range(size: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("bytes */{size}")).unwrap_or(HeaderValue::from_static("bytes */0"))
}

/// The boundary of `multipart/byteranges` bodies: fixed per process, random per start.
fn boundary() -> &'static str {
    static BOUNDARY: OnceLock<String> = OnceLock::new();
    BOUNDARY.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        format!("vidseed-{:016x}", h.finish())
    })
}

/// 206 `multipart/byteranges` (RFC 9110 §14.6): part headers between slices of the mapping.
fn multipart(file: &ServedFile, bytes: &Bytes, ranges: &[ByteRange], head: bool) -> Response<FileBody> {
    let b = boundary();
    let ct = file.content_type.to_str().unwrap_or("application/octet-stream");
    let size = file.source.size;
    let mut parts = VecDeque::with_capacity(ranges.len() * 2 + 1);
    for (i, r) in ranges.iter().enumerate() {
        let mut head_buf = BytesMut::with_capacity(96 + b.len() + ct.len());
        if i > 0 {
            head_buf.put_slice(b"\r\n");
        }
        let _ = write!(
            (&mut head_buf).writer(),
            "--{b}\r\nContent-Type: {ct}\r\nContent-Range: bytes {}-{}/{size}\r\n\r\n",
            r.start,
            r.end
        );
        parts.push_back(head_buf.freeze());
        parts.push_back(slice(bytes, *r));
    }
    parts.push_back(Bytes::from(format!("\r\n--{b}--\r\n")));
    let body = FileBody::chunks(parts);
    let len = http_body::Body::size_hint(&body).exact().unwrap_or(0);
    let mut res = Response::new(if head { FileBody::empty() } else { body });
    *res.status_mut() = StatusCode::PARTIAL_CONTENT;
    let hs = res.headers_mut();
    representation_headers(hs, file);
    if let Ok(v) = HeaderValue::from_str(&format!("multipart/byteranges; boundary={b}")) {
        hs.insert(header::CONTENT_TYPE, v);
    }
    hs.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    res
}
