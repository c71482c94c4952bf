//! Placement: queued tasks go, in priority order, to workers with room.
//! A worker has room while it runs fewer tasks than it has threads, or its
//! estimated backlog per thread is under `backlog_target_us` (and under the
//! hard cap). Among workers with room, the one where the task would start
//! soonest wins: its backlog per thread plus the time to fetch the inputs
//! it lacks. Ready tasks wait at the scheduler, not on workers, so root
//! tasks never flood a worker and a new worker gets work at once.

use crate::ids::{TaskId, WorkerId};
use crate::messages::{Command, ComputeTask, Input, ToWorker};
use crate::scheduler::Scheduler;
use crate::task::TaskState;
use crate::worker::{Dispatch, WorkerState};

impl Scheduler {
    /// Sends queued tasks to workers while any has room.
    pub(crate) fn schedule(&mut self) {
        while let Some(&(_, id)) = self.queue.first() {
            let Some(worker) = self.pick_worker(id) else {
                break;
            };
            self.queue.pop_first();
            self.dispatch(id, worker);
        }
    }

    pub(crate) fn has_room(&self, worker: &WorkerState) -> bool {
        let running = worker.processing.len() as u64;
        let threads = u64::from(worker.nthreads);
        running < threads
            || (worker.backlog_us < self.config.backlog_target_us * threads
                && running < threads * u64::from(self.config.processing_per_thread_max))
    }

    /// The worker with room where `id` would start soonest.
    fn pick_worker(&self, id: TaskId) -> Option<WorkerId> {
        let task = self.task(id);
        let mut best: Option<(u64, WorkerId)> = None;
        for (&worker_id, worker) in &self.workers {
            if !self.has_room(worker) {
                continue;
            }
            let missing_bytes: u64 = task
                .dependencies
                .iter()
                .map(|d| self.task(*d))
                .filter(|dep| !dep.who_has.contains(&worker_id))
                .map(|dep| dep.nbytes)
                .sum();
            let transfer_us =
                missing_bytes.saturating_mul(1_000_000) / self.config.bandwidth_bytes_per_s.max(1);
            let start_us = worker.backlog_us / u64::from(worker.nthreads) + transfer_us;
            if best.is_none_or(|(cost, _)| start_us < cost) {
                best = Some((start_us, worker_id));
            }
        }
        best.map(|(_, worker)| worker)
    }

    fn dispatch(&mut self, id: TaskId, worker: WorkerId) {
        let estimate_us = self.estimate_us(id);
        let seq = self.next_dispatch;
        self.next_dispatch += 1;
        let state = self
            .workers
            .get_mut(&worker)
            .expect("picked among known workers");
        state.processing.insert(id, Dispatch { seq, estimate_us });
        state.backlog_us += estimate_us;
        self.task_mut(id).runs += 1;
        self.transition(id, TaskState::Processing { worker });
        let task = self.task(id);
        let inputs = task
            .dependencies
            .iter()
            .map(|d| {
                let dep = self.task(*d);
                Input {
                    key: dep.key,
                    nbytes: dep.nbytes,
                    holders: dep.who_has.to_vec(),
                }
            })
            .collect();
        let compute = ComputeTask {
            key: task.key,
            run: task.runs,
            spec: task
                .spec
                .clone()
                .expect("only tasks with a spec are queued"),
            inputs,
        };
        self.send(Command::Worker(worker, ToWorker::Compute(compute)));
    }
}
