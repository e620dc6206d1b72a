//! The process's file descriptors as a budget: the soft `RLIMIT_NOFILE` raised to the hard one
//! at start, and a cap on open connections that keeps a reserve below it, so that a flood of
//! connections never leaves the process unable to open its database, files, or the control
//! plane's and health checks' sockets.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Raises the soft limit on open files to the hard limit; returns the limit now in force.
pub fn raise_nofile_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    let (Some(soft), hard) = (limit.current, limit.maximum) else { return u64::MAX };
    let target = hard.unwrap_or(soft.max(1 << 20));
    if target > soft {
        let raised = rustix::process::Rlimit { current: Some(target), maximum: hard };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return target;
        }
    }
    soft
}

/// The soft limit on open files now in force.
pub fn nofile_limit() -> u64 {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Descriptors kept for everything but client connections: an eighth of the limit, at least
/// 64 and at most 4096.
pub fn reserve_for(limit: u64) -> u64 {
    (limit / 8).clamp(64, 4096)
}

/// Open connections, against a cap.
#[derive(Debug)]
pub struct ConnBudget {
    max: usize,
    open: AtomicUsize,
}

/// One admitted connection; dropping it frees the place.
#[derive(Debug)]
pub struct ConnSlot(Arc<ConnBudget>);

impl ConnBudget {
    /// At most `max` connections open at once.
    pub fn new(max: usize) -> Arc<ConnBudget> {
        Arc::new(ConnBudget { max, open: AtomicUsize::new(0) })
    }

    /// The cap for a process allowed `limit` descriptors: the limit less the reserve.
    pub fn for_limit(limit: u64) -> Arc<ConnBudget> {
        let max = limit.saturating_sub(reserve_for(limit)).max(1);
        ConnBudget::new(usize::try_from(max).unwrap_or(usize::MAX))
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// A place for one more connection, or None at the cap.
    pub fn admit(self: &Arc<Self>) -> Option<ConnSlot> {
        let mut n = self.open.load(Ordering::Relaxed);
        loop {
            if n >= self.max {
                return None;
            }
            match self.open.compare_exchange_weak(n, n + 1, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Some(ConnSlot(Arc::clone(self))),
                Err(now) => n = now,
            }
        }
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_keeps_a_reserve_and_places_come_back() {
        let b = ConnBudget::for_limit(1024);
        assert_eq!(b.max(), 1024 - 128);
        assert_eq!(ConnBudget::for_limit(100).max(), 36, "at least 64 kept");
        assert_eq!(ConnBudget::for_limit(1 << 20).max(), (1 << 20) - 4096, "at most 4096 kept");
        let b = ConnBudget::new(2);
        let s1 = b.admit().unwrap();
        let _s2 = b.admit().unwrap();
        assert!(b.admit().is_none());
        drop(s1);
        assert!(b.admit().is_some());
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let limit = raise_nofile_limit();
        let now = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        assert_eq!(now.current, Some(limit));
        assert_eq!(now.current, now.maximum.or(now.current), "soft equals hard when hard is finite");
    }
}
