//! Weft's wire-level contracts, shared by the host and the tools.
//!
//! - [`signature`]: task signatures as modules record them in their
//!   `weft_tasks` custom section (`ABI.md`): the type model, the parser of
//!   the section (untrusted input), and the record and display text forms.
//! - [`ids`], [`task`], [`to_client`], [`errors`]: the vocabulary the
//!   scheduler core, the wire protocol, workers and clients share: ids,
//!   task descriptions and failures, what clients are told, and why
//!   requests fail (typed, one enum per operation).
//! - [`quota`]: per-tenant limits and the error a request gets when one
//!   runs out.
//! - [`json`]: the JSON mapping of the value encoding (`ENCODING.md`):
//!   converting task arguments and results between JSON and bytes, guided by
//!   a signature's types.
#![warn(missing_docs)]

pub mod errors;
pub mod graph;
pub mod ids;
pub mod json;
pub mod quota;
pub mod signature;
#[cfg(test)]
mod strategies;
pub mod task;
pub mod to_client;

pub use graph::{
    GraphArg, GraphError, GraphLimits, GraphTask, TaskKey, check_graph, decode_graph,
    deterministic_key, encode_graph, unique_key,
};
pub use json::{PathSegment, ValueError, ValueErrorKind, decode, decode_args, encode, encode_args};
pub use signature::{
    Field, Location, NAME_BYTES_MAX, Param, SECTION_BYTES_MAX, SignatureError, TASKS_MAX,
    TYPE_DEPTH_MAX, TaskSignature, Type, Variant, VariantFields, parse_section,
};
