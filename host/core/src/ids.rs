//! Identifiers. [`ClientId`], [`TenantId`] and [`WorkerId`] are chosen by
//! the driver and travel in events and commands (they are defined in
//! `weft-schema`, which the wire shares); [`TaskId`] is the core's own
//! index of a task (a slab slot) and never leaves it; [`StimulusId`]
//! names the event behind a transition.

use serde::{Deserialize, Serialize};
use std::fmt;
pub use weft_schema::ids::{ClientId, TenantId, WorkerId, wire_key};

/// A task's slot in the scheduler's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TaskId(pub(crate) u32);

impl TaskId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

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
