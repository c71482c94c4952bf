//! Spilling to disk: the worker's spill directory ([`SpillDir`]), the
//! files of spilled values (one file per value, its raw bytes, named by a
//! number unique within the directory), and the spiller task ([`run`])
//! that writes the values the store picks.
//!
//! The spiller is one tokio task per worker. It sleeps until the store says
//! managed memory is over the target, then repeatedly picks a batch of
//! least recently used values, writes them on a blocking thread (no lock is
//! held while writing; the values stay readable in memory meanwhile) and
//! commits the outcome, until nothing more needs spilling. A value whose
//! write failed (disk full, say) stays in memory with a warning and is
//! tried again after a pause that doubles on every failure, from
//! [`RETRY_PAUSE`] up to [`RETRY_PAUSE_MAX`].
//!
//! Files are not synced: a spill directory only lives as long as its
//! worker, so a crash loses nothing that was not lost anyway.

use crate::store::{Store, Victim};
use bytes::Bytes;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The first pause after a failed spill write.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause between attempts while spill writes keep failing.
const RETRY_PAUSE_MAX: Duration = Duration::from_secs(10);

/// Why a spill file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpillError {
    /// Writing failed (the partial file was deleted).
    #[error("cannot write spill file {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// Reading failed.
    #[error("cannot read spill file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The file is not the size that was written (changed by someone else).
    #[error("spill file {} holds {found} bytes, but {expected} were written", path.display())]
    WrongSize {
        /// The file.
        path: PathBuf,
        /// Its size now.
        found: u64,
        /// The size written.
        expected: u64,
    },
    /// The blocking thread doing the I/O did not finish (the runtime is
    /// shutting down, or it panicked).
    #[error("the disk I/O thread did not finish: {0}")]
    Join(String),
}

/// A worker's own spill directory, private (mode 0700 on Unix) and
/// uniquely named; dropping it removes it with everything in it.
///
/// A worker killed outright (SIGKILL, a crash) cannot remove its
/// directory, so each worker holds an exclusive `flock` on its own for as
/// long as it lives, and a worker that starts removes every
/// `weft-spill-*` directory beside its own that nobody holds (and that is
/// over [`STALE_AFTER`] old, so that one being created right now is left
/// to its creator).
#[derive(Debug)]
pub(crate) struct SpillDir {
    dir: tempfile::TempDir,
    /// The directory opened and locked: the lock goes with the process.
    _lock: fs::File,
}

/// How old an unlocked spill directory must be before another worker
/// removes it.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(60);

impl SpillDir {
    /// Creates a directory `weft-spill-XXXXXX` in `parent` (created if
    /// missing), or in the system's temporary directory.
    pub(crate) fn create(parent: Option<&Path>) -> io::Result<SpillDir> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("weft-spill-");
        let dir = match parent {
            Some(parent) => {
                fs::create_dir_all(parent)?;
                builder.tempdir_in(parent)?
            }
            None => builder.tempdir()?,
        };
        let lock = fs::File::open(dir.path())?;
        // A file system that cannot lock a directory (NFS) still spills;
        // it only does without purging others' leftovers.
        let locked = match try_lock(&lock) {
            Ok(locked) => locked,
            Err(error) => {
                tracing::warn!(path = %dir.path().display(), %error, "cannot lock the spill directory; stale ones beside it are not purged");
                false
            }
        };
        let spill = SpillDir { dir, _lock: lock };
        if locked && let Some(parent) = spill.path().parent() {
            purge_stale(parent, spill.path(), STALE_AFTER);
        }
        Ok(spill)
    }

    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Removes it with everything in it, saying what went wrong (dropping
    /// it removes it too, silently).
    pub(crate) fn remove(self) -> io::Result<()> {
        self.dir.close()
    }
}

/// Takes an exclusive `flock` on `file` without waiting; false if another
/// open file holds one.
fn try_lock(file: &fs::File) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor this `File` owns; no memory is
    // shared with the kernel.
    let status = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if status == 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(error)
    }
}

/// Removes the `weft-spill-*` directories in `parent` other than `ours`
/// that no living worker holds and that are older than `stale_after`.
/// Returns how many went. Failures are logged, never fatal.
pub(crate) fn purge_stale(parent: &Path, ours: &Path, stale_after: Duration) -> usize {
    let Ok(entries) = fs::read_dir(parent) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let named = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with("weft-spill-"));
        if !named || path == ours {
            continue;
        }
        let old_enough = entry
            .metadata()
            .ok()
            .filter(fs::Metadata::is_dir)
            .and_then(|m| m.modified().ok())
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age >= stale_after);
        if !old_enough {
            continue;
        }
        let Ok(dir) = fs::File::open(&path) else {
            continue;
        };
        // Held while removing, so that no other purger races this one.
        if try_lock(&dir).unwrap_or(false) {
            match fs::remove_dir_all(&path) {
                Ok(()) => removed += 1,
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "cannot remove a stale spill directory")
                }
            }
        }
    }
    if removed > 0 {
        tracing::info!(removed, parent = %parent.display(), "removed spill directories of workers that are gone");
    }
    removed
}

/// Writes `value` to a new file at `path`; on failure nothing is left.
/// Never replaces an existing file.
pub(crate) fn write_file(path: &Path, value: &[u8]) -> Result<(), SpillError> {
    let failed = |source| SpillError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(failed)?;
    file.write_all(value).map_err(|source| {
        drop(file);
        let _ = fs::remove_file(path);
        failed(source)
    })
}

/// Reads the value of `nbytes` bytes spilled at `path`.
pub(crate) fn read_file(path: &Path, nbytes: u64) -> Result<Bytes, SpillError> {
    let bytes = fs::read(path).map_err(|source| SpillError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.len() as u64 != nbytes {
        return Err(SpillError::WrongSize {
            path: path.to_path_buf(),
            found: bytes.len() as u64,
            expected: nbytes,
        });
    }
    Ok(Bytes::from(bytes))
}

/// Deletes a spill file; a file already gone is fine, other failures are
/// logged (the directory goes when the worker stops anyway).
pub(crate) fn delete_file(path: &Path) {
    if let Err(error) = fs::remove_file(path)
        && error.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), %error, "cannot delete a spill file");
    }
}

/// Deletes spill files on a blocking thread and waits for it.
pub(crate) async fn delete_files(paths: Vec<PathBuf>) {
    if paths.is_empty() {
        return;
    }
    let deleting = tokio::task::spawn_blocking(move || {
        for path in paths {
            delete_file(&path);
        }
    });
    if let Err(error) = deleting.await {
        tracing::warn!(%error, "deleting spill files did not finish");
    }
}

/// The spiller: keeps `store`'s managed memory under its target. Runs
/// until the store is closed (after finishing the batch it is writing),
/// until dropped, or until a blocking write thread panics (a bug; values
/// are then no longer spilled, and the pause fraction still applies).
pub(crate) async fn run(store: Arc<Store>) {
    let mut pause = RETRY_PAUSE;
    loop {
        store.spill_wanted().await;
        loop {
            if store.is_closed() {
                return;
            }
            let victims = store.pick();
            if victims.is_empty() {
                break;
            }
            let writing = tokio::task::spawn_blocking(move || write_victims(victims));
            let written = match writing.await {
                Ok(written) => written,
                Err(error) => {
                    tracing::error!(%error, "the spill writer thread failed; spilling stops");
                    return;
                }
            };
            let failed = written.iter().any(|(_, outcome)| outcome.is_err());
            delete_files(store.commit(written)).await;
            if failed {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = store.closing() => return,
                }
                pause = (pause * 2).min(RETRY_PAUSE_MAX);
            } else {
                pause = RETRY_PAUSE;
            }
        }
    }
}

fn write_victims(victims: Vec<Victim>) -> Vec<(Victim, Result<(), SpillError>)> {
    victims
        .into_iter()
        .map(|victim| {
            let outcome = write_file(&victim.path, &victim.value);
            (victim, outcome)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SpillPolicy;
    use std::time::Instant;
    use weft_schema::graph::TaskKey;

    #[test]
    fn files_round_trip_and_failures_leave_nothing() {
        let dir = SpillDir::create(None).expect("dir");
        let path = dir.path().join("a");
        write_file(&path, b"hello").expect("write");
        assert_eq!(&read_file(&path, 5).expect("read")[..], b"hello");
        assert!(matches!(
            read_file(&path, 6),
            Err(SpillError::WrongSize {
                found: 5,
                expected: 6,
                ..
            })
        ));
        // Never overwrites.
        assert!(matches!(
            write_file(&path, b"x"),
            Err(SpillError::Write { .. })
        ));
        assert_eq!(&read_file(&path, 5).expect("read")[..], b"hello");
        delete_file(&path);
        delete_file(&path);
        assert!(!path.exists());
        // A directory that is gone: the write fails cleanly.
        let gone = dir.path().join("no-such-dir").join("b");
        assert!(matches!(
            write_file(&gone, b"x"),
            Err(SpillError::Write { .. })
        ));
        assert!(matches!(read_file(&gone, 1), Err(SpillError::Read { .. })));
    }

    #[test]
    fn a_given_parent_gets_a_unique_directory_removed_on_drop() {
        let parent = tempfile::tempdir().expect("parent");
        let nested = parent.path().join("x").join("y");
        let a = SpillDir::create(Some(&nested)).expect("a");
        let b = SpillDir::create(Some(&nested)).expect("b");
        assert_ne!(a.path(), b.path());
        assert!(a.path().starts_with(&nested));
        let path = a.path().to_path_buf();
        write_file(&path.join("f"), b"data").expect("write");
        drop(a);
        assert!(!path.exists());
        assert!(b.path().exists());
    }

    #[tokio::test]
    async fn the_spiller_keeps_memory_at_the_target() {
        let store = Arc::new(Store::new(Some(SpillPolicy {
            dir: SpillDir::create(None).expect("dir"),
            target: 1000,
            bytes_max: 0,
        })));
        let spiller = tokio::spawn(run(store.clone()));
        for n in 0..50u8 {
            store.insert(TaskKey([n; 16]), Bytes::from(vec![n; 100]));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while store.memory_bytes() > 1000 {
            assert!(Instant::now() < deadline, "{:?}", store.usage());
            tokio::time::timeout(Duration::from_secs(1), store.spilled())
                .await
                .ok();
        }
        let usage = store.usage();
        assert_eq!(usage.memory_bytes + usage.spilled_bytes, 5000);
        assert_eq!(usage.spilled_keys, 40);
        for n in 0..50u8 {
            let value = store.load(&TaskKey([n; 16])).await.expect("readable");
            assert_eq!(value.as_deref(), Some(&vec![n; 100][..]));
        }
        spiller.abort();
    }

    #[test]
    fn a_starting_worker_removes_the_spill_directories_of_workers_that_are_gone() {
        let parent = tempfile::tempdir().expect("parent");
        // A worker killed outright: its directory stays, unlocked.
        let dead = parent.path().join("weft-spill-dead");
        fs::create_dir(&dead).expect("dir");
        fs::write(dead.join("0"), b"spilled").expect("file");
        // A living worker's, locked; and something else of the same age.
        let alive = SpillDir::create(Some(parent.path())).expect("alive");
        let other = parent.path().join("not-a-spill-dir");
        fs::create_dir(&other).expect("dir");
        // Too young: left to whoever is creating it.
        assert_eq!(
            purge_stale(parent.path(), Path::new("/none"), STALE_AFTER),
            0
        );
        assert!(dead.exists());
        // Old enough (an age limit of zero): only the dead worker's goes.
        assert_eq!(
            purge_stale(parent.path(), Path::new("/none"), Duration::ZERO),
            1
        );
        assert!(!dead.exists());
        assert!(alive.path().exists() && other.exists());
        // A new worker's start purges too (its own directory is kept).
        fs::create_dir(&dead).expect("dir");
        let filetime = std::time::SystemTime::now() - 2 * STALE_AFTER;
        fs::File::open(&dead)
            .and_then(|d| d.set_modified(filetime))
            .expect("age it");
        let fresh = SpillDir::create(Some(parent.path())).expect("fresh");
        assert!(!dead.exists() && fresh.path().exists() && alive.path().exists());
    }
}
