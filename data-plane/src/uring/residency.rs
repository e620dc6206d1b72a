//! Whether a body's pages are in memory, so that a send that would read the disk goes to the
//! kernel's I/O workers instead of blocking a ring's thread. The kernel is asked with `mincore`;
//! asked for every body it was a seventh of a worker's CPU at 256 KiB over a cached file (a walk
//! of the page cache per page). So the answer is remembered per 1 MiB of address space for a
//! second: a region found wholly in memory is not asked about again until then. A region with a
//! page on disk (or one `mincore` cannot answer for) sends every body in it to the exact,
//! per-body question, which also asks for read-ahead. A page evicted within the second after it
//! was seen can still block one send: the price of not walking the page cache per request.
//!
//! The table ([`Residency::check`]) is pure, given the question to ask; [`in_memory`] and
//! [`region_in_memory`] ask the kernel.

#![allow(unsafe_code)]

use std::time::{Duration, Instant};

/// Remembered regions: aligned address ranges of this size.
const REGION: usize = 1 << 20;
/// Table entries (direct-mapped by region).
const SLOTS: usize = 4096;
/// How long an answer about a region holds.
const FRESH: Duration = Duration::from_secs(1);
/// A body spanning more regions than this is asked about exactly, every time.
const MAX_REGIONS: usize = 4;
const PAGE: usize = 4096;

#[derive(Clone, Copy)]
struct Slot {
    region: usize,
    until: Option<Instant>,
    in_memory: bool,
}

/// What a ring worker remembers of which regions are in memory.
pub struct Residency {
    slots: Box<[Slot]>,
}

impl Default for Residency {
    fn default() -> Self {
        Residency { slots: vec![Slot { region: usize::MAX, until: None, in_memory: false }; SLOTS].into_boxed_slice() }
    }
}

impl Residency {
    /// Whether every page of `b` is in memory (see the module's doc).
    pub fn in_memory(&mut self, b: &[u8], now: Instant) -> bool {
        self.check(b.as_ptr() as usize, b.len(), now, &mut region_in_memory, &mut || in_memory(b))
    }

    /// The table: whether the `len` bytes at `addr` are in memory. `region` is asked about a
    /// region (by its start) when the table has no fresh answer: `Some(all in memory)`, or `None`
    /// when it cannot tell; `exact` (the body itself) when a region is not wholly in memory.
    pub fn check(
        &mut self,
        addr: usize,
        len: usize,
        now: Instant,
        region: &mut dyn FnMut(usize) -> Option<bool>,
        exact: &mut dyn FnMut() -> bool,
    ) -> bool {
        if len == 0 {
            return true;
        }
        let (first, last) = (addr / REGION, (addr + len - 1) / REGION);
        if last - first >= MAX_REGIONS {
            return exact();
        }
        for r in first..=last {
            let slot = &mut self.slots[slot_of(r)];
            if slot.region != r || slot.until.is_none_or(|until| now >= until) {
                let answer = region(r * REGION).unwrap_or(false);
                *slot = Slot { region: r, until: Some(now + FRESH), in_memory: answer };
            }
            if !slot.in_memory {
                return exact();
            }
        }
        true
    }
}

fn slot_of(region: usize) -> usize {
    (region.wrapping_mul(0x9e37_79b9_7f4a_7c15_u64 as usize) >> 20) % SLOTS
}

/// Whether every page of the region at `addr` is resident; `None` when `mincore` cannot tell
/// (part of the region is not mapped). Only asks: nothing is read or changed.
fn region_in_memory(addr: usize) -> Option<bool> {
    let mut pages = [0u8; REGION / PAGE];
    // SAFETY: `addr` is page-aligned (a region's start); mincore reads no memory of the range,
    // only the page tables (an unmapped page makes it fail), and writes one byte per page into
    // `pages`, which has room for a region's.
    if unsafe { libc::mincore(addr as *mut libc::c_void, REGION, pages.as_mut_ptr()) } != 0 {
        return None;
    }
    Some(pages.iter().all(|p| p & 1 == 1))
}

/// Whether every page of `b` is in memory (`mincore`, one call per 256 KiB). A page that is
/// not gets read-ahead asked for (`MADV_WILLNEED`) on the whole range, and `false` comes back:
/// the send then goes to the kernel's I/O workers instead of faulting on the ring's thread.
fn in_memory(b: &[u8]) -> bool {
    const WINDOW: usize = 64;
    if b.is_empty() {
        return true;
    }
    let start = b.as_ptr() as usize & !(PAGE - 1);
    let end = b.as_ptr() as usize + b.len();
    let mut at = start;
    let mut pages = [0u8; WINDOW];
    while at < end {
        let len = (end - at).min(WINDOW * PAGE);
        // SAFETY: `at..at + len` lies within the pages of `b`, which are mapped while `b` lives;
        // mincore writes one byte per page into `pages`, which has room for WINDOW pages.
        if unsafe { libc::mincore(at as *mut libc::c_void, len, pages.as_mut_ptr()) } != 0 {
            return true; // not memory mincore knows (not a mapping's): nothing to read ahead
        }
        if pages[..len.div_ceil(PAGE)].iter().any(|p| p & 1 == 0) {
            // SAFETY: as above; WILLNEED only starts reading ahead, it never changes the memory.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_WILLNEED) };
            return false;
        }
        at += len;
    }
    true
}

#[cfg(test)]
mod tests;
