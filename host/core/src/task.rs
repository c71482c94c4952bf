//! The scheduler's record of one task ([`Task`]) and its state
//! ([`TaskState`]), whose variants carry the data that is true only in
//! that state: who holds a result exists only in `Memory`, a failure only
//! in `Erred`, the worker and run only in `Processing`.
//!
//! A task's state is a private field: only this module and its children
//! can write it. `transition.rs` holds the one way to change it (checked
//! against the table of allowed changes, with the bookkeeping of entering
//! and leaving each state) and the few narrow writers of state data in
//! place; `table.rs` holds the tasks and their generational ids.

mod dependents;
mod table;
mod transition;

pub(crate) use dependents::Dependents;

pub(crate) use table::{TaskId, TaskTable};
pub(crate) use transition::IllegalTransition;

use crate::ids::{ClientId, TenantId, WorkerId};
use crate::messages::{TaskFailure, TaskSpec};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::sync::Arc;
use weft_schema::graph::TaskKey;

/// A task's state and the data that belongs to it. Exactly one at a time;
/// changed only by `Scheduler::transition` (which logs every change), its
/// data changed in place only by the helpers beside it.
#[derive(Debug, Clone)]
pub(crate) enum TaskState {
    /// Known (its lineage is kept), but no result and not needed now.
    Released,
    /// Needed; waiting for `deps_left` (at least 1) inputs to be in memory.
    Waiting { deps_left: u32 },
    /// Needed and ready; held at the scheduler (in `Scheduler::queue`)
    /// until a worker has room.
    Queued,
    /// Sent to `worker` as run `run`, listed in its `processing`. Run
    /// numbers are the scheduler's, one per dispatch of any task, so a
    /// late report of an earlier run (of this task, or of an earlier task
    /// under the same key) never matches.
    Processing { worker: WorkerId, run: u32 },
    /// The result, `nbytes` long, is held by the workers in `who_has` (at
    /// least one, each once, each listing it in its `has_what`).
    Memory {
        who_has: SmallVec<[WorkerId; 1]>,
        nbytes: u64,
    },
    /// Failed (itself or a dependency) with `failure`.
    Erred { failure: Arc<TaskFailure> },
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
            TaskState::Memory { .. } => StateName::Memory,
            TaskState::Erred { .. } => StateName::Erred,
        }
    }

    /// Whether a task in this state needs its inputs.
    pub(crate) fn needs_inputs(&self) -> bool {
        matches!(
            self,
            TaskState::Waiting { .. } | TaskState::Queued | TaskState::Processing { .. }
        )
    }

    /// The workers holding the result: none unless in memory.
    pub(crate) fn who_has(&self) -> &[WorkerId] {
        match self {
            TaskState::Memory { who_has, .. } => who_has,
            _ => &[],
        }
    }

    /// Whether `worker` holds the result.
    pub(crate) fn holds(&self, worker: WorkerId) -> bool {
        self.who_has().contains(&worker)
    }

    /// The result's size, if in memory.
    pub(crate) fn nbytes(&self) -> Option<u64> {
        match self {
            TaskState::Memory { nbytes, .. } => Some(*nbytes),
            _ => None,
        }
    }

    /// The failure, if erred.
    pub(crate) fn failure(&self) -> Option<&Arc<TaskFailure>> {
        match self {
            TaskState::Erred { failure } => Some(failure),
            _ => None,
        }
    }

    /// The worker and run, if processing.
    pub(crate) fn processing(&self) -> Option<(WorkerId, u32)> {
        match self {
            TaskState::Processing { worker, run } => Some((*worker, *run)),
            _ => None,
        }
    }
}

/// One task. Kept per task in a slab for up to millions of tasks, so its
/// size is pinned below. A field lives here only if it is true across
/// states; everything true in one state only is in [`TaskState`].
#[derive(Debug)]
pub(crate) struct Task {
    /// The key workers know it by (`wire_key(tenant, name)`).
    pub(crate) key: TaskKey,
    /// Its tenant's name for it, the key its clients see.
    pub(crate) name: TaskKey,
    pub(crate) tenant: TenantId,
    /// Private: read with [`Task::state`], written only by
    /// `transition.rs`.
    state: TaskState,
    /// How to compute it; `None` for scattered data, which cannot be
    /// recomputed. Lineage: kept in every state, so lost data can be.
    pub(crate) spec: Option<Arc<TaskSpec>>,
    /// Its function's index in the duration estimates (any state: the
    /// estimate is read when it is dispatched and written when it ends).
    pub(crate) function: u32,
    /// The graph's edges, in every state (lineage).
    pub(crate) dependencies: Box<[TaskId]>,
    pub(crate) dependents: Dependents,
    /// How many of `dependents` are in a state that needs this task's
    /// result (waiting, queued, processing): kept by `transition.rs`, so
    /// that "is it still needed" costs nothing however many dependents a
    /// shared input has.
    pub(crate) needed_by: u32,
    /// The clients holding a future to it, in any state (references).
    pub(crate) who_wants: SmallVec<[ClientId; 1]>,
    /// Queue order; fixed at submission, used whenever it is queued.
    pub(crate) priority: u64,
    /// Retries left after failed runs: spans every run, so not the
    /// state's.
    pub(crate) retries_left: u32,
    /// Worker deaths this task was running during, across runs.
    pub(crate) deaths: u32,
}

// tako's `static_assert_size!`: the record is stored per task; a field
// added here costs that much for every task. (184 bytes before the states
// carried their data; 168 before `needed_by`.)
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Task>() <= 176);

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
            dependents: Dependents::default(),
            needed_by: 0,
            who_wants: SmallVec::new(),
            priority,
            retries_left: retries,
            deaths: 0,
        }
    }

    /// Its state and the state's data.
    pub(crate) fn state(&self) -> &TaskState {
        &self.state
    }

    /// Whether it is in state `name`.
    pub(crate) fn is(&self, name: StateName) -> bool {
        self.state.name() == name
    }
}
