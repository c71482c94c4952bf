//! The `weft` binary: `weft run` converts JSON arguments and results with the
//! recorded signatures, `weft tasks` lists them, and errors exit non-zero
//! with a message.

use serde_json::{Value, json};
use std::process::{Command, Output};
use weft_guest_artifacts::{HOSTILE, TESTKIT};

fn weft(args: &[&str]) -> Output {
    let cache = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .env("WEFT_CACHE_DIR", cache.path())
        .env("WEFT_LOG", "info")
        .output()
        .expect("run weft")
}

/// Runs `weft run TESTKIT task args...` and parses stdout as JSON.
fn run_json(task: &str, args: &[&str]) -> Value {
    let mut argv = vec!["run", TESTKIT, task];
    argv.extend_from_slice(args);
    let out = weft(&argv);
    assert!(
        out.status.success(),
        "weft run {task} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn stderr_of_failure(argv: &[&str], code: i32) -> String {
    let out = weft(argv);
    assert_eq!(out.status.code(), Some(code), "exit code of {argv:?}");
    assert!(out.stdout.is_empty(), "nothing on stdout when failing");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn run_round_trips_every_kind_of_value_as_json() {
    assert_eq!(run_json("inc", &["41"]), json!(42));
    assert_eq!(run_json("add", &["-7", "3"]), json!(-4));
    assert_eq!(run_json("scale", &["1.5", "-2"]), json!(-3.0));
    assert_eq!(run_json("not", &["false"]), json!(true));
    assert_eq!(run_json("greet", &["\"wörld\""]), json!("hello, wörld"));
    assert_eq!(run_json("greet", &["bare text"]), json!("hello, bare text"));
    assert_eq!(
        run_json("reverse_bytes", &["[1,2,255]"]),
        json!([255, 2, 1])
    );
    assert_eq!(run_json("sort_words", &[r#"["b","a"]"#]), json!(["a", "b"]));
    assert_eq!(run_json("first_positive", &["[-1, 3]"]), json!(3));
    assert_eq!(run_json("first_positive", &["[-1]"]), Value::Null);
    assert_eq!(run_json("swap", &[r#"[7, "seven"]"#]), json!(["seven", 7]));
    assert_eq!(run_json("nothing", &[]), Value::Null);
    let rows = r#"[{"name":"Alice","balance":-100},{"name":"Bob","balance":5},{"name":"Alice","balance":-1}]"#;
    assert_eq!(
        run_json("negative_accounts", &[rows]),
        json!([{"name":"Alice","balance":-100},{"name":"Alice","balance":-1}])
    );
    assert_eq!(
        run_json("summarize", &[rows]),
        json!({
            "count": 3, "total": -96,
            "by_name": {"Alice": -101, "Bob": 5},
            "largest": {"name": "Bob", "balance": 5}
        })
    );
    assert_eq!(
        run_json("area", &[r#"{"Rect":{"w":2.0,"h":3.0}}"#]),
        json!(6.0)
    );
    assert_eq!(run_json("area", &[r#""Empty""#]), json!(0.0));
    assert_eq!(run_json("area", &[r#"{"Circle": 0.0}"#]), json!(0.0));
}

#[test]
fn tasks_lists_signatures_and_types() {
    let out = weft(&["tasks", TESTKIT]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "inc(x: i64) -> i64",
        "add(a: i64, b: i64) -> i64",
        "negative_accounts(rows: Vec<Account>) -> Vec<Account>",
        "first_positive(xs: Vec<i64>) -> Option<i64>",
        "struct Account { name: String, balance: i64 }",
    ] {
        assert!(
            text.contains(line),
            "`weft tasks` output lacks {line:?}:\n{text}"
        );
    }
}

#[test]
fn task_errors_exit_1_with_the_message() {
    let err = stderr_of_failure(&["run", TESTKIT, "divide", "1", "0"], 1);
    assert!(err.contains("cannot divide 1 by zero"), "{err}");
    let err = stderr_of_failure(&["run", HOSTILE, "panic_with", "oops"], 1);
    assert!(err.contains("panicked: guest gave up: oops"), "{err}");
    let err = stderr_of_failure(&["run", "--timeout", "100ms", HOSTILE, "spin"], 1);
    assert!(err.contains("timed out"), "{err}");
    let err = stderr_of_failure(
        &[
            "run",
            "--task-memory-limit",
            "16MiB",
            HOSTILE,
            "memory_bomb",
        ],
        1,
    );
    assert!(
        err.contains("out of memory") && err.contains("16777216"),
        "{err}"
    );
    let err = stderr_of_failure(&["run", "--fuel", "1000", HOSTILE, "burn", "100000000"], 1);
    assert!(err.contains("fuel exhausted"), "{err}");
    let err = stderr_of_failure(
        &[
            "run",
            "--result-limit",
            "100B",
            HOSTILE,
            "big_result",
            "1000",
        ],
        1,
    );
    assert!(err.contains("result too large"), "{err}");
}

#[test]
fn bad_input_exits_2_and_says_what_is_wrong() {
    let err = stderr_of_failure(&["run", TESTKIT, "nope"], 2);
    assert!(
        err.contains("no task `nope`") && err.contains("inc"),
        "{err}"
    );
    let err = stderr_of_failure(&["run", TESTKIT, "add", "1"], 2);
    assert!(err.contains("takes 2 arguments"), "{err}");
    let err = stderr_of_failure(&["run", TESTKIT, "inc", "\"one\""], 2);
    assert!(err.contains("`x`"), "the error names the parameter: {err}");
    let err = stderr_of_failure(&["run", TESTKIT, "inc", "not json"], 2);
    assert!(err.contains("not JSON"), "{err}");
    // A quoted string that is not valid JSON (a lone surrogate) is refused,
    // not taken as bare text.
    let err = stderr_of_failure(&["run", TESTKIT, "greet", r#""\ud800""#], 2);
    assert!(err.contains("not JSON"), "{err}");
    let err = stderr_of_failure(
        &["run", TESTKIT, "negative_accounts", r#"[{"name":"A"}]"#],
        2,
    );
    assert!(err.contains("balance"), "a missing field is named: {err}");
    let garbage = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(garbage.path(), b"definitely not wasm").unwrap();
    let err = stderr_of_failure(&["tasks", garbage.path().to_str().unwrap()], 2);
    assert!(err.contains("not a valid WebAssembly module"), "{err}");
    let err = stderr_of_failure(&["tasks", "/no/such/file.wasm"], 2);
    assert!(err.contains("could not read"), "{err}");
}

#[test]
fn guest_logs_reach_stderr() {
    let out = weft(&["run", TESTKIT, "chatty", "hello"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chatty says hello"), "{err}");
}

#[test]
fn map_runs_a_task_over_json_lines_on_a_local_cluster() {
    let input = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(input.path(), "1\n2\n\n41\n").unwrap();
    let out = weft(&[
        "map",
        TESTKIT,
        "inc",
        "--input",
        input.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2\n3\n42\n");
    std::fs::write(input.path(), "[1, 2]\n[-5, 5]\n").unwrap();
    let out = weft(&[
        "map",
        TESTKIT,
        "add",
        "--input",
        input.path().to_str().unwrap(),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\n0\n");
    std::fs::write(input.path(), "[1, 0]\n").unwrap();
    let err = stderr_of_failure(
        &[
            "map",
            TESTKIT,
            "divide",
            "--input",
            input.path().to_str().unwrap(),
        ],
        1,
    );
    assert!(err.contains("cannot divide 1 by zero"), "{err}");
}

#[test]
fn pack_adds_records_once_and_a_failed_pack_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("raw.wasm");
    let raw = wat::parse_str(
        r#"(module
            (memory (export "memory") 1)
            (func (export "weft_alloc") (param i32) (result i32) i32.const 16)
            (func (export "weft_task.x") (param i32 i32) (result i32) i32.const 0))"#,
    )
    .unwrap();
    std::fs::write(&module, &raw).unwrap();
    let records = dir.path().join("tasks.weft");
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let pack = |records_text: &str| {
        std::fs::write(&records, records_text).unwrap();
        weft(&["pack", &path(&module), "--signatures", &path(&records)])
    };

    let out = pack("task y() -> unit;");
    assert_eq!(out.status.code(), Some(2), "a record without its export");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`weft_task.y` is not exported"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&module).unwrap(),
        raw,
        "the module is as it was"
    );

    let out = pack("task x() -> unit;");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("x() -> ()"));
    let packed = std::fs::read(&module).unwrap();
    let out = weft(&["run", &path(&module), "x"]);
    assert!(out.status.success(), "the packed module runs");

    let out = pack("task x() -> unit;");
    assert_eq!(out.status.code(), Some(2), "packed twice");
    assert!(String::from_utf8_lossy(&out.stderr).contains("already has a weft_tasks section"));
    assert_eq!(std::fs::read(&module).unwrap(), packed);
}
