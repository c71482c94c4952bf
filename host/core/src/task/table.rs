//! The table of tasks: a slab, and a generation per slot so that a
//! [`TaskId`] kept after its task was forgotten never names the task that
//! took its slot. Every access checks the generation: a stale id finds
//! nothing ([`TaskTable::get`], [`TaskTable::contains`]) or panics
//! ([`TaskTable`]'s `Index`), where a bare slab index would silently read
//! another task.
//!
//! Ids live on in the scheduler's other tables (workers' `processing`,
//! `stealing` and `has_what`, clients' `wants`, the queue, the graph's
//! edges, the key index) and in handlers' local lists. The transitions
//! and `forget` clean the tables first (`validate` checks each holds live
//! ids only); the generation makes the local lists safe too.

use super::Task;
use slab::Slab;
use std::fmt;

/// A task's slot in the scheduler's table and the slot's generation when
/// the task was inserted. Made only by [`TaskTable::insert`], never leaves
/// the core.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TaskId {
    slot: u32,
    generation: u32,
}

impl TaskId {
    /// Its slot (for tests that check a slot was reused).
    #[cfg(test)]
    pub(crate) fn slot(self) -> u32 {
        self.slot
    }

    /// An id of slot `slot`, generation 0 (for tests of id collections).
    #[cfg(test)]
    pub(crate) fn from_index(slot: u32) -> TaskId {
        TaskId {
            slot,
            generation: 0,
        }
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task#{}.{}", self.slot, self.generation)
    }
}

/// The tasks, by generational id.
#[derive(Debug, Default)]
pub(crate) struct TaskTable {
    slab: Slab<Task>,
    /// Per slot: the generation of its task, or (vacant) of the next one.
    /// Bumped when a task leaves its slot. Wraps after 2^32 tasks in one
    /// slot.
    generations: Vec<u32>,
}

impl TaskTable {
    /// Room for `additional` more tasks in one allocation (amortized, as
    /// `Vec::reserve`): a graph of 10^6 tasks into an empty table takes
    /// 10^6 slots, not the next power of two.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let vacant = self.generations.len() - self.slab.len();
        let more = additional.saturating_sub(vacant);
        self.slab.reserve(additional);
        self.generations.reserve(more);
    }

    /// Inserts `task`; returns its id.
    pub(crate) fn insert(&mut self, task: Task) -> TaskId {
        let slot = self.slab.insert(task);
        if slot == self.generations.len() {
            self.generations.push(0);
        }
        TaskId {
            slot: u32::try_from(slot).expect("fewer than 2^32 tasks"),
            generation: self.generations[slot],
        }
    }

    /// Whether `id` names a task that is still there.
    pub(crate) fn contains(&self, id: TaskId) -> bool {
        self.generations.get(id.slot as usize) == Some(&id.generation)
            && self.slab.contains(id.slot as usize)
    }

    /// The task `id` names, unless it was removed.
    pub(crate) fn get(&self, id: TaskId) -> Option<&Task> {
        if self.generations.get(id.slot as usize) != Some(&id.generation) {
            return None;
        }
        self.slab.get(id.slot as usize)
    }

    fn get_mut(&mut self, id: TaskId) -> Option<&mut Task> {
        if self.generations.get(id.slot as usize) != Some(&id.generation) {
            return None;
        }
        self.slab.get_mut(id.slot as usize)
    }

    /// Removes `id`'s task; its slot's next task gets a new generation.
    pub(crate) fn remove(&mut self, id: TaskId) -> Task {
        assert!(self.contains(id), "removing {id:?}, which is stale");
        let slot = id.slot as usize;
        self.generations[slot] = self.generations[slot].wrapping_add(1);
        self.slab.remove(slot)
    }

    /// Removes every task (every id held so far becomes stale).
    pub(crate) fn clear(&mut self) {
        for (slot, _) in &self.slab {
            self.generations[slot] = self.generations[slot].wrapping_add(1);
        }
        self.slab.clear();
    }

    /// How many tasks there are.
    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    /// Every task with its id, in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (TaskId, &Task)> {
        self.slab.iter().map(|(slot, task)| {
            let id = TaskId {
                slot: slot as u32,
                generation: self.generations[slot],
            };
            (id, task)
        })
    }

    /// The ids of every task, in slot order.
    pub(crate) fn ids(&self) -> Vec<TaskId> {
        self.iter().map(|(id, _)| id).collect()
    }
}

impl std::ops::Index<TaskId> for TaskTable {
    type Output = Task;

    fn index(&self, id: TaskId) -> &Task {
        self.get(id)
            .unwrap_or_else(|| panic!("{id:?} is stale: its task was forgotten"))
    }
}

impl std::ops::IndexMut<TaskId> for TaskTable {
    fn index_mut(&mut self, id: TaskId) -> &mut Task {
        self.get_mut(id)
            .unwrap_or_else(|| panic!("{id:?} is stale: its task was forgotten"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TenantId;
    use weft_schema::graph::TaskKey;

    fn task(n: u8) -> Task {
        Task::new(
            TenantId::OPEN,
            TaskKey([n; 16]),
            None,
            0,
            Box::new([]),
            0,
            0,
        )
    }

    #[test]
    fn a_stale_id_never_reads_the_task_that_took_its_slot() {
        let mut table = TaskTable::default();
        let old = table.insert(task(1));
        table.remove(old);
        let new = table.insert(task(2));
        assert_eq!(new.slot, old.slot, "the slot is reused");
        assert!(!table.contains(old));
        assert!(table.get(old).is_none());
        assert_eq!(table[new].key, TaskKey([2; 16]));
        let read = std::panic::catch_unwind(|| table[old].key);
        assert!(read.is_err(), "indexing with a stale id panics");
    }

    #[test]
    fn clear_makes_every_id_stale() {
        let mut table = TaskTable::default();
        let ids: Vec<TaskId> = (0..3).map(|n| table.insert(task(n))).collect();
        table.clear();
        let again = table.insert(task(9));
        assert!(ids.iter().all(|id| !table.contains(*id)));
        assert_eq!(table.ids(), vec![again]);
    }
}
