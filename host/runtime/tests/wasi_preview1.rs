//! The capability-free WASI preview1 subset, through a hand-written module:
//! standard output and error reach the task's log, files and preopens are
//! refused ("not capable", "bad descriptor"), arguments are empty, clocks
//! move, random bytes differ, `poll_oneoff` waits for a clock, `proc_exit`
//! is a task error carrying the end of standard error, a reactor's
//! `_initialize` runs first; imports outside the subset, or any WASI import
//! when the subset is turned off, are refused naming the import.

mod common;

use common::with_captured_logs;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_runtime::{LoadError, Runtime, RuntimeConfig, TaskErrorKind, TaskLimits, TaskModule};

/// The test module; every task takes no arguments. A check that fails is
/// an `unreachable` trap, so a task that returns checked everything.
const MODULE: &str = r#"(module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "path_open"
        (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
    (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
    (import "weft" "output" (func $output (param i32 i32)))
    (memory (export "memory") 1)
    (data (i32.const 100) "hello stdout\n")
    (data (i32.const 200) "oops\n")
    (data (i32.const 300) "fatal: bad thing\n")
    (data (i32.const 400) "/etc/passwd")
    (func (export "_initialize") (i32.store (i32.const 5000) (i32.const 1)))
    (func (export "weft_alloc") (param i32) (result i32) (i32.const 8000))
    (func $write (param $fd i32) (param $ptr i32) (param $len i32)
        (i32.store (i32.const 1000) (local.get $ptr))
        (i32.store (i32.const 1004) (local.get $len))
        (if (call $fd_write (local.get $fd) (i32.const 1000) (i32.const 1) (i32.const 1008))
            (then unreachable))
        (if (i32.ne (i32.load (i32.const 1008)) (local.get $len)) (then unreachable)))
    (func (export "weft_task.write_out") (param i32 i32) (result i32)
        (call $write (i32.const 1) (i32.const 100) (i32.const 13))
        (call $write (i32.const 2) (i32.const 200) (i32.const 5))
        ;; more than 1,024 iovecs
        (if (i32.ne (call $fd_write (i32.const 1) (i32.const 1000) (i32.const 5000) (i32.const 1008))
                (i32.const 28))
            (then unreachable))
        ;; an iovec outside memory
        (i32.store (i32.const 1000) (i32.const 65530))
        (i32.store (i32.const 1004) (i32.const 100))
        (if (i32.ne (call $fd_write (i32.const 1) (i32.const 1000) (i32.const 1) (i32.const 1008))
                (i32.const 21))
            (then unreachable))
        ;; descriptor 3 does not exist
        (i32.store (i32.const 1000) (i32.const 100))
        (i32.store (i32.const 1004) (i32.const 1))
        (if (i32.ne (call $fd_write (i32.const 3) (i32.const 1000) (i32.const 1) (i32.const 1008))
                (i32.const 8))
            (then unreachable))
        (i32.const 0))
    (func (export "weft_task.open_file") (param i32 i32) (result i32)
        (if (i32.ne (call $path_open (i32.const 3) (i32.const 0) (i32.const 400) (i32.const 11)
                (i32.const 0) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 1012))
                (i32.const 76))
            (then unreachable))
        (if (i32.ne (call $fd_prestat_get (i32.const 3) (i32.const 1012)) (i32.const 8))
            (then unreachable))
        (if (call $args_sizes_get (i32.const 1016) (i32.const 1020)) (then unreachable))
        (if (i32.or (i32.load (i32.const 1016)) (i32.load (i32.const 1020))) (then unreachable))
        (i32.const 0))
    (func (export "weft_task.exit") (param i32 i32) (result i32)
        (call $write (i32.const 2) (i32.const 300) (i32.const 17))
        (call $proc_exit (i32.const 3))
        (i32.const 0))
    (func (export "weft_task.random") (param i32 i32) (result i32)
        (i64.store (i32.const 2000) (i64.const 32))
        (if (call $random_get (i32.const 2008) (i32.const 32)) (then unreachable))
        (call $output (i32.const 2000) (i32.const 40))
        (i32.const 0))
    (func (export "weft_task.clocks") (param i32 i32) (result i32)
        (if (call $clock_time_get (i32.const 1) (i64.const 0) (i32.const 3000)) (then unreachable))
        (if (call $clock_time_get (i32.const 1) (i64.const 0) (i32.const 3008)) (then unreachable))
        (if (i64.eqz (i64.load (i32.const 3000))) (then unreachable))
        (if (i64.lt_u (i64.load (i32.const 3008)) (i64.load (i32.const 3000))) (then unreachable))
        ;; the realtime clock is after 2020
        (if (call $clock_time_get (i32.const 0) (i64.const 0) (i32.const 3016)) (then unreachable))
        (if (i64.lt_u (i64.load (i32.const 3016)) (i64.const 1577836800000000000)) (then unreachable))
        ;; there is no clock 9
        (if (i32.ne (call $clock_time_get (i32.const 9) (i64.const 0) (i32.const 3016)) (i32.const 28))
            (then unreachable))
        (i32.const 0))
    (func $clock_subscription (param $at i32) (param $userdata i64) (param $nanos i64)
        (i64.store (local.get $at) (local.get $userdata))
        (i32.store8 (i32.add (local.get $at) (i32.const 8)) (i32.const 0))
        (i32.store (i32.add (local.get $at) (i32.const 16)) (i32.const 1))
        (i64.store (i32.add (local.get $at) (i32.const 24)) (local.get $nanos))
        (i64.store (i32.add (local.get $at) (i32.const 32)) (i64.const 0))
        (i32.store16 (i32.add (local.get $at) (i32.const 40)) (i32.const 0)))
    ;; sleep(ms): one relative subscription to the monotonic clock (userdata
    ;; 7) and one of 10 s (userdata 8): only the first fires.
    (func (export "weft_task.sleep") (param $ptr i32) (param $len i32) (result i32)
        (call $clock_subscription (i32.const 4000) (i64.const 7)
            (i64.mul (i64.load (local.get $ptr)) (i64.const 1000000)))
        (call $clock_subscription (i32.const 4048) (i64.const 8) (i64.const 10000000000))
        (if (call $poll_oneoff (i32.const 4000) (i32.const 4100) (i32.const 2) (i32.const 4200))
            (then unreachable))
        (if (i32.ne (i32.load (i32.const 4200)) (i32.const 1)) (then unreachable))
        (if (i64.ne (i64.load (i32.const 4100)) (i64.const 7)) (then unreachable))
        (if (i32.load16_u (i32.const 4108)) (then unreachable))
        (i32.const 0))
    ;; a 10 s clock beside a descriptor subscription: the descriptor fires at
    ;; once, with EBADF, and the clock does not
    (func (export "weft_task.poll_descriptor") (param i32 i32) (result i32)
        (call $clock_subscription (i32.const 4000) (i64.const 7) (i64.const 10000000000))
        (i64.store (i32.const 4048) (i64.const 9))
        (i32.store8 (i32.const 4056) (i32.const 1))
        (i32.store (i32.const 4064) (i32.const 0))
        (if (call $poll_oneoff (i32.const 4000) (i32.const 4100) (i32.const 2) (i32.const 4200))
            (then unreachable))
        (if (i32.ne (i32.load (i32.const 4200)) (i32.const 1)) (then unreachable))
        (if (i64.ne (i64.load (i32.const 4100)) (i64.const 9)) (then unreachable))
        (if (i32.ne (i32.load16_u (i32.const 4108)) (i32.const 8)) (then unreachable))
        (i32.const 0))
    (func (export "weft_task.initialized") (param i32 i32) (result i32)
        (if (i32.ne (i32.load (i32.const 5000)) (i32.const 1)) (then unreachable))
        (i32.const 0))
    (@custom "weft_tasks" "task write_out() -> unit; task open_file() -> unit; task exit() -> unit; task random() -> list<u8>; task clocks() -> unit; task sleep(ms: i64) -> unit; task poll_descriptor() -> unit; task initialized() -> unit;"))"#;

fn runtime(wasi_preview1: bool) -> Runtime {
    Runtime::new(RuntimeConfig {
        instances_max: 4,
        cache_dir: None,
        wasi_preview1,
        ..RuntimeConfig::default()
    })
    .expect("start a runtime")
}

fn load(runtime: &Runtime) -> Arc<TaskModule> {
    let bytes = wat::parse_str(MODULE).expect("the test module is valid WAT");
    runtime.load(&bytes).expect("load the test module")
}

fn call(runtime: &Runtime, module: &Arc<TaskModule>, task: &str) -> Result<Vec<u8>, TaskErrorKind> {
    runtime
        .call(module, task, &[], &TaskLimits::default())
        .map(|out| out.to_vec())
        .map_err(|e| e.kind)
}

#[test]
fn standard_output_and_error_reach_the_task_log() {
    let runtime = runtime(true);
    let module = load(&runtime);
    let (result, logs) = with_captured_logs(|| call(&runtime, &module, "write_out"));
    assert_eq!(result, Ok(vec![]));
    let logs = String::from_utf8(logs).unwrap();
    let line = |text: &str| logs.lines().find(|l| l.contains(text)).map(str::to_owned);
    let out = line("hello stdout").unwrap_or_else(|| panic!("stdout logged: {logs}"));
    assert!(
        out.contains("INFO") && out.contains("task=\"write_out\""),
        "{out}"
    );
    assert!(
        !out.contains("\\n"),
        "the trailing newline is not part of the record: {out}"
    );
    let err = line("oops").unwrap_or_else(|| panic!("stderr logged: {logs}"));
    assert!(err.contains("WARN"), "{err}");
}

#[test]
fn files_and_preopens_are_not_there_and_arguments_are_empty() {
    let runtime = runtime(true);
    let module = load(&runtime);
    assert_eq!(call(&runtime, &module, "open_file"), Ok(vec![]));
}

#[test]
fn proc_exit_is_a_task_error_with_the_end_of_standard_error() {
    let runtime = runtime(true);
    let module = load(&runtime);
    let TaskErrorKind::Panic { message } = call(&runtime, &module, "exit").unwrap_err() else {
        panic!("an exit is a panic-kind error")
    };
    assert!(message.contains("code 3"), "{message}");
    assert!(message.contains("fatal: bad thing"), "{message}");
    assert_eq!(
        call(&runtime, &module, "open_file"),
        Ok(vec![]),
        "the runtime goes on"
    );
}

#[test]
fn clocks_move_random_bytes_differ_and_a_poll_waits_for_its_clock() {
    let runtime = runtime(true);
    let module = load(&runtime);
    assert_eq!(call(&runtime, &module, "clocks"), Ok(vec![]));
    let first = call(&runtime, &module, "random").unwrap();
    let second = call(&runtime, &module, "random").unwrap();
    assert_eq!(first.len(), 40);
    assert_ne!(first, second, "32 random bytes twice the same");
    // Longer than one slice of the wait: the clock fires when it is due,
    // not when the first slice ends.
    let start = Instant::now();
    let sleep = |ms: i64| runtime.call(&module, "sleep", &ms.to_le_bytes(), &TaskLimits::default());
    assert!(sleep(50).is_ok());
    assert!(
        start.elapsed() >= Duration::from_millis(50),
        "poll_oneoff returned before its 50 ms clock"
    );
    assert_eq!(call(&runtime, &module, "poll_descriptor"), Ok(vec![]));
}

#[test]
fn a_sleep_past_the_timeout_is_a_timeout() {
    let runtime = runtime(true);
    let module = load(&runtime);
    let limits = TaskLimits {
        timeout: Duration::from_millis(100),
        ..TaskLimits::default()
    };
    let start = Instant::now();
    let error = runtime
        .call(&module, "sleep", &60_000i64.to_le_bytes(), &limits)
        .unwrap_err();
    assert!(
        matches!(error.kind, TaskErrorKind::Timeout { .. }),
        "{error}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "the timeout stopped the sleep"
    );
}

#[test]
fn a_sleep_stops_at_its_interrupt() {
    let runtime = runtime(true);
    let module = load(&runtime);
    let interrupt = weft_runtime::Interrupt::default();
    let raise = interrupt.clone();
    let raiser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        raise.request();
    });
    let error = runtime
        .call_interruptible(
            &module,
            "sleep",
            &60_000i64.to_le_bytes(),
            &TaskLimits::default(),
            &interrupt,
        )
        .unwrap_err();
    raiser.join().unwrap();
    assert_eq!(error.kind, TaskErrorKind::Interrupted, "{error}");
}

#[test]
fn a_reactor_is_initialized_on_every_instance() {
    let runtime = runtime(true);
    let module = load(&runtime);
    for _ in 0..3 {
        assert_eq!(call(&runtime, &module, "initialized"), Ok(vec![]));
    }
}

fn load_error(runtime: &Runtime, import: &str) -> LoadError {
    let text = format!(
        r#"(module {import}
            (memory (export "memory") 1)
            (func (export "weft_alloc") (param i32) (result i32) i32.const 0)
            (func (export "weft_task.x") (param i32 i32) (result i32) i32.const 0)
            (@custom "weft_tasks" "task x() -> unit;"))"#
    );
    runtime
        .load(&wat::parse_str(text).expect("valid wat"))
        .expect_err("the import is refused")
}

#[test]
fn imports_outside_the_subset_are_refused_naming_them() {
    let runtime = runtime(true);
    for (import, named, hint) in [
        (
            r#"(import "wasi_snapshot_preview1" "sock_accept" (func (param i32 i32 i32) (result i32)))"#,
            "wasi_snapshot_preview1::sock_accept",
            "capability-free subset",
        ),
        (
            r#"(import "wasi_snapshot_preview1" "path_unlink_file" (func (param i32 i32 i32) (result i32)))"#,
            "wasi_snapshot_preview1::path_unlink_file",
            "capability-free subset",
        ),
        (
            r#"(import "wasi:filesystem/types" "read" (func))"#,
            "wasi:filesystem/types::read",
            "preview1 subset",
        ),
    ] {
        let error = load_error(&runtime, import);
        assert!(
            matches!(error, LoadError::ForbiddenImport { .. }),
            "{error}"
        );
        let text = error.to_string();
        assert!(text.contains(named) && text.contains(hint), "{text}");
    }
    let error = load_error(
        &runtime,
        r#"(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32) (result i32)))"#,
    );
    assert!(matches!(error, LoadError::WrongType { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("(param i32 i32 i32 i32) (result i32)"),
        "{error}"
    );
}

#[test]
fn with_the_subset_turned_off_every_wasi_import_is_refused() {
    let runtime = runtime(false);
    let error = load_error(
        &runtime,
        r#"(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))"#,
    );
    let text = error.to_string();
    assert!(
        matches!(error, LoadError::ForbiddenImport { .. }) && text.contains("turned off"),
        "{text}"
    );
    let bytes = wat::parse_str(MODULE).unwrap();
    assert!(runtime.load(&bytes).is_err(), "the test module too");
}

#[test]
fn an_initializer_of_another_type_is_refused() {
    let error = load_error(
        &runtime(true),
        r#"(func (export "_initialize") (param i32))"#,
    );
    assert!(
        matches!(error, LoadError::WrongType { .. }) && error.to_string().contains("_initialize"),
        "{error}"
    );
}

#[test]
fn output_past_the_log_budget_is_dropped_and_counted_but_the_exit_keeps_its_stderr() {
    let runtime = runtime(true);
    let module = load(&runtime);
    let limits = TaskLimits {
        log_bytes_max: 100,
        ..TaskLimits::default()
    };
    let (result, logs) =
        with_captured_logs(|| runtime.call(&module, "write_out", &[], &limits).map(drop));
    assert!(result.is_ok(), "a write past the budget still succeeds");
    let logs = String::from_utf8(logs).unwrap();
    assert!(!logs.contains("hello stdout"), "{logs}");
    assert!(logs.contains("dropped 2 log records"), "{logs}");
    let error = runtime.call(&module, "exit", &[], &limits).unwrap_err();
    assert!(error.to_string().contains("fatal: bad thing"), "{error}");
}
