//! Write Weft tasks in Rust.
//!
//! A task is an ordinary Rust function marked `#[task]` whose parameters and
//! return type cross the sandbox boundary as values (see `schema/ENCODING.md`).
//! Compile the crate as a `cdylib` for `wasm32-unknown-unknown` and the module
//! is ready to upload to a Weft cluster or to run with `weft run`.
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use weft_sdk::{task, Schema};
//!
//! #[task]
//! fn inc(x: i64) -> i64 {
//!     x + 1
//! }
//!
//! #[derive(Serialize, Deserialize, Schema)]
//! struct Account {
//!     name: String,
//!     balance: i64,
//! }
//!
//! /// An `Err` becomes a task error carrying the message.
//! #[task]
//! fn overdrawn(rows: Vec<Account>) -> Result<Vec<Account>, String> {
//!     if rows.is_empty() {
//!         return Err("no rows".to_string());
//!     }
//!     Ok(rows.into_iter().filter(|r| r.balance < 0).collect())
//! }
//!
//! // Task functions stay ordinary functions: call them natively in unit tests.
//! assert_eq!(inc(1), 2);
//! ```
//!
//! What `#[task]` does:
//! - records the task's name and signature in the module's `weft_tasks`
//!   custom section, so the host can list tasks and convert arguments from
//!   JSON without running the module;
//! - on wasm targets, exports `weft_task.NAME`, which decodes the arguments,
//!   calls the function and hands the encoded result (or the error) to the
//!   host, following `schema/ABI.md`.
//!
//! The default feature `allocator` installs a global allocator suited to
//! one-shot instances: it serves small tasks from a static arena inside the
//! module's initial memory, so they never grow memory (growing is the most
//! expensive thing a trivial task does). Turn default features off to use
//! your own `#[global_allocator]`.
//!
//! Parameters and results that are vectors of fixed-width numbers
//! (`Vec<i64>`, `Vec<f64>`, `Vec<u8>` and the other integer and float
//! vectors) are decoded and encoded by one copy: their encoding is their
//! memory layout. Other types go through serde, with the same encoding.
//!
//! A panic ends the task with an error carrying the panic message and its
//! source location. Tasks log through the host's `tracing` with [`info!`],
//! [`warn!`], [`error!`], [`debug!`] and [`trace!`].

#![warn(missing_docs)]

pub mod codec;
pub mod log;
pub mod schema;

mod abi;
#[cfg(all(
    feature = "allocator",
    target_family = "wasm",
    not(target_feature = "atomics")
))]
mod alloc;
mod fast;
mod record;

pub use schema::Schema;
pub use weft_sdk_macros::{Schema, task};

/// Support code for the `#[task]` and `#[derive(Schema)]` expansions. Not a
/// stable API: use the macros.
#[doc(hidden)]
pub mod __private {
    pub use crate::abi::{ArgError, ArgReader, Outcome, finish_value, run_task};
    pub use crate::fast::{Decode, DecodeFast, DecodeSerde, Encode, EncodeFast, EncodeSerde};
    pub use crate::record::{Param, TaskSig, record, record_len};
    pub use crate::schema::{Field, Ty, Variant, VariantKind};
}
