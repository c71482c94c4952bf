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
use crate::task::TaskState;
use std::sync::Arc;
use weft_schema::graph::TaskKey;

impl Scheduler {
    /// Whether `id`'s result is needed.
    pub(crate) fn is_needed(&self, id: TaskId) -> bool {
        let task = self.task(id);
        !task.who_wants.is_empty()
            || task
                .dependents
                .iter()
                .any(|d| self.task(*d).state.needs_inputs())
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
            if self.task(id).state != TaskState::Released {
                continue;
            }
            if deps_done {
                failed.extend(self.start(id));
                continue;
            }
            stack.push((id, true));
            for &dep in self.task(id).dependencies.iter() {
                if self.task(dep).state == TaskState::Released {
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
            };
            return self.mark_erred(id, Arc::new(failure));
        }
        let mut deps_left = 0;
        let mut failed = None;
        for &dep in task.dependencies.iter() {
            match self.task(dep).state {
                TaskState::Memory => {}
                TaskState::Erred => failed = self.task(dep).failure.clone(),
                _ => deps_left += 1,
            }
        }
        if let Some(failure) = failed {
            return self.mark_erred(id, failure);
        }
        if deps_left == 0 {
            self.enqueue(id);
        } else {
            self.transition(id, TaskState::Waiting { deps_left });
        }
        Vec::new()
    }

    pub(crate) fn enqueue(&mut self, id: TaskId) {
        self.transition(id, TaskState::Queued);
        let priority = self.task(id).priority;
        self.queue.insert((priority, id));
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
            let state = self.task(id).state;
            if state == TaskState::Erred {
                continue;
            }
            if state == TaskState::Queued {
                let priority = self.task(id).priority;
                self.queue.remove(&(priority, id));
            }
            self.task_mut(id).failure = Some(failure.clone());
            self.transition(id, TaskState::Erred);
            self.notify(id, |key| ToClient::Erred {
                key,
                failure: failure.clone(),
            });
            for &dependent in &self.task(id).dependents {
                if matches!(
                    self.task(dependent).state,
                    TaskState::Waiting { .. } | TaskState::Queued
                ) {
                    work.push(dependent);
                }
            }
            touched.push(id);
        }
        touched
    }

    /// After `id` failed: its inputs, and itself, may no longer be needed.
    fn release_failed(&mut self, id: TaskId) {
        if !self.tasks.contains(id.index()) {
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
            if !self.tasks.contains(id.index()) || self.is_needed(id) {
                continue;
            }
            match self.task(id).state {
                TaskState::Memory => self.drop_data(id),
                TaskState::Waiting { .. } | TaskState::Queued | TaskState::Processing { .. } => {
                    self.stop(id);
                    work.extend(self.task(id).dependencies.iter().copied());
                }
                TaskState::Erred => {
                    self.task_mut(id).failure = None;
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
        let task = self.task_mut(id);
        let holders = std::mem::take(&mut task.who_has);
        let (key, nbytes) = (task.key, task.nbytes);
        for worker in holders {
            if let Some(state) = self.workers.get_mut(&worker) {
                state.has_what.remove(&id);
                state.managed_bytes -= nbytes;
            }
            self.send(Command::Worker(worker, ToWorker::Free { keys: vec![key] }));
        }
        self.transition(id, TaskState::Released);
    }

    /// Waiting, queued or processing → released.
    pub(crate) fn stop(&mut self, id: TaskId) {
        match self.task(id).state {
            TaskState::Queued => {
                let priority = self.task(id).priority;
                self.queue.remove(&(priority, id));
            }
            TaskState::Processing { worker } => {
                self.unassign(id, worker);
                let key = self.task(id).key;
                self.send(Command::Worker(worker, ToWorker::Free { keys: vec![key] }));
            }
            _ => {}
        }
        self.transition(id, TaskState::Released);
    }

    /// Removes a processing task from its worker's books.
    pub(crate) fn unassign(&mut self, id: TaskId, worker: crate::ids::WorkerId) {
        if let Some(state) = self.workers.get_mut(&worker)
            && let Some(dispatch) = state.processing.remove(&id)
        {
            state.backlog_us -= dispatch.estimate_us;
            state.stealing.remove(&id);
        }
    }

    /// Removes a released, unheld task with no dependents; returns its
    /// dependencies, which may now be forgettable too.
    fn forget(&mut self, id: TaskId) -> Vec<TaskId> {
        let task = self.tasks.remove(id.index());
        debug_assert_eq!(task.state, TaskState::Released);
        self.keys.remove(&task.key);
        self.log.record(crate::log::Transition {
            key: task.key,
            from: task.state.name(),
            to: crate::task::StateName::Forgotten,
            stimulus: self.stimulus,
        });
        for &dep in task.dependencies.iter() {
            let dependents = &mut self.task_mut(dep).dependents;
            if let Some(at) = dependents.iter().position(|d| *d == id) {
                dependents.swap_remove(at);
            }
        }
        task.dependencies.into_vec()
    }
}
