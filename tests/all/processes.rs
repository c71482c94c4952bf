//! Real `weft` processes for the end-to-end tests: started on 127.0.0.1
//! port 0, their address read from their first line of output (with a
//! deadline), and killed when the guard is dropped.
//!
//! A [`Cluster`] runs plain by default and secure (TLS on every port, a
//! tenants file, every client and worker with a token) when
//! `WEFT_TEST_SECURE=1`, as Dask's `test_tls_functional` reruns its suite:
//! tests connect through [`Cluster::client`] and pass
//! [`Cluster::cli_args`] to the `weft` commands they run, so the same test
//! covers both. The credentials live in a private temporary directory
//! ([`Credentials`]) made with `weft cert init` and `weft tenant`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::path::PathBuf;
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
    /// With `WEFT_TEST_LOG_DIR` set, every process logs at level info into
    /// its own file there (for a failure that needs its story).
    fn start_until(args: &[&str], marker: &'static str) -> Process {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let log = std::env::var_os("WEFT_TEST_LOG_DIR").map(|dir| {
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Path::new(&dir).join(format!("{}-{}-{n}.log", args[0], std::process::id()))
        });
        Process::start_logged(args, marker, log.as_deref())
    }

    /// [`Process::start_until`], its log (at level info) appended to `log`
    /// when given, else on the test's standard error (warnings only).
    pub fn start_logged(args: &[&str], marker: &'static str, log: Option<&Path>) -> Process {
        let (level, stderr) = match log {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("open the process's log");
                ("info", Stdio::from(file))
            }
            None => ("warn", Stdio::inherit()),
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(args)
            .env("WEFT_LOG", level)
            .stdout(Stdio::piped())
            .stderr(stderr)
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

/// Sends `signal` (`"STOP"`, `"CONT"`, ...) to the process `pid`.
pub fn signal_pid(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Who a client of a secure cluster connects as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// Tenant `alice`, a write token: what [`Cluster::client`] uses.
    Alice,
    /// Tenant `bob`, a write token.
    Bob,
    /// Tenant `alice`, an admin token: restarts the worker processes and
    /// rebalances the whole cluster, which a write token may not.
    Admin,
}

impl Identity {
    const ALL: [Identity; 3] = [Identity::Alice, Identity::Bob, Identity::Admin];

    /// The `weft tenant add` arguments that make its token.
    fn tenant_add(self) -> [&'static str; 5] {
        let (name, role) = match self {
            Identity::Alice => ("alice", "write"),
            Identity::Bob => ("bob", "write"),
            Identity::Admin => ("alice", "admin"),
        };
        ["tenant", "add", name, "--role", role]
    }

    fn file_name(self) -> &'static str {
        match self {
            Identity::Alice => "alice.token",
            Identity::Bob => "bob.token",
            Identity::Admin => "admin.token",
        }
    }
}

/// The credentials of a secure cluster, in a private temporary directory
/// removed on drop: the certificates of `weft cert init`, the tenants file
/// and one token file per [`Identity`] and for the workers.
pub struct Credentials {
    dir: tempfile::TempDir,
}

impl Credentials {
    /// Makes them with the `weft` commands an operator would run.
    fn create() -> Credentials {
        let dir = tempfile::Builder::new()
            .prefix("weft-test-secure-")
            .tempdir()
            .expect("a private temporary directory");
        let credentials = Credentials { dir };
        let tls = credentials.tls_dir();
        weft_output(&["cert", "init", tls.to_str().expect("a UTF-8 path")]);
        let tenants = credentials.tenants_file();
        let tenants = tenants.to_str().expect("a UTF-8 path");
        for identity in Identity::ALL {
            let mut args = identity.tenant_add().to_vec();
            args.extend(["--tenants", tenants]);
            credentials.keep_token(identity.file_name(), &weft_output(&args));
        }
        let worker = weft_output(&["tenant", "add-worker", "--tenants", tenants]);
        credentials.keep_token("worker.token", &worker);
        credentials
    }

    /// Writes the one token `weft tenant` printed to a file only we may read.
    fn keep_token(&self, name: &str, printed: &str) {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let token = printed.trim();
        assert!(
            token.starts_with("weft_") && !token.contains(char::is_whitespace),
            "`weft tenant` printed more than a token: {printed:?}"
        );
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(self.dir.path().join(name))
            .expect("create a token file");
        writeln!(file, "{token}").expect("write a token file");
    }

    fn tls_dir(&self) -> PathBuf {
        self.dir.path().join("tls")
    }

    fn tls_file(&self, name: &str) -> String {
        path_text(&self.tls_dir().join(name))
    }

    /// The tenants file the scheduler reads.
    pub fn tenants_file(&self) -> PathBuf {
        self.dir.path().join("tenants.toml")
    }

    /// Runs `weft tenant set` on the tenants file: `name`'s settings
    /// (`FIELD=VALUE`), or the defaults' with `None`. A running scheduler
    /// picks the change up by itself.
    pub fn set_tenant(&self, name: Option<&str>, settings: &[&str]) {
        let tenants = path_text(&self.tenants_file());
        let mut args = vec!["tenant"];
        match name {
            Some(name) => args.extend(["set", name]),
            None => args.push("set-defaults"),
        }
        args.extend_from_slice(settings);
        args.extend(["--tenants", tenants.as_str()]);
        weft_output(&args);
    }

    /// The cluster's CA certificate, which clients verify against.
    pub fn ca(&self) -> String {
        self.tls_file(weft_proto::tls::CA_CERT_FILE)
    }

    /// The file holding `identity`'s token.
    pub fn token_file(&self, identity: Identity) -> String {
        path_text(&self.dir.path().join(identity.file_name()))
    }

    /// `identity`'s token.
    pub fn token(&self, identity: Identity) -> weft_client::Secret {
        let text = std::fs::read_to_string(self.token_file(identity)).expect("a token file");
        weft_client::Secret::new(text.trim())
    }

    /// What a client verifies the scheduler and the workers with.
    pub fn client_tls(&self) -> weft_client::ClientTls {
        let roots = weft_proto::tls::TrustRoots::from_file(self.ca()).expect("the CA");
        weft_client::ClientTls::new(&roots).expect("a client TLS configuration")
    }

    fn scheduler_flags(&self) -> Vec<String> {
        use weft_proto::tls::{SCHEDULER_CERT_FILE, SCHEDULER_KEY_FILE};
        vec![
            "--tenants".into(),
            path_text(&self.tenants_file()),
            "--tls-ca".into(),
            self.ca(),
            "--tls-cert".into(),
            self.tls_file(SCHEDULER_CERT_FILE),
            "--tls-key".into(),
            self.tls_file(SCHEDULER_KEY_FILE),
        ]
    }

    fn worker_flags(&self) -> Vec<String> {
        use weft_proto::tls::{WORKER_CERT_FILE, WORKER_KEY_FILE};
        vec![
            "--token-file".into(),
            path_text(&self.dir.path().join("worker.token")),
            "--tls-ca".into(),
            self.ca(),
            "--tls-cert".into(),
            self.tls_file(WORKER_CERT_FILE),
            "--tls-key".into(),
            self.tls_file(WORKER_KEY_FILE),
        ]
    }
}

fn path_text(path: &std::path::Path) -> String {
    path.to_str().expect("a UTF-8 path").to_string()
}

/// `future`'s result, or [`weft_client::ClientError::Timeout`] if it takes
/// longer than `deadline`.
pub async fn within<T>(
    deadline: Duration,
    future: impl std::future::Future<Output = Result<T, weft_client::ClientError>>,
) -> Result<T, weft_client::ClientError> {
    tokio::time::timeout(deadline, future)
        .await
        .unwrap_or(Err(weft_client::ClientError::Timeout))
}

/// Runs `weft ARGS...` to completion and returns its standard output.
fn weft_output(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .env("WEFT_LOG", "warn")
        .output()
        .expect("run weft");
    assert!(output.status.success(), "weft {args:?}: {output:?}");
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Whether `WEFT_TEST_SECURE` asks for secure clusters: `1` yes, unset,
/// empty or `0` no; anything else is a mistake worth stopping for.
fn secure_by_environment() -> bool {
    match std::env::var("WEFT_TEST_SECURE").as_deref() {
        Ok("1") => true,
        Ok("" | "0") | Err(std::env::VarError::NotPresent) => false,
        other => panic!("WEFT_TEST_SECURE must be 1 or 0, not {other:?}"),
    }
}

/// A `weft scheduler` process and `weft worker` processes (one executor
/// thread each, under their nannies), all killed on drop; secure or not
/// (see the module's documentation).
pub struct Cluster {
    pub scheduler: Process,
    pub workers: Vec<Process>,
    /// Dropped after the processes (fields drop in order).
    credentials: Option<Credentials>,
}

impl Cluster {
    /// `workers` workers; extra flags for the scheduler and every worker.
    /// Secure if `WEFT_TEST_SECURE=1`.
    pub fn start(workers: usize, scheduler_flags: &[&str], worker_flags: &[&str]) -> Cluster {
        Cluster::start_with(
            secure_by_environment(),
            workers,
            scheduler_flags,
            worker_flags,
        )
    }

    /// A secure cluster whose processes log (at level info) into files of
    /// `logs` (`scheduler.log`, `worker-N.log`), the scheduler's audit
    /// events also into `audit.jsonl` there.
    pub fn start_secure_logged(workers: usize, logs: &Path) -> Cluster {
        let credentials = Credentials::create();
        let audit = path_text(&logs.join("audit.jsonl"));
        let mut args = vec![
            "scheduler",
            "--listen",
            "127.0.0.1:0",
            "--audit-log",
            &audit,
        ];
        let secure_scheduler = credentials.scheduler_flags();
        args.extend(secure_scheduler.iter().map(String::as_str));
        let scheduler =
            Process::start_logged(&args, "listening on ", Some(&logs.join("scheduler.log")));
        let secure_worker = credentials.worker_flags();
        let workers = (0..workers)
            .map(|index| {
                let mut args = vec!["worker", scheduler.addr.as_str(), "--nthreads", "1"];
                args.extend(secure_worker.iter().map(String::as_str));
                let log = logs.join(format!("worker-{index}.log"));
                Process::start_logged(&args, "serving data on ", Some(&log))
            })
            .collect();
        Cluster {
            scheduler,
            workers,
            credentials: Some(credentials),
        }
    }

    /// [`Cluster::start`], secure whatever the environment says.
    pub fn start_secure(
        workers: usize,
        scheduler_flags: &[&str],
        worker_flags: &[&str],
    ) -> Cluster {
        Cluster::start_with(true, workers, scheduler_flags, worker_flags)
    }

    fn start_with(
        secure: bool,
        workers: usize,
        scheduler_flags: &[&str],
        worker_flags: &[&str],
    ) -> Cluster {
        let credentials = secure.then(Credentials::create);
        let (secure_scheduler, secure_worker) = credentials
            .as_ref()
            .map(|c| (c.scheduler_flags(), c.worker_flags()))
            .unwrap_or_default();
        let mut args = vec!["scheduler", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(scheduler_flags);
        args.extend(secure_scheduler.iter().map(String::as_str));
        let scheduler = Process::start(&args);
        let mut flags = worker_flags.to_vec();
        flags.extend(secure_worker.iter().map(String::as_str));
        let workers = (0..workers)
            .map(|_| Process::worker_with(&scheduler.addr, 1, &flags))
            .collect();
        Cluster {
            scheduler,
            workers,
            credentials,
        }
    }

    /// The credentials, if the cluster is secure.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// How a client connects as `identity`: its token and TLS when secure,
    /// the defaults otherwise (every identity is then the one open tenant).
    pub fn client_options(&self, identity: Identity) -> weft_client::ClientOptions {
        match &self.credentials {
            None => weft_client::ClientOptions::default(),
            Some(credentials) => weft_client::ClientOptions {
                token: Some(credentials.token(identity)),
                tls: Some(credentials.client_tls()),
                ..weft_client::ClientOptions::default()
            },
        }
    }

    /// A client of tenant alice (when secure).
    pub async fn client(&self) -> weft_client::Client {
        self.client_as(Identity::Alice).await
    }

    /// A client connected as `identity` (when secure).
    pub async fn client_as(&self, identity: Identity) -> weft_client::Client {
        self.client_at(&self.scheduler.addr, identity).await
    }

    /// A client of tenant alice's admin token (when secure).
    pub async fn admin_client(&self) -> weft_client::Client {
        self.client_as(Identity::Admin).await
    }

    /// A client connected as `identity` through `addr` (a relay in front
    /// of the scheduler: TLS goes through it, host names are not checked).
    pub async fn client_at(&self, addr: &str, identity: Identity) -> weft_client::Client {
        weft_client::Client::connect_with_options(addr, self.client_options(identity))
            .await
            .unwrap_or_else(|e| panic!("connect to {addr} as {identity:?}: {e}"))
    }

    /// The flags that make a `weft` client command (`status`, `datasets`,
    /// `map`) connect as tenant alice: `--token-file F --tls-ca CA` when
    /// secure, none otherwise.
    pub fn cli_args(&self) -> Vec<String> {
        match &self.credentials {
            None => Vec::new(),
            Some(credentials) => vec![
                "--token-file".into(),
                credentials.token_file(Identity::Alice),
                "--tls-ca".into(),
                credentials.ca(),
            ],
        }
    }

    /// The same as environment variables (`WEFT_TOKEN`, `WEFT_TLS_CA`) for
    /// a client child process; none when not secure.
    pub fn cli_env(&self) -> Vec<(&'static str, String)> {
        match &self.credentials {
            None => Vec::new(),
            Some(credentials) => vec![
                (
                    "WEFT_TOKEN",
                    credentials.token(Identity::Alice).expose().to_string(),
                ),
                ("WEFT_TLS_CA", credentials.ca()),
            ],
        }
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
