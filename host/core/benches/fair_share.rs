//! The core's cost per scheduling decision under the fair share: 10^6
//! queued tasks, of one tenant or split between 100, and 32 workers of 4
//! threads kept full. One iteration is one decision as the cluster makes
//! it: a task finishes, its client releases it, and the placement pass
//! sends the next task, of the tenant the fair share picks.
//!
//! `cargo bench -p weft-core --bench fair_share`

use criterion::{Criterion, criterion_group, criterion_main};
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use weft_core::{
    ClientId, Command, Event, Scheduler, SchedulerConfig, StimulusId, TenantId, TenantLimits,
    TenantPolicy, Time, ToClient, ToWorker, WorkerId,
};
use weft_schema::graph::{GraphArg, GraphTask, TaskKey};

/// Tasks queued in all, split evenly between the tenants.
const QUEUED: u32 = 1_000_000;
const WORKERS: u32 = 32;
const THREADS: u32 = 4;

struct Cluster {
    core: Scheduler,
    stimulus: u64,
    now_us: u64,
    /// Tasks sent to workers and not yet finished, oldest first.
    running: VecDeque<(WorkerId, TaskKey, u32)>,
    /// The client that holds each wire key's future, and its name.
    owners: std::collections::HashMap<TaskKey, (ClientId, TaskKey)>,
}

impl Cluster {
    fn new(tenants: u32) -> Cluster {
        let config = SchedulerConfig {
            worker_ttl: Duration::ZERO,
            client_ttl: Duration::ZERO,
            ..SchedulerConfig::default()
        };
        let mut cluster = Cluster {
            core: Scheduler::new(config),
            stimulus: 0,
            now_us: 0,
            running: VecDeque::new(),
            owners: Default::default(),
        };
        for w in 1..=WORKERS {
            cluster.event(Event::WorkerJoined {
                worker: WorkerId(w),
                nthreads: THREADS,
                instance: u64::from(w),
            });
        }
        for t in 1..=tenants {
            let (tenant, client) = (TenantId(t), ClientId(t));
            let policy = TenantPolicy {
                name: format!("tenant-{t}"),
                weight: 1 + t % 4,
                limits: TenantLimits::default(),
            };
            cluster.event(Event::TenantPolicy {
                tenant,
                policy: Box::new(policy),
            });
            cluster.event(Event::ClientConnected { client, tenant });
            let tasks: Vec<GraphTask> = (0..QUEUED / tenants)
                .map(|i| {
                    let mut name = [0u8; 16];
                    name[..4].copy_from_slice(&i.to_le_bytes());
                    name[4..8].copy_from_slice(&t.to_le_bytes());
                    let args = vec![GraphArg::Value(i.to_le_bytes().to_vec())];
                    GraphTask::new_impure(TaskKey(name), [7; 32], "inc", args)
                })
                .collect();
            for task in &tasks {
                let wire = weft_core::wire_key(tenant, &task.key);
                cluster.owners.insert(wire, (client, task.key));
            }
            let wants = tasks.iter().map(|t| t.key).collect();
            cluster.event(Event::UpdateGraph {
                client,
                tasks,
                wants,
            });
        }
        cluster
    }

    fn event(&mut self, event: Event) {
        self.stimulus += 1;
        let now = Time::from_micros(self.now_us);
        self.core.handle(now, StimulusId(self.stimulus), event);
        while let Some(command) = self.core.poll_command() {
            if let Command::Worker(worker, ToWorker::Compute(task)) = command {
                self.running.push_back((worker, task.key, task.run));
            }
        }
    }

    /// One decision: the oldest running task finishes, its client lets go
    /// of it, and the next task is placed.
    fn decide(&mut self) {
        let (worker, key, run) = self.running.pop_front().expect("the cluster is busy");
        self.now_us += 10;
        let (client, name) = self.owners.remove(&key).expect("an owned key");
        self.stimulus += 1;
        let now = Time::from_micros(self.now_us);
        let finished = Event::TaskFinished {
            worker,
            key,
            run,
            nbytes: 8,
            duration_us: 10,
        };
        self.core.handle(now, StimulusId(self.stimulus), finished);
        while let Some(command) = self.core.poll_immediate() {
            debug_assert!(matches!(
                command,
                Command::Client(_, ToClient::Finished { .. })
            ));
        }
        self.event(Event::ReleaseKeys {
            client,
            keys: vec![name],
        });
    }

    /// The tenant of `client` submits one more task, so that the backlog
    /// stays at 10^6 however long the benchmark runs.
    fn top_up(&mut self, client: ClientId, serial: u64) {
        let mut name = [0xffu8; 16];
        name[..8].copy_from_slice(&serial.to_le_bytes());
        name[8..12].copy_from_slice(&client.0.to_le_bytes());
        let task = GraphTask::new_impure(TaskKey(name), [7; 32], "inc", Vec::new());
        let wire = weft_core::wire_key(TenantId(client.0), &task.key);
        self.owners.insert(wire, (client, task.key));
        let wants = vec![task.key];
        self.event(Event::UpdateGraph {
            client,
            tasks: vec![task],
            wants,
        });
    }
}

fn scheduling_decision(c: &mut Criterion) {
    for tenants in [1, 100] {
        let started = Instant::now();
        let mut cluster = Cluster::new(tenants);
        eprintln!(
            "{tenants} tenants, {} tasks queued, {} running: set up in {:?}",
            cluster.core.queued_count(),
            cluster.running.len(),
            started.elapsed()
        );
        let mut serial = 0u64;
        let name = format!("finish, release and place one task ({tenants} tenants, 10^6 queued)");
        c.bench_function(&name, |b| {
            b.iter_custom(|iters| {
                let mut measured = Duration::ZERO;
                for _ in 0..iters {
                    let client = cluster
                        .running
                        .front()
                        .map(|(_, key, _)| cluster.owners[key].0)
                        .expect("busy");
                    let start = Instant::now();
                    cluster.decide();
                    measured += start.elapsed();
                    serial += 1;
                    cluster.top_up(client, serial);
                }
                measured
            })
        });
        let queued = cluster.core.queued_count();
        assert!(queued >= 900_000, "{queued} still queued at the end");
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(5));
    targets = scheduling_decision
}
criterion_main!(benches);
