//! The state task: owns the scheduler core, the module store and the
//! connection registry. It takes inputs from the connection tasks in the
//! order they arrive, feeds them to the core as events with the time, and
//! routes the core's commands to the right connection: the commands of
//! each event at once, the placement pass's once per batch of inputs.
//! When the core's next timer is due (liveness, client grace, restart
//! deadline) it calls the core back. Everything that decides lives in
//! `weft-core`; this file only translates, keeps the session table
//! (`sessions.rs`: which connection speaks for which client), the tenants'
//! numbers, the ticket secret and the tokens, closing connections whose
//! token was revoked. Client requests are authorized and handled in
//! `state/client_requests.rs`.

use crate::audit::{self, AuditEvent};
use crate::authz::{Decision, Operation, Owner, authorize};
mod client_requests;
mod tenant_policies;

use crate::modules::{ModuleStore, UploadRefusal};
use crate::server::Outgoing;
use crate::sessions::{Closed, Sessions};
use crate::worker_wire::{FromWorker, from_worker, to_worker};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use weft_core::{
    ClientId, Command, Event, Scheduler, StimulusId, TenantId, Time, ToClient, ToWorker, WorkerId,
};
use weft_proto::auth::{Access, Principal};
use weft_proto::messages::{
    ClientEvent, ClientRequest, ClusterStatus, KeyLocation, RequestId, ScatterTarget,
    WorkerCommand, WorkerInfo, WorkerMetrics, WorkerReport, WorkerStatus,
};
use weft_proto::tickets::{DEFAULT_TICKET_LIFETIME, Requester, Ticket, TicketScope, TicketSecret};
use weft_schema::graph::{GraphLimits, decode_graph};

/// A connected peer: where to send its messages.
#[derive(Debug)]
pub(crate) struct Peer {
    pub(crate) name: String,
    pub(crate) addr: SocketAddr,
    pub(crate) outbox: mpsc::Sender<Outgoing>,
    /// Who it authenticated as.
    pub(crate) principal: Principal,
    /// Dropped with the peer: the connection's reader stops, so a
    /// connection the state task lets go of (a silent client, a revoked
    /// token, a full outbox) is closed, not left reading.
    pub(crate) _hangup: oneshot::Sender<()>,
}

/// What the connection tasks tell the state task.
#[derive(Debug)]
pub(crate) enum Input {
    ClientConnected {
        peer: Peer,
        id: oneshot::Sender<ClientId>,
    },
    /// A client's request, with what its connection task did with it
    /// already and its place in the connection's inbox (given back once
    /// it is handled).
    Client(
        ClientId,
        ClientRequest,
        crate::inbox::Prepared,
        crate::inbox::InboxPermit,
    ),
    ClientClosed(ClientId),
    WorkerConnected {
        peer: Peer,
        register: WorkerReport,
        id: oneshot::Sender<WorkerId>,
    },
    Worker(WorkerId, WorkerReport),
    WorkerClosed(WorkerId),
    /// The tenants file was reloaded: connections whose token is gone are
    /// closed.
    TokensReloaded,
}

struct WorkerEntry {
    peer: Peer,
    info: WorkerInfo,
    metrics: WorkerMetrics,
    /// Why it is leaving, if it said so before its connection closed.
    leaving: Option<String>,
    /// Its instance (stable across its restarts).
    instance: u64,
}

pub(crate) struct State {
    core: Scheduler,
    modules: ModuleStore,
    graph_limits: GraphLimits,
    clients: HashMap<ClientId, Peer>,
    workers: HashMap<WorkerId, WorkerEntry>,
    sessions: Sessions,
    /// Clients admitted under their tenant's `clients_max` (some may be
    /// gone from the core since: `tenant_policies.rs` counts the others).
    admitted: HashSet<ClientId>,
    /// Client connections the state task closed itself (a silent client):
    /// their reader's close, when it comes, changes nothing.
    closed_here: HashSet<ClientId>,
    /// The core's time zero.
    epoch: Instant,
    next_id: u32,
    stimulus: u64,
    /// Without tenants everyone is the open tenant.
    open: bool,
    /// The core's number for each tenant seen.
    tenants: HashMap<String, TenantId>,
    /// Signs data-port tickets; workers get it when they join.
    ticket_secret: TicketSecret,
    /// The tenants and their tokens.
    tokens: crate::Tokens,
}

impl State {
    pub(crate) fn new(config: &crate::SchedulerConfig, ticket_secret: TicketSecret) -> State {
        State {
            core: Scheduler::new(config.core.clone()),
            modules: ModuleStore::new(
                config.module_store_bytes_max,
                config.module_bytes_max,
                config.module_refusal_ttl,
            ),
            graph_limits: config.graph.clone(),
            clients: HashMap::new(),
            workers: HashMap::new(),
            sessions: Sessions::new(config.core.client_grace),
            closed_here: HashSet::new(),
            admitted: HashSet::new(),
            epoch: Instant::now(),
            next_id: 0,
            stimulus: 0,
            open: matches!(config.tokens, crate::authn::Tokens::Open),
            tenants: HashMap::new(),
            ticket_secret,
            tokens: config.tokens.clone(),
        }
    }

    /// Runs until every input sender is gone.
    pub(crate) async fn run(mut self, mut inputs: mpsc::UnboundedReceiver<Input>) {
        loop {
            let timer = self
                .core
                .poll_timeout()
                .map(|at| self.epoch + at.since_epoch());
            let first = tokio::select! {
                input = inputs.recv() => match input {
                    Some(input) => Some(input),
                    None => break,
                },
                () = sleep_until(timer), if timer.is_some() => None,
            };
            if let Some(input) = first {
                self.handle(input);
                // Take what else is ready, then place once for the batch.
                for _ in 0..1024 {
                    match inputs.try_recv() {
                        Ok(input) => self.handle(input),
                        Err(_) => break,
                    }
                }
            }
            // Timers fire once every input that arrived is in (a backlog
            // must not expire a peer whose reports wait in it), or when one
            // is overdue by TIMER_OVERDUE_MAX (a flood of inputs must not
            // stop them for good).
            let overdue = self
                .core
                .poll_timeout()
                .is_some_and(|at| self.now().since(at) > TIMER_OVERDUE_MAX);
            if inputs.is_empty() || overdue {
                self.stimulus += 1;
                self.core
                    .handle_timeout(self.now(), StimulusId(self.stimulus));
            }
            while let Some(command) = self.core.poll_command() {
                self.route(command);
            }
        }
    }

    /// The core's time now.
    fn now(&self) -> Time {
        Time::from_duration(self.epoch.elapsed())
    }

    /// Feeds one event to the core and sends what it says at once (in
    /// order with this task's own answers); placement waits for the end of
    /// the batch.
    fn event(&mut self, event: Event) {
        self.stimulus += 1;
        self.core
            .handle(self.now(), StimulusId(self.stimulus), event);
        while let Some(command) = self.core.poll_immediate() {
            self.route(command);
        }
    }

    fn new_id(&mut self) -> u32 {
        // Ids from DATASET_HOLDERS_START up belong to the core's datasets.
        assert!(
            self.next_id + 1 < weft_core::DATASET_HOLDERS_START,
            "ids exhausted"
        );
        self.next_id += 1;
        self.next_id
    }

    /// The core's number for a tenant of the tenants registry (`None` for
    /// a name that is no tenant, and in a cluster without tenants).
    fn known_tenant(&mut self, tenant: &str) -> Option<TenantId> {
        let registry = self.tokens.current()?;
        registry
            .tenants()
            .iter()
            .any(|t| t.name == tenant)
            .then(|| self.tenant_id(tenant))
    }

    /// The core's number for `tenant`.
    fn tenant_id(&mut self, tenant: &str) -> TenantId {
        if self.open {
            return TenantId::OPEN;
        }
        if let Some(id) = self.tenants.get(tenant) {
            return *id;
        }
        let id = TenantId(self.tenants.len() as u32 + 1);
        self.tenants.insert(tenant.to_string(), id);
        let policy = self.policy_of(tenant);
        self.event(Event::TenantPolicy {
            tenant: id,
            policy: Box::new(policy),
        });
        id
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::ClientConnected { peer, id } => {
                if !self.token_valid(&peer.principal) {
                    // Revoked between its handshake and now: dropping `id`
                    // closes the connection.
                    return;
                }
                let client = ClientId(self.new_id());
                let tenant = self.tenant_id(&peer.principal.tenant);
                tracing::info!(%client, name = %peer.name, addr = %peer.addr, tenant = %peer.principal.tenant, "client connected");
                self.clients.insert(client, peer);
                let _ = id.send(client);
                self.event(Event::ClientConnected { client, tenant });
                self.send_client(client, ClientEvent::Welcome { tenant: tenant.0 });
            }
            Input::Client(connection, request, prepared, _permit) => {
                if self.sessions.is_superseded(connection) || self.closed_here.contains(&connection)
                {
                    // A newer connection speaks for this client and replays
                    // what it needs; late input here could undo it.
                    return;
                }
                let client = self.sessions.client_of(connection);
                // A client is admitted (`clients_max`) by its first
                // request: its session, or whatever it sends without one.
                if !self.admitted.contains(&client)
                    && !matches!(request, ClientRequest::Session { .. })
                    && !self.admit_new_session(client)
                {
                    return;
                }
                self.client_request(connection, client, request, prepared)
            }
            Input::ClientClosed(connection) => {
                if !self.closed_here.remove(&connection) {
                    self.client_connection_closed(connection);
                }
            }
            Input::WorkerConnected { peer, register, id } => {
                if !self.token_valid(&peer.principal) {
                    tracing::warn!(addr = %peer.addr, "refusing a worker whose token was revoked before it registered");
                    return;
                }
                let WorkerReport::Register {
                    nthreads,
                    data_addr,
                    name,
                    pid,
                    memory_limit,
                    instance,
                } = register
                else {
                    return;
                };
                let worker = WorkerId(self.new_id());
                tracing::info!(%worker, %name, %data_addr, nthreads, "worker joined");
                let info = WorkerInfo {
                    id: worker,
                    data_addr,
                    nthreads,
                    name,
                    pid,
                };
                let _ = peer
                    .outbox
                    .try_send(Outgoing::Worker(WorkerCommand::Welcome {
                        worker,
                        ticket_secret: self.ticket_secret.clone(),
                    }));
                let metrics = WorkerMetrics {
                    memory_limit,
                    ..WorkerMetrics::default()
                };
                let entry = WorkerEntry {
                    peer,
                    info,
                    metrics,
                    leaving: None,
                    instance,
                };
                self.workers.insert(worker, entry);
                let _ = id.send(worker);
                self.event(Event::WorkerJoined {
                    worker,
                    nthreads,
                    instance,
                });
            }
            Input::Worker(worker, report) => self.worker_report(worker, report),
            Input::TokensReloaded => {
                self.close_revoked();
                self.publish_policies();
            }
            Input::WorkerClosed(worker) => {
                let reason = self.workers.remove(&worker).and_then(|w| w.leaving);
                tracing::info!(%worker, reason = reason.as_deref().unwrap_or("connection closed"), "worker left");
                self.event(Event::WorkerLeft { worker, reason });
            }
        }
    }

    /// Whether `principal`'s token is still in the registry (always, for a
    /// cluster without tenants).
    fn token_valid(&self, principal: &Principal) -> bool {
        self.tokens
            .current()
            .is_none_or(|registry| registry.still_grants(principal))
    }

    /// Closes every connection whose token is no longer in the registry:
    /// its client is gone at once (no reconnection grace: it could not
    /// reconnect), its worker has left.
    fn close_revoked(&mut self) {
        let Some(registry) = self.tokens.current() else {
            return;
        };
        let revoked = |peer: &Peer| !registry.still_grants(&peer.principal);
        let clients: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, peer)| revoked(peer))
            .map(|(id, _)| *id)
            .collect();
        for client in clients {
            let peer = self.clients.remove(&client).expect("listed");
            tracing::warn!(%client, tenant = %peer.principal.tenant, token_id = %peer.principal.token_id, "closing a client whose token was revoked");
            self.sessions.forget(client);
            self.event(Event::ClientGone { client });
        }
        let workers: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|(_, entry)| revoked(&entry.peer))
            .map(|(id, _)| *id)
            .collect();
        for worker in workers {
            self.workers.remove(&worker);
            tracing::warn!(%worker, "closing a worker whose token was revoked");
            let reason = Some("its worker token was revoked".to_string());
            self.event(Event::WorkerLeft { worker, reason });
        }
    }

    /// A client connection closed (or this task closed it): the client
    /// is away within its grace, or gone.
    fn client_connection_closed(&mut self, connection: ClientId) {
        match self.sessions.detach(connection) {
            Closed::Superseded => {
                tracing::debug!(%connection, "a superseded client connection closed");
            }
            Closed::Away { client } => {
                tracing::info!(%client, "client disconnected; keeping what it holds for its grace period");
                self.clients.remove(&client);
                self.event(Event::ClientDisconnected { client });
            }
            Closed::Gone { client } => {
                tracing::info!(%client, "client disconnected");
                self.clients.remove(&client);
                self.event(Event::ClientGone { client });
            }
        }
    }

    fn worker_report(&mut self, worker: WorkerId, report: WorkerReport) {
        let event = match from_worker(worker, report) {
            FromWorker::Event(event) => event,
            FromWorker::GetModule { hash } => {
                let reply = self.modules.answer(hash);
                self.send_worker(worker, reply);
                return;
            }
            FromWorker::ModuleRefused {
                hash,
                message,
                lasting,
            } => {
                let module = blake3::Hash::from(hash).to_hex();
                // Debug formatting: the text names the guest's imports and
                // exports, and must stay on one line.
                tracing::debug!(%worker, module = &module[..12], ?message, "a worker refused a module");
                self.modules.refuse(hash, message, lasting);
                return;
            }
            FromWorker::Register => {
                tracing::warn!(%worker, "ignoring a second registration");
                return;
            }
            FromWorker::Metrics(metrics) => {
                if let Some(entry) = self.workers.get_mut(&worker) {
                    entry.metrics = metrics;
                }
                // Metrics come every `metrics_interval`: the heartbeat.
                Event::WorkerHeartbeat { worker }
            }
            FromWorker::Leaving { reason } => {
                tracing::warn!(%worker, %reason, "worker is leaving");
                if let Some(entry) = self.workers.get_mut(&worker) {
                    entry.leaving = Some(reason);
                }
                return;
            }
            FromWorker::Restarted => {
                let Some(entry) = self.workers.get(&worker) else {
                    return;
                };
                tracing::info!(%worker, "worker joined again after a restart or rejoin");
                Event::WorkerJoined {
                    worker,
                    nthreads: entry.info.nthreads,
                    instance: entry.instance,
                }
            }
        };
        self.event(event);
    }

    fn route(&mut self, command: Command) {
        match command {
            Command::Client(client, ToClient::Done { request, error }) => {
                let event = match error {
                    None => ClientEvent::Done { request },
                    Some(error) => ClientEvent::Failed { request, error },
                };
                self.send_client(client, event);
            }
            Command::Client(client, ToClient::Dataset { request, value }) => {
                self.send_client(client, ClientEvent::Dataset { request, value });
            }
            Command::Client(client, message) => self.send_client(client, ClientEvent::Key(message)),
            Command::Worker(worker, message) => {
                if let ToWorker::Rejoin { reason } = &message {
                    tracing::warn!(%worker, %reason, "removed a silent worker; it must rejoin");
                }
                let command = to_worker(
                    worker,
                    message,
                    |holder| self.workers.get(&holder).map(|e| e.info.data_addr.clone()),
                    |scope, requester| self.ticket(scope, requester),
                );
                self.send_worker(worker, command);
            }
            Command::DisconnectClient { client, reason } => {
                tracing::warn!(%client, %reason, "disconnecting a silent client");
                let connection = self.sessions.connection_of(client);
                if self.clients.contains_key(&client) {
                    // Dropping its peer ends the connection (writer and
                    // reader); its reader's close is then ignored.
                    self.closed_here.insert(connection);
                    self.client_connection_closed(connection);
                } else {
                    // No connection speaks for it: it cannot come back.
                    self.sessions.forget(client);
                    self.event(Event::ClientGone { client });
                }
            }
            Command::ClientExpired { client } => {
                tracing::info!(%client, "client did not reconnect within its grace period; released what it held");
                self.sessions.forget(client);
            }
        }
    }

    /// A ticket for `requester`, valid for the ticket lifetime from now.
    fn ticket(&self, scope: TicketScope, requester: Requester) -> Ticket {
        self.ticket_secret.issue(
            scope,
            requester,
            std::time::SystemTime::now(),
            DEFAULT_TICKET_LIFETIME,
        )
    }

    fn send_client(&mut self, client: ClientId, event: ClientEvent) {
        let Some(peer) = self.clients.get(&client) else {
            return;
        };
        if peer.outbox.try_send(Outgoing::Client(event)).is_err() {
            tracing::warn!(%client, "disconnecting a client that does not read its messages (outbox_messages_max)");
            self.clients.remove(&client);
            self.sessions.forget(client);
            self.event(Event::ClientGone { client });
        }
    }

    fn send_worker(&mut self, worker: WorkerId, command: WorkerCommand) {
        let Some(entry) = self.workers.get(&worker) else {
            return;
        };
        if entry
            .peer
            .outbox
            .try_send(Outgoing::Worker(command))
            .is_err()
        {
            tracing::warn!(%worker, "disconnecting a worker that does not read its messages (outbox_messages_max)");
            self.workers.remove(&worker);
            let reason = Some("it did not read its messages (outbox_messages_max)".to_string());
            self.event(Event::WorkerLeft { worker, reason });
        }
    }
}

/// How late a core timer may be, while inputs keep coming, before it
/// fires anyway.
const TIMER_OVERDUE_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// Sleeps until `at` (never returns for `None`; the caller's `if` guard
/// keeps it from being polled then).
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
