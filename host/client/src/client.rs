//! [`Client`]: connect to a scheduler, upload modules, submit tasks, wait
//! for and gather results.

use crate::args::Args;
use crate::fetch::PeerPool;
use crate::link::{self, lock};
use crate::module::Module;
use crate::state::{FutureStatus, State};
use crate::{ClientError, Future};
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use weft_proto::messages::{ClientEvent, ClientRequest, RequestId, WorkerInfo};
use weft_proto::{Connection, ConnectionLimits, Hello, Role};
use weft_schema::graph::{GraphTask, TaskKey, unique_key};

/// How a task is submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubmitOptions {
    /// Whether the result depends only on the module, function and
    /// arguments. Pure tasks get a deterministic key, so identical
    /// submissions share one result (Dask's `pure=True`). Default true.
    pub pure: bool,
    /// How many times to run the task again if it fails. Default 0.
    pub retries: u32,
}

impl Default for SubmitOptions {
    fn default() -> Self {
        SubmitOptions {
            pure: true,
            retries: 0,
        }
    }
}

/// Default of [`ClientOptions::gather_fetch_timeout`]: 30 s.
pub const DEFAULT_GATHER_FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Default of [`ClientOptions::reconnect_timeout`]: 10 s.
pub const DEFAULT_RECONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How a client connects.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Frame size limit and handshake timeout of its connections.
    pub limits: ConnectionLimits,
    /// The token it proves itself with (`--token-file`, `WEFT_TOKEN`,
    /// `~/.config/weft/token`); `None` for a cluster without tenants.
    pub token: Option<weft_proto::Secret>,
    /// TLS (`--tls-ca`, `WEFT_TLS_CA`): how the scheduler and the workers
    /// are verified; `None`: plain TCP.
    pub tls: Option<weft_proto::tls::ClientTls>,
    /// `reconnect_timeout`: how long to keep trying to reconnect when the
    /// connection to the scheduler drops; the scheduler keeps what the
    /// client held for its `client_grace`. Zero: never reconnect. Default
    /// [`DEFAULT_RECONNECT_TIMEOUT`].
    pub reconnect_timeout: std::time::Duration,
    /// `gather_fetch_timeout`: how long one request for results from one
    /// worker may take, plus what its bytes take at 10 MB/s, before
    /// `gather` gives that worker up and asks the scheduler again where the
    /// keys are (a stopped or overloaded holder). Zero: no limit. Default
    /// [`DEFAULT_GATHER_FETCH_TIMEOUT`].
    pub gather_fetch_timeout: std::time::Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            limits: ConnectionLimits::default(),
            token: None,
            tls: None,
            reconnect_timeout: DEFAULT_RECONNECT_TIMEOUT,
            gather_fetch_timeout: DEFAULT_GATHER_FETCH_TIMEOUT,
        }
    }
}

/// A connection to a Weft cluster. Cheap to clone; every clone is the same
/// client.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    state: Arc<Mutex<State>>,
    requests: mpsc::UnboundedSender<ClientRequest>,
    /// How workers' data ports are reached (TLS, no credential: each
    /// connection gets the pass of the reply it follows).
    workers: weft_proto::Dialer,
    peers: PeerPool,
    /// [`ClientOptions::gather_fetch_timeout`].
    gather_fetch_timeout: std::time::Duration,
    seed: u64,
    counter: AtomicU64,
    /// A cluster this client started (`Client::local`), stopped with it.
    #[cfg(feature = "local")]
    cluster: Mutex<Option<crate::local::LocalCluster>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to the scheduler at `addr` (`host:port`).
    pub async fn connect(addr: &str) -> Result<Client, ClientError> {
        Client::connect_with(addr, ConnectionLimits::default()).await
    }

    /// Connects with explicit connection limits.
    pub async fn connect_with(addr: &str, limits: ConnectionLimits) -> Result<Client, ClientError> {
        let options = ClientOptions {
            limits,
            ..ClientOptions::default()
        };
        Client::connect_with_options(addr, options).await
    }

    /// Connects with explicit [`ClientOptions`].
    pub async fn connect_with_options(
        addr: &str,
        options: ClientOptions,
    ) -> Result<Client, ClientError> {
        let limits = options.limits;
        let name = format!("client-{}", std::process::id());
        let hello = Hello::new(Role::Client, name.clone());
        let dialer = weft_proto::Dialer {
            limits,
            tls: options.tls.as_ref().map(|tls| tls.scheduler.clone()),
            credential: options
                .token
                .clone()
                .map_or(weft_proto::Credential::None, weft_proto::Credential::Token),
            expect_role: Role::Scheduler,
        };
        let (connection, _theirs) = Connection::connect(addr, &hello, &dialer)
            .await
            .map_err(|e| ClientError::Connection(e.to_string()))?;
        let state = Arc::new(Mutex::new(State::default()));
        // The impure-key seed and the session token come from the
        // operating system's CSPRNG: neither may be guessable.
        let mut entropy = [0u8; 24];
        getrandom::fill(&mut entropy).map_err(|e| {
            ClientError::Connection(format!("the system's random number generator failed: {e}"))
        })?;
        let seed = u64::from_le_bytes(entropy[..8].try_into().expect("8 bytes"));
        let token = u128::from_le_bytes(entropy[8..].try_into().expect("16 bytes"));
        let reconnect = link::Reconnect {
            addr: addr.to_string(),
            dialer,
            name,
            token,
            timeout: options.reconnect_timeout,
        };
        let requests = link::spawn(connection, state.clone(), reconnect);
        Ok(Client {
            inner: Arc::new(Inner {
                state,
                requests,
                workers: weft_proto::Dialer {
                    limits,
                    tls: options.tls.as_ref().map(|tls| tls.workers.clone()),
                    credential: weft_proto::Credential::None,
                    expect_role: Role::Worker,
                },
                peers: PeerPool::default(),
                gather_fetch_timeout: options.gather_fetch_timeout,
                seed,
                counter: AtomicU64::new(0),
                #[cfg(feature = "local")]
                cluster: Mutex::new(None),
            }),
        })
    }

    #[cfg(feature = "local")]
    pub(crate) fn own_cluster(&self, cluster: crate::local::LocalCluster) {
        *self.inner.cluster.lock().unwrap_or_else(|p| p.into_inner()) = Some(cluster);
    }

    /// The local cluster this client started, if any.
    #[cfg(feature = "local")]
    pub fn with_cluster<T>(
        &self,
        f: impl FnOnce(Option<&mut crate::local::LocalCluster>) -> T,
    ) -> T {
        f(self
            .inner
            .cluster
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut())
    }

    /// Whether the connection to the scheduler is closed.
    pub fn is_closed(&self) -> bool {
        lock(&self.inner.state).closed.is_some()
    }

    /// How this client reaches workers' data ports (add the pass).
    /// This client's `frame_bytes_max`: what it sends is cut to fit it.
    pub(crate) fn frame_bytes_max(&self) -> usize {
        self.inner.workers.limits.frame_bytes_max
    }

    pub(crate) fn worker_dialer(&self) -> weft_proto::Dialer {
        self.inner.workers.clone()
    }

    /// The pool of connections to workers' data ports.
    pub(crate) fn peers(&self) -> &PeerPool {
        &self.inner.peers
    }

    /// [`ClientOptions::gather_fetch_timeout`].
    pub(crate) fn gather_fetch_timeout(&self) -> std::time::Duration {
        self.inner.gather_fetch_timeout
    }

    pub(crate) fn state(&self) -> &Mutex<State> {
        &self.inner.state
    }

    pub(crate) fn send_request(&self, request: ClientRequest) -> Result<(), ClientError> {
        self.send(request)
    }

    fn send(&self, request: ClientRequest) -> Result<(), ClientError> {
        self.send_all(std::iter::once(request))
    }

    /// Sends `requests` one after another, with no other thread's request
    /// between them (a graph's parts and its end, say).
    pub(crate) fn send_all(
        &self,
        requests: impl IntoIterator<Item = ClientRequest>,
    ) -> Result<(), ClientError> {
        // The lock is held while sending, so that senders take turns.
        let state = lock(&self.inner.state);
        if let Some(reason) = &state.closed {
            return Err(ClientError::Closed(reason.clone()));
        }
        for request in requests {
            self.inner
                .requests
                .send(request)
                .map_err(|_| ClientError::Closed("the connection task ended".into()))?;
        }
        drop(state);
        Ok(())
    }

    pub(crate) async fn request(
        &self,
        build: impl FnOnce(RequestId) -> ClientRequest,
    ) -> Result<ClientEvent, ClientError> {
        let (reply, replied) = oneshot::channel();
        let id = {
            let mut state = lock(&self.inner.state);
            if let Some(reason) = &state.closed {
                return Err(ClientError::Closed(reason.clone()));
            }
            state.next_request += 1;
            let id = state.next_request;
            state.requests.insert(id, reply);
            id
        };
        self.send(build(id))?;
        match replied.await {
            Ok(ClientEvent::RequestFailed { message, .. }) => Err(ClientError::Refused(message)),
            Ok(ClientEvent::Failed {
                error: weft_core::RequestError::QuotaExceeded(quota),
                ..
            }) => Err(ClientError::QuotaExceeded(quota)),
            Ok(ClientEvent::Failed { error, .. }) => Err(ClientError::Failed(error)),
            Ok(event) => Ok(event),
            Err(_) => Err(ClientError::Closed(
                lock(&self.inner.state).closed.clone().unwrap_or_default(),
            )),
        }
    }

    /// Uploads a task module (content-addressed: uploading it again is free).
    pub async fn upload_module(&self, bytes: impl Into<Vec<u8>>) -> Result<Module, ClientError> {
        let bytes = bytes.into();
        let module = Module::describe(&bytes)?;
        match self
            .request(|request| ClientRequest::UploadModule { request, bytes })
            .await?
        {
            ClientEvent::ModuleStored { hash, .. } if hash == module.hash => Ok(module),
            other => Err(ClientError::Connection(format!(
                "unexpected reply to an upload: {other:?}"
            ))),
        }
    }

    /// Reads and uploads a module file.
    pub async fn upload_module_file(&self, path: impl AsRef<Path>) -> Result<Module, ClientError> {
        let path = path.as_ref();
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| ClientError::Module(format!("could not read {}: {e}", path.display())))?;
        self.upload_module(bytes).await
    }

    /// Submits `task` of `module` with `args` (values and futures) and
    /// returns a future to its result.
    pub fn submit<R>(
        &self,
        module: &Module,
        task: &str,
        args: impl Args,
    ) -> Result<Future<R>, ClientError> {
        self.submit_with(module, task, args, SubmitOptions::default())
    }

    /// [`Client::submit`] with options.
    pub fn submit_with<R>(
        &self,
        module: &Module,
        task: &str,
        args: impl Args,
        options: SubmitOptions,
    ) -> Result<Future<R>, ClientError> {
        let mut futures = self.submit_many(module, task, std::iter::once(args), options)?;
        Ok(futures.pop().expect("one future per submission"))
    }

    /// Submits `task` once per element of `inputs`, in one message.
    pub fn map<R, A: Args>(
        &self,
        module: &Module,
        task: &str,
        inputs: impl IntoIterator<Item = A>,
    ) -> Result<Vec<Future<R>>, ClientError> {
        self.submit_many(module, task, inputs, SubmitOptions::default())
    }

    fn submit_many<R, A: Args>(
        &self,
        module: &Module,
        task: &str,
        inputs: impl IntoIterator<Item = A>,
        options: SubmitOptions,
    ) -> Result<Vec<Future<R>>, ClientError> {
        let signature = module.signature(task)?;
        let ret = Arc::new(signature.ret.clone());
        let mut tasks = Vec::new();
        let mut futures = Vec::new();
        for args in inputs {
            let graph_args = encode_args(signature, &args)?;
            let mut graph_task = GraphTask::new_pure(module.hash, task, graph_args);
            if !options.pure {
                let counter = self.inner.counter.fetch_add(1, Ordering::Relaxed);
                graph_task.key = unique_key(self.inner.seed, counter);
                graph_task.pure = false;
            }
            graph_task.retries = options.retries;
            let key = graph_task.key;
            if self.hold(key) {
                tasks.push(graph_task);
            }
            futures.push(Future {
                key,
                client: self.clone(),
                ret: Some(ret.clone()),
                _result: PhantomData,
            });
        }
        self.submit_graph(&tasks, |_| true)?;
        Ok(futures)
    }

    /// The workers of the cluster.
    pub async fn workers(&self) -> Result<Vec<WorkerInfo>, ClientError> {
        match self
            .request(|request| ClientRequest::ListWorkers { request })
            .await?
        {
            ClientEvent::Workers { workers, .. } => Ok(workers),
            other => Err(ClientError::Connection(format!(
                "unexpected reply: {other:?}"
            ))),
        }
    }

    pub(crate) fn status_of(&self, key: &TaskKey) -> FutureStatus {
        lock(&self.inner.state)
            .keys
            .get(key)
            .map_or(FutureStatus::Pending, |entry| entry.status.clone())
    }

    /// Waits until `key` is final; an error if it failed.
    pub(crate) async fn wait_key(&self, key: &TaskKey) -> Result<(), ClientError> {
        loop {
            let woken = {
                let mut state = lock(&self.inner.state);
                let closed = state.closed.clone();
                let Some(entry) = state.keys.get_mut(key) else {
                    return Err(ClientError::Refused(format!(
                        "{key} is not held by this client"
                    )));
                };
                match &entry.status {
                    FutureStatus::Finished => return Ok(()),
                    FutureStatus::Error(failure) => {
                        return Err(ClientError::Task {
                            key: *key,
                            failure: failure.clone(),
                        });
                    }
                    FutureStatus::Refused {
                        quota: Some(quota), ..
                    } => {
                        return Err(ClientError::QuotaExceeded(quota.clone()));
                    }
                    FutureStatus::Refused { reason, .. } => {
                        return Err(ClientError::Refused(reason.clone()));
                    }
                    FutureStatus::Cancelled(reason) => {
                        return Err(ClientError::Cancelled {
                            key: *key,
                            reason: reason.clone(),
                        });
                    }
                    FutureStatus::Pending | FutureStatus::Lost => {}
                }
                if let Some(reason) = closed {
                    return Err(ClientError::Closed(reason));
                }
                let (wake, woken) = oneshot::channel();
                entry.waiters.push(wake);
                woken
            };
            if woken.await.is_err() && lock(&self.inner.state).closed.is_some() {
                let reason = lock(&self.inner.state).closed.clone().unwrap_or_default();
                return Err(ClientError::Closed(reason));
            }
        }
    }

    /// One more reference to `key`; true if it is new to this client.
    pub(crate) fn hold(&self, key: TaskKey) -> bool {
        lock(&self.inner.state).hold(key)
    }

    /// One more reference to a key this client already holds.
    pub(crate) fn hold_again(&self, key: TaskKey) {
        lock(&self.inner.state).hold_again(key)
    }

    /// One reference less; the last one releases the key.
    pub(crate) fn unhold(&self, key: &TaskKey) {
        if lock(&self.inner.state).unhold(key) {
            let _ = self
                .inner
                .requests
                .send(ClientRequest::Release { keys: vec![*key] });
        }
    }
}

/// Decodes a result as `R`; when the bytes are not `R`'s own encoding,
/// converts through the declared type (e.g. an `i64` result read as `i32`).
pub(crate) fn decode_result<R: DeserializeOwned>(
    future: &Future<R>,
    bytes: &[u8],
) -> Result<R, ClientError> {
    match weft_sdk::codec::decode::<R>(bytes) {
        Ok(value) => Ok(value),
        Err(direct) => {
            let fail = |message: String| ClientError::Decode {
                key: future.key,
                message,
            };
            let ty = future
                .ret
                .as_ref()
                .ok_or_else(|| fail(direct.to_string()))?;
            let value = weft_schema::json::decode(ty, bytes).map_err(|e| fail(e.to_string()))?;
            serde_json::from_value(value).map_err(|e| fail(format!("the task returns {ty}: {e}")))
        }
    }
}

/// Encodes a call's arguments by the task's parameter types.
pub(crate) fn encode_args(
    signature: &weft_schema::signature::TaskSignature,
    args: &impl Args,
) -> Result<Vec<weft_schema::graph::GraphArg>, ClientError> {
    if args.count() != signature.params.len() {
        return Err(ClientError::Arguments {
            task: signature.to_string(),
            message: format!(
                "{} arguments given, the task takes {}",
                args.count(),
                signature.params.len()
            ),
        });
    }
    let mut out = Vec::with_capacity(signature.params.len());
    for (i, param) in signature.params.iter().enumerate() {
        args.arg(i, &param.ty, &mut out)
            .map_err(|message| ClientError::Arguments {
                task: signature.to_string(),
                message: format!("argument `{}`: {message}", param.name),
            })?;
    }
    Ok(out)
}
