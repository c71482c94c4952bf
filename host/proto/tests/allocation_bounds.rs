//! Hostile lengths cost no large allocation: measured with a global
//! allocator that records the largest single allocation. This lives in its
//! own test binary so the allocator sees nothing but these checks, which run
//! one after the other in a single test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, recording the largest allocation since the last
/// [`reset`].
struct LargestAllocation;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

fn reset() {
    LARGEST.store(0, Ordering::Relaxed);
}

fn largest() -> usize {
    LARGEST.load(Ordering::Relaxed)
}

const MIB: usize = 1024 * 1024;

#[test]
fn hostile_lengths_allocate_nothing_large() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");

    // A frame announcing u32::MAX bytes is refused from its prefix alone.
    let mut stream = u32::MAX.to_le_bytes().to_vec();
    stream.extend_from_slice(&[0; 100]);
    reset();
    let result = runtime.block_on(async {
        let mut reader = weft_proto::FrameReader::new(&stream[..]);
        reader.read_frame().await
    });
    assert!(matches!(
        result,
        Err(weft_proto::FrameError::TooLarge { .. })
    ));
    assert!(largest() < MIB, "largest allocation {} bytes", largest());

    // Length prefixes inside a message claiming 2^40 elements.
    let mut message = (1u64 << 40).to_le_bytes().to_vec();
    message.extend_from_slice(b"tiny");
    reset();
    assert!(weft_proto::decode::<String>(&message).is_err());
    assert!(weft_proto::decode::<Vec<u8>>(&message).is_err());
    assert!(weft_proto::decode::<Vec<u64>>(&message).is_err());
    assert!(weft_proto::decode::<Vec<Vec<u8>>>(&message).is_err());
    assert!(weft_proto::decode::<Vec<String>>(&message).is_err());
    // serde preallocates at most 1 MiB for a sequence of claimed length.
    assert!(largest() <= MIB, "largest allocation {} bytes", largest());
}
