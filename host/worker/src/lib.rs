//! A Weft worker: runs tasks (WebAssembly functions) for a scheduler, keeps
//! their results in memory (spilling the least recently used to disk past a
//! memory target), serves them to clients and peers on its data port, and
//! fetches the inputs it needs, and the copies the scheduler asks for, from
//! other workers.
//!
//! [`start`] binds the data port, connects to the scheduler, registers and
//! waits for the welcome, then runs in background tokio tasks until the
//! scheduler connection ends or the [`WorkerHandle`] is shut down or
//! dropped. There is no global state: one process may run several workers
//! (an embedded local cluster), each with its own runtime, threads and
//! ports.
//!
//! Inside a worker:
//!
//! | part | file | runs on |
//! | --- | --- | --- |
//! | settings and limits | `config.rs` | |
//! | the scheduler connection: join, read commands, write reports in batches | `scheduler_link.rs` | two tokio tasks |
//! | the task loop: what runs when, modules, reports, metrics, pause, restart | `task_loop.rs` | one tokio task |
//! | inputs and `Fetch` copies in flight: from peers or read back from disk | `task_loop/inputs.rs` | (the loop) |
//! | executor threads `weft-exec-N` calling the runtime under the worker's limits and the tenant's ceilings | `executor.rs` | `nthreads` std threads |
//! | their queue: a FIFO per tenant, shared by weighted fair queuing; pause and close | `job_queue.rs` | (shared by the threads) |
//! | results and replicas by key, in memory or spilled; LRU; what to spill | `store.rs` | shared |
//! | the spill directory and files; the spiller writing what the store picks | `spill.rs` | a tokio task, blocking threads |
//! | process memory (RSS), pause and terminate decisions, metrics | `memory.rs` | (the loop) |
//! | task modules: asked for, loading, ready | `modules.rs` | |
//! | fetching values from peers | `fetch.rs` | tokio tasks |
//! | the data port (`Get`, `Put`) | `data_server.rs` | a tokio task per connection |
//!
//! **Memory.** With a `memory_limit`, managed memory (the bytes of values
//! held in memory) is kept under `memory_target_fraction` of it by spilling
//! values to disk, least recently used first; above
//! `memory_pause_fraction` no new task starts; above
//! `memory_terminate_fraction` of *process* memory (RSS) the worker sends
//! `Leaving` and stops with [`WorkerError::MemoryLimit`]. `Metrics` go to the
//! scheduler every `metrics_interval`. See [`WorkerConfig`].
//!
//! **Restart.** `Restart` drops every value and task; the worker then
//! answers `Restarted`, or stops with [`WorkerError::RestartRequested`]
//! ([`RestartMode`]).
//!
//! ```no_run
//! # async fn example() -> Result<(), weft_worker::WorkerError> {
//! let mut worker = weft_worker::start(weft_worker::WorkerConfig::new("127.0.0.1:8786")).await?;
//! println!("worker {} serves data on {}", worker.id(), worker.data_addr());
//! worker.closed().await
//! # }
//! ```

#![warn(missing_docs)]

mod config;
mod data_auth;
mod data_server;
mod error;
mod executor;
mod fetch;
mod job_queue;
mod memory;
mod scheduler_link;
mod spill;
pub mod state;
mod store;
mod task_loop;

pub use config::{
    DEFAULT_FETCH_TIMEOUT, DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS, DEFAULT_MEMORY_PAUSE_FRACTION,
    DEFAULT_MEMORY_TARGET_FRACTION, DEFAULT_MEMORY_TERMINATE_FRACTION, DEFAULT_METRICS_INTERVAL,
    DEFAULT_NAME, DEFAULT_SCHEDULER, LEAVING_FLUSH_TIMEOUT, RestartMode, WorkerConfig,
    default_nthreads, new_instance,
};
pub use error::WorkerError;
pub use weft_core::WorkerId;

use data_server::DataPort;
use executor::Executors;
use fetch::Fetcher;
use spill::SpillDir;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use store::{SpillPolicy, Store};
use task_loop::{LoopIo, LoopSettings, TaskLoop};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use weft_proto::messages::WorkerReport;
use weft_proto::{Hello, Role};
use weft_runtime::Runtime;

/// How many scheduler commands may wait for the task loop before the
/// reading task stops reading (and TCP pushes back on the scheduler).
const COMMANDS_QUEUED_MAX: usize = 4096;

/// How long a stopping worker waits for the spill write in progress (at
/// most one batch) before it removes its spill directory anyway.
const SPILLER_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running worker. Dropping it stops the worker (as
/// [`shutdown`](Self::shutdown) does, but at once).
#[derive(Debug)]
pub struct WorkerHandle {
    id: WorkerId,
    data_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<Result<(), WorkerError>>>,
    outcome: Option<Result<(), WorkerError>>,
    store: Arc<Store>,
}

impl WorkerHandle {
    /// The id the scheduler gave this worker.
    pub fn id(&self) -> WorkerId {
        self.id
    }

    /// The data port's address, as advertised to the scheduler.
    pub fn data_addr(&self) -> SocketAddr {
        self.data_addr
    }

    /// How many values (results, replicas, values put) the worker holds,
    /// in memory and spilled to disk.
    pub fn stored_keys(&self) -> usize {
        let usage = self.store.usage();
        usize::try_from(usage.memory_keys + usage.spilled_keys).unwrap_or(usize::MAX)
    }

    /// The total size of the values the worker holds, in memory and
    /// spilled to disk, in bytes.
    pub fn stored_bytes(&self) -> u64 {
        let usage = self.store.usage();
        usage.memory_bytes + usage.spilled_bytes
    }

    /// How many of the values the worker holds are spilled to disk.
    pub fn spilled_keys(&self) -> usize {
        usize::try_from(self.store.usage().spilled_keys).unwrap_or(usize::MAX)
    }

    /// The size of the values spilled to disk, in bytes.
    pub fn spilled_bytes(&self) -> u64 {
        self.store.usage().spilled_bytes
    }

    /// The worker's own spill directory, if it can spill (it is removed
    /// when the worker stops).
    pub fn spill_dir(&self) -> Option<&Path> {
        self.store.spill_dir()
    }

    /// Resolves when the worker has stopped: `Ok` after
    /// [`shutdown`](Self::shutdown), otherwise the reason
    /// ([`WorkerError::SchedulerClosed`] when the scheduler closed the
    /// connection). May be called again; cancel-safe.
    pub async fn closed(&mut self) -> Result<(), WorkerError> {
        if let Some(outcome) = &self.outcome {
            return outcome.clone();
        }
        let outcome = match self.task.as_mut() {
            Some(task) => match task.await {
                Ok(outcome) => outcome,
                Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                Err(_cancelled) => Ok(()),
            },
            None => Ok(()),
        };
        self.task = None;
        self.outcome = Some(outcome.clone());
        outcome
    }

    /// Asks the worker to stop: it closes its scheduler connection and data
    /// port, drops its results (removing its spill directory) and lets its
    /// executor threads end after the task each is running.
    /// [`closed`](Self::closed) resolves when done.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A background task that is aborted when this is dropped; awaiting it
/// awaits the task.
#[derive(Debug)]
pub(crate) struct AbortOnDrop<T>(pub(crate) JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

/// Drops the store's values, lets the spiller finish the write in progress
/// (it stops once the store is closed) and removes the spill directory.
/// If the worker is dropped instead, the directory is removed when the
/// last reference to the store goes.
async fn stop_spilling(store: &Store, spiller: Option<AbortOnDrop<()>>) {
    let dir = store.close();
    if let Some(spiller) = spiller
        && tokio::time::timeout(SPILLER_STOP_TIMEOUT, spiller)
            .await
            .is_err()
    {
        // Dropping it aborted it.
        tracing::warn!(
            "the spiller did not stop within {SPILLER_STOP_TIMEOUT:?}; removing the spill \
             directory anyway"
        );
    }
    if let Some(dir) = dir {
        let path = dir.path().display().to_string();
        match tokio::task::spawn_blocking(move || dir.remove()).await {
            Ok(Ok(())) => tracing::debug!(%path, "spill directory removed"),
            Ok(Err(error)) => tracing::warn!(%path, %error, "cannot remove the spill directory"),
            Err(error) => {
                tracing::warn!(%path, %error, "removing the spill directory did not finish");
            }
        }
    }
}

/// Starts a worker: creates its runtime and executor threads, binds its
/// data port, connects to the scheduler, registers and waits for the
/// welcome. The worker then runs in background tasks of the current tokio
/// runtime.
pub async fn start(config: WorkerConfig) -> Result<WorkerHandle, WorkerError> {
    config
        .validate()
        .map_err(|reason| WorkerError::Config { reason })?;
    let mut runtime_config = config.runtime.clone();
    runtime_config.instances_max = runtime_config.instances_max.max(config.nthreads);
    let runtime = tokio::task::spawn_blocking(move || Runtime::new(runtime_config))
        .await
        .map_err(|error| WorkerError::Config {
            reason: format!("runtime creation did not finish: {error}"),
        })?
        .map_err(|error| WorkerError::Runtime(Arc::new(error)))?;
    let runtime = Arc::new(runtime);

    let listener = TcpListener::bind(config.listen.as_str())
        .await
        .map_err(|error| WorkerError::Bind {
            addr: config.listen.clone(),
            source: Arc::new(error),
        })?;
    let bound = listener.local_addr().map_err(|error| WorkerError::Bind {
        addr: config.listen.clone(),
        source: Arc::new(error),
    })?;

    let thresholds = config.thresholds();
    let policy = match thresholds.target {
        Some(target) => {
            let dir = SpillDir::create(config.spill_dir.as_deref()).map_err(|error| {
                WorkerError::SpillDir {
                    path: config.spill_dir.as_deref().map_or_else(
                        || std::env::temp_dir().display().to_string(),
                        |dir| dir.display().to_string(),
                    ),
                    source: Arc::new(error),
                }
            })?;
            Some(SpillPolicy {
                dir,
                target,
                bytes_max: config.spill_bytes_max,
            })
        }
        None => None,
    };
    let store = Arc::new(Store::new(policy));
    let spiller = store
        .spill_dir()
        .is_some()
        .then(|| AbortOnDrop(tokio::spawn(spill::run(store.clone()))));
    let secret: data_auth::SharedSecret = Arc::default();
    let data_port = Arc::new(DataPort {
        store: store.clone(),
        hello: Hello::new(Role::Worker, config.name.as_str()),
        acceptor: weft_proto::Acceptor {
            limits: config.connection,
            tls: config.tls.as_ref().map(|tls| tls.data_port.clone()),
            authenticator: Arc::new(data_auth::DataPortAuthenticator {
                secret: secret.clone(),
            }),
        },
        secret: secret.clone(),
        max_connections: config.max_connections,
    });
    let data_server = AbortOnDrop(tokio::spawn(data_server::serve(listener, data_port)));

    let mut data_addr = bound;
    let dialer = weft_proto::Dialer {
        limits: config.connection,
        tls: config.tls.as_ref().map(|tls| tls.scheduler.clone()),
        credential: config
            .token
            .clone()
            .map_or(weft_proto::Credential::None, weft_proto::Credential::Token),
        expect_role: Role::Scheduler,
    };
    let (connection, id, ticket_secret) =
        scheduler_link::join(&config.scheduler, &config.name, &dialer, |local_ip| {
            if bound.ip().is_unspecified()
                && let Some(ip) = local_ip
            {
                data_addr = SocketAddr::new(ip, bound.port());
            }
            WorkerReport::Register {
                nthreads: config.nthreads,
                data_addr: data_addr.to_string(),
                name: config.name.clone(),
                memory_limit: config.memory_limit,
                pid: std::process::id(),
                instance: config.instance,
            }
        })
        .await?;
    // Only this worker's welcome sets it.
    let _ = secret.set(ticket_secret);
    tracing::info!(
        worker = %id,
        name = %config.name,
        scheduler = %config.scheduler,
        %data_addr,
        nthreads = config.nthreads,
        "worker registered"
    );

    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let executors = Executors::start(config.nthreads, runtime.clone(), config.limits, done_tx)
        .map_err(|error| WorkerError::Threads(Arc::new(error)))?;
    let fetcher = Arc::new(Fetcher::new(
        &config.name,
        weft_proto::Dialer {
            limits: config.connection,
            tls: config.tls.as_ref().map(|tls| tls.peers.clone()),
            credential: weft_proto::Credential::None,
            expect_role: Role::Worker,
        },
        config.fetch_timeout,
        (secret, id),
    ));

    let (reader, writer) = connection.into_split();
    let (commands_tx, commands_rx) = mpsc::channel(COMMANDS_QUEUED_MAX);
    let (reports_tx, reports_rx) = mpsc::unbounded_channel();
    let reader = AbortOnDrop(tokio::spawn(scheduler_link::read_commands(
        reader,
        commands_tx,
        config.scheduler.clone(),
    )));
    let writer = AbortOnDrop(tokio::spawn(scheduler_link::write_reports(
        writer,
        reports_rx,
        config.scheduler.clone(),
    )));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (background_tx, background_rx) = mpsc::unbounded_channel();
    let task_loop = TaskLoop::new(
        id,
        runtime,
        store.clone(),
        fetcher,
        executors,
        background_tx,
        LoopSettings {
            restart: config.restart,
            metrics_interval: config.metrics_interval,
            thresholds,
        },
    );
    let io = LoopIo {
        commands: commands_rx,
        reader,
        reports: reports_tx,
        writer,
        done: done_rx,
        shutdown: shutdown_rx,
        scheduler: config.scheduler.clone(),
    };
    let stopping_store = store.clone();
    let task = tokio::spawn(async move {
        let outcome = task_loop.run(io, background_rx).await;
        drop(data_server);
        stop_spilling(&stopping_store, spiller).await;
        match &outcome {
            Ok(()) => tracing::info!(worker = %id, "worker stopped"),
            Err(error) => tracing::warn!(worker = %id, %error, "worker stopped"),
        }
        outcome
    });
    Ok(WorkerHandle {
        id,
        data_addr,
        shutdown: shutdown_tx,
        task: Some(task),
        outcome: None,
        store,
    })
}
