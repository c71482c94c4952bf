//! A client connection's inbox: how many of its requests may wait for the
//! state task at once (`client_inbox_max`), and the work done on a
//! request before it gets there. Each request holds a permit of its
//! connection's inbox from before it is read off the socket until the
//! state task has handled it, so a client that sends faster than the
//! scheduler handles stops being read (TCP pushes back on it) instead of
//! queueing without bound ahead of everyone else. Graphs are decoded and
//! modules hashed here, in the connection's own task (on a blocking thread
//! when large), so that one client's big submissions cost the state task,
//! which every tenant shares, only what the core itself does with them.

use crate::graph_parts::{BLOCKING_BYTES_MIN, GraphParts};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use weft_proto::messages::ClientRequest;
use weft_schema::graph::{GraphError, GraphLimits, GraphTask};

/// Default of `client_inbox_max`: requests of one client connection
/// waiting for the state task at once.
pub const DEFAULT_CLIENT_INBOX_MAX: usize = 64;

/// A request's place in its connection's inbox, given back when the state
/// task has handled it.
pub(crate) type InboxPermit = OwnedSemaphorePermit;

/// What the connection task did with a request already.
#[derive(Debug)]
pub(crate) enum Prepared {
    /// Nothing: the state task handles it as it is.
    Nothing,
    /// A `SubmitGraph`'s graph, decoded (its bytes then dropped from the
    /// request).
    Graph(Result<Vec<GraphTask>, GraphError>),
    /// An `UploadModule`'s BLAKE3 hash.
    ModuleHash([u8; 32]),
}

/// One client connection's inbox.
#[derive(Debug, Clone)]
pub(crate) struct Inbox {
    permits: Arc<Semaphore>,
}

impl Inbox {
    /// An inbox of `max` requests (at least one).
    pub(crate) fn new(max: usize) -> Inbox {
        Inbox {
            permits: Arc::new(Semaphore::new(max.max(1))),
        }
    }

    /// Waits for room for one more request.
    pub(crate) async fn room(&self) -> InboxPermit {
        self.permits
            .clone()
            .acquire_owned()
            .await
            .expect("an inbox's semaphore is never closed")
    }
}

/// Decodes or hashes what `request` carries, off the state task. `None`
/// when nothing is left for the state task: a graph's part is held in
/// `parts` (see `graph_parts.rs`) until the graph's end, or was dropped.
/// A part that refuses its graph comes back as a `SubmitGraph` of the keys
/// to reject, with the reason.
pub(crate) async fn prepare(
    request: &mut ClientRequest,
    limits: &GraphLimits,
    parts: &mut GraphParts,
) -> Option<Prepared> {
    let prepared = match request {
        ClientRequest::SubmitGraph { graph, wants } => {
            Prepared::Graph(parts.finish(std::mem::take(graph), wants, limits).await)
        }
        ClientRequest::SubmitGraphPart { graph, wants } => {
            let bytes = std::mem::take(graph);
            let (keys, error) = parts.add(bytes, std::mem::take(wants), limits).await?;
            *request = ClientRequest::SubmitGraph {
                graph: Vec::new(),
                wants: keys,
            };
            Prepared::Graph(Err(error))
        }
        ClientRequest::DropGraphParts => {
            parts.clear();
            return None;
        }
        ClientRequest::UploadModule { bytes, .. } => {
            let large = bytes.len() >= BLOCKING_BYTES_MIN;
            let hash = if large {
                let owned = std::mem::take(bytes);
                let hashed = move || (*blake3::hash(&owned).as_bytes(), owned);
                let (hash, owned) = tokio::task::spawn_blocking(hashed)
                    .await
                    .expect("hashing does not panic");
                *bytes = owned;
                hash
            } else {
                *blake3::hash(bytes).as_bytes()
            };
            Prepared::ModuleHash(hash)
        }
        _ => Prepared::Nothing,
    };
    Some(prepared)
}
