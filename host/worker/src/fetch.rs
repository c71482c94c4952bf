//! Getting inputs from other workers' data ports: the [`Fetcher`] keeps one
//! connection per peer (role peer), asks each holder for all the keys wanted
//! from it in one [`DataRequest::Get`], and falls back to the next holder of
//! a key when a holder fails (cannot be reached, does not answer within
//! `fetch_timeout`, breaks the protocol, or says `Missing`).
//!
//! Requests to one peer go one at a time over its connection; requests to
//! different peers run concurrently. A connection that failed is dropped and
//! forgotten, so the peer table holds only live connections.

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Mutex as AsyncMutex;
use weft_core::WorkerId;

use crate::data_auth::SharedSecret;
use crate::state::{Fetched, Wanted};
use weft_proto::tickets::Ticket;
use weft_proto::{Connection, Credential, Dialer, Hello, Role};

/// One peer's connection, used by one request at a time.
type PeerSlot = Arc<AsyncMutex<Option<Connection>>>;

/// Fetches values from peers' data ports.
#[derive(Debug)]
pub(crate) struct Fetcher {
    hello: Hello,
    dialer: Dialer,
    timeout: Duration,
    peers: Mutex<HashMap<String, PeerSlot>>,
    /// The ticket secret and this worker's id, to sign its own passes.
    me: (SharedSecret, WorkerId),
}

impl Fetcher {
    /// A fetcher introducing itself as peer `name`.
    pub(crate) fn new(
        name: &str,
        dialer: Dialer,
        timeout: Duration,
        me: (SharedSecret, WorkerId),
    ) -> Fetcher {
        Fetcher {
            hello: Hello::new(Role::Peer, name),
            dialer,
            timeout,
            peers: Mutex::new(HashMap::new()),
            me,
        }
    }

    /// Fetches every wanted input, trying its holders in order; keys wanted
    /// from the same holder go in one request.
    pub(crate) async fn fetch(&self, wanted: Vec<Wanted>) -> Vec<Fetched> {
        let mut results = Vec::with_capacity(wanted.len());
        // Each input with the index of the next holder to try.
        let mut todo: Vec<(Wanted, usize)> = wanted.into_iter().map(|w| (w, 0)).collect();
        while !todo.is_empty() {
            // Group by next holder, keeping the order of first appearance.
            let mut groups: Vec<(String, Vec<(Wanted, usize)>)> = Vec::new();
            for (want, next) in todo.drain(..) {
                let addr = &want.holders[next].1;
                match groups.iter_mut().find(|(a, _)| a == addr) {
                    Some((_, group)) => group.push((want, next)),
                    None => groups.push((addr.clone(), vec![(want, next)])),
                }
            }
            for (addr, group) in groups {
                let tickets: Vec<Ticket> = group.iter().map(|(w, _)| w.ticket).collect();
                let outcome = self.get_from(&addr, &tickets).await;
                for (index, (want, next)) in group.into_iter().enumerate() {
                    let value = match &outcome {
                        Ok(values) => values.get(index).cloned().flatten(),
                        Err(_) => None,
                    };
                    if let Some(value) = value {
                        results.push((want.key, Ok(value)));
                        continue;
                    }
                    let holder = want.holders[next].0;
                    match &outcome {
                        Ok(_) => {
                            tracing::debug!(key = %want.key, %holder, %addr, "input missing at holder")
                        }
                        Err(reason) => {
                            tracing::warn!(key = %want.key, %holder, %addr, %reason, "cannot fetch input")
                        }
                    }
                    if next + 1 < want.holders.len() {
                        todo.push((want, next + 1));
                    } else {
                        let first = want.holders[0].0;
                        results.push((want.key, Err(first)));
                    }
                }
            }
        }
        results
    }

    /// Asks the peer at `addr` for `keys`: one entry per key, `None` for a
    /// key it does not hold; `Err` if the request failed as a whole.
    async fn get_from(&self, addr: &str, keys: &[Ticket]) -> Result<Vec<Option<Bytes>>, String> {
        let slot = self.slot(addr);
        let mut connection = slot.lock().await;
        let attempt = tokio::time::timeout(self.timeout, async {
            // A pooled connection may have gone stale (the peer restarted):
            // one fresh try is allowed after a failure on a reused one.
            let mut reused = connection.is_some();
            loop {
                let current = match connection.as_mut() {
                    Some(current) => current,
                    None => connection.insert(self.connect(addr).await?),
                };
                match weft_proto::data::get_values(current, keys).await {
                    Ok(values) => return Ok(values),
                    Err(reason) => {
                        *connection = None;
                        if !reused {
                            return Err(reason);
                        }
                        tracing::debug!(%addr, %reason, "reused peer connection failed; reconnecting");
                        reused = false;
                    }
                }
            }
        })
        .await;
        let outcome = attempt.unwrap_or_else(|_elapsed| {
            Err(format!(
                "no answer within {:?} (fetch_timeout)",
                self.timeout
            ))
        });
        if outcome.is_err() {
            *connection = None;
            drop(connection);
            self.forget(addr, &slot);
        }
        outcome
    }

    async fn connect(&self, addr: &str) -> Result<Connection, String> {
        let pass = crate::data_auth::own_pass(&self.me.0, self.me.1)
            .ok_or("this worker has no ticket secret yet")?;
        let dialer = Dialer {
            credential: Credential::Pass(pass),
            ..self.dialer.clone()
        };
        let (connection, hello) = Connection::connect(addr, &self.hello, &dialer)
            .await
            .map_err(|e| e.to_string())?;
        if hello.role != Role::Worker {
            return Err(format!(
                "the process at {addr} is a {}, not a worker",
                hello.role
            ));
        }
        Ok(connection)
    }

    fn peers(&self) -> std::sync::MutexGuard<'_, HashMap<String, PeerSlot>> {
        self.peers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn slot(&self, addr: &str) -> PeerSlot {
        self.peers()
            .entry(addr.to_string())
            .or_insert_with(|| Arc::new(AsyncMutex::new(None)))
            .clone()
    }

    /// Drops the table entry of a failed peer, unless it was replaced.
    fn forget(&self, addr: &str, slot: &PeerSlot) {
        let mut peers = self.peers();
        if peers.get(addr).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            peers.remove(addr);
        }
    }
}
