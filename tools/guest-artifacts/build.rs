//! Builds every guest program of the workspace to wasm with a nested
//! `cargo build --target wasm32-unknown-unknown --profile guest`, in a target
//! directory of its own, and writes a constant per guest with the path of its
//! module. This is how tests, examples and benchmarks get their `.wasm` files:
//! `cargo test` / `cargo run` alone build them. The wasm target is added with
//! rustup when it is missing.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (constant name, package, source folder relative to the workspace root)
const GUESTS: &[(&str, &str, &str)] = &[
    ("TESTKIT", "weft-guest-testkit", "tests/guests/testkit"),
    ("HOSTILE", "weft-guest-hostile", "tests/guests/hostile"),
    ("EXAMPLE_TASKS", "weft-example-tasks", "examples/tasks"),
];

const TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "guest";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("tools/guest-artifacts lives two levels below the workspace root")
        .to_path_buf();
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join("wasm-guests");

    for (_, _, dir) in GUESTS {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("guest-sdk").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("Cargo.lock").display()
    );

    ensure_wasm_target();

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .arg("build")
        .arg("--target")
        .arg(TARGET)
        .arg("--profile")
        .arg(PROFILE)
        .arg("--target-dir")
        .arg(&target_dir);
    for (_, package, _) in GUESTS {
        cmd.arg("-p").arg(package);
    }
    // The outer build's flags are for the host; guests get their own.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    // Fixed-width SIMD is part of the ABI (schema/ABI.md) and lets LLVM
    // vectorize the guests' loops (the compute benchmark's matmul runs
    // about a third faster with it).
    cmd.env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+simd128");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo to build the guest programs: {e}"));
    assert!(
        status.success(),
        "building the guest programs for {TARGET} failed (see the cargo output above)"
    );

    let out_dir = target_dir.join(TARGET).join(PROFILE);
    let mut generated = String::new();
    for (constant, package, _) in GUESTS {
        let file = out_dir.join(format!("{}.wasm", package.replace('-', "_")));
        assert!(
            file.exists(),
            "the guest build did not produce {}",
            file.display()
        );
        generated.push_str(&format!(
            "/// The module built from `{package}`.\npub const {constant}: &str = {:?};\n",
            file.display().to_string()
        ));
    }
    let dest = PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("artifacts.rs");
    std::fs::write(&dest, generated).expect("write artifacts.rs");
}

/// Adds the wasm target with rustup when the active toolchain lacks it
/// (rust-toolchain.toml does not add targets to an installed toolchain).
fn ensure_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = sysroot.is_some_and(|root| root.join("lib/rustlib").join(TARGET).exists());
    if installed {
        return;
    }
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add", TARGET]);
    if let Ok(toolchain) = env::var("RUSTUP_TOOLCHAIN") {
        cmd.args(["--toolchain", &toolchain]);
    }
    match cmd.status() {
        Ok(status) if status.success() => {}
        other => panic!(
            "the {TARGET} target is missing and `rustup target add {TARGET}` failed ({other:?}); \
             install it by hand"
        ),
    }
}
