//! What `tracker-delivery` sends and reads, pre-encoded and patched in place (pure).
//!
//! Every peer owns two WebSocket frames built once: an announce with `offers` offers and an
//! answer. Before each send only fixed-width ASCII fields change — the offers' ids (a counter)
//! and the time stamps carried in the SDPs (microseconds since the run's epoch) — so sending
//! allocates nothing and encodes nothing. Client frames are masked with the all-zero key (the
//! mask bit is set as RFC 6455 requires; XOR with zero leaves the bytes as they are), which
//! servers accept like any other key.
//!
//! Server frames are read from a buffer by [`next_frame`]; the messages in them are recognised
//! by [`read_message`], which finds the few fields the generator needs (kind, the offerer's
//! peer id, the offer id, the time stamp) without parsing the JSON into values: every id the
//! generator sends is 20 ASCII characters, so it comes back as exactly that.

use std::sync::LazyLock;

use memchr::memmem::Finder;
use vidseed_data_plane::tracker::protocol::{push_bin20_json, Bin20};

/// Digits of a time stamp in an SDP (`ts:` + 20 digits, microseconds).
pub const TS_DIGITS: usize = 20;
/// The SDP's text before the time stamp.
const SDP_PREFIX: &[u8] = b"v=0 o=- ts:";

/// Writes `value` as `width` decimal digits (zero-padded, the low digits kept) at `at`.
pub fn put_digits(buf: &mut [u8], at: usize, width: usize, mut value: u64) {
    for i in (0..width).rev() {
        buf[at + i] = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Reads `width` decimal digits at `at`.
pub fn get_digits(buf: &[u8], at: usize, width: usize) -> Option<u64> {
    let digits = buf.get(at..at + width)?;
    digits.iter().try_fold(0u64, |v, &d| d.is_ascii_digit().then(|| v.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))))
}

/// A 20-character ASCII id: `prefix` then the zero-padded decimal `n`.
pub fn ascii_id(prefix: u8, n: u64) -> [u8; 20] {
    let mut id = [b'0'; 20];
    id[0] = prefix;
    put_digits(&mut id, 1, 19, n);
    id
}

/// Wraps `payload` in a masked client text frame (zero key); returns the frame and where the
/// payload starts in it.
pub fn client_frame(payload: &[u8]) -> (Vec<u8>, usize) {
    let mut f = Vec::with_capacity(payload.len() + 14);
    f.push(0x81);
    match payload.len() {
        n @ 0..=125 => f.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&[0, 0, 0, 0]);
    let start = f.len();
    f.extend_from_slice(payload);
    (f, start)
}

/// A pong for a ping's payload (masked, zero key).
pub fn pong(payload: &[u8]) -> Vec<u8> {
    let mut f = client_frame(payload).0;
    f[0] = 0x8a;
    f
}

/// A peer's announce frame and the places patched before each send.
pub struct AnnounceFrame {
    pub frame: Vec<u8>,
    /// Where each offer's 19-digit id counter starts.
    offer_ids: Vec<usize>,
    /// Where each offer's SDP time stamp starts.
    stamps: Vec<usize>,
}

impl AnnounceFrame {
    /// An announce of `peer_id` in swarm `info_hash` (`left` 50, `started`), with `offers`
    /// offers asking for as many peers, as the browser client sends it.
    pub fn new(info_hash: &[u8; 20], peer_id: &[u8; 20], offers: usize) -> Self {
        let mut p = Vec::with_capacity(160 + offers * 110);
        p.extend_from_slice(b"{\"action\":\"announce\",\"info_hash\":");
        push_bin20_json(&mut p, &Bin20(*info_hash));
        p.extend_from_slice(b",\"peer_id\":");
        push_bin20_json(&mut p, &Bin20(*peer_id));
        p.extend_from_slice(format!(",\"numwant\":{offers},\"uploaded\":0,\"downloaded\":0,\"left\":50,\"event\":\"started\"").as_bytes());
        let (mut offer_ids, mut stamps) = (Vec::new(), Vec::new());
        if offers > 0 {
            p.extend_from_slice(b",\"offers\":[");
            for i in 0..offers {
                if i > 0 {
                    p.push(b',');
                }
                p.extend_from_slice(b"{\"offer\":{\"type\":\"offer\",\"sdp\":\"");
                p.extend_from_slice(SDP_PREFIX);
                stamps.push(p.len());
                p.extend_from_slice(&[b'0'; TS_DIGITS]);
                p.extend_from_slice(b"\"},\"offer_id\":\"o");
                offer_ids.push(p.len());
                p.extend_from_slice(&[b'0'; 19]);
                p.extend_from_slice(b"\"}");
            }
            p.push(b']');
        }
        p.push(b'}');
        let (frame, start) = client_frame(&p);
        AnnounceFrame { frame, offer_ids: offer_ids.iter().map(|o| o + start).collect(), stamps: stamps.iter().map(|s| s + start).collect() }
    }

    /// Gives the offers the ids `first`, `first + 1`, … and the time stamp `now_us`.
    pub fn stamp(&mut self, first: u64, now_us: u64) {
        for (k, (&id, &ts)) in self.offer_ids.iter().zip(&self.stamps).enumerate() {
            put_digits(&mut self.frame, id, 19, first + k as u64);
            put_digits(&mut self.frame, ts, TS_DIGITS, now_us);
        }
    }

    pub fn offers(&self) -> usize {
        self.offer_ids.len()
    }
}

/// A peer's answer frame and the places patched before each send.
pub struct AnswerFrame {
    pub frame: Vec<u8>,
    to_peer: usize,
    offer_id: usize,
    stamp: usize,
}

impl AnswerFrame {
    pub fn new(info_hash: &[u8; 20], peer_id: &[u8; 20]) -> Self {
        let mut p = Vec::with_capacity(200);
        p.extend_from_slice(b"{\"action\":\"announce\",\"info_hash\":");
        push_bin20_json(&mut p, &Bin20(*info_hash));
        p.extend_from_slice(b",\"peer_id\":");
        push_bin20_json(&mut p, &Bin20(*peer_id));
        p.extend_from_slice(b",\"to_peer_id\":\"");
        let to_peer = p.len();
        p.extend_from_slice(&[b'0'; 20]);
        p.extend_from_slice(b"\",\"offer_id\":\"");
        let offer_id = p.len();
        p.extend_from_slice(&[b'0'; 20]);
        p.extend_from_slice(b"\",\"answer\":{\"type\":\"answer\",\"sdp\":\"");
        p.extend_from_slice(SDP_PREFIX);
        let stamp = p.len();
        p.extend_from_slice(&[b'0'; TS_DIGITS]);
        p.extend_from_slice(b"\"}}");
        let (frame, start) = client_frame(&p);
        AnswerFrame { frame, to_peer: to_peer + start, offer_id: offer_id + start, stamp: stamp + start }
    }

    /// Addresses the answer to `offer` and stamps it `now_us`.
    pub fn stamp(&mut self, offer: &OfferIds, now_us: u64) {
        self.frame[self.to_peer..self.to_peer + 20].copy_from_slice(&offer.from);
        self.frame[self.offer_id..self.offer_id + 20].copy_from_slice(&offer.offer_id);
        put_digits(&mut self.frame, self.stamp, TS_DIGITS, now_us);
    }
}

/// A frame found in a buffer of server bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    pub opcode: u8,
    pub fin: bool,
    pub payload: std::ops::Range<usize>,
    /// Bytes the frame takes in the buffer.
    pub len: usize,
}

/// The first whole frame at the start of `buf`; `Ok(None)` when more bytes are needed; an error
/// for a masked server frame or one longer than `max`.
pub fn next_frame(buf: &[u8], max: usize) -> Result<Option<Frame>, &'static str> {
    if buf.len() < 2 {
        return Ok(None);
    }
    if buf[1] & 0x80 != 0 {
        return Err("the server masked a frame");
    }
    let (len, head) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => (u64::from_be_bytes(buf[2..10].try_into().map_err(|_| "length")?), 10),
        126 | 127 => return Ok(None),
        n => (u64::from(n), 2),
    };
    if len > max as u64 {
        return Err("a frame longer than the limit");
    }
    let total = head + len as usize;
    if buf.len() < total {
        return Ok(None);
    }
    Ok(Some(Frame { opcode: buf[0] & 0x0f, fin: buf[0] & 0x80 != 0, payload: head..total, len: total }))
}

/// The ids an answer to an offer needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferIds {
    pub from: [u8; 20],
    pub offer_id: [u8; 20],
}

/// A message from the tracker, as the generator counts it.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    /// The response to an announce.
    Announced,
    /// A relayed offer (its ids when they are the generator's own ASCII ones) and its stamp.
    Offer(Option<OfferIds>, Option<u64>),
    /// A relayed answer and its stamp.
    Answer(Option<u64>),
    Scrape,
    Failure,
    Other,
}

/// A pattern searched in every message, its searcher built once (building one per search cost
/// the generator more than the search itself).
type Pattern = LazyLock<Finder<'static>>;

static FAILURE: Pattern = LazyLock::new(|| Finder::new(b"\"failure reason\""));
static OFFER: Pattern = LazyLock::new(|| Finder::new(b"\"offer\":"));
static ANSWER: Pattern = LazyLock::new(|| Finder::new(b"\"answer\":"));
static ANNOUNCE: Pattern = LazyLock::new(|| Finder::new(b"\"action\":\"announce\""));
static SCRAPE: Pattern = LazyLock::new(|| Finder::new(b"\"action\":\"scrape\""));
static PEER_ID: Pattern = LazyLock::new(|| Finder::new(b"\"peer_id\":\""));
static OFFER_ID: Pattern = LazyLock::new(|| Finder::new(b"\"offer_id\":\""));
static SDP: Pattern = LazyLock::new(|| Finder::new(SDP_PREFIX));

/// Where `pattern` ends in `msg`, if it is there.
fn after(msg: &[u8], pattern: &Pattern) -> Option<usize> {
    Some(pattern.find(msg)? + pattern.needle().len())
}

/// The 20 ASCII characters after `pattern` (`"key":"`), when that is what the string holds.
fn ascii20(msg: &[u8], pattern: &Pattern) -> Option<[u8; 20]> {
    let at = after(msg, pattern)?;
    let v = msg.get(at..at + 21)?;
    (v[20] == b'"' && v[..20].iter().all(|b| b.is_ascii_alphanumeric())).then(|| v[..20].try_into().ok()).flatten()
}

fn stamp_of(msg: &[u8]) -> Option<u64> {
    let at = after(msg, &SDP)?;
    get_digits(msg, at, TS_DIGITS)
}

/// Recognises a tracker message.
pub fn read_message(msg: &[u8]) -> Message {
    if FAILURE.find(msg).is_some() {
        return Message::Failure;
    }
    if OFFER.find(msg).is_some() {
        let ids = ascii20(msg, &PEER_ID).zip(ascii20(msg, &OFFER_ID)).map(|(from, offer_id)| OfferIds { from, offer_id });
        return Message::Offer(ids, stamp_of(msg));
    }
    if ANSWER.find(msg).is_some() {
        return Message::Answer(stamp_of(msg));
    }
    if ANNOUNCE.find(msg).is_some() {
        return Message::Announced;
    }
    if SCRAPE.find(msg).is_some() {
        return Message::Scrape;
    }
    Message::Other
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn payload(frame: &[u8]) -> Value {
        let f = next_frame_client(frame);
        serde_json::from_slice(&frame[f..]).unwrap()
    }

    /// Where a client frame's payload starts (after the header and the zero mask).
    fn next_frame_client(frame: &[u8]) -> usize {
        assert_eq!(frame[0], 0x81);
        assert!(frame[1] & 0x80 != 0, "masked");
        let head = match frame[1] & 0x7f {
            126 => 4,
            127 => 10,
            _ => 2,
        };
        assert_eq!(&frame[head..head + 4], &[0, 0, 0, 0]);
        head + 4
    }

    #[test]
    fn digits_round_trip() {
        let mut b = [0u8; 8];
        put_digits(&mut b, 1, 6, 1234);
        assert_eq!(&b[1..7], b"001234");
        assert_eq!(get_digits(&b, 1, 6), Some(1234));
        assert_eq!(get_digits(b"12a4", 0, 4), None);
        assert_eq!(get_digits(b"12", 0, 4), None);
        assert_eq!(&ascii_id(b'p', 42), b"p0000000000000000042");
    }

    #[test]
    fn an_announce_is_patched_in_place_and_stays_the_browser_s_shape() {
        let ih = [0xffu8; 20];
        let mut a = AnnounceFrame::new(&ih, &ascii_id(b'p', 7), 5);
        a.stamp(100, 123_456);
        let v = payload(&a.frame);
        assert_eq!((v["action"].as_str(), v["numwant"].as_u64(), v["event"].as_str()), (Some("announce"), Some(5), Some("started")));
        assert_eq!(v["info_hash"].as_str().unwrap().chars().count(), 20);
        assert_eq!(v["peer_id"], "p0000000000000000007");
        let offers = v["offers"].as_array().unwrap();
        assert_eq!(offers.len(), 5);
        assert_eq!(offers[0]["offer_id"], "o0000000000000000100");
        assert_eq!(offers[4]["offer_id"], "o0000000000000000104");
        assert_eq!(offers[2]["offer"]["sdp"], "v=0 o=- ts:00000000000000123456");
        let len = a.frame.len();
        a.stamp(105, 7);
        assert_eq!(a.frame.len(), len, "no growth");
        assert_eq!(payload(&a.frame)["offers"][0]["offer_id"], "o0000000000000000105");
        assert_eq!(AnnounceFrame::new(&ih, &ascii_id(b'p', 1), 0).offers(), 0);
        assert!(payload(&AnnounceFrame::new(&ih, &ascii_id(b'p', 1), 0).frame).get("offers").is_none());
    }

    #[test]
    fn an_answer_goes_to_the_offerer_with_the_offer_s_id() {
        let mut a = AnswerFrame::new(&[1; 20], &ascii_id(b'p', 2));
        a.stamp(&OfferIds { from: ascii_id(b'p', 9), offer_id: ascii_id(b'o', 77) }, 55);
        let v = payload(&a.frame);
        assert_eq!((v["to_peer_id"].as_str(), v["offer_id"].as_str()), (Some("p0000000000000000009"), Some("o0000000000000000077")));
        assert_eq!(v["answer"]["type"], "answer");
        assert_eq!(read_message(&a.frame[next_frame_client(&a.frame)..]), Message::Answer(Some(55)));
    }

    #[test]
    fn frames_are_found_whole_or_not_at_all() {
        let small = [0x81, 3, b'a', b'b', b'c', 0x89];
        assert_eq!(next_frame(&small, 100), Ok(Some(Frame { opcode: 1, fin: true, payload: 2..5, len: 5 })));
        assert_eq!(next_frame(&small[..4], 100), Ok(None));
        let mut mid = vec![0x81, 126, 0x01, 0x00];
        mid.extend(std::iter::repeat_n(b'x', 256));
        assert_eq!(next_frame(&mid, 1000).unwrap().unwrap().payload, 4..260);
        assert_eq!(next_frame(&mid[..3], 1000), Ok(None));
        assert!(next_frame(&mid, 100).is_err(), "over the limit");
        assert!(next_frame(&[0x81, 0x83, 0, 0, 0, 0, 1, 2, 3], 100).is_err(), "masked");
        let mut big = vec![0x82, 127];
        big.extend_from_slice(&70_000u64.to_be_bytes());
        assert_eq!(next_frame(&big, 100_000), Ok(None));
        assert_eq!(pong(b"hi")[0], 0x8a);
    }

    #[test]
    fn tracker_messages_are_recognised() {
        let offer = br#"{"action":"announce","offer":{"type":"offer","sdp":"v=0 o=- ts:00000000000000000042"},"offer_id":"o0000000000000000003","peer_id":"p0000000000000000001","info_hash":"x"}"#;
        assert_eq!(
            read_message(offer),
            Message::Offer(Some(OfferIds { from: ascii_id(b'p', 1), offer_id: ascii_id(b'o', 3) }), Some(42))
        );
        assert_eq!(read_message(br#"{"action":"announce","offer":{"sdp":"?"},"peer_id":"\u0001","offer_id":"z"}"#), Message::Offer(None, None));
        assert_eq!(read_message(br#"{"action":"announce","interval":120,"info_hash":"x","complete":0,"incomplete":3}"#), Message::Announced);
        assert_eq!(read_message(br#"{"action":"announce","answer":{"type":"answer","sdp":"v=0 o=- ts:00000000000000000009"},"offer_id":"a"}"#), Message::Answer(Some(9)));
        assert_eq!(read_message(br#"{"failure reason":"unknown info_hash","info_hash":"x"}"#), Message::Failure);
        assert_eq!(read_message(br#"{"action":"scrape","files":{}}"#), Message::Scrape);
        assert_eq!(read_message(b"nonsense"), Message::Other);
    }
}
