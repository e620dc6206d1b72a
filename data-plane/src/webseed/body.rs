//! The response body type: slices of a mapped file (and, for multipart responses, the small part
//! headers between them), handed to hyper without copying. For transports that copy the bytes
//! in user space (TLS, HTTP/2) it can check, chunk by chunk, that the file still holds them. No
//! I/O but that check (an `fstat` through `sendfile::still_in_file`).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// A body made of ready `Bytes` chunks; its exact length is known up front.
#[derive(Debug, Default)]
pub struct FileBody {
    chunks: Chunks,
    remaining: u64,
    /// Hand out mapped bytes in pieces of at most [`CHECKED_CHUNK`], each after checking that
    /// the file still holds it.
    checked: bool,
}

/// The largest piece a checked body hands out at once.
pub const CHECKED_CHUNK: usize = 256 * 1024;

#[derive(Debug, Default)]
enum Chunks {
    #[default]
    Empty,
    One(Bytes),
    Many(VecDeque<Bytes>),
}

impl FileBody {
    /// No body (HEAD, 204, 304).
    pub fn empty() -> Self {
        Self::default()
    }

    /// One chunk: a slice of a mapped file or a short message.
    pub fn once(b: Bytes) -> Self {
        let remaining = b.len() as u64;
        if b.is_empty() {
            return Self::empty();
        }
        FileBody { chunks: Chunks::One(b), remaining, checked: false }
    }

    /// Several chunks sent in order.
    pub fn chunks(parts: VecDeque<Bytes>) -> Self {
        let remaining = parts.iter().map(|b| b.len() as u64).sum();
        FileBody { chunks: Chunks::Many(parts), remaining, checked: false }
    }

    /// Checks each piece of mapped bytes against the file before handing it out (for transports
    /// that copy it in user space, where a page the file lost reads as zeros): a file that shrank
    /// ends the body with an error instead, and its catalog entry is revalidated at once.
    pub fn check_before_copy(&mut self) {
        self.checked = true;
    }

    /// The chunks, in order, for a transport that sends them itself (the io_uring workers).
    pub fn into_chunks(self) -> VecDeque<Bytes> {
        match self.chunks {
            Chunks::Empty => VecDeque::new(),
            Chunks::One(b) => VecDeque::from([b]),
            Chunks::Many(q) => q,
        }
    }

    /// A short static message (error pages).
    pub fn text(msg: &'static str) -> Self {
        Self::once(Bytes::from_static(msg.as_bytes()))
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        let next = match &mut this.chunks {
            Chunks::Empty => None,
            Chunks::One(_) => match std::mem::take(&mut this.chunks) {
                Chunks::One(mut b) if this.checked && b.len() > CHECKED_CHUNK => {
                    let head = b.split_to(CHECKED_CHUNK);
                    this.chunks = Chunks::One(b);
                    Some(head)
                }
                Chunks::One(b) => Some(b),
                _ => None,
            },
            Chunks::Many(q) => match q.pop_front() {
                Some(mut b) if this.checked && b.len() > CHECKED_CHUNK => {
                    let head = b.split_to(CHECKED_CHUNK);
                    q.push_front(b);
                    Some(head)
                }
                other => other,
            },
        };
        if let Some(b) = &next {
            if this.checked {
                if let Err(e) = crate::sendfile::still_in_file(b) {
                    this.chunks = Chunks::Empty;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
        Poll::Ready(next.map(|b| {
            this.remaining -= b.len() as u64;
            Ok(Frame::data(b))
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn collects_in_order_with_exact_size() {
        let body = FileBody::chunks(VecDeque::from([Bytes::from_static(b"ab"), Bytes::from_static(b"cde")]));
        assert_eq!(body.size_hint().exact(), Some(5));
        assert_eq!(&body.collect().await.unwrap().to_bytes()[..], b"abcde");
        let once = FileBody::once(Bytes::from_static(b"xyz"));
        assert_eq!(once.size_hint().exact(), Some(3));
        assert_eq!(&once.collect().await.unwrap().to_bytes()[..], b"xyz");
        let empty = FileBody::empty();
        assert!(empty.is_end_stream());
        assert_eq!(empty.size_hint().exact(), Some(0));
    }

    #[tokio::test]
    async fn a_checked_body_comes_in_bounded_pieces_with_the_same_bytes() {
        let data: Vec<u8> = (0..(CHECKED_CHUNK * 2 + 100)).map(|i| (i % 251) as u8).collect();
        let mut body = FileBody::chunks(VecDeque::from([Bytes::from_static(b"--head--"), Bytes::from(data.clone())]));
        body.check_before_copy();
        let mut sizes = Vec::new();
        let mut got = Vec::new();
        while let Some(frame) = body.frame().await {
            let b = frame.unwrap().into_data().unwrap();
            sizes.push(b.len());
            got.extend_from_slice(&b);
        }
        assert_eq!(sizes, vec![8, CHECKED_CHUNK, CHECKED_CHUNK, 100]);
        assert_eq!(&got[8..], &data[..]);
    }
}
