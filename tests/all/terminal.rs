//! Guest text on the terminal: what `weft run` and `weft map` print of a
//! task's panic, error message, logs and results has its control characters
//! escaped, so a guest's escape sequences (window title, clipboard, clear
//! screen, C1 CSI, bidi overrides) never reach the terminal raw.

use serde_json::Value;
use std::process::{Command, Output};

/// OSC title, OSC 52 clipboard, clear screen and a C1 CSI.
const HOSTILE_TEXT: &[u8] = b"\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\x1b[2J\xc2\x9b31m\r done";
/// A log record that forges a scheduler log line.
const FORGED_LOG: &[u8] = b"chat\n2025-01-01T00:00:00Z ERROR weft_scheduler::server: FAKE \x1b[31m";
/// A result string with characters serde_json leaves raw (DEL, C1, a bidi
/// override) and some it escapes (ESC, newline).
const RESULT_TEXT: &str = "a\u{7f}b\u{9b}c\u{202e}d\u{1b}e\nf";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// A module whose tasks are `shout` (aborts with [`HOSTILE_TEXT`]), `fail`
/// (fails with it), `chat` (logs [`FORGED_LOG`]) and `weird` (returns
/// [`RESULT_TEXT`]).
fn module_file() -> tempfile::NamedTempFile {
    let mut result = (RESULT_TEXT.len() as u64).to_le_bytes().to_vec();
    result.extend_from_slice(RESULT_TEXT.as_bytes());
    let wat = format!(
        r#"(module
            (import "weft" "log" (func $log (param i32 i32 i32)))
            (import "weft" "output" (func $output (param i32 i32)))
            (import "weft" "abort" (func $abort (param i32 i32)))
            (memory (export "memory") 1)
            (data (i32.const 0) "{hostile}")
            (data (i32.const 1024) "{forged}")
            (data (i32.const 2048) "{result}")
            (func (export "weft_alloc") (param i32) (result i32) i32.const 4096)
            (func (export "weft_task.shout") (param i32 i32) (result i32)
                (call $abort (i32.const 0) (i32.const {hostile_len}))
                (i32.const 0))
            (func (export "weft_task.fail") (param i32 i32) (result i32)
                (call $output (i32.const 0) (i32.const {hostile_len}))
                (i32.const 1))
            (func (export "weft_task.chat") (param i32 i32) (result i32)
                (call $log (i32.const 1) (i32.const 1024) (i32.const {forged_len}))
                (i32.const 0))
            (func (export "weft_task.weird") (param i32 i32) (result i32)
                (call $output (i32.const 2048) (i32.const {result_len}))
                (i32.const 0))
            (@custom "weft_tasks" "task shout() -> unit; task fail() -> unit; task chat() -> unit; task weird() -> string;"))"#,
        hostile = hex(HOSTILE_TEXT),
        hostile_len = HOSTILE_TEXT.len(),
        forged = hex(FORGED_LOG),
        forged_len = FORGED_LOG.len(),
        result = hex(&result),
        result_len = result.len(),
    );
    let file = tempfile::Builder::new().suffix(".wasm").tempfile().unwrap();
    std::fs::write(file.path(), wat::parse_str(wat).unwrap()).unwrap();
    file
}

fn weft(args: &[&str]) -> Output {
    let cache = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .env("WEFT_CACHE_DIR", cache.path())
        .env("WEFT_LOG", "info")
        // The log's own colours are not the guest's doing.
        .env("NO_COLOR", "1")
        .output()
        .expect("run weft")
}

/// Panics if `bytes` hold a control character a terminal acts on: C0 other
/// than `\n` and `\t`, DEL, C1 (UTF-8 `C2 80`..`C2 9F`) or a bidi override
/// or isolate (UTF-8 `E2 80 AA`..`AE`, `E2 81 A6`..`A9`).
fn assert_terminal_safe(what: &str, bytes: &[u8]) {
    for (i, &b) in bytes.iter().enumerate() {
        let next = |k: usize| bytes.get(i + k).copied().unwrap_or(0);
        let raw = (b < 0x20 && b != b'\n' && b != b'\t')
            || b == 0x7f
            || (b == 0xc2 && (0x80..=0x9f).contains(&next(1)))
            || (b == 0xe2 && next(1) == 0x80 && (0xaa..=0xae).contains(&next(2)))
            || (b == 0xe2 && next(1) == 0x81 && (0xa6..=0xa9).contains(&next(2)));
        assert!(
            !raw,
            "{what} has a raw control character at byte {i}: {}",
            String::from_utf8_lossy(bytes).escape_debug()
        );
    }
}

#[test]
fn run_escapes_panic_and_error_messages() {
    let module = module_file();
    let path = module.path().to_str().unwrap();
    for task in ["shout", "fail"] {
        let out = weft(&["run", path, task]);
        assert_eq!(out.status.code(), Some(1), "weft run {task}");
        assert_terminal_safe(&format!("stderr of weft run {task}"), &out.stderr);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(r"\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\x1b[2J\u{9b}31m\r done"),
            "the message is there, escaped: {err}"
        );
    }
}

#[test]
fn run_escapes_guest_logs() {
    let module = module_file();
    let out = weft(&["run", module.path().to_str().unwrap(), "chat"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_terminal_safe("stderr of weft run chat", &out.stderr);
    let err = String::from_utf8_lossy(&out.stderr);
    let fake: Vec<&str> = err.lines().filter(|l| l.contains("FAKE")).collect();
    assert_eq!(fake.len(), 1, "{err}");
    assert!(
        fake[0].contains("weft::guest") && fake[0].contains(r"chat\n2025"),
        "the forged line is part of the guest's record: {}",
        fake[0]
    );
}

#[test]
fn run_prints_results_as_terminal_safe_json() {
    let module = module_file();
    let path = module.path().to_str().unwrap();
    for pretty in [false, true] {
        let mut argv = vec!["run", path, "weird"];
        if pretty {
            argv.push("--pretty");
        }
        let out = weft(&argv);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_terminal_safe("stdout of weft run weird", &out.stdout);
        let value: Value = serde_json::from_slice(&out.stdout).expect("still JSON");
        assert_eq!(value, Value::String(RESULT_TEXT.into()), "the same value");
    }
}

#[test]
fn map_escapes_errors_and_results() {
    let module = module_file();
    let path = module.path().to_str().unwrap();
    let input = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(input.path(), "[]\n").unwrap();
    let input = input.path().to_str().unwrap();
    let out = weft(&["map", path, "shout", "--input", input]);
    assert_eq!(out.status.code(), Some(1));
    assert_terminal_safe("stderr of weft map shout", &out.stderr);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(r"\x1b]0;pwned"), "{err}");
    let out = weft(&["map", path, "weird", "--input", input]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_terminal_safe("stdout of weft map weird", &out.stdout);
    let value: Value = serde_json::from_slice(&out.stdout).expect("a JSON line");
    assert_eq!(value, Value::String(RESULT_TEXT.into()));
}
