//! A blocking client for simple programs: the same [`crate::Client`] driven
//! by a tokio runtime it owns, so no `async` is needed.
//!
//! ```no_run
//! let client = weft_client::blocking::Client::local()?;
//! let module = client.upload_module_file("tasks.wasm")?;
//! let a = client.submit::<i64>(&module, "inc", (1,))?;
//! assert_eq!(client.result(&a)?, 2);
//! # Ok::<(), weft_client::ClientError>(())
//! ```

use crate::{
    Args, ClientError, Collection, Computed, Future, Module, ReturnWhen, SubmitOptions, WaitOutcome,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A [`crate::Client`] whose calls block.
#[derive(Debug, Clone)]
pub struct Client {
    client: crate::Client,
    runtime: Arc<tokio::runtime::Runtime>,
}

fn runtime() -> Result<tokio::runtime::Runtime, ClientError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("weft-client")
        .enable_all()
        .build()
        .map_err(|e| ClientError::Connection(format!("could not start the client's runtime: {e}")))
}

impl Client {
    /// Connects to the scheduler at `addr`.
    pub fn connect(addr: &str) -> Result<Client, ClientError> {
        Client::connect_with_options(addr, crate::ClientOptions::default())
    }

    /// Connects with explicit options (a token, TLS).
    pub fn connect_with_options(
        addr: &str,
        options: crate::ClientOptions,
    ) -> Result<Client, ClientError> {
        let runtime = runtime()?;
        let client = runtime.block_on(crate::Client::connect_with_options(addr, options))?;
        Ok(Client {
            client,
            runtime: Arc::new(runtime),
        })
    }

    /// A client of a new local cluster that lives as long as the client.
    #[cfg(feature = "local")]
    pub fn local() -> Result<Client, ClientError> {
        Client::local_with(crate::LocalConfig::default())
    }

    /// [`Client::local`] with a given shape.
    #[cfg(feature = "local")]
    pub fn local_with(config: crate::LocalConfig) -> Result<Client, ClientError> {
        let runtime = runtime()?;
        let client = runtime.block_on(crate::Client::local_with(config))?;
        Ok(Client {
            client,
            runtime: Arc::new(runtime),
        })
    }

    /// The asynchronous client underneath.
    pub fn as_async(&self) -> &crate::Client {
        &self.client
    }

    /// See [`crate::Client::upload_module`].
    pub fn upload_module(&self, bytes: impl Into<Vec<u8>>) -> Result<Module, ClientError> {
        self.runtime.block_on(self.client.upload_module(bytes))
    }

    /// See [`crate::Client::upload_module_file`].
    pub fn upload_module_file(&self, path: impl AsRef<Path>) -> Result<Module, ClientError> {
        self.runtime.block_on(self.client.upload_module_file(path))
    }

    /// See [`crate::Client::submit`].
    pub fn submit<R>(
        &self,
        module: &Module,
        task: &str,
        args: impl Args,
    ) -> Result<Future<R>, ClientError> {
        self.client.submit(module, task, args)
    }

    /// See [`crate::Client::submit_with`].
    pub fn submit_with<R>(
        &self,
        module: &Module,
        task: &str,
        args: impl Args,
        options: SubmitOptions,
    ) -> Result<Future<R>, ClientError> {
        self.client.submit_with(module, task, args, options)
    }

    /// See [`crate::Client::map`].
    pub fn map<R, A: Args>(
        &self,
        module: &Module,
        task: &str,
        inputs: impl IntoIterator<Item = A>,
    ) -> Result<Vec<Future<R>>, ClientError> {
        self.client.map(module, task, inputs)
    }

    /// Waits for one future and brings its result here.
    pub fn result<R: DeserializeOwned>(&self, future: &Future<R>) -> Result<R, ClientError> {
        self.runtime.block_on(future.result())
    }

    /// See [`crate::Client::gather`].
    pub fn gather<R: DeserializeOwned>(
        &self,
        futures: &[Future<R>],
    ) -> Result<Vec<R>, ClientError> {
        self.runtime.block_on(self.client.gather(futures))
    }

    /// See [`crate::Client::scatter`].
    pub fn scatter<T: Serialize>(
        &self,
        values: &[T],
        broadcast: bool,
    ) -> Result<Vec<Future<T>>, ClientError> {
        self.runtime
            .block_on(self.client.scatter(values, broadcast))
    }

    /// See [`crate::Client::persist`].
    pub fn persist<T>(&self, collection: &Collection<T>) -> Result<Collection<T>, ClientError> {
        self.client.persist(collection)
    }

    /// See [`crate::Client::compute`]; the result with [`Client::computed`].
    pub fn compute<T>(&self, collection: &Collection<T>) -> Result<Computed<T>, ClientError> {
        self.client.compute(collection)
    }

    /// Waits for a computed collection and gathers it.
    pub fn computed<T: DeserializeOwned>(
        &self,
        computed: &Computed<T>,
    ) -> Result<Vec<T>, ClientError> {
        self.runtime.block_on(computed.result())
    }

    /// See [`crate::Client::wait`].
    pub fn wait<T>(
        &self,
        futures: &[Future<T>],
        timeout: Option<Duration>,
        return_when: ReturnWhen,
    ) -> Result<WaitOutcome, ClientError> {
        self.runtime
            .block_on(self.client.wait(futures, timeout, return_when))
    }
}
