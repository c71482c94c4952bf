//! `weft-bench --workload a|b|c [--quick]`: the Weft side of `tools/bench`
//! (whose README is the contract). Starts a scheduler and two workers with
//! one executor thread each in this process, talking over loopback, runs an
//! untimed warm-up, then times one run of the workload submitted as one
//! batch through the futures API, and prints one JSON line on stdout.

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::json;
use std::time::Instant;
use weft_client::{Client, Future, LocalCluster, LocalConfig, LocalSecurity, Module, futures_list};

#[derive(Debug, Parser)]
struct Args {
    /// a: map of inc; b: tree reduction; c: 10 MB partitions.
    #[arg(long)]
    workload: String,
    /// Small sizes, for smoke tests.
    #[arg(long)]
    quick: bool,
    /// How the cluster's connections are protected: `tokens` (the default
    /// of an embedded cluster), `tls` (tokens and TLS) or `open` (neither).
    #[arg(long, default_value = "tokens")]
    security: String,
}

struct Measured {
    tasks: u64,
    size: u64,
    seconds: f64,
    result: i64,
    expected: i64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let security = match args.security.as_str() {
        "tokens" => LocalSecurity::Tokens,
        "tls" => LocalSecurity::TokensAndTls,
        "open" => LocalSecurity::Open,
        other => bail!("unknown --security {other:?}; use tokens, tls or open"),
    };
    let cluster = LocalCluster::start(LocalConfig {
        workers: 2,
        nthreads: 1,
        security,
        ..LocalConfig::default()
    })
    .await?;
    let client = cluster.client().await?;
    let module = client
        .upload_module_file(weft_guest_artifacts::EXAMPLE_TASKS)
        .await
        .context("upload the example tasks")?;
    let (warm, full) = match (args.workload.as_str(), args.quick) {
        ("a", quick) => (500, if quick { 10_000 } else { 100_000 }),
        ("b", quick) => (256, if quick { 4_096 } else { 65_536 }),
        ("c", quick) => (2, if quick { 10 } else { 100 }),
        (other, _) => bail!("unknown workload {other:?}; use a, b or c"),
    };
    let run = |size| run_workload(&client, &module, &args.workload, size);
    run(warm).await.context("warm-up")?;
    let measured = run(full).await?;
    let mut line = json!({
        "system": "weft",
        "workload": args.workload,
        "tasks": measured.tasks,
        "size": measured.size,
        "quick": args.quick,
        "version": env!("CARGO_PKG_VERSION"),
        "seconds": measured.seconds,
        "tasks_per_s": measured.tasks as f64 / measured.seconds,
        "result": measured.result,
        "expected": measured.expected,
        "ok": measured.result == measured.expected,
        "setup": "scheduler and 2 workers x 1 executor thread in one process, over loopback",
        "security": args.security,
    });
    if args.workload == "c" {
        line["mb_per_s"] = json!(measured.size as f64 * 10.0 / measured.seconds);
    }
    println!("{line}");
    if measured.result != measured.expected {
        bail!("wrong result");
    }
    Ok(())
}

async fn run_workload(
    client: &Client,
    module: &Module,
    workload: &str,
    size: u64,
) -> Result<Measured> {
    let n = size as i64;
    let started = Instant::now();
    let (tasks, result, expected) = match workload {
        "a" => {
            let futures = client.map::<i64, _>(module, "inc", (0..n).map(|i| (i,)))?;
            let submitted = started.elapsed();
            client
                .wait(&futures, None, weft_client::ReturnWhen::AllCompleted)
                .await?;
            let computed = started.elapsed();
            let values = client.gather(&futures).await?;
            eprintln!(
                "weft-bench a: submitted in {:.3}s, computed by {:.3}s, gathered by {:.3}s",
                submitted.as_secs_f64(),
                computed.as_secs_f64(),
                started.elapsed().as_secs_f64()
            );
            (size, values.iter().sum::<i64>(), n * (n + 1) / 2)
        }
        "b" => {
            let mut level = client.map::<i64, _>(module, "inc", (0..n).map(|i| (i,)))?;
            let mut tasks = size;
            while level.len() > 1 {
                let pairs: Vec<(&Future<i64>, &Future<i64>)> =
                    level.chunks(2).map(|c| (&c[0], &c[1])).collect();
                let next = client.map::<i64, _>(module, "add", pairs)?;
                tasks += next.len() as u64;
                level = next;
            }
            (tasks, level[0].result().await?, n * (n + 1) / 2)
        }
        "c" => {
            let len: i64 = 1_250_000;
            let parts =
                client.map::<Vec<i64>, _>(module, "gen_partition", (0..n).map(|p| (p, len)))?;
            let kept = client.map::<Vec<i64>, _>(
                module,
                "keep_multiples_of_3",
                parts.iter().map(|f| (f,)),
            )?;
            let sums = client.map::<i64, _>(module, "sum", kept.iter().map(|f| (f,)))?;
            let total = client.submit::<i64>(module, "sum", (futures_list(&sums),))?;
            let limit = n * len;
            let multiples = (limit - 1) / 3;
            (
                3 * size + 1,
                total.result().await?,
                3 * multiples * (multiples + 1) / 2,
            )
        }
        other => bail!("unknown workload {other}"),
    };
    Ok(Measured {
        tasks,
        size,
        seconds: started.elapsed().as_secs_f64(),
        result,
        expected,
    })
}
