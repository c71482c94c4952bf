//! Published datasets: named bundles of keys that keep their data in
//! distributed memory until unpublished, whoever published them and
//! whoever is still connected. A dataset holds its keys the way a client
//! does: through a holder of its own (a reserved [`ClientId`] in the
//! client table, from the top of the id space down), so everything in
//! `references.rs` applies to it unchanged. A lazy dataset (an
//! un-persisted collection) holds no keys: only its graph, for whoever
//! gets it to compute from scratch.

use crate::errors::{GetDatasetError, PublishError};
use crate::ids::{ClientId, TaskId, TenantId};
use crate::messages::{Command, DatasetValue, FailureKind, ToClient};
use crate::scheduler::Scheduler;
use std::sync::Arc;
use weft_schema::graph::TaskKey;
use weft_schema::quota::QuotaLimit;

/// Client ids at or above this are dataset holders; drivers must number
/// real clients below it.
pub const DATASET_HOLDERS_START: u32 = 1 << 31;

/// One published dataset.
#[derive(Debug, Clone)]
pub(crate) struct Dataset {
    /// Who holds its keys.
    pub(crate) holder: ClientId,
    pub(crate) value: Arc<DatasetValue>,
    /// The tenants it is shared with, read-only (`sharing.rs`).
    pub(crate) shared_with: std::collections::BTreeSet<TenantId>,
}

impl Scheduler {
    /// Publishes every `(name, value)` or none: an existing name fails the
    /// whole call unless `replace`; a persisted value whose key the
    /// scheduler does not know fails it too. With `replace`, the new value
    /// is pinned before the old one is let go, so shared keys stay.
    pub(crate) fn publish(
        &mut self,
        client: ClientId,
        request: u64,
        datasets: Vec<(String, DatasetValue)>,
        replace: bool,
    ) {
        let refuse = |s: &mut Scheduler, error: PublishError| {
            let error = Some(error.into());
            s.send(Command::Client(client, ToClient::Done { request, error }));
        };
        let tenant = self.tenant_of(client);
        for (at, (name, value)) in datasets.iter().enumerate() {
            if name.contains('/') {
                let name = name.clone();
                return refuse(self, PublishError::SlashInName { name });
            }
            if datasets[..at].iter().any(|(other, _)| other == name) {
                let name = name.clone();
                return refuse(self, PublishError::NamedTwice { name });
            }
            if !replace && self.datasets.contains_key(&(tenant, name.clone())) {
                let name = name.clone();
                return refuse(self, PublishError::NameTaken { name });
            }
            if value.graph.is_none()
                && let Some(missing) = value
                    .keys
                    .iter()
                    .find(|k| self.own_id_for(client, k).is_none())
            {
                let (name, key) = (name.clone(), *missing);
                return refuse(self, PublishError::UnknownKey { name, key });
            }
        }
        let new_names = datasets
            .iter()
            .filter(|(name, _)| !self.datasets.contains_key(&(tenant, name.clone())))
            .count() as u64;
        if let Err(quota) = self.check_client_quota(client, QuotaLimit::DatasetsMax, new_names) {
            return refuse(self, PublishError::QuotaExceeded(quota));
        }
        // Pin every new value first, then swap them in and let the old
        // ones go: an old dataset may be the only holder of a key a new one
        // names.
        let mut pinned = Vec::with_capacity(datasets.len());
        for (name, value) in datasets {
            let holder = ClientId(self.next_dataset_holder);
            self.next_dataset_holder -= 1;
            self.clients.entry(holder).or_default().tenant = tenant;
            if value.graph.is_none() {
                for key in &value.keys {
                    self.add_want(holder, *key);
                }
            }
            pinned.push((name, holder, value));
        }
        let mut replaced = Vec::new();
        for (name, holder, value) in pinned {
            // A replaced dataset's sharing ends with it.
            if let Some(old) = self.datasets.get_mut(&(tenant, name.clone())) {
                let shared_with = std::mem::take(&mut old.shared_with);
                let (old_holder, old_keys) = (old.holder, old.value.keys.clone());
                for with in shared_with {
                    self.revoke(tenant, &name, old_holder, &old_keys, with);
                }
            }
            let dataset = Dataset {
                holder,
                value: Arc::new(value),
                shared_with: Default::default(),
            };
            replaced.extend(self.datasets.insert((tenant, name), dataset));
        }
        for old in replaced {
            self.client_gone(old.holder);
        }
        let error = None;
        self.send(Command::Client(client, ToClient::Done { request, error }));
    }

    /// Unpublishes `name` (a no-op if there is none).
    pub(crate) fn unpublish(&mut self, client: ClientId, request: u64, name: &str) {
        let tenant = self.tenant_of(client);
        if let Some(dataset) = self.datasets.remove(&(tenant, name.to_string())) {
            // Whoever it was shared with loses what it holds through it.
            for with in &dataset.shared_with {
                self.revoke(tenant, name, dataset.holder, &dataset.value.keys, *with);
            }
            self.client_gone(dataset.holder);
        }
        let error = None;
        self.send(Command::Client(client, ToClient::Done { request, error }));
    }

    /// Gives `client` futures to dataset `name`'s keys (taken before the
    /// answer leaves, so a later unpublish cannot free them first), or says
    /// why not: no such dataset, or data that is gone for good.
    pub(crate) fn get_dataset(
        &mut self,
        client: ClientId,
        request: u64,
        name: &str,
        owner: Option<(TenantId, &str)>,
    ) {
        let tenant = self.tenant_of(client);
        let (owner, display) = match owner {
            Some((owner, display)) if owner != tenant => (owner, display.to_string()),
            _ => (tenant, name.to_string()),
        };
        let dataset = self
            .datasets
            .get(&(owner, name.to_string()))
            .filter(|d| owner == tenant || d.shared_with.contains(&tenant))
            .cloned();
        let Some(dataset) = dataset else {
            let error = Some(GetDatasetError::NoSuchDataset { name: display }.into());
            self.send(Command::Client(client, ToClient::Done { request, error }));
            return;
        };
        if owner != tenant {
            return self.get_shared(client, request, &dataset);
        }
        if dataset.value.graph.is_none() {
            let lost = dataset.value.keys.iter().find_map(|key| {
                let failure = self.task(self.id_for(client, key)?).state().failure()?;
                (failure.kind == FailureKind::DataLost).then(|| (*key, failure.message.clone()))
            });
            if let Some((key, message)) = lost {
                let name = name.to_string();
                let error = Some(GetDatasetError::DataLost { name, key, message }.into());
                self.send(Command::Client(client, ToClient::Done { request, error }));
                return;
            }
            self.clients.entry(client).or_default();
            for key in &dataset.value.keys {
                self.add_want(client, *key);
            }
        }
        self.send(Command::Client(
            client,
            ToClient::Dataset {
                request,
                value: dataset.value.clone(),
            },
        ));
        if dataset.value.graph.is_none() {
            for key in &dataset.value.keys {
                let id = self.id_for(client, key).expect("wanted above");
                self.report_status(client, id);
            }
        }
    }

    /// The names of the datasets `tenant` published, sorted.
    pub fn dataset_names(&self, tenant: TenantId) -> Vec<String> {
        self.datasets
            .keys()
            .filter(|(owner, _)| *owner == tenant)
            .map(|(_, name)| name.clone())
            .collect()
    }

    /// Every published dataset as (owner, name), sorted.
    pub fn all_datasets(&self) -> Vec<(TenantId, String)> {
        self.datasets.keys().cloned().collect()
    }

    /// `holder` takes a future to `key` (known to it).
    fn add_want(&mut self, holder: ClientId, key: TaskKey) {
        let id: TaskId = self.own_id_for(holder, &key).expect("known");
        let task = self.task_mut(id);
        if !task.who_wants.contains(&holder) {
            task.who_wants.push(holder);
        }
        self.clients.entry(holder).or_default().wants.insert(id);
        self.want(id);
    }
}
