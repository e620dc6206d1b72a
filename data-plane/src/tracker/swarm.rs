//! Swarm logic of the WebTorrent tracker: requests in, replies out, with the clock and the
//! random source passed in. Pure: no sockets, no time reads; the I/O shell moves messages.
//!
//! Rules (bittorrent-tracker's, with aquatic's stricter ones where they stop abuse):
//! - a peer with `left` 0 or a `completed` event is a seeder, and never turns back into a
//!   leecher; answers carry no `left` and change nothing;
//! - each offer goes to a different peer of the swarm (never its sender), at most one per offer;
//! - an answer is relayed only to the peer that made the offer, and only if that offer was
//!   forwarded to the answerer and has not expired (no spoofed answers);
//! - `stopped`, a closed connection or silence past the peer timeout removes the peer at once;
//! - a peer id belongs to one connection per swarm.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use indexmap::IndexMap;

use super::id_hash::IdHash;

use super::protocol::{Action, AnnounceRequest, Bin20, Counts, Event, Reply, ScrapeRequest};

/// Identifies a client connection in the I/O shell.
pub type ConnId = u64;

/// An HTTP announce's outcome: the swarm's counts and peers to give, or a `failure reason`.
pub type HttpAnnounceResult = Result<(Counts, Vec<(Bin20, SocketAddr)>), &'static str>;

/// The connection id of peers that announce over HTTP (they get peer lists, never offers).
pub const HTTP_CONN: ConnId = 0;

/// Swarm settings.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SwarmConfig {
    /// Announce interval told to clients, seconds (default 120).
    pub interval: u32,
    /// A peer that has not announced for this long is removed (default 180 s).
    #[serde(with = "crate::config::seconds", rename = "peer_timeout_secs")]
    pub peer_timeout: Duration,
    /// An offer not answered within this time can no longer be answered (default 120 s).
    #[serde(with = "crate::config::seconds", rename = "offer_timeout_secs")]
    pub offer_timeout: Duration,
    /// Swarms one connection may be in (default 256).
    pub max_swarms_per_conn: usize,
}

impl Default for SwarmConfig {
    fn default() -> Self {
        SwarmConfig {
            interval: 120,
            peer_timeout: Duration::from_secs(180),
            offer_timeout: Duration::from_secs(120),
            max_swarms_per_conn: 256,
        }
    }
}

impl SwarmConfig {
    /// `min_request_interval` of scrapes: five announce intervals (600 s by default), as
    /// bittorrent-tracker sends.
    pub fn scrape_interval(&self) -> u32 {
        self.interval.saturating_mul(5)
    }
}

/// A source of randomness (the shell passes a fast PRNG; tests a fixed one).
pub trait RandomSource {
    fn next_u64(&mut self) -> u64;
}

#[derive(Debug)]
struct Peer {
    conn: ConnId,
    /// Where an HTTP peer listens; `None` for WebSocket peers.
    addr: Option<SocketAddr>,
    seeder: bool,
    valid_until: Instant,
    /// Offers forwarded from this peer still awaiting an answer: (to peer, offer id) → until.
    /// A map, so that an answer is found in O(1) however many offers are pending.
    expecting: IndexMap<(Bin20, Bin20), Instant, IdHash>,
}

#[derive(Debug, Default)]
struct Torrent {
    peers: IndexMap<Bin20, Peer, IdHash>,
    seeders: usize,
}

impl Torrent {
    fn counts(&self) -> Counts {
        Counts { complete: self.seeders, incomplete: self.peers.len() - self.seeders }
    }

    fn remove(&mut self, peer_id: &Bin20) -> Option<Peer> {
        let p = self.peers.swap_remove(peer_id)?;
        if p.seeder {
            self.seeders -= 1;
        }
        Some(p)
    }
}

/// Totals for the control plane's view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwarmStats {
    pub swarms: usize,
    pub peers: usize,
    pub seeders: usize,
}

/// The swarms of one shard (all of them, with one shard).
#[derive(Debug, Default)]
pub struct Swarms {
    config: SwarmConfig,
    torrents: HashMap<Bin20, Torrent, IdHash>,
    /// Which (swarm, peer id) pairs each connection holds.
    conns: HashMap<ConnId, Vec<(Bin20, Bin20)>, IdHash>,
}

/// What the shell tells the swarm logic about the world outside it.
pub struct Gates<'a> {
    /// Whether an info-hash is tracked here.
    pub tracked: &'a dyn Fn(&Bin20) -> bool,
    /// Whether a connection can take another message now (its queue is not full).
    pub deliverable: &'a dyn Fn(ConnId) -> bool,
}

/// Offers of one peer awaiting answers; the oldest are forgotten beyond this.
const MAX_PENDING_OFFERS: usize = 256;

const NO_OFFER: &str = "Could not find the offer corresponding to your answer. It may have expired.";

impl Swarms {
    pub fn new(config: SwarmConfig) -> Self {
        Swarms { config, ..Default::default() }
    }

    /// Handles an announce from `conn`; `gates` says what is tracked and who can take a message.
    pub fn announce(
        &mut self,
        now: Instant,
        rng: &mut dyn RandomSource,
        conn: ConnId,
        req: AnnounceRequest,
        gates: &Gates<'_>,
        out: &mut Vec<(ConnId, Reply)>,
    ) {
        let (allowed, deliverable) = (gates.tracked, gates.deliverable);
        let ih = req.info_hash;
        let error = |reason: &'static str| Reply::Error { action: Some(Action::Announce), info_hash: Some(ih), reason: reason.into() };
        if !allowed(&ih) {
            out.push((conn, error("info_hash is not tracked here")));
            return;
        }
        if let Some(answer) = req.answer {
            self.relay_answer(now, conn, ih, req.peer_id, answer, out);
            return;
        }
        if req.event == Event::Stopped {
            if let Some(t) = self.torrents.get_mut(&ih) {
                if t.peers.get(&req.peer_id).is_some_and(|p| p.conn == conn) {
                    t.remove(&req.peer_id);
                    forget(&mut self.conns, conn, ih, req.peer_id);
                }
            }
            let counts = self.torrents.get(&ih).map(Torrent::counts).unwrap_or_default();
            out.push((conn, Reply::Announce { info_hash: ih, counts, interval: self.config.interval }));
            return;
        }
        let torrent = self.torrents.entry(ih).or_default();
        match torrent.peers.get_mut(&req.peer_id) {
            Some(p) if p.conn != conn => {
                out.push((conn, error("peer_id is already in use by another connection")));
                return;
            }
            Some(p) => {
                p.valid_until = now + self.config.peer_timeout;
                if !p.seeder && (req.left == Some(0) || req.event == Event::Completed) {
                    p.seeder = true;
                    torrent.seeders += 1;
                }
            }
            None => {
                let held = self.conns.entry(conn).or_default();
                if held.len() >= self.config.max_swarms_per_conn {
                    if torrent.peers.is_empty() {
                        self.torrents.remove(&ih);
                    }
                    out.push((conn, error("too many swarms on this connection")));
                    return;
                }
                held.push((ih, req.peer_id));
                let seeder = req.left == Some(0) || req.event == Event::Completed;
                torrent.seeders += usize::from(seeder);
                torrent.peers.insert(
                    req.peer_id,
                    Peer { conn, addr: None, seeder, valid_until: now + self.config.peer_timeout, expecting: IndexMap::default() },
                );
            }
        }
        if !req.offers.is_empty() {
            let n = torrent.peers.len();
            let start = (rng.next_u64() % n as u64) as usize;
            let until = now + self.config.offer_timeout;
            let mut expecting = Vec::with_capacity(req.offers.len());
            let mut offers = req.offers.into_iter();
            for i in 0..n {
                let (to_id, to) = torrent.peers.get_index((start + i) % n).map(|(k, v)| (*k, v)).unwrap_or_else(|| unreachable!());
                // Never back to the sender, never to an HTTP peer, and not to a connection whose
                // queue is full (the offer would be dropped, and its answer never come).
                if to_id == req.peer_id || to.conn == HTTP_CONN || !deliverable(to.conn) {
                    continue;
                }
                let Some(offer) = offers.next() else { break };
                expecting.push((to_id, offer.offer_id, until));
                out.push((
                    to.conn,
                    Reply::Offer { info_hash: ih, peer_id: req.peer_id, offer_id: offer.offer_id, offer: offer.offer },
                ));
            }
            if let Some(me) = torrent.peers.get_mut(&req.peer_id) {
                // Bounded even for a client that offers faster than offers expire: past the cap
                // the older half is forgotten at once (amortised O(1) per offer).
                if me.expecting.len() + expecting.len() > MAX_PENDING_OFFERS {
                    let keep = MAX_PENDING_OFFERS / 2;
                    let excess = me.expecting.len().saturating_sub(keep);
                    me.expecting.drain(..excess);
                }
                for (to, offer_id, until) in expecting {
                    me.expecting.insert((to, offer_id), until);
                }
            }
        }
        out.push((conn, Reply::Announce { info_hash: ih, counts: torrent.counts(), interval: self.config.interval }));
    }

    fn relay_answer(
        &mut self,
        now: Instant,
        conn: ConnId,
        ih: Bin20,
        from: Bin20,
        answer: super::protocol::Answer,
        out: &mut Vec<(ConnId, Reply)>,
    ) {
        // The answerer must be a peer of this swarm on this very connection: another connection
        // cannot answer in its name.
        let torrent = self.torrents.get_mut(&ih).filter(|t| t.peers.get(&from).is_some_and(|p| p.conn == conn));
        let target = torrent.and_then(|t| t.peers.get_mut(&answer.to_peer_id));
        let found = target.and_then(|p| {
            let until = p.expecting.swap_remove(&(from, answer.offer_id))?;
            (until > now).then_some(p.conn)
        });
        match found {
            Some(to_conn) => out.push((
                to_conn,
                Reply::Answer { info_hash: ih, peer_id: from, offer_id: answer.offer_id, answer: answer.answer },
            )),
            None => out.push((
                conn,
                Reply::Error { action: Some(Action::Announce), info_hash: Some(ih), reason: NO_OFFER.into() },
            )),
        }
    }

    /// Handles an HTTP announce from `addr`: the swarm's counts and up to `numwant` other HTTP
    /// peers (WebSocket peers have no address to give). The error is the `failure reason`.
    pub fn http_announce(
        &mut self,
        now: Instant,
        rng: &mut dyn RandomSource,
        req: &super::http::HttpAnnounce,
        addr: SocketAddr,
        allowed: &dyn Fn(&Bin20) -> bool,
    ) -> HttpAnnounceResult {
        let ih = req.info_hash;
        if !allowed(&ih) {
            return Err("info_hash is not tracked here");
        }
        let torrent = self.torrents.entry(ih).or_default();
        match torrent.peers.get_mut(&req.peer_id) {
            Some(p) if p.conn != HTTP_CONN => return Err("peer_id is already in use by another connection"),
            Some(_) if req.event == Event::Stopped => {
                torrent.remove(&req.peer_id);
            }
            Some(p) => {
                p.valid_until = now + self.config.peer_timeout;
                p.addr = Some(addr);
                if !p.seeder && (req.left == Some(0) || req.event == Event::Completed) {
                    p.seeder = true;
                    torrent.seeders += 1;
                }
            }
            None if req.event == Event::Stopped => {}
            None => {
                let seeder = req.left == Some(0) || req.event == Event::Completed;
                torrent.seeders += usize::from(seeder);
                torrent.peers.insert(
                    req.peer_id,
                    Peer { conn: HTTP_CONN, addr: Some(addr), seeder, valid_until: now + self.config.peer_timeout, expecting: IndexMap::default() },
                );
            }
        }
        let counts = torrent.counts();
        let mut peers = Vec::new();
        let n = torrent.peers.len();
        if req.event != Event::Stopped && n > 0 {
            let start = (rng.next_u64() % n as u64) as usize;
            for i in 0..n {
                if peers.len() >= req.numwant {
                    break;
                }
                let Some((id, p)) = torrent.peers.get_index((start + i) % n) else { break };
                if *id == req.peer_id {
                    continue;
                }
                if let Some(a) = p.addr {
                    peers.push((*id, a));
                }
            }
        }
        if torrent.peers.is_empty() {
            self.torrents.remove(&ih);
        }
        Ok((counts, peers))
    }

    /// Handles a scrape: counts for each asked info-hash (zeros for untracked ones).
    pub fn scrape(&self, conn: ConnId, req: &ScrapeRequest, out: &mut Vec<(ConnId, Reply)>) {
        if req.info_hashes.is_empty() {
            out.push((conn, Reply::Error { action: Some(Action::Scrape), info_hash: None, reason: "full scrapes are not allowed".into() }));
            return;
        }
        let files = req.info_hashes.iter().map(|ih| (*ih, self.counts(ih))).collect();
        out.push((conn, Reply::Scrape { files, min_request_interval: self.config.scrape_interval() }));
    }

    /// The counts of one swarm.
    pub fn counts(&self, ih: &Bin20) -> Counts {
        self.torrents.get(ih).map(Torrent::counts).unwrap_or_default()
    }

    /// Removes every peer a closed connection held.
    pub fn connection_closed(&mut self, conn: ConnId) {
        for (ih, peer_id) in self.conns.remove(&conn).unwrap_or_default() {
            if let Some(t) = self.torrents.get_mut(&ih) {
                if t.peers.get(&peer_id).is_some_and(|p| p.conn == conn) {
                    t.remove(&peer_id);
                }
                if t.peers.is_empty() {
                    self.torrents.remove(&ih);
                }
            }
        }
    }

    /// Removes peers that went silent and swarms left empty; expires offers.
    pub fn clean(&mut self, now: Instant) {
        let conns = &mut self.conns;
        self.torrents.retain(|ih, t| {
            let mut gone = Vec::new();
            for (id, p) in &mut t.peers {
                if p.valid_until <= now {
                    gone.push((*id, p.conn));
                } else {
                    p.expecting.retain(|_, until| *until > now);
                }
            }
            for (id, conn) in gone {
                t.remove(&id);
                forget(conns, conn, *ih, id);
            }
            !t.peers.is_empty()
        });
    }

    /// Totals across the swarms.
    pub fn stats(&self) -> SwarmStats {
        let mut s = SwarmStats { swarms: self.torrents.len(), ..Default::default() };
        for t in self.torrents.values() {
            s.peers += t.peers.len();
            s.seeders += t.seeders;
        }
        s
    }
}

fn forget(conns: &mut HashMap<ConnId, Vec<(Bin20, Bin20)>, IdHash>, conn: ConnId, ih: Bin20, peer_id: Bin20) {
    if let Some(held) = conns.get_mut(&conn) {
        held.retain(|e| *e != (ih, peer_id));
        if held.is_empty() {
            conns.remove(&conn);
        }
    }
}

#[cfg(test)]
mod tests;
