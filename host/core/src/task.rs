//! The scheduler's record of one task and its state.

use crate::ids::{ClientId, TaskId, TenantId, WorkerId};
use crate::messages::{TaskFailure, TaskSpec};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::sync::Arc;
use weft_schema::graph::TaskKey;

/// A task's state. Exactly one at a time; changed only by
/// `Scheduler::transition`, which logs every change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskState {
    /// Known (its lineage is kept), but no result and not needed now.
    Released,
    /// Needed; waiting for `deps_left` inputs to be in memory.
    Waiting { deps_left: u32 },
    /// Needed and ready; held at the scheduler until a worker has room.
    Queued,
    /// Sent to `worker` as run number `Task::runs`.
    Processing { worker: WorkerId },
    /// The result is held by the workers in `who_has`.
    Memory,
    /// Failed (itself or a dependency); see `failure`.
    Erred,
}

/// The name of a state, for logs and queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StateName {
    /// See the docs of the task states.
    Released,
    /// Waiting for inputs.
    Waiting,
    /// Ready, held at the scheduler.
    Queued,
    /// Running on a worker.
    Processing,
    /// Result in memory.
    Memory,
    /// Failed.
    Erred,
    /// Removed from the scheduler.
    Forgotten,
}

impl TaskState {
    pub(crate) fn name(&self) -> StateName {
        match self {
            TaskState::Released => StateName::Released,
            TaskState::Waiting { .. } => StateName::Waiting,
            TaskState::Queued => StateName::Queued,
            TaskState::Processing { .. } => StateName::Processing,
            TaskState::Memory => StateName::Memory,
            TaskState::Erred => StateName::Erred,
        }
    }

    /// Whether a task in this state needs its inputs.
    pub(crate) fn needs_inputs(&self) -> bool {
        matches!(
            self,
            TaskState::Waiting { .. } | TaskState::Queued | TaskState::Processing { .. }
        )
    }
}

/// One task.
#[derive(Debug)]
pub(crate) struct Task {
    /// The key workers know it by (`wire_key(tenant, name)`).
    pub(crate) key: TaskKey,
    /// Its tenant's name for it, the key its clients see.
    pub(crate) name: TaskKey,
    pub(crate) tenant: TenantId,
    pub(crate) state: TaskState,
    /// How to compute it; `None` for scattered data, which cannot be recomputed.
    pub(crate) spec: Option<Arc<TaskSpec>>,
    pub(crate) function: u32,
    pub(crate) dependencies: Box<[TaskId]>,
    pub(crate) dependents: Vec<TaskId>,
    pub(crate) who_wants: SmallVec<[ClientId; 1]>,
    pub(crate) who_has: SmallVec<[WorkerId; 1]>,
    pub(crate) nbytes: u64,
    pub(crate) priority: u64,
    pub(crate) retries_left: u32,
    /// Dispatch count; the current run's number when processing.
    pub(crate) runs: u32,
    /// Worker deaths this task was running during.
    pub(crate) deaths: u32,
    pub(crate) failure: Option<Arc<TaskFailure>>,
}

impl Task {
    /// A released task.
    pub(crate) fn new(
        tenant: TenantId,
        name: TaskKey,
        spec: Option<Arc<TaskSpec>>,
        function: u32,
        dependencies: Box<[TaskId]>,
        priority: u64,
        retries: u32,
    ) -> Task {
        Task {
            key: crate::ids::wire_key(tenant, &name),
            name,
            tenant,
            state: TaskState::Released,
            spec,
            function,
            dependencies,
            dependents: Vec::new(),
            who_wants: SmallVec::new(),
            who_has: SmallVec::new(),
            nbytes: 0,
            priority,
            retries_left: retries,
            runs: 0,
            deaths: 0,
            failure: None,
        }
    }
}
