//! The connection to the scheduler: one task that writes requests in the
//! order they were made (merging consecutive releases into one message of
//! at most `RELEASE_KEYS_MAX` keys) while reading the scheduler's messages
//! into the shared state. A request that cannot be sent (over the frame
//! limit) fails its waiter or its futures with the reason; when it is a
//! part of a graph (`graph_send.rs`), the rest of that graph fails too and
//! the scheduler is told to drop the parts it holds.
//!
//! When the connection drops (not closed by this client), the link
//! reconnects to the same address for up to `reconnect_timeout`, names the
//! client's session token first, and carries on: the scheduler kept what
//! the client held for its `client_grace` and tells it again where each
//! key stands. State-changing requests (submissions, releases, scatters,
//! plain cancels) written but not yet acknowledged are written again, in order,
//! on the new connection (each is idempotent, and a reply to any later
//! request acknowledges them), followed by the keys it holds (`Holding`),
//! so that a cancellation lost with the old connection is told again;
//! requests waiting for a reply fail (their answers are lost). Past the timeout, or if the scheduler no longer
//! knows the session (`SessionLost`: the grace ran out), the client is
//! closed: its futures are gone, and every wait says so.

use crate::state::State;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use weft_proto::messages::{ClientEvent, ClientRequest};
use weft_proto::{Connection, ConnectionReader, ConnectionWriter, Hello, Role};
use weft_schema::graph::TaskKey;

/// How to reach the scheduler again.
#[derive(Debug, Clone)]
pub(crate) struct Reconnect {
    pub(crate) addr: String,
    pub(crate) dialer: weft_proto::Dialer,
    pub(crate) name: String,
    pub(crate) token: u128,
    /// Zero: never reconnect.
    pub(crate) timeout: Duration,
}

pub(crate) fn spawn(
    connection: Connection,
    state: Arc<Mutex<State>>,
    reconnect: Reconnect,
) -> mpsc::UnboundedSender<ClientRequest> {
    let (requests, outgoing) = mpsc::unbounded_channel();
    // First, so that a reconnection can resume this client's holdings.
    let _ = requests.send(ClientRequest::Session {
        token: reconnect.token,
        resume: false,
    });
    tokio::spawn(supervise(connection, outgoing, state, reconnect));
    requests
}

/// Unacknowledged requests past which the writer asks for a reply (any
/// reply acknowledges everything written before it).
const UNACKED_MAX: usize = 1024;

/// How one connection ended.
enum Ended {
    /// The client is gone (every sender dropped): shut down cleanly.
    ClientDone,
    /// The connection failed, for this reason.
    Lost(String),
    /// Writing failed, for this reason: the scheduler may have closed the
    /// connection after saying why (a refused session), so what it sent
    /// is read before the connection counts as lost.
    WriteFailed(String),
}

/// How long the reader may take, after a write failed, to read what the
/// scheduler sent before it closed the connection.
const READ_AFTER_WRITE_FAILURE: Duration = Duration::from_secs(1);

async fn supervise(
    connection: Connection,
    mut outgoing: mpsc::UnboundedReceiver<ClientRequest>,
    state: Arc<Mutex<State>>,
    reconnect: Reconnect,
) {
    let (mut reader, mut writer) = connection.into_split();
    loop {
        let ended = tokio::select! {
            reason = read_loop(&mut reader, &state) => Ended::Lost(reason),
            ended = write_loop(&mut writer, &mut outgoing, &state) => ended,
        };
        let reason = match ended {
            Ended::ClientDone => {
                // Everything was released before the last sender went: no
                // grace is needed on the scheduler's side.
                if writer.queue(&ClientRequest::Goodbye).is_ok() {
                    let _ = writer.flush().await;
                }
                let _ = writer.shutdown().await;
                return;
            }
            Ended::Lost(reason) => reason,
            Ended::WriteFailed(reason) => {
                // The reader stops at the end of the stream, or once the
                // scheduler's last word closes this client.
                let _ =
                    tokio::time::timeout(READ_AFTER_WRITE_FAILURE, read_loop(&mut reader, &state))
                        .await;
                reason
            }
        };
        tracing::debug!(%reason, "scheduler connection lost");
        if lock(&state).closed.is_some() {
            // The scheduler ended this client (its session was lost or
            // refused): there is nothing to resume.
            return;
        }
        // Replies to requests already written will not come; requests not
        // written yet go out on the new connection.
        let waiting: Vec<_> = {
            let mut state = lock(&state);
            let written: Vec<_> = state.written_at.drain().map(|(id, _)| id).collect();
            written
                .into_iter()
                .filter_map(|id| state.requests.remove(&id).map(|waiter| (id, waiter)))
                .collect()
        };
        for (request, waiter) in waiting {
            let message = format!("the connection to the scheduler was lost: {reason}");
            let _ = waiter.send(ClientEvent::RequestFailed { request, message });
        }
        match connect_again(&reconnect).await {
            Some(connection) => {
                tracing::info!(addr = %reconnect.addr, "reconnected to the scheduler");
                (reader, writer) = connection.into_split();
                // The session, the unacknowledged requests, then the keys
                // it holds: a cancellation whose message was lost with the
                // old connection is told again.
                let replay: Vec<ClientRequest> = {
                    let state = lock(&state);
                    let holding = ClientRequest::Holding {
                        keys: state
                            .keys
                            .iter()
                            .filter(|(_, entry)| {
                                entry.announced
                                    && !matches!(
                                        entry.status,
                                        crate::FutureStatus::Cancelled(_)
                                            | crate::FutureStatus::Refused { .. }
                                            | crate::FutureStatus::Error(_)
                                    )
                            })
                            .map(|(key, _)| *key)
                            .collect(),
                    };
                    std::iter::once(ClientRequest::Session {
                        token: reconnect.token,
                        resume: true,
                    })
                    .chain(state.unacked.iter().map(|(_, r)| r.clone()))
                    .chain(std::iter::once(holding))
                    .collect()
                };
                for request in &replay {
                    if let Err(error) = writer.queue(request) {
                        lock(&state).close(error.to_string());
                        return;
                    }
                }
            }
            None => {
                lock(&state).close(reason);
                return;
            }
        }
    }
}

/// Tries to connect until `reconnect.timeout` has passed.
async fn connect_again(reconnect: &Reconnect) -> Option<Connection> {
    let deadline = Instant::now() + reconnect.timeout;
    let mut pause = Duration::from_millis(50);
    while Instant::now() < deadline {
        let hello = Hello::new(Role::Client, reconnect.name.clone());
        match Connection::connect(&reconnect.addr, &hello, &reconnect.dialer).await {
            Ok((connection, _)) => return Some(connection),
            Err(
                error @ (weft_proto::ConnectionError::Refused { .. }
                | weft_proto::ConnectionError::UnexpectedRole { .. }),
            ) => {
                tracing::warn!(%error, "cannot reconnect to the scheduler");
                return None;
            }
            Err(error) => tracing::debug!(%error, "reconnecting to the scheduler"),
        }
        tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
    None
}

/// Applies the scheduler's messages until the connection ends; returns why.
async fn read_loop(reader: &mut ConnectionReader, state: &Mutex<State>) -> String {
    loop {
        match reader.recv::<ClientEvent>().await {
            Ok(Some(event)) => {
                let mut state = lock(state);
                state.apply(event);
                if let Some(reason) = &state.closed {
                    // The scheduler ended this client (a session lost or
                    // refused): the connection goes too.
                    return reason.clone();
                }
            }
            Ok(None) => return "the scheduler closed the connection".to_string(),
            Err(error) => return error.to_string(),
        }
    }
}

/// How often the client tells the scheduler it is alive, whatever else it
/// sends (the scheduler disconnects a client silent for its `client_ttl`,
/// 30 s by default).
pub(crate) const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);

/// Writes requests as they come, batching what is ready into one flush,
/// and a heartbeat every [`HEARTBEAT_INTERVAL`].
async fn write_loop(
    writer: &mut ConnectionWriter,
    outgoing: &mut mpsc::UnboundedReceiver<ClientRequest>,
    state: &Mutex<State>,
) -> Ended {
    // Within the frame limit too, at 32 bytes a key.
    let release_keys_max = RELEASE_KEYS_MAX
        .min(writer.frame_writer_mut().frame_bytes_max() / 32)
        .max(1);
    let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // A pending flush (requests queued before a reconnection) goes first.
        if writer.queued_bytes() > 0
            && let Err(error) = writer.flush().await
        {
            return Ended::WriteFailed(error.to_string());
        }
        let first = tokio::select! {
            first = outgoing.recv() => match first {
                Some(first) => first,
                None => return Ended::ClientDone,
            },
            _ = heartbeat.tick() => ClientRequest::Heartbeat,
        };
        let mut pending = Some(first);
        let mut released = Vec::new();
        loop {
            match pending.take() {
                Some(ClientRequest::Release { keys }) => {
                    released.extend(keys);
                    if released.len() >= release_keys_max {
                        queue_release(writer, state, &mut released);
                    }
                }
                Some(other) => {
                    queue_release(writer, state, &mut released);
                    queue_request(writer, state, other);
                }
                None => break,
            }
            if writer.queued_bytes() < (1 << 20) {
                pending = outgoing.try_recv().ok();
            }
        }
        queue_release(writer, state, &mut released);
        let barrier = {
            let mut state = lock(state);
            let in_flight = state
                .barrier
                .is_some_and(|id| state.written_at.contains_key(&id));
            (state.unacked.len() > UNACKED_MAX && !in_flight).then(|| {
                state.next_request += 1;
                state.barrier = Some(state.next_request);
                ClientRequest::ListWorkers {
                    request: state.next_request,
                }
            })
        };
        if let Some(barrier) = barrier
            && writer.queue(&barrier).is_ok()
        {
            record(state, &barrier);
        }
        if let Err(error) = writer.flush().await {
            return Ended::WriteFailed(error.to_string());
        }
    }
}

/// Most keys merged into one `Release` (16 bytes each): many more would
/// not fit a default frame (a smaller `frame_bytes_max` merges fewer).
const RELEASE_KEYS_MAX: usize = 1 << 20;

/// Queues one `Release` of the keys merged so far, if any.
fn queue_release(writer: &mut ConnectionWriter, state: &Mutex<State>, released: &mut Vec<TaskKey>) {
    if released.is_empty() {
        return;
    }
    let release = ClientRequest::Release {
        keys: std::mem::take(released),
    };
    match writer.queue(&release) {
        Ok(()) => record(state, &release),
        // Under the merging bound it fits the frame limit; were it not to,
        // the keys stay held on the scheduler's side until the client
        // leaves.
        Err(error) => tracing::warn!(%error, "could not queue a release"),
    }
}

/// Queues `request`; one that cannot be sent fails whoever waits for it
/// (its reply's waiter, or its futures) with the reason. When a part of a
/// graph cannot be sent, the rest of that graph is refused too and the
/// scheduler is told to drop the parts it holds.
fn queue_request(writer: &mut ConnectionWriter, state: &Mutex<State>, request: ClientRequest) {
    let is_part = matches!(request, ClientRequest::SubmitGraphPart { .. });
    let is_end = matches!(request, ClientRequest::SubmitGraph { .. });
    if is_part || is_end {
        let unsent = lock(state).graph_unsent.clone();
        if let Some(reason) = unsent {
            lock(state).refuse_unsent(named_keys(&request), &reason);
            if is_end {
                lock(state).graph_unsent = None;
                drop_graph_parts(writer, state);
            }
            return;
        }
    }
    let error = match writer.queue(&request) {
        Ok(()) => {
            let mut locked = lock(state);
            if is_part {
                let written = locked.graph_written.get_or_insert_with(Vec::new);
                written.extend_from_slice(named_keys(&request));
            } else if is_end {
                locked.graph_written = None;
            }
            drop(locked);
            return record(state, &request);
        }
        Err(error) => error,
    };
    tracing::warn!(%error, "could not send a request");
    let message = format!("the request could not be sent: {error}");
    if let Some(id) = request_id(&request)
        && let Some(waiter) = lock(state).requests.remove(&id)
    {
        let _ = waiter.send(ClientEvent::RequestFailed {
            request: id,
            message,
        });
        return;
    }
    // A submission, a want or a scatter: its futures fail with the reason
    // instead of waiting for ever, and so do those of the parts of its
    // graph written already.
    let mut locked = lock(state);
    locked.refuse_unsent(named_keys(&request), &message);
    let written = if is_part || is_end {
        locked.graph_written.take()
    } else {
        None
    };
    if let Some(written) = &written {
        locked.refuse_unsent(written, &message);
    }
    if is_part {
        locked.graph_unsent = Some(message);
    } else if is_end && written.is_some() {
        drop(locked);
        drop_graph_parts(writer, state);
    }
}

/// Tells the scheduler to drop the parts it holds of a graph that could
/// not be sent whole.
fn drop_graph_parts(writer: &mut ConnectionWriter, state: &Mutex<State>) {
    match writer.queue(&ClientRequest::DropGraphParts) {
        Ok(()) => record(state, &ClientRequest::DropGraphParts),
        // A few bytes: only a writer that has failed refuses it, and then
        // the connection (and the parts the scheduler holds) goes.
        Err(error) => tracing::warn!(%error, "could not queue DropGraphParts"),
    }
}

/// Notes a request about to be written: state-changing ones are kept for
/// replay, and requests with replies mark where their reply acknowledges.
fn record(state: &Mutex<State>, request: &ClientRequest) {
    let mut state = lock(state);
    let seq = state.write_seq;
    state.write_seq += 1;
    if let Some(id) = request_id(request) {
        state.written_at.insert(id, seq);
    }
    for key in named_keys(request) {
        if let Some(entry) = state.keys.get_mut(key) {
            entry.announced = true;
        }
    }
    // A forced cancel is not replayed: by then another client may have
    // submitted the keys again.
    if matches!(
        request,
        ClientRequest::SubmitGraph { .. }
            | ClientRequest::SubmitGraphPart { .. }
            | ClientRequest::DropGraphParts
            | ClientRequest::Want { .. }
            | ClientRequest::Release { .. }
            | ClientRequest::Scattered { .. }
            | ClientRequest::Cancel { force: false, .. }
    ) {
        state.unacked.push_back((seq, request.clone()));
    }
}

/// The keys a request gives this client futures to.
fn named_keys(request: &ClientRequest) -> &[TaskKey] {
    match request {
        ClientRequest::SubmitGraph { wants, .. } | ClientRequest::SubmitGraphPart { wants, .. } => {
            wants
        }
        ClientRequest::Want { keys } => keys,
        ClientRequest::Scattered { key, .. } => std::slice::from_ref(key),
        _ => &[],
    }
}

fn request_id(request: &ClientRequest) -> Option<weft_proto::messages::RequestId> {
    request.request_id()
}

/// Locks the state; a poisoned lock is still usable (no invariant spans a panic).
pub(crate) fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
