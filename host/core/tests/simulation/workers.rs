//! Simulated workers' answers: steals, copies, and running their next task.

use super::*;

impl Sim {
    pub(super) fn answer_steals(&mut self, worker: WorkerId) {
        let answers =
            std::mem::take(&mut self.workers.get_mut(&worker).expect("live").steal_answers);
        for (key, run, stolen) in answers {
            if self.workers.contains_key(&worker) {
                self.event(Event::StealResponse {
                    worker,
                    key,
                    run,
                    stolen,
                });
            }
        }
    }

    /// `worker` makes the copies it was asked for, from holders that still
    /// have them.
    pub(super) fn answer_fetches(&mut self, worker: WorkerId) {
        let fetches = std::mem::take(&mut self.workers.get_mut(&worker).expect("live").fetches);
        for input in fetches {
            if !self.workers.contains_key(&worker) {
                return;
            }
            let available = input.holders.iter().any(|h| {
                self.workers
                    .get(h)
                    .is_some_and(|w| w.data.contains(&input.key))
            });
            if available {
                self.workers
                    .get_mut(&worker)
                    .expect("live")
                    .data
                    .insert(input.key);
                self.event(Event::ReplicaAdded {
                    worker,
                    key: input.key,
                });
            } else {
                self.event(Event::ReplicaFailed {
                    worker,
                    key: input.key,
                    message: "no holder has it".into(),
                });
            }
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
            let here = self.workers[&worker].data.contains(&input.key);
            let holder = input.holders.iter().copied().find(|h| {
                self.workers
                    .get(h)
                    .is_some_and(|w| w.data.contains(&input.key))
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
            self.event(Event::FetchFailed {
                worker,
                key,
                run,
                missing,
            });
        } else if may_fail && self.rng.chance(8) {
            self.event(Event::TaskErred {
                worker,
                key,
                run,
                message: "boom".into(),
            });
        } else {
            self.workers
                .get_mut(&worker)
                .expect("live")
                .data
                .insert(key);
            let nbytes = 1 + self.rng.below(1000) as u64;
            self.event(Event::TaskFinished {
                worker,
                key,
                run,
                nbytes,
                duration_us: 50,
            });
        }
    }
}
