//! One io_uring worker (does I/O): a thread with its own ring and its own `SO_REUSEPORT`
//! listener. Connections come from a multishot accept; each has one multishot receive armed,
//! filling buffers the kernel picks from the worker's ring of provided buffers (`buffers`), so
//! a waiting connection holds no receive buffer; the bytes are copied into the connection's
//! small head buffer (grown only to what its requests need), the WebSeed service (`webseed::serve::respond`, shared with the epoll path)
//! plans the answer, and the head and body leave in one `sendmsg` whose iovecs point into the
//! file's mapping — large bodies by `sendfile` from this thread when their pages are in memory
//! (the ring telling when the socket has room), or by `sendmsg` zero-copy (`SEND_ZC`) when
//! configured. Sockets are non-blocking (the ring's own operations wait inside it). Submissions
//! are batched: one `io_uring_enter` per loop turn submits everything the completions of the
//! previous turn asked for. Requests this path does not serve (the tracker, operations,
//! upgrades, bodies, HTTP/2) are handed with the bytes read so far to the epoll worker of the
//! same index. The connection guard's policy (`vidseed_conn_guard::Watch`) closes idle, slow
//! and stalled connections as on the epoll path.
//!
//! Unsafe code is allowed here (and in `residency`, which asks `mincore`): the ring reads and writes memory
//! we name by raw pointers (each use says why it stays valid), and sockets are handled as raw
//! descriptors between submissions.
#![allow(unsafe_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::StatusCode;
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use vidseed_conn_guard::{ConnBudget, PerIp, Places, Sample, Timeouts, Verdict, Watch};

use super::buffers::BufRing;
use super::http1::{self, Parsed};
use super::residency::Residency;
use super::small_send::{SmallBodies, SmallSend, Way};
use crate::catalog::CatalogStore;
use crate::counters::{Sent, WorkerCounters};
use crate::ops::Ops;
use crate::webseed::serve::respond;

/// Longest request head this path reads; a longer one is answered 431.
pub const MAX_HEAD: usize = 8 * 1024;
/// Bytes a client may send ahead (pipelined requests) while its response leaves; more closes
/// the connection.
const MAX_AHEAD: usize = 64 * 1024;
/// The provided receive buffers: count and size (4 MiB per worker). Enough that thousands of
/// connections whose requests arrive in one turn do not run the ring dry (a dry ring ends their
/// multishot receives, which then have to be armed again).
const RECV_BUFFERS: u16 = 2048;
const RECV_BUFFER_SIZE: usize = 2048;
/// iovecs in one `sendmsg`: the head and the chunks of a multipart body after it.
const MAX_IOV: usize = 16;
/// Completions handled between two submissions within one turn.
const SUBMIT_EVERY: usize = 64;
/// Submission queue size; completions get eight times as many, so that a turn with thousands of
/// busy connections never overflows the completion queue (the kernel's slow path).
const RING_ENTRIES: u32 = 4096;

/// What the worker needs from the data plane.
pub struct Shared {
    pub index: usize,
    pub store: Arc<CatalogStore>,
    pub ops: Arc<Ops>,
    pub counters: Arc<[WorkerCounters]>,
    pub budget: Arc<ConnBudget>,
    pub per_ip: Arc<PerIp>,
    pub timeouts: Timeouts,
    pub max_target_len: usize,
    /// Bodies of at least this many bytes leave by `SEND_ZC`; `usize::MAX`: never.
    pub min_zero_copy: usize,
    /// Bodies of these sizes, all in memory, leave by `sendfile`; an empty range: none.
    pub sendfile: std::ops::Range<usize>,
    /// How in-memory bodies shorter than `sendfile.start` leave (`[http] small_bodies`; copy
    /// where nothing goes by `sendfile`, `sendfile_min = 0`).
    pub small_bodies: SmallBodies,
    /// Deferred task running (see [`super::Support`]).
    pub defer_taskrun: bool,
    pub shutdown_grace: Duration,
    pub stop: Arc<AtomicBool>,
    pub hand_off: tokio::sync::mpsc::UnboundedSender<HandOff>,
}

/// A connection the epoll path serves from here on, with what was read of it.
pub struct HandOff {
    pub stream: std::net::TcpStream,
    pub peer: SocketAddr,
    pub read: Bytes,
    pub places: Places,
}

// user_data: [generation:24][slot:32][op:8]
const OP_ACCEPT: u64 = 1;
const OP_RECV: u64 = 2;
const OP_SEND: u64 = 3;
/// Waiting for room in the socket's send buffer (a `sendfile` body).
const OP_WRITABLE: u64 = 4;
const ACCEPT_DATA: u64 = OP_ACCEPT;

fn user_data(slot: usize, generation: u32, op: u64) -> u64 {
    (u64::from(generation & 0xff_ffff) << 40) | ((slot as u64 & 0xffff_ffff) << 8) | op
}

fn split(data: u64) -> (usize, u32, u64) {
    (((data >> 8) & 0xffff_ffff) as usize, (data >> 40) as u32, data & 0xff)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for (the rest of) a request head.
    Reading,
    /// A response is leaving.
    Writing,
    /// Going to the epoll path once its receive is cancelled.
    HandingOff,
    /// Shut down; the slot is freed once nothing of it is left in the ring.
    Closing,
}

struct Conn {
    fd: RawFd,
    generation: u32,
    peer: SocketAddr,
    /// Bytes received and not consumed yet (a head, or pipelined requests).
    buf: Vec<u8>,
    /// The multishot receive is in the ring.
    receiving: bool,
    phase: Phase,
    keep_alive: bool,
    /// Operations in the ring (a receive or a send, and zero-copy notifications).
    in_ring: u32,
    /// Zero-copy notifications still to come: the bytes they name must stay alive.
    notifications: u32,
    head: Vec<u8>,
    /// The response's head (first) and body chunks still to send, and how much of the first
    /// is gone.
    chunks: VecDeque<Bytes>,
    head_left: usize,
    sent_of_first: usize,
    iov: [libc::iovec; MAX_IOV],
    msg: libc::msghdr,
    /// Chunks held until their zero-copy notification.
    held: Vec<Bytes>,
    zero_copy: bool,
    /// The body leaves by `sendfile` from this thread, the ring only telling when the socket
    /// has room again.
    by_sendfile: bool,
    /// Some of the body's pages are not in memory: its sends run on the kernel's I/O workers
    /// (`IOSQE_ASYNC`), so reading them from disk never stalls this ring.
    cold: bool,
    close_after: bool,
    sample: Sample,
    watch: Watch,
    places: Places,
}

impl Conn {
    /// What is left of the response, in order, as at most [`MAX_IOV`] slices: the head's rest,
    /// then the body's chunks (the first without what is gone of it).
    fn left(&self) -> impl Iterator<Item = &[u8]> {
        let head = &self.head[self.head.len() - self.head_left..];
        let first_skip = if self.head_left == 0 { self.sent_of_first } else { 0 };
        let body = self.chunks.iter().enumerate().map(move |(k, b)| &b[if k == 0 { first_skip } else { 0 }..]);
        std::iter::once(head).filter(|h| !h.is_empty()).chain(body).take(MAX_IOV)
    }

    /// Takes `n` sent bytes off what is left of the response: the head's rest first, then the
    /// body's chunks (held until their notification when they went zero-copy).
    fn advance(&mut self, mut n: usize) {
        let head_part = n.min(self.head_left);
        self.head_left -= head_part;
        n -= head_part;
        // Also past empty chunks when nothing is left of `n`.
        while let Some(first) = self.chunks.front() {
            let left = first.len() - self.sent_of_first;
            if n < left {
                self.sent_of_first += n;
                break;
            }
            n -= left;
            self.sent_of_first = 0;
            let done = self.chunks.pop_front().expect("a chunk");
            if self.zero_copy {
                self.held.push(done);
            }
        }
    }
}

/// Runs the worker until `shared.stop`; returns once every connection is closed.
pub fn run(listener: std::net::TcpListener, shared: Shared) -> std::io::Result<()> {
    let ring = super::ring(RING_ENTRIES, RING_ENTRIES * 8, shared.defer_taskrun)?;
    let buffers = BufRing::new(&ring, RECV_BUFFERS, RECV_BUFFER_SIZE, 0)?;
    let small = SmallSend::new(shared.small_bodies);
    let mut w = Worker {
        ring,
        buffers,
        shared,
        conns: Vec::new(),
        free: Vec::new(),
        next_generation: 1,
        date: Date::default(),
        accepting: true,
        accept_again_at: None,
        accept_failures: crate::server::AcceptFailures::default(),
        listener,
        pending: Vec::with_capacity(256),
        residency: Residency::default(),
        small,
        finished: Vec::new(),
    };
    w.arm_accept();
    w.report_small_way();
    let tick = w.shared.timeouts.tick().min(Duration::from_millis(250));
    let mut last_tick = Instant::now();
    let mut stopping: Option<Instant> = None;
    let mut completions: Vec<(u64, i32, u32)> = Vec::with_capacity(1024);
    loop {
        w.flush()?;
        let ts = types::Timespec::from(tick);
        let args = types::SubmitArgs::new().timespec(&ts);
        match w.ring.submitter().submit_with_args(1, &args) {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR | libc::EBUSY)) => {}
            Err(e) => return Err(e),
        }
        // The turn's one clock read. A small-body epoch ends here, after the submission that ran
        // the previous turn's sends: a copy counts in the epoch whose response asked for it.
        let now = Instant::now();
        if w.small.due(now) {
            w.end_epoch(now);
        }
        completions.clear();
        completions.extend(w.ring.completion().map(|c| (c.user_data(), c.result(), c.flags())));
        for (n, &(data, result, flags)) in completions.iter().enumerate() {
            w.complete(data, result, flags);
            // A turn with thousands of completions hands its first answers to the kernel as it
            // goes, not all at its end: the first requests of a turn do not wait for the last.
            if n % SUBMIT_EVERY == SUBMIT_EVERY - 1 && !w.pending.is_empty() {
                w.flush()?;
                w.ring.submit()?;
            }
        }
        if w.accepting && w.accept_again_at.is_some_and(|t| now >= t) {
            w.accept_again_at = None;
            w.arm_accept();
        }
        if now.duration_since(last_tick) >= tick {
            w.date.refresh();
            w.watch_all(now.duration_since(last_tick));
            last_tick = now;
        }
        if stopping.is_none() && w.shared.stop.load(Ordering::Relaxed) {
            stopping = Some(now);
            w.stop_accepting();
        }
        if let Some(since) = stopping {
            let grace_over = now.duration_since(since) >= w.shared.shutdown_grace;
            w.close_idle(grace_over);
            if w.conns.iter().all(Option::is_none) {
                return Ok(());
            }
        }
    }
}

/// One worker's state. Field order matters: the ring is dropped before the buffers it reads.
struct Worker {
    ring: IoUring,
    buffers: BufRing,
    shared: Shared,
    conns: Vec<Option<Box<Conn>>>,
    free: Vec<usize>,
    next_generation: u32,
    date: Date,
    accepting: bool,
    /// After a failed accept: when to arm the next one.
    accept_again_at: Option<Instant>,
    accept_failures: crate::server::AcceptFailures,
    listener: std::net::TcpListener,
    /// Entries to submit at the next turn (the ring's queue may be full now).
    pending: Vec<squeue::Entry>,
    /// Which parts of the mapped files were seen in memory lately.
    residency: Residency,
    /// How small bodies leave, and the measures that choose it.
    small: SmallSend,
    /// Responses `send_direct` sent whole, to finish (slot, generation).
    finished: Vec<(usize, u32)>,
}

impl Worker {
    fn push(&mut self, entry: squeue::Entry) {
        self.pending.push(entry);
    }

    /// Moves pending entries into the submission queue, submitting when it fills.
    fn flush(&mut self) -> std::io::Result<()> {
        let mut i = 0;
        while i < self.pending.len() {
            // SAFETY: every entry points at memory its connection keeps until its completion
            // (iovecs and message headers live in the boxed `Conn`, body bytes in its chunk
            // queue or `held`, receive buffers in `buffers`), and a connection's slot is not
            // reused while `in_ring > 0`.
            let pushed = unsafe { self.ring.submission().push(&self.pending[i]) };
            if pushed.is_err() {
                self.ring.submit()?;
                continue;
            }
            i += 1;
        }
        self.pending.clear();
        Ok(())
    }

    fn arm_accept(&mut self) {
        let entry = opcode::AcceptMulti::new(types::Fd(self.listener.as_raw_fd())).flags(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK).build().user_data(ACCEPT_DATA);
        self.push(entry);
    }

    fn stop_accepting(&mut self) {
        if self.accepting {
            self.accepting = false;
            self.push(opcode::AsyncCancel::new(ACCEPT_DATA).build().user_data(0));
            // Shutting the socket down also stops the kernel from queueing new connections.
            // SAFETY: the listener's descriptor stays owned by `self.listener`; shutdown only
            // changes its state.
            unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR) };
        }
    }

    /// Handles one completion, then finishes the responses `send_direct` sent whole meanwhile.
    fn complete(&mut self, data: u64, result: i32, flags: u32) {
        self.complete_one(data, result, flags);
        // A loop, not recursion: finishing a response serves the next pipelined request, whose
        // body may again leave whole at once (hundreds of small ones may wait in a buffer).
        while let Some((slot, generation)) = self.finished.pop() {
            if self.conns[slot].as_deref().is_some_and(|c| c.generation == generation && c.phase == Phase::Writing) {
                self.response_done(slot);
            }
        }
    }

    fn complete_one(&mut self, data: u64, result: i32, flags: u32) {
        if data == 0 {
            return; // a cancel's own completion
        }
        if data == ACCEPT_DATA {
            let failed = result < 0 && !matches!(-result, libc::ECANCELED | libc::EINVAL);
            if result >= 0 {
                self.accept_failures.succeeded();
                self.accepted(result);
            } else if failed && self.accepting {
                // Out of descriptors and the like: the multishot accept ended. Arm it again after
                // a back-off (up to a second) instead of spinning, saying so once a second.
                let e = std::io::Error::from_raw_os_error(-result);
                self.accept_again_at = Some(Instant::now() + self.accept_failures.failed(&e));
                return;
            }
            if !cqueue::more(flags) && self.accepting {
                self.arm_accept();
            }
            return;
        }
        let (slot, generation, op) = split(data);
        let Some(Some(conn)) = self.conns.get_mut(slot) else { return };
        if conn.generation != generation {
            return;
        }
        if cqueue::notif(flags) {
            conn.in_ring -= 1;
            conn.notifications -= 1;
            if conn.notifications == 0 {
                conn.held.clear();
                if conn.phase == Phase::Writing && conn.chunks.is_empty() {
                    self.response_done(slot);
                }
            }
            self.maybe_free(slot);
            return;
        }
        match op {
            OP_RECV => {
                if !cqueue::more(flags) {
                    conn.in_ring -= 1;
                    conn.receiving = false;
                }
                let bytes = cqueue::buffer_select(flags);
                self.received(slot, result, bytes);
            }
            OP_SEND => {
                if cqueue::more(flags) {
                    // A zero-copy send: its notification comes later.
                    conn.notifications += 1;
                } else {
                    conn.in_ring -= 1;
                }
                self.sent(slot, result);
            }
            OP_WRITABLE => {
                conn.in_ring -= 1;
                if conn.phase == Phase::Writing {
                    if result < 0 {
                        self.close(slot);
                    } else {
                        self.send_direct(slot);
                    }
                }
            }
            _ => {}
        }
        self.maybe_free(slot);
    }

    fn accepted(&mut self, fd: RawFd) {
        // SAFETY: the kernel just gave us this descriptor; the stream owns it from here on.
        let stream = unsafe { std::net::TcpStream::from_raw_fd(fd) };
        let Ok(peer) = stream.peer_addr() else { return };
        let places = match crate::server::admit(&self.shared.budget, &self.shared.per_ip, peer.ip()) {
            Ok(places) => places,
            Err((reason, why)) => {
                refuse(&stream, reason);
                self.shared.counters[self.shared.index].refused(why);
                return;
            }
        };
        let _ = stream.set_nodelay(true);
        let fd = std::os::fd::IntoRawFd::into_raw_fd(stream);
        let generation = self.next_generation;
        // 24 bits in the user data; never 0.
        self.next_generation = self.next_generation % 0xff_ffff + 1;
        let conn = Box::new(Conn {
            fd,
            generation,
            peer,
            buf: Vec::new(),
            receiving: false,
            phase: Phase::Reading,
            keep_alive: true,
            in_ring: 0,
            notifications: 0,
            head: Vec::with_capacity(512),
            chunks: VecDeque::with_capacity(4),
            head_left: 0,
            sent_of_first: 0,
            iov: [libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; MAX_IOV],
            // SAFETY: an all-zero msghdr is a valid empty one.
            msg: unsafe { std::mem::zeroed() },
            held: Vec::new(),
            zero_copy: false,
            by_sendfile: false,
            cold: false,
            close_after: false,
            sample: Sample::default(),
            watch: Watch::new(self.shared.timeouts),
            places,
        });
        let slot = match self.free.pop() {
            Some(s) => {
                self.conns[s] = Some(conn);
                s
            }
            None => {
                self.conns.push(Some(conn));
                self.conns.len() - 1
            }
        };
        self.recv(slot);
    }

    /// Ends a small-body epoch (`SmallSend`) with the thread's CPU time.
    fn end_epoch(&mut self, now: Instant) {
        let kept = self.small.kept();
        self.small.epoch_over(now, thread_cpu());
        if self.small.kept() != kept {
            tracing::debug!("io_uring worker {}: small bodies now leave by {:?} (measured cheaper here)", self.shared.index, self.small.kept());
        }
        self.report_small_way();
    }

    /// Tells the metric the way small bodies leave now (a trial's epochs included).
    fn report_small_way(&self) {
        self.shared.counters[self.shared.index].small_bodies_by_sendfile(self.small.way() == Way::Sendfile);
    }

    fn conn(&mut self, slot: usize) -> &mut Conn {
        self.conns[slot].as_deref_mut().expect("a live slot")
    }

    /// Arms the connection's multishot receive (once; again when the kernel ends it).
    fn recv(&mut self, slot: usize) {
        let group = self.buffers.group();
        let c = self.conn(slot);
        if c.receiving {
            return;
        }
        c.receiving = true;
        let entry = opcode::RecvMulti::new(types::Fd(c.fd), group).build().user_data(user_data(slot, c.generation, OP_RECV));
        c.in_ring += 1;
        self.push(entry);
    }

    fn received(&mut self, slot: usize, result: i32, buffer: Option<u16>) {
        // The bytes leave the provided buffer at once, and the buffer goes back to the kernel.
        if let Some(bid) = buffer {
            let len = usize::try_from(result).unwrap_or(0);
            let data = self.buffers.bytes(bid, len);
            if let Some(c) = self.conns[slot].as_deref_mut() {
                if c.phase != Phase::Closing {
                    c.buf.extend_from_slice(data);
                }
            }
            self.buffers.give_back(bid);
        }
        let c = self.conn(slot);
        match c.phase {
            Phase::Closing => return,
            Phase::HandingOff => {
                if !c.receiving {
                    self.hand_off(slot);
                }
                return;
            }
            _ => {}
        }
        if result == -libc::ENOBUFS {
            // Every provided buffer was in use for a moment: receive again.
            self.recv(slot);
            return;
        }
        if result == 0 && c.phase == Phase::Writing {
            // The client shut its side after its request: the response still leaves, then the
            // connection closes.
            c.close_after = true;
            return;
        }
        if result <= 0 {
            // The client closed (0) or the connection failed.
            self.close(slot);
            return;
        }
        c.sample.reads += 1;
        match c.phase {
            Phase::Reading => self.next_request(slot),
            Phase::Writing if c.buf.len() > MAX_AHEAD => {
                tracing::debug!("closed the connection from {}: {} bytes sent ahead of its response", c.peer, c.buf.len());
                self.close(slot);
            }
            _ => {}
        }
        if self.conns[slot].as_deref().is_some_and(|c| !c.receiving && matches!(c.phase, Phase::Reading | Phase::Writing)) {
            self.recv(slot);
        }
    }

    /// Serves the request at the start of the buffer, if it is whole; otherwise waits for more.
    fn next_request(&mut self, slot: usize) {
        // Borrowed, not cloned: an `Arc` count shared by every worker, touched per request, would
        // bounce its cache line between cores.
        let ops = &self.shared.ops;
        let other_route = |p: &str| p.starts_with("/tracker/") || ops.route(p).is_some();
        let c = self.conns[slot].as_deref_mut().expect("a live slot");
        if c.buf.is_empty() {
            return;
        }
        match http1::parse(&c.buf, other_route) {
            Parsed::Partial if c.buf.len() >= MAX_HEAD => {
                // The request line alone too long is the target's fault (414, as the epoll path
                // answers it); otherwise the headers are.
                let line = c.buf.windows(2).position(|w| w == b"\r\n").unwrap_or(c.buf.len());
                if line > self.shared.max_target_len {
                    self.answer_error(slot, StatusCode::URI_TOO_LONG, "414 URI Too Long: the request target is longer than this server accepts\n");
                } else {
                    self.answer_error(slot, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "431 Request Header Fields Too Large\n");
                }
            }
            Parsed::Partial => {}
            Parsed::Bad(status, text) => self.answer_error(slot, status, text),
            Parsed::HandOff => self.start_hand_off(slot),
            Parsed::Request { req, len, keep_alive } => {
                let started = Instant::now();
                c.sample.started += 1;
                let res = respond(&self.shared.store, self.shared.max_target_len, &req);
                let (parts, body) = res.into_parts();
                let chunks = body.into_chunks();
                let body_len: u64 = chunks.iter().map(|b| b.len() as u64).sum();
                c.buf.drain(..len);
                if c.buf.is_empty() && c.buf.capacity() > 2 * RECV_BUFFER_SIZE {
                    // A long head grew it: an idle connection keeps no large buffer.
                    c.buf = Vec::new();
                }
                c.keep_alive = keep_alive;
                c.close_after = !keep_alive;
                http1::write_head(&mut c.head, parts.status, &parts.headers, body_len, req.version(), keep_alive, self.date.get());
                self.shared.counters[self.shared.index].response(req.method(), parts.status, Some(body_len), started.elapsed());
                c.zero_copy = body_len as usize >= self.shared.min_zero_copy;
                c.cold = !chunks.iter().all(|b| self.residency.in_memory(b, started));
                // A body in memory cannot block `sendfile` on the disk; a cold one goes to the
                // ring's I/O workers instead.
                let in_memory = !c.zero_copy && !c.cold;
                // Below `sendfile_min`, and below `sendfile_max` too when an odd configuration
                // puts the minimum above it (bodies from the maximum up are the ring's).
                let small_below = self.shared.sendfile.start.min(self.shared.sendfile.end);
                let small = in_memory && parts.status.is_success() && body_len > 0 && (body_len as usize) < small_below;
                c.by_sendfile = in_memory && (self.shared.sendfile.contains(&(body_len as usize)) || (small && self.small.way() == Way::Sendfile));
                self.small.responded(small);
                self.start_send(slot, chunks);
            }
        }
    }

    fn answer_error(&mut self, slot: usize, status: StatusCode, text: &'static str) {
        let date = self.date.get().to_vec();
        let c = self.conn(slot);
        c.sample.started += 1;
        http1::write_error(&mut c.head, status, text, &date);
        c.close_after = true;
        c.zero_copy = false;
        c.by_sendfile = false;
        c.cold = false;
        self.start_send(slot, VecDeque::new());
    }

    fn start_send(&mut self, slot: usize, chunks: VecDeque<Bytes>) {
        let c = self.conn(slot);
        c.phase = Phase::Writing;
        c.head_left = c.head.len();
        c.chunks = chunks;
        c.sent_of_first = 0;
        self.send_more(slot);
    }

    /// Submits the next `sendmsg` of what is left: the head's rest and the body chunks after it.
    fn send_more(&mut self, slot: usize) {
        let c = self.conn(slot);
        if c.by_sendfile {
            self.send_direct(slot);
            return;
        }
        let mut iov = [libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; MAX_IOV];
        let mut n = 0;
        for part in c.left() {
            iov[n] = libc::iovec { iov_base: part.as_ptr() as *mut _, iov_len: part.len() };
            n += 1;
        }
        c.iov = iov;
        c.msg.msg_iov = c.iov.as_mut_ptr();
        c.msg.msg_iovlen = n as _;
        let data = user_data(slot, c.generation, OP_SEND);
        let entry = if c.zero_copy {
            opcode::SendMsgZc::new(types::Fd(c.fd), &c.msg).flags(libc::MSG_NOSIGNAL as u32).build()
        } else {
            opcode::SendMsg::new(types::Fd(c.fd), &c.msg).flags(libc::MSG_NOSIGNAL as u32).build()
        };
        let entry = if c.cold { entry.flags(squeue::Flags::ASYNC) } else { entry };
        c.sample.write_blocked = true;
        c.in_ring += 1;
        self.push(entry.user_data(data));
    }

    fn sent(&mut self, slot: usize, result: i32) {
        let index = self.shared.index;
        let c = self.conn(slot);
        if c.phase == Phase::Closing {
            return;
        }
        c.sample.write_blocked = false;
        if result < 0 {
            if -result == libc::EFAULT {
                // A file shrank under its mapping: have the catalog look again now.
                crate::catalog::revalidate_soon();
            }
            self.close(slot);
            return;
        }
        c.sample.writes += 1;
        c.advance(result as usize);
        let path = if c.zero_copy { Sent::ZeroCopy } else { Sent::Write };
        self.shared.counters[index].sent(path, result as u64);
        let c = self.conn(slot);
        if c.head_left > 0 || !c.chunks.is_empty() {
            self.send_more(slot);
        } else if c.notifications == 0 {
            self.response_done(slot);
        }
        // Otherwise the response ends when its last notification comes.
    }

    /// Sends what the socket takes now, on this thread, by the epoll path's writer
    /// (`sendfile::write_now`: the head by `sendmsg` with `MSG_MORE`, mapped chunks by `sendfile`).
    /// The socket is non-blocking; when it is full, the ring is asked to say when it has room
    /// (`OP_WRITABLE`) and this goes on from there.
    fn send_direct(&mut self, slot: usize) {
        let counters = &self.shared.counters[self.shared.index];
        let c = self.conns[slot].as_deref_mut().expect("a live slot");
        // SAFETY: `fd` is this connection's open socket for as long as the slot is live.
        let sock = unsafe { std::os::fd::BorrowedFd::borrow_raw(c.fd) };
        let result = loop {
            if c.head_left == 0 && c.chunks.is_empty() {
                break Ok(());
            }
            let mut slices: [std::io::IoSlice<'_>; MAX_IOV] = [std::io::IoSlice::new(&[]); MAX_IOV];
            let mut n = 0;
            for part in c.left() {
                slices[n] = std::io::IoSlice::new(part);
                n += 1;
            }
            match crate::sendfile::write_now(sock, &slices[..n], 1, |path, bytes| counters.sent(path, bytes as u64)) {
                Ok(sent) => {
                    c.sample.writes += 1;
                    c.advance(sent);
                }
                Err(e) => break Err(e),
            }
        };
        match result {
            Ok(()) => {
                c.sample.write_blocked = false;
                // Finished by `complete` once this call chain has returned.
                let generation = c.generation;
                self.finished.push((slot, generation));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                c.sample.write_blocked = true;
                c.in_ring += 1;
                let entry = opcode::PollAdd::new(types::Fd(c.fd), libc::POLLOUT as u32).build();
                let data = user_data(slot, c.generation, OP_WRITABLE);
                self.push(entry.user_data(data));
            }
            // A shrunk file has already asked for the catalog's revalidation.
            Err(_) => self.close(slot),
        }
    }

    fn response_done(&mut self, slot: usize) {
        let c = self.conn(slot);
        c.sample.done += 1;
        c.held.clear();
        if c.close_after {
            self.close(slot);
            return;
        }
        c.phase = Phase::Reading;
        // A pipelined request may already be here.
        self.next_request(slot);
        if self.conns[slot].as_deref().is_some_and(|c| !c.receiving && matches!(c.phase, Phase::Reading | Phase::Writing)) {
            self.recv(slot);
        }
    }

    /// Cancels the connection's receive; the hand-over happens when the ring is done with it.
    fn start_hand_off(&mut self, slot: usize) {
        let c = self.conn(slot);
        c.phase = Phase::HandingOff;
        if c.receiving {
            let target = user_data(slot, c.generation, OP_RECV);
            self.push(opcode::AsyncCancel::new(target).build().user_data(0));
        } else {
            self.hand_off(slot);
        }
    }

    fn hand_off(&mut self, slot: usize) {
        let Some(conn) = self.conns[slot].as_deref_mut() else { return };
        if conn.in_ring > 0 {
            return; // the cancelled receive's last completion is still to come
        }
        let conn = self.conns[slot].take().expect("a live slot");
        self.free.push(slot);
        // SAFETY: the descriptor is ours and nothing in the ring refers to it any more.
        let stream = unsafe { std::net::TcpStream::from_raw_fd(conn.fd) };
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        let Conn { peer, places, buf, .. } = *conn;
        let _ = self.shared.hand_off.send(HandOff { stream, peer, read: Bytes::from(buf), places });
    }

    /// Stops the connection: shuts the socket (which ends its pending receive), and frees the
    /// slot once the ring holds nothing of it.
    fn close(&mut self, slot: usize) {
        let c = self.conn(slot);
        if c.phase != Phase::Closing {
            c.phase = Phase::Closing;
            // SAFETY: `fd` is this connection's open socket.
            unsafe { libc::shutdown(c.fd, libc::SHUT_RDWR) };
        }
        self.maybe_free(slot);
    }

    fn maybe_free(&mut self, slot: usize) {
        let Some(c) = self.conns[slot].as_deref() else { return };
        if c.phase == Phase::Closing && c.in_ring == 0 {
            // SAFETY: nothing in the ring refers to the descriptor any more.
            unsafe { libc::close(c.fd) };
            self.conns[slot] = None;
            self.free.push(slot);
        }
    }

    /// The connection guard's look at every connection.
    fn watch_all(&mut self, elapsed: Duration) {
        for slot in 0..self.conns.len() {
            let Some(c) = self.conns[slot].as_deref_mut() else { continue };
            if matches!(c.phase, Phase::Closing | Phase::HandingOff) {
                continue;
            }
            let verdict = c.watch.tick(c.sample, elapsed);
            if verdict != Verdict::Keep {
                tracing::debug!("closed the connection from {}: {}", c.peer, verdict.reason());
                self.close(slot);
            }
        }
    }

    /// While stopping: connections between requests are closed at once, the rest when the grace
    /// period is over.
    fn close_idle(&mut self, all: bool) {
        for slot in 0..self.conns.len() {
            let Some(c) = self.conns[slot].as_deref() else { continue };
            if all || (c.phase == Phase::Reading && c.buf.is_empty()) {
                self.close(slot);
            }
        }
    }
}

/// The calling thread's CPU time so far (zero if the clock cannot be read).
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// Answers a connection it will not serve with a 503 saying why, then drops it.
fn refuse(stream: &std::net::TcpStream, reason: &str) {
    let _ = stream.set_nonblocking(true);
    let _ = std::io::Write::write(&mut &*stream, vidseed_conn_guard::refusal(reason).as_bytes());
}

/// The `date` header's value, formatted once a second.
struct Date {
    text: Vec<u8>,
}

impl Default for Date {
    fn default() -> Self {
        let mut d = Date { text: Vec::new() };
        d.refresh();
        d
    }
}

impl Date {
    fn refresh(&mut self) {
        self.text = httpdate::fmt_http_date(SystemTime::now()).into_bytes();
    }

    fn get(&self) -> &[u8] {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_round_trips() {
        for (slot, generation, op) in [(0usize, 1u32, OP_RECV), (123_456, 0xff_ffff, OP_SEND), (u32::MAX as usize, 7, OP_ACCEPT)] {
            assert_eq!(split(user_data(slot, generation, op)), (slot, generation, op));
        }
        assert_ne!(user_data(0, 1, OP_RECV), ACCEPT_DATA);
    }
}
