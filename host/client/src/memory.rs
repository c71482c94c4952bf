//! Managing distributed memory from a client: cancel futures, restart the
//! cluster, replicate and rebalance data, and look at who holds what
//! ([`Client::status`]).

use crate::link::lock;
use crate::{Client, ClientError, Future};
use weft_core::WorkerId;
use weft_proto::messages::{ClientEvent, ClientRequest, ClusterStatus};
use weft_schema::graph::TaskKey;

impl Client {
    /// Cancels `futures`. Without `force` this client withdraws its
    /// interest only: its futures report cancelled, and the computation
    /// goes on if another client wants it. With `force` every client's
    /// futures to these keys, and to everything depending on them, are
    /// cancelled and their computation stops. The futures report
    /// [`FutureStatus::Cancelled`](crate::FutureStatus::Cancelled) once the
    /// scheduler has done it.
    pub fn cancel<T>(&self, futures: &[Future<T>], force: bool) -> Result<(), ClientError> {
        let keys: Vec<TaskKey> = futures.iter().map(|f| f.key).collect();
        let reason = if force {
            "cancelled (forced) by a client"
        } else {
            "cancelled by this client"
        };
        self.send_request(ClientRequest::Cancel {
            keys,
            force,
            reason: reason.to_string(),
        })
    }

    /// Forgets every task, cancels every future of every client (reason
    /// "restart") and restarts every worker (workers run by a nanny start as
    /// fresh processes). Returns when the same workers are back (by
    /// instance: a worker its nanny restarted counts, a new one does not),
    /// or fails at the scheduler's `restart_timeout`.
    pub async fn restart(&self) -> Result<(), ClientError> {
        match self
            .request(|request| ClientRequest::Restart { request })
            .await?
        {
            ClientEvent::Done { .. } => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Makes sure each future's data is held by at least `n` workers
    /// (copies already there count). An error if `n` is 0 or more than the
    /// workers, if a key is not in memory, or if any copy could not be
    /// made.
    pub async fn replicate<T>(&self, futures: &[Future<T>], n: u32) -> Result<(), ClientError> {
        let keys: Vec<TaskKey> = futures.iter().map(|f| f.key).collect();
        match self
            .request(|request| ClientRequest::Replicate { request, keys, n })
            .await?
        {
            ClientEvent::Done { .. } => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Moves data from workers holding more than the mean to those holding
    /// less. `futures`: only these may move (`None`: any); `workers`: only
    /// these take part (`None`: all).
    pub async fn rebalance<T>(
        &self,
        futures: Option<&[Future<T>]>,
        workers: Option<&[WorkerId]>,
    ) -> Result<(), ClientError> {
        let keys: Vec<TaskKey> =
            futures.map_or_else(Vec::new, |f| f.iter().map(|f| f.key).collect());
        let workers = workers.map_or_else(Vec::new, <[WorkerId]>::to_vec);
        match self
            .request(|request| ClientRequest::Rebalance {
                request,
                keys,
                workers,
            })
            .await?
        {
            ClientEvent::Done { .. } => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// The cluster as the scheduler sees it: each worker's managed bytes
    /// and keys, its own report of memory, disk and process memory, and
    /// task counts. With `keys`, also which keys each worker holds.
    pub async fn status(&self, keys: bool) -> Result<ClusterStatus, ClientError> {
        match self
            .request(|request| ClientRequest::Status { request, keys })
            .await?
        {
            ClientEvent::Status { status, .. } => Ok(status),
            other => Err(unexpected(other)),
        }
    }

    /// Returns once the scheduler has applied everything this client sent
    /// before (releases of dropped futures included): a round trip on the
    /// ordered connection. Call it before a short-lived program exits, so
    /// that its releases are not left to the reconnection grace.
    pub async fn flush(&self) -> Result<(), ClientError> {
        self.workers().await.map(|_| ())
    }

    /// Closes this client on purpose, before a program exits: the scheduler
    /// learns it needs no reconnection grace, applies everything sent
    /// before (releases included) and, once the connection ends, lets go of
    /// whatever futures are still held. Calls after it fail as closed.
    pub async fn close(&self) -> Result<(), ClientError> {
        self.send_request(ClientRequest::Goodbye)?;
        self.flush().await?;
        crate::link::lock(self.state()).close("the client was closed".into());
        Ok(())
    }

    /// How many keys this client holds futures to.
    pub fn held_keys(&self) -> usize {
        lock(self.state()).keys.len()
    }
}

pub(crate) fn unexpected(event: ClientEvent) -> ClientError {
    ClientError::Connection(format!("unexpected reply: {event:?}"))
}
