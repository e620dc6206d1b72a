use std::time::Duration;

use super::*;
use crate::tracker::protocol::{Bin20, Counts};

/// Reads back the frames of `buf`: (FIN + opcode byte, payload), checking the length field is
/// the shortest and the mask bit clear.
fn frames(mut buf: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let first = buf[0];
        assert_eq!(buf[1] & 0x80, 0, "a server frame is never masked");
        let (len, head) = match buf[1] {
            n @ 0..=125 => (usize::from(n), 2),
            126 => (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
            _ => (usize::try_from(u64::from_be_bytes(buf[2..10].try_into().unwrap())).unwrap(), 10),
        };
        let shortest = match len {
            0..=125 => 2,
            126..=65535 => 4,
            _ => 10,
        };
        assert_eq!(head, shortest, "length {len} in the shortest form");
        out.push((first, buf[head..head + len].to_vec()));
        buf = &buf[head + len..];
    }
    out
}

#[test]
fn frames_carry_their_payload_with_the_shortest_length_field() {
    let mut buf = vec![];
    let sizes = [0usize, 1, 125, 126, 127, 65535, 65536, 70000];
    for (i, &n) in sizes.iter().enumerate() {
        push_frame(&mut buf, OpCode::Text, |b| b.extend((0..n).map(|j| (i + j) as u8)));
    }
    push_frame(&mut buf, OpCode::Close, |b| b.extend_from_slice(&[0x03, 0xEB, b'b', b'a', b'd']));
    let read = frames(&buf);
    assert_eq!(read.len(), sizes.len() + 1);
    for (i, &n) in sizes.iter().enumerate() {
        assert_eq!(read[i].0, 0x81, "FIN + text");
        assert_eq!(read[i].1, (0..n).map(|j| (i + j) as u8).collect::<Vec<_>>(), "payload of {n} bytes");
    }
    assert_eq!(buf[buf.len() - 7..], [0x88, 5, 0x03, 0xEB, b'b', b'a', b'd']);
}

/// Lets the tasks spawned on this (current-thread) test runtime run until each waits: after it,
/// a task that is not finished is blocked, not merely not yet started.
async fn let_spawned_tasks_wait() {
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
}

fn announce(n: usize) -> Reply {
    Reply::Announce { info_hash: Bin20([7; 20]), counts: Counts { complete: n, incomplete: 1 }, interval: 120 }
}

#[tokio::test]
async fn replies_are_taken_together_and_the_capacity_sheds_the_rest() {
    let (tx, mut rx) = outbox(3);
    assert!(tx.has_room());
    for n in 0..3 {
        assert_eq!(tx.reply(&announce(n)), Pushed::Queued);
    }
    assert!(!tx.has_room());
    assert_eq!(tx.reply(&announce(9)), Pushed::Full, "a fourth is shed");
    let batch = rx.take().await.unwrap();
    assert_eq!((batch.replies, batch.closing), (3, false));
    let read = frames(&batch.bytes);
    let texts: Vec<String> = read.iter().map(|(_, p)| String::from_utf8(p.clone()).unwrap()).collect();
    assert_eq!(texts, (0..3).map(|n| announce(n).to_json()).collect::<Vec<_>>(), "in order, encoded as to_json");
    assert!(tx.has_room(), "the take made room");
    assert_eq!(tx.control(OpCode::Pong, b"p"), Pushed::Queued);
    let batch = rx.take().await.unwrap();
    assert_eq!(batch.replies, 0, "a control frame is not a reply");
    assert_eq!(frames(&batch.bytes), vec![(0x8A, b"p".to_vec())]);
}

#[tokio::test]
async fn the_writer_ends_when_every_sender_is_gone_after_taking_what_they_left() {
    let (tx, mut rx) = outbox(8);
    let shard = tx.clone();
    drop(tx);
    assert_eq!(shard.reply(&announce(1)), Pushed::Queued);
    let waiting = tokio::spawn(async move {
        let first = rx.take().await.map(|b| b.replies);
        (first, rx.take().await.is_none())
    });
    let_spawned_tasks_wait().await;
    drop(shard);
    assert_eq!(tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap(), (Some(1), true));
}

#[tokio::test]
async fn nothing_follows_a_close_frame() {
    let (tx, mut rx) = outbox(8);
    assert_eq!(tx.reply(&announce(1)), Pushed::Queued);
    assert_eq!(tx.control(OpCode::Close, &[0x03, 0xE8]), Pushed::Queued);
    assert_eq!(tx.reply(&announce(2)), Pushed::Closed);
    assert!(!tx.has_room());
    let batch = rx.take().await.unwrap();
    assert_eq!((batch.replies, batch.closing), (1, true));
    assert!(rx.take().await.is_none(), "the batch with the close frame was the last, though a sender is left");
}

#[tokio::test]
async fn a_control_frame_waits_for_room_and_gives_up_when_the_writer_leaves() {
    let (tx, mut rx) = outbox(1);
    assert_eq!(tx.reply(&announce(1)), Pushed::Queued);
    let tx = Arc::new(tx);
    let pong = {
        let tx = Arc::clone(&tx);
        tokio::spawn(async move { tx.control_waiting(OpCode::Pong, b"x").await })
    };
    let_spawned_tasks_wait().await;
    assert!(!pong.is_finished(), "no room yet");
    let first = rx.take().await.unwrap();
    assert_eq!(first.replies, 1);
    assert!(tokio::time::timeout(Duration::from_secs(5), pong).await.unwrap().unwrap(), "queued once the writer took the buffer");
    assert_eq!(frames(&rx.take().await.unwrap().bytes), vec![(0x8A, b"x".to_vec())]);

    assert_eq!(tx.reply(&announce(2)), Pushed::Queued);
    let blocked = {
        let tx = Arc::clone(&tx);
        tokio::spawn(async move { tx.control_waiting(OpCode::Pong, b"y").await })
    };
    let_spawned_tasks_wait().await;
    drop(rx);
    assert!(!tokio::time::timeout(Duration::from_secs(5), blocked).await.unwrap().unwrap(), "the writer is gone");
    assert_eq!(tx.reply(&announce(3)), Pushed::Closed);
}
