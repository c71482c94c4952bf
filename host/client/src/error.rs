//! [`ClientError`]: everything a client call can fail with.

use std::sync::Arc;
use weft_core::TaskFailure;
use weft_schema::graph::TaskKey;

/// Why a client call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// Could not reach or talk to the scheduler.
    #[error("cannot talk to the scheduler: {0}")]
    Connection(String),
    /// The connection to the scheduler is gone.
    #[error("the connection to the scheduler is closed: {0}")]
    Closed(String),
    /// The module is not a task module, or has no such task.
    #[error("{0}")]
    Module(String),
    /// An argument does not fit the task's signature.
    #[error("bad arguments for `{task}`: {message}")]
    Arguments {
        /// The task.
        task: String,
        /// What is wrong.
        message: String,
    },
    /// The scheduler refused the request.
    #[error("the scheduler refused: {0}")]
    Refused(String),
    /// A limit refused the request (the tenant's, or the cluster's: see
    /// `scope`), with the exact figures; nothing of it was applied.
    #[error("{0}")]
    QuotaExceeded(weft_schema::quota::QuotaExceeded),
    /// A request the scheduler answers itself (publish, get, share,
    /// replicate, rebalance, restart) failed: match on the kind.
    #[error("the scheduler refused: {0}")]
    Failed(weft_core::RequestError),
    /// The task (or one it depends on) failed.
    #[error("{}", describe_failure(.key, .failure))]
    Task {
        /// The key asked for.
        key: TaskKey,
        /// The failure.
        failure: Arc<TaskFailure>,
    },
    /// The result's bytes do not decode as the type asked for.
    #[error("the result of {key} does not decode as the requested type: {message}")]
    Decode {
        /// The key.
        key: TaskKey,
        /// The decoder's message.
        message: String,
    },
    /// The result could not be fetched from the workers holding it.
    #[error("could not fetch {key} from the workers: {message}")]
    Fetch {
        /// The key.
        key: TaskKey,
        /// What went wrong.
        message: String,
    },
    /// No dataset has this name.
    #[error("there is no dataset named {0:?}")]
    NoSuchDataset(String),
    /// The future was cancelled.
    #[error("{key} was cancelled: {reason}")]
    Cancelled {
        /// The key.
        key: TaskKey,
        /// Why (the canceller's reason, or "restart").
        reason: String,
    },
    /// Waiting took longer than the timeout given.
    #[error("timed out waiting")]
    Timeout,
}

fn describe_failure(key: &TaskKey, failure: &TaskFailure) -> String {
    if failure.origin == *key {
        format!("task {key} failed: {}", failure.message)
    } else {
        format!(
            "task {key} did not run: its dependency {} failed: {}",
            failure.origin, failure.message
        )
    }
}
