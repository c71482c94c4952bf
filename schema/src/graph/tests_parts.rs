//! Tests of graphs sent in parts: [`graph_parts`] cuts a graph into runs
//! that fit a message, and [`decode_graph_part`] applies a graph's limits to
//! all parts together.

use super::tests::{MODULE, at_task, sample};
use super::*;

fn map(count: usize, value_bytes: usize) -> Vec<GraphTask> {
    (0..count)
        .map(|i| {
            let mut value = vec![0; value_bytes];
            value[..8].copy_from_slice(&(i as u64).to_le_bytes());
            GraphTask::new_pure(MODULE, "inc", vec![GraphArg::Value(value)])
        })
        .collect()
}

#[test]
fn parts_cover_the_graph_in_order_and_each_fits() {
    let tasks = map(1000, 8);
    let whole = encode_graph(&tasks).len();
    let part_bytes = whole / 7;
    let parts = graph_parts(&tasks, part_bytes);
    assert!(
        parts.len() >= 7,
        "{} parts of a {whole}-byte graph",
        parts.len()
    );
    let mut next = 0;
    let mut decoded = Vec::new();
    for part in &parts {
        assert_eq!(part.start, next);
        next = part.end;
        let bytes = encode_graph(&tasks[part.clone()]);
        assert!(bytes.len() <= part_bytes, "{} > {part_bytes}", bytes.len());
        decoded.extend(decode_graph(&bytes, &GraphLimits::default()).expect("a part decodes"));
    }
    assert_eq!(next, tasks.len());
    assert_eq!(decoded, tasks);
}

#[test]
fn a_task_larger_than_a_part_is_a_part_of_its_own() {
    let mut tasks = map(3, 8);
    tasks.insert(1, map(1, 4096).remove(0));
    assert_eq!(graph_parts(&tasks, 1024), vec![0..1, 1..2, 2..4]);
    assert_eq!(graph_parts(&[], 1024), Vec::<std::ops::Range<usize>>::new());
    assert_eq!(graph_parts(&tasks, usize::MAX), vec![0..4]);
}

#[test]
fn the_task_limit_counts_every_part() {
    let tasks = map(5, 8);
    let limits = GraphLimits {
        tasks_max: 4,
        ..GraphLimits::default()
    };
    let mut totals = GraphTotals::default();
    let first = encode_graph(&tasks[..3]);
    assert_eq!(
        decode_graph_part(&first, &limits, &mut totals).map(|t| t.len()),
        Ok(3)
    );
    assert_eq!(
        totals,
        GraphTotals {
            tasks: 3,
            value_bytes: 24,
            bytes: first.len(),
        }
    );
    let second = encode_graph(&tasks[3..]);
    assert_eq!(
        decode_graph_part(&second, &limits, &mut totals),
        Err(GraphError::TooManyTasks { count: 5, max: 4 })
    );
    // A refused part leaves the totals as they were.
    assert_eq!(
        totals,
        GraphTotals {
            tasks: 3,
            value_bytes: 24,
            bytes: first.len(),
        }
    );
}

#[test]
fn the_message_bytes_limit_counts_every_part() {
    let tasks = sample();
    let first = encode_graph(&tasks[..1]);
    let second = encode_graph(&tasks[1..2]);
    // Each part alone fits; together they do not.
    let max = first.len().max(second.len()) + 1;
    let limits = GraphLimits {
        message_bytes_max: max,
        ..GraphLimits::default()
    };
    let mut totals = GraphTotals::default();
    assert!(decode_graph_part(&first, &limits, &mut totals).is_ok());
    assert_eq!(
        decode_graph_part(&second, &limits, &mut totals),
        Err(GraphError::PartsTooLarge {
            len: first.len() + second.len(),
            max,
        })
    );
    assert_eq!(totals.bytes, first.len());
}

#[test]
fn the_literal_bytes_limit_counts_every_part_and_errors_name_the_whole_graphs_index() {
    let tasks = sample();
    let limits = GraphLimits {
        value_bytes_max: 5,
        ..GraphLimits::default()
    };
    let mut totals = GraphTotals {
        tasks: 10,
        value_bytes: 3,
        bytes: 0,
    };
    // The sample's second task has 3 literal bytes: 6 in all.
    assert_eq!(
        decode_graph_part(&encode_graph(&tasks), &limits, &mut totals),
        Err(GraphError::ValueBytesTooLarge {
            at: at_task(11, Some(tasks[1].key)).arg(0),
            total: 6,
            max: 5,
        })
    );
}
