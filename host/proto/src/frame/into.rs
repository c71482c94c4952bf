//! [`FrameReader::read_frame_into`]: a frame's payload appended to a buffer
//! the caller owns, straight from the stream past what is already
//! buffered, so that a value arriving in many frames is put together
//! without a second copy or an allocation per frame.

use super::{FRAME_HEADER_BYTES, FrameError, FrameReader};
use bytes::{Buf, BufMut};
use tokio::io::{AsyncRead, AsyncReadExt};

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Appends the next frame's payload to `out` and returns its length, or
    /// `None` if the stream ended cleanly between two frames. A payload
    /// over the reader's limit or over `room` bytes is refused before
    /// anything is read into `out`, and so is one `out` cannot grow to hold.
    ///
    /// Not cancel-safe (unlike [`read_frame`](Self::read_frame)): dropping
    /// the future mid-frame leaves the stream inside the frame, after which
    /// it must be dropped. It must not follow a cancelled `read_frame` of a
    /// large frame.
    pub async fn read_frame_into(
        &mut self,
        out: &mut Vec<u8>,
        room: usize,
    ) -> Result<Option<usize>, FrameError> {
        if self.large.is_some() {
            return Err(FrameError::Io(std::io::Error::other(
                "a frame read was cancelled in the middle; this stream cannot be read further",
            )));
        }
        let Some(len) = self.next_header().await? else {
            return Ok(None);
        };
        let limit = self.frame_bytes_max.min(room);
        if len > limit {
            return Err(FrameError::TooLarge { len, limit });
        }
        out.try_reserve(len).map_err(|error| {
            FrameError::Io(std::io::Error::other(format!(
                "no memory for a frame of {len} bytes: {error}"
            )))
        })?;
        self.buffer.advance(FRAME_HEADER_BYTES);
        let buffered = len.min(self.buffer.len());
        out.extend_from_slice(&self.buffer[..buffered]);
        self.buffer.advance(buffered);
        let mut remaining = len - buffered;
        while remaining > 0 {
            let read = self.inner.read_buf(&mut out.limit(remaining)).await?;
            if read == 0 {
                return Err(FrameError::Truncated {
                    expected: FRAME_HEADER_BYTES + len,
                    got: FRAME_HEADER_BYTES + len - remaining,
                });
            }
            remaining -= read;
        }
        Ok(Some(len))
    }
}

#[cfg(test)]
mod tests {
    use super::super::FrameWriter;
    use super::*;

    #[tokio::test]
    async fn frames_are_appended_whole_whether_buffered_or_not() {
        let (client, server) = tokio::io::duplex(1 << 20);
        let mut writer = FrameWriter::new(client);
        let small = b"small".to_vec();
        let large: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let sending = tokio::spawn(async move {
            writer.write_frame(&small).await.unwrap();
            writer.write_frame(&large).await.unwrap();
            writer.write_frame(b"").await.unwrap();
            writer.write_frame(b"after").await.unwrap();
            writer
        });
        let mut reader = FrameReader::new(server);
        let mut out = b"prefix:".to_vec();
        assert_eq!(
            reader.read_frame_into(&mut out, usize::MAX).await.unwrap(),
            Some(5)
        );
        assert_eq!(
            reader.read_frame_into(&mut out, usize::MAX).await.unwrap(),
            Some(3_000_000)
        );
        assert_eq!(
            reader.read_frame_into(&mut out, usize::MAX).await.unwrap(),
            Some(0)
        );
        let expected: Vec<u8> = b"prefix:small"
            .iter()
            .copied()
            .chain((0..3_000_000u32).map(|i| (i % 251) as u8))
            .collect();
        assert_eq!(out, expected);
        // Frames read the usual way afterwards are intact.
        assert_eq!(
            reader.read_frame().await.unwrap().as_deref(),
            Some(&b"after"[..])
        );
        drop(sending.await.unwrap());
        assert_eq!(
            reader.read_frame_into(&mut out, usize::MAX).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn a_frame_over_the_limit_or_cut_short_is_an_error() {
        let mut too_long = (100u32).to_le_bytes().to_vec();
        too_long.extend_from_slice(&[0; 100]);
        let mut reader = FrameReader::with_limit(&too_long[..], 99);
        let mut out = Vec::new();
        assert!(matches!(
            reader.read_frame_into(&mut out, usize::MAX).await,
            Err(FrameError::TooLarge {
                len: 100,
                limit: 99
            })
        ));
        assert!(out.is_empty());
        // Past the room the caller has left: refused before it is read.
        let mut reader = FrameReader::new(&too_long[..]);
        assert!(matches!(
            reader.read_frame_into(&mut out, 60).await,
            Err(FrameError::TooLarge {
                len: 100,
                limit: 60
            })
        ));
        assert!(out.is_empty());
        let cut = &too_long[..50];
        let mut reader = FrameReader::new(cut);
        assert!(matches!(
            reader.read_frame_into(&mut out, usize::MAX).await,
            Err(FrameError::Truncated {
                expected: 104,
                got: 50
            })
        ));
    }
}
