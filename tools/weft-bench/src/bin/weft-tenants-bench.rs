//! `weft-tenants-bench --scenario split|noisy [--quick]`: tenants sharing
//! one cluster of real processes, the peers' shape: a `weft scheduler`
//! with a tenants file and two `weft worker --nthreads 1` processes over
//! loopback (the `weft` binary beside this one: `cargo build --release -p
//! weft-cli -p weft-bench`). Prints one JSON line on stdout.
//!
//! - `split`: tools/bench workload a (a map of `inc` over 100,000 tasks)
//!   submitted by one tenant, then the same work split between ten tenants
//!   submitting at once, in the same run.
//! - `noisy`: tenant B's 100-task job (a map of `inc`, gathered), on the
//!   idle cluster and while tenant A streams 10^6 trivial tasks (maps of
//!   `--flood-batch` tasks, 10,000 by default, four in flight): the median
//!   of 21 runs each. Each tenant's client is its own process, as two
//!   users' would be: A's is this program started again with `--flood`.

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use weft_bench::processes::{Process, ProcessCluster};
use weft_client::{Client, ClientOptions, Module, Secret};

#[derive(Debug, Parser)]
struct Args {
    /// split: one tenant against ten sharing the same work; noisy: a small
    /// job beside a flood.
    #[arg(long)]
    scenario: String,
    /// Small sizes, for smoke tests.
    #[arg(long)]
    quick: bool,
    /// noisy: tasks per map of the flooding tenant.
    #[arg(long, default_value_t = 10_000)]
    flood_batch: i64,
    /// Internal (noisy): be tenant A's flooding client, of the scheduler
    /// at this address, with the token read from stdin's first line; say
    /// `ready` once connected, flood on the next line, print the seconds.
    #[arg(long, hide = true)]
    flood: Option<String>,
    /// Internal (noisy, with --flood): the tasks to stream.
    #[arg(long, hide = true, default_value_t = 1_000_000)]
    flood_tasks: i64,
}

/// Maps `inc` over `from..from + n` and checks the sum of the results.
async fn incs(client: &Client, module: &Module, from: i64, n: i64) -> Result<()> {
    let futures = client.map::<i64, _>(module, "inc", (from..from + n).map(|i| (i,)))?;
    let values = client.gather(&futures).await?;
    let expected: i64 = (from + 1..=from + n).sum();
    if values.iter().sum::<i64>() != expected {
        bail!("wrong results");
    }
    Ok(())
}

async fn split(quick: bool) -> Result<serde_json::Value> {
    let total: i64 = if quick { 10_000 } else { 100_000 };
    let cluster = ProcessCluster::start(10)?;
    let mut clients = Vec::new();
    for tenant in 0..10 {
        clients.push(cluster.connect(tenant).await?);
    }
    // Warm-up, every tenant.
    for (client, module) in &clients {
        incs(client, module, 0, 500).await?;
    }
    let started = Instant::now();
    incs(&clients[0].0, &clients[0].1, 0, total).await?;
    let one = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let share = total / 10;
    let mut jobs = tokio::task::JoinSet::new();
    for (t, (client, module)) in clients.iter().enumerate() {
        let (client, module) = (client.clone(), module.clone());
        jobs.spawn(async move { incs(&client, &module, t as i64 * share, share).await });
    }
    while let Some(result) = jobs.join_next().await {
        result??;
    }
    let ten = started.elapsed().as_secs_f64();
    Ok(json!({
        "scenario": "split",
        "tasks": total,
        "one_tenant_tasks_per_s": total as f64 / one,
        "ten_tenants_tasks_per_s": total as f64 / ten,
        "one_tenant_seconds": one,
        "ten_tenants_seconds": ten,
        "ratio_ten_to_one": one / ten,
    }))
}

/// The median of `runs` of B's job, in seconds.
async fn b_job_median(client: &Client, module: &Module, runs: usize) -> Result<f64> {
    let mut times = Vec::new();
    for run in 0..runs {
        let started = Instant::now();
        incs(client, module, run as i64 * 100, 100).await?;
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Tenant A's client (`--flood`): connects with the token on stdin's
/// first line, says `ready`, and on the next line streams `flood` tasks in
/// maps of `batch`, four in flight; prints the seconds it took.
async fn flood_client(addr: &str, flood: i64, batch: i64) -> Result<()> {
    let mut stdin = std::io::stdin().lock();
    let mut token = String::new();
    stdin.read_line(&mut token)?;
    let options = ClientOptions {
        token: Some(Secret::new(token.trim().to_string())),
        ..ClientOptions::default()
    };
    let a = Client::connect_with_options(addr, options).await?;
    let module = a
        .upload_module_file(weft_guest_artifacts::EXAMPLE_TASKS)
        .await
        .context("upload the example tasks")?;
    incs(&a, &module, 0, 1_000).await?;
    println!("ready");
    if stdin.read_line(&mut String::new())? == 0 {
        bail!("the bench closed stdin before the go");
    }
    let started = Instant::now();
    let mut in_flight = std::collections::VecDeque::new();
    let mut next = 0;
    while next < flood || !in_flight.is_empty() {
        while in_flight.len() < 4 && next < flood {
            let futures = a.map::<i64, _>(&module, "inc", (next..next + batch).map(|i| (i,)))?;
            in_flight.push_back(futures);
            next += batch;
        }
        let oldest = in_flight.pop_front().expect("in flight");
        a.wait(&oldest, None, weft_client::ReturnWhen::AllCompleted)
            .await?;
    }
    println!("{}", started.elapsed().as_secs_f64());
    Ok(())
}

async fn noisy(quick: bool, batch: i64) -> Result<serde_json::Value> {
    use std::io::Write;
    let flood: i64 = if quick { 100_000 } else { 1_000_000 };
    let cluster = ProcessCluster::start(2)?;
    let mut flooder = Process(
        Command::new(std::env::current_exe()?)
            .args(["--scenario", "noisy", "--flood", &cluster.addr])
            .args(["--flood-tasks", &flood.to_string()])
            .args(["--flood-batch", &batch.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("start tenant A's client")?,
    );
    let mut to_flooder = flooder.0.stdin.take().context("its stdin")?;
    let mut from_flooder = BufReader::new(flooder.0.stdout.take().context("its stdout")?);
    writeln!(to_flooder, "{}", cluster.tokens[0].expose())?;
    let mut line = String::new();
    from_flooder.read_line(&mut line)?;
    if line.trim() != "ready" {
        bail!("tenant A's client did not start: {line:?}");
    }
    let (b, b_module) = cluster.connect(1).await?;
    incs(&b, &b_module, 0, 100).await?;
    let idle = b_job_median(&b, &b_module, 21).await?;
    writeln!(to_flooder)?;
    // Let the flood fill the cluster first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let busy = b_job_median(&b, &b_module, 21).await?;
    let flood_seconds = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        from_flooder.read_line(&mut line)?;
        line.trim()
            .parse::<f64>()
            .with_context(|| format!("tenant A's client ended with {line:?}"))
    })
    .await??;
    drop(flooder);
    Ok(json!({
        "scenario": "noisy",
        "flood_tasks": flood,
        "flood_batch": batch,
        "flood_seconds": flood_seconds,
        "flood_tasks_per_s": flood as f64 / flood_seconds,
        "b_job_tasks": 100,
        "b_job_idle_seconds": idle,
        "b_job_during_flood_seconds": busy,
        "ratio": busy / idle,
    }))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(addr) = &args.flood {
        return flood_client(addr, args.flood_tasks, args.flood_batch.max(1)).await;
    }
    let mut line = match args.scenario.as_str() {
        "split" => split(args.quick).await?,
        "noisy" => noisy(args.quick, args.flood_batch.max(1)).await?,
        other => bail!("unknown scenario {other:?}; use split or noisy"),
    };
    line["system"] = json!("weft");
    line["quick"] = json!(args.quick);
    line["setup"] = json!(
        "a weft scheduler (tenants file, no TLS) and 2 weft worker --nthreads 1 processes, over loopback; noisy: each tenant's client its own process"
    );
    println!("{line}");
    Ok(())
}
