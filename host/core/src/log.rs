//! The bounded transition log behind `Scheduler::story`.

use crate::ids::StimulusId;
use crate::task::StateName;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use weft_schema::graph::TaskKey;

/// One state change of one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// The task.
    pub key: TaskKey,
    /// The state before.
    pub from: StateName,
    /// The state after.
    pub to: StateName,
    /// The event that caused it.
    pub stimulus: StimulusId,
}

/// The last `capacity` transitions.
#[derive(Debug)]
pub(crate) struct TransitionLog {
    entries: VecDeque<Transition>,
    capacity: usize,
}

impl TransitionLog {
    pub(crate) fn new(capacity: usize) -> Self {
        TransitionLog {
            entries: VecDeque::with_capacity(capacity.min(4096)),
            capacity,
        }
    }

    pub(crate) fn record(&mut self, transition: Transition) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(transition);
    }

    pub(crate) fn story(&self, key: &TaskKey) -> Vec<Transition> {
        self.entries
            .iter()
            .filter(|t| t.key == *key)
            .copied()
            .collect()
    }
}
