//! The simulated world and its clock: the core as the scheduler's state
//! task drives it (events with the time, each event's commands at once,
//! placement once per batch, timers when due), the workers and clients,
//! and the step loop that advances time, lets faults happen, and processes
//! whatever is due in a random order, checking everything after each.

use crate::clients::SimClient;
use crate::network::Link;
use crate::workers::{Expected, Pending, SimModule, SimValues, SimWorker, compute, data_port};
use crate::{
    EVENTS, FREE_CROSSED_FINISHED, PAUSED, READ_BACK, Rng, STALE_REPORTS, STEAL_CROSSED_FINISHED,
    TTL_REJOINS, count,
};
use std::collections::BTreeMap;
use std::time::Duration;
use weft_core::{
    ClientId, Command, Event, Scheduler, SchedulerConfig, StimulusId, Time, ToClient, WorkerId,
};
use weft_proto::messages::{ClientEvent, WorkerCommand, WorkerReport};
use weft_proto::tickets::{Requester, Ticket, TicketScope};
use weft_scheduler::worker_wire::{FromWorker, from_worker, to_worker};
use weft_worker::RestartMode;
use weft_worker::state::{
    Instruction, JobDone, Settings, Stimulus, Thresholds, Values, WorkerState,
};

/// Silent workers are removed after this.
pub(crate) const WORKER_TTL: Duration = Duration::from_secs(2);
/// A disconnected client's futures are kept this long.
pub(crate) const CLIENT_GRACE: Duration = Duration::from_secs(1);
/// Workers send metrics (their heartbeat) this often.
const METRICS_INTERVAL: Duration = Duration::from_millis(300);
/// How long a fetch waits for a holder that does not answer.
const FETCH_TIMEOUT: Duration = Duration::from_millis(500);
/// A worker pauses above this many bytes of values in memory.
const PAUSE_BYTES: u64 = 16 * 1024;
/// The module every task is in.
pub(crate) const MODULE: [u8; 32] = [1; 32];
/// Commands a worker reads before it ends a batch at most (the driver's
/// `BATCH`).
const BATCH: usize = 512;
/// Items processed per step at most (a bound, never reached in practice).
const ITEMS_PER_STEP_MAX: usize = 100_000;

/// Something due now.
#[derive(Debug, Clone, Copy)]
enum Due {
    Report(WorkerId),
    Command(WorkerId),
    Closed(WorkerId),
    Worker(WorkerId),
    ClientRequest(ClientId),
    ClientNews(ClientId),
    Timer,
}

pub(crate) struct World {
    pub(crate) rng: Rng,
    pub(crate) now: Time,
    stimulus: u64,
    pub(crate) core: Scheduler,
    pub(crate) workers: BTreeMap<WorkerId, SimWorker>,
    pub(crate) links: BTreeMap<WorkerId, Link>,
    pub(crate) clients: BTreeMap<ClientId, SimClient>,
    pub(crate) expected: Expected,
    pub(crate) next_worker: u32,
    pub(crate) next_key: u64,
    pub(crate) step: u64,
    /// Instances of killed workers whose nanny starts them again, and when.
    pub(crate) restarting: Vec<(Time, u64)>,
    /// Faults happen (off while draining).
    pub(crate) chaos: bool,
    /// The core handled something since the last check.
    pub(crate) core_touched: bool,
    pub(crate) next_client: u32,
}

/// `WEFT_CLUSTER_SIM_TRACE`: a text (a key in hex, say); every message
/// whose debug form contains it is printed as it is sent and delivered.
fn trace(what: impl FnOnce() -> String, message: &dyn std::fmt::Debug) {
    thread_local! {
        static NEEDLE: Option<String> = std::env::var("WEFT_CLUSTER_SIM_TRACE").ok();
    }
    NEEDLE.with(|needle| {
        if let Some(needle) = needle {
            let text = format!("{message:?}");
            if text.contains(needle.as_str()) {
                eprintln!("{}: {text}", what());
            }
        }
    });
}

impl World {
    pub(crate) fn new(seed: u64) -> World {
        let mut world = World {
            rng: Rng(seed),
            now: Time::ZERO,
            stimulus: 0,
            core: Scheduler::new(SchedulerConfig {
                worker_ttl: WORKER_TTL,
                client_grace: CLIENT_GRACE,
                worker_deaths_max: 4,
                ..SchedulerConfig::default()
            }),
            workers: BTreeMap::new(),
            links: BTreeMap::new(),
            clients: BTreeMap::new(),
            expected: Expected::default(),
            next_worker: 0,
            next_key: 0,
            step: 0,
            restarting: Vec::new(),
            chaos: true,
            core_touched: false,
            next_client: 0,
        };
        for instance in 0..3 {
            world.start_worker(instance);
        }
        for _ in 0..2 {
            world.connect_client();
        }
        world
    }

    /// Runs `steps` steps with faults, then drains.
    pub(crate) fn run(mut self, steps: u64) {
        for _ in 0..steps {
            self.step += 1;
            let advance = self.rng.below(4_000);
            self.now = self.now.after(Duration::from_micros(advance));
            self.act();
            self.process_due();
        }
        self.drain();
    }

    /// One step without faults; true if nothing at all is left to do.
    pub(crate) fn quiet_step(&mut self) {
        self.step += 1;
        let next = self
            .next_due()
            .unwrap_or(self.now.after(Duration::from_millis(5)));
        self.now = self.now.max(next);
        self.act();
        self.process_due();
    }

    /// A new worker process with `instance`, registered.
    pub(crate) fn start_worker(&mut self, instance: u64) -> WorkerId {
        self.next_worker += 1;
        let id = WorkerId(self.next_worker);
        let nthreads = 1 + self.rng.below(2) as usize;
        let state = WorkerState::new(
            Settings {
                id,
                restart: RestartMode::InPlace,
                metrics_interval: METRICS_INTERVAL,
                thresholds: Thresholds {
                    limit: PAUSE_BYTES * 2,
                    target: None,
                    pause: Some(PAUSE_BYTES),
                    terminate: None,
                    terminate_fraction: 0.95,
                },
                modules_in_memory_max: 4,
                modules_in_memory_bytes_max: u64::MAX,
            },
            SimValues::new(self.expected.clone()),
        );
        self.workers.insert(
            id,
            SimWorker {
                state,
                nthreads,
                queued: Default::default(),
                running: Vec::new(),
                pending: Vec::new(),
                paused: false,
                hung_until: None,
                instance,
            },
        );
        self.links.insert(id, Link::new(nthreads as u32, instance));
        self.event(Event::WorkerJoined {
            worker: id,
            nthreads: nthreads as u32,
            instance,
        });
        id
    }

    /// A new client connects.
    pub(crate) fn connect_client(&mut self) {
        self.next_client += 1;
        let client = ClientId(self.next_client);
        self.clients.insert(client, SimClient::default());
        self.event(Event::ClientConnected {
            client,
            tenant: weft_core::TenantId::OPEN,
        });
    }

    /// A random delay on the network.
    pub(crate) fn delay(&mut self) -> Time {
        let micros = if self.rng.chance(10) {
            self.rng.below(40_000)
        } else {
            self.rng.below(2_000)
        };
        self.now.after(Duration::from_micros(micros))
    }

    /// Hands `event` to the core and routes its commands.
    pub(crate) fn event(&mut self, event: Event) {
        self.stimulus += 1;
        count(EVENTS);
        self.core_touched = true;
        self.core.handle(self.now, StimulusId(self.stimulus), event);
        self.route(false);
    }

    /// Routes the core's commands: each event's, or with `placing` the
    /// placement pass's too.
    fn route(&mut self, placing: bool) {
        self.core_touched |= placing;
        while let Some(command) = if placing {
            self.core.poll_command()
        } else {
            self.core.poll_immediate()
        } {
            match command {
                Command::Worker(worker, message) => {
                    let command = to_worker(
                        worker,
                        message,
                        |holder| {
                            // As the state task: until it sees the
                            // connection close, a dead worker is named.
                            self.links.get(&holder).map(|_| data_port(holder))
                        },
                        |scope: TicketScope, requester: Requester| Ticket {
                            scope,
                            requester,
                            expires_unix_s: u64::MAX,
                            mac: [0; 32],
                        },
                    );
                    self.send_worker(worker, command);
                }
                Command::Client(client, news) => self.tell_client(client, news),
                Command::DisconnectClient { client, .. } => {
                    panic!(
                        "step {}: {client} was disconnected for silence, but clients beat",
                        self.step
                    )
                }
                Command::ClientExpired { client } => self.client_expired(client),
            }
        }
    }

    /// Queues a command on `worker`'s link; dropped if the connection is
    /// gone, as a closed socket drops it.
    fn send_worker(&mut self, worker: WorkerId, command: WorkerCommand) {
        trace(|| format!("{} to {worker}", self.now), &command);
        let due = self.delay();
        if let Some(link) = self.links.get_mut(&worker).filter(|l| !l.closing) {
            link.to_worker.send(due, &command, None);
        }
    }

    fn tell_client(&mut self, client: ClientId, news: ToClient) {
        let due = self.delay();
        if let Some(sim) = self.clients.get_mut(&client) {
            assert!(
                !sim.is_away(),
                "step {}: {news:?} sent to {client}, which is away",
                self.step
            );
            if sim.is_dropped() {
                // The connection is gone; the core has not heard yet.
                return;
            }
            sim.inbox.send(due, &ClientEvent::Key(news), None);
        }
    }

    /// Everything due now, in a random order; checks after each.
    fn process_due(&mut self) {
        for _ in 0..ITEMS_PER_STEP_MAX {
            let due = self.due_now();
            let Some(item) = self.rng.pick(&due) else {
                self.route(true);
                crate::checks::check(&mut *self);
                return;
            };
            self.process(item);
            if self.rng.chance(30) {
                self.route(true);
            }
            crate::checks::check(&mut *self);
        }
        panic!(
            "step {}: more than {ITEMS_PER_STEP_MAX} items due at once",
            self.step
        );
    }

    fn due_now(&self) -> Vec<Due> {
        let now = self.now;
        let mut due = Vec::new();
        for (id, link) in &self.links {
            if link.to_core.is_due(now) {
                due.push(Due::Report(*id));
            } else if link.closing && link.to_core.is_empty() {
                due.push(Due::Closed(*id));
            }
            let hung = self.workers.get(id).is_some_and(|w| w.hung(now));
            if !hung && link.to_worker.is_due(now) {
                due.push(Due::Command(*id));
            }
        }
        for (id, worker) in &self.workers {
            if !worker.hung(now) && worker.next_due().is_some_and(|t| t <= now) {
                due.push(Due::Worker(*id));
            }
        }
        for (id, client) in &self.clients {
            if client.outbox.front().is_some_and(|(t, _)| *t <= now) {
                due.push(Due::ClientRequest(*id));
            }
            if client.inbox.is_due(now) {
                due.push(Due::ClientNews(*id));
            }
        }
        if self.core.poll_timeout().is_some_and(|t| t <= now) {
            due.push(Due::Timer);
        }
        due
    }

    /// When the next thing is due (for draining).
    fn next_due(&self) -> Option<Time> {
        let links = self.links.values().flat_map(|l| {
            let closed = (l.closing && l.to_core.is_empty()).then_some(self.now);
            [l.to_core.next_due(), l.to_worker.next_due(), closed]
        });
        let workers = self.workers.values().map(|w| {
            w.next_due()
                .map(|t| w.hung_until.map_or(t, |until| t.max(until)))
        });
        let clients = self
            .clients
            .values()
            .flat_map(|c| [c.outbox.front().map(|(t, _)| *t), c.inbox.next_due()]);
        links
            .chain(workers)
            .chain(clients)
            .chain([self.core.poll_timeout()])
            .flatten()
            .chain(self.restarting.iter().map(|(t, _)| *t))
            .min()
    }

    fn process(&mut self, item: Due) {
        match item {
            Due::Report(worker) => self.deliver_report(worker),
            Due::Command(worker) => self.deliver_command(worker),
            Due::Closed(worker) => {
                self.links.remove(&worker);
                self.event(Event::WorkerLeft {
                    worker,
                    reason: None,
                });
            }
            Due::Worker(worker) => self.worker_work(worker),
            Due::ClientRequest(client) => {
                let sim = self.clients.get_mut(&client).expect("a client");
                let (_, event) = sim.outbox.pop_front().expect("due");
                if matches!(event, Event::ClientResumed { .. }) {
                    count(crate::RESUMED);
                }
                if matches!(event, Event::ClientDisconnected { .. }) {
                    let back = self.rng.below(2 * CLIENT_GRACE.as_micros() as u64);
                    let back_at = self.now.after(Duration::from_micros(back));
                    self.clients
                        .get_mut(&client)
                        .expect("a client")
                        .gone_away(back_at);
                }
                self.event(event);
            }
            Due::ClientNews(client) => {
                let sim = self.clients.get_mut(&client).expect("a client");
                let news = sim.inbox.receive().expect("due");
                sim.told(news, &self.expected);
            }
            Due::Timer => {
                self.stimulus += 1;
                count(EVENTS);
                self.core_touched = true;
                self.core
                    .handle_timeout(self.now, StimulusId(self.stimulus));
                self.route(false);
            }
        }
    }

    /// The scheduler reads `worker`'s next report, as its state task
    /// would.
    fn deliver_report(&mut self, worker: WorkerId) {
        let link = self.links.get_mut(&worker).expect("a link");
        let report = link.to_core.receive().expect("due");
        trace(
            || format!("{} the scheduler reads from {worker}", self.now),
            &report,
        );
        if !self.core.has_worker(worker) && !matches!(report, WorkerReport::Restarted) {
            count(STALE_REPORTS);
        }
        let event = match from_worker(worker, report) {
            FromWorker::Event(event) => event,
            FromWorker::GetModule { hash } => {
                self.send_worker(
                    worker,
                    WorkerCommand::Module {
                        hash,
                        bytes: Vec::new(),
                    },
                );
                return;
            }
            FromWorker::ModuleRefused { .. }
            | FromWorker::Register
            | FromWorker::Leaving { .. } => {
                panic!(
                    "step {}: {worker} refused the module, registered twice or left",
                    self.step
                )
            }
            FromWorker::Metrics(_) => Event::WorkerHeartbeat { worker },
            FromWorker::Restarted => {
                if !self.core.has_worker(worker) {
                    count(TTL_REJOINS);
                }
                // From the scheduler's entry: the process may be gone
                // since, its connection not yet seen closed.
                let link = &self.links[&worker];
                Event::WorkerJoined {
                    worker,
                    nthreads: link.nthreads,
                    instance: link.instance,
                }
            }
        };
        self.event(event);
    }

    /// `worker` reads its next command.
    fn deliver_command(&mut self, worker: WorkerId) {
        // As the driver does, a worker sometimes reads every command that
        // has arrived before it ends the batch (up to its batch size).
        let batch = if self.rng.chance(50) { BATCH } else { 1 };
        let mut stimuli = Vec::new();
        let now = self.now;
        let link = self.links.get_mut(&worker).expect("a link");
        while stimuli.len() < batch && link.to_worker.is_due(now) {
            let command = link.to_worker.receive().expect("due");
            trace(|| format!("{now} {worker} reads"), &command);
            match &command {
                WorkerCommand::Free { keys }
                    if keys
                        .iter()
                        .any(|key| link.to_core.carries_finished(*key, None)) =>
                {
                    count(FREE_CROSSED_FINISHED)
                }
                WorkerCommand::Steal { key, run }
                    if link.to_core.carries_finished(*key, Some(*run)) =>
                {
                    count(STEAL_CROSSED_FINISHED)
                }
                _ => {}
            }
            stimuli.push(Stimulus::Command(command));
        }
        if stimuli.len() > 1 {
            count(crate::BATCHES);
        }
        self.worker_batch(worker, stimuli);
    }

    /// Hands a stimulus to `worker`'s state and carries out what it says.
    pub(crate) fn worker_stimulus(&mut self, worker: WorkerId, stimulus: Stimulus<SimModule>) {
        self.worker_batch(worker, vec![stimulus]);
    }

    /// Hands stimuli to `worker`'s state, ends the batch and carries out
    /// what it says.
    fn worker_batch(&mut self, worker: WorkerId, stimuli: Vec<Stimulus<SimModule>>) {
        let now = self.now;
        let sim = self.workers.get_mut(&worker).expect("a live worker");
        for stimulus in stimuli {
            count(EVENTS);
            sim.state.handle(now, stimulus);
        }
        sim.state.end_batch();
        let instructions = sim.state.take_instructions();
        for instruction in instructions {
            self.carry_out(worker, instruction);
        }
        let mut durations = Vec::new();
        for _ in 0..4 {
            durations.push(Duration::from_micros(200 + self.rng.below(20_000)));
        }
        let sim = self.workers.get_mut(&worker).expect("a live worker");
        let mut durations = durations.into_iter().cycle();
        sim.start_jobs(now, || durations.next().expect("cycled"));
    }

    fn carry_out(&mut self, worker: WorkerId, instruction: Instruction<SimModule>) {
        let due = self.delay();
        let sim = self.workers.get_mut(&worker).expect("a live worker");
        match instruction {
            Instruction::Report(report) => {
                trace(|| format!("{} {worker} reports", self.now), &report);
                if matches!(report, WorkerReport::StealResponse { stolen: true, .. }) {
                    count(crate::STOLEN);
                }
                let finished = match &report {
                    WorkerReport::Finished { key, run, .. } => Some((*key, *run)),
                    _ => None,
                };
                let link = self.links.get_mut(&worker).expect("a live worker's link");
                link.to_core.send(due, &report, finished);
            }
            Instruction::Execute(job) => sim.queued.push(job.tenant, job.weight, job),
            Instruction::Fetch { epoch, wanted } => sim.pending.push((
                due,
                Pending::Fetch {
                    epoch,
                    wanted,
                    waited: false,
                },
            )),
            Instruction::ReadBack { epoch, keys } => {
                sim.pending.push((due, Pending::ReadBack { epoch, keys }))
            }
            Instruction::Load { hash, .. } => sim.pending.push((due, Pending::Load { hash })),
            Instruction::DeleteFiles(_) => {}
            Instruction::Pause(paused) => {
                if paused {
                    count(PAUSED);
                }
                sim.paused = paused;
            }
            Instruction::Stop(stop) => panic!("step {}: {worker} stopped: {stop:?}", self.step),
        }
    }

    /// `worker`'s own work that is due: finished jobs, helpers' results,
    /// the metrics tick.
    fn worker_work(&mut self, worker: WorkerId) {
        let now = self.now;
        let sim = self.workers.get_mut(&worker).expect("a live worker");
        if let Some(at) = sim.running.iter().position(|(t, ..)| *t <= now) {
            let (_, took, job, charge) = sim.running.remove(at);
            sim.queued.finished(job.tenant, charge, took);
            let result = match compute(&job.spec, &job.inputs) {
                Some(value) => Ok(value),
                None => {
                    count(crate::TASK_ERRORS);
                    Err("the task failed".to_string())
                }
            };
            let done = JobDone {
                seq: job.seq,
                key: job.key,
                result,
                duration: Duration::from_micros(100),
            };
            return self.worker_stimulus(worker, Stimulus::JobDone(done));
        }
        if let Some(at) = sim.pending.iter().position(|(t, _)| *t <= now) {
            let (_, pending) = sim.pending.remove(at);
            let stimulus = match pending {
                Pending::Fetch {
                    epoch,
                    wanted,
                    waited: false,
                } if wanted.iter().any(|w| self.blocks_on_hung_holder(w)) => {
                    // A stopped holder answers nothing: the fetcher gives
                    // it up at its timeout, then tries the next.
                    let at = now.after(FETCH_TIMEOUT);
                    let sim = self.workers.get_mut(&worker).expect("a live worker");
                    sim.pending.push((
                        at,
                        Pending::Fetch {
                            epoch,
                            wanted,
                            waited: true,
                        },
                    ));
                    return;
                }
                Pending::Fetch { epoch, wanted, .. } => Stimulus::Fetched {
                    epoch,
                    results: wanted.iter().map(|w| self.fetch(w)).collect(),
                },
                Pending::ReadBack { epoch, keys } => {
                    count(READ_BACK);
                    let values = &self.workers[&worker].state.values().held;
                    let results = keys
                        .iter()
                        .map(|key| {
                            let value = values.get(key).map(|(v, _)| v.clone()).ok_or(worker);
                            (*key, value)
                        })
                        .collect();
                    Stimulus::Fetched { epoch, results }
                }
                Pending::Load { hash } => Stimulus::Loaded {
                    hash,
                    result: Ok(SimModule),
                },
            };
            return self.worker_stimulus(worker, stimulus);
        }
        if sim.state.poll_timeout() <= now {
            let process_bytes = sim.state.values().usage().memory_bytes;
            self.worker_stimulus(worker, Stimulus::Tick { process_bytes });
        }
    }

    /// Whether fetching `wanted` meets a hung holder before one that gives
    /// it.
    fn blocks_on_hung_holder(&self, wanted: &weft_worker::state::Wanted) -> bool {
        for (holder, _) in &wanted.holders {
            match self.workers.get(holder) {
                Some(sim) if sim.hung(self.now) => return true,
                Some(sim) if sim.state.values().held.contains_key(&wanted.key) => return false,
                _ => {}
            }
        }
        false
    }

    /// One input from its holders, tried in order: the first live, not
    /// hung holder that has it gives it.
    fn fetch(&self, wanted: &weft_worker::state::Wanted) -> weft_worker::state::Fetched {
        for (holder, _) in &wanted.holders {
            if let Some(sim) = self.workers.get(holder)
                && !sim.hung(self.now)
                && let Some((value, _)) = sim.state.values().held.get(&wanted.key)
            {
                return (wanted.key, Ok(value.clone()));
            }
        }
        count(crate::FETCH_FAILED);
        (wanted.key, Err(wanted.holders[0].0))
    }
}
