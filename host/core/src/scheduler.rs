//! The [`Scheduler`]: its tables and the event dispatcher (the read-only
//! queries are in `queries.rs`). Task states change only in
//! `task/transition.rs`. The handlers live in `graph.rs` (clients),
//! `references.rs` (what is kept and what is freed), `workers.rs` (worker
//! reports), `placement.rs` and `fair_share.rs`, `admission.rs`.

use crate::config::SchedulerConfig;
use crate::ids::{ClientId, StimulusId, TenantId, WorkerId, wire_key};
use crate::log::TransitionLog;
use crate::messages::{Command, Event, ModuleHash};
use crate::task::{IllegalTransition, Task, TaskId, TaskTable};
use crate::time::Time;
use crate::worker::WorkerState;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use weft_schema::graph::TaskKey;

/// Running estimate of how long a function's tasks take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DurationEstimate {
    pub(crate) average_us: u64,
    pub(crate) samples: u64,
}

/// A client's holdings.
#[derive(Debug, Default)]
pub(crate) struct ClientState {
    pub(crate) wants: HashSet<TaskId>,
    pub(crate) tenant: TenantId,
    /// Other tenants' tasks it holds through shared datasets: its name for
    /// each (`sharing::shared_name`) → the task's key on workers.
    pub(crate) aliases: HashMap<TaskKey, TaskKey>,
    /// Connected, or away within its grace.
    pub(crate) presence: crate::liveness::Presence,
    /// Keys it was told on its last resume were cancelled: its
    /// `ClientHolds` does not tell them again (with a vaguer reason).
    pub(crate) told_on_resume: HashSet<TaskKey>,
    /// Its requests waiting for its tenant's submit rate (`admission.rs`).
    pub(crate) deferred: crate::admission::Deferred,
}

/// The scheduler's decision logic: consumes [`Event`]s, produces
/// [`Command`]s. No I/O, no clock, no randomness: the same events at the
/// same times give the same commands.
///
/// Driving it: call [`Scheduler::handle`] for each event (with the time
/// and a stimulus id that names it) as they come, then drain
/// [`Scheduler::poll_command`] until it returns `None` and send what it
/// gave: placement runs once per drained batch, not once per event. Call
/// [`Scheduler::handle_timeout`] when the time [`Scheduler::poll_timeout`]
/// names has come. Queries ([`Scheduler::who_has`], [`Scheduler::story`],
/// ...) may be made at any time.
#[derive(Debug)]
pub struct Scheduler {
    pub(crate) config: SchedulerConfig,
    pub(crate) tasks: TaskTable,
    pub(crate) keys: HashMap<TaskKey, TaskId>,
    pub(crate) workers: BTreeMap<WorkerId, WorkerState>,
    pub(crate) clients: BTreeMap<ClientId, ClientState>,
    /// Each tenant's policy, usage and ready queue (`tenants.rs`).
    pub(crate) tenants: BTreeMap<TenantId, crate::tenants::TenantBook>,
    /// The tenants with queued tasks (`fair_share.rs`).
    pub(crate) backlogged: BTreeSet<TenantId>,
    /// Dispatches by the fair share so far (`TenantBook::last_turn`).
    pub(crate) turns: u64,
    /// The tenants that may be served next, by (virtual time, last turn,
    /// tenant): the first is served first (`fair_share.rs`).
    pub(crate) fair_order: BTreeSet<(u128, u64, TenantId)>,
    /// The virtual time at which the last tenant was served; a tenant that
    /// becomes eligible starts no earlier (`fair_share.rs`).
    pub(crate) virtual_clock: u128,
    /// Tenants a placement pass found no worker room for beyond the
    /// workers' shared cap (their slices full everywhere), until something
    /// widens their room: one of their tasks leaves a worker, a tenant
    /// leaves a worker, a worker joins or leaves (`fair_share.rs`). While
    /// no worker is under its shared cap, a pass passes over them without
    /// looking at every worker again.
    pub(crate) passed_over: BTreeSet<TenantId>,
    /// Each task function's index (in `durations` and `function_specs`),
    /// by module and name.
    pub(crate) functions: HashMap<ModuleHash, HashMap<String, u32>>,
    /// Each task function, shared by the specs of its tasks.
    pub(crate) function_specs: Vec<Arc<crate::messages::TaskFunction>>,
    pub(crate) durations: Vec<DurationEstimate>,
    pub(crate) next_priority: u64,
    /// Dispatches so far, across tasks: a worker's dispatch order.
    pub(crate) next_dispatch: u64,
    /// The next run number (`Scheduler::take_run`).
    pub(crate) next_run: u32,
    pub(crate) stimulus: StimulusId,
    pub(crate) log: TransitionLog,
    pub(crate) outbox: VecDeque<Command>,
    /// Replicate and rebalance requests waiting for workers, by (client,
    /// request id).
    pub(crate) operations: BTreeMap<(ClientId, u64), crate::operations::Operation>,
    /// Published datasets by name.
    pub(crate) datasets: BTreeMap<(TenantId, String), crate::datasets::Dataset>,
    /// The next dataset holder id (counting down).
    pub(crate) next_dataset_holder: u32,
    /// The latest time the driver gave.
    pub(crate) now: Time,
    /// Worker and client liveness, client grace, the restart deadline.
    pub(crate) timers: crate::liveness::Timers,
    /// A cluster restart waiting for its workers.
    pub(crate) restart: Option<crate::liveness::PendingRestart>,
    /// Events since the last placement pass may have made work placeable.
    pub(crate) placement_due: bool,
    /// The first state change the table does not allow, for `validate`.
    pub(crate) illegal_transition: Option<IllegalTransition>,
}

/// Counts of tasks by state, and other totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Tasks by state name.
    pub tasks: BTreeMap<String, usize>,
    /// Connected workers.
    pub workers: usize,
    /// Known clients (connected, or within their reconnection grace);
    /// datasets' holders are not counted.
    pub clients: usize,
}

impl Scheduler {
    /// An empty scheduler.
    pub fn new(config: SchedulerConfig) -> Scheduler {
        Scheduler {
            log: TransitionLog::new(config.transition_log_max),
            config,
            tasks: TaskTable::default(),
            keys: HashMap::new(),
            workers: BTreeMap::new(),
            clients: BTreeMap::new(),
            tenants: BTreeMap::new(),
            backlogged: BTreeSet::new(),
            turns: 0,
            fair_order: BTreeSet::new(),
            virtual_clock: 0,
            passed_over: BTreeSet::new(),
            functions: HashMap::new(),
            function_specs: Vec::new(),
            durations: Vec::new(),
            next_priority: 0,
            next_dispatch: 0,
            next_run: 1,
            stimulus: StimulusId(0),
            outbox: VecDeque::new(),
            operations: BTreeMap::new(),
            datasets: BTreeMap::new(),
            next_dataset_holder: u32::MAX,
            now: Time::ZERO,
            timers: crate::liveness::Timers::default(),
            restart: None,
            placement_due: false,
            illegal_transition: None,
        }
    }

    /// Applies one event that happened at `now` (a time earlier than one
    /// given before counts as that one). `stimulus` names it in the
    /// transition log.
    pub fn handle(&mut self, now: Time, stimulus: StimulusId, event: Event) {
        self.advance(now, stimulus);
        if let Some(worker) = event.reporting_worker() {
            if !self.workers.contains_key(&worker) {
                // A worker the books no longer hold (its TTL ran out, or it
                // left): it has been told to rejoin, and until it does, what
                // it says is stale.
                return;
            }
            self.heard_from_worker(worker);
        }
        if let Some(client) = event.client() {
            self.heard_from_client(client);
        }
        // A heartbeat changes nothing placement looks at.
        self.placement_due |= !matches!(
            event,
            Event::ClientHeartbeat { .. }
                | Event::WorkerHeartbeat { .. }
                | Event::WorkerRunning { .. }
        );
        let event = match event.client() {
            Some(client) if !matches!(event, Event::ClientHeartbeat { .. }) => {
                match self.defer_if_over_rate(client, event) {
                    Some(event) => event,
                    None => return,
                }
            }
            _ => event,
        };
        self.apply(event);
    }

    /// Applies an event that is not (or no longer) waiting.
    pub(crate) fn apply(&mut self, event: Event) {
        match event {
            Event::ClientConnected { client, tenant } => self.client_connected(client, tenant),
            Event::ClientDisconnected { client } => self.client_disconnected(client),
            Event::ClientHeartbeat { .. } | Event::WorkerHeartbeat { .. } => {}
            Event::TenantPolicy { tenant, policy } => self.set_policy(tenant, *policy),
            Event::WorkerRunning { worker, running } => self.worker_running(worker, &running),
            Event::ClientHolds { client, keys } => self.client_holds(client, &keys),
            Event::ClientGone { client } => self.client_gone(client),
            Event::UpdateGraph {
                client,
                tasks,
                wants,
            } => self.update_graph(client, tasks, wants),
            Event::ReleaseKeys { client, keys } => self.release_keys(client, &keys),
            Event::Scattered {
                client,
                key,
                workers,
                nbytes,
            } => self.scattered(client, key, &workers, clamp_nbytes(nbytes)),
            Event::WorkerJoined {
                worker,
                nthreads,
                instance,
            } => self.worker_joined(worker, nthreads, instance),
            Event::WorkerLeft { worker, reason } => {
                self.copies_lost(worker);
                self.worker_left(worker, reason.as_deref());
            }
            Event::TaskFinished {
                worker,
                key,
                run,
                nbytes,
                duration_us,
            } => self.task_finished(
                worker,
                key,
                run,
                clamp_nbytes(nbytes),
                duration_us.min(REPORTED_DURATION_US_MAX),
            ),
            Event::TaskErred {
                worker,
                key,
                run,
                message,
            } => self.task_erred(worker, key, run, message),
            Event::FetchFailed {
                worker,
                key,
                run,
                missing,
            } => self.fetch_failed(worker, key, run, &missing),
            Event::ReplicaAdded { worker, key } => {
                self.replica_added(worker, key);
                self.copy_answered(worker, key, Ok(()));
            }
            Event::ReplicaFailed {
                worker,
                key,
                message,
            } => {
                self.copy_answered(worker, key, Err(message));
            }
            Event::ClientResumed { client } => self.client_resumed(client),
            Event::Cancel {
                client,
                keys,
                force,
                reason,
            } => self.cancel(client, &keys, force, &reason),
            Event::Restart { client, request } => self.restart_cluster(client, request),
            Event::RestartTenant { tenant } => self.restart_tenant(Some(tenant)),
            Event::PublishDatasets {
                client,
                request,
                datasets,
                replace,
            } => self.publish(client, request, datasets, replace),
            Event::GetDataset {
                client,
                request,
                name,
                owner,
            } => self.get_dataset(
                client,
                request,
                &name,
                owner.as_ref().map(|(t, shown)| (*t, shown.as_str())),
            ),
            Event::ShareDataset {
                client,
                request,
                name,
                with,
                share,
            } => self.share(client, request, &name, with, share),
            Event::UnpublishDataset {
                client,
                request,
                name,
            } => self.unpublish(client, request, &name),
            Event::Replicate {
                client,
                request,
                keys,
                n,
            } => self.replicate(client, request, &keys, n),
            Event::Rebalance {
                client,
                request,
                keys,
                workers,
            } => self.rebalance(client, request, &keys, &workers),
            Event::StealResponse {
                worker,
                key,
                run,
                stolen,
            } => self.steal_response(worker, key, run, stolen),
        }
    }

    /// Fires the timers due at `now`: workers and clients silent past their
    /// TTL, graces and the restart deadline that ran out.
    pub fn handle_timeout(&mut self, now: Time, stimulus: StimulusId) {
        self.advance(now, stimulus);
        if self.timers.next().is_some_and(|at| at <= self.now) {
            self.placement_due = true;
            self.fire_due_timers();
        }
    }

    /// When [`Scheduler::handle_timeout`] should next be called; `None`:
    /// no timer is armed.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.timers.next()
    }

    /// The next command to send, if any. When the commands of the events
    /// handled so far are all taken, the placement pass runs (once for the
    /// whole batch) and its commands follow.
    pub fn poll_command(&mut self) -> Option<Command> {
        if self.outbox.is_empty() && self.placement_due {
            self.placement_due = false;
            self.schedule();
        }
        self.outbox.pop_front()
    }

    /// The next command of the events handled so far, without running the
    /// placement pass. A driver that answers some requests itself takes
    /// these after each event, so that its own answers stay in order with
    /// the core's, and drains [`Scheduler::poll_command`] (which places)
    /// once per batch.
    pub fn poll_immediate(&mut self) -> Option<Command> {
        self.outbox.pop_front()
    }

    /// The latest time the driver gave.
    pub fn now(&self) -> Time {
        self.now
    }

    fn advance(&mut self, now: Time, stimulus: StimulusId) {
        self.stimulus = stimulus;
        self.now = self.now.max(now);
    }

    pub(crate) fn send(&mut self, command: Command) {
        if let Command::Client(client, message) = &command
            && self.hold_for_away(*client, message)
        {
            return;
        }
        self.outbox.push_back(command);
    }

    /// Adds a new (released) task to the table and the key index.
    pub(crate) fn add_task(&mut self, record: Task) -> TaskId {
        let (key, tenant) = (record.key, record.tenant);
        let id = self.tasks.insert(record);
        self.keys.insert(key, id);
        self.book_mut(tenant).usage.tasks += 1;
        id
    }

    /// The task workers know as `key`.
    pub(crate) fn id_of(&self, key: &TaskKey) -> Option<TaskId> {
        self.keys.get(key).copied()
    }

    /// The tenant of `client` (the open tenant for one never connected).
    pub(crate) fn tenant_of(&self, client: ClientId) -> TenantId {
        self.clients
            .get(&client)
            .map_or(TenantId::OPEN, |c| c.tenant)
    }

    /// The task `client` names `name`: one of its tenant's.
    pub(crate) fn id_for(&self, client: ClientId, name: &TaskKey) -> Option<TaskId> {
        if let Some(id) = self.own_id_for(client, name) {
            return Some(id);
        }
        // Another tenant's task, held through a shared dataset.
        let state = self.clients.get(&client)?;
        let id = self.id_of(state.aliases.get(name)?)?;
        state.wants.contains(&id).then_some(id)
    }

    /// The task of `client`'s own tenant named `name` (never one held
    /// through a share): what writes to a task (scatter, publish,
    /// replicate, rebalance) may touch.
    pub(crate) fn own_id_for(&self, client: ClientId, name: &TaskKey) -> Option<TaskId> {
        let tenant = self.tenant_of(client);
        let id = self.id_of(&wire_key(tenant, name))?;
        (self.task(id).tenant == tenant).then_some(id)
    }

    /// What `client` calls task `id`: its tenant's name for it, or for
    /// another tenant's task (shared), its shared name.
    pub(crate) fn name_for(&self, client: ClientId, id: TaskId) -> TaskKey {
        let task = self.task(id);
        if task.tenant == self.tenant_of(client) {
            task.name
        } else {
            crate::sharing::shared_name(&task.key)
        }
    }

    /// The task `id` names; panics if `id` is stale (its task forgotten).
    pub(crate) fn task(&self, id: TaskId) -> &Task {
        &self.tasks[id]
    }

    /// The task `id` names, to change what is not its state.
    pub(crate) fn task_mut(&mut self, id: TaskId) -> &mut Task {
        &mut self.tasks[id]
    }

    /// The duration estimate for a task's function.
    pub(crate) fn estimate_us(&self, id: TaskId) -> u64 {
        let function = self.task(id).function as usize;
        self.durations
            .get(function)
            .filter(|d| d.samples > 0)
            .map_or(self.config.unknown_duration_us, |d| d.average_us.max(1))
    }
}

/// The largest result size the core believes from a report (64 GiB, far over
/// any `result_bytes_max`): sizes are summed per worker and per tenant, and a
/// buggy or hostile report of `u64::MAX` must not overflow those sums.
pub const REPORTED_NBYTES_MAX: u64 = 1 << 36;

/// The longest task duration the core believes from a report (one day):
/// durations are averaged and summed into backlogs.
pub const REPORTED_DURATION_US_MAX: u64 = 86_400_000_000;

fn clamp_nbytes(nbytes: u64) -> u64 {
    nbytes.min(REPORTED_NBYTES_MAX)
}
