//! Every client request, walked one by one against a real scheduler started
//! in this process on 127.0.0.1:0 (tenants alice, bob and root, and one
//! worker token; the worker is this test, speaking the protocol by hand).
//!
//! [`every_request`] holds an example of each `ClientRequest` variant and
//! checks, against the variant list serde derives, that none is missing;
//! [`variant_name`] and [`request_id`] match without a wildcard arm, so a
//! new variant does not compile here until it is given an example. Then:
//! - without a token no request reaches the scheduler: the connection is
//!   refused, and a peer that skips the handshake is closed on unanswered;
//! - for a read and a write token, every request is denied exactly when
//!   `authz::authorize` says so, with the denial its sender waits for;
//! - another tenant's key or dataset looks exactly like one that never
//!   existed, and stays its owner's.
//!
//! Every wait is bounded by [`DEADLINE`]; nothing sleeps.

use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weft_core::{DatasetValue, ToClient, WorkerId};
use weft_proto::auth::{Access, AuthRefusal, Credential, Secret};
use weft_proto::messages::{ClientEvent, ClientRequest, RequestId, WorkerCommand, WorkerReport};
use weft_proto::{
    Connection, ConnectionError, ConnectionLimits, Dialer, HELLO_FRAME_BYTES_MAX, Hello,
    PROTOCOL_VERSION, Role, decode, encode,
};
use weft_scheduler::authz::{Decision, Operation, Owner, authorize};
use weft_scheduler::tenants::{TenantsFile, TokenRegistry};
use weft_scheduler::{SchedulerConfig, SchedulerHandle, Tokens};
use weft_schema::graph::{GraphArg, GraphTask, TaskKey, encode_graph, scatter_key};

/// The longest any step of a test may take.
const DEADLINE: Duration = Duration::from_secs(5);

/// The smallest valid WebAssembly module: the magic and version 1. The
/// scheduler only stores module bytes; workers compile them, and this
/// test's worker runs nothing.
const EMPTY_MODULE: &[u8] = b"\0asm\x01\0\0\0";

/// Ids of the `ListWorkers` probes, far above the examples' own ids.
const PROBE_IDS_START: RequestId = 1 << 40;

/// Awaits `future` within [`DEADLINE`], or fails the test saying what.
async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {DEADLINE:?} waiting for {what}"),
    }
}

/// The name of a request's variant. No wildcard arm: a new variant stops
/// this file compiling until it is named here (and then [`every_request`]
/// fails until it has an example).
fn variant_name(request: &ClientRequest) -> &'static str {
    match request {
        ClientRequest::UploadModule { .. } => "UploadModule",
        ClientRequest::SubmitGraph { .. } => "SubmitGraph",
        ClientRequest::Release { .. } => "Release",
        ClientRequest::WhoHas { .. } => "WhoHas",
        ClientRequest::Scattered { .. } => "Scattered",
        ClientRequest::PrepareScatter { .. } => "PrepareScatter",
        ClientRequest::ListWorkers { .. } => "ListWorkers",
        ClientRequest::Session { .. } => "Session",
        ClientRequest::Goodbye => "Goodbye",
        ClientRequest::Cancel { .. } => "Cancel",
        ClientRequest::Restart { .. } => "Restart",
        ClientRequest::Replicate { .. } => "Replicate",
        ClientRequest::Rebalance { .. } => "Rebalance",
        ClientRequest::PublishDatasets { .. } => "PublishDatasets",
        ClientRequest::GetDataset { .. } => "GetDataset",
        ClientRequest::UnpublishDataset { .. } => "UnpublishDataset",
        ClientRequest::ListDatasets { .. } => "ListDatasets",
        ClientRequest::Status { .. } => "Status",
    }
}

/// The id a request's answer echoes, for requests that have one (no
/// wildcard arm either).
fn request_id(request: &ClientRequest) -> Option<RequestId> {
    match request {
        ClientRequest::UploadModule { request, .. }
        | ClientRequest::WhoHas { request, .. }
        | ClientRequest::PrepareScatter { request, .. }
        | ClientRequest::ListWorkers { request }
        | ClientRequest::Restart { request }
        | ClientRequest::Replicate { request, .. }
        | ClientRequest::Rebalance { request, .. }
        | ClientRequest::PublishDatasets { request, .. }
        | ClientRequest::GetDataset { request, .. }
        | ClientRequest::UnpublishDataset { request, .. }
        | ClientRequest::ListDatasets { request }
        | ClientRequest::Status { request, .. } => Some(*request),
        ClientRequest::SubmitGraph { .. }
        | ClientRequest::Release { .. }
        | ClientRequest::Scattered { .. }
        | ClientRequest::Session { .. }
        | ClientRequest::Goodbye
        | ClientRequest::Cancel { .. } => None,
    }
}

/// The request id an event answers, if it answers one.
fn reply_id(event: &ClientEvent) -> Option<RequestId> {
    match event {
        ClientEvent::ModuleStored { request, .. }
        | ClientEvent::Locations { request, .. }
        | ClientEvent::ScatterPlan { request, .. }
        | ClientEvent::Workers { request, .. }
        | ClientEvent::Status { request, .. }
        | ClientEvent::Dataset { request, .. }
        | ClientEvent::Datasets { request, .. }
        | ClientEvent::Done { request }
        | ClientEvent::RequestFailed { request, .. } => Some(*request),
        ClientEvent::Welcome { .. }
        | ClientEvent::Key(_)
        | ClientEvent::SessionLost
        | ClientEvent::Denied { .. } => None,
    }
}

/// The variant names serde derived for `ClientRequest`: the list a new
/// variant joins without anyone having to remember this test.
fn declared_variants() -> &'static [&'static str] {
    use serde::de::{self, Deserializer, Visitor};
    struct Capture(Option<&'static [&'static str]>);
    impl<'de> Deserializer<'de> for &mut Capture {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("only an enum is captured"))
        }
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            variants: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = Some(variants);
            Err(de::Error::custom("captured"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            struct identifier ignored_any
        }
    }
    let mut capture = Capture(None);
    let _ = <ClientRequest as serde::Deserialize>::deserialize(&mut capture);
    capture.0.expect("ClientRequest deserializes as an enum")
}

/// A pure task over [`EMPTY_MODULE`].
fn pure_task() -> GraphTask {
    let module = *blake3::hash(EMPTY_MODULE).as_bytes();
    GraphTask::new_pure(module, "answer", vec![GraphArg::Value(vec![42])])
}

/// One example of every request variant, with ids 1, 2, ..., and a second
/// example where `Operation::of` tells two cases of one variant apart
/// (cancel and forced cancel, rebalance of given keys and of everything).
/// Every request with an id has its own.
fn every_request() -> Vec<ClientRequest> {
    let task = pure_task();
    let key = task.key;
    let mut ids = 0;
    let mut id = || {
        ids += 1;
        ids
    };
    let requests = vec![
        ClientRequest::UploadModule {
            request: id(),
            bytes: EMPTY_MODULE.to_vec(),
        },
        ClientRequest::SubmitGraph {
            graph: encode_graph(&[task]),
            wants: vec![key],
        },
        ClientRequest::WhoHas {
            request: id(),
            keys: vec![key],
        },
        ClientRequest::PrepareScatter {
            request: id(),
            values: vec![(scatter_key(b"scattered"), 9)],
            broadcast: false,
            workers: vec![],
        },
        ClientRequest::Scattered {
            key: scatter_key(b"scattered"),
            workers: vec![WorkerId(1)],
            nbytes: 9,
        },
        ClientRequest::ListWorkers { request: id() },
        ClientRequest::Replicate {
            request: id(),
            keys: vec![key],
            n: 1,
        },
        ClientRequest::Rebalance {
            request: id(),
            keys: vec![key],
            workers: vec![],
        },
        ClientRequest::Rebalance {
            request: id(),
            keys: vec![],
            workers: vec![],
        },
        ClientRequest::PublishDatasets {
            request: id(),
            datasets: vec![("example".to_string(), dataset_of(key))],
            replace: false,
        },
        ClientRequest::ListDatasets { request: id() },
        ClientRequest::GetDataset {
            request: id(),
            name: "example".to_string(),
        },
        ClientRequest::UnpublishDataset {
            request: id(),
            name: "example".to_string(),
        },
        ClientRequest::Status {
            request: id(),
            keys: true,
        },
        ClientRequest::Cancel {
            keys: vec![key],
            force: false,
            reason: "example".to_string(),
        },
        ClientRequest::Cancel {
            keys: vec![key],
            force: true,
            reason: "example".to_string(),
        },
        ClientRequest::Release { keys: vec![key] },
        ClientRequest::Restart { request: id() },
        ClientRequest::Session {
            token: 0x5e55_1011,
            resume: false,
        },
        ClientRequest::Goodbye,
    ];
    let named: BTreeSet<&str> = requests.iter().map(variant_name).collect();
    let declared: BTreeSet<&str> = declared_variants().iter().copied().collect();
    assert_eq!(
        named, declared,
        "every ClientRequest variant has an example"
    );
    requests
}

/// A dataset of one key held in memory.
fn dataset_of(key: TaskKey) -> DatasetValue {
    DatasetValue {
        keys: vec![key],
        graph: None,
        metadata: String::new(),
        ret: None,
    }
}

/// The tokens of the test registry.
struct Keys {
    alice_write: Secret,
    bob_read: Secret,
    bob_write: Secret,
    root_admin: Secret,
    worker: Secret,
}

/// A scheduler serving the test registry.
struct Cluster {
    scheduler: SchedulerHandle,
    keys: Keys,
}

impl Cluster {
    async fn start() -> Cluster {
        let mut file = TenantsFile::new();
        let mut add = |tenant, access| file.add_token(tenant, access).expect("a token").0;
        let keys = Keys {
            alice_write: add("alice", Access::Write),
            bob_read: add("bob", Access::Read),
            bob_write: add("bob", Access::Write),
            root_admin: add("root", Access::Admin),
            worker: file.add_worker_token().expect("a worker token").0,
        };
        let config = SchedulerConfig {
            listen: "127.0.0.1:0".to_string(),
            tokens: Tokens::Fixed(Arc::new(TokenRegistry::from_file(&file))),
            ..SchedulerConfig::default()
        };
        let scheduler = within("the scheduler to start", weft_scheduler::start(config))
            .await
            .expect("the scheduler starts");
        Cluster { scheduler, keys }
    }

    fn addr(&self) -> SocketAddr {
        self.scheduler.addr()
    }

    /// Connects in `role` proving `credential`.
    async fn connect(
        &self,
        role: Role,
        credential: Credential,
    ) -> Result<Connection, ConnectionError> {
        let dialer = Dialer {
            limits: ConnectionLimits::default(),
            tls: None,
            credential,
            expect_role: Role::Scheduler,
        };
        let hello = Hello::new(role, "every-request-test");
        let connected = Connection::connect(self.addr(), &hello, &dialer);
        Ok(within("the connection to be set up or refused", connected)
            .await?
            .0)
    }

    /// A client with `token`, past its welcome.
    async fn client(&self, token: &Secret) -> Client {
        let credential = Credential::Token(token.clone());
        let connection = self.connect(Role::Client, credential).await;
        let mut client = Client {
            connection: connection.expect("a client with a token gets in"),
            next_probe: PROBE_IDS_START,
        };
        let welcome = client.event().await;
        assert!(
            matches!(welcome, ClientEvent::Welcome { .. }),
            "{welcome:?}"
        );
        client
    }

    /// A registered worker (this test, by hand).
    async fn worker(&self) -> Connection {
        let credential = Credential::Token(self.keys.worker.clone());
        let mut worker = self
            .connect(Role::Worker, credential)
            .await
            .expect("a worker");
        let register = WorkerReport::Register {
            nthreads: 1,
            data_addr: "127.0.0.1:9".to_string(),
            name: "every-request-test".to_string(),
            memory_limit: 0,
            pid: std::process::id(),
        };
        within("registering", worker.send(&register))
            .await
            .expect("sent");
        let welcome = within("the worker's welcome", worker.recv()).await;
        assert!(
            matches!(welcome, Ok(Some(WorkerCommand::Welcome { .. }))),
            "{welcome:?}"
        );
        worker
    }
}

/// A client connection.
struct Client {
    connection: Connection,
    next_probe: RequestId,
}

impl Client {
    async fn send(&mut self, request: &ClientRequest) {
        let sent = within("a request to be sent", self.connection.send(request)).await;
        sent.expect("the request is sent");
    }

    /// The next event; the connection must stay open.
    async fn event(&mut self) -> ClientEvent {
        match within("an event", self.connection.recv()).await {
            Ok(Some(event)) => event,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    /// Sends `request`, then a `ListWorkers` probe, and returns every event
    /// that arrived before the probe's answer. A connection is applied and
    /// answered in order, so whatever the request is answered with at once
    /// (a reply, a denial) is in there, and a request without an answer
    /// gets nothing.
    async fn answer_to(&mut self, request: &ClientRequest) -> Vec<ClientEvent> {
        self.send(request).await;
        let probe = self.next_probe;
        self.next_probe += 1;
        self.send(&ClientRequest::ListWorkers { request: probe })
            .await;
        let mut before = Vec::new();
        loop {
            match self.event().await {
                ClientEvent::Workers { request, .. } if request == probe => return before,
                event => before.push(event),
            }
        }
    }
}

/// Whether `event` is a permission denial of any shape.
fn is_permission_denial(event: &ClientEvent) -> bool {
    let text = match event {
        ClientEvent::RequestFailed { message, .. } | ClientEvent::Denied { message } => message,
        ClientEvent::Key(ToClient::Rejected { reason, .. }) => reason,
        _ => return false,
    };
    text.starts_with("permission denied")
}

/// The denial `request`'s sender waits for, for a token of `access` of
/// tenant `tenant`: a failed request for a request with an id, a rejected
/// graph or scatter, or otherwise a `Denied` notice.
fn denial(request: &ClientRequest, access: Access, tenant: &str) -> ClientEvent {
    let operation = Operation::of(request).name().replace('_', " ");
    let message =
        format!("permission denied: a {access} token cannot {operation} (tenant {tenant})");
    match (request, request_id(request)) {
        (ClientRequest::SubmitGraph { wants, .. }, _) => ClientEvent::Key(ToClient::Rejected {
            keys: wants.clone(),
            reason: message,
        }),
        (ClientRequest::Scattered { key, .. }, _) => ClientEvent::Key(ToClient::Rejected {
            keys: vec![*key],
            reason: message,
        }),
        (_, Some(request)) => ClientEvent::RequestFailed { request, message },
        (_, None) => ClientEvent::Denied { message },
    }
}

#[tokio::test]
async fn every_variant_has_an_example() {
    // The check is inside `every_request`; here it runs on its own.
    let requests = every_request();
    let ids: Vec<RequestId> = requests.iter().filter_map(request_id).collect();
    let unique: BTreeSet<RequestId> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "every request id is its own");
}

/// A TCP connection that speaks frames by hand.
struct Raw(TcpStream);

impl Raw {
    /// Sends `payload` as one frame: its length (`u32`, little-endian),
    /// then itself.
    async fn send(&mut self, payload: &[u8]) {
        let len = u32::try_from(payload.len()).expect("a small payload");
        let bytes = [&len.to_le_bytes()[..], payload].concat();
        within("a write", self.0.write_all(&bytes))
            .await
            .expect("written");
    }

    /// Reads the scheduler's hello, then asserts nothing else comes before
    /// the scheduler closes the connection (end of stream, or a reset).
    async fn only_the_scheduler_hello(&mut self) {
        let mut header = [0u8; 4];
        within("a hello header", self.0.read_exact(&mut header))
            .await
            .expect("a header");
        let len = u32::from_le_bytes(header) as usize;
        assert!(len <= HELLO_FRAME_BYTES_MAX, "a frame of {len} bytes");
        let mut payload = vec![0u8; len];
        within("a hello", self.0.read_exact(&mut payload))
            .await
            .expect("a hello");
        let theirs: Hello = decode(&payload).expect("a hello");
        assert_eq!(
            (theirs.role, theirs.protocol_version),
            (Role::Scheduler, PROTOCOL_VERSION)
        );
        let mut after = Vec::new();
        within("the scheduler to close the connection", async {
            let mut buffer = [0u8; 4096];
            loop {
                match self.0.read(&mut buffer).await {
                    Ok(0) => return,
                    Ok(n) => after.extend_from_slice(&buffer[..n]),
                    Err(error) if error.kind() == io::ErrorKind::ConnectionReset => return,
                    Err(error) => panic!("reading failed: {error}"),
                }
            }
        })
        .await;
        assert!(after.is_empty(), "{} bytes after the hello", after.len());
    }
}

#[tokio::test]
async fn without_a_token_no_request_reaches_the_scheduler() {
    let cluster = Cluster::start().await;
    for request in every_request() {
        let name = variant_name(&request);
        // The dialer never gets a connection to write the request on.
        match cluster.connect(Role::Client, Credential::None).await {
            Err(ConnectionError::Refused {
                refusal: AuthRefusal::NoCredentials,
                ..
            }) => {}
            other => panic!("{name}: a connection without a token gave {other:?}"),
        }
        // A peer that skips the handshake and sends the request as its
        // first frame gets the scheduler's hello and the close, nothing else.
        let stream = within("connect", TcpStream::connect(cluster.addr())).await;
        let mut raw = Raw(stream.expect("connected"));
        raw.send(&encode(&request).expect("encoded")).await;
        raw.only_the_scheduler_hello().await;
    }
    // None of it was applied: the only client the cluster ever had is the
    // admin asking, and the module sent in the clear was not stored.
    let mut root = cluster.client(&cluster.keys.root_admin).await;
    let status = ClientRequest::Status {
        request: 1,
        keys: false,
    };
    match &root.answer_to(&status).await[..] {
        [ClientEvent::Status { request: 1, status }] => assert_eq!(status.clients, 1),
        other => panic!("the status is {other:?}"),
    }
    let task = pure_task();
    let submit = ClientRequest::SubmitGraph {
        graph: encode_graph(&[task.clone()]),
        wants: vec![task.key],
    };
    match &root.answer_to(&submit).await[..] {
        [ClientEvent::Key(ToClient::Rejected { reason, .. })] => {
            assert!(
                reason.ends_with("which was not uploaded to this scheduler"),
                "{reason}"
            )
        }
        other => panic!("the submit got {other:?}"),
    }
}

#[tokio::test]
async fn every_request_is_denied_exactly_when_the_authorizer_says_so() {
    let cluster = Cluster::start().await;
    let mut decisions = BTreeSet::new();
    for (access, token) in [
        (Access::Read, &cluster.keys.bob_read),
        (Access::Write, &cluster.keys.bob_write),
    ] {
        let mut bob = cluster.client(token).await;
        let principal = bob.connection.principal().clone();
        assert_eq!((&*principal.tenant, principal.access), ("bob", access));
        for request in every_request() {
            let operation = Operation::of(&request);
            let what = format!("{access} {}: {operation:?}", variant_name(&request));
            let answer = bob.answer_to(&request).await;
            let decision = authorize(&principal, operation, Owner::Own);
            decisions.insert((access.name(), operation.name(), decision == Decision::Allow));
            if decision == Decision::Deny {
                assert_eq!(answer, [denial(&request, access, "bob")], "{what}");
                continue;
            }
            assert!(
                !answer.iter().any(is_permission_denial),
                "{what} was allowed by the authorizer but denied: {answer:?}"
            );
            if let Some(id) = request_id(&request) {
                assert!(
                    answer.iter().any(|event| reply_id(event) == Some(id)),
                    "{what} was not answered: {answer:?}"
                );
            }
        }
    }
    // The walk saw both answers for each token (the table is not vacuous):
    // read may list workers but not upload; write may upload but not
    // rebalance the whole cluster.
    for expected in [
        ("read", "list_workers", true),
        ("read", "upload_module", false),
        ("write", "upload_module", true),
        ("write", "rebalance_cluster", false),
    ] {
        assert!(
            decisions.contains(&expected),
            "{expected:?} in {decisions:?}"
        );
    }
}

/// `events` as text with `key` and `name` replaced by placeholders, and
/// the data-port pass in a `Locations` without its expiry and MAC: it is
/// signed afresh for each reply and names neither key nor dataset.
fn shown(events: &[ClientEvent], key: &TaskKey, name: &str) -> String {
    let events: Vec<ClientEvent> = events
        .iter()
        .cloned()
        .map(|mut event| {
            if let ClientEvent::Locations { pass, .. } = &mut event {
                pass.expires_unix_s = 0;
                pass.mac = [0; 32];
            }
            event
        })
        .collect();
    format!("{events:?}")
        .replace(&key.to_string(), "<KEY>")
        .replace(name, "<NAME>")
}

#[tokio::test]
async fn another_tenants_key_and_dataset_look_like_missing_ones() {
    let cluster = Cluster::start().await;
    let mut worker = cluster.worker().await;
    let mut alice = cluster.client(&cluster.keys.alice_write).await;

    // Alice computes a pure task (this test's worker "runs" it) and
    // publishes its result.
    let module = ClientRequest::UploadModule {
        request: 1,
        bytes: EMPTY_MODULE.to_vec(),
    };
    let stored = alice.answer_to(&module).await;
    assert!(
        matches!(stored[..], [ClientEvent::ModuleStored { request: 1, .. }]),
        "{stored:?}"
    );
    let task = pure_task();
    let key = task.key;
    let submit = ClientRequest::SubmitGraph {
        graph: encode_graph(&[task]),
        wants: vec![key],
    };
    alice.send(&submit).await;
    let compute = match within("the task to be sent", worker.recv()).await {
        Ok(Some(WorkerCommand::Compute(compute))) => compute,
        other => panic!("the worker got {other:?}"),
    };
    let (wire_key, run) = (compute.key, compute.run);
    let finished = WorkerReport::Finished {
        key: wire_key,
        run,
        nbytes: 3,
        duration_us: 1,
    };
    within("the report", worker.send(&finished))
        .await
        .expect("sent");
    let done = alice.event().await;
    assert_eq!(
        done,
        ClientEvent::Key(ToClient::Finished { key, nbytes: 3 })
    );
    let dataset = "alice-dataset-7f3a";
    let publish = ClientRequest::PublishDatasets {
        request: 2,
        datasets: vec![(dataset.to_string(), dataset_of(key))],
        replace: false,
    };
    assert_eq!(
        alice.answer_to(&publish).await,
        [ClientEvent::Done { request: 2 }]
    );
    let alice_who_has = ClientRequest::WhoHas {
        request: 3,
        keys: vec![key],
    };
    let before = alice.answer_to(&alice_who_has).await;
    match &before[..] {
        [ClientEvent::Locations { locations, .. }] => {
            assert_eq!(locations.len(), 1, "alice's key is in memory");
        }
        other => panic!("alice's who_has is {other:?}"),
    }

    // Bob, of another tenant with a write token, asks about her key and
    // dataset, and about a key and a dataset that never existed.
    let mut bob = cluster.client(&cluster.keys.bob_write).await;
    let never = (TaskKey([0x5a; 16]), "never-published-9c1e");
    type Make = fn(TaskKey, &str) -> ClientRequest;
    let cases: [(&str, Make); 10] = [
        ("who_has", |key, _| ClientRequest::WhoHas {
            request: 10,
            keys: vec![key],
        }),
        ("get_dataset", |_, name| ClientRequest::GetDataset {
            request: 11,
            name: name.to_string(),
        }),
        ("unpublish", |_, name| ClientRequest::UnpublishDataset {
            request: 12,
            name: name.to_string(),
        }),
        ("replicate", |key, _| ClientRequest::Replicate {
            request: 13,
            keys: vec![key],
            n: 1,
        }),
        ("rebalance", |key, _| ClientRequest::Rebalance {
            request: 14,
            keys: vec![key],
            workers: vec![],
        }),
        ("publish her key", |key, _| ClientRequest::PublishDatasets {
            request: 15,
            datasets: vec![("bob-copy".to_string(), dataset_of(key))],
            replace: false,
        }),
        ("force cancel", |key, _| ClientRequest::Cancel {
            keys: vec![key],
            force: true,
            reason: "bob".to_string(),
        }),
        ("cancel", |key, _| ClientRequest::Cancel {
            keys: vec![key],
            force: false,
            reason: "bob".to_string(),
        }),
        ("release", |key, _| ClientRequest::Release {
            keys: vec![key],
        }),
        ("submit wanting it", |key, _| ClientRequest::SubmitGraph {
            graph: encode_graph(&[]),
            wants: vec![key],
        }),
    ];
    for (what, make) in cases {
        let hers = bob.answer_to(&make(key, dataset)).await;
        let missing = bob.answer_to(&make(never.0, never.1)).await;
        assert_eq!(
            shown(&hers, &key, dataset),
            shown(&missing, &never.0, never.1),
            "{what}: alice's object and a missing one are answered alike"
        );
    }

    // Alice still has both.
    let names = ClientRequest::ListDatasets { request: 4 };
    let listed = alice.answer_to(&names).await;
    let expected = ClientEvent::Datasets {
        request: 4,
        names: vec![dataset.to_string()],
    };
    assert_eq!(listed, [expected]);
    let after = alice.answer_to(&alice_who_has).await;
    assert_eq!(shown(&after, &key, dataset), shown(&before, &key, dataset));
    let get = ClientRequest::GetDataset {
        request: 5,
        name: dataset.to_string(),
    };
    match &alice.answer_to(&get).await[..] {
        [ClientEvent::Dataset { value, .. }, ..] => assert_eq!(value.keys, [key]),
        other => panic!("alice's get_dataset is {other:?}"),
    }
}
