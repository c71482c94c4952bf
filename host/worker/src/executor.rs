//! The executor threads: `nthreads` std threads named `weft-exec-N` that
//! take [`Job`]s from one [`JobQueue`] (a FIFO per tenant, shared by
//! weighted fair queuing on the time jobs take),
//! run them with [`Runtime::call`](weft_runtime::Runtime::call) and send a
//! [`JobDone`] back to the async side through a tokio channel.
//!
//! Each tenant's jobs start in the order they were submitted (the
//! scheduler relies on it); between tenants, the tenant with the least
//! time served over its weight goes next (`job_queue`), and each job's
//! time is charged to its tenant when it ends. A job that was cancelled while queued (its task was
//! freed) is skipped when it comes up; [`Ticket`](crate::state::Ticket)
//! settles the race between cancelling and starting. The threads never
//! touch the network and never wait on anything but the queue.
//!
//! **Pausing** ([`Executors::set_paused`], when managed memory is above the
//! pause fraction): no thread takes a job while paused; the jobs stay
//! queued (they can still be cancelled). Running jobs finish.
//!
//! **Withdrawing** a running job (its task freed or cleared, or sent again)
//! raises the interrupt in its [`Ticket`](crate::state::Ticket): the runtime
//! stops the task within an epoch tick, so a task that runs for ever does
//! not keep its thread after nobody wants it.

use crate::job_queue::{JobQueue, Taken};
use crate::state::JobDone;
use bytes::Bytes;
use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;
use weft_core::{SpecArg, TaskSpec};
use weft_runtime::{Runtime, TaskErrorKind, TaskLimits, TaskModule};
use weft_schema::quota::{TaskCeilings, show_bytes};

/// A job as the executor threads take it: with its module loaded.
pub(crate) type Job = crate::state::Job<Arc<TaskModule>>;

/// The pool of executor threads. Dropping it closes the queue: each thread
/// exits after the job it is running, if any.
#[derive(Debug)]
pub(crate) struct Executors {
    queue: Arc<JobQueue<Job>>,
}

impl Drop for Executors {
    fn drop(&mut self) {
        self.queue.close();
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
        let executors = Executors {
            queue: Arc::new(JobQueue::default()),
        };
        let limits = Arc::new(limits);
        // Deep wasm recursion must meet wasmtime's stack check, not the end
        // of the thread's own stack.
        let stack_bytes = runtime.config().native_stack_bytes();
        for index in 0..nthreads {
            let queue = executors.queue.clone();
            let runtime = runtime.clone();
            let limits = limits.clone();
            let done = done.clone();
            // On failure `executors` is dropped: the threads started end.
            std::thread::Builder::new()
                .name(format!("weft-exec-{index}"))
                .stack_size(stack_bytes)
                .spawn(move || run_jobs(&queue, &runtime, &limits, &done))?;
        }
        Ok(executors)
    }

    /// Queues a job behind its tenant's. False if the threads are gone.
    pub(crate) fn submit(&self, job: Job) -> bool {
        self.queue.push(job.tenant, job.weight, job)
    }

    /// Pauses (no job starts) or resumes the threads.
    pub(crate) fn set_paused(&self, paused: bool) {
        self.queue.set_paused(paused);
    }
}

/// One executor thread's life: take jobs until the queue closes or the
/// loop stops listening.
fn run_jobs(
    queue: &JobQueue<Job>,
    runtime: &Runtime,
    limits: &TaskLimits,
    done: &UnboundedSender<JobDone>,
) {
    while let Taken::Job(job, turn) = queue.take() {
        if !job.ticket.start() {
            queue.finished(turn, Duration::ZERO);
            continue;
        }
        let started = Instant::now();
        let result = run_job(&job, runtime, limits);
        let duration = started.elapsed();
        queue.finished(turn, duration);
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

/// Which of a task's limits its tenant's ceilings lowered.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lowered {
    memory: bool,
    timeout: bool,
    fuel: bool,
}

/// The limits a task runs under: the worker's, lowered by its tenant's
/// ceilings (never raised); and which ones the ceilings lowered.
pub(crate) fn ceiled(limits: &TaskLimits, ceilings: &TaskCeilings) -> (TaskLimits, Lowered) {
    let mut out = limits.clone();
    let mut lowered = Lowered::default();
    if let Some(bytes) = ceilings.memory_bytes_max
        && bytes < out.memory_bytes_max
    {
        out.memory_bytes_max = bytes;
        lowered.memory = true;
    }
    if let Some(ms) = ceilings.timeout_ms
        && Duration::from_millis(ms) < out.timeout
    {
        out.timeout = Duration::from_millis(ms);
        lowered.timeout = true;
    }
    if let Some(fuel) = ceilings.fuel_max
        && out.fuel.is_none_or(|own| fuel < own)
    {
        out.fuel = Some(fuel);
        lowered.fuel = true;
    }
    (out, lowered)
}

/// The ceiling behind `error`, if a limit its tenant lowered is what
/// stopped the task: `task_memory_max 8 MiB`.
fn ceiling_behind(error: &TaskErrorKind, lowered: Lowered, limits: &TaskLimits) -> Option<String> {
    match error {
        TaskErrorKind::OutOfMemory { .. } if lowered.memory => Some(format!(
            "task_memory_max {}",
            show_bytes(limits.memory_bytes_max)
        )),
        TaskErrorKind::Timeout { .. } if lowered.timeout => Some(format!(
            "task_timeout_max {} ms",
            limits.timeout.as_millis()
        )),
        TaskErrorKind::FuelExhausted { .. } if lowered.fuel => {
            Some(format!("task_fuel_max {}", limits.fuel.unwrap_or(0)))
        }
        _ => None,
    }
}

/// Assembles the arguments and calls the task, turning a panic inside the
/// runtime (a bug) into a task error rather than a lost task.
fn run_job(job: &Job, runtime: &Runtime, limits: &TaskLimits) -> Result<Bytes, String> {
    let (ceiled_limits, lowered) = if job.ceilings.is_none() {
        (None, Lowered::default())
    } else {
        let (limits, lowered) = ceiled(limits, &job.ceilings);
        (Some(limits), lowered)
    };
    let limits = ceiled_limits.as_ref().unwrap_or(limits);
    if job.ceilings.fuel_max.is_some() && !runtime.config().fuel_metering {
        return Err(format!(
            "task `{}`: its tenant's task_fuel_max needs workers that meter fuel \
             (started with --fuel); this one does not",
            job.spec.function.name
        ));
    }
    let args = arguments(&job.spec, &job.inputs);
    let call = catch_unwind(AssertUnwindSafe(|| {
        runtime.call_interruptible(
            &job.module,
            &job.spec.function.name,
            &args,
            limits,
            job.ticket.interrupt(),
        )
    }));
    match call {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(mut error)) => match ceiling_behind(&error.kind, lowered, limits) {
            Some(ceiling) => {
                // The note goes on the first line, before any backtrace.
                let backtrace = error.backtrace.take();
                let mut message = format!("{error} (its tenant's ceiling: {ceiling})");
                if let Some(backtrace) = backtrace {
                    message.push_str(&format!("\nwasm backtrace:\n{backtrace}"));
                }
                Err(message)
            }
            None => Err(error.to_string()),
        },
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_string());
            tracing::error!(task = %job.spec.function.name, panic = %what, "the runtime panicked");
            Err(format!(
                "task `{}`: the worker's runtime panicked (a bug in Weft): {what}",
                job.spec.function.name
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
        TaskSpec::new([0; 32], "f", args)
    }

    #[test]
    fn ceilings_lower_the_workers_limits_and_never_raise_them() {
        let worker = TaskLimits {
            memory_bytes_max: 64 << 20,
            timeout: Duration::from_secs(60),
            fuel: Some(1_000),
            ..TaskLimits::default()
        };
        let none = Lowered::default();
        let (same, lowered) = ceiled(&worker, &TaskCeilings::default());
        assert_eq!((same, lowered), (worker.clone(), none));
        let higher = TaskCeilings {
            memory_bytes_max: Some(1 << 30),
            timeout_ms: Some(120_000),
            fuel_max: Some(5_000),
        };
        let (same, lowered) = ceiled(&worker, &higher);
        assert_eq!((same, lowered), (worker.clone(), none), "never raised");
        let lower = TaskCeilings {
            memory_bytes_max: Some(1 << 20),
            timeout_ms: Some(500),
            fuel_max: Some(10),
        };
        let (limits, lowered) = ceiled(&worker, &lower);
        assert_eq!(limits.memory_bytes_max, 1 << 20);
        assert_eq!(limits.timeout, Duration::from_millis(500));
        assert_eq!(limits.fuel, Some(10));
        assert_eq!(limits.result_bytes_max, worker.result_bytes_max);
        let all = Lowered {
            memory: true,
            timeout: true,
            fuel: true,
        };
        assert_eq!(lowered, all);
        let timeout = TaskErrorKind::Timeout {
            limit: Duration::from_millis(500),
        };
        assert_eq!(
            ceiling_behind(&timeout, lowered, &limits).as_deref(),
            Some("task_timeout_max 500 ms")
        );
        let panic = TaskErrorKind::Panic {
            message: "no".into(),
        };
        assert_eq!(
            ceiling_behind(&panic, lowered, &limits),
            None,
            "not a limit"
        );
        assert_eq!(ceiling_behind(&timeout, none, &worker), None, "not lowered");
        let unmetered = TaskLimits {
            fuel: None,
            ..worker
        };
        assert_eq!(ceiled(&unmetered, &lower).0.fuel, Some(10));
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
}
