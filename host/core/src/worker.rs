//! The scheduler's view of one worker: what it is running and what it holds.

use crate::ids::{TaskId, TenantId};
use crate::time::Time;
use std::collections::{BTreeMap, BTreeSet};

/// A task sent to a worker.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dispatch {
    /// Order of dispatch across the cluster: a worker starts each
    /// tenant's tasks in the order it receives them (and the tenants' in
    /// turns).
    pub(crate) seq: u64,
    /// The duration estimate counted in the worker's backlog.
    pub(crate) estimate_us: u64,
    /// The task's tenant.
    pub(crate) tenant: TenantId,
}

/// What one tenant has sent to a worker and not yet heard back about.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TenantLoad {
    /// Its tasks in the worker's `processing`.
    pub(crate) tasks: u32,
    /// The sum of their duration estimates, in microseconds.
    pub(crate) backlog_us: u64,
}

/// One worker.
#[derive(Debug)]
pub(crate) struct WorkerState {
    pub(crate) nthreads: u32,
    /// Tasks sent to it and not yet reported.
    pub(crate) processing: BTreeMap<TaskId, Dispatch>,
    /// Sum of the duration estimates of `processing`, in microseconds.
    pub(crate) backlog_us: u64,
    /// `processing` and `backlog_us` per tenant (tenants with none are
    /// absent): each tenant's backlog on the worker is bounded on its own.
    pub(crate) tenant_loads: BTreeMap<TenantId, TenantLoad>,
    /// Processing tasks it was asked to give up, answer pending, with the
    /// idle worker each is meant for.
    pub(crate) stealing: BTreeMap<TaskId, crate::ids::WorkerId>,
    /// Results it holds.
    pub(crate) has_what: BTreeSet<TaskId>,
    /// Sum of the sizes of `has_what`.
    pub(crate) managed_bytes: u64,
    /// Its instance: stable across restarts (in place or by its nanny).
    pub(crate) instance: u64,
    /// When it last spoke.
    pub(crate) last_heard: Time,
    /// Tasks it is running whose result it also reported holding as a
    /// copy (fetched before the result was lost and the task given back to
    /// it): if the run ends other than with that result, the copy is freed.
    pub(crate) copies_while_running: BTreeSet<TaskId>,
    /// What it last said it was running (`Event::WorkerRunning`), and the
    /// dispatch number from which tasks were sent after that arrived;
    /// `None` before its first report.
    pub(crate) reported_running: Option<(Vec<TaskId>, u64)>,
}

impl WorkerState {
    pub(crate) fn new(nthreads: u32, instance: u64, now: Time) -> Self {
        WorkerState {
            nthreads: nthreads.max(1),
            processing: BTreeMap::new(),
            backlog_us: 0,
            tenant_loads: BTreeMap::new(),
            stealing: BTreeMap::new(),
            has_what: BTreeSet::new(),
            managed_bytes: 0,
            instance,
            last_heard: now,
            copies_while_running: BTreeSet::new(),
            reported_running: None,
        }
    }
}

impl WorkerState {
    /// Counts `id` as sent to it.
    pub(crate) fn add_processing(&mut self, id: TaskId, dispatch: Dispatch) {
        if let Some(old) = self.processing.insert(id, dispatch) {
            self.uncount(old);
        }
        self.backlog_us += dispatch.estimate_us;
        let load = self.tenant_loads.entry(dispatch.tenant).or_default();
        load.tasks += 1;
        load.backlog_us += dispatch.estimate_us;
    }

    /// Counts `id` as no longer sent to it; what it was sent as, if it was.
    pub(crate) fn remove_processing(&mut self, id: TaskId) -> Option<Dispatch> {
        let dispatch = self.processing.remove(&id)?;
        self.uncount(dispatch);
        Some(dispatch)
    }

    fn uncount(&mut self, dispatch: Dispatch) {
        self.backlog_us -= dispatch.estimate_us;
        if let Some(load) = self.tenant_loads.get_mut(&dispatch.tenant) {
            load.tasks -= 1;
            load.backlog_us -= dispatch.estimate_us;
            if load.tasks == 0 {
                self.tenant_loads.remove(&dispatch.tenant);
            }
        }
    }

    /// What `tenant` has sent to it.
    pub(crate) fn load_of(&self, tenant: TenantId) -> TenantLoad {
        self.tenant_loads.get(&tenant).copied().unwrap_or_default()
    }

    /// For `validate`: the per-tenant loads are what `processing` says.
    pub(crate) fn loads_from_processing(&self) -> BTreeMap<TenantId, TenantLoad> {
        let mut loads: BTreeMap<TenantId, TenantLoad> = BTreeMap::new();
        for dispatch in self.processing.values() {
            let load = loads.entry(dispatch.tenant).or_default();
            load.tasks += 1;
            load.backlog_us += dispatch.estimate_us;
        }
        loads
    }
}

impl WorkerState {
    /// The tasks its death is blamed on: those it last said it was
    /// running (and still has), then, for its other threads, the earliest
    /// of each tenant sent since that report arrived (a task that kills a
    /// worker at once may not have been in any report; the worker shares
    /// its threads between tenants' queues, so the next to start is the head of some
    /// tenant's: each head is blamed, at most one innocent death per tenant
    /// rather than none for the culprit). Before its first report: the
    /// `nthreads` earliest sent of each tenant. A task waiting for inputs
    /// while others ran is not blamed, though it was sent first.
    pub(crate) fn blamed(&self) -> Vec<TaskId> {
        let (mut blamed, since) = match &self.reported_running {
            Some((running, since)) => {
                let still: Vec<TaskId> = running
                    .iter()
                    .filter(|id| self.processing.contains_key(id))
                    .copied()
                    .collect();
                (still, *since)
            }
            None => (Vec::new(), 0),
        };
        let mut later: Vec<(TenantId, u64, TaskId)> = self
            .processing
            .iter()
            .filter(|(id, d)| d.seq >= since && !blamed.contains(id))
            .map(|(id, d)| (d.tenant, d.seq, *id))
            .collect();
        later.sort_unstable();
        let room = (self.nthreads as usize).saturating_sub(blamed.len());
        let mut taken: Option<(TenantId, usize)> = None;
        for (tenant, _, id) in later {
            let count = match taken {
                Some((last, count)) if last == tenant => count,
                _ => 0,
            };
            if count < room {
                blamed.push(id);
            }
            taken = Some((tenant, count + 1));
        }
        blamed
    }
}
