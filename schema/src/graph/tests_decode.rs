//! Tests of [`decode_graph`]'s limits (each with its own error, including a
//! hand-made amplified message) and of every field error.

use super::codec::build_graph;
use super::graph_capnp::graph;
use super::tests::{MODULE, at_task, decode, raw_task, sample};
use super::*;
use capnp::message::Builder;

// ------------------------------------------------------------------ limits

#[test]
fn message_size_limit() {
    let bytes = encode_graph(&sample());
    let exact = GraphLimits {
        message_bytes_max: bytes.len(),
        ..GraphLimits::default()
    };
    assert!(decode_graph(&bytes, &exact).is_ok());
    let limits = GraphLimits {
        message_bytes_max: bytes.len() - 1,
        ..GraphLimits::default()
    };
    assert_eq!(
        decode_graph(&bytes, &limits),
        Err(GraphError::MessageTooLarge {
            len: bytes.len(),
            max: bytes.len() - 1
        })
    );
}

#[test]
fn task_count_limit() {
    let bytes = encode_graph(&sample());
    let limits = GraphLimits {
        tasks_max: 1,
        ..GraphLimits::default()
    };
    assert_eq!(
        decode_graph(&bytes, &limits),
        Err(GraphError::TooManyTasks { count: 2, max: 1 })
    );
    let limits = GraphLimits {
        tasks_max: 2,
        ..GraphLimits::default()
    };
    assert!(decode_graph(&bytes, &limits).is_ok());
}

#[test]
fn argument_count_limit() {
    let tasks = sample();
    let bytes = encode_graph(&tasks);
    let limits = GraphLimits {
        args_per_task_max: 2,
        ..GraphLimits::default()
    };
    assert_eq!(
        decode_graph(&bytes, &limits),
        Err(GraphError::TooManyArgs {
            at: at_task(0, Some(tasks[0].key)),
            count: 3,
            max: 2
        })
    );
    let limits = GraphLimits {
        args_per_task_max: 3,
        ..GraphLimits::default()
    };
    assert!(decode_graph(&bytes, &limits).is_ok());
}

#[test]
fn literal_bytes_limit_counts_the_whole_graph() {
    let mut tasks = sample();
    tasks.push(GraphTask::new_pure(
        MODULE,
        "more",
        vec![GraphArg::Value(vec![0; 5])],
    ));
    // 3 bytes in task 1, 5 in task 2.
    let bytes = encode_graph(&tasks);
    let limits = GraphLimits {
        value_bytes_max: 8,
        ..GraphLimits::default()
    };
    assert!(decode_graph(&bytes, &limits).is_ok());
    let limits = GraphLimits {
        value_bytes_max: 7,
        ..GraphLimits::default()
    };
    assert_eq!(
        decode_graph(&bytes, &limits),
        Err(GraphError::ValueBytesTooLarge {
            at: at_task(2, Some(tasks[2].key)).arg(0),
            total: 8,
            max: 7,
        })
    );
}

#[test]
fn function_length_limit() {
    let tasks = vec![GraphTask::new_pure(MODULE, "abcd", Vec::new())];
    let bytes = encode_graph(&tasks);
    let limits = GraphLimits {
        function_bytes_max: 4,
        ..GraphLimits::default()
    };
    assert!(decode_graph(&bytes, &limits).is_ok());
    let limits = GraphLimits {
        function_bytes_max: 3,
        ..GraphLimits::default()
    };
    assert_eq!(
        decode_graph(&bytes, &limits),
        Err(GraphError::FunctionTooLong {
            at: at_task(0, Some(tasks[0].key)),
            len: 4,
            max: 3
        })
    );
}

#[test]
fn traversal_limit_refuses_a_message_larger_than_it() {
    let bytes = encode_graph(&sample());
    let limits = GraphLimits {
        traversal_words_max: 4,
        ..GraphLimits::default()
    };
    assert!(matches!(
        decode_graph(&bytes, &limits),
        Err(GraphError::TraversalLimit {
            field: "the segment table",
            max: 4,
            ..
        })
    ));
}

#[test]
fn nesting_limit() {
    let bytes = encode_graph(&sample());
    // Reading an argument's blob follows 4 levels: root, tasks, args, blob.
    for nesting_max in 0..4 {
        let limits = GraphLimits {
            nesting_max,
            ..GraphLimits::default()
        };
        let error = decode_graph(&bytes, &limits).unwrap_err();
        assert!(
            matches!(error, GraphError::NestingLimit { max, .. } if max == nesting_max),
            "{error}"
        );
    }
    let limits = GraphLimits {
        nesting_max: 4,
        ..GraphLimits::default()
    };
    assert!(decode_graph(&bytes, &limits).is_ok());
}

/// One word of a hand-made message: a struct pointer.
fn struct_pointer(from: usize, to: usize, data_words: u64, pointers: u64) -> u64 {
    let offset = (to as i64 - from as i64 - 1) as u64;
    (offset << 2 & 0xffff_fffc) | data_words << 32 | pointers << 48
}

/// A list pointer; `size` is the element size code (2 = bytes, 7 = structs).
fn list_pointer(from: usize, to: usize, size: u64, count: u64) -> u64 {
    let offset = (to as i64 - from as i64 - 1) as u64;
    1 | (offset << 2 & 0xffff_fffc) | size << 32 | count << 35
}

/// A message whose `tasks` tasks all point at one shared key, module,
/// function and list of `args` key arguments, which all point at the same
/// key: a few kilobytes on the wire, `tasks * args` arguments when read.
fn amplified(tasks: usize, args: usize) -> Vec<u8> {
    let shared = 3 + 5 * tasks;
    let (key, module, function, list) = (shared, shared + 2, shared + 6, shared + 7);
    let mut words = vec![0u64; list + 1 + 2 * args];
    words[0] = struct_pointer(0, 1, 0, 1);
    words[1] = list_pointer(1, 2, 7, 5 * tasks as u64);
    words[2] = (tasks as u64) << 2 | 1 << 32 | 4 << 48;
    for task in 0..tasks {
        let base = 3 + 5 * task;
        words[base + 1] = list_pointer(base + 1, key, 2, 16);
        words[base + 2] = list_pointer(base + 2, module, 2, 32);
        words[base + 3] = list_pointer(base + 3, function, 2, 2);
        words[base + 4] = list_pointer(base + 4, list, 7, 2 * args as u64);
    }
    words[function] = u64::from(b'f');
    words[list] = (args as u64) << 2 | 1 << 32 | 1 << 48;
    for arg in 0..args {
        let at = list + 1 + 2 * arg;
        words[at] = 1; // discriminant: key
        words[at + 1] = list_pointer(at + 1, key, 2, 16);
    }
    let mut bytes = vec![0, 0, 0, 0];
    bytes.extend_from_slice(&(words.len() as u32).to_le_bytes());
    words
        .iter()
        .for_each(|word| bytes.extend_from_slice(&word.to_le_bytes()));
    bytes
}

#[test]
fn traversal_limit_stops_an_amplified_message() {
    let bytes = amplified(1000, 256);
    assert!(bytes.len() < 50_000, "{}", bytes.len());
    // Read without a meaningful limit, it is 256,000 arguments.
    let open = GraphLimits {
        traversal_words_max: usize::MAX,
        ..GraphLimits::default()
    };
    let tasks = decode_graph(&bytes, &open).unwrap();
    assert_eq!(
        tasks.iter().map(|task| task.args.len()).sum::<usize>(),
        256_000
    );
    let limits = GraphLimits {
        traversal_words_max: 100_000,
        ..GraphLimits::default()
    };
    let error = decode_graph(&bytes, &limits).unwrap_err();
    let GraphError::TraversalLimit {
        at, max: 100_000, ..
    } = &error
    else {
        panic!("{error}")
    };
    assert!(at.task.is_some_and(|task| task < 200), "{error}");
}

// ------------------------------------------------------------ field errors

#[test]
fn task_key_must_be_16_bytes() {
    let bytes = raw_task(|mut task| task.set_key(&[1, 2, 3]));
    let error = decode(&bytes).unwrap_err();
    assert_eq!(
        error,
        GraphError::KeyLength {
            at: at_task(0, None),
            len: 3
        }
    );
    assert_eq!(error.to_string(), "task 0: key must be 16 bytes, got 3");
}

#[test]
fn argument_key_must_be_16_bytes() {
    let mut tasks = sample();
    tasks.swap(0, 1);
    let key = tasks[1].key;
    let mut message = Builder::new_default();
    build_graph(&mut message, &tasks);
    let root = message.get_root::<graph::Builder<'_>>().unwrap();
    let task = root.get_tasks().unwrap().get(1);
    task.get_args().unwrap().get(2).set_key(&[1, 2, 3]);
    let bytes = capnp::serialize::write_message_to_words(&message);
    let error = decode(&bytes).unwrap_err();
    assert_eq!(
        error,
        GraphError::KeyLength {
            at: at_task(1, Some(key)).arg(2),
            len: 3
        }
    );
    assert_eq!(
        error.to_string(),
        format!("task 1 (key {key}): argument 2: key must be 16 bytes, got 3")
    );
}

#[test]
fn module_must_be_32_bytes() {
    let key = sample()[1].key;
    let bytes = raw_task(|mut task| task.set_module(&[0; 31]));
    let error = decode(&bytes).unwrap_err();
    assert_eq!(
        error,
        GraphError::ModuleLength {
            at: at_task(0, Some(key)),
            len: 31
        }
    );
    assert_eq!(
        error.to_string(),
        format!("task 0 (key {key}): module must be 32 bytes, got 31")
    );
}

#[test]
fn function_must_be_utf8() {
    let key = sample()[1].key;
    let bytes = raw_task(|mut task| task.set_function(capnp::text::Reader::from(&b"a\xff"[..])));
    assert_eq!(
        decode(&bytes),
        Err(GraphError::FunctionInvalidUtf8 {
            at: at_task(0, Some(key))
        })
    );
}

#[test]
fn function_must_be_a_task_name() {
    let key = sample()[1].key;
    for name in ["", "1abc", "a-b", "é", "a b", "a\0"] {
        let bytes = raw_task(|mut task| task.set_function(name));
        assert_eq!(
            decode(&bytes),
            Err(GraphError::FunctionName {
                at: at_task(0, Some(key)),
                name: name.to_owned()
            }),
            "{name:?}"
        );
    }
    for name in ["_", "a", "A_9", "_x1"] {
        let mut task = GraphTask::new_impure(TaskKey([1; 16]), MODULE, name, Vec::new());
        task.retries = 1;
        assert_eq!(decode(&encode_graph(&[task.clone()])), Ok(vec![task]));
    }
}

#[test]
fn unknown_argument_kind() {
    let tasks = vec![GraphTask::new_impure(
        TaskKey([1; 16]),
        MODULE,
        "f",
        vec![GraphArg::Key(TaskKey([2; 16]))],
    )];
    let mut bytes = encode_graph(&tasks);
    // Words: root, graph, task list tag, task (5), key (2), module (4),
    // function (1), argument list tag, then the argument's data word.
    let discriminant = 8 + 8 * 16;
    assert_eq!(bytes[discriminant..discriminant + 2], [1, 0]);
    bytes[discriminant] = 7;
    assert_eq!(
        decode(&bytes),
        Err(GraphError::UnknownArgKind {
            at: at_task(0, Some(TaskKey([1; 16]))).arg(0),
            discriminant: 7
        })
    );
}

#[test]
fn pure_task_key_must_be_its_deterministic_key() {
    let mut task = GraphTask::new_pure(MODULE, "f", vec![GraphArg::Value(vec![1])]);
    let expected = task.key;
    task.key = TaskKey([9; 16]);
    assert_eq!(
        decode(&encode_graph(&[task.clone()])),
        Err(GraphError::KeyMismatch {
            at: at_task(0, Some(task.key)),
            expected
        })
    );
    // The same key is fine for a task that is not pure.
    task.pure = false;
    assert_eq!(decode(&encode_graph(&[task.clone()])), Ok(vec![task]));
}

#[test]
fn trailing_bytes_are_refused() {
    let mut bytes = encode_graph(&sample());
    bytes.extend_from_slice(&[0; 8]);
    assert_eq!(decode(&bytes), Err(GraphError::TrailingBytes { len: 8 }));
}

#[test]
fn malformed_messages_say_where() {
    let error = decode(&[]).unwrap_err();
    assert!(
        matches!(
            error,
            GraphError::Malformed {
                field: "the segment table",
                ..
            }
        ),
        "{error}"
    );
    // A root pointer far out of its one-word segment.
    let mut bytes = vec![0, 0, 0, 0, 1, 0, 0, 0];
    bytes.extend_from_slice(&struct_pointer(0, 100, 1, 1).to_le_bytes());
    let error = decode(&bytes).unwrap_err();
    assert!(
        matches!(
            error,
            GraphError::Malformed {
                field: "the root",
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("graph: malformed message while reading the root")
    );
    // A task whose `args` pointer is a struct pointer.
    let key = sample()[1].key;
    let mut bytes = encode_graph(&sample()[1..]);
    let args_pointer = 8 + 8 * 7;
    bytes[args_pointer] &= !3;
    let error = decode(&bytes).unwrap_err();
    assert!(
        matches!(&error, GraphError::Malformed { at, field: "args", .. } if *at == at_task(0, Some(key))),
        "{error}"
    );
}
