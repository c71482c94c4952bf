//! What the runtime keeps in memory by module hash: compiled modules (the
//! least recently used dropped past `modules_in_memory_max` or
//! `modules_in_memory_bytes_max`) and refusals. The disk cache is in
//! `disk_cache.rs`.

use crate::error::LoadError;
use crate::module::{ModuleHash, TaskModule};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Compiled modules in memory, by hash, bounded by count and by the bytes
/// of host memory they hold ([`TaskModule::footprint_bytes`]).
#[derive(Debug)]
pub(crate) struct MemoryCache {
    inner: Mutex<MemoryCacheInner>,
    capacity: usize,
    bytes_max: u64,
}

#[derive(Debug, Default)]
struct MemoryCacheInner {
    modules: HashMap<ModuleHash, (Arc<TaskModule>, u64)>,
    bytes: u64,
    clock: u64,
}

impl MemoryCache {
    pub(crate) fn new(capacity: usize, bytes_max: u64) -> Self {
        MemoryCache {
            inner: Mutex::default(),
            capacity: capacity.max(1),
            bytes_max,
        }
    }

    pub(crate) fn get(&self, hash: &ModuleHash) -> Option<Arc<TaskModule>> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.clock += 1;
        let now = inner.clock;
        inner.modules.get_mut(hash).map(|(module, used)| {
            *used = now;
            module.clone()
        })
    }

    /// Keeps `module`, dropping the least recently used past either bound.
    /// A module larger than the whole byte budget is not kept.
    pub(crate) fn insert(&self, module: Arc<TaskModule>) {
        let size = module.footprint_bytes;
        if size > self.bytes_max {
            tracing::debug!(module = %module.hash, size, "module larger than the in-memory cache (modules_in_memory_bytes_max); not cached");
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.clock += 1;
        let now = inner.clock;
        if let Some((old, _)) = inner.modules.remove(&module.hash) {
            inner.bytes -= old.footprint_bytes;
        }
        while inner.modules.len() >= self.capacity || inner.bytes + size > self.bytes_max {
            let Some(oldest) = inner
                .modules
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(h, _)| *h)
            else {
                break;
            };
            if let Some((old, _)) = inner.modules.remove(&oldest) {
                inner.bytes -= old.footprint_bytes;
            }
        }
        inner.bytes += size;
        inner.modules.insert(module.hash, (module, now));
    }

    pub(crate) fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .modules
            .len()
    }

    /// The footprint of the modules held.
    pub(crate) fn bytes(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).bytes
    }
}

/// Refusals remembered by module hash, so that the same bytes (a compile
/// bomb sent again, a retried task) are refused without compiling again.
/// The oldest are forgotten past the capacity.
#[derive(Debug)]
pub(crate) struct Refusals {
    inner: Mutex<(HashMap<ModuleHash, LoadError>, VecDeque<ModuleHash>)>,
    capacity: usize,
}

impl Refusals {
    pub(crate) fn new(capacity: usize) -> Refusals {
        Refusals {
            inner: Mutex::default(),
            capacity,
        }
    }

    pub(crate) fn get(&self, hash: &ModuleHash) -> Option<LoadError> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.0.get(hash).cloned()
    }

    pub(crate) fn remember(&self, hash: ModuleHash, refusal: LoadError) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (refusals, order) = &mut *inner;
        if refusals.insert(hash, refusal).is_none() {
            order.push_back(hash);
        }
        while order.len() > self.capacity {
            if let Some(oldest) = order.pop_front() {
                refusals.remove(&oldest);
            }
        }
    }
}
