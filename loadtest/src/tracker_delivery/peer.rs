//! A peer's connection (does I/O): TCP to the tracker, the WebSocket upgrade written by hand,
//! then two halves — the reader, which takes every message the tracker sends, counts it,
//! measures relay latency from the stamps and answers half of the offers; and the writer side,
//! shared by the reader's answers and the group's announces behind one uncontended lock.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::stats::Counts;
use super::wire::{next_frame, pong, read_message, AnnounceFrame, AnswerFrame, Message};

/// Largest message taken from the tracker.
const MAX_MESSAGE: usize = 1 << 20;

/// One peer: its swarm, its frames and the socket's sending half.
pub struct Peer {
    pub announce: AnnounceFrame,
    pub sender: Arc<Mutex<OwnedWriteHalf>>,
    /// The next offer id to use.
    pub next_offer: u64,
}

/// Connects and upgrades; returns the two halves and bytes read past the upgrade's head.
pub async fn open(addr: std::net::SocketAddr, host: &str, path: &str) -> Result<(tokio::net::tcp::OwnedReadHalf, OwnedWriteHalf, Vec<u8>)> {
    let mut tcp = TcpStream::connect(addr).await.context("connect")?;
    tcp.set_nodelay(true)?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{host}\r\n\r\n"
    );
    tcp.write_all(req.as_bytes()).await?;
    let mut buf = Vec::with_capacity(1024);
    let end = loop {
        let mut chunk = [0u8; 1024];
        let n = tcp.read(&mut chunk).await?;
        if n == 0 {
            bail!("the tracker closed the connection during the upgrade");
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > 16 * 1024 {
            bail!("the upgrade's answer has no end");
        }
    };
    if !buf.starts_with(b"HTTP/1.1 101") {
        bail!("the tracker refused the upgrade: {}", String::from_utf8_lossy(&buf[..end.min(200)]).lines().next().unwrap_or_default());
    }
    let rest = buf.split_off(end);
    let (r, w) = tcp.into_split();
    Ok((r, w, rest))
}

/// Microseconds since `epoch`.
pub fn micros(epoch: Instant) -> u64 {
    epoch.elapsed().as_micros() as u64
}

/// Reads every message until the connection ends or `stop` fires; answers every other offer
/// with `answer` through `sender`. Counts go to `counts` (the task's own).
pub async fn read_all(
    mut reader: tokio::net::tcp::OwnedReadHalf,
    mut buf: Vec<u8>,
    sender: Arc<Mutex<OwnedWriteHalf>>,
    mut answer: AnswerFrame,
    epoch: Instant,
    counts: Arc<std::sync::Mutex<Counts>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut local = Counts::default();
    // Relay latencies since the last hand-over (see `Counts::hand_over`).
    let mut relays: Vec<(bool, u64)> = Vec::new();
    let mut parity = false;
    let mut chunk = vec![0u8; 64 * 1024];
    // A message in fragments is gathered here.
    let mut partial: Vec<u8> = Vec::new();
    'conn: loop {
        loop {
            let frame = match next_frame(&buf, MAX_MESSAGE) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => {
                    local.broken += 1;
                    break 'conn;
                }
            };
            let payload = &buf[frame.payload.clone()];
            match frame.opcode {
                0x9 => {
                    let _ = sender.lock().await.write_all(&pong(payload)).await;
                }
                0x8 => {
                    local.closed += 1;
                    break 'conn;
                }
                0x0..=0x2 => {
                    let whole: &[u8] = if frame.fin && partial.is_empty() {
                        payload
                    } else {
                        partial.extend_from_slice(payload);
                        if !frame.fin {
                            buf.drain(..frame.len);
                            continue;
                        }
                        &partial
                    };
                    let now = micros(epoch);
                    match read_message(whole) {
                        Message::Announced => local.announced += 1,
                        Message::Offer(ids, stamp) => {
                            local.offers += 1;
                            if let Some(t) = stamp {
                                relays.push((true, now.saturating_sub(t)));
                            }
                            parity = !parity;
                            if let (true, Some(ids)) = (parity, ids) {
                                answer.stamp(&ids, micros(epoch));
                                if sender.lock().await.write_all(&answer.frame).await.is_ok() {
                                    local.answers_sent += 1;
                                }
                            }
                        }
                        Message::Answer(stamp) => {
                            local.answers += 1;
                            if let Some(t) = stamp {
                                relays.push((false, now.saturating_sub(t)));
                            }
                        }
                        Message::Failure => local.failures += 1,
                        Message::Scrape | Message::Other => local.other += 1,
                    }
                    partial.clear();
                }
                _ => local.other += 1,
            }
            buf.drain(..frame.len);
        }
        // Hand the counts and latencies over before waiting, so the run sees its progress.
        if local.messages() + local.answers_sent > 0 {
            counts.lock().unwrap_or_else(|e| e.into_inner()).hand_over(&mut local, &mut relays);
        }
        tokio::select! {
            n = reader.read(&mut chunk) => match n {
                Ok(0) | Err(_) => {
                    local.closed += 1;
                    break;
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            },
            _ = stop.changed() => break,
        }
    }
    counts.lock().unwrap_or_else(|e| e.into_inner()).hand_over(&mut local, &mut relays);
}

/// Sends announces for `peers` at `rate` per second together (round robin), from `start` until
/// `end`; returns how many were sent and how many were due but could not be (the sockets or
/// this task could not keep up).
pub async fn announce_at_rate(mut peers: Vec<Peer>, rate: f64, epoch: Instant, start: Instant, end: Instant) -> (u64, u64) {
    let (mut sent, mut missed) = (0u64, 0u64);
    if peers.is_empty() || rate <= 0.0 {
        return (0, 0);
    }
    let mut next_peer = 0usize;
    let mut tick = tokio::time::interval_at(start, Duration::from_micros(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // Due announces more than this late are given up (counted as missed), not sent in a burst.
    let slack = (rate * 0.05).max(2.0) as u64;
    loop {
        let now = tick.tick().await;
        if now >= end {
            break;
        }
        let due = (now.duration_since(start).as_secs_f64() * rate) as u64;
        let behind = due.saturating_sub(sent + missed);
        if behind > slack {
            missed += behind - slack;
        }
        for _ in 0..due.saturating_sub(sent + missed) {
            let n = peers.len();
            let p = &mut peers[next_peer];
            next_peer = (next_peer + 1) % n;
            let first = p.next_offer;
            p.next_offer += p.announce.offers() as u64;
            p.announce.stamp(first, micros(epoch));
            if p.sender.lock().await.write_all(&p.announce.frame).await.is_ok() {
                sent += 1;
            } else {
                missed += 1;
            }
        }
    }
    (sent, missed)
}
