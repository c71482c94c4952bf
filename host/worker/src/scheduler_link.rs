//! The connection to the scheduler: connecting and registering
//! ([`join`]), then a reading task that forwards [`WorkerCommand`]s to the
//! task loop in order ([`read_commands`]) and a writing task that sends the
//! loop's [`WorkerReport`]s in batches, one flush per wakeup
//! ([`write_reports`]).
//!
//! Reading and writing run in their own tasks so that a scheduler slow to
//! read never stops the worker from reading its commands, and the other way
//! round.

use crate::error::WorkerError;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use weft_core::WorkerId;
use weft_proto::messages::{WorkerCommand, WorkerReport};
use weft_proto::tickets::TicketSecret;
use weft_proto::{
    Connection, ConnectionError, ConnectionReader, ConnectionWriter, Dialer, Hello, Role,
};

/// How many report batches the writer takes per wakeup.
const BATCHES_PER_FLUSH: usize = 256;

/// Connects to the scheduler at `addr`, sends `register` and waits for the
/// welcome (within the handshake timeout). Returns the connection, the id
/// the scheduler gave and the local address of the connection (the
/// interface the scheduler is reached through).
pub(crate) async fn join(
    addr: &str,
    name: &str,
    dialer: &Dialer,
    register: impl FnOnce(Option<IpAddr>) -> WorkerReport,
) -> Result<(Connection, WorkerId, TicketSecret), WorkerError> {
    let limits = &dialer.limits;
    let hello = Hello::new(Role::Worker, name);
    let (mut connection, theirs) = match Connection::connect(addr, &hello, dialer).await {
        Ok(connected) => connected,
        Err(ConnectionError::Handshake { error, .. }) => {
            return Err(WorkerError::Handshake {
                addr: addr.to_string(),
                reason: error.to_string(),
            });
        }
        Err(ConnectionError::Refused { refusal, .. }) => {
            return Err(WorkerError::Refused {
                addr: addr.to_string(),
                refusal,
            });
        }
        Err(ConnectionError::UnexpectedRole { found, .. }) => {
            return Err(WorkerError::Handshake {
                addr: addr.to_string(),
                reason: format!("the process there is a {found}, not a scheduler"),
            });
        }
        Err(error) => {
            return Err(WorkerError::Connect {
                addr: addr.to_string(),
                source: Arc::new(error),
            });
        }
    };
    if theirs.role != Role::Scheduler {
        return Err(WorkerError::Handshake {
            addr: addr.to_string(),
            reason: format!(
                "the process there is a {} ({:?}), not a scheduler",
                theirs.role, theirs.name
            ),
        });
    }
    let local_ip = connection.local_addr().map(|a| a.ip());
    let failed = |error| WorkerError::Connection {
        addr: addr.to_string(),
        source: Arc::new(error),
    };
    connection.send(&register(local_ip)).await.map_err(failed)?;
    let timeout: Duration = limits.handshake_timeout;
    let welcome = tokio::time::timeout(timeout, connection.recv::<WorkerCommand>()).await;
    match welcome {
        Err(_elapsed) => Err(WorkerError::Handshake {
            addr: addr.to_string(),
            reason: format!("no welcome within {timeout:?} of registering (handshake_timeout)"),
        }),
        Ok(Err(error)) => Err(failed(error)),
        Ok(Ok(None)) => Err(WorkerError::SchedulerClosed {
            addr: addr.to_string(),
        }),
        Ok(Ok(Some(WorkerCommand::Welcome {
            worker,
            ticket_secret,
        }))) => Ok((connection, worker, ticket_secret)),
        Ok(Ok(Some(other))) => Err(WorkerError::Protocol {
            addr: addr.to_string(),
            message: format!("expected a welcome, got {}", command_name(&other)),
        }),
    }
}

/// Forwards commands to the loop until the scheduler closes the connection
/// (an error: a worker lives as long as its scheduler connection) or the
/// loop stops listening (`Ok`).
pub(crate) async fn read_commands(
    mut reader: ConnectionReader,
    commands: mpsc::Sender<WorkerCommand>,
    addr: String,
) -> Result<(), WorkerError> {
    loop {
        match reader.recv::<WorkerCommand>().await {
            Ok(Some(command)) => {
                if commands.send(command).await.is_err() {
                    return Ok(());
                }
            }
            Ok(None) => return Err(WorkerError::SchedulerClosed { addr }),
            Err(error) => {
                return Err(WorkerError::Connection {
                    addr,
                    source: Arc::new(error),
                });
            }
        }
    }
}

/// Sends the loop's reports: everything that arrived since the last wakeup
/// is queued, then flushed with one write. Ends with `Ok` when the loop
/// drops its sender, with an error when writing fails.
pub(crate) async fn write_reports(
    mut writer: ConnectionWriter,
    mut reports: mpsc::UnboundedReceiver<Vec<WorkerReport>>,
    addr: String,
) -> Result<(), WorkerError> {
    let mut batches = Vec::with_capacity(BATCHES_PER_FLUSH);
    while reports.recv_many(&mut batches, BATCHES_PER_FLUSH).await > 0 {
        for report in batches.drain(..).flatten() {
            if let Err(error) = writer.queue(&report) {
                // Nothing was queued and the connection is still usable;
                // the loop bounds messages, so this is a bug.
                tracing::error!(%error, ?report, "cannot queue a report to the scheduler");
            }
        }
        if let Err(error) = writer.flush().await {
            return Err(WorkerError::Connection {
                addr,
                source: Arc::new(error),
            });
        }
    }
    Ok(())
}

/// A command's name, for errors.
pub(crate) fn command_name(command: &WorkerCommand) -> &'static str {
    match command {
        WorkerCommand::Welcome { .. } => "Welcome",
        WorkerCommand::Compute(_) => "Compute",
        WorkerCommand::Free { .. } => "Free",
        WorkerCommand::Module { .. } => "Module",
        WorkerCommand::ModuleMissing { .. } => "ModuleMissing",
        WorkerCommand::ModuleRefused { .. } => "ModuleRefused",
        WorkerCommand::Steal { .. } => "Steal",
        WorkerCommand::Fetch { .. } => "Fetch",
        WorkerCommand::Restart => "Restart",
        WorkerCommand::Rejoin { .. } => "Rejoin",
    }
}
