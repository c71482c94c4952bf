//! The long-running commands: `weft scheduler`, `weft worker` and
//! `weft local`. The scheduler and `weft local` print the address it
//! listens on as its first line of standard output (`listening on
//! 127.0.0.1:8786`), so scripts and tests can use port 0, and runs until
//! interrupted.

use crate::Failure;
use crate::limits::LimitArgs;
use clap::Args;
use weft_scheduler::SchedulerConfig;
use weft_worker::WorkerConfig;

/// Flags of `weft scheduler`.
#[derive(Debug, Clone, Args)]
pub(crate) struct SchedulerArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "WEFT_SCHEDULER_LISTEN", default_value = weft_scheduler::DEFAULT_LISTEN)]
    listen: String,
    /// Most bytes of uploaded modules kept (module_store_bytes_max).
    #[arg(long, default_value_t = weft_scheduler::DEFAULT_MODULE_STORE_BYTES_MAX)]
    module_store_limit: u64,
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::usage)
}

/// `weft scheduler`.
pub(crate) fn scheduler(args: &SchedulerArgs) -> Result<(), Failure> {
    let config = SchedulerConfig {
        listen: args.listen.clone(),
        module_store_bytes_max: args.module_store_limit,
        ..SchedulerConfig::default()
    };
    runtime()?.block_on(async {
        let mut scheduler = weft_scheduler::start(config)
            .await
            .map_err(Failure::usage)?;
        println!("listening on {}", scheduler.addr());
        tokio::select! {
            _ = scheduler.closed() => {}
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
        }
        Ok(())
    })
}

/// Flags of `weft worker`.
#[derive(Debug, Clone, Args)]
pub(crate) struct WorkerArgs {
    /// The scheduler's address, `host:port`.
    scheduler: String,
    /// Executor threads [default: one per core].
    #[arg(long)]
    nthreads: Option<u32>,
    /// Memory limit of the worker in bytes (0: none).
    #[arg(long, default_value_t = 0)]
    memory_limit: u64,
    /// The worker's name.
    #[arg(long, default_value = weft_worker::DEFAULT_NAME)]
    name: String,
    /// Address of the data port (port 0 picks a free port).
    #[arg(long, default_value = weft_worker::DEFAULT_LISTEN)]
    listen: String,
    #[command(flatten)]
    limits: LimitArgs,
}

/// `weft worker`.
pub(crate) fn worker(args: &WorkerArgs) -> Result<(), Failure> {
    let runtime_config = args.limits.runtime_config();
    let nthreads = args
        .nthreads
        .unwrap_or_else(weft_worker::default_nthreads)
        .max(1);
    let config = WorkerConfig {
        scheduler: args.scheduler.clone(),
        name: args.name.clone(),
        nthreads,
        memory_limit: args.memory_limit,
        listen: args.listen.clone(),
        limits: runtime_config.default_limits.clone(),
        runtime: weft_runtime::RuntimeConfig {
            instances_max: nthreads.max(4),
            ..runtime_config
        },
        ..WorkerConfig::default()
    };
    runtime()?.block_on(async {
        let mut worker = weft_worker::start(config).await.map_err(Failure::usage)?;
        println!(
            "worker {} serving data on {}",
            worker.id(),
            worker.data_addr()
        );
        tokio::select! {
            outcome = worker.closed() => outcome.map_err(Failure::task)?,
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
        }
        Ok(())
    })
}

/// Flags of `weft local`.
#[derive(Debug, Clone, Args)]
pub(crate) struct LocalArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = weft_scheduler::DEFAULT_LISTEN)]
    listen: String,
    /// How many workers.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Executor threads per worker [default: one per core].
    #[arg(long)]
    nthreads: Option<u32>,
    #[command(flatten)]
    limits: LimitArgs,
}

/// `weft local`.
pub(crate) fn local(args: &LocalArgs) -> Result<(), Failure> {
    let config = weft_client::LocalConfig {
        workers: args.workers,
        nthreads: args.nthreads.unwrap_or_else(weft_worker::default_nthreads),
        limits: args.limits.runtime_config().default_limits,
        listen: args.listen.clone(),
    };
    runtime()?.block_on(async {
        let cluster = weft_client::LocalCluster::start(config)
            .await
            .map_err(Failure::usage)?;
        println!("listening on {}", cluster.addr());
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("interrupted; stopping");
        Ok(())
    })
}
