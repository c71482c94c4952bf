//! Guest text and host copies against their limits, through a hand-written
//! module: log floods of empty or one-byte records stay within the log
//! budget and are reported dropped once; a forged newline stays on its log
//! line; abort and error texts reach the task error raw but capped; every
//! host copy costs fuel.

mod common;

use common::with_captured_logs;
use std::sync::Arc;
use weft_runtime::config::{LOG_RECORD_OVERHEAD_BYTES, TASK_MESSAGE_BYTES_MAX};
use weft_runtime::text::TRUNCATED_SUFFIX;
use weft_runtime::{Runtime, RuntimeConfig, TaskError, TaskErrorKind, TaskLimits, TaskModule};

/// Texts the module holds, each at `TEXT_STRIDE * index`.
const TEXTS: &[&[u8]] = &[
    b"x",
    b"ok\nERROR weft_scheduler::server: FAKE\r\x1b[2J\x1b]0;title\x07",
    b"\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\x1b[2J\xc2\x9b31m done",
];
const TEXT_STRIDE: i64 = 4096;
/// Where `weft_alloc` puts the arguments.
const ARGS_AT: i64 = 0xF_0000;
/// A region `abort_big` fills with `A`s: 16 MiB from 1 MiB.
const BIG_AT: i64 = 0x10_0000;
const BIG_LEN: i64 = 16 << 20;

/// The test module. Every task takes i64 arguments and returns `()`:
/// - `log_n(records, ptr, len)`: `weft.log` of `[ptr, ptr + len)`, `records` times;
/// - `output_n(records, len)`: `weft.output` of `[0, len)`, `records` times;
/// - `abort_with(ptr, len)`: `weft.abort` with `[ptr, ptr + len)`;
/// - `abort_big()`: fills 16 MiB with `A` and aborts with it;
/// - `fail_with(ptr, len)`: outputs `[ptr, ptr + len)` and returns status 1.
fn module_wat() -> String {
    let data: String = TEXTS
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let bytes: String = text.iter().map(|b| format!("\\{b:02x}")).collect();
            format!(
                "(data (i32.const {}) \"{bytes}\")\n",
                TEXT_STRIDE * i as i64
            )
        })
        .collect();
    format!(
        r#"(module
            (import "weft" "log" (func $log (param i32 i32 i32)))
            (import "weft" "output" (func $output (param i32 i32)))
            (import "weft" "abort" (func $abort (param i32 i32)))
            (memory (export "memory") 300)
            {data}
            (func (export "weft_alloc") (param i32) (result i32) i32.const {ARGS_AT})
            (func $arg (param $ptr i32) (param $i i32) (result i32)
                (i32.wrap_i64 (i64.load (i32.add (local.get $ptr) (i32.mul (local.get $i) (i32.const 8))))))
            (func (export "weft_task.log_n") (param $ptr i32) (param $len i32) (result i32)
                (local $n i32)
                (local.set $n (call $arg (local.get $ptr) (i32.const 0)))
                (block $done
                    (loop $again
                        (br_if $done (i32.eqz (local.get $n)))
                        (call $log (i32.const 3)
                            (call $arg (local.get $ptr) (i32.const 1))
                            (call $arg (local.get $ptr) (i32.const 2)))
                        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                        (br $again)))
                (i32.const 0))
            (func (export "weft_task.output_n") (param $ptr i32) (param $len i32) (result i32)
                (local $n i32)
                (local.set $n (call $arg (local.get $ptr) (i32.const 0)))
                (block $done
                    (loop $again
                        (br_if $done (i32.eqz (local.get $n)))
                        (call $output (i32.const 0) (call $arg (local.get $ptr) (i32.const 1)))
                        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                        (br $again)))
                (call $output (i32.const 0) (i32.const 0))
                (i32.const 0))
            (func (export "weft_task.abort_with") (param $ptr i32) (param $len i32) (result i32)
                (call $abort (call $arg (local.get $ptr) (i32.const 0))
                    (call $arg (local.get $ptr) (i32.const 1)))
                (i32.const 0))
            (func (export "weft_task.abort_big") (param $ptr i32) (param $len i32) (result i32)
                (memory.fill (i32.const {BIG_AT}) (i32.const 65) (i32.const {BIG_LEN}))
                (call $abort (i32.const {BIG_AT}) (i32.const {BIG_LEN}))
                (i32.const 0))
            (func (export "weft_task.fail_with") (param $ptr i32) (param $len i32) (result i32)
                (call $output (call $arg (local.get $ptr) (i32.const 0))
                    (call $arg (local.get $ptr) (i32.const 1)))
                (i32.const 1))
            (@custom "weft_tasks" "task log_n(records: i64, ptr: i64, len: i64) -> unit; task output_n(records: i64, len: i64) -> unit; task abort_with(ptr: i64, len: i64) -> unit; task abort_big() -> unit; task fail_with(ptr: i64, len: i64) -> unit;"))"#
    )
}

fn runtime(fuel_metering: bool) -> Runtime {
    Runtime::new(RuntimeConfig {
        instances_max: 4,
        cache_dir: None,
        fuel_metering,
        ..RuntimeConfig::default()
    })
    .expect("start a runtime")
}

fn load(runtime: &Runtime) -> Arc<TaskModule> {
    let bytes = wat::parse_str(module_wat()).expect("the test module is valid WAT");
    runtime.load(&bytes).expect("load the test module")
}

fn args(values: &[i64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn text_ptr(index: usize) -> i64 {
    TEXT_STRIDE * index as i64
}

fn call(
    runtime: &Runtime,
    task: &str,
    values: &[i64],
    limits: &TaskLimits,
) -> Result<(), TaskError> {
    let module = load(runtime);
    runtime.call(&module, task, &args(values), limits).map(drop)
}

/// Floods `records` log records of `len` bytes; checks how many were
/// written and that one warning counts the rest.
fn assert_flood_within_budget(len: u64) {
    let rt = runtime(false);
    let limits = TaskLimits::default();
    let records = 1_000_000u64;
    let (result, logs) = with_captured_logs(|| {
        call(
            &rt,
            "log_n",
            &[records as i64, text_ptr(0), len as i64],
            &limits,
        )
    });
    result.expect("a log flood does not fail the task");
    let logs = String::from_utf8(logs).unwrap();
    let written = logs
        .lines()
        .filter(|l| l.contains("INFO weft::guest"))
        .count() as u64;
    let fit = limits.log_bytes_max / (len + LOG_RECORD_OVERHEAD_BYTES);
    assert_eq!(written, fit, "records written for {len}-byte records");
    let warnings: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("dropped_records="))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning: {warnings:?}");
    assert!(warnings[0].contains("WARN weft::guest"), "{}", warnings[0]);
    assert!(
        warnings[0].contains(&format!("dropped_records={}", records - fit)),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[0].contains(&format!("dropped_bytes={}", (records - fit) * len)),
        "{}",
        warnings[0]
    );
}

#[test]
fn a_flood_of_empty_log_records_stays_within_the_budget() {
    assert_flood_within_budget(0);
}

#[test]
fn a_flood_of_one_byte_log_records_stays_within_the_budget() {
    assert_flood_within_budget(1);
}

#[test]
fn no_warning_when_nothing_is_dropped() {
    let rt = runtime(false);
    let (result, logs) =
        with_captured_logs(|| call(&rt, "log_n", &[3, text_ptr(0), 1], &TaskLimits::default()));
    result.unwrap();
    let logs = String::from_utf8(logs).unwrap();
    assert_eq!(
        logs.lines()
            .filter(|l| l.contains("INFO weft::guest"))
            .count(),
        3
    );
    assert!(!logs.contains("dropped"), "{logs}");
}

#[test]
fn a_forged_newline_does_not_start_a_log_line() {
    let rt = runtime(false);
    let len = TEXTS[1].len() as i64;
    let (result, logs) =
        with_captured_logs(|| call(&rt, "log_n", &[1, text_ptr(1), len], &TaskLimits::default()));
    result.unwrap();
    assert!(
        !logs.contains(&0x1b) && !logs.contains(&b'\r'),
        "raw controls in {logs:?}"
    );
    let logs = String::from_utf8(logs).unwrap();
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines.len(), 1, "one record, one line: {lines:?}");
    assert!(lines[0].contains("INFO weft::guest"), "{}", lines[0]);
    assert!(
        lines[0].contains(r"ok\nERROR weft_scheduler::server: FAKE\r\x1b[2J\x1b]0;title\x07"),
        "the text is there, escaped: {}",
        lines[0]
    );
}

#[test]
fn abort_text_reaches_the_task_error_raw() {
    let rt = runtime(false);
    let len = TEXTS[2].len() as i64;
    let err = call(
        &rt,
        "abort_with",
        &[text_ptr(2), len],
        &TaskLimits::default(),
    )
    .unwrap_err();
    let expected = String::from_utf8(TEXTS[2].to_vec()).unwrap();
    assert_eq!(err.kind, TaskErrorKind::Panic { message: expected });
}

#[test]
fn a_16_mib_abort_message_is_capped_at_64_kib() {
    let rt = runtime(false);
    let err = call(&rt, "abort_big", &[], &TaskLimits::default()).unwrap_err();
    let TaskErrorKind::Panic { message } = err.kind else {
        panic!("not a panic: {err}");
    };
    assert_eq!(
        message.len(),
        TASK_MESSAGE_BYTES_MAX + TRUNCATED_SUFFIX.len()
    );
    let body = message
        .strip_suffix(TRUNCATED_SUFFIX)
        .expect("marked truncated");
    assert!(body.bytes().all(|b| b == b'A'));
}

#[test]
fn an_abort_range_outside_memory_is_still_an_abi_violation() {
    let rt = runtime(false);
    let err = call(
        &rt,
        "abort_with",
        &[0, i32::MAX as i64],
        &TaskLimits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err.kind, TaskErrorKind::AbiViolation { .. }),
        "{err}"
    );
}

#[test]
fn a_task_error_message_is_capped_at_64_kib() {
    let rt = runtime(false);
    let err = call(&rt, "fail_with", &[BIG_AT, 1 << 20], &TaskLimits::default()).unwrap_err();
    let TaskErrorKind::Failed { message } = err.kind else {
        panic!("not a failure: {err}");
    };
    assert_eq!(
        message.len(),
        TASK_MESSAGE_BYTES_MAX + TRUNCATED_SUFFIX.len()
    );
}

fn fuel(budget: u64) -> TaskLimits {
    TaskLimits {
        fuel: Some(budget),
        ..TaskLimits::default()
    }
}

#[test]
fn output_copies_cost_fuel() {
    let rt = runtime(true);
    // A loop of 64 KiB outputs: its 10,000 turns are well under 1,000,000
    // units of wasm (under 100 each); the copies exhaust the budget.
    let err = call(&rt, "output_n", &[10_000, 64 << 10], &fuel(1_000_000)).unwrap_err();
    assert_eq!(err.kind, TaskErrorKind::FuelExhausted { budget: 1_000_000 });
    call(&rt, "output_n", &[10_000, 0], &fuel(10_000_000)).expect("empty outputs fit");
}

#[test]
fn log_calls_cost_fuel_even_when_dropped() {
    let rt = runtime(true);
    let limits = TaskLimits {
        log_bytes_max: 0,
        ..fuel(1_000_000)
    };
    // 10,000 turns of the loop are under 1,000,000 units of wasm (under 100
    // each); with the fixed cost of each (dropped) record they are over.
    let (result, _logs) = with_captured_logs(|| call(&rt, "log_n", &[10_000, 0, 0], &limits));
    let err = result.unwrap_err();
    assert_eq!(err.kind, TaskErrorKind::FuelExhausted { budget: 1_000_000 });
    let (result, _logs) = with_captured_logs(|| call(&rt, "log_n", &[1_000, 0, 0], &limits));
    result.expect("a few records fit");
}

#[test]
fn copying_the_arguments_costs_fuel() {
    let rt = runtime(true);
    let module = load(&rt);
    let mut big = args(&[0, 0, 0]);
    big.resize(1 << 20, 0);
    let err = rt.call(&module, "log_n", &big, &fuel(10_000)).unwrap_err();
    assert_eq!(err.kind, TaskErrorKind::FuelExhausted { budget: 10_000 });
    rt.call(&module, "log_n", &args(&[0, 0, 0]), &fuel(10_000))
        .expect("small arguments fit the same budget");
}
