//! What can go wrong converting between JSON and the byte encoding, and
//! where: a [`ValueError`] is a [`ValueErrorKind`] plus the place (argument,
//! path inside the value, byte offset) it happened.

use serde_json::Value;
use std::fmt;
use thiserror::Error;

/// One step of the path from a value to a place inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSegment {
    /// An element of a list or tuple, or of a tuple variant's fields: `[3]`.
    Index(usize),
    /// A struct field: `.balance`.
    Field(String),
    /// The variant of an enum the value holds: `.Circle`, as in the JSON.
    Variant(String),
    /// The key of the map entry with this index: `[2].key`.
    MapKey(usize),
    /// The value of the map entry with this index, for maps whose keys are
    /// not strings: `[2].value`.
    MapValue(usize),
    /// The value under this key of a map with string keys: `["alice"]`.
    Member(String),
}

/// Why a value could not be encoded from JSON or decoded from bytes, and where.
///
/// Displays as `[at byte N: ][argument `NAME`: ][PATH: ]PROBLEM`, e.g.
/// ``argument `rows`: [3].balance: expected an integer in i64's range, found "abc"``.
/// (Boxed, so that results stay small on the success path.)
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{}{}", Context(self), self.details.kind)]
pub struct ValueError {
    details: Box<Details>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Details {
    byte: Option<usize>,
    argument: Option<String>,
    path: Vec<PathSegment>,
    kind: ValueErrorKind,
}

/// What is wrong with a value (see [`ValueError`] for where).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ValueErrorKind {
    /// JSON of the wrong kind or out of range for the type.
    #[error("expected {expected}, found {found}")]
    Mismatch {
        /// What the type needs, e.g. "an integer in i64's range".
        expected: String,
        /// The JSON found (shortened if long).
        found: String,
    },

    /// A JSON object lacks a field of the struct (or struct variant).
    #[error("missing field `{field}` of {owner}")]
    MissingField {
        /// The field's name.
        field: String,
        /// The struct or variant, e.g. "struct `Account`".
        owner: String,
    },

    /// A JSON object has a member that is no field of the struct (or struct variant).
    #[error("unknown field `{field}` of {owner} (its fields: {known})")]
    UnknownField {
        /// The member's name.
        field: String,
        /// The struct or variant, e.g. "struct `Account`".
        owner: String,
        /// The declared fields, e.g. "`name`, `balance`".
        known: String,
    },

    /// A JSON enum value names no variant of the enum.
    #[error("unknown variant `{variant}` of enum `{enum_name}` (its variants: {known})")]
    UnknownVariant {
        /// The name found.
        variant: String,
        /// The enum's name.
        enum_name: String,
        /// The declared variants, e.g. "`Circle`, `Rect`".
        known: String,
    },

    /// A task called with the wrong number of arguments.
    #[error("task `{task}` takes {} ({params}), got {found}", count_of(*.expected as u64, "argument"))]
    ArgumentCount {
        /// The task's name.
        task: String,
        /// How many parameters it has.
        expected: usize,
        /// Its parameters, e.g. "a: i64, b: i64".
        params: String,
        /// How many arguments were given.
        found: usize,
    },

    /// The bytes end before the value does.
    #[error("expected {} for {what}, found {found}", byte_count(*.needed))]
    Truncated {
        /// How many bytes the next part needs.
        needed: u64,
        /// What the next part is, e.g. "u64" or "the string's contents".
        what: String,
        /// How many bytes remain.
        found: usize,
    },

    /// A list or map length that the remaining bytes cannot hold.
    #[error("{what} of {} needs at least {needed} bytes, found {found}", count_of(*.count, "element"))]
    TooManyElements {
        /// "list" or "map".
        what: String,
        /// The length read.
        count: u64,
        /// The fewest bytes that many elements take.
        needed: u128,
        /// How many bytes remain.
        found: usize,
    },

    /// A list or map of zero-sized elements (such as `list<unit>`) longer than
    /// [`ZERO_SIZED_VALUES_MAX`](super::ZERO_SIZED_VALUES_MAX) allows.
    #[error(
        "{what} of {count} zero-sized elements, over the limit of {max} such values per decode"
    )]
    ZeroSizedOverLimit {
        /// "list" or "map".
        what: String,
        /// The length read.
        count: u64,
        /// The limit.
        max: u64,
    },

    /// A `bool` byte other than 0 or 1.
    #[error("invalid bool byte {byte:#04x} (expected 0 or 1)")]
    InvalidBool {
        /// The byte found.
        byte: u8,
    },

    /// An `option` tag other than 0 or 1.
    #[error("invalid option tag {byte:#04x} (expected 0 for none or 1 for some)")]
    InvalidOptionTag {
        /// The byte found.
        byte: u8,
    },

    /// An enum variant index past the enum's last variant.
    #[error(
        "variant index {index} out of range for enum `{enum_name}`, which has {count} variants"
    )]
    VariantIndexOutOfRange {
        /// The index found.
        index: u64,
        /// The enum's name.
        enum_name: String,
        /// How many variants it has.
        count: usize,
    },

    /// A string's bytes are not valid UTF-8 (the error's byte offset points at
    /// the first invalid byte).
    #[error("invalid UTF-8 in a string")]
    InvalidUtf8,

    /// A `char`'s bytes are not the UTF-8 encoding of one character.
    #[error("invalid UTF-8 encoding of a char: {}", hex(.bytes))]
    InvalidChar {
        /// The bytes found.
        bytes: Vec<u8>,
    },

    /// Bytes remain after a complete value.
    #[error("{} left over after the value", byte_count(*.count as u64))]
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

impl ValueError {
    /// For decoding: the offset of the bytes that could not be decoded.
    pub fn byte(&self) -> Option<usize> {
        self.details.byte
    }

    /// The task parameter the value is for, when known.
    pub fn argument(&self) -> Option<&str> {
        self.details.argument.as_deref()
    }

    /// Where inside the value the problem is, from its root (empty: the
    /// value itself).
    pub fn path(&self) -> &[PathSegment] {
        &self.details.path
    }

    /// What is wrong.
    pub fn kind(&self) -> &ValueErrorKind {
        &self.details.kind
    }

    pub(crate) fn new(kind: ValueErrorKind) -> Self {
        Self {
            details: Box::new(Details {
                byte: None,
                argument: None,
                path: Vec::new(),
                kind,
            }),
        }
    }

    pub(crate) fn at_byte(byte: usize, kind: ValueErrorKind) -> Self {
        let mut error = Self::new(kind);
        error.details.byte = Some(byte);
        error
    }

    pub(crate) fn mismatch(expected: impl Into<String>, found: &Value) -> Self {
        Self::new(ValueErrorKind::Mismatch {
            expected: expected.into(),
            found: describe_json(found),
        })
    }

    /// The same error, one step further inside a value: `segment` goes in
    /// front of the path.
    pub(crate) fn within(mut self, segment: PathSegment) -> Self {
        self.details.path.insert(0, segment);
        self
    }

    pub(crate) fn for_argument(mut self, name: &str) -> Self {
        self.details.argument = Some(name.to_owned());
        self
    }
}

/// The part of a [`ValueError`]'s message before its kind.
struct Context<'a>(&'a ValueError);

impl fmt::Display for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let error = &self.0.details;
        if let Some(byte) = error.byte {
            write!(f, "at byte {byte}: ")?;
        }
        if let Some(argument) = &error.argument {
            write!(f, "argument `{argument}`: ")?;
        }
        if !error.path.is_empty() {
            write!(f, "{}: ", Path(&error.path))?;
        }
        Ok(())
    }
}

/// A path, written like a place in Rust or JSON: `[3].balance`, `["alice"]`.
struct Path<'a>(&'a [PathSegment]);

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, segment) in self.0.iter().enumerate() {
            let dot = if index == 0 { "" } else { "." };
            match segment {
                PathSegment::Index(i) => write!(f, "[{i}]")?,
                PathSegment::Field(name) | PathSegment::Variant(name) => {
                    write!(f, "{dot}{name}")?;
                }
                PathSegment::MapKey(i) => write!(f, "[{i}].key")?,
                PathSegment::MapValue(i) => write!(f, "[{i}].value")?,
                PathSegment::Member(key) => write!(f, "[{}]", Value::String(key.clone()))?,
            }
        }
        Ok(())
    }
}

/// How many characters of JSON an error message quotes.
const QUOTED_JSON_CHARS_MAX: usize = 60;

/// Compact JSON for an error message, shortened if long.
pub(crate) fn describe_json(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(QUOTED_JSON_CHARS_MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn count_of(count: u64, noun: &str) -> String {
    match count {
        0 => format!("no {noun}s"),
        1 => format!("1 {noun}"),
        _ => format!("{count} {noun}s"),
    }
}

fn byte_count(count: u64) -> String {
    match count {
        1 => "1 byte".to_owned(),
        _ => format!("{count} bytes"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}
