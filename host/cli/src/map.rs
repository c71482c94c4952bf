//! `weft map`: maps a task over the JSON lines of a file (or standard
//! input) on a cluster, shows a progress bar on standard error, and prints
//! the results as JSON lines in input order. With `--publish NAME` (and a
//! scheduler) the results are instead published as a dataset that outlives
//! this process (see `weft datasets`). Results are printed with the
//! characters a terminal may act on escaped.

use crate::Failure;
use anyhow::Context;
use clap::Args;
use std::io::BufRead;
use std::path::PathBuf;
use weft_client::{Client, LocalConfig};

/// Flags of `weft map`.
#[derive(Debug, Clone, Args)]
pub(crate) struct MapArgs {
    /// The task module (.wasm).
    module: PathBuf,
    #[command(flatten)]
    credentials: crate::credentials::ConnectArgs,
    /// The task's name.
    task: String,
    /// The file of JSON lines (`-` for standard input).
    #[arg(long, default_value = "-")]
    input: String,
    /// The scheduler to use; without it, a local cluster in this process.
    #[arg(long)]
    scheduler: Option<String>,
    /// Workers of the local cluster.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Publish the results as this dataset (kept on the cluster after this
    /// process exits) instead of printing them. Needs --scheduler.
    #[arg(long, requires = "scheduler")]
    publish: Option<String>,
}

/// `weft map`.
pub(crate) fn map(args: &MapArgs) -> Result<(), Failure> {
    let lines = read_lines(&args.input).map_err(Failure::usage)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::usage)?;
    runtime.block_on(async {
        let client = match &args.scheduler {
            Some(addr) => args.credentials.connect(addr).await?,
            None => {
                let config = LocalConfig {
                    workers: args.workers,
                    ..LocalConfig::default()
                };
                Client::local_with(config).await.map_err(Failure::usage)?
            }
        };
        let module = client
            .upload_module_file(&args.module)
            .await
            .map_err(Failure::usage)?;
        let arity = module
            .signature(&args.task)
            .map_err(Failure::usage)?
            .params
            .len();
        let inputs = lines
            .iter()
            .enumerate()
            .map(|(number, line)| {
                let value: serde_json::Value = serde_json::from_str(line)
                    .with_context(|| format!("input line {}: not JSON", number + 1))?;
                Ok(match value {
                    serde_json::Value::Array(items) if arity != 1 => items,
                    single => vec![single],
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()
            .map_err(Failure::usage)?;
        let futures = client
            .map::<serde_json::Value, _>(&module, &args.task, inputs)
            .map_err(Failure::usage)?;
        weft_client::progress(&client, &futures)
            .await
            .map_err(Failure::task)?;
        if let Some(name) = &args.publish {
            client
                .publish_dataset(name, weft_client::DatasetSpec::futures(&futures))
                .await
                .map_err(Failure::task)?;
            drop(futures);
            client.close().await.map_err(Failure::task)?;
            println!("published {} results as {name}", lines.len());
            return Ok(());
        }
        let values = client.gather(&futures).await.map_err(Failure::task)?;
        drop(futures);
        client.close().await.map_err(Failure::task)?;
        for value in values {
            let line = value.to_string();
            println!("{}", weft_runtime::text::escape_json_for_terminal(&line));
        }
        Ok(())
    })
}

fn read_lines(input: &str) -> anyhow::Result<Vec<String>> {
    let reader: Box<dyn BufRead> = if input == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(input).with_context(|| format!("could not open {input}"))?,
        ))
    };
    let mut lines = Vec::new();
    for line in reader.lines() {
        let line = line.context("could not read the input")?;
        if !line.trim().is_empty() {
            lines.push(line);
        }
    }
    Ok(lines)
}
