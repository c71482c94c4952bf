//! Where and how Cranelift runs: a cap on compilations at once, and, with
//! [`CompilerPlacement::Subprocess`], each compilation in a child process
//! with an address-space ceiling (`RLIMIT_AS`, set by this process before
//! the child reads a byte of the module) and a wall-clock deadline (the
//! child is killed at it, and kills itself shortly after in case this
//! process died). A compile bomb then costs at most the deadline and the
//! ceiling, and only the child dies.
//!
//! The protocol on the child's pipes: this process writes [`REQUEST_MAGIC`],
//! the code settings and the module (a core module or a component: the
//! child tells them apart by their header, as this process does); the child answers with one status
//! byte, then the precompiled artifact (status 0) or wasmtime's error text
//! (status 1). The child is the same program as the runtime's user (the
//! `weft` binary's hidden `compile-module` command), built with the same
//! wasmtime, so its artifact loads here; wasmtime checks its header again.

use crate::config::{CompileLimits, CompilerPlacement};
use crate::engine::{CodeSettings, wasm_config};
use crate::error::{LoadError, ModuleLimit};
use crate::module::ModuleHash;
use std::io::{Read, Write};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};
use wasmtime::component::Component;
use wasmtime::wasmparser::Parser;
use wasmtime::{Engine, Module};

/// The first bytes of a request to a compiler child.
const REQUEST_MAGIC: &[u8; 14] = b"WEFT-COMPILE-1";
/// The largest module a child accepts.
const CHILD_MODULE_BYTES_MAX: u64 = 1 << 30;
/// How much of the child's standard error is kept for messages.
const CHILD_STDERR_BYTES_MAX: u64 = 16 << 10;
/// The child's exit code when its own watchdog stops it.
const CHILD_EXIT_DEADLINE: u8 = 3;
/// How long after the deadline the child's watchdog ends it, in case the
/// parent could not.
const CHILD_WATCHDOG_GRACE: Duration = Duration::from_secs(2);

/// Compiled code: a core module's or a component's.
#[derive(Clone)]
pub(crate) enum Compiled {
    Module(Module),
    Component(Component),
}

impl Compiled {
    /// Compiles in this process, as a component if the bytes are one.
    fn from_binary(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Compiled> {
        if Parser::is_component(bytes) {
            Component::from_binary(engine, bytes).map(Compiled::Component)
        } else {
            Module::from_binary(engine, bytes).map(Compiled::Module)
        }
    }

    /// Loads what [`Engine::precompile_module`] or
    /// [`Engine::precompile_component`] made.
    ///
    /// # Safety
    /// As wasmtime's `deserialize`: the bytes must come from a trusted
    /// precompilation for a compatible engine.
    pub(crate) unsafe fn deserialize(
        engine: &Engine,
        artifact: &[u8],
        component: bool,
    ) -> wasmtime::Result<Compiled> {
        // SAFETY: the caller's promise.
        unsafe {
            if component {
                Component::deserialize(engine, artifact).map(Compiled::Component)
            } else {
                Module::deserialize(engine, artifact).map(Compiled::Module)
            }
        }
    }

    /// The bytes of its compiled code in memory.
    pub(crate) fn image_bytes(&self) -> u64 {
        let image = match self {
            Compiled::Module(module) => module.image_range(),
            Compiled::Component(component) => component.image_range(),
        };
        (image.end as usize - image.start as usize) as u64
    }

    pub(crate) fn serialize(&self) -> wasmtime::Result<Vec<u8>> {
        match self {
            Compiled::Module(module) => module.serialize(),
            Compiled::Component(component) => component.serialize(),
        }
    }
}

/// Compiles modules under [`CompileLimits`].
#[derive(Debug)]
pub(crate) struct Compiler {
    limits: CompileLimits,
    settings: CodeSettings,
    running: Mutex<usize>,
    finished: Condvar,
    started: AtomicU64,
}

impl Compiler {
    pub(crate) fn new(limits: CompileLimits, settings: CodeSettings) -> Compiler {
        Compiler {
            limits,
            settings,
            running: Mutex::new(0),
            finished: Condvar::new(),
            started: AtomicU64::new(0),
        }
    }

    /// Compiles `bytes` for `engine`, waiting for a free compile slot first.
    pub(crate) fn compile(
        &self,
        engine: &Engine,
        hash: ModuleHash,
        bytes: &[u8],
    ) -> Result<Compiled, LoadError> {
        let _slot = self.take_slot();
        self.started.fetch_add(1, Ordering::Relaxed);
        match &self.limits.placement {
            CompilerPlacement::InProcess => {
                let module = Compiled::from_binary(engine, bytes).map_err(|e| {
                    let reason = format!("{e:#}");
                    if is_out_of_memory(&reason) {
                        // The machine's state, not the module's fault.
                        LoadError::Compiler {
                            module: hash,
                            message: reason,
                        }
                    } else {
                        LoadError::Invalid {
                            module: hash,
                            reason,
                        }
                    }
                })?;
                let size = module.image_bytes();
                if size > self.limits.compiled_bytes_max {
                    return Err(self.over(hash, ModuleLimit::CompiledBytes, size));
                }
                Ok(module)
            }
            CompilerPlacement::Subprocess { program, args } => {
                let mut command = Command::new(program);
                command.args(args);
                let mut artifact = self.compile_in_child(command, hash, bytes)?;
                // Drop the status byte in place: the artifact must start at
                // the allocation's (aligned) start for wasmtime to parse it.
                artifact.drain(..1);
                // SAFETY: the artifact comes from `precompile_module` in a
                // child running the program this runtime was configured with,
                // with the same code settings; wasmtime checks its header and
                // the engine's compatibility. This trusts the compiler
                // program as much as an in-process compile trusts Cranelift:
                // the child runs as the same user, so it is a boundary for
                // time, memory and crashes, not for security.
                let component = Parser::is_component(bytes);
                unsafe { Compiled::deserialize(engine, &artifact, component) }.map_err(|e| {
                    if component {
                        // The child has no instance pool; this process's
                        // pool checks a component's instances, memories and
                        // tables here. That is the component's doing, and
                        // would be again: a deterministic refusal.
                        LoadError::Invalid {
                            module: hash,
                            reason: format!(
                                "the component does not fit this runtime's pool: {e:#}"
                            ),
                        }
                    } else {
                        LoadError::Compiler {
                            module: hash,
                            message: format!("the compiler process's output did not load: {e:#}"),
                        }
                    }
                })
            }
        }
    }

    fn over(&self, hash: ModuleHash, limit: ModuleLimit, found: u64) -> LoadError {
        LoadError::OverLimit {
            module: hash,
            limit,
            found,
            allowed: self.limits.compiled_bytes_max,
            function: None,
        }
    }

    /// How many compilations have started.
    pub(crate) fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    fn take_slot(&self) -> SlotGuard<'_> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        while *running >= self.limits.concurrent_max.max(1) {
            running = self
                .finished
                .wait(running)
                .unwrap_or_else(|p| p.into_inner());
        }
        *running += 1;
        SlotGuard { compiler: self }
    }

    fn compile_in_child(
        &self,
        mut command: Command,
        hash: ModuleHash,
        bytes: &[u8],
    ) -> Result<Vec<u8>, LoadError> {
        let failed = |message: String| LoadError::Compiler {
            module: hash,
            message,
        };
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| failed(format!("could not start the compiler process: {e}")))?;
        if let Err(e) = limit_address_space(child.id(), self.limits.memory_bytes_max) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(failed(format!(
                "could not limit the compiler process's memory: {e}"
            )));
        }
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            unreachable!("all three pipes were asked for");
        };
        let header = self.request_header(bytes.len() as u64);
        let started = Instant::now();
        let output_max = self.limits.compiled_bytes_max.saturating_add(1);
        let memory_max = self.limits.memory_bytes_max;
        let (answer, stderr_text, status) = std::thread::scope(|scope| {
            scope.spawn(move || {
                // A child that died early closes the pipe; its status says why.
                let _ = stdin
                    .write_all(&header)
                    .and_then(|()| stdin.write_all(bytes));
            });
            let (tx, rx) = mpsc::channel();
            scope.spawn(move || {
                let _ = tx.send(read_bounded(stdout, output_max));
            });
            let stderr_reader = scope.spawn(move || read_bounded(stderr, CHILD_STDERR_BYTES_MAX));
            let answer = match rx.recv_timeout(self.limits.timeout) {
                Ok(answer) => {
                    if answer.len() as u64 > output_max {
                        // Over compiled_bytes_max: it would block writing the
                        // rest, which nobody reads.
                        let _ = child.kill();
                    }
                    Some(answer)
                }
                Err(_) => {
                    let _ = child.kill();
                    None
                }
            };
            let status = child.wait();
            let stderr_text = stderr_reader.join().unwrap_or_default();
            (answer, stderr_text, status)
        });
        let over = |limit: ModuleLimit, allowed: u64| LoadError::OverLimit {
            module: hash,
            limit,
            found: started.elapsed().as_millis() as u64,
            allowed,
            function: None,
        };
        let timeout_ms = self.limits.timeout.as_millis() as u64;
        let stderr_text = String::from_utf8_lossy(&stderr_text).into_owned();
        let Some(answer) = answer else {
            return Err(over(ModuleLimit::CompileTime, timeout_ms));
        };
        let status = status.map_err(|e| failed(format!("waiting for the compiler: {e}")))?;
        if status.code() == Some(i32::from(CHILD_EXIT_DEADLINE)) {
            return Err(over(ModuleLimit::CompileTime, timeout_ms));
        }
        if answer.len() as u64 > output_max {
            return Err(self.over(hash, ModuleLimit::CompiledBytes, answer.len() as u64 - 1));
        }
        match answer.split_first() {
            Some((0, _)) if status.success() => Ok(answer),
            Some((1, message)) if status.success() => {
                let reason = String::from_utf8_lossy(message).into_owned();
                if is_out_of_memory(&reason) {
                    return Err(over(ModuleLimit::CompileMemory, memory_max));
                }
                Err(LoadError::Invalid {
                    module: hash,
                    reason,
                })
            }
            _ if is_out_of_memory(&stderr_text) => {
                Err(over(ModuleLimit::CompileMemory, memory_max))
            }
            _ => Err(failed(format!(
                "the compiler process ended with {status}: {}",
                stderr_text.trim()
            ))),
        }
    }

    fn request_header(&self, module_len: u64) -> Vec<u8> {
        let mut header = REQUEST_MAGIC.to_vec();
        header.push(u8::from(self.settings.fuel_metering));
        header.extend_from_slice(&(self.settings.wasm_stack_bytes_max as u64).to_le_bytes());
        header.extend_from_slice(&(self.limits.timeout.as_millis() as u64).to_le_bytes());
        header.extend_from_slice(&module_len.to_le_bytes());
        header
    }
}

struct SlotGuard<'a> {
    compiler: &'a Compiler,
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        let mut running = self
            .compiler
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *running -= 1;
        self.compiler.finished.notify_one();
    }
}

/// Whether a compiler's message says it ran out of memory.
fn is_out_of_memory(text: &str) -> bool {
    text.contains("memory allocation of")
        || text.contains("out of memory")
        || text.contains("Cannot allocate memory")
}

/// Reads everything, or `max + 1` bytes if there is more than `max`.
fn read_bounded(reader: impl Read, max: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = reader.take(max.saturating_add(1)).read_to_end(&mut out);
    out
}

#[cfg(target_os = "linux")]
fn limit_address_space(pid: u32, bytes: u64) -> std::io::Result<()> {
    use rustix::process::{Pid, Resource, Rlimit, prlimit};
    let pid = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| std::io::Error::other("bad child pid"))?;
    let limit = Rlimit {
        current: Some(bytes),
        maximum: Some(bytes),
    };
    prlimit(Some(pid), Resource::As, limit)
        .map(|_| ())
        .map_err(std::io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn limit_address_space(_pid: u32, _bytes: u64) -> std::io::Result<()> {
    Err(std::io::Error::other(
        "compiler memory ceilings need Linux (prlimit)",
    ))
}

/// The compiler child's whole life: read one request from standard input,
/// compile it, answer on standard output. Call it from a program's `main`
/// for the command named in [`CompilerPlacement::Subprocess`].
pub fn serve_child() -> ExitCode {
    match serve_child_inner() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("weft compiler: {message}");
            ExitCode::from(2)
        }
    }
}

fn serve_child_inner() -> Result<(), String> {
    let mut stdin = std::io::stdin().lock();
    let mut header = [0u8; REQUEST_MAGIC.len() + 1 + 8 + 8 + 8];
    stdin
        .read_exact(&mut header)
        .map_err(|e| format!("reading the request: {e}"))?;
    let (magic, rest) = header.split_at(REQUEST_MAGIC.len());
    if magic != REQUEST_MAGIC {
        return Err("standard input is not a compile request".into());
    }
    let word = |at: usize| u64::from_le_bytes(rest[at..at + 8].try_into().expect("8 bytes"));
    let settings = CodeSettings {
        fuel_metering: rest[0] != 0,
        wasm_stack_bytes_max: usize::try_from(word(1)).map_err(|_| "bad stack size")?,
    };
    let timeout = Duration::from_millis(word(9));
    let module_len = word(17);
    if module_len > CHILD_MODULE_BYTES_MAX {
        return Err(format!("a module of {module_len} bytes is too large"));
    }
    std::thread::Builder::new()
        .name("weft-compile-watchdog".into())
        .spawn(move || {
            std::thread::sleep(timeout + CHILD_WATCHDOG_GRACE);
            std::process::exit(i32::from(CHILD_EXIT_DEADLINE));
        })
        .map_err(|e| format!("starting the watchdog: {e}"))?;
    let mut module = Vec::new();
    stdin
        .take(module_len)
        .read_to_end(&mut module)
        .map_err(|e| format!("reading the module: {e}"))?;
    if module.len() as u64 != module_len {
        return Err("the module was cut short".into());
    }
    let engine = Engine::new(&wasm_config(&settings))
        .map_err(|e| format!("could not create the engine: {e:#}"))?;
    let mut answer = Vec::new();
    let artifact = if Parser::is_component(&module) {
        engine.precompile_component(&module)
    } else {
        engine.precompile_module(&module)
    };
    match artifact {
        Ok(artifact) => {
            answer.push(0);
            answer.extend_from_slice(&artifact);
        }
        Err(error) => {
            answer.push(1);
            answer.extend_from_slice(format!("{error:#}").as_bytes());
        }
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&answer)
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("writing the answer: {e}"))
}
