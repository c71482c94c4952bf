//! `scatter`: put values from this process straight onto workers' data
//! ports, then tell the scheduler where they are. Keys come from the values'
//! bytes, so scattering the same value twice shares one key.

use crate::{Client, ClientError, Future};
use serde::Serialize;
use std::marker::PhantomData;
use weft_core::WorkerId;
use weft_proto::messages::{ClientRequest, DataReply, DataRequest, WorkerInfo};
use weft_proto::{Connection, Hello, Role};
use weft_schema::graph::{TaskKey, scatter_key};

impl Client {
    /// Sends each value to a worker (to every worker with `broadcast`) and
    /// returns futures to them. Values are spread round-robin over the
    /// workers.
    pub async fn scatter<T: Serialize>(
        &self,
        values: &[T],
        broadcast: bool,
    ) -> Result<Vec<Future<T>>, ClientError> {
        let workers = self.workers().await?;
        self.scatter_among(values, broadcast, workers).await
    }

    /// Sends each value to one of `workers` (round-robin) and returns
    /// futures to them; an error if one of them is not a connected worker.
    pub async fn scatter_to<T: Serialize>(
        &self,
        values: &[T],
        workers: &[WorkerId],
    ) -> Result<Vec<Future<T>>, ClientError> {
        let all = self.workers().await?;
        let mut chosen = Vec::with_capacity(workers.len());
        for id in workers {
            let info = all
                .iter()
                .find(|w| w.id == *id)
                .ok_or_else(|| ClientError::Refused(format!("{id} is not a connected worker")))?;
            chosen.push(info.clone());
        }
        self.scatter_among(values, false, chosen).await
    }

    async fn scatter_among<T: Serialize>(
        &self,
        values: &[T],
        broadcast: bool,
        workers: Vec<WorkerInfo>,
    ) -> Result<Vec<Future<T>>, ClientError> {
        if workers.is_empty() {
            return Err(ClientError::Refused("no workers to scatter to".into()));
        }
        let mut futures = Vec::with_capacity(values.len());
        for (index, value) in values.iter().enumerate() {
            let bytes = weft_sdk::codec::encode(value).map_err(|e| ClientError::Arguments {
                task: "scatter".into(),
                message: e.to_string(),
            })?;
            let key = scatter_key(&bytes);
            let targets: Vec<&WorkerInfo> = if broadcast {
                workers.iter().collect()
            } else {
                vec![&workers[index % workers.len()]]
            };
            let wire = self.wire_key(&key);
            for worker in &targets {
                self.put(&worker.data_addr, wire, &bytes).await?;
            }
            self.hold(key);
            self.send_request(ClientRequest::Scattered {
                key,
                workers: targets.iter().map(|w| w.id).collect(),
                nbytes: bytes.len() as u64,
            })?;
            futures.push(Future {
                key,
                client: self.clone(),
                ret: None,
                _result: PhantomData,
            });
        }
        Ok(futures)
    }

    async fn put(&self, addr: &str, key: TaskKey, bytes: &[u8]) -> Result<(), ClientError> {
        let fail = |message: String| ClientError::Fetch { key, message };
        let hello = Hello::new(Role::Client, "client");
        let dialer = weft_proto::Dialer::plain(self.connection_limits(), Role::Worker);
        let (mut connection, _) = Connection::connect(addr, &hello, &dialer)
            .await
            .map_err(|e| fail(e.to_string()))?;
        connection
            .queue(&DataRequest::Put { key })
            .map_err(|e| fail(e.to_string()))?;
        connection
            .send_frame(bytes)
            .await
            .map_err(|e| fail(e.to_string()))?;
        match connection
            .recv::<DataReply>()
            .await
            .map_err(|e| fail(e.to_string()))?
        {
            Some(DataReply::Stored { key: stored }) if stored == key => Ok(()),
            other => Err(fail(format!(
                "the worker at {addr} did not store it: {other:?}"
            ))),
        }
    }
}
