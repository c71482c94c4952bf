//! `weft status SCHEDULER`: the cluster as the scheduler sees it. One line
//! per worker: its managed data (by the scheduler's books), what it says
//! it holds in memory and on disk, its process memory and limit; then task
//! counts. `--keys` adds which keys each worker holds; `--tenants` adds,
//! per tenant (the caller's own; an admin sees every tenant), its tasks by
//! state, the executor time its tasks used in the last minute, the bytes
//! its results hold, and how close each use is to its limit; `--json`
//! prints the whole status as JSON (tenants always included).

use crate::Failure;
use bytesize::ByteSize;
use clap::Args;
use weft_client::ClusterStatus;

/// Flags of `weft status`.
#[derive(Debug, Clone, Args)]
pub(crate) struct StatusArgs {
    /// The scheduler's address, `host:port`.
    scheduler: String,
    #[command(flatten)]
    credentials: crate::credentials::ConnectArgs,
    /// Also list the keys each worker holds.
    #[arg(long)]
    keys: bool,
    /// Also show each tenant's usage and limits.
    #[arg(long)]
    tenants: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `weft status`.
pub(crate) fn status(args: &StatusArgs) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Failure::usage)?;
    let status = runtime.block_on(async {
        let client = args.credentials.connect(&args.scheduler).await?;
        let status = client.status(args.keys).await.map_err(Failure::task)?;
        client.close().await.map_err(Failure::task)?;
        Ok(status)
    })?;
    if args.json {
        println!("{}", to_json(&status));
    } else {
        print!("{}", table(&status, args.keys));
        if args.tenants {
            print!("{}", tenants_table(&status.tenants));
        }
    }
    Ok(())
}

fn to_json(status: &ClusterStatus) -> serde_json::Value {
    let workers: Vec<serde_json::Value> = status
        .workers
        .iter()
        .map(|w| {
            serde_json::json!({
                "id": w.info.id.0,
                "name": w.info.name,
                "pid": w.info.pid,
                "data_addr": w.info.data_addr,
                "nthreads": w.info.nthreads,
                "managed_bytes": w.managed_bytes,
                "managed_keys": w.managed_keys,
                "processing": w.processing,
                "memory_bytes": w.metrics.memory_bytes,
                "memory_keys": w.metrics.memory_keys,
                "spilled_bytes": w.metrics.spilled_bytes,
                "spilled_keys": w.metrics.spilled_keys,
                "process_bytes": w.metrics.process_bytes,
                "memory_limit": w.metrics.memory_limit,
                "paused": w.metrics.paused,
                "keys": w.has_what.iter().map(|(k, n)| serde_json::json!({"key": k.to_string(), "nbytes": n})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let tenants: Vec<serde_json::Value> = status
        .tenants
        .iter()
        .map(|t| {
            let limits: serde_json::Map<String, serde_json::Value> = t
                .uses()
                .into_iter()
                .map(|(limit, used, value)| {
                    let entry = serde_json::json!({"used": used, "limit": value});
                    (limit.name().to_string(), entry)
                })
                .collect();
            serde_json::json!({
                "name": t.name,
                "weight": t.weight,
                "tasks": {
                    "waiting": t.usage.waiting,
                    "queued": t.usage.queued,
                    "processing": t.usage.processing,
                    "memory": t.usage.memory,
                    "erred": t.usage.erred,
                    "total": t.usage.tasks,
                },
                "stored_bytes": t.usage.stored_bytes,
                "modules_bytes": t.modules_bytes,
                "datasets": t.datasets,
                "clients": t.clients,
                "slot_seconds_last_minute": t.slot_us_last_minute as f64 / 1e6,
                "limits": limits,
                "task_ceilings": {
                    "task_memory_max": t.limits.task_ceilings.memory_bytes_max,
                    "task_timeout_max_ms": t.limits.task_ceilings.timeout_ms,
                    "task_fuel_max": t.limits.task_ceilings.fuel_max,
                },
            })
        })
        .collect();
    serde_json::json!({
        "workers": workers,
        "tasks": status.tasks,
        "clients": status.clients,
        "keys": status.keys,
        "tenants": tenants,
    })
}

fn table(status: &ClusterStatus, keys: bool) -> String {
    let mut out = format!(
        "{:<6} {:<16} {:>7} {:>4} {:>16} {:>10} {:>10} {:>10} {:>10} {:>5}\n",
        "worker",
        "name",
        "pid",
        "thr",
        "managed",
        "in memory",
        "on disk",
        "process",
        "limit",
        "busy"
    );
    for w in &status.workers {
        let limit = match w.metrics.memory_limit {
            0 => "none".to_string(),
            n => ByteSize(n).to_string(),
        };
        out += &format!(
            "{:<6} {:<16} {:>7} {:>4} {:>16} {:>10} {:>10} {:>10} {:>10} {:>5}{}\n",
            w.info.id.0,
            w.info.name,
            w.info.pid,
            w.info.nthreads,
            format!("{} in {}", ByteSize(w.managed_bytes), w.managed_keys),
            ByteSize(w.metrics.memory_bytes).to_string(),
            ByteSize(w.metrics.spilled_bytes).to_string(),
            ByteSize(w.metrics.process_bytes).to_string(),
            limit,
            w.processing,
            if w.metrics.paused { " paused" } else { "" }
        );
        if keys {
            for (key, nbytes) in &w.has_what {
                out += &format!("         {key} {}\n", ByteSize(*nbytes));
            }
        }
    }
    let tasks: Vec<String> = status
        .tasks
        .iter()
        .map(|(state, n)| format!("{state} {n}"))
        .collect();
    out += &format!(
        "{} workers, {} clients, {} keys{}{}\n",
        status.workers.len(),
        status.clients,
        status.keys,
        if tasks.is_empty() { "" } else { ": " },
        tasks.join(", ")
    );
    out
}

/// One block per tenant: its tasks, use of the cluster, and each limit
/// that is set with how much of it is used.
fn tenants_table(tenants: &[weft_client::TenantStatus]) -> String {
    let mut out = String::new();
    for t in tenants {
        let u = &t.usage;
        out += &format!(
            "tenant {} (weight {}): waiting {}, queued {}, processing {}, in memory {}, erred {}; \
             {:.1} slot-seconds in the last minute; results {}; modules {}; {} datasets; {} clients\n",
            weft_runtime::text::escape_for_terminal(&t.name),
            t.weight,
            u.waiting,
            u.queued,
            u.processing,
            u.memory,
            u.erred,
            t.slot_us_last_minute as f64 / 1e6,
            ByteSize(u.stored_bytes),
            ByteSize(t.modules_bytes),
            t.datasets,
            t.clients,
        );
        for (limit, used, value) in t.uses() {
            let percent = if value == 0 {
                100.0
            } else {
                used as f64 * 100.0 / value as f64
            };
            out += &format!(
                "  {:<18} {:>12} of {:>12} ({percent:.0} %)\n",
                limit.name(),
                limit.show(used),
                limit.show(value)
            );
        }
        let ceilings = &t.limits.task_ceilings;
        let shown: Vec<String> = [
            ceilings
                .memory_bytes_max
                .map(|b| format!("task_memory_max {}", weft_schema::quota::show_bytes(b))),
            ceilings.timeout_ms.map(|ms| {
                let timeout = std::time::Duration::from_millis(ms);
                format!("task_timeout_max {}", humantime::format_duration(timeout))
            }),
            ceilings.fuel_max.map(|f| format!("task_fuel_max {f}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !shown.is_empty() {
            out += &format!("  each task at most: {}\n", shown.join(", "));
        }
    }
    out
}
