//! Why the requests the scheduler core answers fail: one enum per operation, and
//! [`RequestError`] to carry any of them in `ToClient::Done`. They travel
//! as serde values, so that a client acts on the kind of failure (a
//! missing dataset, say), never on its text; the text is for people.

use crate::graph::TaskKey;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Why a publish changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum PublishError {
    /// `/` is reserved for `OWNER/NAME`.
    #[error(
        "dataset name {name:?} has a '/' (reserved for OWNER/NAME, a dataset another tenant shares); nothing was published"
    )]
    SlashInName {
        /// The name.
        name: String,
    },
    /// The same name twice in one call.
    #[error("dataset {name:?} is named twice in one publish")]
    NamedTwice {
        /// The name.
        name: String,
    },
    /// The name is taken and the publish does not replace.
    #[error(
        "a dataset named {name:?} already exists (publish with override to replace it); nothing was published"
    )]
    NameTaken {
        /// The name.
        name: String,
    },
    /// The tenant's `datasets_max` would be passed.
    #[error("{0}; nothing was published")]
    QuotaExceeded(crate::quota::QuotaExceeded),
    /// A persisted value names a key the scheduler does not hold.
    #[error(
        "dataset {name:?}: key {key} is not known to the scheduler (released?); nothing was published"
    )]
    UnknownKey {
        /// The dataset.
        name: String,
        /// The key.
        key: TaskKey,
    },
}

/// Why a dataset could not be got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum GetDatasetError {
    /// No dataset of that name for the tenant, nor shared with it.
    #[error("there is no dataset named {name:?}")]
    NoSuchDataset {
        /// The name as the client wrote it.
        name: String,
    },
    /// Part of its scattered data is gone for good.
    #[error("dataset {name:?} lost part of its data for good: key {key}: {message}")]
    DataLost {
        /// The dataset.
        name: String,
        /// The key lost.
        key: TaskKey,
        /// How it was lost.
        message: String,
    },
}

/// Why sharing (or unsharing) a dataset changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ShareError {
    /// The owner has no dataset of that name.
    #[error("there is no dataset named {name:?}")]
    NoSuchDataset {
        /// The name.
        name: String,
    },
    /// The tenant named is the owner.
    #[error("a dataset cannot be shared with its owner")]
    WithOwner,
    /// A lazy collection's data would be computed as the other tenant's.
    #[error(
        "dataset {name:?} is a lazy collection: persist it before sharing it (a shared dataset's data stays the owner's)"
    )]
    Lazy {
        /// The name.
        name: String,
    },
}

/// Why a replicate or rebalance is not all done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum CopyError {
    /// Replicate with `n` of 0.
    #[error("replicate needs n of at least 1")]
    NoCopies,
    /// More copies than workers.
    #[error("cannot keep {n} copies: there are only {workers} workers")]
    TooManyCopies {
        /// Copies asked for.
        n: u32,
        /// Workers there are.
        workers: usize,
    },
    /// A key is not known (or not the client's tenant's: the same answer).
    #[error("key {key} is not known to the scheduler")]
    UnknownKey {
        /// The key.
        key: TaskKey,
    },
    /// A key is known but its result is not in memory.
    #[error("key {key} is not in memory (it is {state})")]
    NotInMemory {
        /// The key.
        key: TaskKey,
        /// Its state.
        state: String,
    },
    /// A worker named is not connected.
    #[error("worker-{worker} is not a connected worker")]
    UnknownWorker {
        /// The worker's number.
        worker: u32,
    },
    /// Rebalance with no workers to take part.
    #[error("there are no workers to rebalance")]
    NoWorkers,
    /// Some copies could not be made; the others were.
    #[error("{} of the copies failed: {}", failures.len(), failures.join("; "))]
    CopiesFailed {
        /// Each failure, in words.
        failures: Vec<String>,
    },
    /// The cluster was restarted first.
    #[error("the cluster was restarted")]
    ClusterRestarted,
    /// The tenant was restarted first.
    #[error("the tenant was restarted")]
    TenantRestarted,
}

/// Why a cluster restart failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum RestartError {
    /// Another restart is waiting for its workers.
    #[error("a restart is already under way")]
    UnderWay,
    /// Not every restarted worker came back in time.
    #[error(
        "only {back} of {expected} workers were back within {timeout:?} of the restart (restart_timeout)"
    )]
    TimedOut {
        /// Workers back.
        back: usize,
        /// Workers restarted.
        expected: usize,
        /// `restart_timeout`.
        timeout: Duration,
    },
}

/// The failure of any request the core answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum RequestError {
    /// A publish.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// A get.
    #[error(transparent)]
    GetDataset(#[from] GetDatasetError),
    /// A share or unshare.
    #[error(transparent)]
    Share(#[from] ShareError),
    /// A replicate or rebalance.
    #[error(transparent)]
    Copy(#[from] CopyError),
    /// A cluster restart.
    #[error(transparent)]
    Restart(#[from] RestartError),
    /// A limit (the tenant's or the cluster's) refused it.
    #[error(transparent)]
    QuotaExceeded(#[from] crate::quota::QuotaExceeded),
}
