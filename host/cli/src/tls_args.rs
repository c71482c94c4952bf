//! The TLS flags of every command: `--tls-ca` (also `WEFT_TLS_CA`), and
//! for the scheduler and workers their own `--tls-cert` and `--tls-key`
//! (files made by `weft cert init`).

use crate::Failure;
use clap::Args;
use std::path::PathBuf;
use weft_proto::tls::{ClientTls, TlsFiles, WorkerTls, scheduler_acceptor};

/// TLS flags of a client command.
#[derive(Debug, Clone, Args)]
pub(crate) struct ClientTlsArgs {
    /// The cluster's CA certificate: connect with TLS and verify the
    /// scheduler and workers against it.
    #[arg(long, env = "WEFT_TLS_CA", global = true)]
    pub(crate) tls_ca: Option<PathBuf>,
}

impl ClientTlsArgs {
    /// The client's TLS, if a CA was given.
    pub(crate) fn load(&self) -> Result<Option<ClientTls>, Failure> {
        let Some(ca) = &self.tls_ca else {
            return Ok(None);
        };
        let files = TlsFiles {
            ca: ca.clone(),
            cert: None,
            key: None,
        };
        let (roots, _) = files.load().map_err(Failure::usage)?;
        ClientTls::new(&roots).map(Some).map_err(Failure::usage)
    }
}

/// TLS flags of the scheduler and workers.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServerTlsArgs {
    /// The cluster's CA certificate (`ca.pem`).
    #[arg(long, env = "WEFT_TLS_CA", requires_all = ["tls_cert", "tls_key"])]
    pub(crate) tls_ca: Option<PathBuf>,
    /// This process's certificate (`scheduler.pem` or `worker.pem`).
    #[arg(long, env = "WEFT_TLS_CERT", requires = "tls_ca")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// This process's private key.
    #[arg(long, env = "WEFT_TLS_KEY", requires = "tls_ca")]
    pub(crate) tls_key: Option<PathBuf>,
}

impl ServerTlsArgs {
    fn files(&self) -> Option<TlsFiles> {
        Some(TlsFiles {
            ca: self.tls_ca.clone()?,
            cert: self.tls_cert.clone(),
            key: self.tls_key.clone(),
        })
    }

    /// The scheduler's acceptor, if TLS was configured.
    pub(crate) fn scheduler(&self) -> Result<Option<tokio_rustls::TlsAcceptor>, Failure> {
        let Some(files) = self.files() else {
            return Ok(None);
        };
        let (roots, identity) = files.load().map_err(Failure::usage)?;
        let identity = identity.ok_or_else(|| {
            Failure::usage(anyhow::anyhow!("--tls-ca needs --tls-cert and --tls-key"))
        })?;
        scheduler_acceptor(&roots, &identity)
            .map(Some)
            .map_err(Failure::usage)
    }

    /// A worker's TLS, if configured.
    pub(crate) fn worker(&self) -> Result<Option<WorkerTls>, Failure> {
        let Some(files) = self.files() else {
            return Ok(None);
        };
        let (roots, identity) = files.load().map_err(Failure::usage)?;
        let identity = identity.ok_or_else(|| {
            Failure::usage(anyhow::anyhow!("--tls-ca needs --tls-cert and --tls-key"))
        })?;
        WorkerTls::new(&roots, &identity)
            .map(Some)
            .map_err(Failure::usage)
    }
}
