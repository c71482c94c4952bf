//! The shape of a graph: unique keys, references that resolve, no cycle.
//! [`check_graph`] runs in time linear in the number of tasks and arguments
//! and uses no recursion, so a chain of a million tasks is fine.

use super::{GraphArg, GraphError, GraphLocation, GraphTask, TaskKey};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// Checks the references between `tasks` and returns an order to run them
/// in: every task comes after the tasks its arguments refer to. The order
/// is a list of indices into `tasks`; among tasks that are ready at the same
/// time, the one with the lower index comes first.
///
/// `known` says whether a key that is not in the graph names a task the
/// caller already has (from an earlier graph). A reference to a key that is
/// in the graph is to that task, whatever `known` says.
///
/// Errors, the first found in this order: two tasks with one key
/// ([`GraphError::DuplicateKey`]); an argument naming a key that is neither
/// in the graph nor known ([`GraphError::MissingDependency`], naming the
/// task, the argument and the key); a cycle ([`GraphError::Cycle`], listing
/// the keys on one cycle).
pub fn check_graph(
    tasks: &[GraphTask],
    known: impl Fn(&TaskKey) -> bool,
) -> Result<Vec<usize>, GraphError> {
    let count = tasks.len();
    let mut index = HashMap::with_capacity(count);
    for (second, task) in tasks.iter().enumerate() {
        match index.entry(task.key) {
            Entry::Occupied(first) => {
                return Err(GraphError::DuplicateKey {
                    key: task.key,
                    first: *first.get(),
                    second,
                });
            }
            Entry::Vacant(slot) => {
                slot.insert(second);
            }
        }
    }

    // The references within the graph, grouped by referring task: those of
    // task `t` are `references[from[t]..from[t + 1]]` (indices of the tasks
    // referred to). Each key is looked up once.
    let mut references = Vec::new();
    let mut from = Vec::with_capacity(count + 1);
    from.push(0);
    for (dependent, task) in tasks.iter().enumerate() {
        for (arg, value) in task.args.iter().enumerate() {
            let GraphArg::Key(key) = value else { continue };
            match index.get(key) {
                Some(&dependency) => references.push(dependency),
                None if known(key) => {}
                None => {
                    return Err(GraphError::MissingDependency {
                        at: GraphLocation::task(dependent, Some(task.key)).arg(arg),
                        missing: *key,
                    });
                }
            }
        }
        from.push(references.len());
    }
    drop(index);

    // The same edges the other way: the tasks referring to task `d` are
    // `dependents[to[d]..to[d + 1]]`. `waiting[t]` counts the references of
    // `t` to tasks not yet placed in the order.
    let mut waiting: Vec<usize> = from.windows(2).map(|pair| pair[1] - pair[0]).collect();
    let mut to = vec![0usize; count + 1];
    for &dependency in &references {
        to[dependency + 1] += 1;
    }
    for slot in 1..=count {
        to[slot] += to[slot - 1];
    }
    let mut filled = to.clone();
    let mut dependents = vec![0usize; references.len()];
    for dependent in 0..count {
        for &dependency in &references[from[dependent]..from[dependent + 1]] {
            dependents[filled[dependency]] = dependent;
            filled[dependency] += 1;
        }
    }
    drop(filled);

    // Kahn's algorithm; `order` doubles as the queue.
    let mut order: Vec<usize> = (0..count).filter(|&task| waiting[task] == 0).collect();
    order.reserve(count - order.len());
    let mut next = 0;
    while let Some(&dependency) = order.get(next) {
        next += 1;
        for &dependent in &dependents[to[dependency]..to[dependency + 1]] {
            waiting[dependent] -= 1;
            if waiting[dependent] == 0 {
                order.push(dependent);
            }
        }
    }
    if order.len() == count {
        return Ok(order);
    }
    let references_of = |task: usize| &references[from[task]..from[task + 1]];
    Err(GraphError::Cycle {
        keys: find_cycle(tasks, references_of, &waiting),
    })
}

/// Finds a cycle among the tasks Kahn's algorithm could not place (those with
/// `waiting > 0`). Each of them refers to at least one other such task, so
/// following such references from any of them must come back to a task
/// already seen; the walk from there on is a cycle. Linear time.
fn find_cycle<'a>(
    tasks: &[GraphTask],
    references_of: impl Fn(usize) -> &'a [usize],
    waiting: &[usize],
) -> Vec<TaskKey> {
    const UNSEEN: usize = usize::MAX;
    let stuck = |task: usize| waiting[task] > 0;
    let Some(start) = (0..tasks.len()).find(|&task| stuck(task)) else {
        return Vec::new();
    };
    let mut position = vec![UNSEEN; tasks.len()];
    let mut path = Vec::new();
    let mut current = start;
    while position[current] == UNSEEN {
        position[current] = path.len();
        path.push(current);
        match references_of(current)
            .iter()
            .copied()
            .find(|&dependency| stuck(dependency))
        {
            Some(dependency) => current = dependency,
            // Unreachable: a stuck task waits for a stuck task.
            None => return vec![tasks[current].key],
        }
    }
    // `path` lists each task before the task it refers to; a cycle reads
    // better in the order of execution, each task before its dependents.
    path[position[current]..]
        .iter()
        .rev()
        .map(|&task| tasks[task].key)
        .collect()
}
