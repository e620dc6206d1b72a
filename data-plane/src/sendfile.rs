//! Zero-copy sending under hyper (does I/O): a TCP stream whose vectored writes recognise body
//! chunks that point into a mapped, catalogued file and send them with `sendfile(2)` from the
//! file instead of copying them from the mapping into the socket.
//!
//! hyper hands its transport plain iovecs; the bodies it writes are slices of file mappings
//! (see `catalog`). Every mapping registers its address range and file here, so an iovec inside
//! one is turned back into (file, offset) and sent from the page cache without a copy. Headers and
//! anything else still go through `sendmsg` (with `MSG_MORE` when file bytes follow, so header
//! and body leave in the same segments). A file that shrank under its mapping makes `sendfile`
//! come up short: the response fails, the process does not (no SIGBUS on this path).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{ready, Context, Poll};

use rustix::net::{SendAncillaryBuffer, SendFlags};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

use crate::counters::{Sent, WorkerCounters};

/// Chunks shorter than this are written from the mapping instead: for a 16 KiB WebTorrent piece
/// one `writev` (headers and body together) costs less than `sendmsg` + `sendfile`, and
/// measured here the two-call path also left the worker idle between corked segments
/// (docs/PERFORMANCE.md). Larger chunks go by `sendfile`.
pub const DEFAULT_MIN_SENDFILE: usize = 64 * 1024;

/// The io_uring workers' default for `[http] sendfile_min`: bodies this large leave by
/// `sendfile`, smaller ones by the ring's `sendmsg` (docs/PERFORMANCE.md has both measured).
pub const DEFAULT_RING_SENDFILE_MIN: usize = 128 * 1024;
/// The io_uring workers' default for `[http] sendfile_max`: from this size on the ring's
/// `sendmsg` is ahead again (one completion for the whole body, the waiting done in the kernel).
pub const DEFAULT_RING_SENDFILE_MAX: usize = 512 * 1024;

struct Region {
    end: usize,
    file: Arc<File>,
}

static REGIONS: RwLock<BTreeMap<usize, Region>> = RwLock::new(BTreeMap::new());
/// Bumped whenever a region goes away, so per-thread caches notice.
static GENERATION: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The last region found by this thread: (start, end, raw fd, generation).
    static LAST: Cell<(usize, usize, i32, u64)> = const { Cell::new((0, 0, -1, u64::MAX)) };
}

/// Keeps a mapping's address range known for as long as it lives.
#[derive(Debug)]
pub struct Registration {
    start: usize,
}

/// Registers `len` bytes at `start` as the mapping of `file`.
pub fn register(start: usize, len: usize, file: Arc<File>) -> Registration {
    let mut regions = REGIONS.write().unwrap_or_else(|p| p.into_inner());
    regions.insert(start, Region { end: start + len, file });
    Registration { start }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut regions = REGIONS.write().unwrap_or_else(|p| p.into_inner());
        regions.remove(&self.start);
        GENERATION.fetch_add(1, Ordering::Release);
    }
}

/// The file and offset behind `len` bytes at `ptr`, if they lie inside one registered mapping.
///
/// The caller must keep the memory alive (it holds the `Bytes` being written), so the region,
/// and the file descriptor its registration owns, cannot go away during the call.
pub(crate) fn lookup(ptr: usize, len: usize) -> Option<(i32, u64)> {
    let generation = GENERATION.load(Ordering::Acquire);
    let (start, end, fd, gen) = LAST.with(Cell::get);
    if gen == generation && ptr >= start && ptr + len <= end {
        return Some((fd, (ptr - start) as u64));
    }
    let regions = REGIONS.read().unwrap_or_else(|p| p.into_inner());
    let (&start, region) = regions.range(..=ptr).next_back()?;
    if ptr + len > region.end {
        return None;
    }
    let fd = region.file.as_raw_fd();
    LAST.with(|c| c.set((start, region.end, fd, generation)));
    Some((fd, (ptr - start) as u64))
}

/// A TCP stream that sends mapped-file chunks with `sendfile`.
#[derive(Debug)]
pub struct SendfileStream {
    inner: TcpStream,
    min_sendfile: usize,
    /// Where the bytes sent are counted, by path: a worker's counters.
    counters: Option<(Arc<[WorkerCounters]>, usize)>,
}

impl SendfileStream {
    /// `min_sendfile`: chunks shorter than this are copied.
    pub fn new(inner: TcpStream, min_sendfile: usize) -> Self {
        SendfileStream { inner, min_sendfile: min_sendfile.max(1), counters: None }
    }

    /// Counts the bytes sent in worker `worker`'s counters (`sendfile` or `write`).
    pub fn counted(mut self, counters: Arc<[WorkerCounters]>, worker: usize) -> Self {
        self.counters = Some((counters, worker));
        self
    }

    fn count(&self, path: Sent, n: usize) {
        if let Some((counters, worker)) = &self.counters {
            counters[*worker].sent(path, n as u64);
        }
    }

    /// Writes as much of `bufs` as the socket takes now (see [`write_now`]).
    fn write_now(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        write_now(self.inner.as_fd(), bufs, self.min_sendfile, |path, n| self.count(path, n))
    }
}

/// Writes as much of `bufs` to `sock` as it takes now, in order: chunks of at least
/// `min_sendfile` bytes that lie in a registered mapping by `sendfile` from its file, runs of
/// other chunks by one `sendmsg` (`MSG_MORE` when file bytes follow). `count` hears each send's
/// path and bytes. `WouldBlock` only when nothing at all was written. A file found shorter than
/// its mapping fails the write and has the catalog revalidated now. Used by the epoll path's
/// [`SendfileStream`] and by the io_uring workers for the sizes they send this way.
pub fn write_now(sock: BorrowedFd<'_>, bufs: &[IoSlice<'_>], min_sendfile: usize, mut count: impl FnMut(Sent, usize)) -> io::Result<usize> {
    // An empty chunk is never a file's: `sendfile` of nothing would read as a shrunk file.
    let file_chunk = |b: &IoSlice<'_>| if b.len() < min_sendfile.max(1) { None } else { lookup(b.as_ptr() as usize, b.len()) };
    let mut total = 0usize;
    let mut i = 0;
    while i < bufs.len() {
        let (n, want) = if let Some((fd, offset)) = file_chunk(&bufs[i]) {
            let want = bufs[i].len();
            i += 1;
            // SAFETY-free: the descriptor is owned by the live registration (see `lookup`).
            let file = unsafe_borrow(fd);
            let mut off = offset;
            match rustix::fs::sendfile(sock, file, Some(&mut off), want) {
                Ok(0) => return Err(shrank(io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank under its mapping"))),
                Ok(n) => {
                    count(Sent::Sendfile, n);
                    (n, want)
                }
                Err(e) => return finish(total, e.into()),
            }
        } else {
            // A run of plain chunks, up to the next file chunk.
            let j = bufs[i..].iter().position(|b| file_chunk(b).is_some()).map_or(bufs.len(), |p| i + p);
            let run = &bufs[i..j];
            let want: usize = run.iter().map(|b| b.len()).sum();
            let flags = if j < bufs.len() { SendFlags::MORE | SendFlags::NOSIGNAL } else { SendFlags::NOSIGNAL };
            i = j;
            match rustix::net::sendmsg(sock, run, &mut SendAncillaryBuffer::default(), flags) {
                Ok(n) => {
                    count(Sent::Write, n);
                    (n, want)
                }
                Err(e) => return finish(total, e.into()),
            }
        };
        total += n;
        if n < want {
            break;
        }
    }
    Ok(total)
}

/// Whether the bytes at `b`, if they belong to a registered mapping, are still in its file (one
/// `fstat`): for copies made in user space, which would read zeros from a page the file lost.
/// A file that shrank asks for its catalog entry to be revalidated now.
pub fn still_in_file(b: &[u8]) -> io::Result<()> {
    let Some((fd, offset)) = lookup(b.as_ptr() as usize, b.len()) else { return Ok(()) };
    let size = rustix::fs::fstat(unsafe_borrow(fd)).map_err(io::Error::from)?.st_size;
    if u64::try_from(size).unwrap_or(0) >= offset + b.len() as u64 {
        return Ok(());
    }
    crate::catalog::revalidate_soon();
    Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank under its mapping"))
}

/// A send that failed because the file behind a mapping lost pages (EFAULT from the kernel's
/// copy, or `sendfile` finding the end of the file early): the file must stop being served now.
fn shrank(e: io::Error) -> io::Error {
    crate::catalog::revalidate_soon();
    e
}

fn finish(total: usize, e: io::Error) -> io::Result<usize> {
    let e = if e.raw_os_error() == Some(libc::EFAULT) { shrank(e) } else { e };
    if total > 0 && e.kind() == io::ErrorKind::WouldBlock {
        Ok(total)
    } else {
        Err(e)
    }
}

#[allow(unsafe_code)]
fn unsafe_borrow(fd: i32) -> BorrowedFd<'static> {
    // SAFETY: `fd` belongs to a `File` owned by a registration that outlives this call: the
    // caller holds the mapped bytes being sent, and the mapping's owner holds the registration.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

impl AsyncRead for SendfileStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SendfileStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            ready!(this.inner.poll_write_ready(cx))?;
            match this.inner.try_io(Interest::WRITABLE, || this.write_now(bufs)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return Poll::Ready(other),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn mapped_chunks_go_by_sendfile_and_arrive_intact() {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        let content: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        tmp.write_all(&content).unwrap();
        let file = Arc::new(tmp.reopen().unwrap());
        #[allow(unsafe_code)]
        // SAFETY: the temporary file is not modified while mapped.
        let map = unsafe { memmap2::Mmap::map(&*file).unwrap() };
        let reg = register(map.as_ptr() as usize, map.len(), Arc::clone(&file));
        assert_eq!(lookup(map.as_ptr() as usize + 10, 100), Some((file.as_raw_fd(), 10)));
        assert_eq!(lookup(map.as_ptr() as usize + 10, map.len()), None, "past the end");

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap();
            got
        });
        let (sock, _) = listener.accept().await.unwrap();
        let mut stream = SendfileStream::new(sock, 4096);
        let head = b"HEAD-BYTES".to_vec();
        let tail = b"TAIL".to_vec();
        let mut bufs = [IoSlice::new(&head), IoSlice::new(&map[1000..150_000]), IoSlice::new(&map[5..10]), IoSlice::new(&tail)];
        let mut slices: &mut [IoSlice<'_>] = &mut bufs;
        while !slices.is_empty() {
            let n = stream.write_vectored(slices).await.unwrap();
            IoSlice::advance_slices(&mut slices, n);
        }
        stream.shutdown().await.unwrap();
        let got = client.await.unwrap();
        let mut want = head.clone();
        want.extend_from_slice(&content[1000..150_000]);
        want.extend_from_slice(&content[5..10]);
        want.extend_from_slice(&tail);
        assert!(got == want);
        drop(reg);
        assert_eq!(lookup(map.as_ptr() as usize + 10, 100), None, "unregistered");
    }
}
