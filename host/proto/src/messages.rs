//! The vocabulary of Weft's connections: one enum per direction of each
//! kind of connection. Control messages are encoded with [`crate::codec`];
//! bulk data (task results) follows its header as a raw frame, never
//! re-encoded.
//!
//! | connection | opened by | first frame | then |
//! | --- | --- | --- | --- |
//! | client ↔ scheduler | client | `Hello` (role client) | [`ClientRequest`] → / ← [`ClientEvent`] |
//! | worker ↔ scheduler | worker | `Hello` (role worker) | [`WorkerReport`] → / ← [`WorkerCommand`] |
//! | anyone → worker data port | client or peer worker | `Hello` (role client or peer) | [`DataRequest`] → / ← [`DataReply`] (+ raw frames) |
//!
//! Each connection is one ordered stream: everything a client sends is
//! applied in the order sent (publish after submit, release after publish).

use crate::tickets::Ticket;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use weft_schema::graph::TaskKey;
use weft_schema::ids::WorkerId;
use weft_schema::task::DatasetValue;
use weft_schema::to_client::ToClient;

mod data;
mod worker;

pub use data::{DataReply, DataRequest};
pub use worker::{EXIT_MEMORY, EXIT_RESTART, WireCompute, WireInput, WorkerCommand, WorkerReport};

/// A request id chosen by the client, echoed in the reply.
pub type RequestId = u64;

/// Client → scheduler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClientRequest {
    /// Store a module; answered by [`ClientEvent::ModuleStored`].
    UploadModule {
        /// Echoed in the reply.
        request: RequestId,
        /// The module's bytes.
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// Submit tasks and take futures to `wants`. Answered only on error
    /// (`ClientEvent::Key(ToClient::Rejected)`); key updates follow.
    SubmitGraph {
        /// A Cap'n Proto `Graph` message (`schema/graph.capnp`).
        #[serde(with = "serde_bytes")]
        graph: Vec<u8>,
        /// Keys the client now holds futures to.
        wants: Vec<TaskKey>,
    },
    /// One part of a graph too large for one frame: the scheduler holds
    /// its tasks and wants, for this connection only, until the
    /// `SubmitGraph` that ends the graph, then submits every part as one
    /// graph (the limits on a graph apply to all parts together). Parts
    /// are written one after another, with no other state-changing
    /// request between them and the end.
    SubmitGraphPart {
        /// A Cap'n Proto `Graph` message holding some of the tasks.
        #[serde(with = "serde_bytes")]
        graph: Vec<u8>,
        /// Keys of this part the client takes futures to.
        wants: Vec<TaskKey>,
    },
    /// Forget the parts sent since the last `SubmitGraph`: the client could
    /// not send the rest, and has failed the graph's futures itself.
    DropGraphParts,
    /// Take futures to keys the scheduler knows (a dataset's, got with
    /// [`ClientRequest::GetDataset`]); the scheduler repeats where each
    /// stands. Refused like a graph: `ClientEvent::Key(ToClient::Rejected)`.
    Want {
        /// The keys.
        keys: Vec<TaskKey>,
    },
    /// The client dropped its last futures to these keys.
    Release {
        /// The keys.
        keys: Vec<TaskKey>,
    },
    /// Where are these keys' results? Answered by [`ClientEvent::Locations`].
    WhoHas {
        /// Echoed in the reply.
        request: RequestId,
        /// The keys.
        keys: Vec<TaskKey>,
    },
    /// The client put data for `key` on these workers (with
    /// [`DataRequest::Put`]) and holds a future to it.
    Scattered {
        /// The key.
        key: TaskKey,
        /// The workers holding it.
        workers: Vec<WorkerId>,
        /// Its size.
        nbytes: u64,
    },
    /// Where should these values go? Answered by
    /// [`ClientEvent::ScatterPlan`]: workers and put tickets for each.
    PrepareScatter {
        /// Echoed in the reply.
        request: RequestId,
        /// Each value's key and size.
        values: Vec<(TaskKey, u64)>,
        /// Every value to every worker.
        broadcast: bool,
        /// The workers to choose from (empty: all).
        workers: Vec<WorkerId>,
    },
    /// Which workers are there? Answered by [`ClientEvent::Workers`].
    ListWorkers {
        /// Echoed in the reply.
        request: RequestId,
    },
    /// Names this client's session, so that a reconnection within the
    /// scheduler's grace period carries on where the old connection was.
    /// Sent first, before anything else, by clients that want this.
    Session {
        /// A random token the client keeps for its lifetime.
        token: u128,
        /// True on a reconnection: if the scheduler no longer knows the
        /// session, it answers [`ClientEvent::SessionLost`].
        resume: bool,
    },
    /// The client is closing on purpose (its futures were released before
    /// this): no reconnection grace is needed.
    Goodbye,
    /// Sent after a resumed session's replay: the keys this client holds
    /// futures to. The scheduler answers `Cancelled` for each it no longer
    /// holds for the client (a cancellation whose message was lost with the
    /// old connection). Not answered otherwise.
    Holding {
        /// The keys.
        keys: Vec<TaskKey>,
    },
    /// The client is alive: sent every 2 s whatever else it sends, so that
    /// the scheduler does not disconnect it at its `client_ttl`. Not
    /// answered.
    Heartbeat,
    /// Cancel these futures. With `force`, every client's futures to them
    /// and everything depending on them are cancelled and their
    /// computation stopped; without, only this client's interest goes.
    Cancel {
        /// The keys.
        keys: Vec<TaskKey>,
        /// Cancel for everyone, dependents included.
        force: bool,
        /// Shown to the clients whose futures are cancelled.
        reason: String,
    },
    /// Forget every task, cancel every future (reason "restart") and
    /// restart every worker. Answered by [`ClientEvent::Done`] when as many
    /// workers (by instance) are back, or [`ClientEvent::Failed`]
    /// (`RestartError`).
    Restart {
        /// Echoed in the reply.
        request: RequestId,
    },
    /// Make sure each key is held by at least `n` workers. Answered by
    /// [`ClientEvent::Done`], or [`ClientEvent::Failed`] (`CopyError`) if
    /// some copies could not be made.
    Replicate {
        /// Echoed in the reply.
        request: RequestId,
        /// The keys (in memory).
        keys: Vec<TaskKey>,
        /// Copies wanted, at least 1.
        n: u32,
    },
    /// Move data from workers holding more than the mean to those holding
    /// less. Empty `keys`: every key; empty `workers`: every worker.
    /// Answered by [`ClientEvent::Done`].
    Rebalance {
        /// Echoed in the reply.
        request: RequestId,
        /// The keys that may move.
        keys: Vec<TaskKey>,
        /// The workers that take part.
        workers: Vec<WorkerId>,
    },
    /// Publish datasets, all or none. Answered by [`ClientEvent::Done`] or
    /// [`ClientEvent::Failed`] (`PublishError`).
    PublishDatasets {
        /// Echoed in the reply.
        request: RequestId,
        /// Names and values.
        datasets: Vec<(String, DatasetValue)>,
        /// Replace datasets of the same names.
        replace: bool,
    },
    /// Get a dataset, taking futures to its keys. Answered by
    /// [`ClientEvent::Dataset`] or [`ClientEvent::Failed`]
    /// (`GetDatasetError`).
    GetDataset {
        /// Echoed in the reply.
        request: RequestId,
        /// Its name.
        name: String,
    },
    /// Share a dataset of this client's tenant with another tenant,
    /// read-only (it gets it as `OWNER/NAME`), or stop sharing it (the
    /// futures that tenant holds through it fail with an access-revoked
    /// error). Answered by [`ClientEvent::Done`] or [`ClientEvent::Failed`]
    /// (`ShareError`).
    ShareDataset {
        /// Echoed in the reply.
        request: RequestId,
        /// The dataset's name.
        name: String,
        /// The tenant to share it with.
        with: String,
        /// Share (true) or unshare (false).
        share: bool,
    },
    /// Unpublish a dataset (a no-op if there is none). Answered by
    /// [`ClientEvent::Done`].
    UnpublishDataset {
        /// Echoed in the reply.
        request: RequestId,
        /// Its name.
        name: String,
    },
    /// The published datasets' names. Answered by [`ClientEvent::Datasets`].
    ListDatasets {
        /// Echoed in the reply.
        request: RequestId,
    },
    /// The cluster's state: workers, memory, who holds which key.
    /// Answered by [`ClientEvent::Status`].
    Status {
        /// Echoed in the reply.
        request: RequestId,
        /// Also list the keys each worker holds.
        keys: bool,
    },
}

impl ClientRequest {
    /// The id its reply echoes, for requests that have a reply of their
    /// own.
    pub fn request_id(&self) -> Option<RequestId> {
        match self {
            ClientRequest::UploadModule { request, .. }
            | ClientRequest::WhoHas { request, .. }
            | ClientRequest::PrepareScatter { request, .. }
            | ClientRequest::ListWorkers { request }
            | ClientRequest::Restart { request }
            | ClientRequest::Replicate { request, .. }
            | ClientRequest::Rebalance { request, .. }
            | ClientRequest::PublishDatasets { request, .. }
            | ClientRequest::GetDataset { request, .. }
            | ClientRequest::ShareDataset { request, .. }
            | ClientRequest::UnpublishDataset { request, .. }
            | ClientRequest::ListDatasets { request }
            | ClientRequest::Status { request, .. } => Some(*request),
            ClientRequest::SubmitGraph { .. }
            | ClientRequest::SubmitGraphPart { .. }
            | ClientRequest::DropGraphParts
            | ClientRequest::Want { .. }
            | ClientRequest::Release { .. }
            | ClientRequest::Scattered { .. }
            | ClientRequest::Session { .. }
            | ClientRequest::Goodbye
            | ClientRequest::Heartbeat
            | ClientRequest::Holding { .. }
            | ClientRequest::Cancel { .. } => None,
        }
    }
}

/// Scheduler → client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClientEvent {
    /// The first message on every client connection: the scheduler's number
    /// for the client's tenant, with which it derives the keys workers hold
    /// its values under (`weft_schema::ids::wire_key`).
    Welcome {
        /// The tenant's number.
        tenant: u32,
    },
    /// News about a key the client holds, or a refused graph.
    Key(ToClient),
    /// A module is stored under this hash.
    ModuleStored {
        /// The request.
        request: RequestId,
        /// BLAKE3 of the module's bytes.
        hash: [u8; 32],
    },
    /// Where keys' results are; keys not in memory are left out.
    Locations {
        /// The request.
        request: RequestId,
        /// The pass that opens a connection to the workers' data ports.
        pass: Ticket,
        /// The workers named in `locations`.
        workers: Vec<WorkerInfo>,
        /// One entry per key in memory.
        locations: Vec<KeyLocation>,
    },
    /// Where to put scattered values.
    ScatterPlan {
        /// The request.
        request: RequestId,
        /// The pass that opens a connection to the workers' data ports.
        pass: Ticket,
        /// The workers named in `targets`.
        workers: Vec<WorkerInfo>,
        /// One entry per value, in the order asked.
        targets: Vec<ScatterTarget>,
    },
    /// The workers.
    Workers {
        /// The request.
        request: RequestId,
        /// Every connected worker.
        workers: Vec<WorkerInfo>,
    },
    /// The cluster's state.
    Status {
        /// The request.
        request: RequestId,
        /// What the scheduler knows.
        status: ClusterStatus,
    },
    /// A dataset; the client now holds futures to its keys.
    Dataset {
        /// The request.
        request: RequestId,
        /// The dataset.
        value: Arc<DatasetValue>,
    },
    /// The published datasets' names, sorted.
    Datasets {
        /// The request.
        request: RequestId,
        /// The names.
        names: Vec<String>,
    },
    /// A reconnection named a session the scheduler no longer has (its
    /// grace ran out, or the scheduler restarted): what the client held is
    /// gone.
    SessionLost,
    /// A new session was refused: its tenant has `clients_max` clients
    /// already. The scheduler closes the connection after this.
    SessionRefused {
        /// The limit, with its figures.
        quota: weft_schema::quota::QuotaExceeded,
    },
    /// A request that has no reply (a cancel) was denied.
    Denied {
        /// Why.
        message: String,
    },
    /// A request without another reply succeeded.
    Done {
        /// The request.
        request: RequestId,
    },
    /// A request the scheduler's state task answers itself (an upload, a
    /// scatter plan, a refusal before the core) failed.
    RequestFailed {
        /// The request.
        request: RequestId,
        /// Why.
        message: String,
    },
    /// A request the scheduler's core answers (publish, get, share,
    /// replicate, rebalance, restart) failed, and why, typed: clients act
    /// on the kind, never on the text.
    Failed {
        /// The request.
        request: RequestId,
        /// Why.
        error: weft_schema::errors::RequestError,
    },
}

impl ClientEvent {
    /// The id of the request it answers, for replies.
    pub fn request_id(&self) -> Option<RequestId> {
        match self {
            ClientEvent::ModuleStored { request, .. }
            | ClientEvent::Locations { request, .. }
            | ClientEvent::ScatterPlan { request, .. }
            | ClientEvent::Workers { request, .. }
            | ClientEvent::Status { request, .. }
            | ClientEvent::Dataset { request, .. }
            | ClientEvent::Datasets { request, .. }
            | ClientEvent::Done { request }
            | ClientEvent::RequestFailed { request, .. }
            | ClientEvent::Failed { request, .. } => Some(*request),
            ClientEvent::Welcome { .. }
            | ClientEvent::Key(_)
            | ClientEvent::SessionLost
            | ClientEvent::SessionRefused { .. }
            | ClientEvent::Denied { .. } => None,
        }
    }
}

/// Where a key's result lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyLocation {
    /// The key, as the client names it.
    pub key: TaskKey,
    /// The key the workers hold it under (`weft_schema::ids::wire_key`).
    pub wire_key: TaskKey,
    /// The ticket to get it with.
    pub ticket: Ticket,
    /// The result's size.
    pub nbytes: u64,
    /// Workers holding it (see the reply's `workers`).
    pub holders: Vec<WorkerId>,
}

/// Where one scattered value goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScatterTarget {
    /// The key, as the client names it.
    pub key: TaskKey,
    /// The workers to put it on, each with its put ticket.
    pub puts: Vec<(WorkerId, Ticket)>,
}

/// The cluster as the scheduler sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// Each connected worker.
    pub workers: Vec<WorkerStatus>,
    /// Tasks by state name.
    pub tasks: std::collections::BTreeMap<String, u64>,
    /// Connected clients (and clients within their reconnection grace).
    pub clients: u64,
    /// Keys the scheduler knows (every state).
    pub keys: u64,
    /// The caller's tenant (an admin: every tenant), with its usage and
    /// limits.
    pub tenants: Vec<weft_schema::quota::TenantStatus>,
}

/// One worker, as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStatus {
    /// Who it is.
    pub info: WorkerInfo,
    /// Bytes of results the scheduler counts on this worker.
    pub managed_bytes: u64,
    /// Keys the scheduler counts on this worker.
    pub managed_keys: u64,
    /// Tasks running or queued on it.
    pub processing: u64,
    /// The worker's last [`WorkerReport::Metrics`] (zeros before the first).
    pub metrics: WorkerMetrics,
    /// The keys it holds with their sizes, if asked for.
    pub has_what: Vec<(TaskKey, u64)>,
}

/// What a worker says about its own memory, every metrics interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerMetrics {
    /// Bytes of values held in memory.
    pub memory_bytes: u64,
    /// Values held in memory.
    pub memory_keys: u64,
    /// Bytes of values spilled to disk.
    pub spilled_bytes: u64,
    /// Values spilled to disk.
    pub spilled_keys: u64,
    /// The process's resident memory (RSS), 0 where unknown.
    pub process_bytes: u64,
    /// The worker's memory limit (0: none).
    pub memory_limit: u64,
    /// True while it starts no new tasks (above the pause fraction).
    pub paused: bool,
}

/// A worker as others see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// Its id.
    pub id: WorkerId,
    /// Its data port, `host:port`.
    pub data_addr: String,
    /// Its executor threads.
    pub nthreads: u32,
    /// Its name.
    pub name: String,
    /// Its process id (0 where unknown).
    pub pid: u32,
}
