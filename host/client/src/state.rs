//! The client's shared state: for every key it holds, how many `Future`
//! handles point at it, its last known status and who is waiting on it;
//! and the requests waiting for a reply. The reader task updates it from
//! the scheduler's messages.

use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::oneshot;
use weft_core::{TaskFailure, ToClient};
use weft_proto::messages::{ClientEvent, RequestId};
use weft_schema::graph::TaskKey;

/// Where a future stands.
#[derive(Debug, Clone, PartialEq)]
pub enum FutureStatus {
    /// Not computed yet.
    Pending,
    /// The result is in distributed memory.
    Finished,
    /// It failed, or a task it depends on failed.
    Error(Arc<TaskFailure>),
    /// The scheduler refused the submission (with the limit it would have
    /// passed, when that was why).
    Refused {
        /// Why.
        reason: String,
        /// The limit and its figures, when a limit refused it.
        quota: Option<weft_schema::quota::QuotaExceeded>,
    },
    /// Its data was lost with a worker; it is being recomputed.
    Lost,
    /// It was cancelled (by `cancel`, another client's forced cancel, or a
    /// restart), with the reason.
    Cancelled(String),
}

impl FutureStatus {
    pub(crate) fn is_final(&self) -> bool {
        !matches!(self, FutureStatus::Pending | FutureStatus::Lost)
    }
}

#[derive(Debug)]
pub(crate) struct KeyEntry {
    pub(crate) refs: usize,
    /// How many times the scheduler said its data was lost.
    pub(crate) lost: u32,
    pub(crate) status: FutureStatus,
    pub(crate) waiters: Vec<oneshot::Sender<()>>,
    /// A request naming it (a submission, a want, a scatter) has been
    /// written to the scheduler: it may be listed in `Holding` (a key
    /// whose submission still waits to be written is not the scheduler's
    /// to have cancelled).
    pub(crate) announced: bool,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) keys: HashMap<TaskKey, KeyEntry>,
    pub(crate) requests: HashMap<RequestId, oneshot::Sender<ClientEvent>>,
    pub(crate) next_request: RequestId,
    /// Why the connection closed, once it has.
    pub(crate) closed: Option<String>,
    /// State-changing requests written and not yet known to be applied,
    /// with their write sequence numbers: replayed after a reconnection.
    pub(crate) unacked: std::collections::VecDeque<(u64, weft_proto::messages::ClientRequest)>,
    /// The write sequence number of each request waiting for its reply: a
    /// reply acknowledges everything written before it.
    pub(crate) written_at: HashMap<RequestId, u64>,
    /// The next write sequence number.
    pub(crate) write_seq: u64,
    /// The request id of the last barrier written (see `link.rs`).
    pub(crate) barrier: Option<RequestId>,
    /// Why a part of the graph being written could not be sent: the rest of
    /// that graph is refused instead of written, and the scheduler told to
    /// drop the parts it holds (`link.rs`).
    pub(crate) graph_unsent: Option<String>,
    /// The keys wanted by the parts written so far of the graph being
    /// written in parts (`Some` from its first part to its end): if a later
    /// part or the end cannot be sent, their futures are refused too.
    pub(crate) graph_written: Option<Vec<TaskKey>>,
}

impl State {
    /// Takes one more reference to `key`; true if the scheduler must be
    /// told (it is new to this client, or its futures were cancelled).
    pub(crate) fn hold(&mut self, key: TaskKey) -> bool {
        let entry = self.keys.entry(key).or_insert_with(|| KeyEntry {
            refs: 0,
            lost: 0,
            status: FutureStatus::Pending,
            waiters: Vec::new(),
            announced: false,
        });
        entry.refs += 1;
        if matches!(entry.status, FutureStatus::Cancelled(_)) {
            entry.status = FutureStatus::Pending;
            // Taken again: announced when that request is written.
            entry.announced = false;
            return true;
        }
        entry.refs == 1
    }

    /// Another handle to a key already held (a clone): never news to the
    /// scheduler.
    pub(crate) fn hold_again(&mut self, key: TaskKey) {
        if let Some(entry) = self.keys.get_mut(&key) {
            entry.refs += 1;
        } else {
            self.hold(key);
        }
    }

    /// Drops one reference; true if it was the last.
    pub(crate) fn unhold(&mut self, key: &TaskKey) -> bool {
        let Some(entry) = self.keys.get_mut(key) else {
            return false;
        };
        entry.refs -= 1;
        if entry.refs == 0 {
            self.keys.remove(key);
            true
        } else {
            false
        }
    }

    fn set(&mut self, key: &TaskKey, status: FutureStatus) {
        if let Some(entry) = self.keys.get_mut(key) {
            entry.status = status;
            if entry.status.is_final() {
                for waiter in entry.waiters.drain(..) {
                    let _ = waiter.send(());
                }
            }
        }
    }

    /// Refuses `keys` here, for `reason`: the request naming them could
    /// not be sent (it is over the frame size limit, say).
    pub(crate) fn refuse_unsent(&mut self, keys: &[TaskKey], reason: &str) {
        for key in keys {
            let status = FutureStatus::Refused {
                reason: reason.to_string(),
                quota: None,
            };
            self.set(key, status);
        }
    }

    /// Applies a message from the scheduler.
    pub(crate) fn apply(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::Key(ToClient::Finished { key, .. }) => {
                self.set(&key, FutureStatus::Finished)
            }
            ClientEvent::Key(ToClient::Erred { key, failure }) => {
                self.set(&key, FutureStatus::Error(failure))
            }
            ClientEvent::Key(ToClient::Lost { key }) => {
                if let Some(entry) = self.keys.get_mut(&key) {
                    entry.lost += 1;
                }
                self.set(&key, FutureStatus::Lost)
            }
            ClientEvent::Key(ToClient::Cancelled { key, reason }) => {
                self.set(&key, FutureStatus::Cancelled(reason))
            }
            ClientEvent::Key(
                ToClient::Done { request, .. } | ToClient::Dataset { request, .. },
            ) => {
                tracing::warn!(
                    request,
                    "an operation reply arrived in the wrong form; ignored"
                );
            }
            ClientEvent::Key(ToClient::Rejected {
                keys,
                reason,
                quota,
            }) => {
                tracing::warn!(%reason, "the scheduler refused a submission");
                for key in keys {
                    let status = FutureStatus::Refused {
                        reason: reason.clone(),
                        quota: quota.clone(),
                    };
                    self.set(&key, status);
                }
            }
            ClientEvent::Welcome { tenant } => tracing::debug!(tenant, "welcomed by the scheduler"),
            ClientEvent::Denied { message } => {
                tracing::warn!(%message, "the scheduler denied a request");
            }
            ClientEvent::SessionRefused { quota } => {
                self.close(format!("the scheduler refused this client: {quota}"))
            }
            ClientEvent::SessionLost => self.close(
                "the connection to the scheduler was lost for longer than its client_grace: \
                 this client's futures are gone"
                    .into(),
            ),
            reply @ (ClientEvent::ModuleStored { request, .. }
            | ClientEvent::Locations { request, .. }
            | ClientEvent::Workers { request, .. }
            | ClientEvent::ScatterPlan { request, .. }
            | ClientEvent::Status { request, .. }
            | ClientEvent::Datasets { request, .. }
            | ClientEvent::Dataset { request, .. }
            | ClientEvent::Done { request }
            | ClientEvent::RequestFailed { request, .. }
            | ClientEvent::Failed { request, .. }) => {
                if let Some(seq) = self.written_at.remove(&request) {
                    self.acknowledge_before(seq);
                }
                if let Some(waiter) = self.requests.remove(&request) {
                    let _ = waiter.send(reply);
                }
            }
        }
    }

    /// A reply came to a request written at `seq`: what was written before
    /// it was applied, except the parts of a graph whose end came after
    /// (parts are acknowledged with their end, so that a reconnection
    /// replays the whole graph).
    fn acknowledge_before(&mut self, seq: u64) {
        use weft_proto::messages::ClientRequest;
        let acked = self.unacked.iter().take_while(|(s, _)| *s < seq).count();
        // A graph in parts is acknowledged only with its end: everything
        // from its first part on stays, whatever was written between its
        // parts, so a reconnection replays the whole graph.
        let mut first_unfinished = None;
        for (at, (_, request)) in self.unacked.iter().take(acked).enumerate() {
            match request {
                ClientRequest::SubmitGraphPart { .. } => {
                    first_unfinished.get_or_insert(at);
                }
                ClientRequest::SubmitGraph { .. } | ClientRequest::DropGraphParts => {
                    first_unfinished = None;
                }
                _ => {}
            }
        }
        self.unacked.drain(..first_unfinished.unwrap_or(acked));
    }

    /// The connection is gone: every waiter learns it.
    pub(crate) fn close(&mut self, reason: String) {
        self.closed.get_or_insert(reason);
        self.requests.clear();
        for entry in self.keys.values_mut() {
            entry.waiters.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_proto::messages::ClientRequest;

    fn part(n: u8) -> ClientRequest {
        ClientRequest::SubmitGraphPart {
            graph: vec![n],
            wants: Vec::new(),
        }
    }

    fn release(n: u8) -> ClientRequest {
        ClientRequest::Release {
            keys: vec![TaskKey([n; 16])],
        }
    }

    fn unacked(state: &State) -> Vec<ClientRequest> {
        state.unacked.iter().map(|(_, r)| r.clone()).collect()
    }

    #[test]
    fn a_graph_in_parts_stays_unacknowledged_until_its_end_whatever_came_between() {
        let mut state = State::default();
        let end = ClientRequest::SubmitGraph {
            graph: vec![9],
            wants: Vec::new(),
        };
        for (seq, request) in [release(0), part(1), release(2), part(3)]
            .into_iter()
            .enumerate()
        {
            state.unacked.push_back((seq as u64, request));
        }
        // A reply to what came after the second part: the release before
        // the graph is acknowledged; the first part, the release between
        // the parts and the second part stay for a replay.
        state.acknowledge_before(4);
        assert_eq!(unacked(&state), vec![part(1), release(2), part(3)]);
        state.unacked.push_back((4, end.clone()));
        state.unacked.push_back((5, release(5)));
        // Once the end is acknowledged, the whole graph is.
        state.acknowledge_before(5);
        assert_eq!(unacked(&state), vec![release(5)]);
        // A dropped graph ends its parts too.
        state.unacked.push_back((6, part(6)));
        state.unacked.push_back((7, ClientRequest::DropGraphParts));
        state.acknowledge_before(8);
        assert_eq!(unacked(&state), Vec::new());
    }
}
