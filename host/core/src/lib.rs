//! The scheduler's decision logic as a pure state machine.
//!
//! [`Scheduler`] holds the task graph, the clients' references, the
//! workers' holdings and the placement queue. It consumes [`Event`]s
//! (a client submitted a graph, a worker finished a task, a worker died...)
//! and produces [`Command`]s (run this task there, free these keys, tell
//! this client its key is ready). It does no I/O, reads no clock and has no
//! randomness: time is an input ([`Time`], passed with every event), and
//! its timers (worker and client liveness, the client's reconnection grace,
//! the restart deadline) fire when the driver calls
//! [`Scheduler::handle_timeout`] at the time [`Scheduler::poll_timeout`]
//! names. The tokio driver in `weft-scheduler` only moves bytes and reads
//! the clock, and tests drive the core with millions of random events at
//! simulated times, checking [`Scheduler::validate`] after each.
//!
//! Tasks move through named states (released, waiting, queued, processing,
//! memory, erred; forgotten when removed). Every change is recorded with the
//! stimulus that caused it; [`Scheduler::story`] tells a key's history.
//!
//! ```
//! use weft_core::{Event, Scheduler, SchedulerConfig, StimulusId, WorkerId, ClientId, TenantId, Time};
//!
//! let mut scheduler = Scheduler::new(SchedulerConfig::default());
//! let now = Time::ZERO;
//! scheduler.handle(now, StimulusId(1), Event::WorkerJoined { worker: WorkerId(1), nthreads: 2, instance: 7 });
//! scheduler.handle(now, StimulusId(2), Event::ClientConnected { client: ClientId(1), tenant: TenantId::OPEN });
//! assert!(scheduler.poll_command().is_none());
//! scheduler.validate().unwrap();
//! // The worker must be heard from within worker_ttl.
//! assert_eq!(scheduler.poll_timeout(), Some(now.after(SchedulerConfig::default().worker_ttl)));
//! ```

#![warn(missing_docs)]

mod admission;
mod config;
mod datasets;
mod errors;
mod executor_turns;
mod fair_share;
mod graph;
mod ids;
mod liveness;
mod log;
mod messages;
mod operations;
mod placement;
mod queries;
mod references;
mod scheduler;
mod sharing;
mod task;
mod tenants;
mod time;
mod validate;
mod worker;
mod workers;

pub use config::{
    DEFAULT_CLIENT_GRACE, DEFAULT_CLIENT_TTL, DEFAULT_RESTART_TIMEOUT, DEFAULT_WORKER_TTL,
    SchedulerConfig,
};
pub use datasets::DATASET_HOLDERS_START;
pub use errors::{
    CopyError, GetDatasetError, PublishError, RequestError, RestartError, ShareError,
};
pub use executor_turns::{Charge, TenantQueues};
pub use ids::{ClientId, StimulusId, TenantId, WorkerId, wire_key};
pub use log::Transition;
pub use messages::{
    Command, ComputeTask, DatasetValue, Event, FailureKind, Input, ModuleHash, SpecArg,
    TaskFailure, TaskFunction, TaskSpec, ToClient, ToWorker,
};
pub use operations::RESTART_REASON;
pub use scheduler::{REPORTED_DURATION_US_MAX, REPORTED_NBYTES_MAX, Scheduler, Summary};
pub use sharing::shared_name;
pub use task::StateName;
pub use tenants::TenantPolicy;
pub use time::Time;
pub use weft_schema::quota::{
    QuotaExceeded, QuotaLimit, QuotaScope, TaskCeilings, TenantLimits, TenantStatus, TenantUsage,
};
