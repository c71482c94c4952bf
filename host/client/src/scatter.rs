//! `scatter`: put values from this process straight onto workers' data
//! ports, then tell the scheduler where they are. The scheduler chooses the
//! workers and issues a put ticket for each copy (`PrepareScatter`); keys
//! come from the values' bytes, so scattering the same value twice shares
//! one key.

use crate::{Client, ClientError, Future};
use serde::Serialize;
use std::collections::HashMap;
use std::marker::PhantomData;
use weft_core::WorkerId;
use weft_proto::auth::Credential;
use weft_proto::messages::{ClientEvent, ClientRequest, DataReply, DataRequest};
use weft_proto::tickets::Ticket;
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
        self.scatter_among(values, broadcast, Vec::new()).await
    }

    /// Sends each value to one of `workers` (round-robin) and returns
    /// futures to them; an error if one of them is not a connected worker.
    pub async fn scatter_to<T: Serialize>(
        &self,
        values: &[T],
        workers: &[WorkerId],
    ) -> Result<Vec<Future<T>>, ClientError> {
        if workers.is_empty() {
            return Err(ClientError::Refused("no workers to scatter to".into()));
        }
        self.scatter_among(values, false, workers.to_vec()).await
    }

    async fn scatter_among<T: Serialize>(
        &self,
        values: &[T],
        broadcast: bool,
        workers: Vec<WorkerId>,
    ) -> Result<Vec<Future<T>>, ClientError> {
        let mut encoded = Vec::with_capacity(values.len());
        for value in values {
            let bytes = weft_sdk::codec::encode(value).map_err(|e| ClientError::Arguments {
                task: "scatter".into(),
                message: e.to_string(),
            })?;
            encoded.push((scatter_key(&bytes), bytes));
        }
        let sizes = encoded
            .iter()
            .map(|(key, bytes)| (*key, bytes.len() as u64))
            .collect();
        let (pass, infos, targets) = match self
            .request(|request| ClientRequest::PrepareScatter {
                request,
                values: sizes,
                broadcast,
                workers,
            })
            .await?
        {
            ClientEvent::ScatterPlan {
                pass,
                workers,
                targets,
                ..
            } => (pass, workers, targets),
            other => {
                return Err(ClientError::Connection(format!(
                    "unexpected reply to a scatter: {other:?}"
                )));
            }
        };
        let addresses: HashMap<WorkerId, &str> =
            infos.iter().map(|w| (w.id, w.data_addr.as_str())).collect();
        let mut futures = Vec::with_capacity(values.len());
        for ((key, bytes), target) in encoded.iter().zip(&targets) {
            if target.key != *key {
                return Err(ClientError::Connection(format!(
                    "the scheduler's scatter plan names {} where {key} was asked",
                    target.key
                )));
            }
            for (worker, ticket) in &target.puts {
                let addr = addresses.get(worker).ok_or_else(|| {
                    ClientError::Connection(format!("the scatter plan names unknown {worker}"))
                })?;
                self.put(addr, *key, &pass, ticket, bytes).await?;
            }
            self.hold(*key);
            self.send_request(ClientRequest::Scattered {
                key: *key,
                workers: target.puts.iter().map(|(w, _)| *w).collect(),
                nbytes: bytes.len() as u64,
            })?;
            futures.push(Future {
                key: *key,
                client: self.clone(),
                ret: None,
                _result: PhantomData,
            });
        }
        Ok(futures)
    }

    async fn put(
        &self,
        addr: &str,
        key: TaskKey,
        pass: &Ticket,
        ticket: &Ticket,
        bytes: &[u8],
    ) -> Result<(), ClientError> {
        let fail = |message: String| ClientError::Fetch { key, message };
        let hello = Hello::new(Role::Client, "client");
        let dialer = weft_proto::Dialer {
            credential: Credential::Pass(*pass),
            ..self.worker_dialer()
        };
        let (mut connection, _) = Connection::connect(addr, &hello, &dialer)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let put = DataRequest::Put {
            ticket: *ticket,
            nbytes: bytes.len() as u64,
        };
        connection.queue(&put).map_err(|e| fail(e.to_string()))?;
        let (_, writer) = connection.split_mut();
        weft_proto::data::write_value(writer, bytes)
            .await
            .map_err(|e| fail(e.to_string()))?;
        connection.flush().await.map_err(|e| fail(e.to_string()))?;
        let wire = weft_proto::data::ticket_key(ticket);
        match connection
            .recv::<DataReply>()
            .await
            .map_err(|e| fail(e.to_string()))?
        {
            Some(DataReply::Stored { key: stored }) if stored == wire => Ok(()),
            // The worker has it already (scattered before: a scatter key
            // is the hash of the bytes); nothing was replaced.
            Some(DataReply::AlreadyHeld { key: held }) if held == wire => Ok(()),
            other => Err(fail(format!(
                "the worker at {addr} did not store it: {other:?}"
            ))),
        }
    }
}
