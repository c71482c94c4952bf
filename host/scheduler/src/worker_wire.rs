//! The translation between the core's words for workers and the worker
//! link's messages, both ways, as pure functions: the state task uses
//! them, and so does the whole-cluster simulation, so that what the
//! simulation's workers receive is what real workers would.
//!
//! - [`to_worker`]: a core [`ToWorker`] becomes a [`WorkerCommand`], each
//!   input with its holders' data ports and a ticket for the receiving
//!   worker to get it with.
//! - [`from_worker`]: a [`WorkerReport`] becomes a core [`Event`], or
//!   something the driver handles itself ([`FromWorker`]).
//! - [`undeliverable`]: what a command too large to send is answered
//!   with instead.

mod undeliverable;

pub(crate) use undeliverable::queue_command;
pub use undeliverable::undeliverable;
use weft_core::{Event, Input, ModuleHash, ToWorker, WorkerId};
use weft_proto::messages::{WireCompute, WireInput, WorkerCommand, WorkerMetrics, WorkerReport};
use weft_proto::tickets::{Requester, Ticket, TicketScope};

/// What a worker's report is for.
#[derive(Debug)]
pub enum FromWorker {
    /// For the core.
    Event(Event),
    /// The worker asks for a module's bytes.
    GetModule {
        /// The module.
        hash: ModuleHash,
    },
    /// The worker could not load a module.
    ModuleRefused {
        /// The module.
        hash: ModuleHash,
        /// Why.
        message: String,
        /// Whether the refusal is for what the bytes are (not a deadline).
        lasting: bool,
    },
    /// A second registration (ignored).
    Register,
    /// Its metrics: also its heartbeat ([`Event::WorkerHeartbeat`]).
    Metrics(WorkerMetrics),
    /// It is about to leave, and why.
    Leaving {
        /// Why.
        reason: String,
    },
    /// It holds and runs nothing now, after a restart or a rejoin
    /// ([`Event::WorkerJoined`], with what the driver knows of it).
    Restarted,
}

/// What `report` from `worker` is for.
pub fn from_worker(worker: WorkerId, report: WorkerReport) -> FromWorker {
    let event = match report {
        WorkerReport::Finished {
            key,
            run,
            nbytes,
            duration_us,
        } => Event::TaskFinished {
            worker,
            key,
            run,
            nbytes,
            duration_us,
        },
        WorkerReport::Erred { key, run, message } => Event::TaskErred {
            worker,
            key,
            run,
            message,
        },
        WorkerReport::FetchFailed { key, run, missing } => Event::FetchFailed {
            worker,
            key,
            run,
            missing,
        },
        WorkerReport::Replica { key } => Event::ReplicaAdded { worker, key },
        WorkerReport::StealResponse { key, run, stolen } => Event::StealResponse {
            worker,
            key,
            run,
            stolen,
        },
        WorkerReport::ReplicaFailed { key, message } => Event::ReplicaFailed {
            worker,
            key,
            message,
        },
        WorkerReport::Running { tasks } => Event::WorkerRunning {
            worker,
            running: tasks,
        },
        WorkerReport::GetModule { hash } => return FromWorker::GetModule { hash },
        WorkerReport::ModuleRefused {
            hash,
            message,
            lasting,
        } => {
            return FromWorker::ModuleRefused {
                hash,
                message,
                lasting,
            };
        }
        WorkerReport::Register { .. } => return FromWorker::Register,
        WorkerReport::Metrics(metrics) => return FromWorker::Metrics(metrics),
        WorkerReport::Leaving { reason } => return FromWorker::Leaving { reason },
        WorkerReport::Restarted => return FromWorker::Restarted,
    };
    FromWorker::Event(event)
}

/// The command that carries `message` to `worker`. `data_port` gives a
/// holder's data port (holders without one are left out); `ticket` issues
/// a ticket.
pub fn to_worker(
    worker: WorkerId,
    message: ToWorker,
    data_port: impl Fn(WorkerId) -> Option<String>,
    ticket: impl Fn(TicketScope, Requester) -> Ticket,
) -> WorkerCommand {
    let wire_input = |input: Input| {
        let scope = TicketScope::Get {
            tenant: input.tenant.0,
            key: input.key,
        };
        WireInput {
            key: input.key,
            nbytes: input.nbytes,
            holders: input
                .holders
                .iter()
                .filter_map(|holder| data_port(*holder).map(|addr| (*holder, addr)))
                .collect(),
            ticket: ticket(scope, Requester::Worker(worker)),
        }
    };
    match message {
        ToWorker::Compute(task) => WorkerCommand::Compute(WireCompute {
            key: task.key,
            run: task.run,
            tenant: task.tenant,
            weight: task.weight,
            ceilings: task.ceilings,
            spec: task.spec,
            inputs: task.inputs.into_iter().map(wire_input).collect(),
        }),
        ToWorker::Fetch { inputs } => WorkerCommand::Fetch {
            inputs: inputs.into_iter().map(wire_input).collect(),
        },
        ToWorker::Steal { key, run } => WorkerCommand::Steal { key, run },
        ToWorker::Free { keys } => WorkerCommand::Free { keys },
        ToWorker::Restart => WorkerCommand::Restart,
        ToWorker::Rejoin { reason } => WorkerCommand::Rejoin { reason },
    }
}
