//! What a client is told about the keys it holds and the requests the
//! scheduler core answers ([`ToClient`]).

use crate::errors::RequestError;
use crate::graph::TaskKey;
use crate::task::{DatasetValue, TaskFailure};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Messages to clients about keys they hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToClient {
    /// The key's result is in memory.
    Finished {
        /// The key.
        key: TaskKey,
        /// The result's size.
        nbytes: u64,
    },
    /// The key failed.
    Erred {
        /// The key.
        key: TaskKey,
        /// Why (its own failure or a dependency's).
        failure: Arc<TaskFailure>,
    },
    /// The key's data was lost with a worker and is being recomputed.
    Lost {
        /// The key.
        key: TaskKey,
    },
    /// The future was cancelled (by a client, or by a restart).
    Cancelled {
        /// The key.
        key: TaskKey,
        /// Why.
        reason: String,
    },
    /// A request the core answers (replicate, rebalance) is done.
    Done {
        /// The request id the client chose.
        request: u64,
        /// Why it failed, if it did.
        error: Option<RequestError>,
    },
    /// The answer to `GetDataset`: the client now holds futures to its keys.
    Dataset {
        /// The request.
        request: u64,
        /// The dataset.
        value: Arc<DatasetValue>,
    },
    /// A graph update was refused; nothing of it was applied.
    Rejected {
        /// The keys the update asked futures for.
        keys: Vec<TaskKey>,
        /// Why.
        reason: String,
        /// When a limit refused it: which, with its figures (`reason` is
        /// then its text).
        quota: Option<crate::quota::QuotaExceeded>,
    },
}
