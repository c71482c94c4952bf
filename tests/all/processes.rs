//! Real `weft` processes for the end-to-end tests: started on 127.0.0.1
//! port 0, their address read from their first line of output (with a
//! deadline), and killed when the guard is dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a process may take to start listening.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// A running `weft` process, killed on drop.
pub struct Process {
    child: Child,
    /// The address it printed.
    pub addr: String,
    /// The token file it printed before it (`weft local`), if any.
    pub token_file: Option<String>,
}

impl Process {
    /// Starts `weft ARGS...` and waits for its `listening on ADDR` line.
    pub fn start(args: &[&str]) -> Process {
        Process::start_until(args, "listening on ")
    }

    /// Starts a worker of the scheduler at `scheduler` and waits until it
    /// has joined.
    /// More flags may be given (`--memory-limit`, ...). The worker runs
    /// under its nanny: `kill` ends both.
    pub fn worker_with(scheduler: &str, nthreads: u32, flags: &[&str]) -> Process {
        let nthreads = nthreads.to_string();
        let mut args = vec!["worker", scheduler, "--nthreads", &nthreads];
        args.extend_from_slice(flags);
        Process::start_until(&args, "serving data on ")
    }

    /// Starts `weft ARGS...` and waits for a line containing `marker`; the
    /// rest of that line is the address.
    fn start_until(args: &[&str], marker: &'static str) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(args)
            .env("WEFT_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start weft");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut token_file = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(path) = line.strip_prefix("token file: ") {
                    token_file = Some(path.to_string());
                }
                if let Some((_, addr)) = line.split_once(marker) {
                    let _ = tx.send((addr.to_string(), token_file.clone()));
                }
            }
        });
        let (addr, token_file) = rx.recv_timeout(START_DEADLINE).unwrap_or_else(|_| {
            panic!("weft {args:?} did not start listening within {START_DEADLINE:?}")
        });
        Process {
            child,
            addr,
            token_file,
        }
    }

    /// Kills the process now (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends SIGKILL to the process `pid` (a worker under a nanny, by the pid
/// the scheduler's status gives).
pub fn kill_pid(pid: u32) {
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -9 {pid} failed");
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `weft scheduler` process and `weft worker` processes (one executor
/// thread each, under their nannies), all killed on drop.
pub struct Cluster {
    pub scheduler: Process,
    pub workers: Vec<Process>,
}

impl Cluster {
    /// `workers` workers; extra flags for the scheduler and every worker.
    pub fn start(workers: usize, scheduler_flags: &[&str], worker_flags: &[&str]) -> Cluster {
        let mut args = vec!["scheduler", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(scheduler_flags);
        let scheduler = Process::start(&args);
        let workers = (0..workers)
            .map(|_| Process::worker_with(&scheduler.addr, 1, worker_flags))
            .collect();
        Cluster { scheduler, workers }
    }
}

/// A tokio runtime for a test's client side.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
