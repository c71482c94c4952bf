//! Length-prefixed frames over any tokio byte stream: [`FrameReader`] and
//! [`FrameWriter`].
//!
//! A frame is a `u32` little-endian payload length followed by that many
//! payload bytes. Frames do not know what they carry: control messages
//! (encoded by [`codec`](crate::codec)) and bulk task results travel the
//! same way, and a payload is handed out as [`Bytes`] without re-encoding.
//!
//! Both sides refuse a payload longer than their `frame_bytes_max`
//! ([`DEFAULT_FRAME_BYTES_MAX`] unless set). The reader checks the announced
//! length before it allocates anything, so a peer announcing 4 GiB costs
//! nothing.
//!
//! Reading is buffered: the reader asks the stream for a chunk at a time and
//! cuts small frames out of that one buffer, so a burst of small frames costs
//! a few system calls. A frame too large for the buffer is read into one
//! allocation of exactly its size. Writing small frames copies them into a
//! write buffer ([`FrameWriter::queue_frame`] batches many of them into one
//! write); a large payload is written straight from the caller's slices with
//! a vectored write.

mod into;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::io::{self, IoSlice};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Room a frame leaves beyond the largest module or result it carries, for
/// the message around it (1 MiB).
pub const FRAME_ENVELOPE_BYTES: usize = 1024 * 1024;

/// Default `frame_bytes_max`: the longest frame payload, in bytes, that a
/// [`FrameReader`] accepts and a [`FrameWriter`] sends: 65 MiB, so that the
/// largest module (`module_bytes_max`, 64 MiB) or result
/// (`result_bytes_max`, 64 MiB) the runtime accepts fits with its message.
pub const DEFAULT_FRAME_BYTES_MAX: usize = 64 * 1024 * 1024 + FRAME_ENVELOPE_BYTES;

/// Bytes of the length prefix in front of every payload.
pub const FRAME_HEADER_BYTES: usize = 4;

/// The reader asks the stream for at least this many bytes at a time. Frames
/// up to this size (prefix included) are cut out of the shared read buffer;
/// larger ones get an allocation of their own.
const READ_CHUNK_BYTES: usize = 32 * 1024;

/// Payloads up to this size are copied into the write buffer; larger ones are
/// written from the caller's slices without a copy.
const WRITE_COPY_BYTES_MAX: usize = 16 * 1024;

/// A write buffer that grew past this (a large message was queued) is
/// released after a flush instead of being kept for the stream's lifetime.
const WRITE_BUFFER_KEEP_BYTES: usize = 256 * 1024;

/// A frame could not be read or written.
///
/// After any of these errors the stream is out of step (or gone): drop it.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The payload is longer than the reader's or writer's limit. On the read
    /// side this is detected from the length prefix alone, before anything
    /// is allocated.
    #[error("frame of {len} bytes is over the frame size limit of {limit} bytes (frame_bytes_max)")]
    TooLarge {
        /// The payload length announced (read side) or asked for (write side).
        len: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The stream ended in the middle of a frame.
    #[error(
        "connection closed inside a frame: got {got} of its {expected} bytes \
         (length prefix included)"
    )]
    Truncated {
        /// Bytes needed to finish what was being read: the 4-byte length
        /// prefix, or the prefix plus the payload once the prefix is known.
        expected: usize,
        /// Bytes of it that arrived before the end of the stream.
        got: usize,
    },
    /// The underlying stream failed.
    #[error("frame I/O failed: {0}")]
    Io(#[from] io::Error),
}

/// Reads length-prefixed frames from an [`AsyncRead`].
///
/// A frame larger than the read chunk (32 KiB) whose length is within the
/// limit gets its whole allocation as soon as its prefix arrives; its pages
/// are filled as the bytes come in. The limit is what bounds it.
///
/// [`read_frame`](Self::read_frame) is cancel-safe: every byte taken from the
/// stream is kept in the reader, so dropping the future (in a
/// `tokio::select!`, say) and calling it again loses nothing.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    /// Bytes read from the stream and not yet handed out as frames.
    buffer: BytesMut,
    /// A frame too large for `buffer`, being read into its own allocation.
    large: Option<LargeFrame>,
    frame_bytes_max: usize,
}

/// A frame being read into an allocation of exactly its size.
#[derive(Debug)]
struct LargeFrame {
    payload: BytesMut,
    len: usize,
}

impl<R> FrameReader<R> {
    /// A reader with the default limit, [`DEFAULT_FRAME_BYTES_MAX`].
    pub fn new(inner: R) -> Self {
        Self::with_limit(inner, DEFAULT_FRAME_BYTES_MAX)
    }

    /// A reader that refuses payloads longer than `frame_bytes_max` bytes.
    pub fn with_limit(inner: R, frame_bytes_max: usize) -> Self {
        Self {
            inner,
            buffer: BytesMut::new(),
            large: None,
            frame_bytes_max,
        }
    }

    /// The longest payload this reader accepts.
    pub fn frame_bytes_max(&self) -> usize {
        self.frame_bytes_max
    }

    /// Changes the longest payload this reader accepts, from the next frame on.
    pub fn set_frame_bytes_max(&mut self, frame_bytes_max: usize) {
        self.frame_bytes_max = frame_bytes_max;
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The underlying stream. Reading from it directly breaks the framing.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The underlying stream. Bytes already buffered by the reader are lost.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// The next frame's payload, or `None` if the stream ended cleanly
    /// between two frames.
    pub async fn read_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        self.read_frame_with_limit(self.frame_bytes_max).await
    }

    /// Like [`read_frame`](Self::read_frame), but refuses a payload longer
    /// than `limit` (or than the reader's own limit, if that is smaller).
    /// The handshake uses this to keep the first frame small.
    pub async fn read_frame_with_limit(
        &mut self,
        limit: usize,
    ) -> Result<Option<Bytes>, FrameError> {
        if self.large.is_some() {
            return self.finish_large_frame().await.map(Some);
        }
        let limit = limit.min(self.frame_bytes_max);
        let Some(len) = self.next_header().await? else {
            return Ok(None);
        };
        if len > limit {
            return Err(FrameError::TooLarge { len, limit });
        }
        let frame_bytes = FRAME_HEADER_BYTES + len;

        if frame_bytes > READ_CHUNK_BYTES && self.buffer.len() < frame_bytes {
            // Everything buffered belongs to this frame: move it into the
            // frame's own allocation and read the rest straight into it.
            self.buffer.advance(FRAME_HEADER_BYTES);
            let mut payload = BytesMut::with_capacity(len);
            payload.extend_from_slice(&self.buffer);
            self.buffer.clear();
            self.large = Some(LargeFrame { payload, len });
            return self.finish_large_frame().await.map(Some);
        }

        while self.buffer.len() < frame_bytes {
            if self.fill_buffer(frame_bytes).await? == 0 {
                return Err(FrameError::Truncated {
                    expected: frame_bytes,
                    got: self.buffer.len(),
                });
            }
        }
        self.buffer.advance(FRAME_HEADER_BYTES);
        Ok(Some(self.buffer.split_to(len).freeze()))
    }

    /// Reads until the next frame's header is buffered and returns the
    /// payload length it announces (the header stays buffered), or `None`
    /// at a clean end of the stream between two frames.
    async fn next_header(&mut self) -> Result<Option<usize>, FrameError> {
        while self.buffer.len() < FRAME_HEADER_BYTES {
            if self.fill_buffer(FRAME_HEADER_BYTES).await? == 0 {
                if self.buffer.is_empty() {
                    return Ok(None);
                }
                return Err(FrameError::Truncated {
                    expected: FRAME_HEADER_BYTES,
                    got: self.buffer.len(),
                });
            }
        }
        let header = [
            self.buffer[0],
            self.buffer[1],
            self.buffer[2],
            self.buffer[3],
        ];
        Ok(Some(u32::from_le_bytes(header) as usize))
    }

    /// Reads from the stream into the shared buffer, making room for at
    /// least `wanted_total` buffered bytes and at least one chunk. Returns the
    /// number of bytes read (0 at the end of the stream).
    async fn fill_buffer(&mut self, wanted_total: usize) -> io::Result<usize> {
        let missing = wanted_total.saturating_sub(self.buffer.len());
        self.buffer.reserve(missing.max(READ_CHUNK_BYTES));
        self.inner.read_buf(&mut self.buffer).await
    }

    /// Reads the rest of the frame in `self.large`, never past its end.
    async fn finish_large_frame(&mut self) -> Result<Bytes, FrameError> {
        let Self { inner, large, .. } = self;
        let Some(frame) = large.as_mut() else {
            return Err(FrameError::Io(io::Error::other(
                "frame reader has no large frame in progress",
            )));
        };
        while frame.payload.len() < frame.len {
            let remaining = frame.len - frame.payload.len();
            let read = inner
                .read_buf(&mut (&mut frame.payload).limit(remaining))
                .await?;
            if read == 0 {
                let error = FrameError::Truncated {
                    expected: FRAME_HEADER_BYTES + frame.len,
                    got: FRAME_HEADER_BYTES + frame.payload.len(),
                };
                *large = None;
                return Err(error);
            }
        }
        let payload = large.take().map(|frame| frame.payload.freeze());
        Ok(payload.unwrap_or_default())
    }
}

/// Writes length-prefixed frames to an [`AsyncWrite`].
///
/// The write methods are not cancel-safe: dropping one of their futures can
/// leave half a frame on the stream, after which the stream must be dropped.
#[derive(Debug)]
pub struct FrameWriter<W> {
    inner: W,
    /// Frames queued and not yet written, prefixes included.
    buffer: Vec<u8>,
    frame_bytes_max: usize,
}

impl<W> FrameWriter<W> {
    /// A writer with the default limit, [`DEFAULT_FRAME_BYTES_MAX`].
    pub fn new(inner: W) -> Self {
        Self::with_limit(inner, DEFAULT_FRAME_BYTES_MAX)
    }

    /// A writer that refuses payloads longer than `frame_bytes_max` bytes
    /// (and never more than `u32::MAX`, the most a prefix can say).
    pub fn with_limit(inner: W, frame_bytes_max: usize) -> Self {
        Self {
            inner,
            buffer: Vec::new(),
            frame_bytes_max,
        }
    }

    /// The longest payload this writer sends.
    pub fn frame_bytes_max(&self) -> usize {
        self.frame_bytes_max
    }

    /// Changes the longest payload this writer sends.
    pub fn set_frame_bytes_max(&mut self, frame_bytes_max: usize) {
        self.frame_bytes_max = frame_bytes_max;
    }

    /// Bytes queued by [`queue_frame`](Self::queue_frame) and not yet
    /// flushed (prefixes included). Flush before this grows too large.
    pub fn queued_bytes(&self) -> usize {
        self.buffer.len()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The underlying stream. Writing to it directly breaks the framing.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The underlying stream. Queued frames that were not flushed are lost.
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// Queues one frame to be written by the next [`flush`](Self::flush)
    /// (or the next `write_frame*`). Meant for small frames: the payload is
    /// copied into the write buffer.
    pub fn queue_frame(&mut self, payload: &[u8]) -> Result<(), FrameError> {
        self.queue_frame_parts(&[payload])
    }

    /// Queues one frame whose payload is the concatenation of `parts`.
    pub fn queue_frame_parts(&mut self, parts: &[&[u8]]) -> Result<(), FrameError> {
        let len = self.check_len(total_len(parts))?;
        self.buffer.reserve(FRAME_HEADER_BYTES + len as usize);
        self.buffer.extend_from_slice(&len.to_le_bytes());
        for part in parts {
            self.buffer.extend_from_slice(part);
        }
        Ok(())
    }

    /// Queues one frame whose payload `fill` appends to the buffer it is
    /// given (an encoder writing straight into the write buffer, with no
    /// intermediate copy). If `fill` fails or the payload is over the limit,
    /// nothing is queued. `fill` must only append.
    pub(crate) fn queue_frame_with<E: From<FrameError>>(
        &mut self,
        fill: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let start = self.buffer.len();
        let payload_start = start + FRAME_HEADER_BYTES;
        self.buffer.extend_from_slice(&[0; FRAME_HEADER_BYTES]);
        let filled = fill(&mut self.buffer);
        let checked = filled.and_then(|()| {
            let len = self.buffer.len().saturating_sub(payload_start);
            self.check_len(len).map_err(E::from)
        });
        match checked {
            Ok(len) if self.buffer.len() >= payload_start => {
                self.buffer[start..payload_start].copy_from_slice(&len.to_le_bytes());
                Ok(())
            }
            Ok(_) => {
                self.buffer.truncate(start);
                Err(E::from(FrameError::Io(io::Error::other(
                    "frame payload encoder removed bytes it did not write",
                ))))
            }
            Err(error) => {
                self.buffer.truncate(start);
                Err(error)
            }
        }
    }

    /// The payload length as a prefix, if it is within the limit.
    fn check_len(&self, len: usize) -> Result<u32, FrameError> {
        let limit = self.frame_bytes_max.min(u32::MAX as usize);
        match u32::try_from(len) {
            Ok(prefix) if len <= limit => Ok(prefix),
            _ => Err(FrameError::TooLarge { len, limit }),
        }
    }

    /// Empties the write buffer after a write, releasing it if a large
    /// message made it grow.
    fn reset_buffer(&mut self) {
        self.buffer.clear();
        if self.buffer.capacity() > WRITE_BUFFER_KEEP_BYTES {
            self.buffer = Vec::new();
        }
    }
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// Writes one frame (after any queued ones) and flushes.
    pub async fn write_frame(&mut self, payload: &[u8]) -> Result<(), FrameError> {
        self.write_frame_parts(&[payload]).await
    }

    /// Writes one frame whose payload is the concatenation of `parts` (after
    /// any queued frames) and flushes. Large parts are written from where
    /// they are, not copied together first.
    pub async fn write_frame_parts(&mut self, parts: &[&[u8]]) -> Result<(), FrameError> {
        let len = total_len(parts);
        if len <= WRITE_COPY_BYTES_MAX {
            self.queue_frame_parts(parts)?;
            return self.flush().await;
        }
        let prefix = self.check_len(len)?;
        self.buffer.extend_from_slice(&prefix.to_le_bytes());
        let mut slices: Vec<IoSlice<'_>> = std::iter::once(self.buffer.as_slice())
            .chain(parts.iter().copied())
            .map(IoSlice::new)
            .collect();
        let written = write_all_vectored(&mut self.inner, &mut slices).await;
        drop(slices);
        self.reset_buffer();
        written?;
        self.inner.flush().await?;
        Ok(())
    }

    /// Writes every queued frame and flushes the stream.
    pub async fn flush(&mut self) -> Result<(), FrameError> {
        if !self.buffer.is_empty() {
            let written = self.inner.write_all(&self.buffer).await;
            self.reset_buffer();
            written?;
        }
        self.inner.flush().await?;
        Ok(())
    }

    /// Writes every queued frame, then shuts the stream down for writing
    /// (the peer's reader sees a clean end of stream).
    pub async fn shutdown(&mut self) -> Result<(), FrameError> {
        self.flush().await?;
        self.inner.shutdown().await?;
        Ok(())
    }
}

/// The summed length of `parts`, saturating (a sum past `usize::MAX` is over
/// any limit anyway).
fn total_len(parts: &[&[u8]]) -> usize {
    parts
        .iter()
        .fold(0usize, |total, part| total.saturating_add(part.len()))
}

/// Writes every byte of `slices`, with vectored writes where the stream
/// supports them.
async fn write_all_vectored<W: AsyncWrite + Unpin>(
    writer: &mut W,
    mut slices: &mut [IoSlice<'_>],
) -> io::Result<()> {
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        let written = writer.write_vectored(slices).await?;
        if written == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "the stream accepted no more bytes",
            ));
        }
        IoSlice::advance_slices(&mut slices, written);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncWriteExt, duplex};

    /// A frame reader over a fixed byte string.
    fn reader_of(bytes: &[u8]) -> FrameReader<&[u8]> {
        FrameReader::new(bytes)
    }

    fn encode_frame(payload: &[u8]) -> Vec<u8> {
        let mut out = (payload.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(payload);
        out
    }

    #[tokio::test]
    async fn empty_and_small_frames_round_trip() {
        let (client, server) = duplex(1024);
        let mut writer = FrameWriter::new(client);
        let mut reader = FrameReader::new(server);
        writer.write_frame(b"").await.expect("write empty");
        writer.write_frame(b"hello").await.expect("write small");
        writer
            .write_frame_parts(&[b"he", b"", b"llo"])
            .await
            .expect("write parts");
        writer.shutdown().await.expect("shutdown");
        assert_eq!(reader.read_frame().await.expect("read"), Some(Bytes::new()));
        assert_eq!(
            reader.read_frame().await.expect("read"),
            Some(Bytes::from_static(b"hello"))
        );
        assert_eq!(
            reader.read_frame().await.expect("read"),
            Some(Bytes::from_static(b"hello"))
        );
        assert_eq!(reader.read_frame().await.expect("read at end"), None);
        assert_eq!(reader.read_frame().await.expect("read after end"), None);
    }

    #[tokio::test]
    async fn many_small_queued_frames_round_trip_in_one_write() {
        let mut writer = FrameWriter::new(Vec::new());
        for index in 0u32..10_000 {
            writer
                .queue_frame(&index.to_le_bytes())
                .expect("queue a small frame");
        }
        assert_eq!(writer.queued_bytes(), 10_000 * 8);
        assert!(writer.get_ref().is_empty(), "nothing written before flush");
        writer.flush().await.expect("flush");
        assert_eq!(writer.queued_bytes(), 0);
        let bytes = writer.into_inner();
        assert_eq!(bytes.len(), 10_000 * 8);

        let mut reader = reader_of(&bytes);
        for index in 0u32..10_000 {
            let frame = reader.read_frame().await.expect("read").expect("a frame");
            assert_eq!(frame.as_ref(), index.to_le_bytes());
        }
        assert_eq!(reader.read_frame().await.expect("read at end"), None);
    }

    #[tokio::test]
    async fn small_frames_over_a_stream_are_read_in_chunks() {
        // A stream that counts reads: 1000 frames of 8 bytes must not cost
        // 1000 reads.
        struct CountingReader<'a> {
            bytes: &'a [u8],
            reads: usize,
        }
        impl AsyncRead for CountingReader<'_> {
            fn poll_read(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<io::Result<()>> {
                self.reads += 1;
                std::pin::Pin::new(&mut self.bytes).poll_read(cx, buf)
            }
        }
        let mut bytes = Vec::new();
        for index in 0u32..1000 {
            bytes.extend_from_slice(&encode_frame(&index.to_le_bytes()));
        }
        let mut reader = FrameReader::new(CountingReader {
            bytes: &bytes,
            reads: 0,
        });
        let mut frames = 0;
        while let Some(frame) = reader.read_frame().await.expect("read") {
            assert_eq!(frame.len(), 4);
            frames += 1;
        }
        assert_eq!(frames, 1000);
        assert!(
            reader.get_ref().reads <= 3,
            "{} reads",
            reader.get_ref().reads
        );
    }

    #[tokio::test]
    async fn a_frame_of_several_mib_round_trips() {
        let payload: Vec<u8> = (0..6 * 1024 * 1024 + 3)
            .map(|index: usize| (index % 251) as u8)
            .collect();
        let (client, server) = duplex(64 * 1024);
        let mut writer = FrameWriter::new(client);
        let mut reader = FrameReader::new(server);
        let (head, tail) = payload.split_at(1_000_000);
        let write = async {
            writer.queue_frame(b"before").expect("queue");
            writer.write_frame(&payload).await.expect("write large");
            writer
                .write_frame_parts(&[head, tail])
                .await
                .expect("write large parts");
            writer.write_frame(b"after").await.expect("write small");
            writer.shutdown().await.expect("shutdown");
        };
        let read = async {
            let mut frames = Vec::new();
            while let Some(frame) = reader.read_frame().await.expect("read") {
                frames.push(frame);
            }
            frames
        };
        let ((), frames) = tokio::join!(write, read);
        assert_eq!(frames.len(), 4);
        assert_eq!(frames[0].as_ref(), b"before");
        assert!(frames[1] == payload, "large frame differs");
        assert!(frames[2] == payload, "large frame from parts differs");
        assert_eq!(frames[3].as_ref(), b"after");
    }

    #[tokio::test]
    async fn a_large_frame_gets_one_allocation_of_its_size() {
        let payload = vec![7u8; 100_000];
        let bytes = encode_frame(&payload);
        let mut reader = reader_of(&bytes);
        let frame = reader.read_frame().await.expect("read").expect("a frame");
        assert_eq!(frame.len(), payload.len());
        let frame = frame.try_into_mut().expect("the reader keeps no reference");
        assert_eq!(frame.capacity(), payload.len());
    }

    #[tokio::test]
    async fn an_announced_length_over_the_limit_is_refused_before_allocating() {
        let mut bytes = u32::MAX.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"only a few bytes follow");
        let mut reader = reader_of(&bytes);
        match reader.read_frame().await {
            Err(FrameError::TooLarge { len, limit }) => {
                assert_eq!(len, u32::MAX as usize);
                assert_eq!(limit, DEFAULT_FRAME_BYTES_MAX);
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert!(reader.large.is_none());
        assert!(reader.buffer.capacity() <= 2 * READ_CHUNK_BYTES);

        // A limit of its own refuses a frame the default would take.
        let bytes = encode_frame(&[0; 100]);
        let mut reader = FrameReader::with_limit(&bytes[..], 99);
        let error = reader.read_frame().await.expect_err("over the limit");
        assert_eq!(
            error.to_string(),
            "frame of 100 bytes is over the frame size limit of 99 bytes (frame_bytes_max)"
        );
        let mut reader = FrameReader::new(&bytes[..]);
        assert!(matches!(
            reader.read_frame_with_limit(50).await,
            Err(FrameError::TooLarge {
                len: 100,
                limit: 50
            })
        ));
    }

    #[tokio::test]
    async fn an_end_of_stream_inside_a_frame_is_truncated() {
        // Inside the length prefix.
        let mut reader = reader_of(&[5, 0]);
        assert!(matches!(
            reader.read_frame().await,
            Err(FrameError::Truncated {
                expected: 4,
                got: 2
            })
        ));
        // Inside a small payload.
        let mut reader = reader_of(&[5, 0, 0, 0, b'a', b'b']);
        assert!(matches!(
            reader.read_frame().await,
            Err(FrameError::Truncated {
                expected: 9,
                got: 6
            })
        ));
        // Inside a large payload, after a complete frame.
        let mut bytes = encode_frame(b"complete");
        bytes.extend_from_slice(&encode_frame(&[1; 200_000])[..150_000]);
        let mut reader = reader_of(&bytes);
        assert_eq!(
            reader.read_frame().await.expect("first frame"),
            Some(Bytes::from_static(b"complete"))
        );
        let error = reader.read_frame().await.expect_err("truncated");
        assert!(
            matches!(
                error,
                FrameError::Truncated {
                    expected: 200_004,
                    got: 150_000
                }
            ),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "connection closed inside a frame: got 150000 of its 200004 bytes \
             (length prefix included)"
        );
    }

    #[tokio::test]
    async fn garbage_bytes_give_an_error_not_a_panic() {
        let garbage: Vec<u8> = (0..10_000u32)
            .map(|index| (index.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for start in 0..64 {
            let mut reader = FrameReader::with_limit(&garbage[start..], 1 << 20);
            loop {
                match reader.read_frame().await {
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(FrameError::TooLarge { .. } | FrameError::Truncated { .. }) => {
                        break;
                    }
                    Err(FrameError::Io(error)) => panic!("unexpected I/O error {error}"),
                }
            }
        }
    }

    #[tokio::test]
    async fn reading_is_cancel_safe() {
        let payload = vec![3u8; 300_000];
        let (mut client, server) = duplex(1024);
        let mut reader = FrameReader::new(server);
        let bytes = encode_frame(&payload);
        let (first, rest) = bytes.split_at(100_000);
        let mut first = first;
        let feed_first = async {
            client.write_all_buf(&mut first).await.expect("write");
        };
        // Give up on the read once the first part has been fed.
        tokio::select! {
            biased;
            result = reader.read_frame() => panic!("frame cannot be complete: {result:?}"),
            () = async {
                feed_first.await;
                tokio::task::yield_now().await;
            } => {}
        }
        let write_rest = async {
            client.write_all(rest).await.expect("write");
            client.shutdown().await.expect("shutdown");
        };
        let ((), frame) = tokio::join!(write_rest, reader.read_frame());
        assert!(frame.expect("read").expect("a frame") == payload);
    }

    #[tokio::test]
    async fn the_writer_refuses_a_payload_over_its_limit() {
        let mut writer = FrameWriter::with_limit(Vec::new(), 10);
        writer.queue_frame(b"0123456789").expect("at the limit");
        let error = writer.queue_frame(b"0123456789a").expect_err("over");
        assert!(matches!(error, FrameError::TooLarge { len: 11, limit: 10 }));
        let error = writer
            .write_frame_parts(&[b"012345", b"6789a"])
            .await
            .expect_err("over");
        assert!(matches!(error, FrameError::TooLarge { len: 11, limit: 10 }));
        writer.flush().await.expect("flush");
        // Only the frame within the limit was written.
        assert_eq!(writer.into_inner(), encode_frame(b"0123456789"));

        // No limit goes past what a u32 prefix can say.
        let writer = FrameWriter::with_limit(Vec::<u8>::new(), usize::MAX);
        assert!(matches!(
            writer.check_len(u32::MAX as usize + 1),
            Err(FrameError::TooLarge { .. })
        ));
        let big = [0u8; 1 << 16];
        let parts = vec![&big[..]; (1 << 16) + 1];
        assert!(matches!(
            writer.check_len(total_len(&parts)),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[tokio::test]
    async fn queue_frame_with_fills_in_the_prefix_or_queues_nothing() {
        let mut writer = FrameWriter::with_limit(Vec::new(), 8);
        writer
            .queue_frame_with(|buffer| {
                buffer.extend_from_slice(b"abc");
                Ok::<(), FrameError>(())
            })
            .expect("queue");
        let over = writer.queue_frame_with(|buffer| {
            buffer.extend_from_slice(b"123456789");
            Ok::<(), FrameError>(())
        });
        assert!(matches!(
            over,
            Err(FrameError::TooLarge { len: 9, limit: 8 })
        ));
        let failed = writer.queue_frame_with(|buffer| {
            buffer.extend_from_slice(b"12");
            Err(FrameError::Io(io::Error::other("encoder failed")))
        });
        assert!(matches!(failed, Err(FrameError::Io(_))));
        writer.flush().await.expect("flush");
        assert_eq!(writer.into_inner(), encode_frame(b"abc"));
    }
}
