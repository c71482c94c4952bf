//! The worker state's driver: the one task that feeds the worker's pure
//! state machine (`state/`) and carries out its instructions with real
//! I/O. It takes the scheduler's commands in order, finished jobs from the
//! executor threads, and the fetches, read-backs and module loads it ran in
//! background tasks, hands each to [`WorkerState::handle`], and after each
//! wakeup ([`WorkerState::end_batch`]) does what the state said: reports go
//! to the writer in one batch; jobs to the executors; fetches to the
//! fetcher, one background task per first holder; read-backs of spilled
//! values and module loads (at most `compiles_max` at once) to blocking
//! threads; the pause to the executors' queue.
//!
//! At the state's metrics tick it measures the process memory: above the
//! spill target, it first gives freed heap back to the OS (`malloc_trim`),
//! then asks the store to spill managed memory down by what the process
//! is still over. It stops when the scheduler connection ends, writing
//! fails, shutdown is asked for, or the state says [`Stop`] (after writing
//! the reports given before it, within [`LEAVING_FLUSH_TIMEOUT`]).

use crate::config::{LEAVING_FLUSH_TIMEOUT, RestartMode};
use crate::executor::Executors;
use crate::fetch::Fetcher;
use crate::memory;
use crate::state::{
    Instruction, LoadFailure, ModuleSize, Settings, Stimulus, Stop, Thresholds, WorkerState,
};
use crate::store::Store;
use crate::{AbortOnDrop, WorkerError, spill};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use weft_core::{ModuleHash, Time, WorkerId};
use weft_proto::messages::{WorkerCommand, WorkerReport};
use weft_runtime::{Runtime, TaskModule};

/// How many commands or finished jobs are handled per wakeup at most.
const BATCH: usize = 512;

/// The state as the worker process runs it.
type State = WorkerState<Arc<TaskModule>, Arc<Store>>;

/// What background work reports back.
pub(crate) type Background = Stimulus<Arc<TaskModule>>;

impl ModuleSize for Arc<TaskModule> {
    fn footprint_bytes(&self) -> u64 {
        TaskModule::footprint_bytes(self)
    }

    fn memory_image_bytes(&self) -> u64 {
        TaskModule::memory_image_bytes(self)
    }
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

/// The driver and what it drives.
#[derive(Debug)]
pub(crate) struct TaskLoop {
    state: State,
    runtime: Arc<Runtime>,
    store: Arc<Store>,
    fetcher: Arc<Fetcher>,
    executors: Executors,
    /// Compilations allowed at once (`compiles_max`): a module waits here,
    /// not on a blocking thread.
    compile_slots: Arc<tokio::sync::Semaphore>,
    background: JoinSet<()>,
    background_tx: mpsc::UnboundedSender<Background>,
    /// Time zero of the state's clock.
    epoch: Instant,
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
    pub(crate) done: mpsc::UnboundedReceiver<crate::state::JobDone>,
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
        let config = runtime.config();
        let state = WorkerState::new(
            Settings {
                id,
                restart: settings.restart,
                metrics_interval: settings.metrics_interval,
                thresholds: settings.thresholds,
                modules_in_memory_max: config.modules_in_memory_max,
                modules_in_memory_bytes_max: config.modules_in_memory_bytes_max,
            },
            store.clone(),
        );
        let compile_slots = Arc::new(tokio::sync::Semaphore::new(
            config.compile.concurrent_max.max(1),
        ));
        TaskLoop {
            state,
            runtime,
            store,
            fetcher,
            executors,
            compile_slots,
            background: JoinSet::new(),
            background_tx,
            epoch: Instant::now(),
        }
    }

    /// Runs until the scheduler connection ends (its error), writing fails
    /// (its error), the state stops (the matching error), or shutdown is
    /// asked for (`Ok`).
    pub(crate) async fn run(
        mut self,
        mut io: LoopIo,
        mut background: mpsc::UnboundedReceiver<Background>,
    ) -> Result<(), WorkerError> {
        let mut commands = Vec::with_capacity(BATCH);
        let mut done = Vec::with_capacity(BATCH);
        let store = self.store.clone();
        let mut outbox = Vec::new();
        loop {
            let tick = self.epoch + self.state.poll_timeout().since_epoch();
            tokio::select! {
                biased;
                _ = io.shutdown.changed() => return Ok(()),
                written = &mut io.writer => return joined(written),
                received = io.done.recv_many(&mut done, BATCH) => {
                    if received == 0 {
                        // The loop's executors hold the senders: cannot happen.
                        return Ok(());
                    }
                    let now = self.now();
                    for job in done.drain(..) {
                        self.state.handle(now, Stimulus::JobDone(job));
                    }
                }
                Some(event) = background.recv() => self.state.handle(self.now(), event),
                // Managed memory went down: the pause is looked at below.
                () = store.spilled() => {}
                () = tokio::time::sleep_until(tick) => {
                    let process_bytes = self.relieve_process_memory();
                    self.state.handle(self.now(), Stimulus::Tick { process_bytes });
                }
                received = io.commands.recv_many(&mut commands, BATCH) => {
                    if received == 0 {
                        return joined((&mut io.reader).await);
                    }
                    let now = self.now();
                    for command in commands.drain(..) {
                        self.state.handle(now, Stimulus::Command(command));
                    }
                }
            }
            self.state.end_batch();
            for instruction in self.state.take_instructions() {
                if let Some(stop) = self.carry_out(instruction, &mut outbox) {
                    leave(&mut io, std::mem::take(&mut outbox)).await;
                    return Err(match stop {
                        Stop::Protocol(message) => WorkerError::Protocol {
                            addr: io.scheduler.clone(),
                            message,
                        },
                        Stop::Restart => WorkerError::RestartRequested,
                        Stop::MemoryLimit(reason) => {
                            tracing::warn!(%reason, "leaving");
                            WorkerError::MemoryLimit { reason }
                        }
                    });
                }
            }
            while let Some(finished) = self.background.try_join_next() {
                if let Err(error) = finished
                    && error.is_panic()
                {
                    tracing::error!(%error, "a fetch or module load panicked (a bug)");
                }
            }
            if !outbox.is_empty() {
                // If the writer is gone, the next turn learns why.
                let _ = io.reports.send(std::mem::take(&mut outbox));
            }
        }
    }

    fn now(&self) -> Time {
        Time::from_duration(self.epoch.elapsed())
    }

    /// Does one instruction; reports are collected in `outbox`. Returns
    /// the stop, if it is one.
    fn carry_out(
        &mut self,
        instruction: Instruction<Arc<TaskModule>>,
        outbox: &mut Vec<WorkerReport>,
    ) -> Option<Stop> {
        match instruction {
            Instruction::Report(report) => outbox.push(report),
            Instruction::Execute(job) => {
                let key = job.key;
                if !self.executors.submit(job) {
                    tracing::error!(%key, "the executor threads are gone");
                }
            }
            Instruction::Fetch { epoch, wanted } => {
                let fetcher = self.fetcher.clone();
                let tx = self.background_tx.clone();
                self.background.spawn(async move {
                    let results = fetcher.fetch(wanted).await;
                    let _ = tx.send(Stimulus::Fetched { epoch, results });
                });
            }
            Instruction::ReadBack { epoch, keys } => self.read_back(epoch, keys),
            Instruction::Load { hash, bytes } => self.load(hash, bytes),
            Instruction::DeleteFiles(files) => {
                self.background.spawn(spill::delete_files(files));
            }
            Instruction::Pause(paused) => self.executors.set_paused(paused),
            Instruction::Stop(stop) => return Some(stop),
        }
        None
    }

    /// Measures process memory (module images included); above the spill
    /// target, first gives freed heap back to the OS, then asks the store
    /// to spill managed memory down by what the process is still over.
    /// Returns the process memory measured last.
    fn relieve_process_memory(&mut self) -> u64 {
        // Module memory images live in shared memory that the resident
        // size does not show.
        let images = self.state.module_image_bytes();
        let mut process_bytes = memory::process_bytes() + images;
        let Some(target) = self.state.memory_target() else {
            return process_bytes;
        };
        if process_bytes > target {
            memory::trim_heap();
            process_bytes = memory::process_bytes() + images;
        }
        self.store
            .set_pressure(process_bytes.saturating_sub(target));
        process_bytes
    }

    /// Reads spilled values back on a blocking thread; they stay on disk.
    fn read_back(&mut self, epoch: u64, keys: Vec<weft_schema::graph::TaskKey>) {
        tracing::debug!(count = keys.len(), "reading spilled inputs back from disk");
        let store = self.store.clone();
        let tx = self.background_tx.clone();
        let id = self.state.id();
        self.background.spawn(async move {
            let mut results = Vec::with_capacity(keys.len());
            for key in keys {
                let outcome = match store.load(&key).await {
                    Ok(Some(value)) => Ok(value),
                    Ok(None) => {
                        tracing::debug!(%key, "a spilled input was dropped before it was read back");
                        Err(id)
                    }
                    Err(error) => {
                        tracing::error!(%key, %error, "a spilled input cannot be read back");
                        Err(id)
                    }
                };
                results.push((key, outcome));
            }
            let _ = tx.send(Stimulus::Fetched { epoch, results });
        });
    }

    /// Checks and loads a module off the loop, at most `compiles_max` at
    /// once.
    fn load(&mut self, hash: ModuleHash, bytes: Vec<u8>) {
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
            let _ = tx.send(Stimulus::Loaded { hash, result });
        });
    }
}
/// Checks the bytes against the hash they were asked by, then loads them.
/// Blocking (hashing and compiling): run it off the async threads.
pub(crate) fn load(
    runtime: &Runtime,
    hash: ModuleHash,
    bytes: &[u8],
) -> Result<Arc<TaskModule>, LoadFailure> {
    let actual = blake3::hash(bytes);
    if *actual.as_bytes() != hash {
        return Err(LoadFailure {
            message: format!(
                "the scheduler sent a module whose hash is {} for module {}",
                actual.to_hex(),
                weft_runtime::ModuleHash(hash).to_hex()
            ),
            deterministic: false,
            lasting: false,
        });
    }
    runtime.load(bytes).map_err(|error| LoadFailure {
        message: error.to_string(),
        deterministic: error.is_deterministic(),
        lasting: !error.is_circumstantial(),
    })
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
