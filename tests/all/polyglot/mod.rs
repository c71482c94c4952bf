//! Task modules in other languages (core modules and components), built
//! here from their SDKs' examples
//! with the toolchains `tools/setup-polyglot` installs, checked against the
//! Rust test kit: the same signatures, the same output bytes (or the same
//! kind of error) for the same argument bytes, and listed and run by the
//! `weft` binary.

mod assemblyscript;
mod components;
mod go;
mod mixed;
mod zig;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use weft_guest_artifacts::TESTKIT;
use weft_guest_testkit::{Account, Shape};
use weft_runtime::{TaskErrorKind, TaskModule};

use crate::support::{limits, load, runtime};

/// The repository's root.
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds `examples/LANGUAGE` into `dir` with `tools/build-polyglot` (the
/// one place the build commands live); returns the module's path.
pub(crate) fn build_example(language: &str, dir: &Path) -> PathBuf {
    run_build(
        language,
        Command::new("bash")
            .arg(repo_root().join("tools/build-polyglot"))
            .arg(dir)
            .arg(language)
            .env("WEFT", env!("CARGO_BIN_EXE_weft")),
    );
    dir.join(format!("tasks-{language}.wasm"))
}

/// Runs a build command, failing the test with its output if it fails.
pub(crate) fn run_build(what: &str, cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run the {what} build ({e})"));
    assert!(
        out.status.success(),
        "the {what} build failed (tools/setup-polyglot installs the toolchains):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    weft_sdk::codec::encode(value).unwrap()
}

fn account(name: &str, balance: i64) -> Account {
    Account {
        name: name.into(),
        balance,
    }
}

/// The checks every language's example module passes: it loads, agrees
/// with the Rust test kit on `names` ([`agrees_with_the_rust_tasks`]), its
/// errors are typed, and the `weft` binary lists and runs it. Returns the
/// loaded module.
pub(crate) fn the_example_passes(language: &str, path: &Path, names: &[&str]) -> Arc<TaskModule> {
    let module = runtime()
        .load(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("the {language} module follows the ABI: {e}"));
    agrees_with_the_rust_tasks(language, &module, names);
    errors_are_typed(language, &module);
    the_weft_binary_lists_and_runs(language, path);
    module
}

/// Checks that `module` has the tasks `names` (and of the Rust test kit's
/// tasks no others), each with the Rust test kit's signature, and that
/// every round-trip case of those tasks gives the same bytes (or the same
/// kind of error) in both.
pub(crate) fn agrees_with_the_rust_tasks(language: &str, module: &Arc<TaskModule>, names: &[&str]) {
    let rt = runtime();
    let rust = load(rt, TESTKIT);
    let shared: Vec<String> = module
        .task_names()
        .into_iter()
        .filter(|name| rust.signature(name).is_some())
        .collect();
    assert_eq!(shared, names, "{language}: the test kit's tasks");
    for name in names {
        assert_eq!(
            module.signature(name),
            rust.signature(name),
            "{language}: the signatures of `{name}` agree"
        );
    }
    let cases = cases();
    for name in names {
        assert!(
            cases.iter().any(|(task, _)| task == name),
            "{language}: `{name}` has a case"
        );
    }
    for (task, args) in cases {
        if !names.contains(&task) {
            continue;
        }
        let theirs = rt.call(module, task, &args, &limits());
        let ours = rt.call(&rust, task, &args, &limits());
        match (theirs, ours) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{language} {task}: results differ"),
            (Err(a), Err(b)) => assert_eq!(
                std::mem::discriminant(&a.kind),
                std::mem::discriminant(&b.kind),
                "{language} {task}: errors differ: {a} / {b}"
            ),
            (a, b) => panic!("{language} {task}: {language} gave {a:?}, Rust gave {b:?}"),
        }
    }
}

/// The round-trip cases: a task and its argument bytes.
fn cases() -> Vec<(&'static str, Vec<u8>)> {
    let mut cases: Vec<(&'static str, Vec<u8>)> = Vec::new();
    for x in [0i64, 41, -1, i64::MAX, i64::MIN] {
        cases.push(("inc", encode(&(x,))));
    }
    for (a, b) in [(1i64, 2i64), (-5, 5), (i64::MAX, 1), (i64::MIN, -1)] {
        cases.push(("add", encode(&(a, b))));
    }
    for (x, k) in [(1.5f64, -2.0f64), (0.1, 3.0), (f64::MAX, 2.0), (-0.0, 1.0)] {
        cases.push(("scale", encode(&(x, k))));
    }
    cases.push(("scale", encode(&(f64::NAN, 1.0f64))));
    for b in [true, false] {
        cases.push(("not", encode(&(b,))));
    }
    cases.push(("not", vec![2])); // neither 0 nor 1: invalid arguments
    for name in ["", "world", "wörld ✓ 𝄞", &"x".repeat(10_000)] {
        cases.push(("greet", encode(&(name.to_string(),))));
    }
    let mut bad_utf8 = 2u64.to_le_bytes().to_vec();
    bad_utf8.extend_from_slice(&[0xff, 0xfe]);
    cases.push(("greet", bad_utf8));
    for data in [vec![], vec![1u8], (0..=255u8).collect(), vec![9u8; 100_000]] {
        cases.push(("reverse_bytes", encode(&(data,))));
    }
    for xs in [
        vec![],
        vec![3i64],
        vec![i64::MIN, -3, 0, 3, i64::MAX - 1],
        (0..250_000).collect::<Vec<i64>>(),
    ] {
        cases.push(("keep_multiples_of_3", encode(&(xs,))));
    }
    let mut lying = 1_000u64.to_le_bytes().to_vec();
    lying.extend_from_slice(&[0; 16]);
    cases.push(("keep_multiples_of_3", lying));
    for words in [
        vec![],
        vec!["b", "a", "c", "a"],
        vec!["zebra", "Apple", "éclair"],
    ] {
        let words: Vec<String> = words.into_iter().map(String::from).collect();
        cases.push(("sort_words", encode(&(words,))));
    }
    for xs in [vec![], vec![-1i64, 3, 4], vec![-1, -2], vec![0, 5]] {
        cases.push(("first_positive", encode(&(xs,))));
    }
    for pair in [(7i64, "seven"), (-1, "")] {
        cases.push(("swap", encode(&((pair.0, pair.1.to_string()),))));
    }
    let rows = vec![
        account("ann", 10),
        account("bob", -5),
        account("ann", -20),
        account("cy", 10),
    ];
    for rows in [vec![], rows.clone()] {
        cases.push(("negative_accounts", encode(&(rows.clone(),))));
        cases.push(("summarize", encode(&(rows,))));
    }
    for shape in [
        Shape::Circle(2.0),
        Shape::Rect { w: 3.0, h: 0.5 },
        Shape::Empty,
    ] {
        cases.push(("area", encode(&(shape,))));
    }
    cases.push(("area", 3u32.to_le_bytes().to_vec())); // no such variant
    for (a, b) in [(9i64, 3i64), (-7, 2), (1, 0), (i64::MIN, -1)] {
        cases.push(("divide", encode(&(a, b))));
    }
    for message in ["", "hi ✓"] {
        cases.push(("chatty", encode(&(message.to_string(),))));
    }
    cases.push(("nothing", vec![]));
    cases.push(("nothing", vec![0])); // a byte too many
    cases
}

/// `weft tasks` lists the module's tasks with their signatures and `weft
/// run` converts JSON arguments and results through them.
pub(crate) fn the_weft_binary_lists_and_runs(language: &str, module: &Path) {
    // One cache for the three runs: a component compiles once.
    let cache = tempfile::tempdir().unwrap();
    let weft = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(args)
            .env("WEFT_CACHE_DIR", cache.path())
            .output()
            .expect("run weft")
    };
    let path = module.to_str().unwrap();
    let out = weft(&["tasks", path]);
    assert!(
        out.status.success(),
        "{language}: weft tasks failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains("add(a: i64, b: i64) -> i64"),
        "{language}: weft tasks lists add:\n{listing}"
    );
    let out = weft(&["run", path, "add", "40", "2"]);
    assert!(
        out.status.success(),
        "{language}: weft run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "42",
        "{language}: weft run add"
    );
    let out = weft(&["run", path, "divide", "1", "0"]);
    assert!(!out.status.success(), "{language}: divide by zero fails");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot divide 1 by zero"),
        "{language}: the failure's message: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A task that fails or panics gives the typed error.
pub(crate) fn errors_are_typed(language: &str, module: &Arc<TaskModule>) {
    let rt = runtime();
    let err = rt
        .call(module, "divide", &encode(&(5i64, 0i64)), &limits())
        .unwrap_err();
    assert_eq!(
        err.kind,
        TaskErrorKind::Failed {
            message: "cannot divide 5 by zero".into()
        },
        "{language}"
    );
    let err = rt
        .call(module, "divide", &encode(&(i64::MIN, -1i64)), &limits())
        .unwrap_err();
    assert!(
        matches!(&err.kind, TaskErrorKind::Panic { message } if message.contains("overflow")),
        "{language}: {err}"
    );
    let err = rt.call(module, "add", &[1, 2, 3], &limits()).unwrap_err();
    assert!(
        matches!(err.kind, TaskErrorKind::InvalidArguments { .. }),
        "{language}: {err}"
    );
}
