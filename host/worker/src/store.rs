//! The worker's data: results of tasks it ran, inputs it fetched (replicas)
//! and values clients put on it, as [`Bytes`] by key, shared between the
//! task loop, the data port and the fetcher.
//!
//! A value is stored once and handed out as cheap clones of its `Bytes`:
//! serving it or splicing it into another task's arguments copies nothing
//! until the bytes reach a socket or a guest's memory.

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use weft_schema::graph::TaskKey;

/// Values by key, with their total size.
#[derive(Debug, Default)]
pub(crate) struct Store {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    values: HashMap<TaskKey, Bytes>,
    nbytes: u64,
}

impl Store {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map inconsistent
        // (every update is one call on it), so a poisoned lock is usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The value of `key`, if held.
    pub(crate) fn get(&self, key: &TaskKey) -> Option<Bytes> {
        self.lock().values.get(key).cloned()
    }

    /// Whether `key` is held.
    pub(crate) fn contains(&self, key: &TaskKey) -> bool {
        self.lock().values.contains_key(key)
    }

    /// Stores `value` under `key`, replacing any older value.
    pub(crate) fn insert(&self, key: TaskKey, value: Bytes) {
        let mut inner = self.lock();
        let added = value.len() as u64;
        if let Some(old) = inner.values.insert(key, value) {
            inner.nbytes -= old.len() as u64;
        }
        inner.nbytes += added;
    }

    /// Drops the value of `key`, if held.
    pub(crate) fn remove(&self, key: &TaskKey) {
        let mut inner = self.lock();
        if let Some(old) = inner.values.remove(key) {
            inner.nbytes -= old.len() as u64;
        }
    }

    /// How many values are held, and their total size in bytes.
    pub(crate) fn usage(&self) -> (usize, u64) {
        let inner = self.lock();
        (inner.values.len(), inner.nbytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_inserts_and_removals() {
        let store = Store::default();
        let a = TaskKey([1; 16]);
        store.insert(a, Bytes::from_static(b"abc"));
        store.insert(TaskKey([2; 16]), Bytes::from_static(b"de"));
        assert_eq!(store.usage(), (2, 5));
        store.insert(a, Bytes::from_static(b"x"));
        assert_eq!(store.usage(), (2, 3));
        store.remove(&a);
        store.remove(&a);
        assert_eq!(store.usage(), (1, 2));
        assert!(!store.contains(&a));
        assert_eq!(store.get(&TaskKey([2; 16])).as_deref(), Some(&b"de"[..]));
    }
}
