//! The worker's table of task modules, by content hash: which were asked
//! for (`GetModule` is sent once per module while it is outstanding), which
//! are being checked and compiled, which are ready, and the tasks parked on
//! each in arrival order.
//!
//! Ready modules are held up to the runtime's `modules_in_memory_max` and
//! `modules_in_memory_bytes_max`; the oldest are dropped past either (and
//! asked for again if a task needs them), though the newest is always
//! kept. Their memory images count in the worker's process memory. A
//! module that is missing or fails to load is forgotten, so a later task
//! asks again.

use std::collections::{HashMap, VecDeque};
use weft_core::ModuleHash;
use weft_schema::graph::TaskKey;

/// What the table needs to know of a loaded module: its size. The
/// worker's modules are `Arc<TaskModule>`s; a simulation's can be anything.
pub trait ModuleSize: Clone {
    /// The bytes the loaded module takes (code and metadata).
    fn footprint_bytes(&self) -> u64;
    /// The bytes of its memory image, which the process's resident size
    /// does not show.
    fn memory_image_bytes(&self) -> u64;
}

/// A waiting task: its key and the loop's id for it.
pub(super) type Waiter = (TaskKey, u64);

#[derive(Debug)]
enum ModuleState<M> {
    /// `GetModule` sent; these tasks wait.
    Requested(Vec<Waiter>),
    /// The bytes arrived and are being checked and compiled.
    Loading(Vec<Waiter>),
    /// Ready to run.
    Ready(M),
}

/// What a task gets when it needs a module.
pub(super) enum Need<M> {
    /// The module, ready.
    Ready(M),
    /// The task is parked; `ask` says whether to send `GetModule` (the
    /// module was not asked for yet).
    Parked {
        /// Send `GetModule`.
        ask: bool,
    },
}

/// Modules by hash.
#[derive(Debug)]
pub(super) struct Modules<M> {
    states: HashMap<ModuleHash, ModuleState<M>>,
    /// Ready modules, oldest first.
    ready_order: VecDeque<ModuleHash>,
    /// How many ready modules are kept.
    ready_max: usize,
    /// How many bytes of ready modules are kept.
    ready_bytes_max: u64,
    /// The footprint of the ready modules.
    ready_bytes: u64,
    /// Their memory images' bytes.
    image_bytes: u64,
}

impl<M: ModuleSize> Modules<M> {
    /// A table keeping at most `ready_max` ready modules (at least one) of
    /// at most `ready_bytes_max` bytes together.
    pub(super) fn new(ready_max: usize, ready_bytes_max: u64) -> Modules<M> {
        Modules {
            states: HashMap::new(),
            ready_order: VecDeque::new(),
            ready_max: ready_max.max(1),
            ready_bytes_max,
            ready_bytes: 0,
            image_bytes: 0,
        }
    }

    /// The bytes of the ready modules' memory images, which the process's
    /// resident size does not show.
    pub(super) fn image_bytes(&self) -> u64 {
        self.image_bytes
    }

    /// The module `hash` for `waiter`: ready, or `waiter` is parked on it.
    pub(super) fn need(&mut self, hash: ModuleHash, waiter: Waiter) -> Need<M> {
        match self.states.get_mut(&hash) {
            Some(ModuleState::Ready(module)) => Need::Ready(module.clone()),
            Some(ModuleState::Requested(parked) | ModuleState::Loading(parked)) => {
                parked.push(waiter);
                Need::Parked { ask: false }
            }
            None => {
                self.states
                    .insert(hash, ModuleState::Requested(vec![waiter]));
                Need::Parked { ask: true }
            }
        }
    }

    /// The scheduler sent the bytes of `hash`: true if they should be loaded
    /// (they were asked for and are not being loaded already).
    pub(super) fn arrived(&mut self, hash: ModuleHash) -> bool {
        match self.states.remove(&hash) {
            Some(ModuleState::Requested(parked)) => {
                self.states.insert(hash, ModuleState::Loading(parked));
                true
            }
            Some(other) => {
                tracing::debug!(module = %weft_runtime::ModuleHash(hash), "module sent again; ignored");
                self.states.insert(hash, other);
                false
            }
            None => {
                tracing::debug!(module = %weft_runtime::ModuleHash(hash), "module nobody asked for; ignored");
                false
            }
        }
    }

    /// `hash` is loaded: keeps it and returns the tasks parked on it.
    pub(super) fn ready(&mut self, hash: ModuleHash, module: M) -> Vec<Waiter> {
        self.ready_bytes += module.footprint_bytes();
        self.image_bytes += module.memory_image_bytes();
        let parked = match self.states.insert(hash, ModuleState::Ready(module)) {
            Some(ModuleState::Requested(parked) | ModuleState::Loading(parked)) => parked,
            Some(ModuleState::Ready(old)) => {
                self.forget_bytes(&old);
                Vec::new()
            }
            None => Vec::new(),
        };
        self.ready_order.retain(|h| *h != hash);
        self.ready_order.push_back(hash);
        while self.ready_order.len() > self.ready_max
            || (self.ready_bytes > self.ready_bytes_max && self.ready_order.len() > 1)
        {
            let Some(oldest) = self.ready_order.pop_front() else {
                break;
            };
            if let Some(ModuleState::Ready(old)) = self.states.remove(&oldest) {
                self.forget_bytes(&old);
            }
        }
        parked
    }

    fn forget_bytes(&mut self, module: &M) {
        self.ready_bytes -= module.footprint_bytes();
        self.image_bytes -= module.memory_image_bytes();
    }

    /// `hash` is missing or failed to load: forgets it and returns the tasks
    /// parked on it. A module that is ready is kept (nothing is returned).
    pub(super) fn failed(&mut self, hash: ModuleHash) -> Vec<Waiter> {
        match self.states.remove(&hash) {
            Some(ModuleState::Requested(parked) | ModuleState::Loading(parked)) => parked,
            Some(ready @ ModuleState::Ready(_)) => {
                self.states.insert(hash, ready);
                Vec::new()
            }
            None => Vec::new(),
        }
    }
}

/// Why a module did not load.
#[derive(Debug, Clone)]
pub struct LoadFailure {
    /// The runtime's message.
    pub message: String,
    /// Whether every worker would refuse it the same way (so the scheduler
    /// may remember the refusal for all of them).
    pub deterministic: bool,
    /// Whether the refusal is for what the bytes are, not for a deadline or
    /// ceiling a loaded machine may miss.
    pub lasting: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module of `n` bytes, none of them an image.
    #[derive(Debug, Clone, PartialEq)]
    struct Sized(u64);

    impl ModuleSize for Sized {
        fn footprint_bytes(&self) -> u64 {
            self.0
        }
        fn memory_image_bytes(&self) -> u64 {
            self.0 / 2
        }
    }

    #[test]
    fn a_module_is_asked_for_once_and_forgotten_on_failure() {
        let mut modules = Modules::<Sized>::new(2, u64::MAX);
        let hash = [1; 32];
        let waiter = |n: u8| (TaskKey([n; 16]), u64::from(n));
        assert!(matches!(
            modules.need(hash, waiter(1)),
            Need::Parked { ask: true }
        ));
        assert!(matches!(
            modules.need(hash, waiter(2)),
            Need::Parked { ask: false }
        ));
        assert!(!modules.arrived([9; 32]));
        assert!(modules.arrived(hash));
        assert!(!modules.arrived(hash), "already loading");
        assert_eq!(modules.failed(hash), vec![waiter(1), waiter(2)]);
        assert!(matches!(
            modules.need(hash, waiter(3)),
            Need::Parked { ask: true }
        ));
    }

    #[test]
    fn the_oldest_ready_modules_are_dropped_past_either_limit() {
        let waiter = |n: u8| (TaskKey([n; 16]), u64::from(n));
        let mut modules = Modules::<Sized>::new(2, 100);
        for n in 1..=3u8 {
            let _ = modules.need([n; 32], waiter(n));
            assert!(modules.arrived([n; 32]));
            assert_eq!(modules.ready([n; 32], Sized(10)), vec![waiter(n)]);
        }
        assert!(
            matches!(modules.need([1; 32], waiter(9)), Need::Parked { ask: true }),
            "dropped"
        );
        assert!(matches!(
            modules.need([3; 32], waiter(9)),
            Need::Ready(Sized(10))
        ));
        assert_eq!(modules.image_bytes(), 10, "two modules of 5 image bytes");
        // Past the bytes: only the newest stays.
        let _ = modules.need([4; 32], waiter(4));
        assert!(modules.arrived([4; 32]));
        let _ = modules.ready([4; 32], Sized(95));
        assert!(matches!(
            modules.need([3; 32], waiter(9)),
            Need::Parked { ask: true }
        ));
        assert!(matches!(
            modules.need([4; 32], waiter(9)),
            Need::Ready(Sized(95))
        ));
    }
}
