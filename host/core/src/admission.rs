//! Admission by a tenant's submit rate: backpressure, not failure. A
//! tenant with `submit_tasks_per_s` has a token bucket (one token per new
//! task, refilled at the rate, holding at most `submit_burst_tasks`,
//! default one second's worth). A graph whose new tasks the bucket cannot
//! pay for now waits, and so does everything its client sends after it
//! (releases, scatters, cancels, dataset requests: their order is kept),
//! until the bucket has refilled; then they are applied in order, as if
//! they had just arrived. A graph larger than the burst passes when the
//! bucket is full, leaving it in debt.
//!
//! What waits counts towards `tasks_queued_max`: a graph that would take
//! the tenant past it (with what waits) is refused at once, so that a
//! flood is slowed up to the cap and refused beyond it, never held without
//! bound. A restart (of the cluster or of the tenant) tells every future
//! of a waiting graph that it was cancelled and drops the graph; the other
//! waiting requests are applied later as usual.

use crate::ids::{ClientId, TenantId};
use crate::liveness::Timer;
use crate::messages::{Command, Event, ToClient};
use crate::scheduler::Scheduler;
use crate::time::Time;
use std::collections::VecDeque;
use weft_schema::quota::{QuotaLimit, TenantLimits};

/// Tokens are counted in millionths, so that refills at any rate are exact
/// to a microsecond.
const MICRO: i128 = 1_000_000;

/// A tenant's token bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SubmitBucket {
    /// Millionths of a token (negative: in debt).
    tokens: i128,
    /// When `tokens` was last brought up to date.
    at: Time,
}

/// A client's requests waiting behind a graph its tenant's rate could not
/// admit yet, in order; `new_tasks` of each is what it was counted as.
#[derive(Debug, Default)]
pub(crate) struct Deferred {
    pub(crate) events: VecDeque<(Event, u64)>,
}

/// The rate and burst of `limits`, if it has a rate.
fn rate_of(limits: &TenantLimits) -> Option<(i128, i128)> {
    let rate = i128::from(limits.submit_tasks_per_s?);
    let burst = i128::from(limits.submit_burst_tasks.unwrap_or(rate as u64).max(1));
    Some((rate, burst))
}

impl Scheduler {
    /// `event` from `client` back if it is to be applied now; `None` if
    /// it must wait (it is then queued behind what already waits).
    pub(crate) fn defer_if_over_rate(&mut self, client: ClientId, event: Event) -> Option<Event> {
        let waiting = self
            .clients
            .get(&client)
            .is_some_and(|c| !c.deferred.events.is_empty());
        let new_tasks = self.new_tasks_of(client, &event);
        // A graph over a limit is refused at once, never held (and takes no
        // tokens), even behind what waits: a refusal changes nothing, so
        // it may overtake.
        if let Some(quota) = self.quota_refusal(client, &event, new_tasks) {
            let Event::UpdateGraph { wants, .. } = event else {
                unreachable!("only graphs are refused by a quota here");
            };
            self.reject_over_quota(client, wants, quota);
            return None;
        }
        if !waiting && (new_tasks == 0 || self.admit_now(client, new_tasks)) {
            return Some(event);
        }
        let tenant = self.tenant_of(client);
        self.book_mut(tenant).deferred_tasks += new_tasks;
        let state = self.clients.entry(client).or_default();
        state.deferred.events.push_back((event, new_tasks));
        if !waiting {
            self.arm_admission(client);
        }
        None
    }

    /// How many tasks of `event` are new (0 for anything but a graph).
    fn new_tasks_of(&self, client: ClientId, event: &Event) -> u64 {
        match event {
            Event::UpdateGraph { tasks, .. } => tasks
                .iter()
                .filter(|task| self.id_for(client, &task.key).is_none())
                .count() as u64,
            _ => 0,
        }
    }

    /// The limit `update_graph` would refuse `event` for, if any.
    fn quota_refusal(
        &self,
        client: ClientId,
        event: &Event,
        new_tasks: u64,
    ) -> Option<weft_schema::quota::QuotaExceeded> {
        let Event::UpdateGraph { tasks, .. } = event else {
            return None;
        };
        self.check_client_quota(client, QuotaLimit::GraphTasksMax, tasks.len() as u64)
            .and_then(|()| self.check_client_quota(client, QuotaLimit::TasksQueuedMax, new_tasks))
            .err()
    }

    /// Takes `n` tokens from the bucket of `client`'s tenant if it can pay
    /// now (it can when it holds `min(n, burst)`); `true` without a rate.
    fn admit_now(&mut self, client: ClientId, n: u64) -> bool {
        let tenant = self.tenant_of(client);
        let now = self.now;
        let book = self.book_mut(tenant);
        let Some((rate, burst)) = rate_of(&book.policy.limits) else {
            return true;
        };
        let bucket = book.bucket.get_or_insert(SubmitBucket {
            tokens: burst * MICRO,
            at: now,
        });
        let elapsed = i128::from(now.since(bucket.at).as_micros() as u64);
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst * MICRO);
        bucket.at = now;
        let n = i128::from(n);
        if bucket.tokens < n.min(burst) * MICRO {
            return false;
        }
        bucket.tokens -= n * MICRO;
        true
    }

    /// Arms the admission timer of `client` for when its tenant's bucket
    /// can pay for the graph at the head of what waits.
    fn arm_admission(&mut self, client: ClientId) {
        let Some((_, n)) = self
            .clients
            .get(&client)
            .and_then(|c| c.deferred.events.front())
        else {
            return;
        };
        let n = i128::from(*n);
        let tenant = self.tenant_of(client);
        let book = self.book_mut(tenant);
        let at = match (rate_of(&book.policy.limits), book.bucket) {
            (Some((rate, burst)), Some(bucket)) => {
                let short = (n.min(burst) * MICRO - bucket.tokens).max(0);
                // Rounded up, so that the bucket holds enough then.
                let wait_us = (short + rate - 1) / rate;
                bucket
                    .at
                    .after(std::time::Duration::from_micros(wait_us as u64))
            }
            // The rate was lifted: at once.
            _ => self.now,
        };
        self.timers.arm(Timer::Admit(client), at.max(self.now));
    }

    /// `client`'s admission timer fired: what waits is applied in order
    /// until a graph must wait again.
    pub(crate) fn admit_deferred(&mut self, client: ClientId) {
        loop {
            let Some(state) = self.clients.get_mut(&client) else {
                return;
            };
            let Some((event, counted)) = state.deferred.events.pop_front() else {
                return;
            };
            let tenant = state.tenant;
            // No longer waiting: not counted twice by the checks below.
            self.book_mut(tenant).deferred_tasks -= counted;
            let new_tasks = self.new_tasks_of(client, &event);
            let over = self.quota_refusal(client, &event, new_tasks).is_some();
            if new_tasks > 0 && !over && !self.admit_now(client, new_tasks) {
                self.book_mut(tenant).deferred_tasks += counted;
                let state = self.clients.get_mut(&client).expect("checked");
                state.deferred.events.push_front((event, counted));
                self.arm_admission(client);
                return;
            }
            self.apply(event);
        }
    }

    /// A new policy for `tenant`: its waiting clients are re-timed (at
    /// once if its rate was lifted).
    pub(crate) fn retime_admissions(&mut self, tenant: TenantId) {
        let clients: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, c)| c.tenant == tenant && !c.deferred.events.is_empty())
            .map(|(id, _)| *id)
            .collect();
        for client in clients {
            self.arm_admission(client);
        }
    }

    /// Drops what waits for `client` (it is gone): the values it
    /// scattered meanwhile are freed on their workers, unless the books
    /// count those copies already.
    pub(crate) fn drop_deferred(&mut self, client: ClientId, deferred: Deferred, tenant: TenantId) {
        let counted: u64 = deferred.events.iter().map(|(_, n)| n).sum();
        self.book_mut(tenant).deferred_tasks -= counted;
        self.timers.disarm(Timer::Admit(client));
        for (event, _) in deferred.events {
            let Event::Scattered { key, workers, .. } = event else {
                continue;
            };
            let wire = crate::ids::wire_key(tenant, &key);
            let known = self.id_of(&wire);
            for worker in workers {
                let counted = known.is_some_and(|id| self.task(id).state().holds(worker));
                if !counted && self.workers.contains_key(&worker) {
                    let keys = vec![wire];
                    self.send(Command::Worker(
                        worker,
                        crate::messages::ToWorker::Free { keys },
                    ));
                }
            }
        }
    }

    /// `worker` left (or restarted): the copies waiting scatters name on it
    /// are gone with it, and must not be counted when they are applied.
    pub(crate) fn forget_waiting_copies(&mut self, worker: crate::ids::WorkerId) {
        for state in self.clients.values_mut() {
            for (event, _) in &mut state.deferred.events {
                if let Event::Scattered { workers, .. } = event {
                    workers.retain(|w| *w != worker);
                }
            }
        }
    }

    /// A restart of `tenant` (every tenant with `None`): the waiting graphs
    /// are dropped, and their clients told their futures were cancelled.
    pub(crate) fn cancel_deferred_graphs(&mut self, tenant: Option<TenantId>, reason: &str) {
        let clients: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, c)| tenant.is_none_or(|t| c.tenant == t) && !c.deferred.events.is_empty())
            .map(|(id, _)| *id)
            .collect();
        for client in clients {
            let state = self.clients.get_mut(&client).expect("listed");
            let owner = state.tenant;
            let mut kept = VecDeque::new();
            let mut told = Vec::new();
            let mut dropped = 0;
            for (event, counted) in std::mem::take(&mut state.deferred.events) {
                match event {
                    Event::UpdateGraph { wants, .. } => {
                        dropped += counted;
                        told.extend(wants);
                    }
                    other => kept.push_back((other, counted)),
                }
            }
            let empty = kept.is_empty();
            state.deferred.events = kept;
            self.book_mut(owner).deferred_tasks -= dropped;
            for key in told {
                let message = ToClient::Cancelled {
                    key,
                    reason: reason.to_string(),
                };
                self.send(Command::Client(client, message));
            }
            if empty {
                self.timers.disarm(Timer::Admit(client));
            } else {
                // What remains is not a graph: it goes at once.
                self.timers.arm(Timer::Admit(client), self.now);
            }
        }
    }

    /// How many requests of `client` wait for its tenant's submit rate.
    pub fn waiting_requests(&self, client: ClientId) -> usize {
        self.clients
            .get(&client)
            .map_or(0, |c| c.deferred.events.len())
    }

    /// Whether `key` (as `client` names it) is wanted by a graph, or
    /// scattered by a request, of `client`'s that waits for its tenant's
    /// submit rate.
    pub fn waits_for_admission(&self, client: ClientId, key: &weft_schema::graph::TaskKey) -> bool {
        self.clients.get(&client).is_some_and(|c| {
            c.deferred.events.iter().any(|(event, _)| match event {
                Event::UpdateGraph { wants, .. } => wants.contains(key),
                Event::Scattered { key: k, .. } => k == key,
                _ => false,
            })
        })
    }

    /// Whether a release (or a cancel) of `key` by `client` waits for
    /// its tenant's submit rate (behind a graph).
    pub fn release_waits(&self, client: ClientId, key: &weft_schema::graph::TaskKey) -> bool {
        self.clients.get(&client).is_some_and(|c| {
            c.deferred.events.iter().any(|(event, _)| match event {
                Event::ReleaseKeys { keys, .. } | Event::Cancel { keys, .. } => keys.contains(key),
                _ => false,
            })
        })
    }

    /// New tasks of `tenant`'s graphs waiting for its submit rate.
    pub fn tenant_waiting_tasks(&self, tenant: TenantId) -> u64 {
        self.tenants.get(&tenant).map_or(0, |b| b.deferred_tasks)
    }

    /// For `validate`: each tenant's waiting tasks are its clients'
    /// waiting graphs' count, and a client with requests waiting has its
    /// timer armed.
    pub(crate) fn validate_deferred(&self) -> Result<(), String> {
        let mut counted: std::collections::BTreeMap<TenantId, u64> = Default::default();
        for (client, state) in &self.clients {
            let waiting: u64 = state.deferred.events.iter().map(|(_, n)| n).sum();
            *counted.entry(state.tenant).or_default() += waiting;
            if state.deferred.events.is_empty() == self.timers.is_armed(Timer::Admit(*client)) {
                return Err(format!(
                    "{client}: waiting requests and their timer disagree"
                ));
            }
        }
        for (tenant, book) in &self.tenants {
            let expected = counted.get(tenant).copied().unwrap_or(0);
            if book.deferred_tasks != expected {
                return Err(format!(
                    "{tenant}: {} tasks counted waiting, {expected} waiting",
                    book.deferred_tasks
                ));
            }
        }
        Ok(())
    }
}
