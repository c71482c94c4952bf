//! [`LocalCluster`]: a scheduler and workers inside this process, on
//! 127.0.0.1 ports chosen by the OS; what `Client::local()` and `weft local`
//! run. Dropping the cluster stops it.
//!
//! It is secure with no configuration: it generates its own tokens (an
//! admin token of tenant `local` for its clients, a worker token for its
//! workers), kept in memory only; [`LocalCluster::token`] gives the client
//! token to other processes that should connect.

use crate::{Client, ClientError};
use weft_runtime::TaskLimits;
use weft_runtime::config::CompileLimits;
use weft_scheduler::{SchedulerConfig, SchedulerHandle};
use weft_worker::{WorkerConfig, WorkerHandle};

/// The shape of a local cluster.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// How many workers. Default 1.
    pub workers: usize,
    /// Executor threads per worker. Default: the machine's parallelism.
    pub nthreads: u32,
    /// Limits of every task.
    pub limits: TaskLimits,
    /// The scheduler's listen address. Default `127.0.0.1:0`.
    pub listen: String,
    /// How its connections are protected. Default
    /// [`LocalSecurity::Tokens`].
    pub security: LocalSecurity,
    /// Limits on compiling modules, and where the workers compile. Default:
    /// [`CompileLimits::default`], in this process, where the structural
    /// limits hold but no compile deadline or memory ceiling can (a program
    /// that can run a compiler child, as the `weft` binary does for
    /// `weft local`, gives [`weft_runtime::config::CompilerPlacement::Subprocess`]).
    pub compile: CompileLimits,
}

/// How a local cluster protects its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LocalSecurity {
    /// Generated tokens (tenant `local`), plain TCP on loopback.
    #[default]
    Tokens,
    /// Generated tokens and TLS with a CA and certificates made in memory
    /// at start (mutual TLS between scheduler and workers).
    TokensAndTls,
    /// Neither (tenant `default`, admin): for comparisons only.
    Open,
}

impl Default for LocalConfig {
    fn default() -> Self {
        LocalConfig {
            workers: 1,
            nthreads: weft_worker::default_nthreads(),
            limits: TaskLimits::default(),
            listen: "127.0.0.1:0".into(),
            security: LocalSecurity::default(),
            compile: CompileLimits::default(),
        }
    }
}

/// A scheduler and workers in this process.
#[derive(Debug)]
pub struct LocalCluster {
    scheduler: SchedulerHandle,
    workers: Vec<WorkerHandle>,
    token: weft_proto::Secret,
    tls: Option<weft_proto::tls::ClientTls>,
}

/// The tenant of a local cluster's clients.
pub const LOCAL_TENANT: &str = "local";

impl LocalCluster {
    /// Starts the scheduler, then the workers, and waits until every worker
    /// has joined.
    pub async fn start(config: LocalConfig) -> Result<LocalCluster, ClientError> {
        let generated =
            weft_scheduler::tenants::TokenRegistry::generated(LOCAL_TENANT).map_err(|e| {
                ClientError::Connection(format!("cannot make the cluster's tokens: {e}"))
            })?;
        let tls = match config.security {
            LocalSecurity::TokensAndTls => Some(LocalTls::generate()?),
            LocalSecurity::Tokens | LocalSecurity::Open => None,
        };
        let tokens = match config.security {
            LocalSecurity::Open => weft_scheduler::Tokens::Open,
            _ => weft_scheduler::Tokens::Fixed(std::sync::Arc::new(generated.registry)),
        };
        let scheduler = weft_scheduler::start(SchedulerConfig {
            listen: config.listen.clone(),
            tokens,
            tls: tls.as_ref().map(|t| t.scheduler.clone()),
            ..SchedulerConfig::default()
        })
        .await
        .map_err(|e| ClientError::Connection(e.to_string()))?;
        let mut workers = Vec::with_capacity(config.workers);
        for index in 0..config.workers {
            let mut worker = WorkerConfig::new(scheduler.addr().to_string());
            worker.name = format!("local-{index}");
            worker.nthreads = config.nthreads.max(1);
            worker.runtime.instances_max = worker.runtime.instances_max.max(worker.nthreads);
            worker.runtime.compile = config.compile.clone();
            worker.limits = config.limits.clone();
            worker.token = Some(generated.worker_token.clone());
            worker.tls = tls.as_ref().map(|t| t.worker.clone());
            let handle = weft_worker::start(worker).await.map_err(|e| {
                ClientError::Connection(format!("could not start worker {index}: {e}"))
            })?;
            workers.push(handle);
        }
        Ok(LocalCluster {
            scheduler,
            workers,
            token: generated.admin_token,
            tls: tls.map(|t| t.client),
        })
    }

    /// The token clients of this cluster connect with (an admin token of
    /// tenant `local`). Never logged; hand it only to processes that should
    /// use the cluster.
    pub fn token(&self) -> &weft_proto::Secret {
        &self.token
    }

    /// The scheduler's address.
    pub fn addr(&self) -> String {
        self.scheduler.addr().to_string()
    }

    /// The workers.
    pub fn workers(&self) -> &[WorkerHandle] {
        &self.workers
    }

    /// Stops one worker (as if its process died), for tests of recovery.
    pub fn stop_worker(&mut self, index: usize) {
        if index < self.workers.len() {
            let worker = self.workers.remove(index);
            worker.shutdown();
        }
    }

    /// A client of this cluster.
    pub async fn client(&self) -> Result<Client, ClientError> {
        let options = crate::ClientOptions {
            token: Some(self.token.clone()),
            tls: self.tls.clone(),
            ..crate::ClientOptions::default()
        };
        Client::connect_with_options(&self.addr(), options).await
    }
}

impl Client {
    /// A client of a new local cluster (one worker, one thread per core),
    /// which lives as long as the client: Dask's `Client()`.
    pub async fn local() -> Result<Client, ClientError> {
        Client::local_with(LocalConfig::default()).await
    }

    /// [`Client::local`] with a given shape.
    pub async fn local_with(config: LocalConfig) -> Result<Client, ClientError> {
        let cluster = LocalCluster::start(config).await?;
        let client = cluster.client().await?;
        client.own_cluster(cluster);
        Ok(client)
    }
}

/// The TLS of a local cluster: a CA made at start, certificates for
/// 127.0.0.1 and localhost, nothing written anywhere.
struct LocalTls {
    scheduler: tokio_rustls::TlsAcceptor,
    worker: weft_proto::tls::WorkerTls,
    client: weft_proto::tls::ClientTls,
}

impl LocalTls {
    fn generate() -> Result<LocalTls, ClientError> {
        use weft_proto::tls::{CertRole, CertificateAuthority, TrustRoots, Validity};
        let fail = |e: weft_proto::tls::TlsError| {
            ClientError::Connection(format!("cannot make the local cluster's certificates: {e}"))
        };
        let ca = CertificateAuthority::generate("weft local cluster CA").map_err(fail)?;
        let hosts = ["127.0.0.1".to_string(), "localhost".to_string()];
        let identity = |role| {
            ca.issue(role, &hosts, Validity::default())
                .and_then(|issued| issued.identity())
        };
        let roots = TrustRoots::from_pem(ca.cert_pem().as_bytes()).map_err(fail)?;
        let scheduler = identity(CertRole::Scheduler).map_err(fail)?;
        let worker = identity(CertRole::Worker).map_err(fail)?;
        Ok(LocalTls {
            scheduler: weft_proto::tls::scheduler_acceptor(&roots, &scheduler).map_err(fail)?,
            worker: weft_proto::tls::WorkerTls::new(&roots, &worker).map_err(fail)?,
            client: weft_proto::tls::ClientTls::new(&roots).map_err(fail)?,
        })
    }
}
