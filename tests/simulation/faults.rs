//! What happens to the world at random each step: clients submit, release
//! and cancel; workers are killed (a nanny starts the instance again a
//! little later) or hang for a while (past their TTL or not); the spiller
//! moves values to disk. While draining only the harmless part goes on:
//! heartbeats, nanny restarts, hung workers continuing, and spilling on
//! paused workers so that they resume.

use crate::world::{WORKER_TTL, World};
use crate::{HUNG, KILLED, count};
use std::time::Duration;
use weft_core::{ClientId, WorkerId};

impl World {
    pub(crate) fn act(&mut self) {
        self.client_beats();
        self.client_returns();
        self.nanny_restarts();
        for worker in self.workers.values_mut() {
            if worker.hung_until.is_some_and(|until| until <= self.now) {
                worker.hung_until = None;
            }
        }
        if self.rng.chance(if self.chaos { 3 } else { 20 }) {
            self.spill();
        }
        if !self.chaos {
            return;
        }
        let clients: Vec<ClientId> = self.clients.keys().copied().collect();
        if self.rng.chance(25)
            && let Some(client) = self.rng.pick(&clients)
        {
            self.submit(client);
        }
        if self.rng.chance(25)
            && let Some(client) = self.rng.pick(&clients)
        {
            self.let_go(client);
        }
        if self.rng.below(1000) < 3
            && let Some(client) = self.rng.pick(&clients)
        {
            self.drop_connection(client);
        }
        let running: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, w)| !w.hung(self.now))
            .map(|(id, _)| *id)
            .collect();
        // Keep one worker running.
        if running.len() < 2 {
            return;
        }
        let victim = self.rng.pick(&running).expect("two running");
        if self.rng.below(1000) < 4 {
            self.kill(victim);
        } else if self.rng.below(1000) < 8 {
            count(HUNG);
            let millis = 300 + self.rng.below(2 * WORKER_TTL.as_millis() as u64);
            let until = self.now.after(Duration::from_millis(millis));
            self.workers.get_mut(&victim).expect("running").hung_until = Some(until);
        }
    }

    /// The worker process dies: its connection resets (reports not yet
    /// delivered may be lost), and its nanny starts it again.
    fn kill(&mut self, worker: WorkerId) {
        let sim = self.workers.remove(&worker).expect("a live worker");
        let link = self.links.get_mut(&worker).expect("its link");
        let keep = self.rng.below(link.to_core.len() as u64 + 1) as usize;
        if keep < link.to_core.len() {
            count(KILLED);
        }
        link.to_core.cut_to(keep);
        link.to_worker.clear();
        link.closing = true;
        let back = self
            .now
            .after(Duration::from_millis(200 + self.rng.below(1_000)));
        self.restarting.push((back, sim.instance));
    }

    fn nanny_restarts(&mut self) {
        let now = self.now;
        let due: Vec<u64> = self
            .restarting
            .iter()
            .filter(|(t, _)| *t <= now)
            .map(|(_, instance)| *instance)
            .collect();
        self.restarting.retain(|(t, _)| *t > now);
        for instance in due {
            self.start_worker(instance);
        }
    }

    /// Moves some values of a worker (a paused one first) to disk.
    fn spill(&mut self) {
        let workers: Vec<WorkerId> = self.workers.keys().copied().collect();
        let paused: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, w)| w.paused)
            .map(|(id, _)| *id)
            .collect();
        let Some(worker) = self.rng.pick(&paused).or_else(|| self.rng.pick(&workers)) else {
            return;
        };
        let count = 1 + self.rng.below(8) as usize;
        let sim = self.workers.get_mut(&worker).expect("a worker");
        for (_, (_, on_disk)) in sim
            .state
            .values_mut()
            .held
            .iter_mut()
            .filter(|(_, (_, on_disk))| !*on_disk)
            .take(count)
        {
            *on_disk = true;
        }
    }

    /// Runs without faults until every held future settles, then lets go
    /// of everything and runs until nothing is held anywhere.
    pub(crate) fn drain(&mut self) {
        self.chaos = false;
        for worker in self.workers.values_mut() {
            worker.hung_until = None;
        }
        let deadline = self.now.after(Duration::from_secs(600));
        while !(self.clients.values().all(|c| c.settled())) {
            assert!(
                self.now < deadline,
                "step {}: futures never settled: {}",
                self.step,
                self.describe_unsettled()
            );
            self.quiet_step();
        }
        for id in self.workers.keys() {
            assert!(
                self.core.has_worker(*id),
                "step {}: {id} never got back into the books",
                self.step
            );
        }
        self.release_everything();
        let deadline = self.now.after(Duration::from_secs(600));
        while !self.empty() {
            assert!(
                self.now < deadline,
                "step {}: after every client let go, the core still has {} tasks and the workers hold {:?}",
                self.step,
                self.core.task_count(),
                self.workers
                    .iter()
                    .map(|(id, w)| (*id, w.state.values().held.len()))
                    .collect::<Vec<_>>()
            );
            self.quiet_step();
        }
    }

    /// Whether nothing is left: no task, no value, no message, no work.
    fn empty(&self) -> bool {
        self.core.task_count() == 0
            && self
                .clients
                .values()
                .all(|c| c.outbox.is_empty() && c.inbox.is_empty())
            && self
                .links
                .values()
                .all(|l| l.to_core.is_empty() && l.to_worker.is_empty())
            && self.workers.values().all(|w| {
                w.is_idle() && w.state.values().held.is_empty() && w.state.task_count() == 0
            })
    }

    fn describe_unsettled(&self) -> String {
        let mut text = String::new();
        for (id, client) in &self.clients {
            text += &format!(
                "\n  {id}: {} requests unsent, first {:?}",
                client.outbox.len(),
                client.outbox.front()
            );
        }
        for (id, w) in &self.workers {
            text += &format!(
                "\n  {id}: paused {}, {} queued, {} running, {} pending, {} tasks, {} values ({:?}), link {:?}",
                w.paused,
                w.queued.len(),
                w.running.len(),
                w.pending.len(),
                w.state.task_count(),
                w.state.values().held.len(),
                weft_worker::state::Values::usage(w.state.values()),
                self.links
                    .get(id)
                    .map(|l| (l.to_worker.len(), l.to_core.len())),
            );
        }
        for key in self.unsettled().iter().take(5) {
            text += &format!(
                "\n  {key}: {:?} on {:?}; story {:?}",
                self.core.state_of(key),
                self.core.processing_on(key),
                self.core.story(key)
            );
        }
        text
    }
}
