//! Weft's wire-level contracts, shared by the host and the tools.
//!
//! - [`signature`]: task signatures as modules record them in their
//!   `weft_tasks` custom section (`ABI.md`): the type model, the parser of
//!   the section (untrusted input), and the record and display text forms.
//! - [`json`]: the JSON mapping of the value encoding (`ENCODING.md`):
//!   converting task arguments and results between JSON and bytes, guided by
//!   a signature's types.
#![warn(missing_docs)]

pub mod graph;
pub mod json;
pub mod signature;
#[cfg(test)]
mod strategies;

pub use graph::{
    GraphArg, GraphError, GraphLimits, GraphTask, TaskKey, check_graph, decode_graph,
    deterministic_key, encode_graph, unique_key,
};
pub use json::{PathSegment, ValueError, ValueErrorKind, decode, decode_args, encode, encode_args};
pub use signature::{
    Field, Location, NAME_BYTES_MAX, Param, SECTION_BYTES_MAX, SignatureError, TASKS_MAX,
    TYPE_DEPTH_MAX, TaskSignature, Type, Variant, VariantFields, parse_section,
};
