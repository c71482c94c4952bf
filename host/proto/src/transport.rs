//! The byte streams under a connection: plain TCP, or TLS over TCP, and
//! their reading and writing halves. Plain TCP splits without a lock; a
//! TLS stream is split with `tokio::io::split`. A TLS peer that closes
//! without close_notify reads as the end of the stream, as on TCP.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// A TLS stream over TCP, client or server side.
pub type TlsTcpStream = tokio_rustls::TlsStream<TcpStream>;

/// A connected stream.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsTcpStream>),
}

impl Stream {
    /// The two halves.
    pub fn split(self) -> (ReadStream, WriteStream) {
        match self {
            Stream::Plain(stream) => {
                let (read, write) = stream.into_split();
                (ReadStream::Plain(read), WriteStream::Plain(write))
            }
            Stream::Tls(stream) => {
                let (read, write) = tokio::io::split(*stream);
                (ReadStream::Tls(read), WriteStream::Tls(write))
            }
        }
    }
}

/// The reading half of a [`Stream`].
#[derive(Debug)]
pub enum ReadStream {
    /// Plain TCP.
    Plain(OwnedReadHalf),
    /// TLS over TCP.
    Tls(tokio::io::ReadHalf<TlsTcpStream>),
}

/// The writing half of a [`Stream`].
#[derive(Debug)]
pub enum WriteStream {
    /// Plain TCP.
    Plain(OwnedWriteHalf),
    /// TLS over TCP.
    Tls(tokio::io::WriteHalf<TlsTcpStream>),
}

impl AsyncRead for ReadStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ReadStream::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            // A peer that closes without a TLS close_notify (a process
            // that exits, a dropped connection) reads as the end of the
            // stream, as on plain TCP: the framing above still refuses a
            // stream cut inside a frame, and every message is whole.
            ReadStream::Tls(stream) => match Pin::new(stream).poll_read(cx, buf) {
                Poll::Ready(Err(error)) if error.kind() == io::ErrorKind::UnexpectedEof => {
                    Poll::Ready(Ok(()))
                }
                other => other,
            },
        }
    }
}

impl AsyncWrite for WriteStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteStream::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            WriteStream::Tls(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteStream::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            WriteStream::Tls(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            WriteStream::Plain(stream) => stream.is_write_vectored(),
            WriteStream::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteStream::Plain(stream) => Pin::new(stream).poll_flush(cx),
            WriteStream::Tls(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteStream::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            WriteStream::Tls(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}
