//! The test's side of a real scheduler: [`Cluster`] starts one in this
//! process on 127.0.0.1:0 with tenants alice (write), bob (read and write)
//! and root (admin) and a worker token; [`Client`] asks it things with a
//! round trip after each request; [`Raw`] speaks frames by hand. Every wait
//! is bounded by [`DEADLINE`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weft_proto::auth::{Access, Credential, Secret};
use weft_proto::messages::{ClientEvent, ClientRequest, RequestId, WorkerCommand, WorkerReport};
use weft_proto::{
    Connection, ConnectionError, ConnectionLimits, Dialer, HELLO_FRAME_BYTES_MAX, Hello,
    PROTOCOL_VERSION, Role, decode,
};
use weft_scheduler::tenants::{TenantsFile, TokenRegistry};
use weft_scheduler::{SchedulerConfig, SchedulerHandle, Tokens};

/// The longest any step of a test may take.
const DEADLINE: Duration = Duration::from_secs(5);

/// Ids of the `ListWorkers` probes, far above the examples' own ids.
const PROBE_IDS_START: RequestId = 1 << 40;

/// Awaits `future` within [`DEADLINE`], or fails the test saying what.
pub(crate) async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {DEADLINE:?} waiting for {what}"),
    }
}

/// The tokens of the test registry.
pub(crate) struct Keys {
    pub(crate) alice_write: Secret,
    pub(crate) bob_read: Secret,
    pub(crate) bob_write: Secret,
    pub(crate) root_admin: Secret,
    pub(crate) worker: Secret,
}

/// A scheduler serving the test registry.
pub(crate) struct Cluster {
    scheduler: SchedulerHandle,
    pub(crate) keys: Keys,
}

impl Cluster {
    pub(crate) async fn start() -> Cluster {
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

    pub(crate) fn addr(&self) -> SocketAddr {
        self.scheduler.addr()
    }

    /// Connects in `role` proving `credential`.
    pub(crate) async fn connect(
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
    pub(crate) async fn client(&self, token: &Secret) -> Client {
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
    pub(crate) async fn worker(&self) -> Connection {
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
            instance: 1,
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
pub(crate) struct Client {
    pub(crate) connection: Connection,
    next_probe: RequestId,
}

impl Client {
    pub(crate) async fn send(&mut self, request: &ClientRequest) {
        let sent = within("a request to be sent", self.connection.send(request)).await;
        sent.expect("the request is sent");
    }

    /// The next event; the connection must stay open.
    pub(crate) async fn event(&mut self) -> ClientEvent {
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
    pub(crate) async fn answer_to(&mut self, request: &ClientRequest) -> Vec<ClientEvent> {
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

/// A TCP connection that speaks frames by hand.
pub(crate) struct Raw(pub(crate) TcpStream);

impl Raw {
    /// Sends `payload` as one frame: its length (`u32`, little-endian),
    /// then itself.
    pub(crate) async fn send(&mut self, payload: &[u8]) {
        let len = u32::try_from(payload.len()).expect("a small payload");
        let bytes = [&len.to_le_bytes()[..], payload].concat();
        within("a write", self.0.write_all(&bytes))
            .await
            .expect("written");
    }

    /// Reads the scheduler's hello, then asserts nothing else comes before
    /// the scheduler closes the connection (end of stream, or a reset).
    pub(crate) async fn only_the_scheduler_hello(&mut self) {
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
