//! What goes into the core ([`Event`]) and what comes out ([`Command`]).
//! The task description they share ([`TaskSpec`]), the failure record a
//! client sees ([`TaskFailure`]) and the news for clients ([`ToClient`])
//! are `weft-schema`'s, the vocabulary the wire shares, and re-exported
//! here; the driver translates the rest for the wire.

use crate::ids::{ClientId, TenantId, WorkerId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use weft_schema::graph::{GraphTask, TaskKey};
use weft_schema::quota::TaskCeilings;

pub use weft_schema::task::{
    DatasetValue, FailureKind, ModuleHash, SpecArg, TaskFailure, TaskFunction, TaskSpec,
};
pub use weft_schema::to_client::ToClient;

/// Something that happened, reported by the driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// What a tenant's name, weight and limits are now (from the tenants
    /// file; again after each reload). A tenant never described has
    /// weight 1 and no limits.
    TenantPolicy {
        /// The tenant.
        tenant: TenantId,
        /// Its policy (boxed: the largest event by far, and a rare one).
        policy: Box<crate::tenants::TenantPolicy>,
    },
    /// A client connected.
    ClientConnected {
        /// The client.
        client: ClientId,
        /// Its tenant: the keys it names are that tenant's.
        tenant: TenantId,
    },
    /// A client's connection dropped, and it may resume its session: what
    /// it holds is kept for `client_grace` (see `ClientResumed`).
    ClientDisconnected {
        /// The client.
        client: ClientId,
    },
    /// A resumed client says which keys it holds futures to (after the
    /// requests it replayed): each it no longer holds for the core is
    /// answered `Cancelled` (its cancellation was lost with the old
    /// connection), unless it was just told so on resume.
    ClientHolds {
        /// The client.
        client: ClientId,
        /// The keys, as the client names them.
        keys: Vec<TaskKey>,
    },
    /// A client said it is alive (its heartbeat). Every other event from a
    /// client counts too.
    ClientHeartbeat {
        /// The client.
        client: ClientId,
    },
    /// A worker said it is alive (its metrics, say). Every other report
    /// from a worker counts too.
    WorkerHeartbeat {
        /// The worker.
        worker: WorkerId,
    },
    /// The tasks a worker's executor threads are running now (with its
    /// heartbeat). If the worker dies, these, and the tasks sent to it
    /// since this arrived, are the ones its death is blamed on.
    WorkerRunning {
        /// The worker.
        worker: WorkerId,
        /// Each task's key and run.
        running: Vec<(TaskKey, u32)>,
    },
    /// A client is gone for good: everything it held is released.
    ClientGone {
        /// The client.
        client: ClientId,
    },
    /// A client submits tasks and asks for futures to some keys. The graph
    /// must be in dependency order is not required; it must be closed: every
    /// referenced key is in `tasks` or already known to the scheduler.
    UpdateGraph {
        /// The client.
        client: ClientId,
        /// New tasks (keys already known are not resubmitted: they share).
        tasks: Vec<GraphTask>,
        /// Keys the client now holds futures to.
        wants: Vec<TaskKey>,
    },
    /// A client dropped its futures to these keys.
    ReleaseKeys {
        /// The client.
        client: ClientId,
        /// The keys.
        keys: Vec<TaskKey>,
    },
    /// A client put data on workers itself.
    Scattered {
        /// The client, which holds a future to the key.
        client: ClientId,
        /// The key.
        key: TaskKey,
        /// Where the data is.
        workers: Vec<WorkerId>,
        /// Its size.
        nbytes: u64,
    },
    /// A worker joined, or joined again after a restart or a `Rejoin`.
    WorkerJoined {
        /// The worker.
        worker: WorkerId,
        /// Its executor threads.
        nthreads: u32,
        /// Its instance: the same across its restarts, in place or by its
        /// nanny (a restart waits for the same instances to be back).
        instance: u64,
    },
    /// A worker left or died; everything it held is gone.
    WorkerLeft {
        /// The worker.
        worker: WorkerId,
        /// Why, when the worker said (for example "restarted: memory
        /// limit ..."); `None` for a dropped connection.
        reason: Option<String>,
    },
    /// A worker finished a task.
    TaskFinished {
        /// The worker.
        worker: WorkerId,
        /// The task.
        key: TaskKey,
        /// The run the worker was given.
        run: u32,
        /// The result's size.
        nbytes: u64,
        /// How long the task ran, for duration estimates.
        duration_us: u64,
    },
    /// A task failed on a worker.
    TaskErred {
        /// The worker.
        worker: WorkerId,
        /// The task.
        key: TaskKey,
        /// The run the worker was given.
        run: u32,
        /// What the runtime said.
        message: String,
    },
    /// A worker could not fetch some inputs of a task from the workers the
    /// scheduler named; the task goes back to wait for them.
    FetchFailed {
        /// The worker that tried.
        worker: WorkerId,
        /// The task.
        key: TaskKey,
        /// The run the worker was given.
        run: u32,
        /// Each input that could not be fetched, with the holder that failed.
        missing: Vec<(TaskKey, WorkerId)>,
    },
    /// A worker answers a steal request.
    StealResponse {
        /// The worker.
        worker: WorkerId,
        /// The task.
        key: TaskKey,
        /// The run the steal was asked for.
        run: u32,
        /// Whether the worker gave the task up (it had not started it).
        stolen: bool,
    },
    /// A worker now holds a copy of a key (it fetched it as an input, or
    /// was told to by `ToWorker::Fetch`).
    ReplicaAdded {
        /// The worker.
        worker: WorkerId,
        /// The key.
        key: TaskKey,
    },
    /// A worker could not make a copy asked for by `ToWorker::Fetch`.
    ReplicaFailed {
        /// The worker.
        worker: WorkerId,
        /// The key.
        key: TaskKey,
        /// Why.
        message: String,
    },
    /// A client reconnected within its grace period: it is told again where
    /// each of its keys stands, and which of its futures were cancelled or
    /// lost while it was away.
    ClientResumed {
        /// The client.
        client: ClientId,
    },
    /// A client cancels futures. Without `force` only its own interest
    /// goes; with it, every client's futures to the keys and to everything
    /// depending on them are cancelled and their computation stopped.
    Cancel {
        /// The client.
        client: ClientId,
        /// The keys.
        keys: Vec<TaskKey>,
        /// For everyone, dependents included.
        force: bool,
        /// Told to the clients whose futures are cancelled.
        reason: String,
    },
    /// A client publishes datasets: all of them or none (see
    /// `ToClient::Done`).
    PublishDatasets {
        /// The client.
        client: ClientId,
        /// Echoed in `Done`.
        request: u64,
        /// Names and values.
        datasets: Vec<(String, DatasetValue)>,
        /// Replace datasets of the same names (the new value is pinned
        /// before the old is let go).
        replace: bool,
    },
    /// A client gets a dataset: it takes futures to its keys, answered by
    /// `ToClient::Dataset`, or `Done` with the error.
    GetDataset {
        /// The client.
        client: ClientId,
        /// Echoed in the answer.
        request: u64,
        /// The dataset's name.
        name: String,
        /// For another tenant's dataset shared with the client's: the
        /// owner, and the name as the client wrote it (`OWNER/NAME`), for
        /// the error if there is none. `None`: the client's own.
        owner: Option<(TenantId, String)>,
    },
    /// The owner shares its dataset with another tenant (read-only), or
    /// stops sharing it (`share` false: the futures that tenant holds
    /// through it fail with an access-revoked error). Answered by `Done`.
    ShareDataset {
        /// The owner's client.
        client: ClientId,
        /// Echoed in `Done`.
        request: u64,
        /// The dataset's name.
        name: String,
        /// The tenant.
        with: TenantId,
        /// Share (true) or unshare (false).
        share: bool,
    },
    /// A client unpublishes a dataset (a no-op if there is none); answered
    /// by `Done`.
    UnpublishDataset {
        /// The client.
        client: ClientId,
        /// Echoed in `Done`.
        request: u64,
        /// The dataset's name.
        name: String,
    },
    /// A client restarts the cluster: every task is forgotten, every future
    /// cancelled with reason "restart", every worker in the books told to
    /// restart (one removed at its TTL is not: its `Rejoin` clears it
    /// anyway). The client is answered with `Done` when the same worker
    /// instances have joined again, or with an error at `restart_timeout`
    /// (a worker that hangs through it makes the restart fail).
    Restart {
        /// The client.
        client: ClientId,
        /// Echoed in `Done`.
        request: u64,
    },
    /// Forget one tenant's tasks: its datasets are unpublished, its
    /// clients' futures cancelled with reason "restart". Workers are not
    /// restarted; other tenants are untouched.
    RestartTenant {
        /// The tenant.
        tenant: TenantId,
    },
    /// A client wants each key held by at least `n` workers. Answered with
    /// `ToClient::Done` once every copy asked for is made or has failed.
    Replicate {
        /// The client.
        client: ClientId,
        /// The client's request id, echoed in `Done`.
        request: u64,
        /// The keys.
        keys: Vec<TaskKey>,
        /// Copies wanted.
        n: u32,
    },
    /// A client wants data moved from workers above the mean of managed
    /// bytes to those below. Empty `keys`/`workers` mean all. Answered with
    /// `ToClient::Done`.
    Rebalance {
        /// The client.
        client: ClientId,
        /// The client's request id, echoed in `Done`.
        request: u64,
        /// The keys that may move.
        keys: Vec<TaskKey>,
        /// The workers taking part.
        workers: Vec<WorkerId>,
    },
}

/// A message the core asks the driver to send.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// To a worker.
    Worker(WorkerId, ToWorker),
    /// To a client.
    Client(ClientId, ToClient),
    /// Close the connection speaking for this client: it sent nothing for
    /// `client_ttl`. Its session stays; report the close as for any other
    /// (`ClientDisconnected`, or `ClientGone` for a client without one).
    DisconnectClient {
        /// The client.
        client: ClientId,
        /// Why, for the log.
        reason: String,
    },
    /// The client did not resume within its `client_grace`: everything it
    /// held is released, and its session is over.
    ClientExpired {
        /// The client.
        client: ClientId,
    },
}

/// Messages to workers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Run a task.
    Compute(ComputeTask),
    /// Drop these results (and stop or skip these tasks if still queued).
    Free {
        /// The keys.
        keys: Vec<TaskKey>,
    },
    /// Fetch these values from their holders and keep them as replicas
    /// (replicate, rebalance); answered by `ReplicaAdded` or
    /// `ReplicaFailed` for each.
    Fetch {
        /// The values and where they are.
        inputs: Vec<Input>,
    },
    /// Give this task up if it has not started (another worker is idle);
    /// answer with a steal response either way.
    Steal {
        /// The task.
        key: TaskKey,
        /// Its run.
        run: u32,
    },
    /// Restart (a cluster restart): drop everything, then join again.
    Restart,
    /// The worker was removed from the books (it was silent for
    /// `worker_ttl`): drop every value and task, then join again with
    /// nothing.
    Rejoin {
        /// Why it was removed.
        reason: String,
    },
}

/// A task for a worker to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComputeTask {
    /// The task.
    pub key: TaskKey,
    /// The run number, echoed back in the worker's report.
    pub run: u32,
    /// Whose task it is.
    pub tenant: TenantId,
    /// Its tenant's weight in the fair share (at least 1): the worker
    /// shares its threads between tenants in proportion.
    pub weight: u32,
    /// Its tenant's ceilings on what the task may use (the tenants file's
    /// `task_*_max`).
    pub ceilings: TaskCeilings,
    /// What to run.
    pub spec: Arc<TaskSpec>,
    /// Where each input is, for the `SpecArg::Key` arguments.
    pub inputs: Vec<Input>,
}

/// Where a task's input lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// The input's key.
    pub key: TaskKey,
    /// Its tenant.
    pub tenant: TenantId,
    /// Its size.
    pub nbytes: u64,
    /// Workers holding it.
    pub holders: Vec<WorkerId>,
}

impl Event {
    /// The worker whose report this is (not for joining and leaving, which
    /// the driver reports about a worker).
    pub(crate) fn reporting_worker(&self) -> Option<WorkerId> {
        match self {
            Event::WorkerHeartbeat { worker }
            | Event::WorkerRunning { worker, .. }
            | Event::TaskFinished { worker, .. }
            | Event::TaskErred { worker, .. }
            | Event::FetchFailed { worker, .. }
            | Event::StealResponse { worker, .. }
            | Event::ReplicaAdded { worker, .. }
            | Event::ReplicaFailed { worker, .. } => Some(*worker),
            _ => None,
        }
    }

    /// The client that sent this (not for connecting and leaving).
    pub(crate) fn client(&self) -> Option<ClientId> {
        match self {
            Event::ClientHeartbeat { client }
            | Event::ClientHolds { client, .. }
            | Event::UpdateGraph { client, .. }
            | Event::ReleaseKeys { client, .. }
            | Event::Scattered { client, .. }
            | Event::Cancel { client, .. }
            | Event::PublishDatasets { client, .. }
            | Event::GetDataset { client, .. }
            | Event::ShareDataset { client, .. }
            | Event::UnpublishDataset { client, .. }
            | Event::Replicate { client, .. }
            | Event::Rebalance { client, .. }
            | Event::Restart { client, .. } => Some(*client),
            _ => None,
        }
    }
}
