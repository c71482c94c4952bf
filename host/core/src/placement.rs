//! Placement: queued tasks go, in priority order, to workers with room.
//! A worker has room for a tenant's task while it runs fewer tasks than it
//! has threads, or while its estimated backlog per thread is under
//! `backlog_target_us` and its tasks under the hard cap
//! (`processing_per_thread_max` per thread), or, past those, while the
//! tenant's own backlog and tasks there are under its slice of them (four
//! times the target and cap shared equally, at most the whole of them).
//! So a tenant flooding the cluster never keeps another's tasks at the
//! scheduler, and a worker holds about five times the cap once settled; the worker
//! shares its threads between the tenants' queues by weighted fair queuing
//! (`executor_turns`). Among workers with room, the one where the task
//! would start soonest wins: its tenant's backlog there times the tenants
//! sharing the worker (at most the whole backlog) per thread, plus the time
//! to fetch the inputs it lacks. Ready tasks wait at the scheduler, not on workers, so root tasks
//! never flood a worker and a new worker gets work at once.
//!
//! Work stealing: when the queue is empty and a worker has idle threads,
//! the scheduler asks the busiest workers to give up tasks they have not
//! started (the most recently sent first); a task given up is queued again
//! and goes to the idle worker.

use crate::ids::{TaskId, TenantId, WorkerId};
use crate::messages::{Command, ComputeTask, Input, ToWorker};
use crate::scheduler::Scheduler;
use crate::task::{StateName, TaskState};
use crate::worker::WorkerState;
use std::collections::BTreeMap;
use weft_schema::graph::TaskKey;

/// How many times a worker's target and cap its tenants' slices add up
/// to, past the shared target and cap: with up to this many tenants there,
/// each may have the whole cap of its own.
pub(crate) const SLICES_PER_CAP: u64 = 4;

impl Scheduler {
    /// Asks busy workers to give up unstarted tasks for idle ones: for each
    /// idle thread no request is already on its way for, the unstarted task
    /// (most recently sent first) of the busiest worker, if the idle worker
    /// would start it sooner than its own worker would.
    pub(crate) fn steal(&mut self) {
        let mut promised: BTreeMap<WorkerId, usize> = BTreeMap::new();
        for worker in self.workers.values() {
            for thief in worker.stealing.values() {
                *promised.entry(*thief).or_default() += 1;
            }
        }
        let thieves: Vec<(WorkerId, usize)> = self
            .workers
            .iter()
            .map(|(id, w)| {
                let idle = (w.nthreads as usize).saturating_sub(w.processing.len());
                (
                    *id,
                    idle.saturating_sub(promised.get(id).copied().unwrap_or(0)),
                )
            })
            .filter(|(_, idle)| *idle > 0)
            .collect();
        for (thief, idle) in thieves {
            for _ in 0..idle {
                let victim = self
                    .workers
                    .iter()
                    .filter(|(id, _)| **id != thief)
                    .map(|(id, w)| {
                        (
                            w.processing
                                .len()
                                .saturating_sub(w.nthreads as usize + w.stealing.len()),
                            *id,
                        )
                    })
                    .filter(|(waiting, _)| *waiting > 0)
                    .max();
                let Some((_, victim)) = victim else { return };
                let state = &self.workers[&victim];
                let candidate = state
                    .processing
                    .iter()
                    .filter(|(id, _)| !state.stealing.contains_key(id))
                    .max_by_key(|(_, dispatch)| dispatch.seq)
                    .map(|(id, _)| *id);
                let Some(task) = candidate else { return };
                let tenant = state.processing[&task].tenant;
                let wait_on_victim_us = wait_us(state, tenant);
                if self.transfer_us(task, thief) >= wait_on_victim_us {
                    return;
                }
                // Listed in the victim's `processing`, so processing.
                let Some((_, run)) = self.task(task).state().processing() else {
                    return;
                };
                let key = self.task(task).key;
                self.workers
                    .get_mut(&victim)
                    .expect("exists")
                    .stealing
                    .insert(task, thief);
                self.send(Command::Worker(victim, ToWorker::Steal { key, run }));
            }
        }
    }

    pub(crate) fn steal_response(
        &mut self,
        worker: WorkerId,
        key: TaskKey,
        run: u32,
        stolen: bool,
    ) {
        let Some(id) = self.id_of(&key) else { return };
        let thief = self
            .workers
            .get_mut(&worker)
            .and_then(|state| state.stealing.remove(&id));
        if !(stolen && self.task(id).state().processing() == Some((worker, run))) {
            return;
        }
        self.transition(id, TaskState::Released);
        let ready = self
            .task(id)
            .dependencies
            .iter()
            .all(|d| self.task(*d).is(StateName::Memory));
        match thief {
            Some(thief)
                if ready
                    && self
                        .workers
                        .get(&thief)
                        .is_some_and(|w| self.has_room(w, self.task(id).tenant)) =>
            {
                // Through the queue, as every dispatch.
                self.transition(id, TaskState::Queued);
                self.dispatch(id, thief);
            }
            _ => self.rewant_or_release(id),
        }
    }

    /// Microseconds to move the inputs `worker` lacks for `id`.
    fn transfer_us(&self, id: TaskId, worker: WorkerId) -> u64 {
        let missing_bytes: u64 = self
            .task(id)
            .dependencies
            .iter()
            .map(|d| self.task(*d).state())
            .filter(|dep| !dep.holds(worker))
            .filter_map(TaskState::nbytes)
            .sum();
        missing_bytes.saturating_mul(1_000_000) / self.config.bandwidth_bytes_per_s.max(1)
    }

    /// Whether `worker` takes another task of `tenant`: while it runs
    /// fewer tasks than it has threads; or while its backlog is under the
    /// target (`backlog_target_us` per thread) and its tasks under the cap
    /// (`processing_per_thread_max` per thread); or, past those, while the
    /// tenant's own backlog and tasks there are under its slice of them
    /// ([`SLICES_PER_CAP`] times the target and the cap, shared equally by
    /// the tenants with tasks there, this one included; never more than
    /// the whole target and cap). So a tenant flooding the cluster never
    /// keeps another's tasks at the scheduler (with a few tenants, each
    /// may fill the whole cap), and a worker holds about
    /// `1 + SLICES_PER_CAP` times the cap, however many tenants, once
    /// their loads settle (tasks sent while fewer tenants shared it stay
    /// until they run).
    pub(crate) fn has_room(&self, worker: &WorkerState, tenant: TenantId) -> bool {
        self.has_shared_room(worker) || self.has_slice_room(worker, tenant)
    }

    /// Whether `worker` takes another task of any tenant: it runs fewer
    /// tasks than it has threads, or it is under the target and the cap.
    pub(crate) fn has_shared_room(&self, worker: &WorkerState) -> bool {
        let threads = u64::from(worker.nthreads);
        let tasks = worker.processing.len() as u64;
        let backlog_max = self.config.backlog_target_us.saturating_mul(threads);
        let tasks_max = threads.saturating_mul(u64::from(self.config.processing_per_thread_max));
        tasks < threads || (worker.backlog_us < backlog_max && tasks < tasks_max)
    }

    /// Whether `tenant`'s own backlog and tasks on `worker` are under its
    /// slice of the target and the cap.
    pub(crate) fn has_slice_room(&self, worker: &WorkerState, tenant: TenantId) -> bool {
        let threads = u64::from(worker.nthreads);
        let backlog_max = self.config.backlog_target_us.saturating_mul(threads);
        let tasks_max = threads.saturating_mul(u64::from(self.config.processing_per_thread_max));
        let load = worker.load_of(tenant);
        let sharing = sharing(worker, tenant);
        let slice = |max: u64| max.min(max.saturating_mul(SLICES_PER_CAP) / sharing);
        load.backlog_us < slice(backlog_max).max(1)
            && u64::from(load.tasks) < slice(tasks_max).max(1)
    }

    /// The worker with room where `id` would start soonest.
    pub(crate) fn pick_worker(&self, id: TaskId) -> Option<WorkerId> {
        let task = self.task(id);
        // The soonest start, then the least loaded worker.
        let mut best: Option<((u64, u64), WorkerId)> = None;
        for (&worker_id, worker) in &self.workers {
            if !self.has_room(worker, task.tenant) {
                continue;
            }
            let missing_bytes: u64 = task
                .dependencies
                .iter()
                .map(|d| self.task(*d).state())
                .filter(|dep| !dep.holds(worker_id))
                .filter_map(TaskState::nbytes)
                .sum();
            let transfer_us =
                missing_bytes.saturating_mul(1_000_000) / self.config.bandwidth_bytes_per_s.max(1);
            let start_us = wait_us(worker, task.tenant) + transfer_us;
            let cost = (start_us, worker.backlog_us);
            if best.is_none_or(|(best_cost, _)| cost < best_cost) {
                best = Some((cost, worker_id));
            }
        }
        best.map(|(_, worker)| worker)
    }

    /// Queued → processing on `worker` (which has room), as a new run.
    pub(crate) fn dispatch(&mut self, id: TaskId, worker: WorkerId) {
        let run = self.take_run();
        self.transition(id, TaskState::Processing { worker, run });
        let task = self.task(id);
        // A queued task's inputs are all in memory (`validate`).
        let inputs = task
            .dependencies
            .iter()
            .map(|d| {
                let dep = self.task(*d);
                Input {
                    key: dep.key,
                    tenant: dep.tenant,
                    nbytes: dep.state().nbytes().unwrap_or(0),
                    holders: dep.state().who_has().to_vec(),
                }
            })
            .collect();
        let policy = self.tenants.get(&task.tenant).map(|book| &book.policy);
        let compute = ComputeTask {
            key: task.key,
            run,
            tenant: task.tenant,
            weight: policy.map_or(1, |policy| policy.weight.max(1)),
            ceilings: policy
                .map(|policy| policy.limits.task_ceilings)
                .unwrap_or_default(),
            spec: task
                .spec
                .clone()
                .expect("only tasks with a spec are queued"),
            inputs,
        };
        self.send(Command::Worker(worker, ToWorker::Compute(compute)));
    }
}

/// About how long a task of `tenant` sent to `worker` now would wait to
/// start, in microseconds: the worker shares its threads between the
/// tenants with tasks there, so each of the tenant's tasks ahead of it
/// waits for about one of each other tenant's: its tenant's backlog there
/// times the tenants sharing it, never more than the whole backlog, per
/// thread.
fn wait_us(worker: &WorkerState, tenant: TenantId) -> u64 {
    let own = worker.load_of(tenant).backlog_us;
    own.saturating_mul(sharing(worker, tenant))
        .min(worker.backlog_us)
        / u64::from(worker.nthreads)
}

/// The tenants with tasks on `worker`, counting `tenant` (at least one).
fn sharing(worker: &WorkerState, tenant: TenantId) -> u64 {
    let others = worker.tenant_loads.len() - usize::from(worker.tenant_loads.contains_key(&tenant));
    others as u64 + 1
}
