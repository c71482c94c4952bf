//! The worker's decisions as a pure state machine: [`WorkerState`] takes
//! each thing that happens to a worker (a scheduler command, a finished
//! job, a fetch or module load that completed, the metrics tick) as a
//! [`Stimulus`] and answers with [`Instruction`]s for its driver
//! (`task_loop.rs`) to carry out: reports to send, jobs to run, inputs to
//! fetch or read back, modules to load, the pause, and when to stop. It
//! does no I/O, spawns nothing and reads no clock: time comes in with each
//! stimulus, so a simulation can drive it as the worker process does.
//!
//! What it owns: the task lifecycle, the de-duplication of fetches
//! (`inputs.rs`), the module table (`modules.rs`), the pause and terminate
//! decisions (`memory_watch.rs`) and the metrics schedule (the worker's
//! heartbeat). What it consults: the worker's values through [`Values`]
//! (the store in the worker process, a plain map in a simulation), whose
//! spilling policy (what goes to disk, least recently used first) is the
//! store's own, driven by the spiller.
//!
//! A task goes through:
//!
//! 1. **waiting**: its module is asked for (`GetModule`, once per module)
//!    and its missing inputs are fetched, all at once; `pending` counts what
//!    it still waits for. Tasks waiting for a module are parked in arrival
//!    order.
//! 2. **submitted**: module and inputs are at hand; [`Instruction::Execute`]
//!    hands the job to the executors (which start each tenant's jobs in
//!    that order, sharing their time between tenants by weight).
//! 3. gone: `Finished`/`Erred`/`FetchFailed` was reported, or the scheduler
//!    freed it.
//!
//! Tasks whose module and inputs are at hand when they arrive are submitted
//! at once, so each tenant's start in the order the scheduler sent them; a
//! task that waits for an input fetch is overtaken by later tasks that do
//! not.
//!
//! The driver feeds a batch of stimuli, calls [`WorkerState::end_batch`]
//! (which starts the fetches gathered, one per first holder, and re-decides
//! the pause), then carries out [`WorkerState::take_instructions`] in
//! order; reports of one batch go out in one write.

mod commands;
mod inputs;
mod job;
mod memory_watch;
mod modules;
#[cfg(test)]
mod tests;

pub use job::{Fetched, Job, JobDone, Ticket, Wanted};
pub use memory_watch::Thresholds;
pub use modules::{LoadFailure, ModuleSize};

use crate::config::RestartMode;
use bytes::Bytes;
use inputs::InFlight;
use memory_watch::MemoryWatch;
use modules::Modules;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use weft_core::{ModuleHash, TaskSpec, Time, WorkerId};
use weft_proto::messages::{WireInput, WorkerCommand, WorkerReport};
use weft_schema::graph::TaskKey;
use weft_schema::ids::TenantId;
use weft_schema::quota::TaskCeilings;

/// Where a value is, as [`Values::lookup`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// In memory.
    Memory(Bytes),
    /// Spilled: read it back with [`Instruction::ReadBack`].
    Disk,
    /// Not held.
    Missing,
}

/// How much a worker holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Values in memory.
    pub memory_keys: u64,
    /// Their bytes (managed memory).
    pub memory_bytes: u64,
    /// Values on disk.
    pub spilled_keys: u64,
    /// Their bytes.
    pub spilled_bytes: u64,
}

/// The worker's values, as the state reads and changes them. Every call
/// is quick and synchronous (no disk read: spilled values are read back
/// through [`Instruction::ReadBack`]).
pub trait Values {
    /// Where `key`'s value is (a value found in memory counts as used).
    fn lookup(&mut self, key: &TaskKey) -> Lookup;
    /// Whether `key` is held, in memory or on disk.
    fn contains(&self, key: &TaskKey) -> bool;
    /// Holds `value` as `key` (replacing any older value).
    fn insert(&mut self, key: TaskKey, value: Bytes);
    /// Drops `key`'s value, if held.
    fn remove(&mut self, key: &TaskKey);
    /// Drops every value; returns the spill files to delete.
    fn clear(&mut self) -> Vec<PathBuf>;
    /// How much is held.
    fn usage(&self) -> Usage;
}

/// Something that happened to the worker.
#[derive(Debug)]
pub enum Stimulus<M> {
    /// A command from the scheduler, in the order sent.
    Command(WorkerCommand),
    /// An executor finished a job.
    JobDone(JobDone),
    /// Fetches from peers, or read-backs from disk, finished.
    Fetched {
        /// The state's epoch when they were asked for (results from before
        /// a restart are dropped).
        epoch: u64,
        /// What became of each input.
        results: Vec<Fetched>,
    },
    /// A module was checked and loaded, or refused.
    Loaded {
        /// The module's hash.
        hash: ModuleHash,
        /// The module, or why not.
        result: Result<M, LoadFailure>,
    },
    /// The metrics tick (due at [`WorkerState::poll_timeout`]), with the
    /// process memory measured for it.
    Tick {
        /// The process's memory in bytes (resident size and module images).
        process_bytes: u64,
    },
}

/// What the driver is to do, in order.
#[derive(Debug)]
pub enum Instruction<M> {
    /// Send this report to the scheduler (reports of one batch in one write).
    Report(WorkerReport),
    /// Queue this job for the executors.
    Execute(Job<M>),
    /// Fetch these inputs, all from the first holder of each first.
    Fetch {
        /// Echo in [`Stimulus::Fetched`].
        epoch: u64,
        /// The inputs.
        wanted: Vec<Wanted>,
    },
    /// Read these spilled values back from disk.
    ReadBack {
        /// Echo in [`Stimulus::Fetched`].
        epoch: u64,
        /// Their keys.
        keys: Vec<TaskKey>,
    },
    /// Check these bytes against `hash` and load the module.
    Load {
        /// The hash asked for.
        hash: ModuleHash,
        /// The bytes the scheduler sent.
        bytes: Vec<u8>,
    },
    /// Delete these spill files (values dropped by a restart).
    DeleteFiles(Vec<PathBuf>),
    /// Pause (no job starts) or resume the executors.
    Pause(bool),
    /// Stop the worker once the reports before this are written.
    Stop(Stop),
}

/// Why the worker stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The scheduler broke the protocol.
    Protocol(String),
    /// `Restart` with [`RestartMode::Exit`].
    Restart,
    /// The process memory stayed above the terminate fraction (the reason,
    /// also sent in `Leaving`).
    MemoryLimit(String),
}

/// The settings the state decides by.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// This worker's id.
    pub id: WorkerId,
    /// What `Restart` does.
    pub restart: RestartMode,
    /// How often metrics (the heartbeat) are sent.
    pub metrics_interval: Duration,
    /// The memory thresholds.
    pub thresholds: Thresholds,
    /// Ready modules kept at most.
    pub modules_in_memory_max: usize,
    /// Bytes of ready modules kept at most.
    pub modules_in_memory_bytes_max: u64,
}

/// A task the scheduler gave us.
#[derive(Debug)]
struct Task {
    /// Unique per `Compute` received: tells a task from an older one of the
    /// same key.
    id: u64,
    run: u32,
    tenant: TenantId,
    weight: u32,
    ceilings: TaskCeilings,
    spec: Arc<TaskSpec>,
    inputs: Vec<WireInput>,
    /// Inputs fetched or read back from disk for this task while it waits
    /// (they may not be in memory in the store: spilled, or freed).
    have: HashMap<TaskKey, Bytes>,
    phase: Phase,
}

#[derive(Debug)]
enum Phase {
    Waiting {
        /// The module and inputs still awaited.
        pending: usize,
        /// Inputs no holder could give, with the first holder tried.
        failed: Vec<(TaskKey, WorkerId)>,
    },
    Submitted(Arc<Ticket>),
}

/// Everything the state owns besides the task table.
#[derive(Debug)]
struct Context<M, S> {
    id: WorkerId,
    values: S,
    modules: Modules<M>,
    /// Inputs being fetched or read back from disk.
    fetching: HashMap<TaskKey, InFlight>,
    /// Inputs to fetch, gathered during this batch.
    to_fetch: Vec<Wanted>,
    /// Spilled inputs to read back, gathered during this batch.
    to_read: Vec<TaskKey>,
    /// Counts restarts: tells fetch results to drop.
    epoch: u64,
    memory: MemoryWatch,
    restart: RestartMode,
    out: Vec<Instruction<M>>,
    next_id: u64,
}

/// The worker's state: see the module documentation.
#[derive(Debug)]
pub struct WorkerState<M, S> {
    tasks: HashMap<TaskKey, Task>,
    cx: Context<M, S>,
    metrics_interval: Duration,
    /// When the next metrics are due.
    next_tick: Time,
    /// The process memory measured at the last tick.
    process_bytes: u64,
    /// A [`Stop`] was given: nothing more is done.
    stopped: bool,
}

impl<M: ModuleSize, S: Values> WorkerState<M, S> {
    /// A fresh worker's state over `values`; the first metrics are due at
    /// once.
    pub fn new(settings: Settings, values: S) -> Self {
        WorkerState {
            tasks: HashMap::new(),
            cx: Context {
                id: settings.id,
                values,
                modules: Modules::new(
                    settings.modules_in_memory_max,
                    settings.modules_in_memory_bytes_max,
                ),
                fetching: HashMap::new(),
                to_fetch: Vec::new(),
                to_read: Vec::new(),
                epoch: 0,
                memory: MemoryWatch::new(settings.thresholds),
                restart: settings.restart,
                out: Vec::new(),
                next_id: 0,
            },
            metrics_interval: settings.metrics_interval,
            next_tick: Time::ZERO,
            process_bytes: 0,
            stopped: false,
        }
    }

    /// Takes one stimulus at `now`.
    pub fn handle(&mut self, now: Time, stimulus: Stimulus<M>) {
        if self.stopped {
            return;
        }
        match stimulus {
            Stimulus::Command(command) => self.command(command),
            Stimulus::JobDone(done) => self.job_done(done),
            Stimulus::Fetched { epoch, results } => {
                if epoch == self.cx.epoch {
                    self.fetched(results);
                }
            }
            Stimulus::Loaded { hash, result } => self.loaded(hash, result),
            Stimulus::Tick { process_bytes } => self.tick(now, process_bytes),
        }
    }

    /// Ends a batch of stimuli: starts the fetches and read-backs gathered,
    /// and pauses or resumes by managed memory (a change is reported at
    /// once, with the process memory of the last tick).
    pub fn end_batch(&mut self) {
        if self.stopped {
            return;
        }
        if self.update_pause() {
            self.push_metrics();
        }
        self.cx.start_fetches();
    }

    /// The instructions given since the last call, in order.
    pub fn take_instructions(&mut self) -> Vec<Instruction<M>> {
        std::mem::take(&mut self.cx.out)
    }

    /// When the next [`Stimulus::Tick`] is due.
    pub fn poll_timeout(&self) -> Time {
        self.next_tick
    }

    /// Process (and managed) memory above which values are spilled.
    pub fn memory_target(&self) -> Option<u64> {
        self.cx.memory.target()
    }

    /// The bytes of the ready modules' memory images, which the process's
    /// resident size does not show.
    pub fn module_image_bytes(&self) -> u64 {
        self.cx.modules.image_bytes()
    }

    /// This worker's id.
    pub fn id(&self) -> WorkerId {
        self.cx.id
    }

    /// The worker's values.
    pub fn values(&self) -> &S {
        &self.cx.values
    }

    /// The worker's values, to change behind the state's back as the
    /// spiller does (moving values to disk).
    pub fn values_mut(&mut self) -> &mut S {
        &mut self.cx.values
    }

    /// How many tasks the worker has (waiting or submitted).
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the worker is paused.
    pub fn is_paused(&self) -> bool {
        self.cx.memory.is_paused()
    }

    /// Sends metrics and decides whether to leave; the next tick is one
    /// interval on.
    fn tick(&mut self, now: Time, process_bytes: u64) {
        self.next_tick = now.after(self.metrics_interval);
        self.process_bytes = process_bytes;
        self.update_pause();
        self.push_metrics();
        let tasks = self.running();
        self.cx.report(WorkerReport::Running { tasks });
        if let Some(reason) = self.cx.memory.terminate_reason(process_bytes) {
            self.cx.report(WorkerReport::Leaving {
                reason: reason.clone(),
            });
            self.stop(Stop::MemoryLimit(reason));
        }
    }

    /// The tasks whose jobs the executors started and have not finished,
    /// by key order.
    pub fn running(&self) -> Vec<(TaskKey, u32)> {
        let mut tasks: Vec<(TaskKey, u32)> = self
            .tasks
            .iter()
            .filter(
                |(_, task)| matches!(&task.phase, Phase::Submitted(ticket) if ticket.has_started()),
            )
            .map(|(key, task)| (*key, task.run))
            .collect();
        tasks.sort_unstable();
        tasks
    }

    fn push_metrics(&mut self) {
        let metrics = self
            .cx
            .memory
            .metrics(self.cx.values.usage(), self.process_bytes);
        self.cx.report(WorkerReport::Metrics(metrics));
    }

    /// Re-decides the pause by managed memory; true (and the instruction
    /// given) if it changed.
    fn update_pause(&mut self) -> bool {
        let memory_bytes = self.cx.values.usage().memory_bytes;
        match self.cx.memory.update_pause(memory_bytes) {
            Some(paused) => {
                self.cx.out.push(Instruction::Pause(paused));
                true
            }
            None => false,
        }
    }

    fn stop(&mut self, why: Stop) {
        self.cx.out.push(Instruction::Stop(why));
        self.stopped = true;
    }
}

impl<M, S> Context<M, S> {
    fn report(&mut self, report: WorkerReport) {
        self.out.push(Instruction::Report(report));
    }
}

/// Cuts an error message sent to the scheduler to
/// [`TASK_MESSAGE_BYTES_MAX`](weft_runtime::config::TASK_MESSAGE_BYTES_MAX)
/// bytes at a character boundary, as the runtime cuts guest messages.
fn truncate(message: String) -> String {
    weft_runtime::text::truncate_message(message)
}
