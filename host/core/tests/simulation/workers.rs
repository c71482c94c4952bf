//! Simulated workers: what each does with the commands it reads (as the
//! real worker's task loop does), and the work it does between them:
//! copies, fetched replicas, running its next task. Everything it says
//! goes on its connection (`network.rs`).
//!
//! It behaves as the real worker does. Three bugs that crossings found
//! (`tests/simulation` of the whole cluster found the first form of the
//! third) are fixed, and each has a flag that brings back what the
//! simulation did to get past it, for comparison:
//!
//! 1. The core answered a report of a value it did not want (a stale
//!    `TaskFinished`) with `Free { keys }`, which names only the key, so
//!    the worker also dropped a newer run of the key sent since (the core
//!    then waited for it for ever). The core now sends no such `Free`
//!    while the key runs on that worker (`WEFT_SIM_SPARE_STALE_FREE=1`:
//!    such a `Free` drops only the value the report announced).
//! 2. A `Free` of a key whose copy (`Fetch`) was being made dropped the
//!    copy and the worker answered nothing, so a replicate or rebalance
//!    waited for ever. The worker now answers `ReplicaFailed`
//!    (`WEFT_SIM_UNANSWERED_FETCH=1`: it answers nothing, as before).
//! 3. The core ignored a `ReplicaAdded` of a key it runs again on the same
//!    worker, leaving the copy to the run; when the run did not store it
//!    (stolen, erred), the copy stayed, counted by no one. The core now
//!    frees it when the run ends otherwise (`WEFT_SIM_DROP_LEFT_COPIES=1`:
//!    the worker drops such a copy itself).

use super::*;

/// How the simulated workers behave where bugs were (see the module
/// documentation): as the real worker does by default.
#[derive(Default)]
pub(super) struct Reproduce {
    /// A `Free` answering a report is applied whole, as on the real worker
    /// (off with `WEFT_SIM_SPARE_STALE_FREE=1`).
    stale_free: bool,
    /// A copy dropped by a `Free` is not answered, as on the worker before
    /// the fix (`WEFT_SIM_UNANSWERED_FETCH=1`).
    unanswered_fetch: bool,
    /// A copy left to a run that did not store the value stays, as on the
    /// real worker (off with `WEFT_SIM_DROP_LEFT_COPIES=1`).
    left_copy: bool,
}

impl Reproduce {
    pub(super) fn from_env() -> Reproduce {
        let on = |name| std::env::var(name).is_ok_and(|v| v == "1");
        Reproduce {
            stale_free: !on("WEFT_SIM_SPARE_STALE_FREE"),
            unanswered_fetch: on("WEFT_SIM_UNANSWERED_FETCH"),
            left_copy: !on("WEFT_SIM_DROP_LEFT_COPIES"),
        }
    }
}

impl SimWorker {
    /// Drops every value, task and pending copy (`Restart`, `Rejoin`).
    fn clear(&mut self) {
        self.queue.clear();
        self.data.clear();
        self.fetches.clear();
    }
}

impl Sim {
    /// `worker` now holds a value of `key` (new, or replacing its copy).
    pub(super) fn acquire(&mut self, worker: WorkerId, key: TaskKey) {
        self.stamps += 1;
        let stamp = self.stamps;
        let sim = self.workers.get_mut(&worker).expect("a live process");
        sim.data.insert(key, stamp);
    }

    /// `worker` reads `message`; for a `Free` that answers a report, the
    /// stamp of the value the report announced.
    pub(super) fn receive(&mut self, worker: WorkerId, message: ToWorker, answers: Option<u64>) {
        let sim = self
            .workers
            .get_mut(&worker)
            .expect("only a live process reads");
        match message {
            ToWorker::Restart => {
                sim.clear();
                sim.restarting = true;
            }
            ToWorker::Rejoin { .. } => {
                sim.clear();
                count(REJOINED);
                let (nthreads, instance) = (sim.nthreads as u32, sim.instance);
                // `Restarted`, which the driver hands to the core as a join.
                self.report(
                    worker,
                    Event::WorkerJoined {
                        worker,
                        nthreads,
                        instance,
                    },
                );
            }
            ToWorker::Compute(task) => {
                // A task sent again replaces the older run.
                sim.queue.retain(|t| t.key != task.key);
                sim.queue.push_back(task);
            }
            ToWorker::Fetch { inputs } => {
                let mut held = Vec::new();
                for input in inputs {
                    if sim.data.contains_key(&input.key) {
                        held.push(input.key);
                    } else if !sim.fetches.iter().any(|i| i.key == input.key) {
                        // One copy in flight per key, answered once.
                        sim.fetches.push(input);
                    }
                }
                for key in held {
                    self.report(worker, Event::ReplicaAdded { worker, key });
                }
            }
            ToWorker::Free { keys } => self.free(worker, keys, answers),
            ToWorker::Steal { key, run } => {
                // The first `nthreads` queued tasks are running.
                let position = sim.queue.iter().position(|t| t.key == key && t.run == run);
                let stolen = position.is_some_and(|at| at >= sim.nthreads);
                if let Some(at) = position.filter(|_| stolen) {
                    sim.queue.remove(at);
                    count(STOLEN);
                }
                self.report(
                    worker,
                    Event::StealResponse {
                        worker,
                        key,
                        run,
                        stolen,
                    },
                );
            }
        }
    }

    /// `worker` reads `Free { keys }`; `answers`: the stamp of the value
    /// announced by the report it answers, if it answers one.
    fn free(&mut self, worker: WorkerId, keys: Vec<TaskKey>, answers: Option<u64>) {
        let answers = answers.filter(|_| !self.reproduce.stale_free);
        let mut dropped = Vec::new();
        for key in keys {
            if let Some(announced) = answers
                && self.stale_free_strikes(worker, key, announced)
            {
                count(STALE_FREE_SPARED);
            }
            let sim = self.workers.get_mut(&worker).expect("a live process reads");
            match answers {
                // Only the value the report announced (WEFT_SIM_SPARE_STALE_FREE=1).
                Some(announced) => {
                    if sim.data.get(&key) == Some(&announced) {
                        sim.data.remove(&key);
                    }
                }
                None => {
                    sim.data.remove(&key);
                    sim.queue.retain(|t| t.key != key);
                }
            }
            // A copy being made is dropped on arrival (answered, unlike on
            // the worker before the fix of the second bug).
            let fetching = sim.fetches.len();
            sim.fetches.retain(|i| i.key != key);
            if sim.fetches.len() < fetching {
                count(FETCHES_FREED);
                if !self.reproduce.unanswered_fetch {
                    dropped.push(key);
                }
            }
        }
        for key in dropped {
            let message = "freed while being fetched".into();
            self.report(
                worker,
                Event::ReplicaFailed {
                    worker,
                    key,
                    message,
                },
            );
        }
    }

    /// Whether a `Free` of `key` answering the report of the value stamped
    /// `announced`, applied whole, would drop what the core waits for or
    /// counts on `worker`: the run of the key it waits for there, or a
    /// newer value of the key that it counts or is about to count.
    fn stale_free_strikes(&self, worker: WorkerId, key: TaskKey, announced: u64) -> bool {
        let sim = &self.workers[&worker];
        let link = &self.links[&worker];
        let waited = self
            .dispatched
            .get(&key)
            .copied()
            .filter(|(w, _)| *w == worker);
        let running = self.core.processing_on(&key) == Some(worker);
        let run_struck = running
            && waited
                .is_some_and(|(_, run)| sim.queue.iter().any(|t| t.key == key && t.run == run));
        let newer = sim.data.get(&key).is_some_and(|s| *s != announced);
        let counted = self.core.has_what(worker).iter().any(|(k, _)| *k == key)
            || link.reporting(|e| match e {
                Event::TaskFinished { key: k, run, .. } => {
                    *k == key && running && waited.is_some_and(|(_, r)| r == *run)
                }
                Event::ReplicaAdded { key: k, .. } => {
                    *k == key && self.core.state_of(&key) == StateName::Memory
                }
                _ => false,
            });
        run_struck || (newer && counted)
    }

    /// Drops each copy the core left to a run that ended without storing
    /// the value and that nothing on its way settles, with
    /// `WEFT_SIM_DROP_LEFT_COPIES=1` (the third bug's old workaround).
    pub(super) fn drop_left_copies(&mut self) {
        if self.left.is_empty() {
            return;
        }
        let mut leaked = Vec::new();
        let left = std::mem::take(&mut self.left);
        for (worker, key, stamp) in left {
            let Some(sim) = self.workers.get(&worker) else {
                continue;
            };
            if sim.data.get(&key) != Some(&stamp) {
                continue; // replaced by the run's value, or freed
            }
            let link = &self.links[&worker];
            let settled = self.core.processing_on(&key) == Some(worker)
                || !self.core.has_worker(worker)
                || self.core.has_what(worker).iter().any(|(k, _)| *k == key)
                || link.commanding(|m| matches!(m, ToWorker::Free { keys } if keys.contains(&key)))
                || link.reporting(|e| {
                    matches!(e, Event::TaskFinished { key: k, .. } | Event::ReplicaAdded { key: k, .. } if *k == key)
                });
            if settled || self.reproduce.left_copy {
                self.left.insert((worker, key, stamp));
            } else {
                leaked.push((worker, key));
            }
        }
        for (worker, key) in leaked {
            count(LEFT_COPIES_DROPPED);
            self.workers
                .get_mut(&worker)
                .expect("listed")
                .data
                .remove(&key);
        }
    }

    /// `worker` makes the copies it was asked for, from holders that still
    /// have them.
    pub(super) fn answer_fetches(&mut self, worker: WorkerId) {
        let fetches = std::mem::take(&mut self.workers.get_mut(&worker).expect("live").fetches);
        for input in fetches {
            let available = input.holders.iter().any(|h| {
                *h != worker
                    && self
                        .workers
                        .get(h)
                        .is_some_and(|w| w.data.contains_key(&input.key))
            });
            if available {
                self.acquire(worker, input.key);
                self.report(
                    worker,
                    Event::ReplicaAdded {
                        worker,
                        key: input.key,
                    },
                );
            } else {
                self.report(
                    worker,
                    Event::ReplicaFailed {
                        worker,
                        key: input.key,
                        message: "no holder has it".into(),
                    },
                );
            }
        }
    }

    /// `worker` fetched a copy of a value another worker holds (an input,
    /// kept as a replica) and says so.
    pub(super) fn fetch_replica(&mut self, worker: WorkerId) {
        let here = &self.workers[&worker].data;
        let elsewhere: Vec<TaskKey> = self
            .workers
            .iter()
            .filter(|(id, w)| **id != worker && w.hung_until.is_none())
            .flat_map(|(_, w)| w.data.keys().copied())
            .filter(|k| !here.contains_key(k))
            .collect();
        if let Some(key) = self.rng.pick(&elsewhere) {
            self.acquire(worker, key);
            self.report(worker, Event::ReplicaAdded { worker, key });
        }
    }

    /// `worker` finishes (or fails) the next task in its queue.
    pub(super) fn run_one(&mut self, worker: WorkerId, may_fail: bool) {
        let Some(task) = self
            .workers
            .get_mut(&worker)
            .and_then(|w| w.queue.pop_front())
        else {
            return;
        };
        let mut missing = Vec::new();
        for input in &task.inputs {
            let here = self.workers[&worker].data.contains_key(&input.key);
            let holder = input.holders.iter().copied().find(|h| {
                self.workers
                    .get(h)
                    .is_some_and(|w| w.data.contains_key(&input.key))
            });
            match holder {
                _ if here => {}
                None => {
                    missing.push((input.key, input.holders.first().copied().unwrap_or(worker)));
                }
                // The holder has it, but the fetch timed out: the core must
                // not leave the copy it stops counting on the holder.
                Some(holder) if may_fail && holder != worker && self.rng.chance(3) => {
                    count(FETCH_TIMEOUTS);
                    missing.push((input.key, holder));
                }
                Some(_) => {}
            }
        }
        let (key, run) = (task.key, task.run);
        if !missing.is_empty() {
            self.report(
                worker,
                Event::FetchFailed {
                    worker,
                    key,
                    run,
                    missing,
                },
            );
        } else if may_fail && self.rng.chance(8) {
            self.report(
                worker,
                Event::TaskErred {
                    worker,
                    key,
                    run,
                    message: "boom".into(),
                },
            );
        } else {
            self.acquire(worker, key);
            let nbytes = 1 + self.rng.below(1000) as u64;
            self.report(
                worker,
                Event::TaskFinished {
                    worker,
                    key,
                    run,
                    nbytes,
                    duration_us: 50,
                },
            );
        }
    }
}
