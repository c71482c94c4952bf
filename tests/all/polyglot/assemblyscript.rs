//! AssemblyScript: `examples/assemblyscript/tasks.ts` built with `asc` and
//! the SDK's transform (guest-sdk/assemblyscript).

use super::{build_example, the_example_passes};

#[test]
fn the_assemblyscript_tasks_agree_with_the_rust_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let path = build_example("assemblyscript", dir.path());
    the_example_passes(
        "AssemblyScript",
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
            "summarize",
            "swap",
        ],
    );
}
