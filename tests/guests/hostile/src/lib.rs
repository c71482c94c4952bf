//! Tasks that misbehave on purpose: each must end in its own typed error
//! while the host carries on. Used by the runtime's hostile-guest tests.

use weft_sdk::task;

/// Never returns: stopped by the wall-clock limit (or fuel).
#[task]
pub fn spin() -> u64 {
    let mut i: u64 = 0;
    loop {
        i = std::hint::black_box(i.wrapping_add(1));
    }
}

/// Allocates until memory runs out.
#[task]
pub fn memory_bomb() -> u64 {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let chunk = vec![1u8; 1 << 20];
        hoard.push(std::hint::black_box(chunk));
    }
}

/// Recurses without end: stopped by the wasm stack limit.
#[task]
pub fn recurse(n: u64) -> u64 {
    deeper(std::hint::black_box(n))
}

fn deeper(n: u64) -> u64 {
    if std::hint::black_box(n) == u64::MAX {
        return 0;
    }
    1 + deeper(std::hint::black_box(n + 1))
}

#[task]
pub fn panic_with(message: String) -> u64 {
    panic!("guest gave up: {message}");
}

/// Returns `len` bytes.
#[task]
pub fn big_result(len: u64) -> Vec<u8> {
    vec![7u8; len as usize]
}

/// A finite loop of `iterations` steps, for fuel budgets.
#[task]
pub fn burn(iterations: u64) -> u64 {
    let mut acc: u64 = 0;
    for i in 0..iterations {
        acc = std::hint::black_box(acc.wrapping_mul(31).wrapping_add(i));
    }
    acc
}

/// Logs far more than any log budget allows.
#[task]
pub fn log_flood(records: u64) -> u64 {
    for i in 0..records {
        weft_sdk::info!("record {i} of a flood");
    }
    records
}

/// Holds `mib` MiB (every page touched) while it runs `iterations` steps:
/// a task that keeps its worker's process memory high for a while.
#[task]
pub fn hold_memory(mib: u64, iterations: u64) -> u64 {
    let mut hoard = vec![0u8; (mib as usize) << 20];
    for page in hoard.chunks_mut(4096) {
        page[0] = 1;
    }
    let mut acc: u64 = 0;
    for i in 0..iterations {
        let at = (i as usize).wrapping_mul(4096) % hoard.len().max(1);
        acc = std::hint::black_box(acc.wrapping_add(u64::from(hoard[at])));
    }
    acc
}
