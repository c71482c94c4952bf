//! Connections: the accept loop, the handshake, and per connection one
//! reading task (decoded messages go to the state task, in order) and one
//! writing task (batches everything queued for the peer into few writes).
//! A connection that sends garbage, an oversized frame or a truncated
//! message is closed with a logged reason; nothing else is affected.

use crate::state::{Input, Peer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use weft_proto::messages::{ClientEvent, ClientRequest, WorkerCommand, WorkerReport};
use weft_proto::{Acceptor, Connection, ConnectionReader, ConnectionWriter, Hello, Role};
use weft_schema::to_client::ToClient;

/// What the state task sends to a connection's writer.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Client(ClientEvent),
    Worker(WorkerCommand),
}

/// What every connection of the port is given.
#[derive(Debug, Clone)]
pub(crate) struct PortSettings {
    /// `connections_max`.
    pub(crate) connections_max: usize,
    /// `outbox_messages_max`.
    pub(crate) outbox_max: usize,
    /// `client_inbox_max`.
    pub(crate) inbox_max: usize,
    /// The limits graphs are decoded under.
    pub(crate) graph_limits: weft_schema::graph::GraphLimits,
}

pub(crate) async fn accept_loop(
    listener: TcpListener,
    inputs: mpsc::UnboundedSender<Input>,
    acceptor: Acceptor,
    settings: PortSettings,
) {
    let connections_max = settings.connections_max;
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                continue;
            }
        };
        if open.load(Ordering::Relaxed) >= connections_max {
            tracing::warn!(%addr, connections_max, "refusing a connection: too many open (connections_max)");
            continue;
        }
        open.fetch_add(1, Ordering::Relaxed);
        let (inputs, acceptor, open) = (inputs.clone(), acceptor.clone(), open.clone());
        let settings = settings.clone();
        tokio::spawn(async move {
            serve(stream, addr, inputs, &acceptor, &settings).await;
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    addr: SocketAddr,
    inputs: mpsc::UnboundedSender<Input>,
    acceptor: &Acceptor,
    settings: &PortSettings,
) {
    let outbox_max = settings.outbox_max;
    let ours = Hello::new(Role::Scheduler, "scheduler");
    let (connection, theirs) = match Connection::accept(stream, &ours, acceptor).await {
        Ok(established) => established,
        Err(error) => {
            tracing::warn!(%addr, %error, "closing a connection that failed the handshake");
            // Refusals were recorded by the authenticator; a connection
            // that failed before it (TLS, a bad hello) is recorded here.
            if !matches!(error, weft_proto::ConnectionError::Refused { .. }) {
                crate::audit::record(&crate::audit::AuditEvent {
                    token_id: "",
                    tenant: "",
                    role: "",
                    operation: "connect",
                    object: "",
                    decision: "deny",
                    reason: &error.to_string(),
                    peer: Some(addr),
                });
            }
            return;
        }
    };
    let principal = connection.principal().clone();
    let may_submit = crate::authz::authorize(
        &principal,
        crate::authz::Operation::Submit,
        crate::authz::Owner::Own,
    ) == crate::authz::Decision::Allow;
    let (reader, writer) = connection.into_split();
    let (outbox, outgoing) = mpsc::channel(outbox_max.max(1));
    let (hangup, hung_up) = tokio::sync::oneshot::channel();
    let peer = Peer {
        name: theirs.name.clone(),
        addr,
        outbox,
        principal,
        _hangup: hangup,
    };
    match theirs.role {
        Role::Client => {
            let (registered, id) = tokio::sync::oneshot::channel();
            if inputs
                .send(Input::ClientConnected {
                    peer,
                    id: registered,
                })
                .is_err()
            {
                return;
            }
            let Ok(id) = id.await else { return };
            tokio::spawn(write_loop(writer, outgoing, addr, None));
            tokio::select! {
                () = read_client(reader, id, &inputs, addr, settings, may_submit) => {}
                _ = hung_up => tracing::debug!(%addr, client = %id, "the scheduler closed the client connection"),
            }
            let _ = inputs.send(Input::ClientClosed(id));
        }
        Role::Worker => {
            read_worker(
                (reader, writer, outgoing),
                peer,
                hung_up,
                &inputs,
                addr,
                acceptor.limits.handshake_timeout,
            )
            .await;
        }
        other => {
            tracing::warn!(%addr, role = %other, "closing a connection from a {other}: the scheduler serves clients and workers")
        }
    }
}

/// Reads a client's requests while its inbox has room (see `inbox.rs`),
/// decoding graphs (assembling those sent in parts, when the client may
/// submit: otherwise they go to the state task to be refused) and hashing
/// modules before they go to the state task.
async fn read_client(
    mut reader: ConnectionReader,
    id: weft_core::ClientId,
    inputs: &mpsc::UnboundedSender<Input>,
    addr: SocketAddr,
    settings: &PortSettings,
    may_submit: bool,
) {
    let inbox = crate::inbox::Inbox::new(settings.inbox_max);
    let mut parts = crate::graph_parts::GraphParts::default();
    loop {
        let permit = inbox.room().await;
        match reader.recv::<ClientRequest>().await {
            Ok(Some(mut request)) => {
                let prepared = if may_submit
                    || !matches!(
                        request,
                        ClientRequest::SubmitGraphPart { .. } | ClientRequest::DropGraphParts
                    ) {
                    crate::inbox::prepare(&mut request, &settings.graph_limits, &mut parts).await
                } else {
                    Some(crate::inbox::Prepared::Nothing)
                };
                let Some(prepared) = prepared else { continue };
                if inputs
                    .send(Input::Client(id, request, prepared, permit))
                    .is_err()
                {
                    return;
                }
            }
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%addr, client = %id, %error, "closing the client connection");
                return;
            }
        }
    }
}

async fn read_worker(
    (mut reader, writer, outgoing): (ConnectionReader, ConnectionWriter, mpsc::Receiver<Outgoing>),
    peer: Peer,
    mut hung_up: tokio::sync::oneshot::Receiver<()>,
    inputs: &mpsc::UnboundedSender<Input>,
    addr: SocketAddr,
    register_timeout: std::time::Duration,
) {
    // The first message must be the registration, within the handshake
    // timeout.
    let first = tokio::time::timeout(register_timeout, reader.recv::<WorkerReport>()).await;
    let Ok(first) = first else {
        tracing::warn!(%addr, ?register_timeout, "closing a worker connection that did not register in time");
        return;
    };
    let register = match first {
        Ok(Some(register @ WorkerReport::Register { .. })) => register,
        Ok(Some(other)) => {
            tracing::warn!(%addr, ?other, "closing a worker connection that did not register first");
            return;
        }
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(%addr, %error, "closing the worker connection");
            return;
        }
    };
    let (registered, id) = tokio::sync::oneshot::channel();
    if inputs
        .send(Input::WorkerConnected {
            peer,
            register,
            id: registered,
        })
        .is_err()
    {
        return;
    }
    let Ok(id) = id.await else { return };
    tokio::spawn(write_loop(
        writer,
        outgoing,
        addr,
        Some((id, inputs.clone())),
    ));
    loop {
        let received = tokio::select! {
            received = reader.recv::<WorkerReport>() => received,
            _ = &mut hung_up => {
                tracing::debug!(%addr, worker = %id, "the scheduler closed the worker connection");
                break;
            }
        };
        match received {
            Ok(Some(report)) => {
                if inputs.send(Input::Worker(id, report)).is_err() {
                    return;
                }
            }
            Ok(None) => break,
            Err(error) => {
                tracing::warn!(%addr, worker = %id, %error, "closing the worker connection");
                break;
            }
        }
    }
    let _ = inputs.send(Input::WorkerClosed(id));
}

/// Writes what the state task queued, batching whatever is ready into one
/// flush. Ends when the state task drops the sender or a write fails. A
/// message too large to send is never dropped unheard: a reply becomes a
/// `RequestFailed` naming the limit, a command to a `worker` (its id, and
/// where its reports go) is split or answered for it
/// (`worker_wire::undeliverable`).
async fn write_loop(
    mut writer: ConnectionWriter,
    mut outgoing: mpsc::Receiver<Outgoing>,
    addr: SocketAddr,
    worker: Option<(weft_core::WorkerId, mpsc::UnboundedSender<Input>)>,
) {
    while let Some(first) = outgoing.recv().await {
        let mut next = Some(first);
        let mut batched = 0;
        while let Some(message) = next.take() {
            let queued = match &message {
                Outgoing::Client(event) => queue_event(&mut writer, event),
                Outgoing::Worker(command) => {
                    crate::worker_wire::queue_command(&mut writer, command)
                }
            };
            if let Err(error) = queued {
                match &message {
                    Outgoing::Client(event) => {
                        if let Some(request) = event.request_id() {
                            // The client hears that its reply could not
                            // come, rather than waiting for it for ever.
                            tracing::warn!(%addr, %error, request, "a reply cannot be sent; telling the client");
                            let failed = ClientEvent::RequestFailed {
                                request,
                                message: format!("the scheduler could not send its reply: {error}"),
                            };
                            if let Err(error) = writer.queue(&failed) {
                                tracing::warn!(%addr, %error, "dropping a reply that cannot be sent");
                            }
                        } else {
                            tracing::warn!(%addr, %error, "dropping a message that cannot be sent");
                        }
                    }
                    Outgoing::Worker(command) => {
                        let reason = format!("could not be sent to the worker: {error}");
                        let reports = crate::worker_wire::undeliverable(command, &reason);
                        tracing::warn!(%addr, %error, answered = reports.len(), "a command cannot be sent to a worker; answering for it");
                        if let Some((id, inputs)) = &worker {
                            for report in reports {
                                let _ = inputs.send(Input::Worker(*id, report));
                            }
                        }
                    }
                }
            }
            batched += 1;
            if batched < 4096 && writer.queued_bytes() < (1 << 20) {
                next = outgoing.try_recv().ok();
            }
        }
        if let Err(error) = writer.flush().await {
            tracing::debug!(%addr, %error, "connection closed while writing");
            return;
        }
    }
    let _ = writer.shutdown().await;
}

/// Queues `event` for a client, splitting a rejection of more keys than
/// one frame holds into several.
fn queue_event(
    writer: &mut ConnectionWriter,
    event: &ClientEvent,
) -> Result<(), weft_proto::ConnectionError> {
    let error = match writer.queue(event) {
        Ok(()) => return Ok(()),
        Err(error) => error,
    };
    match event {
        ClientEvent::Key(ToClient::Rejected {
            keys,
            reason,
            quota,
        }) if keys.len() > 1 => {
            let (first, second) = keys.split_at(keys.len() / 2);
            for keys in [first, second] {
                let part = ClientEvent::Key(ToClient::Rejected {
                    keys: keys.to_vec(),
                    reason: reason.clone(),
                    quota: quota.clone(),
                });
                queue_event(writer, &part)?;
            }
            Ok(())
        }
        _ => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_proto::{ConnectionLimits, Dialer};
    use weft_schema::graph::TaskKey;

    /// A reply over the frame limit reaches the client as a failure of its
    /// request that names the limit, and the connection carries on.
    #[tokio::test]
    async fn a_reply_too_large_to_send_fails_its_request_instead() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let limits = ConnectionLimits {
            frame_bytes_max: 64 * 1024,
            ..ConnectionLimits::default()
        };
        let acceptor = Acceptor::open(limits);
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let hello = Hello::new(Role::Scheduler, "scheduler");
            let (connection, _) = Connection::accept(tcp, &hello, &acceptor)
                .await
                .expect("handshake");
            let (_reader, writer) = connection.into_split();
            let (outgoing, receiver) = mpsc::channel(8);
            let names = vec!["x".repeat(1024); 100];
            outgoing
                .send(Outgoing::Client(ClientEvent::Datasets {
                    request: 7,
                    names,
                }))
                .await
                .expect("send");
            let keys = (0..10_000u32).map(key_numbered).collect();
            let rejected = ClientEvent::Key(ToClient::Rejected {
                keys,
                reason: "refused".into(),
                quota: None,
            });
            outgoing
                .send(Outgoing::Client(rejected))
                .await
                .expect("send");
            outgoing
                .send(Outgoing::Client(ClientEvent::Done { request: 8 }))
                .await
                .expect("send");
            drop(outgoing);
            write_loop(writer, receiver, addr, None).await;
        });
        let dialer = Dialer::plain(limits, Role::Scheduler);
        let hello = Hello::new(Role::Client, "client");
        let (mut client, _) = Connection::connect(addr, &hello, &dialer)
            .await
            .expect("connect");
        let first = client
            .recv::<ClientEvent>()
            .await
            .expect("read")
            .expect("a message");
        let ClientEvent::RequestFailed { request, message } = first else {
            panic!("not a failure: {first:?}");
        };
        assert_eq!(request, 7);
        assert!(message.contains("frame_bytes_max"), "{message}");
        // A rejection of more keys than a frame holds comes as several.
        let mut rejected = Vec::new();
        let last = loop {
            match client.recv::<ClientEvent>().await.expect("read") {
                Some(ClientEvent::Key(ToClient::Rejected { keys, reason, .. })) => {
                    assert_eq!(reason, "refused");
                    rejected.extend(keys);
                }
                other => break other,
            }
        };
        let expected: Vec<TaskKey> = (0..10_000u32).map(key_numbered).collect();
        assert_eq!(rejected, expected);
        assert_eq!(last, Some(ClientEvent::Done { request: 8 }));
        server.await.expect("the server task");
    }

    fn key_numbered(n: u32) -> TaskKey {
        let mut key = [0; 16];
        key[..4].copy_from_slice(&n.to_le_bytes());
        TaskKey(key)
    }

    /// Commands over a worker connection's frame limit: a `Free` arrives
    /// as several, a module as its refusal, and a task's instruction is
    /// answered for the worker as an error naming the limit; the command
    /// after them arrives as sent.
    #[tokio::test]
    async fn a_command_too_large_for_a_worker_is_split_refused_or_failed_for_it() {
        use weft_proto::messages::WireCompute;
        use weft_schema::task::{SpecArg, TaskSpec};
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let limits = ConnectionLimits {
            frame_bytes_max: 64 * 1024,
            ..ConnectionLimits::default()
        };
        let acceptor = Acceptor::open(limits);
        let keys: Vec<TaskKey> = (0..10_000u32).map(key_numbered).collect();
        let compute = WorkerCommand::Compute(WireCompute {
            key: keys[0],
            run: 3,
            tenant: weft_schema::ids::TenantId::OPEN,
            weight: 1,
            ceilings: Default::default(),
            spec: std::sync::Arc::new(TaskSpec::new(
                [5; 32],
                "f",
                vec![SpecArg::Value(vec![0; 100_000])],
            )),
            inputs: Vec::new(),
        });
        let commands = vec![
            WorkerCommand::Free { keys: keys.clone() },
            WorkerCommand::Module {
                hash: [5; 32],
                bytes: vec![0; 100_000],
            },
            compute,
            WorkerCommand::Restart,
        ];
        let (inputs, mut answered) = mpsc::unbounded_channel();
        let sent = commands.clone();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let hello = Hello::new(Role::Scheduler, "scheduler");
            let (connection, _) = Connection::accept(tcp, &hello, &acceptor)
                .await
                .expect("handshake");
            let (_reader, writer) = connection.into_split();
            let (outgoing, receiver) = mpsc::channel(8);
            for command in sent {
                outgoing
                    .send(Outgoing::Worker(command))
                    .await
                    .expect("send");
            }
            drop(outgoing);
            let worker = weft_core::WorkerId(9);
            write_loop(writer, receiver, addr, Some((worker, inputs))).await;
        });
        let dialer = Dialer::plain(limits, Role::Scheduler);
        let hello = Hello::new(Role::Worker, "worker");
        let (mut worker, _) = Connection::connect(addr, &hello, &dialer)
            .await
            .expect("connect");
        let mut freed = Vec::new();
        let mut received = Vec::new();
        while let Some(command) = worker.recv::<WorkerCommand>().await.expect("read") {
            match command {
                WorkerCommand::Free { keys } => freed.extend(keys),
                other => received.push(other),
            }
        }
        server.await.expect("the server task");
        assert_eq!(freed, keys, "every key freed once, in order");
        let [
            WorkerCommand::ModuleRefused { hash, message },
            WorkerCommand::Restart,
        ] = &received[..]
        else {
            panic!("received {received:?}");
        };
        assert_eq!(*hash, [5; 32]);
        assert!(message.contains("frame_bytes_max"), "{message}");
        let Some(Input::Worker(weft_core::WorkerId(9), report)) = answered.recv().await else {
            panic!("no answer for the task");
        };
        let WorkerReport::Erred { key, run, message } = report else {
            panic!("answered {report:?}");
        };
        assert_eq!((key, run), (keys[0], 3));
        assert!(message.contains("frame_bytes_max"), "{message}");
        assert!(answered.try_recv().is_err(), "one answer");
    }
}
