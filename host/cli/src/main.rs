//! The `weft` command line. Today: `weft run` runs one task of a module
//! locally and prints its result as JSON; `weft tasks` lists a module's tasks
//! and their signatures. Both are the task author's inner loop.

mod cert_cmd;
mod compile_args;
mod credentials;
mod datasets;
mod limits;
mod local_run;
mod logging;
mod map;
mod nanny;
mod pack;
mod servers;
mod status;
mod tenant_cmd;
mod tls_args;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Weft: a distributed task executor whose tasks are WebAssembly functions.
#[derive(Debug, Parser)]
#[command(name = "weft", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one task of a module locally and print its result as JSON.
    ///
    /// Each argument is JSON (`42`, `"text"`, `[1,2]`, `{"name":"a","balance":-3}`);
    /// for a parameter of type String, text that is not JSON is taken as the string.
    Run {
        /// The task module (.wasm).
        module: PathBuf,
        /// The task's name (see `weft tasks MODULE`).
        task: String,
        /// The task's arguments, one JSON value per parameter.
        #[arg(allow_negative_numbers = true)]
        args: Vec<String>,
        /// Print the result as indented JSON.
        #[arg(long)]
        pretty: bool,
        #[command(flatten)]
        limits: limits::LimitArgs,
    },
    /// Map a task over JSON lines on a cluster, with a progress bar.
    ///
    /// Each input line is the task's arguments: a JSON array of them, or the
    /// argument itself for a task with one parameter. Results are printed as
    /// JSON lines in input order.
    Map {
        #[command(flatten)]
        args: map::MapArgs,
    },
    /// Run a scheduler: clients and workers connect to it.
    Scheduler {
        #[command(flatten)]
        args: servers::SchedulerArgs,
    },
    /// Run a worker of the scheduler at SCHEDULER_ADDR.
    Worker {
        #[command(flatten)]
        args: servers::WorkerArgs,
    },
    /// Run a scheduler and workers in this one process.
    Local {
        #[command(flatten)]
        args: servers::LocalArgs,
    },
    /// Published datasets: list, get (print), unpublish.
    Datasets {
        #[command(flatten)]
        args: datasets::DatasetsArgs,
    },
    /// Show the cluster: workers, their memory, who holds which keys.
    Status {
        #[command(flatten)]
        args: status::StatusArgs,
    },
    /// Certificates for TLS: `weft cert init DIR` makes a cluster's CA and certificates.
    Cert {
        #[command(subcommand)]
        command: cert_cmd::CertCommand,
    },
    /// Tenants and their tokens: `weft tenant add NAME --tenants FILE` and more.
    Tenant {
        #[command(subcommand)]
        command: tenant_cmd::TenantCommand,
    },
    /// List a module's tasks and their signatures.
    Tasks {
        /// The task module (.wasm).
        module: PathBuf,
        #[command(flatten)]
        limits: limits::LimitArgs,
    },
    /// Add signature records to a core module built by a toolchain that
    /// cannot emit custom sections (Go), then list its tasks.
    Pack {
        /// The task module (.wasm).
        module: PathBuf,
        /// A file of signature records (`task NAME(...) -> TYPE;`, schema/ABI.md).
        #[arg(long)]
        signatures: PathBuf,
        /// Where to write the packed module [default: MODULE, in place].
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        limits: limits::LimitArgs,
    },
    /// Internal: compile one module read from standard input under the
    /// limits the parent process set (the runtime's compiler child).
    #[command(hide = true)]
    CompileModule,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::CompileModule = cli.command {
        return weft_runtime::compiler::serve_child();
    }
    let audit_log = match &cli.command {
        Command::Scheduler { args } => args.audit_log(),
        _ => None,
    };
    if let Err(failure) = logging::init(audit_log) {
        failure.print();
        return ExitCode::from(failure.exit_code);
    }
    let outcome = match cli.command {
        Command::Run {
            module,
            task,
            args,
            pretty,
            limits,
        } => local_run::run(&module, &task, &args, pretty, &limits),
        Command::Tasks { module, limits } => local_run::tasks(&module, &limits),
        Command::Pack {
            module,
            signatures,
            output,
            limits,
        } => pack::pack(&module, &signatures, output.as_ref(), &limits),
        Command::Scheduler { args } => servers::scheduler(&args),
        Command::Map { args } => map::map(&args),
        Command::Worker { args } => servers::worker(&args),
        Command::Local { args } => servers::local(&args),
        Command::Status { args } => status::status(&args),
        Command::Datasets { args } => datasets::datasets(&args),
        Command::Cert { command } => cert_cmd::run(command).map_err(Failure::task),
        Command::Tenant { command } => tenant_cmd::run(command).map_err(Failure::task),
        Command::CompileModule => unreachable!("served above"),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.print();
            ExitCode::from(failure.exit_code)
        }
    }
}

/// A failed command: what to print and the exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    error: anyhow::Error,
    exit_code: u8,
}

impl Failure {
    /// Prints the error on standard error. It may hold guest text (a task's
    /// panic or error message, a backtrace's names), so control characters
    /// are escaped: nothing but `\n` and `\t` reaches the terminal raw.
    fn print(&self) {
        let text = format!("{:#}", self.error);
        eprintln!("error: {}", weft_runtime::text::escape_for_terminal(&text));
    }

    /// The task ran and failed (exit code 1).
    pub(crate) fn task(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            error: error.into(),
            exit_code: 1,
        }
    }

    /// Bad input: a module, an argument or a flag (exit code 2).
    pub(crate) fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            error: error.into(),
            exit_code: 2,
        }
    }
}
