//! The random steps of the simulation: what clients, workers, the network
//! and the cluster do next, picked by the seed.

use super::*;

impl Sim {
    pub(super) fn random_step(&mut self) {
        if self.rng.chance(DELIVERY_PERCENT) {
            // Due messages arrive, one at a time, on random connections.
            while self.deliver_random() && self.rng.chance(DELIVERY_MORE_PERCENT) {}
            return;
        }
        let roll = self.rng.below(100);
        let workers = self.active_workers();
        let clients = self.active_clients();
        let all_workers: Vec<WorkerId> = self.workers.keys().copied().collect();
        let all_clients: Vec<ClientId> = self.clients.keys().copied().collect();
        match roll {
            0..=3 if all_workers.len() < 5 => {
                let worker = WorkerId(self.new_id());
                let nthreads = 1 + self.rng.below(3) as u32;
                let sim = SimWorker {
                    nthreads: nthreads as usize,
                    instance: u64::from(worker.0),
                    last_beat: self.now,
                    ..SimWorker::default()
                };
                self.workers.insert(worker, sim);
                self.connect(worker);
                self.event(Event::WorkerJoined {
                    worker,
                    nthreads,
                    instance: u64::from(worker.0),
                });
            }
            4..=5 if !all_workers.is_empty() => {
                // Any worker may die, hung or not: what it sent still
                // arrives (the connection closes after it), or not (reset).
                let worker = self.rng.pick(&all_workers).expect("non-empty");
                self.workers.remove(&worker);
                let reason = self
                    .rng
                    .chance(30)
                    .then(|| "restarted: memory limit".to_string());
                let reset = self.rng.chance(50);
                self.disconnect(worker, reason, reset);
            }
            47 if !all_workers.is_empty() => {
                // A connection resets: both queues are lost, and the
                // worker, its connection gone, exits; its nanny may start
                // a new one, which registers anew with nothing.
                let worker = self.rng.pick(&all_workers).expect("non-empty");
                let sim = self.workers.remove(&worker).expect("listed");
                count(LINKS_DROPPED);
                self.disconnect(worker, None, true);
                if self.rng.chance(50) {
                    let id = WorkerId(self.new_id());
                    let fresh = SimWorker {
                        nthreads: sim.nthreads,
                        instance: sim.instance,
                        last_beat: self.now,
                        ..SimWorker::default()
                    };
                    self.workers.insert(id, fresh);
                    self.connect(id);
                    self.event(Event::WorkerJoined {
                        worker: id,
                        nthreads: sim.nthreads as u32,
                        instance: sim.instance,
                    });
                }
            }
            6..=8 if all_clients.len() < 4 => {
                let client = ClientId(self.new_id());
                let sim = SimClient {
                    last_beat: self.now,
                    ..SimClient::default()
                };
                self.clients.insert(client, sim);
                self.event(Event::ClientConnected {
                    client,
                    tenant: TenantId::OPEN,
                });
            }
            9 if !all_clients.is_empty() => {
                // Any client may go for good, away or not.
                let client = self.rng.pick(&all_clients).expect("non-empty");
                self.clients.remove(&client);
                // Its pending requests die with it.
                self.operations.retain(|(c, _)| *c != client);
                self.restarts.retain(|(c, _)| *c != client);
                self.event(Event::ClientGone { client });
            }
            10..=29 if !clients.is_empty() => {
                let client = self.rng.pick(&clients).expect("non-empty");
                self.submit(client);
            }
            30..=39 if !clients.is_empty() => {
                let client = self.rng.pick(&clients).expect("non-empty");
                let held: Vec<TaskKey> = self.clients[&client].held.iter().copied().collect();
                if let Some(key) = self.rng.pick(&held) {
                    let sim = self.clients.get_mut(&client).expect("exists");
                    sim.held.remove(&key);
                    sim.last.remove(&key);
                    self.event(Event::ReleaseKeys {
                        client,
                        keys: vec![key],
                    });
                }
            }
            40..=43 if !clients.is_empty() && !workers.is_empty() => {
                let client = self.rng.pick(&clients).expect("non-empty");
                let key = self.key();
                // The scheduler names the targets: workers in its books.
                let targets: Vec<WorkerId> = workers
                    .iter()
                    .copied()
                    .filter(|w| self.core.has_worker(*w))
                    .collect();
                let Some(&first) = targets.first() else {
                    return;
                };
                let holders: Vec<WorkerId> = targets
                    .iter()
                    .copied()
                    .filter(|_| self.rng.chance(50))
                    .collect();
                let holders = if holders.is_empty() {
                    vec![first]
                } else {
                    holders
                };
                for w in &holders {
                    self.acquire(*w, key);
                }
                // Over `stored_bytes_max`: refused, the copies freed. Behind
                // a waiting graph, it waits too (and is checked then).
                let stored = self.core.tenant_usage(TenantId::OPEN).stored_bytes;
                let over = self
                    .core
                    .tenant_policy(TenantId::OPEN)
                    .limits
                    .stored_bytes_max
                    .is_some_and(|max| stored + 100 > max);
                let waiting = self.core.waiting_requests(client) > 0;
                self.known.push(key);
                let sim = self.clients.get_mut(&client).expect("exists");
                sim.held.insert(key);
                self.event(Event::Scattered {
                    client,
                    key,
                    workers: holders,
                    nbytes: 100,
                });
                if waiting {
                    count(WAITED);
                    assert!(self.core.waits_for_admission(client, &key));
                } else {
                    if over {
                        count(OVER_QUOTA);
                    }
                    assert_eq!(
                        self.core.state_of(&key) == StateName::Forgotten,
                        over,
                        "step {}: the scatter was refused: {over}",
                        self.step
                    );
                }
            }
            44..=46 if workers.len() > 1 => {
                // A worker fetched a copy of something another holds.
                let worker = self.rng.pick(&workers).expect("non-empty");
                self.fetch_replica(worker);
            }
            48..=52 => while self.deliver_random() && self.rng.chance(DELIVERY_MORE_PERCENT) {},
            53..=55 if !clients.is_empty() => {
                let client = self.rng.pick(&clients).expect("non-empty");
                let pool = self.live_known();
                let keys: Vec<TaskKey> = (0..1 + self.rng.below(3))
                    .filter_map(|_| self.rng.pick(&pool))
                    .collect();
                let force = self.rng.chance(50);
                if !force {
                    // Withdrawing interest: the client lets go of its futures.
                    let sim = self.clients.get_mut(&client).expect("exists");
                    for key in &keys {
                        sim.held.remove(key);
                        sim.last.remove(key);
                    }
                }
                self.event(Event::Cancel {
                    client,
                    keys,
                    force,
                    reason: "test".into(),
                });
            }
            56 if self.rng.chance(20) && !clients.is_empty() => {
                // A restart: the workers in the books are told to restart
                // (they clear themselves and come back later).
                let client = self.rng.pick(&clients).expect("non-empty");
                self.next_request += 1;
                let request = self.next_request;
                let others: BTreeSet<(ClientId, u64)> = self.operations.clone();
                self.operations.insert((client, request));
                self.restarts.insert((client, request));
                let waiting = self.core.waiting_requests(client) > 0;
                self.event(Event::Restart { client, request });
                // Still waiting for its workers: it was accepted (a refused
                // one, while another is under way, is answered at once).
                // Behind a graph waiting for the rate, it waits too.
                if !waiting && self.restarts.contains(&(client, request)) {
                    assert_eq!(self.core.task_count(), 0, "tasks remain after a restart");
                    // Those waiting behind a graph for the submit rate are
                    // answered when they are applied.
                    let unanswered: Vec<_> = others
                        .intersection(&self.operations)
                        .filter(|op| !self.restarts.contains(op))
                        .filter(|(c, _)| self.core.waiting_requests(*c) == 0)
                        .collect();
                    assert!(
                        unanswered.is_empty(),
                        "operations not answered by the restart: {unanswered:?} (restarts {:?}, away {:?})",
                        self.restarts,
                        self.clients
                            .iter()
                            .filter(|(_, c)| c.away)
                            .map(|(id, _)| id)
                            .collect::<Vec<_>>()
                    );
                }
            }
            66..=67 => self.liveness_step(),
            57..=58 if !clients.is_empty() => {
                let client = self.rng.pick(&clients).expect("non-empty");
                let in_memory: Vec<TaskKey> = self
                    .live_known()
                    .into_iter()
                    .filter(|k| self.core.state_of(k) == StateName::Memory)
                    .collect();
                let keys: Vec<TaskKey> = (0..self.rng.below(4))
                    .filter_map(|_| self.rng.pick(&in_memory))
                    .collect();
                self.next_request += 1;
                let request = self.next_request;
                self.operations.insert((client, request));
                if self.rng.chance(50) {
                    let n = self.rng.below(4) as u32;
                    self.event(Event::Replicate {
                        client,
                        request,
                        keys,
                        n,
                    });
                } else {
                    let workers = if self.rng.chance(50) {
                        Vec::new()
                    } else {
                        workers
                            .iter()
                            .copied()
                            .filter(|_| self.rng.chance(60))
                            .collect()
                    };
                    self.event(Event::Rebalance {
                        client,
                        request,
                        keys,
                        workers,
                    });
                }
            }
            59..=61 if !workers.is_empty() => {
                let worker = self.rng.pick(&workers).expect("non-empty");
                self.answer_fetches(worker);
            }
            63..=65 if !clients.is_empty() => {
                let client = self.rng.pick(&clients).expect("non-empty");
                self.next_request += 1;
                let request = self.next_request;
                self.operations.insert((client, request));
                let name = ["a", "b", "c"][self.rng.below(3)].to_string();
                match self.rng.below(3) {
                    0 => {
                        let held: Vec<TaskKey> =
                            self.clients[&client].held.iter().copied().collect();
                        let mut keys: Vec<TaskKey> = (0..1 + self.rng.below(3))
                            .filter_map(|_| self.rng.pick(&held))
                            .collect();
                        let lazy = self.rng.chance(20);
                        if lazy {
                            keys.push(self.key()); // a lazy key the scheduler never saw
                        }
                        let value = DatasetValue {
                            keys,
                            graph: lazy.then(Vec::new),
                            metadata: String::new(),
                            ret: None,
                        };
                        let mut datasets = vec![(name, value)];
                        if self.rng.chance(20) {
                            // A second name in the same call: all or none.
                            let mut second = datasets[0].clone();
                            second.0 = ["a", "b", "c"][self.rng.below(3)].to_string();
                            datasets.push(second);
                        }
                        let replace = self.rng.chance(50);
                        self.event(Event::PublishDatasets {
                            client,
                            request,
                            datasets,
                            replace,
                        });
                    }
                    1 => self.event(Event::GetDataset {
                        client,
                        request,
                        name,
                        owner: None,
                    }),
                    _ => self.event(Event::UnpublishDataset {
                        client,
                        request,
                        name,
                    }),
                }
            }
            62 if !clients.is_empty() => {
                let client = self.rng.pick(&clients).expect("non-empty");
                self.event(Event::ClientResumed { client });
            }
            68 if self.rng.chance(25) => self.change_policy(),
            _ => {
                if let Some(worker) = self.rng.pick(&workers) {
                    self.run_one(worker, true);
                }
            }
        }
    }

    /// A client submits a random graph over new and known keys.
    fn submit(&mut self, client: ClientId) {
        let module = [7u8; 32];
        let mut tasks: Vec<GraphTask> = Vec::new();
        let mut pool = self.live_known();
        for _ in 0..1 + self.rng.below(6) {
            let mut args = vec![GraphArg::Value(vec![self.rng.below(256) as u8])];
            for _ in 0..self.rng.below(3) {
                if let Some(dep) = self.rng.pick(&pool) {
                    args.push(GraphArg::Key(dep));
                }
            }
            let key = self.key();
            let function = ["inc", "add", "sum"][self.rng.below(3)];
            tasks.push(GraphTask {
                key,
                module,
                function: function.to_string(),
                args,
                retries: self.rng.below(2) as u32,
                pure: false,
            });
            pool.push(key);
        }
        let mut wants: Vec<TaskKey> = tasks
            .iter()
            .map(|t| t.key)
            .filter(|_| self.rng.chance(40))
            .collect();
        wants.push(tasks.last().expect("at least one").key);
        if self.rng.chance(10)
            && let Some(old) = self.rng.pick(&self.live_known())
        {
            wants.push(old); // a second future to a known key
        }
        if self.rng.chance(3) {
            // A dangling reference: the whole update is refused.
            let ghost = self.key();
            tasks[0].args.push(GraphArg::Key(ghost));
            self.event(Event::UpdateGraph {
                client,
                tasks,
                wants,
            });
            return;
        }
        // Every task is new (though one behind a waiting graph may name
        // that graph's keys, and counts them as new too); a limit refuses
        // the whole graph at once, counting what waits.
        let limits = self.core.tenant_policy(TenantId::OPEN).limits;
        let n = tasks.len() as u64;
        let pending = self.core.tenant_usage(TenantId::OPEN).pending()
            + self.core.tenant_waiting_tasks(TenantId::OPEN);
        let over = limits.graph_tasks_max.is_some_and(|max| n > max)
            || limits.tasks_queued_max.is_some_and(|max| pending + n > max);
        let last = tasks.last().expect("at least one").key;
        self.known.extend(tasks.iter().map(|t| t.key));
        let sim = self.clients.get_mut(&client).expect("exists");
        sim.held.extend(wants.iter().copied());
        self.event(Event::UpdateGraph {
            client,
            tasks,
            wants,
        });
        let waits = self.core.waits_for_admission(client, &last);
        if over {
            count(OVER_QUOTA);
        } else if waits {
            count(WAITED);
            assert!(
                limits.submit_tasks_per_s.is_some() || self.core.waiting_requests(client) > 1,
                "step {}: a graph waits without a rate",
                self.step
            );
        }
        // The last task is always wanted: an accepted graph keeps it (a
        // refused one's keys were dropped from `held` on the refusal).
        assert_eq!(
            self.core.state_of(&last) == StateName::Forgotten && !waits,
            over,
            "step {}: the graph was refused: {over} by the limits {limits:?}, pending {pending}",
            self.step
        );
    }

    /// The open tenant's limits change (a reload of the tenants file):
    /// random small limits, or none.
    fn change_policy(&mut self) {
        count(POLICY_CHANGED);
        // Half the time no limits at all, so that most work runs free.
        let free = self.rng.chance(50);
        let mut pick = |values: &[u64]| {
            let at = self.rng.below(values.len() * 2);
            values.get(at).copied().filter(|_| !free)
        };
        let limits = TenantLimits {
            tasks_queued_max: pick(&[4, 12, 40]),
            tasks_running_max: pick(&[1, 3]),
            stored_bytes_max: pick(&[300, 3_000, 30_000]),
            datasets_max: pick(&[0, 1, 3]),
            graph_tasks_max: pick(&[2, 5]),
            submit_tasks_per_s: pick(&[2, 20]),
            submit_burst_tasks: pick(&[1, 8]),
            ..TenantLimits::default()
        };
        let weight = 1 + self.rng.below(5) as u32;
        let policy = TenantPolicy {
            name: "open".into(),
            weight,
            limits,
        };
        self.event(Event::TenantPolicy {
            tenant: TenantId::OPEN,
            policy: Box::new(policy),
        });
    }
}
