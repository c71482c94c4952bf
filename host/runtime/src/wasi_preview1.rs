//! A capability-free WASI preview1 layer, written for Weft, for core
//! modules whose language runtime needs WASI (Go, C with wasi-libc, Zig's
//! std): empty arguments and environment, standard output and error into
//! the task's log budget, standard input empty, clocks, random bytes,
//! `poll_oneoff` (clocks wait, slept in slices of at most [`POLL_WAIT_MAX`]
//! between which the task's timeout and interrupt are checked),
//! `sched_yield`, and `proc_exit` as a task error.
//! Every file and socket call is answered "bad descriptor" (there are no
//! descriptors past 2 and no preopened directories) or "not capable". The
//! table [`FUNCTIONS`] is the whole subset; the import check refuses any
//! other `wasi_snapshot_preview1` import, naming it. Clocks and random are
//! the only nondeterminism a task sees.
//!
//! Why not wasmtime-wasi: its preview1 support pulls in the component
//! model, the async engine and about 70 crates for what these twenty
//! functions do, and its defaults would have to be audited to stay free of
//! authority; here authority is absent by construction.

use crate::host_abi::{self, HostStop, TaskState, charge_host_copy};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};
use wasmtime::wasmparser::ValType::{self, I32, I64};
use wasmtime::{Caller, Extern, Linker, Memory, Trap};

/// The import module name of WASI preview1.
pub(crate) const MODULE: &str = "wasi_snapshot_preview1";

/// The subset a task may import: name, parameter types, result types.
pub(crate) const FUNCTIONS: &[(&str, &[ValType], &[ValType])] = &[
    ("args_get", &[I32, I32], &[I32]),
    ("args_sizes_get", &[I32, I32], &[I32]),
    ("environ_get", &[I32, I32], &[I32]),
    ("environ_sizes_get", &[I32, I32], &[I32]),
    ("clock_res_get", &[I32, I32], &[I32]),
    ("clock_time_get", &[I32, I64, I32], &[I32]),
    ("random_get", &[I32, I32], &[I32]),
    ("poll_oneoff", &[I32, I32, I32, I32], &[I32]),
    ("sched_yield", &[], &[I32]),
    ("proc_exit", &[I32], &[]),
    ("fd_write", &[I32, I32, I32, I32], &[I32]),
    ("fd_read", &[I32, I32, I32, I32], &[I32]),
    ("fd_close", &[I32], &[I32]),
    ("fd_seek", &[I32, I64, I32, I32], &[I32]),
    ("fd_fdstat_get", &[I32, I32], &[I32]),
    ("fd_fdstat_set_flags", &[I32, I32], &[I32]),
    ("fd_filestat_get", &[I32, I32], &[I32]),
    ("fd_prestat_get", &[I32, I32], &[I32]),
    ("fd_prestat_dir_name", &[I32, I32, I32], &[I32]),
    (
        "path_open",
        &[I32, I32, I32, I32, I32, I64, I64, I32, I32],
        &[I32],
    ),
    ("path_filestat_get", &[I32, I32, I32, I32, I32], &[I32]),
];

/// The longest slice `poll_oneoff` sleeps before it looks at the task's
/// interrupt and timeout again.
pub(crate) const POLL_WAIT_MAX: Duration = Duration::from_millis(10);

/// How much of the end of a task's standard error an exit's message keeps.
pub(crate) const STDERR_TAIL_BYTES: usize = 4096;

/// The most subscriptions one `poll_oneoff` may pass.
const POLL_SUBSCRIPTIONS_MAX: u32 = 4096;

/// The most iovecs one `fd_write` may pass (POSIX's usual `IOV_MAX`).
const IOVECS_MAX: u32 = 1024;

// WASI errno values.
const SUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EFAULT: i32 = 21;
const EINVAL: i32 = 28;
const ESPIPE: i32 = 70;
const ENOTCAPABLE: i32 = 76;

/// The standard descriptors: 0 (input, always empty), 1 and 2 (output and
/// error, into the log).
fn is_stdio(fd: i32) -> bool {
    (0..=2).contains(&fd)
}

type Ctx<'a> = Caller<'a, TaskState>;

/// The task's memory: the one the call set up, or (in a start function,
/// before that) its `memory` export.
fn memory(caller: &mut Ctx<'_>) -> Option<Memory> {
    if let Some(memory) = caller.data().memory {
        return Some(memory);
    }
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Some(memory),
        _ => None,
    }
}

/// Reads `len` guest bytes at `ptr`; `None` if out of bounds.
fn read(caller: &mut Ctx<'_>, ptr: i32, len: usize) -> Option<Vec<u8>> {
    let memory = memory(caller)?;
    let start = ptr as u32 as usize;
    memory
        .data(&*caller)
        .get(start..start.checked_add(len)?)
        .map(<[u8]>::to_vec)
}

/// Writes `bytes` at `ptr`; `EFAULT` if out of bounds.
fn write(caller: &mut Ctx<'_>, ptr: i32, bytes: &[u8]) -> Result<(), i32> {
    let memory = memory(caller).ok_or(EFAULT)?;
    memory
        .write(&mut *caller, ptr as u32 as usize, bytes)
        .map_err(|_| EFAULT)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut array = [0; 8];
    array.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(array)
}

fn errno(result: Result<(), i32>) -> wasmtime::Result<i32> {
    Ok(result.err().unwrap_or(SUCCESS))
}

/// Writes two zero counts (no arguments, no environment variables).
fn zero_sizes(mut caller: Ctx<'_>, count_ptr: i32, size_ptr: i32) -> wasmtime::Result<i32> {
    charge_host_copy(&mut caller, 0)?;
    errno(
        write(&mut caller, count_ptr, &0u32.to_le_bytes())
            .and_then(|()| write(&mut caller, size_ptr, &0u32.to_le_bytes())),
    )
}

/// Nothing to copy: the lists are empty.
fn empty_list(mut caller: Ctx<'_>, _list: i32, _buf: i32) -> wasmtime::Result<i32> {
    charge_host_copy(&mut caller, 0)?;
    Ok(SUCCESS)
}

/// The clocks: 0 realtime, 1 monotonic, 2 and 3 (process and thread CPU
/// time) also the monotonic clock. Nanoseconds.
fn now(clock: i32) -> Option<u64> {
    static START: OnceLock<Instant> = OnceLock::new();
    match clock {
        0 => Some(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        ),
        1..=3 => Some(START.get_or_init(Instant::now).elapsed().as_nanos() as u64 + 1),
        _ => None,
    }
}

fn clock_res_get(mut caller: Ctx<'_>, clock: i32, out: i32) -> wasmtime::Result<i32> {
    charge_host_copy(&mut caller, 0)?;
    if now(clock).is_none() {
        return Ok(EINVAL);
    }
    errno(write(&mut caller, out, &1u64.to_le_bytes()))
}

fn clock_time_get(
    mut caller: Ctx<'_>,
    clock: i32,
    _precision: i64,
    out: i32,
) -> wasmtime::Result<i32> {
    charge_host_copy(&mut caller, 0)?;
    let Some(time) = now(clock) else {
        return Ok(EINVAL);
    };
    errno(write(&mut caller, out, &time.to_le_bytes()))
}

fn random_get(mut caller: Ctx<'_>, buf: i32, len: i32) -> wasmtime::Result<i32> {
    let len = len as u32 as usize;
    charge_host_copy(&mut caller, len)?;
    let Some(memory) = memory(&mut caller) else {
        return Ok(EFAULT);
    };
    let start = buf as u32 as usize;
    let Some(bytes) = start
        .checked_add(len)
        .and_then(|end| memory.data_mut(&mut caller).get_mut(start..end))
    else {
        return Ok(EFAULT);
    };
    getrandom::fill(bytes).map_err(|e| {
        wasmtime::Error::new(HostStop::AbiViolation(format!(
            "random_get: the host has no randomness: {e}"
        )))
    })?;
    Ok(SUCCESS)
}

/// Waits until the earliest clock subscription is due (not at all if a
/// descriptor subscription is present: those fire at once, with `EBADF`),
/// then reports the subscriptions that fired. The wait is slept in slices
/// of at most [`POLL_WAIT_MAX`], between which the task's interrupt and its
/// timeout are checked, so a sleeping task stops as a running one does.
fn poll_oneoff(
    mut caller: Ctx<'_>,
    subscriptions: i32,
    events: i32,
    count: i32,
    events_written: i32,
) -> wasmtime::Result<i32> {
    const SUBSCRIPTION: usize = 48;
    const EVENT: usize = 32;
    let count = count as u32;
    if count == 0 || count > POLL_SUBSCRIPTIONS_MAX {
        charge_host_copy(&mut caller, 0)?;
        return Ok(EINVAL);
    }
    let count = count as usize;
    charge_host_copy(&mut caller, count * (SUBSCRIPTION + EVENT))?;
    let Some(input) = read(&mut caller, subscriptions, count * SUBSCRIPTION) else {
        return Ok(EFAULT);
    };
    // Each subscription: its userdata, tag, and for a clock the monotonic
    // time it is due (None: fires at once, with `error`).
    let mut pending = Vec::with_capacity(count);
    for subscription in input.chunks_exact(SUBSCRIPTION) {
        let userdata = &subscription[..8];
        let tag = subscription[8];
        match tag {
            0 => {
                let clock = u32_at(subscription, 16) as i32;
                let timeout = u64_at(subscription, 24);
                let absolute = u16::from_le_bytes([subscription[40], subscription[41]]) & 1 == 1;
                let (Some(time), Some(monotonic)) = (now(clock), now(1)) else {
                    pending.push((userdata, tag, None, EINVAL));
                    continue;
                };
                let wait = if absolute {
                    timeout.saturating_sub(time)
                } else {
                    timeout
                };
                pending.push((userdata, tag, Some(monotonic.saturating_add(wait)), SUCCESS));
            }
            1 | 2 => pending.push((userdata, tag, None, EBADF)),
            _ => return Ok(EINVAL),
        }
    }
    let due = if pending.iter().any(|(_, _, due, _)| due.is_none()) {
        None
    } else {
        pending.iter().filter_map(|(_, _, due, _)| *due).min()
    };
    if let Some(due) = due {
        loop {
            let state = caller.data();
            if state.interrupt.as_ref().is_some_and(|i| i.is_requested()) {
                return Err(HostStop::Interrupted.into());
            }
            if Instant::now() >= state.deadline {
                return Err(wasmtime::Error::new(Trap::Interrupt));
            }
            let left = due.saturating_sub(now(1).unwrap_or(u64::MAX));
            if left == 0 {
                break;
            }
            std::thread::sleep(Duration::from_nanos(left).min(POLL_WAIT_MAX));
        }
    }
    let now_monotonic = now(1).unwrap_or(u64::MAX);
    let mut output = Vec::with_capacity(count * EVENT);
    let mut fired = 0u32;
    for (userdata, tag, due, error) in pending {
        if due.is_some_and(|due| due > now_monotonic) {
            continue;
        }
        let mut event = [0u8; EVENT];
        event[..8].copy_from_slice(userdata);
        event[8..10].copy_from_slice(&(error as u16).to_le_bytes());
        event[10] = tag;
        output.extend_from_slice(&event);
        fired += 1;
    }
    errno(
        write(&mut caller, events, &output)
            .and_then(|()| write(&mut caller, events_written, &fired.to_le_bytes())),
    )
}

fn sched_yield(mut caller: Ctx<'_>) -> wasmtime::Result<i32> {
    charge_host_copy(&mut caller, 0)?;
    Ok(SUCCESS)
}

fn proc_exit(mut caller: Ctx<'_>, code: i32) -> wasmtime::Result<()> {
    charge_host_copy(&mut caller, 0)?;
    let tail = String::from_utf8_lossy(&caller.data().stderr_tail);
    Err(wasmtime::Error::new(HostStop::Exit {
        code,
        stderr_tail: tail.trim_end().to_string(),
    }))
}

/// Standard output (as info) and error (as warnings) go to the task's log,
/// one record per call; the end of standard error is also kept for an
/// exit's message. A write past the log budget is counted as dropped but
/// still reported as written, so the guest goes on. The iovec table (at
/// most [`IOVECS_MAX`] entries) and the bytes kept cost fuel.
fn fd_write(
    mut caller: Ctx<'_>,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    written: i32,
) -> wasmtime::Result<i32> {
    let count = iovs_len as u32;
    if fd != 1 && fd != 2 {
        charge_host_copy(&mut caller, 0)?;
        return Ok(EBADF);
    }
    if count > IOVECS_MAX {
        charge_host_copy(&mut caller, 0)?;
        return Ok(EINVAL);
    }
    charge_host_copy(&mut caller, count as usize * 8)?;
    let Some(vectors) = read(&mut caller, iovs, count as usize * 8) else {
        return Ok(EFAULT);
    };
    let Some(memory) = memory(&mut caller) else {
        return Ok(EFAULT);
    };
    let memory_len = memory.data_size(&caller) as u64;
    let in_memory = |v: &[u8]| u64::from(u32_at(v, 0)) + u64::from(u32_at(v, 4)) <= memory_len;
    if !vectors.chunks_exact(8).all(in_memory) {
        return Ok(EFAULT);
    }
    let total: u64 = vectors
        .chunks_exact(8)
        .map(|v| u64::from(u32_at(v, 4)))
        .sum();
    let logged = total > 0 && host_abi::log_would_fit(caller.data_mut(), total);
    let kept = match (logged, fd) {
        (true, _) => total,
        (false, 2) => total.min(STDERR_TAIL_BYTES as u64),
        (false, _) => 0,
    };
    charge_host_copy(&mut caller, kept as usize)?;
    // Gather the bytes to keep (all of them, or the last few for the tail)
    // from the memory in place.
    let data = memory.data(&caller);
    let mut bytes = Vec::with_capacity(kept as usize);
    let mut skip = total - kept;
    for vector in vectors.chunks_exact(8) {
        let (ptr, len) = (u64::from(u32_at(vector, 0)), u64::from(u32_at(vector, 4)));
        let dropped = skip.min(len);
        skip -= dropped;
        let range = usize::try_from(ptr + dropped)
            .ok()
            .zip(usize::try_from(ptr + len).ok())
            .and_then(|(start, end)| data.get(start..end));
        match range {
            Some(part) => bytes.extend_from_slice(part),
            None => return Ok(EFAULT),
        }
    }
    let state = caller.data_mut();
    if fd == 2 {
        let tail = &mut state.stderr_tail;
        tail.extend_from_slice(&bytes[bytes.len().saturating_sub(STDERR_TAIL_BYTES)..]);
        let excess = tail.len().saturating_sub(STDERR_TAIL_BYTES);
        tail.drain(..excess);
    }
    if logged {
        let text = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        if !text.is_empty() {
            host_abi::record_log(state, if fd == 1 { 3 } else { 2 }, text);
        }
    }
    let written_count = total.min(u64::from(u32::MAX)) as u32;
    errno(write(&mut caller, written, &written_count.to_le_bytes()))
}

/// Standard input is empty; nothing else can be read.
fn fd_read(
    mut caller: Ctx<'_>,
    fd: i32,
    _iovs: i32,
    _iovs_len: i32,
    read: i32,
) -> wasmtime::Result<i32> {
    charge_host_copy(&mut caller, 0)?;
    if fd != 0 {
        return Ok(EBADF);
    }
    errno(write(&mut caller, read, &0u32.to_le_bytes()))
}

fn fd_close(mut caller: Ctx<'_>, fd: i32) -> wasmtime::Result<i32> {
    charge_host_copy(&mut caller, 0)?;
    Ok(if is_stdio(fd) { SUCCESS } else { EBADF })
}

fn fd_seek(
    mut caller: Ctx<'_>,
    fd: i32,
    _offset: i64,
    _whence: i32,
    _out: i32,
) -> wasmtime::Result<i32> {
    charge_host_copy(&mut caller, 0)?;
    Ok(if is_stdio(fd) { ESPIPE } else { EBADF })
}

/// The standard descriptors are character devices: 0 readable, 1 and 2
/// writable.
fn fd_fdstat_get(mut caller: Ctx<'_>, fd: i32, out: i32) -> wasmtime::Result<i32> {
    charge_host_copy(&mut caller, 0)?;
    if !is_stdio(fd) {
        return Ok(EBADF);
    }
    const CHARACTER_DEVICE: u8 = 2;
    const RIGHT_FD_READ: u64 = 1 << 1;
    const RIGHT_FD_WRITE: u64 = 1 << 6;
    let mut stat = [0u8; 24];
    stat[0] = CHARACTER_DEVICE;
    let rights = if fd == 0 {
        RIGHT_FD_READ
    } else {
        RIGHT_FD_WRITE
    };
    stat[8..16].copy_from_slice(&rights.to_le_bytes());
    errno(write(&mut caller, out, &stat))
}

fn fd_fdstat_set_flags(mut caller: Ctx<'_>, fd: i32, _flags: i32) -> wasmtime::Result<i32> {
    charge_host_copy(&mut caller, 0)?;
    Ok(if is_stdio(fd) { SUCCESS } else { EBADF })
}

fn fd_filestat_get(mut caller: Ctx<'_>, fd: i32, out: i32) -> wasmtime::Result<i32> {
    charge_host_copy(&mut caller, 0)?;
    if !is_stdio(fd) {
        return Ok(EBADF);
    }
    let mut stat = [0u8; 64];
    stat[16] = 2; // a character device
    errno(write(&mut caller, out, &stat))
}

/// No directory is preopened.
fn no_preopen(mut caller: Ctx<'_>, _fd: i32, _out: i32) -> wasmtime::Result<i32> {
    charge_host_copy(&mut caller, 0)?;
    Ok(EBADF)
}

fn fd_prestat_dir_name(
    mut caller: Ctx<'_>,
    _fd: i32,
    _path: i32,
    _len: i32,
) -> wasmtime::Result<i32> {
    charge_host_copy(&mut caller, 0)?;
    Ok(EBADF)
}

#[allow(clippy::too_many_arguments)]
fn path_open(
    mut caller: Ctx<'_>,
    _dir: i32,
    _dir_flags: i32,
    _path: i32,
    _path_len: i32,
    _open_flags: i32,
    _rights: i64,
    _inherited: i64,
    _fd_flags: i32,
    _out: i32,
) -> wasmtime::Result<i32> {
    charge_host_copy(&mut caller, 0)?;
    Ok(ENOTCAPABLE)
}

fn path_filestat_get(
    mut caller: Ctx<'_>,
    _dir: i32,
    _flags: i32,
    _path: i32,
    _path_len: i32,
    _out: i32,
) -> wasmtime::Result<i32> {
    charge_host_copy(&mut caller, 0)?;
    Ok(ENOTCAPABLE)
}

/// Defines every function of [`FUNCTIONS`] under [`MODULE`].
pub(crate) fn add_to_linker(linker: &mut Linker<TaskState>) -> wasmtime::Result<()> {
    linker.func_wrap(MODULE, "args_get", empty_list)?;
    linker.func_wrap(MODULE, "args_sizes_get", zero_sizes)?;
    linker.func_wrap(MODULE, "environ_get", empty_list)?;
    linker.func_wrap(MODULE, "environ_sizes_get", zero_sizes)?;
    linker.func_wrap(MODULE, "clock_res_get", clock_res_get)?;
    linker.func_wrap(MODULE, "clock_time_get", clock_time_get)?;
    linker.func_wrap(MODULE, "random_get", random_get)?;
    linker.func_wrap(MODULE, "poll_oneoff", poll_oneoff)?;
    linker.func_wrap(MODULE, "sched_yield", sched_yield)?;
    linker.func_wrap(MODULE, "proc_exit", proc_exit)?;
    linker.func_wrap(MODULE, "fd_write", fd_write)?;
    linker.func_wrap(MODULE, "fd_read", fd_read)?;
    linker.func_wrap(MODULE, "fd_close", fd_close)?;
    linker.func_wrap(MODULE, "fd_seek", fd_seek)?;
    linker.func_wrap(MODULE, "fd_fdstat_get", fd_fdstat_get)?;
    linker.func_wrap(MODULE, "fd_fdstat_set_flags", fd_fdstat_set_flags)?;
    linker.func_wrap(MODULE, "fd_filestat_get", fd_filestat_get)?;
    linker.func_wrap(MODULE, "fd_prestat_get", no_preopen)?;
    linker.func_wrap(MODULE, "fd_prestat_dir_name", fd_prestat_dir_name)?;
    linker.func_wrap(MODULE, "path_open", path_open)?;
    linker.func_wrap(MODULE, "path_filestat_get", path_filestat_get)?;
    Ok(())
}
