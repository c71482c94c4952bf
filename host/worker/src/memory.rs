//! The process's memory as the operating system sees it: its resident
//! size, giving freed heap back (`malloc_trim`), and byte counts for
//! people. The decisions taken from these figures are the worker state's
//! (`state/memory_watch.rs`).

/// The process's resident memory in bytes: resident pages from
/// `/proc/self/statm` times the page size; 0 where that cannot be read
/// (not Linux).
pub(crate) fn process_bytes() -> u64 {
    #[cfg(target_os = "linux")]
    {
        let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
            return 0;
        };
        resident_pages(&statm).map_or(0, |pages| pages.saturating_mul(page_size()))
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// Gives memory the allocator holds but no longer uses back to the OS
/// (glibc's `malloc_trim`; nothing elsewhere). Freed results otherwise
/// stay resident and count against the memory limit.
pub(crate) fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it
    // takes the allocator's locks itself.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The second field of `/proc/self/statm` (resident pages).
fn resident_pages(statm: &str) -> Option<u64> {
    statm.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(target_os = "linux")]
fn page_size() -> u64 {
    use std::sync::OnceLock;
    static PAGE_SIZE: OnceLock<u64> = OnceLock::new();
    *PAGE_SIZE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions and only reads system
        // configuration.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        u64::try_from(size).ok().filter(|&s| s > 0).unwrap_or(4096)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_memory_is_measured() {
        assert_eq!(resident_pages("100 25 3 1 0 40 0\n"), Some(25));
        assert_eq!(resident_pages("garbage"), None);
        if cfg!(target_os = "linux") {
            let bytes = process_bytes();
            // A test binary is more than a megabyte and less than a terabyte.
            assert!(bytes > 1 << 20 && bytes < 1 << 40, "{bytes}");
        }
    }
}
