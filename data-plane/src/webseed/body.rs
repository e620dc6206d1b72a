//! The response body type: slices of a mapped file (and, for multipart responses, the small part
//! headers between them), handed to hyper without copying. Pure.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// A body made of ready `Bytes` chunks; its exact length is known up front.
#[derive(Debug, Default)]
pub struct FileBody {
    chunks: Chunks,
    remaining: u64,
}

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
        FileBody { chunks: Chunks::One(b), remaining }
    }

    /// Several chunks sent in order.
    pub fn chunks(parts: VecDeque<Bytes>) -> Self {
        let remaining = parts.iter().map(|b| b.len() as u64).sum();
        FileBody { chunks: Chunks::Many(parts), remaining }
    }

    /// A short static message (error pages).
    pub fn text(msg: &'static str) -> Self {
        Self::once(Bytes::from_static(msg.as_bytes()))
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let next = match &mut this.chunks {
            Chunks::Empty => None,
            Chunks::One(_) => match std::mem::take(&mut this.chunks) {
                Chunks::One(b) => Some(b),
                _ => None,
            },
            Chunks::Many(q) => q.pop_front(),
        };
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
}
