//! HTTP/1.1 as the io_uring workers speak it (pure): a request head read into what the WebSeed
//! service needs, whether the connection stays open after it, which requests belong to the
//! epoll path instead (the tracker, operations, upgrades, request bodies, HTTP/2), and the
//! response head written out the way hyper writes it on the epoll path.

use std::io::Write as _;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName};
use http::{Method, Request, StatusCode, Version};

/// Headers read from one request; more and the request goes to the epoll path (hyper takes up
/// to 100).
const MAX_HEADERS: usize = 48;

/// What the WebSeed service reads of a request: the rest is not kept.
const KEPT: [HeaderName; 6] = [
    header::RANGE,
    header::IF_RANGE,
    header::IF_MATCH,
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_UNMODIFIED_SINCE,
];

/// The outcome of reading the start of a connection's buffer. (Returned by value once per
/// request: boxing the request would cost an allocation each time.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    /// The head is not complete yet.
    Partial,
    /// A WebSeed request whose head took `len` bytes of the buffer.
    Request { req: Request<()>, len: usize, keep_alive: bool },
    /// Not for this path: the connection, with everything read so far, goes to the epoll path
    /// (hyper), which serves it from the first byte.
    HandOff,
    /// Malformed: answer `status` with this text and close.
    Bad(StatusCode, &'static str),
}

/// Reads the request head at the start of `buf`. `other_route` says whether a path belongs to
/// another service on this port (the tracker, `/metrics` and health, …).
pub fn parse(buf: &[u8], other_route: impl Fn(&str) -> bool) -> Parsed {
    if buf.starts_with(b"PRI * HTTP/2.0") || (buf.len() < 14 && b"PRI * HTTP/2.0".starts_with(buf)) {
        // HTTP/2 with prior knowledge (h2c), or its first bytes.
        return if buf.len() < 14 { Parsed::Partial } else { Parsed::HandOff };
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Request::new(&mut headers);
    let len = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parsed::HandOff,
        Err(httparse::Error::Version) => return Parsed::Bad(StatusCode::HTTP_VERSION_NOT_SUPPORTED, "505 HTTP Version Not Supported\n"),
        Err(_) => return Parsed::Bad(StatusCode::BAD_REQUEST, "400 Bad Request: the request head is malformed\n"),
    };
    let (Some(method), Some(path), Some(minor)) = (r.method, r.path, r.version) else {
        return Parsed::Partial;
    };
    let method = match method {
        "GET" => Method::GET,
        "HEAD" => Method::HEAD,
        "OPTIONS" => Method::OPTIONS,
        // Other methods may carry bodies: hyper reads them and the service answers 405.
        _ => return Parsed::HandOff,
    };
    let version = if minor == 0 { Version::HTTP_10 } else { Version::HTTP_11 };
    let mut keep_alive = version == Version::HTTP_11;
    let mut kept = HeaderMap::new();
    for h in r.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',').map(trim) {
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && version == Version::HTTP_10 {
                    keep_alive = true;
                } else if token.eq_ignore_ascii_case(b"upgrade") {
                    return Parsed::HandOff;
                }
            }
        } else if name.eq_ignore_ascii_case("upgrade")
            || name.eq_ignore_ascii_case("expect")
            || name.eq_ignore_ascii_case("transfer-encoding")
            || (name.eq_ignore_ascii_case("content-length") && trim(h.value) != b"0")
        {
            return Parsed::HandOff;
        } else if let Some(k) = KEPT.iter().find(|k| name.eq_ignore_ascii_case(k.as_str())) {
            let Ok(value) = http::HeaderValue::from_bytes(h.value) else {
                return Parsed::Bad(StatusCode::BAD_REQUEST, "400 Bad Request: a header value is malformed\n");
            };
            kept.append(k.clone(), value);
        }
    }
    if other_route(path.split('?').next().unwrap_or(path)) {
        return Parsed::HandOff;
    }
    let Ok(uri) = http::Uri::from_maybe_shared(Bytes::copy_from_slice(path.as_bytes())) else {
        return Parsed::Bad(StatusCode::BAD_REQUEST, "400 Bad Request: the request target is malformed\n");
    };
    let mut req = Request::new(());
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.version_mut() = version;
    *req.headers_mut() = kept;
    Parsed::Request { req, len, keep_alive }
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &v[start..end]
}

/// Writes a response head into `out` (cleared first): the status line, the service's headers,
/// `content-length` from the body when the service did not set one (never for 1xx, 204 and
/// 304), `date`, and `connection` when it differs from the version's default.
pub fn write_head(out: &mut Vec<u8>, status: StatusCode, headers: &HeaderMap, body_len: u64, version: Version, keep_alive: bool, date: &[u8]) {
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let bodiless = status.is_informational() || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    if !bodiless && !headers.contains_key(header::CONTENT_LENGTH) {
        let _ = write!(out, "content-length: {body_len}\r\n");
    }
    out.extend_from_slice(b"date: ");
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\n");
    match (version, keep_alive) {
        (Version::HTTP_10, true) => out.extend_from_slice(b"connection: keep-alive\r\n"),
        (Version::HTTP_11, false) => out.extend_from_slice(b"connection: close\r\n"),
        _ => {}
    }
    out.extend_from_slice(b"\r\n");
}

/// A whole short answer (errors this path writes itself): head and text, then close.
pub fn write_error(out: &mut Vec<u8>, status: StatusCode, text: &str, date: &[u8]) {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, http::HeaderValue::from_static("*"));
    write_head(out, status, &h, text.len() as u64, Version::HTTP_11, false, date);
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> bool {
        false
    }

    fn request(buf: &[u8]) -> (Request<()>, usize, bool) {
        match parse(buf, none) {
            Parsed::Request { req, len, keep_alive } => (req, len, keep_alive),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_range_request_keeps_what_the_service_reads_and_its_length() {
        let raw = b"GET /static/webseed/a%20b.mp4?x=1 HTTP/1.1\r\nHost: h\r\nRange: bytes=0-99\r\nUser-Agent: WebTorrent\r\nIf-Range: \"e\"\r\n\r\nGET /next";
        let (req, len, keep) = request(raw);
        assert_eq!(len, raw.len() - b"GET /next".len());
        assert!(keep);
        assert_eq!(req.method(), Method::GET);
        assert_eq!(req.uri().path(), "/static/webseed/a%20b.mp4");
        assert_eq!(req.headers().get(header::RANGE).unwrap(), "bytes=0-99");
        assert_eq!(req.headers().get(header::IF_RANGE).unwrap(), "\"e\"");
        assert!(req.headers().get(header::USER_AGENT).is_none(), "not kept");
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection_tokens() {
        assert!(!request(b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").2);
        assert!(!request(b"GET / HTTP/1.0\r\n\r\n").2);
        assert!(request(b"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").2);
        assert!(request(b"OPTIONS / HTTP/1.1\r\nConnection: keep-alive, foo\r\n\r\n").2);
    }

    #[test]
    fn what_hyper_must_serve_is_handed_off() {
        let routes = |p: &str| p.starts_with("/tracker/") || p == "/metrics";
        for raw in [
            &b"GET /tracker/socket HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"[..],
            b"GET /tracker/announce?info_hash=x HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\n\r\n",
            b"POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            b"GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nab",
            b"GET /x HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        ] {
            assert!(matches!(parse(raw, routes), Parsed::HandOff), "{}", String::from_utf8_lossy(raw));
        }
        let many: String = (0..60).map(|i| format!("X-{i}: y\r\n")).collect();
        assert!(matches!(parse(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes(), none), Parsed::HandOff));
        assert!(matches!(parse(b"GET /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n", none), Parsed::Request { .. }));
    }

    #[test]
    fn partial_and_malformed_heads() {
        assert!(matches!(parse(b"GET /x HTTP/1.1\r\nRange: by", none), Parsed::Partial));
        assert!(matches!(parse(b"PRI * HT", none), Parsed::Partial));
        assert!(matches!(parse(b"", none), Parsed::Partial));
        assert!(matches!(parse(b"GET /x HTTP/1.1\r\nBad Header\r\n\r\n", none), Parsed::Bad(StatusCode::BAD_REQUEST, _)));
        assert!(matches!(parse(b"GET /x HTTP/2.5\r\n\r\n", none), Parsed::Bad(..)));
        assert!(matches!(parse(b"\x00\x01\x02 / HTTP/1.1\r\n\r\n", none), Parsed::Bad(..)));
    }

    #[test]
    fn the_head_carries_a_length_a_date_and_the_connection_when_needed() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_RANGE, "bytes 0-9/100".parse().unwrap());
        let mut out = Vec::new();
        let date = b"Mon, 07 Dec 2026 15:00:00 GMT";
        write_head(&mut out, StatusCode::PARTIAL_CONTENT, &h, 10, Version::HTTP_11, true, date);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "HTTP/1.1 206 Partial Content\r\ncontent-range: bytes 0-9/100\r\ncontent-length: 10\r\ndate: Mon, 07 Dec 2026 15:00:00 GMT\r\n\r\n"
        );
        h.insert(header::CONTENT_LENGTH, "100".parse().unwrap());
        write_head(&mut out, StatusCode::OK, &h, 0, Version::HTTP_11, false, date);
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(text.matches("content-length").count(), 1, "{text}");
        assert!(text.contains("content-length: 100\r\n") && text.ends_with("connection: close\r\n\r\n"), "{text}");
        write_head(&mut out, StatusCode::NOT_MODIFIED, &HeaderMap::new(), 0, Version::HTTP_10, true, date);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(!text.contains("content-length") && text.contains("connection: keep-alive\r\n"), "{text}");
        write_error(&mut out, StatusCode::BAD_REQUEST, "400 Bad Request\n", date);
        let parsed_len = {
            let mut hs = [httparse::EMPTY_HEADER; 8];
            let mut r = httparse::Response::new(&mut hs);
            match r.parse(&out).unwrap() {
                httparse::Status::Complete(n) => n,
                httparse::Status::Partial => panic!("partial"),
            }
        };
        assert_eq!(&out[parsed_len..], b"400 Bad Request\n");
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut x: u32 = 7;
        for _ in 0..2000 {
            let len = (x % 200) as usize;
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    b"GET /HTP1.\r\n: RangeConnection,close0"[(x % 36) as usize]
                })
                .collect();
            let _ = parse(&buf, none);
        }
    }
}
