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
            tokio::spawn(write_loop(writer, outgoing, addr));
            tokio::select! {
                () = read_client(reader, id, &inputs, addr, settings) => {}
                _ = hung_up => tracing::debug!(%addr, client = %id, "the scheduler closed the client connection"),
            }
            let _ = inputs.send(Input::ClientClosed(id));
        }
        Role::Worker => {
            tokio::spawn(write_loop(writer, outgoing, addr));
            read_worker(
                reader,
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
/// decoding graphs and hashing modules before they go to the state task.
async fn read_client(
    mut reader: ConnectionReader,
    id: weft_core::ClientId,
    inputs: &mpsc::UnboundedSender<Input>,
    addr: SocketAddr,
    settings: &PortSettings,
) {
    let inbox = crate::inbox::Inbox::new(settings.inbox_max);
    loop {
        let permit = inbox.room().await;
        match reader.recv::<ClientRequest>().await {
            Ok(Some(mut request)) => {
                let prepared = crate::inbox::prepare(&mut request, &settings.graph_limits).await;
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
    mut reader: ConnectionReader,
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
/// flush. Ends when the state task drops the sender or a write fails.
async fn write_loop(
    mut writer: ConnectionWriter,
    mut outgoing: mpsc::Receiver<Outgoing>,
    addr: SocketAddr,
) {
    while let Some(first) = outgoing.recv().await {
        let mut next = Some(first);
        let mut batched = 0;
        while let Some(message) = next.take() {
            let queued = match &message {
                Outgoing::Client(event) => writer.queue(event),
                Outgoing::Worker(command) => writer.queue(command),
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
                    Outgoing::Worker(_) => {
                        tracing::warn!(%addr, %error, "dropping a message that cannot be sent");
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

#[cfg(test)]
mod tests {
    use super::*;
    use weft_proto::{ConnectionLimits, Dialer};

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
            outgoing
                .send(Outgoing::Client(ClientEvent::Done { request: 8 }))
                .await
                .expect("send");
            drop(outgoing);
            write_loop(writer, receiver, addr).await;
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
        let second = client.recv::<ClientEvent>().await.expect("read");
        assert_eq!(second, Some(ClientEvent::Done { request: 8 }));
        server.await.expect("the server task");
    }
}
