//! A Weft worker: runs tasks (WebAssembly functions) for a scheduler, keeps
//! their results in memory, serves them to clients and peers on its data
//! port, and fetches the inputs it needs from other workers.
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
//! | the task loop: what runs when, modules, fetch bookkeeping, reports | `task_loop.rs` | one tokio task |
//! | executor threads `weft-exec-N` calling the runtime, FIFO | `executor.rs` | `nthreads` std threads |
//! | results and replicas by key | `store.rs` | shared |
//! | task modules: asked for, loading, ready | `modules.rs` | |
//! | fetching inputs from peers | `fetch.rs` | tokio tasks |
//! | the data port (`Get`, `Put`) | `data_server.rs` | a tokio task per connection |
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
mod data_server;
mod error;
mod executor;
mod fetch;
mod modules;
mod scheduler_link;
mod store;
mod task_loop;

pub use config::{
    DEFAULT_FETCH_TIMEOUT, DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS, DEFAULT_NAME,
    DEFAULT_SCHEDULER, WorkerConfig, default_nthreads,
};
pub use error::WorkerError;
pub use weft_core::WorkerId;

use data_server::DataPort;
use executor::Executors;
use fetch::Fetcher;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use store::Store;
use task_loop::{LoopIo, TaskLoop};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use weft_proto::messages::WorkerReport;
use weft_proto::{Hello, Role};
use weft_runtime::Runtime;

/// How many scheduler commands may wait for the task loop before the
/// reading task stops reading (and TCP pushes back on the scheduler).
const COMMANDS_QUEUED_MAX: usize = 4096;

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

    /// How many values (results, replicas, values put) the worker holds.
    pub fn stored_keys(&self) -> usize {
        self.store.usage().0
    }

    /// The total size of the values the worker holds, in bytes.
    pub fn stored_bytes(&self) -> u64 {
        self.store.usage().1
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
    /// port, drops its results and lets its executor threads end after the
    /// task each is running. [`closed`](Self::closed) resolves when done.
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

    let store = Arc::new(Store::default());
    let data_port = Arc::new(DataPort {
        store: store.clone(),
        hello: Hello::new(Role::Worker, config.name.as_str()),
        limits: config.connection,
        max_connections: config.max_connections,
    });
    let data_server = AbortOnDrop(tokio::spawn(data_server::serve(listener, data_port)));

    let mut data_addr = bound;
    let (connection, id) = scheduler_link::join(
        &config.scheduler,
        &config.name,
        &config.connection,
        |local_ip| {
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
            }
        },
    )
    .await?;
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
        config.connection,
        config.fetch_timeout,
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
    let task = tokio::spawn(async move {
        let _data_server = data_server;
        let outcome = task_loop.run(io, background_rx).await;
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
