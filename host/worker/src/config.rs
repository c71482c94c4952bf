//! Everything a worker can be told when it starts: [`WorkerConfig`], with
//! the name, default and meaning of each setting and limit, and
//! [`RestartMode`].
//!
//! Memory settings follow Dask's (`distributed.worker.memory.*`): with a
//! `memory_limit`, *managed memory* (the bytes of the values the worker
//! holds in memory) is spilled to disk above `memory_target_fraction` of
//! it, tasks stop starting above `memory_pause_fraction` of it, and the
//! worker leaves when the *process memory* (RSS) passes
//! `memory_terminate_fraction` of it.

use crate::state::Thresholds;
use std::path::PathBuf;
use std::time::Duration;
use weft_proto::ConnectionLimits;
use weft_runtime::{RuntimeConfig, TaskLimits};

/// Default of [`WorkerConfig::scheduler`].
pub const DEFAULT_SCHEDULER: &str = "127.0.0.1:8786";
/// Default of [`WorkerConfig::name`].
pub const DEFAULT_NAME: &str = "weft-worker";
/// Default of [`WorkerConfig::listen`]: loopback, any free port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:0";
/// Default of [`WorkerConfig::fetch_timeout`]: 30 s.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Default of [`WorkerConfig::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Default of [`WorkerConfig::memory_target_fraction`] (Dask's
/// `memory.target`).
pub const DEFAULT_MEMORY_TARGET_FRACTION: f64 = 0.6;
/// Default of [`WorkerConfig::memory_pause_fraction`] (Dask's
/// `memory.pause`).
pub const DEFAULT_MEMORY_PAUSE_FRACTION: f64 = 0.8;
/// Default of [`WorkerConfig::memory_terminate_fraction`] (Dask's
/// `memory.terminate`).
pub const DEFAULT_MEMORY_TERMINATE_FRACTION: f64 = 0.95;
/// Default of [`WorkerConfig::metrics_interval`]: 500 ms.
pub const DEFAULT_METRICS_INTERVAL: Duration = Duration::from_millis(500);
/// How long a worker that leaves on its own (a `Restart` with
/// [`RestartMode::Exit`], or the terminate fraction) waits for its last
/// reports (`Leaving`, say) to be written to the scheduler before it
/// closes the connection anyway. Not configurable: it only bounds the exit.
pub const LEAVING_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// What a worker does with a `Restart` command from the scheduler. In both
/// modes it first drops every value it holds (in memory and spilled),
/// drops its queued tasks and discards the results of running ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RestartMode {
    /// Clear itself and carry on in the same process, answering
    /// `Restarted`. For workers without a nanny (embedded local clusters).
    #[default]
    InPlace,
    /// Stop: [`WorkerHandle::closed`](crate::WorkerHandle::closed) resolves
    /// to [`WorkerError::RestartRequested`](crate::WorkerError::RestartRequested)
    /// so that the process can exit and its nanny start a fresh one.
    Exit,
}

/// How a worker is set up. Every field has a default ([`Default`]); a
/// worker with the defaults joins a scheduler on `127.0.0.1:8786`.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `scheduler`: the scheduler's address, `host:port`. Default
    /// [`DEFAULT_SCHEDULER`].
    pub scheduler: String,
    /// `token`: the worker token the scheduler admits workers with (`weft
    /// tenant add-worker`); `None` for a scheduler without tenants.
    pub token: Option<weft_proto::Secret>,
    /// `tls_cert`, `tls_key`, `tls_ca`: TLS for the scheduler connection,
    /// the data port and peer fetches (mutual, with a worker certificate);
    /// `None`: plain TCP.
    pub tls: Option<weft_proto::tls::WorkerTls>,
    /// `name`: the worker's name in logs and in the scheduler's worker list.
    /// Not required to be unique. At most a few KiB (it travels in the
    /// hello). Default [`DEFAULT_NAME`].
    pub name: String,
    /// `instance`: the same across this worker's restarts (its nanny
    /// chooses it), so that a cluster restart knows it is back. Default:
    /// [`new_instance`], a fresh one.
    pub instance: u64,
    /// `nthreads`: how many executor threads run tasks at once. At least 1.
    /// Default: the machine's available parallelism.
    pub nthreads: u32,
    /// `memory_limit`: the memory the worker may use, in bytes (0: none;
    /// then nothing is spilled, tasks never pause and the worker never
    /// leaves because of memory). The fractions below are of this; it is
    /// also reported to the scheduler. Default 0.
    pub memory_limit: u64,
    /// `memory_target_fraction`: above this fraction of `memory_limit` of
    /// managed memory (values held in memory), values are written to disk,
    /// least recently used first, until managed memory is below it again.
    /// `None`: never spill. Otherwise within (0, 1]. Default
    /// [`DEFAULT_MEMORY_TARGET_FRACTION`].
    pub memory_target_fraction: Option<f64>,
    /// `memory_pause_fraction`: above this fraction of `memory_limit` of
    /// managed memory (what spilling could not bring down), the worker
    /// starts no new tasks (they stay queued; running ones finish) until it
    /// is below again. `None`: never pause. Otherwise within (0, 1].
    /// Default [`DEFAULT_MEMORY_PAUSE_FRACTION`].
    pub memory_pause_fraction: Option<f64>,
    /// `memory_terminate_fraction`: above this fraction of `memory_limit`
    /// of process memory (resident set size, checked every
    /// `metrics_interval`), the worker tells the scheduler it is leaving
    /// and stops with [`WorkerError::MemoryLimit`](crate::WorkerError::MemoryLimit)
    /// (its nanny restarts it). `None`: never. Otherwise within (0, 1].
    /// Default [`DEFAULT_MEMORY_TERMINATE_FRACTION`].
    pub memory_terminate_fraction: Option<f64>,
    /// `spill_dir`: where spilled values are written. The worker creates a
    /// directory of its own inside it (private, uniquely named) and removes
    /// it with everything in it when it stops. `None`: a fresh directory in
    /// the system's temporary directory. The directory is made only if the
    /// worker can spill (`memory_limit` and `memory_target_fraction` set).
    /// Default `None`.
    pub spill_dir: Option<PathBuf>,
    /// `spill_bytes_max`: bytes of spilled values the worker keeps on disk
    /// at most (0: no limit); past it values stay in memory (and the pause
    /// fraction then applies). Default 0.
    pub spill_bytes_max: u64,
    /// `metrics_interval`: how often the worker sends its memory metrics
    /// to the scheduler (also its sign of life: keep it well under the
    /// scheduler's `worker_ttl`, 10 s by default, or the worker is removed
    /// between two) and checks the terminate fraction. More than zero.
    /// Default [`DEFAULT_METRICS_INTERVAL`].
    pub metrics_interval: Duration,
    /// `restart`: what a `Restart` command does. Default
    /// [`RestartMode::InPlace`].
    pub restart: RestartMode,
    /// `listen`: where the data port binds, `host:port` (port 0: any free
    /// port). If the host is unspecified (`0.0.0.0`, `::`) the worker
    /// advertises the address of the interface it reaches the scheduler
    /// through. Default [`DEFAULT_LISTEN`].
    pub listen: String,
    /// The sandbox's settings. `instances_max` is raised to `nthreads` if it
    /// is below it (each executor thread holds at most one instance).
    /// Default: [`RuntimeConfig::default`] with `instances_max = nthreads`.
    pub runtime: RuntimeConfig,
    /// The limits every task runs under (memory, time, fuel, result and log
    /// size). `result_bytes_max` should not exceed
    /// `connection.frame_bytes_max`, or results over the frame limit could
    /// be computed but never served. Default [`TaskLimits::default`].
    pub limits: TaskLimits,
    /// Limits of every connection the worker opens or accepts (frame size,
    /// handshake timeout); the handshake timeout also bounds the wait for
    /// the scheduler's welcome. Default [`ConnectionLimits::default`].
    pub connection: ConnectionLimits,
    /// `fetch_timeout`: how long one request for inputs to one holder may
    /// take, connecting included; past it the holder counts as failed and
    /// the next holder is tried. Default [`DEFAULT_FETCH_TIMEOUT`].
    pub fetch_timeout: Duration,
    /// `max_connections`: how many connections the data port serves at
    /// once; connections over it are closed at once, with a warning.
    /// Default [`DEFAULT_MAX_CONNECTIONS`].
    pub max_connections: usize,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        let nthreads = default_nthreads();
        WorkerConfig {
            scheduler: DEFAULT_SCHEDULER.to_string(),
            token: None,
            tls: None,
            name: DEFAULT_NAME.to_string(),
            instance: new_instance(),
            nthreads,
            memory_limit: 0,
            memory_target_fraction: Some(DEFAULT_MEMORY_TARGET_FRACTION),
            memory_pause_fraction: Some(DEFAULT_MEMORY_PAUSE_FRACTION),
            memory_terminate_fraction: Some(DEFAULT_MEMORY_TERMINATE_FRACTION),
            spill_dir: None,
            spill_bytes_max: 0,
            metrics_interval: DEFAULT_METRICS_INTERVAL,
            restart: RestartMode::InPlace,
            listen: DEFAULT_LISTEN.to_string(),
            runtime: RuntimeConfig {
                instances_max: nthreads,
                ..RuntimeConfig::default()
            },
            limits: TaskLimits::default(),
            connection: ConnectionLimits::default(),
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl WorkerConfig {
    /// The default configuration for a worker of the scheduler at `addr`.
    pub fn new(scheduler: impl Into<String>) -> Self {
        WorkerConfig {
            scheduler: scheduler.into(),
            ..WorkerConfig::default()
        }
    }

    /// Checks the settings that have no meaningful value at zero.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.nthreads == 0 {
            return Err("nthreads must be at least 1".into());
        }
        if self.max_connections == 0 {
            return Err("max_connections must be at least 1".into());
        }
        if self.fetch_timeout.is_zero() {
            return Err("fetch_timeout must be more than zero".into());
        }
        if self.metrics_interval.is_zero() {
            return Err("metrics_interval must be more than zero".into());
        }
        for (name, fraction) in [
            ("memory_target_fraction", self.memory_target_fraction),
            ("memory_pause_fraction", self.memory_pause_fraction),
            ("memory_terminate_fraction", self.memory_terminate_fraction),
        ] {
            if let Some(fraction) = fraction
                && !(fraction > 0.0 && fraction <= 1.0)
            {
                return Err(format!(
                    "{name} must be within (0, 1] (or unset to disable), not {fraction}"
                ));
            }
        }
        Ok(())
    }

    /// The memory thresholds in bytes, from `memory_limit` and the
    /// fractions.
    pub(crate) fn thresholds(&self) -> Thresholds {
        let of = |fraction: Option<f64>| match (self.memory_limit, fraction) {
            (0, _) | (_, None) => None,
            // Lossy for limits over 2^53 bytes, which is fine for a fraction.
            (limit, Some(fraction)) => Some((limit as f64 * fraction) as u64),
        };
        Thresholds {
            limit: self.memory_limit,
            target: of(self.memory_target_fraction),
            pause: of(self.memory_pause_fraction),
            terminate: of(self.memory_terminate_fraction),
            terminate_fraction: self.memory_terminate_fraction.unwrap_or(0.0),
        }
    }
}

/// The machine's available parallelism, at least 1.
pub fn default_nthreads() -> u32 {
    std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
        .unwrap_or(1)
}

/// A fresh worker instance number: unique in practice (a hash of the
/// process id, the time and a counter), not secret.
pub fn new_instance() -> u64 {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut hasher = blake3::Hasher::new();
    hasher.update(&std::process::id().to_le_bytes());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.update(&now.as_nanos().to_le_bytes());
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    hasher.update(&n.to_le_bytes());
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&hasher.finalize().as_bytes()[..8]);
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_or_out_of_range_settings_are_refused() {
        assert_eq!(WorkerConfig::default().validate(), Ok(()));
        let config = WorkerConfig {
            metrics_interval: Duration::ZERO,
            ..WorkerConfig::default()
        };
        assert!(config.validate().unwrap_err().contains("metrics_interval"));
        for bad in [0.0, -0.5, 1.5, f64::NAN] {
            let config = WorkerConfig {
                memory_pause_fraction: Some(bad),
                ..WorkerConfig::default()
            };
            let error = config.validate().unwrap_err();
            assert!(error.contains("memory_pause_fraction"), "{error}");
        }
        let config = WorkerConfig {
            memory_target_fraction: None,
            memory_pause_fraction: Some(1.0),
            ..WorkerConfig::default()
        };
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn thresholds_are_fractions_of_the_limit() {
        assert_eq!(
            WorkerConfig::default().thresholds(),
            Thresholds {
                limit: 0,
                target: None,
                pause: None,
                terminate: None,
                terminate_fraction: DEFAULT_MEMORY_TERMINATE_FRACTION,
            }
        );
        let config = WorkerConfig {
            memory_limit: 1000,
            memory_pause_fraction: None,
            ..WorkerConfig::default()
        };
        let thresholds = config.thresholds();
        assert_eq!(thresholds.target, Some(600));
        assert_eq!(thresholds.pause, None);
        assert_eq!(thresholds.terminate, Some(950));
    }
}
