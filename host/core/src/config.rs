//! The scheduler core's tunables, each with its name and default.

use std::time::Duration;

/// Settings of a [`Scheduler`](crate::Scheduler).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// `transition_log_max`: transitions kept for `story(key)`; older ones
    /// are dropped.
    pub transition_log_max: usize,
    /// `backlog_target_us`: estimated microseconds of work per executor
    /// thread a worker may have queued before it gets no more tasks. Short
    /// tasks are sent in batches deep enough to hide a round trip; long
    /// tasks one per thread, so that an idle worker can take the next one.
    pub backlog_target_us: u64,
    /// `processing_per_thread_max`: a hard cap on one tenant's tasks sent
    /// to a worker per executor thread, whatever the estimates say (each
    /// tenant's on its own). Tasks sent ahead beyond what hides a round
    /// trip only wait; and when the scheduler is the busiest process,
    /// their reports queue in front of every other tenant's messages: a
    /// cap of 256 made another tenant's small job 4–7 times slower during
    /// a flood of trivial tasks, 32 about 1.5–2.5 times, for about 15 %
    /// less throughput of the flood (weft-tenants-bench --scenario noisy).
    pub processing_per_thread_max: u32,
    /// `unknown_duration_us`: the estimate for a function that has not run
    /// yet.
    pub unknown_duration_us: u64,
    /// `bandwidth_bytes_per_s`: the assumed speed of moving an input between
    /// workers, to weigh locality against load.
    pub bandwidth_bytes_per_s: u64,
    /// `worker_deaths_max`: a task whose runs coincided with this many
    /// worker deaths fails with a killed-workers error instead of being
    /// sent to kill another worker. At least 1. Default 3.
    pub worker_deaths_max: u32,
    /// `worker_ttl`: a worker that sends nothing (not even its metrics) for
    /// this long is removed as if it had died, its work rescheduled; when
    /// it speaks again it is told to rejoin with nothing. Zero: never.
    /// Default 10 s.
    pub worker_ttl: Duration,
    /// `client_ttl`: a connected client that sends nothing (not even its
    /// heartbeat) for this long is disconnected (then its `client_grace`
    /// applies). Zero: never. Default 30 s.
    pub client_ttl: Duration,
    /// `client_grace`: how long what a disconnected client held is kept
    /// for it to resume its session. Default 10 s.
    pub client_grace: Duration,
    /// `restart_timeout`: how long a restart waits for the workers it
    /// restarted to be back before it reports failure. Default 30 s.
    pub restart_timeout: Duration,
}

/// Default of [`SchedulerConfig::worker_ttl`].
pub const DEFAULT_WORKER_TTL: Duration = Duration::from_secs(10);
/// Default of [`SchedulerConfig::client_ttl`].
pub const DEFAULT_CLIENT_TTL: Duration = Duration::from_secs(30);
/// Default of [`SchedulerConfig::client_grace`].
pub const DEFAULT_CLIENT_GRACE: Duration = Duration::from_secs(10);
/// Default of [`SchedulerConfig::restart_timeout`].
pub const DEFAULT_RESTART_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            transition_log_max: 100_000,
            backlog_target_us: 20_000,
            processing_per_thread_max: 32,
            unknown_duration_us: 1_000,
            bandwidth_bytes_per_s: 1 << 30,
            worker_deaths_max: 3,
            worker_ttl: DEFAULT_WORKER_TTL,
            client_ttl: DEFAULT_CLIENT_TTL,
            client_grace: DEFAULT_CLIENT_GRACE,
            restart_timeout: DEFAULT_RESTART_TIMEOUT,
        }
    }
}
