//! Workload e's yardstick: `bytes` copied over one loopback TCP stream from
//! this process to another (this program started again with
//! `--tcp-sink ADDR --tcp-bytes N`), in writes of 4 MiB, timed from the
//! first write to the other process's acknowledgement that it has read
//! every byte. No framing, no checksums, no allocation per write. Two
//! receivers: one that keeps the bytes in one fresh buffer of their size
//! (what any process that keeps the value pays: the kernel hands it zeroed
//! pages as they are first written), and one that reads them into one
//! 4 MiB buffer, reused (the transfer alone: what nothing that keeps the
//! value can beat).

use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::processes::Process;

const WRITE_BYTES: usize = 4 << 20;

/// Copies `bytes` to a child process (that keeps them in one fresh buffer
/// with `keep`) and returns the seconds it took.
pub fn measure(bytes: u64, keep: bool) -> Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?.to_string();
    let _sink = Process(
        Command::new(std::env::current_exe()?)
            .args(["--tcp-sink", &addr, "--tcp-bytes", &bytes.to_string()])
            .args(keep.then_some("--tcp-keep"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .context("start the receiving process")?,
    );
    let (mut stream, _) = listener.accept()?;
    stream.set_nodelay(true)?;
    let buffer: Vec<u8> = (0..WRITE_BYTES).map(|i| i as u8).collect();
    let started = Instant::now();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(WRITE_BYTES as u64) as usize;
        stream.write_all(&buffer[..n])?;
        left -= n as u64;
    }
    let mut ack = [0u8; 8];
    stream.read_exact(&mut ack)?;
    let seconds = started.elapsed().as_secs_f64();
    if u64::from_le_bytes(ack) != bytes {
        bail!(
            "the receiver read {} bytes of {bytes}",
            u64::from_le_bytes(ack)
        );
    }
    Ok(seconds)
}

/// The receiving side: reads `bytes` from `addr` and acknowledges them,
/// into one reused buffer of 4 MiB, or with `keep` into one fresh buffer
/// of `bytes` (what a process that keeps the value must do: the kernel
/// gives it zeroed pages as they are first written).
pub fn sink(addr: &str, bytes: u64, keep: bool) -> Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut read = 0u64;
    if keep {
        let mut value: Vec<u8> = Vec::with_capacity(bytes as usize);
        use std::os::fd::AsRawFd;
        while read < bytes {
            let want = ((bytes - read) as usize).min(WRITE_BYTES);
            // SAFETY: reads at most `want` bytes into the vector's spare
            // capacity (at least `bytes - read`), which the kernel fills
            // before `set_len` counts them; no initialization pass first,
            // as a value store receiving into its own buffer would do.
            let n = unsafe {
                libc::read(
                    stream.as_raw_fd(),
                    value.as_mut_ptr().add(value.len()).cast(),
                    want,
                )
            };
            if n < 0 {
                return Err(std::io::Error::last_os_error().into());
            }
            if n == 0 {
                break;
            }
            // SAFETY: the kernel wrote `n` bytes past the old length.
            unsafe { value.set_len(value.len() + n as usize) };
            read += n as u64;
        }
    } else {
        let mut buffer = vec![0u8; WRITE_BYTES];
        while read < bytes {
            let n = stream.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            read += n as u64;
        }
    }
    stream.write_all(&read.to_le_bytes())?;
    Ok(())
}
