//! Sharing a dataset with another tenant, read-only and two-sided: the
//! owner shares it by name with a named tenant (`Event::ShareDataset`),
//! who then gets it as `OWNER/NAME`. The bytes stay the owner's: the
//! other tenant's clients hold futures to the owner's tasks under names of
//! their own ([`shared_name`]), which they can release, wait for and
//! gather, but which their forced cancels and restarts never reach.
//! Unsharing fails the futures the other tenant holds through the dataset
//! with an access-revoked error.

use crate::datasets::Dataset;
use crate::errors::ShareError;
use crate::ids::{ClientId, TaskId, TenantId};
use crate::messages::{Command, DatasetValue, FailureKind, TaskFailure, ToClient};
use crate::scheduler::Scheduler;
use std::sync::Arc;
use weft_schema::graph::TaskKey;

/// The name a tenant other than the owner knows a shared task by: BLAKE3
/// of a fixed prefix and the task's key on workers, so it is the same for
/// every client of every tenant it is shared with, and never one of their
/// own keys (except by a 128-bit collision).
pub fn shared_name(wire: &TaskKey) -> TaskKey {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"weft/shared-key/v1\0");
    hasher.update(&wire.0);
    let mut key = [0; 16];
    key.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    TaskKey(key)
}

impl Scheduler {
    /// See `Event::ShareDataset`.
    pub(crate) fn share(
        &mut self,
        client: ClientId,
        request: u64,
        name: &str,
        with: TenantId,
        share: bool,
    ) {
        let owner = self.tenant_of(client);
        let reply = |s: &mut Scheduler, error: Option<ShareError>| {
            let error = error.map(Into::into);
            s.send(Command::Client(client, ToClient::Done { request, error }));
        };
        let Some(dataset) = self.datasets.get_mut(&(owner, name.to_string())) else {
            let name = name.to_string();
            return reply(self, Some(ShareError::NoSuchDataset { name }));
        };
        if with == owner {
            return reply(self, Some(ShareError::WithOwner));
        }
        if share {
            if dataset.value.graph.is_some() {
                let name = name.to_string();
                return reply(self, Some(ShareError::Lazy { name }));
            }
            dataset.shared_with.insert(with);
            return reply(self, None);
        }
        if !dataset.shared_with.remove(&with) {
            return reply(self, None);
        }
        let keys = dataset.value.keys.clone();
        let holder = dataset.holder;
        self.revoke(owner, name, holder, &keys, with);
        reply(self, None)
    }

    /// After an unshare: every client of `tenant` loses its futures to the
    /// dataset's keys that no other dataset still shared with it holds,
    /// each told its access was revoked.
    pub(crate) fn revoke(
        &mut self,
        owner: TenantId,
        name: &str,
        holder: ClientId,
        keys: &[TaskKey],
        tenant: TenantId,
    ) {
        let Some(ids) = keys
            .iter()
            .map(|k| self.id_for(holder, k))
            .collect::<Option<Vec<TaskId>>>()
        else {
            return;
        };
        let still_shared = |s: &Scheduler, id: TaskId| {
            s.datasets.values().any(|d| {
                d.shared_with.contains(&tenant)
                    && s.clients
                        .get(&d.holder)
                        .is_some_and(|h| h.tenant == owner && h.wants.contains(&id))
            })
        };
        let failure = Arc::new(TaskFailure {
            origin: TaskKey([0; 16]),
            kind: FailureKind::AccessRevoked,
            message: format!("access revoked: the owner unshared dataset {name:?}"),
            quota: None,
        });
        let clients: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, c)| c.tenant == tenant)
            .map(|(id, _)| *id)
            .collect();
        for client in clients {
            for &id in &ids {
                let held = self.clients[&client].wants.contains(&id);
                if !held || still_shared(self, id) {
                    continue;
                }
                let key = self.name_for(client, id);
                let failure = Arc::new(TaskFailure {
                    origin: key,
                    ..(*failure).clone()
                });
                self.send(Command::Client(client, ToClient::Erred { key, failure }));
                self.release_keys(client, &[key]);
            }
        }
    }

    /// A shared dataset's get: the client takes futures to the owner's
    /// tasks under its own names for them.
    pub(crate) fn get_shared(&mut self, client: ClientId, request: u64, dataset: &Dataset) {
        let ids: Vec<TaskId> = dataset
            .value
            .keys
            .iter()
            .filter_map(|k| self.id_for(dataset.holder, k))
            .collect();
        let mut names = Vec::with_capacity(ids.len());
        for &id in &ids {
            let wire = self.task(id).key;
            let name = shared_name(&wire);
            let state = self.clients.entry(client).or_default();
            state.aliases.insert(name, wire);
            state.wants.insert(id);
            let task = self.task_mut(id);
            if !task.who_wants.contains(&client) {
                task.who_wants.push(client);
            }
            names.push(name);
        }
        let value = DatasetValue {
            keys: names,
            ..(*dataset.value).clone()
        };
        self.send(Command::Client(
            client,
            ToClient::Dataset {
                request,
                value: Arc::new(value),
            },
        ));
        for id in ids {
            self.report_status(client, id);
        }
    }

    /// The datasets shared with `tenant`, as (owner, name), sorted.
    pub fn datasets_shared_with(&self, tenant: TenantId) -> Vec<(TenantId, String)> {
        self.datasets
            .iter()
            .filter(|(_, d)| d.shared_with.contains(&tenant))
            .map(|(key, _)| key.clone())
            .collect()
    }
}
