//! The graph message: [`encode_graph`] builds it with the generated builders;
//! [`decode_graph`] reads an untrusted one under [`GraphLimits`], checking
//! every field and naming the task and argument of the first problem.

use super::graph_capnp::{arg, graph, task};
use super::{
    GraphArg, GraphError, GraphLimits, GraphLocation, GraphTask, MODULE_ID_BYTES, TASK_KEY_BYTES,
    TaskKey, deterministic_key,
};
use capnp::message::{Allocator, Builder, HeapAllocator, ReaderOptions};
use capnp::{ErrorKind, serialize};

/// Largest first segment the heap allocator accepts, in words.
const SEGMENT_WORDS_MAX: usize = 1 << 29;

/// The smallest a task can be in a well-formed message, in bytes: its struct
/// (5 words), key (2 words) and module (4 words). Bounds the capacity
/// reserved from a task count read from the message.
const TASK_BYTES_MIN: usize = 11 * 8;

/// Encodes `tasks` as a `Graph` message in the standard (unpacked)
/// Cap'n Proto serialization. The same tasks always give the same bytes, and
/// the message has a single segment unless it is larger than 4 GiB.
///
/// Nothing is validated: [`decode_graph`] is where the rules are enforced.
///
/// # Panics
///
/// If a list or a blob is larger than Cap'n Proto allows (2^29 tasks or
/// arguments, or a value of 512 MiB or more).
pub fn encode_graph(tasks: &[GraphTask]) -> Vec<u8> {
    let words = message_words(tasks).min(SEGMENT_WORDS_MAX);
    let allocator = HeapAllocator::new().first_segment_words(to_u32(words, "message size"));
    let mut message = Builder::new(allocator);
    build_graph(&mut message, tasks);
    serialize::write_message_to_words(&message)
}

/// Writes `tasks` into `message` as its `Graph` root.
pub(crate) fn build_graph<A: Allocator>(message: &mut Builder<A>, tasks: &[GraphTask]) {
    let root = message.init_root::<graph::Builder<'_>>();
    let mut list = root.init_tasks(to_u32(tasks.len(), "task count"));
    for (index, task) in tasks.iter().enumerate() {
        let mut builder = list.reborrow().get(to_u32(index, "task index"));
        builder.set_key(&task.key.0);
        builder.set_module(&task.module);
        builder.set_function(task.function.as_str());
        builder.set_retries(task.retries);
        builder.set_pure(task.pure);
        if !task.args.is_empty() {
            let mut args = builder.init_args(to_u32(task.args.len(), "argument count"));
            for (index, value) in task.args.iter().enumerate() {
                let mut builder = args.reborrow().get(to_u32(index, "argument index"));
                match value {
                    GraphArg::Value(bytes) => builder.set_value(bytes),
                    GraphArg::Key(key) => builder.set_key(&key.0),
                }
            }
        }
    }
}

/// The size of the message's only segment, in words, so that it is
/// allocated once.
fn message_words(tasks: &[GraphTask]) -> usize {
    // Root pointer, `Graph` struct, task list tag.
    3 + tasks.iter().map(task_words).sum::<usize>()
}

/// The words one task takes in a message.
fn task_words(task: &GraphTask) -> usize {
    let blob = |bytes: usize| bytes.div_ceil(8);
    // The struct (1 data word, 4 pointers), key, module, function (+ NUL).
    let mut words =
        5 + blob(TASK_KEY_BYTES) + blob(MODULE_ID_BYTES) + blob(task.function.len() + 1);
    if !task.args.is_empty() {
        // List tag, then each `Arg` (1 data word, 1 pointer) and its blob.
        words += 1;
        for arg in &task.args {
            words += 2 + match arg {
                GraphArg::Value(bytes) => blob(bytes.len()),
                GraphArg::Key(_) => blob(TASK_KEY_BYTES),
            };
        }
    }
    words
}

/// Cuts `tasks` into consecutive runs whose messages
/// ([`encode_graph`] of each run) are at most about `part_bytes` each, for
/// a graph too large for one message: every run holds at least one task,
/// so a single task larger than `part_bytes` is a run of its own. No run
/// for no tasks.
pub fn graph_parts(tasks: &[GraphTask], part_bytes: usize) -> Vec<std::ops::Range<usize>> {
    let part_words = (part_bytes / 8).max(1);
    let mut parts = Vec::new();
    let mut start = 0;
    let mut words = 3;
    for (index, task) in tasks.iter().enumerate() {
        let task = task_words(task);
        if index > start && words + task > part_words {
            parts.push(start..index);
            start = index;
            words = 3;
        }
        words += task;
    }
    if start < tasks.len() {
        parts.push(start..tasks.len());
    }
    parts
}

fn to_u32(value: usize, what: &str) -> u32 {
    u32::try_from(value)
        .unwrap_or_else(|_| panic!("graph message: {what} {value} does not fit in 32 bits"))
}

/// Reads a graph message from an untrusted client.
///
/// `bytes` holds exactly one message in the standard serialization (no
/// trailing bytes); it need not be aligned, and values are copied out only
/// once every earlier field has passed its checks. Checked, in this order,
/// with the first failure returned: the message size; the Cap'n Proto
/// structure, under the traversal and nesting limits; the task count; then
/// task by task: the key (16 bytes), module (32 bytes), function name (at
/// most `function_bytes_max` bytes, UTF-8, a task name), argument count,
/// each argument (a known kind; a key of 16 bytes; the graph's running total
/// of literal bytes within `value_bytes_max`), and for a pure task that its
/// key is its [`deterministic_key`].
///
/// The graph's shape (unique keys, references, cycles) is
/// [`check_graph`](super::check_graph)'s business.
pub fn decode_graph(bytes: &[u8], limits: &GraphLimits) -> Result<Vec<GraphTask>, GraphError> {
    decode_graph_part(bytes, limits, &mut GraphTotals::default())
}

/// What the parts of a graph sent in several messages held so far: the
/// limits on tasks, literal bytes and message bytes apply to all parts
/// together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GraphTotals {
    /// Tasks in the parts so far.
    pub tasks: usize,
    /// Bytes of literal values in the parts so far.
    pub value_bytes: usize,
    /// Bytes of the parts' messages so far.
    pub bytes: usize,
}

/// [`decode_graph`] for one part of a graph sent in several messages:
/// `totals` holds what the earlier parts held, and grows by this part when
/// it is accepted. Task indices in errors count from the first part.
pub fn decode_graph_part(
    bytes: &[u8],
    limits: &GraphLimits,
    totals: &mut GraphTotals,
) -> Result<Vec<GraphTask>, GraphError> {
    if bytes.len() > limits.message_bytes_max {
        return Err(GraphError::MessageTooLarge {
            len: bytes.len(),
            max: limits.message_bytes_max,
        });
    }
    let all_bytes = totals.bytes.saturating_add(bytes.len());
    if all_bytes > limits.message_bytes_max {
        return Err(GraphError::PartsTooLarge {
            len: all_bytes,
            max: limits.message_bytes_max,
        });
    }
    let mut options = ReaderOptions::new();
    options
        .traversal_limit_in_words(Some(limits.traversal_words_max))
        .nesting_limit(i32::try_from(limits.nesting_max).unwrap_or(i32::MAX));
    let at = GraphLocation::graph();
    let mut rest = bytes;
    let message = serialize::read_message_from_flat_slice(&mut rest, options)
        .map_err(|error| read_error(error, &at, "the segment table", limits))?;
    if !rest.is_empty() {
        return Err(GraphError::TrailingBytes { len: rest.len() });
    }
    let root: graph::Reader<'_> = message
        .get_root()
        .map_err(|error| read_error(error, &at, "the root", limits))?;
    let list = root
        .get_tasks()
        .map_err(|error| read_error(error, &at, "tasks", limits))?;
    let count = list.len() as usize;
    let total = totals.tasks.saturating_add(count);
    if total > limits.tasks_max {
        return Err(GraphError::TooManyTasks {
            count: total,
            max: limits.tasks_max,
        });
    }
    let mut tasks = Vec::with_capacity(count.min(bytes.len() / TASK_BYTES_MIN));
    let mut value_bytes = totals.value_bytes;
    for (index, task) in list.iter().enumerate() {
        tasks.push(decode_task(
            totals.tasks + index,
            task,
            limits,
            &mut value_bytes,
        )?);
    }
    *totals = GraphTotals {
        tasks: total,
        value_bytes,
        bytes: all_bytes,
    };
    Ok(tasks)
}

/// Reads and checks task `index`; adds its literal bytes to `value_bytes`.
fn decode_task(
    index: usize,
    task: task::Reader<'_>,
    limits: &GraphLimits,
    value_bytes: &mut usize,
) -> Result<GraphTask, GraphError> {
    let at = GraphLocation::task(index, None);
    let key = task
        .get_key()
        .map_err(|error| read_error(error, &at, "key", limits))?;
    let key = read_key(key, &at)?;
    let at = GraphLocation::task(index, Some(key));

    let module = task
        .get_module()
        .map_err(|error| read_error(error, &at, "module", limits))?;
    let module: [u8; MODULE_ID_BYTES] =
        module.try_into().map_err(|_| GraphError::ModuleLength {
            at: at.clone(),
            len: module.len(),
        })?;

    let function = task
        .get_function()
        .map_err(|error| read_error(error, &at, "function", limits))?;
    let function = function.as_bytes();
    if function.len() > limits.function_bytes_max {
        return Err(GraphError::FunctionTooLong {
            at,
            len: function.len(),
            max: limits.function_bytes_max,
        });
    }
    let function = std::str::from_utf8(function)
        .map_err(|_| GraphError::FunctionInvalidUtf8 { at: at.clone() })?;
    if !is_task_name(function) {
        return Err(GraphError::FunctionName {
            at,
            name: function.to_owned(),
        });
    }

    let list = task
        .get_args()
        .map_err(|error| read_error(error, &at, "args", limits))?;
    let count = list.len() as usize;
    if count > limits.args_per_task_max {
        return Err(GraphError::TooManyArgs {
            at,
            count,
            max: limits.args_per_task_max,
        });
    }
    let mut args = Vec::with_capacity(count);
    for (arg_index, reader) in list.iter().enumerate() {
        let at = at.arg(arg_index);
        args.push(decode_arg(reader, at, limits, value_bytes)?);
    }

    let task = GraphTask {
        key,
        module,
        function: function.to_owned(),
        args,
        retries: task.get_retries(),
        pure: task.get_pure(),
    };
    if task.pure {
        let expected = deterministic_key(&task.module, &task.function, &task.args);
        if expected != task.key {
            return Err(GraphError::KeyMismatch { at, expected });
        }
    }
    Ok(task)
}

fn decode_arg(
    reader: arg::Reader<'_>,
    at: GraphLocation,
    limits: &GraphLimits,
    value_bytes: &mut usize,
) -> Result<GraphArg, GraphError> {
    match reader.which() {
        Ok(arg::Which::Value(value)) => {
            let value = value.map_err(|error| read_error(error, &at, "value", limits))?;
            let total = value_bytes.saturating_add(value.len());
            if total > limits.value_bytes_max {
                return Err(GraphError::ValueBytesTooLarge {
                    at,
                    total,
                    max: limits.value_bytes_max,
                });
            }
            *value_bytes = total;
            Ok(GraphArg::Value(value.to_vec()))
        }
        Ok(arg::Which::Key(key)) => {
            let key = key.map_err(|error| read_error(error, &at, "key", limits))?;
            Ok(GraphArg::Key(read_key(key, &at)?))
        }
        Err(capnp::NotInSchema(discriminant)) => {
            Err(GraphError::UnknownArgKind { at, discriminant })
        }
    }
}

fn read_key(bytes: &[u8], at: &GraphLocation) -> Result<TaskKey, GraphError> {
    bytes
        .try_into()
        .map(TaskKey)
        .map_err(|_| GraphError::KeyLength {
            at: at.clone(),
            len: bytes.len(),
        })
}

/// A task name as `ABI.md` defines `NAME`: a letter or `_`, then letters,
/// digits and `_`, all ASCII.
pub(crate) fn is_task_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// Turns a Cap'n Proto read error into the limit it hit or a
/// [`GraphError::Malformed`].
fn read_error(
    error: capnp::Error,
    at: &GraphLocation,
    field: &'static str,
    limits: &GraphLimits,
) -> GraphError {
    let at = at.clone();
    match error.kind {
        ErrorKind::ReadLimitExceeded | ErrorKind::MessageTooLarge(_) => {
            GraphError::TraversalLimit {
                at,
                field,
                max: limits.traversal_words_max,
            }
        }
        ErrorKind::MessageIsTooDeeplyNested
        | ErrorKind::MessageIsTooDeeplyNestedOrContainsCycles
        | ErrorKind::NestingLimitExceeded => GraphError::NestingLimit {
            at,
            field,
            max: limits.nesting_max,
        },
        _ => GraphError::Malformed {
            at,
            field,
            detail: error.to_string(),
        },
    }
}
