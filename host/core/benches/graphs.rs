//! The core alone, without the network: how many tasks per second it
//! schedules for a whole graph, from the submission to the last result
//! finished and released, at 10^5 and 10^6 tasks. Shapes: a map of `inc`
//! (every task wanted), a binary tree reduction (only the root wanted) and
//! a wide fan-out (one shared input and every other task reading it, all
//! wanted). Two workers of one thread each, as in `tools/bench`; each
//! finish is reported at once, so the figure is the core's own cost per
//! task: the scheduler's headroom apart from the network.
//!
//! `cargo bench -p weft-core --bench graphs`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::time::{Duration, Instant};
use weft_core::{
    ClientId, Command, Event, Scheduler, SchedulerConfig, StimulusId, TenantId, Time, ToClient,
    ToWorker, WorkerId,
};
use weft_schema::graph::{GraphArg, GraphTask, TaskKey};

const MODULE: [u8; 32] = [7; 32];
const CLIENT: ClientId = ClientId(1);

struct Core {
    core: Scheduler,
    stimulus: u64,
    running: Vec<(WorkerId, TaskKey, u32)>,
    finished: usize,
}

impl Core {
    fn new() -> Core {
        let config = SchedulerConfig {
            worker_ttl: Duration::ZERO,
            client_ttl: Duration::ZERO,
            ..SchedulerConfig::default()
        };
        let mut core = Core {
            core: Scheduler::new(config),
            stimulus: 0,
            running: Vec::new(),
            finished: 0,
        };
        for w in 1..=2 {
            core.event(Event::WorkerJoined {
                worker: WorkerId(w),
                nthreads: 1,
                instance: u64::from(w),
            });
        }
        core.event(Event::ClientConnected {
            client: CLIENT,
            tenant: TenantId(1),
        });
        core
    }

    fn event(&mut self, event: Event) {
        self.stimulus += 1;
        let (now, stimulus) = (Time::from_micros(self.stimulus), StimulusId(self.stimulus));
        self.core.handle(now, stimulus, event);
        while let Some(command) = self.core.poll_command() {
            match command {
                Command::Worker(worker, ToWorker::Compute(task)) => {
                    self.running.push((worker, task.key, task.run));
                }
                Command::Client(_, ToClient::Finished { .. }) => self.finished += 1,
                _ => {}
            }
        }
    }

    /// Submits `tasks`, wanting `wants`; runs everything to the end; then
    /// releases the wanted keys.
    fn run(&mut self, tasks: Vec<GraphTask>, wants: Vec<TaskKey>) {
        let released = wants.clone();
        self.event(Event::UpdateGraph {
            client: CLIENT,
            tasks,
            wants,
        });
        while let Some((worker, key, run)) = self.running.pop() {
            self.event(Event::TaskFinished {
                worker,
                key,
                run,
                nbytes: 8,
                duration_us: 10,
            });
        }
        self.event(Event::ReleaseKeys {
            client: CLIENT,
            keys: released,
        });
    }
}

fn literal(i: u64) -> GraphArg {
    GraphArg::Value(i.to_le_bytes().to_vec())
}

/// `n` independent tasks, all wanted.
fn map(n: usize) -> (Vec<GraphTask>, Vec<TaskKey>) {
    let tasks: Vec<GraphTask> = (0..n as u64)
        .map(|i| GraphTask::new_pure(MODULE, "inc", vec![literal(i)]))
        .collect();
    let wants = tasks.iter().map(|t| t.key).collect();
    (tasks, wants)
}

/// About `n` tasks: n/2 leaves, then pairwise adds down to the root,
/// which alone is wanted.
fn tree(n: usize) -> (Vec<GraphTask>, Vec<TaskKey>) {
    let mut tasks: Vec<GraphTask> = (0..(n / 2) as u64)
        .map(|i| GraphTask::new_pure(MODULE, "inc", vec![literal(i)]))
        .collect();
    let mut level: Vec<TaskKey> = tasks.iter().map(|t| t.key).collect();
    while level.len() > 1 {
        let next: Vec<GraphTask> = level
            .chunks(2)
            .map(|pair| {
                let args = pair.iter().map(|k| GraphArg::Key(*k)).collect();
                GraphTask::new_pure(MODULE, "add", args)
            })
            .collect();
        level = next.iter().map(|t| t.key).collect();
        tasks.extend(next);
    }
    (tasks, level)
}

/// One shared input and `n - 1` tasks reading it, all wanted.
fn fan_out(n: usize) -> (Vec<GraphTask>, Vec<TaskKey>) {
    let root = GraphTask::new_pure(MODULE, "inc", vec![literal(0)]);
    let shared = root.key;
    let mut tasks = vec![root];
    tasks.extend(
        (1..n as u64)
            .map(|i| GraphTask::new_pure(MODULE, "add", vec![GraphArg::Key(shared), literal(i)])),
    );
    let wants = tasks.iter().map(|t| t.key).collect();
    (tasks, wants)
}

type Shape = fn(usize) -> (Vec<GraphTask>, Vec<TaskKey>);

fn whole_graphs(c: &mut Criterion) {
    let shapes: [(&str, Shape); 3] = [("map", map), ("tree", tree), ("fan_out", fan_out)];
    let mut group = c.benchmark_group("core: a whole graph, submitted to released");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for (name, shape) in shapes {
        for n in [100_000usize, 1_000_000] {
            let count = shape(n).0.len();
            group.throughput(Throughput::Elements(count as u64));
            group.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter_custom(|iters| {
                    let mut measured = Duration::ZERO;
                    for _ in 0..iters {
                        let mut core = Core::new();
                        let (tasks, wants) = shape(n);
                        let started = Instant::now();
                        core.run(tasks, wants);
                        measured += started.elapsed();
                        assert_eq!(core.core.summary().tasks.values().sum::<usize>(), 0);
                        assert!(core.finished >= 1);
                        drop(core);
                    }
                    measured
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, whole_graphs);
criterion_main!(benches);
