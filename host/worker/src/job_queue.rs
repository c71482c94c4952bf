//! The executor threads' queue: one FIFO per tenant, taken in turns.
//!
//! A worker holds up to `backlog_target_us` of work per thread that the
//! scheduler sent ahead. With one FIFO, a task of a tenant whose job just
//! arrived would wait behind the whole backlog of a tenant that floods the
//! cluster; with one FIFO per tenant, taken one job per turn in round
//! robin, it starts after at most one job of each other tenant queued
//! here. Each tenant's jobs still start in the order they were submitted
//! (the scheduler sends a tenant's tasks in priority order).
//!
//! The turns are equal, whatever the tenants' weights: the queue is
//! bounded (the scheduler sends no more than `processing_per_thread_max`
//! per thread), so over any long stretch a worker runs what it was sent,
//! and the shares are the scheduler's fair share. The order here only
//! decides how long a sent task waits.
//!
//! [`JobQueue`] is the blocking form the threads share: it also holds the
//! pause (no job is taken while paused; jobs stay queued, and can still be
//! cancelled) and the close (the threads exit).

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};
use weft_schema::ids::TenantId;

/// Queues of jobs per tenant, taken in round robin. Public so that the
/// whole-cluster simulation's executors take jobs as the real ones do.
#[derive(Debug)]
pub struct TenantQueues<J> {
    queues: HashMap<TenantId, VecDeque<J>>,
    /// The tenants with queued jobs, the one whose turn is next first.
    turns: VecDeque<TenantId>,
}

impl<J> Default for TenantQueues<J> {
    fn default() -> Self {
        TenantQueues {
            queues: HashMap::new(),
            turns: VecDeque::new(),
        }
    }
}

impl<J> TenantQueues<J> {
    /// Queues `job` last in `tenant`'s queue. A tenant with nothing queued
    /// takes its turn after the tenants already waiting.
    pub fn push(&mut self, tenant: TenantId, job: J) {
        let queue = self.queues.entry(tenant).or_default();
        if queue.is_empty() {
            self.turns.push_back(tenant);
        }
        queue.push_back(job);
    }

    /// The first job of the tenant whose turn it is; that tenant's next
    /// turn comes after every other tenant's.
    pub fn pop(&mut self) -> Option<J> {
        let tenant = self.turns.pop_front()?;
        let queue = self
            .queues
            .get_mut(&tenant)
            .expect("a tenant has a turn only while it has queued jobs");
        let job = queue
            .pop_front()
            .expect("a tenant has a turn only while it has queued jobs");
        if queue.is_empty() {
            // Forgotten when empty: the map holds only tenants with work.
            self.queues.remove(&tenant);
        } else {
            self.turns.push_back(tenant);
        }
        Some(job)
    }

    /// Jobs queued, over every tenant.
    pub fn len(&self) -> usize {
        self.queues.values().map(VecDeque::len).sum()
    }

    /// Whether no job is queued.
    pub fn is_empty(&self) -> bool {
        self.turns.is_empty()
    }
}

#[derive(Debug)]
struct Shared<J> {
    queues: TenantQueues<J>,
    paused: bool,
    closed: bool,
}

impl<J> Shared<J> {
    /// What a thread may take now, if anything.
    fn next(&mut self) -> Option<Taken<J>> {
        if self.closed {
            return Some(Taken::Closed);
        }
        if self.paused {
            return None;
        }
        self.queues.pop().map(Taken::Job)
    }
}

/// What [`JobQueue::take`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Taken<J> {
    /// A job to run.
    Job(J),
    /// The queue closed: the thread exits.
    Closed,
}

/// The queue the executor threads wait on.
#[derive(Debug)]
pub(crate) struct JobQueue<J> {
    shared: Mutex<Shared<J>>,
    changed: Condvar,
}

impl<J> Default for JobQueue<J> {
    fn default() -> Self {
        JobQueue {
            shared: Mutex::new(Shared {
                queues: TenantQueues::default(),
                paused: false,
                closed: false,
            }),
            changed: Condvar::new(),
        }
    }
}

impl<J> JobQueue<J> {
    fn lock(&self) -> MutexGuard<'_, Shared<J>> {
        // Every update is one push, pop or flag: never left half done.
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a job; false (and the job is dropped) once closed.
    pub(crate) fn push(&self, tenant: TenantId, job: J) -> bool {
        let mut shared = self.lock();
        if shared.closed {
            return false;
        }
        shared.queues.push(tenant, job);
        drop(shared);
        self.changed.notify_one();
        true
    }

    /// Waits for a job while the queue is open and not paused.
    pub(crate) fn take(&self) -> Taken<J> {
        let mut shared = self.lock();
        loop {
            if let Some(taken) = shared.next() {
                return taken;
            }
            shared = self
                .changed
                .wait(shared)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// Pauses (no job is taken) or resumes.
    pub(crate) fn set_paused(&self, paused: bool) {
        self.lock().paused = paused;
        self.changed.notify_all();
    }

    /// Closes the queue: waiting threads exit, queued jobs are dropped.
    pub(crate) fn close(&self) {
        let mut shared = self.lock();
        shared.closed = true;
        shared.queues = TenantQueues::default();
        drop(shared);
        self.changed.notify_all();
    }

    /// What [`take`](Self::take) would return now, without waiting.
    #[cfg(test)]
    fn poll(&self) -> Option<Taken<J>> {
        self.lock().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn drain(queues: &mut TenantQueues<(u32, u32)>) -> Vec<(u32, u32)> {
        std::iter::from_fn(|| queues.pop()).collect()
    }

    #[test]
    fn a_tenant_whose_job_arrives_behind_a_backlog_waits_one_turn() {
        let mut queues = TenantQueues::default();
        for n in 0..1000 {
            queues.push(TenantId(1), (1, n));
        }
        queues.push(TenantId(2), (2, 0));
        queues.push(TenantId(2), (2, 1));
        assert_eq!(queues.len(), 1002);
        let order = drain(&mut queues);
        assert_eq!(&order[..4], &[(1, 0), (2, 0), (1, 1), (2, 1)]);
        assert_eq!(order.len(), 1002);
        assert_eq!(queues.len(), 0);
    }

    #[test]
    fn each_tenants_jobs_keep_their_order_and_turns_are_equal() {
        let mut queues = TenantQueues::default();
        for n in 0..30 {
            queues.push(TenantId(n % 3), (n % 3, n));
        }
        let order = drain(&mut queues);
        for tenant in 0..3 {
            let mine: Vec<u32> = order
                .iter()
                .filter(|(t, _)| *t == tenant)
                .map(|(_, n)| *n)
                .collect();
            assert_eq!(mine, (tenant..30).step_by(3).collect::<Vec<_>>());
        }
        // Every window of three holds one job of each tenant.
        for window in order.chunks(3) {
            let mut tenants: Vec<u32> = window.iter().map(|(t, _)| *t).collect();
            tenants.sort_unstable();
            assert_eq!(tenants, [0, 1, 2]);
        }
    }

    #[test]
    fn a_tenant_that_comes_back_joins_the_end_of_the_turns() {
        let mut queues = TenantQueues::default();
        queues.push(TenantId(1), (1, 0));
        assert_eq!(queues.pop(), Some((1, 0)));
        assert_eq!(queues.pop(), None);
        queues.push(TenantId(2), (2, 0));
        queues.push(TenantId(2), (2, 1));
        queues.push(TenantId(1), (1, 1));
        assert_eq!(drain(&mut queues), [(2, 0), (1, 1), (2, 1)]);
    }

    #[test]
    fn nothing_is_taken_while_paused() {
        let queue = JobQueue::default();
        queue.set_paused(true);
        assert!(queue.push(TenantId(1), 7));
        assert_eq!(queue.poll(), None, "paused: the job stays queued");
        queue.set_paused(false);
        assert_eq!(queue.poll(), Some(Taken::Job(7)));
        assert_eq!(queue.poll(), None, "empty");
    }

    #[test]
    fn take_gives_what_is_pushed_or_resumed_and_ends_on_close() {
        let queue = Arc::new(JobQueue::default());
        let waiter = |queue: &Arc<JobQueue<u32>>| {
            let queue = queue.clone();
            std::thread::spawn(move || queue.take())
        };
        let thread = waiter(&queue);
        assert!(queue.push(TenantId(1), 7));
        assert_eq!(thread.join().expect("the waiter"), Taken::Job(7));

        queue.set_paused(true);
        assert!(queue.push(TenantId(1), 8));
        let thread = waiter(&queue);
        queue.set_paused(false);
        assert_eq!(thread.join().expect("the waiter"), Taken::Job(8));

        queue.set_paused(true);
        assert!(queue.push(TenantId(1), 9));
        let thread = waiter(&queue);
        queue.close();
        assert_eq!(thread.join().expect("the waiter"), Taken::Closed);
        assert!(!queue.push(TenantId(1), 10), "closed: refused");
        assert_eq!(queue.poll(), Some(Taken::Closed));
    }
}
