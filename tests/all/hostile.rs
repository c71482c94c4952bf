//! Hostile guests: each ends in its own typed error, and the same runtime
//! (the same engine) runs a well-behaved task right after.

use crate::support::{assert_still_works, limits, load, runtime, test_config};
use std::time::Duration;
use weft_guest_artifacts::HOSTILE;
use weft_runtime::{Interrupt, Runtime, RuntimeConfig, TaskError, TaskErrorKind, TaskLimits};

fn run_hostile(rt: &Runtime, task: &str, args: &[u8], limits: &TaskLimits) -> TaskError {
    let module = load(rt, HOSTILE);
    let err = rt
        .call(&module, task, args, limits)
        .expect_err("a hostile task must not succeed");
    assert_eq!(err.task, task);
    assert_eq!(err.module, module.hash());
    assert_still_works(rt);
    err
}

fn enc<T: serde::Serialize>(args: &T) -> Vec<u8> {
    weft_sdk::codec::encode(args).unwrap()
}

#[test]
fn an_infinite_loop_times_out() {
    let limits = TaskLimits {
        timeout: Duration::from_millis(200),
        ..limits()
    };
    let err = run_hostile(runtime(), "spin", &[], &limits);
    assert_eq!(
        err.kind,
        TaskErrorKind::Timeout {
            limit: Duration::from_millis(200)
        }
    );
    assert!(err.to_string().contains("200ms"), "{err}");
}

#[test]
fn a_running_task_stops_soon_after_its_interrupt_is_raised() {
    let rt = runtime();
    let module = load(rt, HOSTILE);
    let limits = TaskLimits {
        timeout: Duration::from_secs(600),
        ..limits()
    };
    let interrupt = Interrupt::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let call = {
        let interrupt = interrupt.clone();
        let module = module.clone();
        let limits = limits.clone();
        std::thread::spawn(move || {
            let outcome = runtime().call_interruptible(&module, "spin", &[], &limits, &interrupt);
            let _ = tx.send(outcome);
        })
    };
    assert!(
        matches!(
            rx.recv_timeout(Duration::from_millis(200)),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        ),
        "`spin` never ends by itself, so it is still running"
    );
    interrupt.request();
    let outcome = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("an interrupted task stops within a few epoch ticks");
    call.join().unwrap();
    let err = outcome.expect_err("an interrupted task has no result");
    assert_eq!(err.kind, TaskErrorKind::Interrupted);
    assert_eq!(err.task, "spin");
    assert!(err.to_string().contains("interrupted"), "{err}");
    assert_still_works(rt);

    // An interrupt raised before the call stops it before it begins.
    let err = rt
        .call_interruptible(&module, "spin", &[], &limits, &interrupt)
        .expect_err("an interrupt raised before the call stops it");
    assert_eq!(err.kind, TaskErrorKind::Interrupted);
}

#[test]
fn an_interruptible_call_keeps_its_result_and_its_timeout() {
    let rt = runtime();
    let module = load(rt, HOSTILE);
    let interrupt = Interrupt::default();
    let burned = rt
        .call_interruptible(&module, "burn", &enc(&(1000u64,)), &limits(), &interrupt)
        .expect("a call whose interrupt is never raised runs to the end");
    let plain = rt
        .call(&module, "burn", &enc(&(1000u64,)), &limits())
        .unwrap();
    assert_eq!(burned, plain);
    let limits = TaskLimits {
        timeout: Duration::from_millis(200),
        ..limits()
    };
    let err = rt
        .call_interruptible(&module, "spin", &[], &limits, &interrupt)
        .expect_err("`spin` runs until its timeout");
    assert_eq!(
        err.kind,
        TaskErrorKind::Timeout {
            limit: Duration::from_millis(200)
        }
    );
}

#[test]
fn a_memory_bomb_stops_at_the_memory_limit() {
    let limits = TaskLimits {
        memory_bytes_max: 32 << 20,
        ..limits()
    };
    let err = run_hostile(runtime(), "memory_bomb", &[], &limits);
    match err.kind {
        TaskErrorKind::OutOfMemory {
            requested_bytes,
            limit_bytes,
        } => {
            assert_eq!(limit_bytes, 32 << 20);
            assert!(requested_bytes > limit_bytes);
        }
        other => panic!("expected OutOfMemory, got {other}"),
    }
    assert!(
        err.backtrace.is_some(),
        "an out-of-memory trap carries the wasm backtrace"
    );
}

#[test]
fn unbounded_recursion_overflows_the_stack() {
    let err = run_hostile(runtime(), "recurse", &enc(&(0u64,)), &limits());
    assert_eq!(
        err.kind,
        TaskErrorKind::StackOverflow {
            limit_bytes: RuntimeConfig::default().wasm_stack_bytes_max as u64
        }
    );
    let backtrace = err
        .backtrace
        .expect("a stack overflow carries the wasm backtrace");
    assert!(
        backtrace.contains("deeper"),
        "backtrace names the guest function: {backtrace}"
    );
}

#[test]
fn a_panic_keeps_its_message_and_location() {
    let err = run_hostile(
        runtime(),
        "panic_with",
        &enc(&("boom".to_string(),)),
        &limits(),
    );
    let TaskErrorKind::Panic { message } = &err.kind else {
        panic!("expected Panic, got {err}");
    };
    assert!(message.contains("guest gave up: boom"), "{message}");
    assert!(
        message.contains("hostile/src/lib.rs"),
        "the location is kept: {message}"
    );
}

#[test]
fn a_result_over_the_limit_is_refused() {
    let limits = TaskLimits {
        result_bytes_max: 1024,
        ..limits()
    };
    let err = run_hostile(runtime(), "big_result", &enc(&(4096u64,)), &limits);
    assert_eq!(
        err.kind,
        TaskErrorKind::ResultTooLarge {
            size_bytes: 4096 + 8,
            limit_bytes: 1024
        }
    );
    // Just under the limit is fine.
    let module = load(runtime(), HOSTILE);
    let ok: Vec<u8> = runtime()
        .call_typed(&module, "big_result", &(1016u64,), &limits)
        .unwrap();
    assert_eq!(ok.len(), 1016);
}

#[test]
fn fuel_budget_stops_a_long_loop_and_allows_a_short_one() {
    let rt = Runtime::new(RuntimeConfig {
        fuel_metering: true,
        ..test_config()
    })
    .unwrap();
    let limits = TaskLimits {
        fuel: Some(100_000),
        ..limits()
    };
    let err = run_hostile(&rt, "burn", &enc(&(1_000_000_000u64,)), &limits);
    assert_eq!(err.kind, TaskErrorKind::FuelExhausted { budget: 100_000 });
    let module = load(&rt, HOSTILE);
    let _: u64 = rt
        .call_typed(&module, "burn", &(100u64,), &limits)
        .expect("a short loop fits the budget");
}

#[test]
fn fuel_without_metering_is_a_clear_error() {
    let limits = TaskLimits {
        fuel: Some(10),
        ..limits()
    };
    let err = run_hostile(runtime(), "burn", &enc(&(1u64,)), &limits);
    assert!(
        matches!(err.kind, TaskErrorKind::InvalidLimits { .. }),
        "{err}"
    );
}

#[test]
fn a_log_flood_is_cut_off_without_failing_the_task() {
    let module = load(runtime(), HOSTILE);
    let limits = TaskLimits {
        log_bytes_max: 1024,
        ..limits()
    };
    let n: u64 = runtime()
        .call_typed(&module, "log_flood", &(10_000u64,), &limits)
        .unwrap();
    assert_eq!(n, 10_000);
}

#[test]
fn memory_limit_above_the_ceiling_is_refused() {
    let limits = TaskLimits {
        memory_bytes_max: 8 << 30,
        ..limits()
    };
    let err = run_hostile(runtime(), "burn", &enc(&(1u64,)), &limits);
    assert!(
        matches!(err.kind, TaskErrorKind::InvalidLimits { .. }),
        "{err}"
    );
}
