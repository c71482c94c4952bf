//! Go: `examples/go/tasks.go` built for wasip1 as a reactor with the SDK
//! (guest-sdk/go), packed with its signatures by `weft pack`, run with the
//! runtime's capability-free WASI preview1 layer, which is all Go's runtime
//! gets: a file read is refused, `os.Exit` is a task error.

use super::{build_example, the_example_passes};
use crate::support::{limits, runtime};
use weft_runtime::TaskErrorKind;

#[test]
fn the_go_tasks_agree_with_the_rust_tasks_and_get_no_authority() {
    let dir = tempfile::tempdir().unwrap();
    let path = build_example("go", dir.path());
    let module = the_example_passes(
        "Go",
        &path,
        &[
            "add",
            "chatty",
            "divide",
            "first_positive",
            "greet",
            "inc",
            "keep_multiples_of_3",
            "negative_accounts",
            "not",
            "nothing",
            "reverse_bytes",
            "scale",
            "sort_words",
            "swap",
        ],
    );
    let rt = runtime();
    let encode = |value: &(String,)| weft_sdk::codec::encode(value).unwrap();
    let error = rt
        .call(
            &module,
            "read_file",
            &encode(&("/etc/passwd".into(),)),
            &limits(),
        )
        .unwrap_err();
    let TaskErrorKind::Failed { message } = &error.kind else {
        panic!("a refused read is the task's own error: {error}")
    };
    assert!(
        message.contains("/etc/passwd") && message.contains("Capabilities insufficient"),
        "not capable, not a file: {message}"
    );
    let error = rt
        .call(&module, "exit", &7i32.to_le_bytes(), &limits())
        .unwrap_err();
    let TaskErrorKind::Panic { message } = &error.kind else {
        panic!("os.Exit ends the task with an error: {error}")
    };
    assert!(
        message.contains("code 7") && message.contains("about to exit"),
        "{message}"
    );
    assert_eq!(
        rt.call(&module, "inc", &41i64.to_le_bytes(), &limits())
            .unwrap()
            .as_ref(),
        42i64.to_le_bytes(),
        "the runtime goes on"
    );
}
