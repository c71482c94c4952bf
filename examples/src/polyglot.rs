//! The polyglot example: the accounts pipeline with each step in another
//! language, in one graph on an embedded local cluster. Python parses the
//! CSV, Go keeps the overdrawn accounts, Rust summarizes them, JavaScript
//! takes their names and AssemblyScript sorts those; each result feeds the
//! next task as a future, in the one value encoding every language shares.
//!
//! Run: `cargo run -p weft-examples --bin polyglot`. It installs the
//! toolchains first (`tools/setup-polyglot`, once; they are cached under
//! `~/.cache/weft/toolchains`) and builds the modules from `examples/`
//! (`tools/build-polyglot`).

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use weft_client::{Client, LocalConfig, Module};

const CSV: &str = "name,balance\n\
    ann,120\nbob,-45\ncy,-300\ndee,80\nann,-20\neve,-5\nfay,1000\nbob,-15\n";

/// The languages built from `examples/`, with the file each comes from.
const BUILT: &[(&str, &str)] = &[
    ("python", "examples/python/tasks.py"),
    ("go", "examples/go/tasks.go"),
    ("javascript", "examples/javascript/tasks.js"),
    ("assemblyscript", "examples/assemblyscript/tasks.ts"),
];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = root.join("target/polyglot-example");
    build_modules(&root, &out)?;

    let client = Client::local_with(LocalConfig {
        workers: 2,
        nthreads: 1,
        ..LocalConfig::default()
    })
    .await?;
    let upload = |path: PathBuf| {
        let client = client.clone();
        async move {
            client
                .upload_module_file(&path)
                .await
                .with_context(|| format!("upload {}", path.display()))
        }
    };
    let python = upload(out.join("tasks-python.wasm")).await?;
    let go = upload(out.join("tasks-go.wasm")).await?;
    let javascript = upload(out.join("tasks-javascript.wasm")).await?;
    let assemblyscript = upload(out.join("tasks-assemblyscript.wasm")).await?;
    let rust = upload(weft_guest_artifacts::TESTKIT.into()).await?;
    println!(
        "a local cluster with {} workers, five task modules in five languages\n",
        client.workers().await?.len()
    );

    // The whole graph is submitted at once; each step takes the one before
    // it as a future.
    let rows = client.submit::<Value>(&python, "parse_accounts", (CSV,))?;
    let overdrawn = client.submit::<Value>(&go, "negative_accounts", (&rows,))?;
    let summary = client.submit::<Value>(&rust, "summarize", (&overdrawn,))?;
    let names = client.submit::<Value>(&javascript, "names", (&overdrawn,))?;
    let sorted = client.submit::<Value>(&assemblyscript, "sort_words", (&names,))?;

    step("Python", &python, "parse_accounts", &rows.result().await?);
    step("Go", &go, "negative_accounts", &overdrawn.result().await?);
    step("Rust", &rust, "summarize", &summary.result().await?);
    step("JavaScript", &javascript, "names", &names.result().await?);
    let sorted = sorted.result().await?;
    step("AssemblyScript", &assemblyscript, "sort_words", &sorted);

    let expected = ["ann", "bob", "bob", "cy", "eve"];
    if sorted != serde_json::json!(expected) {
        bail!("the pipeline gave {sorted}, not {expected:?}");
    }
    println!(
        "\noverdrawn account holders, sorted: {}",
        expected.join(", ")
    );
    Ok(())
}

/// Prints one step: the language that ran it, the task and its result.
fn step(language: &str, module: &Module, task: &str, result: &Value) {
    let signature = module
        .signature(task)
        .map(|s| s.to_string())
        .unwrap_or_default();
    println!("{language:>14}  {signature}\n{:>14}  = {result}", "");
}

/// Installs the toolchains (once) and builds the example modules.
fn build_modules(root: &Path, out: &Path) -> Result<()> {
    println!("installing the toolchains (once) and building the modules...");
    run(Command::new("bash").arg(root.join("tools/setup-polyglot")))?;
    let mut build = Command::new("bash");
    build.arg(root.join("tools/build-polyglot")).arg(out);
    for (language, source) in BUILT {
        build.arg(language);
        println!("  {language}: {source}");
    }
    run(&mut build)
}

fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("run {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok(())
}
