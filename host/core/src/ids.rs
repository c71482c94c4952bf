//! Identifiers. [`ClientId`] and [`WorkerId`] are chosen by the driver and
//! travel in events and commands; `TaskId` is the core's own generational
//! index of a task (`task/table.rs`) and never leaves it.

use serde::{Deserialize, Serialize};
use std::fmt;
use weft_schema::graph::TaskKey;

/// A client connection (or a pseudo-client such as the dataset store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClientId(pub u32);

/// A tenant: whose objects a client's keys, datasets and futures are.
/// The driver numbers tenants; [`TenantId::OPEN`] is the one tenant of a
/// cluster without tenants.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
pub struct TenantId(pub u32);

impl TenantId {
    /// The tenant of a cluster that has no others: its keys are used on
    /// workers as they are. A driver that gives this id to a client must
    /// give it to every client.
    pub const OPEN: TenantId = TenantId(0);
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tenant-{}", self.0)
    }
}

/// The key workers know a tenant's task by: the tenant's own name for it
/// under [`TenantId::OPEN`], otherwise the first 16 bytes of BLAKE3 over a
/// fixed prefix, the tenant and the name, so two tenants that submit the
/// identical task get different keys and can never name each other's.
pub fn wire_key(tenant: TenantId, name: &TaskKey) -> TaskKey {
    if tenant == TenantId::OPEN {
        return *name;
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"weft/tenant-key/v1\0");
    hasher.update(&tenant.0.to_le_bytes());
    hasher.update(&name.0);
    let mut key = [0; 16];
    key.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    TaskKey(key)
}

/// A worker process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WorkerId(pub u32);

pub(crate) use crate::task::TaskId;

/// Identifies the event that caused a transition (the driver numbers them).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
pub struct StimulusId(pub u64);

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client-{}", self.0)
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "worker-{}", self.0)
    }
}

impl fmt::Display for StimulusId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stimulus-{}", self.0)
    }
}
