//! A fake scheduler and a data-port client for the worker's tests. Every
//! wait is bounded by [`DEADLINE`].

#![allow(dead_code)]

use bytes::Bytes;
use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use std::time::SystemTime;
use tokio::net::TcpListener;
use weft_core::{SpecArg, TaskSpec, WorkerId};
use weft_proto::messages::{
    DataReply, DataRequest, WireCompute, WireInput, WorkerCommand, WorkerMetrics, WorkerReport,
};
use weft_proto::tickets::{Requester, Ticket, TicketScope, TicketSecret};
use weft_proto::{Connection, ConnectionLimits, Credential, Dialer, Hello, Role};
use weft_schema::graph::TaskKey;
use weft_schema::ids::TenantId;
use weft_worker::{WorkerConfig, WorkerHandle};

/// The secret the fake scheduler signs data-port tickets with.
pub fn test_secret() -> TicketSecret {
    TicketSecret::from_bytes([42; 32])
}

/// A ticket signed with [`test_secret`].
pub fn ticket(scope: TicketScope, requester: Requester) -> Ticket {
    test_secret().issue(scope, requester, SystemTime::now(), Duration::from_secs(60))
}

/// A get ticket for `key`, for `requester`.
pub fn get_ticket(key: TaskKey, requester: Requester) -> Ticket {
    ticket(TicketScope::Get { tenant: 0, key }, requester)
}

/// The requester of the test's data-port clients.
pub const TEST_CLIENT: Requester = Requester::Client(1);

/// The longest any step of a test may take (the first module compilation
/// of a debug build included).
pub const DEADLINE: Duration = Duration::from_secs(120);

/// Awaits `future` within [`DEADLINE`], or fails the test saying what.
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {DEADLINE:?} waiting for {what}"),
    }
}

/// The test guest module's bytes and hash.
pub fn testkit() -> &'static (Vec<u8>, [u8; 32]) {
    static MODULE: OnceLock<(Vec<u8>, [u8; 32])> = OnceLock::new();
    MODULE.get_or_init(|| {
        let bytes = std::fs::read(weft_guest_artifacts::TESTKIT).expect("the testkit module");
        let hash = *blake3::hash(&bytes).as_bytes();
        (bytes, hash)
    })
}

/// A distinct key per number.
pub fn key(n: u64) -> TaskKey {
    let mut bytes = [0xa5; 16];
    bytes[..8].copy_from_slice(&n.to_le_bytes());
    TaskKey(bytes)
}

/// An encoded argument value.
pub fn value<T: serde::Serialize>(v: &T) -> SpecArg {
    SpecArg::Value(weft_sdk::codec::encode(v).expect("encode"))
}

/// A compute of `function` of the testkit module.
pub fn compute(
    key: TaskKey,
    function: &str,
    args: Vec<SpecArg>,
    inputs: Vec<WireInput>,
) -> WireCompute {
    WireCompute {
        key,
        run: 1,
        tenant: TenantId::OPEN,
        weight: 1,
        ceilings: Default::default(),
        spec: Arc::new(TaskSpec::new(testkit().1, function, args)),
        inputs,
    }
}

/// Where an input is.
/// Its ticket is issued to the worker a [`WorkerLink`] sends it to.
pub fn input(key: TaskKey, holders: &[(WorkerId, SocketAddr)]) -> WireInput {
    WireInput {
        key,
        nbytes: 8,
        holders: holders
            .iter()
            .map(|(id, addr)| (*id, addr.to_string()))
            .collect(),
        ticket: get_ticket(key, Requester::Worker(WorkerId(0))),
    }
}

/// An address nobody listens on.
pub async fn dead_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr
}

/// A worker configuration for tests.
pub fn config(scheduler: SocketAddr, nthreads: u32) -> WorkerConfig {
    let mut config = WorkerConfig::new(scheduler.to_string());
    config.name = "test-worker".into();
    config.nthreads = nthreads;
    config.runtime.instances_max = nthreads;
    config.fetch_timeout = Duration::from_secs(10);
    config
}

/// A scheduler that speaks the protocol by hand.
pub struct FakeScheduler {
    listener: TcpListener,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl FakeScheduler {
    pub async fn new() -> FakeScheduler {
        // Logs of the worker, shown with `--nocapture` and `RUST_LOG`.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .try_init();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        FakeScheduler { listener, addr }
    }

    /// Accepts one worker, checks its registration and welcomes it as `id`.
    pub async fn accept(&self, id: u32) -> WorkerLink {
        let (stream, _) = self.listener.accept().await.expect("accept");
        let (mut connection, hello) = Connection::accept(
            stream,
            &Hello::new(Role::Scheduler, "fake-scheduler"),
            &weft_proto::Acceptor::open(ConnectionLimits::default()),
        )
        .await
        .expect("handshake");
        assert_eq!(hello.role, Role::Worker);
        let register = connection
            .recv::<WorkerReport>()
            .await
            .expect("recv")
            .expect("a registration");
        let WorkerReport::Register {
            data_addr,
            nthreads,
            pid,
            ..
        } = register
        else {
            panic!("expected Register, got {register:?}");
        };
        assert!(nthreads >= 1);
        assert_eq!(pid, std::process::id());
        connection
            .send(&WorkerCommand::Welcome {
                worker: WorkerId(id),
                ticket_secret: test_secret(),
            })
            .await
            .expect("welcome");
        WorkerLink {
            connection,
            id: WorkerId(id),
            data_addr: data_addr.parse().expect("a socket address"),
            modules_sent: 0,
            metrics_seen: Vec::new(),
            held: VecDeque::new(),
        }
    }

    /// Starts a worker with `config` and accepts it as `id`.
    pub async fn start(&self, id: u32, config: WorkerConfig) -> (WorkerHandle, WorkerLink) {
        let (worker, link) = within("a worker to join", async {
            tokio::join!(weft_worker::start(config), self.accept(id))
        })
        .await;
        let worker = worker.expect("the worker starts");
        assert_eq!(worker.id(), WorkerId(id));
        assert_eq!(worker.data_addr(), link.data_addr);
        (worker, link)
    }
}

/// The scheduler's side of one worker's connection.
pub struct WorkerLink {
    pub connection: Connection,
    pub id: WorkerId,
    pub data_addr: SocketAddr,
    /// How many `GetModule`s were answered.
    pub modules_sent: usize,
    /// Every `Metrics` received so far, in order.
    pub metrics_seen: Vec<WorkerMetrics>,
    /// Reports read while looking for metrics, for [`report`](Self::report).
    held: VecDeque<WorkerReport>,
}

impl WorkerLink {
    /// Sends `command`, with the tickets of its inputs issued to this
    /// worker (as the scheduler does).
    pub async fn send(&mut self, mut command: WorkerCommand) {
        let me = Requester::Worker(self.id);
        let inputs = match &mut command {
            WorkerCommand::Compute(compute) => compute.inputs.iter_mut().collect(),
            WorkerCommand::Fetch { inputs } => inputs.iter_mut().collect(),
            _ => Vec::new(),
        };
        for input in inputs {
            input.ticket = get_ticket(input.key, me);
        }
        self.connection.send(&command).await.expect("send");
    }

    /// The next report of any kind off the wire (`Metrics` recorded),
    /// `GetModule`s of the testkit answered on the way.
    async fn next_report(&mut self) -> WorkerReport {
        loop {
            let report = within("a report", self.connection.recv::<WorkerReport>())
                .await
                .expect("recv")
                .expect("the worker is connected");
            match report {
                WorkerReport::GetModule { hash } if hash == testkit().1 => {
                    self.modules_sent += 1;
                    self.send(WorkerCommand::Module {
                        hash,
                        bytes: testkit().0.clone(),
                    })
                    .await;
                }
                WorkerReport::Metrics(metrics) => {
                    self.metrics_seen.push(metrics);
                    return report;
                }
                other => return other,
            }
        }
    }

    /// The next report that is not `Metrics` or the `Running` sent with
    /// them, `GetModule`s of the testkit answered on the way.
    pub async fn report(&mut self) -> WorkerReport {
        if let Some(report) = self.held.pop_front() {
            return report;
        }
        loop {
            match self.next_report().await {
                WorkerReport::Metrics(_) | WorkerReport::Running { .. } => continue,
                other => return other,
            }
        }
    }

    /// The next `Metrics`; other reports on the way are kept for
    /// [`report`](Self::report).
    pub async fn metrics(&mut self) -> WorkerMetrics {
        loop {
            match self.next_report().await {
                WorkerReport::Metrics(metrics) => return metrics,
                WorkerReport::Running { .. } => {}
                other => self.held.push_back(other),
            }
        }
    }

    /// How many non-`Metrics` reports [`metrics`](Self::metrics) read and
    /// kept for [`report`](Self::report).
    pub fn held_reports(&self) -> usize {
        self.held.len()
    }

    /// Waits for `Metrics` satisfying `ok` (polling the worker's own
    /// reports, within [`DEADLINE`]); returns them.
    pub async fn metrics_until(
        &mut self,
        what: &str,
        ok: impl Fn(&WorkerMetrics) -> bool,
    ) -> WorkerMetrics {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let metrics = self.metrics().await;
            if ok(&metrics) {
                return metrics;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for metrics with {what}; last: {metrics:?}"
            );
        }
    }

    /// Reads until the worker closes the connection, ignoring what it
    /// sends; returns the reports read.
    pub async fn until_closed(&mut self) -> Vec<WorkerReport> {
        let connection = &mut self.connection;
        let mut reports: Vec<WorkerReport> = self.held.drain(..).collect();
        within("the connection to close", async {
            while let Ok(Some(report)) = connection.recv::<WorkerReport>().await {
                reports.push(report);
            }
        })
        .await;
        reports
    }

    /// Expects `Finished` for `key`; returns its size.
    pub async fn finished(&mut self, key: TaskKey) -> u64 {
        match self.report().await {
            WorkerReport::Finished {
                key: done, nbytes, ..
            } if done == key => nbytes,
            other => panic!("expected Finished of {key}, got {other:?}"),
        }
    }

    /// Runs `compute` and waits for it to finish.
    pub async fn run(&mut self, compute: WireCompute) {
        let key = compute.key;
        self.send(WorkerCommand::Compute(compute)).await;
        self.finished(key).await;
    }
}

/// A client of a worker's data port.
pub struct DataClient {
    pub connection: Connection,
}

impl DataClient {
    pub async fn connect(addr: SocketAddr) -> DataClient {
        let (connection, hello) = within(
            "a data port connection",
            Connection::connect(
                addr,
                &Hello::new(Role::Client, "test-client"),
                &Dialer {
                    credential: Credential::Pass(ticket(TicketScope::Connect, TEST_CLIENT)),
                    ..Dialer::plain(ConnectionLimits::default(), Role::Worker)
                },
            ),
        )
        .await
        .expect("connect to the data port");
        assert_eq!(hello.role, Role::Worker);
        DataClient { connection }
    }

    /// Gets `keys`: the bytes of each, or `None` if missing.
    pub async fn get(&mut self, keys: &[TaskKey]) -> Vec<Option<Bytes>> {
        let connection = &mut self.connection;
        within("a Get", async {
            let tickets = keys.iter().map(|k| get_ticket(*k, TEST_CLIENT)).collect();
            connection
                .send(&DataRequest::Get { tickets })
                .await
                .expect("send Get");
            let mut out = Vec::new();
            for key in keys {
                match connection.recv::<DataReply>().await.expect("recv") {
                    Some(DataReply::Found { key: found, nbytes }) => {
                        assert_eq!(found, *key);
                        let value = connection
                            .recv_frame()
                            .await
                            .expect("recv value")
                            .expect("a value");
                        assert_eq!(value.len() as u64, nbytes);
                        out.push(Some(value));
                    }
                    Some(DataReply::Missing { key: missing }) => {
                        assert_eq!(missing, *key);
                        out.push(None);
                    }
                    other => panic!("unexpected reply {other:?}"),
                }
            }
            out
        })
        .await
    }

    /// Gets one `i64` result.
    pub async fn get_i64(&mut self, key: TaskKey) -> i64 {
        let value = self.get(&[key]).await.remove(0).expect("the key is held");
        weft_sdk::codec::decode(&value).expect("an i64")
    }

    /// Puts a value, with a put ticket for it.
    pub async fn put(&mut self, key: TaskKey, value: &[u8]) {
        let scope = TicketScope::Put {
            tenant: 0,
            key,
            nbytes_max: value.len() as u64,
        };
        let reply = self.put_with(ticket(scope, TEST_CLIENT), value).await;
        assert_eq!(reply, Some(DataReply::Stored { key }));
    }

    /// Puts a value with the ticket given; the worker's reply.
    pub async fn put_with(&mut self, ticket: Ticket, value: &[u8]) -> Option<DataReply> {
        let connection = &mut self.connection;
        within("a Put", async {
            connection
                .send(&DataRequest::Put {
                    ticket,
                    nbytes: value.len() as u64,
                })
                .await
                .expect("send Put");
            connection.send_frame(value).await.expect("send value");
            connection.recv::<DataReply>().await.expect("recv")
        })
        .await
    }

    /// Sends a Get with the tickets given; the worker's replies (values
    /// that follow a `Found` are read and dropped).
    pub async fn get_with(&mut self, tickets: Vec<Ticket>) -> Vec<DataReply> {
        let connection = &mut self.connection;
        within("a Get", async {
            let count = tickets.len();
            connection
                .send(&DataRequest::Get { tickets })
                .await
                .expect("send Get");
            let mut replies = Vec::new();
            for _ in 0..count {
                let reply = connection.recv::<DataReply>().await.expect("recv");
                let reply = reply.expect("a reply");
                if matches!(reply, DataReply::Found { .. }) {
                    connection.recv_frame().await.expect("recv value");
                }
                replies.push(reply);
            }
            replies
        })
        .await
    }
}

/// A worker's data port played by hand: the test sees each `Get` and
/// decides when and what to answer.
pub struct FakePeer {
    listener: TcpListener,
    /// Where it listens.
    pub addr: SocketAddr,
    connection: Option<Connection>,
}

impl FakePeer {
    pub async fn new() -> FakePeer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        FakePeer {
            listener,
            addr,
            connection: None,
        }
    }

    /// The keys of the next `Get` (accepting the worker's connection
    /// first if there is none).
    pub async fn next_get(&mut self) -> Vec<TaskKey> {
        let (listener, connection) = (&self.listener, &mut self.connection);
        within("a Get at the fake peer", async {
            if connection.is_none() {
                let (stream, _) = listener.accept().await.expect("accept");
                let (accepted, hello) = Connection::accept(
                    stream,
                    &Hello::new(Role::Worker, "fake-peer"),
                    &weft_proto::Acceptor::open(ConnectionLimits::default()),
                )
                .await
                .expect("handshake");
                assert_eq!(hello.role, Role::Peer);
                *connection = Some(accepted);
            }
            let connection = connection.as_mut().expect("connected");
            match connection.recv::<DataRequest>().await.expect("recv") {
                Some(DataRequest::Get { tickets }) => {
                    tickets.iter().map(weft_proto::data::ticket_key).collect()
                }
                other => panic!("expected a Get, got {other:?}"),
            }
        })
        .await
    }

    /// Answers the last `Get`: a value, or missing, per key.
    pub async fn answer(&mut self, replies: &[(TaskKey, Option<&[u8]>)]) {
        let connection = self.connection.as_mut().expect("connected");
        for (key, value) in replies {
            match value {
                Some(value) => {
                    connection
                        .send(&DataReply::Found {
                            key: *key,
                            nbytes: value.len() as u64,
                        })
                        .await
                        .expect("send");
                    connection.send_frame(value).await.expect("send value");
                }
                None => connection
                    .send(&DataReply::Missing { key: *key })
                    .await
                    .expect("send"),
            }
        }
    }
}
