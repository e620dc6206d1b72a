//! WebSocket frames from a client (RFC 6455 §5), decoded into messages without I/O.
//!
//! The shell reads bytes into a buffer and asks [`Decoder::next`] for the next message; the
//! decoder consumes whole frames only and tells what is wrong with a frame it refuses, as the
//! close code and reason to send. It enforces what the protocol and a tracker's budget demand:
//! - the size limit holds for the *whole message*, fragments together: a frame that would take
//!   the message past it is refused from its header alone (1009), before its payload is read,
//!   so a client can never make the server buffer more than the limit;
//! - every client frame must be masked (§5.1: 1002), reserved bits are zero, opcodes are known,
//!   control frames are unfragmented and at most 125 bytes, a continuation continues something
//!   and a new message never starts inside a fragmented one (1002);
//! - a text message is UTF-8 (1007); a close frame's code is one a peer may send (1002).
//!
//! An unfragmented message is handed out as a slice of the read buffer (no copy); fragments are
//! gathered into one buffer, bounded by the limit.

use bytes::{Buf, BytesMut};

/// Close codes the decoder asks for (RFC 6455 §7.4.1).
pub const PROTOCOL_ERROR: u16 = 1002;
pub const INVALID_PAYLOAD: u16 = 1007;
pub const MESSAGE_TOO_BIG: u16 = 1009;

/// A complete message (or control frame) from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message, checked to be UTF-8.
    Text(BytesMut),
    Binary(BytesMut),
    /// A ping: answer with a pong carrying this payload.
    Ping(BytesMut),
    /// A pong (nothing to do).
    Pong,
    /// The client closes, with its code if it gave one.
    Close(Option<u16>),
}

/// Why the connection must be closed: the code and reason to send in the close frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Violation {
    pub code: u16,
    pub reason: &'static str,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.reason, self.code)
    }
}

const fn violation(code: u16, reason: &'static str) -> Violation {
    Violation { code, reason }
}

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// Longest frame header: 2 bytes, 8 of extended length, 4 of mask.
pub const MAX_HEADER: usize = 14;

/// A message being received in fragments.
struct Partial {
    text: bool,
    data: BytesMut,
}

/// Decodes one connection's frames; keeps the fragments of an unfinished message.
pub struct Decoder {
    max_message: usize,
    partial: Option<Partial>,
}

/// A parsed frame header.
struct Header {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    /// Header length in bytes.
    len: usize,
    payload: usize,
}

impl Decoder {
    /// A decoder accepting messages of at most `max_message` bytes (all fragments together).
    pub fn new(max_message: usize) -> Decoder {
        Decoder { max_message, partial: None }
    }

    /// The largest payload a frame with `opcode` may have now.
    fn room_for(&self, opcode: u8) -> usize {
        match opcode {
            OP_CONTINUATION => self.max_message.saturating_sub(self.partial.as_ref().map_or(0, |p| p.data.len())),
            OP_TEXT | OP_BINARY => self.max_message,
            _ => 125,
        }
    }

    /// The next message in `buf`, consuming the frames it took; `Ok(None)` when `buf` does not
    /// hold a whole frame yet (read more and call again). After an error the connection must be
    /// closed with the violation's code.
    pub fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, Violation> {
        loop {
            let Some(h) = parse_header(buf)? else { return Ok(None) };
            self.check(&h)?;
            if buf.len() < h.len + h.payload {
                return Ok(None);
            }
            buf.advance(h.len);
            let mut payload = buf.split_to(h.payload);
            unmask(&mut payload, h.mask);
            match h.opcode {
                OP_TEXT | OP_BINARY => {
                    let text = h.opcode == OP_TEXT;
                    if h.fin {
                        return finish(text, payload).map(Some);
                    }
                    self.partial = Some(Partial { text, data: payload });
                }
                OP_CONTINUATION => {
                    // `check` made sure a message is in progress.
                    let Some(mut partial) = self.partial.take() else {
                        return Err(violation(PROTOCOL_ERROR, "continuation frame without a message to continue"));
                    };
                    partial.data.extend_from_slice(&payload);
                    if h.fin {
                        return finish(partial.text, partial.data).map(Some);
                    }
                    self.partial = Some(partial);
                }
                OP_PING => return Ok(Some(Message::Ping(payload))),
                OP_PONG => {}
                _ => return close_message(&payload).map(Some),
            }
        }
    }

    /// Refuses a frame from its header alone.
    fn check(&self, h: &Header) -> Result<(), Violation> {
        match h.opcode {
            OP_TEXT | OP_BINARY if self.partial.is_some() => {
                Err(violation(PROTOCOL_ERROR, "a new message started inside a fragmented one"))
            }
            OP_CONTINUATION if self.partial.is_none() => {
                Err(violation(PROTOCOL_ERROR, "continuation frame without a message to continue"))
            }
            OP_CLOSE | OP_PING | OP_PONG if !h.fin => Err(violation(PROTOCOL_ERROR, "fragmented control frame")),
            OP_CLOSE | OP_PING | OP_PONG if h.payload > 125 => {
                Err(violation(PROTOCOL_ERROR, "control frame longer than 125 bytes"))
            }
            _ if h.payload > self.room_for(h.opcode) => Err(violation(MESSAGE_TOO_BIG, "message too big")),
            _ => Ok(()),
        }
    }
}

/// Parses the header at the start of `buf`; `Ok(None)` if it is not all there yet.
fn parse_header(buf: &[u8]) -> Result<Option<Header>, Violation> {
    let [b0, b1, rest @ ..] = buf else { return Ok(None) };
    if b0 & 0x70 != 0 {
        return Err(violation(PROTOCOL_ERROR, "reserved bits set (no extension was agreed)"));
    }
    let opcode = b0 & 0x0F;
    if !matches!(opcode, OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG) {
        return Err(violation(PROTOCOL_ERROR, "unknown opcode"));
    }
    if b1 & 0x80 == 0 {
        return Err(violation(PROTOCOL_ERROR, "client frames must be masked"));
    }
    let (extra, payload) = match b1 & 0x7F {
        126 => {
            let Some(n) = rest.get(..2) else { return Ok(None) };
            (2, usize::from(u16::from_be_bytes([n[0], n[1]])))
        }
        127 => {
            let Some(&[a, b, c, d, e, f, g, h]) = rest.get(..8) else { return Ok(None) };
            let n = u64::from_be_bytes([a, b, c, d, e, f, g, h]);
            if n >> 63 != 0 {
                return Err(violation(PROTOCOL_ERROR, "payload length has its top bit set"));
            }
            (8, usize::try_from(n).unwrap_or(usize::MAX))
        }
        n => (0, usize::from(n)),
    };
    let Some(mask) = rest.get(extra..extra + 4) else { return Ok(None) };
    let mask = [mask[0], mask[1], mask[2], mask[3]];
    Ok(Some(Header { fin: b0 & 0x80 != 0, opcode, mask, len: 2 + extra + 4, payload }))
}

/// XORs the payload with the masking key (§5.3), eight bytes at a time.
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let key = u64::from_ne_bytes([mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3]]);
    let mut chunks = payload.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ key).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

fn finish(text: bool, data: BytesMut) -> Result<Message, Violation> {
    if !text {
        return Ok(Message::Binary(data));
    }
    if simdutf8::basic::from_utf8(&data).is_err() {
        return Err(violation(INVALID_PAYLOAD, "text message is not UTF-8"));
    }
    Ok(Message::Text(data))
}

/// A close frame's payload: empty, or a code a peer may send and a UTF-8 reason.
fn close_message(payload: &[u8]) -> Result<Message, Violation> {
    match payload {
        [] => Ok(Message::Close(None)),
        [_] => Err(violation(PROTOCOL_ERROR, "close frame with a one-byte payload")),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            let allowed = matches!(code, 1000..=1003 | 1007..=1014) || (3000..=4999).contains(&code);
            if !allowed {
                return Err(violation(PROTOCOL_ERROR, "close code a peer may not send"));
            }
            if simdutf8::basic::from_utf8(reason).is_err() {
                return Err(violation(INVALID_PAYLOAD, "close reason is not UTF-8"));
            }
            Ok(Message::Close(Some(code)))
        }
    }
}

/// Feeds arbitrary bytes, in arbitrary read sizes, through a decoder; the body of the fuzz
/// target and of a property test. Checks the decoder's promises: it never buffers past the
/// limit, and what it hands out respects it.
pub fn fuzz_one(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else { return };
    let max = 16 + usize::from(first) * 8;
    let mut decoder = Decoder::new(max);
    let mut buf = BytesMut::new();
    let mut input = rest;
    let step = usize::from(first % 7) + 1;
    while !input.is_empty() {
        let n = step.min(input.len());
        buf.extend_from_slice(&input[..n]);
        input = &input[n..];
        loop {
            match decoder.next(&mut buf) {
                Ok(Some(Message::Text(m) | Message::Binary(m))) => assert!(m.len() <= max),
                Ok(Some(Message::Ping(p))) => assert!(p.len() <= 125),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(decoder.partial.as_ref().is_none_or(|p| p.data.len() <= max));
        assert!(buf.len() <= max + MAX_HEADER + step, "buffered {} with a limit of {max}", buf.len());
    }
}

#[cfg(test)]
mod tests;
