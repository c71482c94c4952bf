//! Paths of the guest programs' `.wasm` modules, built by this crate's build
//! script from `tests/guests/*` and `examples/tasks`. Depend on this crate
//! (usually as a dev-dependency) to get the modules built before your tests,
//! examples or benchmarks run.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));
