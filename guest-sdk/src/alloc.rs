//! The guest's global allocator (feature `allocator`, on by default): talc,
//! fed first from a static arena that lies inside the module's initial
//! memory and then, when that is used up, from `memory.grow` in steps of at
//! least 1 MiB.
//!
//! Why: every task call runs in a fresh instance, and the default allocator
//! grows linear memory on its first allocation. Growing costs the host a
//! protection change and fresh pages on every call, which is most of a
//! trivial task's cost. An arena in `.bss` costs nothing until touched, and
//! the host resets only the pages a task dirtied.

use core::alloc::Layout;
use core::mem::MaybeUninit;
use talc::base::Talc;
use talc::base::binning::Binning;
use talc::cell::TalcSyncCell;
use talc::source::Source;
use talc::wasm::WasmBinning;

/// Bytes of the static arena: enough for the arguments, result and scratch
/// space of small tasks.
const ARENA_BYTES: usize = 2 << 20;
const PAGE_BYTES: usize = 64 << 10;
/// Grow memory by at least this many pages at a time (1 MiB).
const GROW_PAGES_MIN: usize = 16;

static mut ARENA: [MaybeUninit<u8>; ARENA_BYTES] = [MaybeUninit::uninit(); ARENA_BYTES];

/// Hands talc the arena first, then grown memory.
#[derive(Debug)]
struct ArenaThenGrow {
    arena_claimed: bool,
}

// SAFETY: `acquire` only claims memory nothing else uses (the arena, owned by
// this allocator, and pages fresh from `memory.grow`) and never allocates.
unsafe impl Source for ArenaThenGrow {
    fn acquire<B: Binning>(talc: &mut Talc<Self, B>, layout: Layout) -> Result<(), ()> {
        if !talc.source.arena_claimed {
            talc.source.arena_claimed = true;
            // SAFETY: the arena is used by nothing but this allocator.
            if unsafe { talc.claim((&raw mut ARENA).cast(), ARENA_BYTES) }.is_some() {
                return Ok(());
            }
        }
        // Room for the allocation, its alignment and talc's bookkeeping.
        let needed = layout
            .size()
            .saturating_add(layout.align())
            .saturating_add(256);
        let pages = needed.div_ceil(PAGE_BYTES).max(GROW_PAGES_MIN);
        let previous_pages = core::arch::wasm32::memory_grow(0, pages);
        if previous_pages == usize::MAX {
            return Err(());
        }
        let base = (previous_pages * PAGE_BYTES) as *mut u8;
        // SAFETY: the pages were just added to memory; nothing else uses them.
        unsafe { talc.claim(base, pages * PAGE_BYTES) }
            .map(|_| ())
            .ok_or(())
    }
}

#[global_allocator]
static ALLOCATOR: TalcSyncCell<ArenaThenGrow, WasmBinning> =
    TalcSyncCell::new_wasm(ArenaThenGrow {
        arena_claimed: false,
    });
