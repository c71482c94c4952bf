//! Zig: `examples/zig/tasks.zig` built freestanding with the SDK's module
//! (guest-sdk/zig/weft.zig).

use super::{
    agrees_with_the_rust_tasks, errors_are_typed, repo_root, run_build,
    the_weft_binary_lists_and_runs, toolchains,
};
use crate::support::runtime;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the example into `dir` and returns the module's path.
pub(crate) fn build_example(dir: &Path) -> PathBuf {
    let out = dir.join("tasks-zig.wasm");
    let root = repo_root();
    run_build(
        "Zig",
        Command::new(toolchains().join("zig/bin/python"))
            .current_dir(dir)
            .args(["-m", "ziglang", "build-exe"])
            .args([
                "-target",
                "wasm32-freestanding",
                "-fno-entry",
                "-rdynamic",
                "-O",
                "ReleaseSmall",
            ])
            .arg("--dep")
            .arg("weft")
            .arg(format!(
                "-Mroot={}",
                root.join("examples/zig/tasks.zig").display()
            ))
            .arg(format!(
                "-Mweft={}",
                root.join("guest-sdk/zig/weft.zig").display()
            ))
            .arg(format!("-femit-bin={}", out.display()))
            .env("ZIG_GLOBAL_CACHE_DIR", toolchains().join("zig/cache"))
            .env("ZIG_LOCAL_CACHE_DIR", dir.join("zig-cache")),
    );
    out
}

#[test]
fn the_zig_tasks_agree_with_the_rust_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let path = build_example(dir.path());
    let module = runtime()
        .load(&std::fs::read(&path).unwrap())
        .expect("the Zig module follows the ABI");
    agrees_with_the_rust_tasks(
        "Zig",
        &module,
        &[
            "add",
            "area",
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
            "swap",
        ],
    );
    errors_are_typed("Zig", &module);
    the_weft_binary_lists_and_runs("Zig", &path);
}
