//! Waiting on many futures: [`Client::wait`] (all, first completed, first
//! failure, with a timeout) and [`Client::as_completed`] (each future as it
//! finishes).

use crate::{Client, ClientError, Future};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::pin::Pin;
use std::time::Duration;

/// When [`Client::wait`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnWhen {
    /// When every future is finished or failed.
    AllCompleted,
    /// When any future is finished or failed.
    FirstCompleted,
    /// When any future fails, or all are done.
    FirstException,
}

/// What [`Client::wait`] saw: indices into the futures given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WaitOutcome {
    /// Finished or failed.
    pub done: Vec<usize>,
    /// Still pending.
    pub not_done: Vec<usize>,
}

type Waiting<'a> =
    Pin<Box<dyn std::future::Future<Output = (usize, Result<(), ClientError>)> + Send + 'a>>;

/// Yields each future's index as it completes (see [`Client::as_completed`]).
pub struct AsCompleted<'a> {
    pending: FuturesUnordered<Waiting<'a>>,
}

impl std::fmt::Debug for AsCompleted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsCompleted")
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl AsCompleted<'_> {
    /// The next completed future: its index, and `Err` if it failed.
    /// `None` when all have completed.
    pub async fn next(&mut self) -> Option<(usize, Result<(), ClientError>)> {
        self.pending.next().await
    }
}

impl Client {
    /// Yields the futures as they complete, in completion order.
    pub fn as_completed<'a, T>(&'a self, futures: &'a [Future<T>]) -> AsCompleted<'a> {
        let pending = futures
            .iter()
            .enumerate()
            .map(|(index, future)| -> Waiting<'a> {
                Box::pin(async move { (index, self.wait_key(&future.key).await) })
            })
            .collect();
        AsCompleted { pending }
    }

    /// Waits for futures to complete, as `return_when` says, for at most
    /// `timeout` (none: no limit). A timeout is not an error: the outcome
    /// tells which are done.
    pub async fn wait<T>(
        &self,
        futures: &[Future<T>],
        timeout: Option<Duration>,
        return_when: ReturnWhen,
    ) -> Result<WaitOutcome, ClientError> {
        let mut done = vec![false; futures.len()];
        let mut completed = self.as_completed(futures);
        let waiting = async {
            while let Some((index, outcome)) = completed.next().await {
                done[index] = true;
                if let Err(ClientError::Closed(reason)) = &outcome {
                    return Err(ClientError::Closed(reason.clone()));
                }
                match return_when {
                    ReturnWhen::FirstCompleted => break,
                    ReturnWhen::FirstException if outcome.is_err() => break,
                    _ => {}
                }
            }
            Ok(())
        };
        match timeout {
            Some(limit) => {
                if let Ok(result) = tokio::time::timeout(limit, waiting).await {
                    result?;
                }
            }
            None => waiting.await?,
        }
        drop(completed);
        let mut outcome = WaitOutcome::default();
        for (index, future) in futures.iter().enumerate() {
            if done[index] || future.status().is_final() {
                outcome.done.push(index);
            } else {
                outcome.not_done.push(index);
            }
        }
        Ok(outcome)
    }
}
