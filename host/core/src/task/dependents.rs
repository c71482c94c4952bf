//! A task's dependents: a list in the order they were added, and, once the
//! list is long (a shared input of a large map), an index from each
//! dependent to its place, so that removing one when it is forgotten takes
//! constant time instead of a scan of the list.

use crate::ids::TaskId;
use std::collections::HashMap;

/// Lists longer than this get an index.
const INDEXED_LEN_MIN: usize = 32;

/// The dependents of one task: as small as a `Vec` (the record is stored
/// per task), the index boxed beside the list once it is long.
#[derive(Debug, Clone)]
pub(crate) enum Dependents {
    /// A short list.
    Listed(Vec<TaskId>),
    /// A long list, and each dependent's place in it.
    Indexed(Box<(Vec<TaskId>, HashMap<TaskId, usize>)>),
}

const _: () = assert!(std::mem::size_of::<Dependents>() == std::mem::size_of::<Vec<TaskId>>());

impl Default for Dependents {
    fn default() -> Self {
        Dependents::Listed(Vec::new())
    }
}

impl Dependents {
    fn list(&self) -> &Vec<TaskId> {
        match self {
            Dependents::Listed(list) => list,
            Dependents::Indexed(indexed) => &indexed.0,
        }
    }

    /// Adds `id` (not already a dependent).
    pub(crate) fn push(&mut self, id: TaskId) {
        match self {
            Dependents::Listed(list) if list.len() >= INDEXED_LEN_MIN => {
                let mut list = std::mem::take(list);
                list.push(id);
                let index = list.iter().enumerate().map(|(at, id)| (*id, at)).collect();
                *self = Dependents::Indexed(Box::new((list, index)));
            }
            Dependents::Listed(list) => list.push(id),
            Dependents::Indexed(indexed) => {
                let (list, index) = &mut **indexed;
                index.insert(id, list.len());
                list.push(id);
            }
        }
    }

    /// Removes `id` if it is a dependent (the last one takes its place).
    pub(crate) fn remove(&mut self, id: TaskId) {
        match self {
            Dependents::Listed(list) => {
                if let Some(at) = list.iter().position(|d| *d == id) {
                    list.swap_remove(at);
                }
            }
            Dependents::Indexed(indexed) => {
                let (list, index) = &mut **indexed;
                let Some(at) = index.remove(&id) else { return };
                list.swap_remove(at);
                if let Some(moved) = list.get(at) {
                    index.insert(*moved, at);
                }
                if list.is_empty() {
                    *self = Dependents::default();
                }
            }
        }
    }

    pub(crate) fn contains(&self, id: &TaskId) -> bool {
        match self {
            Dependents::Listed(list) => list.contains(id),
            Dependents::Indexed(indexed) => indexed.1.contains_key(id),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.list().len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list().is_empty()
    }

    pub(crate) fn iter(&self) -> std::slice::Iter<'_, TaskId> {
        self.list().iter()
    }
}

impl std::ops::Index<usize> for Dependents {
    type Output = TaskId;
    fn index(&self, at: usize) -> &TaskId {
        &self.list()[at]
    }
}

impl<'a> IntoIterator for &'a Dependents {
    type Item = &'a TaskId;
    type IntoIter = std::slice::Iter<'a, TaskId>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the adds and removes, the dependents are those of a
        /// plain set, and the index (when there is one) names each one's
        /// place.
        #[test]
        fn behaves_as_a_set(ops in prop::collection::vec((any::<bool>(), 0u32..80), 0..400)) {
            let mut dependents = Dependents::default();
            let mut model = std::collections::BTreeSet::new();
            for (add, n) in ops {
                let id = TaskId::from_index(n);
                if add && !model.contains(&n) {
                    dependents.push(id);
                    model.insert(n);
                } else if !add {
                    dependents.remove(id);
                    model.remove(&n);
                }
                prop_assert_eq!(dependents.len(), model.len());
                for n in 0..80 {
                    prop_assert_eq!(dependents.contains(&TaskId::from_index(n)), model.contains(&n));
                }
                if let Dependents::Indexed(indexed) = &dependents {
                    let (list, index) = &**indexed;
                    prop_assert_eq!(index.len(), list.len());
                    for (at, id) in list.iter().enumerate() {
                        prop_assert_eq!(index.get(id), Some(&at));
                    }
                }
            }
        }
    }
}
