use super::*;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A client frame: FIN bit, opcode, masked payload.
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&KEY);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    out
}

fn unmasked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode, payload.len() as u8];
    out.extend_from_slice(payload);
    out
}

fn decode_all(max: usize, bytes: &[u8]) -> (Vec<Message>, Option<Violation>) {
    let mut d = Decoder::new(max);
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    loop {
        match d.next(&mut buf) {
            Ok(Some(m)) => out.push(m),
            Ok(None) => return (out, None),
            Err(v) => return (out, Some(v)),
        }
    }
}

fn text(s: &str) -> Message {
    Message::Text(BytesMut::from(s.as_bytes()))
}

#[test]
fn single_frames_are_unmasked_and_handed_out() {
    let mut bytes = frame(true, OP_TEXT, b"{\"action\":\"announce\"}");
    bytes.extend(frame(true, OP_PING, b"hi"));
    bytes.extend(frame(true, OP_PONG, b""));
    bytes.extend(frame(true, OP_BINARY, &[0, 1, 2, 255]));
    bytes.extend(frame(true, OP_CLOSE, &[0x03, 0xe8, b'o', b'k']));
    let (msgs, err) = decode_all(1024, &bytes);
    assert_eq!(err, None);
    assert_eq!(
        msgs,
        vec![
            text("{\"action\":\"announce\"}"),
            Message::Ping(BytesMut::from(&b"hi"[..])),
            Message::Binary(BytesMut::from(&[0u8, 1, 2, 255][..])),
            Message::Close(Some(1000)),
        ]
    );
}

#[test]
fn unmasking_is_right_at_every_length_and_alignment() {
    for len in 0..40 {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let (msgs, err) = decode_all(1024, &frame(true, OP_BINARY, &payload));
        assert_eq!(err, None);
        assert_eq!(msgs, vec![Message::Binary(BytesMut::from(&payload[..]))], "length {len}");
    }
    // Extended lengths: 16-bit and 64-bit.
    for len in [126usize, 65535, 65536, 70000] {
        let payload = vec![b'a'; len];
        let (msgs, err) = decode_all(100_000, &frame(true, OP_TEXT, &payload));
        assert_eq!(err, None, "{len}");
        assert!(matches!(&msgs[..], [Message::Text(m)] if m.len() == len && m.iter().all(|&b| b == b'a')));
    }
}

#[test]
fn fragments_are_gathered_in_order_with_control_frames_between() {
    let mut bytes = frame(false, OP_TEXT, b"{\"a\":");
    bytes.extend(frame(true, OP_PING, b"p"));
    bytes.extend(frame(false, OP_CONTINUATION, b"\"b"));
    bytes.extend(frame(true, OP_CONTINUATION, b"c\"}"));
    let (msgs, err) = decode_all(1024, &bytes);
    assert_eq!(err, None);
    assert_eq!(msgs, vec![Message::Ping(BytesMut::from(&b"p"[..])), text("{\"a\":\"bc\"}")]);
}

#[test]
fn partial_input_waits_for_more_bytes_one_at_a_time() {
    let mut bytes = frame(false, OP_TEXT, "héllo ".as_bytes());
    bytes.extend(frame(true, OP_CONTINUATION, "wörld".as_bytes()));
    let mut d = Decoder::new(1024);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for b in bytes {
        buf.extend_from_slice(&[b]);
        while let Some(m) = d.next(&mut buf).unwrap() {
            got.push(m);
        }
    }
    assert_eq!(got, vec![text("héllo wörld")]);
    assert!(buf.is_empty());
}

#[test]
fn the_limit_holds_for_the_whole_message_not_each_frame() {
    // Each fragment is small; together they pass the limit: refused at the frame that would
    // cross it, from its header, before its payload arrives.
    let mut bytes = frame(false, OP_TEXT, &[b'x'; 60]);
    bytes.extend(frame(false, OP_CONTINUATION, &[b'x'; 30]));
    let crossing = frame(false, OP_CONTINUATION, &[b'x'; 20]);
    bytes.extend_from_slice(&crossing[..6]); // the header only
    let (msgs, err) = decode_all(100, &bytes);
    assert!(msgs.is_empty());
    assert_eq!(err, Some(Violation { code: MESSAGE_TOO_BIG, reason: "message too big" }));
    // Exactly at the limit is fine.
    let mut bytes = frame(false, OP_TEXT, &[b'x'; 60]);
    bytes.extend(frame(true, OP_CONTINUATION, &[b'x'; 40]));
    let (msgs, err) = decode_all(100, &bytes);
    assert_eq!(err, None);
    assert!(matches!(&msgs[..], [Message::Text(m)] if m.len() == 100));
    // One frame over the limit, refused from its header (a 64-bit length never read further).
    let mut huge = vec![0x81, 0x80 | 127];
    huge.extend_from_slice(&(1u64 << 40).to_be_bytes());
    huge.extend_from_slice(&KEY);
    assert_eq!(decode_all(100, &huge).1.map(|v| v.code), Some(MESSAGE_TOO_BIG));
}

#[test]
fn protocol_errors_are_named_with_1002() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (unmasked(OP_TEXT, b"{}"), "client frames must be masked"),
        ({ let mut f = frame(true, OP_TEXT, b"x"); f[0] |= 0x40; f }, "reserved bits set (no extension was agreed)"),
        ({ let mut f = frame(true, OP_TEXT, b"x"); f[0] = 0x83; f }, "unknown opcode"),
        (frame(true, OP_CONTINUATION, b"x"), "continuation frame without a message to continue"),
        ([frame(false, OP_TEXT, b"a"), frame(true, OP_TEXT, b"b")].concat(), "a new message started inside a fragmented one"),
        (frame(false, OP_PING, b""), "fragmented control frame"),
        (frame(true, OP_PING, &[0; 126]), "control frame longer than 125 bytes"),
        (frame(true, OP_CLOSE, &[3]), "close frame with a one-byte payload"),
        (frame(true, OP_CLOSE, &1005u16.to_be_bytes()), "close code a peer may not send"),
    ];
    for (bytes, reason) in cases {
        let (_, err) = decode_all(1024, &bytes);
        assert_eq!(err, Some(Violation { code: PROTOCOL_ERROR, reason }), "{reason}");
    }
    let mut top = vec![0x82, 0x80 | 127];
    top.extend_from_slice(&u64::MAX.to_be_bytes());
    top.extend_from_slice(&KEY);
    assert_eq!(decode_all(1024, &top).1.map(|v| v.code), Some(PROTOCOL_ERROR));
}

#[test]
fn text_must_be_utf8_across_fragments() {
    let (_, err) = decode_all(1024, &frame(true, OP_TEXT, &[0xff, 0xfe]));
    assert_eq!(err.map(|v| v.code), Some(INVALID_PAYLOAD));
    // A character split between fragments is fine.
    let e = "é".as_bytes();
    let bytes = [frame(false, OP_TEXT, &e[..1]), frame(true, OP_CONTINUATION, &e[1..])].concat();
    assert_eq!(decode_all(1024, &bytes), (vec![text("é")], None));
    // Binary messages are not checked.
    assert_eq!(decode_all(1024, &frame(true, OP_BINARY, &[0xff])).1, None);
}

#[test]
fn a_flood_of_continuations_is_stopped_at_the_limit() {
    // The attack that grew the node to 3 GB: a text frame without FIN, then continuations.
    let mut d = Decoder::new(64 * 1024);
    let mut buf = BytesMut::from(&frame(false, OP_TEXT, b"[")[..]);
    assert_eq!(d.next(&mut buf), Ok(None));
    let chunk = frame(false, OP_CONTINUATION, &[b' '; 6000]);
    let mut sent = 0usize;
    let err = loop {
        buf.extend_from_slice(&chunk);
        sent += chunk.len();
        match d.next(&mut buf) {
            Ok(None) => assert!(sent < 200_000, "never refused"),
            Ok(Some(m)) => panic!("unexpected {m:?}"),
            Err(v) => break v,
        }
    };
    assert_eq!(err.code, MESSAGE_TOO_BIG);
    assert!(sent <= 64 * 1024 + chunk.len(), "refused only after {sent} bytes");
}

#[test]
fn fuzz_body_survives_samples() {
    fuzz_one(b"");
    fuzz_one(&[3]);
    fuzz_one(&[0; 64]);
    fuzz_one(&[0xff; 64]);
    let mut sample = vec![5u8];
    sample.extend(frame(false, OP_TEXT, b"ab"));
    sample.extend(frame(true, OP_CONTINUATION, &[b'c'; 300]));
    fuzz_one(&sample);
}

proptest::proptest! {
    #[test]
    fn fuzz_body_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
        fuzz_one(&data);
    }

    #[test]
    fn any_split_of_valid_frames_gives_the_same_messages(
        parts in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), 1..6),
        cut in 1usize..50,
    ) {
        // One binary message in `parts.len()` fragments, fed `cut` bytes at a time.
        let mut bytes = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let op = if i == 0 { OP_BINARY } else { OP_CONTINUATION };
            bytes.extend(frame(i + 1 == parts.len(), op, p));
        }
        let mut d = Decoder::new(10_000);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for piece in bytes.chunks(cut) {
            buf.extend_from_slice(piece);
            while let Some(m) = d.next(&mut buf).unwrap() {
                got.push(m);
            }
        }
        proptest::prop_assert_eq!(got, vec![Message::Binary(BytesMut::from(&parts.concat()[..]))]);
    }
}
