//! Commands too large for a worker connection's frame limit. None is
//! dropped unheard: a `Free` goes as several smaller ones; a module's bytes
//! are replaced by a refusal the worker fails its tasks with; a task's
//! instruction, or a copy asked for, is answered for the worker as failed
//! ([`undeliverable`]), so that the core moves on as if the worker had
//! said so.

use weft_proto::messages::{WorkerCommand, WorkerReport};
use weft_proto::{ConnectionError, ConnectionWriter};

/// Queues `command`, splitting a `Free` that does not fit in one frame, and
/// sending a module that does not fit as its refusal.
pub(crate) fn queue_command(
    writer: &mut ConnectionWriter,
    command: &WorkerCommand,
) -> Result<(), ConnectionError> {
    let error = match writer.queue(command) {
        Ok(()) => return Ok(()),
        Err(error) => error,
    };
    match command {
        WorkerCommand::Free { keys } if keys.len() > 1 => {
            let (first, second) = keys.split_at(keys.len() / 2);
            queue_command(
                writer,
                &WorkerCommand::Free {
                    keys: first.to_vec(),
                },
            )?;
            queue_command(
                writer,
                &WorkerCommand::Free {
                    keys: second.to_vec(),
                },
            )
        }
        WorkerCommand::Module { hash, bytes } => {
            let message = format!(
                "the module ({} bytes) could not be sent to the worker: {error}",
                bytes.len()
            );
            writer.queue(&WorkerCommand::ModuleRefused {
                hash: *hash,
                message,
            })
        }
        _ => Err(error),
    }
}

/// What the worker would have answered to `command` had it failed there,
/// for a command that could not be sent (`reason`): a task's run erred, a
/// copy failed. Nothing for other commands.
pub fn undeliverable(command: &WorkerCommand, reason: &str) -> Vec<WorkerReport> {
    match command {
        WorkerCommand::Compute(task) => vec![WorkerReport::Erred {
            key: task.key,
            run: task.run,
            message: format!("the task's instruction {reason}"),
        }],
        WorkerCommand::Fetch { inputs } => inputs
            .iter()
            .map(|input| WorkerReport::ReplicaFailed {
                key: input.key,
                message: format!("the instruction to copy it {reason}"),
            })
            .collect(),
        _ => Vec::new(),
    }
}
