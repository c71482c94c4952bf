//! Tests of [`check_graph`]: orders, every error, and graphs large enough to
//! catch recursion and quadratic time.

use super::tests::{MODULE, key_strategy};
use super::*;
use proptest::prelude::*;
use std::collections::HashSet;

/// The key of test task `id` (cheaper than a hash, for big graphs).
fn key(id: u64) -> TaskKey {
    TaskKey(u128::from(id).to_be_bytes())
}

/// A task with key `key(id)` whose arguments refer to `deps`.
fn task(id: u64, deps: &[u64]) -> GraphTask {
    let args = deps.iter().map(|&dep| GraphArg::Key(key(dep))).collect();
    GraphTask::new_impure(key(id), MODULE, String::new(), args)
}

fn nothing_known(_: &TaskKey) -> bool {
    false
}

/// Panics unless `order` is a permutation of `tasks` with every task after
/// the tasks of the graph it refers to.
fn assert_topological(tasks: &[GraphTask], order: &[usize]) {
    assert_eq!(order.len(), tasks.len());
    let mut placed = HashSet::with_capacity(tasks.len());
    for &index in order {
        for dep in tasks[index].dependencies() {
            let in_graph = tasks.iter().any(|task| task.key == *dep);
            assert!(
                !in_graph || placed.contains(dep),
                "task {index} placed before {dep}"
            );
        }
        assert!(placed.insert(tasks[index].key), "task {index} placed twice");
    }
}

/// Faster check for big graphs: positions instead of a search.
fn assert_topological_fast(tasks: &[GraphTask], order: &[usize]) {
    assert_eq!(order.len(), tasks.len());
    let mut position = std::collections::HashMap::with_capacity(tasks.len());
    for (at, &index) in order.iter().enumerate() {
        assert!(position.insert(tasks[index].key, at).is_none());
    }
    for (at, &index) in order.iter().enumerate() {
        for dep in tasks[index].dependencies() {
            assert!(position[dep] < at);
        }
    }
}

#[test]
fn empty_and_independent_graphs() {
    assert_eq!(check_graph(&[], nothing_known), Ok(Vec::new()));
    let tasks = [task(0, &[]), task(1, &[]), task(2, &[])];
    assert_eq!(check_graph(&tasks, nothing_known), Ok(vec![0, 1, 2]));
}

#[test]
fn dependencies_come_first() {
    // 0 needs 1 and 2 (twice); 2 needs 1; 3 needs 0.
    let tasks = [
        task(0, &[1, 2, 2]),
        task(1, &[]),
        task(2, &[1]),
        task(3, &[0]),
    ];
    let order = check_graph(&tasks, nothing_known).unwrap();
    assert_eq!(order, vec![1, 2, 0, 3]);
    assert_topological(&tasks, &order);
}

#[test]
fn known_keys_resolve_references_outside_the_graph() {
    let outside = key(99);
    let tasks = [task(0, &[99]), task(1, &[0, 99])];
    assert_eq!(check_graph(&tasks, |key| *key == outside), Ok(vec![0, 1]));
    // A key in the graph is that task, even if known.
    let tasks = [task(1, &[0]), task(0, &[])];
    assert_eq!(check_graph(&tasks, |_| true), Ok(vec![1, 0]));
}

#[test]
fn duplicate_keys_are_refused() {
    let tasks = [task(0, &[]), task(1, &[]), task(0, &[1])];
    let error = check_graph(&tasks, nothing_known).unwrap_err();
    assert_eq!(
        error,
        GraphError::DuplicateKey {
            key: key(0),
            first: 0,
            second: 2
        }
    );
    assert_eq!(
        error.to_string(),
        format!("tasks 0 and 2 have the same key {}", key(0))
    );
}

#[test]
fn missing_references_name_the_task_and_the_key() {
    let tasks = [task(0, &[]), task(1, &[0, 7])];
    let error = check_graph(&tasks, |known| *known == key(8)).unwrap_err();
    let at = GraphLocation::task(1, Some(key(1))).arg(1);
    assert_eq!(
        error,
        GraphError::MissingDependency {
            at,
            missing: key(7)
        }
    );
    assert_eq!(
        error.to_string(),
        format!(
            "task 1 (key {}): argument 1: refers to key {}, which is neither in the graph nor known",
            key(1),
            key(7)
        )
    );
}

#[test]
fn cycles_are_refused_with_their_keys() {
    // A task that needs itself.
    let error = check_graph(&[task(0, &[0])], nothing_known).unwrap_err();
    assert_eq!(error, GraphError::Cycle { keys: vec![key(0)] });
    let zero = key(0);
    assert_eq!(
        error.to_string(),
        format!("tasks form a cycle: {zero} -> {zero}")
    );

    // 1 -> 2 -> 3 -> 1 with tasks hanging off it on both sides: 0 needs 1,
    // 4 is needed by 2 and fine.
    let tasks = [
        task(0, &[1]),
        task(1, &[3]),
        task(2, &[1, 4]),
        task(3, &[2]),
        task(4, &[]),
    ];
    let GraphError::Cycle { keys } = check_graph(&tasks, nothing_known).unwrap_err() else {
        panic!("not a cycle error");
    };
    let expected = [key(1), key(2), key(3)];
    assert_eq!(keys.len(), 3);
    // Each key is an argument of the next, the last one of the first.
    let start = expected.iter().position(|key| *key == keys[0]).unwrap();
    for (offset, key) in keys.iter().enumerate() {
        assert_eq!(*key, expected[(start + offset) % 3]);
    }
}

#[test]
fn a_chain_of_a_million_tasks() {
    const LENGTH: u64 = 1_000_000;
    // Listed with each task before the one it needs: the order must reverse it.
    let mut tasks: Vec<GraphTask> = (0..LENGTH)
        .map(|id| {
            if id + 1 < LENGTH {
                task(id, &[id + 1])
            } else {
                task(id, &[])
            }
        })
        .collect();
    let order = check_graph(&tasks, nothing_known).unwrap();
    assert!(order.iter().copied().eq((0..LENGTH as usize).rev()));

    // Closing the chain makes a cycle of a million tasks.
    tasks.last_mut().unwrap().args.push(GraphArg::Key(key(0)));
    let error = check_graph(&tasks, nothing_known).unwrap_err();
    let GraphError::Cycle { keys } = &error else {
        panic!("{error}")
    };
    assert_eq!(keys.len(), LENGTH as usize);
    assert!(
        error.to_string().contains("... (1000000 tasks in all) -> "),
        "{error}"
    );
}

#[test]
fn a_wide_diamond() {
    const WIDTH: u64 = 200_000;
    // Task 0 needs every middle task; each middle task needs task WIDTH + 1.
    let middle: Vec<u64> = (1..=WIDTH).collect();
    let mut tasks = vec![task(0, &middle)];
    tasks.extend((1..=WIDTH).map(|id| task(id, &[WIDTH + 1])));
    tasks.push(task(WIDTH + 1, &[]));
    let order = check_graph(&tasks, nothing_known).unwrap();
    assert_eq!(order[0], WIDTH as usize + 1);
    assert_eq!(order[order.len() - 1], 0);
    assert!(
        order[1..=WIDTH as usize]
            .iter()
            .copied()
            .eq(1..=WIDTH as usize)
    );
}

proptest! {
    #[test]
    fn random_dags_get_valid_orders(
        deps in prop::collection::vec(prop::collection::vec(any::<prop::sample::Index>(), 0..4), 1..40),
        shuffle in any::<u64>(),
    ) {
        // Task i refers only to tasks j < i, then the list is shuffled.
        let mut tasks: Vec<GraphTask> = deps
            .iter()
            .enumerate()
            .map(|(id, picks)| {
                let refs: Vec<u64> = if id == 0 {
                    Vec::new()
                } else {
                    picks.iter().map(|pick| pick.index(id) as u64).collect()
                };
                task(id as u64, &refs)
            })
            .collect();
        let len = tasks.len();
        for index in 0..len {
            let other = (shuffle.wrapping_mul(index as u64 + 1) >> 7) as usize % len;
            tasks.swap(index, other);
        }
        let order = check_graph(&tasks, nothing_known).unwrap();
        assert_topological(&tasks, &order);
        assert_topological_fast(&tasks, &order);
    }

    #[test]
    fn random_graphs_never_panic(
        keys in prop::collection::vec(key_strategy(), 1..12),
        edges in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..30),
    ) {
        let mut tasks: Vec<GraphTask> = keys
            .iter()
            .map(|&key| GraphTask::new_impure(key, MODULE, "f", Vec::new()))
            .collect();
        for (from, to) in edges {
            let to = keys[to.index(keys.len())];
            tasks[from.index(keys.len())].args.push(GraphArg::Key(to));
        }
        match check_graph(&tasks, nothing_known) {
            Ok(order) => assert_topological(&tasks, &order),
            Err(GraphError::DuplicateKey { first, second, .. }) => {
                prop_assert_eq!(tasks[first].key, tasks[second].key);
            }
            Err(GraphError::Cycle { keys: cycle }) => {
                // Each key on the cycle is an argument of the next one.
                prop_assert!(!cycle.is_empty());
                for (at, key) in cycle.iter().enumerate() {
                    let next = cycle[(at + 1) % cycle.len()];
                    let next = tasks.iter().find(|task| task.key == next).unwrap();
                    prop_assert!(next.dependencies().any(|dep| dep == key));
                }
            }
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
    }
}
