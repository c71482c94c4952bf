//! Drives the scheduler core with random event sequences: clients submit
//! random graphs and drop futures, workers run, fail, lose fetches, join and
//! die, clients cancel (forced or not), ask for replicas and rebalancing,
//! and the cluster restarts. After every step: `Scheduler::validate`, plus the checks that tie the
//! core to the simulated world (what workers really hold, what clients were
//! told, no wanted result dropped). At the end everything drains: every
//! held key finishes or fails, and once clients let go nothing is left.
//!
//! `WEFT_SIM_SEEDS` (default 64) seeds of `WEFT_SIM_STEPS` (default 2,000)
//! steps each; a failure names its seed, and `WEFT_SIM_SEED=N` replays
//! exactly that one.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use weft_core::{
    ClientId, Command, ComputeTask, DatasetValue, Event, Input, Scheduler, SchedulerConfig,
    StateName, StimulusId, TenantId, ToClient, ToWorker, WorkerId,
};
use weft_schema::graph::{GraphArg, GraphTask, TaskKey};

/// Tasks given up by simulated workers on a steal request, over all seeds:
/// the run must exercise work stealing.
static STOLEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Copies asked of workers (replicate, rebalance) and futures cancelled,
/// over all seeds: the run must exercise both.
static FETCHES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static CANCELLED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// Datasets got with keys held, over all seeds.
static DATASETS_GOT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// splitmix64: small, seedable, good enough to pick events.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len())])
    }
}

#[derive(Default)]
struct SimWorker {
    nthreads: usize,
    queue: VecDeque<ComputeTask>,
    data: BTreeSet<TaskKey>,
    /// Steal answers not delivered yet: (key, run, stolen).
    steal_answers: Vec<(TaskKey, u32, bool)>,
    /// Copies asked for (`ToWorker::Fetch`) not made yet.
    fetches: Vec<Input>,
}

#[derive(Default)]
struct SimClient {
    held: BTreeSet<TaskKey>,
    /// The last thing the scheduler said about each held key.
    last: BTreeMap<TaskKey, ToClient>,
}

struct Sim {
    rng: Rng,
    core: Scheduler,
    stimulus: u64,
    workers: BTreeMap<WorkerId, SimWorker>,
    clients: BTreeMap<ClientId, SimClient>,
    next_id: u32,
    next_task: u64,
    known: Vec<TaskKey>,
    step: usize,
    last_event: String,
    /// Replicate/rebalance requests not answered yet, by client.
    operations: BTreeSet<(ClientId, u64)>,
    next_request: u64,
}

impl Sim {
    fn new(seed: u64) -> Sim {
        Sim {
            rng: Rng(seed),
            core: Scheduler::new(SchedulerConfig {
                worker_deaths_max: 2,
                ..SchedulerConfig::default()
            }),
            stimulus: 0,
            workers: BTreeMap::new(),
            clients: BTreeMap::new(),
            next_id: 0,
            next_task: 0,
            known: Vec::new(),
            step: 0,
            last_event: String::new(),
            operations: BTreeSet::new(),
            next_request: 0,
        }
    }

    fn event(&mut self, event: Event) {
        self.last_event = format!("{event:?}");
        self.stimulus += 1;
        self.core.handle(StimulusId(self.stimulus), event);
        while let Some(command) = self.core.poll_command() {
            match command {
                Command::Worker(worker, message) => {
                    let sim = self.workers.get_mut(&worker).unwrap_or_else(|| {
                        panic!("step {}: command for departed {worker}", self.step)
                    });
                    match message {
                        ToWorker::Compute(task) => sim.queue.push_back(task),
                        ToWorker::Fetch { inputs } => {
                            FETCHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            sim.fetches.extend(inputs);
                        }
                        ToWorker::Free { keys } => {
                            for key in keys {
                                sim.data.remove(&key);
                                sim.queue.retain(|t| t.key != key);
                            }
                        }
                        ToWorker::Steal { key, run } => {
                            // The first `nthreads` queued tasks are running.
                            let position =
                                sim.queue.iter().position(|t| t.key == key && t.run == run);
                            let stolen = position.is_some_and(|at| at >= sim.nthreads);
                            if let Some(at) = position.filter(|_| stolen) {
                                sim.queue.remove(at);
                            }
                            if stolen {
                                STOLEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                            sim.steal_answers.push((key, run, stolen));
                        }
                    }
                }
                Command::Client(client, message) => {
                    if let ToClient::Dataset { request, value } = &message {
                        assert!(
                            self.operations.remove(&(client, *request)),
                            "step {}: an unasked-for dataset reply",
                            self.step
                        );
                        if value.graph.is_none()
                            && let Some(sim) = self.clients.get_mut(&client)
                        {
                            DATASETS_GOT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            sim.held.extend(value.keys.iter().copied());
                        }
                        continue;
                    }
                    if let ToClient::Done { request, .. } = &message {
                        assert!(
                            self.operations.remove(&(client, *request)),
                            "step {}: {client} was told request {request} is done, which it did not ask or was told before",
                            self.step
                        );
                        continue;
                    }
                    if let Some(sim) = self.clients.get_mut(&client) {
                        let key = match &message {
                            ToClient::Finished { key, .. }
                            | ToClient::Erred { key, .. }
                            | ToClient::Lost { key } => *key,
                            ToClient::Cancelled { key, .. } => {
                                // The future is cancelled: the client no
                                // longer holds it.
                                CANCELLED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                sim.held.remove(key);
                                sim.last.remove(key);
                                continue;
                            }
                            ToClient::Rejected { .. }
                            | ToClient::Done { .. }
                            | ToClient::Dataset { .. } => continue,
                        };
                        sim.last.insert(key, message);
                    }
                }
            }
        }
        self.check();
    }

    fn check(&self) {
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
        for (worker, sim) in &self.workers {
            let held: BTreeSet<TaskKey> = self
                .core
                .has_what(*worker)
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            assert_eq!(
                held, sim.data,
                "step {step}: {worker}: scheduler's view differs from what it holds"
            );
        }
        for (client, sim) in &self.clients {
            for key in &sim.held {
                let state = self.core.state_of(key);
                assert!(
                    !matches!(state, StateName::Released | StateName::Forgotten),
                    "step {step}: {client} holds {key}, which is {state:?}: a wanted result was dropped"
                );
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

    fn new_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    fn key(&mut self) -> TaskKey {
        self.next_task += 1;
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_task.to_le_bytes());
        TaskKey(bytes)
    }

    fn live_known(&self) -> Vec<TaskKey> {
        self.known
            .iter()
            .copied()
            .filter(|k| self.core.state_of(k) != StateName::Forgotten)
            .collect()
    }

    fn random_step(&mut self) {
        let roll = self.rng.below(100);
        let workers: Vec<WorkerId> = self.workers.keys().copied().collect();
        let clients: Vec<ClientId> = self.clients.keys().copied().collect();
        match roll {
            0..=3 if workers.len() < 5 => {
                let worker = WorkerId(self.new_id());
                let nthreads = 1 + self.rng.below(3) as u32;
                let sim = SimWorker {
                    nthreads: nthreads as usize,
                    ..SimWorker::default()
                };
                self.workers.insert(worker, sim);
                self.event(Event::WorkerJoined { worker, nthreads });
            }
            4..=5 if !workers.is_empty() => {
                let worker = self.rng.pick(&workers).expect("non-empty");
                self.workers.remove(&worker);
                let reason = self
                    .rng
                    .chance(30)
                    .then(|| "restarted: memory limit".to_string());
                self.event(Event::WorkerLeft { worker, reason });
            }
            6..=8 if clients.len() < 4 => {
                let client = ClientId(self.new_id());
                self.clients.insert(client, SimClient::default());
                self.event(Event::ClientConnected {
                    client,
                    tenant: TenantId::OPEN,
                });
            }
            9 if !clients.is_empty() => {
                let client = self.rng.pick(&clients).expect("non-empty");
                self.clients.remove(&client);
                // Its pending requests die with it.
                self.operations.retain(|(c, _)| *c != client);
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
                let holders: Vec<WorkerId> = workers
                    .iter()
                    .copied()
                    .filter(|_| self.rng.chance(50))
                    .collect();
                let holders = if holders.is_empty() {
                    vec![workers[0]]
                } else {
                    holders
                };
                for w in &holders {
                    self.workers.get_mut(w).expect("live").data.insert(key);
                }
                self.known.push(key);
                self.clients
                    .get_mut(&client)
                    .expect("exists")
                    .held
                    .insert(key);
                self.event(Event::Scattered {
                    client,
                    key,
                    workers: holders,
                    nbytes: 100,
                });
            }
            44..=46 if workers.len() > 1 => {
                // A worker fetched a copy of something in memory elsewhere.
                let worker = self.rng.pick(&workers).expect("non-empty");
                let in_memory: Vec<TaskKey> = self
                    .live_known()
                    .into_iter()
                    .filter(|k| self.core.state_of(k) == StateName::Memory)
                    .collect();
                if let Some(key) = self.rng.pick(&in_memory) {
                    self.workers
                        .get_mut(&worker)
                        .expect("live")
                        .data
                        .insert(key);
                    self.event(Event::ReplicaAdded { worker, key });
                }
            }
            47..=52 if !workers.is_empty() => {
                let worker = self.rng.pick(&workers).expect("non-empty");
                self.answer_steals(worker);
            }
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
            56 if self.rng.chance(20) => {
                // A restart: workers clear themselves in place.
                for sim in self.workers.values_mut() {
                    sim.queue.clear();
                    sim.data.clear();
                    sim.steal_answers.clear();
                    sim.fetches.clear();
                }
                self.event(Event::Restart);
                assert_eq!(self.core.task_count(), 0, "tasks remain after a restart");
                assert!(
                    self.operations.is_empty(),
                    "operations not answered by the restart: {:?}",
                    self.operations
                );
            }
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
        self.known.extend(tasks.iter().map(|t| t.key));
        self.clients
            .get_mut(&client)
            .expect("exists")
            .held
            .extend(wants.iter().copied());
        self.event(Event::UpdateGraph {
            client,
            tasks,
            wants,
        });
    }

    /// `worker` delivers its pending steal answers.
    fn answer_steals(&mut self, worker: WorkerId) {
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
    fn answer_fetches(&mut self, worker: WorkerId) {
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
    fn run_one(&mut self, worker: WorkerId, may_fail: bool) {
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
            let fetchable = input.holders.iter().any(|h| {
                self.workers
                    .get(h)
                    .is_some_and(|w| w.data.contains(&input.key))
            });
            if !here && !fetchable {
                missing.push((input.key, input.holders.first().copied().unwrap_or(worker)));
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

    /// No more chaos: workers run everything; every held key must settle;
    /// then clients let go and nothing may remain.
    fn drain(&mut self) {
        if self.workers.is_empty() {
            let worker = WorkerId(self.new_id());
            let sim = SimWorker {
                nthreads: 2,
                ..SimWorker::default()
            };
            self.workers.insert(worker, sim);
            self.event(Event::WorkerJoined {
                worker,
                nthreads: 2,
            });
        }
        for _ in 0..1_000_000 {
            let answering = self
                .workers
                .iter()
                .find(|(_, w)| !w.steal_answers.is_empty())
                .map(|(id, _)| *id);
            if let Some(worker) = answering {
                self.answer_steals(worker);
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
            let Some(worker) = busy else { break };
            self.run_one(worker, false);
        }
        for (client, sim) in &self.clients {
            for key in &sim.held {
                let state = self.core.state_of(key);
                assert!(
                    matches!(state, StateName::Memory | StateName::Erred),
                    "{client} holds {key}, still {state:?} after draining (on {:?}; queues: {:?}; answers: {:?}):\n{:#?}",
                    self.core.processing_on(key),
                    self.workers
                        .iter()
                        .map(|(w, s)| (
                            w,
                            s.queue.iter().map(|t| (t.key, t.run)).collect::<Vec<_>>()
                        ))
                        .collect::<Vec<_>>(),
                    self.workers
                        .iter()
                        .map(|(w, s)| (w, s.steal_answers.clone()))
                        .collect::<Vec<_>>(),
                    self.core.story(key)
                );
            }
        }
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
}

fn run(seed: u64, steps: usize) {
    let mut sim = Sim::new(seed);
    for step in 0..steps {
        sim.step = step;
        sim.random_step();
    }
    sim.drain();
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn random_event_sequences_keep_every_invariant() {
    let steps = env_number("WEFT_SIM_STEPS", 2_000) as usize;
    let seeds: Vec<u64> = match std::env::var("WEFT_SIM_SEED") {
        Ok(seed) => vec![seed.parse().expect("WEFT_SIM_SEED is a number")],
        Err(_) => (0..env_number("WEFT_SIM_SEEDS", 64)).collect(),
    };
    for seed in seeds {
        if std::panic::catch_unwind(|| run(seed, steps)).is_err() {
            panic!("simulation failed with seed {seed}; replay it with WEFT_SIM_SEED={seed}");
        }
    }
    if std::env::var("WEFT_SIM_SEED").is_err() {
        assert!(
            STOLEN.load(std::sync::atomic::Ordering::Relaxed) > 0,
            "no task was ever stolen: the simulation does not exercise work stealing"
        );
        assert!(FETCHES.load(std::sync::atomic::Ordering::Relaxed) > 0);
        assert!(CANCELLED.load(std::sync::atomic::Ordering::Relaxed) > 0);
        assert!(DATASETS_GOT.load(std::sync::atomic::Ordering::Relaxed) > 0);
    }
}
