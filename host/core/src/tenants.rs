//! The core's books of each tenant: what the driver says of it (its name,
//! weight and limits: [`TenantPolicy`], from the tenants file, replaced by
//! a reload), what it uses now ([`TenantUsage`], counted as tasks change
//! state, so that a check costs nothing and `validate` recounts it), its
//! ready queue and its place in the fair share (`fair_share.rs`), and the
//! admission checks that turn a limit into a [`QuotaExceeded`].
//!
//! A lowered limit refuses new requests; it never takes back what a tenant
//! holds. A rejected request changes nothing.

use crate::ids::{ClientId, TenantId};
use crate::scheduler::Scheduler;
use crate::task::{StateName, TaskId};
use crate::time::Time;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use weft_schema::quota::{
    QuotaExceeded, QuotaLimit, QuotaScope, TenantLimits, TenantStatus, TenantUsage,
};

/// What the driver says of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantPolicy {
    /// Its name, for messages (`QuotaExceeded`'s scope).
    pub name: String,
    /// Its weight in the fair share (at least 1): a tenant of weight 3
    /// gets three times the executor time of one of weight 1 when both
    /// have work waiting.
    pub weight: u32,
    /// Its limits.
    pub limits: TenantLimits,
}

impl Default for TenantPolicy {
    fn default() -> Self {
        TenantPolicy {
            name: String::new(),
            weight: 1,
            limits: TenantLimits::default(),
        }
    }
}

/// The core's books of one tenant.
#[derive(Debug)]
pub(crate) struct TenantBook {
    pub(crate) policy: TenantPolicy,
    pub(crate) usage: TenantUsage,
    /// Its queued tasks by (priority, id): submission order.
    pub(crate) queue: BTreeSet<(u64, TaskId)>,
    /// Its virtual time in the fair share: the executor time its
    /// dispatches are estimated to take, divided by its weight
    /// (`fair_share.rs`).
    pub(crate) served: u128,
    /// Estimated executor microseconds of all its dispatches so far.
    pub(crate) dispatched_us: u64,
    /// The scheduler's dispatch count at its last dispatch by the fair
    /// share: among equal virtual times, the least recent goes first.
    pub(crate) last_turn: u64,
    /// Executor microseconds of the runs that finished in each of the last
    /// 60 seconds: (the second, microseconds), by second modulo 60.
    pub(crate) recent_runs: [(u64, u64); 60],
    /// Its key in `Scheduler::fair_order` (`fair_share.rs`), if it is in
    /// it.
    pub(crate) fair_key: Option<(u128, u64)>,
    /// Its submit rate's token bucket (`admission.rs`), made on first use.
    pub(crate) bucket: Option<crate::admission::SubmitBucket>,
    /// New tasks of its graphs waiting for the submit rate.
    pub(crate) deferred_tasks: u64,
}

impl Default for TenantBook {
    fn default() -> Self {
        TenantBook {
            policy: TenantPolicy::default(),
            usage: TenantUsage::default(),
            queue: BTreeSet::new(),
            served: 0,
            dispatched_us: 0,
            last_turn: 0,
            recent_runs: [(0, 0); 60],
            fair_key: None,
            bucket: None,
            deferred_tasks: 0,
        }
    }
}

impl TenantBook {
    /// A run of `duration_us` finished at `now`.
    pub(crate) fn record_run(&mut self, now: Time, duration_us: u64) {
        let second = now.as_micros() / 1_000_000;
        let slot = &mut self.recent_runs[(second % 60) as usize];
        if slot.0 != second {
            *slot = (second, 0);
        }
        slot.1 = slot.1.saturating_add(duration_us);
    }

    /// Executor microseconds of the runs that finished in the minute
    /// before `now`.
    pub(crate) fn slot_us_last_minute(&self, now: Time) -> u64 {
        let second = now.as_micros() / 1_000_000;
        self.recent_runs
            .iter()
            .filter(|(at, _)| *at + 60 > second && *at <= second)
            .map(|(_, us)| *us)
            .sum()
    }
}

impl TenantBook {
    /// Whether it may have another task on the workers
    /// (`tasks_running_max`).
    pub(crate) fn may_run_more(&self) -> bool {
        self.policy
            .limits
            .tasks_running_max
            .is_none_or(|max| self.usage.processing < max)
    }
}

impl Scheduler {
    /// The books of `tenant`, made (with the default policy) on first use.
    pub(crate) fn book_mut(&mut self, tenant: TenantId) -> &mut TenantBook {
        self.tenants.entry(tenant).or_default()
    }

    /// The driver's word on a tenant, replacing what it said before.
    pub(crate) fn set_policy(&mut self, tenant: TenantId, mut policy: TenantPolicy) {
        policy.weight = policy.weight.max(1);
        self.book_mut(tenant).policy = policy;
        self.passed_over.clear();
        self.refresh_fair(tenant);
        self.retime_admissions(tenant);
    }

    /// `tenant`'s policy (the default for one the driver never described).
    pub fn tenant_policy(&self, tenant: TenantId) -> TenantPolicy {
        self.tenants
            .get(&tenant)
            .map(|book| book.policy.clone())
            .unwrap_or_default()
    }

    /// What `tenant` uses now, without a copy.
    pub(crate) fn tenant_usage_ref(&self, tenant: TenantId) -> &TenantUsage {
        static NOTHING: TenantUsage = TenantUsage {
            tasks: 0,
            waiting: 0,
            queued: 0,
            processing: 0,
            memory: 0,
            erred: 0,
            stored_bytes: 0,
        };
        self.tenants
            .get(&tenant)
            .map_or(&NOTHING, |book| &book.usage)
    }

    /// What `tenant` uses now.
    pub fn tenant_usage(&self, tenant: TenantId) -> TenantUsage {
        self.tenants
            .get(&tenant)
            .map(|book| book.usage.clone())
            .unwrap_or_default()
    }

    /// Estimated executor microseconds dispatched for `tenant` so far (a
    /// driver that samples it over time sees its share of the cluster).
    pub fn tenant_dispatched_us(&self, tenant: TenantId) -> u64 {
        self.tenants
            .get(&tenant)
            .map_or(0, |book| book.dispatched_us)
    }

    /// `tenant` as status shows it (without its modules, which the
    /// driver's module store counts).
    pub fn tenant_status(&self, tenant: TenantId) -> TenantStatus {
        let policy = self.tenant_policy(tenant);
        TenantStatus {
            name: policy.name,
            weight: policy.weight,
            limits: policy.limits,
            usage: self.tenant_usage(tenant),
            waiting_admission: self.tenant_waiting_tasks(tenant),
            modules_bytes: 0,
            datasets: self.datasets_of(tenant),
            clients: self.clients_of(tenant),
            slot_us_last_minute: self
                .tenants
                .get(&tenant)
                .map_or(0, |book| book.slot_us_last_minute(self.now)),
        }
    }

    /// The tenants the core has books for.
    pub fn tenant_ids(&self) -> Vec<TenantId> {
        self.tenants.keys().copied().collect()
    }

    /// How many clients of `tenant` the core knows (connected, or away
    /// within their grace; datasets' holders are not clients).
    pub fn clients_of(&self, tenant: TenantId) -> u64 {
        self.clients
            .iter()
            .filter(|(id, c)| id.0 < crate::datasets::DATASET_HOLDERS_START && c.tenant == tenant)
            .count() as u64
    }

    /// How many datasets `tenant` has published.
    pub fn datasets_of(&self, tenant: TenantId) -> u64 {
        self.datasets.keys().filter(|(t, _)| *t == tenant).count() as u64
    }

    /// Whether `requested` more of `limit` fits `tenant`'s limit, `used`
    /// being what it holds now; the error to answer with if not.
    pub fn check_quota(
        &self,
        tenant: TenantId,
        limit: QuotaLimit,
        requested: u64,
        used: u64,
    ) -> Result<(), QuotaExceeded> {
        let Some(book) = self.tenants.get(&tenant) else {
            return Ok(());
        };
        let scope = || {
            QuotaScope::Tenant(if book.policy.name.is_empty() {
                tenant.to_string()
            } else {
                book.policy.name.clone()
            })
        };
        QuotaExceeded::check(limit, scope, requested, used, book.policy.limits.get(limit))
    }

    /// The same check for `client`'s tenant.
    pub(crate) fn check_client_quota(
        &self,
        client: ClientId,
        limit: QuotaLimit,
        requested: u64,
    ) -> Result<(), QuotaExceeded> {
        let tenant = self.tenant_of(client);
        let usage = self.tenants.get(&tenant).map(|b| &b.usage);
        let used = match limit {
            // What waits for the submit rate counts too.
            QuotaLimit::TasksQueuedMax => self
                .tenants
                .get(&tenant)
                .map_or(0, |b| b.usage.pending() + b.deferred_tasks),
            QuotaLimit::StoredBytesMax => usage.map_or(0, |u| u.stored_bytes),
            QuotaLimit::DatasetsMax => self.datasets_of(tenant),
            QuotaLimit::ClientsMax => self.clients_of(tenant),
            QuotaLimit::TasksRunningMax => usage.map_or(0, |u| u.processing),
            // One request's own size: nothing is in use before it.
            QuotaLimit::GraphTasksMax => 0,
            // The driver's to count.
            QuotaLimit::ModulesBytesMax | QuotaLimit::ModuleStoreBytesMax => 0,
        };
        self.check_quota(tenant, limit, requested, used)
    }

    /// A task of `tenant` left `from` (counted in its usage), with
    /// `nbytes` of result if it was in memory.
    pub(crate) fn usage_left(&mut self, tenant: TenantId, from: StateName, nbytes: u64) {
        let usage = &mut self.book_mut(tenant).usage;
        if let Some(count) = count_mut(usage, from) {
            *count -= 1;
        }
        usage.stored_bytes -= nbytes;
        if from == StateName::Processing {
            // Under its `tasks_running_max` again, maybe.
            self.refresh_fair(tenant);
        }
    }

    /// A task of `tenant` entered `to`, with `nbytes` of result if in
    /// memory.
    pub(crate) fn usage_entered(&mut self, tenant: TenantId, to: StateName, nbytes: u64) {
        let usage = &mut self.book_mut(tenant).usage;
        if let Some(count) = count_mut(usage, to) {
            *count += 1;
        }
        usage.stored_bytes += nbytes;
        if to == StateName::Processing {
            self.refresh_fair(tenant);
        }
    }

    /// Recounts every tenant's usage from the tasks; the first tenant
    /// whose books differ, for `validate`.
    pub(crate) fn validate_usage(&self) -> Result<(), String> {
        let mut counted: std::collections::BTreeMap<TenantId, TenantUsage> = Default::default();
        for (_, task) in self.tasks.iter() {
            let usage = counted.entry(task.tenant).or_default();
            usage.tasks += 1;
            if let Some(count) = count_mut(usage, task.state().name()) {
                *count += 1;
            }
            usage.stored_bytes += task.state().nbytes().unwrap_or(0);
        }
        for (tenant, book) in &self.tenants {
            let expected = counted.remove(tenant).unwrap_or_default();
            if book.usage != expected {
                return Err(format!(
                    "{tenant}: usage {:?} != recounted {expected:?}",
                    book.usage
                ));
            }
            for &(priority, id) in &book.queue {
                if self
                    .tasks
                    .get(id)
                    .is_none_or(|t| t.priority != priority || t.tenant != *tenant)
                {
                    return Err(format!("{tenant}'s queue holds {id:?}, which is stale"));
                }
            }
            if book.queue.len() as u64 != book.usage.queued {
                return Err(format!(
                    "{tenant}: {} in its queue, {} queued",
                    book.queue.len(),
                    book.usage.queued
                ));
            }
            if book.queue.is_empty() == self.backlogged.contains(tenant) {
                return Err(format!("{tenant}: backlogged is wrong"));
            }
        }
        if let Some((tenant, _)) = counted.into_iter().next() {
            return Err(format!("{tenant} has tasks but no books"));
        }
        Ok(())
    }
}

/// The counter of tasks in `state` (`None` for released and forgotten,
/// which are not counted apart).
fn count_mut(usage: &mut TenantUsage, state: StateName) -> Option<&mut u64> {
    match state {
        StateName::Waiting => Some(&mut usage.waiting),
        StateName::Queued => Some(&mut usage.queued),
        StateName::Processing => Some(&mut usage.processing),
        StateName::Memory => Some(&mut usage.memory),
        StateName::Erred => Some(&mut usage.erred),
        StateName::Released | StateName::Forgotten => None,
    }
}
