//! Request planning: method-independent evaluation of preconditions (RFC 9110 §13.2.2) and
//! `Range` against a representation, giving the response to send. Pure.

use super::conditional::{etag_list_matches, if_range_etag_matches, parse_http_date, Comparison};
use super::range::{parse_range, ByteRange, RangeOutcome};

/// The request headers that decide a GET/HEAD response, as raw field values.
#[derive(Clone, Copy, Debug, Default)]
pub struct Conditions<'a> {
    pub range: Option<&'a [u8]>,
    pub if_range: Option<&'a [u8]>,
    pub if_match: Option<&'a [u8]>,
    pub if_none_match: Option<&'a [u8]>,
    pub if_modified_since: Option<&'a [u8]>,
    pub if_unmodified_since: Option<&'a [u8]>,
}

/// The representation's length and validators.
#[derive(Clone, Copy, Debug)]
pub struct Resource<'a> {
    pub size: u64,
    /// Strong entity-tag, quotes included.
    pub etag: &'a [u8],
    /// Last-Modified, seconds since the Unix epoch.
    pub last_modified: u64,
}

/// The response to give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// 200 with the whole representation.
    Full,
    /// 206 with one range.
    Partial(ByteRange),
    /// 206 `multipart/byteranges`.
    Multipart(Vec<ByteRange>),
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    PreconditionFailed,
    /// 416 with `Content-Range: bytes */size`.
    RangeNotSatisfiable,
}

/// Decides a GET or HEAD response (the two differ only in whether the body is sent).
pub fn plan(c: &Conditions<'_>, res: &Resource<'_>) -> Plan {
    // Step 1: If-Match, else If-Unmodified-Since.
    if let Some(v) = c.if_match {
        if etag_list_matches(v, res.etag, Comparison::Strong) == Some(false) {
            return Plan::PreconditionFailed;
        }
    } else if let Some(since) = c.if_unmodified_since.and_then(parse_http_date) {
        if res.last_modified > since {
            return Plan::PreconditionFailed;
        }
    }
    // Step 2: If-None-Match, else If-Modified-Since (GET/HEAD only, which is all we plan).
    if let Some(v) = c.if_none_match {
        if etag_list_matches(v, res.etag, Comparison::Weak) == Some(true) {
            return Plan::NotModified;
        }
    } else if let Some(since) = c.if_modified_since.and_then(parse_http_date) {
        if res.last_modified <= since {
            return Plan::NotModified;
        }
    }
    // Step 3: Range, only if If-Range (when present) still holds.
    let Some(range) = c.range else {
        return Plan::Full;
    };
    if let Some(v) = c.if_range {
        if !if_range_holds(v, res) {
            return Plan::Full;
        }
    }
    match parse_range(range, res.size) {
        RangeOutcome::Ignore => Plan::Full,
        RangeOutcome::Unsatisfiable => Plan::RangeNotSatisfiable,
        RangeOutcome::Single(r) => Plan::Partial(r),
        RangeOutcome::Multi(v) => Plan::Multipart(v),
    }
}

/// If-Range: an entity-tag must match strongly; a date must equal Last-Modified exactly.
fn if_range_holds(v: &[u8], res: &Resource<'_>) -> bool {
    match if_range_etag_matches(v, res.etag) {
        Some(m) => m,
        None => parse_http_date(v) == Some(res.last_modified),
    }
}

/// Runs every parser on arbitrary input; the body of the fuzz target and of a property test.
pub fn fuzz_one(data: &[u8]) {
    let split = |d: &[u8], n: usize| -> Vec<Vec<u8>> {
        let mut parts: Vec<Vec<u8>> = d.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        parts.resize(n, Vec::new());
        parts
    };
    if data.len() < 8 {
        return;
    }
    let size = u64::from_le_bytes(data[..8].try_into().unwrap_or([0; 8])) >> (data[0] % 64);
    let parts = split(&data[8..], 6);
    let opt = |i: usize| (!parts[i].is_empty()).then_some(parts[i].as_slice());
    let c = Conditions {
        range: opt(0),
        if_range: opt(1),
        if_match: opt(2),
        if_none_match: opt(3),
        if_modified_since: opt(4),
        if_unmodified_since: opt(5),
    };
    let res = Resource { size, etag: b"\"vidseed-etag\"", last_modified: 784111777 };
    match plan(&c, &res) {
        Plan::Partial(r) => assert!(r.start <= r.end && r.end < size),
        Plan::Multipart(v) => assert!(v.iter().all(|r| r.start <= r.end && r.end < size)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &[u8] = b"\"v1\"";
    const LM: u64 = 784111777; // Sun, 06 Nov 1994 08:49:37 GMT
    const LM_STR: &[u8] = b"Sun, 06 Nov 1994 08:49:37 GMT";
    const LATER: &[u8] = b"Mon, 07 Nov 1994 08:49:37 GMT";
    const EARLIER: &[u8] = b"Sat, 05 Nov 1994 08:49:37 GMT";

    fn res() -> Resource<'static> {
        Resource { size: 100, etag: ETAG, last_modified: LM }
    }

    #[test]
    fn plain_and_ranges() {
        assert_eq!(plan(&Conditions::default(), &res()), Plan::Full);
        let c = Conditions { range: Some(b"bytes=0-9"), ..Default::default() };
        assert_eq!(plan(&c, &res()), Plan::Partial(ByteRange { start: 0, end: 9 }));
        let c = Conditions { range: Some(b"bytes=500-"), ..Default::default() };
        assert_eq!(plan(&c, &res()), Plan::RangeNotSatisfiable);
        let c = Conditions { range: Some(b"bytes=9-1"), ..Default::default() };
        assert_eq!(plan(&c, &res()), Plan::Full);
        let c = Conditions { range: Some(b"bytes=0-1,5-6"), ..Default::default() };
        assert!(matches!(plan(&c, &res()), Plan::Multipart(v) if v.len() == 2));
    }

    #[test]
    fn if_none_match_and_modified_since() {
        let c = Conditions { if_none_match: Some(b"\"v1\""), ..Default::default() };
        assert_eq!(plan(&c, &res()), Plan::NotModified);
        let c = Conditions { if_none_match: Some(b"W/\"v1\""), ..Default::default() };
        assert_eq!(plan(&c, &res()), Plan::NotModified);
        let c = Conditions { if_none_match: Some(b"\"v0\""), ..Default::default() };
        assert_eq!(plan(&c, &res()), Plan::Full);
        // If-None-Match present: If-Modified-Since is not looked at.
        let c = Conditions {
            if_none_match: Some(b"\"v0\""),
            if_modified_since: Some(LATER),
            ..Default::default()
        };
        assert_eq!(plan(&c, &res()), Plan::Full);
        let c = Conditions { if_modified_since: Some(LM_STR), ..Default::default() };
        assert_eq!(plan(&c, &res()), Plan::NotModified);
        let c = Conditions { if_modified_since: Some(EARLIER), ..Default::default() };
        assert_eq!(plan(&c, &res()), Plan::Full);
        let c = Conditions { if_modified_since: Some(b"garbage"), ..Default::default() };
        assert_eq!(plan(&c, &res()), Plan::Full);
    }

    #[test]
    fn if_match_and_unmodified_since() {
        let c = Conditions { if_match: Some(b"\"v0\""), ..Default::default() };
        assert_eq!(plan(&c, &res()), Plan::PreconditionFailed);
        let c = Conditions { if_match: Some(b"*"), range: Some(b"bytes=0-0"), ..Default::default() };
        assert_eq!(plan(&c, &res()), Plan::Partial(ByteRange { start: 0, end: 0 }));
        let c = Conditions { if_unmodified_since: Some(EARLIER), ..Default::default() };
        assert_eq!(plan(&c, &res()), Plan::PreconditionFailed);
        let c = Conditions { if_unmodified_since: Some(LM_STR), ..Default::default() };
        assert_eq!(plan(&c, &res()), Plan::Full);
    }

    #[test]
    fn if_range() {
        let ranged = |ir: &'static [u8]| Conditions {
            range: Some(b"bytes=10-19"),
            if_range: Some(ir),
            ..Default::default()
        };
        let part = Plan::Partial(ByteRange { start: 10, end: 19 });
        assert_eq!(plan(&ranged(b"\"v1\""), &res()), part);
        assert_eq!(plan(&ranged(b"\"v0\""), &res()), Plan::Full);
        assert_eq!(plan(&ranged(b"W/\"v1\""), &res()), Plan::Full);
        assert_eq!(plan(&ranged(LM_STR), &res()), part);
        assert_eq!(plan(&ranged(LATER), &res()), Plan::Full);
        assert_eq!(plan(&ranged(b"nonsense"), &res()), Plan::Full);
        // If-Range without Range changes nothing.
        let c = Conditions { if_range: Some(b"\"v0\""), ..Default::default() };
        assert_eq!(plan(&c, &res()), Plan::Full);
    }

    #[test]
    fn fuzz_body_survives_samples() {
        fuzz_one(b"");
        fuzz_one(&[0xff; 40]);
        fuzz_one(b"\x10\0\0\0\0\0\0\0bytes=0-1,2-3\n\"x\"\n*\nW/\"a\"\nSun, 06 Nov 1994 08:49:37 GMT\n");
    }

    proptest::proptest! {
        #[test]
        fn fuzz_body_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            fuzz_one(&data);
        }
    }
}
