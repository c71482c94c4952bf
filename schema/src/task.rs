//! What a task is and how it can fail, as every process sees it: the
//! task description workers run ([`TaskSpec`]), the failure record a
//! client sees ([`TaskFailure`]) and what a published dataset holds
//! ([`DatasetValue`]).

use crate::graph::TaskKey;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A module's content hash.
pub type ModuleHash = [u8; 32];

/// How to compute a task: a function of a module applied to arguments.
/// Encoded as the module hash, the function's name and the arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// The module and function: shared by every task of that function (a
    /// scheduler holding 10^6 tasks of one function holds its name once).
    pub function: Arc<TaskFunction>,
    /// The arguments in order; their encodings are concatenated.
    pub args: Vec<SpecArg>,
}

impl TaskSpec {
    /// The spec of `name` in `module` applied to `args`.
    pub fn new(module: ModuleHash, name: impl Into<String>, args: Vec<SpecArg>) -> TaskSpec {
        TaskSpec {
            function: Arc::new(TaskFunction {
                module,
                name: name.into(),
            }),
            args,
        }
    }

    /// The module, by content hash.
    pub fn module(&self) -> &ModuleHash {
        &self.function.module
    }

    /// The task function's name.
    pub fn function_name(&self) -> &str {
        &self.function.name
    }
}

/// A task function: a module, by content hash, and the function's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TaskFunction {
    /// The module, by content hash.
    pub module: ModuleHash,
    /// The task function's name.
    pub name: String,
}

impl std::fmt::Display for TaskFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// One argument of a [`TaskSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpecArg {
    /// A literal encoded value.
    Value(Vec<u8>),
    /// The result of another task, spliced in unchanged.
    Key(TaskKey),
}

/// Why a task has no result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureKind {
    /// The task itself failed (guest error, panic, trap, limit).
    Task,
    /// Workers died while running it too many times.
    KilledWorker,
    /// Its data is gone and cannot be recomputed (scattered data).
    DataLost,
    /// The dataset it came from is no longer shared with this tenant.
    AccessRevoked,
    /// Keeping its result would take its tenant past a limit (see
    /// `TaskFailure::quota`).
    QuotaExceeded,
}

/// The failure a client sees for an erred key. For a key whose dependency
/// failed, `origin` is the dependency's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFailure {
    /// The key whose run failed.
    pub origin: TaskKey,
    /// The category.
    pub kind: FailureKind,
    /// The full message (for task failures, the runtime's error text).
    pub message: String,
    /// For [`FailureKind::QuotaExceeded`]: the limit and its figures.
    #[serde(default)]
    pub quota: Option<crate::quota::QuotaExceeded>,
}

/// What a published dataset holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetValue {
    /// Its partitions' keys, in order.
    pub keys: Vec<TaskKey>,
    /// For a lazy (un-persisted) collection: the Cap'n Proto graph of every
    /// task it needs, which whoever gets it submits to compute it from
    /// scratch. `None`: the keys are held in distributed memory.
    #[serde(with = "serde_bytes")]
    pub graph: Option<Vec<u8>>,
    /// Small metadata published with it (JSON text; empty: none).
    pub metadata: String,
    /// The type of each partition (a `weft_schema::signature::Type` as
    /// JSON), when known, so that tools can show the values.
    pub ret: Option<String>,
}
