//! What the fuzz targets (`fuzz_targets/*.rs`) share: a cursor that cuts a
//! fuzz input into the fields a target needs ([`Input`]), a way to run the
//! async readers of `weft-proto` on one thread ([`block_on`], [`poll_once`]),
//! and the seed inputs of every target ([`seeds`]), written to
//! `tests/fuzz/seeds/` by `examples/write_seeds.rs`.
//!
//! Each target's input layout is documented in the target's header and
//! built by the matching function of [`seeds`], so the two cannot drift
//! apart without a seed failing to reach past the first check.

use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use weft_runtime::config::CompileLimits;
use weft_runtime::{RuntimeConfig, TaskLimits};

pub mod seeds;

/// Reads fields off the front of a fuzz input. Every read succeeds: past
/// the end, numbers read as zero and slices as empty, so a short input is
/// still a valid (if dull) case.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    bytes: &'a [u8],
}

impl<'a> Input<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// The next byte (0 past the end).
    pub fn u8(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    /// The next two bytes as a little-endian `u16` (missing bytes are 0).
    pub fn u16(&mut self) -> u16 {
        let mut out = [0u8; 2];
        let taken = self.take(2);
        out[..taken.len()].copy_from_slice(taken);
        u16::from_le_bytes(out)
    }

    /// The next eight bytes as a little-endian `u64` (missing bytes are 0).
    pub fn u64(&mut self) -> u64 {
        let mut out = [0u8; 8];
        let taken = self.take(8);
        out[..taken.len()].copy_from_slice(taken);
        u64::from_le_bytes(out)
    }

    /// The next `N` bytes (missing bytes are 0).
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let taken = self.take(N);
        out[..taken.len()].copy_from_slice(taken);
        out
    }

    /// The next `len` bytes, or what is left if fewer.
    pub fn take(&mut self, len: usize) -> &'a [u8] {
        let (head, tail) = self.bytes.split_at(len.min(self.bytes.len()));
        self.bytes = tail;
        head
    }

    /// A field with a `u16` little-endian length in front.
    pub fn prefixed(&mut self) -> &'a [u8] {
        let len = usize::from(self.u16());
        self.take(len)
    }

    /// Everything left.
    pub fn rest(self) -> &'a [u8] {
        self.bytes
    }
}

/// Writes a field with the `u16` length prefix [`Input::prefixed`] reads.
///
/// # Panics
///
/// If `field` is longer than `u16::MAX` bytes (seeds are small).
pub fn put_prefixed(out: &mut Vec<u8>, field: &[u8]) {
    let len = u16::try_from(field.len()).expect("a seed field under 64 KiB");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(field);
}

/// Runs `future` to completion on a current-thread tokio runtime with the
/// time driver (the handshake's timeout needs it), built once per process.
///
/// # Panics
///
/// If the runtime cannot be built (out of file descriptors): the target
/// cannot run at all then.
pub fn block_on<F: Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("a current-thread tokio runtime")
        })
        .block_on(future)
}

/// Polls `future` once with a waker that does nothing: for readers over
/// in-memory streams, which never need waking, so that a target decides
/// itself when a pending read is given up (dropped) or polled again.
pub fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    let mut context = Context::from_waker(Waker::noop());
    std::pin::Pin::new(future).poll(&mut context)
}

/// Polls `future` until it is ready, with a waker that does nothing; for
/// futures over in-memory streams that are never pending for long.
/// Gives up with `None` after `polls_max` pending polls.
pub fn poll_to_end<F: Future>(future: F, polls_max: usize) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    for _ in 0..=polls_max {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return Some(output);
        }
    }
    None
}

/// The runtime configuration of the module targets: limits smaller than
/// the defaults (100 functions, 16 KiB per body and 64 KiB of code, 64
/// locals, nesting 32, 256 `br_table` targets, 256 types and exports, a
/// 1 MiB memory, 1,024 table elements) so that the fuzzer crosses each of
/// them with small inputs, no disk cache, and two instance slots. With
/// `fuel_metering` (for the target that calls tasks), calls get 200,000
/// units of fuel by default; every call gets 1 MiB of memory, 100 ms, a
/// 64 KiB result and 4 KiB of logs.
pub fn small_runtime_config(fuel_metering: bool) -> RuntimeConfig {
    RuntimeConfig {
        default_limits: TaskLimits {
            memory_bytes_max: 1 << 20,
            timeout: Duration::from_millis(100),
            fuel: fuel_metering.then_some(200_000),
            result_bytes_max: 64 << 10,
            log_bytes_max: 4 << 10,
        },
        instances_max: 2,
        memory_bytes_ceiling: 1 << 20,
        table_elements_max: 1024,
        module_bytes_max: 1 << 20,
        fuel_metering,
        cache_dir: None,
        modules_in_memory_max: 16,
        compile: CompileLimits {
            functions_max: 100,
            function_bytes_max: 16 << 10,
            code_bytes_max: 64 << 10,
            locals_max: 64,
            nesting_max: 32,
            br_table_targets_max: 256,
            types_max: 256,
            exports_max: 256,
            refusals_remembered_max: 256,
            ..CompileLimits::default()
        },
        ..RuntimeConfig::default()
    }
}

/// A small deterministic generator (xorshift64*), seeded from the input, for
/// targets that need many cheap choices (chunk sizes, when to cancel).
#[derive(Debug, Clone)]
pub struct Choices(u64);

impl Choices {
    /// A generator seeded with `seed` (any value, zero included).
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.next_u64() % bound
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_reads_fields_and_zero_past_the_end() {
        let mut field = Vec::new();
        put_prefixed(&mut field, b"abc");
        let mut bytes = vec![7u8];
        bytes.extend_from_slice(&field);
        bytes.extend_from_slice(b"rest");
        let mut input = Input::new(&bytes);
        assert_eq!(input.u8(), 7);
        assert_eq!(input.prefixed(), b"abc");
        assert_eq!(input.rest(), b"rest");
        let mut empty = Input::new(&[1]);
        assert_eq!(empty.u64(), 1);
        assert_eq!(empty.u16(), 0);
        assert_eq!(empty.prefixed(), b"");
    }
}
