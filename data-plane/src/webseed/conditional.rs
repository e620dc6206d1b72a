//! Conditional request headers (RFC 9110 §13): entity-tag lists and HTTP dates compared with a
//! representation's validators. Pure.

/// How entity-tags are compared (RFC 9110 §8.8.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// Both tags strong and identical (If-Match, If-Range).
    Strong,
    /// Opaque parts identical, weakness ignored (If-None-Match).
    Weak,
}

/// Does an `If-Match`/`If-None-Match` value (`*` or a list of entity-tags) match `ours`, a strong
/// entity-tag with its quotes? `None` when the value is not a valid list: the header is then
/// ignored, as a recipient must ignore a field value it cannot parse.
pub fn etag_list_matches(value: &[u8], ours: &[u8], cmp: Comparison) -> Option<bool> {
    let value = trim(value);
    if value == b"*" {
        return Some(true);
    }
    let mut rest = value;
    let mut matched = false;
    let mut any = false;
    loop {
        rest = trim_start(rest);
        if let [b',', tail @ ..] = rest {
            rest = tail;
            continue;
        }
        if rest.is_empty() {
            break;
        }
        let (tag, tail) = split_etag(rest)?;
        any = true;
        matched |= tag_matches(tag, ours, cmp);
        rest = trim_start(tail);
        match rest {
            [] => break,
            [b',', tail @ ..] => rest = tail,
            _ => return None,
        }
    }
    any.then_some(matched)
}

/// Does an `If-Range` entity-tag (a single tag, strong comparison) match `ours`?
/// `None` when the value is not one entity-tag (it may then be a date).
pub fn if_range_etag_matches(value: &[u8], ours: &[u8]) -> Option<bool> {
    let (tag, tail) = split_etag(trim(value))?;
    trim(tail).is_empty().then(|| tag_matches(tag, ours, Comparison::Strong))
}

/// Parses an HTTP date (IMF-fixdate, RFC 850 or asctime) into seconds since the Unix epoch.
pub fn parse_http_date(value: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(value).ok()?;
    let t = httpdate::parse_http_date(s.trim()).ok()?;
    t.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// Splits one entity-tag (`"…"` or `W/"…"`, quotes and prefix included) off the front.
fn split_etag(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let body_start = if s.starts_with(b"W/\"") {
        3
    } else if s.starts_with(b"\"") {
        1
    } else {
        return None;
    };
    let close = s[body_start..].iter().position(|&b| b == b'"')? + body_start;
    // etagc = %x21 / %x23-7E / obs-text
    if s[body_start..close].iter().any(|&b| b < 0x21 || b == 0x7f) {
        return None;
    }
    Some(s.split_at(close + 1))
}

fn tag_matches(tag: &[u8], ours: &[u8], cmp: Comparison) -> bool {
    let (tag_weak, tag_opaque) = strip_weak(tag);
    let (our_weak, our_opaque) = strip_weak(ours);
    match cmp {
        Comparison::Strong => !tag_weak && !our_weak && tag_opaque == our_opaque,
        Comparison::Weak => tag_opaque == our_opaque,
    }
}

fn strip_weak(tag: &[u8]) -> (bool, &[u8]) {
    match tag.strip_prefix(b"W/") {
        Some(rest) => (true, rest),
        None => (false, tag),
    }
}

fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

fn trim(s: &[u8]) -> &[u8] {
    let mut s = trim_start(s);
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &[u8] = b"\"abc\"";

    #[test]
    fn lists() {
        assert_eq!(etag_list_matches(b"\"abc\"", OURS, Comparison::Strong), Some(true));
        assert_eq!(etag_list_matches(b"*", OURS, Comparison::Weak), Some(true));
        assert_eq!(etag_list_matches(b"\"x\", \"abc\"", OURS, Comparison::Weak), Some(true));
        assert_eq!(etag_list_matches(b"\"x\",\"y\"", OURS, Comparison::Weak), Some(false));
        assert_eq!(etag_list_matches(b"W/\"abc\"", OURS, Comparison::Weak), Some(true));
        assert_eq!(etag_list_matches(b"W/\"abc\"", OURS, Comparison::Strong), Some(false));
        assert_eq!(etag_list_matches(b" , \"abc\" ,", OURS, Comparison::Strong), Some(true));
    }

    #[test]
    fn invalid_lists() {
        assert_eq!(etag_list_matches(b"abc", OURS, Comparison::Weak), None);
        assert_eq!(etag_list_matches(b"\"abc", OURS, Comparison::Weak), None);
        assert_eq!(etag_list_matches(b"\"a\" \"abc\"", OURS, Comparison::Weak), None);
        assert_eq!(etag_list_matches(b"", OURS, Comparison::Weak), None);
        assert_eq!(etag_list_matches(b"\"a b\"", OURS, Comparison::Weak), None);
    }

    #[test]
    fn if_range_tags() {
        assert_eq!(if_range_etag_matches(b"\"abc\"", OURS), Some(true));
        assert_eq!(if_range_etag_matches(b"\"abd\"", OURS), Some(false));
        assert_eq!(if_range_etag_matches(b"W/\"abc\"", OURS), Some(false));
        assert_eq!(if_range_etag_matches(b"Sun, 06 Nov 1994 08:49:37 GMT", OURS), None);
        assert_eq!(if_range_etag_matches(b"\"abc\", \"x\"", OURS), None);
    }

    #[test]
    fn dates() {
        assert_eq!(parse_http_date(b"Sun, 06 Nov 1994 08:49:37 GMT"), Some(784111777));
        assert_eq!(parse_http_date(b"Sunday, 06-Nov-94 08:49:37 GMT"), Some(784111777));
        assert_eq!(parse_http_date(b"Sun Nov  6 08:49:37 1994"), Some(784111777));
        assert_eq!(parse_http_date(b"yesterday"), None);
        assert_eq!(parse_http_date(&[0xff, 0xfe]), None);
    }
}
