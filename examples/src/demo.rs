//! The README's demo, on an embedded local cluster (a scheduler and two
//! workers in this process, over loopback): upload the example task module
//! (built from `examples/tasks` by `cargo run` itself), submit tasks and
//! futures of futures, persist a collection of account partitions filtered
//! in wasm, and show how a failing task is reported.

use anyhow::{Context, Result};
use std::time::Instant;
use weft_client::{Client, Collection, Future, LocalConfig};

/// Three CSV partitions of accounts, as if read from three files.
const PARTITIONS: [&str; 3] = [
    "name,balance\nAlice,-100\nBob,200\n",
    "name,balance\nCharlie,-300\nDennis,-400\n",
    "name,balance\nEdith,-500\nFrank,600\n",
];

#[derive(Debug, serde::Deserialize)]
struct Account {
    name: String,
    balance: i64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let client = Client::local_with(LocalConfig {
        workers: 2,
        nthreads: 1,
        ..LocalConfig::default()
    })
    .await?;
    let module = client
        .upload_module_file(weft_guest_artifacts::EXAMPLE_TASKS)
        .await
        .context("upload the example task module")?;
    println!(
        "A local cluster with {} workers; the module's tasks:",
        client.workers().await?.len()
    );
    for signature in module.signatures() {
        println!("  {signature}");
    }

    let a = client.submit::<i64>(&module, "inc", (1,))?;
    let b = client.submit::<i64>(&module, "add", (&a, 10))?;
    println!("\nadd(inc(1), 10) = {}", b.result().await?);

    let started = Instant::now();
    let mut level = client.map::<i64, _>(&module, "inc", (0..4096).map(|i| (i,)))?;
    while level.len() > 1 {
        let pairs: Vec<(&Future<i64>, &Future<i64>)> =
            level.chunks(2).map(|c| (&c[0], &c[1])).collect();
        level = client.map(&module, "add", pairs)?;
    }
    println!(
        "a tree reduction of 8,191 tasks: {} in {:.0} ms",
        level[0].result().await?,
        started.elapsed().as_secs_f64() * 1e3
    );

    let accounts = Collection::<Vec<serde_json::Value>>::from_tasks(
        &module,
        "parse_accounts",
        PARTITIONS.iter().map(|csv| (*csv,)),
    )?;
    let negative =
        client.persist(&accounts.map::<Vec<serde_json::Value>>(&module, "negative_accounts")?)?;
    println!(
        "\npersisted {} partitions of accounts with a negative balance (returned at once)",
        negative.len()
    );
    let rows: Vec<Account> = client
        .compute(&negative)?
        .result()
        .await?
        .into_iter()
        .flatten()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()?;
    println!("  {:<10} {:>8}", "name", "balance");
    for row in &rows {
        println!("  {:<10} {:>8}", row.name, row.balance);
    }

    let broken = client.submit::<Vec<serde_json::Value>>(
        &module,
        "parse_accounts",
        ("name,balance\nAlice,lots\n",),
    )?;
    match broken.result().await {
        Ok(_) => println!("\nunexpected: the broken CSV parsed"),
        Err(error) => println!("\nA failing task is reported with its message:\n  {error}"),
    }
    Ok(())
}
