//! Reloading the tenants file while the scheduler runs: a task that polls
//! the file's metadata and re-reads it when it changes or when the process
//! gets SIGHUP, and publishes each new [`TokenRegistry`] on a
//! `tokio::sync::watch` channel. A reload that fails keeps the registry
//! in use and logs why.

use super::file::{TenantsFile, TenantsFileError};
use super::registry::TokenRegistry;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The usual interval between two looks at the file's metadata: 1 s.
pub const DEFAULT_POLL: Duration = Duration::from_secs(1);

/// The shortest poll interval; shorter ones are taken as this.
const POLL_MIN: Duration = Duration::from_millis(10);

/// What identifies one version of the file without reading it. An atomic
/// rewrite (a rename) always changes the inode; an edit in place changes
/// the modification time or, within one tick of the clock, usually the
/// length. An edit that changes none of them is seen on SIGHUP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    device: u64,
    inode: u64,
    modified: Option<SystemTime>,
    length: u64,
}

impl Fingerprint {
    fn of(path: &Path) -> std::io::Result<Fingerprint> {
        let metadata = std::fs::metadata(path)?;
        Ok(Fingerprint {
            device: metadata.dev(),
            inode: metadata.ino(),
            modified: metadata.modified().ok(),
            length: metadata.len(),
        })
    }
}

/// What one look at the file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The file has not changed: nothing was read.
    Unchanged,
    /// The file was read and a new registry published.
    Reloaded,
    /// The file could not be looked at or read; the old registry stays.
    Failed,
}

/// The reloading state, stepped by the task (and directly by tests).
struct Reloader {
    path: PathBuf,
    /// The version last read (successfully or not); `None` when the file
    /// could not even be looked at.
    seen: Option<Fingerprint>,
    /// Whether the last look failed to find the file's metadata, so that
    /// a missing file is warned about once, not at every poll.
    missing: bool,
    sender: watch::Sender<Arc<TokenRegistry>>,
}

impl Reloader {
    /// Looks at the file and reloads it if it changed, or anyway when
    /// `forced` (SIGHUP). The file is small and local, so it is read on
    /// the task's thread.
    fn step(&mut self, forced: bool) -> Outcome {
        let fingerprint = match Fingerprint::of(&self.path) {
            Ok(fingerprint) => fingerprint,
            Err(error) => {
                if !self.missing {
                    tracing::warn!(
                        path = %self.path.display(),
                        %error,
                        "cannot look at the tenants file; keeping the tokens loaded before"
                    );
                }
                self.missing = true;
                self.seen = None;
                return Outcome::Failed;
            }
        };
        self.missing = false;
        if !forced && self.seen == Some(fingerprint) {
            return Outcome::Unchanged;
        }
        self.seen = Some(fingerprint);
        match TenantsFile::read(&self.path) {
            Ok(file) => {
                let registry = TokenRegistry::from_file(&file);
                log_loaded(&self.path, &registry, "reloaded");
                self.sender.send_replace(Arc::new(registry));
                Outcome::Reloaded
            }
            Err(error) => {
                // The error names the file, the entry and the problem,
                // never a secret or a hash.
                tracing::warn!(
                    %error,
                    "tenants file not reloaded; keeping the tokens loaded before"
                );
                Outcome::Failed
            }
        }
    }
}

fn log_loaded(path: &Path, registry: &TokenRegistry, what: &str) {
    tracing::info!(
        path = %path.display(),
        tenants = registry.tenants().len(),
        tokens = registry.token_count(),
        "tenants file {what}"
    );
}

/// Reads the tenants file at `path` (an error here is fatal to the
/// caller: there is no registry to start with), then spawns a task on the
/// current tokio runtime that re-reads it when its metadata changes
/// (looked at every `poll`, usually [`DEFAULT_POLL`]) or when the process
/// gets SIGHUP, and publishes each new registry on the returned channel.
/// The task ends when every receiver is dropped.
///
/// From this call on, SIGHUP no longer ends the process. If its handler
/// cannot be installed, a warning is logged and only polling reloads.
///
/// # Panics
///
/// If called outside a tokio runtime.
pub fn watch(
    path: PathBuf,
    poll: Duration,
) -> Result<(watch::Receiver<Arc<TokenRegistry>>, JoinHandle<()>), TenantsFileError> {
    let seen = Fingerprint::of(&path).ok();
    let file = TenantsFile::read(&path)?;
    let registry = TokenRegistry::from_file(&file);
    log_loaded(&path, &registry, "loaded");
    let (sender, receiver) = watch::channel(Arc::new(registry));
    // Installed before returning, so that a SIGHUP sent after this call
    // reloads rather than ends the process.
    let hangup = match signal(SignalKind::hangup()) {
        Ok(hangup) => Some(hangup),
        Err(error) => {
            tracing::warn!(%error, "cannot handle SIGHUP; the tenants file is reloaded only when it changes");
            None
        }
    };
    let reloader = Reloader {
        path,
        seen,
        missing: false,
        sender,
    };
    let task = tokio::spawn(run(reloader, poll.max(POLL_MIN), hangup));
    Ok((receiver, task))
}

/// The reloading task.
async fn run(mut reloader: Reloader, poll: Duration, mut hangup: Option<Signal>) {
    let mut ticks = tokio::time::interval(poll);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let forced = tokio::select! {
            () = reloader.sender.closed() => return,
            _ = ticks.tick() => false,
            received = next_hangup(&mut hangup) => {
                if received.is_none() {
                    hangup = None;
                    continue;
                }
                true
            }
        };
        reloader.step(forced);
    }
}

/// The next SIGHUP (`None` if the stream ended), or never without one.
async fn next_hangup(hangup: &mut Option<Signal>) -> Option<()> {
    match hangup {
        Some(hangup) => hangup.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_proto::auth::{Access, Secret};

    /// How long a test waits for a reload before failing.
    const DEADLINE: Duration = Duration::from_secs(5);

    /// A directory with a tenants file holding one token of alice's.
    fn setup() -> (tempfile::TempDir, PathBuf, TenantsFile, Secret) {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("tenants.toml");
        let mut file = TenantsFile::new();
        let (token, _) = file.add_token("alice", Access::Write).expect("added");
        file.write(&path).expect("written");
        (directory, path, file, token)
    }

    /// Waits (up to [`DEADLINE`]) until the published registry satisfies
    /// `done`, checking `always` on every registry published meanwhile.
    async fn wait_for(
        receiver: &mut watch::Receiver<Arc<TokenRegistry>>,
        done: impl Fn(&TokenRegistry) -> bool,
        always: impl Fn(&TokenRegistry) -> bool,
    ) {
        let waited = tokio::time::timeout(DEADLINE, async {
            loop {
                receiver.changed().await.expect("the watcher runs");
                let registry = receiver.borrow_and_update().clone();
                assert!(always(&registry), "an unexpected registry: {registry:?}");
                if done(&registry) {
                    return;
                }
            }
        })
        .await;
        assert!(waited.is_ok(), "no reload within {DEADLINE:?}");
    }

    #[tokio::test]
    async fn a_new_token_is_picked_up_and_a_broken_file_changes_nothing() {
        let (_directory, path, mut file, alice) = setup();
        let (mut receiver, task) = watch(path.clone(), Duration::from_millis(20)).expect("read");
        assert!(receiver.borrow().authenticate(&alice).is_ok());
        let (bob, bob_id) = file.add_token("bob", Access::Read).expect("added");
        file.write(&path).expect("written");
        let has_alice = |registry: &TokenRegistry| registry.authenticate(&alice).is_ok();
        wait_for(&mut receiver, |r| r.contains(&bob_id), has_alice).await;
        assert!(receiver.borrow().authenticate(&bob).is_ok());

        // A broken file is not published; the fixed one is.
        std::fs::write(&path, "[[tenant]]\nname = \"Bad/Name\"\n").expect("broken");
        let (_, carol_id) = file.add_token("carol", Access::Read).expect("added");
        file.write(&path).expect("fixed");
        wait_for(&mut receiver, |r| r.contains(&carol_id), has_alice).await;
        assert!(!task.is_finished());
        drop(receiver);
        tokio::time::timeout(DEADLINE, task)
            .await
            .expect("the task ends without receivers")
            .expect("the task does not panic");
    }

    #[tokio::test]
    async fn sighup_reloads_an_unchanged_file() {
        let (_directory, path, _file, alice) = setup();
        // A poll this long never fires during the test: only SIGHUP can.
        let (mut receiver, _task) = watch(path, Duration::from_secs(3600)).expect("read");
        let status = std::process::Command::new("kill")
            .arg("-HUP")
            .arg(std::process::id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
        let has_alice = |registry: &TokenRegistry| registry.authenticate(&alice).is_ok();
        wait_for(&mut receiver, has_alice, has_alice).await;
    }

    #[test]
    fn a_file_that_cannot_be_read_at_start_is_an_error() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("absent.toml");
        let _entered = runtime.enter();
        let error = watch(path, DEFAULT_POLL).expect_err("no file");
        assert!(error.is_not_found());
    }

    #[test]
    fn a_failed_reload_keeps_the_registry_until_a_good_one() {
        let (_directory, path, mut file, alice) = setup();
        let registry = TokenRegistry::from_file(&TenantsFile::read(&path).expect("read"));
        let (sender, mut receiver) = watch::channel(Arc::new(registry));
        let mut reloader = Reloader {
            seen: Fingerprint::of(&path).ok(),
            path: path.clone(),
            missing: false,
            sender,
        };
        assert_eq!(reloader.step(false), Outcome::Unchanged);
        assert_eq!(reloader.step(true), Outcome::Reloaded, "forced");
        receiver.mark_unchanged();

        std::fs::write(&path, "[[tenant]]\nname = \"alice\"\ncolour = 3\n").expect("broken");
        assert_eq!(reloader.step(false), Outcome::Failed);
        assert_eq!(reloader.step(false), Outcome::Unchanged, "not read again");
        assert!(!receiver.has_changed().expect("open"));
        assert!(receiver.borrow().authenticate(&alice).is_ok());

        std::fs::remove_file(&path).expect("removed");
        assert_eq!(reloader.step(false), Outcome::Failed);
        assert_eq!(reloader.step(false), Outcome::Failed);
        assert!(!receiver.has_changed().expect("open"));
        assert!(receiver.borrow().authenticate(&alice).is_ok());

        let (bob, _) = file.add_token("bob", Access::Read).expect("added");
        file.write(&path).expect("written");
        assert_eq!(reloader.step(false), Outcome::Reloaded);
        assert!(receiver.has_changed().expect("open"));
        let registry = receiver.borrow_and_update().clone();
        assert!(registry.authenticate(&alice).is_ok());
        assert!(registry.authenticate(&bob).is_ok());
    }
}
