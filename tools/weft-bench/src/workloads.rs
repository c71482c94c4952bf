//! The workloads of `tools/bench` (its README defines them), run on any
//! Weft cluster through the futures API, each returning what it measured.

use anyhow::{Result, bail};
use std::time::{Duration, Instant};
use weft_client::{Client, Future, Module, futures_list};

/// What one run measured.
#[derive(Debug)]
pub struct Measured {
    /// Tasks in the run (for e, the one copy).
    pub tasks: u64,
    /// N, L, P, or for e the value's bytes.
    pub size: u64,
    /// From just before the first submit to the last result in hand.
    pub seconds: f64,
    /// What the run produced, and what it should have.
    pub result: i64,
    pub expected: i64,
}

/// The sizes of `workload`: (warm-up, measured).
pub fn sizes(workload: &str, quick: bool) -> Result<(u64, u64)> {
    Ok(match workload {
        "a" => (500, if quick { 10_000 } else { 100_000 }),
        "b" => (256, if quick { 4_096 } else { 65_536 }),
        "c" => (2, if quick { 10 } else { 100 }),
        "d" => (500, if quick { 100_000 } else { 1_000_000 }),
        "e" => (1 << 20, if quick { 64 << 20 } else { 1 << 30 }),
        other => bail!("unknown workload {other:?}; use a, b, c, d or e"),
    })
}

/// Runs `workload` at `size` once.
pub async fn run(client: &Client, module: &Module, workload: &str, size: u64) -> Result<Measured> {
    let n = size as i64;
    let started = Instant::now();
    let (tasks, result, expected) = match workload {
        "a" | "d" => {
            let futures = client.map::<i64, _>(module, "inc", (0..n).map(|i| (i,)))?;
            let submitted = started.elapsed();
            client
                .wait(&futures, None, weft_client::ReturnWhen::AllCompleted)
                .await?;
            let computed = started.elapsed();
            let values = client.gather(&futures).await?;
            eprintln!(
                "weft-bench {workload}: submitted in {:.3}s, computed by {:.3}s, gathered by {:.3}s",
                submitted.as_secs_f64(),
                computed.as_secs_f64(),
                started.elapsed().as_secs_f64()
            );
            (size, values.iter().sum::<i64>(), n * (n + 1) / 2)
        }
        "b" => {
            let mut level = client.map::<i64, _>(module, "inc", (0..n).map(|i| (i,)))?;
            let mut tasks = size;
            while level.len() > 1 {
                let pairs: Vec<(&Future<i64>, &Future<i64>)> =
                    level.chunks(2).map(|c| (&c[0], &c[1])).collect();
                let next = client.map::<i64, _>(module, "add", pairs)?;
                tasks += next.len() as u64;
                level = next;
            }
            (tasks, level[0].result().await?, n * (n + 1) / 2)
        }
        "c" => {
            let len: i64 = 1_250_000;
            let parts =
                client.map::<Vec<i64>, _>(module, "gen_partition", (0..n).map(|p| (p, len)))?;
            let kept = client.map::<Vec<i64>, _>(
                module,
                "keep_multiples_of_3",
                parts.iter().map(|f| (f,)),
            )?;
            let sums = client.map::<i64, _>(module, "sum", kept.iter().map(|f| (f,)))?;
            let total = client.submit::<i64>(module, "sum", (futures_list(&sums),))?;
            let limit = n * len;
            let multiples = (limit - 1) / 3;
            (
                3 * size + 1,
                total.result().await?,
                3 * multiples * (multiples + 1) / 2,
            )
        }
        "e" => return copy_between_workers(client, size).await,
        other => bail!("unknown workload {other}"),
    };
    Ok(Measured {
        tasks,
        size,
        seconds: started.elapsed().as_secs_f64(),
        result,
        expected,
    })
}

/// Workload e: a value of `size` bytes is scattered to the first worker
/// (not timed), then copied to the second by `replicate` (timed, until the
/// scheduler confirms the copy). The result is the number of workers then
/// holding a copy of at least `size` bytes; expected 2.
async fn copy_between_workers(client: &Client, size: u64) -> Result<Measured> {
    let workers = two_workers(client).await?;
    let value = vec![0x5au8; size as usize];
    let held = client.scatter_to(&[value], &workers[..1]).await?;
    let started = Instant::now();
    client.replicate(&held, 2).await?;
    let seconds = started.elapsed().as_secs_f64();
    let status = client.status(true).await?;
    let copies = status
        .workers
        .iter()
        .filter(|w| {
            w.has_what
                .iter()
                .any(|(key, bytes)| *key == held[0].key() && *bytes >= size)
        })
        .count();
    Ok(Measured {
        tasks: 1,
        size,
        seconds,
        result: copies as i64,
        expected: 2,
    })
}

/// The cluster's two workers, once both have joined (at most 30 s).
async fn two_workers(client: &Client) -> Result<Vec<weft_client::WorkerId>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let workers = client.workers().await?;
        if workers.len() >= 2 {
            return Ok(workers.iter().map(|w| w.id).collect());
        }
        if Instant::now() > deadline {
            bail!("only {} workers joined within 30 s", workers.len());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
