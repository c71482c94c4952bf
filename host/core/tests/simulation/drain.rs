//! The end of a run: no more chaos; every message arrives, every held key
//! must settle, and once every client has left nothing may remain, on the
//! workers or on the way.

use super::*;

impl Sim {
    pub(super) fn drain(&mut self) {
        // No more limits: what waits for the submit rate goes now.
        self.event(Event::TenantPolicy {
            tenant: TenantId::OPEN,
            policy: Box::default(),
        });
        self.timeout();
        self.settle_liveness();
        if self.workers.is_empty() {
            let worker = WorkerId(self.new_id());
            let sim = SimWorker {
                nthreads: 2,
                instance: u64::from(worker.0),
                last_beat: self.now,
                ..SimWorker::default()
            };
            self.workers.insert(worker, sim);
            self.connect(worker);
            self.event(Event::WorkerJoined {
                worker,
                nthreads: 2,
                instance: u64::from(worker.0),
            });
        }
        self.quiesce();
        for (client, sim) in &self.clients {
            for key in &sim.held {
                let state = self.core.state_of(key);
                assert!(
                    matches!(state, StateName::Memory | StateName::Erred),
                    "{client} holds {key}, still {state:?} after draining (on {:?}; queues: {:?}):\n{:#?}",
                    self.core.processing_on(key),
                    self.workers
                        .iter()
                        .map(|(w, s)| (
                            w,
                            s.queue.iter().map(|t| (t.key, t.run)).collect::<Vec<_>>()
                        ))
                        .collect::<Vec<_>>(),
                    self.core.story(key)
                );
            }
        }
        // A restart whose workers died meanwhile is answered at its
        // deadline.
        let deadline = self.now.after(RESTART_TIMEOUT + Duration::from_secs(1));
        while !self.restarts.is_empty() && self.now < deadline {
            self.tick();
            self.flush();
        }
        self.quiesce();
        let unanswered: Vec<_> = self
            .operations
            .iter()
            .filter(|(c, _)| self.clients.contains_key(c))
            .collect();
        assert!(
            unanswered.is_empty(),
            "requests never answered after draining: {unanswered:?}"
        );
        // Someone unpublishes every dataset.
        let unpublisher = ClientId(self.new_id());
        self.clients.insert(unpublisher, SimClient::default());
        self.event(Event::ClientConnected {
            client: unpublisher,
            tenant: TenantId::OPEN,
        });
        for name in self.core.dataset_names(TenantId::OPEN) {
            self.next_request += 1;
            let request = self.next_request;
            self.operations.insert((unpublisher, request));
            self.event(Event::UnpublishDataset {
                client: unpublisher,
                request,
                name,
            });
        }
        let clients: Vec<ClientId> = self.clients.keys().copied().collect();
        for client in clients {
            self.clients.remove(&client);
            self.event(Event::ClientGone { client });
        }
        self.quiesce();
        assert_eq!(
            self.core.task_count(),
            0,
            "tasks remain after every client left: {:?}",
            self.core.summary()
        );
        for (worker, sim) in &self.workers {
            assert!(sim.data.is_empty(), "{worker} still holds {:?}", sim.data);
        }
    }

    /// Runs until nothing is left to do: every message arrives (due first),
    /// every copy asked for is made, every queued task runs.
    fn quiesce(&mut self) {
        for _ in 0..1_000_000 {
            self.flush();
            if self.deliver_next() {
                continue;
            }
            let fetching = self
                .workers
                .iter()
                .find(|(_, w)| !w.fetches.is_empty())
                .map(|(id, _)| *id);
            if let Some(worker) = fetching {
                self.answer_fetches(worker);
                continue;
            }
            let busy = self
                .workers
                .iter()
                .find(|(_, w)| !w.queue.is_empty())
                .map(|(id, _)| *id);
            let Some(worker) = busy else { return };
            self.run_one(worker, false);
        }
        panic!("the drain did not end");
    }

    /// Every peer becomes live: silent clients speak again, away ones
    /// resume, hung workers wake (and rejoin if they were removed), and
    /// restarted ones come back.
    fn settle_liveness(&mut self) {
        let now = self.now;
        let clients: Vec<ClientId> = self.clients.keys().copied().collect();
        for client in clients {
            let sim = self.clients.get_mut(&client).expect("listed");
            if sim.away {
                self.resume(client);
            } else if sim.silent {
                sim.silent = false;
                sim.last_beat = now;
                self.event(Event::ClientHeartbeat { client });
            }
        }
        let workers: Vec<WorkerId> = self.workers.keys().copied().collect();
        for worker in workers {
            if self.workers[&worker].hung_until.is_some() {
                self.wake(worker);
            }
        }
        // A `Restart` may still be on its way; restarted workers come back
        // in time.
        loop {
            self.quiesce();
            if !self.workers.values().any(|w| w.restarting) {
                break;
            }
            self.tick();
            self.flush();
        }
    }
}
