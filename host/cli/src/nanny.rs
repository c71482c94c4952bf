//! The nanny: `weft worker` runs the worker as a child process
//! (`weft worker --no-nanny ...`) and starts a fresh one whenever it exits
//! to be restarted (a cluster restart, status 75), passes its memory
//! limit (status 76) or dies (killed, crashed). A clean exit (status 0) or
//! a usage error (status 2) ends the nanny too.
//!
//! The child's standard input is a pipe from the nanny that is never
//! written: when the nanny dies, even by SIGKILL, the child reads end of
//! file and exits ([`exit_when_parent_dies`]), so no worker outlives its
//! nanny. The child's standard output is passed through, line by line.

use crate::Failure;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use weft_proto::messages::{EXIT_MEMORY, EXIT_RESTART};

/// Set in the child's environment: it runs under a nanny, and its value
/// is the worker instance (the same for every child of this nanny, so that
/// a cluster restart knows the worker is back).
pub(crate) const NANNY_ENV: &str = "WEFT_NANNY";

/// A child that exits (not killed by a signal) sooner than this after
/// starting counts as a failed start.
const QUICK_EXIT: Duration = Duration::from_secs(2);
/// Failed starts in a row after which the nanny gives up (with the pauses
/// between them, about a minute: a scheduler that is away that long).
const QUICK_EXITS_MAX: u32 = 20;
/// The longest pause between starts.
const PAUSE_MAX: Duration = Duration::from_secs(5);

/// Runs `weft ARGS --no-nanny` and restarts it as described above.
pub(crate) fn run(args: &[String]) -> Result<(), Failure> {
    let exe = std::env::current_exe().map_err(Failure::usage)?;
    let mut quick_exits = 0;
    let instance = weft_worker::new_instance().to_string();
    loop {
        let started = Instant::now();
        let mut child = Command::new(&exe)
            .args(args)
            .arg("--no-nanny")
            .env(NANNY_ENV, &instance)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| Failure::usage(anyhow::anyhow!("could not start the worker: {e}")))?;
        // Held open (never written) for as long as this nanny lives.
        let _lifeline = child.stdin.take();
        let stdout = child.stdout.take().expect("piped");
        let relay = std::thread::spawn(move || {
            let mut out = std::io::stdout();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
        });
        let status = child.wait().map_err(Failure::usage)?;
        let _ = relay.join();
        let why = match status.code() {
            Some(0) => return Ok(()),
            Some(2) => {
                return Err(Failure::usage(anyhow::anyhow!(
                    "the worker refused its settings (see above)"
                )));
            }
            Some(EXIT_RESTART) => "the cluster is restarting".to_string(),
            Some(EXIT_MEMORY) => "it passed its memory limit".to_string(),
            Some(code) => format!("it exited with status {code}"),
            None => "it was killed by a signal".to_string(),
        };
        // A quick death by a signal was done to the worker (a kill), not a
        // failed start: only quick exits of its own count.
        let failed_start = matches!(status.code(), Some(code) if code != EXIT_RESTART);
        if started.elapsed() < QUICK_EXIT && failed_start {
            quick_exits += 1;
            if quick_exits >= QUICK_EXITS_MAX {
                return Err(Failure::task(anyhow::anyhow!(
                    "the worker died {quick_exits} times in a row within {QUICK_EXIT:?} of starting; giving up"
                )));
            }
            std::thread::sleep((Duration::from_millis(200) * quick_exits).min(PAUSE_MAX));
        } else {
            quick_exits = 0;
            if started.elapsed() < QUICK_EXIT && status.code().is_none() {
                // Killed soon after starting, again and again: not a tight loop.
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        tracing::warn!(reason = %why, "nanny: starting a fresh worker process");
    }
}

/// In a worker run by a nanny: exits the process when the nanny's pipe on
/// standard input closes (the nanny is gone).
pub(crate) fn exit_when_parent_dies() {
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        let mut stdin = std::io::stdin();
        loop {
            match stdin.read(&mut sink) {
                Ok(0) | Err(_) => {
                    eprintln!("weft worker: the nanny is gone; exiting");
                    std::process::exit(1);
                }
                Ok(_) => {}
            }
        }
    });
}
