//! The worker state's values in flight: inputs of waiting tasks fetched from
//! peers or read back from this worker's spill directory, and copies the
//! scheduler asked for with `Fetch` (replicate, rebalance).
//!
//! Each key is in flight at most once ([`InFlight`]); every task waiting
//! for it and a `Fetch` asking for it share the one fetch or read. When it
//! arrives:
//!
//! - each waiting task keeps the bytes in its own `have` (so it does not
//!   depend on the store still holding them in memory when it is
//!   submitted);
//! - it is stored, and `Replica` reported, if a `Fetch` asked for it, or if
//!   tasks wait for it (a fetched input is kept as a replica), unless a
//!   `Free` of the key came meanwhile: then it is dropped unreported;
//! - a failure is a `FetchFailed` entry for the waiting tasks, and a
//!   `ReplicaFailed` if a `Fetch` asked for it.
//!
//! A spilled input is read back (on a blocking thread, off the loop) rather
//! than fetched, and stays on disk.

use super::modules::{Need, Waiter};
use super::{
    Context, Fetched, Instruction, Lookup, ModuleSize, Phase, Task, Values, Wanted, WorkerState,
};
use bytes::Bytes;
use std::collections::HashMap;
use weft_core::{SpecArg, TaskSpec, WorkerId};
use weft_proto::messages::{WireInput, WorkerReport};
use weft_schema::graph::TaskKey;

/// A key being fetched or read back.
#[derive(Debug)]
pub(super) struct InFlight {
    /// The tasks waiting for it.
    waiters: Vec<Waiter>,
    /// A `Fetch` asked for it: store it and report.
    pub(super) replica: bool,
    /// Store it for the waiting tasks (cleared by `Free`).
    pub(super) keep: bool,
}

/// What a task has and lacks.
pub(super) enum Gathered<M> {
    /// Everything: the module and each `Key` argument's bytes, in order.
    Ready(M, Vec<Bytes>),
    /// Waiting for this many things (the module, inputs), now asked for;
    /// with the inputs that already failed.
    Waiting(usize, Vec<(TaskKey, WorkerId)>),
    /// Inputs that nobody can give (no holder named but us).
    Failed(Vec<(TaskKey, WorkerId)>),
}

impl<M: ModuleSize, S: Values> Context<M, S> {
    /// Looks for a task's module and inputs (in `have`, then the store),
    /// and asks for what is missing.
    pub(super) fn gather(
        &mut self,
        key: TaskKey,
        id: u64,
        spec: &TaskSpec,
        inputs: &[WireInput],
        have: &HashMap<TaskKey, Bytes>,
    ) -> Gathered<M> {
        let mut pending = 0;
        let module = match self.modules.need(*spec.module(), (key, id)) {
            Need::Ready(module) => Some(module),
            Need::Parked { ask } => {
                if ask {
                    self.report(WorkerReport::GetModule {
                        hash: *spec.module(),
                    });
                }
                pending += 1;
                None
            }
        };

        let mut values = Vec::new();
        let mut failed = Vec::new();
        for arg in &spec.args {
            let SpecArg::Key(input) = arg else {
                continue;
            };
            if let Some(value) = have.get(input) {
                values.push(value.clone());
                continue;
            }
            let on_disk = match self.values.lookup(input) {
                Lookup::Memory(value) => {
                    values.push(value);
                    continue;
                }
                Lookup::Disk => true,
                Lookup::Missing => false,
            };
            if let Some(flight) = self.fetching.get_mut(input) {
                if !flight.waiters.contains(&(key, id)) {
                    flight.waiters.push((key, id));
                    pending += 1;
                }
                continue;
            }
            if failed.iter().any(|(k, _)| k == input) {
                continue;
            }
            if on_disk {
                self.fetching.insert(*input, InFlight::for_task(key, id));
                self.to_read.push(*input);
                pending += 1;
                continue;
            }
            let wire = inputs.iter().find(|i| i.key == *input);
            let holders: Vec<(WorkerId, String)> =
                wire.map(|i| self.others(&i.holders)).unwrap_or_default();
            let Some(ticket) = wire.map(|i| i.ticket) else {
                failed.push((*input, self.id));
                continue;
            };
            if holders.is_empty() {
                // Only we were named (and we do not have it), or nobody.
                failed.push((*input, self.id));
                continue;
            }
            self.fetching.insert(*input, InFlight::for_task(key, id));
            self.to_fetch.push(Wanted {
                key: *input,
                holders,
                ticket,
            });
            pending += 1;
        }

        if pending > 0 {
            return Gathered::Waiting(pending, failed);
        }
        if !failed.is_empty() {
            return Gathered::Failed(failed);
        }
        match module {
            Some(module) => Gathered::Ready(module, values),
            None => Gathered::Waiting(pending, failed),
        }
    }

    /// The scheduler asks for copies of `inputs`: each is reported at once
    /// if held, joins a fetch in flight, or is fetched from its holders.
    pub(super) fn fetch_replicas(&mut self, inputs: Vec<WireInput>) {
        for input in inputs {
            let key = input.key;
            if self.values.contains(&key) {
                self.report(WorkerReport::Replica { key });
                continue;
            }
            if let Some(flight) = self.fetching.get_mut(&key) {
                flight.replica = true;
                continue;
            }
            let holders = self.others(&input.holders);
            if holders.is_empty() {
                self.report(WorkerReport::ReplicaFailed {
                    key,
                    message: "no holder other than this worker was named".into(),
                });
                continue;
            }
            self.fetching.insert(
                key,
                InFlight {
                    waiters: Vec::new(),
                    replica: true,
                    keep: false,
                },
            );
            self.to_fetch.push(Wanted {
                key,
                holders,
                ticket: input.ticket,
            });
        }
    }

    /// The holders in `holders` other than this worker.
    fn others(&self, holders: &[(WorkerId, String)]) -> Vec<(WorkerId, String)> {
        holders
            .iter()
            .filter(|(holder, _)| *holder != self.id)
            .cloned()
            .collect()
    }

    /// Gives the fetches gathered during this batch (one per first
    /// holder), and the read-back of spilled inputs (one for all).
    pub(super) fn start_fetches(&mut self) {
        let epoch = self.epoch;
        if !self.to_read.is_empty() {
            let keys = std::mem::take(&mut self.to_read);
            self.out.push(Instruction::ReadBack { epoch, keys });
        }
        let mut groups: Vec<(String, Vec<Wanted>)> = Vec::new();
        for wanted in self.to_fetch.drain(..) {
            let addr = &wanted.holders[0].1;
            match groups.iter_mut().find(|(a, _)| a == addr) {
                Some((_, group)) => group.push(wanted),
                None => groups.push((addr.clone(), vec![wanted])),
            }
        }
        for (_, wanted) in groups {
            self.out.push(Instruction::Fetch { epoch, wanted });
        }
    }
}

impl InFlight {
    /// In flight for one task.
    fn for_task(key: TaskKey, id: u64) -> InFlight {
        InFlight {
            waiters: vec![(key, id)],
            replica: false,
            keep: true,
        }
    }
}

impl<M: ModuleSize, S: Values> WorkerState<M, S> {
    /// Fetches or read-backs finished.
    pub(super) fn fetched(&mut self, results: Vec<Fetched>) {
        let mut settled = Vec::new();
        for (input, outcome) in results {
            let Some(flight) = self.cx.fetching.remove(&input) else {
                continue;
            };
            let live: Vec<TaskKey> = flight
                .waiters
                .into_iter()
                .filter(|&(key, id)| self.is_waiter(key, id))
                .map(|(key, _)| key)
                .collect();
            match outcome {
                Ok(value) => {
                    if flight.replica || (flight.keep && !live.is_empty()) {
                        // A value read back from disk is still held.
                        let stored = !self.cx.values.contains(&input);
                        if stored {
                            self.cx.values.insert(input, value.clone());
                        }
                        if stored || flight.replica {
                            self.cx.report(WorkerReport::Replica { key: input });
                        }
                    }
                    for key in &live {
                        if let Some(task) = self.tasks.get_mut(key) {
                            task.have.insert(input, value.clone());
                        }
                    }
                }
                Err(holder) => {
                    for key in &live {
                        if let Some(Task {
                            phase: Phase::Waiting { failed, .. },
                            ..
                        }) = self.tasks.get_mut(key)
                        {
                            failed.push((input, holder));
                        }
                    }
                    if flight.replica {
                        let message = if holder == self.cx.id {
                            "the value could not be read back from this worker's disk".to_string()
                        } else {
                            format!("no holder could give it (the first tried was {holder})")
                        };
                        self.cx.report(WorkerReport::ReplicaFailed {
                            key: input,
                            message,
                        });
                    }
                }
            }
            settled.extend(live);
        }
        for key in settled {
            self.settle(key);
        }
    }
}
