//! Time-driven decisions: the core's timers and what happens when they fire.
//!
//! - A worker that sends nothing for `worker_ttl` is removed exactly as a
//!   dead one (its work rescheduled, its copies forgotten) and told to
//!   rejoin: it drops what it held and joins again with nothing.
//! - A client that sends nothing for `client_ttl` is disconnected by the
//!   driver (`Command::DisconnectClient`), which then reports the
//!   disconnection like any other.
//! - A disconnected client keeps what it holds for `client_grace`; at the
//!   end of it everything is released (`Command::ClientExpired`).
//!   Cancellations and losses that happen while it is away are kept and
//!   told to it when it resumes.
//! - A restart waits `restart_timeout` for the workers it restarted.
//!
//! Timers are lazy: hearing from a peer only records the time, and a timer
//! that fires early is re-armed for the true deadline, so the hot path
//! (every report) costs one store.

use crate::errors::{RequestError, RestartError};
use crate::ids::{ClientId, WorkerId};
use crate::messages::{Command, ToClient, ToWorker};
use crate::scheduler::Scheduler;
use crate::time::Time;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use weft_schema::graph::TaskKey;

/// Something that happens at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Timer {
    /// Check that the worker was heard from within `worker_ttl`.
    Worker(WorkerId),
    /// Check the client's heartbeat, or end its grace.
    Client(ClientId),
    /// The pending restart's time is up.
    Restart,
    /// The client's waiting requests may be admitted (`admission.rs`).
    Admit(ClientId),
}

/// The armed timers, at most one deadline each.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    due: BTreeSet<(Time, Timer)>,
    armed: HashMap<Timer, Time>,
}

impl Timers {
    /// Arms `timer` for `at`, replacing its earlier deadline.
    pub(crate) fn arm(&mut self, timer: Timer, at: Time) {
        if let Some(old) = self.armed.insert(timer, at) {
            self.due.remove(&(old, timer));
        }
        self.due.insert((at, timer));
    }

    /// Disarms `timer`, if armed.
    pub(crate) fn disarm(&mut self, timer: Timer) {
        if let Some(old) = self.armed.remove(&timer) {
            self.due.remove(&(old, timer));
        }
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Time> {
        self.due.first().map(|(at, _)| *at)
    }

    /// Takes a timer whose deadline is not after `now`.
    pub(crate) fn pop_due(&mut self, now: Time) -> Option<Timer> {
        let &(at, timer) = self.due.first()?;
        if at > now {
            return None;
        }
        self.due.pop_first();
        self.armed.remove(&timer);
        Some(timer)
    }

    /// Whether `timer` is armed.
    pub(crate) fn is_armed(&self, timer: Timer) -> bool {
        self.armed.contains_key(&timer)
    }
}

/// Whether a client is connected, as far as the core knows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Presence {
    /// Connected; last heard from at this time.
    Connected { last_heard: Time },
    /// Disconnected within its grace, which ends at `until`. `missed`
    /// holds what it must be told when it resumes and could not be derived
    /// from the state of its keys then (cancellations, losses), by key.
    Away {
        until: Time,
        missed: BTreeMap<TaskKey, ToClient>,
    },
}

impl Default for Presence {
    fn default() -> Self {
        Presence::Connected {
            last_heard: Time::ZERO,
        }
    }
}

/// A restart waiting for its workers to join again.
#[derive(Debug)]
pub(crate) struct PendingRestart {
    pub(crate) client: ClientId,
    pub(crate) request: u64,
    /// The instances restarted.
    pub(crate) expected: usize,
    /// Those not back yet.
    pub(crate) missing: BTreeSet<u64>,
}

impl Scheduler {
    /// Records that `worker` spoke now.
    pub(crate) fn heard_from_worker(&mut self, worker: WorkerId) {
        if let Some(state) = self.workers.get_mut(&worker) {
            state.last_heard = self.now;
        }
    }

    /// Records that `client` spoke now.
    pub(crate) fn heard_from_client(&mut self, client: ClientId) {
        if let Some(state) = self.clients.get_mut(&client)
            && let Presence::Connected { last_heard } = &mut state.presence
        {
            *last_heard = self.now;
        }
    }

    /// A worker joined (or rejoined after a restart or its TTL).
    pub(crate) fn worker_joined(&mut self, worker: WorkerId, nthreads: u32, instance: u64) {
        self.passed_over.clear();
        if self.workers.contains_key(&worker) {
            self.heard_from_worker(worker);
            return;
        }
        let state = crate::worker::WorkerState::new(nthreads, instance, self.now);
        self.workers.insert(worker, state);
        if !self.config.worker_ttl.is_zero() {
            let deadline = self.now.after(self.config.worker_ttl);
            self.timers.arm(Timer::Worker(worker), deadline);
        }
        self.restart_progress(instance);
    }

    /// A client connected.
    pub(crate) fn client_connected(&mut self, client: ClientId, tenant: crate::TenantId) {
        let state = self.clients.entry(client).or_default();
        state.tenant = tenant;
        state.presence = Presence::Connected {
            last_heard: self.now,
        };
        self.arm_client_ttl(client);
    }

    /// Watches a connected client's heartbeat (and drops the grace timer
    /// of its absence, if any).
    fn arm_client_ttl(&mut self, client: ClientId) {
        if self.config.client_ttl.is_zero() {
            self.timers.disarm(Timer::Client(client));
        } else {
            let deadline = self.now.after(self.config.client_ttl);
            self.timers.arm(Timer::Client(client), deadline);
        }
    }

    /// A client's connection dropped; it may resume within `client_grace`.
    pub(crate) fn client_disconnected(&mut self, client: ClientId) {
        let until = self.now.after(self.config.client_grace);
        let Some(state) = self.clients.get_mut(&client) else {
            return;
        };
        if matches!(state.presence, Presence::Away { .. }) {
            return;
        }
        state.presence = Presence::Away {
            until,
            missed: BTreeMap::new(),
        };
        self.timers.arm(Timer::Client(client), until);
    }

    /// A client is back within its grace: it is told where each of its
    /// keys stands, and what happened to the keys it lost meanwhile.
    pub(crate) fn client_resumed(&mut self, client: ClientId) {
        let Some(state) = self.clients.get_mut(&client) else {
            // Unknown (its grace ended first): it holds nothing.
            self.clients.entry(client).or_default().presence = Presence::Connected {
                last_heard: self.now,
            };
            self.arm_client_ttl(client);
            return;
        };
        let presence = std::mem::replace(
            &mut state.presence,
            Presence::Connected {
                last_heard: self.now,
            },
        );
        let mut held: Vec<crate::ids::TaskId> = state.wants.iter().copied().collect();
        held.sort_unstable();
        if let Presence::Away { missed, .. } = presence {
            let mut told = std::collections::HashSet::new();
            for message in missed.into_values() {
                match &message {
                    ToClient::Cancelled { key, .. } => {
                        told.insert(*key);
                    }
                    ToClient::Rejected { keys, .. } => told.extend(keys.iter().copied()),
                    _ => {}
                }
                self.send(Command::Client(client, message));
            }
            if let Some(state) = self.clients.get_mut(&client) {
                state.told_on_resume = told;
            }
        }
        for id in held {
            self.report_status(client, id);
        }
        self.arm_client_ttl(client);
    }

    /// See [`crate::Event::ClientHolds`].
    pub(crate) fn client_holds(&mut self, client: ClientId, keys: &[TaskKey]) {
        let told = self
            .clients
            .get_mut(&client)
            .map(|state| std::mem::take(&mut state.told_on_resume))
            .unwrap_or_default();
        for key in keys {
            let held = self.id_for(client, key).is_some_and(|id| {
                self.clients
                    .get(&client)
                    .is_some_and(|state| state.wants.contains(&id))
            });
            if !held && !told.contains(key) {
                let reason = "cancelled while the client was disconnected".to_string();
                self.send(Command::Client(
                    client,
                    ToClient::Cancelled { key: *key, reason },
                ));
            }
        }
    }

    /// Keeps `message` for `client` if it is away and would not learn it
    /// from the state of its keys when it resumes. Returns whether it was
    /// kept (or dropped: nobody would read it).
    pub(crate) fn hold_for_away(&mut self, client: ClientId, message: &ToClient) -> bool {
        let Some(state) = self.clients.get_mut(&client) else {
            return false;
        };
        let Presence::Away { missed, .. } = &mut state.presence else {
            return false;
        };
        match message {
            ToClient::Cancelled { key, .. } | ToClient::Lost { key } => {
                missed.insert(*key, message.clone());
            }
            // A graph that waited for the submit rate and was refused when
            // it was applied, while its client was away: its futures learn
            // it on resume.
            ToClient::Rejected {
                keys,
                reason,
                quota,
            } => {
                for key in keys {
                    let refusal = ToClient::Rejected {
                        keys: vec![*key],
                        reason: reason.clone(),
                        quota: quota.clone(),
                    };
                    missed.insert(*key, refusal);
                }
            }
            // Re-derived on resume, or answers to requests the client
            // failed itself when its connection dropped.
            ToClient::Finished { .. }
            | ToClient::Erred { .. }
            | ToClient::Done { .. }
            | ToClient::Dataset { .. } => {}
        }
        true
    }

    /// The timers' invariants: every worker is watched (with a TTL), every
    /// away client's grace is timed, a connected client is watched only
    /// with a TTL, no timer waits for a client that is gone, and a pending
    /// restart has its deadline. (A worker's timer outlives it until it
    /// fires: harmless, it finds no worker.)
    pub(crate) fn validate_timers(&self) -> Result<(), String> {
        for (worker, state) in &self.workers {
            if !self.config.worker_ttl.is_zero() && !self.timers.is_armed(Timer::Worker(*worker)) {
                return Err(format!("{worker} has no liveness timer"));
            }
            if state.last_heard > self.now {
                return Err(format!("{worker} was heard from in the future"));
            }
        }
        for (client, state) in &self.clients {
            let armed = self.timers.is_armed(Timer::Client(*client));
            match state.presence {
                Presence::Away { .. } if !armed => {
                    return Err(format!("{client} is away with no grace timer"));
                }
                Presence::Connected { .. } if armed && self.config.client_ttl.is_zero() => {
                    return Err(format!("{client} is watched though client_ttl is zero"));
                }
                _ => {}
            }
        }
        for (_, timer) in &self.timers.due {
            if let Timer::Client(client) | Timer::Admit(client) = timer
                && !self.clients.contains_key(client)
            {
                return Err(format!("a timer is armed for {client}, who is gone"));
            }
        }
        if self.restart.is_some() != self.timers.is_armed(Timer::Restart) {
            return Err("a pending restart and its deadline disagree".into());
        }
        if self.timers.due.len() != self.timers.armed.len() {
            return Err("the timer index and the deadlines disagree".into());
        }
        Ok(())
    }

    /// Fires every timer due at `self.now`.
    pub(crate) fn fire_due_timers(&mut self) {
        while let Some(timer) = self.timers.pop_due(self.now) {
            match timer {
                Timer::Worker(worker) => self.check_worker(worker),
                Timer::Client(client) => self.check_client(client),
                Timer::Restart => self.restart_timed_out(),
                Timer::Admit(client) => self.admit_deferred(client),
            }
        }
    }

    fn check_worker(&mut self, worker: WorkerId) {
        let Some(state) = self.workers.get(&worker) else {
            return;
        };
        let ttl = self.config.worker_ttl;
        let deadline = state.last_heard.after(ttl);
        if deadline > self.now {
            self.timers.arm(Timer::Worker(worker), deadline);
            return;
        }
        let reason = format!("it sent nothing for {ttl:?} (worker_ttl)");
        self.copies_lost(worker);
        self.worker_left(worker, Some(&reason));
        self.send(Command::Worker(worker, ToWorker::Rejoin { reason }));
    }

    fn check_client(&mut self, client: ClientId) {
        let Some(state) = self.clients.get(&client) else {
            return;
        };
        match &state.presence {
            Presence::Connected { .. } if self.config.client_ttl.is_zero() => {}
            Presence::Connected { last_heard } => {
                let ttl = self.config.client_ttl;
                let deadline = last_heard.after(ttl);
                if deadline <= self.now {
                    let reason = format!("it sent nothing for {ttl:?} (client_ttl)");
                    self.send(Command::DisconnectClient { client, reason });
                    // Until the driver reports the disconnection.
                    self.timers.arm(Timer::Client(client), self.now.after(ttl));
                } else {
                    self.timers.arm(Timer::Client(client), deadline);
                }
            }
            Presence::Away { until, .. } if *until > self.now => {
                self.timers.arm(Timer::Client(client), *until);
            }
            Presence::Away { .. } => {
                self.client_gone(client);
                self.send(Command::ClientExpired { client });
            }
        }
    }

    /// A client is gone for good: its timer goes with it.
    pub(crate) fn forget_client_timer(&mut self, client: ClientId) {
        self.timers.disarm(Timer::Client(client));
    }

    /// See [`crate::Event::Restart`]: every task is forgotten and every
    /// worker restarted; the client is answered when the same workers are
    /// back, or at `restart_timeout`.
    pub(crate) fn restart_cluster(&mut self, client: ClientId, request: u64) {
        if self.restart.is_some() {
            let error = Some(RestartError::UnderWay.into());
            self.send(Command::Client(client, ToClient::Done { request, error }));
            return;
        }
        self.restart_tenant(None);
        let workers: Vec<(WorkerId, u64)> = self
            .workers
            .iter()
            .map(|(id, w)| (*id, w.instance))
            .collect();
        let missing: BTreeSet<u64> = workers.iter().map(|(_, instance)| *instance).collect();
        for (worker, _) in workers {
            // It leaves the books now (it holds nothing any more), so
            // nothing is sent to one about to restart; it joins again when
            // it is back.
            self.worker_left(worker, Some("restarting"));
            self.send(Command::Worker(worker, ToWorker::Restart));
        }
        if missing.is_empty() {
            self.send(Command::Client(
                client,
                ToClient::Done {
                    request,
                    error: None,
                },
            ));
            return;
        }
        self.restart = Some(PendingRestart {
            client,
            request,
            expected: missing.len(),
            missing,
        });
        let deadline = self.now.after(self.config.restart_timeout);
        self.timers.arm(Timer::Restart, deadline);
    }

    /// A worker instance joined: one fewer for the pending restart.
    fn restart_progress(&mut self, instance: u64) {
        let Some(pending) = self.restart.as_mut() else {
            return;
        };
        pending.missing.remove(&instance);
        if pending.missing.is_empty() {
            let pending = self.restart.take().expect("present");
            self.timers.disarm(Timer::Restart);
            self.answer_restart(pending, None);
        }
    }

    fn restart_timed_out(&mut self) {
        let Some(pending) = self.restart.take() else {
            return;
        };
        let back = pending.expected - pending.missing.len();
        let error = Some(
            RestartError::TimedOut {
                back,
                expected: pending.expected,
                timeout: self.config.restart_timeout,
            }
            .into(),
        );
        self.answer_restart(pending, error);
    }

    /// Tells the client that asked for a restart how it went, if it is
    /// still there.
    fn answer_restart(&mut self, pending: PendingRestart, error: Option<RequestError>) {
        if self.clients.contains_key(&pending.client) {
            let request = pending.request;
            self.send(Command::Client(
                pending.client,
                ToClient::Done { request, error },
            ));
        }
    }
}
