//! The worker's data: results of tasks it ran, inputs it fetched (replicas)
//! and values clients put on it, by key, shared between the task loop, the
//! data port, the fetcher and the spiller.
//!
//! A value is held in memory as [`Bytes`] and handed out as cheap clones:
//! serving it or splicing it into another task's arguments copies nothing
//! until the bytes reach a socket or a guest's memory.
//!
//! **Spilling.** With a target (`memory_limit` × `memory_target_fraction`),
//! the bytes held in memory (managed memory) are kept under it by moving
//! values to files in the spill directory, least recently used first
//! (recency is the last [`lookup`](Store::lookup) or
//! [`insert`](Store::insert)). The store only chooses and accounts; the
//! writing is done by the spiller task (`spill.rs`) on a blocking thread,
//! with no lock held:
//!
//! 1. [`insert`](Store::insert) notices that managed memory is over the
//!    target and wakes the spiller;
//! 2. the spiller [`pick`](Store::pick)s victims (they stay in memory and
//!    readable, marked as being spilled), writes them, and
//!    [`commit`](Store::commit)s: a victim still there in the same version
//!    leaves memory for disk; one removed or replaced meanwhile has its file
//!    deleted; one whose write failed stays in memory (with a warning) and
//!    is tried again later.
//!
//! A spilled value **stays on disk** until it is removed: reading it
//! ([`load`](Store::load)) returns a fresh copy that is not kept and not
//! counted as managed memory, so reading a value larger than the target
//! cannot make the store thrash. Spilled values have no recency.
//!
//! File deletions on [`remove`](Store::remove) and [`insert`](Store::insert)
//! (replacing a spilled value) are done at once on the calling thread: an
//! unlink is a short metadata operation. Reading back is done on a blocking
//! thread.

use crate::spill::{self, SpillDir};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::Notify;
use weft_schema::graph::TaskKey;

pub(crate) use crate::state::{Lookup, Usage};

/// How many bytes the spiller writes per [`Store::pick`] at most (at least
/// one value): bounds the memory a batch keeps busy and how long it takes
/// before the loop hears that memory went down.
const SPILL_BATCH_BYTES: u64 = 16 << 20;

/// How the store spills.
#[derive(Debug)]
pub(crate) struct SpillPolicy {
    /// Where spilled values are written.
    pub(crate) dir: SpillDir,
    /// Managed memory above which values are spilled, in bytes.
    pub(crate) target: u64,
    /// Bytes of spilled values kept at most (0: no limit).
    pub(crate) bytes_max: u64,
}

/// Values by key, in memory or on disk.
#[derive(Debug)]
pub(crate) struct Store {
    inner: Mutex<Inner>,
    /// `None`: the store never spills.
    target: Option<u64>,
    /// How far below `target` managed memory must go because the process
    /// as a whole is over it (see [`Store::set_pressure`]).
    pressure: std::sync::atomic::AtomicU64,
    bytes_max: u64,
    /// The spill directory's path, while the store has one.
    dir_path: Option<PathBuf>,
    /// Wakes the spiller: managed memory went over the target.
    spill_wanted: Notify,
    /// Wakes the task loop: the spiller moved values out of memory.
    spilled: Notify,
    /// Wakes the spiller from a pause between failed attempts: the store
    /// was closed.
    closing: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    memory: HashMap<TaskKey, InMemory>,
    /// Memory values not being spilled, by last use (least recent first).
    lru: BTreeMap<u64, TaskKey>,
    disk: HashMap<TaskKey, OnDisk>,
    memory_bytes: u64,
    /// Bytes of the memory values being spilled (part of `memory_bytes`).
    spilling_bytes: u64,
    disk_bytes: u64,
    /// Source of ticks, versions and file numbers.
    next: u64,
    /// The spill directory; taken by [`Store::close`].
    dir: Option<SpillDir>,
}

#[derive(Debug)]
struct InMemory {
    value: Bytes,
    /// Its key in `lru` (meaningless while `spilling`).
    tick: u64,
    /// Tells this value from a later one of the same key.
    version: u64,
    /// Picked by the spiller; not in `lru`.
    spilling: bool,
}

#[derive(Debug)]
struct OnDisk {
    path: PathBuf,
    nbytes: u64,
}

/// A value the spiller is to write.
#[derive(Debug)]
pub(crate) struct Victim {
    pub(crate) key: TaskKey,
    version: u64,
    /// The bytes to write.
    pub(crate) value: Bytes,
    /// The file to write them to (it does not exist yet).
    pub(crate) path: PathBuf,
}

impl Store {
    /// A store that spills by `policy`, or never (`None`).
    pub(crate) fn new(policy: Option<SpillPolicy>) -> Store {
        let (target, bytes_max, dir) = match policy {
            Some(policy) => (Some(policy.target), policy.bytes_max, Some(policy.dir)),
            None => (None, 0, None),
        };
        Store {
            dir_path: dir.as_ref().map(|dir| dir.path().to_path_buf()),
            inner: Mutex::new(Inner {
                dir,
                ..Inner::default()
            }),
            target,
            pressure: std::sync::atomic::AtomicU64::new(0),
            bytes_max,
            spill_wanted: Notify::new(),
            spilled: Notify::new(),
            closing: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update leaves the maps and counters consistent before it
        // can panic (there is no I/O under the lock), so a poisoned lock is
        // usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The spill directory, if the store spills.
    pub(crate) fn spill_dir(&self) -> Option<&Path> {
        self.dir_path.as_deref()
    }

    /// Where `key`'s value is; a value in memory is handed out and counts as
    /// used now.
    pub(crate) fn lookup(&self, key: &TaskKey) -> Lookup {
        let mut inner = self.lock();
        if let Some(value) = inner.use_value(key) {
            return Lookup::Memory(value);
        }
        if inner.disk.contains_key(key) {
            return Lookup::Disk;
        }
        Lookup::Missing
    }

    /// The value of `key`, from memory or read back from disk (on a
    /// blocking thread; the value stays on disk). `Ok(None)` if not held
    /// (or removed while being read); `Err` if the spill file could not be
    /// read.
    pub(crate) async fn load(&self, key: &TaskKey) -> Result<Option<Bytes>, spill::SpillError> {
        // A second look is needed only if the file went while being read
        // (the value was removed, or replaced by one in memory).
        let mut looks = 2;
        loop {
            looks -= 1;
            let (path, nbytes) = {
                let mut inner = self.lock();
                if let Some(value) = inner.use_value(key) {
                    return Ok(Some(value));
                }
                match inner.disk.get(key) {
                    Some(on_disk) => (on_disk.path.clone(), on_disk.nbytes),
                    None => return Ok(None),
                }
            };
            let read = tokio::task::spawn_blocking(move || spill::read_file(&path, nbytes))
                .await
                .map_err(|error| spill::SpillError::Join(error.to_string()))?;
            match read {
                Ok(value) => return Ok(Some(value)),
                Err(spill::SpillError::Read { source, .. })
                    if source.kind() == io::ErrorKind::NotFound && looks > 0 => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Whether `key` is held, in memory or on disk.
    pub(crate) fn contains(&self, key: &TaskKey) -> bool {
        let inner = self.lock();
        inner.memory.contains_key(key) || inner.disk.contains_key(key)
    }

    /// Stores `value` under `key` in memory, replacing any older value (a
    /// spilled one's file is deleted), and wakes the spiller if managed
    /// memory is now over the target.
    pub(crate) fn insert(&self, key: TaskKey, value: Bytes) {
        let (stale, over) = {
            let mut guard = self.lock();
            let inner = &mut *guard;
            let stale = inner.take(&key);
            let nbytes = value.len() as u64;
            let tick = inner.next;
            inner.next += 1;
            inner.memory.insert(
                key,
                InMemory {
                    value,
                    tick,
                    version: tick,
                    spilling: false,
                },
            );
            inner.lru.insert(tick, key);
            inner.memory_bytes += nbytes;
            (stale, self.over_target(inner))
        };
        if let Some(path) = stale {
            spill::delete_file(&path);
        }
        if over {
            self.spill_wanted.notify_one();
        }
    }

    /// Drops the value of `key`, if held, deleting its file if spilled.
    pub(crate) fn remove(&self, key: &TaskKey) {
        let stale = self.lock().take(key);
        if let Some(path) = stale {
            spill::delete_file(&path);
        }
    }

    /// Drops every value. Returns the spill files to delete (the caller
    /// deletes them, on a blocking thread if there are many).
    pub(crate) fn clear(&self) -> Vec<PathBuf> {
        let mut inner = self.lock();
        inner.memory.clear();
        inner.lru.clear();
        inner.memory_bytes = 0;
        inner.spilling_bytes = 0;
        inner.disk_bytes = 0;
        inner
            .disk
            .drain()
            .map(|(_, on_disk)| on_disk.path)
            .collect()
    }

    /// Drops every value and gives up the spill directory (dropping it
    /// removes it with its files): the store spills no more.
    pub(crate) fn close(&self) -> Option<SpillDir> {
        let _ = self.clear();
        let dir = self.lock().dir.take();
        // A spiller waiting for work or pausing wakes up and sees it is
        // closed.
        self.spill_wanted.notify_one();
        self.closing.notify_one();
        dir
    }

    /// Resolves once [`close`](Self::close) was called (for the spiller;
    /// one waiter).
    pub(crate) async fn closing(&self) {
        self.closing.notified().await;
    }

    /// Whether [`close`](Self::close) was called (or the store never
    /// spilled).
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().dir.is_none()
    }

    /// How much is held, in memory and on disk.
    pub(crate) fn usage(&self) -> Usage {
        let inner = self.lock();
        Usage {
            memory_keys: inner.memory.len() as u64,
            memory_bytes: inner.memory_bytes,
            spilled_keys: inner.disk.len() as u64,
            spilled_bytes: inner.disk_bytes,
        }
    }

    /// Managed memory: the bytes of the values held in memory.
    #[cfg(test)]
    pub(crate) fn memory_bytes(&self) -> u64 {
        self.lock().memory_bytes
    }

    /// Resolves when managed memory may be over the target (for the
    /// spiller; a wakeup while nobody waits is kept for the next wait).
    pub(crate) async fn spill_wanted(&self) {
        self.spill_wanted.notified().await;
    }

    /// Resolves when the spiller has moved values out of memory since the
    /// last call (for the task loop, which then looks at managed memory
    /// again).
    pub(crate) async fn spilled(&self) {
        self.spilled.notified().await;
    }

    /// Chooses values to spill, least recently used first, until managed
    /// memory not already being spilled is at the target or the batch is
    /// full. They stay readable in memory until [`commit`](Self::commit).
    /// Empty if nothing needs or can be spilled (the disk budget
    /// `spill_bytes_max` is used up, or the store was closed).
    pub(crate) fn pick(&self) -> Vec<Victim> {
        let Some(target) = self.effective_target() else {
            return Vec::new();
        };
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(dir) = &inner.dir else {
            return Vec::new();
        };
        let dir = dir.path().to_path_buf();
        let mut victims = Vec::new();
        let mut batch_bytes = 0u64;
        let mut budget_used = inner.disk_bytes + inner.spilling_bytes;
        while inner.memory_bytes - inner.spilling_bytes > target && batch_bytes < SPILL_BATCH_BYTES
        {
            let Some((&tick, &key)) = inner.lru.first_key_value() else {
                break;
            };
            let Some(entry) = inner.memory.get_mut(&key) else {
                // Cannot happen: `lru` only names memory values.
                inner.lru.remove(&tick);
                continue;
            };
            let nbytes = entry.value.len() as u64;
            if self.bytes_max > 0 && budget_used + nbytes > self.bytes_max {
                // The least recently used value does not fit on disk: stop
                // here rather than scan the whole table on every insert.
                break;
            }
            inner.lru.remove(&tick);
            entry.spilling = true;
            inner.spilling_bytes += nbytes;
            budget_used += nbytes;
            batch_bytes += nbytes;
            let file = inner.next;
            inner.next += 1;
            victims.push(Victim {
                key,
                version: entry.version,
                value: entry.value.clone(),
                path: dir.join(format!("{file:016x}")),
            });
        }
        victims
    }

    /// Applies the outcome of writing [`pick`](Self::pick)ed victims (their
    /// error if the write failed). Returns the files no longer wanted (the
    /// value was removed or replaced meanwhile); the caller deletes them.
    /// Wakes the task loop if memory went down.
    pub(crate) fn commit(
        &self,
        written: Vec<(Victim, Result<(), spill::SpillError>)>,
    ) -> Vec<PathBuf> {
        let mut stale = Vec::new();
        let mut moved = false;
        {
            let mut guard = self.lock();
            let inner = &mut *guard;
            for (victim, outcome) in written {
                let current = inner
                    .memory
                    .get_mut(&victim.key)
                    .filter(|entry| entry.version == victim.version && entry.spilling);
                let Some(entry) = current else {
                    // Removed or replaced while being written (the
                    // counters were settled then).
                    if outcome.is_ok() {
                        stale.push(victim.path);
                    }
                    continue;
                };
                let nbytes = entry.value.len() as u64;
                inner.spilling_bytes -= nbytes;
                match outcome {
                    Ok(()) => {
                        inner.memory.remove(&victim.key);
                        inner.memory_bytes -= nbytes;
                        inner.disk_bytes += nbytes;
                        inner.disk.insert(
                            victim.key,
                            OnDisk {
                                path: victim.path,
                                nbytes,
                            },
                        );
                        moved = true;
                    }
                    Err(error) => {
                        tracing::warn!(
                            key = %victim.key,
                            nbytes,
                            %error,
                            "cannot spill a value to disk; it stays in memory"
                        );
                        // Back where it was in the order: tried first next time.
                        entry.spilling = false;
                        inner.lru.insert(entry.tick, victim.key);
                    }
                }
            }
        }
        if moved {
            self.spilled.notify_one();
        }
        stale
    }

    fn over_target(&self, inner: &Inner) -> bool {
        self.effective_target()
            .is_some_and(|target| inner.memory_bytes - inner.spilling_bytes > target)
    }

    /// The target less the pressure.
    fn effective_target(&self) -> Option<u64> {
        let pressure = self.pressure.load(std::sync::atomic::Ordering::Relaxed);
        self.target.map(|target| target.saturating_sub(pressure))
    }

    /// The process uses `bytes` more than the target allows (memory the
    /// store does not manage: the runtime, guests, buffers): managed memory
    /// is spilled down to that much below the target, as Dask does with its
    /// spill fraction of process memory. Zero lifts it.
    pub(crate) fn set_pressure(&self, bytes: u64) {
        let old = self
            .pressure
            .swap(bytes, std::sync::atomic::Ordering::Relaxed);
        if bytes > old && self.over_target(&self.lock()) {
            self.spill_wanted.notify_one();
        }
    }
}

impl Inner {
    /// The value of `key` if in memory, which counts as used now (unless
    /// it is being spilled).
    fn use_value(&mut self, key: &TaskKey) -> Option<Bytes> {
        let entry = self.memory.get_mut(key)?;
        if !entry.spilling {
            self.lru.remove(&entry.tick);
            entry.tick = self.next;
            self.next += 1;
            self.lru.insert(entry.tick, *key);
        }
        Some(entry.value.clone())
    }

    /// Drops `key`'s value from the tables; returns its file if it was
    /// spilled.
    fn take(&mut self, key: &TaskKey) -> Option<PathBuf> {
        if let Some(old) = self.memory.remove(key) {
            let nbytes = old.value.len() as u64;
            self.memory_bytes -= nbytes;
            if old.spilling {
                self.spilling_bytes -= nbytes;
            } else {
                self.lru.remove(&old.tick);
            }
        }
        let on_disk = self.disk.remove(key)?;
        self.disk_bytes -= on_disk.nbytes;
        Some(on_disk.path)
    }
}

/// The worker state reads and changes the store through this.
impl crate::state::Values for std::sync::Arc<Store> {
    fn lookup(&mut self, key: &TaskKey) -> Lookup {
        Store::lookup(self, key)
    }

    fn contains(&self, key: &TaskKey) -> bool {
        Store::contains(self, key)
    }

    fn insert(&mut self, key: TaskKey, value: Bytes) {
        Store::insert(self, key, value);
    }

    fn remove(&mut self, key: &TaskKey) {
        Store::remove(self, key);
    }

    fn clear(&mut self) -> Vec<PathBuf> {
        Store::clear(self)
    }

    fn usage(&self) -> Usage {
        Store::usage(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> TaskKey {
        TaskKey([n; 16])
    }

    fn spilling_store(target: u64, bytes_max: u64) -> Store {
        Store::new(Some(SpillPolicy {
            dir: SpillDir::create(None).expect("a spill directory"),
            target,
            bytes_max,
        }))
    }

    /// Does what the spiller does, once, on this thread.
    fn spill_once(store: &Store) -> Vec<TaskKey> {
        let victims = store.pick();
        let keys = victims.iter().map(|v| v.key).collect();
        let written = victims
            .into_iter()
            .map(|victim| {
                let outcome = spill::write_file(&victim.path, &victim.value);
                (victim, outcome)
            })
            .collect();
        for path in store.commit(written) {
            spill::delete_file(&path);
        }
        keys
    }

    fn files(store: &Store) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(store.spill_dir().expect("a directory"))
            .expect("read_dir")
            .map(|entry| entry.expect("entry").path())
            .collect();
        files.sort();
        files
    }

    #[test]
    fn sizes_follow_inserts_and_removals() {
        let store = Store::new(None);
        let a = key(1);
        store.insert(a, Bytes::from_static(b"abc"));
        store.insert(key(2), Bytes::from_static(b"de"));
        assert_eq!(store.usage().memory_keys, 2);
        assert_eq!(store.usage().memory_bytes, 5);
        store.insert(a, Bytes::from_static(b"x"));
        assert_eq!(store.memory_bytes(), 3);
        store.remove(&a);
        store.remove(&a);
        assert_eq!(
            store.usage(),
            Usage {
                memory_keys: 1,
                memory_bytes: 2,
                spilled_keys: 0,
                spilled_bytes: 0
            }
        );
        assert!(!store.contains(&a));
        assert_eq!(store.lookup(&a), Lookup::Missing);
        assert_eq!(
            store.lookup(&key(2)),
            Lookup::Memory(Bytes::from_static(b"de"))
        );
        // Without a policy nothing is ever picked.
        store.insert(key(3), Bytes::from(vec![0; 1 << 20]));
        assert!(store.pick().is_empty());
        assert!(store.spill_dir().is_none());
    }

    #[test]
    fn the_least_recently_used_values_are_spilled_first() {
        let store = spilling_store(25, 0);
        for n in 1..=4 {
            store.insert(key(n), Bytes::from(vec![n; 10]));
        }
        // Use 1 and 3: 2 and 4 are now the least recently used, 2 first.
        assert!(matches!(store.lookup(&key(1)), Lookup::Memory(_)));
        assert!(matches!(store.lookup(&key(3)), Lookup::Memory(_)));
        // 40 bytes over a target of 25: two values must go.
        assert_eq!(spill_once(&store), vec![key(2), key(4)]);
        assert_eq!(
            store.usage(),
            Usage {
                memory_keys: 2,
                memory_bytes: 20,
                spilled_keys: 2,
                spilled_bytes: 20
            }
        );
        assert_eq!(store.lookup(&key(2)), Lookup::Disk);
        assert!(store.contains(&key(2)));
        assert_eq!(files(&store).len(), 2);
        // Under the target: nothing more.
        assert!(spill_once(&store).is_empty());
        // A new value pushes out the least recently used of 1 and 3.
        store.insert(key(5), Bytes::from(vec![5; 10]));
        assert!(matches!(store.lookup(&key(1)), Lookup::Memory(_)));
        assert_eq!(spill_once(&store), vec![key(3)]);
    }

    #[tokio::test]
    async fn a_spilled_value_reads_back_as_written_and_stays_on_disk() {
        let store = spilling_store(0, 0);
        let value: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        store.insert(key(1), Bytes::from(value.clone()));
        // An empty value weighs nothing: it is never worth spilling.
        store.insert(key(2), Bytes::new());
        assert_eq!(spill_once(&store), vec![key(1)]);
        assert_eq!(store.memory_bytes(), 0);
        for _ in 0..2 {
            let back = store.load(&key(1)).await.expect("readable");
            assert_eq!(back.as_deref(), Some(&value[..]));
            assert_eq!(store.usage().spilled_bytes, 100_000);
            assert_eq!(store.memory_bytes(), 0);
        }
        assert_eq!(
            store.load(&key(2)).await.expect("readable"),
            Some(Bytes::new())
        );
        assert_eq!(store.load(&key(3)).await.expect("fine"), None);

        // A file that was tampered with is an error, not a wrong value.
        let file = files(&store)
            .into_iter()
            .find(|f| std::fs::metadata(f).expect("metadata").len() == 100_000)
            .expect("the file of key 1");
        std::fs::write(&file, b"short").expect("write");
        let error = store.load(&key(1)).await.expect_err("a short file");
        assert!(error.to_string().contains("5 bytes"), "{error}");
    }

    #[test]
    fn remove_and_replace_delete_the_file() {
        let store = spilling_store(0, 0);
        store.insert(key(1), Bytes::from_static(b"one"));
        store.insert(key(2), Bytes::from_static(b"two"));
        spill_once(&store);
        assert_eq!(files(&store).len(), 2);
        store.remove(&key(1));
        assert_eq!(files(&store).len(), 1);
        assert!(!store.contains(&key(1)));
        // Replacing a spilled value puts the new one in memory.
        store.insert(key(2), Bytes::from_static(b"2"));
        assert!(files(&store).is_empty());
        assert_eq!(
            store.lookup(&key(2)),
            Lookup::Memory(Bytes::from_static(b"2"))
        );
        assert_eq!(
            store.usage(),
            Usage {
                memory_keys: 1,
                memory_bytes: 1,
                spilled_keys: 0,
                spilled_bytes: 0
            }
        );
    }

    #[test]
    fn a_value_removed_or_replaced_while_being_written_is_not_resurrected() {
        let store = spilling_store(0, 0);
        store.insert(key(1), Bytes::from_static(b"one"));
        store.insert(key(2), Bytes::from_static(b"two"));
        let victims = store.pick();
        assert_eq!(victims.len(), 2);
        // Still readable while being written.
        assert_eq!(
            store.lookup(&key(1)),
            Lookup::Memory(Bytes::from_static(b"one"))
        );
        store.remove(&key(1));
        store.insert(key(2), Bytes::from_static(b"TWO"));
        let written: Vec<_> = victims
            .into_iter()
            .map(|v| {
                let outcome = spill::write_file(&v.path, &v.value);
                (v, outcome)
            })
            .collect();
        let stale = store.commit(written);
        assert_eq!(stale.len(), 2);
        for path in stale {
            spill::delete_file(&path);
        }
        assert!(files(&store).is_empty());
        assert!(!store.contains(&key(1)));
        assert_eq!(
            store.lookup(&key(2)),
            Lookup::Memory(Bytes::from_static(b"TWO"))
        );
        assert_eq!(store.usage().memory_bytes, 3);
        // The new value can be spilled in turn.
        assert_eq!(spill_once(&store), vec![key(2)]);
        assert_eq!(store.usage().spilled_bytes, 3);
    }

    #[test]
    fn a_failed_write_keeps_the_value_in_memory() {
        let store = spilling_store(0, 0);
        store.insert(key(1), Bytes::from_static(b"one"));
        let victims = store.pick();
        let written = victims
            .into_iter()
            .map(|v| {
                let error = spill::SpillError::Write {
                    path: v.path.clone(),
                    source: io::Error::new(io::ErrorKind::StorageFull, "disk full"),
                };
                (v, Err(error))
            })
            .collect();
        assert!(store.commit(written).is_empty());
        assert_eq!(
            store.lookup(&key(1)),
            Lookup::Memory(Bytes::from_static(b"one"))
        );
        assert_eq!(store.usage().memory_bytes, 3);
        assert_eq!(store.usage().spilled_keys, 0);
        // It is tried again.
        assert_eq!(spill_once(&store), vec![key(1)]);
        assert_eq!(store.lookup(&key(1)), Lookup::Disk);
    }

    #[test]
    fn the_disk_budget_is_kept() {
        let store = spilling_store(0, 25);
        for n in 1..=3 {
            store.insert(key(n), Bytes::from(vec![n; 10]));
        }
        assert_eq!(spill_once(&store), vec![key(1), key(2)]);
        assert!(spill_once(&store).is_empty());
        assert_eq!(store.usage().spilled_bytes, 20);
        assert_eq!(store.usage().memory_bytes, 10);
    }

    #[test]
    fn clear_and_close_drop_everything() {
        let store = spilling_store(5, 0);
        store.insert(key(1), Bytes::from_static(b"one"));
        store.insert(key(2), Bytes::from_static(b"two"));
        spill_once(&store);
        let dir = store.spill_dir().expect("a directory").to_path_buf();
        let paths = store.clear();
        assert_eq!(paths.len(), 1);
        assert_eq!(store.usage(), Usage::default());
        for path in &paths {
            spill::delete_file(path);
        }
        assert!(files(&store).is_empty());
        store.insert(key(3), Bytes::from_static(b"three"));
        store.insert(key(4), Bytes::from_static(b"four"));
        spill_once(&store);
        let closed = store.close().expect("the directory");
        assert_eq!(store.usage(), Usage::default());
        drop(closed);
        assert!(!dir.exists());
        // A closed store keeps values in memory.
        store.insert(key(5), Bytes::from_static(b"five!"));
        store.insert(key(6), Bytes::from_static(b"six!!"));
        assert!(store.pick().is_empty());
    }
}
