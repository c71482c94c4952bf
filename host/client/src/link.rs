//! The connection to the scheduler: one writer task that sends requests in
//! the order they were made (merging consecutive releases into one
//! message), and one reader task that applies the scheduler's messages to
//! the shared state.

use crate::state::State;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use weft_proto::messages::{ClientEvent, ClientRequest};
use weft_proto::{ConnectionReader, ConnectionWriter};

pub(crate) fn spawn(
    reader: ConnectionReader,
    writer: ConnectionWriter,
    state: Arc<Mutex<State>>,
) -> mpsc::UnboundedSender<ClientRequest> {
    let (requests, outgoing) = mpsc::unbounded_channel();
    tokio::spawn(write_loop(writer, outgoing, state.clone()));
    tokio::spawn(read_loop(reader, state));
    requests
}

async fn read_loop(mut reader: ConnectionReader, state: Arc<Mutex<State>>) {
    let reason = loop {
        match reader.recv::<ClientEvent>().await {
            Ok(Some(event)) => lock(&state).apply(event),
            Ok(None) => break "the scheduler closed the connection".to_string(),
            Err(error) => break error.to_string(),
        }
    };
    tracing::debug!(%reason, "scheduler connection closed");
    lock(&state).close(reason);
}

async fn write_loop(
    mut writer: ConnectionWriter,
    mut outgoing: mpsc::UnboundedReceiver<ClientRequest>,
    state: Arc<Mutex<State>>,
) {
    while let Some(first) = outgoing.recv().await {
        let mut pending = Some(first);
        let mut released = Vec::new();
        loop {
            match pending.take() {
                Some(ClientRequest::Release { keys }) => released.extend(keys),
                Some(other) => {
                    if !released.is_empty() {
                        let keys = std::mem::take(&mut released);
                        if let Err(error) = writer.queue(&ClientRequest::Release { keys }) {
                            tracing::warn!(%error, "could not queue a release");
                        }
                    }
                    if let Err(error) = writer.queue(&other) {
                        tracing::warn!(%error, "could not send a request");
                        if let Some(request) = request_id(&other)
                            && let Some(waiter) = lock(&state).requests.remove(&request)
                        {
                            let message = error.to_string();
                            let _ = waiter.send(ClientEvent::RequestFailed { request, message });
                        }
                    }
                }
                None => break,
            }
            if writer.queued_bytes() < (1 << 20) {
                pending = outgoing.try_recv().ok();
            }
        }
        if !released.is_empty() {
            let _ = writer.queue(&ClientRequest::Release { keys: released });
        }
        if let Err(error) = writer.flush().await {
            lock(&state).close(error.to_string());
            return;
        }
    }
    let _ = writer.shutdown().await;
}

fn request_id(request: &ClientRequest) -> Option<weft_proto::messages::RequestId> {
    match request {
        ClientRequest::UploadModule { request, .. }
        | ClientRequest::WhoHas { request, .. }
        | ClientRequest::ListWorkers { request } => Some(*request),
        _ => None,
    }
}

/// Locks the state; a poisoned lock is still usable (no invariant spans a panic).
pub(crate) fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
