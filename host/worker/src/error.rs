//! [`WorkerError`]: why a worker could not start, or why it stopped.
//!
//! Sources are kept behind `Arc` so the error is `Clone`: the result of
//! [`WorkerHandle::closed`](crate::WorkerHandle::closed) can be asked for more
//! than once.

use std::io;
use std::sync::Arc;
use weft_proto::ConnectionError;
use weft_runtime::RuntimeError;

/// Why a worker could not start or stopped. Task failures are not worker
/// errors: they are reported to the scheduler and the worker carries on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WorkerError {
    /// The configuration is invalid (`nthreads` of 0, say).
    #[error("invalid worker configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// The sandbox could not be created.
    #[error("cannot start the task runtime: {0}")]
    Runtime(#[source] Arc<RuntimeError>),
    /// The executor threads could not be started.
    #[error("cannot start the executor threads: {0}")]
    Threads(#[source] Arc<io::Error>),
    /// The data port could not be bound.
    #[error("cannot bind the data port on {addr}: {source}")]
    Bind {
        /// The address as configured (`listen`).
        addr: String,
        /// What the system said.
        #[source]
        source: Arc<io::Error>,
    },
    /// The scheduler could not be reached (refused, unreachable, no answer).
    #[error("cannot connect to the scheduler at {addr}: {source}")]
    Connect {
        /// The scheduler's address as configured.
        addr: String,
        /// What failed.
        #[source]
        source: Arc<ConnectionError>,
    },
    /// The scheduler was reached but did not accept the worker: the hello
    /// exchange failed, the peer is not a scheduler, or no welcome came in
    /// time.
    #[error("the scheduler at {addr} refused the handshake: {reason}")]
    Handshake {
        /// The scheduler's address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The scheduler refused the worker's credentials (no worker token, a
    /// wrong or revoked one, a client token): trying again will not help.
    #[error("the scheduler at {addr} refused this worker: {refusal}")]
    Refused {
        /// The scheduler's address.
        addr: String,
        /// Why.
        refusal: weft_proto::AuthRefusal,
    },
    /// The scheduler closed the connection; the worker stopped.
    #[error("the scheduler at {addr} closed the connection")]
    SchedulerClosed {
        /// The scheduler's address.
        addr: String,
    },
    /// Reading from or writing to the scheduler failed (I/O error, a frame
    /// over the size limit, a message that does not decode); the worker
    /// stopped.
    #[error("connection to the scheduler at {addr} failed: {source}")]
    Connection {
        /// The scheduler's address.
        addr: String,
        /// What failed.
        #[source]
        source: Arc<ConnectionError>,
    },
    /// The spill directory could not be created (`spill_dir`).
    #[error("cannot create the spill directory in {path}: {source}")]
    SpillDir {
        /// Where it was to be created.
        path: String,
        /// What the system said.
        #[source]
        source: Arc<io::Error>,
    },
    /// The scheduler sent `Restart` and the worker is configured with
    /// [`RestartMode::Exit`](crate::RestartMode::Exit): it dropped
    /// everything and stopped, so that its process exits and a fresh one
    /// takes its place (the CLI exits with
    /// [`EXIT_RESTART`](weft_proto::messages::EXIT_RESTART)).
    #[error("the scheduler asked for a restart")]
    RestartRequested,
    /// The process's memory passed `memory_terminate_fraction` of
    /// `memory_limit`: the worker told the scheduler it was leaving and
    /// stopped (the CLI exits with
    /// [`EXIT_MEMORY`](weft_proto::messages::EXIT_MEMORY)).
    #[error("{reason}")]
    MemoryLimit {
        /// What was measured, as sent in `Leaving`.
        reason: String,
    },
    /// The scheduler sent a message that makes no sense at this point (a
    /// second welcome, anything before the welcome); the worker stopped.
    #[error("protocol violation by the scheduler at {addr}: {message}")]
    Protocol {
        /// The scheduler's address.
        addr: String,
        /// What was wrong.
        message: String,
    },
}
