//! The little HTTP/1.1 `webseed-load` needs to read responses: the status line and the headers
//! it checks (`Content-Length`, `Content-Range`, `Access-Control-Allow-Origin`, `Connection`,
//! `Transfer-Encoding`), and how many body bytes follow. Pure: bytes in, a [`Head`] out.

use crate::stats::{fail, ErrKind, Fail};

/// The `Origin` every request carries (a page served from another origin than the webseed).
pub const ORIGIN: &str = "http://127.0.0.1:1";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ContentRange {
    Missing,
    Invalid,
    Range { first: u64, last: u64, size: u64 },
}

impl ContentRange {
    pub fn describe(self) -> String {
        match self {
            ContentRange::Missing => "none".to_string(),
            ContentRange::Invalid => "an unparsable value".to_string(),
            ContentRange::Range { first, last, size } => format!("bytes {first}-{last}/{size}"),
        }
    }
}

pub struct Head {
    pub status: u16,
    pub content_length: Option<u64>,
    pub content_range: ContentRange,
    /// `Access-Control-Allow-Origin` present and equal to `*` or our origin.
    pub acao: bool,
    /// The server will close the connection after this response.
    pub close: bool,
    /// A transfer coding other than identity (not supported by this client).
    pub chunked: bool,
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

fn parse_content_range(v: &[u8]) -> ContentRange {
    if v.len() < 6 || !v[..6].eq_ignore_ascii_case(b"bytes ") {
        return ContentRange::Invalid;
    }
    let v = trim(&v[6..]);
    let Some(dash) = v.iter().position(|&b| b == b'-') else {
        return ContentRange::Invalid;
    };
    let Some(slash) = v.iter().position(|&b| b == b'/') else {
        return ContentRange::Invalid;
    };
    if slash < dash {
        return ContentRange::Invalid;
    }
    match (
        parse_u64(&v[..dash]),
        parse_u64(&v[dash + 1..slash]),
        parse_u64(&v[slash + 1..]),
    ) {
        (Some(first), Some(last), Some(size)) => ContentRange::Range { first, last, size },
        _ => ContentRange::Invalid,
    }
}

fn contains_token(v: &[u8], token: &[u8]) -> bool {
    v.split(|&b| b == b',')
        .any(|t| trim(t).eq_ignore_ascii_case(token))
}

/// Parses a complete response head (status line and headers, ending with an empty line).
pub fn parse_head(h: &[u8]) -> Result<Head, Fail> {
    let mut lines = h
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next().unwrap_or_default();
    if status_line.len() < 12
        || !status_line.starts_with(b"HTTP/1.")
        || status_line[8] != b' '
        || (status_line.len() > 12 && status_line[12] != b' ')
    {
        return Err(fail(
            ErrKind::Protocol,
            format!("bad status line {:?}", String::from_utf8_lossy(status_line)),
        ));
    }
    let Some(status) = parse_u64(&status_line[9..12]).map(|s| s as u16) else {
        return Err(fail(ErrKind::Protocol, "bad status code"));
    };
    let http10 = status_line[7] == b'0';
    let mut head = Head {
        status,
        content_length: None,
        content_range: ContentRange::Missing,
        acao: false,
        close: http10,
        chunked: false,
    };
    for line in lines {
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(fail(ErrKind::Protocol, "header line without a colon"));
        };
        let name = &line[..colon];
        let value = trim(&line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-length") {
            let Some(n) = parse_u64(value) else {
                return Err(fail(ErrKind::Protocol, "bad Content-Length"));
            };
            if head.content_length.is_some_and(|old| old != n) {
                return Err(fail(
                    ErrKind::Protocol,
                    "conflicting Content-Length headers",
                ));
            }
            head.content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"content-range") {
            head.content_range = parse_content_range(value);
        } else if name.eq_ignore_ascii_case(b"access-control-allow-origin") {
            head.acao = value == b"*" || value == ORIGIN.as_bytes();
        } else if name.eq_ignore_ascii_case(b"connection") {
            if contains_token(value, b"close") {
                head.close = true;
            } else if contains_token(value, b"keep-alive") {
                head.close = false;
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            head.chunked = !value.eq_ignore_ascii_case(b"identity");
        }
    }
    Ok(head)
}

/// Number of body bytes that follow `head`.
pub fn body_length(head: &Head, head_request: bool) -> Result<u64, Fail> {
    if head_request || head.status < 200 || head.status == 204 || head.status == 304 {
        return Ok(0);
    }
    if head.chunked {
        return Err(fail(
            ErrKind::Protocol,
            "chunked responses are not supported",
        ));
    }
    head.content_length.ok_or_else(|| {
        fail(
            ErrKind::Protocol,
            format!("status {} without Content-Length", head.status),
        )
    })
}

pub fn find_head_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_206_head() {
        let h = b"HTTP/1.1 206 Partial Content\r\nContent-Length: 16384\r\n\
                  content-range: bytes 16384-32767/1073741824\r\n\
                  Access-Control-Allow-Origin: *\r\nConnection: keep-alive\r\n\r\n";
        let head = parse_head(h).ok().expect("parses");
        assert_eq!(head.status, 206);
        assert_eq!(head.content_length, Some(16384));
        assert!(head.acao && !head.close && !head.chunked);
        assert!(
            head.content_range
                == ContentRange::Range {
                    first: 16384,
                    last: 32767,
                    size: 1 << 30
                }
        );
    }

    #[test]
    fn http10_closes_and_bad_ranges_are_invalid() {
        let head = parse_head(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n")
            .ok()
            .expect("parses");
        assert!(head.close);
        assert!(parse_content_range(b"bytes */100") == ContentRange::Invalid);
        assert!(parse_content_range(b"bytes 5-1") == ContentRange::Invalid);
        assert!(parse_head(b"HTTP/1.1 2x6 X\r\n\r\n").is_err());
    }
}
