//! [`Client::gather`]: waiting for futures and bringing their results here
//! straight from the workers that hold them (never through the scheduler),
//! one request per worker for all the keys it holds.
//!
//! Where a key is can change between the scheduler's answer and the fetch:
//! its holder died, or was removed at its TTL and rejoined with nothing,
//! or does not answer within `gather_fetch_timeout` (stopped, say). A key
//! that could not be fetched is waited for again (the scheduler tells the
//! client that it was lost and when it is back in memory) and looked up
//! again, at most [`GATHER_ATTEMPTS`] times with a growing pause between
//! attempts; the keys already fetched are kept. The last failure is the
//! error.

use crate::client::decode_result;
use crate::{Client, ClientError, Future};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use weft_proto::messages::{ClientEvent, ClientRequest};
use weft_proto::tickets::Ticket;
use weft_schema::graph::TaskKey;

/// How many times `gather` looks for a key before it gives up.
pub const GATHER_ATTEMPTS: u32 = 5;

/// The pause before the second attempt; it doubles for each later one.
const FIRST_PAUSE: Duration = Duration::from_millis(200);

impl Client {
    /// Waits for every future and brings their results here, fetching from
    /// each worker once for all the keys it holds; keys whose holder lost
    /// them meanwhile are looked for again (see the module documentation).
    pub async fn gather<R: DeserializeOwned>(
        &self,
        futures: &[Future<R>],
    ) -> Result<Vec<R>, ClientError> {
        let mut seen = HashSet::with_capacity(futures.len());
        let keys: Vec<TaskKey> = futures
            .iter()
            .map(|f| f.key)
            .filter(|key| seen.insert(*key))
            .collect();
        let mut fetched: HashMap<TaskKey, Bytes> = HashMap::with_capacity(keys.len());
        let mut pause = FIRST_PAUSE;
        for attempt in 1..=GATHER_ATTEMPTS {
            let missing: Vec<TaskKey> = keys
                .iter()
                .filter(|key| !fetched.contains_key(key))
                .copied()
                .collect();
            for key in &missing {
                self.wait_key(key).await?;
            }
            let failure = self.fetch_from_holders(&missing, &mut fetched).await?;
            match failure {
                None => break,
                Some(error) if attempt == GATHER_ATTEMPTS => return Err(error),
                Some(error) => {
                    tracing::debug!(%error, attempt, "gather: some results could not be fetched; looking again");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
            }
        }
        futures
            .iter()
            .map(|future| decode_result(future, &fetched[&future.key]))
            .collect()
    }

    /// Asks the scheduler where `keys` are and fetches them into `fetched`.
    /// `Err` when asking fails; `Ok(Some(error))` when some keys could not
    /// be fetched (the others are in `fetched`).
    async fn fetch_from_holders(
        &self,
        keys: &[TaskKey],
        fetched: &mut HashMap<TaskKey, Bytes>,
    ) -> Result<Option<ClientError>, ClientError> {
        let (pass, workers, locations) = match self
            .request(|request| ClientRequest::WhoHas {
                request,
                keys: keys.to_vec(),
            })
            .await?
        {
            ClientEvent::Locations {
                pass,
                workers,
                locations,
                ..
            } => (pass, workers, locations),
            other => {
                return Err(ClientError::Connection(format!(
                    "unexpected reply to who-has: {other:?}"
                )));
            }
        };
        let addresses: HashMap<_, &str> = workers
            .iter()
            .map(|w| (w.id, w.data_addr.as_str()))
            .collect();
        let where_is: HashMap<TaskKey, (&str, Ticket)> = locations
            .iter()
            .filter_map(|l| {
                l.holders
                    .iter()
                    .find_map(|h| addresses.get(h))
                    .map(|addr| (l.key, (*addr, l.ticket)))
            })
            .collect();
        let mut failure = None;
        let mut by_holder: HashMap<&str, Vec<(TaskKey, Ticket)>> = HashMap::new();
        for key in keys {
            match where_is.get(key) {
                Some((addr, ticket)) => by_holder.entry(addr).or_default().push((*key, *ticket)),
                None => {
                    failure = Some(ClientError::Fetch {
                        key: *key,
                        message: "no worker holds it any more (lost; it will be recomputed)".into(),
                    });
                }
            }
        }
        let dialer = weft_proto::Dialer {
            credential: weft_proto::Credential::Pass(pass),
            ..self.worker_dialer()
        };
        let dialer = &dialer;
        let timeout = self.gather_fetch_timeout();
        let fetches = by_holder.into_iter().map(|(addr, wanted)| async move {
            let tickets: Vec<Ticket> = wanted.iter().map(|(_, ticket)| *ticket).collect();
            let fetch = self.peers().fetch(addr, &tickets, dialer);
            let values = match tokio::time::timeout(timeout, fetch).await {
                Ok(Ok(values)) => values,
                Ok(Err(message)) => return Err((wanted[0].0, message)),
                Err(_elapsed) => {
                    return Err((
                        wanted[0].0,
                        format!("{addr} did not answer within {timeout:?} (gather_fetch_timeout)"),
                    ));
                }
            };
            Ok(wanted
                .into_iter()
                .map(|(key, _)| key)
                .zip(values)
                .collect::<Vec<_>>())
        });
        for batch in futures_util::future::join_all(fetches).await {
            match batch {
                Ok(values) => fetched.extend(values),
                Err((key, message)) => failure = Some(ClientError::Fetch { key, message }),
            }
        }
        Ok(failure)
    }
}
