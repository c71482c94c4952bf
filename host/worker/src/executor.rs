//! The executor threads: `nthreads` std threads named `weft-exec-N` that
//! take [`Job`]s from one FIFO queue, run them with
//! [`Runtime::call`](weft_runtime::Runtime::call) and send a [`JobDone`] back
//! to the async side through a tokio channel.
//!
//! Jobs are taken from the queue in the order they were submitted, so they
//! start in that order (the scheduler relies on it). A job that was
//! cancelled while queued (its task was freed) is skipped when it comes up;
//! [`Ticket`](crate::state::Ticket) settles the race between cancelling and starting. The threads
//! never touch the network and never wait on anything but the queue and the
//! pause gate.
//!
//! **Pausing** ([`Executors::set_paused`], when managed memory is above the
//! pause fraction): a thread that takes a job while paused holds it,
//! unstarted (it can still be cancelled), until the pause ends; the other
//! jobs stay in the queue. Running jobs finish.

use crate::state::JobDone;
use bytes::Bytes;
use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;
use weft_core::{SpecArg, TaskSpec};
use weft_runtime::{Runtime, TaskLimits, TaskModule};

/// A job as the executor threads take it: with its module loaded.
pub(crate) type Job = crate::state::Job<Arc<TaskModule>>;

/// Whether jobs may start: open, paused, or closed (the pool is gone).
#[derive(Debug, Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Debug, Default, Clone, Copy)]
struct GateState {
    paused: bool,
    closed: bool,
}

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        // The state is two flags set in one statement: never inconsistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set(&self, update: impl FnOnce(&mut GateState)) {
        update(&mut self.lock());
        self.changed.notify_all();
    }

    /// Waits while paused; false if the pool closed.
    fn wait_open(&self) -> bool {
        let mut state = self.lock();
        while state.paused && !state.closed {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        !state.closed
    }
}

/// The pool of executor threads. Dropping it closes the queue: each thread
/// exits after the job it is running, if any.
#[derive(Debug)]
pub(crate) struct Executors {
    queue: Sender<Job>,
    gate: Arc<Gate>,
}

impl Drop for Executors {
    fn drop(&mut self) {
        self.gate.set(|state| state.closed = true);
    }
}

impl Executors {
    /// Starts `nthreads` threads running tasks on `runtime` under `limits`.
    pub(crate) fn start(
        nthreads: u32,
        runtime: Arc<Runtime>,
        limits: TaskLimits,
        done: UnboundedSender<JobDone>,
    ) -> std::io::Result<Executors> {
        let (queue, jobs) = mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        let limits = Arc::new(limits);
        let gate = Arc::new(Gate::default());
        // Deep wasm recursion must meet wasmtime's stack check, not the end
        // of the thread's own stack.
        let stack_bytes = runtime.config().native_stack_bytes();
        for index in 0..nthreads {
            let jobs = jobs.clone();
            let runtime = runtime.clone();
            let limits = limits.clone();
            let done = done.clone();
            let gate = gate.clone();
            // On failure the queue is dropped: the threads started end.
            std::thread::Builder::new()
                .name(format!("weft-exec-{index}"))
                .stack_size(stack_bytes)
                .spawn(move || run_jobs(&jobs, &gate, &runtime, &limits, &done))?;
        }
        Ok(Executors { queue, gate })
    }

    /// Queues a job. False if the threads are gone.
    pub(crate) fn submit(&self, job: Job) -> bool {
        self.queue.send(job).is_ok()
    }

    /// Pauses (no job starts) or resumes the threads.
    pub(crate) fn set_paused(&self, paused: bool) {
        self.gate.set(|state| state.paused = paused);
    }
}

/// One executor thread's life: take jobs until the queue closes or the
/// loop stops listening.
fn run_jobs(
    jobs: &Mutex<Receiver<Job>>,
    gate: &Gate,
    runtime: &Runtime,
    limits: &TaskLimits,
    done: &UnboundedSender<JobDone>,
) {
    loop {
        let job = {
            // Receiving cannot panic, so the lock cannot be poisoned by a
            // holder; take it anyway if it is.
            let jobs = jobs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match jobs.recv() {
                Ok(job) => job,
                Err(_closed) => return,
            }
        };
        if !gate.wait_open() {
            return;
        }
        if !job.ticket.start() {
            continue;
        }
        let started = Instant::now();
        let result = run_job(&job, runtime, limits);
        let duration = started.elapsed();
        let report = JobDone {
            seq: job.seq,
            key: job.key,
            result,
            duration,
        };
        drop(job);
        if done.send(report).is_err() {
            return;
        }
    }
}

/// Assembles the arguments and calls the task, turning a panic inside the
/// runtime (a bug) into a task error rather than a lost task.
fn run_job(job: &Job, runtime: &Runtime, limits: &TaskLimits) -> Result<Bytes, String> {
    let args = arguments(&job.spec, &job.inputs);
    let call = catch_unwind(AssertUnwindSafe(|| {
        runtime.call(&job.module, &job.spec.function, &args, limits)
    }));
    match call {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(error)) => Err(error.to_string()),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_string());
            tracing::error!(task = %job.spec.function, panic = %what, "the runtime panicked");
            Err(format!(
                "task `{}`: the worker's runtime panicked (a bug in Weft): {what}",
                job.spec.function
            ))
        }
    }
}

/// The argument bytes of a call: the spec's arguments in order, each
/// `Value` as is and each `Key` replaced by the next input, concatenated
/// (`schema/ABI.md`, "Arguments"). A single argument is not copied.
pub(crate) fn arguments<'a>(spec: &'a TaskSpec, inputs: &'a [Bytes]) -> Cow<'a, [u8]> {
    match (spec.args.as_slice(), inputs) {
        ([], _) => Cow::Borrowed(&[]),
        ([SpecArg::Value(value)], _) => Cow::Borrowed(value),
        ([SpecArg::Key(_)], [input]) => Cow::Borrowed(input),
        (args, _) => {
            let mut inputs = inputs.iter();
            let mut len = 0;
            let mut parts: Vec<&[u8]> = Vec::with_capacity(args.len());
            for arg in args {
                let part: &[u8] = match arg {
                    SpecArg::Value(value) => value,
                    SpecArg::Key(_) => inputs.next().map_or(&[], |input| input),
                };
                len += part.len();
                parts.push(part);
            }
            let mut out = Vec::with_capacity(len);
            for part in parts {
                out.extend_from_slice(part);
            }
            Cow::Owned(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_schema::graph::TaskKey;

    fn spec(args: Vec<SpecArg>) -> TaskSpec {
        TaskSpec {
            module: [0; 32],
            function: "f".into(),
            args,
        }
    }

    #[test]
    fn arguments_are_values_and_inputs_in_order() {
        let key = SpecArg::Key(TaskKey([7; 16]));
        let inputs = [Bytes::from_static(b"AA"), Bytes::from_static(b"BBB")];
        let s = spec(vec![
            SpecArg::Value(b"1".to_vec()),
            key.clone(),
            SpecArg::Value(b"22".to_vec()),
            key.clone(),
        ]);
        assert_eq!(&*arguments(&s, &inputs), b"1AA22BBB");
        let s = spec(vec![key]);
        assert!(matches!(arguments(&s, &inputs[..1]), Cow::Borrowed(b"AA")));
        let s = spec(vec![SpecArg::Value(b"xyz".to_vec())]);
        assert!(matches!(arguments(&s, &[]), Cow::Borrowed(b"xyz")));
        assert!(arguments(&spec(vec![]), &[]).is_empty());
    }

    #[test]
    fn the_gate_holds_while_paused_and_opens_on_resume_or_close() {
        let gate = Arc::new(Gate::default());
        assert!(gate.wait_open());
        for (resume, expected) in [(true, true), (false, false)] {
            gate.set(|state| state.paused = true);
            let waiter = {
                let gate = gate.clone();
                std::thread::spawn(move || gate.wait_open())
            };
            if resume {
                gate.set(|state| state.paused = false);
            } else {
                gate.set(|state| state.closed = true);
            }
            assert_eq!(waiter.join().expect("the waiter"), expected);
        }
    }
}
