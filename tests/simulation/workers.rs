//! A simulated worker process: the real worker state machine
//! (`weft_worker::state::WorkerState`) with simulated helpers around it,
//! as the worker's driver (`task_loop.rs`) has real ones: executor threads
//! that start jobs in order (when not paused) and finish them after a
//! random time, a fetcher that gets inputs from the holders' actual values
//! after a delay, read-backs of spilled values, module loads, and a
//! spiller that moves values to "disk". The values ([`SimValues`]) check
//! every value stored against the right one for its key.

use bytes::Bytes;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;
use weft_core::{Charge, TenantQueues};
use weft_core::{SpecArg, TaskSpec, Time, WorkerId};
use weft_schema::graph::TaskKey;
use weft_worker::state::{Job, Lookup, ModuleSize, Usage, Values, Wanted, WorkerState};

/// The one function that fails, always.
pub(crate) const FAILING: &str = "fail";

/// The right value of every key that can be computed, shared by the
/// clients (who know the graphs) and the workers' values (which check).
pub(crate) type Expected = Rc<RefCell<BTreeMap<TaskKey, Bytes>>>;

/// A loaded module: nothing, and no memory.
#[derive(Debug, Clone)]
pub(crate) struct SimModule;

impl ModuleSize for SimModule {
    fn footprint_bytes(&self) -> u64 {
        0
    }
    fn memory_image_bytes(&self) -> u64 {
        0
    }
}

/// What a task computes: a function of its function's name and its
/// arguments' bytes, 8 to 2,048 bytes long. `None` for [`FAILING`].
pub(crate) fn compute(spec: &TaskSpec, inputs: &[Bytes]) -> Option<Bytes> {
    if spec.function.name == FAILING {
        return None;
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update(spec.function.name.as_bytes());
    let mut inputs = inputs.iter();
    for arg in &spec.args {
        match arg {
            SpecArg::Value(bytes) => hasher.update(bytes),
            SpecArg::Key(_) => hasher.update(inputs.next().expect("an input per key argument")),
        };
    }
    let hash = hasher.finalize();
    let len = 8 + usize::from(hash.as_bytes()[0]) * 8;
    Some(Bytes::from(
        hash.as_bytes().repeat(len / 32 + 1)[..len].to_vec(),
    ))
}

/// A worker's values: in memory or on "disk" (`true`).
pub(crate) struct SimValues {
    pub(crate) held: BTreeMap<TaskKey, (Bytes, bool)>,
    expected: Expected,
}

impl SimValues {
    pub(crate) fn new(expected: Expected) -> SimValues {
        SimValues {
            held: BTreeMap::new(),
            expected,
        }
    }
}

impl Values for SimValues {
    fn lookup(&mut self, key: &TaskKey) -> Lookup {
        match self.held.get(key) {
            Some((value, false)) => Lookup::Memory(value.clone()),
            Some((_, true)) => Lookup::Disk,
            None => Lookup::Missing,
        }
    }
    fn contains(&self, key: &TaskKey) -> bool {
        self.held.contains_key(key)
    }
    fn insert(&mut self, key: TaskKey, value: Bytes) {
        let expected = self.expected.borrow();
        let right = expected
            .get(&key)
            .unwrap_or_else(|| panic!("a worker stored {key}, which no task computes"));
        assert!(*right == value, "a worker stored a wrong value for {key}");
        drop(expected);
        self.held.insert(key, (value, false));
    }
    fn remove(&mut self, key: &TaskKey) {
        self.held.remove(key);
    }
    fn clear(&mut self) -> Vec<PathBuf> {
        self.held.clear();
        Vec::new()
    }
    fn usage(&self) -> Usage {
        let mut usage = Usage::default();
        for (value, on_disk) in self.held.values() {
            if *on_disk {
                usage.spilled_keys += 1;
                usage.spilled_bytes += value.len() as u64;
            } else {
                usage.memory_keys += 1;
                usage.memory_bytes += value.len() as u64;
            }
        }
        usage
    }
}

/// Work a helper of the worker finishes at a time.
pub(crate) enum Pending {
    /// A fetch from peers.
    Fetch {
        epoch: u64,
        wanted: Vec<Wanted>,
        /// It waited out a hung holder once already.
        waited: bool,
    },
    /// A read-back from disk.
    ReadBack { epoch: u64, keys: Vec<TaskKey> },
    /// A module load.
    Load { hash: [u8; 32] },
}

/// One simulated worker process.
pub(crate) struct SimWorker {
    pub(crate) state: WorkerState<SimModule, SimValues>,
    pub(crate) nthreads: usize,
    /// Jobs given to the executors, not started yet, in order.
    /// Shared between tenants by weighted fair queuing, as the real
    /// executors do.
    pub(crate) queued: TenantQueues<Job<SimModule>>,
    /// Started jobs, when they finish, how long they take, and what their
    /// tenant was charged when they started.
    pub(crate) running: Vec<(Time, Duration, Job<SimModule>, Charge)>,
    /// Helpers' work and when it is done.
    pub(crate) pending: Vec<(Time, Pending)>,
    pub(crate) paused: bool,
    /// SIGSTOPped until then: it reads, runs and sends nothing.
    pub(crate) hung_until: Option<Time>,
    pub(crate) instance: u64,
}

impl SimWorker {
    /// Whether it is hung at `now`.
    pub(crate) fn hung(&self, now: Time) -> bool {
        self.hung_until.is_some_and(|until| until > now)
    }

    /// Starts queued jobs while threads are free and it is not paused; a
    /// cancelled job is skipped. Returns how many started.
    pub(crate) fn start_jobs(&mut self, now: Time, mut duration: impl FnMut() -> Duration) {
        while !self.paused && self.running.len() < self.nthreads {
            let Some((tenant, job, charge)) = self.queued.pop() else {
                return;
            };
            if job.ticket.start() {
                let took = duration();
                self.running.push((now.after(took), took, job, charge));
            } else {
                self.queued.finished(tenant, charge, Duration::ZERO);
            }
        }
    }

    /// When its next own work is due (a job, a helper, its metrics tick),
    /// ignoring the hang.
    pub(crate) fn next_due(&self) -> Option<Time> {
        let jobs = self.running.iter().map(|(t, ..)| *t);
        let helpers = self.pending.iter().map(|(t, _)| *t);
        jobs.chain(helpers)
            .chain(std::iter::once(self.state.poll_timeout()))
            .min()
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.queued.is_empty() && self.running.is_empty() && self.pending.is_empty()
    }
}

/// The name of a worker's data port, as the holders' table shows it.
pub(crate) fn data_port(worker: WorkerId) -> String {
    format!("sim:{}", worker.0)
}
