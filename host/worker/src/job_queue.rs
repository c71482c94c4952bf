//! The executor threads' queue: the jobs sent to this worker, one FIFO
//! per tenant, taken by weighted fair queuing on the time the jobs took
//! ([`TenantQueues`], in `weft-core`, so that the simulations' executors
//! take jobs as the real ones do).
//!
//! The scheduler sends each tenant's tasks up to that tenant's own backlog
//! target here, so a tenant whose job just arrived has its tasks here at
//! once, however long another tenant's backlog; its first job starts
//! after about one job of each other tenant with work queued, and from
//! then on the threads' time is shared in proportion to the tenants'
//! weights. Each tenant's jobs still start in the order they were sent
//! (the scheduler sends a tenant's tasks in priority order).
//!
//! [`JobQueue`] is the blocking form the threads share: it also holds the
//! pause (no job is taken while paused; jobs stay queued, and can still be
//! cancelled) and the close (the threads exit).

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;
use weft_core::{Charge, TenantQueues};
use weft_schema::ids::TenantId;

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
        self.queues
            .pop()
            .map(|(tenant, job, charge)| Taken::Job(job, Turn { tenant, charge }))
    }
}

/// Whose turn a job was taken on, and what it was charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Turn {
    tenant: TenantId,
    charge: Charge,
}

/// What [`JobQueue::take`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Taken<J> {
    /// A job to run, and its turn, to give back with its end.
    Job(J, Turn),
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

    /// Queues a job of `tenant` (of `weight`); false (and the job is
    /// dropped) once closed.
    pub(crate) fn push(&self, tenant: TenantId, weight: u32, job: J) -> bool {
        let mut shared = self.lock();
        if shared.closed {
            return false;
        }
        shared.queues.push(tenant, weight, job);
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

    /// A job taken on `turn` ended after `took` (zero: it never ran); its
    /// tenant is charged for it.
    pub(crate) fn finished(&self, turn: Turn, took: Duration) {
        self.lock().queues.finished(turn.tenant, turn.charge, took);
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

    #[test]
    fn nothing_is_taken_while_paused() {
        let queue = JobQueue::default();
        queue.set_paused(true);
        assert!(queue.push(TenantId(1), 1, 7));
        assert_eq!(queue.poll(), None, "paused: the job stays queued");
        queue.set_paused(false);
        assert!(matches!(queue.poll(), Some(Taken::Job(7, _))));
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
        assert!(queue.push(TenantId(1), 1, 7));
        assert!(matches!(
            thread.join().expect("the waiter"),
            Taken::Job(7, _)
        ));

        queue.set_paused(true);
        assert!(queue.push(TenantId(1), 1, 8));
        let thread = waiter(&queue);
        queue.set_paused(false);
        assert!(matches!(
            thread.join().expect("the waiter"),
            Taken::Job(8, _)
        ));

        queue.set_paused(true);
        assert!(queue.push(TenantId(1), 1, 9));
        let thread = waiter(&queue);
        queue.close();
        assert_eq!(thread.join().expect("the waiter"), Taken::Closed);
        assert!(!queue.push(TenantId(1), 1, 10), "closed: refused");
        assert_eq!(queue.poll(), Some(Taken::Closed));
    }
}
