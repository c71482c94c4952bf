//! The worker's memory watch: the process's resident memory, the pause
//! decision (managed memory against `memory_pause_fraction`), the terminate
//! decision (process memory against `memory_terminate_fraction`) and the
//! [`WorkerMetrics`] sent to the scheduler. The task loop asks; nothing
//! here runs on its own.

use crate::config::Thresholds;
use crate::store::Usage;
use weft_proto::messages::WorkerMetrics;

/// The pause and terminate decisions of one worker.
#[derive(Debug)]
pub(crate) struct MemoryWatch {
    thresholds: Thresholds,
    paused: bool,
    /// Consecutive checks that found process memory above the terminate
    /// fraction.
    over_terminate: u32,
}

/// Checks in a row (one per metrics interval) that must find process
/// memory above the terminate fraction before the worker leaves: a spike
/// that spilling and trimming undo within one interval is survived.
pub(crate) const TERMINATE_CHECKS: u32 = 2;

impl MemoryWatch {
    /// A watch over `thresholds`, not paused.
    pub(crate) fn new(thresholds: Thresholds) -> MemoryWatch {
        MemoryWatch {
            thresholds,
            paused: false,
            over_terminate: 0,
        }
    }

    /// Decides pausing from managed memory (`memory_bytes`): `Some(paused)`
    /// when the decision changed, logged at info. (Process memory drives
    /// spilling instead, through the store's pressure: pausing on it could
    /// pause for ever a worker whose baseline is over the fraction.)
    pub(crate) fn update_pause(&mut self, memory_bytes: u64) -> Option<bool> {
        let paused = self
            .thresholds
            .pause
            .is_some_and(|pause| memory_bytes > pause);
        if paused == self.paused {
            return None;
        }
        self.paused = paused;
        let limit = self.thresholds.limit;
        if paused {
            tracing::info!(
                memory = %format_bytes(memory_bytes),
                limit = %format_bytes(limit),
                "pausing: managed memory is above the pause fraction of the memory limit; \
                 no new tasks start"
            );
        } else {
            tracing::info!(
                memory = %format_bytes(memory_bytes),
                limit = %format_bytes(limit),
                "resuming: managed memory is below the pause fraction of the memory limit"
            );
        }
        Some(paused)
    }

    /// Process (and managed) memory above which values are spilled.
    pub(crate) fn target(&self) -> Option<u64> {
        self.thresholds.target
    }

    /// Why the worker must leave, if the process memory
    /// (`process_bytes`) was above the terminate fraction at this and the
    /// previous [`TERMINATE_CHECKS`]` - 1` checks.
    pub(crate) fn terminate_reason(&mut self, process_bytes: u64) -> Option<String> {
        let terminate = self.thresholds.terminate?;
        if process_bytes <= terminate {
            self.over_terminate = 0;
            return None;
        }
        self.over_terminate += 1;
        if self.over_terminate < TERMINATE_CHECKS {
            return None;
        }
        Some(format!(
            "restarted: memory limit: process memory {} is above {}% of the {} limit",
            format_bytes(process_bytes),
            (self.thresholds.terminate_fraction * 100.0).round(),
            format_bytes(self.thresholds.limit),
        ))
    }

    /// The metrics to report.
    pub(crate) fn metrics(&self, usage: Usage, process_bytes: u64) -> WorkerMetrics {
        WorkerMetrics {
            memory_bytes: usage.memory_bytes,
            memory_keys: usage.memory_keys,
            spilled_bytes: usage.spilled_bytes,
            spilled_keys: usage.spilled_keys,
            process_bytes,
            memory_limit: self.thresholds.limit,
            paused: self.paused,
        }
    }
}

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

/// `bytes` for people: `512 B`, `1.5 KiB`, `1.2 GiB`.
pub(crate) fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thresholds(limit: u64) -> Thresholds {
        crate::WorkerConfig {
            memory_limit: limit,
            ..crate::WorkerConfig::default()
        }
        .thresholds()
    }

    #[test]
    fn pausing_follows_managed_memory() {
        let mut watch = MemoryWatch::new(thresholds(1000));
        assert_eq!(watch.update_pause(800), None);
        assert_eq!(watch.update_pause(801), Some(true));
        assert_eq!(watch.update_pause(900), None);
        assert!(watch.metrics(Usage::default(), 0).paused);
        assert_eq!(watch.update_pause(10), Some(false));
        assert!(!watch.metrics(Usage::default(), 0).paused);
        // No limit: never.
        let mut watch = MemoryWatch::new(thresholds(0));
        assert_eq!(watch.update_pause(u64::MAX), None);
        assert_eq!(watch.terminate_reason(u64::MAX), None);
        assert_eq!(watch.terminate_reason(u64::MAX), None);
    }

    #[test]
    fn the_terminate_reason_names_the_figures_after_consecutive_checks() {
        let mut watch = MemoryWatch::new(thresholds(1288490189)); // 1.2 GiB
        assert_eq!(watch.terminate_reason(1_000_000_000), None);
        assert_eq!(watch.terminate_reason(1288490189), None, "one spike");
        assert_eq!(watch.terminate_reason(1_000_000_000), None);
        assert_eq!(watch.terminate_reason(1288490189), None);
        assert_eq!(
            watch.terminate_reason(1288490189).as_deref(),
            Some(
                "restarted: memory limit: process memory 1.2 GiB is above 95% of the 1.2 GiB limit"
            )
        );
    }

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

    #[test]
    fn bytes_are_formatted_for_people() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(3 << 20), "3.0 MiB");
        assert_eq!(format_bytes(1288490189), "1.2 GiB");
    }
}
