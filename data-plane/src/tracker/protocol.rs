//! WebTorrent tracker wire messages: JSON objects in WebSocket frames, as the `bittorrent-tracker`
//! npm server and aquatic_ws speak them. Pure: bytes in, typed requests out; typed replies in,
//! JSON out.
//!
//! `info_hash`, `peer_id`, `to_peer_id` and `offer_id` are 20-byte binary strings written as
//! JSON strings of 20 characters U+0000–U+00FF (one character per byte). SDP offers and answers
//! are relayed as the exact JSON the sender wrote, never re-encoded.

use std::borrow::Cow;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A 20-byte id carried as a 20-character binary string.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Bin20(pub [u8; 20]);

impl<'de> Deserialize<'de> for Bin20 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Bin20;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string of 20 characters U+0000 to U+00FF")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Bin20, E> {
                decode_bin20(s).ok_or_else(|| E::custom("not a 20-byte binary string"))
            }
        }
        d.deserialize_str(V)
    }
}

/// 20 characters, each U+0000–U+00FF, to 20 bytes.
pub fn decode_bin20(s: &str) -> Option<Bin20> {
    // `s` is valid UTF-8, so a code point up to U+00FF is one ASCII byte or 0xC2/0xC3 followed
    // by a continuation byte; anything else is out of range.
    let b = s.as_bytes();
    let mut out = [0u8; 20];
    let (mut i, mut n) = (0, 0);
    while i < b.len() {
        let c = b[i];
        let v = match c {
            0..=0x7f => {
                i += 1;
                c
            }
            0xc2 | 0xc3 => {
                let c2 = *b.get(i + 1)?;
                i += 2;
                ((c & 0x03) << 6) | (c2 & 0x3f)
            }
            _ => return None,
        };
        *out.get_mut(n)? = v;
        n += 1;
    }
    (n == 20).then_some(Bin20(out))
}

/// Each byte's JSON text: its length, then its bytes (at most 6), zero-padded to 8 so that
/// every byte is one table load and one fixed-size copy, without a branch on random ids.
const BIN20_JSON_TABLE: [[u8; 8]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 8]; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = match b {
            b'"' | b'\\' => [2, b'\\', b, 0, 0, 0, 0, 0],
            0..=0x1f | 0x7f => [6, b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize], 0],
            0x20..=0x7e => [1, b, 0, 0, 0, 0, 0, 0],
            // U+0080..U+00FF in UTF-8.
            _ => [2, 0xc0 | (b >> 6), 0x80 | (b & 0x3f), 0, 0, 0, 0, 0],
        };
        i += 1;
    }
    t
};

/// Appends a 20-byte id as a JSON string of 20 binary characters, quotes included: one
/// character U+0000–U+00FF per byte (UTF-8 on the wire, so bytes 0x80–0xFF take two bytes), `"`
/// and `\` escaped, control characters and DEL as `\u00XX` — ASCII and whole two-byte
/// sequences, so always UTF-8. Written straight into `out`, not built elsewhere and copied.
pub fn push_bin20_json(out: &mut Vec<u8>, b: &Bin20) {
    // At most 6 bytes per byte and the quotes, plus the slack of the last 7-byte copy.
    const ROOM: usize = 2 + 20 * 6 + 7;
    let start = out.len();
    out.resize(start + ROOM, 0);
    let buf = &mut out[start..];
    buf[0] = b'"';
    let mut n = 1;
    for &byte in &b.0 {
        let e = &BIN20_JSON_TABLE[usize::from(byte)];
        buf[n..n + 7].copy_from_slice(&e[1..]);
        n += usize::from(e[0]);
    }
    buf[n] = b'"';
    out.truncate(start + n + 1);
}

/// The announce `event`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Started,
    Stopped,
    Completed,
    /// `update`, `paused`, `empty` or no event at all.
    Update,
}

/// One offer of an announce: forwarded to one other peer.
#[derive(Clone, Debug)]
pub struct Offer {
    pub offer_id: Bin20,
    /// The `{type, sdp}` object exactly as sent (relayed to one peer: moved, never copied).
    pub offer: Box<RawValue>,
}

/// The answer part of an announce that answers a forwarded offer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub to_peer_id: Bin20,
    pub offer_id: Bin20,
    pub answer: Box<RawValue>,
}

/// `action: "announce"`.
#[derive(Clone, Debug)]
pub struct AnnounceRequest {
    pub info_hash: Bin20,
    pub peer_id: Bin20,
    pub event: Event,
    /// Bytes left; `None` when absent or not a number (then not a seeder).
    pub left: Option<u64>,
    pub offers: Vec<Offer>,
    pub answer: Option<Answer>,
}

/// `action: "scrape"`.
#[derive(Clone, Debug)]
pub struct ScrapeRequest {
    /// Empty means a full scrape, which is refused.
    pub info_hashes: Vec<Bin20>,
}

/// A parsed client message.
#[derive(Clone, Debug)]
pub enum Request {
    Announce(AnnounceRequest),
    Scrape(ScrapeRequest),
}

/// Which action a reply is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Announce,
    Scrape,
}

/// Why a message was refused; carries what is known of it so the reply can name its action and
/// info-hash (the reference client drops its socket on replies without them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub action: Option<Action>,
    pub info_hash: Option<Bin20>,
    pub reason: Cow<'static, str>,
}

#[derive(Deserialize)]
struct RawOffer {
    offer: Box<RawValue>,
    offer_id: Bin20,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Bin20),
    Many(Vec<Bin20>),
}

/// Field-by-field, so that a bad field can be named; unknown fields are ignored.
#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(borrow, default)]
    action: Option<Cow<'a, str>>,
    #[serde(default)]
    info_hash: Option<&'a RawValue>,
    #[serde(default)]
    peer_id: Option<&'a RawValue>,
    #[serde(default)]
    to_peer_id: Option<&'a RawValue>,
    #[serde(default)]
    offer_id: Option<&'a RawValue>,
    #[serde(default)]
    event: Option<&'a RawValue>,
    #[serde(default)]
    left: Option<&'a RawValue>,
    #[serde(default)]
    offers: Option<&'a RawValue>,
    #[serde(default)]
    answer: Option<Box<RawValue>>,
}

/// Limits the parser enforces.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParseLimits {
    /// Offers accepted in one announce; more are an error.
    pub max_offers: usize,
    /// Info-hashes in one scrape.
    pub max_scrape: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits { max_offers: 10, max_scrape: 256 }
    }
}

fn err(action: Option<Action>, info_hash: Option<Bin20>, reason: impl Into<Cow<'static, str>>) -> ParseError {
    ParseError { action, info_hash, reason: reason.into() }
}

fn field<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Result<Option<T>, ()> {
    match raw {
        None => Ok(None),
        Some(r) if r.get() == "null" => Ok(None),
        Some(r) => serde_json::from_str(r.get()).map(Some).map_err(|_| ()),
    }
}

/// Parses one client message (a text or binary frame's payload).
///
/// A well-formed announce (what browsers send all the time) is read in one pass into its final
/// types; anything else — scrapes, and every message the one pass refuses — goes through
/// [`parse_request_checked`], which examines field by field and says precisely what is wrong.
/// The two agree on every message the fast one accepts (a property test and the fuzz target
/// check it).
pub fn parse_request(bytes: &[u8], limits: &ParseLimits) -> Result<Request, ParseError> {
    match parse_announce_fast(bytes, limits) {
        Some(req) => Ok(Request::Announce(req)),
        None => parse_request_checked(bytes, limits),
    }
}

/// A well-formed announce, typed field by field (unknown fields are skipped unread).
#[derive(Deserialize)]
struct FastAnnounce<'a> {
    #[serde(borrow)]
    action: Cow<'a, str>,
    info_hash: Bin20,
    peer_id: Bin20,
    #[serde(default, borrow)]
    event: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    left: Option<&'a RawValue>,
    #[serde(default)]
    offers: Option<Vec<RawOffer>>,
    #[serde(default)]
    answer: Option<Box<RawValue>>,
    #[serde(default)]
    to_peer_id: Option<Bin20>,
    #[serde(default)]
    offer_id: Option<Bin20>,
}

/// The one-pass reading of an announce; `None` for anything it does not accept as it is.
fn parse_announce_fast(bytes: &[u8], limits: &ParseLimits) -> Option<AnnounceRequest> {
    let text = simdutf8::basic::from_utf8(bytes).ok()?;
    let raw: FastAnnounce<'_> = serde_json::from_str(text).ok()?;
    if raw.action != "announce" {
        return None;
    }
    let event = match raw.event.as_deref() {
        None => Event::Update,
        Some("started") => Event::Started,
        Some("stopped") => Event::Stopped,
        Some("completed") => Event::Completed,
        Some("update" | "paused" | "empty" | "") => Event::Update,
        Some(_) => return None,
    };
    let offers = raw.offers.unwrap_or_default();
    if offers.len() > limits.max_offers {
        return None;
    }
    let answer = match raw.answer {
        Some(r) if r.get() != "null" => Some(Answer { to_peer_id: raw.to_peer_id?, offer_id: raw.offer_id?, answer: r }),
        _ => None,
    };
    Some(AnnounceRequest {
        info_hash: raw.info_hash,
        peer_id: raw.peer_id,
        event,
        left: left_of(raw.left),
        offers: offers.into_iter().map(|o| Offer { offer_id: o.offer_id, offer: o.offer }).collect(),
        answer,
    })
}

/// `left` as a whole number of bytes; anything but a finite, non-negative number counts as absent.
fn left_of(raw: Option<&RawValue>) -> Option<u64> {
    raw.and_then(|r| serde_json::from_str::<f64>(r.get()).ok())
        .and_then(|f| (f.is_finite() && f >= 0.0).then_some(f as u64))
}

/// Parses one client message field by field, with a precise error for the first bad one (it
/// names the action and the info-hash whenever they could be read, as clients need).
pub fn parse_request_checked(bytes: &[u8], limits: &ParseLimits) -> Result<Request, ParseError> {
    let raw: RawMessage<'_> = serde_json::from_slice(bytes).map_err(|e| {
        err(None, None, format!("invalid JSON: {e}"))
    })?;
    let action = match raw.action.as_deref() {
        Some("announce") => Action::Announce,
        Some("scrape") => Action::Scrape,
        Some(other) => {
            let shown: String = other.chars().take(32).collect();
            return Err(err(None, field::<Bin20>(raw.info_hash).ok().flatten(), format!("invalid action {shown:?}")));
        }
        None => return Err(err(None, None, "missing action")),
    };
    if action == Action::Scrape {
        let hashes = match field::<OneOrMany>(raw.info_hash) {
            Ok(None) => Vec::new(),
            Ok(Some(OneOrMany::One(h))) => vec![h],
            Ok(Some(OneOrMany::Many(v))) => v,
            Err(()) => return Err(err(Some(Action::Scrape), None, "invalid info_hash")),
        };
        if hashes.len() > limits.max_scrape {
            return Err(err(Some(Action::Scrape), None, format!("too many info_hashes (at most {})", limits.max_scrape)));
        }
        return Ok(Request::Scrape(ScrapeRequest { info_hashes: hashes }));
    }
    let a = Some(Action::Announce);
    let info_hash = match field::<Bin20>(raw.info_hash) {
        Ok(Some(h)) => h,
        _ => return Err(err(a, None, "invalid info_hash")),
    };
    let ih = Some(info_hash);
    let peer_id = match field::<Bin20>(raw.peer_id) {
        Ok(Some(p)) => p,
        _ => return Err(err(a, ih, "invalid peer_id")),
    };
    let event = match field::<Cow<'_, str>>(raw.event) {
        Ok(None) => Event::Update,
        Ok(Some(e)) => match e.as_ref() {
            "started" => Event::Started,
            "stopped" => Event::Stopped,
            "completed" => Event::Completed,
            "update" | "paused" | "empty" | "" => Event::Update,
            _ => return Err(err(a, ih, "invalid event")),
        },
        Err(()) => return Err(err(a, ih, "invalid event")),
    };
    // `left` may be a number, null, or missing (answers carry none); anything else is not a
    // seeder's left, as bittorrent-tracker treats NaN.
    let left = left_of(raw.left);
    let offers = match field::<Vec<RawOffer>>(raw.offers) {
        Ok(o) => o.unwrap_or_default(),
        Err(()) => return Err(err(a, ih, "invalid offers")),
    };
    if offers.len() > limits.max_offers {
        return Err(err(a, ih, format!("too many offers (at most {})", limits.max_offers)));
    }
    let offers = offers.into_iter().map(|o| Offer { offer_id: o.offer_id, offer: o.offer }).collect();
    let answer = match raw.answer {
        None => None,
        Some(r) if r.get() == "null" => None,
        Some(r) => {
            let to_peer_id = match field::<Bin20>(raw.to_peer_id) {
                Ok(Some(p)) => p,
                _ => return Err(err(a, ih, "invalid to_peer_id")),
            };
            let offer_id = match field::<Bin20>(raw.offer_id) {
                Ok(Some(o)) => o,
                _ => return Err(err(a, ih, "invalid offer_id")),
            };
            Some(Answer { to_peer_id, offer_id, answer: r })
        }
    };
    Ok(Request::Announce(AnnounceRequest { info_hash, peer_id, event, left, offers, answer }))
}

/// Seeder and leecher counts of one swarm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub complete: usize,
    pub incomplete: usize,
}

/// A message the tracker sends.
#[derive(Clone, Debug)]
pub enum Reply {
    Announce { info_hash: Bin20, counts: Counts, interval: u32 },
    Offer { info_hash: Bin20, peer_id: Bin20, offer_id: Bin20, offer: Box<RawValue> },
    Answer { info_hash: Bin20, peer_id: Bin20, offer_id: Bin20, answer: Box<RawValue> },
    Scrape { files: Vec<(Bin20, Counts)>, min_request_interval: u32 },
    Error { action: Option<Action>, info_hash: Option<Bin20>, reason: Cow<'static, str> },
}

impl From<ParseError> for Reply {
    fn from(e: ParseError) -> Self {
        Reply::Error { action: e.action, info_hash: e.info_hash, reason: e.reason }
    }
}

/// Appends `,"key":` and the id as JSON text ([`push_bin20_json`]): a field after the first.
pub fn push_kv_bin(out: &mut Vec<u8>, key: &str, b: &Bin20) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    push_bin20_json(out, b);
}

impl Reply {
    /// The JSON text of the reply.
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        self.write_json(&mut out);
        // Always UTF-8: ASCII, the ids' whole two-byte sequences and relayed JSON text.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Appends the reply's JSON text (UTF-8) to `out`: the connection's outgoing buffer, so a
    /// reply is encoded once, where it is sent from.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        use std::io::Write as _;
        // Room for the fixed fields (three 20-byte ids may take up to 6 bytes a byte when
        // escaped) and the relayed SDP, so the buffer grows at most once.
        let relayed = match self {
            Reply::Offer { offer: sdp, .. } | Reply::Answer { answer: sdp, .. } => sdp.get().len(),
            Reply::Scrape { files, .. } => files.len() * 200,
            _ => 0,
        };
        out.reserve(160 + relayed);
        match self {
            Reply::Announce { info_hash, counts, interval } => {
                let _ = write!(
                    out,
                    "{{\"action\":\"announce\",\"interval\":{interval},\"complete\":{},\"incomplete\":{}",
                    counts.complete, counts.incomplete
                );
                push_kv_bin(out, "info_hash", info_hash);
            }
            Reply::Offer { info_hash, peer_id, offer_id, offer } => {
                out.extend_from_slice(b"{\"action\":\"announce\",\"offer\":");
                out.extend_from_slice(offer.get().as_bytes());
                push_kv_bin(out, "offer_id", offer_id);
                push_kv_bin(out, "peer_id", peer_id);
                push_kv_bin(out, "info_hash", info_hash);
            }
            Reply::Answer { info_hash, peer_id, offer_id, answer } => {
                out.extend_from_slice(b"{\"action\":\"announce\",\"answer\":");
                out.extend_from_slice(answer.get().as_bytes());
                push_kv_bin(out, "offer_id", offer_id);
                push_kv_bin(out, "peer_id", peer_id);
                push_kv_bin(out, "info_hash", info_hash);
            }
            Reply::Scrape { files, min_request_interval } => {
                out.extend_from_slice(b"{\"action\":\"scrape\",\"files\":{");
                for (i, (ih, c)) in files.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    push_bin20_json(out, ih);
                    let _ = write!(
                        out,
                        ":{{\"complete\":{},\"incomplete\":{},\"downloaded\":{}}}",
                        c.complete, c.incomplete, c.complete
                    );
                }
                let _ = write!(out, "}},\"flags\":{{\"min_request_interval\":{min_request_interval}}}");
            }
            Reply::Error { action, info_hash, reason } => {
                out.extend_from_slice(b"{\"failure reason\":");
                let _ = serde_json::to_writer(&mut *out, reason.as_ref());
                match action {
                    Some(Action::Announce) => out.extend_from_slice(b",\"action\":\"announce\""),
                    Some(Action::Scrape) => out.extend_from_slice(b",\"action\":\"scrape\""),
                    None => {}
                }
                if let Some(ih) = info_hash {
                    push_kv_bin(out, "info_hash", ih);
                }
            }
        }
        out.push(b'}');
    }
}

/// Parses arbitrary bytes and encodes a reply from whatever was accepted; the body of the fuzz
/// target and of a property test. Every reply must be valid JSON.
pub fn fuzz_one(data: &[u8]) {
    let limits = ParseLimits::default();
    if let Some(fast) = parse_announce_fast(data, &limits) {
        let checked = parse_request_checked(data, &limits);
        assert_eq!(
            format!("{:?}", Ok::<_, ParseError>(Request::Announce(fast))),
            format!("{checked:?}"),
            "the one-pass and the checked parsers disagree"
        );
    }
    let reply: Reply = match parse_request(data, &limits) {
        Err(e) => e.into(),
        Ok(Request::Scrape(s)) => Reply::Scrape {
            files: s.info_hashes.iter().map(|h| (*h, Counts::default())).collect(),
            min_request_interval: 120,
        },
        Ok(Request::Announce(a)) => match (a.offers.first(), a.answer) {
            (Some(o), _) => Reply::Offer { info_hash: a.info_hash, peer_id: a.peer_id, offer_id: o.offer_id, offer: o.offer.clone() },
            (None, Some(ans)) => Reply::Answer { info_hash: a.info_hash, peer_id: a.peer_id, offer_id: ans.offer_id, answer: ans.answer },
            (None, None) => Reply::Announce { info_hash: a.info_hash, counts: Counts::default(), interval: 120 },
        },
    };
    let json = reply.to_json();
    assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok(), "invalid reply JSON: {json}");
}

#[cfg(test)]
mod tests;
