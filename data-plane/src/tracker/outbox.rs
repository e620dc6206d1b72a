//! A WebSocket connection's outgoing frames. Replies are encoded and framed straight into one
//! buffer, where the swarm shard produces them; the connection's writer takes the whole buffer
//! and writes it with one system call. No string per reply, no queue node per reply, one copy of
//! a relayed SDP on its way out. The buffer holds at most `capacity` frames: past that a reply is
//! refused (the shard counts it as shed), and a control frame can wait for room. The writer
//! ends once every sender is gone and the buffer is empty, or after a close frame.
//!
//! The framing ([`push_frame`]) is pure; the rest is a mutex-guarded buffer and two wake-ups.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use fastwebsockets::OpCode;
use tokio::sync::Notify;

use super::protocol::Reply;

/// A fresh buffer's size: room for an announce response and a few relayed SDPs.
const FIRST_ALLOCATION: usize = 2048;

struct State {
    buf: Vec<u8>,
    /// Frames in `buf`.
    frames: usize,
    /// Text frames (replies) in `buf`.
    replies: u64,
    /// A close frame is queued: nothing more is taken.
    closing: bool,
    /// The writer is gone: nothing more is sent.
    gone: bool,
}

struct Shared {
    state: Mutex<State>,
    capacity: usize,
    senders: AtomicUsize,
    /// Wakes the writer: something was queued, or the last sender left.
    ready: Notify,
    /// Wakes senders waiting for room: the writer took the buffer, or left.
    room: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Queues frames for one connection; cloned for every shard that relays to it.
pub struct OutboxSender(Arc<Shared>);

/// The connection's writer side: takes what was queued.
pub struct OutboxReceiver(Arc<Shared>);

/// A connection's outbox holding at most `capacity` frames (at least one).
pub fn outbox(capacity: usize) -> (OutboxSender, OutboxReceiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State { buf: Vec::new(), frames: 0, replies: 0, closing: false, gone: false }),
        capacity: capacity.max(1),
        senders: AtomicUsize::new(1),
        ready: Notify::new(),
        room: Notify::new(),
    });
    (OutboxSender(Arc::clone(&shared)), OutboxReceiver(shared))
}

/// What pushing a frame did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// The outbox holds `capacity` frames.
    Full,
    /// A close frame was queued before, or the writer is gone: nothing more will be sent.
    Closed,
}

impl OutboxSender {
    /// Whether a reply pushed now would be queued.
    pub fn has_room(&self) -> bool {
        let s = self.0.lock();
        !s.closing && !s.gone && s.frames < self.0.capacity
    }

    /// Queues a reply as a text frame, encoded in place.
    pub fn reply(&self, reply: &Reply) -> Pushed {
        self.push(OpCode::Text, |buf| reply.write_json(buf))
    }

    /// Queues a control frame (ping, pong, close), or says why not.
    pub fn control(&self, opcode: OpCode, payload: &[u8]) -> Pushed {
        self.push(opcode, |buf| buf.extend_from_slice(payload))
    }

    /// Queues a control frame, waiting for room; false when nothing more will be sent.
    pub async fn control_waiting(&self, opcode: OpCode, payload: &[u8]) -> bool {
        loop {
            let room = self.0.room.notified();
            tokio::pin!(room);
            // Registered before trying, so a take between the try and the wait is not missed.
            room.as_mut().enable();
            match self.control(opcode, payload) {
                Pushed::Queued => return true,
                Pushed::Closed => return false,
                Pushed::Full => room.await,
            }
        }
    }

    fn push(&self, opcode: OpCode, body: impl FnOnce(&mut Vec<u8>)) -> Pushed {
        let mut s = self.0.lock();
        if s.closing || s.gone {
            return Pushed::Closed;
        }
        if s.frames >= self.0.capacity {
            return Pushed::Full;
        }
        let was_empty = s.frames == 0;
        if s.buf.capacity() == 0 {
            s.buf.reserve(FIRST_ALLOCATION);
        }
        push_frame(&mut s.buf, opcode, body);
        s.frames += 1;
        s.replies += u64::from(opcode == OpCode::Text);
        s.closing = opcode == OpCode::Close;
        drop(s);
        if was_empty {
            self.0.ready.notify_one();
        }
        Pushed::Queued
    }
}

impl Clone for OutboxSender {
    fn clone(&self) -> Self {
        self.0.senders.fetch_add(1, Ordering::Relaxed);
        OutboxSender(Arc::clone(&self.0))
    }
}

impl Drop for OutboxSender {
    fn drop(&mut self) {
        if self.0.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.ready.notify_one();
        }
    }
}

/// A batch the writer took: the framed bytes, how many replies they hold, and whether they end
/// with a close frame.
pub struct Batch {
    pub bytes: Vec<u8>,
    pub replies: u64,
    pub closing: bool,
}

impl OutboxReceiver {
    /// Waits for queued frames and takes them all; `None` once every sender is gone and nothing
    /// is left (or after the batch that held a close frame).
    pub async fn take(&mut self) -> Option<Batch> {
        loop {
            let ready = self.0.ready.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            {
                let mut s = self.0.lock();
                if s.frames > 0 {
                    let batch = Batch { bytes: std::mem::take(&mut s.buf), replies: s.replies, closing: s.closing };
                    s.frames = 0;
                    s.replies = 0;
                    drop(s);
                    self.0.room.notify_waiters();
                    return Some(batch);
                }
                if s.closing || self.0.senders.load(Ordering::Acquire) == 0 {
                    return None;
                }
            }
            ready.await;
        }
    }
}

impl Drop for OutboxReceiver {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.gone = true;
        s.buf = Vec::new();
        s.frames = 0;
        drop(s);
        self.0.room.notify_waiters();
    }
}

/// Appends one unmasked (server) frame whose payload `body` writes, with the shortest length
/// field RFC 6455 allows: the payload is written after a 4-byte head (16-bit length) and moved
/// when it turns out shorter than 126 bytes or longer than 65 535.
pub fn push_frame(buf: &mut Vec<u8>, opcode: OpCode, body: impl FnOnce(&mut Vec<u8>)) {
    let start = buf.len();
    buf.extend_from_slice(&[0x80 | opcode as u8, 126, 0, 0]);
    body(buf);
    let len = buf.len() - start - 4;
    match len {
        0..=125 => {
            buf[start + 1] = len as u8;
            buf.copy_within(start + 4.., start + 2);
            buf.truncate(start + 2 + len);
        }
        126..=65535 => buf[start + 2..start + 4].copy_from_slice(&(len as u16).to_be_bytes()),
        _ => {
            buf.extend_from_slice(&[0; 6]);
            buf.copy_within(start + 4..start + 4 + len, start + 10);
            buf[start + 1] = 127;
            buf[start + 2..start + 10].copy_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests;
