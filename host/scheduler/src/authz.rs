//! The one authorizer: every client request is named as an [`Operation`]
//! ([`Operation::of`], exhaustive over `ClientRequest`, so a new request
//! cannot be added without deciding who may make it) and decided by
//! [`authorize`] from the principal's access and whose object it is.
//! Objects are scoped to the caller's tenant by the core, so "another
//! tenant's object" arises only for cluster-wide operations and admin
//! views.

use weft_proto::auth::{Access, Principal};
use weft_proto::messages::ClientRequest;

/// What a request does, for authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// Upload a module.
    UploadModule,
    /// Submit tasks (and take futures to them).
    Submit,
    /// Take futures to known keys (a dataset's).
    Want,
    /// Drop futures.
    Release,
    /// Ask where results are (to gather them).
    WhoHas,
    /// Scatter data.
    Scatter,
    /// List the workers.
    ListWorkers,
    /// Name or resume a session.
    Session,
    /// Close on purpose.
    Goodbye,
    /// Cancel own futures.
    Cancel,
    /// Cancel for everyone, dependents included (within the tenant).
    ForceCancel,
    /// Restart: a tenant's futures, or (admin) the worker processes.
    Restart,
    /// Copy keys to more workers.
    Replicate,
    /// Move given keys between workers.
    Rebalance,
    /// Move every key of the cluster.
    RebalanceCluster,
    /// Publish datasets.
    Publish,
    /// Get a dataset.
    GetDataset,
    /// Unpublish a dataset.
    Unpublish,
    /// Share or unshare a dataset with another tenant.
    Share,
    /// List datasets.
    ListDatasets,
    /// The cluster's status.
    Status,
}

impl Operation {
    /// Every operation, for tables and tests.
    pub const ALL: [Operation; 21] = [
        Operation::UploadModule,
        Operation::Submit,
        Operation::Want,
        Operation::Release,
        Operation::WhoHas,
        Operation::Scatter,
        Operation::ListWorkers,
        Operation::Session,
        Operation::Goodbye,
        Operation::Cancel,
        Operation::ForceCancel,
        Operation::Restart,
        Operation::Replicate,
        Operation::Rebalance,
        Operation::RebalanceCluster,
        Operation::Publish,
        Operation::GetDataset,
        Operation::Unpublish,
        Operation::Share,
        Operation::ListDatasets,
        Operation::Status,
    ];

    /// The operation a request is.
    pub fn of(request: &ClientRequest) -> Operation {
        match request {
            ClientRequest::UploadModule { .. } => Operation::UploadModule,
            ClientRequest::SubmitGraph { .. }
            | ClientRequest::SubmitGraphPart { .. }
            | ClientRequest::DropGraphParts => Operation::Submit,
            ClientRequest::Want { .. } => Operation::Want,
            ClientRequest::Release { .. } => Operation::Release,
            ClientRequest::WhoHas { .. } => Operation::WhoHas,
            ClientRequest::Scattered { .. } | ClientRequest::PrepareScatter { .. } => {
                Operation::Scatter
            }
            ClientRequest::ListWorkers { .. } => Operation::ListWorkers,
            ClientRequest::Session { .. }
            | ClientRequest::Heartbeat
            | ClientRequest::Holding { .. } => Operation::Session,
            ClientRequest::Goodbye => Operation::Goodbye,
            ClientRequest::Cancel { force: false, .. } => Operation::Cancel,
            ClientRequest::Cancel { force: true, .. } => Operation::ForceCancel,
            ClientRequest::Restart { .. } => Operation::Restart,
            ClientRequest::Replicate { .. } => Operation::Replicate,
            ClientRequest::Rebalance { keys, .. } if keys.is_empty() => Operation::RebalanceCluster,
            ClientRequest::Rebalance { .. } => Operation::Rebalance,
            ClientRequest::PublishDatasets { .. } => Operation::Publish,
            ClientRequest::GetDataset { .. } => Operation::GetDataset,
            ClientRequest::UnpublishDataset { .. } => Operation::Unpublish,
            ClientRequest::ShareDataset { .. } => Operation::Share,
            ClientRequest::ListDatasets { .. } => Operation::ListDatasets,
            ClientRequest::Status { .. } => Operation::Status,
        }
    }

    /// Its name in the audit log and in errors.
    pub fn name(self) -> &'static str {
        match self {
            Operation::UploadModule => "upload_module",
            Operation::Submit => "submit",
            Operation::Want => "want",
            Operation::Release => "release",
            Operation::WhoHas => "who_has",
            Operation::Scatter => "scatter",
            Operation::ListWorkers => "list_workers",
            Operation::Session => "session",
            Operation::Goodbye => "goodbye",
            Operation::Cancel => "cancel",
            Operation::ForceCancel => "force_cancel",
            Operation::Restart => "restart",
            Operation::Replicate => "replicate",
            Operation::Rebalance => "rebalance",
            Operation::RebalanceCluster => "rebalance_cluster",
            Operation::Publish => "publish",
            Operation::GetDataset => "get_dataset",
            Operation::Unpublish => "unpublish",
            Operation::Share => "share",
            Operation::ListDatasets => "list_datasets",
            Operation::Status => "status",
        }
    }

    /// The least access that may do it on the caller's own tenant.
    fn needs(self) -> Access {
        match self {
            Operation::Want
            | Operation::Release
            | Operation::WhoHas
            | Operation::ListWorkers
            | Operation::Session
            | Operation::Goodbye
            | Operation::GetDataset
            | Operation::ListDatasets
            | Operation::Status => Access::Read,
            Operation::UploadModule
            | Operation::Submit
            | Operation::Scatter
            | Operation::Cancel
            | Operation::ForceCancel
            | Operation::Restart
            | Operation::Replicate
            | Operation::Rebalance
            | Operation::Publish
            | Operation::Unpublish
            | Operation::Share => Access::Write,
            Operation::RebalanceCluster => Access::Admin,
        }
    }
}

/// Whose object an operation touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The caller's own tenant.
    Own,
    /// Another tenant (or every tenant).
    Other,
}

/// The authorizer's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Refused.
    Deny,
}

/// Decides whether `principal` may do `operation` on an object of `owner`.
/// Read < Write < Admin on the caller's own tenant; on another tenant's,
/// only admin; a worker never acts as a client.
pub fn authorize(principal: &Principal, operation: Operation, owner: Owner) -> Decision {
    let rank = |access: Access| match access {
        Access::Read => 1,
        Access::Write => 2,
        Access::Admin => 3,
        Access::Worker => 0,
    };
    let needed = match owner {
        Owner::Own => operation.needs(),
        Owner::Other => Access::Admin,
    };
    if principal.access != Access::Worker && rank(principal.access) >= rank(needed) {
        Decision::Allow
    } else {
        Decision::Deny
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::{Allow, Deny};

    fn principal(access: Access) -> Principal {
        Principal {
            tenant: "alice".into(),
            access,
            token_id: "000000000000".into(),
        }
    }

    /// The decision table: (operation, owner) → decision for read, write,
    /// admin and worker, every operation listed once per owner.
    #[test]
    fn the_decision_table() {
        use Operation as O;
        #[rustfmt::skip]
        let table: &[(Operation, Owner, [Decision; 4])] = &[
            //                                 read   write  admin  worker
            (O::UploadModule, Owner::Own,     [Deny,  Allow, Allow, Deny]),
            (O::Submit, Owner::Own,           [Deny,  Allow, Allow, Deny]),
            (O::Want, Owner::Own,             [Allow, Allow, Allow, Deny]),
            (O::Release, Owner::Own,          [Allow, Allow, Allow, Deny]),
            (O::WhoHas, Owner::Own,           [Allow, Allow, Allow, Deny]),
            (O::Scatter, Owner::Own,          [Deny,  Allow, Allow, Deny]),
            (O::ListWorkers, Owner::Own,      [Allow, Allow, Allow, Deny]),
            (O::Session, Owner::Own,          [Allow, Allow, Allow, Deny]),
            (O::Goodbye, Owner::Own,          [Allow, Allow, Allow, Deny]),
            (O::Cancel, Owner::Own,           [Deny,  Allow, Allow, Deny]),
            (O::ForceCancel, Owner::Own,      [Deny,  Allow, Allow, Deny]),
            (O::Restart, Owner::Own,          [Deny,  Allow, Allow, Deny]),
            (O::Replicate, Owner::Own,        [Deny,  Allow, Allow, Deny]),
            (O::Rebalance, Owner::Own,        [Deny,  Allow, Allow, Deny]),
            (O::RebalanceCluster, Owner::Own, [Deny,  Deny,  Allow, Deny]),
            (O::Publish, Owner::Own,          [Deny,  Allow, Allow, Deny]),
            (O::GetDataset, Owner::Own,       [Allow, Allow, Allow, Deny]),
            (O::Unpublish, Owner::Own,        [Deny,  Allow, Allow, Deny]),
            (O::Share, Owner::Own,            [Deny,  Allow, Allow, Deny]),
            (O::ListDatasets, Owner::Own,     [Allow, Allow, Allow, Deny]),
            (O::Status, Owner::Own,           [Allow, Allow, Allow, Deny]),
        ];
        let accesses = [Access::Read, Access::Write, Access::Admin, Access::Worker];
        for operation in Operation::ALL {
            let rows: Vec<_> = table.iter().filter(|row| row.0 == operation).collect();
            assert_eq!(rows.len(), 1, "{operation:?} has one row");
            let (_, owner, expected) = rows[0];
            for (access, want) in accesses.iter().zip(expected) {
                assert_eq!(
                    authorize(&principal(*access), operation, *owner),
                    *want,
                    "{access} {operation:?} on {owner:?}"
                );
                // On another tenant's objects only admin is allowed.
                let other = if *access == Access::Admin {
                    Allow
                } else {
                    Deny
                };
                assert_eq!(
                    authorize(&principal(*access), operation, Owner::Other),
                    other,
                    "{access} {operation:?} on another tenant"
                );
            }
        }
    }

    #[test]
    fn every_request_maps_to_an_operation_with_a_name() {
        let names: std::collections::BTreeSet<_> =
            Operation::ALL.iter().map(|o| o.name()).collect();
        assert_eq!(names.len(), Operation::ALL.len(), "names are unique");
    }
}
