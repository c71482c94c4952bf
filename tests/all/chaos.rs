//! Chaos on a real cluster: two clients' graphs, over 50,000 tasks, on
//! three workers under nannies, while a bounded loop SIGKILLs random
//! workers (their nannies start fresh processes) and SIGSTOPs others for a
//! while (the scheduler removes them at `--worker-ttl`; continued, they
//! rejoin with nothing). Every future of both clients settles with the
//! right value, and the loop stops by itself. `WEFT_CHAOS_SEED` replays
//! the choices of one run (not the timing).

use crate::cluster::reduce;
use crate::processes::{Cluster, tokio_runtime};
use std::time::{Duration, Instant};
use weft_client::{Client, ClientError, Module};

/// Leaves of the main graph: with its sums, 2 × LEAVES − 1 tasks.
const LEAVES: i64 = 25_600;
/// The second client's tasks.
const OTHERS: i64 = 2_000;
/// Chaos actions (a kill or a stop) at most.
const ACTIONS_MAX: u32 = 12;
/// How long the chaos, and then each wait for results, may take.
const DEADLINE: Duration = Duration::from_secs(240);

/// Sends `signal` to `pid`; false if there is no such process any more (a
/// worker that died since the status named it).
fn signal(pid: u32, signal: &str) -> bool {
    std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Continues the stopped workers when dropped, a failing test included.
struct Stopped(Vec<(u32, Instant)>);

impl Drop for Stopped {
    fn drop(&mut self) {
        for (pid, _) in self.0.drain(..) {
            signal(pid, "CONT");
        }
    }
}

async fn bounded<T>(
    future: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    tokio::time::timeout(DEADLINE, future)
        .await
        .unwrap_or(Err(ClientError::Timeout))
}

/// splitmix64, for the chaos choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

async fn upload(client: &Client) -> Module {
    client
        .upload_module(std::fs::read(weft_guest_artifacts::EXAMPLE_TASKS).unwrap())
        .await
        .unwrap()
}

#[test]
fn a_large_graph_survives_workers_killed_and_stopped_at_random() {
    let seed = std::env::var("WEFT_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("chaos seed {seed} (WEFT_CHAOS_SEED={seed} replays the choices)");
    let mut rng = Rng(seed);
    let cluster = Cluster::start(
        3,
        &["--worker-ttl", "2s", "--worker-deaths-max", "100"],
        &["--fetch-timeout", "2s"],
    );
    tokio_runtime().block_on(async {
        let started = Instant::now();
        let first = cluster.client().await;
        let second = cluster.client().await;
        let (module, other_module) = (upload(&first).await, upload(&second).await);
        let leaves = first
            .map::<i64, _>(&module, "inc", (0..LEAVES).map(|i| (i,)))
            .unwrap();
        let total = reduce(&first, &module, leaves.clone());
        let others = second
            .map::<i64, _>(&other_module, "inc", (0..OTHERS).map(|i| (-i,)))
            .unwrap();
        let others_total = reduce(&second, &other_module, others.clone());

        // Chaos until the graph is done or the actions are spent.
        let mut stopped = Stopped(Vec::new());
        let (mut kills, mut stops) = (0, 0);
        while kills + stops < ACTIONS_MAX && !total.done() {
            assert!(started.elapsed() < DEADLINE, "chaos ran past the deadline");
            tokio::time::sleep(Duration::from_millis(200 + rng.below(600))).await;
            stopped.0.retain(|(pid, until)| {
                let due = *until <= Instant::now();
                if due {
                    signal(*pid, "CONT");
                }
                !due
            });
            let Ok(status) = first.status(false).await else {
                continue;
            };
            let running: Vec<u32> = status
                .workers
                .iter()
                .map(|w| w.info.pid)
                .filter(|pid| stopped.0.iter().all(|(p, _)| p != pid))
                .collect();
            // Keep at least one worker running.
            if running.len() < 2 {
                continue;
            }
            let victim = running[rng.below(running.len() as u64) as usize];
            if rng.below(2) == 0 {
                kills += u32::from(signal(victim, "KILL"));
            } else if signal(victim, "STOP") {
                let pause = Duration::from_millis(1_000 + rng.below(3_000));
                stopped.0.push((victim, Instant::now() + pause));
                stops += 1;
            }
        }
        drop(stopped);
        eprintln!("chaos: {kills} kills, {stops} stops");

        let expected: i64 = (1..=LEAVES).sum();
        assert_eq!(bounded(total.result()).await.unwrap(), expected);
        let others_expected: i64 = (0..OTHERS).map(|i| 1 - i).sum();
        assert_eq!(
            bounded(others_total.result()).await.unwrap(),
            others_expected
        );
        // Every future of both clients settles, with its value.
        let values = bounded(first.gather(&leaves)).await.unwrap();
        assert!(values.iter().enumerate().all(|(i, v)| *v == i as i64 + 1));
        let values = bounded(second.gather(&others)).await.unwrap();
        assert!(values.iter().enumerate().all(|(i, v)| *v == 1 - i as i64));
    });
}
