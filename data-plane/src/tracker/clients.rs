//! Who a tracker client is and how much it may hold: its address (the connecting peer's, or,
//! behind a trusted proxy, the one `X-Forwarded-For` names), its open WebSockets per address,
//! and its announces per address and info-hash in a window. Pure: the socket shell passes in
//! the addresses and the instant, and keeps these behind its own lock or shard.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::id_hash::IdHash;
use super::protocol::Bin20;

/// Which peers' `X-Forwarded-For` is believed.
#[derive(Clone, Copy, Debug)]
pub struct ProxyTrust<'a> {
    /// Proxies believed beside loopback.
    pub trusted: &'a [IpAddr],
    /// Believe loopback (a reverse proxy on the same host).
    pub loopback: bool,
}

impl ProxyTrust<'_> {
    fn trusts(&self, ip: &IpAddr) -> bool {
        (self.loopback && ip.is_loopback()) || self.trusted.contains(ip)
    }
}

/// The client's address: the connecting peer's, or, when that is a trusted proxy, the nearest
/// untrusted address in `X-Forwarded-For` (read right to left, as proxies append).
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trust: ProxyTrust<'_>) -> IpAddr {
    if !trust.trusts(&peer) {
        return peer;
    }
    let Some(list) = forwarded_for else { return peer };
    let mut client = peer;
    for hop in list.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !trust.trusts(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

/// Open WebSockets per client address, each address at most `max`.
#[derive(Debug, Default)]
pub struct ConnectionsPerIp {
    open: HashMap<IpAddr, usize>,
    max: usize,
}

impl ConnectionsPerIp {
    pub fn new(max: usize) -> Self {
        ConnectionsPerIp { open: HashMap::new(), max }
    }

    /// Counts one more connection from `ip`; false, counting nothing, when it holds `max`.
    pub fn admit(&mut self, ip: IpAddr) -> bool {
        if self.held(ip) >= self.max {
            return false;
        }
        *self.open.entry(ip).or_insert(0) += 1;
        true
    }

    /// One admitted connection from `ip` ended; an address holding none is forgotten.
    pub fn release(&mut self, ip: IpAddr) {
        if let Some(n) = self.open.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.open.remove(&ip);
            }
        }
    }

    /// Connections `ip` holds now.
    pub fn held(&self, ip: IpAddr) -> usize {
        self.open.get(&ip).copied().unwrap_or(0)
    }

    /// Addresses holding at least one connection.
    pub fn addresses(&self) -> usize {
        self.open.len()
    }
}

/// Announces per client address and info-hash: at most `max` in a window of `window` that
/// starts with the first one (0: no limit).
#[derive(Debug)]
pub struct AnnounceLimit {
    max: u32,
    window: Duration,
    counts: HashMap<(IpAddr, Bin20), (Instant, u32), IdHash>,
}

impl AnnounceLimit {
    pub fn new(max: u32, window: Duration) -> Self {
        AnnounceLimit { max, window, counts: HashMap::default() }
    }

    /// Counts one announce from `ip` for `ih` at `now`; true when over the limit.
    pub fn over(&mut self, now: Instant, ip: IpAddr, ih: Bin20) -> bool {
        if self.max == 0 {
            return false;
        }
        let e = self.counts.entry((ip, ih)).or_insert((now, 0));
        if now.duration_since(e.0) >= self.window {
            *e = (now, 0);
        }
        e.1 += 1;
        e.1 > self.max
    }

    /// Forgets windows that are over at `now`.
    pub fn clean(&mut self, now: Instant) {
        let window = self.window;
        self.counts.retain(|_, (start, _)| now.duration_since(*start) < window);
    }

    /// Address and info-hash pairs being counted.
    pub fn tracked(&self) -> usize {
        self.counts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trust = ProxyTrust { trusted: &[], loopback: true };
        assert_eq!(client_ip(ip("127.0.0.1"), Some("203.0.113.7"), trust), ip("203.0.113.7"));
        assert_eq!(client_ip(ip("127.0.0.1"), None, trust), ip("127.0.0.1"));
        assert_eq!(client_ip(ip("198.51.100.1"), Some("203.0.113.7"), trust), ip("198.51.100.1"), "not a proxy of ours");
        // Right to left: a client cannot spoof by prepending.
        assert_eq!(client_ip(ip("127.0.0.1"), Some("1.2.3.4, 203.0.113.7"), trust), ip("203.0.113.7"));
        assert_eq!(client_ip(ip("127.0.0.1"), Some("garbage"), trust), ip("127.0.0.1"));
        let proxy = [ip("10.0.0.2")];
        let mut trust = ProxyTrust { trusted: &proxy, loopback: true };
        assert_eq!(client_ip(ip("127.0.0.1"), Some("203.0.113.7, 10.0.0.2"), trust), ip("203.0.113.7"));
        assert_eq!(client_ip(ip("10.0.0.2"), Some("203.0.113.7"), trust), ip("203.0.113.7"), "a listed proxy");
        assert_eq!(client_ip(ip("127.0.0.1"), Some("10.0.0.2, garbage"), trust), ip("127.0.0.1"), "stops at garbage");
        assert_eq!(client_ip(ip("127.0.0.1"), Some("10.0.0.2"), trust), ip("10.0.0.2"), "only proxies: the farthest");
        trust.loopback = false;
        assert_eq!(client_ip(ip("127.0.0.1"), Some("203.0.113.7"), trust), ip("127.0.0.1"));
    }

    #[test]
    fn connections_are_capped_per_address_and_released() {
        let (a, b) = (ip("192.0.2.1"), ip("2001:db8::1"));
        let mut c = ConnectionsPerIp::new(2);
        assert!(c.admit(a) && c.admit(a));
        assert!(!c.admit(a), "a third from the same address");
        assert_eq!(c.held(a), 2, "a refusal counts nothing");
        assert!(c.admit(b), "other addresses are not affected");
        c.release(a);
        assert!(c.admit(a), "room again");
        c.release(a);
        c.release(a);
        c.release(b);
        assert_eq!((c.held(a), c.addresses()), (0, 0), "addresses holding nothing are forgotten");
        c.release(a);
        assert_eq!(c.held(a), 0, "a release without an admission is ignored");
        assert!(!ConnectionsPerIp::new(0).admit(a), "a cap of 0 admits nobody");
    }

    #[test]
    fn announces_are_limited_per_address_and_info_hash_in_a_window() {
        let t0 = Instant::now();
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
        let (h1, h2) = (Bin20([1; 20]), Bin20([2; 20]));
        let mut limit = AnnounceLimit::new(2, Duration::from_secs(60));
        assert!(!limit.over(t0, a, h1));
        assert!(!limit.over(t0 + Duration::from_secs(1), a, h1));
        assert!(limit.over(t0 + Duration::from_secs(2), a, h1), "the third in the window");
        assert!(!limit.over(t0 + Duration::from_secs(2), a, h2), "another info-hash");
        assert!(!limit.over(t0 + Duration::from_secs(2), b, h1), "another address");
        assert!(!limit.over(t0 + Duration::from_secs(60), a, h1), "a new window");
        limit.clean(t0 + Duration::from_secs(62));
        assert_eq!(limit.tracked(), 1, "only the window that started at 60 s is left");
        let mut none = AnnounceLimit::new(0, Duration::from_secs(60));
        assert!((0..100).all(|_| !none.over(t0, a, h1)), "0: no limit");
        assert_eq!(none.tracked(), 0);
    }
}
