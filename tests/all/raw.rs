//! The protocol by hand, for tests that send what the Rust client never
//! would (a request about a key the sender holds no future to, an altered
//! ticket): a client connection to a secure cluster's scheduler as one
//! [`Identity`] ([`RawClient`]), and a connection to a worker's data port
//! with a scheduler-issued pass ([`RawDataPort`]). Every wait has a
//! deadline.

use crate::processes::{Cluster, Identity};
use std::time::Duration;
use weft_core::TenantId;
use weft_proto::messages::{
    ClientEvent, ClientRequest, DataReply, DataRequest, KeyLocation, RequestId, WorkerInfo,
};
use weft_proto::tickets::Ticket;
use weft_proto::{Connection, ConnectionLimits, Credential, Dialer, Hello, Role};
use weft_schema::graph::TaskKey;

/// How long any one message may take to arrive.
const REPLY_DEADLINE: Duration = Duration::from_secs(30);

/// A client connection to the scheduler, driven message by message.
pub struct RawClient {
    connection: Connection,
    /// The scheduler's number for this connection's tenant (its `Welcome`).
    pub tenant: TenantId,
    next_request: RequestId,
}

/// What a `WhoHas` is answered with.
pub struct Locations {
    /// The pass that opens a connection to a data port.
    pub pass: Ticket,
    /// The workers named.
    pub workers: Vec<WorkerInfo>,
    /// One per key in memory.
    pub locations: Vec<KeyLocation>,
}

impl RawClient {
    /// Connects to `cluster`'s scheduler (which must be secure) with
    /// `identity`'s token and reads the `Welcome`.
    pub async fn connect(cluster: &Cluster, identity: Identity) -> RawClient {
        let credentials = cluster.credentials().expect("a secure cluster");
        let dialer = Dialer {
            limits: ConnectionLimits::default(),
            tls: Some(credentials.client_tls().scheduler),
            credential: Credential::Token(credentials.token(identity)),
            expect_role: Role::Scheduler,
        };
        let hello = Hello::new(Role::Client, format!("raw-{identity:?}"));
        let addr = cluster.scheduler.addr.as_str();
        let (connection, _) = Connection::connect(addr, &hello, &dialer)
            .await
            .unwrap_or_else(|e| panic!("connect to {addr} as {identity:?}: {e}"));
        let mut raw = RawClient {
            connection,
            tenant: TenantId::OPEN,
            next_request: 0,
        };
        match raw.next_event().await {
            ClientEvent::Welcome { tenant } => raw.tenant = TenantId(tenant),
            other => panic!("the first message is not a Welcome: {other:?}"),
        }
        raw
    }

    /// Sends one request.
    pub async fn send(&mut self, request: ClientRequest) {
        self.connection
            .send(&request)
            .await
            .unwrap_or_else(|e| panic!("send {request:?}: {e}"));
    }

    /// The next message from the scheduler.
    pub async fn next_event(&mut self) -> ClientEvent {
        match tokio::time::timeout(REPLY_DEADLINE, self.connection.recv()).await {
            Ok(Ok(Some(event))) => event,
            Ok(Ok(None)) => panic!("the scheduler closed the connection"),
            Ok(Err(error)) => panic!("receive from the scheduler: {error}"),
            Err(_) => panic!("no message from the scheduler within {REPLY_DEADLINE:?}"),
        }
    }

    /// Sends the request `build` makes with a fresh id and returns the
    /// reply to it; any other message before it is a failure.
    pub async fn ask(&mut self, build: impl FnOnce(RequestId) -> ClientRequest) -> ClientEvent {
        self.next_request += 1;
        let id = self.next_request;
        self.send(build(id)).await;
        let event = self.next_event().await;
        assert_eq!(event.request_id(), Some(id), "not the reply: {event:?}");
        event
    }

    /// Returns once the scheduler has applied everything sent before (a
    /// round trip on the ordered connection), with every message that
    /// arrived before the reply.
    pub async fn barrier(&mut self) -> Vec<ClientEvent> {
        self.next_request += 1;
        let id = self.next_request;
        self.send(ClientRequest::ListWorkers { request: id }).await;
        let mut before = Vec::new();
        loop {
            let event = self.next_event().await;
            if event.request_id() == Some(id) {
                return before;
            }
            before.push(event);
        }
    }

    /// Asks where `keys` are.
    pub async fn who_has(&mut self, keys: Vec<TaskKey>) -> Locations {
        match self
            .ask(|request| ClientRequest::WhoHas { request, keys })
            .await
        {
            ClientEvent::Locations {
                pass,
                workers,
                locations,
                ..
            } => Locations {
                pass,
                workers,
                locations,
            },
            other => panic!("not an answer to WhoHas: {other:?}"),
        }
    }
}

/// A connection to a worker's data port.
pub struct RawDataPort {
    connection: Connection,
}

/// The answer to one ticket of a `Get`.
#[derive(Debug, PartialEq, Eq)]
pub enum Served {
    /// The value's bytes.
    Found(TaskKey, Vec<u8>),
    /// The worker does not hold it.
    Missing(TaskKey),
    /// The ticket was refused, and why.
    Refused(TaskKey, String),
}

impl RawDataPort {
    /// Connects to the data port at `addr` of `cluster` (secure) with
    /// `pass`.
    pub async fn connect(cluster: &Cluster, addr: &str, pass: Ticket) -> RawDataPort {
        let credentials = cluster.credentials().expect("a secure cluster");
        let dialer = Dialer {
            limits: ConnectionLimits::default(),
            tls: Some(credentials.client_tls().workers),
            credential: Credential::Pass(pass),
            expect_role: Role::Worker,
        };
        let hello = Hello::new(Role::Client, "raw-data-client");
        let (connection, _) = Connection::connect(addr, &hello, &dialer)
            .await
            .unwrap_or_else(|e| panic!("connect to the data port {addr}: {e}"));
        RawDataPort { connection }
    }

    /// Sends one `Get` with `tickets` and reads one answer per ticket.
    pub async fn get(&mut self, tickets: Vec<Ticket>) -> Vec<Served> {
        let count = tickets.len();
        self.connection
            .send(&DataRequest::Get { tickets })
            .await
            .expect("send a Get");
        let mut served = Vec::with_capacity(count);
        for _ in 0..count {
            let reply = self.recv::<DataReply>().await;
            served.push(match reply {
                DataReply::Found { key, nbytes } => {
                    let bytes = self.recv_frame().await;
                    assert_eq!(bytes.len() as u64, nbytes, "the value of {key}");
                    Served::Found(key, bytes)
                }
                DataReply::Missing { key } => Served::Missing(key),
                DataReply::Refused { key, reason } => Served::Refused(key, reason),
                other => panic!("not an answer to a Get: {other:?}"),
            });
        }
        served
    }

    async fn recv<T: serde::de::DeserializeOwned>(&mut self) -> T {
        match tokio::time::timeout(REPLY_DEADLINE, self.connection.recv()).await {
            Ok(Ok(Some(message))) => message,
            Ok(Ok(None)) => panic!("the worker closed the connection"),
            Ok(Err(error)) => panic!("receive from the worker: {error}"),
            Err(_) => panic!("no answer from the worker within {REPLY_DEADLINE:?}"),
        }
    }

    async fn recv_frame(&mut self) -> Vec<u8> {
        match tokio::time::timeout(REPLY_DEADLINE, self.connection.recv_frame()).await {
            Ok(Ok(Some(frame))) => frame.to_vec(),
            Ok(Ok(None)) => panic!("the worker closed the connection before a value"),
            Ok(Err(error)) => panic!("receive a value from the worker: {error}"),
            Err(_) => panic!("no value from the worker within {REPLY_DEADLINE:?}"),
        }
    }
}
