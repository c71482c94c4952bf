//! The state task: owns the scheduler core, the module store and the
//! connection registry. It takes inputs from the connection tasks in the
//! order they arrive, feeds them to the core as events, and routes the
//! core's commands to the right connection. Everything that decides lives
//! in `weft-core`; this file only translates.

use crate::modules::ModuleStore;
use crate::server::Outgoing;
use std::collections::HashMap;
use std::net::SocketAddr;
use tokio::sync::{mpsc, oneshot};
use weft_core::{ClientId, Command, Event, Scheduler, StimulusId, ToClient, ToWorker, WorkerId};
use weft_proto::messages::{
    ClientEvent, ClientRequest, KeyLocation, WireCompute, WireInput, WorkerCommand, WorkerInfo,
    WorkerReport,
};
use weft_schema::graph::{GraphLimits, decode_graph};

/// A connected peer: where to send its messages.
#[derive(Debug)]
pub(crate) struct Peer {
    pub(crate) name: String,
    pub(crate) addr: SocketAddr,
    pub(crate) outbox: mpsc::Sender<Outgoing>,
}

/// What the connection tasks tell the state task.
#[derive(Debug)]
pub(crate) enum Input {
    ClientConnected {
        peer: Peer,
        id: oneshot::Sender<ClientId>,
    },
    Client(ClientId, ClientRequest),
    ClientClosed(ClientId),
    WorkerConnected {
        peer: Peer,
        register: WorkerReport,
        id: oneshot::Sender<WorkerId>,
    },
    Worker(WorkerId, WorkerReport),
    WorkerClosed(WorkerId),
}

struct WorkerEntry {
    peer: Peer,
    info: WorkerInfo,
}

pub(crate) struct State {
    core: Scheduler,
    modules: ModuleStore,
    graph_limits: GraphLimits,
    clients: HashMap<ClientId, Peer>,
    workers: HashMap<WorkerId, WorkerEntry>,
    next_id: u32,
    stimulus: u64,
}

impl State {
    pub(crate) fn new(config: &crate::SchedulerConfig) -> State {
        State {
            core: Scheduler::new(config.core.clone()),
            modules: ModuleStore::new(config.module_store_bytes_max),
            graph_limits: config.graph.clone(),
            clients: HashMap::new(),
            workers: HashMap::new(),
            next_id: 0,
            stimulus: 0,
        }
    }

    /// Runs until every input sender is gone.
    pub(crate) async fn run(mut self, mut inputs: mpsc::UnboundedReceiver<Input>) {
        while let Some(input) = inputs.recv().await {
            self.handle(input);
            // Take what else is ready before routing, so that replies batch.
            for _ in 0..1024 {
                match inputs.try_recv() {
                    Ok(input) => self.handle(input),
                    Err(_) => break,
                }
            }
        }
    }

    fn event(&mut self, event: Event) {
        self.stimulus += 1;
        self.core.handle(StimulusId(self.stimulus), event);
        while let Some(command) = self.core.poll_command() {
            self.route(command);
        }
    }

    fn new_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::ClientConnected { peer, id } => {
                let client = ClientId(self.new_id());
                tracing::info!(%client, name = %peer.name, addr = %peer.addr, "client connected");
                self.clients.insert(client, peer);
                let _ = id.send(client);
                self.event(Event::ClientConnected { client });
            }
            Input::Client(client, request) => self.client_request(client, request),
            Input::ClientClosed(client) => {
                tracing::info!(%client, "client disconnected");
                self.clients.remove(&client);
                self.event(Event::ClientGone { client });
            }
            Input::WorkerConnected { peer, register, id } => {
                let WorkerReport::Register {
                    nthreads,
                    data_addr,
                    name,
                    ..
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
                };
                let _ = peer
                    .outbox
                    .try_send(Outgoing::Worker(WorkerCommand::Welcome { worker }));
                self.workers.insert(worker, WorkerEntry { peer, info });
                let _ = id.send(worker);
                self.event(Event::WorkerJoined { worker, nthreads });
            }
            Input::Worker(worker, report) => self.worker_report(worker, report),
            Input::WorkerClosed(worker) => {
                tracing::info!(%worker, "worker left");
                self.workers.remove(&worker);
                self.event(Event::WorkerLeft { worker });
            }
        }
    }

    fn client_request(&mut self, client: ClientId, request: ClientRequest) {
        match request {
            ClientRequest::UploadModule { request, bytes } => {
                let reply = match self.modules.insert(bytes) {
                    Ok(hash) => ClientEvent::ModuleStored { request, hash },
                    Err(message) => ClientEvent::RequestFailed { request, message },
                };
                self.send_client(client, reply);
            }
            ClientRequest::SubmitGraph { graph, wants } => {
                let tasks = match decode_graph(&graph, &self.graph_limits) {
                    Ok(tasks) => tasks,
                    Err(error) => {
                        let reason = format!("the graph was refused: {error}");
                        let rejected = ToClient::Rejected {
                            keys: wants,
                            reason,
                        };
                        self.send_client(client, ClientEvent::Key(rejected));
                        return;
                    }
                };
                if let Some(task) = tasks.iter().find(|t| !self.modules.contains(&t.module)) {
                    let reason = format!(
                        "task {} uses module {}, which was not uploaded to this scheduler",
                        task.key,
                        hex(&task.module)
                    );
                    let rejected = ToClient::Rejected {
                        keys: wants,
                        reason,
                    };
                    self.send_client(client, ClientEvent::Key(rejected));
                    return;
                }
                self.event(Event::UpdateGraph {
                    client,
                    tasks,
                    wants,
                });
            }
            ClientRequest::Release { keys } => self.event(Event::ReleaseKeys { client, keys }),
            ClientRequest::WhoHas { request, keys } => {
                let mut named = std::collections::BTreeSet::new();
                let locations = keys
                    .iter()
                    .filter_map(|key| {
                        let (holders, nbytes) = self.core.who_has(key)?;
                        named.extend(holders.iter().copied());
                        Some(KeyLocation {
                            key: *key,
                            nbytes,
                            holders,
                        })
                    })
                    .collect();
                let workers = named
                    .iter()
                    .filter_map(|w| self.workers.get(w).map(|entry| entry.info.clone()))
                    .collect();
                let reply = ClientEvent::Locations {
                    request,
                    workers,
                    locations,
                };
                self.send_client(client, reply);
            }
            ClientRequest::Scattered {
                key,
                workers,
                nbytes,
            } => self.event(Event::Scattered {
                client,
                key,
                workers,
                nbytes,
            }),
            ClientRequest::ListWorkers { request } => {
                let mut workers: Vec<WorkerInfo> =
                    self.workers.values().map(|w| w.info.clone()).collect();
                workers.sort_by_key(|w| w.id);
                self.send_client(client, ClientEvent::Workers { request, workers });
            }
        }
    }

    fn worker_report(&mut self, worker: WorkerId, report: WorkerReport) {
        let event = match report {
            WorkerReport::Finished {
                key,
                run,
                nbytes,
                duration_us,
            } => Event::TaskFinished {
                worker,
                key,
                run,
                nbytes,
                duration_us,
            },
            WorkerReport::Erred { key, run, message } => Event::TaskErred {
                worker,
                key,
                run,
                message,
            },
            WorkerReport::FetchFailed { key, run, missing } => Event::FetchFailed {
                worker,
                key,
                run,
                missing,
            },
            WorkerReport::Replica { key } => Event::ReplicaAdded { worker, key },
            WorkerReport::StealResponse { key, run, stolen } => Event::StealResponse {
                worker,
                key,
                run,
                stolen,
            },
            WorkerReport::GetModule { hash } => {
                let reply = match self.modules.get(&hash) {
                    Some(bytes) => WorkerCommand::Module {
                        hash,
                        bytes: bytes.as_ref().clone(),
                    },
                    None => WorkerCommand::ModuleMissing { hash },
                };
                self.send_worker(worker, reply);
                return;
            }
            WorkerReport::Register { .. } => {
                tracing::warn!(%worker, "ignoring a second registration");
                return;
            }
        };
        self.event(event);
    }

    fn route(&mut self, command: Command) {
        match command {
            Command::Client(client, message) => self.send_client(client, ClientEvent::Key(message)),
            Command::Worker(worker, ToWorker::Steal { key, run }) => {
                self.send_worker(worker, WorkerCommand::Steal { key, run })
            }
            Command::Worker(worker, ToWorker::Free { keys }) => {
                self.send_worker(worker, WorkerCommand::Free { keys })
            }
            Command::Worker(worker, ToWorker::Compute(task)) => {
                let inputs = task
                    .inputs
                    .into_iter()
                    .map(|input| WireInput {
                        key: input.key,
                        nbytes: input.nbytes,
                        holders: input
                            .holders
                            .iter()
                            .filter_map(|w| {
                                self.workers.get(w).map(|e| (*w, e.info.data_addr.clone()))
                            })
                            .collect(),
                    })
                    .collect();
                let wire = WireCompute {
                    key: task.key,
                    run: task.run,
                    spec: task.spec,
                    inputs,
                };
                self.send_worker(worker, WorkerCommand::Compute(wire));
            }
        }
    }

    fn send_client(&mut self, client: ClientId, event: ClientEvent) {
        let Some(peer) = self.clients.get(&client) else {
            return;
        };
        if peer.outbox.try_send(Outgoing::Client(event)).is_err() {
            tracing::warn!(%client, "disconnecting a client that does not read its messages (outbox_messages_max)");
            self.clients.remove(&client);
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
            self.event(Event::WorkerLeft { worker });
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
