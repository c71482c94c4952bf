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
    /// Largest module accepted at upload (module_bytes_max); keep it at or
    /// below the workers' --module-limit.
    #[arg(long, env = "WEFT_MODULE_LIMIT", default_value_t = bytesize::ByteSize::b(weft_scheduler::DEFAULT_MODULE_BYTES_MAX))]
    module_limit: bytesize::ByteSize,
    /// How long a disconnected client's futures are kept for it to
    /// reconnect (client_grace), e.g. "10s"; "0s": released at once.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    client_grace: std::time::Duration,
    /// A task that was running on this many workers when they died fails
    /// with a killed-workers error (worker_deaths_max).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    worker_deaths_max: u32,
    /// Tasks of one tenant sent ahead to a worker, per executor thread, at
    /// most (processing_per_thread_max). Deeper hides longer round trips
    /// for a lone tenant's tiny tasks; shallower keeps a busy scheduler's
    /// queue of reports, which every tenant waits behind, short.
    #[arg(long, default_value_t = weft_core::SchedulerConfig::default().processing_per_thread_max,
          value_parser = clap::value_parser!(u32).range(1..))]
    processing_per_thread_max: u32,
    /// How long a restart waits for the workers to be back (restart_timeout).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    restart_timeout: std::time::Duration,
    /// A worker that sends nothing (its metrics come every 500 ms) for this
    /// long is removed and its work rescheduled; it must rejoin with
    /// nothing (worker_ttl). "0s": never.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    worker_ttl: std::time::Duration,
    /// A client that sends nothing (its heartbeat comes every 2 s) for this
    /// long is disconnected; its --client-grace then applies (client_ttl).
    /// "0s": never.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    client_ttl: std::time::Duration,
    /// Requests of one client connection waiting for the scheduler at once
    /// (client_inbox_max); past it the connection is not read until some
    /// are handled, so one client's flood cannot delay the others.
    #[arg(long, default_value_t = weft_scheduler::DEFAULT_CLIENT_INBOX_MAX as u64, value_parser = clap::value_parser!(u64).range(1..))]
    client_inbox_max: u64,
    /// The tenants file (`weft tenant add ... --tenants FILE`): clients and
    /// workers must then present a token. Reloaded when it changes or on
    /// SIGHUP. Without it, every connection is tenant "default" with admin
    /// rights, which is allowed on loopback addresses only.
    #[arg(long, env = "WEFT_TENANTS")]
    tenants: Option<std::path::PathBuf>,
    /// Longest frame read or written on any connection (frame_bytes_max),
    /// e.g. "64MiB": larger graphs, values and lists go in parts; what
    /// still cannot be sent fails with an error naming the limit. Each
    /// process sizes what it sends by its own limit, so give the whole
    /// cluster (clients too) the same one.
    #[arg(long, env = "WEFT_FRAME_BYTES_MAX", default_value_t = bytesize::ByteSize::b(weft_proto::DEFAULT_FRAME_BYTES_MAX as u64))]
    frame_bytes_max: bytesize::ByteSize,
    /// Allow listening on a non-loopback address without TLS and tenants.
    #[arg(long)]
    insecure: bool,
    #[command(flatten)]
    tls: crate::tls_args::ServerTlsArgs,
    /// Also append the audit events (failed authentications, denials,
    /// admin operations, publishes and unpublishes) to this file, one JSON
    /// line each.
    #[arg(long, env = "WEFT_AUDIT_LOG")]
    audit_log: Option<std::path::PathBuf>,
}

impl SchedulerArgs {
    /// The audit log file, if one was asked for.
    pub(crate) fn audit_log(&self) -> Option<&std::path::Path> {
        self.audit_log.as_deref()
    }
}

/// Refuses to listen on a non-loopback `listen` address unless the port is
/// protected (`secured`) or `insecure` was given.
fn refuse_insecure_bind(
    listen: &str,
    secured: bool,
    insecure: bool,
    what: &str,
) -> Result<(), Failure> {
    let loopback = listen
        .parse::<std::net::SocketAddr>()
        .map(|a| a.ip().is_loopback())
        .unwrap_or_else(|_| listen.starts_with("localhost:"));
    if loopback || secured || insecure {
        if !loopback && !secured {
            tracing::warn!(%listen, "the {what} listens on a non-loopback address without TLS and tenants (--insecure)");
        }
        return Ok(());
    }
    Err(Failure::usage(anyhow::anyhow!(
        "refusing to listen on {listen}: the {what} would accept anyone on the network without \
         TLS and tenant tokens; give --tls-ca/--tls-cert/--tls-key (files from `weft cert \
         init`) and --tenants FILE (a worker: a worker token), listen on 127.0.0.1, or give \
         --insecure if the network is trusted"
    )))
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::usage)
}

/// `weft scheduler`.
pub(crate) fn scheduler(args: &SchedulerArgs) -> Result<(), Failure> {
    let tls = args.tls.scheduler()?;
    let secured = tls.is_some() && args.tenants.is_some();
    refuse_insecure_bind(&args.listen, secured, args.insecure, "scheduler")?;
    let config = SchedulerConfig {
        tls,
        listen: args.listen.clone(),
        module_store_bytes_max: args.module_store_limit,
        module_bytes_max: args.module_limit.as_u64(),
        client_inbox_max: args.client_inbox_max as usize,
        connection: weft_proto::ConnectionLimits {
            frame_bytes_max: frame_bytes(args.frame_bytes_max)?,
            ..weft_proto::ConnectionLimits::default()
        },
        core: weft_core::SchedulerConfig {
            worker_deaths_max: args.worker_deaths_max,
            processing_per_thread_max: args.processing_per_thread_max,
            client_grace: args.client_grace,
            restart_timeout: args.restart_timeout,
            worker_ttl: args.worker_ttl,
            client_ttl: args.client_ttl,
            ..weft_core::SchedulerConfig::default()
        },
        ..SchedulerConfig::default()
    };
    runtime()?.block_on(async {
        let mut config = config;
        // A tenants file that cannot be read is fatal: never a silent
        // fallback to no authentication.
        let _watcher = match &args.tenants {
            Some(path) => {
                let (registry, watcher) = weft_scheduler::tenants::watch(
                    path.clone(),
                    weft_scheduler::tenants::DEFAULT_POLL,
                )
                .map_err(Failure::usage)?;
                config.tokens = weft_scheduler::Tokens::Watched(registry);
                Some(AbortOnDrop(watcher))
            }
            None => {
                tracing::warn!(
                    "no --tenants: every connection is tenant \"default\" with admin rights"
                );
                None
            }
        };
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
    /// Memory limit of the worker in bytes (0: none). Results spill to disk
    /// above the target fraction of it, new tasks pause above the pause
    /// fraction, and the process is restarted above the terminate fraction.
    #[arg(long, default_value_t = 0)]
    memory_limit: u64,
    /// Spill results to disk above this fraction of the memory limit (0: never).
    #[arg(long, default_value_t = weft_worker::DEFAULT_MEMORY_TARGET_FRACTION)]
    memory_target_fraction: f64,
    /// Start no new tasks above this fraction of the memory limit (0: never).
    #[arg(long, default_value_t = weft_worker::DEFAULT_MEMORY_PAUSE_FRACTION)]
    memory_pause_fraction: f64,
    /// Restart the worker process above this fraction of the memory limit
    /// in process memory (0: never).
    #[arg(long, default_value_t = weft_worker::DEFAULT_MEMORY_TERMINATE_FRACTION)]
    memory_terminate_fraction: f64,
    /// Where to spill results [default: the system's temporary directory].
    #[arg(long)]
    spill_dir: Option<std::path::PathBuf>,
    /// How long one request for inputs to one peer may take, connecting
    /// included, before that peer counts as failed (fetch_timeout).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    fetch_timeout: std::time::Duration,
    /// Run the worker in this process, without a nanny process that
    /// restarts it (on a cluster restart, a memory limit or a crash).
    #[arg(long)]
    no_nanny: bool,
    /// The worker's name.
    #[arg(long, default_value = weft_worker::DEFAULT_NAME)]
    name: String,
    /// Address of the data port (port 0 picks a free port).
    #[arg(long, default_value = weft_worker::DEFAULT_LISTEN)]
    listen: String,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    credentials: crate::credentials::CredentialArgs,
    #[command(flatten)]
    tls: crate::tls_args::ServerTlsArgs,
    /// Longest frame read or written on any connection (frame_bytes_max),
    /// e.g. "64MiB": larger graphs, values and lists go in parts; what
    /// still cannot be sent fails with an error naming the limit. Each
    /// process sizes what it sends by its own limit, so give the whole
    /// cluster (clients too) the same one.
    #[arg(long, env = "WEFT_FRAME_BYTES_MAX", default_value_t = bytesize::ByteSize::b(weft_proto::DEFAULT_FRAME_BYTES_MAX as u64))]
    frame_bytes_max: bytesize::ByteSize,
    /// Allow a data port on a non-loopback address without TLS and a
    /// worker token.
    #[arg(long)]
    insecure: bool,
}

/// A `--frame-bytes-max`: at least a kilobyte (a hello and a ticket must
/// fit), and addressable.
fn frame_bytes(value: bytesize::ByteSize) -> Result<usize, Failure> {
    usize::try_from(value.as_u64())
        .ok()
        .filter(|bytes| *bytes >= 1024)
        .ok_or_else(|| {
            Failure::usage(anyhow::anyhow!(
                "--frame-bytes-max {value} must be at least 1 KiB and fit in memory"
            ))
        })
}

fn fraction(value: f64) -> Option<f64> {
    (value > 0.0).then_some(value)
}

/// `weft worker`: a nanny process running the worker as its child, or with
/// `--no-nanny` the worker itself.
pub(crate) fn worker(args: &WorkerArgs) -> Result<(), Failure> {
    if !args.no_nanny {
        let argv: Vec<String> = std::env::args().skip(1).collect();
        return crate::nanny::run(&argv);
    }
    let nanny_instance = std::env::var(crate::nanny::NANNY_ENV).ok();
    let under_nanny = nanny_instance.is_some();
    if under_nanny {
        crate::nanny::exit_when_parent_dies();
    }
    let runtime_config = args.limits.runtime_config();
    let nthreads = args
        .nthreads
        .unwrap_or_else(weft_worker::default_nthreads)
        .max(1);
    let token = args.credentials.token()?;
    let tls = args.tls.worker()?;
    let secured = tls.is_some() && token.is_some();
    refuse_insecure_bind(&args.listen, secured, args.insecure, "worker data port")?;
    let config = WorkerConfig {
        scheduler: args.scheduler.clone(),
        token,
        tls,
        name: args.name.clone(),
        instance: nanny_instance
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(weft_worker::new_instance),
        nthreads,
        memory_limit: args.memory_limit,
        memory_target_fraction: fraction(args.memory_target_fraction),
        memory_pause_fraction: fraction(args.memory_pause_fraction),
        memory_terminate_fraction: fraction(args.memory_terminate_fraction),
        spill_dir: args.spill_dir.clone(),
        fetch_timeout: args.fetch_timeout,
        restart: if under_nanny {
            weft_worker::RestartMode::Exit
        } else {
            weft_worker::RestartMode::InPlace
        },
        listen: args.listen.clone(),
        connection: weft_proto::ConnectionLimits {
            frame_bytes_max: frame_bytes(args.frame_bytes_max)?,
            ..weft_proto::ConnectionLimits::default()
        },
        limits: runtime_config.default_limits.clone(),
        runtime: weft_runtime::RuntimeConfig {
            instances_max: nthreads.max(4),
            ..runtime_config
        },
        ..WorkerConfig::default()
    };
    runtime()?.block_on(async {
        // A bad setting is a usage error (the nanny stops); anything else
        // (the scheduler unreachable, say) is worth another try.
        let mut worker = weft_worker::start(config)
            .await
            .map_err(|error| match error {
                weft_worker::WorkerError::Config { .. }
                | weft_worker::WorkerError::Refused { .. } => Failure::usage(error),
                other => Failure::task(other),
            })?;
        println!(
            "worker {} serving data on {}",
            worker.id(),
            worker.data_addr()
        );
        tokio::select! {
            outcome = worker.closed() => match outcome {
                Ok(()) => {}
                Err(weft_worker::WorkerError::RestartRequested) => {
                    tracing::info!("restarting at the scheduler's request");
                    std::process::exit(weft_proto::messages::EXIT_RESTART);
                }
                Err(weft_worker::WorkerError::MemoryLimit { reason }) => {
                    tracing::warn!(%reason, "leaving: memory limit");
                    std::process::exit(weft_proto::messages::EXIT_MEMORY);
                }
                Err(error) => return Err(Failure::task(error)),
            },
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
    let runtime_config = args.limits.runtime_config();
    let config = weft_client::LocalConfig {
        workers: args.workers,
        nthreads: args.nthreads.unwrap_or_else(weft_worker::default_nthreads),
        limits: runtime_config.default_limits,
        listen: args.listen.clone(),
        security: weft_client::LocalSecurity::Tokens,
        compile: runtime_config.compile,
    };
    runtime()?.block_on(async {
        let cluster = weft_client::LocalCluster::start(config)
            .await
            .map_err(Failure::usage)?;
        // The generated client token, for other processes of this user: a
        // 0600 file in a 0700 directory, removed when the cluster stops.
        let dir = tempfile::Builder::new()
            .prefix("weft-local-")
            .tempdir()
            .map_err(Failure::usage)?;
        let token_file = dir.path().join("token");
        write_private(&token_file, cluster.token().expose()).map_err(Failure::usage)?;
        println!("token file: {}", token_file.display());
        println!("listening on {}", cluster.addr());
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("interrupted; stopping");
        Ok(())
    })
}

/// Aborts a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Writes `text` to a new file only its owner may read.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")
}
