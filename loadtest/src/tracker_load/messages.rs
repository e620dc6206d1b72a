//! The messages `tracker-load` sends (announces with offers, answers, scrapes, written by hand
//! as aquatic's load test and the browser client write them) and the classification of what the
//! tracker sends back. Ids are written by the tracker's own JSON writer
//! (`vidseed_data_plane::tracker::protocol`), so both ends escape alike. Pure.

use std::io::Write as _;

use serde::Deserialize;
use vidseed_data_plane::tracker::protocol::{self, push_bin20_json, push_kv_bin, Bin20};
use vidseed_loadtest::rng::Rng;

/// The fake SDP of offers and answers: 47 bytes, as in aquatic's load test.
const FAKE_SDP: &str = "abcdefg-abcdefg-abcdefg-abcdefg-abcdefg-abcdefg";

/// 20 characters U+0000–U+00FF back to 20 bytes.
fn decode_bin20(s: &str) -> Option<[u8; 20]> {
    protocol::decode_bin20(s).map(|b| b.0)
}

fn push_num(out: &mut Vec<u8>, key: &str, n: u64) {
    let _ = write!(out, ",\"{key}\":{n}");
}

/// An announce as aquatic's load test sends it: `numwant` = number of offers, then `left` and
/// `event`, then the offers (each with a fresh random `offer_id`). With no offers, `numwant` and
/// `offers` are left out, as the browser client does.
pub fn build_announce(
    out: &mut Vec<u8>,
    rng: &mut Rng,
    info_hash: &[u8; 20],
    peer_id: &[u8; 20],
    seeder: bool,
    offers: usize,
) {
    out.extend_from_slice(b"{\"action\":\"announce\"");
    push_kv_bin(out, "info_hash", &Bin20(*info_hash));
    push_kv_bin(out, "peer_id", &Bin20(*peer_id));
    if offers > 0 {
        push_num(out, "numwant", offers as u64);
    }
    push_num(out, "uploaded", 0);
    push_num(out, "downloaded", 0);
    push_num(out, "left", if seeder { 0 } else { 50 });
    out.extend_from_slice(if seeder {
        b",\"event\":\"completed\"".as_slice()
    } else {
        b",\"event\":\"started\"".as_slice()
    });
    if offers > 0 {
        out.extend_from_slice(b",\"offers\":[");
        for i in 0..offers {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"offer\":{\"type\":\"offer\",\"sdp\":\"");
            out.extend_from_slice(FAKE_SDP.as_bytes());
            out.extend_from_slice(b"\"},\"offer_id\":");
            push_bin20_json(out, &Bin20(rng.bytes20()));
            out.push(b'}');
        }
        out.push(b']');
    }
    out.push(b'}');
}

/// The answer to an offer, as the browser client sends it: no `left`, `event` or `numwant`.
pub fn build_answer(out: &mut Vec<u8>, peer_id: &[u8; 20], offer: &OfferRef) {
    out.extend_from_slice(b"{\"action\":\"announce\"");
    push_kv_bin(out, "info_hash", &Bin20(offer.info_hash));
    push_kv_bin(out, "peer_id", &Bin20(*peer_id));
    push_kv_bin(out, "to_peer_id", &Bin20(offer.peer_id));
    push_kv_bin(out, "offer_id", &Bin20(offer.offer_id));
    out.extend_from_slice(b",\"answer\":{\"type\":\"answer\",\"sdp\":\"");
    out.extend_from_slice(FAKE_SDP.as_bytes());
    out.extend_from_slice(b"\"}}");
}

pub fn build_scrape(out: &mut Vec<u8>, hashes: &[[u8; 20]]) {
    out.extend_from_slice(b"{\"action\":\"scrape\",\"info_hash\":[");
    for (i, h) in hashes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_bin20_json(out, &Bin20(*h));
    }
    out.extend_from_slice(b"]}");
}

/// What is needed to answer an offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferRef {
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
    pub offer_id: [u8; 20],
}

/// A message from the tracker, classified as aquatic's load test counts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    Announce,
    Offer(OfferRef),
    Answer,
    Scrape,
    /// A message with a `failure reason`.
    Error(String),
    /// Anything else: not JSON, an offer without usable ids, an unknown action.
    Other,
}

/// The fields needed to classify; everything else is skipped unparsed.
#[derive(Deserialize)]
struct RawIncoming<'a> {
    #[serde(borrow, default)]
    action: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default, rename = "failure reason")]
    failure: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    offer: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    answer: Option<serde::de::IgnoredAny>,
    #[serde(borrow, default)]
    info_hash: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    peer_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    offer_id: Option<std::borrow::Cow<'a, str>>,
}

pub fn classify(payload: &[u8]) -> Incoming {
    // A scrape response's `info_hash`-keyed `files` or an error without `info_hash` have fields
    // of other types than the struct expects in the rare case; fall back to a looser parse.
    let raw: RawIncoming<'_> = match serde_json::from_slice(payload) {
        Ok(r) => r,
        Err(_) => return classify_loose(payload),
    };
    if let Some(reason) = raw.failure {
        return Incoming::Error(reason.into_owned());
    }
    match raw.action.as_deref() {
        Some("scrape") => Incoming::Scrape,
        Some("announce") if raw.offer.is_some() => {
            let ids = (
                raw.info_hash.as_deref().and_then(decode_bin20),
                raw.peer_id.as_deref().and_then(decode_bin20),
                raw.offer_id.as_deref().and_then(decode_bin20),
            );
            match ids {
                (Some(info_hash), Some(peer_id), Some(offer_id)) => Incoming::Offer(OfferRef {
                    info_hash,
                    peer_id,
                    offer_id,
                }),
                _ => Incoming::Other,
            }
        }
        Some("announce") if raw.answer.is_some() => Incoming::Answer,
        Some("announce") => Incoming::Announce,
        _ => Incoming::Other,
    }
}

fn classify_loose(payload: &[u8]) -> Incoming {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) else {
        return Incoming::Other;
    };
    if let Some(reason) = v.get("failure reason") {
        return Incoming::Error(
            reason
                .as_str()
                .map_or_else(|| reason.to_string(), str::to_string),
        );
    }
    match v.get("action").and_then(|a| a.as_str()) {
        Some("scrape") => Incoming::Scrape,
        _ => Incoming::Other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn all_bytes_ids() -> Vec<[u8; 20]> {
        (0..13)
            .map(|k| {
                let mut id = [0u8; 20];
                for (j, b) in id.iter_mut().enumerate() {
                    *b = ((k * 20 + j) % 256) as u8;
                }
                id
            })
            .collect()
    }

    #[test]
    fn binary_strings_round_trip_every_byte() {
        for id in all_bytes_ids() {
            let mut out = Vec::new();
            push_bin20_json(&mut out, &Bin20(id));
            let s: String = serde_json::from_slice(&out).expect("valid JSON string");
            assert_eq!(s.chars().count(), 20);
            assert_eq!(decode_bin20(&s), Some(id));
        }
        assert_eq!(decode_bin20("short"), None);
        assert_eq!(decode_bin20(&"\u{100}".repeat(20)), None);
        assert_eq!(decode_bin20(&"a".repeat(21)), None);
    }

    fn bin_of(v: &Value) -> [u8; 20] {
        decode_bin20(v.as_str().expect("a string")).expect("20 binary characters")
    }

    #[test]
    fn announce_has_the_aquatic_shape() {
        let mut rng = Rng::new(1);
        let ids = all_bytes_ids();
        let mut out = Vec::new();
        build_announce(&mut out, &mut rng, &ids[0], &ids[12], false, 10);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["action"], "announce");
        assert_eq!(bin_of(&v["info_hash"]), ids[0]);
        assert_eq!(bin_of(&v["peer_id"]), ids[12]);
        assert_eq!(
            (
                v["left"].as_u64(),
                v["event"].as_str(),
                v["numwant"].as_u64()
            ),
            (Some(50), Some("started"), Some(10))
        );
        let offers = v["offers"].as_array().unwrap();
        assert_eq!(offers.len(), 10);
        let mut offer_ids = std::collections::HashSet::new();
        for o in offers {
            assert_eq!(o["offer"]["type"], "offer");
            assert_eq!(o["offer"]["sdp"].as_str().unwrap().len(), 47);
            offer_ids.insert(bin_of(&o["offer_id"]));
        }
        assert_eq!(offer_ids.len(), 10, "offer ids are random and distinct");

        out.clear();
        build_announce(&mut out, &mut rng, &ids[1], &ids[2], true, 0);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            (v["left"].as_u64(), v["event"].as_str()),
            (Some(0), Some("completed"))
        );
        assert!(v.get("offers").is_none() && v.get("numwant").is_none());
    }

    #[test]
    fn answer_and_scrape_messages() {
        let ids = all_bytes_ids();
        let offer = OfferRef {
            info_hash: ids[3],
            peer_id: ids[4],
            offer_id: ids[5],
        };
        let mut out = Vec::new();
        build_answer(&mut out, &ids[6], &offer);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["action"], "announce");
        assert_eq!(
            bin_of(&v["info_hash"]),
            ids[3],
            "answers go to the offer's swarm"
        );
        assert_eq!(bin_of(&v["peer_id"]), ids[6]);
        assert_eq!(bin_of(&v["to_peer_id"]), ids[4]);
        assert_eq!(bin_of(&v["offer_id"]), ids[5]);
        assert_eq!(v["answer"]["type"], "answer");
        assert_eq!(v["answer"]["sdp"].as_str().unwrap().len(), 47);
        for absent in ["left", "event", "numwant", "offers"] {
            assert!(
                v.get(absent).is_none(),
                "{absent} is not sent with an answer"
            );
        }

        out.clear();
        build_scrape(&mut out, &ids[7..12]);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["action"], "scrape");
        let hs: Vec<[u8; 20]> = v["info_hash"]
            .as_array()
            .unwrap()
            .iter()
            .map(bin_of)
            .collect();
        assert_eq!(hs, ids[7..12].to_vec());
    }

    #[test]
    fn server_messages_are_classified() {
        let ids = all_bytes_ids();
        let bin = |b: &[u8; 20]| {
            let mut o = Vec::new();
            push_bin20_json(&mut o, &Bin20(*b));
            String::from_utf8(o).unwrap()
        };
        let ih = bin(&ids[0]);
        let announce = format!(
            r#"{{"action":"announce","interval":120,"complete":1,"incomplete":2,"info_hash":{ih}}}"#
        );
        assert_eq!(classify(announce.as_bytes()), Incoming::Announce);
        let offer = format!(
            r#"{{"action":"announce","offer":{{"type":"offer","sdp":"x"}},"offer_id":{},"peer_id":{},"info_hash":{ih}}}"#,
            bin(&ids[1]),
            bin(&ids[2])
        );
        assert_eq!(
            classify(offer.as_bytes()),
            Incoming::Offer(OfferRef {
                info_hash: ids[0],
                peer_id: ids[2],
                offer_id: ids[1]
            })
        );
        let answer = format!(
            r#"{{"action":"announce","answer":{{"type":"answer","sdp":"y"}},"offer_id":{ih},"peer_id":{ih},"info_hash":{ih}}}"#
        );
        assert_eq!(classify(answer.as_bytes()), Incoming::Answer);
        let scrape = format!(
            r#"{{"action":"scrape","files":{{{ih}:{{"complete":0,"incomplete":0,"downloaded":0}}}},"flags":{{"min_request_interval":600}}}}"#
        );
        assert_eq!(classify(scrape.as_bytes()), Incoming::Scrape);
        // Errors with and without action/info_hash (bittorrent-tracker's parse failures).
        let e1 = format!(
            r#"{{"failure reason":"too many announces","action":"announce","info_hash":{ih}}}"#
        );
        assert_eq!(
            classify(e1.as_bytes()),
            Incoming::Error("too many announces".into())
        );
        assert_eq!(
            classify(br#"{"failure reason":"invalid info_hash"}"#),
            Incoming::Error("invalid info_hash".into())
        );
        // A scrape error whose info_hash is a list still classifies.
        assert_eq!(
            classify(br#"{"failure reason":"x","action":"scrape","info_hash":[1,2]}"#),
            Incoming::Error("x".into())
        );
        assert_eq!(classify(b"{not json"), Incoming::Other);
        assert_eq!(classify(br#"{"action":"dance"}"#), Incoming::Other);
        // An offer whose ids are not 20 binary characters cannot be answered.
        assert_eq!(
            classify(
                br#"{"action":"announce","offer":{},"offer_id":"x","peer_id":"y","info_hash":"z"}"#
            ),
            Incoming::Other
        );
    }
}
