//! What the runtime keeps in memory by module hash: compiled modules (the
//! least recently used dropped past `modules_in_memory_max` or
//! `modules_in_memory_bytes_max`) and refusals. The disk cache is in
//! `disk_cache.rs`.

use crate::error::LoadError;
use crate::module::{ModuleHash, TaskModule};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
/// A circumstantial refusal ([`LoadError::is_circumstantial`]) expires after
/// the TTL; the oldest are forgotten past the capacity.
#[derive(Debug)]
pub(crate) struct Refusals {
    inner: Mutex<(HashMap<ModuleHash, Refusal>, VecDeque<ModuleHash>)>,
    capacity: usize,
    ttl: Duration,
}

#[derive(Debug)]
struct Refusal {
    error: LoadError,
    until: Option<Instant>,
}

impl Refusals {
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Refusals {
        Refusals {
            inner: Mutex::default(),
            capacity,
            ttl,
        }
    }

    pub(crate) fn get(&self, hash: &ModuleHash) -> Option<LoadError> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (refusals, order) = &mut *inner;
        let refusal = refusals.get(hash)?;
        if refusal.until.is_some_and(|until| Instant::now() >= until) {
            refusals.remove(hash);
            order.retain(|h| h != hash);
            return None;
        }
        Some(refusal.error.clone())
    }

    pub(crate) fn remember(&self, hash: ModuleHash, error: LoadError) {
        if self.capacity == 0 {
            return;
        }
        let until = error.is_circumstantial().then(|| Instant::now() + self.ttl);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (refusals, order) = &mut *inner;
        if refusals.insert(hash, Refusal { error, until }).is_none() {
            order.push_back(hash);
        }
        while order.len() > self.capacity {
            if let Some(oldest) = order.pop_front() {
                refusals.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ModuleLimit;

    fn over(limit: ModuleLimit) -> LoadError {
        LoadError::OverLimit {
            module: ModuleHash([0; 32]),
            limit,
            found: 2,
            allowed: 1,
            function: None,
        }
    }

    #[test]
    fn circumstantial_refusals_expire_and_the_oldest_are_forgotten() {
        let refusals = Refusals::new(2, Duration::ZERO);
        let (a, b, c) = (
            ModuleHash([1; 32]),
            ModuleHash([2; 32]),
            ModuleHash([3; 32]),
        );
        refusals.remember(a, over(ModuleLimit::CompileTime));
        assert_eq!(refusals.get(&a), None, "a deadline refusal expires");
        refusals.remember(a, over(ModuleLimit::Locals));
        refusals.remember(b, over(ModuleLimit::Locals));
        assert_eq!(refusals.get(&a), Some(over(ModuleLimit::Locals)));
        refusals.remember(c, over(ModuleLimit::Nesting));
        assert_eq!(refusals.get(&a), None, "past the capacity, the oldest goes");
        assert!(refusals.get(&b).is_some() && refusals.get(&c).is_some());
    }
}
