//! `weft-bench --workload a|b|c|d|e [--quick] [--cluster processes|embedded]`:
//! the Weft side of `tools/bench` (whose README is the contract). By default
//! it starts the peers' shape: a `weft scheduler` and two `weft worker
//! --nthreads 1` processes over loopback (the `weft` binary beside this
//! one); `--cluster embedded` runs the scheduler and both workers in this
//! process instead (a second, labelled line). It runs an untimed warm-up,
//! then times one run of the workload submitted as one batch through the
//! futures API, and prints one JSON line on stdout. `--tcp-copy` prints
//! workload e's yardstick instead: 1 GiB over one loopback TCP stream
//! between two processes.

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::json;
use weft_bench::processes::ProcessCluster;
use weft_bench::{tcp_copy, workloads};
use weft_client::{LocalCluster, LocalConfig, LocalSecurity};

#[derive(Debug, Parser)]
struct Args {
    /// a: map of inc; b: tree reduction; c: 10 MB partitions; d: map of
    /// inc over 10^6 tasks; e: a 1 GiB value copied between workers.
    #[arg(long, required_unless_present_any = ["tcp_copy", "tcp_sink"])]
    workload: Option<String>,
    /// Small sizes, for smoke tests.
    #[arg(long)]
    quick: bool,
    /// `processes` (the peers' shape, the default) or `embedded` (one
    /// process).
    #[arg(long, default_value = "processes")]
    cluster: String,
    /// How an embedded cluster's connections are protected: `tokens` (the
    /// default), `tls` (tokens and TLS) or `open` (neither). A cluster of
    /// processes always uses tokens from a tenants file, without TLS.
    #[arg(long, default_value = "tokens")]
    security: String,
    /// Measure workload e's yardstick, a plain TCP copy between two
    /// processes, instead of Weft.
    #[arg(long)]
    tcp_copy: bool,
    /// Internal (--tcp-copy): be the receiving process, of this address.
    #[arg(long, hide = true)]
    tcp_sink: Option<String>,
    /// Internal (--tcp-copy): the bytes to receive.
    #[arg(long, hide = true, default_value_t = 1 << 30)]
    tcp_bytes: u64,
    /// Internal (--tcp-copy): keep them, in one buffer of their size.
    #[arg(long, hide = true)]
    tcp_keep: bool,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(addr) = &args.tcp_sink {
        return tcp_copy::sink(addr, args.tcp_bytes, args.tcp_keep);
    }
    if args.tcp_copy {
        return tcp_copy_line(args.quick);
    }
    let workload = args.workload.clone().context("--workload is required")?;
    let (warm, full) = workloads::sizes(&workload, args.quick)?;
    // Held until the end of the run: dropping one stops its cluster.
    let (_processes, _embedded, client, module, setup);
    match args.cluster.as_str() {
        "processes" => {
            if args.security != "tokens" {
                bail!("--security applies to --cluster embedded only");
            }
            let cluster = ProcessCluster::start(1)?;
            (client, module) = cluster.connect(0).await?;
            setup = "a weft scheduler (tenants file, no TLS) and 2 weft worker --nthreads 1 processes, over loopback";
            _processes = Some(cluster);
            _embedded = None;
        }
        "embedded" => {
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
            client = cluster.client().await?;
            module = client
                .upload_module_file(weft_guest_artifacts::EXAMPLE_TASKS)
                .await
                .context("upload the example tasks")?;
            setup = "scheduler and 2 workers x 1 executor thread in one process, over loopback";
            _processes = None;
            _embedded = Some(cluster);
        }
        other => bail!("unknown --cluster {other:?}; use processes or embedded"),
    }
    workloads::run(&client, &module, &workload, warm)
        .await
        .context("warm-up")?;
    let measured = workloads::run(&client, &module, &workload, full).await?;
    let system = if args.cluster == "embedded" {
        "weft-embedded"
    } else {
        "weft"
    };
    let mut line = json!({
        "system": system,
        "workload": workload,
        "tasks": measured.tasks,
        "size": measured.size,
        "quick": args.quick,
        "version": env!("CARGO_PKG_VERSION"),
        "seconds": measured.seconds,
        "tasks_per_s": measured.tasks as f64 / measured.seconds,
        "us_per_task": measured.seconds * 1e6 / measured.tasks as f64,
        "result": measured.result,
        "expected": measured.expected,
        "ok": measured.result == measured.expected,
        "setup": setup,
        "security": args.security,
    });
    match workload.as_str() {
        "c" => line["mb_per_s"] = json!(measured.size as f64 * 10.0 / measured.seconds),
        "e" => line["mb_per_s"] = json!(measured.size as f64 / 1e6 / measured.seconds),
        _ => {}
    }
    println!("{line}");
    if measured.result != measured.expected {
        bail!("wrong result");
    }
    Ok(())
}

/// Workload e's yardstick as a result line of the system `tcp`.
fn tcp_copy_line(quick: bool) -> Result<()> {
    let (_, bytes) = workloads::sizes("e", quick)?;
    let seconds = tcp_copy::measure(bytes, true)?;
    let reused = tcp_copy::measure(bytes, false)?;
    let line = json!({
        "system": "tcp",
        "workload": "e",
        "tasks": 1,
        "size": bytes,
        "quick": quick,
        "seconds": seconds,
        "tasks_per_s": 1.0 / seconds,
        "mb_per_s": bytes as f64 / 1e6 / seconds,
        "result": bytes,
        "expected": bytes,
        "ok": true,
        "mb_per_s_into_a_reused_buffer": bytes as f64 / 1e6 / reused,
        "setup": "one loopback TCP stream between two processes, 4 MiB writes, received into one fresh buffer of the value's size (mb_per_s_into_a_reused_buffer: into one 4 MiB buffer, reused)",
    });
    println!("{line}");
    Ok(())
}
