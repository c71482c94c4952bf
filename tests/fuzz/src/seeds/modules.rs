//! The seeds of the runtime's targets: small task modules assembled from
//! text with `wat` (for `module_check` and `module_load`; one is also the
//! module of the `UploadModule` and `Module` codec seeds and of the
//! `signature` seed read with `module_signatures`), and guest messages for
//! `guest_text`.

use super::{Seed, push};

/// The bytes of the `index`th of [`MODULES`].
pub(super) fn module_text(index: usize) -> Vec<u8> {
    wat::parse_str(MODULES[index].1).expect("a seed module assembles")
}

/// Small task modules, as text, for the module targets: one that follows
/// the ABI and calls every host function, one whose tasks fail and spin,
/// and two the checks refuse.
const MODULES: [(&str, &str); 4] = [
    (
        "tasks",
        r#"(module
  (import "weft" "output" (func $output (param i32 i32)))
  (import "weft" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const 16) "\12\00\00\00\00\00\00\00hello from a guest\1b[31m")
  (func (export "weft_alloc") (param $len i32) (result i32)
    (local $at i32)
    (local.set $at (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $len)))
    (local.get $at))
  (func (export "weft_task.inc") (param $ptr i32) (param $len i32) (result i32)
    (if (i32.ne (local.get $len) (i32.const 8)) (then (return (i32.const 2))))
    (i64.store (i32.const 0) (i64.add (i64.load (local.get $ptr)) (i64.const 1)))
    (call $output (i32.const 0) (i32.const 8))
    (i32.const 0))
  (func (export "weft_task.hello") (param i32 i32) (result i32)
    (call $log (i32.const 3) (i32.const 24) (i32.const 23))
    (call $output (i32.const 16) (i32.const 26))
    (i32.const 0))
  (@custom "weft_tasks" "task inc(x: i64) -> i64; task hello() -> string;"))"#,
    ),
    (
        "failing",
        r#"(module
  (import "weft" "abort" (func $abort (param i32 i32)))
  (import "weft" "output" (func $output (param i32 i32)))
  (memory (export "memory") 1 2)
  (table 2 funcref)
  (data (i32.const 0) "it went wrong")
  (func (export "weft_alloc") (param i32) (result i32) (i32.const 4096))
  (func (export "weft_task.fail") (param i32 i32) (result i32)
    (call $output (i32.const 0) (i32.const 13))
    (i32.const 1))
  (func (export "weft_task.abort") (param i32 i32) (result i32)
    (call $abort (i32.const 0) (i32.const 13))
    unreachable)
  (func (export "weft_task.spin") (param i32 i32) (result i32)
    (local i64 i64 i32)
    (loop $again
      (block $a (block $b
        (br_table $a $b $again (local.get 2))))
      (br $again))
    (i32.const 0))
  (@custom "weft_tasks" "task spin() -> unit;")
  (@custom "weft_tasks" "task fail() -> unit; task abort() -> unit;"))"#,
    ),
    (
        "wasi-import",
        r#"(module
  (import "wasi_snapshot_preview1" "sock_accept" (func (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "weft_alloc") (param i32) (result i32) (i32.const 0))
  (func (export "weft_task.main") (param i32 i32) (result i32) (i32.const 0))
  (@custom "weft_tasks" "task main() -> unit;"))"#,
    ),
    (
        "record-without-export",
        r#"(module
  (memory (export "memory") 1)
  (func (export "weft_alloc") (param i32) (result i32) (i32.const 0))
  (func (export "weft_task.a") (param i32 i32) (result i32) (i32.const 0))
  (@custom "weft_tasks" "task a() -> unit; task b(x: list<u8>) -> unit;"))"#,
    ),
];

pub(super) fn modules(seeds: &mut Vec<Seed>) {
    for (index, (name, _)) in MODULES.iter().enumerate() {
        for target in ["module_check", "module_load"] {
            push(seeds, target, name, module_text(index));
        }
    }
}

pub(super) fn guest_text(seeds: &mut Vec<Seed>) {
    let panic = "panicked at src/lib.rs:3:5:\nassertion failed: `(left == right)`\n\tleft: 1\r\n";
    let mut plain = vec![0];
    plain.extend_from_slice(panic.as_bytes());
    push(seeds, "guest_text", "panic-message", plain);
    let mut hostile = vec![0];
    hostile.extend_from_slice("\x1b[2J\u{9b}31m\u{202e}txt.exe\u{2028}\\n\x7f\0".as_bytes());
    hostile.extend_from_slice(&[0xff, 0xc3, 0x28, 0xe2, 0x82]);
    push(seeds, "guest_text", "controls-and-bad-utf8", hostile);
    let mut long = vec![7];
    long.extend_from_slice("é€😀".as_bytes());
    push(seeds, "guest_text", "long-multibyte", long);
}
