//! Fair share between tenants, measured in a deterministic simulation: the
//! real core, workers whose executor threads take the tasks they are sent
//! as the real ones do (one queue per tenant, shared by weighted fair
//! queuing on the time the tasks took: `weft_core::TenantQueues`; each task
//! taking its tenant's duration, varied by up to ±50 % by its key), and tenants that keep a backlog by submitting more as their
//! tasks finish (and releasing what finished). Executor time is counted per
//! tenant in 10-second windows of simulated time:
//!
//! - k backlogged tenants of equal weight (and different task durations)
//!   each get 1/k ± 0.05 of the slot-seconds in every window, with Jain's
//!   index at least 0.99;
//! - weights 3:1 give 0.75 / 0.25 ± 0.05;
//! - a lone tenant gets at least 95 % of the slots;
//! - a tenant that submits one task while another has 10^6 queued has it
//!   sent to a worker in the first placement pass that has room.

use std::collections::{HashMap, HashSet};
use weft_core::{
    Charge, ClientId, Command, Event, Scheduler, SchedulerConfig, StimulusId, TenantId,
    TenantLimits, TenantPolicy, TenantQueues, Time, ToClient, ToWorker, WorkerId,
};
use weft_schema::graph::{GraphArg, GraphTask, TaskKey};

/// The length of a measuring window.
const WINDOW_US: u64 = 10_000_000;

/// A task being run by an executor thread.
#[derive(Debug, Clone, Copy)]
struct Running {
    key: TaskKey,
    run: u32,
    tenant: usize,
    tenant_id: TenantId,
    charge: Charge,
    start_us: u64,
    end_us: u64,
}

/// A worker: its threads and the tasks sent to it.
struct Executor {
    id: WorkerId,
    threads: Vec<Option<Running>>,
    waiting: TenantQueues<(TaskKey, u32)>,
    /// What `waiting` holds that has not been given up.
    sent: HashSet<(TaskKey, u32)>,
}

/// A tenant's client, which keeps `backlog` tasks submitted and not
/// finished, until it has submitted `total`.
struct Submitter {
    client: ClientId,
    tenant: TenantId,
    duration_us: u64,
    backlog: u64,
    total: u64,
    submitted: u64,
    unfinished: u64,
}

struct Sim {
    core: Scheduler,
    now_us: u64,
    stimulus: u64,
    executors: Vec<Executor>,
    submitters: Vec<Submitter>,
    /// Which submitter each wire key belongs to, and its name.
    keys: HashMap<TaskKey, (usize, TaskKey)>,
    /// Executor microseconds per window, per submitter.
    windows: Vec<Vec<u64>>,
    /// `validate` runs after every this many events (0: never; the core's
    /// own simulation validates after every event).
    validate_every: u64,
    /// Every task sent to a worker, in order, with the time: (submitter,
    /// time).
    dispatched: Vec<(usize, u64)>,
}

impl Sim {
    /// `workers` workers of `threads` threads, and one submitter per entry
    /// of `tenants`: (weight, task duration in µs, backlog, total).
    fn new(workers: u32, threads: u32, tenants: &[(u32, u64, u64, u64)]) -> Sim {
        let config = SchedulerConfig {
            // No heartbeats in this simulation.
            worker_ttl: std::time::Duration::ZERO,
            client_ttl: std::time::Duration::ZERO,
            ..SchedulerConfig::default()
        };
        let mut sim = Sim {
            core: Scheduler::new(config),
            now_us: 0,
            stimulus: 0,
            executors: Vec::new(),
            submitters: Vec::new(),
            keys: HashMap::new(),
            windows: Vec::new(),
            validate_every: 64,
            dispatched: Vec::new(),
        };
        for w in 1..=workers {
            let id = WorkerId(w);
            sim.executors.push(Executor {
                id,
                threads: vec![None; threads as usize],
                waiting: TenantQueues::default(),
                sent: HashSet::new(),
            });
            sim.event(Event::WorkerJoined {
                worker: id,
                nthreads: threads,
                instance: u64::from(w),
            });
        }
        for (at, &(weight, duration_us, backlog, total)) in tenants.iter().enumerate() {
            let tenant = TenantId(at as u32 + 1);
            let client = ClientId(at as u32 + 1);
            sim.event(Event::TenantPolicy {
                tenant,
                policy: Box::new(TenantPolicy {
                    name: format!("tenant-{}", at + 1),
                    weight,
                    limits: TenantLimits::default(),
                }),
            });
            sim.event(Event::ClientConnected { client, tenant });
            sim.submitters.push(Submitter {
                client,
                tenant,
                duration_us,
                backlog,
                total,
                submitted: 0,
                unfinished: 0,
            });
        }
        sim
    }

    fn event(&mut self, event: Event) {
        self.stimulus += 1;
        self.core.handle(
            Time::from_micros(self.now_us),
            StimulusId(self.stimulus),
            event,
        );
        let commands: Vec<Command> = std::iter::from_fn(|| self.core.poll_command()).collect();
        if self.validate_every > 0 && self.stimulus.is_multiple_of(self.validate_every) {
            self.core.validate().expect("invariants hold");
        }
        for command in commands {
            self.carry_out(command);
        }
    }

    fn carry_out(&mut self, command: Command) {
        match command {
            Command::Worker(worker, ToWorker::Compute(task)) => {
                let (submitter, _) = self.keys[&task.key];
                self.dispatched.push((submitter, self.now_us));
                let executor = self.executor(worker);
                executor.sent.insert((task.key, task.run));
                executor
                    .waiting
                    .push(task.tenant, task.weight, (task.key, task.run));
            }
            Command::Worker(worker, ToWorker::Steal { key, run }) => {
                let executor = self.executor(worker);
                // Given up: skipped when it comes up, as the worker does.
                let stolen = executor.sent.remove(&(key, run));
                self.event(Event::StealResponse {
                    worker,
                    key,
                    run,
                    stolen,
                });
            }
            Command::Client(client, ToClient::Finished { key, .. }) => {
                let at = self.submitter_of(client);
                self.submitters[at].unfinished -= 1;
                self.event(Event::ReleaseKeys {
                    client,
                    keys: vec![key],
                });
                self.top_up(at);
            }
            Command::Client(_, other @ (ToClient::Erred { .. } | ToClient::Rejected { .. })) => {
                panic!("unexpected {other:?}")
            }
            _ => {}
        }
    }

    fn executor(&mut self, worker: WorkerId) -> &mut Executor {
        self.executors
            .iter_mut()
            .find(|e| e.id == worker)
            .expect("a known worker")
    }

    fn submitter_of(&self, client: ClientId) -> usize {
        self.submitters
            .iter()
            .position(|s| s.client == client)
            .expect("a known client")
    }

    /// Submits `n` more tasks of submitter `at`, as one graph.
    fn submit(&mut self, at: usize, n: u64) {
        let s = &mut self.submitters[at];
        let (client, tenant) = (s.client, s.tenant);
        let first = s.submitted;
        s.submitted += n;
        s.unfinished += n;
        let function = format!("work{at}");
        let tasks: Vec<GraphTask> = (first..first + n)
            .map(|i| {
                let mut name = [0u8; 16];
                name[..8].copy_from_slice(&i.to_le_bytes());
                name[8] = at as u8;
                let arg = vec![GraphArg::Value(i.to_le_bytes().to_vec())];
                GraphTask::new_impure(TaskKey(name), [7; 32], function.as_str(), arg)
            })
            .collect();
        for task in &tasks {
            let wire = weft_core::wire_key(tenant, &task.key);
            self.keys.insert(wire, (at, task.key));
        }
        let wants = tasks.iter().map(|t| t.key).collect();
        self.event(Event::UpdateGraph {
            client,
            tasks,
            wants,
        });
    }

    /// Keeps submitter `at`'s backlog full, up to its total.
    fn top_up(&mut self, at: usize) {
        let s = &self.submitters[at];
        let short = s.backlog.saturating_sub(s.unfinished);
        let left = s.total - s.submitted;
        if short >= s.backlog / 2 && left > 0 {
            self.submit(at, short.min(left));
        }
    }

    /// How long a task of submitter `at` runs: its duration, varied by
    /// ±50 % by its key.
    fn duration_of(&self, key: &TaskKey, at: usize) -> u64 {
        let vary = u64::from(key.0[0] ^ key.0[15].wrapping_mul(31)) % 101; // 0..=100
        let base = self.submitters[at].duration_us;
        base / 2 + base * vary / 100
    }

    /// Starts what free threads can start, then runs to the next finish;
    /// `false` when nothing runs.
    fn step(&mut self) -> bool {
        for e in 0..self.executors.len() {
            for t in 0..self.executors[e].threads.len() {
                if self.executors[e].threads[t].is_some() {
                    continue;
                }
                let executor = &mut self.executors[e];
                let next = loop {
                    let Some((tenant, (key, run), charge)) = executor.waiting.pop() else {
                        break None;
                    };
                    if executor.sent.remove(&(key, run)) {
                        break Some((tenant, key, run, charge));
                    }
                    // Given up while queued: it never runs.
                    let zero = std::time::Duration::ZERO;
                    executor.waiting.finished(tenant, charge, zero);
                };
                let Some((tenant, key, run, charge)) = next else {
                    break;
                };
                let (at, _) = self.keys[&key];
                let end_us = self.now_us + self.duration_of(&key, at);
                self.executors[e].threads[t] = Some(Running {
                    key,
                    run,
                    tenant: at,
                    tenant_id: tenant,
                    charge,
                    start_us: self.now_us,
                    end_us,
                });
            }
        }
        let next = self
            .executors
            .iter()
            .enumerate()
            .flat_map(|(e, ex)| {
                ex.threads
                    .iter()
                    .enumerate()
                    .filter_map(move |(t, r)| r.map(|r| (r.end_us, e, t)))
            })
            .min();
        let Some((end_us, e, t)) = next else {
            return false;
        };
        let running = self.executors[e].threads[t].take().expect("running");
        self.now_us = end_us;
        self.count(&running);
        let took = std::time::Duration::from_micros(running.end_us - running.start_us);
        let waiting = &mut self.executors[e].waiting;
        waiting.finished(running.tenant_id, running.charge, took);
        let worker = self.executors[e].id;
        self.event(Event::TaskFinished {
            worker,
            key: running.key,
            run: running.run,
            nbytes: 8,
            duration_us: running.end_us - running.start_us,
        });
        true
    }

    /// Adds a finished run's executor time to its windows.
    fn count(&mut self, running: &Running) {
        let mut from = running.start_us;
        while from < running.end_us {
            let window = (from / WINDOW_US) as usize;
            let window_end = (window as u64 + 1) * WINDOW_US;
            let until = running.end_us.min(window_end);
            if self.windows.len() <= window {
                self.windows
                    .resize(window + 1, vec![0; self.submitters.len()]);
            }
            self.windows[window][running.tenant] += until - from;
            from = until;
        }
    }

    /// Runs until simulated time `until_us` (idle time passes too).
    fn run_until(&mut self, until_us: u64) {
        while self.now_us < until_us && self.step() {}
        self.now_us = self.now_us.max(until_us);
    }

    /// Each whole window's shares of the executor time used.
    fn shares(&self, windows: usize) -> Vec<Vec<f64>> {
        self.windows[..windows]
            .iter()
            .map(|used| {
                let total: u64 = used.iter().sum();
                used.iter().map(|u| *u as f64 / total as f64).collect()
            })
            .collect()
    }
}

/// Jain's fairness index of `shares`: 1 when all are equal.
fn jain(shares: &[f64]) -> f64 {
    let sum: f64 = shares.iter().sum();
    let squares: f64 = shares.iter().map(|x| x * x).sum();
    sum * sum / (shares.len() as f64 * squares)
}

#[test]
fn backlogged_tenants_of_equal_weight_share_the_slots_equally() {
    // Four tenants whose tasks take 2, 5, 10 and 20 ms on average: fair
    // share is in executor time, not in tasks.
    let tenants = [
        (1, 2_000, 200, u64::MAX),
        (1, 5_000, 200, u64::MAX),
        (1, 10_000, 200, u64::MAX),
        (1, 20_000, 200, u64::MAX),
    ];
    let mut sim = Sim::new(4, 2, &tenants);
    for at in 0..tenants.len() {
        sim.top_up(at);
    }
    sim.run_until(6 * WINDOW_US);
    for (window, shares) in sim.shares(6).iter().enumerate() {
        for (tenant, share) in shares.iter().enumerate() {
            assert!(
                (share - 0.25).abs() <= 0.05,
                "window {window}: tenant {tenant} got {share:.3} of {shares:?}"
            );
        }
        let index = jain(shares);
        eprintln!("window {window}: shares {shares:.3?}, Jain's index {index:.5}");
        assert!(
            index >= 0.99,
            "window {window}: Jain's index {index:.4} of {shares:?}"
        );
    }
}

#[test]
fn weights_three_to_one_share_three_to_one() {
    let tenants = [(3, 10_000, 200, u64::MAX), (1, 10_000, 200, u64::MAX)];
    let mut sim = Sim::new(4, 2, &tenants);
    sim.top_up(0);
    sim.top_up(1);
    sim.run_until(6 * WINDOW_US);
    for (window, shares) in sim.shares(6).iter().enumerate() {
        eprintln!("window {window}: shares {shares:.3?}");
        assert!(
            (shares[0] - 0.75).abs() <= 0.05 && (shares[1] - 0.25).abs() <= 0.05,
            "window {window}: {shares:?}"
        );
    }
}

#[test]
fn a_lone_tenant_gets_the_whole_cluster() {
    // The second tenant submits nothing.
    let tenants = [(1, 5_000, 200, u64::MAX), (1, 5_000, 0, 0)];
    let mut sim = Sim::new(4, 2, &tenants);
    sim.top_up(0);
    sim.run_until(3 * WINDOW_US);
    let slots_us = 8 * WINDOW_US;
    for (window, used) in sim.windows[..3].iter().enumerate() {
        let share = used[0] as f64 / slots_us as f64;
        eprintln!("window {window}: {share:.4} of the slots");
        assert!(share >= 0.95, "window {window}: {share:.3} of the slots");
    }
}

#[test]
fn one_task_beside_a_million_queued_goes_in_the_next_round() {
    let tenants = [(1, 1_000, 0, 1_000_000), (1, 1_000, 0, 1)];
    let mut sim = Sim::new(4, 2, &tenants);
    sim.validate_every = 0;
    sim.submit(0, 1_000_000);
    sim.core.validate().expect("invariants hold");
    sim.run_until(1_000_000);
    assert!(sim.core.queued_count() > 900_000, "still backlogged");
    let before = sim.dispatched.len();
    let submitted_at = sim.now_us;
    sim.submit(1, 1);
    // Run until the next dispatch happens.
    while sim.dispatched.len() == before {
        assert!(sim.step(), "something runs");
    }
    let (first, at_us) = sim.dispatched[before];
    eprintln!(
        "{} queued; the lone task was sent {}µs after its submission, first of its round",
        sim.core.queued_count(),
        at_us - submitted_at
    );
    assert_eq!(first, 1, "the lone task goes first in the next round");
    assert!(
        at_us - submitted_at <= 2_000,
        "sent {}µs later",
        at_us - submitted_at
    );
    sim.core.validate().expect("invariants hold");
}

#[test]
fn a_tenant_back_from_idling_claims_no_credit() {
    // A works alone for ten seconds (about 8,000 tasks of 10 ms on eight
    // slots), then stops; B starts alone at 12 s; A comes back at 14 s.
    // A's long history must not hold it back, nor B's short one make B
    // the winner: from then on they share evenly.
    let tenants = [(1, 10_000, 200, 8_000), (1, 10_000, 200, u64::MAX)];
    let mut sim = Sim::new(4, 2, &tenants);
    sim.top_up(0);
    sim.run_until(12 * WINDOW_US / 10);
    assert_eq!(sim.core.queued_count(), 0, "A has drained");
    sim.top_up(1);
    sim.run_until(14 * WINDOW_US / 10);
    sim.submitters[0].total = u64::MAX;
    sim.top_up(0);
    sim.run_until(4 * WINDOW_US);
    for (window, shares) in sim.shares(4).iter().enumerate().skip(2) {
        eprintln!("window {window}: shares {shares:.3?}");
        assert!(
            (shares[0] - 0.5).abs() <= 0.05,
            "window {window}: {shares:?}"
        );
    }
}
