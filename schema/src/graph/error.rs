//! What can be wrong with a graph message or a graph, and where: a
//! [`GraphLocation`] names the task (index, and key once it was read) and the
//! argument.

use super::TaskKey;
use std::fmt;
use thiserror::Error;

/// Where in a graph an error was found. Indices count from 0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GraphLocation {
    /// Index of the task in the graph's task list; `None` for the message or
    /// the list itself.
    pub task: Option<usize>,
    /// The task's key, once it has been read and found valid.
    pub key: Option<TaskKey>,
    /// Index of the argument within the task.
    pub arg: Option<usize>,
}

impl GraphLocation {
    /// The message as a whole.
    pub(crate) fn graph() -> Self {
        Self::default()
    }

    /// Task `index`, whose key is `key` if known.
    pub(crate) fn task(index: usize, key: Option<TaskKey>) -> Self {
        Self {
            task: Some(index),
            key,
            arg: None,
        }
    }

    /// Argument `arg` of this location's task.
    pub(crate) fn arg(&self, arg: usize) -> Self {
        Self {
            arg: Some(arg),
            ..self.clone()
        }
    }
}

impl fmt::Display for GraphLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.task {
            None => f.write_str("graph")?,
            Some(task) => write!(f, "task {task}")?,
        }
        if let Some(key) = self.key {
            write!(f, " (key {key})")?;
        }
        if let Some(arg) = self.arg {
            write!(f, ": argument {arg}")?;
        }
        Ok(())
    }
}

/// Why [`decode_graph`](super::decode_graph) or
/// [`check_graph`](super::check_graph) refused a graph.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum GraphError {
    /// The message is larger than
    /// [`GraphLimits::message_bytes_max`](super::GraphLimits::message_bytes_max).
    #[error("graph message is {len} bytes, over the limit of {max} bytes")]
    MessageTooLarge {
        /// The message's size in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// The bytes are not a well-formed Cap'n Proto message of the expected
    /// shape (bad segment table, truncated, pointer out of bounds, wrong
    /// pointer kind...).
    #[error("{at}: malformed message while reading {field}: {detail}")]
    Malformed {
        /// Where the reader was.
        at: GraphLocation,
        /// The field being read, e.g. "args".
        field: &'static str,
        /// Cap'n Proto's description of the problem.
        detail: String,
    },

    /// Bytes follow the end of the message.
    #[error("graph message is followed by {len} extra bytes")]
    TrailingBytes {
        /// How many bytes follow the message.
        len: usize,
    },

    /// Reading the message traversed more words than
    /// [`GraphLimits::traversal_words_max`](super::GraphLimits::traversal_words_max):
    /// the message is larger than that, or its pointers share objects to
    /// look larger than it is.
    #[error("{at}: reading {field} exceeded the traversal limit of {max} words")]
    TraversalLimit {
        /// Where the reader was.
        at: GraphLocation,
        /// The field being read.
        field: &'static str,
        /// The limit.
        max: usize,
    },

    /// The message nests pointers deeper than
    /// [`GraphLimits::nesting_max`](super::GraphLimits::nesting_max).
    #[error("{at}: reading {field} exceeded the nesting limit of {max}")]
    NestingLimit {
        /// Where the reader was.
        at: GraphLocation,
        /// The field being read.
        field: &'static str,
        /// The limit.
        max: u32,
    },

    /// A graph sent in parts whose messages together are larger than
    /// [`GraphLimits::message_bytes_max`](super::GraphLimits::message_bytes_max).
    #[error("graph sent in parts reaches {len} bytes, over the limit of {max} bytes for a graph")]
    PartsTooLarge {
        /// The parts' bytes so far, this one included.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// A graph sent in parts wants more keys than
    /// [`GraphLimits::tasks_max`](super::GraphLimits::tasks_max).
    #[error("graph sent in parts wants {count} keys, over the limit of {max}")]
    TooManyWanted {
        /// The keys wanted so far, this part's included.
        count: usize,
        /// The limit.
        max: usize,
    },

    /// More tasks than [`GraphLimits::tasks_max`](super::GraphLimits::tasks_max).
    #[error("graph has {count} tasks, over the limit of {max}")]
    TooManyTasks {
        /// How many tasks the graph has.
        count: usize,
        /// The limit.
        max: usize,
    },

    /// A task has more arguments than
    /// [`GraphLimits::args_per_task_max`](super::GraphLimits::args_per_task_max).
    #[error("{at}: {count} arguments, over the limit of {max}")]
    TooManyArgs {
        /// The task.
        at: GraphLocation,
        /// How many arguments it has.
        count: usize,
        /// The limit.
        max: usize,
    },

    /// The literal values of the graph add up to more than
    /// [`GraphLimits::value_bytes_max`](super::GraphLimits::value_bytes_max).
    #[error("{at}: literal values reach {total} bytes, over the limit of {max} bytes per graph")]
    ValueBytesTooLarge {
        /// The argument that crossed the limit.
        at: GraphLocation,
        /// The total so far, this argument included.
        total: usize,
        /// The limit.
        max: usize,
    },

    /// A task key (of a task or of a key argument) that is not 16 bytes.
    #[error("{at}: key must be 16 bytes, got {len}")]
    KeyLength {
        /// The task, and the argument if the key is an argument's.
        at: GraphLocation,
        /// The key's length in bytes.
        len: usize,
    },

    /// A module id that is not 32 bytes.
    #[error("{at}: module must be 32 bytes, got {len}")]
    ModuleLength {
        /// The task.
        at: GraphLocation,
        /// The module id's length in bytes.
        len: usize,
    },

    /// A function name longer than
    /// [`GraphLimits::function_bytes_max`](super::GraphLimits::function_bytes_max).
    #[error("{at}: function name is {len} bytes, over the limit of {max} bytes")]
    FunctionTooLong {
        /// The task.
        at: GraphLocation,
        /// The name's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// A function name that is not valid UTF-8.
    #[error("{at}: function name is not valid UTF-8")]
    FunctionInvalidUtf8 {
        /// The task.
        at: GraphLocation,
    },

    /// A function name that is not a task name: empty, or not an ASCII
    /// identifier (a letter or `_`, then letters, digits and `_`).
    #[error("{at}: function name `{}` is not a task name (a letter or `_`, then letters, digits and `_`)", .name.escape_debug())]
    FunctionName {
        /// The task.
        at: GraphLocation,
        /// The name as sent.
        name: String,
    },

    /// An argument whose union discriminant this version does not know
    /// (neither `value` nor `key`).
    #[error("{at}: unknown argument kind {discriminant}")]
    UnknownArgKind {
        /// The argument.
        at: GraphLocation,
        /// The discriminant as sent.
        discriminant: u16,
    },

    /// A task marked pure whose key is not its deterministic key.
    #[error("{at}: task is marked pure but its key is not its deterministic key {expected}")]
    KeyMismatch {
        /// The task (with the key it was sent with).
        at: GraphLocation,
        /// The deterministic key of its module, function and arguments.
        expected: TaskKey,
    },

    /// Two tasks of one graph have the same key.
    #[error("tasks {first} and {second} have the same key {key}")]
    DuplicateKey {
        /// The key.
        key: TaskKey,
        /// Index of the first task with the key.
        first: usize,
        /// Index of the next task with the key.
        second: usize,
    },

    /// A key argument names a task that is neither in the graph nor known.
    #[error("{at}: refers to key {missing}, which is neither in the graph nor known")]
    MissingDependency {
        /// The referring task and argument.
        at: GraphLocation,
        /// The key it refers to.
        missing: TaskKey,
    },

    /// The references between tasks form a cycle.
    #[error("tasks form a cycle: {}", CycleDisplay(.keys))]
    Cycle {
        /// The keys of the tasks on the cycle, each one an argument of the
        /// next, and the last one an argument of the first.
        keys: Vec<TaskKey>,
    },
}

/// How many keys of a cycle an error message shows.
const CYCLE_KEYS_SHOWN: usize = 8;

/// Shows a cycle as `a -> b -> a`, eliding the middle of long cycles.
struct CycleDisplay<'a>(&'a [TaskKey]);

impl fmt::Display for CycleDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.0;
        for key in keys.iter().take(CYCLE_KEYS_SHOWN) {
            write!(f, "{key} -> ")?;
        }
        if keys.len() > CYCLE_KEYS_SHOWN {
            write!(f, "... ({} tasks in all) -> ", keys.len())?;
        }
        match keys.first() {
            Some(first) => write!(f, "{first}"),
            None => f.write_str("(empty)"),
        }
    }
}

/// Why [`TaskKey::from_hex`](super::TaskKey::from_hex) refused a string.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum KeyHexError {
    /// The string is not 32 bytes long.
    #[error("task key must be 32 hex digits, got {len} bytes")]
    Length {
        /// The string's length in bytes.
        len: usize,
    },
    /// A character that is not a hex digit.
    #[error("task key: `{}` at byte {offset} is not a hex digit", .found.escape_debug())]
    Digit {
        /// Byte offset of the character.
        offset: usize,
        /// The character.
        found: char,
    },
}
