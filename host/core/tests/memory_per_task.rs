//! What the core holds per task, counted by a global allocator that knows
//! the live heap bytes: a map of `inc` over [`TASKS`] pure tasks (the
//! client's shape: one 8-byte literal each, one tenant, one client) is
//! submitted to a scheduler with two workers, then every task is run and
//! its result kept. The bytes per task while queued and once in memory
//! must stay under the bounds below (each a little over what was measured
//! when it was set); the figures are printed (`--nocapture`). The
//! transition log, a fixed-size ring for `weft story`, is off here.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;
use weft_core::{
    ClientId, Command, Event, Scheduler, SchedulerConfig, StimulusId, TenantId, Time, ToWorker,
    WorkerId,
};
use weft_schema::graph::{GraphArg, GraphTask};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; the
// counter only observes sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const TASKS: usize = 200_000;
/// Heap bytes per queued task, at most (338 measured, 445 before the
/// graph reserved its table and specs shared their function).
const QUEUED_BYTES_MAX: usize = 380;
/// Heap bytes per task held in memory, at most (324 measured).
const MEMORY_BYTES_MAX: usize = 370;

struct Core {
    core: Scheduler,
    stimulus: u64,
    dispatched: Vec<(WorkerId, weft_schema::graph::TaskKey, u32)>,
}

impl Core {
    fn event(&mut self, event: Event) {
        self.stimulus += 1;
        self.core.handle(
            Time::from_micros(self.stimulus),
            StimulusId(self.stimulus),
            event,
        );
        while let Some(command) = self.core.poll_command() {
            if let Command::Worker(worker, ToWorker::Compute(task)) = command {
                self.dispatched.push((worker, task.key, task.run));
            }
        }
    }
}

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

#[test]
fn a_task_costs_the_core_a_bounded_number_of_bytes() {
    let config = SchedulerConfig {
        worker_ttl: Duration::ZERO,
        client_ttl: Duration::ZERO,
        transition_log_max: 0,
        ..SchedulerConfig::default()
    };
    let mut core = Core {
        core: Scheduler::new(config),
        stimulus: 0,
        dispatched: Vec::with_capacity(16),
    };
    for w in 1..=2 {
        core.event(Event::WorkerJoined {
            worker: WorkerId(w),
            nthreads: 1,
            instance: u64::from(w),
        });
    }
    let client = ClientId(1);
    core.event(Event::ClientConnected {
        client,
        tenant: TenantId(1),
    });
    let before = live();
    let tasks: Vec<GraphTask> = (0..TASKS as i64)
        .map(|i| {
            GraphTask::new_pure(
                [7; 32],
                "inc",
                vec![GraphArg::Value(i.to_le_bytes().to_vec())],
            )
        })
        .collect();
    let wants = tasks.iter().map(|t| t.key).collect();
    core.event(Event::UpdateGraph {
        client,
        tasks,
        wants,
    });
    let queued = (live() - before) as usize / TASKS;

    let mut finished = 0;
    while let Some((worker, key, run)) = core.dispatched.pop() {
        core.event(Event::TaskFinished {
            worker,
            key,
            run,
            nbytes: 8,
            duration_us: 10,
        });
        finished += 1;
    }
    assert_eq!(finished, TASKS, "every task ran");
    assert_eq!(
        core.core.summary().tasks.get("memory").copied(),
        Some(TASKS),
        "every result is held"
    );
    let in_memory = (live() - before) as usize / TASKS;
    println!("core heap bytes per task: {queued} queued, {in_memory} in memory ({TASKS} tasks)");
    assert!(
        queued <= QUEUED_BYTES_MAX,
        "{queued} bytes per queued task, over {QUEUED_BYTES_MAX}"
    );
    assert!(
        in_memory <= MEMORY_BYTES_MAX,
        "{in_memory} bytes per task in memory, over {MEMORY_BYTES_MAX}"
    );
}
