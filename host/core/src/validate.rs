//! [`Scheduler::validate`]: every invariant of the tables, checked from
//! scratch. Tests call it after every event.

use crate::ids::TaskId;
use crate::scheduler::Scheduler;
use crate::task::TaskState;

impl Scheduler {
    /// Checks every invariant; the error names the first one broken.
    pub fn validate(&self) -> Result<(), String> {
        let mut tenant_seen: Option<bool> = None;
        for (index, task) in &self.tasks {
            let id = TaskId(index as u32);
            let key = task.key;
            let fail = |what: String| Err(format!("task {key} ({:?}): {what}", task.state));
            if self.keys.get(&key) != Some(&id) {
                return fail("not in the key index".into());
            }
            if crate::ids::wire_key(task.tenant, &task.name) != key {
                return fail(format!("its key is not the wire key of {}", task.tenant));
            }
            let open = task.tenant == crate::ids::TenantId::OPEN;
            if tenant_seen.is_some_and(|seen| seen != open) {
                return fail("open-tenant and other tenants' tasks coexist".into());
            }
            tenant_seen = Some(open);
            for &dep in task.dependencies.iter() {
                if !self.tasks.contains(dep.index()) {
                    return fail("depends on a forgotten task".into());
                }
                if !self.task(dep).dependents.contains(&id) {
                    return fail(format!(
                        "dependency {} does not list it as a dependent",
                        self.task(dep).key
                    ));
                }
            }
            for &dependent in &task.dependents {
                if !self.tasks.contains(dependent.index())
                    || !self.task(dependent).dependencies.contains(&id)
                {
                    return fail("lists a dependent that does not depend on it".into());
                }
            }
            for client in &task.who_wants {
                if !self
                    .clients
                    .get(client)
                    .is_some_and(|c| c.wants.contains(&id))
                {
                    return fail(format!("{client} is in who_wants but does not hold it"));
                }
            }
            let deps_not_in_memory = task
                .dependencies
                .iter()
                .filter(|d| self.task(**d).state != TaskState::Memory)
                .count() as u32;
            let queued = self.queue.contains(&(task.priority, id));
            if queued != (task.state == TaskState::Queued) {
                return fail(format!("in the queue: {queued}"));
            }
            if (task.state == TaskState::Memory) == task.who_has.is_empty() {
                return fail(format!("who_has is {:?}", task.who_has));
            }
            for worker in &task.who_has {
                if !self
                    .workers
                    .get(worker)
                    .is_some_and(|w| w.has_what.contains(&id))
                {
                    return fail(format!("{worker} is in who_has but does not hold it"));
                }
            }
            match task.state {
                TaskState::Waiting { deps_left } => {
                    if deps_left == 0 || deps_left != deps_not_in_memory {
                        return fail(format!(
                            "deps_left is {deps_left}, {deps_not_in_memory} inputs are not in memory"
                        ));
                    }
                    if task
                        .dependencies
                        .iter()
                        .any(|d| self.task(*d).state == TaskState::Erred)
                    {
                        return fail("waits on an erred input".into());
                    }
                }
                TaskState::Queued if deps_not_in_memory > 0 => {
                    return fail("queued with inputs not in memory".into());
                }
                TaskState::Processing { worker }
                    if !self
                        .workers
                        .get(&worker)
                        .is_some_and(|w| w.processing.contains_key(&id)) =>
                {
                    return fail(format!("{worker} does not list it as processing"));
                }
                TaskState::Erred if task.failure.is_none() => {
                    return fail("erred without a failure".into());
                }
                _ => {}
            }
            if task.state.needs_inputs() && task.spec.is_none() {
                return fail("scattered data cannot be computed".into());
            }
            // References: needed ⇔ computed or kept.
            let needed = self.is_needed(id);
            match (needed, task.state) {
                (true, TaskState::Released) => return fail("needed but released".into()),
                (false, s) if s != TaskState::Released => {
                    return fail("not needed but not released".into());
                }
                _ => {}
            }
            if task.state == TaskState::Released
                && task.who_wants.is_empty()
                && task.dependents.is_empty()
            {
                return fail("released, unheld and without dependents, but not forgotten".into());
            }
        }
        for (worker_id, worker) in &self.workers {
            let mut backlog = 0;
            for (id, dispatch) in &worker.processing {
                backlog += dispatch.estimate_us;
                if !self.tasks.contains(id.index())
                    || self.task(*id).state != (TaskState::Processing { worker: *worker_id })
                {
                    return Err(format!(
                        "{worker_id} lists a task as processing that is not"
                    ));
                }
            }
            if let Some(id) = worker
                .stealing
                .keys()
                .find(|id| !worker.processing.contains_key(id))
            {
                return Err(format!(
                    "{worker_id} has a steal pending for {id:?}, which it is not processing"
                ));
            }
            if backlog != worker.backlog_us {
                return Err(format!(
                    "{worker_id}: backlog {} != sum {backlog}",
                    worker.backlog_us
                ));
            }
            let mut bytes = 0;
            for id in &worker.has_what {
                if !self.tasks.contains(id.index()) || !self.task(*id).who_has.contains(worker_id) {
                    return Err(format!(
                        "{worker_id} holds a task whose who_has does not name it"
                    ));
                }
                bytes += self.task(*id).nbytes;
            }
            if bytes != worker.managed_bytes {
                return Err(format!(
                    "{worker_id}: managed bytes {} != sum {bytes}",
                    worker.managed_bytes
                ));
            }
        }
        for (client, state) in &self.clients {
            for id in &state.wants {
                if !self.tasks.contains(id.index()) || !self.task(*id).who_wants.contains(client) {
                    return Err(format!(
                        "{client} holds a task whose who_wants does not name it"
                    ));
                }
            }
        }
        for (name, dataset) in &self.datasets {
            let Some(holder) = self.clients.get(&dataset.holder) else {
                return Err(format!("dataset {name:?} has no holder"));
            };
            if holder.tenant != name.0 {
                return Err(format!("dataset {name:?} has a holder of another tenant"));
            }
            if dataset.value.graph.is_none() {
                for key in &dataset.value.keys {
                    if !self
                        .id_for(dataset.holder, key)
                        .is_some_and(|id| holder.wants.contains(&id))
                    {
                        return Err(format!("dataset {name:?} does not hold its key {key}"));
                    }
                }
            }
        }
        self.validate_timers()?;
        if let Some(&(_, id)) = self.queue.first()
            && !self.placement_due
            && self.workers.values().any(|w| self.has_room(w))
        {
            return Err(format!(
                "task {} is queued while a worker has room",
                self.task(id).key
            ));
        }
        Ok(())
    }
}
