//! Per-tenant limits ([`TenantLimits`]) and the error a request gets when
//! one of them, or a limit of the whole cluster, has run out
//! ([`QuotaExceeded`]). The error carries the exact figures, so that a
//! client acts on them; its text is rounded for people, in the style of
//! Kubernetes' resource quotas:
//!
//! ```text
//! exceeded quota: tenant alice stored_bytes_max, requested: 64 MiB, used: 1.9 GiB, limited: 2 GiB
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;

/// A named limit. Its name is the field of the tenants file that sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum QuotaLimit {
    /// `tasks_queued_max`: the tenant's tasks submitted and not yet done
    /// (waiting for inputs, queued or running).
    TasksQueuedMax,
    /// `tasks_running_max`: the executor slots its tasks may hold at once.
    TasksRunningMax,
    /// `stored_bytes_max`: the bytes of results its references keep (in
    /// memory or spilled; each result once, however many copies).
    StoredBytesMax,
    /// `modules_bytes_max`: the bytes of the modules it uploaded.
    ModulesBytesMax,
    /// `datasets_max`: its published datasets.
    DatasetsMax,
    /// `clients_max`: its clients (connected, or within their grace).
    ClientsMax,
    /// `graph_tasks_max`: the tasks of one submission.
    GraphTasksMax,
    /// `module_store_bytes_max`: the scheduler's module store, for every
    /// tenant together (a cluster limit).
    ModuleStoreBytesMax,
}

impl QuotaLimit {
    /// Every limit, in the order the tenants file documents them.
    pub const ALL: [QuotaLimit; 8] = [
        QuotaLimit::TasksQueuedMax,
        QuotaLimit::TasksRunningMax,
        QuotaLimit::StoredBytesMax,
        QuotaLimit::ModulesBytesMax,
        QuotaLimit::DatasetsMax,
        QuotaLimit::ClientsMax,
        QuotaLimit::GraphTasksMax,
        QuotaLimit::ModuleStoreBytesMax,
    ];

    /// Its name in the tenants file and in messages.
    pub const fn name(self) -> &'static str {
        match self {
            QuotaLimit::TasksQueuedMax => "tasks_queued_max",
            QuotaLimit::TasksRunningMax => "tasks_running_max",
            QuotaLimit::StoredBytesMax => "stored_bytes_max",
            QuotaLimit::ModulesBytesMax => "modules_bytes_max",
            QuotaLimit::DatasetsMax => "datasets_max",
            QuotaLimit::ClientsMax => "clients_max",
            QuotaLimit::GraphTasksMax => "graph_tasks_max",
            QuotaLimit::ModuleStoreBytesMax => "module_store_bytes_max",
        }
    }

    /// Whether it counts bytes (rendered with binary units) rather than
    /// things.
    pub const fn counts_bytes(self) -> bool {
        matches!(
            self,
            QuotaLimit::StoredBytesMax
                | QuotaLimit::ModulesBytesMax
                | QuotaLimit::ModuleStoreBytesMax
        )
    }

    /// The figure as this limit's messages show it: bytes with a binary
    /// unit, counts as they are.
    pub fn show(self, value: u64) -> String {
        if self.counts_bytes() {
            show_bytes(value)
        } else {
            value.to_string()
        }
    }
}

impl fmt::Display for QuotaLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whose limit ran out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum QuotaScope {
    /// The tenant's own limit (from the tenants file or its defaults).
    Tenant(String),
    /// A limit of the whole cluster, shared by every tenant.
    Cluster,
}

impl fmt::Display for QuotaScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuotaScope::Tenant(name) => write!(f, "tenant {name}"),
            QuotaScope::Cluster => f.write_str("cluster"),
        }
    }
}

/// A request would take a limit past its value; nothing of it was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error(
    "exceeded quota: {scope} {limit}, requested: {}, used: {}, limited: {}",
    limit.show(*requested),
    limit.show(*used),
    limit.show(*limit_value)
)]
pub struct QuotaExceeded {
    /// Which limit.
    pub limit: QuotaLimit,
    /// The tenant's, or the cluster's.
    pub scope: QuotaScope,
    /// What the request asked for (tasks, bytes, datasets, ...).
    pub requested: u64,
    /// What was in use before it.
    pub used: u64,
    /// The limit's value.
    pub limit_value: u64,
}

impl QuotaExceeded {
    /// Whether `requested` more on top of `used` passes `limit_value`
    /// (`None`: no limit); the error if it does.
    pub fn check(
        limit: QuotaLimit,
        scope: impl FnOnce() -> QuotaScope,
        requested: u64,
        used: u64,
        limit_value: Option<u64>,
    ) -> Result<(), QuotaExceeded> {
        match limit_value {
            Some(limit_value) if used.checked_add(requested).is_none_or(|t| t > limit_value) => {
                Err(QuotaExceeded {
                    limit,
                    scope: scope(),
                    requested,
                    used,
                    limit_value,
                })
            }
            _ => Ok(()),
        }
    }
}

/// A tenant's limits; `None` is no limit. The tenants file sets them per
/// tenant, over cluster-wide defaults, and a reload changes them at once:
/// a lowered limit refuses new requests, never takes back what is held.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantLimits {
    /// See [`QuotaLimit::TasksQueuedMax`].
    pub tasks_queued_max: Option<u64>,
    /// See [`QuotaLimit::TasksRunningMax`].
    pub tasks_running_max: Option<u64>,
    /// See [`QuotaLimit::StoredBytesMax`].
    pub stored_bytes_max: Option<u64>,
    /// See [`QuotaLimit::ModulesBytesMax`].
    pub modules_bytes_max: Option<u64>,
    /// See [`QuotaLimit::DatasetsMax`].
    pub datasets_max: Option<u64>,
    /// See [`QuotaLimit::ClientsMax`].
    pub clients_max: Option<u64>,
    /// See [`QuotaLimit::GraphTasksMax`].
    pub graph_tasks_max: Option<u64>,
    /// `submit_tasks_per_s`: the rate at which its submitted tasks are
    /// admitted; past it (and its burst) submissions wait, in order, rather
    /// than fail (up to `tasks_queued_max`).
    pub submit_tasks_per_s: Option<u64>,
    /// `submit_burst_tasks`: tasks admitted at once above the rate after
    /// a quiet spell (default: one second's worth of the rate).
    pub submit_burst_tasks: Option<u64>,
    /// The most each of its tasks may use, whatever a worker allows.
    pub task_ceilings: TaskCeilings,
}

/// Ceilings on what one task of a tenant may use: each task runs under its
/// worker's limit or the ceiling, whichever is lower. A task cannot raise
/// them (tasks carry no limits of their own). `None`: the worker's limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TaskCeilings {
    /// `task_memory_max`: linear memory, in bytes.
    pub memory_bytes_max: Option<u64>,
    /// `task_timeout_max`: wall-clock time, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// `task_fuel_max`: wasm instructions (fuel units). Needs workers
    /// started with fuel metering (`--fuel`); on another worker the task
    /// fails with an error that says so.
    pub fuel_max: Option<u64>,
}

impl TaskCeilings {
    /// Whether no ceiling is set.
    pub fn is_none(&self) -> bool {
        *self == TaskCeilings::default()
    }

    /// `self`'s ceilings, with `defaults`' where `self` sets none.
    pub fn over(&self, defaults: &TaskCeilings) -> TaskCeilings {
        TaskCeilings {
            memory_bytes_max: self.memory_bytes_max.or(defaults.memory_bytes_max),
            timeout_ms: self.timeout_ms.or(defaults.timeout_ms),
            fuel_max: self.fuel_max.or(defaults.fuel_max),
        }
    }
}

impl TenantLimits {
    /// The value of a named limit (`None`: unlimited, or not a tenant
    /// limit).
    pub fn get(&self, limit: QuotaLimit) -> Option<u64> {
        match limit {
            QuotaLimit::TasksQueuedMax => self.tasks_queued_max,
            QuotaLimit::TasksRunningMax => self.tasks_running_max,
            QuotaLimit::StoredBytesMax => self.stored_bytes_max,
            QuotaLimit::ModulesBytesMax => self.modules_bytes_max,
            QuotaLimit::DatasetsMax => self.datasets_max,
            QuotaLimit::ClientsMax => self.clients_max,
            QuotaLimit::GraphTasksMax => self.graph_tasks_max,
            QuotaLimit::ModuleStoreBytesMax => None,
        }
    }

    /// `self`'s limits, with `defaults`' where `self` sets none.
    pub fn over(&self, defaults: &TenantLimits) -> TenantLimits {
        TenantLimits {
            tasks_queued_max: self.tasks_queued_max.or(defaults.tasks_queued_max),
            tasks_running_max: self.tasks_running_max.or(defaults.tasks_running_max),
            stored_bytes_max: self.stored_bytes_max.or(defaults.stored_bytes_max),
            modules_bytes_max: self.modules_bytes_max.or(defaults.modules_bytes_max),
            datasets_max: self.datasets_max.or(defaults.datasets_max),
            clients_max: self.clients_max.or(defaults.clients_max),
            graph_tasks_max: self.graph_tasks_max.or(defaults.graph_tasks_max),
            submit_tasks_per_s: self.submit_tasks_per_s.or(defaults.submit_tasks_per_s),
            submit_burst_tasks: self.submit_burst_tasks.or(defaults.submit_burst_tasks),
            task_ceilings: self.task_ceilings.over(&defaults.task_ceilings),
        }
    }
}

/// What a tenant holds now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantUsage {
    /// Its tasks the scheduler knows, in any state.
    pub tasks: u64,
    /// Waiting for inputs.
    pub waiting: u64,
    /// Ready, at the scheduler.
    pub queued: u64,
    /// Sent to a worker and not yet reported (each holds an executor slot
    /// or waits for one on its worker).
    pub processing: u64,
    /// With a result in memory (or spilled).
    pub memory: u64,
    /// Failed.
    pub erred: u64,
    /// The bytes of its results in memory (each result once, however many
    /// copies).
    pub stored_bytes: u64,
}

impl TenantUsage {
    /// Its tasks submitted and not yet done: waiting, queued or processing
    /// (what `tasks_queued_max` bounds).
    pub fn pending(&self) -> u64 {
        self.waiting + self.queued + self.processing
    }
}

/// One tenant as `weft status --tenants` shows it: its policy, what it
/// uses and how close each use is to its limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantStatus {
    /// Its name.
    pub name: String,
    /// Its weight in the fair share.
    pub weight: u32,
    /// Its limits (its own over the defaults).
    pub limits: TenantLimits,
    /// Its tasks by state and the bytes its results hold.
    pub usage: TenantUsage,
    /// New tasks of its graphs waiting for its submit rate (counted in
    /// `tasks_queued_max`).
    pub waiting_admission: u64,
    /// The bytes of the modules it uploaded.
    pub modules_bytes: u64,
    /// Its published datasets.
    pub datasets: u64,
    /// Its clients (connected, or within their grace).
    pub clients: u64,
    /// Executor microseconds its tasks ran that finished in the last
    /// minute (slot-seconds × 10^6).
    pub slot_us_last_minute: u64,
}

impl TenantStatus {
    /// Each limit that is set, with what is used of it: (limit, used,
    /// value).
    pub fn uses(&self) -> Vec<(QuotaLimit, u64, u64)> {
        QuotaLimit::ALL
            .into_iter()
            .filter_map(|limit| {
                let used = match limit {
                    QuotaLimit::TasksQueuedMax => self.usage.pending() + self.waiting_admission,
                    QuotaLimit::TasksRunningMax => self.usage.processing,
                    QuotaLimit::StoredBytesMax => self.usage.stored_bytes,
                    QuotaLimit::ModulesBytesMax => self.modules_bytes,
                    QuotaLimit::DatasetsMax => self.datasets,
                    QuotaLimit::ClientsMax => self.clients,
                    QuotaLimit::GraphTasksMax | QuotaLimit::ModuleStoreBytesMax => return None,
                };
                Some((limit, used, self.limits.get(limit)?))
            })
            .collect()
    }
}

/// `bytes` with a binary unit and at most one decimal: `512 B`, `64 MiB`,
/// `1.9 GiB`.
pub fn show_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let tenths = (value * 10.0).round() / 10.0;
    if tenths.fract() == 0.0 {
        format!("{tenths:.0} {}", UNITS[unit])
    } else {
        format!("{tenths:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_reads_like_kubernetes() {
        let error = QuotaExceeded {
            limit: QuotaLimit::StoredBytesMax,
            scope: QuotaScope::Tenant("alice".into()),
            requested: 64 << 20,
            used: 2_040_109_466,
            limit_value: 2 << 30,
        };
        assert_eq!(
            error.to_string(),
            "exceeded quota: tenant alice stored_bytes_max, requested: 64 MiB, used: 1.9 GiB, \
             limited: 2 GiB"
        );
        let error = QuotaExceeded {
            limit: QuotaLimit::GraphTasksMax,
            scope: QuotaScope::Cluster,
            requested: 1_000_001,
            used: 0,
            limit_value: 1_000_000,
        };
        assert_eq!(
            error.to_string(),
            "exceeded quota: cluster graph_tasks_max, requested: 1000001, used: 0, limited: 1000000"
        );
    }

    #[test]
    fn bytes_are_shown_in_binary_units() {
        assert_eq!(show_bytes(0), "0 B");
        assert_eq!(show_bytes(1023), "1023 B");
        assert_eq!(show_bytes(1024), "1 KiB");
        assert_eq!(show_bytes(1536), "1.5 KiB");
        assert_eq!(show_bytes(u64::MAX), "16 EiB");
    }

    #[test]
    fn a_check_passes_up_to_the_limit_exactly() {
        let scope = || QuotaScope::Tenant("t".into());
        let check = |requested, used, limit| {
            QuotaExceeded::check(QuotaLimit::DatasetsMax, scope, requested, used, limit)
        };
        assert_eq!(check(1, 9, Some(10)), Ok(()));
        assert_eq!(check(u64::MAX, u64::MAX, None), Ok(()));
        let error = check(2, 9, Some(10)).expect_err("over by one");
        assert_eq!((error.requested, error.used, error.limit_value), (2, 9, 10));
        assert!(check(u64::MAX, 1, Some(u64::MAX)).is_err(), "no overflow");
    }

    #[test]
    fn a_tenants_limits_override_the_defaults() {
        let defaults = TenantLimits {
            datasets_max: Some(10),
            clients_max: Some(4),
            ..TenantLimits::default()
        };
        let own = TenantLimits {
            datasets_max: Some(2),
            task_ceilings: TaskCeilings {
                timeout_ms: Some(500),
                ..TaskCeilings::default()
            },
            ..TenantLimits::default()
        };
        let defaults = TenantLimits {
            task_ceilings: TaskCeilings {
                memory_bytes_max: Some(1 << 20),
                timeout_ms: Some(60_000),
                fuel_max: None,
            },
            ..defaults
        };
        let both = own.over(&defaults);
        assert_eq!(both.get(QuotaLimit::DatasetsMax), Some(2));
        assert_eq!(both.get(QuotaLimit::ClientsMax), Some(4));
        assert_eq!(both.get(QuotaLimit::StoredBytesMax), None);
        assert_eq!(
            both.task_ceilings,
            TaskCeilings {
                memory_bytes_max: Some(1 << 20),
                timeout_ms: Some(500),
                fuel_max: None,
            }
        );
        assert!(TaskCeilings::default().is_none());
        assert!(!both.task_ceilings.is_none());
    }
}
