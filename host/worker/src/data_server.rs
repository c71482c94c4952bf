//! The data port: where clients and peer workers get results from this
//! worker ([`DataRequest::Get`]) and clients put values on it
//! ([`DataRequest::Put`]).
//!
//! Values spilled to disk are read back for each `Get` (on a blocking
//! thread) and stay on disk. Each accepted connection is served by its own task, at most
//! `max_connections` at once (the ones over it are closed at once). The
//! handshake must name the role client or peer and carry a pass from the
//! scheduler (`data_auth.rs`); every `Get` and `Put` needs a ticket for its
//! key issued to the same requester, and a refused one is answered
//! `Refused` while the connection goes on. A `Put` never replaces a value
//! the worker holds. Anything wrong on a
//! connection (garbage, a frame over `frame_bytes_max`, a truncated frame, a
//! message that does not decode, an I/O error) closes that connection only,
//! with a warning naming the peer and the reason.

use crate::data_auth::{self, SharedSecret, Wanted};
use crate::store::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use weft_proto::{
    Acceptor, Connection, ConnectionReader, ConnectionWriter, Hello,
    messages::{DataReply, DataRequest},
};

/// How long the accept loop pauses after an accept error (out of file
/// descriptors, say) before trying again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// What every connection of the data port shares.
#[derive(Debug)]
pub(crate) struct DataPort {
    /// The worker's data.
    pub(crate) store: Arc<Store>,
    /// Our hello (role worker).
    pub(crate) hello: Hello,
    /// Limits, TLS and the pass check of every connection.
    pub(crate) acceptor: Acceptor,
    /// The secret tickets are checked with.
    pub(crate) secret: SharedSecret,
    /// `max_connections`.
    pub(crate) max_connections: usize,
}

/// Accepts connections on `listener` and serves them until the returned
/// future is dropped (which drops every connection too).
pub(crate) async fn serve(listener: TcpListener, port: Arc<DataPort>) {
    let permits = Arc::new(Semaphore::new(port.max_connections));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let port = port.clone();
                        connections.spawn(async move {
                            serve_connection(stream, peer, &port).await;
                            drop(permit);
                        });
                    }
                    Err(_) => {
                        tracing::warn!(
                            %peer,
                            limit = port.max_connections,
                            "data port: closing a connection over the limit of {} connections \
                             (max_connections)",
                            port.max_connections
                        );
                        drop(stream);
                    }
                },
                Err(error) => {
                    tracing::warn!(%error, "data port: accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            },
            Some(finished) = connections.join_next() => {
                if let Err(error) = finished
                    && error.is_panic()
                {
                    tracing::error!(%error, "data port: a connection task panicked");
                }
            }
        }
    }
}

/// Serves one connection until the peer closes it or something is wrong.
async fn serve_connection(stream: TcpStream, peer: SocketAddr, port: &DataPort) {
    let (connection, hello) = match Connection::accept(stream, &port.hello, &port.acceptor).await {
        Ok(accepted) => accepted,
        Err(error) => {
            tracing::warn!(%peer, reason = %error, "data port: closing connection");
            data_auth::audit_refusal("connect", "", None, &error.to_string(), peer);
            return;
        }
    };
    let requester = connection.principal().token_id.clone();
    // The pass named it; parsed once, compared with every ticket.
    let requester_id = requester.parse().ok();
    let (mut reader, mut writer) = connection.into_split();
    let served = serve_requests(
        &mut reader,
        &mut writer,
        port,
        (&requester, requester_id),
        peer,
    )
    .await;
    match served {
        Ok(()) => tracing::debug!(%peer, "data port: peer closed the connection"),
        Err(reason) => {
            tracing::warn!(%peer, name = %hello.name, %reason, "data port: closing connection");
        }
    }
}

/// Answers requests until the peer closes the connection (`Ok`) or
/// something goes wrong (`Err` with the reason).
async fn serve_requests(
    reader: &mut ConnectionReader,
    writer: &mut ConnectionWriter,
    port: &DataPort,
    (requester, requester_id): (&str, Option<weft_proto::tickets::Requester>),
    peer: SocketAddr,
) -> Result<(), String> {
    let store = &port.store;
    loop {
        let request = match reader.recv::<DataRequest>().await {
            Ok(Some(request)) => request,
            Ok(None) => return Ok(()),
            Err(error) => return Err(error.to_string()),
        };
        match request {
            DataRequest::Get { tickets } => {
                for ticket in tickets {
                    let key = weft_proto::data::ticket_key(&ticket);
                    if let Err(error) =
                        data_auth::check(&port.secret, &ticket, requester_id, Wanted::Get)
                    {
                        tracing::warn!(%key, %requester, %error, "data port: refusing a Get");
                        data_auth::audit_refusal(
                            "get",
                            requester,
                            Some(&key),
                            &error.to_string(),
                            peer,
                        );
                        let reason = error.to_string();
                        writer
                            .queue(&DataReply::Refused { key, reason })
                            .map_err(|e| e.to_string())?;
                        continue;
                    }
                    // A spilled value is read back on a blocking thread.
                    let value = store.load(&key).await.unwrap_or_else(|error| {
                        tracing::warn!(
                            %key,
                            %error,
                            "data port: a spilled value cannot be read back; answering Missing"
                        );
                        None
                    });
                    match value {
                        Some(value) => {
                            let found = DataReply::Found {
                                key,
                                nbytes: value.len() as u64,
                            };
                            writer.queue(&found).map_err(|e| e.to_string())?;
                            weft_proto::data::write_value(writer, &value)
                                .await
                                .map_err(|e| e.to_string())?;
                        }
                        None => writer
                            .queue(&DataReply::Missing { key })
                            .map_err(|e| e.to_string())?,
                    }
                }
                writer.flush().await.map_err(|e| e.to_string())?;
            }
            DataRequest::Put { ticket, nbytes } => {
                let key = weft_proto::data::ticket_key(&ticket);
                // The ticket is checked before the value is read: a refused
                // one's bytes are dropped as they come, never held.
                let checked =
                    data_auth::check(&port.secret, &ticket, requester_id, Wanted::Put { nbytes });
                let reply = match checked {
                    Err(error) => {
                        tracing::warn!(%key, %requester, %error, "data port: refusing a Put");
                        data_auth::audit_refusal(
                            "put",
                            requester,
                            Some(&key),
                            &error.to_string(),
                            peer,
                        );
                        let refused = DataReply::Refused {
                            key,
                            reason: error.to_string(),
                        };
                        if nbytes > weft_proto::data::SKIP_VALUE_BYTES_MAX {
                            // Not worth reading: the connection goes instead.
                            writer.send(&refused).await.map_err(|e| e.to_string())?;
                            return Err(format!(
                                "refused a Put of {nbytes} bytes; closing the connection rather than reading them"
                            ));
                        }
                        weft_proto::data::skip_value(reader, nbytes).await?;
                        refused
                    }
                    Ok(()) => {
                        let value = weft_proto::data::read_value(reader, nbytes).await?;
                        // A put never replaces a value held.
                        if store.contains(&key) {
                            DataReply::AlreadyHeld { key }
                        } else {
                            store.insert(key, value);
                            DataReply::Stored { key }
                        }
                    }
                };
                writer.send(&reply).await.map_err(|e| e.to_string())?;
            }
        }
    }
}
