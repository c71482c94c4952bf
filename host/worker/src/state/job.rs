//! What the worker state hands to its driver's helpers and gets back from
//! them: a [`Job`] for the executor threads (with the [`Ticket`] that
//! settles cancelling against starting) and the [`JobDone`] they send back;
//! a [`Wanted`] input for the fetcher and the [`Fetched`] outcome.

use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;
use weft_core::{TaskSpec, WorkerId};
use weft_proto::tickets::Ticket as DataTicket;
use weft_runtime::Interrupt;
use weft_schema::graph::TaskKey;
use weft_schema::ids::TenantId;
use weft_schema::quota::TaskCeilings;

/// One task call for an executor thread.
#[derive(Debug)]
pub struct Job<M> {
    /// The state's number for this submission, echoed in [`JobDone`].
    pub seq: u64,
    /// The task's key, echoed in [`JobDone`].
    pub key: TaskKey,
    /// Whose task it is: the executors share their time between tenants.
    pub tenant: TenantId,
    /// The tenant's weight in that sharing.
    pub weight: u32,
    /// The tenant's ceilings on what the task may use.
    pub ceilings: TaskCeilings,
    /// The loaded module.
    pub module: M,
    /// What to call.
    pub spec: Arc<TaskSpec>,
    /// The bytes of each `SpecArg::Key` argument of `spec`, in order.
    pub inputs: Vec<Bytes>,
    /// Started or cancelled.
    pub ticket: Arc<Ticket>,
}

/// What became of a [`Job`] that started.
#[derive(Debug)]
pub struct JobDone {
    /// The job's `seq`.
    pub seq: u64,
    /// The job's `key`.
    pub key: TaskKey,
    /// The result, or the task error's text.
    pub result: Result<Bytes, String>,
    /// Time spent in the runtime (argument assembly included).
    pub duration: Duration,
}

const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const CANCELLED: u8 = 2;

/// Decides, once, whether a queued job starts or is cancelled, and carries
/// the [`Interrupt`] that stops it once started: the one thing the state
/// shares with the executor threads.
#[derive(Debug, Default)]
pub struct Ticket {
    phase: AtomicU8,
    interrupt: Interrupt,
}

impl Ticket {
    /// Called by the executor: true if the job may start (it was not
    /// cancelled); from then on it cannot be cancelled, only interrupted.
    pub fn start(&self) -> bool {
        self.phase
            .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Whether the job started (it is running, or ran).
    pub fn has_started(&self) -> bool {
        self.phase.load(Ordering::Acquire) == STARTED
    }

    /// Called by the state: true if the job will never start; false if it
    /// already started (its result must then be discarded when it comes).
    pub fn cancel(&self) -> bool {
        self.phase
            .compare_exchange(QUEUED, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Called by the state when nobody wants the job's result any more:
    /// cancels it if it has not started, else raises its interrupt, so the
    /// running task stops within an epoch tick and frees its thread (its
    /// result, an interruption, is discarded on arrival).
    pub fn withdraw(&self) {
        if !self.cancel() {
            self.interrupt.request();
        }
    }

    /// What the executor passes to the runtime to be stopped by
    /// [`Ticket::withdraw`].
    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }
}

/// An input to fetch and where it may be, in the order to try.
#[derive(Debug, Clone)]
pub struct Wanted {
    /// The input's key.
    pub key: TaskKey,
    /// Its holders with their data ports, never empty.
    pub holders: Vec<(WorkerId, String)>,
    /// The scheduler's ticket to get it with.
    pub ticket: DataTicket,
}

/// What became of one [`Wanted`] input (or one spilled input read back):
/// its bytes, or the first holder tried when no holder had it (this
/// worker, for a read-back).
pub type Fetched = (TaskKey, Result<Bytes, WorkerId>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_starts_or_cancels_once() {
        let ticket = Ticket::default();
        assert!(ticket.start());
        assert!(!ticket.cancel(), "a started job cannot be cancelled");
        let ticket = Ticket::default();
        assert!(ticket.cancel());
        assert!(!ticket.start(), "a cancelled job never starts");
        assert!(!ticket.cancel());
    }

    #[test]
    fn withdrawing_cancels_a_queued_job_and_interrupts_a_started_one() {
        let queued = Ticket::default();
        queued.withdraw();
        assert!(!queued.start(), "a withdrawn queued job never starts");
        assert!(!queued.interrupt().is_requested());
        let started = Ticket::default();
        assert!(started.start());
        started.withdraw();
        assert!(started.interrupt().is_requested());
        assert!(started.has_started());
    }
}
