//! The worker's task loop: the one place the worker's state changes. It
//! takes the scheduler's commands in order, finished jobs from the executor
//! threads, fetched inputs and loaded modules, decides what runs next, and
//! queues reports for the scheduler (sent once per wakeup).
//!
//! A task goes through:
//!
//! 1. **waiting**: its module is asked for (`GetModule`, once per module)
//!    and its missing inputs are fetched, all at once; `pending` counts what
//!    it still waits for. Tasks waiting for a module are parked in arrival
//!    order.
//! 2. **submitted**: module and inputs are at hand; the job is queued for
//!    the executors (which start jobs in queue order).
//! 3. gone: `Finished`/`Erred`/`FetchFailed` was reported, or the scheduler
//!    freed it.
//!
//! Tasks whose module and inputs are at hand when they arrive are submitted
//! at once, so they start in the order the scheduler sent them; a task
//! that waits for an input fetch is overtaken by later tasks that do not.
//!
//! Inputs, and the replicas the scheduler asks for with `Fetch`, are
//! gathered by `task_loop/inputs.rs`. The loop also:
//!
//! - sends `Metrics` every `metrics_interval` (the first at once, after
//!   registration), and leaves (`Leaving`, then
//!   [`WorkerError::MemoryLimit`]) when the process memory is above the
//!   terminate fraction;
//! - after every wakeup, pauses or resumes the executor threads by managed
//!   memory against the pause fraction (the spiller wakes it when it moved
//!   values to disk);
//! - on `Restart`, drops every value, task and pending input, then answers
//!   `Restarted` or stops with [`WorkerError::RestartRequested`]
//!   ([`RestartMode`]).

mod inputs;

use crate::config::{LEAVING_FLUSH_TIMEOUT, RestartMode, Thresholds};
use crate::executor::{Executors, Job, JobDone, Ticket};
use crate::fetch::{Fetched, Fetcher, Wanted};
use crate::memory::{self, MemoryWatch};
use crate::modules::{LoadFailure, Modules, load};
use crate::scheduler_link::command_name;
use crate::store::Store;
use crate::{AbortOnDrop, WorkerError, spill};
use bytes::Bytes;
use inputs::{Gathered, InFlight};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use weft_core::{ModuleHash, TaskSpec, WorkerId};
use weft_proto::messages::{WireCompute, WireInput, WorkerCommand, WorkerReport};
use weft_runtime::{Runtime, TaskModule};
use weft_schema::graph::TaskKey;

/// How many commands or finished jobs are handled per wakeup at most.
const BATCH: usize = 512;

/// Work done off the loop, reported back to it.
#[derive(Debug)]
pub(crate) enum Background {
    /// A fetch from peers, or a read-back of spilled inputs, finished.
    Fetched {
        /// The loop's epoch when it started (results of an older epoch,
        /// from before a restart, are dropped).
        epoch: u64,
        /// What became of each input.
        results: Vec<Fetched>,
    },
    /// A module was checked and loaded, or refused.
    Loaded {
        /// The module's hash.
        hash: ModuleHash,
        /// The module, or why not.
        result: Result<Arc<TaskModule>, LoadFailure>,
    },
}

/// A task the scheduler gave us.
#[derive(Debug)]
struct Task {
    /// Unique per `Compute` received: tells a task from an older one of the
    /// same key.
    id: u64,
    run: u32,
    spec: Arc<TaskSpec>,
    inputs: Vec<WireInput>,
    /// Inputs fetched or read back from disk for this task while it waits
    /// (they may not be in memory in the store: spilled, or freed).
    have: HashMap<TaskKey, Bytes>,
    state: TaskState,
}

#[derive(Debug)]
enum TaskState {
    Waiting {
        /// The module and inputs still awaited.
        pending: usize,
        /// Inputs no holder could give, with the first holder tried.
        failed: Vec<(TaskKey, WorkerId)>,
    },
    Submitted(Arc<Ticket>),
}

/// Everything the loop owns besides the task table.
#[derive(Debug)]
struct Context {
    id: WorkerId,
    runtime: Arc<Runtime>,
    store: Arc<Store>,
    fetcher: Arc<Fetcher>,
    executors: Executors,
    modules: Modules,
    /// Compilations allowed at once (`compiles_max`): a module waits here,
    /// not on a blocking thread.
    compile_slots: Arc<tokio::sync::Semaphore>,
    /// Inputs being fetched or read back from disk.
    fetching: HashMap<TaskKey, InFlight>,
    /// Inputs to fetch, gathered during this wakeup.
    to_fetch: Vec<Wanted>,
    /// Spilled inputs to read back, gathered during this wakeup.
    to_read: Vec<TaskKey>,
    /// Counts restarts: tells fetch results to drop.
    epoch: u64,
    /// Pause and terminate decisions.
    memory: MemoryWatch,
    /// What `Restart` does.
    restart: RestartMode,
    /// Reports to send at the end of this wakeup.
    outbox: Vec<WorkerReport>,
    background: JoinSet<()>,
    background_tx: mpsc::UnboundedSender<Background>,
    next_id: u64,
}

/// The loop's settings from the worker's configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoopSettings {
    /// `restart`.
    pub(crate) restart: RestartMode,
    /// `metrics_interval`.
    pub(crate) metrics_interval: Duration,
    /// The memory thresholds.
    pub(crate) thresholds: Thresholds,
}

/// Why the loop stops after a command.
enum Stop {
    /// The scheduler broke the protocol.
    Protocol(String),
    /// `Restart` with [`RestartMode::Exit`].
    Restart,
}

/// The loop's state.
#[derive(Debug)]
pub(crate) struct TaskLoop {
    tasks: HashMap<TaskKey, Task>,
    metrics_interval: Duration,
    cx: Context,
}

/// The channels and tasks the loop runs with.
#[derive(Debug)]
pub(crate) struct LoopIo {
    /// Commands from the scheduler, in order.
    pub(crate) commands: mpsc::Receiver<WorkerCommand>,
    /// The reading task (its result explains why `commands` closed).
    pub(crate) reader: AbortOnDrop<Result<(), WorkerError>>,
    /// Reports to the scheduler.
    pub(crate) reports: mpsc::UnboundedSender<Vec<WorkerReport>>,
    /// The writing task (it ends only when writing fails).
    pub(crate) writer: AbortOnDrop<Result<(), WorkerError>>,
    /// Finished jobs.
    pub(crate) done: mpsc::UnboundedReceiver<JobDone>,
    /// Set (or dropped) to stop the worker.
    pub(crate) shutdown: watch::Receiver<bool>,
    /// The scheduler's address, for errors.
    pub(crate) scheduler: String,
}

impl TaskLoop {
    /// A loop for worker `id`.
    pub(crate) fn new(
        id: WorkerId,
        runtime: Arc<Runtime>,
        store: Arc<Store>,
        fetcher: Arc<Fetcher>,
        executors: Executors,
        background_tx: mpsc::UnboundedSender<Background>,
        settings: LoopSettings,
    ) -> TaskLoop {
        let modules = Modules::new(
            runtime.config().modules_in_memory_max,
            runtime.config().modules_in_memory_bytes_max,
        );
        let compile_slots = Arc::new(tokio::sync::Semaphore::new(
            runtime.config().compile.concurrent_max.max(1),
        ));
        TaskLoop {
            tasks: HashMap::new(),
            metrics_interval: settings.metrics_interval,
            cx: Context {
                id,
                runtime,
                store,
                fetcher,
                executors,
                modules,
                compile_slots,
                fetching: HashMap::new(),
                to_fetch: Vec::new(),
                to_read: Vec::new(),
                epoch: 0,
                memory: MemoryWatch::new(settings.thresholds),
                restart: settings.restart,
                outbox: Vec::new(),
                background: JoinSet::new(),
                background_tx,
                next_id: 0,
            },
        }
    }

    /// Runs until the scheduler connection ends (its error), writing fails
    /// (its error), the scheduler breaks the protocol, a `Restart` asks the
    /// worker to exit, the process memory passes the terminate fraction, or
    /// shutdown is asked for (`Ok`).
    pub(crate) async fn run(
        mut self,
        mut io: LoopIo,
        mut background: mpsc::UnboundedReceiver<Background>,
    ) -> Result<(), WorkerError> {
        let mut commands = Vec::with_capacity(BATCH);
        let mut done = Vec::with_capacity(BATCH);
        let store = self.cx.store.clone();
        // The first tick is at once: metrics right after registration.
        let mut metrics = tokio::time::interval(self.metrics_interval);
        metrics.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = io.shutdown.changed() => return Ok(()),
                written = &mut io.writer => return joined(written),
                received = io.done.recv_many(&mut done, BATCH) => {
                    if received == 0 {
                        // The loop's executors hold the senders: cannot happen.
                        return Ok(());
                    }
                    for job in done.drain(..) {
                        self.job_done(job);
                    }
                }
                Some(event) = background.recv() => self.background(event),
                // Managed memory went down: the pause is looked at below.
                () = store.spilled() => {}
                _ = metrics.tick() => {
                    if let Some(reason) = self.tick() {
                        tracing::warn!(%reason, "leaving");
                        self.cx.outbox.push(WorkerReport::Leaving { reason: reason.clone() });
                        leave(&mut io, std::mem::take(&mut self.cx.outbox)).await;
                        return Err(WorkerError::MemoryLimit { reason });
                    }
                }
                received = io.commands.recv_many(&mut commands, BATCH) => {
                    if received == 0 {
                        return joined((&mut io.reader).await);
                    }
                    for command in commands.drain(..) {
                        match self.command(command) {
                            Ok(()) => {}
                            Err(Stop::Protocol(message)) => {
                                return Err(WorkerError::Protocol {
                                    addr: io.scheduler.clone(),
                                    message,
                                });
                            }
                            Err(Stop::Restart) => {
                                tracing::info!("restart asked for: stopping so that a fresh process takes over");
                                leave(&mut io, std::mem::take(&mut self.cx.outbox)).await;
                                return Err(WorkerError::RestartRequested);
                            }
                        }
                    }
                }
            }
            if self.update_pause() {
                // The scheduler hears of a pause or resume at once.
                self.push_metrics(memory::process_bytes());
            }
            self.cx.start_fetches();
            while let Some(finished) = self.cx.background.try_join_next() {
                if let Err(error) = finished
                    && error.is_panic()
                {
                    tracing::error!(%error, "a fetch or module load panicked (a bug)");
                }
            }
            if !self.cx.outbox.is_empty() {
                // If the writer is gone, the next turn learns why.
                let _ = io.reports.send(std::mem::take(&mut self.cx.outbox));
            }
        }
    }

    /// Sends metrics; returns why the worker must leave, if it must.
    fn tick(&mut self) -> Option<String> {
        let process_bytes = self.relieve_process_memory();
        self.update_pause();
        self.push_metrics(process_bytes);
        self.cx.memory.terminate_reason(process_bytes)
    }

    /// Measures process memory; above the spill target, first gives freed
    /// heap back to the OS (`malloc_trim`), then asks the store to spill
    /// managed memory down by what the process is still over. Returns the
    /// process memory measured last.
    fn relieve_process_memory(&mut self) -> u64 {
        // Module memory images live in shared memory that the resident
        // size does not show.
        let images = self.cx.modules.image_bytes();
        let mut process_bytes = memory::process_bytes() + images;
        let Some(target) = self.cx.memory.target() else {
            return process_bytes;
        };
        if process_bytes > target {
            memory::trim_heap();
            process_bytes = memory::process_bytes() + images;
        }
        self.cx
            .store
            .set_pressure(process_bytes.saturating_sub(target));
        process_bytes
    }

    fn push_metrics(&mut self, process_bytes: u64) {
        let metrics = self.cx.memory.metrics(self.cx.store.usage(), process_bytes);
        self.cx.outbox.push(WorkerReport::Metrics(metrics));
    }

    /// Pauses or resumes the executor threads by managed memory; true if
    /// that changed.
    fn update_pause(&mut self) -> bool {
        match self.cx.memory.update_pause(self.cx.store.memory_bytes()) {
            Some(paused) => {
                self.cx.executors.set_paused(paused);
                true
            }
            None => false,
        }
    }

    /// Applies one command.
    fn command(&mut self, command: WorkerCommand) -> Result<(), Stop> {
        match command {
            WorkerCommand::Compute(compute) => self.compute(compute),
            WorkerCommand::Free { keys } => self.free(keys),
            WorkerCommand::Fetch { inputs } => self.cx.fetch_replicas(inputs),
            WorkerCommand::Restart => return self.restart(),
            WorkerCommand::Rejoin { reason } => {
                tracing::warn!(%reason, "the scheduler removed this worker; rejoining with nothing");
                self.clear("rejoin");
                self.rejoin();
            }
            WorkerCommand::Steal { key, run } => self.steal(key, run),
            WorkerCommand::Module { hash, bytes } => self.cx.module_arrived(hash, bytes),
            WorkerCommand::ModuleMissing { hash } => {
                let message = format!(
                    "module {} is not known to the scheduler",
                    weft_runtime::ModuleHash(hash).to_hex()
                );
                self.module_failed(hash, &message);
            }
            WorkerCommand::ModuleRefused { hash, message } => self.module_failed(hash, &message),
            other @ WorkerCommand::Welcome { .. } => {
                return Err(Stop::Protocol(format!(
                    "unexpected {} after registration",
                    command_name(&other)
                )));
            }
        }
        Ok(())
    }

    /// Drops every value, task and pending input; then answers `Restarted`
    /// (and fresh metrics), or asks the loop to stop.
    fn restart(&mut self) -> Result<(), Stop> {
        self.clear("restart");
        match self.cx.restart {
            RestartMode::Exit => Err(Stop::Restart),
            RestartMode::InPlace => {
                self.rejoin();
                Ok(())
            }
        }
    }

    /// Tells the scheduler this worker holds and runs nothing now.
    fn rejoin(&mut self) {
        self.update_pause();
        self.cx.outbox.push(WorkerReport::Restarted);
        self.push_metrics(memory::process_bytes());
    }

    /// Drops every value, task and pending input.
    fn clear(&mut self, why: &str) {
        let cancelled = self.tasks.len();
        for (_, task) in self.tasks.drain() {
            if let TaskState::Submitted(ticket) = task.state {
                // If it already started, its result is discarded on arrival.
                ticket.cancel();
            }
        }
        self.cx.fetching.clear();
        self.cx.to_fetch.clear();
        self.cx.to_read.clear();
        self.cx.epoch += 1;
        let usage = self.cx.store.usage();
        let files = self.cx.store.clear();
        self.cx.background.spawn(spill::delete_files(files));
        tracing::info!(
            tasks = cancelled,
            keys = usage.memory_keys + usage.spilled_keys,
            spilled = usage.spilled_keys,
            "{why}: dropped every task and value"
        );
    }

    fn compute(&mut self, compute: WireCompute) {
        let WireCompute {
            key,
            run,
            spec,
            inputs,
        } = compute;
        if let Some(old) = self.tasks.remove(&key) {
            tracing::debug!(%key, old_run = old.run, run, "task sent again; the older run is dropped");
            if let TaskState::Submitted(ticket) = old.state {
                ticket.cancel();
            }
        }
        let id = self.cx.next_id;
        self.cx.next_id += 1;
        self.tasks.insert(
            key,
            Task {
                id,
                run,
                spec,
                inputs,
                have: HashMap::new(),
                state: TaskState::Waiting {
                    pending: 0,
                    failed: Vec::new(),
                },
            },
        );
        self.advance(key);
    }

    fn free(&mut self, keys: Vec<TaskKey>) {
        for key in keys {
            self.cx.store.remove(&key);
            if let Some(flight) = self.cx.fetching.get_mut(&key) {
                // Being fetched: dropped on arrival, and not reported.
                flight.replica = false;
                flight.keep = false;
            }
            if let Some(task) = self.tasks.remove(&key)
                && let TaskState::Submitted(ticket) = task.state
            {
                // If it already started, its result is discarded on arrival.
                ticket.cancel();
            }
        }
    }

    /// Gives a task up for another worker if it has not started.
    fn steal(&mut self, key: TaskKey, run: u32) {
        let stolen = match self.tasks.get(&key) {
            Some(task) if task.run == run => match &task.state {
                TaskState::Waiting { .. } => true,
                TaskState::Submitted(ticket) => ticket.cancel(),
            },
            _ => false,
        };
        if stolen {
            self.tasks.remove(&key);
        }
        self.cx
            .outbox
            .push(WorkerReport::StealResponse { key, run, stolen });
    }

    /// Moves a waiting task on if it waits for nothing: reports its failed
    /// fetches, or asks for what it misses, or submits it.
    fn advance(&mut self, key: TaskKey) {
        let Some(task) = self.tasks.get_mut(&key) else {
            return;
        };
        let TaskState::Waiting { pending, failed } = &mut task.state else {
            return;
        };
        if *pending > 0 {
            return;
        }
        if failed.is_empty() {
            match self
                .cx
                .gather(key, task.id, &task.spec, &task.inputs, &task.have)
            {
                Gathered::Ready(module, values) => {
                    task.have = HashMap::new();
                    let ticket = Arc::new(Ticket::default());
                    let job = Job {
                        seq: task.id,
                        key,
                        module,
                        spec: task.spec.clone(),
                        inputs: values,
                        ticket: ticket.clone(),
                    };
                    task.state = TaskState::Submitted(ticket);
                    if !self.cx.executors.submit(job) {
                        tracing::error!(%key, "the executor threads are gone");
                    }
                    return;
                }
                Gathered::Waiting(count, missing) => {
                    *pending = count;
                    *failed = missing;
                    return;
                }
                Gathered::Failed(missing) => *failed = missing,
            }
        }
        let missing = std::mem::take(failed);
        let run = task.run;
        self.tasks.remove(&key);
        self.cx
            .outbox
            .push(WorkerReport::FetchFailed { key, run, missing });
    }

    fn job_done(&mut self, done: JobDone) {
        let Some(task) = self.tasks.get(&done.key) else {
            return;
        };
        if task.id != done.seq || !matches!(task.state, TaskState::Submitted(_)) {
            return;
        }
        let run = task.run;
        self.tasks.remove(&done.key);
        let key = done.key;
        match done.result {
            Ok(value) => {
                let nbytes = value.len() as u64;
                self.cx.store.insert(key, value);
                self.cx.outbox.push(WorkerReport::Finished {
                    key,
                    run,
                    nbytes,
                    duration_us: u64::try_from(done.duration.as_micros()).unwrap_or(u64::MAX),
                });
            }
            Err(message) => self.cx.outbox.push(WorkerReport::Erred {
                key,
                run,
                message: truncate(message),
            }),
        }
    }

    fn background(&mut self, event: Background) {
        match event {
            Background::Fetched { epoch, results } => {
                if epoch == self.cx.epoch {
                    self.fetched(results);
                }
            }
            Background::Loaded { hash, result } => match result {
                Ok(module) => {
                    let parked = self.cx.modules.ready(hash, module);
                    for (key, id) in parked {
                        if self.is_waiter(key, id) {
                            self.settle(key);
                        }
                    }
                }
                Err(failure) => {
                    if failure.deterministic {
                        self.cx.outbox.push(WorkerReport::ModuleRefused {
                            hash,
                            message: truncate(failure.message.clone()),
                            lasting: failure.lasting,
                        });
                    }
                    self.module_failed(hash, &failure.message);
                }
            },
        }
    }

    /// One thing a waiting task waited for is settled.
    fn settle(&mut self, key: TaskKey) {
        if let Some(Task {
            state: TaskState::Waiting { pending, .. },
            ..
        }) = self.tasks.get_mut(&key)
        {
            *pending = pending.saturating_sub(1);
        }
        self.advance(key);
    }

    /// Every task parked on the module errs with `message`.
    fn module_failed(&mut self, hash: ModuleHash, message: &str) {
        let parked = self.cx.modules.failed(hash);
        for (key, id) in parked {
            if !self.is_waiter(key, id) {
                continue;
            }
            if let Some(task) = self.tasks.remove(&key) {
                self.cx.outbox.push(WorkerReport::Erred {
                    key,
                    run: task.run,
                    message: truncate(message.to_string()),
                });
            }
        }
    }

    /// Whether `(key, id)` is a task still waiting.
    fn is_waiter(&self, key: TaskKey, id: u64) -> bool {
        self.tasks
            .get(&key)
            .is_some_and(|t| t.id == id && matches!(t.state, TaskState::Waiting { .. }))
    }
}

impl Context {
    /// The scheduler sent a module: check and load it off the loop.
    fn module_arrived(&mut self, hash: ModuleHash, bytes: Vec<u8>) {
        if !self.modules.arrived(hash) {
            return;
        }
        let runtime = self.runtime.clone();
        let tx = self.background_tx.clone();
        let slots = self.compile_slots.clone();
        self.background.spawn(async move {
            // Never closed, so acquiring cannot fail.
            let _slot = slots.acquire_owned().await;
            let loading = tokio::task::spawn_blocking(move || load(&runtime, hash, &bytes)).await;
            let result = loading.unwrap_or_else(|error| {
                Err(LoadFailure {
                    message: format!("module loading failed: {error}"),
                    deterministic: false,
                    lasting: false,
                })
            });
            let _ = tx.send(Background::Loaded { hash, result });
        });
    }
}

/// Sends the last reports and waits, within [`LEAVING_FLUSH_TIMEOUT`], for
/// the writer to have written them and everything queued before.
async fn leave(io: &mut LoopIo, last: Vec<WorkerReport>) {
    if !last.is_empty() {
        let _ = io.reports.send(last);
    }
    // Closing the channel ends the writer once it has written everything.
    let (closed, _) = mpsc::unbounded_channel();
    drop(std::mem::replace(&mut io.reports, closed));
    match tokio::time::timeout(LEAVING_FLUSH_TIMEOUT, &mut io.writer).await {
        Ok(written) => {
            if let Err(error) = joined(written) {
                tracing::warn!(%error, "the last reports could not be sent");
            }
        }
        Err(_elapsed) => tracing::warn!(
            "the last reports were not written within {LEAVING_FLUSH_TIMEOUT:?}; leaving anyway"
        ),
    }
}

/// The result of a finished reading or writing task.
fn joined(
    result: Result<Result<(), WorkerError>, tokio::task::JoinError>,
) -> Result<(), WorkerError> {
    match result {
        Ok(outcome) => outcome,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_cancelled) => Ok(()),
    }
}

/// Cuts an error message sent to the scheduler to
/// [`TASK_MESSAGE_BYTES_MAX`](weft_runtime::config::TASK_MESSAGE_BYTES_MAX)
/// bytes at a character boundary, as the runtime cuts guest messages.
fn truncate(message: String) -> String {
    weft_runtime::text::truncate_message(message)
}
