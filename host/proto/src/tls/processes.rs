//! The TLS setup of each kind of process, from its CA and identity: what
//! a client verifies ([`ClientTls`]), what a worker presents and verifies
//! ([`WorkerTls`]), and the scheduler's acceptor ([`scheduler_acceptor`]).
//! Each checks that the identity names the process's own role, so a
//! worker certificate cannot be used to run a scheduler by mistake.

use super::{CertRole, Identity, TlsError, TrustRoots, client_config, server_config};
use std::fmt;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// How a client verifies the scheduler and the workers' data ports (it
/// presents no certificate: its token says who it is).
#[derive(Clone)]
pub struct ClientTls {
    /// To the scheduler: its certificate must name the scheduler role.
    pub scheduler: Arc<rustls::ClientConfig>,
    /// To workers' data ports: their certificates must name the worker role.
    pub workers: Arc<rustls::ClientConfig>,
}

impl ClientTls {
    /// Verification against `ca`.
    pub fn new(ca: &TrustRoots) -> Result<ClientTls, TlsError> {
        Ok(ClientTls {
            scheduler: client_config(ca, None, CertRole::Scheduler)?,
            workers: client_config(ca, None, CertRole::Worker)?,
        })
    }
}

/// A worker's TLS: its certificate (role worker) toward the scheduler and
/// its peers, and its data port's acceptor.
#[derive(Clone)]
pub struct WorkerTls {
    /// To the scheduler (mutual TLS).
    pub scheduler: Arc<rustls::ClientConfig>,
    /// To peer workers' data ports (mutual TLS).
    pub peers: Arc<rustls::ClientConfig>,
    /// Its own data port.
    pub data_port: TlsAcceptor,
}

impl WorkerTls {
    /// The worker's TLS with `identity`, which must name the worker role.
    pub fn new(ca: &TrustRoots, identity: &Identity) -> Result<WorkerTls, TlsError> {
        require_role(identity, CertRole::Worker)?;
        Ok(WorkerTls {
            scheduler: client_config(ca, Some(identity), CertRole::Scheduler)?,
            peers: client_config(ca, Some(identity), CertRole::Worker)?,
            data_port: TlsAcceptor::from(server_config(ca, identity)?),
        })
    }
}

/// The scheduler's acceptor with `identity`, which must name the scheduler
/// role.
pub fn scheduler_acceptor(ca: &TrustRoots, identity: &Identity) -> Result<TlsAcceptor, TlsError> {
    require_role(identity, CertRole::Scheduler)?;
    Ok(TlsAcceptor::from(server_config(ca, identity)?))
}

fn require_role(identity: &Identity, role: CertRole) -> Result<(), TlsError> {
    match identity.role() {
        Some(found) if found == role => Ok(()),
        found => Err(TlsError::WrongIdentityRole {
            expected: role,
            found,
        }),
    }
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientTls")
    }
}

impl fmt::Debug for WorkerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WorkerTls")
    }
}
