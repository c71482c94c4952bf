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

use crate::executor::{Executors, Job, JobDone, Ticket};
use crate::fetch::{Fetched, Fetcher, Wanted};
use crate::modules::{Modules, Need, Waiter, load};
use crate::scheduler_link::command_name;
use crate::store::Store;
use crate::{AbortOnDrop, WorkerError};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use weft_core::{ModuleHash, SpecArg, TaskSpec, WorkerId};
use weft_proto::messages::{WireCompute, WireInput, WorkerCommand, WorkerReport};
use weft_runtime::{Runtime, TaskModule};
use weft_schema::graph::TaskKey;

/// How many commands or finished jobs are handled per wakeup at most.
const BATCH: usize = 512;

/// Error messages sent to the scheduler are cut to this many bytes.
pub(crate) const MESSAGE_BYTES_MAX: usize = 64 * 1024;

/// Work done off the loop, reported back to it.
#[derive(Debug)]
pub(crate) enum Background {
    /// A fetch finished.
    Fetched(Vec<Fetched>),
    /// A module was checked and loaded, or refused.
    Loaded {
        /// The module's hash.
        hash: ModuleHash,
        /// The module, or why not.
        result: Result<Arc<TaskModule>, String>,
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
    /// Inputs being fetched, with the tasks waiting for each.
    fetching: HashMap<TaskKey, Vec<Waiter>>,
    /// Inputs to fetch, gathered during this wakeup.
    to_fetch: Vec<Wanted>,
    /// Reports to send at the end of this wakeup.
    outbox: Vec<WorkerReport>,
    background: JoinSet<()>,
    background_tx: mpsc::UnboundedSender<Background>,
    next_id: u64,
}

/// The loop's state.
#[derive(Debug)]
pub(crate) struct TaskLoop {
    tasks: HashMap<TaskKey, Task>,
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
    ) -> TaskLoop {
        let modules = Modules::new(runtime.config().modules_in_memory_max);
        TaskLoop {
            tasks: HashMap::new(),
            cx: Context {
                id,
                runtime,
                store,
                fetcher,
                executors,
                modules,
                fetching: HashMap::new(),
                to_fetch: Vec::new(),
                outbox: Vec::new(),
                background: JoinSet::new(),
                background_tx,
                next_id: 0,
            },
        }
    }

    /// Runs until the scheduler connection ends (its error), writing fails
    /// (its error), the scheduler breaks the protocol, or shutdown is asked
    /// for (`Ok`).
    pub(crate) async fn run(
        mut self,
        mut io: LoopIo,
        mut background: mpsc::UnboundedReceiver<Background>,
    ) -> Result<(), WorkerError> {
        let mut commands = Vec::with_capacity(BATCH);
        let mut done = Vec::with_capacity(BATCH);
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
                received = io.commands.recv_many(&mut commands, BATCH) => {
                    if received == 0 {
                        return joined((&mut io.reader).await);
                    }
                    for command in commands.drain(..) {
                        self.command(command).map_err(|message| WorkerError::Protocol {
                            addr: io.scheduler.clone(),
                            message,
                        })?;
                    }
                }
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

    /// Applies one command; `Err` for a protocol violation.
    fn command(&mut self, command: WorkerCommand) -> Result<(), String> {
        match command {
            WorkerCommand::Compute(compute) => self.compute(compute),
            WorkerCommand::Free { keys } => self.free(keys),
            WorkerCommand::Steal { key, run } => self.steal(key, run),
            WorkerCommand::Module { hash, bytes } => self.cx.module_arrived(hash, bytes),
            WorkerCommand::ModuleMissing { hash } => {
                let message = format!(
                    "module {} is not known to the scheduler",
                    weft_runtime::ModuleHash(hash).to_hex()
                );
                self.module_failed(hash, &message);
            }
            other @ WorkerCommand::Welcome { .. } => {
                return Err(format!(
                    "unexpected {} after registration",
                    command_name(&other)
                ));
            }
        }
        Ok(())
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
            match self.cx.gather(key, task.id, &task.spec, &task.inputs) {
                Gathered::Ready(module, values) => {
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
            Background::Fetched(results) => self.fetched(results),
            Background::Loaded { hash, result } => match result {
                Ok(module) => {
                    let parked = self.cx.modules.ready(hash, module);
                    for (key, id) in parked {
                        if self.is_waiter(key, id) {
                            self.settle(key);
                        }
                    }
                }
                Err(message) => self.module_failed(hash, &message),
            },
        }
    }

    fn fetched(&mut self, results: Vec<Fetched>) {
        let mut settled = Vec::new();
        for (input, outcome) in results {
            let waiters = self.cx.fetching.remove(&input).unwrap_or_default();
            let live: Vec<TaskKey> = waiters
                .into_iter()
                .filter(|&(key, id)| self.is_waiter(key, id))
                .map(|(key, _)| key)
                .collect();
            match outcome {
                Ok(value) => {
                    // Kept only if a task still wants it, and reported.
                    if !live.is_empty() && !self.cx.store.contains(&input) {
                        self.cx.store.insert(input, value);
                        self.cx.outbox.push(WorkerReport::Replica { key: input });
                    }
                }
                Err(holder) => {
                    for key in &live {
                        if let Some(Task {
                            state: TaskState::Waiting { failed, .. },
                            ..
                        }) = self.tasks.get_mut(key)
                        {
                            failed.push((input, holder));
                        }
                    }
                }
            }
            settled.extend(live);
        }
        for key in settled {
            self.settle(key);
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

/// What a task has and lacks.
enum Gathered {
    /// Everything: the module and each `Key` argument's bytes, in order.
    Ready(Arc<TaskModule>, Vec<Bytes>),
    /// Waiting for this many things (the module, inputs), now asked for;
    /// with the inputs that already failed.
    Waiting(usize, Vec<(TaskKey, WorkerId)>),
    /// Inputs that nobody can give (no holder named but us).
    Failed(Vec<(TaskKey, WorkerId)>),
}

impl Context {
    /// Looks for a task's module and inputs, and asks for what is missing.
    fn gather(&mut self, key: TaskKey, id: u64, spec: &TaskSpec, inputs: &[WireInput]) -> Gathered {
        let mut pending = 0;
        let module = match self.modules.need(spec.module, (key, id)) {
            Need::Ready(module) => Some(module),
            Need::Parked { ask } => {
                if ask {
                    self.outbox
                        .push(WorkerReport::GetModule { hash: spec.module });
                }
                pending += 1;
                None
            }
        };

        let mut values = Vec::new();
        let mut failed = Vec::new();
        for arg in &spec.args {
            let SpecArg::Key(input) = arg else {
                continue;
            };
            if let Some(value) = self.store.get(input) {
                values.push(value);
                continue;
            }
            if let Some(waiters) = self.fetching.get_mut(input) {
                if !waiters.contains(&(key, id)) {
                    waiters.push((key, id));
                    pending += 1;
                }
                continue;
            }
            if failed.iter().any(|(k, _)| k == input) {
                continue;
            }
            let holders: Vec<(WorkerId, String)> = inputs
                .iter()
                .find(|i| i.key == *input)
                .map(|i| {
                    i.holders
                        .iter()
                        .filter(|(holder, _)| *holder != self.id)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            if holders.is_empty() {
                // Only we were named (and we do not have it), or nobody.
                failed.push((*input, self.id));
                continue;
            }
            self.fetching.insert(*input, vec![(key, id)]);
            self.to_fetch.push(Wanted {
                key: *input,
                holders,
            });
            pending += 1;
        }

        if pending > 0 {
            return Gathered::Waiting(pending, failed);
        }
        if !failed.is_empty() {
            return Gathered::Failed(failed);
        }
        match module {
            Some(module) => Gathered::Ready(module, values),
            None => Gathered::Waiting(pending, failed),
        }
    }

    /// Starts the fetches gathered during this wakeup: one per first holder.
    fn start_fetches(&mut self) {
        if self.to_fetch.is_empty() {
            return;
        }
        let mut groups: Vec<(String, Vec<Wanted>)> = Vec::new();
        for wanted in self.to_fetch.drain(..) {
            let addr = &wanted.holders[0].1;
            match groups.iter_mut().find(|(a, _)| a == addr) {
                Some((_, group)) => group.push(wanted),
                None => groups.push((addr.clone(), vec![wanted])),
            }
        }
        for (_, group) in groups {
            let fetcher = self.fetcher.clone();
            let tx = self.background_tx.clone();
            self.background.spawn(async move {
                let results = fetcher.fetch(group).await;
                let _ = tx.send(Background::Fetched(results));
            });
        }
    }

    /// The scheduler sent a module: check and load it off the loop.
    fn module_arrived(&mut self, hash: ModuleHash, bytes: Vec<u8>) {
        if !self.modules.arrived(hash) {
            return;
        }
        let runtime = self.runtime.clone();
        let tx = self.background_tx.clone();
        self.background.spawn(async move {
            let loading = tokio::task::spawn_blocking(move || load(&runtime, hash, &bytes)).await;
            let result =
                loading.unwrap_or_else(|error| Err(format!("module loading failed: {error}")));
            let _ = tx.send(Background::Loaded { hash, result });
        });
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

/// Cuts a message to [`MESSAGE_BYTES_MAX`] bytes at a character boundary.
fn truncate(mut message: String) -> String {
    if message.len() > MESSAGE_BYTES_MAX {
        let mut end = MESSAGE_BYTES_MAX;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str(" [truncated]");
    }
    message
}
