//! What is computed, kept and freed. A task is *needed* while a client holds
//! a future to it or a dependent is waiting for it, queued or running. A
//! needed task is computed ([`Scheduler::want`]); a task that is no longer
//! needed loses its result ([`Scheduler::release_if_unneeded`]), and a
//! released task that nothing depends on is forgotten. Lineage (a released
//! task's spec) is kept while any dependent exists, so lost data can be
//! recomputed.

use crate::ids::TaskId;
use crate::messages::{Command, FailureKind, TaskFailure, ToClient, ToWorker};
use crate::scheduler::Scheduler;
use crate::task::{StateName, TaskState};
use std::sync::Arc;
use weft_schema::graph::TaskKey;

impl Scheduler {
    /// Whether `id`'s result is needed.
    pub(crate) fn is_needed(&self, id: TaskId) -> bool {
        let task = self.task(id);
        !task.who_wants.is_empty() || task.needed_by > 0
    }

    /// Makes sure `root` and every released task it needs is computed.
    /// Iterative (post-order over released dependencies), so deep chains
    /// cannot overflow the stack.
    pub(crate) fn want(&mut self, root: TaskId) {
        let mut stack = vec![(root, false)];
        // Tasks that failed on the way are released only at the end: a
        // dependent still on the stack will need to see them erred.
        let mut failed = Vec::new();
        while let Some((id, deps_done)) = stack.pop() {
            if !self.task(id).is(StateName::Released) {
                continue;
            }
            if deps_done {
                failed.extend(self.start(id));
                continue;
            }
            stack.push((id, true));
            for &dep in self.task(id).dependencies.iter() {
                if self.task(dep).is(StateName::Released) {
                    stack.push((dep, false));
                }
            }
        }
        for id in failed {
            self.release_failed(id);
        }
    }

    /// Released → waiting, queued or erred, its dependencies having been
    /// started already. Returns the tasks that became erred.
    fn start(&mut self, id: TaskId) -> Vec<TaskId> {
        let task = self.task(id);
        if task.spec.is_none() {
            let failure = TaskFailure {
                origin: task.name,
                kind: FailureKind::DataLost,
                message: "its data was scattered by a client and lost with its worker(s); \
                          it cannot be recomputed"
                    .into(),
                quota: None,
            };
            return self.mark_erred(id, Arc::new(failure));
        }
        let mut deps_left = 0;
        let mut failed = None;
        for &dep in task.dependencies.iter() {
            match self.task(dep).state() {
                TaskState::Memory { .. } => {}
                TaskState::Erred { failure } => failed = Some(failure.clone()),
                _ => deps_left += 1,
            }
        }
        if let Some(failure) = failed {
            return self.mark_erred(id, failure);
        }
        if deps_left == 0 {
            self.transition(id, TaskState::Queued);
        } else {
            self.transition(id, TaskState::Waiting { deps_left });
        }
        Vec::new()
    }

    /// Marks `root` erred with `failure` and every task waiting on it,
    /// transitively; tells the clients holding them; releases what is no
    /// longer needed.
    pub(crate) fn fail(&mut self, root: TaskId, failure: Arc<TaskFailure>) {
        for id in self.mark_erred(root, failure) {
            self.release_failed(id);
        }
    }

    /// The state change of [`Scheduler::fail`] without the releases; returns
    /// the tasks that became erred.
    fn mark_erred(&mut self, root: TaskId, failure: Arc<TaskFailure>) -> Vec<TaskId> {
        let mut work = vec![root];
        let mut touched = Vec::new();
        while let Some(id) = work.pop() {
            if self.task(id).is(StateName::Erred) {
                continue;
            }
            let erred = TaskState::Erred {
                failure: failure.clone(),
            };
            self.transition(id, erred);
            self.notify(id, |key| ToClient::Erred {
                key,
                failure: failure.clone(),
            });
            // Only waiting dependents can be affected: a queued or running
            // one has every input in memory (or, running, finds out when
            // its fetch fails), and this one was not.
            for &dependent in &self.task(id).dependents {
                if self.task(dependent).is(StateName::Waiting) {
                    work.push(dependent);
                }
            }
            touched.push(id);
        }
        touched
    }

    /// After `id` failed: its inputs, and itself, may no longer be needed.
    fn release_failed(&mut self, id: TaskId) {
        if !self.tasks.contains(id) {
            return;
        }
        let deps = self.task(id).dependencies.clone();
        for dep in deps.iter() {
            self.release_if_unneeded(*dep);
        }
        self.release_if_unneeded(id);
    }

    /// Sends a message about `id` to every client holding it, each with
    /// its own name for the key.
    pub(crate) fn notify(&mut self, id: TaskId, message: impl Fn(TaskKey) -> ToClient) {
        for i in 0..self.task(id).who_wants.len() {
            let client = self.task(id).who_wants[i];
            let name = self.name_for(client, id);
            self.send(Command::Client(client, message(name)));
        }
    }

    /// Frees what `root` no longer needs, walking down through dependencies
    /// and forgetting released tasks that nothing depends on.
    pub(crate) fn release_if_unneeded(&mut self, root: TaskId) {
        let mut work = vec![root];
        while let Some(id) = work.pop() {
            if !self.tasks.contains(id) || self.is_needed(id) {
                continue;
            }
            match self.task(id).state() {
                TaskState::Memory { .. } => self.drop_data(id),
                TaskState::Waiting { .. } | TaskState::Queued | TaskState::Processing { .. } => {
                    self.stop(id);
                    work.extend(self.task(id).dependencies.iter().copied());
                }
                TaskState::Erred { .. } => {
                    // Its failure goes with the state.
                    self.transition(id, TaskState::Released);
                }
                TaskState::Released => {}
            }
            let task = self.task(id);
            if task.who_wants.is_empty() && task.dependents.is_empty() {
                work.extend(self.forget(id));
            }
        }
    }

    /// Memory → released: the workers holding the result free it.
    fn drop_data(&mut self, id: TaskId) {
        let key = self.task(id).key;
        let old = self.transition(id, TaskState::Released);
        for &worker in old.who_has() {
            self.send(Command::Worker(worker, ToWorker::Free { keys: vec![key] }));
        }
    }

    /// Waiting, queued or processing → released; a worker running it is
    /// told to drop it.
    pub(crate) fn stop(&mut self, id: TaskId) {
        let key = self.task(id).key;
        let old = self.transition(id, TaskState::Released);
        if let Some((worker, _)) = old.processing() {
            self.send(Command::Worker(worker, ToWorker::Free { keys: vec![key] }));
        }
    }
}
