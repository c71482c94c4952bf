//! The checks run after every step: the core's own invariants
//! (`Scheduler::validate`), then the world against the core's books. With
//! messages on their way the books lag behind the workers, by exactly what
//! is in flight: a copy the books count is really held; a copy held and
//! not counted has a report of it on its way up, or a `Free` of it on its
//! way down, or its key is processing on that worker (a copy reported
//! after the key went back to it is left to the run, which stores the
//! value again); a task the core waits for is queued on its worker, or its
//! `Compute` or its answer is on its way (unless the worker's connection
//! is already gone, which the core has yet to hear). Clients' links are
//! not delayed: what a client was told matches the state of its keys.

use super::*;

impl Sim {
    pub(super) fn check(&mut self) {
        let step = self.step;
        if let Err(e) = self.core.validate() {
            let story = e
                .split_whitespace()
                .nth(1)
                .and_then(|hex| TaskKey::from_hex(hex).ok())
                .map(|key| {
                    let mut text = format!("{:?}", self.core.story(&key));
                    for dependent in self.core.dependents(&key) {
                        text +=
                            &format!("\ndependent {dependent}: {:?}", self.core.story(&dependent));
                    }
                    text
                })
                .unwrap_or_default();
            let mut same_step = String::new();
            for key in &self.known {
                for t in self.core.story(key) {
                    if t.stimulus == StimulusId(self.stimulus) {
                        same_step += &format!(
                            "\n  {key}: {:?} -> {:?} (dependents {:?})",
                            t.from,
                            t.to,
                            self.core.dependents(key)
                        );
                    }
                }
            }
            panic!(
                "step {step}: invariant broken: {e}\nafter {}\nstory: {story}\nthis step:{same_step}",
                self.last_event
            );
        }
        self.check_connections();
        self.check_holdings();
        self.check_running();
        self.check_clients();
    }

    /// Every worker in the books has a connection; an open connection has
    /// its process, a closed one none.
    fn check_connections(&self) {
        for (worker, _, _) in self.core.worker_memory() {
            assert!(
                self.links.contains_key(&worker),
                "step {}: {worker} is in the books, but the core was told it left",
                self.step
            );
        }
        for (worker, link) in &self.links {
            assert_eq!(
                link.closed,
                !self.workers.contains_key(worker),
                "step {}: {worker}'s connection and process disagree",
                self.step
            );
        }
    }

    /// What each worker in the books holds, against the books.
    fn check_holdings(&self) {
        let step = self.step;
        for (worker, sim) in &self.workers {
            if !self.core.has_worker(*worker) {
                // Told to rejoin or restart, or its join is on its way.
                continue;
            }
            let link = &self.links[worker];
            let held: BTreeSet<TaskKey> = self
                .core
                .has_what(*worker)
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            if let Some(key) = held.iter().find(|k| !sim.data.contains_key(k)) {
                panic!(
                    "step {step}: the books count a copy of {key} on {worker}, which does not hold it (after {})\nstory: {:?}",
                    self.last_event,
                    self.core.story(key)
                );
            }
            for key in sim.data.keys().filter(|k| !held.contains(k)) {
                let reported = link.reporting(|e| {
                    matches!(e, Event::TaskFinished { key: k, .. } | Event::ReplicaAdded { key: k, .. } if k == key)
                });
                let freed =
                    link.commanding(|m| matches!(m, ToWorker::Free { keys } if keys.contains(key)));
                let rerun = self.core.processing_on(key) == Some(*worker);
                // Scattered behind a graph waiting for the submit rate.
                let waiting = self
                    .clients
                    .keys()
                    .any(|c| self.core.waits_for_admission(*c, key));
                assert!(
                    reported || freed || rerun || waiting,
                    "step {step}: {worker} holds {key}, which the books do not count, is not processing there, and neither a report of it nor a Free is on its way (after {})\nstory: {:?}",
                    self.last_event,
                    self.core.story(key)
                );
            }
        }
    }

    /// Every task the core waits for is queued on its worker, or its
    /// `Compute` or its answer is on its way.
    fn check_running(&mut self) {
        let core = &self.core;
        self.dispatched
            .retain(|key, (worker, _)| core.processing_on(key) == Some(*worker));
        for (key, (worker, run)) in &self.dispatched {
            let Some(sim) = self.workers.get(worker) else {
                // Dead: the core hears of it when its connection closes.
                continue;
            };
            let (key, run) = (*key, *run);
            let link = &self.links[worker];
            let queued = sim.queue.iter().any(|t| t.key == key && t.run == run);
            let sent = link
                .commanding(|m| matches!(m, ToWorker::Compute(t) if t.key == key && t.run == run));
            let answered = link.reporting(|e| match e {
                Event::TaskFinished { key: k, run: r, .. }
                | Event::TaskErred { key: k, run: r, .. }
                | Event::FetchFailed { key: k, run: r, .. } => *k == key && *r == run,
                Event::StealResponse {
                    key: k,
                    run: r,
                    stolen,
                    ..
                } => *k == key && *r == run && *stolen,
                _ => false,
            });
            assert!(
                queued || sent || answered,
                "step {}: the core waits for {key} run {run} on {worker}, which has no such task, and neither its Compute nor its answer is on its way (after {})\nstory: {:?}",
                self.step,
                self.last_event,
                self.core.story(&key)
            );
        }
    }

    /// What clients were told, against the state of their keys. An away
    /// client may hold keys cancelled meanwhile: it is told on resume, and
    /// checked then.
    fn check_clients(&self) {
        let step = self.step;
        for (client, sim) in self.clients.iter().filter(|(_, c)| !c.away) {
            for key in &sim.held {
                if self.core.waits_for_admission(*client, key) {
                    continue; // not yet known to the core
                }
                let state = self.core.state_of(key);
                assert!(
                    !matches!(state, StateName::Released | StateName::Forgotten),
                    "step {step}: {client} holds {key}, which is {state:?}: a wanted result was dropped (after {})",
                    self.last_event
                );
                if matches!(sim.last.get(key), Some(ToClient::Finished { .. })) {
                    assert_eq!(
                        state,
                        StateName::Memory,
                        "step {step}: {client} was last told {key} finished, but it is not in memory: a loss was not told (after {})",
                        self.last_event
                    );
                }
                if state == StateName::Memory {
                    assert!(
                        matches!(sim.last.get(key), Some(ToClient::Finished { .. })),
                        "step {step}: {key} is in memory but {client} was last told {:?}",
                        sim.last.get(key)
                    );
                }
            }
        }
    }
}
