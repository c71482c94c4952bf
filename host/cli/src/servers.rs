//! The long-running commands: `weft scheduler`. Each prints the address it
//! listens on as its first line of standard output (`listening on
//! 127.0.0.1:8786`), so scripts and tests can use port 0, and runs until
//! interrupted.

use crate::Failure;
use clap::Args;
use weft_scheduler::SchedulerConfig;

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
