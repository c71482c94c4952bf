//! Time in the simulation: the clock moves a little before every step,
//! live peers send heartbeats, messages late by `STALL_MAX` arrive, hung
//! workers wake (and may first report the task they were running: a stale
//! report if they were removed meanwhile, before they read `Rejoin`),
//! restarted workers come back (in place or as a new process of the same
//! instance), and the core's timers fire at the time it asked for.

use super::*;

impl Sim {
    /// Workers that run, answer and report: not hung, not coming back
    /// from a restart (one the core removed may not know it yet).
    pub(super) fn active_workers(&self) -> Vec<WorkerId> {
        self.workers
            .iter()
            .filter(|(_, w)| w.hung_until.is_none() && !w.restarting)
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
    /// times on the way and delivering the messages that cannot wait any
    /// longer, and lets the peers do what time makes them do.
    pub(super) fn tick(&mut self) {
        let end = self
            .now
            .after(Duration::from_micros(self.rng.below(40_000) as u64));
        loop {
            let timer = self.core.poll_timeout().filter(|at| *at <= end);
            let forced = self.next_forced().filter(|at| *at <= end);
            let Some(at) = [timer, forced].into_iter().flatten().min() else {
                break;
            };
            self.now = self.now.max(at);
            self.wake_workers();
            self.heartbeats();
            if forced == Some(at) {
                self.deliver_overdue();
            } else {
                self.timeout();
            }
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
            .filter(|(_, w)| w.hung_until.is_none() && !w.restarting && due(w.last_beat))
            .map(|(id, _)| *id)
            .collect();
        for worker in workers {
            self.workers.get_mut(&worker).expect("listed").last_beat = now;
            self.report(worker, Event::WorkerHeartbeat { worker });
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

    /// Hung workers whose time has come wake up.
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

    /// `worker` wakes now: it may first report the task it was running
    /// (stale, if the core removed it meanwhile: its `Rejoin` waits unread
    /// on the connection), and speaks again.
    pub(super) fn wake(&mut self, worker: WorkerId) {
        let sim = self.workers.get_mut(&worker).expect("listed");
        sim.hung_until = None;
        sim.last_beat = self.now;
        if !sim.queue.is_empty() && self.rng.chance(50) {
            self.run_one(worker, false);
        }
        self.report(worker, Event::WorkerHeartbeat { worker });
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
            let sim = self.workers.get_mut(&worker).expect("listed");
            sim.restarting = false;
            sim.last_beat = self.now;
            let (nthreads, instance) = (sim.nthreads as u32, sim.instance);
            if self.rng.chance(50) {
                // `Restarted`, on the same connection.
                self.report(
                    worker,
                    Event::WorkerJoined {
                        worker,
                        nthreads,
                        instance,
                    },
                );
                continue;
            }
            let sim = self.workers.remove(&worker).expect("listed");
            self.disconnect(worker, None, false);
            let id = WorkerId(self.new_id());
            self.workers.insert(id, sim);
            self.connect(id);
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
