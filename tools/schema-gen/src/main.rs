//! Regenerates `schema/src/generated/graph_capnp.rs` from `schema/graph.capnp`
//! with the `capnpc` crate. Needs the `capnp` compiler on `PATH` (Debian
//! package `capnproto`); run it through `tools/regen-schema`, which also
//! installs the compiler and formats the output.
//!
//! The generated code names its own types by absolute paths under
//! `crate::graph`, where `weft-schema` declares the module `graph_capnp`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let schema_dir = match manifest_dir.join("../../schema").canonicalize() {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!(
                "error: finding the schema folder from {}: {error}",
                manifest_dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let out_dir = schema_dir.join("src/generated");
    let mut command = capnpc::CompilerCommand::new();
    command
        .src_prefix(&schema_dir)
        .file(schema_dir.join("graph.capnp"))
        .output_path(&out_dir)
        .default_parent_module(vec!["graph".to_owned()]);
    match command.run() {
        Ok(()) => {
            println!("wrote {}", out_dir.join("graph_capnp.rs").display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: generating code from graph.capnp: {error}");
            ExitCode::FAILURE
        }
    }
}
