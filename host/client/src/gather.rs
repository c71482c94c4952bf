//! [`Client::gather`]: waiting for futures and bringing their results here
//! straight from the workers that hold them (never through the scheduler),
//! one request per worker for all the keys it holds.
//!
//! Where a key is can change between the scheduler's answer and the fetch:
//! its holder died, or was removed at its TTL and rejoined with nothing,
//! or does not answer in time (stopped, say). A key that could not be
//! fetched is waited for again (the scheduler tells the client that it was
//! lost and when it is back in memory) and looked up again, from another
//! holder than the ones that failed if there is one, at most
//! [`GATHER_ATTEMPTS`] times with a growing pause between attempts; the
//! keys already fetched are kept. The last failure is the error.
//!
//! "In time": one request to one worker may take `gather_fetch_timeout`
//! plus what its bytes take at [`SLOWEST_TRANSFER_BYTES_PER_S`], so that a
//! healthy holder sending gigabytes is not given up; zero means no limit.

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

/// The slowest transfer a request's time limit allows for: 10 MB/s.
pub const SLOWEST_TRANSFER_BYTES_PER_S: u64 = 10_000_000;

/// Most keys asked about in one `WhoHas` (and fetched in one round): the
/// answer, about 120 bytes a key with its ticket, stays well inside a
/// default frame (and a smaller `frame_bytes_max` asks about fewer).
pub const WHO_HAS_KEYS_MAX: usize = 100_000;

/// What is asked of one holder: keys with their tickets, and their bytes.
type Request = (Vec<(TaskKey, Ticket)>, u64);

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
        let mut failed_holders: HashSet<String> = HashSet::new();
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
            let failure = self
                .fetch_from_holders(&missing, &mut fetched, &mut failed_holders)
                .await?;
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

    /// Asks the scheduler where `keys` are and fetches them into `fetched`,
    /// from holders not in `failed_holders` where it can (a holder that
    /// fails is added), [`WHO_HAS_KEYS_MAX`] keys at a time. `Err` when
    /// asking fails; `Ok(Some(error))` when some keys could not be fetched
    /// (the others are in `fetched`).
    async fn fetch_from_holders(
        &self,
        keys: &[TaskKey],
        fetched: &mut HashMap<TaskKey, Bytes>,
        failed_holders: &mut HashSet<String>,
    ) -> Result<Option<ClientError>, ClientError> {
        let mut failure = None;
        // Within this client's frame limit too, at 256 bytes a key.
        let per_request = WHO_HAS_KEYS_MAX.min(self.frame_bytes_max() / 256).max(1);
        for chunk in keys.chunks(per_request) {
            if let Some(error) = self.fetch_chunk(chunk, fetched, failed_holders).await? {
                failure = Some(error);
            }
        }
        Ok(failure)
    }

    /// [`Client::fetch_from_holders`] for one request's worth of keys.
    async fn fetch_chunk(
        &self,
        keys: &[TaskKey],
        fetched: &mut HashMap<TaskKey, Bytes>,
        failed_holders: &mut HashSet<String>,
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
        let where_is: HashMap<TaskKey, (&str, Ticket, u64)> = locations
            .iter()
            .filter_map(|l| {
                let mut holders = l.holders.iter().filter_map(|h| addresses.get(h));
                let first = holders.clone().next()?;
                let addr = holders
                    .find(|addr| !failed_holders.contains(**addr))
                    .unwrap_or(first);
                Some((l.key, (*addr, l.ticket, l.nbytes)))
            })
            .collect();
        let mut failure = None;
        let mut by_holder: HashMap<&str, Request> = HashMap::new();
        for key in keys {
            match where_is.get(key) {
                Some((addr, ticket, nbytes)) => {
                    let (wanted, bytes) = by_holder.entry(addr).or_default();
                    wanted.push((*key, *ticket));
                    *bytes = bytes.saturating_add(*nbytes);
                }
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
        let base = self.gather_fetch_timeout();
        let fetches = by_holder.into_iter().map(|(addr, (wanted, bytes))| async move {
            let tickets: Vec<Ticket> = wanted.iter().map(|(_, ticket)| *ticket).collect();
            let fetch = self.peers().fetch(addr, &tickets, dialer);
            let outcome = if base.is_zero() {
                Ok(fetch.await)
            } else {
                let limit = base
                    + Duration::from_secs_f64(bytes as f64 / SLOWEST_TRANSFER_BYTES_PER_S as f64);
                tokio::time::timeout(limit, fetch).await.map_err(|_| limit)
            };
            let values = match outcome {
                Ok(Ok(values)) => values,
                Ok(Err(message)) => return Err((addr, wanted[0].0, message)),
                Err(limit) => {
                    let message = format!(
                        "{addr} did not answer within {limit:?} (gather_fetch_timeout and the bytes at 10 MB/s)"
                    );
                    return Err((addr, wanted[0].0, message));
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
                Err((addr, key, message)) => {
                    failed_holders.insert(addr.to_string());
                    failure = Some(ClientError::Fetch { key, message });
                }
            }
        }
        Ok(failure)
    }
}
