//! What can be wrong with a `weft_tasks` section, and where: every error but
//! an oversized section carries a [`Location`] (byte offset, task name).

use std::fmt;
use thiserror::Error;

/// Where in the `weft_tasks` content an error was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// Byte offset into the concatenated `weft_tasks` content.
    pub offset: usize,
    /// The task whose record holds the error, once its name has been read.
    pub task: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "weft_tasks section, byte {}", self.offset)?;
        if let Some(task) = &self.task {
            write!(f, " (task `{task}`)")?;
        }
        Ok(())
    }
}

/// Why [`parse_section`](super::parse_section) rejected a `weft_tasks` section.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SignatureError {
    /// The content is larger than [`SECTION_BYTES_MAX`](super::SECTION_BYTES_MAX).
    #[error("weft_tasks section is {len} bytes, over the limit of {max} bytes")]
    SectionTooLarge {
        /// The content's size in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// The bytes at `at` are not valid UTF-8.
    #[error("{at}: invalid UTF-8")]
    InvalidUtf8 {
        /// Where the invalid bytes start.
        at: Location,
    },

    /// A character that begins no token of the grammar.
    #[error("{at}: unexpected character `{}`", .found.escape_debug())]
    UnexpectedCharacter {
        /// Where the character is.
        at: Location,
        /// The character.
        found: char,
    },

    /// A token other than the grammar allows at that place.
    #[error("{at}: expected {expected}, found `{found}`")]
    UnexpectedToken {
        /// Where the token starts.
        at: Location,
        /// What the grammar allows there, e.g. "`;`" or "a parameter name".
        expected: String,
        /// The token found (shortened if long).
        found: String,
    },

    /// The content ends in the middle of a record.
    #[error("{at}: expected {expected}, found the end of the section")]
    UnexpectedEnd {
        /// The end of the content.
        at: Location,
        /// What the grammar needed next.
        expected: String,
    },

    /// A word in a type's place that names no type.
    #[error("{at}: expected a type, found `{found}`")]
    UnknownType {
        /// Where the word starts.
        at: Location,
        /// The word (shortened if long).
        found: String,
    },

    /// A name longer than [`NAME_BYTES_MAX`](super::NAME_BYTES_MAX).
    #[error("{at}: a name of {len} bytes, over the limit of {max} bytes")]
    NameTooLong {
        /// Where the name starts.
        at: Location,
        /// The name's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// Types nested deeper than [`TYPE_DEPTH_MAX`](super::TYPE_DEPTH_MAX).
    #[error("{at}: types nested more than {max} levels deep")]
    TooDeep {
        /// Where the type one level too deep starts.
        at: Location,
        /// The limit.
        max: usize,
    },

    /// More records than [`TASKS_MAX`](super::TASKS_MAX).
    #[error("{at}: more than {max} tasks")]
    TooManyTasks {
        /// Where the first record over the limit starts.
        at: Location,
        /// The limit.
        max: usize,
    },

    /// Two records for the same task name.
    #[error("{at}: task `{name}` is recorded twice (first at byte {first_offset})")]
    DuplicateTask {
        /// Where the second record's name is.
        at: Location,
        /// The task name.
        name: String,
        /// Where the first record's name is.
        first_offset: usize,
    },

    /// Two parameters of one task with the same name.
    #[error("{at}: duplicate parameter `{name}`")]
    DuplicateParam {
        /// Where the second parameter's name is.
        at: Location,
        /// The parameter name.
        name: String,
    },

    /// Two fields of one struct or struct variant with the same name.
    #[error("{at}: duplicate field `{name}` in {owner}")]
    DuplicateField {
        /// Where the second field's name is.
        at: Location,
        /// The field name.
        name: String,
        /// The struct or variant, e.g. "struct `Account`" or "variant `Shape::Rect`".
        owner: String,
    },

    /// Two variants of one enum with the same name.
    #[error("{at}: duplicate variant `{name}` in enum `{enum_name}`")]
    DuplicateVariant {
        /// Where the second variant's name is.
        at: Location,
        /// The variant name.
        name: String,
        /// The enum's name.
        enum_name: String,
    },

    /// An enum without variants (its values could not be encoded).
    #[error("{at}: enum `{name}` has no variants")]
    EmptyEnum {
        /// Where the enum's closing `}` is.
        at: Location,
        /// The enum's name.
        name: String,
    },
}

impl SignatureError {
    /// Where the error is, for every error but [`SignatureError::SectionTooLarge`].
    pub fn location(&self) -> Option<&Location> {
        match self {
            Self::SectionTooLarge { .. } => None,
            Self::InvalidUtf8 { at }
            | Self::UnexpectedCharacter { at, .. }
            | Self::UnexpectedToken { at, .. }
            | Self::UnexpectedEnd { at, .. }
            | Self::UnknownType { at, .. }
            | Self::NameTooLong { at, .. }
            | Self::TooDeep { at, .. }
            | Self::TooManyTasks { at, .. }
            | Self::DuplicateTask { at, .. }
            | Self::DuplicateParam { at, .. }
            | Self::DuplicateField { at, .. }
            | Self::DuplicateVariant { at, .. }
            | Self::EmptyEnum { at, .. } => Some(at),
        }
    }
}
