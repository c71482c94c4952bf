//! [`Future`]: a handle to a task's result in distributed memory. While any
//! clone of it exists the result is kept; when the last one is dropped the
//! client tells the scheduler, which frees the data once nobody else needs
//! it.

use crate::state::FutureStatus;
use crate::{Client, ClientError};
use serde::de::DeserializeOwned;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use weft_core::TaskFailure;
use weft_schema::graph::TaskKey;
use weft_schema::signature::Type;

/// The result of a task, to come. `T` is the type it decodes to.
pub struct Future<T> {
    pub(crate) key: TaskKey,
    pub(crate) client: Client,
    /// The declared result type, when known, for decoding with conversion.
    pub(crate) ret: Option<Arc<Type>>,
    pub(crate) _result: PhantomData<fn() -> T>,
}

impl<T> Future<T> {
    /// The task's key.
    pub fn key(&self) -> TaskKey {
        self.key
    }

    /// Where it stands now.
    pub fn status(&self) -> FutureStatus {
        self.client.status_of(&self.key)
    }

    /// Whether it is final (finished, failed, refused or cancelled), as
    /// Dask's `Future.done()`.
    pub fn done(&self) -> bool {
        self.status().is_final()
    }

    /// How many times its data was lost with a worker (and recomputed, or
    /// being recomputed) since this client took it.
    pub fn times_lost(&self) -> u32 {
        crate::link::lock(self.client.state())
            .keys
            .get(&self.key)
            .map_or(0, |entry| entry.lost)
    }

    /// The failure, if it failed.
    pub fn error(&self) -> Option<Arc<TaskFailure>> {
        match self.status() {
            FutureStatus::Error(failure) => Some(failure),
            _ => None,
        }
    }

    /// Waits until the result is in memory (or the task failed).
    pub async fn wait(&self) -> Result<(), ClientError> {
        self.client.wait_key(&self.key).await
    }

    /// Waits for the result and brings it to this process.
    pub async fn result(&self) -> Result<T, ClientError>
    where
        T: DeserializeOwned,
    {
        let mut values = self.client.gather(std::slice::from_ref(self)).await?;
        Ok(values.pop().expect("gather returns one value per future"))
    }
}

impl<T> Future<T> {
    /// Another handle to the same key, not typed.
    pub(crate) fn untyped(&self) -> Future<()> {
        self.client.hold_again(self.key);
        Future {
            key: self.key,
            client: self.client.clone(),
            ret: None,
            _result: PhantomData,
        }
    }
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        self.client.hold_again(self.key);
        Future {
            key: self.key,
            client: self.client.clone(),
            ret: self.ret.clone(),
            _result: PhantomData,
        }
    }
}

impl<T> Drop for Future<T> {
    fn drop(&mut self) {
        self.client.unhold(&self.key);
    }
}

impl<T> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Future")
            .field("key", &self.key)
            .field("status", &self.status())
            .finish()
    }
}
