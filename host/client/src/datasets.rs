//! Published datasets: named bundles of futures (or a lazy collection's
//! graph) that outlive the client that published them, shared between
//! clients, as on Dask's "Publish Datasets" page.
//!
//! Everything a client sends travels on its one ordered connection, so a
//! publish made after a submit, a release after a publish and an unpublish
//! after a get are applied in that order: no flush barrier is needed.

use crate::memory::unexpected;
use crate::{Client, ClientError, Collection, Future};
use std::marker::PhantomData;
use std::sync::Arc;
use weft_core::{DatasetValue, GetDatasetError, RequestError};
use weft_proto::messages::{ClientEvent, ClientRequest};
use weft_schema::graph::{GraphLimits, TaskKey, decode_graph, encode_graph};
use weft_schema::signature::Type;

/// Something to publish: futures, or a collection (persisted: its
/// futures; lazy: its graph), with optional metadata.
#[derive(Debug, Clone)]
pub struct DatasetSpec {
    value: DatasetValue,
}

impl DatasetSpec {
    /// Publishes these futures.
    pub fn futures<T>(futures: &[Future<T>]) -> DatasetSpec {
        let ret = futures.iter().find_map(|f| f.ret.clone());
        DatasetSpec {
            value: DatasetValue {
                keys: futures.iter().map(|f| f.key).collect(),
                graph: None,
                metadata: String::new(),
                ret: ret.map(|t| type_json(&t)),
            },
        }
    }

    /// Publishes a collection: a persisted one's futures, or a lazy one's
    /// graph (computed from scratch by whoever gets and computes it).
    pub fn collection<T>(collection: &Collection<T>) -> Result<DatasetSpec, ClientError> {
        let graph = collection.lazy_tasks()?.map(|tasks| encode_graph(&tasks));
        Ok(DatasetSpec {
            value: DatasetValue {
                keys: collection.keys(),
                graph,
                metadata: String::new(),
                ret: Some(type_json(collection.partition_type())),
            },
        })
    }

    /// Small metadata (column names, say) that comes back with the dataset.
    pub fn with_metadata(mut self, metadata: serde_json::Value) -> DatasetSpec {
        self.value.metadata = metadata.to_string();
        self
    }
}

fn type_json(ty: &Type) -> String {
    serde_json::to_string(ty).expect("types serialize")
}

/// What a published dataset holds, bound to the client that got it.
#[derive(Debug)]
pub enum DatasetContent<T> {
    /// Futures to data in distributed memory, held by this client too.
    Futures(Vec<Future<T>>),
    /// A lazy collection: computing it starts from scratch.
    Lazy(Collection<T>),
}

/// A dataset got from the scheduler.
#[derive(Debug)]
pub struct Dataset<T> {
    /// Its futures or graph.
    pub content: DatasetContent<T>,
    /// The metadata published with it (`Null` if none).
    pub metadata: serde_json::Value,
    /// The type of its partitions, when the publisher knew it.
    pub partition_type: Option<Type>,
}

impl<T> Dataset<T> {
    /// The futures, if it holds data (not a lazy collection).
    pub fn futures(&self) -> Option<&[Future<T>]> {
        match &self.content {
            DatasetContent::Futures(futures) => Some(futures),
            DatasetContent::Lazy(_) => None,
        }
    }
}

impl Client {
    /// Publishes one dataset under `name`; fails if the name is taken.
    pub async fn publish_dataset(&self, name: &str, spec: DatasetSpec) -> Result<(), ClientError> {
        self.publish_datasets(vec![(name.to_string(), spec)], false)
            .await
    }

    /// Publishes several datasets at once: all or none. A name already
    /// published fails the call unless `replace`, which pins the new value
    /// before letting the old one go (keys they share are never freed).
    pub async fn publish_datasets(
        &self,
        datasets: Vec<(String, DatasetSpec)>,
        replace: bool,
    ) -> Result<(), ClientError> {
        let datasets = datasets
            .into_iter()
            .map(|(name, spec)| (name, spec.value))
            .collect();
        match self
            .request(|request| ClientRequest::PublishDatasets {
                request,
                datasets,
                replace,
            })
            .await?
        {
            ClientEvent::Done { .. } => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// The names of the published datasets, sorted.
    pub async fn list_datasets(&self) -> Result<Vec<String>, ClientError> {
        match self
            .request(|request| ClientRequest::ListDatasets { request })
            .await?
        {
            ClientEvent::Datasets { names, .. } => Ok(names),
            other => Err(unexpected(other)),
        }
    }

    /// Gets dataset `name`: futures bound to this client (the data stays
    /// while they exist, whatever happens to the dataset), or a lazy
    /// collection. Fails if there is no such dataset, or if part of its
    /// data was scattered and is gone.
    pub async fn get_dataset<T>(&self, name: &str) -> Result<Dataset<T>, ClientError> {
        self.try_get_dataset(name)
            .await?
            .ok_or_else(|| ClientError::NoSuchDataset(name.to_string()))
    }

    /// [`get_dataset`](Self::get_dataset), with `None` for a missing name
    /// (`.unwrap_or(default)` gives a default).
    pub async fn try_get_dataset<T>(&self, name: &str) -> Result<Option<Dataset<T>>, ClientError> {
        let name = name.to_string();
        let value = match self
            .request(|request| ClientRequest::GetDataset { request, name })
            .await
        {
            Ok(ClientEvent::Dataset { value, .. }) => value,
            Ok(other) => return Err(unexpected(other)),
            Err(ClientError::Failed(RequestError::GetDataset(
                GetDatasetError::NoSuchDataset { .. },
            ))) => return Ok(None),
            Err(error) => return Err(error),
        };
        let partition_type: Option<Type> = value
            .ret
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok());
        let ret = partition_type.clone().map(Arc::new);
        let metadata = if value.metadata.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&value.metadata).unwrap_or(serde_json::Value::Null)
        };
        let content = match &value.graph {
            Some(graph) => {
                let tasks = decode_graph(graph, &GraphLimits::default()).map_err(|e| {
                    ClientError::Refused(format!("the dataset's graph does not decode: {e}"))
                })?;
                let ret = ret.unwrap_or_else(|| Arc::new(Type::Unit));
                DatasetContent::Lazy(Collection::from_graph(tasks, &value.keys, ret)?)
            }
            None => DatasetContent::Futures(self.adopt(&value.keys, ret)),
        };
        Ok(Some(Dataset {
            content,
            metadata,
            partition_type,
        }))
    }

    /// Futures to keys the scheduler has just made this client hold. They
    /// are wanted once more: that also makes the scheduler tell this client
    /// again where each key stands (news sent before the futures existed
    /// here was dropped), and covers a release of the same keys that
    /// crossed the request.
    fn adopt<T>(&self, keys: &[TaskKey], ret: Option<Arc<Type>>) -> Vec<Future<T>> {
        let futures: Vec<Future<T>> = keys
            .iter()
            .map(|key| {
                self.hold(*key);
                Future {
                    key: *key,
                    client: self.clone(),
                    ret: ret.clone(),
                    _result: PhantomData,
                }
            })
            .collect();
        let _ = self.send_request(ClientRequest::Want {
            keys: keys.to_vec(),
        });
        futures
    }

    /// Unpublishes dataset `name`; a no-op if there is none. Futures got
    /// from it stay valid.
    pub async fn unpublish_dataset(&self, name: &str) -> Result<(), ClientError> {
        let name = name.to_string();
        match self
            .request(|request| ClientRequest::UnpublishDataset { request, name })
            .await?
        {
            ClientEvent::Done { .. } => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Shares this tenant's dataset `name` with `tenant`, read-only: it
    /// gets it as `OWNER/NAME` (its data stays this tenant's). A lazy
    /// collection must be persisted first.
    pub async fn share_dataset(&self, name: &str, tenant: &str) -> Result<(), ClientError> {
        self.set_sharing(name, tenant, true).await
    }

    /// Stops sharing `name` with `tenant`: its futures got from it fail
    /// with an access-revoked error, and it can no longer get it.
    pub async fn unshare_dataset(&self, name: &str, tenant: &str) -> Result<(), ClientError> {
        self.set_sharing(name, tenant, false).await
    }

    async fn set_sharing(&self, name: &str, tenant: &str, share: bool) -> Result<(), ClientError> {
        let (name, with) = (name.to_string(), tenant.to_string());
        match self
            .request(|request| ClientRequest::ShareDataset {
                request,
                name,
                with,
                share,
            })
            .await?
        {
            ClientEvent::Done { .. } => Ok(()),
            other => Err(unexpected(other)),
        }
    }
}
