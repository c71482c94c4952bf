//! Simulated clients: they submit random graphs of tasks (in the one
//! module, some of them failing, some depending on keys they already
//! hold), release and cancel futures, beat, and keep what the scheduler
//! tells them. Their requests reach the core after a delay, in order; the
//! core's news reach them through the real codec (`ClientEvent`).

use crate::network::Queue;
use crate::workers::{Expected, FAILING, compute};
use crate::world::{MODULE, World};
use crate::{EXPIRED, count};
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use weft_core::{ClientId, Event, FailureKind, SpecArg, TaskSpec, Time, ToClient};
use weft_proto::messages::ClientEvent;
use weft_schema::graph::{GraphArg, GraphTask, TaskKey};

/// Why the simulated clients cancel.
const CANCEL_REASON: &str = "cancelled by the simulation";
/// A client submits nothing new while it holds this many futures.
const HELD_MAX: usize = 48;
/// Clients beat this often.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// Where a future stands, as its client was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Told {
    Pending,
    Finished,
    Erred,
}

/// A client's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    Connected,
    /// The connection dropped; the core has not seen it close yet.
    Dropped,
    /// The core knows; it comes back at this time (if its grace has not
    /// ended by then).
    Away(Time),
}

pub(crate) struct SimClient {
    presence: Presence,
    /// It resumed after a dropped connection at least once.
    resumed: bool,
    /// The futures it holds.
    pub(crate) held: BTreeMap<TaskKey, Told>,
    /// Requests on their way to the core.
    pub(crate) outbox: VecDeque<(Time, Event)>,
    /// News on their way from the core.
    pub(crate) inbox: Queue<ClientEvent>,
    last_beat: Time,
}

impl Default for SimClient {
    fn default() -> Self {
        SimClient {
            presence: Presence::Connected,
            resumed: false,
            held: BTreeMap::new(),
            outbox: VecDeque::new(),
            inbox: Queue::new(),
            last_beat: Time::ZERO,
        }
    }
}

impl SimClient {
    /// Keeps what the scheduler said, checking that it could be true: a
    /// key errs only if it cannot be computed (it or an input fails) or
    /// workers died running it; a future is cancelled only by a cancel
    /// (its own, or of one of its inputs).
    pub(crate) fn told(&mut self, news: ClientEvent, expected: &Expected) {
        let ClientEvent::Key(news) = news else {
            panic!("only key news are sent: {news:?}");
        };
        match news {
            ToClient::Finished { key, .. } => self.set(key, Told::Finished),
            ToClient::Erred { key, failure } => {
                assert!(
                    failure.kind == FailureKind::KilledWorker
                        || !expected.borrow().contains_key(&key),
                    "{key}, which can be computed, erred: {failure:?}"
                );
                self.set(key, Told::Erred)
            }
            ToClient::Lost { key } => self.set(key, Told::Pending),
            ToClient::Cancelled { key, reason } => {
                // After a resume, the core cancels what the client says it
                // holds and the core does not (news lost with the
                // connection: a cancel, a refused graph).
                assert!(
                    reason == CANCEL_REASON || !self.held.contains_key(&key) || self.resumed,
                    "{key} was cancelled, though nobody cancelled it: {reason}"
                );
                self.held.remove(&key);
            }
            ToClient::Rejected { keys, .. } => {
                for key in keys {
                    self.held.remove(&key);
                }
            }
            other => panic!("unasked-for news: {other:?}"),
        }
    }

    pub(crate) fn is_away(&self) -> bool {
        matches!(self.presence, Presence::Away(_))
    }

    pub(crate) fn is_dropped(&self) -> bool {
        self.presence == Presence::Dropped
    }

    fn is_connected(&self) -> bool {
        self.presence == Presence::Connected
    }

    /// The core saw the connection close; it comes back at `back_at`.
    pub(crate) fn gone_away(&mut self, back_at: Time) {
        self.presence = Presence::Away(back_at);
    }

    fn set(&mut self, key: TaskKey, told: Told) {
        if let Some(status) = self.held.get_mut(&key) {
            *status = told;
        }
    }

    /// Whether every future it holds has settled and it has nothing to
    /// send.
    pub(crate) fn settled(&self) -> bool {
        self.is_connected()
            && self.outbox.is_empty()
            && self.held.values().all(|told| *told != Told::Pending)
    }
}

impl World {
    /// `client` sends `event` after a delay, behind what it sent before.
    pub(crate) fn client_send(&mut self, client: ClientId, event: Event) {
        let due = self.delay();
        let sim = self.clients.get_mut(&client).expect("a client");
        let due = sim.outbox.back().map_or(due, |(last, _)| due.max(*last));
        sim.outbox.push_back((due, event));
    }

    /// Heartbeats of connected clients that are due one.
    pub(crate) fn client_beats(&mut self) {
        let due: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, c)| c.is_connected() && self.now.since(c.last_beat) >= HEARTBEAT)
            .map(|(id, _)| *id)
            .collect();
        for client in due {
            self.clients.get_mut(&client).expect("a client").last_beat = self.now;
            self.client_send(client, Event::ClientHeartbeat { client });
        }
    }

    /// `client` submits one to six tasks and holds them all (unless it
    /// holds many already, or is not connected).
    pub(crate) fn submit(&mut self, client: ClientId) {
        let sim = &self.clients[&client];
        if sim.held.len() >= HELD_MAX || !sim.is_connected() {
            return;
        }
        let mut inputs: Vec<TaskKey> = self.clients[&client].held.keys().copied().collect();
        let mut tasks = Vec::new();
        for _ in 0..1 + self.rng.below(6) {
            self.next_key += 1;
            let mut key = [0; 16];
            key[..8].copy_from_slice(&self.next_key.to_le_bytes());
            let key = TaskKey(key);
            let function = if self.rng.chance(4) { FAILING } else { "f" };
            let mut args = vec![GraphArg::Value(self.next_key.to_le_bytes().to_vec())];
            for _ in 0..self.rng.below(3) {
                if let Some(input) = self.rng.pick(&inputs) {
                    args.push(GraphArg::Key(input));
                }
            }
            self.expect(key, function, &args);
            tasks.push(GraphTask {
                key,
                module: MODULE,
                function: function.to_string(),
                args,
                retries: self.rng.below(2) as u32,
                pure: false,
            });
            inputs.push(key);
        }
        let wants: Vec<TaskKey> = tasks.iter().map(|t| t.key).collect();
        let sim = self.clients.get_mut(&client).expect("a client");
        for key in &wants {
            sim.held.insert(*key, Told::Pending);
        }
        self.client_send(
            client,
            Event::UpdateGraph {
                client,
                tasks,
                wants,
            },
        );
    }

    /// Records the right value of a task, if it can be computed (its
    /// inputs can).
    fn expect(&mut self, key: TaskKey, function: &str, args: &[GraphArg]) {
        let mut expected = self.expected.borrow_mut();
        let mut values: Vec<Bytes> = Vec::new();
        let mut spec_args = Vec::new();
        for arg in args {
            match arg {
                GraphArg::Value(bytes) => spec_args.push(SpecArg::Value(bytes.clone())),
                GraphArg::Key(input) => {
                    let Some(value) = expected.get(input) else {
                        return;
                    };
                    values.push(value.clone());
                    spec_args.push(SpecArg::Key(*input));
                }
            }
        }
        let spec = Arc::new(TaskSpec::new(MODULE, function, spec_args));
        if let Some(value) = compute(&spec, &values) {
            expected.insert(key, value);
        }
    }

    /// `client` lets go of some of its futures, or cancels one.
    pub(crate) fn let_go(&mut self, client: ClientId) {
        if !self.clients[&client].is_connected() {
            return;
        }
        let held: Vec<TaskKey> = self.clients[&client].held.keys().copied().collect();
        let Some(key) = self.rng.pick(&held) else {
            return;
        };
        let sim = self.clients.get_mut(&client).expect("a client");
        sim.held.remove(&key);
        // Sometimes everything settled goes too.
        if self.rng.chance(30) {
            let settled: Vec<TaskKey> = sim
                .held
                .iter()
                .filter(|(_, told)| **told != Told::Pending)
                .map(|(key, _)| *key)
                .collect();
            for key in &settled {
                sim.held.remove(key);
            }
            if !settled.is_empty() {
                self.client_send(
                    client,
                    Event::ReleaseKeys {
                        client,
                        keys: settled,
                    },
                );
            }
        }
        let event = if self.rng.chance(70) {
            Event::ReleaseKeys {
                client,
                keys: vec![key],
            }
        } else {
            Event::Cancel {
                client,
                keys: vec![key],
                force: self.rng.chance(50),
                reason: CANCEL_REASON.into(),
            }
        };
        self.client_send(client, event);
    }

    /// Every client lets go of everything.
    pub(crate) fn release_everything(&mut self) {
        let clients: Vec<ClientId> = self.clients.keys().copied().collect();
        for client in clients {
            let sim = self.clients.get_mut(&client).expect("a client");
            let keys: Vec<TaskKey> = std::mem::take(&mut sim.held).into_keys().collect();
            if !keys.is_empty() {
                self.client_send(client, Event::ReleaseKeys { client, keys });
            }
        }
    }

    /// The keys clients hold that have not settled.
    pub(crate) fn unsettled(&self) -> BTreeSet<TaskKey> {
        self.clients
            .values()
            .flat_map(|c| c.held.iter())
            .filter(|(_, told)| **told == Told::Pending)
            .map(|(key, _)| *key)
            .collect()
    }

    /// `client`'s connection drops: what it sent still arrives, then the
    /// core sees it close; news on the way are lost.
    pub(crate) fn drop_connection(&mut self, client: ClientId) {
        let sim = self.clients.get_mut(&client).expect("a client");
        if !sim.is_connected() {
            return;
        }
        sim.presence = Presence::Dropped;
        sim.inbox.clear();
        self.client_send(client, Event::ClientDisconnected { client });
    }

    /// Away clients whose time has come reconnect: they resume, and say
    /// which futures they hold.
    pub(crate) fn client_returns(&mut self) {
        let now = self.now;
        let back: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, c)| matches!(c.presence, Presence::Away(at) if at <= now))
            .map(|(id, _)| *id)
            .collect();
        for client in back {
            let sim = self.clients.get_mut(&client).expect("a client");
            sim.presence = Presence::Connected;
            sim.resumed = true;
            sim.last_beat = now;
            let keys: Vec<TaskKey> = sim.held.keys().copied().collect();
            self.client_send(client, Event::ClientResumed { client });
            self.client_send(client, Event::ClientHolds { client, keys });
        }
    }

    /// The core let go of an away client at the end of its grace: the
    /// client is gone with its futures, and what it sends on its way back
    /// is refused (the state task answers `SessionLost`); a new client
    /// connects.
    pub(crate) fn client_expired(&mut self, client: ClientId) {
        count(EXPIRED);
        self.clients.remove(&client).expect("a known client");
        self.connect_client();
    }
}
