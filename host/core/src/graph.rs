//! Client events: new graphs and futures, releases, scattered data, clients
//! leaving.

use crate::ids::{ClientId, TenantId, WorkerId};
use crate::messages::{Command, SpecArg, TaskSpec, ToClient, ToWorker};
use crate::scheduler::{DurationEstimate, Scheduler};
use crate::task::{StateName, Task, TaskId, TaskState};
use std::collections::HashSet;
use std::sync::Arc;
use weft_schema::graph::{GraphArg, GraphTask, TaskKey, check_graph};
use weft_schema::quota::{QuotaExceeded, QuotaLimit};

impl Scheduler {
    /// Adds a client's tasks and futures, atomically: a graph that refers to
    /// unknown keys, has a cycle, wants an unknown key or would take its
    /// tenant past `graph_tasks_max` or `tasks_queued_max` changes nothing
    /// and is answered with `Rejected`.
    pub(crate) fn update_graph(
        &mut self,
        client: ClientId,
        tasks: Vec<GraphTask>,
        wants: Vec<TaskKey>,
    ) {
        self.clients.entry(client).or_default();
        if let Err(quota) =
            self.check_client_quota(client, QuotaLimit::GraphTasksMax, tasks.len() as u64)
        {
            return self.reject_over_quota(client, wants, quota);
        }
        let order = match check_graph(&tasks, |key| self.id_for(client, key).is_some()) {
            Ok(order) => order,
            Err(error) => {
                let reason = error.to_string();
                self.send(Command::Client(
                    client,
                    ToClient::Rejected {
                        keys: wants,
                        reason,
                        quota: None,
                    },
                ));
                return;
            }
        };
        let new_keys: HashSet<TaskKey> = tasks.iter().map(|t| t.key).collect();
        if let Some(missing) = wants
            .iter()
            .find(|k| !new_keys.contains(k) && self.id_for(client, k).is_none())
        {
            self.send(Command::Client(
                client,
                ToClient::Rejected {
                    keys: wants.clone(),
                    reason: format!("a future was asked for key {missing}, which is neither in the graph nor known"),
                    quota: None,
                },
            ));
            return;
        }
        // A key already known is the same task only if it has the same
        // spec: an impure task must not take over a pure task's key, nor a
        // task a scattered key's.
        if let Some(reason) = tasks
            .iter()
            .find_map(|task| self.spec_conflict(client, task))
        {
            self.send(Command::Client(
                client,
                ToClient::Rejected {
                    keys: wants,
                    reason,
                    quota: None,
                },
            ));
            return;
        }

        // The same key twice in one graph is refused by `check_graph`.
        let new_tasks = tasks
            .iter()
            .filter(|task| self.id_for(client, &task.key).is_none())
            .count() as u64;
        if let Err(quota) = self.check_client_quota(client, QuotaLimit::TasksQueuedMax, new_tasks) {
            return self.reject_over_quota(client, wants, quota);
        }
        let tenant = self.tenant_of(client);
        self.tasks.reserve(new_tasks as usize);
        self.keys.reserve(new_tasks as usize);
        let mut added = Vec::with_capacity(new_tasks as usize);
        let mut tasks: Vec<Option<GraphTask>> = tasks.into_iter().map(Some).collect();
        for index in order {
            let Some(task) = tasks[index].take() else {
                continue;
            };
            if self.id_for(client, &task.key).is_some() {
                continue; // the same key is the same task: share it
            }
            added.push(self.insert_task(client, tenant, task));
        }

        // Room for the wants of the new tasks (wants of keys already held
        // need none).
        if let Some(state) = self.clients.get_mut(&client) {
            state.wants.reserve(wants.len().min(new_tasks as usize));
        }
        for key in wants {
            let id = self.id_for(client, &key).expect("checked above");
            let task = self.task_mut(id);
            if !task.who_wants.contains(&client) {
                task.who_wants.push(client);
            }
            self.clients.entry(client).or_default().wants.insert(id);
            self.want_and_report(client, id);
        }
        // New tasks that no wanted key needs are not kept.
        for id in added {
            self.release_if_unneeded(id);
        }
    }

    /// Answers a graph update (or scatter) that a limit refused.
    pub(crate) fn reject_over_quota(
        &mut self,
        client: ClientId,
        keys: Vec<TaskKey>,
        quota: QuotaExceeded,
    ) {
        let reason = quota.to_string();
        let quota = Some(quota);
        self.send(Command::Client(
            client,
            ToClient::Rejected {
                keys,
                reason,
                quota,
            },
        ));
    }

    /// Why `task` cannot be added under its key, which names a known task
    /// of another spec (`None`: it is new, or the same task).
    fn spec_conflict(&self, client: ClientId, task: &GraphTask) -> Option<String> {
        let id = self.id_for(client, &task.key)?;
        let known = self.task(id);
        let same = known.spec.as_deref().is_some_and(|spec| {
            spec.function.module == task.module
                && spec.function.name == task.function
                && spec.args.len() == task.args.len()
                && spec.args.iter().zip(&task.args).all(|(a, b)| match (a, b) {
                    (SpecArg::Value(a), GraphArg::Value(b)) => a == b,
                    (SpecArg::Key(a), GraphArg::Key(b)) => self
                        .id_for(client, b)
                        .is_some_and(|dep| self.task(dep).key == *a),
                    _ => false,
                })
        });
        (!same).then(|| {
            format!(
                "key {} already names a different task (another function, arguments or a \
                 scattered value); an impure task's key must be unique",
                task.key
            )
        })
    }

    /// Inserts a task of `client` (of `tenant`) whose dependencies are all
    /// known to it.
    fn insert_task(&mut self, client: ClientId, tenant: TenantId, task: GraphTask) -> TaskId {
        let mut dependencies: Vec<TaskId> = Vec::new();
        let args = task
            .args
            .into_iter()
            .map(|arg| match arg {
                GraphArg::Value(bytes) => SpecArg::Value(bytes),
                GraphArg::Key(name) => {
                    let dep = self.id_for(client, &name).expect("checked by check_graph");
                    if !dependencies.contains(&dep) {
                        dependencies.push(dep);
                    }
                    SpecArg::Key(self.task(dep).key)
                }
            })
            .collect();
        let function = self.intern_function(&task.module, task.function);
        let priority = self.next_priority;
        self.next_priority += 1;
        let spec = TaskSpec {
            function: self.function_specs[function as usize].clone(),
            args,
        };
        let record = Task::new(
            tenant,
            task.key,
            Some(Arc::new(spec)),
            function,
            dependencies.into_boxed_slice(),
            priority,
            task.retries,
        );
        let id = self.add_task(record);
        for at in 0..self.task(id).dependencies.len() {
            let dep = self.task(id).dependencies[at];
            self.task_mut(dep).dependents.push(id);
        }
        id
    }

    /// The index of `module`'s function `name`, new or known: looked up
    /// without allocating, as every task of a graph asks.
    fn intern_function(&mut self, module: &[u8; 32], name: String) -> u32 {
        if let Some(&id) = self
            .functions
            .get(module)
            .and_then(|names| names.get(&name))
        {
            return id;
        }
        let id = self.durations.len() as u32;
        self.durations.push(DurationEstimate {
            average_us: 0,
            samples: 0,
        });
        self.function_specs
            .push(Arc::new(crate::messages::TaskFunction {
                module: *module,
                name: name.clone(),
            }));
        self.functions.entry(*module).or_default().insert(name, id);
        id
    }

    /// A client dropped its futures to `keys`.
    pub(crate) fn release_keys(&mut self, client: ClientId, keys: &[TaskKey]) {
        for key in keys {
            let Some(id) = self.id_for(client, key) else {
                continue;
            };
            self.task_mut(id).who_wants.retain(|c| *c != client);
            if let Some(state) = self.clients.get_mut(&client) {
                state.wants.remove(&id);
                state.aliases.remove(key);
            }
            self.release_if_unneeded(id);
        }
    }

    /// A client is gone: it holds nothing any more.
    pub(crate) fn client_gone(&mut self, client: ClientId) {
        let Some(mut state) = self.clients.remove(&client) else {
            return;
        };
        let deferred = std::mem::take(&mut state.deferred);
        self.drop_deferred(client, deferred, state.tenant);
        self.forget_client_timer(client);
        self.operations.retain(|(holder, _), _| *holder != client);
        let mut held: Vec<TaskId> = state.wants.into_iter().collect();
        held.sort_unstable();
        for id in held {
            self.task_mut(id).who_wants.retain(|c| *c != client);
            self.release_if_unneeded(id);
        }
    }

    /// A client put data for `key` on `workers` itself.
    pub(crate) fn scattered(
        &mut self,
        client: ClientId,
        key: TaskKey,
        workers: &[WorkerId],
        nbytes: u64,
    ) {
        self.clients.entry(client).or_default();
        let holders: Vec<WorkerId> = workers
            .iter()
            .copied()
            .filter(|w| self.workers.contains_key(w))
            .collect();
        let tenant = self.tenant_of(client);
        let known = self.own_id_for(client, &key);
        let new_data = known
            .is_none_or(|id| self.task(id).spec.is_none() && self.task(id).is(StateName::Released));
        if new_data
            && !holders.is_empty()
            && let Err(quota) = self.check_client_quota(client, QuotaLimit::StoredBytesMax, nbytes)
        {
            let wire = crate::ids::wire_key(tenant, &key);
            for &worker in &holders {
                self.send(Command::Worker(worker, ToWorker::Free { keys: vec![wire] }));
            }
            return self.reject_over_quota(client, vec![key], quota);
        }
        let id = match known {
            Some(id) => id,
            None => {
                let priority = self.next_priority;
                self.next_priority += 1;
                let record = Task::new(tenant, key, None, u32::MAX, Box::new([]), priority, 0);
                self.add_task(record)
            }
        };
        let wire = self.task(id).key;
        let state = self.task(id).state().name();
        if self.task(id).spec.is_none() && state == StateName::Released {
            // The first copies say the size; later ones (a scatter to
            // more workers) cannot change it under the copies counted.
            let mut who_has = smallvec::SmallVec::new();
            for worker in holders {
                if !who_has.contains(&worker) {
                    who_has.push(worker);
                }
            }
            if !who_has.is_empty() {
                self.transition(id, TaskState::Memory { who_has, nbytes });
            }
        } else if self.task(id).spec.is_none() && state == StateName::Memory {
            for &worker in &holders {
                self.add_replica(id, worker);
            }
        } else {
            // A computed key: its size and holders are the workers' word,
            // not a client's; or a key being computed (or failed). The
            // copies are not needed (but a worker that holds the computed
            // value keeps it).
            for &worker in &holders {
                if !self.task(id).state().holds(worker) {
                    self.send(Command::Worker(worker, ToWorker::Free { keys: vec![wire] }));
                }
            }
        }
        let task = self.task_mut(id);
        if !task.who_wants.contains(&client) {
            task.who_wants.push(client);
        }
        self.clients.entry(client).or_default().wants.insert(id);
        self.want_and_report(client, id);
    }

    /// `client` (already in `id`'s holders) wants `id`: it is computed if
    /// needed, and the client is told where it stands if it was final
    /// already (a task that fails while being wanted has told its holders,
    /// this client included, so it is not told twice).
    fn want_and_report(&mut self, client: ClientId, id: TaskId) {
        let was_final = matches!(
            self.task(id).state(),
            TaskState::Memory { .. } | TaskState::Erred { .. }
        );
        self.want(id);
        if was_final {
            self.report_status(client, id);
        }
    }

    /// Tells a client that just took a future to `id` where it stands, when
    /// it is already final.
    pub(crate) fn report_status(&mut self, client: ClientId, id: TaskId) {
        let key = self.name_for(client, id);
        let message = match self.task(id).state() {
            TaskState::Memory { nbytes, .. } => ToClient::Finished {
                key,
                nbytes: *nbytes,
            },
            TaskState::Erred { failure } => ToClient::Erred {
                key,
                failure: failure.clone(),
            },
            _ => return,
        };
        self.send(Command::Client(client, message));
    }
}
