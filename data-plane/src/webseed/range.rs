//! The `Range` request header (RFC 9110 §14.1–14.2) resolved against a representation's
//! length: which bytes to send, or that the range is unsatisfiable, or that the header must be
//! ignored. Pure; the single-range case allocates nothing.
//!
//! Written here rather than taken from a crate because the RFC's three outcomes must stay apart:
//! an *invalid* header is ignored (200 with the whole file) while a valid but *unsatisfiable*
//! one gets 416, and WebTorrent's one-closed-range-per-piece requests must not allocate.

/// How many range-specs one request may carry. More are answered as if there were no `Range`
/// (RFC 9110 lets a server ignore a Range it finds abusive); it bounds the work of one request.
pub const MAX_RANGES: usize = 32;

/// Inclusive byte positions `start..=end` inside the representation (`end < size`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    /// Number of bytes in the range (never 0).
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// Always false: a resolved range holds at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// What a `Range` header asks for, resolved against the representation's size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeOutcome {
    /// Not a valid bytes range header (syntax, other unit, too many ranges): serve it whole.
    Ignore,
    /// Valid, but no range overlaps the representation: 416.
    Unsatisfiable,
    /// Exactly one satisfiable range: a plain 206.
    Single(ByteRange),
    /// Two or more disjoint, non-adjacent satisfiable ranges, in the order asked (or in file
    /// order once overlapping ones were merged): a `multipart/byteranges` 206.
    Multi(Vec<ByteRange>),
}

enum Spec {
    /// `first-last` (`last` saturated to u64::MAX when absent or huge).
    Int { first: u64, last: u64 },
    /// `-n`: the last n bytes.
    Suffix(u64),
}

/// Resolves a `Range` header value against a representation of `size` bytes.
pub fn parse_range(value: &[u8], size: u64) -> RangeOutcome {
    let Some(set) = strip_unit(value) else {
        return RangeOutcome::Ignore;
    };
    let mut first: Option<ByteRange> = None;
    let mut more: Vec<ByteRange> = Vec::new();
    let mut specs = 0usize;
    for element in set.split(|&b| b == b',') {
        let element = trim_ows(element);
        if element.is_empty() {
            continue; // RFC 9110 §5.6.1.2: empty list elements are ignored.
        }
        specs += 1;
        if specs > MAX_RANGES {
            return RangeOutcome::Ignore;
        }
        let Some(spec) = parse_spec(element) else {
            return RangeOutcome::Ignore;
        };
        if let Some(r) = resolve(spec, size) {
            match first {
                None => first = Some(r),
                Some(f) => {
                    if more.is_empty() {
                        more.push(f);
                    }
                    more.push(r);
                }
            }
        }
    }
    match (specs, first) {
        (0, _) => RangeOutcome::Ignore,
        (_, None) => RangeOutcome::Unsatisfiable,
        (_, Some(r)) if more.is_empty() => RangeOutcome::Single(r),
        _ => coalesce(more),
    }
}

/// Several satisfiable ranges: overlapping or adjacent ones merged (RFC 9110 §14.2 allows it,
/// in any order), so a response never carries a byte twice — `bytes=0-,0-,…` would otherwise
/// send the file once per range. Disjoint ranges keep the order asked; merged, they can never
/// add up to more than the representation.
fn coalesce(mut ranges: Vec<ByteRange>) -> RangeOutcome {
    let mut sorted = ranges.clone();
    sorted.sort_unstable_by_key(|r| r.start);
    let touching = sorted.windows(2).any(|w| w[1].start <= w[0].end.saturating_add(1));
    if touching {
        ranges.clear();
        for r in sorted {
            match ranges.last_mut() {
                Some(last) if r.start <= last.end.saturating_add(1) => last.end = last.end.max(r.end),
                _ => ranges.push(r),
            }
        }
    }
    // Disjoint and apart, the ranges now hold fewer bytes than the representation.
    match ranges[..] {
        [one] => RangeOutcome::Single(one),
        _ => RangeOutcome::Multi(ranges),
    }
}

/// `bytes=` (unit case-insensitive) → the range-set after it.
fn strip_unit(value: &[u8]) -> Option<&[u8]> {
    let eq = value.iter().position(|&b| b == b'=')?;
    let (unit, rest) = value.split_at(eq);
    unit.eq_ignore_ascii_case(b"bytes").then_some(&rest[1..])
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn parse_spec(s: &[u8]) -> Option<Spec> {
    let dash = s.iter().position(|&b| b == b'-')?;
    let (first, last) = (&s[..dash], &s[dash + 1..]);
    if first.is_empty() {
        return Some(Spec::Suffix(parse_digits(last)?));
    }
    let first = parse_digits(first)?;
    let last = if last.is_empty() { u64::MAX } else { parse_digits(last)? };
    // RFC 9110 §14.1.1: an int-range whose last-pos is below first-pos is invalid.
    (last >= first).then_some(Spec::Int { first, last })
}

/// 1*DIGIT, saturating at u64::MAX (a huge position is still a valid position).
fn parse_digits(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    Some(n)
}

fn resolve(spec: Spec, size: u64) -> Option<ByteRange> {
    match spec {
        Spec::Int { first, last } if first < size => {
            Some(ByteRange { start: first, end: last.min(size - 1) })
        }
        Spec::Suffix(n) if n > 0 && size > 0 => {
            Some(ByteRange { start: size.saturating_sub(n), end: size - 1 })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
