//! Worker ↔ scheduler messages: [`WorkerReport`] up, [`WorkerCommand`]
//! down, and the task instructions they carry.

use super::WorkerMetrics;
use crate::tickets::{Ticket, TicketSecret};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use weft_schema::graph::TaskKey;
use weft_schema::ids::{TenantId, WorkerId};
use weft_schema::quota::TaskCeilings;
use weft_schema::task::TaskSpec;

/// Worker → scheduler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WorkerReport {
    /// The first message: who the worker is. Answered by
    /// [`WorkerCommand::Welcome`].
    Register {
        /// Executor threads.
        nthreads: u32,
        /// Where peers fetch its data, `host:port`.
        data_addr: String,
        /// Its name.
        name: String,
        /// Its memory limit in bytes (0: none).
        memory_limit: u64,
        /// Its process id.
        pid: u32,
        /// Its instance: chosen by its nanny (or at its start, without
        /// one) and the same across its restarts, so that a restart knows
        /// the workers that are back from new ones.
        instance: u64,
    },
    /// A task finished; the result is held by the worker.
    Finished {
        /// The task.
        key: TaskKey,
        /// The run it was given.
        run: u32,
        /// The result's size.
        nbytes: u64,
        /// How long it ran.
        duration_us: u64,
    },
    /// A task failed.
    Erred {
        /// The task.
        key: TaskKey,
        /// The run it was given.
        run: u32,
        /// The runtime's error text.
        message: String,
    },
    /// Inputs of a task could not be fetched from the holders named.
    FetchFailed {
        /// The task.
        key: TaskKey,
        /// The run it was given.
        run: u32,
        /// (input, holder that failed).
        missing: Vec<(TaskKey, WorkerId)>,
    },
    /// The worker keeps a copy of an input it fetched.
    Replica {
        /// The key.
        key: TaskKey,
    },
    /// The answer to [`WorkerCommand::Steal`].
    StealResponse {
        /// The task.
        key: TaskKey,
        /// The run asked for.
        run: u32,
        /// True if the task was given up (it had not started).
        stolen: bool,
    },
    /// Send me this module ([`WorkerCommand::Module`]).
    GetModule {
        /// Its hash.
        hash: [u8; 32],
    },
    /// A copy asked for by [`WorkerCommand::Fetch`] could not be made.
    ReplicaFailed {
        /// The key.
        key: TaskKey,
        /// Why.
        message: String,
    },
    /// Sent every metrics interval (also a sign of life).
    Metrics(WorkerMetrics),
    /// The worker is about to exit on its own, and why (for example
    /// "restarted: memory limit ..."); its connection closes next.
    Leaving {
        /// Why.
        reason: String,
    },
    /// The worker has done a [`WorkerCommand::Restart`] in place, or a
    /// [`WorkerCommand::Rejoin`]: it holds nothing and runs nothing.
    Restarted,
    /// The tasks its executor threads are running now (sent with every
    /// `Metrics`): if the worker dies, these are the ones its death is
    /// blamed on, not the tasks that wait for inputs.
    Running {
        /// Each task's key and run.
        tasks: Vec<(TaskKey, u32)>,
    },
    /// The module would be refused by any worker (over a compile limit,
    /// against the ABI, invalid), and why: the scheduler answers further
    /// [`WorkerReport::GetModule`]s with [`WorkerCommand::ModuleRefused`],
    /// so that no other worker compiles it again.
    ModuleRefused {
        /// Its hash.
        hash: [u8; 32],
        /// The refusal, as the runtime said it.
        message: String,
        /// Whether it is for what the bytes are (kept as long as the
        /// module), rather than for a compile deadline or memory ceiling a
        /// loaded machine may miss (kept for `module_refusal_ttl`).
        lasting: bool,
    },
}

/// Scheduler → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WorkerCommand {
    /// Registration accepted.
    Welcome {
        /// The worker's id.
        worker: WorkerId,
        /// The key data-port tickets are signed with: the worker checks
        /// every ticket presented to its data port with it.
        ticket_secret: TicketSecret,
    },
    /// Run a task.
    Compute(WireCompute),
    /// Drop these results; drop these tasks if not started, and discard
    /// their results if running.
    Free {
        /// The keys.
        keys: Vec<TaskKey>,
    },
    /// A module the worker asked for.
    Module {
        /// Its hash.
        hash: [u8; 32],
        /// Its bytes.
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// The scheduler has no module with this hash.
    ModuleMissing {
        /// Its hash.
        hash: [u8; 32],
    },
    /// A worker already refused this module ([`WorkerReport::ModuleRefused`]);
    /// the tasks that need it fail with this message, and it is not
    /// compiled again.
    ModuleRefused {
        /// Its hash.
        hash: [u8; 32],
        /// The refusal.
        message: String,
    },
    /// Give this task up if it has not started; answer with
    /// [`WorkerReport::StealResponse`] either way.
    Steal {
        /// The task.
        key: TaskKey,
        /// Its run.
        run: u32,
    },
    /// Fetch these values from their holders and keep them; answer
    /// [`WorkerReport::Replica`] or [`WorkerReport::ReplicaFailed`] for
    /// each.
    Fetch {
        /// The values and where they are.
        inputs: Vec<WireInput>,
    },
    /// Drop everything, stop every task. A worker run by a nanny exits
    /// (with [`EXIT_RESTART`]) so that a fresh process takes its place;
    /// one without clears itself and answers [`WorkerReport::Restarted`].
    Restart,
    /// The scheduler removed the worker from its books (it sent nothing
    /// for `worker_ttl`; its work went elsewhere): it drops every value and
    /// task, in place whatever its restart mode, and answers
    /// [`WorkerReport::Restarted`] to join again.
    Rejoin {
        /// Why it was removed.
        reason: String,
    },
}

/// The exit status of a worker process that exits to be restarted by its
/// nanny (a `Restart` command).
pub const EXIT_RESTART: i32 = 75;
/// The exit status of a worker process that exits because its process
/// memory passed the terminate fraction of its memory limit; its nanny
/// restarts it.
pub const EXIT_MEMORY: i32 = 76;

/// A task to run, with where its inputs are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireCompute {
    /// The task.
    pub key: TaskKey,
    /// Echo in the report.
    pub run: u32,
    /// Whose task it is: a worker shares its threads between tenants'
    /// queues, so that one tenant's backlog does not delay another's.
    pub tenant: TenantId,
    /// The tenant's weight in that sharing (zero counts as one).
    pub weight: u32,
    /// The tenant's ceilings on what the task may use: it runs under the
    /// worker's limits or these, whichever are lower.
    pub ceilings: TaskCeilings,
    /// What to run.
    pub spec: Arc<TaskSpec>,
    /// The inputs (`SpecArg::Key` arguments).
    pub inputs: Vec<WireInput>,
}

/// Where an input is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireInput {
    /// The input's key.
    pub key: TaskKey,
    /// Its size.
    pub nbytes: u64,
    /// Workers holding it, with their data ports.
    pub holders: Vec<(WorkerId, String)>,
    /// The ticket to get it from them with (issued to the worker the
    /// instruction is for).
    pub ticket: Ticket,
}
