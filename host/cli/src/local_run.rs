//! `weft run` and `weft tasks`: load a module file into a local runtime,
//! convert JSON arguments with the recorded signature, print the result.
//! What the module controls (signature text, results) is printed with
//! control characters escaped.

use crate::Failure;
use crate::limits::LimitArgs;
use anyhow::Context;
use std::path::Path;
use std::sync::Arc;
use weft_runtime::text::{escape_for_terminal, escape_json_for_terminal};
use weft_runtime::{Runtime, TaskModule};
use weft_schema::json;
use weft_schema::signature::Type;

fn load(path: &Path, limits: &LimitArgs) -> Result<(Runtime, Arc<TaskModule>), Failure> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("could not read {}", path.display()))
        .map_err(Failure::usage)?;
    let runtime = Runtime::new(limits.runtime_config()).map_err(Failure::usage)?;
    let module = runtime
        .load(&bytes)
        .with_context(|| format!("could not load {}", path.display()))
        .map_err(Failure::usage)?;
    Ok((runtime, module))
}

/// `weft tasks MODULE`.
pub(crate) fn tasks(path: &Path, limits: &LimitArgs) -> Result<(), Failure> {
    let (_runtime, module) = load(path, limits)?;
    print_tasks(path, &module);
    Ok(())
}

/// Prints the tasks of `module` (read from `path`) and the types they name.
pub(crate) fn print_tasks(path: &Path, module: &TaskModule) {
    let header = format!("module {} ({})", path.display(), module.hash().to_hex());
    println!("{}", escape_for_terminal(&header));
    let mut signatures: Vec<_> = module.signatures().iter().collect();
    signatures.sort_by(|a, b| a.name.cmp(&b.name));
    let mut definitions: Vec<String> = Vec::new();
    for sig in &signatures {
        println!("  {}", escape_for_terminal(&sig.to_string()));
        for ty in sig.named_types() {
            if let Some(def) = ty.definition()
                && !definitions.contains(&def)
            {
                definitions.push(def);
            }
        }
    }
    if !definitions.is_empty() {
        println!("types");
        for def in definitions {
            println!("  {}", escape_for_terminal(&def));
        }
    }
}

/// Calls the task on a thread whose native stack holds the wasm stack
/// limit with room to spare: on the main thread's stack, deep recursion at
/// a large `--stack-limit` would overflow it before wasmtime's check and
/// abort the process.
fn call_on_a_big_enough_stack(
    runtime: &Runtime,
    module: &TaskModule,
    task: &str,
    args: &[u8],
) -> Result<bytes::Bytes, Failure> {
    std::thread::scope(|scope| {
        let call = std::thread::Builder::new()
            .name("weft-run".into())
            .stack_size(runtime.config().native_stack_bytes())
            .spawn_scoped(scope, || {
                runtime.call(module, task, args, &runtime.config().default_limits)
            })
            .map_err(|e| Failure::usage(anyhow::anyhow!("could not start the task thread: {e}")))?;
        match call.join() {
            Ok(outcome) => outcome.map_err(Failure::task),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// `weft run MODULE TASK ARGS...`.
pub(crate) fn run(
    path: &Path,
    task: &str,
    args: &[String],
    pretty: bool,
    limits: &LimitArgs,
) -> Result<(), Failure> {
    let (runtime, module) = load(path, limits)?;
    let Some(signature) = module.signature(task) else {
        return Err(Failure::usage(anyhow::anyhow!(
            "module {} has no task `{task}`; its tasks are: {}",
            path.display(),
            module.task_names().join(", ")
        )));
    };
    let values = args
        .iter()
        .enumerate()
        .map(|(i, text)| parse_arg(text, signature.params.get(i).map(|p| &p.ty)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::usage(anyhow::anyhow!("{e} (task `{signature}`)")))?;
    let encoded = json::encode_args(signature, &values)
        .with_context(|| format!("bad arguments for `{signature}`"))
        .map_err(Failure::usage)?;
    let output = call_on_a_big_enough_stack(&runtime, &module, task, &encoded)?;
    let value = json::decode(&signature.ret, &output)
        .with_context(|| {
            format!(
                "task `{task}` returned bytes that do not decode as {}",
                signature.ret
            )
        })
        .map_err(Failure::task)?;
    let text = if pretty {
        serde_json::to_string_pretty(&value)
    } else {
        serde_json::to_string(&value)
    }
    .expect("a JSON value always serializes");
    println!("{}", escape_json_for_terminal(&text));
    Ok(())
}

/// JSON, except that a `String` parameter also takes bare text (text that
/// does not start with `"`: a quoted string that is not valid JSON, such as
/// `"\ud800"`, is an error, not raw text).
fn parse_arg(text: &str, ty: Option<&Type>) -> Result<serde_json::Value, String> {
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(_) if matches!(ty, Some(Type::String)) && !text.trim_start().starts_with('"') => {
            Ok(serde_json::Value::String(text.to_string()))
        }
        Err(e) => Err(format!("argument `{text}` is not JSON: {e}")),
    }
}
