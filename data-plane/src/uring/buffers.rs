//! The receive buffers a worker's ring picks from (does I/O: registers memory with the kernel):
//! a ring of provided buffers (`IORING_REGISTER_PBUF_RING`) shared by every connection's
//! multishot receive, so a connection holds no receive buffer while it waits — 10 000 idle
//! keep-alive connections cost their sockets, not 10 000 buffers. A completion names the buffer
//! it filled; the worker copies the bytes out and gives the buffer back at once.
#![allow(unsafe_code)]

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::IoUring;

/// A registered ring of `count` buffers of `size` bytes, group `group`.
pub struct BufRing {
    entries: *mut BufRingEntry,
    layout: Layout,
    memory: Box<[u8]>,
    count: u16,
    size: usize,
    tail: u16,
    group: u16,
}

impl BufRing {
    /// Allocates and registers the ring with `ring`; `count` must be a power of two.
    pub fn new(ring: &IoUring, count: u16, size: usize, group: u16) -> std::io::Result<BufRing> {
        assert!(count.is_power_of_two() && size > 0);
        let layout = Layout::from_size_align(usize::from(count) * std::mem::size_of::<BufRingEntry>(), 4096)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        // SAFETY: the layout has a non-zero size.
        let entries = unsafe { alloc_zeroed(layout) }.cast::<BufRingEntry>();
        if entries.is_null() {
            return Err(std::io::Error::other("cannot allocate the receive buffer ring"));
        }
        let mut ring_buffers =
            BufRing { entries, layout, memory: vec![0u8; usize::from(count) * size].into_boxed_slice(), count, size, tail: 0, group };
        // SAFETY: the entries stay allocated until `Drop`, which the worker runs after the ring
        // that uses them is gone (its field order drops the ring first).
        unsafe { ring.submitter().register_buf_ring_with_flags(entries as u64, count, group, 0)? };
        for bid in 0..count {
            ring_buffers.add(bid);
        }
        ring_buffers.publish();
        Ok(ring_buffers)
    }

    pub fn group(&self) -> u16 {
        self.group
    }

    /// The first `len` bytes the kernel wrote into buffer `bid`.
    pub fn bytes(&self, bid: u16, len: usize) -> &[u8] {
        let start = usize::from(bid) * self.size;
        &self.memory[start..start + len.min(self.size)]
    }

    /// Hands buffer `bid` back to the kernel.
    pub fn give_back(&mut self, bid: u16) {
        if bid < self.count {
            self.add(bid);
            self.publish();
        }
    }

    fn add(&mut self, bid: u16) {
        let index = usize::from(self.tail & (self.count - 1));
        let addr = self.memory.as_ptr() as u64 + u64::from(bid) * self.size as u64;
        // SAFETY: `index < count`, inside the allocation; the kernel reads entries only up to
        // the published tail, which is moved after the entry is written.
        let entry = unsafe { &mut *self.entries.add(index) };
        entry.set_addr(addr);
        entry.set_len(self.size as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&self) {
        // SAFETY: the tail field lives in the first entry of the ring, which is allocated, and
        // is shared with the kernel: it is written with a release store.
        let tail = unsafe { &*BufRingEntry::tail(self.entries).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout; the ring that used it is gone.
        unsafe { dealloc(self.entries.cast(), self.layout) };
    }
}
