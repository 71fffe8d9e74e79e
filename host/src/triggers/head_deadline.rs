//! The deadlines of a connection hyper serves: a request's head must be
//! complete within `HEAD_TIMEOUT` of its first byte, and a connection
//! waiting for its next request is closed after `IDLE_TIMEOUT`.
//!
//! hyper's own `header_read_timeout` starts as soon as it waits for a head,
//! idle keep-alive included, so it closes every connection idle for 10 s —
//! and a client that reuses one just then loses its request. Here the clock
//! starts at the head's first byte instead: the head ends at its first blank
//! line (`\r\n\r\n`), and the connection is idle again once the response
//! starts (hyper writes nothing before it has read the head and body).

use std::{
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::{Instant, Sleep},
};

/// How long a request's head may take from its first byte.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a kept-alive connection may wait for its next request (as
/// nginx's `keepalive_timeout`; a stream's heartbeats keep it busy).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(75);

const BLANK_LINE: &[u8] = b"\r\n\r\n";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Waiting for a request; `matched` bytes of the blank line seen.
    Idle,
    Head {
        matched: usize,
    },
    /// The head is in: the body and the handler run without a deadline here.
    Body,
}

pub struct HeadDeadline<IO> {
    io: IO,
    phase: Phase,
    deadline: Pin<Box<Sleep>>,
}

impl<IO> HeadDeadline<IO> {
    pub fn new(io: IO) -> Self {
        Self { io, phase: Phase::Idle, deadline: Box::pin(tokio::time::sleep(IDLE_TIMEOUT)) }
    }

    /// Follows the bytes just read: the first byte of a request starts its
    /// head's clock, its blank line stops it.
    fn saw(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.phase = match self.phase {
                Phase::Idle => {
                    self.deadline.as_mut().reset(Instant::now() + HEAD_TIMEOUT);
                    Phase::Head { matched: usize::from(byte == BLANK_LINE[0]) }
                }
                Phase::Head { matched } if byte == BLANK_LINE[matched] && matched + 1 == BLANK_LINE.len() => {
                    Phase::Body
                }
                Phase::Head { matched } if byte == BLANK_LINE[matched] => Phase::Head { matched: matched + 1 },
                Phase::Head { .. } => Phase::Head { matched: usize::from(byte == BLANK_LINE[0]) },
                Phase::Body => return,
            };
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for HeadDeadline<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let filled = buf.filled()[before..].to_vec();
                self.saw(&filled);
                Poll::Ready(Ok(()))
            }
            Poll::Pending if self.phase != Phase::Body && self.deadline.as_mut().poll(cx).is_ready() => {
                let what = if self.phase == Phase::Idle { "idle" } else { "sending its request head" };
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, format!("the client was too long {what}"))))
            }
            other => other,
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for HeadDeadline<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bytes: &[u8]) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write(cx, bytes);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            // A response is going out: the connection waits for the next request.
            self.phase = Phase::Idle;
            self.deadline.as_mut().reset(Instant::now() + IDLE_TIMEOUT);
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase_after(chunks: &[&[u8]]) -> Phase {
        let mut guarded = HeadDeadline::new(tokio::io::empty());
        for chunk in chunks {
            guarded.saw(chunk);
        }
        guarded.phase
    }

    #[tokio::test]
    async fn the_head_ends_at_its_first_blank_line_even_split_across_reads() {
        assert_eq!(phase_after(&[b"GET / HTTP/1.1\r\nHost: x\r\n"]), Phase::Head { matched: 2 });
        assert_eq!(phase_after(&[b"GET / HTTP/1.1\r\nHost: x\r", b"\n\r", b"\n"]), Phase::Body);
        assert_eq!(phase_after(&[b"GET / HTTP/1.1\r\n\r\nbody\r\n\r\n"]), Phase::Body);
        assert_eq!(phase_after(&[b"\r\r\n\r\n"]), Phase::Body);
        assert_eq!(phase_after(&[]), Phase::Idle);
    }
}
