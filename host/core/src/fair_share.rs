//! Fair share between tenants: each tenant's ready tasks wait in its own
//! queue (in submission order), and the placement pass drains the queues
//! by weighted fair queuing. Each tenant has a virtual time, `served`: the
//! executor time its dispatches are estimated to take (the function's
//! average duration), divided by its weight. The pass always takes the
//! next task of the backlogged tenant with the least virtual time, so over
//! any stretch in which k tenants have work waiting, each gets executor
//! time in proportion to its weight (a deficit round robin whose quantum is
//! one task, ordered by time served rather than by turns, so that short
//! and long tasks are charged what they take).
//!
//! - **No credit for idling.** The scheduler keeps a virtual clock: the
//!   virtual time at which the last tenant was served (it never goes
//!   back). A tenant that becomes eligible again (its queue fills, or it
//!   falls under its `tasks_running_max`) starts at that clock if it is
//!   behind it: it cannot claim the time it did not use, whoever else was
//!   waiting then, but among equal virtual times the tenant served longest
//!   ago goes first, so it goes next.
//! - **Work-conserving.** A tenant alone, or the only one with room under
//!   its `tasks_running_max`, gets every free slot; a tenant whose own
//!   backlog fills every worker (`placement`) is passed over for the next.
//! - **Cost.** The tenants that may be served next are kept ordered as
//!   they change (`fair_order`: backlogged and under their
//!   `tasks_running_max`), so a dispatch costs O(log t) for t tenants,
//!   however many tasks are queued, plus a look at every worker for each
//!   tenant passed over in the pass.

use crate::ids::{TenantId, WorkerId};
use crate::scheduler::Scheduler;
use crate::task::TaskId;
use std::collections::BTreeSet;
use std::ops::Bound::{Excluded, Unbounded};

/// A dispatch of `c` microseconds advances a tenant of weight `w` by
/// `c * VIRTUAL_SCALE / w`, so that weights divide exactly enough.
const VIRTUAL_SCALE: u128 = 1 << 20;

impl Scheduler {
    /// Sends queued tasks to workers while any has room, the backlogged
    /// tenant with the least virtual time first; then, if nothing is left
    /// that could be sent, asks busy workers to give up tasks for idle ones.
    pub(crate) fn schedule(&mut self) {
        // Each tenant's backlog on a worker is bounded on its own, so a
        // tenant no worker has room for is passed over (one tenant's full
        // backlog does not keep another's tasks here). Those passed over
        // are the start of the fair order: a tenant served moves later in
        // it, and no other tenant's place changes in the pass.
        let mut passed: Option<(u128, u64, TenantId)> = None;
        // Whether some worker is under its shared cap (room for anyone),
        // found when first needed after each dispatch.
        let mut shared_room: Option<bool> = None;
        loop {
            let next = match passed {
                Some(key) => self.fair_order.range((Excluded(key), Unbounded)).next(),
                None => self.fair_order.first(),
            };
            let Some(&(served, turn, tenant)) = next else {
                break;
            };
            if self.passed_over.contains(&tenant) {
                let open = *shared_room
                    .get_or_insert_with(|| self.workers.values().any(|w| self.has_shared_room(w)));
                if !open {
                    passed = Some((served, turn, tenant));
                    continue;
                }
            }
            let book = &self.tenants[&tenant];
            let Some(&(_, id)) = book.queue.first() else {
                unreachable!("only backlogged tenants are in the fair order");
            };
            let Some(worker) = self.pick_worker(id) else {
                self.passed_over.insert(tenant);
                passed = Some((served, turn, tenant));
                continue;
            };
            shared_room = None;
            self.virtual_clock = self.virtual_clock.max(served);
            let cost_us = self.estimate_us(id);
            // Leaving the queued state takes it out of its queue.
            self.dispatch(id, worker);
            self.turns += 1;
            let turn = self.turns;
            let book = self.book_mut(tenant);
            book.served += u128::from(cost_us) * VIRTUAL_SCALE / u128::from(book.policy.weight);
            book.dispatched_us = book.dispatched_us.saturating_add(cost_us);
            book.last_turn = turn;
            self.refresh_fair(tenant);
        }
        self.steal();
    }

    /// Puts `tenant` in the fair order with its current key if it may be
    /// served next (backlogged, under its `tasks_running_max`), or takes it
    /// out. Called whenever any of those change.
    pub(crate) fn refresh_fair(&mut self, tenant: TenantId) {
        let Some(book) = self.tenants.get_mut(&tenant) else {
            return;
        };
        let eligible = !book.queue.is_empty() && book.may_run_more();
        if eligible && book.fair_key.is_none() {
            // Back in the running: no credit for the time it was out.
            book.served = book.served.max(self.virtual_clock);
        }
        let wanted = eligible.then_some((book.served, book.last_turn));
        if book.fair_key == wanted {
            return;
        }
        if let Some((served, turn)) = book.fair_key.take() {
            self.fair_order.remove(&(served, turn, tenant));
        }
        if let Some((served, turn)) = wanted {
            self.fair_order.insert((served, turn, tenant));
        }
        self.tenants.get_mut(&tenant).expect("checked").fair_key = wanted;
    }

    /// A task of `tenant` left `worker`: the tenant has more room there,
    /// and if it was its last task there (`left`), the others' slices there
    /// grew, so those passed over that now have room are no longer.
    pub(crate) fn room_widened(&mut self, worker: WorkerId, tenant: TenantId, left: bool) {
        self.passed_over.remove(&tenant);
        if !left || self.passed_over.is_empty() {
            return;
        }
        let Some(state) = self.workers.get(&worker) else {
            return;
        };
        let widened: Vec<TenantId> = self
            .passed_over
            .iter()
            .filter(|t| self.has_slice_room(state, **t))
            .copied()
            .collect();
        for t in widened {
            self.passed_over.remove(&t);
        }
    }

    /// For `validate`: the fair order holds exactly the tenants that may be
    /// served next, each with its current key; no tenant passed over has
    /// slice room on any worker.
    pub(crate) fn validate_fair_order(&self) -> Result<(), String> {
        for tenant in &self.passed_over {
            if let Some((worker, _)) = self
                .workers
                .iter()
                .find(|(_, w)| self.has_slice_room(w, *tenant))
            {
                return Err(format!(
                    "{tenant:?} is counted as passed over, but {worker} has room in its slice"
                ));
            }
        }
        let expected: BTreeSet<(u128, u64, TenantId)> = self
            .tenants
            .iter()
            .filter(|(_, book)| !book.queue.is_empty() && book.may_run_more())
            .map(|(tenant, book)| (book.served, book.last_turn, *tenant))
            .collect();
        if expected != self.fair_order {
            return Err(format!(
                "the fair order {:?} is not {expected:?}",
                self.fair_order
            ));
        }
        Ok(())
    }

    /// Puts a task that became queued in its tenant's queue (a tenant
    /// whose queue was empty becomes backlogged).
    pub(crate) fn enqueue(&mut self, tenant: TenantId, priority: u64, id: TaskId) {
        self.backlogged.insert(tenant);
        self.book_mut(tenant).queue.insert((priority, id));
        self.refresh_fair(tenant);
    }

    /// Takes a task that left the queued state out of its tenant's queue.
    pub(crate) fn dequeue(&mut self, tenant: TenantId, priority: u64, id: TaskId) {
        let book = self.book_mut(tenant);
        book.queue.remove(&(priority, id));
        if book.queue.is_empty() {
            self.backlogged.remove(&tenant);
        }
        self.refresh_fair(tenant);
    }

    /// The first queued task of each tenant that may run more (what
    /// `validate` expects the placement pass to have sent when a worker
    /// has room for its tenant).
    pub(crate) fn placeable(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.fair_order
            .iter()
            .filter_map(|(_, _, tenant)| self.tenants[tenant].queue.first().map(|(_, id)| *id))
    }

    /// How many tasks are queued, over every tenant.
    pub fn queued_count(&self) -> usize {
        self.backlogged
            .iter()
            .map(|tenant| self.tenants[tenant].queue.len())
            .sum()
    }
}
