//! The worker state's memory decisions: pausing (managed memory against
//! `memory_pause_fraction`), leaving (process memory against
//! `memory_terminate_fraction`, at consecutive checks) and the
//! [`WorkerMetrics`] sent to the scheduler, from figures the driver
//! measures. Nothing here measures or runs on its own.

use super::Usage;
use weft_proto::messages::WorkerMetrics;
use weft_schema::quota::show_bytes;

/// The memory thresholds of a worker, in bytes (`None`: disabled).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// `memory_limit` (0: none).
    pub limit: u64,
    /// Managed memory above which values are spilled.
    pub target: Option<u64>,
    /// Managed memory above which tasks do not start.
    pub pause: Option<u64>,
    /// Process memory above which the worker leaves.
    pub terminate: Option<u64>,
    /// `memory_terminate_fraction`, for messages.
    pub terminate_fraction: f64,
}

/// The pause and terminate decisions of one worker.
#[derive(Debug)]
pub(super) struct MemoryWatch {
    thresholds: Thresholds,
    paused: bool,
    /// Consecutive checks that found process memory above the terminate
    /// fraction.
    over_terminate: u32,
}

/// Checks in a row (one per metrics interval) that must find process
/// memory above the terminate fraction before the worker leaves: a spike
/// that spilling and trimming undo within one interval is survived.
pub(super) const TERMINATE_CHECKS: u32 = 2;

impl MemoryWatch {
    /// A watch over `thresholds`, not paused.
    pub(super) fn new(thresholds: Thresholds) -> MemoryWatch {
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
    pub(super) fn update_pause(&mut self, memory_bytes: u64) -> Option<bool> {
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
                memory = %show_bytes(memory_bytes),
                limit = %show_bytes(limit),
                "pausing: managed memory is above the pause fraction of the memory limit; \
                 no new tasks start"
            );
        } else {
            tracing::info!(
                memory = %show_bytes(memory_bytes),
                limit = %show_bytes(limit),
                "resuming: managed memory is below the pause fraction of the memory limit"
            );
        }
        Some(paused)
    }

    /// Whether the last decision was to pause.
    pub(super) fn is_paused(&self) -> bool {
        self.paused
    }

    /// Process (and managed) memory above which values are spilled.
    pub(super) fn target(&self) -> Option<u64> {
        self.thresholds.target
    }

    /// Why the worker must leave, if the process memory
    /// (`process_bytes`) was above the terminate fraction at this and the
    /// previous [`TERMINATE_CHECKS`]` - 1` checks.
    pub(super) fn terminate_reason(&mut self, process_bytes: u64) -> Option<String> {
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
            show_bytes(process_bytes),
            (self.thresholds.terminate_fraction * 100.0).round(),
            show_bytes(self.thresholds.limit),
        ))
    }

    /// The metrics to report.
    pub(super) fn metrics(&self, usage: Usage, process_bytes: u64) -> WorkerMetrics {
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
}
