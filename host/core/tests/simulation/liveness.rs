//! Time in the simulation: the clock moves a little before every step,
//! live peers send heartbeats, hung workers wake (and, if they were
//! removed meanwhile, send a stale report and rejoin with nothing),
//! restarted workers come back (in place or as a new process of the same
//! instance), and the core's timers fire at the time it asked for.

use super::*;

impl Sim {
    /// Workers that run, answer and report: not hung, not waiting to
    /// rejoin or to come back from a restart.
    pub(super) fn active_workers(&self) -> Vec<WorkerId> {
        self.workers
            .iter()
            .filter(|(_, w)| w.hung_until.is_none() && !w.rejoin && !w.restarting)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Clients that act: connected and not hung.
    pub(super) fn active_clients(&self) -> Vec<ClientId> {
        self.clients
            .iter()
            .filter(|(_, c)| !c.away && !c.silent)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Moves the clock up to 40 ms, firing the core's timers at their own
    /// times on the way, and lets the peers do what time makes them do.
    pub(super) fn tick(&mut self) {
        let end = self
            .now
            .after(Duration::from_micros(self.rng.below(40_000) as u64));
        while let Some(at) = self.core.poll_timeout().filter(|at| *at <= end) {
            self.now = self.now.max(at);
            self.wake_workers();
            self.heartbeats();
            self.timeout();
            self.flush();
        }
        self.now = end;
        self.wake_workers();
        self.heartbeats();
        self.restarted_workers_return();
    }

    /// Every live peer whose last heartbeat is older than `HEARTBEAT`
    /// sends one.
    fn heartbeats(&mut self) {
        let now = self.now;
        let due = |last: Time| now.since(last) >= HEARTBEAT;
        let workers: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, w)| w.hung_until.is_none() && due(w.last_beat))
            .map(|(id, _)| *id)
            .collect();
        for worker in workers {
            self.workers.get_mut(&worker).expect("listed").last_beat = now;
            self.event(Event::WorkerHeartbeat { worker });
        }
        let clients: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, c)| !c.away && !c.silent && due(c.last_beat))
            .map(|(id, _)| *id)
            .collect();
        for client in clients {
            if let Some(sim) = self.clients.get_mut(&client) {
                sim.last_beat = now;
                self.event(Event::ClientHeartbeat { client });
            }
        }
    }

    /// Hung workers whose time has come wake up. One the scheduler removed
    /// may first report a task it was running (a stale report, to be
    /// ignored), then reads `Rejoin`: it drops everything and joins again.
    fn wake_workers(&mut self) {
        let now = self.now;
        let waking: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, w)| w.hung_until.is_some_and(|until| until <= now))
            .map(|(id, _)| *id)
            .collect();
        for worker in waking {
            self.wake(worker);
        }
    }

    /// `worker` wakes now.
    pub(super) fn wake(&mut self, worker: WorkerId) {
        let sim = self.workers.get_mut(&worker).expect("listed");
        sim.hung_until = None;
        sim.last_beat = self.now;
        if !sim.rejoin {
            // Still in the books: it speaks again.
            self.event(Event::WorkerHeartbeat { worker });
            return;
        }
        if !sim.queue.is_empty() && self.rng.chance(50) {
            count(STALE_REPORTS);
            let before = self.core.summary();
            // Reported as if it were still in the books.
            self.rejoin_report(worker);
            assert_eq!(
                before,
                self.core.summary(),
                "step {}: a stale report from removed {worker} changed the books",
                self.step
            );
        }
        let sim = self.workers.get_mut(&worker).expect("listed");
        sim.queue.clear();
        sim.data.clear();
        sim.steal_answers.clear();
        sim.fetches.clear();
        sim.rejoin = false;
        let (nthreads, instance) = (sim.nthreads as u32, sim.instance);
        count(REJOINED);
        self.event(Event::WorkerJoined {
            worker,
            nthreads,
            instance,
        });
    }

    /// A removed worker reports the task at the head of its queue.
    fn rejoin_report(&mut self, worker: WorkerId) {
        let task = self
            .workers
            .get_mut(&worker)
            .and_then(|w| w.queue.pop_front())
            .expect("a queued task");
        self.event(Event::TaskFinished {
            worker,
            key: task.key,
            run: task.run,
            nbytes: 10,
            duration_us: 50,
        });
    }

    /// Workers told to restart come back now and then: in place (the same
    /// id) or as a new process of the same instance (its nanny restarted
    /// it: a new id, and the old connection closes).
    fn restarted_workers_return(&mut self) {
        let restarting: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, w)| w.restarting && w.hung_until.is_none())
            .map(|(id, _)| *id)
            .collect();
        for worker in restarting {
            if !self.rng.chance(5) {
                continue;
            }
            let mut sim = self.workers.remove(&worker).expect("listed");
            sim.restarting = false;
            sim.last_beat = self.now;
            let (nthreads, instance) = (sim.nthreads as u32, sim.instance);
            let id = if self.rng.chance(50) {
                worker
            } else {
                self.event(Event::WorkerLeft {
                    worker,
                    reason: None,
                });
                WorkerId(self.new_id())
            };
            self.workers.insert(id, sim);
            self.event(Event::WorkerJoined {
                worker: id,
                nthreads,
                instance,
            });
        }
    }

    /// A random liveness step: a worker hangs, a client disconnects,
    /// resumes, or goes silent.
    pub(super) fn liveness_step(&mut self) {
        match self.rng.below(4) {
            0 => {
                let live: Vec<WorkerId> = self
                    .workers
                    .iter()
                    .filter(|(_, w)| w.hung_until.is_none())
                    .map(|(id, _)| *id)
                    .collect();
                if let Some(worker) = self.rng.pick(&live) {
                    let hang = Duration::from_millis(self.rng.below(2_500) as u64);
                    self.workers.get_mut(&worker).expect("live").hung_until =
                        Some(self.now.after(hang));
                }
            }
            1 => {
                if let Some(client) = self.rng.pick(&self.active_clients()) {
                    self.clients.get_mut(&client).expect("listed").away = true;
                    // Replies to its requests in flight are lost; it failed
                    // them itself.
                    self.abandon_requests(client);
                    self.event(Event::ClientDisconnected { client });
                }
            }
            2 => {
                let away: Vec<ClientId> = self
                    .clients
                    .iter()
                    .filter(|(_, c)| c.away)
                    .map(|(id, _)| *id)
                    .collect();
                if let Some(client) = self.rng.pick(&away) {
                    self.resume(client);
                }
            }
            _ => {
                if self.rng.chance(30)
                    && let Some(client) = self.rng.pick(&self.active_clients())
                {
                    self.clients.get_mut(&client).expect("listed").silent = true;
                }
            }
        }
    }

    /// `client`'s connection dropped: it fails the requests it waits for
    /// (their answers are lost), and ignores them if they come later.
    pub(super) fn abandon_requests(&mut self, client: ClientId) {
        let lost: Vec<(ClientId, u64)> = self
            .operations
            .iter()
            .filter(|(c, _)| *c == client)
            .copied()
            .collect();
        for request in lost {
            self.operations.remove(&request);
            self.restarts.remove(&request);
            self.abandoned.insert(request);
        }
    }

    /// An away client reconnects within its grace.
    pub(super) fn resume(&mut self, client: ClientId) {
        let sim = self.clients.get_mut(&client).expect("listed");
        sim.away = false;
        sim.resuming = true;
        sim.last_beat = self.now;
        count(RESUMED);
        self.event(Event::ClientResumed { client });
        if let Some(sim) = self.clients.get_mut(&client) {
            sim.resuming = false;
        }
    }
}
