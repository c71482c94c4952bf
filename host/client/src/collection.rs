//! Lazy collections: a list of partitions, each a task not yet submitted
//! (with the lazy tasks it needs) or a future. Nothing runs until
//! [`Client::persist`] (submits everything, returns at once with every
//! partition replaced by a future) or [`Client::compute`] (one handle to the
//! whole result), as on Dask's "Managing Memory" page.

use crate::args::Args;
use crate::{Client, ClientError, Future, Module};
use serde::de::DeserializeOwned;
use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::Arc;
use weft_schema::graph::{GraphArg, GraphTask, TaskKey};
use weft_schema::signature::Type;

/// A task not submitted yet.
#[derive(Debug)]
struct LazyNode {
    task: GraphTask,
    needs: Vec<Need>,
}

/// What a lazy task takes as input.
#[derive(Debug)]
enum Need {
    Lazy(Arc<LazyNode>),
    /// A result already in the cluster, kept alive by this handle.
    Held {
        _alive: Future<()>,
    },
}

#[derive(Debug)]
enum Part<T> {
    Lazy(Arc<LazyNode>),
    Held(Future<T>),
}

impl<T> Clone for Part<T> {
    fn clone(&self) -> Self {
        match self {
            Part::Lazy(node) => Part::Lazy(node.clone()),
            Part::Held(future) => Part::Held(future.clone()),
        }
    }
}

impl<T> Part<T> {
    fn key(&self) -> TaskKey {
        match self {
            Part::Lazy(node) => node.task.key,
            Part::Held(future) => future.key,
        }
    }
}

/// A list of partitions of type `T`, computed lazily.
#[derive(Debug)]
pub struct Collection<T> {
    parts: Vec<Part<T>>,
    ret: Arc<Type>,
}

impl<T> Clone for Collection<T> {
    fn clone(&self) -> Self {
        Collection {
            parts: self.parts.clone(),
            ret: self.ret.clone(),
        }
    }
}

impl<T> Collection<T> {
    /// One partition per element of `inputs`: `task(input)`, not run yet.
    pub fn from_tasks<A: Args>(
        module: &Module,
        task: &str,
        inputs: impl IntoIterator<Item = A>,
    ) -> Result<Collection<T>, ClientError> {
        let signature = module.signature(task)?;
        let mut parts = Vec::new();
        for args in inputs {
            let graph_args = crate::client::encode_args(signature, &args)?;
            let task = GraphTask::new_pure(module.hash, task, graph_args);
            parts.push(Part::Lazy(Arc::new(LazyNode {
                task,
                needs: Vec::new(),
            })));
        }
        Ok(Collection {
            parts,
            ret: Arc::new(signature.ret.clone()),
        })
    }

    /// Each partition `p` becomes `task(p)`, not run yet. The task takes
    /// the partition as its only parameter.
    pub fn map<U>(&self, module: &Module, task: &str) -> Result<Collection<U>, ClientError> {
        let signature = module.signature(task)?;
        if signature.params.len() != 1 {
            return Err(ClientError::Arguments {
                task: signature.to_string(),
                message: "a task mapped over partitions takes exactly one parameter".into(),
            });
        }
        let parts = self
            .parts
            .iter()
            .map(|part| {
                let need = match part {
                    Part::Lazy(node) => Need::Lazy(node.clone()),
                    Part::Held(future) => Need::Held {
                        _alive: future.untyped(),
                    },
                };
                let task = GraphTask::new_pure(module.hash, task, vec![GraphArg::Key(part.key())]);
                Part::Lazy(Arc::new(LazyNode {
                    task,
                    needs: vec![need],
                }))
            })
            .collect();
        Ok(Collection {
            parts,
            ret: Arc::new(signature.ret.clone()),
        })
    }

    /// How many partitions.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// Whether it has no partitions.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// The partitions' keys.
    pub fn keys(&self) -> Vec<TaskKey> {
        self.parts.iter().map(Part::key).collect()
    }

    /// Handles to the partitions that are futures (all of them once
    /// persisted); lazy partitions are left out.
    pub fn futures(&self) -> Vec<Future<T>> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Held(future) => Some(future.clone()),
                Part::Lazy(_) => None,
            })
            .collect()
    }

    /// The type of each partition.
    pub(crate) fn partition_type(&self) -> &Arc<Type> {
        &self.ret
    }

    /// Every task of a wholly lazy collection (`Ok(None)` if persisted);
    /// an error for a lazy collection built on persisted partitions, whose
    /// inputs a published graph would not keep alive.
    pub(crate) fn lazy_tasks(&self) -> Result<Option<Vec<GraphTask>>, ClientError> {
        if self.is_persisted() {
            return Ok(None);
        }
        let mut tasks = Vec::new();
        let mut seen = HashSet::new();
        let mut stack: Vec<Arc<LazyNode>> = Vec::new();
        for part in &self.parts {
            match part {
                Part::Lazy(node) => stack.push(node.clone()),
                Part::Held(_) => return Err(mixed()),
            }
        }
        while let Some(node) = stack.pop() {
            if !seen.insert(node.task.key) {
                continue;
            }
            tasks.push(node.task.clone());
            for need in &node.needs {
                match need {
                    Need::Lazy(dep) => stack.push(dep.clone()),
                    Need::Held { .. } => return Err(mixed()),
                }
            }
        }
        Ok(Some(tasks))
    }

    /// A lazy collection from a published graph: partitions `keys`, tasks
    /// `tasks` (each task's key inputs must be among them).
    pub(crate) fn from_graph(
        tasks: Vec<GraphTask>,
        keys: &[TaskKey],
        ret: Arc<Type>,
    ) -> Result<Collection<T>, ClientError> {
        let by_key: std::collections::HashMap<TaskKey, GraphTask> =
            tasks.into_iter().map(|t| (t.key, t)).collect();
        let mut built: std::collections::HashMap<TaskKey, Arc<LazyNode>> = Default::default();
        let broken =
            |key: TaskKey| ClientError::Refused(format!("the published graph lacks task {key}"));
        // Post-order without recursion: dependencies are built first.
        let mut stack: Vec<(TaskKey, bool)> = keys.iter().rev().map(|k| (*k, false)).collect();
        let mut visiting = HashSet::new();
        while let Some((key, ready)) = stack.pop() {
            if built.contains_key(&key) {
                continue;
            }
            let task = by_key.get(&key).ok_or_else(|| broken(key))?;
            let deps: Vec<TaskKey> = task
                .args
                .iter()
                .filter_map(|a| match a {
                    GraphArg::Key(k) => Some(*k),
                    GraphArg::Value(_) => None,
                })
                .collect();
            if !ready {
                if !visiting.insert(key) {
                    return Err(ClientError::Refused(format!(
                        "the published graph has a cycle through {key}"
                    )));
                }
                stack.push((key, true));
                stack.extend(
                    deps.iter()
                        .filter(|d| !built.contains_key(d))
                        .map(|d| (*d, false)),
                );
                continue;
            }
            let needs = deps
                .iter()
                .map(|d| {
                    built
                        .get(d)
                        .cloned()
                        .map(Need::Lazy)
                        .ok_or_else(|| broken(*d))
                })
                .collect::<Result<Vec<_>, _>>()?;
            built.insert(
                key,
                Arc::new(LazyNode {
                    task: task.clone(),
                    needs,
                }),
            );
        }
        Ok(Collection {
            parts: keys.iter().map(|k| Part::Lazy(built[k].clone())).collect(),
            ret,
        })
    }

    /// Whether every partition is a future (the collection was persisted).
    pub fn is_persisted(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Held(_)))
    }
}

fn mixed() -> ClientError {
    ClientError::Refused(
        "a lazy collection built on persisted partitions cannot be published lazily \
         (its inputs would not be kept): persist it, or publish its inputs"
            .into(),
    )
}

/// The whole result of a collection: [`Computed::result`] brings every
/// partition here, in order.
#[derive(Debug)]
pub struct Computed<T> {
    futures: Vec<Future<T>>,
}

impl<T> Computed<T> {
    /// The futures of the partitions.
    pub fn futures(&self) -> &[Future<T>] {
        &self.futures
    }

    /// Waits for every partition and gathers them.
    pub async fn result(&self) -> Result<Vec<T>, ClientError>
    where
        T: DeserializeOwned,
    {
        match self.futures.first() {
            None => Ok(Vec::new()),
            Some(first) => first.client.gather(&self.futures).await,
        }
    }
}

impl Client {
    /// Submits everything the collection needs and returns at once with
    /// each partition replaced by a future; the work goes on in the
    /// background. Partitions already persisted are reused, not recomputed.
    pub fn persist<T>(&self, collection: &Collection<T>) -> Result<Collection<T>, ClientError> {
        let mut tasks = Vec::new();
        let mut seen = HashSet::new();
        let mut stack: Vec<Arc<LazyNode>> = collection
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Lazy(node) => Some(node.clone()),
                Part::Held(_) => None,
            })
            .collect();
        while let Some(node) = stack.pop() {
            if !seen.insert(node.task.key) {
                continue;
            }
            tasks.push(node.task.clone());
            for need in &node.needs {
                if let Need::Lazy(dep) = need {
                    stack.push(dep.clone());
                }
            }
        }
        let mut wants = Vec::new();
        let parts = collection
            .parts
            .iter()
            .map(|part| match part {
                Part::Held(future) => Part::Held(future.clone()),
                Part::Lazy(node) => {
                    if self.hold(node.task.key) {
                        wants.push(node.task.key);
                    }
                    Part::Held(Future {
                        key: node.task.key,
                        client: self.clone(),
                        ret: Some(collection.ret.clone()),
                        _result: PhantomData,
                    })
                }
            })
            .collect();
        let wants: HashSet<TaskKey> = wants.into_iter().collect();
        self.submit_graph(&tasks, |task| wants.contains(&task.key))?;
        Ok(Collection {
            parts,
            ret: collection.ret.clone(),
        })
    }

    /// Starts computing the collection (reusing persisted partitions) and
    /// returns one handle to its whole result.
    pub fn compute<T>(&self, collection: &Collection<T>) -> Result<Computed<T>, ClientError> {
        let persisted = self.persist(collection)?;
        let futures = persisted
            .parts
            .into_iter()
            .map(|part| match part {
                Part::Held(future) => future,
                Part::Lazy(_) => unreachable!("persist replaces every partition"),
            })
            .collect();
        Ok(Computed { futures })
    }
}
