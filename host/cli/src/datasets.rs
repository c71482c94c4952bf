//! `weft datasets list | get NAME | unpublish NAME`: published datasets
//! from the shell. `get` prints a summary line, then the rows (the
//! elements of list partitions, or each partition) as JSON lines, the first
//! `--head` of them (all with `--all`), decoded by the recorded type.

use crate::Failure;
use clap::{Args, Subcommand};
use weft_client::DatasetContent;

/// Flags of `weft datasets`.
#[derive(Debug, Clone, Args)]
pub(crate) struct DatasetsArgs {
    /// The scheduler's address, `host:port`.
    #[arg(long, env = "WEFT_SCHEDULER", default_value = weft_scheduler::DEFAULT_LISTEN)]
    scheduler: String,
    #[command(flatten)]
    credentials: crate::credentials::ConnectArgs,
    #[command(subcommand)]
    command: DatasetsCommand,
}

#[derive(Debug, Clone, Subcommand)]
enum DatasetsCommand {
    /// List the published datasets.
    List,
    /// Print a dataset: a summary, then its rows as JSON lines.
    Get {
        /// The dataset's name.
        name: String,
        /// How many rows to print.
        #[arg(long, default_value_t = 20)]
        head: usize,
        /// Print every row.
        #[arg(long)]
        all: bool,
    },
    /// Unpublish a dataset (nothing happens if there is none).
    Unpublish {
        /// The dataset's name.
        name: String,
    },
    /// Share a dataset with another tenant, read-only: it gets it as
    /// `OWNER/NAME`.
    Share {
        /// The dataset's name.
        name: String,
        /// The tenant.
        #[arg(long = "with")]
        tenant: String,
    },
    /// Stop sharing a dataset with a tenant: its futures to it fail with
    /// an access-revoked error.
    Unshare {
        /// The dataset's name.
        name: String,
        /// The tenant.
        #[arg(long = "with")]
        tenant: String,
    },
}

/// `weft datasets`.
pub(crate) fn datasets(args: &DatasetsArgs) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Failure::usage)?;
    runtime.block_on(async {
        let client = args.credentials.connect(&args.scheduler).await?;
        match &args.command {
            DatasetsCommand::List => {
                for name in client.list_datasets().await.map_err(Failure::task)? {
                    println!("{name}");
                }
            }
            DatasetsCommand::Share { name, tenant } => {
                client
                    .share_dataset(name, tenant)
                    .await
                    .map_err(Failure::task)?;
                println!("shared {name} with {tenant}");
            }
            DatasetsCommand::Unshare { name, tenant } => {
                client
                    .unshare_dataset(name, tenant)
                    .await
                    .map_err(Failure::task)?;
                println!("stopped sharing {name} with {tenant}");
            }
            DatasetsCommand::Unpublish { name } => {
                client
                    .unpublish_dataset(name)
                    .await
                    .map_err(Failure::task)?;
            }
            DatasetsCommand::Get { name, head, all } => {
                let dataset = client
                    .get_dataset::<serde_json::Value>(name)
                    .await
                    .map_err(Failure::task)?;
                let ty = dataset
                    .partition_type
                    .as_ref()
                    .map_or_else(|| "unknown".to_string(), ToString::to_string);
                let metadata = if dataset.metadata.is_null() {
                    String::new()
                } else {
                    format!(", metadata {}", dataset.metadata)
                };
                match &dataset.content {
                    DatasetContent::Lazy(collection) => println!(
                        "dataset {name}: a lazy collection of {} partitions of {ty}{metadata} (not computed)",
                        collection.len()
                    ),
                    DatasetContent::Futures(futures) => {
                        if dataset.partition_type.is_none() {
                            println!(
                                "dataset {name}: {} partitions of unknown type{metadata} (values not shown)",
                                futures.len()
                            );
                        } else {
                        let values = client.gather(futures).await.map_err(Failure::task)?;
                        let rows: Vec<serde_json::Value> = values
                            .into_iter()
                            .flat_map(|value| match value {
                                serde_json::Value::Array(rows) => rows,
                                other => vec![other],
                            })
                            .collect();
                        println!(
                            "dataset {name}: {} partitions of {ty}, {} rows{metadata}",
                            futures.len(),
                            rows.len()
                        );
                        let shown = if *all { rows.len() } else { *head };
                        for row in rows.iter().take(shown) {
                            println!("{row}");
                        }
                        if rows.len() > shown {
                            println!("... {} more rows (--all prints them)", rows.len() - shown);
                        }
                        }
                    }
                }
            }
        }
        // Our futures are dropped: let the scheduler apply the releases
        // before this process exits.
        client.close().await.map_err(Failure::task)?;
        Ok(())
    })
}
