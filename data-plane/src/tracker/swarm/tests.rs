use serde_json::value::RawValue;

use super::*;
use crate::tracker::protocol::{Answer, Offer};

struct Seq(u64);
impl RandomSource for Seq {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 11
    }
}

fn b(x: u8) -> Bin20 {
    Bin20([x; 20])
}

const IH: u8 = 0xaa;

fn sdp(s: &str) -> Box<RawValue> {
    RawValue::from_string(format!(r#"{{"type":"offer","sdp":"{s}"}}"#)).unwrap()
}

fn announce(peer: u8, event: Event, left: Option<u64>, offers: &[u8]) -> AnnounceRequest {
    AnnounceRequest {
        info_hash: b(IH),
        peer_id: b(peer),
        event,
        left,
        offers: offers.iter().map(|&o| Offer { offer_id: b(o), offer: sdp(&format!("o{o}")) }).collect(),
        answer: None,
    }
}

fn answer(from: u8, to: u8, offer_id: u8) -> AnnounceRequest {
    AnnounceRequest {
        info_hash: b(IH),
        peer_id: b(from),
        event: Event::Update,
        left: None,
        offers: vec![],
        answer: Some(Answer { to_peer_id: b(to), offer_id: b(offer_id), answer: sdp("ans") }),
    }
}

struct World {
    s: Swarms,
    rng: Seq,
    now: Instant,
}

impl World {
    fn new() -> Self {
        World { s: Swarms::new(SwarmConfig::default()), rng: Seq(7), now: Instant::now() }
    }

    fn send(&mut self, conn: ConnId, req: AnnounceRequest) -> Vec<(ConnId, Reply)> {
        let mut out = Vec::new();
        self.s.announce(self.now, &mut self.rng, conn, req, &Gates { tracked: &|ih| *ih == b(IH), deliverable: &|_| true }, &mut out);
        out
    }

    fn counts(&self) -> (usize, usize) {
        let c = self.s.counts(&b(IH));
        (c.complete, c.incomplete)
    }
}

fn announce_reply(out: &[(ConnId, Reply)], conn: ConnId) -> (usize, usize) {
    out.iter()
        .find_map(|(c, r)| match r {
            Reply::Announce { counts, interval, info_hash } if *c == conn => {
                assert_eq!(*interval, 120);
                assert_eq!(*info_hash, b(IH));
                Some((counts.complete, counts.incomplete))
            }
            _ => None,
        })
        .expect("an announce reply")
}

#[test]
fn counts_follow_started_completed_stopped() {
    let mut w = World::new();
    assert_eq!(announce_reply(&w.send(1, announce(1, Event::Started, Some(10), &[])), 1), (0, 1));
    assert_eq!(announce_reply(&w.send(2, announce(2, Event::Started, Some(0), &[])), 2), (1, 1));
    assert_eq!(announce_reply(&w.send(1, announce(1, Event::Completed, None, &[])), 1), (2, 0));
    // A seeder never turns back into a leecher.
    assert_eq!(announce_reply(&w.send(1, announce(1, Event::Update, Some(5), &[])), 1), (2, 0));
    assert_eq!(announce_reply(&w.send(2, announce(2, Event::Stopped, None, &[])), 2), (1, 0));
    // Stopping twice, or an unknown peer stopping, changes nothing.
    assert_eq!(announce_reply(&w.send(2, announce(2, Event::Stopped, None, &[])), 2), (1, 0));
    assert_eq!(w.s.stats(), SwarmStats { swarms: 1, peers: 1, seeders: 1 });
}

#[test]
fn offers_go_to_distinct_other_peers_and_answers_come_back() {
    let mut w = World::new();
    for p in 1..=4 {
        w.send(u64::from(p), announce(p, Event::Started, Some(1), &[]));
    }
    let out = w.send(1, announce(1, Event::Update, Some(1), &[101, 102, 103, 104, 105]));
    let offers: Vec<(ConnId, Bin20, Bin20)> = out
        .iter()
        .filter_map(|(c, r)| match r {
            Reply::Offer { peer_id, offer_id, info_hash, .. } => {
                assert_eq!(*info_hash, b(IH));
                Some((*c, *peer_id, *offer_id))
            }
            _ => None,
        })
        .collect();
    // Three other peers: three offers, each to a different peer, never back to the sender.
    assert_eq!(offers.len(), 3);
    let mut targets: Vec<ConnId> = offers.iter().map(|o| o.0).collect();
    targets.sort_unstable();
    targets.dedup();
    assert_eq!(targets.len(), 3);
    assert!(!targets.contains(&1));
    assert!(offers.iter().all(|o| o.1 == b(1)));

    // The peer that got offer X answers it: the answer reaches peer 1 only.
    let (to_conn, _, offer_id) = offers[0];
    let answerer = to_conn as u8;
    let out = w.send(to_conn, answer(answerer, 1, offer_id.0[0]));
    assert_eq!(out.len(), 1);
    match &out[0] {
        (1, Reply::Answer { peer_id, offer_id: oid, answer, info_hash }) => {
            assert_eq!(*peer_id, b(answerer));
            assert_eq!(*oid, offer_id);
            assert_eq!(*info_hash, b(IH));
            assert!(answer.get().contains("ans"));
        }
        other => panic!("{other:?}"),
    }
    // The same answer again, or an answer to an offer never forwarded to that peer, is refused.
    let out = w.send(to_conn, answer(answerer, 1, offer_id.0[0]));
    assert!(matches!(&out[0], (c, Reply::Error { .. }) if *c == to_conn));
    let spoofer = offers[1].0;
    let out = w.send(spoofer, answer(spoofer as u8, 1, offers[2].2 .0[0]));
    assert!(matches!(&out[0], (c, Reply::Error { reason, .. }) if *c == spoofer && reason.contains("Could not find the offer")));
    // An answer does not change counts (answers carry no `left`).
    assert_eq!(w.counts(), (0, 4));
}

#[test]
fn an_answer_must_come_from_the_connection_that_holds_the_answering_peer() {
    let mut w = World::new();
    w.send(1, announce(1, Event::Started, Some(1), &[]));
    w.send(2, announce(2, Event::Started, Some(1), &[]));
    let out = w.send(1, announce(1, Event::Update, Some(1), &[77]));
    assert!(out.iter().any(|(c, r)| *c == 2 && matches!(r, Reply::Offer { .. })));
    // Connection 3 knows the offer id and peer 2's id, but does not hold peer 2: refused, and
    // the offer stays answerable by its real recipient.
    let out = w.send(3, answer(2, 1, 77));
    assert!(matches!(&out[..], [(3, Reply::Error { reason, .. })] if reason.contains("Could not find the offer")), "{out:?}");
    let out = w.send(2, answer(2, 1, 77));
    assert!(matches!(&out[..], [(1, Reply::Answer { .. })]), "{out:?}");
}

#[test]
fn answers_expire_with_the_offer() {
    let mut w = World::new();
    w.send(1, announce(1, Event::Started, Some(1), &[]));
    w.send(2, announce(2, Event::Started, Some(1), &[9]));
    w.now += Duration::from_secs(121);
    w.send(1, announce(1, Event::Update, Some(1), &[]));
    let out = w.send(1, answer(1, 2, 9));
    assert!(matches!(&out[0], (1, Reply::Error { .. })));
}

#[test]
fn single_peer_gets_no_offer_of_its_own() {
    let mut w = World::new();
    let out = w.send(1, announce(1, Event::Started, Some(1), &[1, 2, 3]));
    assert_eq!(out.len(), 1);
    assert_eq!(announce_reply(&out, 1), (0, 1));
}

#[test]
fn closed_connections_and_timeouts_remove_peers_at_once() {
    let mut w = World::new();
    w.send(1, announce(1, Event::Started, Some(0), &[]));
    w.send(2, announce(2, Event::Started, Some(5), &[]));
    w.send(3, announce(3, Event::Started, Some(5), &[]));
    w.s.connection_closed(2);
    assert_eq!(w.counts(), (1, 1));
    w.now += Duration::from_secs(100);
    w.send(3, announce(3, Event::Update, Some(5), &[]));
    w.now += Duration::from_secs(100);
    w.s.clean(w.now);
    assert_eq!(w.counts(), (0, 1), "peer 1 timed out, peer 3 announced in time");
    w.s.connection_closed(3);
    assert_eq!(w.s.stats(), SwarmStats::default(), "empty swarms are dropped");
}

#[test]
fn peer_ids_belong_to_one_connection_and_untracked_hashes_are_refused() {
    let mut w = World::new();
    w.send(1, announce(1, Event::Started, Some(1), &[]));
    let out = w.send(2, announce(1, Event::Started, Some(0), &[]));
    assert!(matches!(&out[0], (2, Reply::Error { info_hash: Some(ih), action: Some(Action::Announce), .. }) if *ih == b(IH)));
    assert_eq!(w.counts(), (0, 1));
    // Another connection cannot stop someone else's peer either.
    w.send(2, announce(1, Event::Stopped, None, &[]));
    assert_eq!(w.counts(), (0, 1));

    let mut req = announce(5, Event::Started, Some(1), &[]);
    req.info_hash = b(0x01);
    let out = w.send(5, req);
    assert!(matches!(&out[0], (5, Reply::Error { info_hash: Some(ih), .. }) if *ih == b(0x01)));
    assert_eq!(w.s.stats().swarms, 1);
}

#[test]
fn swarms_per_connection_are_capped() {
    let mut w = World { s: Swarms::new(SwarmConfig { max_swarms_per_conn: 2, ..Default::default() }), rng: Seq(1), now: Instant::now() };
    let mut out = Vec::new();
    for ih in 1..=3u8 {
        let mut req = announce(1, Event::Started, Some(1), &[]);
        req.info_hash = b(ih);
        w.s.announce(w.now, &mut w.rng, 1, req, &Gates { tracked: &|_| true, deliverable: &|_| true }, &mut out);
    }
    assert!(matches!(out.last(), Some((1, Reply::Error { reason, .. })) if reason.contains("too many swarms")));
    assert_eq!(w.s.stats().swarms, 2);
}

#[test]
fn scrape_counts_and_full_scrape_refused() {
    let mut w = World::new();
    w.send(1, announce(1, Event::Started, Some(0), &[]));
    w.send(2, announce(2, Event::Started, Some(3), &[]));
    let mut out = Vec::new();
    w.s.scrape(9, &ScrapeRequest { info_hashes: vec![b(IH), b(1)] }, &mut out);
    match &out[0] {
        (9, Reply::Scrape { files, .. }) => {
            assert_eq!(files[0], (b(IH), Counts { complete: 1, incomplete: 1 }));
            assert_eq!(files[1], (b(1), Counts::default()));
        }
        other => panic!("{other:?}"),
    }
    out.clear();
    w.s.scrape(9, &ScrapeRequest { info_hashes: vec![] }, &mut out);
    assert!(matches!(&out[0], (9, Reply::Error { action: Some(Action::Scrape), .. })));
}

#[test]
fn http_peers_share_the_swarm_but_never_get_offers() {
    use crate::tracker::http::HttpAnnounce;
    let mut w = World::new();
    let http = |peer: u8, event: Event, left: Option<u64>| HttpAnnounce {
        info_hash: b(IH), peer_id: b(peer), port: 6881, event, left, numwant: 50, compact: true,
    };
    let allowed = |ih: &Bin20| *ih == b(IH);
    let addr1: std::net::SocketAddr = "127.0.0.1:6881".parse().unwrap();
    let addr2: std::net::SocketAddr = "127.0.0.2:6882".parse().unwrap();
    let (c, peers) = w.s.http_announce(w.now, &mut w.rng, &http(10, Event::Started, Some(5)), addr1, &allowed).unwrap();
    assert_eq!((c.complete, c.incomplete), (0, 1));
    assert!(peers.is_empty(), "the requester is not given itself");
    let (c, peers) = w.s.http_announce(w.now, &mut w.rng, &http(11, Event::Started, Some(0)), addr2, &allowed).unwrap();
    assert_eq!((c.complete, c.incomplete), (1, 1));
    assert_eq!(peers, vec![(b(10), addr1)]);
    // A WebSocket peer is counted, gets no HTTP peer's offer slot, and is not listed to HTTP.
    let out = w.send(1, announce(1, Event::Started, Some(1), &[50, 51]));
    assert_eq!(announce_reply(&out, 1), (1, 2));
    assert!(out.iter().all(|(_, r)| !matches!(r, Reply::Offer { .. })), "HTTP peers get no offers");
    let (_, peers) = w.s.http_announce(w.now, &mut w.rng, &http(10, Event::Update, Some(5)), addr1, &allowed).unwrap();
    assert_eq!(peers, vec![(b(11), addr2)]);
    let (c, _) = w.s.http_announce(w.now, &mut w.rng, &http(11, Event::Stopped, None), addr2, &allowed).unwrap();
    assert_eq!((c.complete, c.incomplete), (0, 2));
    assert!(w.s.http_announce(w.now, &mut w.rng, &http(1, Event::Started, None), addr1, &allowed).is_err(), "a WebSocket peer's id");
    let mut other = http(12, Event::Started, None);
    other.info_hash = b(3);
    assert_eq!(w.s.http_announce(w.now, &mut w.rng, &other, addr1, &allowed), Err("info_hash is not tracked here"));
}

#[test]
fn pending_offers_stay_bounded() {
    let mut w = World::new();
    for p in 2..=12u8 {
        w.send(u64::from(p), announce(p, Event::Started, Some(1), &[]));
    }
    let mut last = Vec::new();
    for round in 0..40u8 {
        let offers: Vec<u8> = (0..10).map(|i| round.wrapping_mul(10).wrapping_add(i)).collect();
        last = w.send(1, announce(1, Event::Update, Some(1), &offers));
    }
    let t = w.s.torrents.get(&b(IH)).unwrap();
    assert!(t.peers.get(&b(1)).unwrap().expecting.len() <= MAX_PENDING_OFFERS);
    // The newest offers can still be answered.
    let (to, offer_id) = last
        .iter()
        .find_map(|(c, r)| match r {
            Reply::Offer { offer_id, .. } => Some((*c, *offer_id)),
            _ => None,
        })
        .unwrap();
    let out = w.send(to, answer(to as u8, 1, offer_id.0[0]));
    assert!(matches!(&out[0], (1, Reply::Answer { .. })), "{out:?}");
}

#[test]
fn offers_skip_connections_that_cannot_take_them() {
    let mut w = World::new();
    for p in 1..=4u8 {
        w.send(ConnId::from(p), announce(p, Event::Started, Some(1), &[]));
    }
    // Connection 2 is full: peer 5's three offers go to 1, 3 and 4, and none is left pending
    // with peer 2 (whose answer could never come).
    let mut out = Vec::new();
    let full = |c: ConnId| c != 2;
    w.s.announce(w.now, &mut w.rng, 5, announce(5, Event::Started, Some(1), &[10, 11, 12]), &Gates { tracked: &|_| true, deliverable: &full }, &mut out);
    let mut to: Vec<ConnId> = out.iter().filter(|(_, r)| matches!(r, Reply::Offer { .. })).map(|(c, _)| *c).collect();
    to.sort_unstable();
    assert_eq!(to, vec![1, 3, 4]);
    let out = w.send(2, answer(2, 5, 10));
    assert!(matches!(&out[0], (2, Reply::Error { .. })), "no offer was forwarded to 2: {out:?}");
}
