//! Client operations on what exists already: cancel (own interest, or
//! forced with every dependent), restart (forget everything), and the
//! copies clients ask for: replicate (at least `n` holders per key) and
//! rebalance (move data from workers above the mean of managed bytes to
//! those below). Copies are made by workers (`ToWorker::Fetch`); an
//! [`Operation`] waits for each answer and then tells its client `Done`.

use crate::errors::CopyError;
use crate::ids::{ClientId, WorkerId};
use crate::messages::{Command, Input, ToClient, ToWorker};
use crate::scheduler::Scheduler;
use crate::task::{StateName, TaskId, TaskState};
use std::collections::{BTreeMap, BTreeSet};
use weft_schema::graph::TaskKey;

/// The reason restarted futures are cancelled with.
pub const RESTART_REASON: &str = "restart";

/// A replicate or rebalance waiting for workers to answer.
#[derive(Debug, Default)]
pub(crate) struct Operation {
    /// Copies asked for and not answered: (key, worker making the copy) →
    /// the worker to drop its copy once it is made (rebalance moves).
    pub(crate) outstanding: BTreeMap<(TaskKey, WorkerId), Option<WorkerId>>,
    /// What went wrong so far.
    pub(crate) errors: Vec<String>,
}

impl Scheduler {
    /// See [`crate::Event::Cancel`].
    pub(crate) fn cancel(&mut self, client: ClientId, keys: &[TaskKey], force: bool, reason: &str) {
        if !force {
            for key in keys {
                let Some(id) = self.id_for(client, key) else {
                    continue;
                };
                if self.task(id).who_wants.contains(&client) {
                    let (key, reason) = (*key, reason.to_string());
                    self.send(Command::Client(client, ToClient::Cancelled { key, reason }));
                }
            }
            self.release_keys(client, keys);
            return;
        }
        // Every key and everything depending on it, transitively, within
        // the client's tenant: another tenant's tasks (held through a
        // shared dataset) are not this client's to cancel for everyone, so
        // for those only its own interest goes.
        let tenant = self.tenant_of(client);
        let (own, others): (Vec<TaskKey>, Vec<TaskKey>) = keys.iter().partition(|k| {
            self.id_for(client, k)
                .is_none_or(|id| self.task(id).tenant == tenant)
        });
        if !others.is_empty() {
            self.cancel(client, &others, false, reason);
        }
        let keys = &own[..];
        let mut closure = BTreeSet::new();
        let mut work: Vec<TaskId> = keys.iter().filter_map(|k| self.id_for(client, k)).collect();
        while let Some(id) = work.pop() {
            if self.task(id).tenant == tenant && closure.insert(id) {
                work.extend(self.task(id).dependents.iter().copied());
            }
        }
        // Dependents first (they were added later), so that by the time an
        // input is looked at nothing still waits for it.
        let mut order: Vec<TaskId> = closure.into_iter().collect();
        order.sort_unstable_by_key(|id| std::cmp::Reverse(self.task(*id).priority));
        // A dataset holding any of them is unpublished: its data is gone.
        let doomed: Vec<(crate::ids::TenantId, String)> = self
            .datasets
            .iter()
            .filter(|(_, d)| {
                self.clients
                    .get(&d.holder)
                    .is_some_and(|h| order.iter().any(|id| h.wants.contains(id)))
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in doomed {
            let dataset = self.datasets.remove(&name).expect("listed");
            self.client_gone(dataset.holder);
        }
        for &id in &order {
            if !self.tasks.contains(id) {
                continue;
            }
            let holders = std::mem::take(&mut self.task_mut(id).who_wants);
            for holder in holders {
                let key = self.name_for(holder, id);
                if let Some(state) = self.clients.get_mut(&holder) {
                    state.wants.remove(&id);
                }
                let reason = reason.to_string();
                self.send(Command::Client(holder, ToClient::Cancelled { key, reason }));
            }
        }
        for id in order {
            if self.tasks.contains(id) {
                self.release_if_unneeded(id);
            }
        }
    }

    /// Forgets `tenant`'s tasks (every tenant's with `None`): its datasets
    /// go, its clients' futures are cancelled with reason "restart", and
    /// what only it held is freed on the workers.
    pub(crate) fn restart_tenant(&mut self, tenant: Option<crate::ids::TenantId>) {
        self.cancel_deferred_graphs(tenant, RESTART_REASON);
        if let Some(tenant) = tenant {
            return self.restart_one_tenant(tenant);
        }
        for dataset in std::mem::take(&mut self.datasets).into_values() {
            self.clients.remove(&dataset.holder);
        }
        let clients: Vec<ClientId> = self.clients.keys().copied().collect();
        for client in clients {
            let mut held: Vec<TaskId> =
                std::mem::take(&mut self.clients.get_mut(&client).expect("listed").wants)
                    .into_iter()
                    .collect();
            held.sort_unstable();
            for id in held {
                let key = self.name_for(client, id);
                let reason = RESTART_REASON.to_string();
                self.send(Command::Client(client, ToClient::Cancelled { key, reason }));
            }
        }
        for (client, request) in std::mem::take(&mut self.operations).into_keys() {
            let error = Some(CopyError::ClusterRestarted.into());
            self.send(Command::Client(client, ToClient::Done { request, error }));
        }
        // Every task goes (its bookkeeping with it: the queue and the
        // workers' books empty), and the workers' books start afresh.
        self.forget_all();
        for worker in self.workers.values_mut() {
            *worker = crate::worker::WorkerState::new(
                worker.nthreads,
                worker.instance,
                worker.last_heard,
            );
        }
    }

    /// A restart of one tenant: its datasets are unpublished, its clients'
    /// futures cancelled; its tasks are released like any unheld task, so
    /// nothing another tenant holds through a share is lost.
    fn restart_one_tenant(&mut self, tenant: crate::ids::TenantId) {
        let doomed: Vec<(crate::ids::TenantId, String)> = self
            .datasets
            .keys()
            .filter(|(owner, _)| *owner == tenant)
            .cloned()
            .collect();
        for name in doomed {
            let dataset = self.datasets.remove(&name).expect("listed");
            self.client_gone(dataset.holder);
        }
        let clients: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, c)| c.tenant == tenant)
            .map(|(id, _)| *id)
            .collect();
        for client in clients {
            let mut held: Vec<TaskId> =
                std::mem::take(&mut self.clients.get_mut(&client).expect("listed").wants)
                    .into_iter()
                    .collect();
            held.sort_unstable();
            for &id in &held {
                let key = self.name_for(client, id);
                self.task_mut(id).who_wants.retain(|c| *c != client);
                let reason = RESTART_REASON.to_string();
                self.send(Command::Client(client, ToClient::Cancelled { key, reason }));
            }
            for id in held {
                if self.tasks.contains(id) {
                    self.release_if_unneeded(id);
                }
            }
        }
        let operations: Vec<(ClientId, u64)> = self
            .operations
            .keys()
            .filter(|(client, _)| self.tenant_of(*client) == tenant)
            .copied()
            .collect();
        for (client, request) in operations {
            self.operations.remove(&(client, request));
            let error = Some(CopyError::TenantRestarted.into());
            self.send(Command::Client(client, ToClient::Done { request, error }));
        }
    }

    /// See [`crate::Event::Replicate`].
    pub(crate) fn replicate(&mut self, client: ClientId, request: u64, keys: &[TaskKey], n: u32) {
        let refuse = |s: &mut Scheduler, error: CopyError| {
            let error = Some(error.into());
            s.send(Command::Client(client, ToClient::Done { request, error }));
        };
        if n == 0 {
            return refuse(self, CopyError::NoCopies);
        }
        if n as usize > self.workers.len() {
            let workers = self.workers.len();
            return refuse(self, CopyError::TooManyCopies { n, workers });
        }
        let ids = match self.in_memory(client, keys) {
            Ok(ids) => ids,
            Err(error) => return refuse(self, error),
        };
        let mut copies = Vec::new();
        for id in ids {
            let who_has = self.task(id).state().who_has();
            let missing = (n as usize).saturating_sub(who_has.len());
            let mut targets: Vec<(u64, WorkerId)> = self
                .workers
                .iter()
                .filter(|(w, _)| !who_has.contains(w))
                .map(|(w, state)| (state.managed_bytes, *w))
                .collect();
            targets.sort_unstable();
            for (_, target) in targets.into_iter().take(missing) {
                copies.push((id, target, None));
            }
        }
        self.start_operation(client, request, copies);
    }

    /// See [`crate::Event::Rebalance`].
    pub(crate) fn rebalance(
        &mut self,
        client: ClientId,
        request: u64,
        keys: &[TaskKey],
        workers: &[WorkerId],
    ) {
        let refuse = |s: &mut Scheduler, error: CopyError| {
            let error = Some(error.into());
            s.send(Command::Client(client, ToClient::Done { request, error }));
        };
        if let Some(unknown) = workers.iter().find(|w| !self.workers.contains_key(w)) {
            let worker = unknown.0;
            return refuse(self, CopyError::UnknownWorker { worker });
        }
        let movable: Option<BTreeSet<TaskId>> = if keys.is_empty() {
            None
        } else {
            match self.in_memory(client, keys) {
                Ok(ids) => Some(ids.into_iter().collect()),
                Err(error) => return refuse(self, error),
            }
        };
        let members: Vec<WorkerId> = if workers.is_empty() {
            self.workers.keys().copied().collect()
        } else {
            let set: BTreeSet<WorkerId> = workers.iter().copied().collect();
            set.into_iter().collect()
        };
        if members.is_empty() {
            return refuse(self, CopyError::NoWorkers);
        }
        let mut bytes: BTreeMap<WorkerId, u64> = members
            .iter()
            .map(|w| (*w, self.workers[w].managed_bytes))
            .collect();
        let mean = bytes.values().sum::<u64>() / members.len() as u64;
        let mut senders: Vec<WorkerId> = members
            .iter()
            .copied()
            .filter(|w| bytes[w] > mean)
            .collect();
        senders.sort_unstable_by_key(|w| std::cmp::Reverse(bytes[w]));
        let mut moves = Vec::new();
        let mut moving: BTreeSet<TaskId> = BTreeSet::new();
        for sender in senders {
            // Largest values first: fewest moves to reach the mean.
            let mut candidates: Vec<TaskId> = self.workers[&sender]
                .has_what
                .iter()
                .copied()
                .filter(|id| movable.as_ref().is_none_or(|m| m.contains(id)))
                .filter(|id| !moving.contains(id))
                .collect();
            // Held, so in memory.
            let size = |s: &Scheduler, id: TaskId| s.task(id).state().nbytes().unwrap_or(0);
            candidates.sort_unstable_by_key(|id| (std::cmp::Reverse(size(self, *id)), *id));
            for id in candidates {
                if bytes[&sender] <= mean {
                    break;
                }
                let nbytes = size(self, id);
                let receiver = members
                    .iter()
                    .copied()
                    .filter(|w| !self.task(id).state().holds(*w))
                    .filter(|w| bytes[w] + nbytes <= mean)
                    .min_by_key(|w| (bytes[w], *w));
                let Some(receiver) = receiver else { continue };
                *bytes.get_mut(&sender).expect("member") -= nbytes;
                *bytes.get_mut(&receiver).expect("member") += nbytes;
                moving.insert(id);
                moves.push((id, receiver, Some(sender)));
            }
        }
        self.start_operation(client, request, moves);
    }

    /// The ids of `keys` (as `client` names them), all of which must be in
    /// memory.
    fn in_memory(&self, client: ClientId, keys: &[TaskKey]) -> Result<Vec<TaskId>, CopyError> {
        let mut ids = Vec::with_capacity(keys.len());
        for key in keys {
            let state = self
                .own_id_for(client, key)
                .map(|id| (id, self.task(id).state()));
            match state {
                Some((id, TaskState::Memory { .. })) => ids.push(id),
                Some((_, state)) => {
                    let state = format!("{:?}", state.name()).to_lowercase();
                    return Err(CopyError::NotInMemory { key: *key, state });
                }
                None => return Err(CopyError::UnknownKey { key: *key }),
            }
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// Asks each target worker for its copies: (value, target, worker to
    /// drop its copy after).
    fn start_operation(
        &mut self,
        client: ClientId,
        request: u64,
        copies: Vec<(TaskId, WorkerId, Option<WorkerId>)>,
    ) {
        if copies.is_empty() {
            let error = None;
            self.send(Command::Client(client, ToClient::Done { request, error }));
            return;
        }
        let mut operation = Operation::default();
        let mut per_worker: BTreeMap<WorkerId, Vec<Input>> = BTreeMap::new();
        for (id, target, source) in copies {
            let task = self.task(id);
            operation.outstanding.insert((task.key, target), source);
            per_worker.entry(target).or_default().push(Input {
                key: task.key,
                tenant: task.tenant,
                nbytes: task.state().nbytes().unwrap_or(0),
                holders: task.state().who_has().to_vec(),
            });
        }
        self.operations.insert((client, request), operation);
        for (worker, inputs) in per_worker {
            self.send(Command::Worker(worker, ToWorker::Fetch { inputs }));
        }
    }

    /// A copy asked for by operations was made (`Ok`) or not (`Err`):
    /// every operation waiting on it is settled (a worker answers once for
    /// a key however many asked). Returns whether any was waiting.
    pub(crate) fn copy_answered(
        &mut self,
        worker: WorkerId,
        key: TaskKey,
        outcome: Result<(), String>,
    ) -> bool {
        let waiting: Vec<((ClientId, u64), Option<WorkerId>)> = self
            .operations
            .iter_mut()
            .filter_map(|(op, state)| state.outstanding.remove(&(key, worker)).map(|s| (*op, s)))
            .collect();
        for &((client, request), source) in &waiting {
            match &outcome {
                Err(message) => {
                    let operation = self.operations.get_mut(&(client, request)).expect("listed");
                    operation
                        .errors
                        .push(format!("{worker} could not copy {key}: {message}"));
                }
                Ok(()) => {
                    if let Some(source) = source
                        && let Some(id) = self.id_of(&key)
                        && self.task(id).is(StateName::Memory)
                        && self.task(id).state().holds(worker)
                        && self.task(id).state().holds(source)
                    {
                        self.remove_replica(id, source);
                        self.send(Command::Worker(source, ToWorker::Free { keys: vec![key] }));
                    }
                }
            }
            self.finish_operation(client, request);
        }
        !waiting.is_empty()
    }

    /// Copies an operation was waiting for from a worker that left fail.
    pub(crate) fn copies_lost(&mut self, worker: WorkerId) {
        let ops: Vec<(ClientId, u64)> = self.operations.keys().copied().collect();
        for (client, request) in ops {
            let operation = self.operations.get_mut(&(client, request)).expect("listed");
            let lost: Vec<(TaskKey, WorkerId)> = operation
                .outstanding
                .keys()
                .filter(|(_, w)| *w == worker)
                .copied()
                .collect();
            for (key, _) in lost {
                operation.outstanding.remove(&(key, worker));
                operation
                    .errors
                    .push(format!("{worker} left before copying {key}"));
            }
            self.finish_operation(client, request);
        }
    }

    /// Tells the client an operation is done if nothing is outstanding.
    fn finish_operation(&mut self, client: ClientId, request: u64) {
        let done = self
            .operations
            .get(&(client, request))
            .is_some_and(|op| op.outstanding.is_empty());
        if done {
            let operation = self.operations.remove(&(client, request)).expect("exists");
            let error = (!operation.errors.is_empty()).then(|| {
                let failures = operation.errors;
                CopyError::CopiesFailed { failures }.into()
            });
            self.send(Command::Client(client, ToClient::Done { request, error }));
        }
    }
}
