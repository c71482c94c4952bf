//! Fuzz target: Cap'n Proto task graphs from clients
//! (`weft_schema::graph::decode_graph` under `GraphLimits`,
//! `schema/src/graph/codec.rs`), then the graph's shape
//! (`check_graph`, `schema/src/graph/check.rs`), as the scheduler reads a
//! `SubmitGraph`.
//!
//! Input: `limits: u8` (`limits & 1`: the default limits, or small ones
//! that the seeds' graphs reach), then the message.
//!
//! Checked: no panic; a graph that decodes is within every limit and its
//! pure tasks are keyed by their deterministic keys; it encodes back into a
//! message that decodes to the same tasks; `check_graph` either refuses it
//! or returns an order that lists every task once, each after the tasks of
//! the graph its arguments name.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use weft_fuzz::Input;
use weft_schema::graph::{GraphArg, GraphLimits, GraphTask, TaskKey};
use weft_schema::{check_graph, decode_graph, encode_graph};

/// Limits small enough for the fuzzer to cross every one of them.
fn small_limits() -> GraphLimits {
    GraphLimits {
        message_bytes_max: 4096,
        tasks_max: 6,
        args_per_task_max: 4,
        value_bytes_max: 96,
        function_bytes_max: 12,
        traversal_words_max: 512,
        nesting_max: 4,
    }
}

fn check_limits(tasks: &[GraphTask], limits: &GraphLimits) {
    assert!(tasks.len() <= limits.tasks_max);
    let mut value_bytes = 0;
    for task in tasks {
        assert!(task.args.len() <= limits.args_per_task_max);
        assert!(task.function.len() <= limits.function_bytes_max);
        for arg in &task.args {
            if let GraphArg::Value(bytes) = arg {
                value_bytes += bytes.len();
            }
        }
        if task.pure {
            assert_eq!(
                task.key,
                task.deterministic_key(),
                "a pure task keyed otherwise"
            );
        }
    }
    assert!(value_bytes <= limits.value_bytes_max);
}

/// `order` lists every task once, each after the tasks of the graph that
/// its arguments name.
fn check_order(tasks: &[GraphTask], order: &[usize]) {
    assert_eq!(order.len(), tasks.len());
    let mut position = vec![usize::MAX; tasks.len()];
    for (at, &index) in order.iter().enumerate() {
        assert!(
            index < tasks.len() && position[index] == usize::MAX,
            "bad order {order:?}"
        );
        position[index] = at;
    }
    let by_key: HashMap<TaskKey, usize> = tasks
        .iter()
        .enumerate()
        .map(|(index, task)| (task.key, index))
        .collect();
    for (index, task) in tasks.iter().enumerate() {
        for dependency in task.dependencies() {
            if let Some(&other) = by_key.get(dependency) {
                assert!(position[other] < position[index], "a task before its input");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let limits = if input.u8() & 1 == 0 {
        GraphLimits::default()
    } else {
        small_limits()
    };
    let message = input.rest();
    let tasks = match decode_graph(message, &limits) {
        Ok(tasks) => tasks,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    check_limits(&tasks, &limits);

    // A message whose objects are shared by several pointers encodes into
    // more bytes than it had: the size and traversal limits are the ones
    // that may refuse the copy; the others are about the tasks themselves.
    let encoded = encode_graph(&tasks);
    let relaxed = GraphLimits {
        message_bytes_max: usize::MAX,
        traversal_words_max: 1 << 40,
        ..limits
    };
    match decode_graph(&encoded, &relaxed) {
        Ok(again) => assert!(again == tasks, "a graph encodes into another graph"),
        Err(error) => panic!("a decoded graph encodes into a message refused: {error}"),
    }

    // Keys outside the graph: half of them are known to the scheduler.
    match check_graph(&tasks, |key: &TaskKey| key.0[15] & 1 == 1) {
        Ok(order) => check_order(&tasks, &order),
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
