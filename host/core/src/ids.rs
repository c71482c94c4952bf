//! Identifiers. [`ClientId`], [`TenantId`] and [`WorkerId`] are chosen by
//! the driver and travel in events and commands (they are defined in
//! `weft-schema`, which the wire shares); `TaskId` is the core's own
//! generational index of a task (`task/table.rs`) and never leaves it;
//! [`StimulusId`] names the event behind a transition.

use serde::{Deserialize, Serialize};
use std::fmt;
pub use weft_schema::ids::{ClientId, TenantId, WorkerId, wire_key};

pub(crate) use crate::task::TaskId;

/// Identifies the event that caused a transition (the driver numbers them).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
pub struct StimulusId(pub u64);

impl fmt::Display for StimulusId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stimulus-{}", self.0)
    }
}
