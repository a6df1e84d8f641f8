//! Response bodies: whole buffers for API replies, streamed files for registry blobs; and
//! how long a request body may take.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, ReadBuf};

/// How long a request body may take to arrive (the registry's uploads instead bound the
/// gap between two pieces of a body, since an image layer may take long as a whole).
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);

pub type Body = BoxBody<Bytes, io::Error>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// Streams `len` bytes of an open file (already positioned) in 256 KiB frames.
pub fn file(file: tokio::fs::File, len: u64) -> Body {
    FileBody { file, remaining: len }.boxed()
}

struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
}

const CHUNK: u64 = 256 << 10;

impl HttpBody for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = self.remaining.min(CHUNK) as usize;
        let mut buf = BytesMut::zeroed(want);
        let mut read = ReadBuf::new(&mut buf);
        match Pin::new(&mut self.file).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = read.filled().len();
                if n == 0 {
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "blob file is shorter than recorded",
                    ))));
                }
                self.remaining -= n as u64;
                buf.truncate(n);
                Poll::Ready(Some(Ok(Frame::data(buf.freeze()))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
