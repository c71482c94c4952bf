//! Zig: `examples/zig/tasks.zig` built freestanding with the SDK's module
//! (guest-sdk/zig/weft.zig).

use super::{build_example, the_example_passes};

#[test]
fn the_zig_tasks_agree_with_the_rust_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let path = build_example("zig", dir.path());
    the_example_passes(
        "Zig",
        &path,
        &[
            "add",
            "area",
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
}
