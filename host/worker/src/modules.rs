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
use std::sync::Arc;
use weft_core::ModuleHash;
use weft_runtime::{Runtime, TaskModule};
use weft_schema::graph::TaskKey;

/// A waiting task: its key and the loop's id for it.
pub(crate) type Waiter = (TaskKey, u64);

#[derive(Debug)]
enum ModuleState {
    /// `GetModule` sent; these tasks wait.
    Requested(Vec<Waiter>),
    /// The bytes arrived and are being checked and compiled.
    Loading(Vec<Waiter>),
    /// Ready to run.
    Ready(Arc<TaskModule>),
}

/// What a task gets when it needs a module.
pub(crate) enum Need {
    /// The module, ready.
    Ready(Arc<TaskModule>),
    /// The task is parked; `ask` says whether to send `GetModule` (the
    /// module was not asked for yet).
    Parked {
        /// Send `GetModule`.
        ask: bool,
    },
}

/// Modules by hash.
#[derive(Debug)]
pub(crate) struct Modules {
    states: HashMap<ModuleHash, ModuleState>,
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

impl Modules {
    /// A table keeping at most `ready_max` ready modules (at least one) of
    /// at most `ready_bytes_max` bytes together.
    pub(crate) fn new(ready_max: usize, ready_bytes_max: u64) -> Modules {
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
    pub(crate) fn image_bytes(&self) -> u64 {
        self.image_bytes
    }

    /// The module `hash` for `waiter`: ready, or `waiter` is parked on it.
    pub(crate) fn need(&mut self, hash: ModuleHash, waiter: Waiter) -> Need {
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
    pub(crate) fn arrived(&mut self, hash: ModuleHash) -> bool {
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
    pub(crate) fn ready(&mut self, hash: ModuleHash, module: Arc<TaskModule>) -> Vec<Waiter> {
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

    fn forget_bytes(&mut self, module: &TaskModule) {
        self.ready_bytes -= module.footprint_bytes();
        self.image_bytes -= module.memory_image_bytes();
    }

    /// `hash` is missing or failed to load: forgets it and returns the tasks
    /// parked on it. A module that is ready is kept (nothing is returned).
    pub(crate) fn failed(&mut self, hash: ModuleHash) -> Vec<Waiter> {
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
pub(crate) struct LoadFailure {
    /// The runtime's message.
    pub(crate) message: String,
    /// Whether every worker would refuse it the same way (so the scheduler
    /// may remember the refusal for all of them).
    pub(crate) deterministic: bool,
    /// Whether the refusal is for what the bytes are, not for a deadline or
    /// ceiling a loaded machine may miss.
    pub(crate) lasting: bool,
}

/// Checks the bytes against the hash they were asked by, then loads them.
/// Blocking (hashing and compiling): run it off the async threads.
pub(crate) fn load(
    runtime: &Runtime,
    hash: ModuleHash,
    bytes: &[u8],
) -> Result<Arc<TaskModule>, LoadFailure> {
    let actual = blake3::hash(bytes);
    if *actual.as_bytes() != hash {
        return Err(LoadFailure {
            message: format!(
                "the scheduler sent a module whose hash is {} for module {}",
                actual.to_hex(),
                weft_runtime::ModuleHash(hash).to_hex()
            ),
            deterministic: false,
            lasting: false,
        });
    }
    runtime.load(bytes).map_err(|error| LoadFailure {
        message: error.to_string(),
        deterministic: error.is_deterministic(),
        lasting: !error.is_circumstantial(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_is_asked_for_once_and_forgotten_on_failure() {
        let mut modules = Modules::new(2, u64::MAX);
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
}
