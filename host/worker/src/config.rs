//! Everything a worker can be told when it starts: [`WorkerConfig`], with
//! the name, default and meaning of each setting and limit.

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

/// How a worker is set up. Every field has a default ([`Default`]); a
/// worker with the defaults joins a scheduler on `127.0.0.1:8786`.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `scheduler`: the scheduler's address, `host:port`. Default
    /// [`DEFAULT_SCHEDULER`].
    pub scheduler: String,
    /// `name`: the worker's name in logs and in the scheduler's worker list.
    /// Not required to be unique. At most a few KiB (it travels in the
    /// hello). Default [`DEFAULT_NAME`].
    pub name: String,
    /// `nthreads`: how many executor threads run tasks at once. At least 1.
    /// Default: the machine's available parallelism.
    pub nthreads: u32,
    /// `memory_limit`: bytes of results the worker should hold at most
    /// (0: none). Only reported to the scheduler for now. Default 0.
    pub memory_limit: u64,
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
            name: DEFAULT_NAME.to_string(),
            nthreads,
            memory_limit: 0,
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
        Ok(())
    }
}

/// The machine's available parallelism, at least 1.
pub fn default_nthreads() -> u32 {
    std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
        .unwrap_or(1)
}
