//! AssemblyScript: `examples/assemblyscript/tasks.ts` built with `asc` and
//! the SDK's transform (guest-sdk/assemblyscript).

use super::{
    agrees_with_the_rust_tasks, errors_are_typed, repo_root, run_build,
    the_weft_binary_lists_and_runs, toolchains,
};
use crate::support::runtime;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the example into `dir` and returns the module's path.
pub(crate) fn build_example(dir: &Path) -> PathBuf {
    let out = dir.join("tasks-as.wasm");
    let asc = toolchains().join("assemblyscript/node_modules/assemblyscript/bin/asc.js");
    run_build(
        "AssemblyScript",
        Command::new("node")
            .current_dir(repo_root())
            .arg(asc)
            .arg("examples/assemblyscript/tasks.ts")
            .args(["--path", "guest-sdk/assemblyscript"])
            .args(["--transform", "./guest-sdk/assemblyscript/transform.mjs"])
            .args(["--runtime", "stub", "-O3", "-o"])
            .arg(&out),
    );
    out
}

#[test]
fn the_assemblyscript_tasks_agree_with_the_rust_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let path = build_example(dir.path());
    let module = runtime()
        .load(&std::fs::read(&path).unwrap())
        .expect("the AssemblyScript module follows the ABI");
    agrees_with_the_rust_tasks(
        "AssemblyScript",
        &module,
        &[
            "add",
            "chatty",
            "divide",
            "first_positive",
            "greet",
            "inc",
            "keep_multiples_of_3",
            "negative_accounts",
            "not",
            "nothing",
            "reverse_bytes",
            "scale",
            "sort_words",
            "summarize",
            "swap",
        ],
    );
    errors_are_typed("AssemblyScript", &module);
    the_weft_binary_lists_and_runs("AssemblyScript", &path);
}
