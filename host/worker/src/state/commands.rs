//! The worker state's answers to the scheduler's commands (compute, free,
//! steal, restart, rejoin, modules), to finished jobs and to loaded
//! modules: the task lifecycle of the module documentation.

use super::{
    Instruction, ModuleSize, Phase, Stop, Task, Values, WorkerState, inputs::Gathered, truncate,
};
use crate::config::RestartMode;
use crate::state::{Job, JobDone, LoadFailure, Ticket};
use std::collections::HashMap;
use std::sync::Arc;
use weft_core::ModuleHash;
use weft_proto::messages::{WireCompute, WorkerCommand, WorkerReport};
use weft_schema::graph::TaskKey;

impl<M: ModuleSize, S: Values> WorkerState<M, S> {
    /// Applies one command.
    pub(super) fn command(&mut self, command: WorkerCommand) {
        match command {
            WorkerCommand::Compute(compute) => self.compute(compute),
            WorkerCommand::Free { keys } => self.free(keys),
            WorkerCommand::Fetch { inputs } => self.cx.fetch_replicas(inputs),
            WorkerCommand::Restart => self.restart(),
            WorkerCommand::Rejoin { reason } => {
                tracing::warn!(%reason, "the scheduler removed this worker; rejoining with nothing");
                self.clear("rejoin");
                self.rejoin();
            }
            WorkerCommand::Steal { key, run } => self.steal(key, run),
            WorkerCommand::Module { hash, bytes } => {
                if self.cx.modules.arrived(hash) {
                    self.cx.out.push(Instruction::Load { hash, bytes });
                }
            }
            WorkerCommand::ModuleMissing { hash } => {
                let message = format!(
                    "module {} is not known to the scheduler",
                    weft_runtime::ModuleHash(hash).to_hex()
                );
                self.module_failed(hash, &message);
            }
            WorkerCommand::ModuleRefused { hash, message } => self.module_failed(hash, &message),
            WorkerCommand::Welcome { .. } => {
                self.stop(Stop::Protocol(
                    "unexpected Welcome after registration".into(),
                ));
            }
        }
    }

    /// Drops every value, task and pending input; then answers `Restarted`
    /// (and fresh metrics), or stops.
    fn restart(&mut self) {
        self.clear("restart");
        match self.cx.restart {
            RestartMode::Exit => {
                tracing::info!("restart asked for: stopping so that a fresh process takes over");
                self.stop(Stop::Restart);
            }
            RestartMode::InPlace => self.rejoin(),
        }
    }

    /// Tells the scheduler this worker holds and runs nothing now.
    fn rejoin(&mut self) {
        self.update_pause();
        self.cx.report(WorkerReport::Restarted);
        self.push_metrics();
    }

    /// Drops every value, task and pending input.
    fn clear(&mut self, why: &str) {
        let cancelled = self.tasks.len();
        for (_, task) in self.tasks.drain() {
            if let Phase::Submitted(ticket) = task.phase {
                // If it already started, it is interrupted and its result
                // is discarded on arrival.
                ticket.withdraw();
            }
        }
        self.cx.fetching.clear();
        self.cx.to_fetch.clear();
        self.cx.to_read.clear();
        self.cx.epoch += 1;
        let usage = self.cx.values.usage();
        let files = self.cx.values.clear();
        if !files.is_empty() {
            self.cx.out.push(Instruction::DeleteFiles(files));
        }
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
            tenant,
            weight,
            ceilings,
            spec,
            inputs,
        } = compute;
        if let Some(old) = self.tasks.remove(&key) {
            tracing::debug!(%key, old_run = old.run, run, "task sent again; the older run is dropped");
            if let Phase::Submitted(ticket) = old.phase {
                ticket.withdraw();
            }
        }
        let id = self.cx.next_id;
        self.cx.next_id += 1;
        self.tasks.insert(
            key,
            Task {
                id,
                run,
                tenant,
                weight,
                ceilings,
                spec,
                inputs,
                have: HashMap::new(),
                phase: Phase::Waiting {
                    pending: 0,
                    failed: Vec::new(),
                },
            },
        );
        self.advance(key);
    }

    fn free(&mut self, keys: Vec<TaskKey>) {
        for key in keys {
            self.cx.values.remove(&key);
            if let Some(flight) = self.cx.fetching.get_mut(&key) {
                // Being fetched: dropped on arrival. A copy the scheduler
                // asked for is answered now, so it does not wait for it.
                let asked = std::mem::replace(&mut flight.replica, false);
                flight.keep = false;
                if asked {
                    self.cx.report(WorkerReport::ReplicaFailed {
                        key,
                        message: "freed before the copy arrived".into(),
                    });
                }
            }
            if let Some(task) = self.tasks.remove(&key)
                && let Phase::Submitted(ticket) = task.phase
            {
                // If it already started, it is interrupted and its result
                // is discarded on arrival.
                ticket.withdraw();
            }
        }
    }

    /// Gives a task up for another worker if it has not started.
    fn steal(&mut self, key: TaskKey, run: u32) {
        let stolen = match self.tasks.get(&key) {
            Some(task) if task.run == run => match &task.phase {
                Phase::Waiting { .. } => true,
                Phase::Submitted(ticket) => ticket.cancel(),
            },
            _ => false,
        };
        if stolen {
            self.tasks.remove(&key);
        }
        self.cx
            .report(WorkerReport::StealResponse { key, run, stolen });
    }

    /// Moves a waiting task on if it waits for nothing: reports its failed
    /// fetches, or asks for what it misses, or submits it.
    pub(super) fn advance(&mut self, key: TaskKey) {
        let Some(task) = self.tasks.get_mut(&key) else {
            return;
        };
        let Phase::Waiting { pending, failed } = &mut task.phase else {
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
                        tenant: task.tenant,
                        weight: task.weight,
                        ceilings: task.ceilings,
                        module,
                        spec: task.spec.clone(),
                        inputs: values,
                        ticket: ticket.clone(),
                    };
                    task.phase = Phase::Submitted(ticket);
                    self.cx.out.push(Instruction::Execute(job));
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
            .report(WorkerReport::FetchFailed { key, run, missing });
    }

    pub(super) fn job_done(&mut self, done: JobDone) {
        let Some(task) = self.tasks.get(&done.key) else {
            return;
        };
        if task.id != done.seq || !matches!(task.phase, Phase::Submitted(_)) {
            return;
        }
        let run = task.run;
        self.tasks.remove(&done.key);
        let key = done.key;
        match done.result {
            Ok(value) => {
                let nbytes = value.len() as u64;
                self.cx.values.insert(key, value);
                self.cx.report(WorkerReport::Finished {
                    key,
                    run,
                    nbytes,
                    duration_us: u64::try_from(done.duration.as_micros()).unwrap_or(u64::MAX),
                });
            }
            Err(message) => self.cx.report(WorkerReport::Erred {
                key,
                run,
                message: truncate(message),
            }),
        }
    }

    pub(super) fn loaded(&mut self, hash: ModuleHash, result: Result<M, LoadFailure>) {
        match result {
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
                    self.cx.report(WorkerReport::ModuleRefused {
                        hash,
                        message: truncate(failure.message.clone()),
                        lasting: failure.lasting,
                    });
                }
                self.module_failed(hash, &failure.message);
            }
        }
    }

    /// One thing a waiting task waited for is settled.
    pub(super) fn settle(&mut self, key: TaskKey) {
        if let Some(Task {
            phase: Phase::Waiting { pending, .. },
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
                self.cx.report(WorkerReport::Erred {
                    key,
                    run: task.run,
                    message: truncate(message.to_string()),
                });
            }
        }
    }

    /// Whether `(key, id)` is a task still waiting.
    pub(super) fn is_waiter(&self, key: TaskKey, id: u64) -> bool {
        self.tasks
            .get(&key)
            .is_some_and(|t| t.id == id && matches!(t.phase, Phase::Waiting { .. }))
    }
}
