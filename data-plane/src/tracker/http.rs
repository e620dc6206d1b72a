//! The classic HTTP tracker protocol (BEP 3 announce, BEP 23 compact peers, BEP 48 scrape):
//! query strings in, bencoded dictionaries out. Pure.

use std::net::SocketAddr;

use vidseed_bencode::Writer;

use super::protocol::{Bin20, Counts, Event};

/// A parsed `GET /tracker/announce?…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpAnnounce {
    pub info_hash: Bin20,
    pub peer_id: Bin20,
    pub port: u16,
    pub event: Event,
    pub left: Option<u64>,
    /// Peers wanted (default 50, at most 82 as bittorrent-tracker).
    pub numwant: usize,
    /// `compact=1`: 6-byte IPv4 and 18-byte IPv6 entries; otherwise a list of dictionaries.
    pub compact: bool,
}

/// Percent-decodes a query component into raw bytes (`+` is a space).
fn decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                out.push(v);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

fn pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, "")))
}

fn bin20(v: &str) -> Option<Bin20> {
    let bytes = decode(v)?;
    Some(Bin20(bytes.try_into().ok()?))
}

/// Parses an announce query string; the error is the `failure reason`.
pub fn parse_announce(query: &str) -> Result<HttpAnnounce, &'static str> {
    let (mut ih, mut pid, mut port, mut event, mut left, mut numwant, mut compact) = (None, None, None, Event::Update, None, 50usize, false);
    for (k, v) in pairs(query) {
        match k {
            "info_hash" => ih = Some(bin20(v).ok_or("invalid info_hash")?),
            "peer_id" => pid = Some(bin20(v).ok_or("invalid peer_id")?),
            "port" => port = Some(v.parse::<u16>().ok().filter(|&p| p > 0).ok_or("invalid port")?),
            "event" => {
                event = match v {
                    "started" => Event::Started,
                    "stopped" => Event::Stopped,
                    "completed" => Event::Completed,
                    "" | "update" | "empty" | "paused" => Event::Update,
                    _ => return Err("invalid event"),
                }
            }
            "left" => left = v.parse::<u64>().ok(),
            "numwant" => numwant = v.parse::<usize>().map_err(|_| "invalid numwant")?.min(82),
            "compact" => compact = v == "1",
            _ => {}
        }
    }
    Ok(HttpAnnounce {
        info_hash: ih.ok_or("invalid info_hash")?,
        peer_id: pid.ok_or("invalid peer_id")?,
        port: port.ok_or("invalid port")?,
        event,
        left,
        numwant,
        compact,
    })
}

/// The info-hashes of a scrape query (`info_hash` repeated).
pub fn parse_scrape(query: &str, max: usize) -> Result<Vec<Bin20>, &'static str> {
    let mut out = Vec::new();
    for (k, v) in pairs(query) {
        if k == "info_hash" {
            out.push(bin20(v).ok_or("invalid info_hash")?);
            if out.len() > max {
                return Err("too many info_hashes");
            }
        }
    }
    if out.is_empty() {
        return Err("full scrapes are not allowed");
    }
    Ok(out)
}

/// `d14:failure reason…e`.
pub fn failure(reason: &str) -> Vec<u8> {
    let mut w = Writer::new();
    w.dict().str("failure reason").str(reason).end();
    w.finish()
}

/// The bencoded announce response (keys in sorted order, as bencoding requires).
pub fn announce_response(counts: Counts, interval: u32, peers: &[(Bin20, SocketAddr)], compact: bool) -> Vec<u8> {
    let mut w = Writer::new();
    w.dict();
    w.str("complete").int(counts.complete as u64);
    w.str("incomplete").int(counts.incomplete as u64);
    w.str("interval").int(u64::from(interval));
    w.str("peers");
    if compact {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (_, a) in peers {
            match a {
                SocketAddr::V4(a) => {
                    v4.extend_from_slice(&a.ip().octets());
                    v4.extend_from_slice(&a.port().to_be_bytes());
                }
                SocketAddr::V6(a) => {
                    v6.extend_from_slice(&a.ip().octets());
                    v6.extend_from_slice(&a.port().to_be_bytes());
                }
            }
        }
        w.bytes(&v4).str("peers6").bytes(&v6);
    } else {
        w.list();
        for (id, a) in peers {
            w.dict().str("ip").str(&a.ip().to_string()).str("peer id").bytes(&id.0).str("port").int(u64::from(a.port())).end();
        }
        w.end();
    }
    w.end();
    w.finish()
}

/// The bencoded scrape response, keyed by the raw 20-byte info-hashes (sorted).
pub fn scrape_response(files: &[(Bin20, Counts)], interval: u32) -> Vec<u8> {
    let mut sorted: Vec<&(Bin20, Counts)> = files.iter().collect();
    sorted.sort_by_key(|f| f.0);
    sorted.dedup_by(|a, b| a.0 == b.0);
    let mut w = Writer::new();
    w.dict().str("files").dict();
    for (ih, c) in sorted {
        w.bytes(&ih.0).dict();
        w.str("complete").int(c.complete as u64);
        w.str("downloaded").int(c.complete as u64);
        w.str("incomplete").int(c.incomplete as u64);
        w.end();
    }
    w.end();
    w.str("flags").dict().str("min_request_interval").int(u64::from(interval)).end();
    w.end();
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pct(b: &[u8]) -> String {
        b.iter().map(|x| format!("%{x:02X}")).collect()
    }

    #[test]
    fn parses_announce_queries() {
        let q = format!("info_hash={}&peer_id={}&port=6881&uploaded=0&downloaded=0&left=10&event=started&compact=1&numwant=200", pct(&[0xab; 20]), "-qB4650-abcdefghijkl");
        let a = parse_announce(&q).unwrap();
        assert_eq!(a.info_hash, Bin20([0xab; 20]));
        assert_eq!(&a.peer_id.0, b"-qB4650-abcdefghijkl");
        assert_eq!((a.port, a.event, a.left, a.numwant, a.compact), (6881, Event::Started, Some(10), 82, true));
        let q = format!("info_hash={}&peer_id={}&port=1", pct(&[1; 20]), pct(&[2; 20]));
        let a = parse_announce(&q).unwrap();
        assert!(!a.compact, "missing compact means non-compact");
        assert_eq!(a.numwant, 50);
        assert_eq!(parse_announce("port=1"), Err("invalid info_hash"));
        assert_eq!(parse_announce(&format!("info_hash={}&peer_id={}&port=0", pct(&[1; 20]), pct(&[2; 20]))), Err("invalid port"));
        assert_eq!(parse_announce(&format!("info_hash={}&peer_id={}&port=1&event=boom", pct(&[1; 20]), pct(&[2; 20]))), Err("invalid event"));
        assert_eq!(parse_announce(&format!("info_hash={}&peer_id=short&port=1", pct(&[1; 20]))), Err("invalid peer_id"));
        assert_eq!(parse_announce("info_hash=%zz"), Err("invalid info_hash"));
    }

    #[test]
    fn bencoded_responses() {
        let peers = [(Bin20([7; 20]), "10.0.0.1:6881".parse().unwrap()), (Bin20([8; 20]), "[::1]:51413".parse().unwrap())];
        let r = announce_response(Counts { complete: 1, incomplete: 2 }, 120, &peers, true);
        let mut want = b"d8:completei1e10:incompletei2e8:intervali120e5:peers6:".to_vec();
        want.extend_from_slice(&[10, 0, 0, 1, 0x1a, 0xe1]);
        want.extend_from_slice(b"6:peers618:");
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xc8, 0xd5]);
        want.push(b'e');
        assert_eq!(r, want);
        let r = announce_response(Counts::default(), 120, &peers[..1], false);
        let mut want = b"d8:completei0e10:incompletei0e8:intervali120e5:peersld2:ip8:10.0.0.17:peer id20:".to_vec();
        want.extend_from_slice(&[7; 20]);
        want.extend_from_slice(b"4:porti6881eeee");
        assert_eq!(r, want);
        let r = scrape_response(&[(Bin20([0xff; 20]), Counts { complete: 3, incomplete: 4 })], 120);
        let mut want = b"d5:filesd20:".to_vec();
        want.extend_from_slice(&[0xff; 20]);
        want.extend_from_slice(b"d8:completei3e10:downloadedi3e10:incompletei4eee5:flagsd20:min_request_intervali120eee");
        assert_eq!(r, want);
        assert_eq!(failure("nope"), b"d14:failure reason4:nopee");
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(q in "[a-z_=&%0-9A-F+]{0,200}") {
            let _ = parse_announce(&q);
            let _ = parse_scrape(&q, 10);
        }
    }
}
