//! Worker events: results, failures, failed fetches, replicas, workers
//! joining and leaving, and the recovery of lost data by recomputation.

use crate::ids::{TaskId, WorkerId};
use crate::messages::{Command, FailureKind, TaskFailure, ToClient, ToWorker};
use crate::scheduler::Scheduler;
use crate::task::{StateName, TaskState};
use smallvec::smallvec;
use std::sync::Arc;
use weft_schema::graph::TaskKey;
use weft_schema::quota::QuotaLimit;

impl Scheduler {
    /// The task `id` if it is processing run `run` on `worker`; a report
    /// about anything else is stale and changes nothing.
    fn current_run(&self, worker: WorkerId, key: &TaskKey, run: u32) -> Option<TaskId> {
        let id = self.id_of(key)?;
        (self.task(id).state().processing() == Some((worker, run))).then_some(id)
    }

    /// `worker` says what its threads are running (see
    /// `WorkerState::blamed`); tasks it no longer runs for us are left out.
    pub(crate) fn worker_running(&mut self, worker: WorkerId, running: &[(TaskKey, u32)]) {
        let ids: Vec<TaskId> = running
            .iter()
            .filter_map(|(key, run)| self.current_run(worker, key, *run))
            .collect();
        let since = self.next_dispatch;
        if let Some(state) = self.workers.get_mut(&worker) {
            state.reported_running = Some((ids, since));
        }
    }

    pub(crate) fn task_finished(
        &mut self,
        worker: WorkerId,
        key: TaskKey,
        run: u32,
        nbytes: u64,
        duration_us: u64,
    ) {
        let Some(id) = self.current_run(worker, &key, run) else {
            // A result the scheduler did not ask for (stale or released):
            // the worker must not keep it. But a `Free` would also drop a
            // newer run of the key the worker was given since (the report
            // crossed its `Compute`): that run replaces the value, and if
            // it ends otherwise the copy is freed then.
            let known = self.id_of(&key);
            let held = known.is_some_and(|id| self.task(id).state().holds(worker));
            let running_here = known.filter(|id| {
                self.task(*id)
                    .state()
                    .processing()
                    .is_some_and(|(w, _)| w == worker)
            });
            if let Some(id) = running_here {
                if let Some(state) = self.workers.get_mut(&worker) {
                    state.copies_while_running.insert(id);
                }
            } else if !held && self.workers.contains_key(&worker) {
                self.send(Command::Worker(worker, ToWorker::Free { keys: vec![key] }));
            }
            return;
        };
        self.record_duration(id, duration_us);
        let tenant = self.task(id).tenant;
        let now = self.now;
        self.book_mut(tenant).record_run(now, duration_us);
        let stored = self.tenant_usage_ref(tenant).stored_bytes;
        if let Err(quota) = self.check_quota(tenant, QuotaLimit::StoredBytesMax, nbytes, stored) {
            // The result is not kept: the worker drops it, and the key
            // fails with the figures.
            let failure = TaskFailure {
                origin: self.task(id).name,
                kind: FailureKind::QuotaExceeded,
                message: format!("its result was not kept: {quota}"),
                quota: Some(quota),
            };
            self.fail(id, Arc::new(failure));
            self.send(Command::Worker(worker, ToWorker::Free { keys: vec![key] }));
            return;
        }
        let who_has = smallvec![worker];
        self.transition(id, TaskState::Memory { who_has, nbytes });
        self.notify(id, |key| ToClient::Finished { key, nbytes });
        for i in 0..self.task(id).dependents.len() {
            let dependent = self.task(id).dependents[i];
            self.input_arrived(dependent);
        }
        let deps = self.task(id).dependencies.clone();
        for dep in deps.iter() {
            self.release_if_unneeded(*dep);
        }
        self.release_if_unneeded(id);
    }

    fn record_duration(&mut self, id: TaskId, duration_us: u64) {
        let function = self.task(id).function as usize;
        if let Some(estimate) = self.durations.get_mut(function) {
            // An average over about the last ten runs.
            let weight = estimate.samples.min(9);
            estimate.average_us = (estimate.average_us * weight + duration_us) / (weight + 1);
            estimate.samples += 1;
        }
    }

    pub(crate) fn task_erred(&mut self, worker: WorkerId, key: TaskKey, run: u32, message: String) {
        let Some(id) = self.current_run(worker, &key, run) else {
            return;
        };
        let task = self.task_mut(id);
        if task.retries_left > 0 {
            task.retries_left -= 1;
            self.transition(id, TaskState::Released);
            self.rewant_or_release(id);
            return;
        }
        let failure = TaskFailure {
            origin: self.task(id).name,
            kind: FailureKind::Task,
            message,
            quota: None,
        };
        self.fail(id, Arc::new(failure));
    }

    pub(crate) fn fetch_failed(
        &mut self,
        worker: WorkerId,
        key: TaskKey,
        run: u32,
        missing: &[(TaskKey, WorkerId)],
    ) {
        let Some(id) = self.current_run(worker, &key, run) else {
            return;
        };
        for (dep_key, holder) in missing {
            if let Some(dep) = self.id_of(dep_key)
                && self.task(dep).state().holds(*holder)
            {
                self.remove_replica(dep, *holder);
                // The fetch may have failed for want of time, not of the
                // data: a holder the books no longer count must not keep
                // it (it would be held for ever, counted by no one).
                if self.workers.contains_key(holder) {
                    let keys = vec![*dep_key];
                    self.send(Command::Worker(*holder, ToWorker::Free { keys }));
                }
            }
        }
        // The task may have been re-planned by the loss above.
        if self.task(id).state().processing() == Some((worker, run)) {
            self.transition(id, TaskState::Released);
            self.rewant_or_release(id);
        }
    }

    pub(crate) fn replica_added(&mut self, worker: WorkerId, key: TaskKey) {
        if !self.workers.contains_key(&worker) {
            return;
        }
        match self.id_of(&key) {
            Some(id) if self.task(id).is(StateName::Memory) => self.add_replica(id, worker),
            // The copy was made before the key was lost and given to this
            // very worker to compute again (the report crossed the
            // `Compute`): a `Free` would drop that run too, and the task
            // would wait for ever. The run stores its own value; if it ends
            // otherwise (stolen, failed), the copy is freed then.
            Some(id)
                if self
                    .task(id)
                    .state()
                    .processing()
                    .is_some_and(|(w, _)| w == worker) =>
            {
                if let Some(state) = self.workers.get_mut(&worker) {
                    state.copies_while_running.insert(id);
                }
            }
            _ => self.send(Command::Worker(worker, ToWorker::Free { keys: vec![key] })),
        }
    }

    /// `worker` no longer holds `id`'s result; if it held the last copy,
    /// the loss is handled and the result recomputed if needed.
    pub(crate) fn remove_replica(&mut self, id: TaskId, worker: WorkerId) {
        if self.drop_holder(id, worker) {
            self.after_loss(id);
            self.rewant_or_release(id);
        }
    }

    /// After the last copy went (memory → released): holders told,
    /// dependents that were ready wait again.
    fn after_loss(&mut self, id: TaskId) {
        self.notify(id, |key| ToClient::Lost { key });
        for i in 0..self.task(id).dependents.len() {
            let dependent = self.task(id).dependents[i];
            self.input_lost(dependent);
        }
    }

    /// A task that just became released: computed again if needed, else let
    /// go together with the inputs it no longer needs.
    pub(crate) fn rewant_or_release(&mut self, id: TaskId) {
        if !self.task(id).is(StateName::Released) {
            return;
        }
        if self.is_needed(id) {
            self.want(id);
        } else {
            let deps = self.task(id).dependencies.clone();
            self.release_if_unneeded(id);
            for dep in deps.iter() {
                self.release_if_unneeded(*dep);
            }
        }
    }

    pub(crate) fn worker_left(&mut self, worker: WorkerId, reason: Option<&str>) {
        let Some(state) = self.workers.remove(&worker) else {
            return;
        };
        self.passed_over.clear();
        self.forget_waiting_copies(worker);
        for id in state.blamed() {
            self.task_mut(id).deaths += 1;
        }
        let mut affected: Vec<TaskId> = state.processing.keys().copied().collect();
        for &id in &affected {
            self.transition(id, TaskState::Released);
        }
        // The worker has left the books: only its tasks' records change.
        for &id in &state.has_what {
            if self.drop_holder(id, worker) {
                self.after_loss(id);
                affected.push(id);
            }
        }
        // Dependents first (they were submitted later): re-wanting them
        // re-wants their inputs, so no input is let go only to be needed
        // again a moment later.
        affected.sort_unstable_by_key(|id| std::cmp::Reverse(self.task(*id).priority));
        for id in affected {
            if !self.tasks.contains(id) || !self.task(id).is(StateName::Released) {
                continue;
            }
            let task = self.task(id);
            if task.deaths >= self.config.worker_deaths_max {
                let failure = TaskFailure {
                    origin: task.name,
                    kind: FailureKind::KilledWorker,
                    message: format!(
                        "{} while running this task (worker_deaths_max is {}); \
                         the last, {worker}: {}",
                        match task.deaths {
                            1 => "1 worker died".to_string(),
                            n => format!("{n} workers died"),
                        },
                        self.config.worker_deaths_max,
                        reason.unwrap_or("its connection dropped")
                    ),
                    quota: None,
                };
                self.fail(id, Arc::new(failure));
            } else {
                self.rewant_or_release(id);
            }
        }
    }
}
