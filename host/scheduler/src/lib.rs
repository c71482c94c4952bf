//! The scheduler process: accepts clients and workers on one port and
//! moves messages between them and the pure decision logic of `weft-core`.
//!
//! ```no_run
//! # async fn example() -> Result<(), weft_scheduler::SchedulerError> {
//! let scheduler = weft_scheduler::start(weft_scheduler::SchedulerConfig::default()).await?;
//! println!("scheduler at {}", scheduler.addr());
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod audit;
mod authn;
pub mod authz;
mod config;
mod graph_parts;
mod inbox;
mod modules;
mod server;
mod sessions;
mod state;
pub mod tenants;
pub mod worker_wire;

pub use config::{
    DEFAULT_CONNECTIONS_MAX, DEFAULT_LISTEN, DEFAULT_MODULE_BYTES_MAX,
    DEFAULT_MODULE_STORE_BYTES_MAX, DEFAULT_OUTBOX_MESSAGES_MAX, SchedulerConfig,
};

pub use inbox::DEFAULT_CLIENT_INBOX_MAX;

pub use audit::AUDIT_TARGET;
pub use authn::Tokens;

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use weft_proto::tickets::TicketSecret;

/// The scheduler could not start.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The operating system's random number generator failed (the ticket
    /// secret is drawn from it).
    #[error("the system's random number generator failed: {reason}")]
    Random {
        /// What it said.
        reason: String,
    },
    /// The listen address could not be bound.
    #[error("could not listen on {addr}: {error}")]
    Bind {
        /// The address.
        addr: String,
        /// The OS error.
        error: std::io::Error,
    },
}

/// A running scheduler. Dropping it stops the scheduler.
#[derive(Debug)]
pub struct SchedulerHandle {
    addr: SocketAddr,
    accept: JoinHandle<()>,
    state: JoinHandle<()>,
}

impl SchedulerHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits until the scheduler stops (it runs until dropped or the
    /// process ends).
    pub async fn closed(&mut self) {
        let _ = (&mut self.state).await;
    }
}

impl Drop for SchedulerHandle {
    fn drop(&mut self) {
        self.accept.abort();
        self.state.abort();
    }
}

/// Binds the listen address and starts serving in the current tokio
/// runtime.
pub async fn start(config: SchedulerConfig) -> Result<SchedulerHandle, SchedulerError> {
    let listener =
        TcpListener::bind(&config.listen)
            .await
            .map_err(|error| SchedulerError::Bind {
                addr: config.listen.clone(),
                error,
            })?;
    let addr = listener
        .local_addr()
        .map_err(|error| SchedulerError::Bind {
            addr: config.listen.clone(),
            error,
        })?;
    let (inputs, received) = mpsc::unbounded_channel();
    if let Tokens::Watched(registry) = &config.tokens {
        let mut registry = registry.clone();
        let reloads = inputs.downgrade();
        tokio::spawn(async move {
            while registry.changed().await.is_ok() {
                let Some(inputs) = reloads.upgrade() else {
                    return;
                };
                if inputs.send(state::Input::TokensReloaded).is_err() {
                    return;
                }
            }
        });
    }
    let ticket_secret = TicketSecret::generate().map_err(|error| SchedulerError::Random {
        reason: error.to_string(),
    })?;
    let state = tokio::spawn(state::State::new(&config, ticket_secret).run(received));
    let acceptor = weft_proto::Acceptor {
        limits: config.connection,
        tls: config.tls.clone(),
        authenticator: Arc::new(authn::SchedulerAuthenticator {
            tokens: config.tokens.clone(),
        }),
    };
    let settings = server::PortSettings {
        connections_max: config.connections_max,
        outbox_max: config.outbox_messages_max,
        inbox_max: config.client_inbox_max,
        graph_limits: config.graph.clone(),
    };
    let accept = tokio::spawn(server::accept_loop(listener, inputs, acceptor, settings));
    tracing::info!(%addr, "scheduler listening");
    Ok(SchedulerHandle {
        addr,
        accept,
        state,
    })
}
