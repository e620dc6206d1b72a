//! What the data plane's workers count as they serve, for the stats reported to the control
//! plane and for `/metrics`: responses by method and status class, body bytes, bytes written to
//! sockets by send path, refused connections by reason, and a histogram of the time a request
//! takes until its response head. Each worker owns one [`WorkerCounters`] on cache lines of its
//! own: counting is a relaxed load and store on memory no other thread writes (no lock, no
//! locked instruction, no allocation); a scrape sums the workers. [`Counted`] is the one I/O piece: a stream wrapper
//! that adds what it writes to a counter (TLS connections, whose bytes never take `sendfile`).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The method labels: GET, HEAD, anything else.
pub const METHODS: [&str; 3] = ["GET", "HEAD", "other"];
/// The status-class labels.
pub const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
/// Upper bounds (seconds) of the request-duration histogram's buckets; `+Inf` follows.
pub const DURATION_BOUNDS: [f64; 12] = [0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5];
/// The same bounds in nanoseconds, for the hot path (no float).
const BOUNDS_NS: [u64; 12] = [50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000, 100_000_000, 500_000_000];

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The client's address holds `[http] max_connections_per_ip` already.
    PerIp = 0,
    /// The node holds as many connections as its budget (open-files limit) allows.
    NodeFull = 1,
    /// The TLS handshake failed or timed out.
    TlsHandshake = 2,
}

/// The refusal labels, indexed by [`Refusal`].
pub const REFUSALS: [&str; 3] = ["per_ip", "node_full", "tls_handshake"];

/// How bytes left for a client's socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// `sendfile(2)` from the page cache.
    Sendfile = 0,
    /// `sendmsg`/`writev` from memory (headers, small chunks, `--send-path write`, HTTP/2).
    Write = 1,
    /// Encrypted by rustls and written (TLS connections).
    Tls = 2,
    /// `sendmsg` zero-copy from the mapping (`SEND_ZC`, the io_uring workers).
    ZeroCopy = 3,
}

/// The send-path labels, indexed by [`Sent`].
pub const SEND_PATHS: [&str; 4] = ["sendfile", "write", "tls", "zerocopy"];

/// One worker's counters.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct WorkerCounters {
    /// WebSeed responses by [`METHODS`] × [`CLASSES`].
    responses: [[AtomicU64; 5]; 3],
    /// Body bytes of the responses (what was planned; a client may close before the end).
    pub bytes: AtomicU64,
    sent: [AtomicU64; 4],
    refused: [AtomicU64; 3],
    /// Request durations: a count per bucket (not cumulative; the last is `+Inf`) and the sum.
    duration_buckets: [AtomicU64; 13],
    duration_ns: AtomicU64,
    /// 1 while this io_uring worker sends small bodies by `sendfile` (`[http] small_bodies`).
    small_by_sendfile: AtomicU64,
}

/// Adds `n` to a counter only its worker's thread writes (a worker is a current-thread runtime
/// and everything it counts happens on it): a plain load and store, no locked read-modify-write,
/// so the hot path pays a few cycles, not a bus lock. Readers (a scrape) see whole values; were a
/// second thread ever to write, a count could be lost, never memory corrupted.
fn add(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

impl WorkerCounters {
    /// Counts a WebSeed response: its method, status, planned body length and the time it took
    /// to have its head ready.
    pub fn response(&self, method: &http::Method, status: http::StatusCode, body: Option<u64>, took: Duration) {
        let m = match *method {
            http::Method::GET => 0,
            http::Method::HEAD => 1,
            _ => 2,
        };
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        add(&self.responses[m][class], 1);
        if let Some(n) = body {
            add(&self.bytes, n);
        }
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_NS.iter().position(|&b| ns <= b).unwrap_or(BOUNDS_NS.len());
        add(&self.duration_buckets[bucket], 1);
        add(&self.duration_ns, ns);
    }

    pub fn refused(&self, why: Refusal) {
        add(&self.refused[why as usize], 1);
    }

    pub fn sent(&self, path: Sent, n: u64) {
        add(&self.sent[path as usize], n);
    }

    /// Records the way this worker's small bodies leave now (`true`: `sendfile`).
    pub fn small_bodies_by_sendfile(&self, yes: bool) {
        self.small_by_sendfile.store(u64::from(yes), Ordering::Relaxed);
    }
}

/// Sums over the workers, as a scrape sees them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServeSnapshot {
    pub responses: [[u64; 5]; 3],
    pub bytes: u64,
    pub sent: [u64; 4],
    pub refused: [u64; 3],
    /// Requests per duration bucket (not cumulative), above every bound last.
    pub duration_buckets: [u64; 13],
    pub duration_sum_secs: f64,
    /// io_uring workers sending small bodies by `sendfile` now.
    pub small_by_sendfile: u64,
}

impl ServeSnapshot {
    pub fn of(counters: &[WorkerCounters]) -> ServeSnapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = ServeSnapshot::default();
        let mut ns = 0u64;
        for c in counters {
            for (m, row) in c.responses.iter().enumerate() {
                for (k, v) in row.iter().enumerate() {
                    s.responses[m][k] += load(v);
                }
            }
            s.bytes += load(&c.bytes);
            for (total, v) in s.sent.iter_mut().zip(&c.sent) {
                *total += load(v);
            }
            for (total, v) in s.refused.iter_mut().zip(&c.refused) {
                *total += load(v);
            }
            for (b, v) in s.duration_buckets.iter_mut().zip(&c.duration_buckets) {
                *b += load(v);
            }
            ns = ns.wrapping_add(load(&c.duration_ns));
            s.small_by_sendfile += load(&c.small_by_sendfile);
        }
        s.duration_sum_secs = ns as f64 / 1e9;
        s
    }

    pub fn requests(&self) -> u64 {
        self.responses.iter().flatten().sum()
    }

    pub fn server_errors(&self) -> u64 {
        self.responses.iter().map(|row| row[4]).sum()
    }

    pub fn refused_total(&self) -> u64 {
        self.refused.iter().sum()
    }
}

/// Totals over the workers, as the stats report carries them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServeTotals {
    pub requests: u64,
    pub bytes: u64,
    pub errors: u64,
    pub refused: u64,
}

impl ServeTotals {
    /// The sum over the workers' counters.
    pub fn of(counters: &[WorkerCounters]) -> ServeTotals {
        let s = ServeSnapshot::of(counters);
        ServeTotals { requests: s.requests(), bytes: s.bytes, errors: s.server_errors(), refused: s.refused_total() }
    }
}

/// A stream that adds the bytes written through it to a worker's [`Sent`] counter.
#[derive(Debug)]
pub struct Counted<T> {
    inner: T,
    counters: Arc<[WorkerCounters]>,
    worker: usize,
    path: Sent,
}

impl<T> Counted<T> {
    pub fn new(inner: T, counters: Arc<[WorkerCounters]>, worker: usize, path: Sent) -> Counted<T> {
        Counted { inner, counters, worker, path }
    }

    fn count(&self, polled: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = &polled {
            self.counters[self.worker].sent(self.path, *n as u64);
        }
        polled
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.count(polled)
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.count(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_land_in_their_method_class_and_bucket() {
        let workers: Arc<[WorkerCounters]> = (0..2).map(|_| WorkerCounters::default()).collect();
        workers[0].response(&http::Method::GET, http::StatusCode::PARTIAL_CONTENT, Some(100), Duration::from_micros(30));
        workers[1].response(&http::Method::GET, http::StatusCode::OK, Some(50), Duration::from_micros(300));
        workers[1].response(&http::Method::HEAD, http::StatusCode::NOT_FOUND, None, Duration::from_secs(3));
        workers[0].response(&http::Method::PUT, http::StatusCode::SERVICE_UNAVAILABLE, Some(7), Duration::ZERO);
        workers[0].refused(Refusal::PerIp);
        workers[1].refused(Refusal::TlsHandshake);
        workers[1].sent(Sent::Sendfile, 4096);
        let s = ServeSnapshot::of(&workers);
        assert_eq!(s.responses[0], [0, 2, 0, 0, 0]);
        assert_eq!(s.responses[1], [0, 0, 0, 1, 0]);
        assert_eq!(s.responses[2], [0, 0, 0, 0, 1]);
        assert_eq!((s.bytes, s.sent, s.refused), (157, [4096, 0, 0, 0], [1, 0, 1]));
        // ≤50 µs: 2 (30 µs and 0); ≤500 µs: 1; above every bound: 1 (3 s).
        assert_eq!(s.duration_buckets, [2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert!((s.duration_sum_secs - 3.00033).abs() < 1e-9, "{}", s.duration_sum_secs);
        assert_eq!(ServeTotals::of(&workers), ServeTotals { requests: 4, bytes: 157, errors: 1, refused: 2 });
    }

    #[test]
    fn the_float_and_integer_bounds_agree() {
        for (f, n) in DURATION_BOUNDS.iter().zip(BOUNDS_NS) {
            assert_eq!((f * 1e9).round() as u64, n);
        }
    }
}
