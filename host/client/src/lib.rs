//! The Rust client of a Weft cluster.
//!
//! ```no_run
//! # async fn example() -> Result<(), weft_client::ClientError> {
//! use weft_client::Client;
//!
//! let client = Client::connect("127.0.0.1:8786").await?;
//! let module = client.upload_module_file("tasks.wasm").await?;
//! let a = client.submit::<i64>(&module, "inc", (1,))?;
//! let b = client.submit::<i64>(&module, "add", (&a, 10))?;   // futures as arguments
//! assert_eq!(b.result().await?, 12);
//! # Ok(())
//! # }
//! ```
//!
//! Arguments are encoded by the task's declared parameter types (read from
//! the module when it is uploaded), so a literal `1` fits an `i64`
//! parameter, and a mismatch is an error before anything is sent. A
//! [`Future`] keeps its result in distributed memory while any clone of it
//! exists; dropping the last clone releases it.

#![warn(missing_docs)]

mod args;
pub mod blocking;
mod client;
mod collection;
mod datasets;
mod error;
mod fetch;
mod future;
mod gather;
mod graph_send;
mod link;
#[cfg(feature = "local")]
mod local;
mod memory;
mod module;
mod progress;
mod scatter;
mod state;
mod wait;

pub use args::{Arg, Args, FutureList, futures_list};
pub use client::{
    Client, ClientOptions, DEFAULT_GATHER_FETCH_TIMEOUT, DEFAULT_RECONNECT_TIMEOUT, SubmitOptions,
};
pub use collection::{Collection, Computed};
pub use datasets::{Dataset, DatasetContent, DatasetSpec};
pub use error::ClientError;
pub use future::Future;
pub use gather::{GATHER_ATTEMPTS, SLOWEST_TRANSFER_BYTES_PER_S};
#[cfg(feature = "local")]
pub use local::{LOCAL_TENANT, LocalCluster, LocalConfig, LocalSecurity};
pub use module::Module;
pub use progress::progress;
pub use state::FutureStatus;
pub use wait::{AsCompleted, ReturnWhen, WaitOutcome};
pub use weft_core::{
    FailureKind, QuotaExceeded, QuotaLimit, QuotaScope, TaskFailure, TenantLimits, TenantStatus,
    TenantUsage, WorkerId,
};
pub use weft_proto::Secret;
pub use weft_proto::messages::{ClusterStatus, WorkerInfo, WorkerMetrics, WorkerStatus};
pub use weft_proto::tls::ClientTls;
pub use weft_schema::graph::TaskKey;
