//! The network between the core and its workers, as TCP gives it: one
//! connection per worker id, with two FIFO queues, the core's commands to
//! the worker and the worker's reports to the core. A message is due a
//! random delay (under `DELAY_MAX`) after it is sent, never before the one
//! ahead of it, and arrives by a random delivery step once due, or at the
//! latest `STALL_MAX` after (so a live worker's heartbeats always arrive
//! within `LATENCY_MAX`). The two directions of a link, and different
//! links, interleave arbitrarily. A stopped (hung) worker reads nothing,
//! but what it sent still arrives. A connection ends closed (what the
//! worker sent still arrives, then the driver reports `WorkerLeft`) or reset
//! (both queues lost, then `WorkerLeft`); what the core sends meanwhile is
//! lost. TCP neither duplicates nor reorders, and a worker never resends (a
//! reconnection is a new process with a new id, holding nothing), so the
//! simulation duplicates nothing itself.
//!
//! Crossings are detected here, from the queues' contents at delivery, and
//! counted; so are the stale reports, from a worker the core removed, that
//! the queues carry.

use super::*;

/// The longest delay a message is given.
pub(super) const DELAY_MAX: Duration = Duration::from_millis(60);
/// How long a due message may wait for a delivery step.
pub(super) const STALL_MAX: Duration = Duration::from_millis(100);
/// The longest a message can be on its way (well under `WORKER_TTL` less
/// `HEARTBEAT`: a live worker is never removed).
pub(super) const LATENCY_MAX: Duration = DELAY_MAX.saturating_add(STALL_MAX);

/// How often a step is a delivery step, in percent.
pub(super) const DELIVERY_PERCENT: u64 = 25;
/// After each message a delivery step delivers, how likely it delivers
/// another, in percent.
pub(super) const DELIVERY_MORE_PERCENT: u64 = 80;

/// A message on its way.
pub(super) struct Flight<M> {
    /// When it may arrive.
    pub(super) due: Time,
    /// When it was sent.
    pub(super) sent: Time,
    /// For a report announcing a value (`TaskFinished`, `ReplicaAdded`),
    /// the value's stamp; for a `Free` answering such a report, the same.
    pub(super) stamp: Option<u64>,
    pub(super) message: M,
}

/// What a worker's connection carries to the core.
pub(super) enum Up {
    /// A report, which the driver hands to the core as this event.
    Report(Event),
    /// The connection closed (after the reports ahead of it): the driver
    /// reports `WorkerLeft` with the reason the worker gave, if any.
    Closed(Option<String>),
}

/// One worker's connection.
#[derive(Default)]
pub(super) struct Link {
    pub(super) down: VecDeque<Flight<ToWorker>>,
    pub(super) up: VecDeque<Flight<Up>>,
    /// The worker's end is gone: what the core sends is lost.
    pub(super) closed: bool,
    /// When the core told the worker to rejoin or restart (it left the
    /// books), until the core hears it join again.
    pub(super) removed_at: Option<Time>,
}

impl Link {
    /// Whether a report on its way to the core matches.
    pub(super) fn reporting(&self, matches: impl Fn(&Event) -> bool) -> bool {
        self.up
            .iter()
            .any(|f| matches!(&f.message, Up::Report(event) if matches(event)))
    }

    /// Whether a command on its way to the worker matches.
    pub(super) fn commanding(&self, matches: impl Fn(&ToWorker) -> bool) -> bool {
        self.down.iter().any(|f| matches(&f.message))
    }
}

/// Which queue of a link.
#[derive(Clone, Copy, Debug)]
pub(super) enum Direction {
    Down,
    Up,
}

impl Sim {
    /// When a message sent now on a queue whose last message is due at
    /// `last` arrives.
    fn due(&mut self, last: Option<Time>) -> Time {
        let delay = self.rng.below(DELAY_MAX.as_micros() as usize) as u64;
        let due = self.now.after(Duration::from_micros(delay));
        last.map_or(due, |last| due.max(last))
    }

    /// A new connection for `worker`.
    pub(super) fn connect(&mut self, worker: WorkerId) {
        let old = self.links.insert(worker, Link::default());
        assert!(old.is_none(), "{worker} connected twice");
    }

    /// The core's command for `worker` goes on its connection.
    pub(super) fn send_down(&mut self, worker: WorkerId, message: ToWorker) {
        let step = self.step;
        let Some(link) = self.links.get(&worker) else {
            panic!("step {step}: {message:?} for {worker}, whose departure the core was told");
        };
        assert!(
            link.removed_at.is_none(),
            "step {step}: {message:?} for {worker}, which was told to rejoin or restart"
        );
        let now = self.now;
        match &message {
            ToWorker::Rejoin { .. } | ToWorker::Restart => {
                self.links.get_mut(&worker).expect("listed").removed_at = Some(now);
            }
            ToWorker::Compute(task) => {
                self.latest_run.insert(task.key, task.run);
                self.dispatched.insert(task.key, (worker, task.run));
            }
            _ => {}
        }
        if self.links[&worker].closed {
            // Lost with the connection; the driver reports the close soon.
            return;
        }
        match &message {
            ToWorker::Rejoin { .. } => {
                self.check_silent(worker);
                count(TTL_EXPIRIES);
            }
            ToWorker::Fetch { .. } => count(FETCHES),
            _ => {}
        }
        let stamp = match (&message, self.answering) {
            (ToWorker::Free { keys }, Some((w, key, stamp)))
                if w == worker && keys[..] == [key] =>
            {
                Some(stamp)
            }
            _ => None,
        };
        let last = self.links[&worker].down.back().map(|f| f.due);
        let due = self.due(last);
        let link = self.links.get_mut(&worker).expect("checked");
        link.down.push_back(Flight {
            due,
            sent: now,
            stamp,
            message,
        });
    }

    /// Prints `what` if it names the traced key (`WEFT_SIM_TRACE`).
    pub(super) fn trace(&self, what: impl FnOnce() -> String) {
        if let Some(key) = &self.trace {
            let text = what();
            if text.contains(key.as_str()) {
                eprintln!("step {} at {}: {text}", self.step, self.now);
            }
        }
    }

    /// `worker` sends a report to the core.
    pub(super) fn report(&mut self, worker: WorkerId, event: Event) {
        self.trace(|| format!("{worker} sends {event:?}"));
        let now = self.now;
        let sim = self
            .workers
            .get_mut(&worker)
            .expect("a live process reports");
        while sim
            .sent
            .front()
            .is_some_and(|s| now.since(*s) >= WORKER_TTL)
        {
            sim.sent.pop_front();
        }
        sim.sent.push_back(now);
        let stamp = match &event {
            Event::TaskFinished { key, .. } | Event::ReplicaAdded { key, .. } => {
                sim.data.get(key).copied()
            }
            _ => None,
        };
        self.send_up(worker, Up::Report(event), stamp);
    }

    fn send_up(&mut self, worker: WorkerId, message: Up, stamp: Option<u64>) {
        let link = self
            .links
            .get(&worker)
            .expect("a live process is connected");
        assert!(!link.closed, "{worker} sends on a closed connection");
        let last = link.up.back().map(|f| f.due);
        let due = self.due(last);
        let sent = self.now;
        let link = self.links.get_mut(&worker).expect("checked");
        link.up.push_back(Flight {
            due,
            sent,
            stamp,
            message,
        });
    }

    /// The connection of `worker`, whose process is gone, ends: closed (what
    /// it sent still arrives) or reset (both queues are lost).
    pub(super) fn disconnect(&mut self, worker: WorkerId, reason: Option<String>, reset: bool) {
        assert!(!self.workers.contains_key(&worker), "{worker} still runs");
        let link = self.links.get_mut(&worker).expect("connected");
        link.down.clear();
        if reset {
            link.up.clear();
        }
        self.send_up(worker, Up::Closed(reason), None);
        self.links.get_mut(&worker).expect("connected").closed = true;
    }

    /// Whether `worker` reads its connection now (it runs and is not hung).
    fn reads(&self, worker: WorkerId) -> bool {
        self.workers
            .get(&worker)
            .is_some_and(|w| w.hung_until.is_none())
    }

    /// Every queue whose next message can be delivered, with its due time.
    fn heads(&self) -> Vec<(Time, WorkerId, Direction)> {
        let mut heads = Vec::new();
        for (worker, link) in &self.links {
            if let Some(f) = link.up.front() {
                heads.push((f.due, *worker, Direction::Up));
            }
            if let Some(f) = link.down.front()
                && self.reads(*worker)
            {
                heads.push((f.due, *worker, Direction::Down));
            }
        }
        heads
    }

    /// A delivery step: the next message of a random queue among those
    /// whose next message is due. Returns whether there was one.
    pub(super) fn deliver_random(&mut self) -> bool {
        let now = self.now;
        let due: Vec<(WorkerId, Direction)> = self
            .heads()
            .into_iter()
            .filter(|(at, _, _)| *at <= now)
            .map(|(_, w, d)| (w, d))
            .collect();
        let Some((worker, direction)) = self.rng.pick(&due) else {
            return false;
        };
        count(DELIVERED_BY_STEP);
        self.deliver(worker, direction);
        true
    }

    /// When a message must arrive at the latest (`STALL_MAX` after its due
    /// time), if any is on its way.
    pub(super) fn next_forced(&self) -> Option<Time> {
        self.heads()
            .into_iter()
            .map(|(at, _, _)| at.after(STALL_MAX))
            .min()
    }

    /// Delivers, oldest first, every message that must have arrived by now.
    pub(super) fn deliver_overdue(&mut self) {
        while let Some((_, worker, direction)) = self
            .heads()
            .into_iter()
            .filter(|(at, _, _)| at.after(STALL_MAX) <= self.now)
            .min_by_key(|(at, _, _)| *at)
        {
            count(DELIVERED_LATE);
            self.deliver(worker, direction);
        }
    }

    /// Delivers the message due first, whatever the time; false if no
    /// message is on its way (for the drain, where every worker reads).
    pub(super) fn deliver_next(&mut self) -> bool {
        let Some((_, worker, direction)) = self.heads().into_iter().min_by_key(|(at, _, _)| *at)
        else {
            return false;
        };
        self.deliver(worker, direction);
        true
    }

    /// Delivers the next message of one queue, then checks everything.
    fn deliver(&mut self, worker: WorkerId, direction: Direction) {
        let link = self.links.get_mut(&worker).expect("listed");
        match direction {
            Direction::Down => {
                let flight = link.down.pop_front().expect("a head");
                self.last_event = Last::Read(worker, flight.message.clone());
                self.trace(|| format!("{worker} reads {:?}", flight.message));
                self.crossings(worker, &flight.message);
                self.receive(worker, flight.message, flight.stamp);
                self.check();
            }
            Direction::Up => {
                let flight = link.up.pop_front().expect("a head");
                match flight.message {
                    Up::Closed(reason) => {
                        self.trace(|| format!("{worker}'s connection closed"));
                        self.links.remove(&worker);
                        self.event(Event::WorkerLeft { worker, reason });
                    }
                    Up::Report(event @ Event::WorkerJoined { .. }) => {
                        link.removed_at = None;
                        self.event(event);
                    }
                    Up::Report(event) if !self.core.has_worker(worker) => {
                        self.stale(worker, flight.sent, event)
                    }
                    Up::Report(event) => {
                        let mut left = None;
                        if let (
                            Event::TaskFinished { key, .. } | Event::ReplicaAdded { key, .. },
                            Some(stamp),
                        ) = (&event, flight.stamp)
                        {
                            self.answering = Some((worker, *key, stamp));
                            if matches!(event, Event::ReplicaAdded { .. })
                                && self.core.processing_on(key) == Some(worker)
                            {
                                // Left to the run (see `workers.rs`).
                                left = Some((worker, *key, stamp));
                            }
                        }
                        self.event(event);
                        self.left.extend(left);
                    }
                }
            }
        }
    }

    /// A report from a worker the core removed (told to rejoin or
    /// restart), sent before it learnt so: ignored.
    fn stale(&mut self, worker: WorkerId, sent: Time, event: Event) {
        let removed_at = self.links[&worker]
            .removed_at
            .expect("a worker out of the books was told to rejoin or restart");
        if matches!(event, Event::WorkerHeartbeat { .. }) {
            self.event(event);
            return;
        }
        count(STALE_REPORTS);
        if sent < removed_at {
            count(STALE_IN_FLIGHT);
        }
        let before = self.core.summary();
        self.event(event);
        assert_eq!(
            before,
            self.core.summary(),
            "step {}: a stale report from removed {worker} changed the books",
            self.step
        );
    }

    /// Counts what `message`, arriving at `worker` now, crossed in flight.
    fn crossings(&self, worker: WorkerId, message: &ToWorker) {
        let link = &self.links[&worker];
        match message {
            ToWorker::Free { keys } => {
                let crossed = link.reporting(
                    |e| matches!(e, Event::TaskFinished { key, .. } if keys.contains(key)),
                );
                if crossed {
                    count(FREE_CROSSED_FINISHED);
                }
            }
            ToWorker::Steal { key, run } => {
                let crossed = link.reporting(|e| {
                    matches!(e, Event::TaskFinished { key: k, run: r, .. } if k == key && r == run)
                });
                if crossed {
                    count(STEAL_CROSSED_FINISHED);
                }
            }
            ToWorker::Compute(task) => {
                if self
                    .latest_run
                    .get(&task.key)
                    .is_some_and(|r| *r > task.run)
                {
                    count(COMPUTE_OUTDATED);
                }
            }
            ToWorker::Fetch { inputs } => {
                let gone = inputs.iter().any(|input| {
                    !input.holders.iter().any(|h| {
                        self.workers
                            .get(h)
                            .is_some_and(|w| w.data.contains_key(&input.key))
                    })
                });
                if gone {
                    count(FETCH_OUTDATED);
                }
            }
            ToWorker::Restart | ToWorker::Rejoin { .. } => {}
        }
    }

    /// `worker` is removed at its TTL now: it must have sent nothing that
    /// had time to arrive since `WORKER_TTL` ago (what it sent in the last
    /// `LATENCY_MAX` may still be on its way).
    fn check_silent(&self, worker: WorkerId) {
        let sim = self
            .workers
            .get(&worker)
            .expect("an open connection has its process");
        let now = self.now;
        if let Some(sent) = sim
            .sent
            .iter()
            .find(|s| now.since(**s) >= LATENCY_MAX && now.since(**s) < WORKER_TTL)
        {
            panic!(
                "step {}: {worker} was removed at its TTL, but it sent a report at {sent}, which had time to arrive (hung until {:?})",
                self.step, sim.hung_until
            );
        }
    }
}

/// A command's name, for the step description.
pub(super) fn command_name(message: &ToWorker) -> String {
    match message {
        ToWorker::Compute(task) => format!("Compute({}, run {})", task.key, task.run),
        ToWorker::Free { keys } => format!("Free({keys:?})"),
        ToWorker::Fetch { inputs } => format!(
            "Fetch({:?})",
            inputs.iter().map(|i| i.key).collect::<Vec<_>>()
        ),
        ToWorker::Steal { key, run } => format!("Steal({key}, run {run})"),
        ToWorker::Restart => "Restart".into(),
        ToWorker::Rejoin { .. } => "Rejoin".into(),
    }
}
