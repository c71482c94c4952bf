//! The one way a task's state changes: [`Scheduler::transition`], checked
//! against the table of allowed changes ([`allowed`]), with the bookkeeping
//! that belongs to leaving and entering each state, and the log. Beside it,
//! the only writers of state data in place ([`Scheduler::input_arrived`],
//! [`Scheduler::input_lost`], [`Scheduler::add_replica`],
//! [`Scheduler::drop_holder`]) and of a task's end ([`Scheduler::forget`],
//! [`Scheduler::forget_all`]). `Task::state` is private to the `task`
//! module, so the compiler holds every other file to reading it.
//!
//! | from \ to  | released | waiting | queued | processing | memory | erred | forgotten |
//! | ---------- | -------- | ------- | ------ | ---------- | ------ | ----- | --------- |
//! | released   |          | yes     | yes    |            | yes¹   | yes   | yes       |
//! | waiting    | yes      |         | yes    |            |        | yes   |           |
//! | queued     | yes      | yes     |        | yes        |        |       |           |
//! | processing | yes      |         |        |            | yes    | yes   |           |
//! | memory     | yes      |         |        |            |        |       |           |
//! | erred      | yes      |         |        |            |        |       |           |
//!
//! ¹ scattered data only. Bookkeeping: entering queued puts the task in the
//! queue and leaving takes it out; entering processing lists it in its
//! worker's `processing` (with its dispatch order and estimate, added to the
//! backlog) and leaving unlists it (and any steal request for it); entering
//! memory lists it in each holder's `has_what` (adding its size to their
//! managed bytes) and leaving unlists it. Messages (to workers and clients)
//! stay the callers': the old state, returned, has what they need.
//!
//! An illegal change is a bug. It is still applied, with its bookkeeping,
//! so that the tables stay consistent with each other; it is kept for
//! [`Scheduler::validate`] to report, and in debug builds (every test, the
//! simulation) it panics at once, naming the key, the pair and the
//! stimulus. A release build does not panic: one wrong task must not take
//! every tenant's scheduler down, and the driver's checks see the error.

use super::{StateName, TaskId, TaskState};
use crate::ids::{StimulusId, WorkerId};
use crate::log::Transition;
use crate::scheduler::Scheduler;
use crate::worker::Dispatch;
use weft_schema::graph::TaskKey;

/// A change of state the table does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal transition of task {key}: {from:?} -> {to:?} ({stimulus})")]
pub(crate) struct IllegalTransition {
    /// The task.
    pub(crate) key: TaskKey,
    /// Its state before.
    pub(crate) from: StateName,
    /// The state it was moved to.
    pub(crate) to: StateName,
    /// The event that caused it.
    pub(crate) stimulus: StimulusId,
}

/// The table of allowed changes (see the module's header). A `match`
/// rather than a `const` matrix: each line is one edge of the diagram,
/// with its reason, and the compiler turns it into a jump table.
pub(crate) const fn allowed(from: StateName, to: StateName) -> bool {
    use StateName::*;
    matches!(
        (from, to),
        // Needed again: waits for inputs, is ready, cannot be (erred
        // input, scattered data lost), or is data a client scattered.
        (Released, Waiting | Queued | Erred | Memory)
            // Unheld, without dependents.
            | (Released, Forgotten)
            // The last input arrived; no longer needed; an input failed.
            | (Waiting, Queued | Released | Erred)
            // Dispatched; an input was lost; no longer needed. (Not erred:
            // its inputs are all in memory, and none goes from memory to
            // erred.)
            | (Queued, Processing | Waiting | Released)
            // Finished; retried, rescheduled, stolen or no longer needed;
            // failed for good.
            | (Processing, Memory | Released | Erred)
            // Every copy gone, or no longer needed.
            | (Memory, Released)
            // No longer needed (its failure is forgotten with it).
            | (Erred, Released)
    )
}

impl Scheduler {
    /// Moves `id` to `to`, checked against [`allowed`], doing the
    /// bookkeeping of leaving its state and entering `to`, logging the
    /// change. Returns the state it left, with that state's data. Every
    /// state change goes through here.
    pub(crate) fn transition(&mut self, id: TaskId, to: TaskState) -> TaskState {
        let task = &mut self.tasks[id];
        let (key, priority, from, to_name) =
            (task.key, task.priority, task.state.name(), to.name());
        let old = std::mem::replace(&mut task.state, to);
        let needs = task.state.needs_inputs();
        if needs != old.needs_inputs() {
            self.needs_inputs_changed(id, needs);
        }
        self.leave(id, priority, &old);
        self.enter(id);
        self.log.record(Transition {
            key,
            from,
            to: to_name,
            stimulus: self.stimulus,
        });
        if !allowed(from, to_name) {
            self.illegal(key, from, to_name);
        }
        old
    }

    /// `id` began (`needs`) or stopped needing its inputs: each of them
    /// counts it (`Task::needed_by`).
    fn needs_inputs_changed(&mut self, id: TaskId, needs: bool) {
        for at in 0..self.tasks[id].dependencies.len() {
            let dep = self.tasks[id].dependencies[at];
            let count = &mut self.tasks[dep].needed_by;
            *count = if needs { *count + 1 } else { *count - 1 };
        }
    }

    /// The bookkeeping of leaving `old` (the task's state no longer).
    fn leave(&mut self, id: TaskId, priority: u64, old: &TaskState) {
        let tenant = self.tasks[id].tenant;
        self.usage_left(tenant, old.name(), old.nbytes().unwrap_or(0));
        match old {
            TaskState::Queued => {
                self.dequeue(tenant, priority, id);
            }
            TaskState::Processing { worker, .. } => {
                if let Some(state) = self.workers.get_mut(worker)
                    && state.remove_processing(id).is_some()
                {
                    state.stealing.remove(&id);
                    let left = state.load_of(tenant).tasks == 0;
                    self.room_widened(*worker, tenant, left);
                }
                // A copy of its own result the worker holds (see
                // `replica_added`), unless the run just stored it.
                let copy = self
                    .workers
                    .get_mut(worker)
                    .is_some_and(|state| state.copies_while_running.remove(&id));
                if copy && !self.tasks[id].state.holds(*worker) {
                    let keys = vec![self.tasks[id].key];
                    self.send(crate::messages::Command::Worker(
                        *worker,
                        crate::messages::ToWorker::Free { keys },
                    ));
                }
            }
            TaskState::Memory { who_has, nbytes } => {
                for worker in who_has {
                    if let Some(state) = self.workers.get_mut(worker)
                        && state.has_what.remove(&id)
                    {
                        state.managed_bytes -= nbytes;
                    }
                }
            }
            TaskState::Released | TaskState::Waiting { .. } | TaskState::Erred { .. } => {}
        }
    }

    /// The bookkeeping of entering the task's (new) state.
    fn enter(&mut self, id: TaskId) {
        let estimate_us = match self.tasks[id].state {
            TaskState::Processing { .. } => self.estimate_us(id),
            _ => 0,
        };
        let task = &self.tasks[id];
        let (tenant, name, nbytes) = (task.tenant, task.state.name(), task.state.nbytes());
        self.usage_entered(tenant, name, nbytes.unwrap_or(0));
        let task = &self.tasks[id];
        match &task.state {
            TaskState::Queued => {
                let priority = task.priority;
                self.enqueue(tenant, priority, id);
            }
            TaskState::Processing { worker, .. } => {
                // A worker the books do not hold is a bug `validate` names.
                if let Some(state) = self.workers.get_mut(worker) {
                    let seq = self.next_dispatch;
                    self.next_dispatch += 1;
                    let dispatch = Dispatch {
                        seq,
                        estimate_us,
                        tenant,
                    };
                    state.add_processing(id, dispatch);
                }
            }
            TaskState::Memory { who_has, nbytes } => {
                for worker in who_has {
                    if let Some(state) = self.workers.get_mut(worker)
                        && state.has_what.insert(id)
                    {
                        state.managed_bytes += nbytes;
                    }
                }
            }
            TaskState::Released | TaskState::Waiting { .. } | TaskState::Erred { .. } => {}
        }
    }

    /// Keeps the first illegal change for `validate`; panics in debug
    /// builds.
    fn illegal(&mut self, key: TaskKey, from: StateName, to: StateName) {
        let error = IllegalTransition {
            key,
            from,
            to,
            stimulus: self.stimulus,
        };
        self.illegal_transition.get_or_insert(error.clone());
        if cfg!(debug_assertions) {
            panic!("{error}");
        }
    }

    /// A new run number: one per dispatch of any task (wrapping after
    /// 2^32, far beyond any report's delay).
    pub(crate) fn take_run(&mut self) -> u32 {
        let run = self.next_run;
        self.next_run = self.next_run.wrapping_add(1);
        run
    }

    /// One of `id`'s inputs is now in memory: a waiting task counts it
    /// and is queued when it was the last. The only writer of `deps_left`
    /// in place.
    pub(crate) fn input_arrived(&mut self, id: TaskId) {
        let TaskState::Waiting { deps_left } = &mut self.tasks[id].state else {
            return;
        };
        if *deps_left > 1 {
            *deps_left -= 1;
        } else {
            self.transition(id, TaskState::Queued);
        }
    }

    /// One of `id`'s inputs left memory: a queued task waits again, a
    /// waiting one waits for one more (a processing one finds out when its
    /// fetch fails).
    pub(crate) fn input_lost(&mut self, id: TaskId) {
        match &mut self.tasks[id].state {
            TaskState::Queued => {
                self.transition(id, TaskState::Waiting { deps_left: 1 });
            }
            TaskState::Waiting { deps_left } => *deps_left += 1,
            _ => {}
        }
    }

    /// `worker` (in the books) holds another copy of `id`'s result, which
    /// is in memory. The only writer that adds to `who_has` in place.
    pub(crate) fn add_replica(&mut self, id: TaskId, worker: WorkerId) {
        let Some(state) = self.workers.get_mut(&worker) else {
            return;
        };
        let TaskState::Memory { who_has, nbytes } = &mut self.tasks[id].state else {
            return;
        };
        if !who_has.contains(&worker) {
            who_has.push(worker);
            state.has_what.insert(id);
            state.managed_bytes += *nbytes;
        }
    }

    /// `worker` no longer holds `id`'s result. The last copy gone is the
    /// move to released; returns whether that happened (the caller then
    /// handles the loss). The only writer that removes from `who_has` in
    /// place.
    pub(crate) fn drop_holder(&mut self, id: TaskId, worker: WorkerId) -> bool {
        let TaskState::Memory { who_has, nbytes } = &mut self.tasks[id].state else {
            return false;
        };
        let Some(at) = who_has.iter().position(|w| *w == worker) else {
            return false;
        };
        if who_has.len() == 1 {
            self.transition(id, TaskState::Released);
            return true;
        }
        who_has.swap_remove(at);
        if let Some(state) = self.workers.get_mut(&worker)
            && state.has_what.remove(&id)
        {
            state.managed_bytes -= *nbytes;
        }
        false
    }

    /// Removes a released task (unheld, with no dependents: the caller's
    /// rule); returns its dependencies, which may now be forgettable too.
    pub(crate) fn forget(&mut self, id: TaskId) -> Vec<TaskId> {
        let tenant = self.tasks[id].tenant;
        let old = self.tasks[id].state.clone();
        if old.needs_inputs() {
            self.needs_inputs_changed(id, false);
        }
        self.leave(id, self.tasks[id].priority, &old);
        let task = self.tasks.remove(id);
        self.book_mut(tenant).usage.tasks -= 1;
        let from = task.state.name();
        self.keys.remove(&task.key);
        self.log.record(Transition {
            key: task.key,
            from,
            to: StateName::Forgotten,
            stimulus: self.stimulus,
        });
        for &dep in task.dependencies.iter() {
            self.tasks[dep].dependents.remove(id);
        }
        if !allowed(from, StateName::Forgotten) {
            self.illegal(task.key, from, StateName::Forgotten);
        }
        task.dependencies.into_vec()
    }

    /// Forgets every task at once (a cluster restart; clients' holdings
    /// are the caller's): each is released, with its bookkeeping, then
    /// forgotten, so the log shows only allowed changes.
    pub(crate) fn forget_all(&mut self) {
        for id in self.tasks.ids() {
            if !self.tasks[id].is(StateName::Released) {
                self.transition(id, TaskState::Released);
            }
            self.log.record(Transition {
                key: self.tasks[id].key,
                from: StateName::Released,
                to: StateName::Forgotten,
                stimulus: self.stimulus,
            });
        }
        self.tasks.clear();
        self.keys.clear();
        for book in self.tenants.values_mut() {
            book.usage.tasks = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SchedulerConfig;
    use crate::ids::ClientId;
    use crate::messages::{Command, Event, ToWorker};
    use crate::time::Time;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use weft_schema::graph::{GraphArg, GraphTask};

    const WORKER: WorkerId = WorkerId(1);
    const CLIENT: ClientId = ClientId(1);

    fn key(n: u8) -> TaskKey {
        TaskKey([n; 16])
    }

    /// A scheduler with one worker and one client (open tenant).
    fn cluster() -> Scheduler {
        let mut s = Scheduler::new(SchedulerConfig::default());
        let events = [
            Event::WorkerJoined {
                worker: WORKER,
                nthreads: 1,
                instance: 1,
            },
            Event::ClientConnected {
                client: CLIENT,
                tenant: crate::ids::TenantId::OPEN,
            },
        ];
        for (n, event) in events.into_iter().enumerate() {
            s.handle(Time::ZERO, StimulusId(n as u64), event);
        }
        s
    }

    /// Submits task `n` (no inputs), wanted by the client; returns the
    /// commands, placement included.
    fn submit(s: &mut Scheduler, n: u8) -> Vec<Command> {
        let task = GraphTask {
            key: key(n),
            module: [1; 32],
            function: "f".into(),
            args: vec![GraphArg::Value(vec![n])],
            retries: 0,
            pure: false,
        };
        let event = Event::UpdateGraph {
            client: CLIENT,
            tasks: vec![task],
            wants: vec![key(n)],
        };
        s.handle(Time::ZERO, StimulusId(100 + u64::from(n)), event);
        std::iter::from_fn(|| s.poll_command()).collect()
    }

    /// Runs `change` and returns its panic message, if it panicked.
    fn panic_of(change: impl FnOnce()) -> Option<String> {
        let payload = catch_unwind(AssertUnwindSafe(change)).err()?;
        Some(
            payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default(),
        )
    }

    #[test]
    fn the_table_allows_only_the_documented_edges() {
        use StateName::*;
        let states = [
            Released, Waiting, Queued, Processing, Memory, Erred, Forgotten,
        ];
        let edges = [
            (Released, Waiting),
            (Released, Queued),
            (Released, Memory),
            (Released, Erred),
            (Released, Forgotten),
            (Waiting, Released),
            (Waiting, Queued),
            (Waiting, Erred),
            (Queued, Released),
            (Queued, Waiting),
            (Queued, Processing),
            (Processing, Released),
            (Processing, Memory),
            (Processing, Erred),
            (Memory, Released),
            (Erred, Released),
        ];
        for from in states {
            for to in states {
                assert_eq!(
                    allowed(from, to),
                    edges.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
    }

    #[test]
    fn an_illegal_transition_panics_in_debug_and_validate_names_it() {
        let mut s = cluster();
        let commands = submit(&mut s, 1);
        assert!(
            commands
                .iter()
                .any(|c| matches!(c, Command::Worker(WORKER, ToWorker::Compute(_))))
        );
        let id = s.id_of(&key(1)).expect("known");
        assert!(s.task(id).is(StateName::Processing));
        s.validate().expect("consistent before");
        // Processing -> Waiting is not an edge: a running task whose input
        // was lost finds out when its fetch fails.
        let panic = panic_of(|| {
            s.transition(id, TaskState::Waiting { deps_left: 1 });
        });
        assert_eq!(panic.is_some(), cfg!(debug_assertions));
        if let Some(message) = panic {
            assert!(message.contains("Processing -> Waiting"), "{message}");
        }
        let error = s.validate().expect_err("validate reports it");
        assert!(error.contains("illegal transition"), "{error}");
        assert!(error.contains("Processing -> Waiting"), "{error}");
        // The bookkeeping was still done: the worker no longer lists it.
        assert_eq!(s.processing_count(WORKER), 0);
    }

    #[test]
    fn forgetting_a_task_that_is_not_released_is_illegal() {
        let mut s = cluster();
        submit(&mut s, 1);
        let id = s.id_of(&key(1)).expect("known");
        let panic = panic_of(|| {
            s.forget(id);
        });
        assert_eq!(panic.is_some(), cfg!(debug_assertions));
        let error = s.validate().expect_err("validate reports it");
        assert!(error.contains("Processing -> Forgotten"), "{error}");
    }

    #[test]
    fn leaving_a_state_undoes_its_bookkeeping() {
        let mut s = cluster();
        submit(&mut s, 1);
        let id = s.id_of(&key(1)).expect("known");
        let (_, run) = s.task(id).state().processing().expect("dispatched");
        s.handle(
            Time::ZERO,
            StimulusId(200),
            Event::TaskFinished {
                worker: WORKER,
                key: key(1),
                run,
                nbytes: 40,
                duration_us: 5,
            },
        );
        assert_eq!(s.worker_memory(), vec![(WORKER, 40, 1)]);
        assert_eq!(s.processing_count(WORKER), 0);
        s.validate().expect("consistent");
        // Released by hand (as a restart would): the worker's books empty.
        let old = s.transition(id, TaskState::Released);
        assert_eq!(old.who_has(), &[WORKER]);
        assert_eq!(s.worker_memory(), vec![(WORKER, 0, 0)]);
    }

    #[test]
    fn a_stale_id_left_in_a_table_is_caught_by_validate() {
        let mut s = cluster();
        submit(&mut s, 1);
        let stale = s.id_of(&key(1)).expect("known");
        s.handle(
            Time::ZERO,
            StimulusId(300),
            Event::ReleaseKeys {
                client: CLIENT,
                keys: vec![key(1)],
            },
        );
        assert_eq!(s.state_of(&key(1)), StateName::Forgotten);
        // A new task takes the forgotten one's slot and runs on the same
        // worker: a bare slot index kept anywhere would now name it.
        submit(&mut s, 2);
        let fresh = s.id_of(&key(2)).expect("known");
        assert_eq!(stale.slot(), fresh.slot(), "the slot is reused");
        assert_ne!(stale, fresh);
        assert!(!s.tasks.contains(stale));
        assert!(panic_of(|| _ = s.task(stale).key).is_some());
        s.validate().expect("consistent");

        // Task 2 is processing on the worker, so by slot alone this entry
        // would look right; its generation says it is not task 2.

        let dispatch = Dispatch {
            seq: 0,
            estimate_us: 0,
            tenant: crate::ids::TenantId::OPEN,
        };
        let worker = s.workers.get_mut(&WORKER).expect("joined");
        worker.add_processing(stale, dispatch);
        let error = s.validate().expect_err("a stale id in processing");
        assert!(error.contains("lists a task as processing"), "{error}");
        s.workers
            .get_mut(&WORKER)
            .expect("joined")
            .remove_processing(stale);

        s.clients
            .get_mut(&CLIENT)
            .expect("connected")
            .wants
            .insert(stale);
        let error = s.validate().expect_err("a stale id in a client's wants");
        assert!(error.contains("holds a task whose who_wants"), "{error}");
        s.clients
            .get_mut(&CLIENT)
            .expect("connected")
            .wants
            .remove(&stale);

        s.book_mut(crate::ids::TenantId::OPEN)
            .queue
            .insert((0, stale));
        let error = s.validate().expect_err("a stale id in the queue");
        assert!(error.contains("stale"), "{error}");
    }
}
