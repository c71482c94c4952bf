//! The order in which a worker's executor threads take the tasks sent to
//! it: one FIFO per tenant, served by weighted fair queuing on the time
//! the tenants' tasks really took. Pure (no clock, no threads), so that
//! the worker's executors and the simulations' take tasks alike.
//!
//! Each tenant has a virtual time, `served`: the executor time its jobs
//! took on this worker, divided by its weight (the tenants file's
//! `weight`). The next job is the first of the tenant with the least
//! virtual time (among equals, the one that took a job longest ago). A
//! job is charged when it is taken, at its tenant's typical job time (a
//! moving average of what its jobs took here), and the charge is made
//! exact when it ends ([`TenantQueues::finished`]), so that jobs running
//! on other threads count at once. Over any stretch in which k tenants
//! have jobs queued here, each gets the threads' time in proportion to
//! its weight, and a tenant whose job arrives behind another's backlog of
//! thousands waits for about one job of each other tenant, not for the
//! backlog.
//!
//! - **No credit for idling.** The queues keep a virtual clock: the
//!   virtual time of the last job taken. A tenant with nothing queued
//!   starts, when a job of its arrives, at that clock if it is behind it.
//!   A tenant ahead of the clock (served more than its share lately)
//!   keeps its lead until the others catch up.
//! - **Work-conserving.** A tenant alone gets every thread.
//!
//! The scheduler sends each tenant's tasks up to its own backlog target
//! per worker (so one tenant's backlog never keeps another's tasks at the
//! scheduler); the shares of a worker's threads are decided here.

use crate::ids::TenantId;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// A job of `d` taking a tenant of weight `w` forward by `d * SCALE / w`
/// (microseconds), so that weights divide exactly enough.
const VIRTUAL_SCALE: u128 = 1 << 20;

/// One tenant's jobs on this worker.
#[derive(Debug)]
struct Lane<J> {
    jobs: VecDeque<J>,
    weight: u32,
    /// Virtual time: executor microseconds taken, scaled, over the weight.
    served: u128,
    /// Jobs taken and not yet finished.
    running: u32,
    /// A moving average of what its jobs took here, in microseconds.
    typical_us: u128,
    /// When it last took a job (the queues' count of jobs taken).
    last_taken: u64,
}

/// What a job taken from [`TenantQueues`] was charged when taken, given
/// back with its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge(u128);

/// Jobs per tenant, taken by weighted fair queuing on measured time.
#[derive(Debug)]
pub struct TenantQueues<J> {
    lanes: BTreeMap<TenantId, Lane<J>>,
    /// The virtual time of the last job taken (it never goes back).
    clock: u128,
    /// Jobs taken so far.
    taken: u64,
    /// Jobs queued, over every tenant.
    queued: usize,
    /// A moving average of what any job took, in microseconds: the charge
    /// for a tenant whose jobs have not run here yet.
    typical_us: u128,
}

impl<J> Default for TenantQueues<J> {
    fn default() -> Self {
        TenantQueues {
            lanes: BTreeMap::new(),
            clock: 0,
            taken: 0,
            queued: 0,
            typical_us: 0,
        }
    }
}

impl<J> TenantQueues<J> {
    /// Queues `job` last in `tenant`'s queue; `weight` is the tenant's
    /// (zero counts as one), the latest given counts.
    pub fn push(&mut self, tenant: TenantId, weight: u32, job: J) {
        let clock = self.clock;
        let lane = self.lanes.entry(tenant).or_insert_with(|| Lane {
            jobs: VecDeque::new(),
            weight: 1,
            served: clock,
            running: 0,
            typical_us: 0,
            last_taken: 0,
        });
        if lane.jobs.is_empty() {
            // Back from idling (its jobs may still be running, but none
            // waited): no credit for the time it did not use.
            lane.served = lane.served.max(clock);
        }
        lane.weight = weight.max(1);
        lane.jobs.push_back(job);
        self.queued += 1;
    }

    /// The first job of the tenant with the least virtual time (among
    /// equals, the one that took a job longest ago), with its tenant and
    /// what it was charged. Report its end with [`finished`](Self::finished).
    pub fn pop(&mut self) -> Option<(TenantId, J, Charge)> {
        let (&tenant, _) = self
            .lanes
            .iter()
            .filter(|(_, lane)| !lane.jobs.is_empty())
            .min_by_key(|(_, lane)| (lane.served, lane.last_taken))?;
        let lane = self.lanes.get_mut(&tenant)?;
        let job = lane.jobs.pop_front()?;
        self.taken += 1;
        let clock = self.clock.max(lane.served);
        let typical_us = if lane.typical_us == 0 {
            self.typical_us
        } else {
            lane.typical_us
        };
        let charge = Charge(typical_us.saturating_mul(VIRTUAL_SCALE) / u128::from(lane.weight));
        lane.served = lane.served.saturating_add(charge.0);
        lane.running += 1;
        lane.last_taken = self.taken;
        self.queued -= 1;
        if clock > self.clock {
            self.clock = clock;
            // Idle tenants the clock caught up with: nothing to remember.
            self.lanes.retain(|_, lane| {
                !(lane.jobs.is_empty() && lane.running == 0 && lane.served <= clock)
            });
        }
        Some((tenant, job, charge))
    }

    /// A job of `tenant` taken by [`pop`](Self::pop) with `charge` ended
    /// after `took` (zero if it never ran: it was cancelled while queued):
    /// the tenant is charged what it took instead.
    pub fn finished(&mut self, tenant: TenantId, charge: Charge, took: Duration) {
        let clock = self.clock;
        // A job that ran counts at least a microsecond.
        let micros = if took.is_zero() {
            0
        } else {
            took.as_micros().max(1)
        };
        if !took.is_zero() {
            self.typical_us = moving_average(self.typical_us, micros);
        }
        let Some(lane) = self.lanes.get_mut(&tenant) else {
            return;
        };
        debug_assert!(lane.running > 0, "a job finished that was not taken");
        lane.running = lane.running.saturating_sub(1);
        if !took.is_zero() {
            lane.typical_us = moving_average(lane.typical_us, micros);
        }
        let actual = micros.saturating_mul(VIRTUAL_SCALE) / u128::from(lane.weight);
        lane.served = lane.served.saturating_sub(charge.0).saturating_add(actual);
        if lane.jobs.is_empty() && lane.running == 0 && lane.served <= clock {
            // Nothing to remember: it would come back at the clock anyway.
            self.lanes.remove(&tenant);
        }
    }

    /// Jobs queued, over every tenant.
    pub fn len(&self) -> usize {
        self.queued
    }

    /// Whether no job is queued.
    pub fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Tenants remembered (with jobs queued or running, or ahead of the
    /// clock): bounded by the tenants that sent work here lately.
    pub fn tenants_remembered(&self) -> usize {
        self.lanes.len()
    }
}

/// The next value of a moving average (zero: none yet) after `sample`.
fn moving_average(average: u128, sample: u128) -> u128 {
    if average == 0 {
        sample
    } else {
        (average.saturating_mul(7).saturating_add(sample)) / 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: TenantId = TenantId(1);
    const T2: TenantId = TenantId(2);

    /// Runs every queued job on one thread, each taking `took(tenant)`;
    /// returns the tenants in the order their jobs ran.
    fn run_all(queues: &mut TenantQueues<u32>, took: impl Fn(TenantId) -> u64) -> Vec<TenantId> {
        let mut order = Vec::new();
        while let Some((tenant, _, charge)) = queues.pop() {
            order.push(tenant);
            queues.finished(tenant, charge, Duration::from_micros(took(tenant)));
        }
        order
    }

    #[test]
    fn a_job_behind_another_tenants_backlog_waits_one_job() {
        let mut queues = TenantQueues::default();
        for n in 0..1000 {
            queues.push(T1, 1, n);
        }
        let (tenant, _, charge) = queues.pop().expect("queued");
        queues.finished(tenant, charge, Duration::from_micros(30));
        queues.push(T2, 1, 0);
        queues.push(T2, 1, 1);
        assert_eq!(queues.len(), 1001);
        let order = run_all(&mut queues, |_| 30);
        assert_eq!(&order[..4], &[T2, T1, T2, T1]);
        assert_eq!(order.len(), 1001);
        assert!(queues.is_empty());
    }

    #[test]
    fn an_idle_tenant_is_forgotten_once_the_clock_passes_it() {
        let mut queues = TenantQueues::default();
        queues.push(T1, 1, 0);
        let (tenant, _, charge) = queues.pop().expect("queued");
        queues.finished(tenant, charge, Duration::from_micros(10));
        assert_eq!(queues.tenants_remembered(), 1, "ahead of the clock");
        for n in 0..5 {
            queues.push(T2, 1, n);
        }
        assert!(run_all(&mut queues, |_| 10).iter().all(|t| *t == T2));
        assert_eq!(queues.tenants_remembered(), 1, "only tenant 2's lead");
    }

    #[test]
    fn a_running_job_counts_before_it_ends() {
        let mut queues = TenantQueues::default();
        // Tenant 1's jobs are known to take 100 µs.
        queues.push(T1, 1, 0);
        let (tenant, _, charge) = queues.pop().expect("queued");
        queues.finished(tenant, charge, Duration::from_micros(100));
        for n in 0..4 {
            queues.push(T1, 1, n);
            queues.push(T2, 1, n);
        }
        // Two threads each take a job: the second thread does not take
        // tenant 2's again because its first has not ended yet.
        let first = queues.pop().expect("queued");
        let second = queues.pop().expect("queued");
        assert_eq!((first.0, second.0), (T2, T1));
    }

    #[test]
    fn each_tenants_jobs_keep_their_order() {
        let mut queues = TenantQueues::default();
        for n in 0..30 {
            queues.push(TenantId(n % 3), 1, n);
        }
        let mut seen: BTreeMap<TenantId, Vec<u32>> = BTreeMap::new();
        while let Some((tenant, job, charge)) = queues.pop() {
            seen.entry(tenant).or_default().push(job);
            queues.finished(tenant, charge, Duration::from_micros(10));
        }
        for (tenant, jobs) in seen {
            assert_eq!(jobs, (tenant.0..30).step_by(3).collect::<Vec<_>>());
        }
    }

    #[test]
    fn shares_follow_weights_and_measured_time() {
        // Tenant 1 weight 3 with 10 µs jobs, tenant 2 weight 1 with 40 µs
        // jobs: time should split 3:1.
        let mut queues = TenantQueues::default();
        for n in 0..40_000 {
            queues.push(T1, 3, n);
        }
        for n in 0..4000 {
            queues.push(T2, 1, n);
        }
        let mut time = BTreeMap::<TenantId, u64>::new();
        let mut total = 0;
        while total < 400_000 {
            let (tenant, _, charge) = queues.pop().expect("both stay backlogged");
            let took = if tenant == T1 { 10 } else { 40 };
            *time.entry(tenant).or_default() += took;
            total += took;
            queues.finished(tenant, charge, Duration::from_micros(took));
        }
        let share = time[&T1] as f64 / total as f64;
        assert!((share - 0.75).abs() < 0.01, "tenant 1's share {share}");
    }

    #[test]
    fn idling_earns_no_credit_and_a_lead_is_kept() {
        let mut queues = TenantQueues::default();
        // Tenant 1 alone for a long time.
        for n in 0..100 {
            queues.push(T1, 1, n);
        }
        assert!(run_all(&mut queues, |_| 100).iter().all(|t| *t == T1));
        // Both come: tenant 2 cannot claim the 100 jobs' time it idled.
        for n in 0..50 {
            queues.push(T1, 1, n);
            queues.push(T2, 1, n);
        }
        let order = run_all(&mut queues, |_| 100);
        let seconds = order[..10].iter().filter(|t| **t == T2).count();
        assert!((4..=6).contains(&seconds), "{order:?}");
    }

    #[test]
    fn a_cancelled_job_costs_nothing_and_a_running_tenant_is_kept() {
        let mut queues = TenantQueues::default();
        queues.push(T1, 1, 0);
        let (tenant, _, charge) = queues.pop().expect("queued");
        assert_eq!(queues.tenants_remembered(), 1, "running: remembered");
        queues.finished(tenant, charge, Duration::ZERO);
        assert_eq!(queues.tenants_remembered(), 0);
        // An unknown tenant's end is ignored.
        queues.finished(T2, charge, Duration::from_secs(1));
        assert_eq!(queues.pop(), None);
    }
}
