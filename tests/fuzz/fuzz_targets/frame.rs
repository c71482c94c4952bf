//! Fuzz target: the frame reader (`weft_proto::FrameReader`,
//! `host/proto/src/frame.rs`) on an arbitrary byte stream, delivered in
//! chunks of random sizes, with reads that are sometimes left pending and
//! dropped half-way (the reader is documented to be cancel-safe).
//!
//! Input: `flags: u8`, `limit: u16` (little-endian), `seed: u8`, then the
//! stream. `flags & 1` picks the reader's limit: the default
//! (`DEFAULT_FRAME_BYTES_MAX`) or `limit`; `flags & 2` gives every other read
//! a smaller limit of its own (`read_frame_with_limit`, as the handshake
//! does); `flags & 4` drops pending reads. `seed` drives the chunk sizes and
//! the cancellations.
//!
//! Checked: no panic; the frames read and the way the stream ends (clean
//! end, `Truncated`, `TooLarge`, with their numbers) are exactly what a
//! plain model of the format says; the frames written back with
//! `FrameWriter` read back the same.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};
use weft_fuzz::{Choices, Input, poll_once, poll_to_end};
use weft_proto::{
    DEFAULT_FRAME_BYTES_MAX, FRAME_HEADER_BYTES, FrameError, FrameReader, FrameWriter,
};

/// A stream that hands out its bytes in random chunks and is sometimes
/// pending (without waking anyone: the target polls again itself).
struct Trickle<'a> {
    data: &'a [u8],
    choices: Choices,
    pending: bool,
}

impl AsyncRead for Trickle<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pending && self.choices.below(3) == 0 {
            return Poll::Pending;
        }
        let room = self.data.len().min(buf.remaining());
        if room == 0 {
            return Poll::Ready(Ok(()));
        }
        // Mostly small chunks, sometimes everything that fits.
        let len = if self.choices.below(4) == 0 {
            room
        } else {
            1 + self.choices.below(room.min(64) as u64) as usize
        };
        let (chunk, rest) = self.data.split_at(len);
        buf.put_slice(chunk);
        self.data = rest;
        Poll::Ready(Ok(()))
    }
}

/// How a read of the stream ends, in the model and in the reader.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Clean,
    Truncated { expected: usize, got: usize },
    TooLarge { len: usize, limit: usize },
}

/// The format as the module documentation states it: a `u32` little-endian
/// length, then that many bytes; `limits(i)` is the limit of the `i`th read.
fn model(mut stream: &[u8], limits: impl Fn(usize) -> usize) -> (Vec<&[u8]>, End) {
    let mut frames = Vec::new();
    loop {
        if stream.is_empty() {
            return (frames, End::Clean);
        }
        let Some((header, rest)) = stream.split_first_chunk::<FRAME_HEADER_BYTES>() else {
            let got = stream.len();
            return (
                frames,
                End::Truncated {
                    expected: FRAME_HEADER_BYTES,
                    got,
                },
            );
        };
        let len = u32::from_le_bytes(*header) as usize;
        let limit = limits(frames.len());
        if len > limit {
            return (frames, End::TooLarge { len, limit });
        }
        if rest.len() < len {
            let expected = FRAME_HEADER_BYTES + len;
            return (
                frames,
                End::Truncated {
                    expected,
                    got: stream.len(),
                },
            );
        }
        let (payload, rest) = rest.split_at(len);
        frames.push(payload);
        stream = rest;
    }
}

/// The limit of the `index`th read.
fn read_limit(reader_limit: usize, own_limits: bool, index: usize) -> usize {
    if own_limits && index % 2 == 1 {
        reader_limit.min(64 + index * 512)
    } else {
        reader_limit
    }
}

/// Reads every frame of `stream` with a reader over a [`Trickle`].
fn read_all(
    stream: &[u8],
    reader_limit: usize,
    own_limits: bool,
    seed: u64,
    cancel: bool,
) -> (Vec<Bytes>, End) {
    let trickle = Trickle {
        data: stream,
        choices: Choices::new(seed),
        pending: cancel,
    };
    let mut reader = FrameReader::with_limit(trickle, reader_limit);
    let mut choices = Choices::new(seed.rotate_left(17));
    let mut frames = Vec::new();
    loop {
        let limit = read_limit(reader_limit, own_limits, frames.len());
        // A read stays pending only when the stream is; each poll makes a
        // pending stream move on with probability 2/3, so this ends.
        let result = loop {
            let mut read = Box::pin(reader.read_frame_with_limit(limit));
            let ready = loop {
                match poll_once(&mut read) {
                    Poll::Ready(result) => break Some(result),
                    Poll::Pending if choices.below(2) == 0 => break None,
                    Poll::Pending => {}
                }
            };
            if let Some(result) = ready {
                break result;
            }
            // Dropped with bytes taken from the stream: the next read must
            // pick up where this one stopped.
        };
        match result {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => return (frames, End::Clean),
            Err(FrameError::Truncated { expected, got }) => {
                assert!(
                    got < expected,
                    "Truncated with got {got} >= expected {expected}"
                );
                return (frames, End::Truncated { expected, got });
            }
            Err(FrameError::TooLarge { len, limit }) => {
                return (frames, End::TooLarge { len, limit });
            }
            Err(FrameError::Io(error)) => panic!("I/O error from an in-memory stream: {error}"),
        }
    }
}

/// Writes `frames` with a `FrameWriter` (queued, whole, or in two parts) and
/// reads them back.
fn write_and_read_back(frames: &[Bytes], seed: u64) {
    let mut choices = Choices::new(seed);
    let mut writer = FrameWriter::new(Vec::new());
    for frame in frames {
        let written = match choices.below(3) {
            0 => writer.queue_frame(frame),
            1 => poll_to_end(writer.write_frame(frame), 0).expect("a write to a Vec is ready"),
            _ => {
                let (head, tail) = frame.split_at(choices.below(frame.len() as u64 + 1) as usize);
                poll_to_end(writer.write_frame_parts(&[head, tail]), 0)
                    .expect("a write to a Vec is ready")
            }
        };
        written.expect("a frame within the default limit is written");
    }
    poll_to_end(writer.flush(), 0)
        .expect("a flush of a Vec is ready")
        .expect("flush to a Vec");
    let bytes = writer.into_inner();
    let mut reader = FrameReader::new(&bytes[..]);
    for frame in frames {
        let read = poll_to_end(reader.read_frame(), 0).expect("a read of a slice is ready");
        assert_eq!(read.expect("read back").as_ref(), Some(frame));
    }
    let end = poll_to_end(reader.read_frame(), 0).expect("a read of a slice is ready");
    assert!(matches!(end, Ok(None)), "{end:?} after the frames written");
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let flags = input.u8();
    let limit = input.u16();
    let seed = u64::from(input.u8());
    let stream = input.rest();
    let reader_limit = if flags & 1 == 0 {
        DEFAULT_FRAME_BYTES_MAX
    } else {
        usize::from(limit)
    };
    let own_limits = flags & 2 != 0;
    let cancel = flags & 4 != 0;

    let (frames, end) = read_all(stream, reader_limit, own_limits, seed, cancel);
    let (expected_frames, expected_end) =
        model(stream, |index| read_limit(reader_limit, own_limits, index));
    assert_eq!(end, expected_end, "how the stream ends");
    assert_eq!(frames.len(), expected_frames.len(), "number of frames");
    for (frame, expected) in frames.iter().zip(&expected_frames) {
        assert_eq!(frame.as_ref(), *expected);
    }
    write_and_read_back(&frames, seed);
});
