//! The README's demo: load the example task module (built from
//! `examples/tasks` by `cargo run` itself), list its tasks, run some of them
//! in the sandbox with JSON arguments, and show how failures are reported.

use anyhow::{Context, Result};
use serde_json::{Value, json};
use std::time::Instant;
use weft_runtime::{Runtime, RuntimeConfig, TaskModule};
use weft_schema::json as values;

fn main() -> Result<()> {
    let path = weft_guest_artifacts::EXAMPLE_TASKS;
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let bytes = std::fs::read(path).with_context(|| format!("read {path}"))?;
    let module = runtime.load(&bytes)?;

    println!(
        "Loaded {} ({} bytes, hash {})",
        path,
        bytes.len(),
        module.hash()
    );
    println!("Its tasks, as recorded in the module:");
    for signature in module.signatures() {
        println!("  {signature}");
    }

    println!("\nRunning tasks, each in a fresh sandboxed instance:");
    show(&runtime, &module, "inc", vec![json!(41)])?;
    show(&runtime, &module, "add", vec![json!(2), json!(40)])?;
    show(&runtime, &module, "fib", vec![json!(27)])?;
    let csv = "name,balance\nAlice,-100\nBob,200\nCharlie,-300\nDennis,-400\nEdith,500\n";
    let rows = show(&runtime, &module, "parse_accounts", vec![json!(csv)])?;
    show(&runtime, &module, "negative_accounts", vec![rows])?;

    println!("\nFailures are typed and name the module and task:");
    show(
        &runtime,
        &module,
        "parse_accounts",
        vec![json!("name,balance\nAlice,lots\n")],
    )?;

    let calls = 20_000;
    let args = encode_i64(1);
    let started = Instant::now();
    for _ in 0..calls {
        runtime.call(&module, "inc", &args, &runtime.config().default_limits)?;
    }
    let elapsed = started.elapsed();
    let build = if cfg!(debug_assertions) {
        "a debug build; `cargo run --release` is faster"
    } else {
        "a release build"
    };
    println!(
        "\n{calls} calls of `inc`, one instance each, in {:.1} ms ({:.2} µs per call on one thread, {build})",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / calls as f64
    );
    println!(
        "\nTry the same from the command line:\n  cargo run -p weft-cli -- tasks {path}\n  cargo run -p weft-cli -- run {path} fib 20"
    );
    Ok(())
}

/// Runs `task` with JSON arguments and prints the call and its outcome.
fn show(runtime: &Runtime, module: &TaskModule, task: &str, args: Vec<Value>) -> Result<Value> {
    let signature = module.signature(task).context("no such task")?;
    let shown: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let encoded = values::encode_args(signature, &args)?;
    match runtime.call(module, task, &encoded, &runtime.config().default_limits) {
        Ok(output) => {
            let result = values::decode(&signature.ret, &output)?;
            println!("  {task}({}) = {result}", shown.join(", "));
            Ok(result)
        }
        Err(error) => {
            println!("  {task}({}) failed: {error}", shown.join(", "));
            Ok(Value::Null)
        }
    }
}

/// The encoding of one i64 argument: 8 little-endian bytes (ENCODING.md).
fn encode_i64(x: i64) -> Vec<u8> {
    x.to_le_bytes().to_vec()
}
