//! How many connections each client address holds, against a cap (nginx's `limit_conn`): taken
//! once per accepted connection, released when it closes. Shared by the workers, sharded so
//! that they rarely meet on one lock.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

const SHARDS: usize = 16;

/// Connections per address, at most `max` each (0: no cap).
#[derive(Debug)]
pub struct PerIp {
    max: u32,
    shards: [Mutex<HashMap<IpAddr, u32>>; SHARDS],
    hasher: std::collections::hash_map::RandomState,
}

/// One admitted connection's place; dropping it gives the place back.
#[derive(Debug)]
pub struct IpSlot {
    owner: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    pub fn new(max: u32) -> Arc<PerIp> {
        Arc::new(PerIp { max, shards: Default::default(), hasher: Default::default() })
    }

    fn shard(&self, ip: &IpAddr) -> &Mutex<HashMap<IpAddr, u32>> {
        &self.shards[(self.hasher.hash_one(ip) as usize) % SHARDS]
    }

    /// A place for one more connection from `ip`, or None when it holds `max` already.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        if self.max == 0 {
            return Some(IpSlot { owner: Arc::clone(self), ip });
        }
        let mut counts = self.shard(&ip).lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(IpSlot { owner: Arc::clone(self), ip })
    }

    /// Connections `ip` holds now.
    pub fn held(&self, ip: IpAddr) -> u32 {
        let counts = self.shard(&ip).lock().unwrap_or_else(|p| p.into_inner());
        counts.get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        if self.owner.max == 0 {
            return;
        }
        let mut counts = self.owner.shard(&self.ip).lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_each_address_and_gives_places_back() {
        let p = PerIp::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        let s1 = p.admit(a).unwrap();
        let s2 = p.admit(a).unwrap();
        assert!(p.admit(a).is_none(), "a third from one address");
        assert!(p.admit(b).is_some(), "another address is not affected");
        assert_eq!(p.held(a), 2);
        drop(s1);
        let s3 = p.admit(a).expect("a place came back");
        drop((s2, s3));
        assert_eq!(p.held(a), 0);
        assert!(p.shards.iter().all(|s| s.lock().unwrap().is_empty()), "nothing left behind");
    }

    #[test]
    fn zero_means_no_cap() {
        let p = PerIp::new(0);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let slots: Vec<IpSlot> = (0..10_000).map(|_| p.admit(a).unwrap()).collect();
        assert_eq!(slots.len(), 10_000);
    }
}
