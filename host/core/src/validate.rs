//! [`Scheduler::validate`]: every invariant of the tables, checked from
//! scratch. Tests call it after every event.

use crate::scheduler::Scheduler;
use crate::task::{StateName, TaskState};

impl Scheduler {
    /// Checks every invariant; the error names the first one broken.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(illegal) = &self.illegal_transition {
            return Err(illegal.to_string());
        }
        let mut tenant_seen: Option<bool> = None;
        for (id, task) in self.tasks.iter() {
            let key = task.key;
            let state = task.state();
            let fail = |what: String| Err(format!("task {key} ({state:?}): {what}"));
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
                if !self.tasks.contains(dep) {
                    return fail("depends on a forgotten task".into());
                }
                if !self.task(dep).dependents.contains(&id) {
                    return fail(format!(
                        "dependency {} does not list it as a dependent",
                        self.task(dep).key
                    ));
                }
            }
            let needed_by = task
                .dependents
                .iter()
                .filter(|d| self.task(**d).state().needs_inputs())
                .count();
            if needed_by != task.needed_by as usize {
                return fail(format!(
                    "{needed_by} dependents need it, but it counts {}",
                    task.needed_by
                ));
            }
            for &dependent in &task.dependents {
                if !self.tasks.contains(dependent)
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
                .filter(|d| !self.task(**d).is(StateName::Memory))
                .count() as u32;
            let queued = self
                .tenants
                .get(&task.tenant)
                .is_some_and(|book| book.queue.contains(&(task.priority, id)));
            if queued != task.is(StateName::Queued) {
                return fail(format!("in the queue: {queued}"));
            }
            let who_has = state.who_has();
            if task.is(StateName::Memory) && who_has.is_empty() {
                return fail("in memory, held by no worker".into());
            }
            for (at, worker) in who_has.iter().enumerate() {
                if !self
                    .workers
                    .get(worker)
                    .is_some_and(|w| w.has_what.contains(&id))
                {
                    return fail(format!("{worker} is in who_has but does not hold it"));
                }
                if who_has[..at].contains(worker) {
                    return fail(format!("{worker} is in who_has twice"));
                }
            }
            match *state {
                TaskState::Waiting { deps_left } => {
                    if deps_left == 0 || deps_left != deps_not_in_memory {
                        return fail(format!(
                            "deps_left is {deps_left}, {deps_not_in_memory} inputs are not in memory"
                        ));
                    }
                    if task
                        .dependencies
                        .iter()
                        .any(|d| self.task(*d).is(StateName::Erred))
                    {
                        return fail("waits on an erred input".into());
                    }
                }
                TaskState::Queued if deps_not_in_memory > 0 => {
                    return fail("queued with inputs not in memory".into());
                }
                TaskState::Processing { worker, .. }
                    if !self
                        .workers
                        .get(&worker)
                        .is_some_and(|w| w.processing.contains_key(&id)) =>
                {
                    return fail(format!("{worker} does not list it as processing"));
                }
                _ => {}
            }
            if state.needs_inputs() && task.spec.is_none() {
                return fail("scattered data cannot be computed".into());
            }
            // References: needed ⇔ computed or kept.
            let needed = self.is_needed(id);
            match (needed, task.is(StateName::Released)) {
                (true, true) => return fail("needed but released".into()),
                (false, false) => return fail("not needed but not released".into()),
                _ => {}
            }
            if task.is(StateName::Released)
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
                if !self.tasks.contains(*id)
                    || self.task(*id).state().processing().map(|(w, _)| w) != Some(*worker_id)
                {
                    return Err(format!(
                        "{worker_id} lists a task as processing that is not"
                    ));
                }
            }
            if let Some(id) = worker
                .copies_while_running
                .iter()
                .find(|id| !worker.processing.contains_key(id))
            {
                return Err(format!(
                    "{worker_id} has a copy of {id:?} counted as made while running it, which it is not"
                ));
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
            let loads = worker.loads_from_processing();
            if loads != worker.tenant_loads {
                return Err(format!(
                    "{worker_id}: tenant loads {:?} != {loads:?} from processing",
                    worker.tenant_loads
                ));
            }
            let mut bytes = 0;
            for id in &worker.has_what {
                if !self.tasks.contains(*id) || !self.task(*id).state().holds(*worker_id) {
                    return Err(format!(
                        "{worker_id} holds a task whose who_has does not name it"
                    ));
                }
                bytes += self.task(*id).state().nbytes().unwrap_or(0);
            }
            if bytes != worker.managed_bytes {
                return Err(format!(
                    "{worker_id}: managed bytes {} != sum {bytes}",
                    worker.managed_bytes
                ));
            }
        }
        // Every id kept in a table names a live task (`task/table.rs`): the
        // queue's and the key index's here, the workers' and clients'
        // beside their other checks, the graph's edges above.
        self.validate_usage()?;
        self.validate_deferred()?;
        self.validate_fair_order()?;
        for (key, id) in &self.keys {
            if self.tasks.get(*id).is_none_or(|t| t.key != *key) {
                return Err(format!("key {key} names {id:?}, which is stale"));
            }
        }
        for (client, state) in &self.clients {
            for id in &state.wants {
                if !self.tasks.contains(*id) || !self.task(*id).who_wants.contains(client) {
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
        if !self.placement_due
            && let Some(id) = self.placeable().find(|id| {
                let tenant = self.task(*id).tenant;
                self.workers.values().any(|w| self.has_room(w, tenant))
            })
        {
            return Err(format!(
                "task {} is queued while a worker has room for its tenant",
                self.task(id).key
            ));
        }
        Ok(())
    }
}
