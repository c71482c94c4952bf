//! Every kind of value round-trips through the runtime API: the wasm task
//! gives what the same Rust function gives natively. Also: task errors,
//! isolation between calls, argument checking.

use crate::support::{limits, load, runtime};
use std::collections::BTreeMap;
use weft_guest_artifacts::TESTKIT;
use weft_guest_testkit::{self as native, Account, Shape, Summary};
use weft_runtime::TaskErrorKind;

fn call<A: serde::Serialize, R: serde::de::DeserializeOwned>(task: &str, args: A) -> R {
    let module = load(runtime(), TESTKIT);
    runtime()
        .call_typed(&module, task, &args, &limits())
        .unwrap_or_else(|e| panic!("{task}: {e}"))
}

fn accounts() -> Vec<Account> {
    vec![
        Account {
            name: "Alice".into(),
            balance: -100,
        },
        Account {
            name: "Bob".into(),
            balance: 250,
        },
        Account {
            name: "Alice".into(),
            balance: -5,
        },
        Account {
            name: "Dennis".into(),
            balance: i64::MIN + 1,
        },
    ]
}

#[test]
fn scalars_round_trip() {
    assert_eq!(call::<_, i64>("inc", (i64::MAX - 1,)), i64::MAX);
    assert_eq!(call::<_, i64>("add", (-7i64, 3i64)), -4);
    assert_eq!(call::<_, f64>("scale", (1.5f64, -2.0f64)), -3.0);
    assert!(call::<_, f64>("scale", (f64::NAN, 1.0f64)).is_nan());
    assert!(call::<_, bool>("not", (false,)));
    assert!(!call::<_, bool>("not", (true,)));
    call::<_, ()>("nothing", ());
}

#[test]
fn strings_and_bytes_round_trip() {
    assert_eq!(
        call::<_, String>("greet", ("wörld ✓".to_string(),)),
        "hello, wörld ✓"
    );
    assert_eq!(call::<_, String>("greet", (String::new(),)), "hello, ");
    let data: Vec<u8> = (0..=255).collect();
    assert_eq!(
        call::<_, Vec<u8>>("reverse_bytes", (data.clone(),)),
        native::reverse_bytes(data)
    );
    assert_eq!(
        call::<_, Vec<u8>>("reverse_bytes", (Vec::<u8>::new(),)),
        Vec::<u8>::new()
    );
}

#[test]
fn collections_options_and_tuples_round_trip() {
    let words = vec!["pear".to_string(), "apple".into(), "fig".into()];
    assert_eq!(
        call::<_, Vec<String>>("sort_words", (words.clone(),)),
        native::sort_words(words)
    );
    assert_eq!(
        call::<_, Option<i64>>("first_positive", (vec![-1i64, 0, 5, 9],)),
        Some(5)
    );
    assert_eq!(
        call::<_, Option<i64>>("first_positive", (vec![-1i64],)),
        None
    );
    assert_eq!(
        call::<_, (String, i64)>("swap", ((7i64, "seven".to_string()),)),
        ("seven".to_string(), 7)
    );
}

#[test]
fn user_structs_and_enums_round_trip() {
    let rows = accounts();
    assert_eq!(
        call::<_, Vec<Account>>("negative_accounts", (rows.clone(),)),
        native::negative_accounts(rows.clone())
    );
    let summary: Summary = call("summarize", (rows.clone(),));
    assert_eq!(summary, native::summarize(rows));
    assert_eq!(
        summary.by_name,
        BTreeMap::from([
            ("Alice".to_string(), -105),
            ("Bob".to_string(), 250),
            ("Dennis".to_string(), i64::MIN + 1),
        ])
    );
    for shape in [
        Shape::Circle(2.0),
        Shape::Rect { w: 3.0, h: 4.5 },
        Shape::Empty,
    ] {
        assert_eq!(
            call::<_, f64>("area", (shape.clone(),)),
            native::area(shape)
        );
    }
}

#[test]
fn an_err_result_becomes_a_task_error_with_its_message() {
    let module = load(runtime(), TESTKIT);
    assert_eq!(
        runtime()
            .call_typed::<_, i64>(&module, "divide", &(9i64, 3i64), &limits())
            .unwrap(),
        3
    );
    let err = runtime()
        .call_typed::<_, i64>(&module, "divide", &(9i64, 0i64), &limits())
        .unwrap_err();
    assert_eq!(
        err.kind,
        TaskErrorKind::Failed {
            message: "cannot divide 9 by zero".into()
        }
    );
    assert_eq!(err.task, "divide");
    assert!(
        err.to_string().contains(&module.hash().to_string()),
        "{err}"
    );
}

#[test]
fn a_global_mutated_in_one_call_is_fresh_in_the_next() {
    for _ in 0..3 {
        assert_eq!(call::<_, u64>("count_calls", ()), 1);
    }
}

#[test]
fn logging_tasks_run_and_return() {
    assert_eq!(call::<_, u64>("chatty", ("hi".to_string(),)), 2);
}

#[test]
fn unknown_task_error_lists_the_module_tasks() {
    let module = load(runtime(), TESTKIT);
    let err = runtime()
        .call(&module, "no_such_task", &[], &limits())
        .unwrap_err();
    let TaskErrorKind::UnknownTask { available } = &err.kind else {
        panic!("expected UnknownTask, got {err}");
    };
    assert!(available.contains(&"inc".to_string()) && available.contains(&"summarize".to_string()));
    assert!(err.to_string().contains("inc"), "{err}");
}

#[test]
fn wrong_number_or_type_of_arguments_is_invalid_arguments() {
    let module = load(runtime(), TESTKIT);
    let rt = runtime();
    let expect_invalid = |task: &str, args: Vec<u8>, needle: &str| {
        let err = rt.call(&module, task, &args, &limits()).unwrap_err();
        match &err.kind {
            TaskErrorKind::InvalidArguments { message } => {
                assert!(
                    message.contains(needle),
                    "{task}: message {message:?} lacks {needle:?}"
                )
            }
            other => panic!("{task}: expected InvalidArguments, got {other}"),
        }
    };
    // Too few: `add` takes two i64s.
    expect_invalid(
        "add",
        weft_sdk::codec::encode(&(1i64,)).unwrap(),
        "parameter 2 (`b`)",
    );
    // Too many.
    expect_invalid(
        "inc",
        weft_sdk::codec::encode(&(1i64, 2i64)).unwrap(),
        "left over",
    );
    // Wrong type: a bool where a String is expected.
    expect_invalid(
        "greet",
        weft_sdk::codec::encode(&(true,)).unwrap(),
        "parameter 1 (`name`)",
    );
    // A string length far beyond the bytes present must not allocate it.
    expect_invalid("greet", u64::MAX.to_le_bytes().to_vec(), "parameter 1");
    // Invalid UTF-8.
    let mut bad = 2u64.to_le_bytes().to_vec();
    bad.extend([0xff, 0xfe]);
    expect_invalid("greet", bad, "parameter 1");
}
