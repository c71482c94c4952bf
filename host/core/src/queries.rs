//! Read-only queries of the [`Scheduler`]: where keys are and what state
//! they are in, what workers hold, a tenant's or the cluster's summary.
//! The driver answers status requests and the tests check the world with
//! them; none changes anything.

use crate::ids::{ClientId, TenantId, WorkerId};
use crate::log::Transition;
use crate::scheduler::{Scheduler, Summary};
use crate::task::{StateName, TaskState};
use weft_schema::graph::TaskKey;

impl Scheduler {
    /// The recorded transitions of `key`, oldest first (bounded by
    /// `transition_log_max`).
    pub fn story(&self, key: &TaskKey) -> Vec<Transition> {
        self.log.story(key)
    }

    /// The state of `key`; `Forgotten` when the scheduler does not know it.
    pub fn state_of(&self, key: &TaskKey) -> StateName {
        self.keys
            .get(key)
            .map_or(StateName::Forgotten, |id| self.task(*id).state().name())
    }

    /// The workers holding `key`'s result, and its size.
    pub fn who_has(&self, key: &TaskKey) -> Option<(Vec<WorkerId>, u64)> {
        match self.task(*self.keys.get(key)?).state() {
            TaskState::Memory { who_has, nbytes } => Some((who_has.to_vec(), *nbytes)),
            _ => None,
        }
    }

    /// The worker running `key`, if it is processing.
    pub fn processing_on(&self, key: &TaskKey) -> Option<WorkerId> {
        let (worker, _) = self.task(*self.keys.get(key)?).state().processing()?;
        Some(worker)
    }

    /// The keys a worker holds, with their sizes.
    pub fn has_what(&self, worker: WorkerId) -> Vec<(TaskKey, u64)> {
        self.workers.get(&worker).map_or_else(Vec::new, |w| {
            w.has_what
                .iter()
                .map(|id| {
                    let task = self.task(*id);
                    (task.key, task.state().nbytes().unwrap_or(0))
                })
                .collect()
        })
    }

    /// The keys a worker holds of `tenant` (every tenant's with `None`), as
    /// that tenant names them, with their sizes.
    pub fn has_what_of(&self, worker: WorkerId, tenant: Option<TenantId>) -> Vec<(TaskKey, u64)> {
        self.workers.get(&worker).map_or_else(Vec::new, |w| {
            w.has_what
                .iter()
                .map(|id| self.task(*id))
                .filter(|task| tenant.is_none_or(|t| task.tenant == t))
                .map(|task| (task.name, task.state().nbytes().unwrap_or(0)))
                .collect()
        })
    }

    /// Where the result `client` names `name` is: its holders, its size and
    /// the key the workers hold it under. `None` if it is not in memory or
    /// not the client's to name.
    pub fn who_has_for(
        &self,
        client: ClientId,
        name: &TaskKey,
    ) -> Option<(Vec<WorkerId>, u64, TaskKey, TenantId)> {
        let task = self.task(self.id_for(client, name)?);
        match task.state() {
            TaskState::Memory { who_has, nbytes } => {
                Some((who_has.to_vec(), *nbytes, task.key, task.tenant))
            }
            _ => None,
        }
    }

    /// Whether `name` is, for `client`'s tenant, the key of a computed task
    /// (which a scatter must never stand in for).
    pub fn is_computed(&self, client: ClientId, name: &TaskKey) -> bool {
        self.own_id_for(client, name)
            .is_some_and(|id| self.task(id).spec.is_some())
    }

    /// Whether the core knows `client` (connected, or away within its
    /// grace).
    pub fn knows_client(&self, client: ClientId) -> bool {
        self.clients.contains_key(&client)
    }

    /// Whether `client` holds a future to the key it names `name`.
    pub fn holds(&self, client: ClientId, name: &TaskKey) -> bool {
        self.id_for(client, name).is_some_and(|id| {
            self.clients
                .get(&client)
                .is_some_and(|c| c.wants.contains(&id))
        })
    }

    /// The tenant of a client (the open tenant for one never connected).
    pub fn tenant_of_client(&self, client: ClientId) -> TenantId {
        self.tenant_of(client)
    }

    /// Task counts by state, and clients, of one tenant.
    pub fn summary_of(&self, tenant: TenantId) -> Summary {
        let mut summary = Summary {
            workers: self.workers.len(),
            clients: self
                .clients
                .iter()
                .filter(|(id, c)| {
                    id.0 < crate::datasets::DATASET_HOLDERS_START && c.tenant == tenant
                })
                .count(),
            ..Summary::default()
        };
        for (_, task) in self.tasks.iter().filter(|(_, t)| t.tenant == tenant) {
            *summary
                .tasks
                .entry(format!("{:?}", task.state().name()).to_lowercase())
                .or_default() += 1;
        }
        summary
    }

    /// Every worker's managed bytes and key count, by the scheduler's books.
    pub fn worker_memory(&self) -> Vec<(WorkerId, u64, usize)> {
        self.workers
            .iter()
            .map(|(id, w)| (*id, w.managed_bytes, w.has_what.len()))
            .collect()
    }

    /// Every worker's managed bytes and key count of `tenant`'s keys only.
    pub fn worker_memory_of(&self, tenant: TenantId) -> Vec<(WorkerId, u64, usize)> {
        self.workers
            .iter()
            .map(|(id, w)| {
                let (bytes, keys) = w
                    .has_what
                    .iter()
                    .map(|t| self.task(*t))
                    .filter(|t| t.tenant == tenant)
                    .fold((0, 0), |(b, k), t| {
                        (b + t.state().nbytes().unwrap_or(0), k + 1)
                    });
                (*id, bytes, keys)
            })
            .collect()
    }

    /// Whether `worker` is in the books (joined, and not left, removed at
    /// its TTL or restarting).
    pub fn has_worker(&self, worker: WorkerId) -> bool {
        self.workers.contains_key(&worker)
    }

    /// How many tasks are sent to `worker` and not yet reported.
    pub fn processing_count(&self, worker: WorkerId) -> usize {
        self.workers.get(&worker).map_or(0, |w| w.processing.len())
    }

    /// The keys that take `key`'s result as an input.
    pub fn dependents(&self, key: &TaskKey) -> Vec<TaskKey> {
        self.keys.get(key).map_or_else(Vec::new, |id| {
            self.task(*id)
                .dependents
                .iter()
                .map(|d| self.task(*d).key)
                .collect()
        })
    }

    /// How many tasks the scheduler knows.
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// Task counts by state, worker and client counts.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary {
            workers: self.workers.len(),
            clients: self
                .clients
                .keys()
                .filter(|c| c.0 < crate::datasets::DATASET_HOLDERS_START)
                .count(),
            ..Summary::default()
        };
        for (_, task) in self.tasks.iter() {
            *summary
                .tasks
                .entry(format!("{:?}", task.state().name()).to_lowercase())
                .or_default() += 1;
        }
        summary
    }
}
