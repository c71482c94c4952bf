//! The whole cluster in one deterministic, seeded simulation: the real
//! scheduler core (`weft-core`), several real worker state machines
//! (`weft_worker::state`) and several clients, joined by a simulated
//! network, with simulated executors, fetchers, module loads and spilling
//! around each worker state (`workers.rs`).
//!
//! The network (`network.rs`): every scheduler→worker command and every
//! worker→scheduler report goes through the real codec
//! (`weft_proto::codec`) and the scheduler's real wire translation
//! (`weft_scheduler::worker_wire`), on per-link FIFO queues with random
//! delays, so messages on the two directions of a link and on different
//! links cross in flight. Clients' requests reach the core, and the core's
//! news reach clients (encoded as `ClientEvent`s), after random delays too.
//!
//! Faults (`faults.rs`): workers are killed (their connection drops, with
//! the reports still in flight cut short; a nanny starts a fresh process
//! with the same instance), hang (SIGSTOP: they read, run and send
//! nothing, and may pass their TTL, be removed, then deliver stale reports
//! and rejoin), values are spilled (read back from disk as inputs), tasks
//! fail, and clients submit, release and cancel at random.
//!
//! After every step (`checks.rs`): `Scheduler::validate`, and checks that
//! use only the simulated world, never the implementation's helpers: a
//! value a worker holds is the right value for its key; what the core
//! believes a live worker holds, it holds. At the end everything drains
//! (every wanted key settles; once clients let go, nothing is held
//! anywhere), and coverage counters fail the run when a behaviour never
//! happened: crossings, hung workers, TTL expiries, stale reports, kills,
//! failed fetches, read-backs, steals, pauses.
//!
//! A step advances the clock by up to 4 ms, lets faults happen, then
//! processes everything due, one item at a time in a random order (a
//! message delivered, a job or fetch finished, a timer; half the time a
//! worker reads every command that has arrived as one batch, as its driver
//! does); the checks run after each item. `WEFT_CLUSTER_SIM_SEEDS` (default 64) seeds of
//! `WEFT_CLUSTER_SIM_STEPS` (default 15,000) steps, over a million events
//! (stimuli handled by the core and by worker states) in all, split into
//! four tests that run in parallel; a failure names its seed, and
//! `WEFT_CLUSTER_SIM_SEED=N` replays exactly that one (with
//! `WEFT_CLUSTER_SIM_TRACE=TEXT`, every message whose debug form contains
//! `TEXT`, a key's hex say, is printed as it is sent and delivered).

mod checks;
mod clients;
mod faults;
mod network;
mod workers;
mod world;

use std::collections::BTreeMap;

/// What a run must exercise, counted per test thread: each is asserted
/// non-zero at the end of each part.
const FREE_CROSSED_FINISHED: &str = "a Free met the Finished of its key in flight";
const STEAL_CROSSED_FINISHED: &str = "a Steal met the Finished of its task in flight";
const HUNG: &str = "workers hung";
const TTL_REJOINS: &str = "hung workers removed at their TTL that rejoined";
const STALE_REPORTS: &str = "reports that reached the core after their worker was removed";
const KILLED: &str = "workers killed with reports in flight";
const FETCH_FAILED: &str = "inputs no holder could give";
const READ_BACK: &str = "spilled inputs read back";
const STOLEN: &str = "tasks given up on a steal";
const PAUSED: &str = "workers paused by memory";
const TASK_ERRORS: &str = "task errors";
const RESUMED: &str = "clients resumed within their grace";
const EXPIRED: &str = "clients expired after their grace";
const BATCHES: &str = "batches of several commands read by a worker";
const COVERAGE: [&str; 14] = [
    FREE_CROSSED_FINISHED,
    STEAL_CROSSED_FINISHED,
    HUNG,
    TTL_REJOINS,
    STALE_REPORTS,
    KILLED,
    FETCH_FAILED,
    READ_BACK,
    STOLEN,
    PAUSED,
    TASK_ERRORS,
    RESUMED,
    EXPIRED,
    BATCHES,
];
/// Stimuli handled by the core and by the worker states, for the report.
const EVENTS: &str = "events";

thread_local! {
    static COUNTS: std::cell::RefCell<BTreeMap<&'static str, u64>> =
        const { std::cell::RefCell::new(BTreeMap::new()) };
}

fn count(what: &'static str) {
    COUNTS.with(|counts| *counts.borrow_mut().entry(what).or_default() += 1);
}

fn counted(what: &str) -> u64 {
    COUNTS.with(|counts| counts.borrow().get(what).copied().unwrap_or(0))
}

/// splitmix64: small, seedable, good enough to pick events.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len() as u64) as usize])
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {text:?}")),
        Err(_) => default,
    }
}

/// Runs one seed; a failure names it.
fn run(seed: u64, steps: u64) {
    let outcome = std::panic::catch_unwind(|| world::World::new(seed).run(steps));
    if let Err(panic) = outcome {
        eprintln!("cluster simulation failed: replay with WEFT_CLUSTER_SIM_SEED={seed}");
        std::panic::resume_unwind(panic);
    }
}

/// Runs part `part` of four (or the one seed asked for) and checks its
/// coverage.
fn simulate(part: u64) {
    COUNTS.with(|counts| counts.borrow_mut().clear());
    let steps = env_number("WEFT_CLUSTER_SIM_STEPS", 15_000);
    if let Ok(seed) = std::env::var("WEFT_CLUSTER_SIM_SEED") {
        if part == 0 {
            run(
                seed.parse().expect("WEFT_CLUSTER_SIM_SEED is a number"),
                steps,
            );
        }
        return;
    }
    let seeds = env_number("WEFT_CLUSTER_SIM_SEEDS", 64);
    for seed in (0..seeds).filter(|s| s % 4 == part) {
        run(seed, steps);
    }
    let mut report = format!("part {part}: {} events;", counted(EVENTS));
    for what in COVERAGE {
        report += &format!(" {what}: {};", counted(what));
    }
    eprintln!("{report}");
    if counted(EVENTS) == 0 {
        // Fewer seeds than parts: this part ran none.
        return;
    }
    for what in COVERAGE {
        assert!(
            counted(what) > 0,
            "never happened in part {part}: {what} ({report})"
        );
    }
}

#[test]
fn the_whole_cluster_keeps_every_invariant_part_1() {
    simulate(0);
}

#[test]
fn the_whole_cluster_keeps_every_invariant_part_2() {
    simulate(1);
}

#[test]
fn the_whole_cluster_keeps_every_invariant_part_3() {
    simulate(2);
}

#[test]
fn the_whole_cluster_keeps_every_invariant_part_4() {
    simulate(3);
}
