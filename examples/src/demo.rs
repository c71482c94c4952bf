//! The README's demo: Dask's "Publish Datasets" example, on an embedded
//! local cluster (a scheduler and two workers in this process, over
//! loopback). It writes CSV files of accounts, reads each as a partition
//! parsed by a wasm task, keeps the rows with a negative balance (another
//! wasm task), persists them and publishes them as `negative_accounts`.
//! Then a second, separate client process (this program again, with
//! `--second-client ADDR`) lists the datasets, gets `negative_accounts` and
//! prints its head, while the first keeps the cluster up.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;
use weft_client::{Client, Collection, DatasetSpec, LocalConfig};

/// How many CSV files, and accounts in each.
const FILES: usize = 8;
const ROWS_PER_FILE: usize = 2_000;

#[derive(Debug, serde::Deserialize)]
struct Account {
    name: String,
    balance: i64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--second-client") => {
            let addr = args
                .get(2)
                .context("--second-client needs the scheduler's address")?;
            second_client(addr).await
        }
        Some(other) => bail!("unknown argument {other:?}"),
        None => first_client().await,
    }
}

/// Writes `FILES` CSV files of accounts into `dir`, with balances from a
/// small deterministic generator (about one in four negative).
fn write_csv_files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut state: u64 = 0x5eed;
    let mut paths = Vec::new();
    for file in 0..FILES {
        let mut csv = String::from("name,balance\n");
        for row in 0..ROWS_PER_FILE {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let balance = (state >> 33) as i64 % 4_000 - 1_000;
            csv += &format!("account-{file}-{row},{balance}\n");
        }
        let path = dir.join(format!("accounts-{file}.csv"));
        std::fs::write(&path, csv).with_context(|| format!("write {}", path.display()))?;
        paths.push(path);
    }
    Ok(paths)
}

async fn first_client() -> Result<()> {
    let client = Client::local_with(LocalConfig {
        workers: 2,
        nthreads: 1,
        ..LocalConfig::default()
    })
    .await?;
    let addr = client.with_cluster(|c| c.map(|c| c.addr()).expect("a local cluster"));
    let module = client
        .upload_module_file(weft_guest_artifacts::EXAMPLE_TASKS)
        .await
        .context("upload the example task module")?;
    println!(
        "A local cluster at {addr} with {} workers; the module's tasks:",
        client.workers().await?.len()
    );
    for signature in module.signatures() {
        println!("  {signature}");
    }

    let dir = std::env::temp_dir().join(format!("weft-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let files = write_csv_files(&dir)?;
    println!(
        "\nwrote {} CSV files of {ROWS_PER_FILE} accounts to {}",
        files.len(),
        dir.display()
    );
    let texts = files
        .iter()
        .map(std::fs::read_to_string)
        .collect::<Result<Vec<_>, _>>()?;
    std::fs::remove_dir_all(&dir)?;

    // Read each file as a partition (parsed in wasm), keep the negative
    // rows (in wasm), persist: this returns at once, the work goes on.
    let accounts = Collection::<Vec<serde_json::Value>>::from_tasks(
        &module,
        "parse_accounts",
        texts.iter().map(|csv| (csv.as_str(),)),
    )?;
    let negative =
        client.persist(&accounts.map::<Vec<serde_json::Value>>(&module, "negative_accounts")?)?;
    let spec = DatasetSpec::collection(&negative)?.with_metadata(serde_json::json!({
        "columns": ["name", "balance"],
        "files": files.len(),
    }));
    client.publish_dataset("negative_accounts", spec).await?;
    println!(
        "persisted and published {} partitions as negative_accounts",
        negative.len()
    );

    println!("\n--- a second client process ---");
    // The embedded cluster made its own token; the second process gets it
    // in its environment.
    let token = client.with_cluster(|cluster| cluster.map(|c| c.token().expose().to_string()));
    let status = Command::new(std::env::current_exe()?)
        .args(["--second-client", &addr])
        .env("WEFT_TOKEN", token.unwrap_or_default())
        .status()
        .context("start the second client")?;
    if !status.success() {
        bail!("the second client failed: {status}");
    }
    println!("--- end of the second client ---");

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

async fn second_client(addr: &str) -> Result<()> {
    let options = weft_client::ClientOptions {
        token: std::env::var("WEFT_TOKEN")
            .ok()
            .map(weft_client::Secret::new),
        ..weft_client::ClientOptions::default()
    };
    let client = Client::connect_with_options(addr, options).await?;
    println!("datasets: {:?}", client.list_datasets().await?);
    let dataset = client
        .get_dataset::<Vec<serde_json::Value>>("negative_accounts")
        .await?;
    println!("metadata: {}", dataset.metadata);
    let futures = dataset.futures().context("negative_accounts holds data")?;
    let rows: Vec<Account> = client
        .gather(futures)
        .await?
        .into_iter()
        .flatten()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()?;
    println!("negative_accounts: {} rows; the head:", rows.len());
    println!("  {:<18} {:>8}", "name", "balance");
    for row in rows.iter().take(5) {
        println!("  {:<18} {:>8}", row.name, row.balance);
    }
    drop(dataset);
    client.close().await?;
    Ok(())
}
