//! The scheduler's view of one worker: what it is running and what it holds.

use crate::ids::TaskId;
use crate::time::Time;
use std::collections::{BTreeMap, BTreeSet};

/// A task sent to a worker.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dispatch {
    /// Order of dispatch across the cluster: a worker starts its tasks in
    /// the order it receives them.
    pub(crate) seq: u64,
    /// The duration estimate counted in the worker's backlog.
    pub(crate) estimate_us: u64,
}

/// One worker.
#[derive(Debug)]
pub(crate) struct WorkerState {
    pub(crate) nthreads: u32,
    /// Tasks sent to it and not yet reported.
    pub(crate) processing: BTreeMap<TaskId, Dispatch>,
    /// Sum of the duration estimates of `processing`, in microseconds.
    pub(crate) backlog_us: u64,
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
}

impl WorkerState {
    pub(crate) fn new(nthreads: u32, instance: u64, now: Time) -> Self {
        WorkerState {
            nthreads: nthreads.max(1),
            processing: BTreeMap::new(),
            backlog_us: 0,
            stealing: BTreeMap::new(),
            has_what: BTreeSet::new(),
            managed_bytes: 0,
            instance,
            last_heard: now,
        }
    }
}

impl WorkerState {
    /// The tasks it is most likely running right now: the `nthreads`
    /// earliest dispatched of those not yet reported.
    pub(crate) fn probably_running(&self) -> Vec<TaskId> {
        let mut by_seq: Vec<(u64, TaskId)> =
            self.processing.iter().map(|(id, d)| (d.seq, *id)).collect();
        by_seq.sort_unstable();
        by_seq
            .into_iter()
            .take(self.nthreads as usize)
            .map(|(_, id)| id)
            .collect()
    }
}
