//! A cluster of real processes, the peers' shape: a `weft scheduler` with a
//! tenants file and two `weft worker --nthreads 1` processes over loopback,
//! started from the `weft` binary beside the running one (`cargo build
//! --release -p weft-cli -p weft-bench`), and killed when dropped.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use weft_client::{Client, ClientOptions, Module, Secret};

/// A process killed on drop.
#[derive(Debug)]
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The cluster: its processes, its address and a token per tenant.
#[derive(Debug)]
pub struct ProcessCluster {
    _processes: Vec<Process>,
    pub addr: String,
    pub tokens: Vec<Secret>,
    dir: PathBuf,
}

impl Drop for ProcessCluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The `weft` binary beside this one.
pub fn weft_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let weft = exe.with_file_name("weft");
    if !weft.exists() {
        bail!(
            "{} is missing: build it with `cargo build --release -p weft-cli -p weft-bench`",
            weft.display()
        );
    }
    Ok(weft)
}

fn weft_output(weft: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new(weft)
        .args(args)
        .env("WEFT_LOG", "warn")
        .output()?;
    if !output.status.success() {
        bail!(
            "weft {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8(output.stdout)?.trim().to_string())
}

/// Starts `weft ARGS` and returns it once it printed a line with `marker`,
/// with the rest of that line.
fn start(weft: &Path, args: &[&str], marker: &str) -> Result<(Process, String)> {
    let mut child = Command::new(weft)
        .args(args)
        .env("WEFT_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("start weft {args:?}"))?;
    let stdout = child.stdout.take().context("its stdout")?;
    let process = Process(child);
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let Some(line) = lines.next() else {
            bail!("weft {args:?} exited before printing {marker:?}");
        };
        let line = line?;
        if let Some(at) = line.find(marker) {
            let rest = line[at + marker.len()..].trim().to_string();
            std::thread::spawn(move || for _ in lines {});
            return Ok((process, rest));
        }
    }
}

impl ProcessCluster {
    /// A scheduler whose tenants file has `tenants` tenants and a worker
    /// token, and two workers with one executor thread each.
    pub fn start(tenants: usize) -> Result<ProcessCluster> {
        let weft = weft_binary()?;
        let dir = std::env::temp_dir().join(format!("weft-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("tenants.toml");
        let _ = std::fs::remove_file(&file);
        let file_text = file.to_str().context("a UTF-8 path")?;
        let mut tokens = Vec::new();
        for t in 0..tenants {
            let name = format!("tenant-{t}");
            let token = weft_output(&weft, &["tenant", "add", &name, "--tenants", file_text])?;
            tokens.push(Secret::new(token));
        }
        let worker_token = weft_output(&weft, &["tenant", "add-worker", "--tenants", file_text])?;
        let token_file = dir.join("worker.token");
        std::fs::write(&token_file, format!("{worker_token}\n"))?;
        std::fs::set_permissions(
            &token_file,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )?;
        let scheduler_args = [
            "scheduler",
            "--listen",
            "127.0.0.1:0",
            "--tenants",
            file_text,
        ];
        let (scheduler, addr) = start(&weft, &scheduler_args, "listening on ")?;
        let mut processes = vec![scheduler];
        let token_text = token_file.to_str().context("a UTF-8 path")?;
        for _ in 0..2 {
            let args = [
                "worker",
                &addr,
                "--nthreads",
                "1",
                "--token-file",
                token_text,
            ];
            processes.push(start(&weft, &args, "serving data on ")?.0);
        }
        Ok(ProcessCluster {
            _processes: processes,
            addr,
            tokens,
            dir,
        })
    }

    /// A client of `tenant`, with the example tasks uploaded.
    pub async fn connect(&self, tenant: usize) -> Result<(Client, Module)> {
        let options = ClientOptions {
            token: Some(self.tokens[tenant].clone()),
            ..ClientOptions::default()
        };
        let client = Client::connect_with_options(&self.addr, options).await?;
        let module = client
            .upload_module_file(weft_guest_artifacts::EXAMPLE_TASKS)
            .await
            .context("upload the example tasks")?;
        Ok((client, module))
    }
}
