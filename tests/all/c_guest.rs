//! The C SDK (`guest-sdk/c/weft.h`) and its example (`examples/c/tasks.c`),
//! compiled here with clang and lld, run through the same runtime and agree
//! with the Rust test kit on the same inputs.

use crate::support::{limits, load, runtime};
use std::path::{Path, PathBuf};
use std::process::Command;
use weft_guest_artifacts::TESTKIT;
use weft_runtime::TaskErrorKind;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Compiles examples/c/tasks.c to a module and returns its bytes.
pub(crate) fn build_c_module() -> Vec<u8> {
    build_c_module_with(&[])
}

/// [`build_c_module`] with more clang flags.
fn build_c_module_with(flags: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tasks.wasm");
    let root = repo_root();
    let result = Command::new("clang")
        .args(["--target=wasm32-unknown-unknown", "-O2", "-nostdlib", "-Wl,--no-entry", "-I"])
        .arg(root.join("guest-sdk/c"))
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(root.join("examples/c/tasks.c"))
        .output()
        .unwrap_or_else(|e| {
            panic!("could not run clang ({e}); install clang and lld (tools/setup does: apt-get install clang lld)")
        });
    assert!(
        result.status.success(),
        "clang failed:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    std::fs::read(out).unwrap()
}

/// Both builds: weft.h's memcpy is a word loop without bulk memory and one
/// `memory.copy` with it.
#[test]
fn the_c_tasks_agree_with_the_rust_tasks() {
    the_c_tasks_built_with_agree_with_the_rust_tasks(&["-mno-bulk-memory"]);
    the_c_tasks_built_with_agree_with_the_rust_tasks(&["-mbulk-memory"]);
}

fn the_c_tasks_built_with_agree_with_the_rust_tasks(flags: &[&str]) {
    let rt = runtime();
    let c = rt
        .load(&build_c_module_with(flags))
        .expect("the C module follows the ABI");
    let rust = load(rt, TESTKIT);
    assert_eq!(
        c.task_names(),
        [
            "add",
            "divide",
            "greet",
            "keep_multiples_of_3",
            "reverse_bytes"
        ]
    );
    for name in c.task_names() {
        assert_eq!(
            c.signature(&name),
            rust.signature(&name),
            "the signatures of `{name}` agree"
        );
    }

    let same = |task: &str, args: Vec<u8>| {
        let from_c = rt.call(&c, task, &args, &limits());
        let from_rust = rt.call(&rust, task, &args, &limits());
        match (from_c, from_rust) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{task}: results differ"),
            (Err(a), Err(b)) => assert_eq!(a.kind, b.kind, "{task}: errors differ"),
            (a, b) => panic!("{task}: C gave {a:?}, Rust gave {b:?}"),
        }
    };
    let enc = |v: &dyn erased::Encode| v.encode();
    for (a, b) in [(1i64, 2i64), (-5, 5), (i64::MAX, 1), (i64::MIN, -1), (0, 0)] {
        same("add", enc(&(a, b)));
    }
    for (a, b) in [(9i64, 3i64), (-7, 2), (1, 0), (-42, 0)] {
        same("divide", enc(&(a, b)));
    }
    for name in ["", "world", "wörld ✓", &"x".repeat(10_000)] {
        same("greet", enc(&(name.to_string(),)));
    }
    for data in [
        vec![],
        vec![1u8],
        (0..=255u8).collect::<Vec<_>>(),
        vec![9u8; 100_000],
    ] {
        same("reverse_bytes", enc(&(data,)));
    }
    for xs in [
        vec![],
        vec![3i64],
        vec![1, 2, 4],
        vec![i64::MIN, -3, 0, 3, i64::MAX - 1],
        (0..1_250_000).collect::<Vec<i64>>(),
    ] {
        same("keep_multiples_of_3", enc(&(xs,)));
    }
    // A length prefix longer than the bytes: both refuse the arguments.
    let mut lying = 1_000u64.to_le_bytes().to_vec();
    lying.extend_from_slice(&[0; 16]);
    for module in [&c, &rust] {
        let err = rt
            .call(module, "keep_multiples_of_3", &lying, &limits())
            .unwrap_err();
        assert!(
            matches!(err.kind, TaskErrorKind::InvalidArguments { .. }),
            "{err}"
        );
    }
}

#[test]
fn the_c_tasks_report_bad_arguments_and_errors() {
    let rt = runtime();
    let c = rt.load(&build_c_module()).unwrap();
    let err = rt.call(&c, "add", &[1, 2, 3], &limits()).unwrap_err();
    assert!(
        matches!(err.kind, TaskErrorKind::InvalidArguments { .. }),
        "{err}"
    );
    let err = rt
        .call(&c, "greet", &u64::MAX.to_le_bytes(), &limits())
        .unwrap_err();
    assert!(
        matches!(err.kind, TaskErrorKind::InvalidArguments { .. }),
        "{err}"
    );
    let err = rt
        .call(
            &c,
            "divide",
            &weft_sdk::codec::encode(&(5i64, 0i64)).unwrap(),
            &limits(),
        )
        .unwrap_err();
    assert_eq!(
        err.kind,
        TaskErrorKind::Failed {
            message: "cannot divide 5 by zero".into()
        }
    );
}

/// Encodes argument tuples of different types through one closure.
mod erased {
    pub trait Encode {
        fn encode(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Encode for T {
        fn encode(&self) -> Vec<u8> {
            weft_sdk::codec::encode(self).unwrap()
        }
    }
}

/// C linked against wasi-libc (`examples/c/wasi_tasks.c`, built as a
/// reactor with Debian's clang-19): libc's start-up and printf run on the
/// host's capability-free WASI preview1 subset, `chatty` agrees with the
/// Rust test kit, and fopen finds no file system.
#[test]
fn c_with_wasi_libc_runs_without_authority() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("wasi_tasks.wasm");
    let root = repo_root();
    crate::polyglot::run_build(
        "C with wasi-libc (tools/setup installs clang-19, lld-19, wasi-libc)",
        Command::new("clang-19")
            .args(["--target=wasm32-wasi", "--sysroot=/usr", "-O2"])
            .args(["-mexec-model=reactor", "-Wl,--strip-debug", "-I"])
            .arg(root.join("guest-sdk/c"))
            .arg("-o")
            .arg(&out)
            .arg(root.join("examples/c/wasi_tasks.c")),
    );
    let rt = runtime();
    let module = rt
        .load(&std::fs::read(&out).unwrap())
        .expect("a wasi-libc module imports only the preview1 subset");
    crate::polyglot::agrees_with_the_rust_tasks("C with wasi-libc", &module, &["chatty"]);
    let path = weft_sdk::codec::encode(&("/etc/passwd".to_string(),)).unwrap();
    let error = rt
        .call(&module, "first_line", &path, &limits())
        .unwrap_err();
    let TaskErrorKind::Failed { message } = &error.kind else {
        panic!("the open fails inside the task: {error}")
    };
    assert_eq!(
        message,
        "cannot open /etc/passwd: Capabilities insufficient"
    );
}
