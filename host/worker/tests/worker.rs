//! The worker against a fake scheduler, over loopback.

mod common;

use common::*;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weft_core::{SpecArg, WorkerId};
use weft_proto::messages::{WorkerCommand, WorkerReport};
use weft_schema::ids::TenantId;
use weft_worker::WorkerError;

#[tokio::test]
async fn a_task_runs_and_its_result_is_served() {
    let scheduler = FakeScheduler::new().await;
    let (worker, mut link) = scheduler.start(1, config(scheduler.addr, 2)).await;
    link.send(WorkerCommand::Compute(compute(
        key(1),
        "inc",
        vec![value(&41i64)],
        vec![],
    )))
    .await;
    match link.report().await {
        WorkerReport::Finished {
            key: done,
            run,
            nbytes,
            ..
        } => {
            assert_eq!((done, run, nbytes), (key(1), 1, 8));
        }
        other => panic!("expected Finished, got {other:?}"),
    }
    assert_eq!(link.modules_sent, 1);
    let mut client = DataClient::connect(worker.data_addr()).await;
    assert_eq!(client.get_i64(key(1)).await, 42);
    assert_eq!(worker.stored_keys(), 1);
    assert_eq!(worker.stored_bytes(), 8);

    // The module is asked for once: a second task runs without asking.
    link.run(compute(
        key(2),
        "add",
        vec![value(&1i64), value(&2i64)],
        vec![],
    ))
    .await;
    assert_eq!(link.modules_sent, 1);
    assert_eq!(client.get_i64(key(2)).await, 3);
}

#[tokio::test]
async fn an_input_is_fetched_from_a_peer() {
    let scheduler = FakeScheduler::new().await;
    let (a, mut link_a) = scheduler.start(1, config(scheduler.addr, 1)).await;
    let (b, mut link_b) = scheduler.start(2, config(scheduler.addr, 1)).await;
    link_a
        .run(compute(key(1), "inc", vec![value(&1i64)], vec![]))
        .await;

    let holders = [(link_a.id, a.data_addr())];
    link_b
        .send(WorkerCommand::Compute(compute(
            key(2),
            "add",
            vec![SpecArg::Key(key(1)), value(&10i64)],
            vec![input(key(1), &holders)],
        )))
        .await;
    assert_eq!(link_b.report().await, WorkerReport::Replica { key: key(1) });
    link_b.finished(key(2)).await;

    let mut client = DataClient::connect(b.data_addr()).await;
    assert_eq!(client.get_i64(key(2)).await, 12);
    // The replica is held and served too.
    assert_eq!(client.get_i64(key(1)).await, 2);

    // An input used twice is fetched once and spliced twice.
    link_a
        .run(compute(key(3), "inc", vec![value(&4i64)], vec![]))
        .await;
    link_b
        .send(WorkerCommand::Compute(compute(
            key(4),
            "add",
            vec![SpecArg::Key(key(3)), SpecArg::Key(key(3))],
            vec![input(key(3), &holders)],
        )))
        .await;
    assert_eq!(link_b.report().await, WorkerReport::Replica { key: key(3) });
    link_b.finished(key(4)).await;
    assert_eq!(client.get_i64(key(4)).await, 10);
}

#[tokio::test]
async fn an_unreachable_input_is_a_fetch_failure_and_other_holders_are_tried() {
    let scheduler = FakeScheduler::new().await;
    let (a, mut link_a) = scheduler.start(1, config(scheduler.addr, 1)).await;
    let (b, mut link_b) = scheduler.start(2, config(scheduler.addr, 1)).await;
    let dead = dead_addr().await;
    let gone = WorkerId(77);

    // The only holder is unreachable.
    link_b
        .send(WorkerCommand::Compute(compute(
            key(2),
            "add",
            vec![SpecArg::Key(key(1)), value(&10i64)],
            vec![input(key(1), &[(gone, dead)])],
        )))
        .await;
    assert_eq!(
        link_b.report().await,
        WorkerReport::FetchFailed {
            key: key(2),
            run: 1,
            missing: vec![(key(1), gone)],
        }
    );

    // A holder that does not have it, then one that is gone: the first
    // holder tried is named.
    link_b
        .send(WorkerCommand::Compute(compute(
            key(3),
            "add",
            vec![SpecArg::Key(key(1)), value(&10i64)],
            vec![input(key(1), &[(link_a.id, a.data_addr()), (gone, dead)])],
        )))
        .await;
    assert_eq!(
        link_b.report().await,
        WorkerReport::FetchFailed {
            key: key(3),
            run: 1,
            missing: vec![(key(1), link_a.id)],
        }
    );

    // No holder but the worker itself, which does not have it.
    link_b
        .send(WorkerCommand::Compute(compute(
            key(4),
            "inc",
            vec![SpecArg::Key(key(1))],
            vec![input(key(1), &[(link_b.id, b.data_addr())])],
        )))
        .await;
    assert_eq!(
        link_b.report().await,
        WorkerReport::FetchFailed {
            key: key(4),
            run: 1,
            missing: vec![(key(1), link_b.id)],
        }
    );

    // Every input that cannot be had is named in one report.
    link_b
        .send(WorkerCommand::Compute(compute(
            key(6),
            "add",
            vec![SpecArg::Key(key(20)), SpecArg::Key(key(21))],
            vec![input(key(20), &[(gone, dead)])],
        )))
        .await;
    match link_b.report().await {
        WorkerReport::FetchFailed {
            key: failed,
            mut missing,
            ..
        } => {
            assert_eq!(failed, key(6));
            missing.sort();
            let mut expected = vec![(key(20), gone), (key(21), link_b.id)];
            expected.sort();
            assert_eq!(missing, expected);
        }
        other => panic!("expected FetchFailed, got {other:?}"),
    }

    // Once A holds it, a dead first holder is skipped for A.
    link_a
        .run(compute(key(1), "inc", vec![value(&1i64)], vec![]))
        .await;
    link_b
        .send(WorkerCommand::Compute(compute(
            key(5),
            "add",
            vec![SpecArg::Key(key(1)), value(&10i64)],
            vec![input(key(1), &[(gone, dead), (link_a.id, a.data_addr())])],
        )))
        .await;
    assert_eq!(link_b.report().await, WorkerReport::Replica { key: key(1) });
    link_b.finished(key(5)).await;
    let mut client = DataClient::connect(b.data_addr()).await;
    assert_eq!(client.get_i64(key(5)).await, 12);
}

#[tokio::test]
async fn freed_results_are_missing() {
    let scheduler = FakeScheduler::new().await;
    let (worker, mut link) = scheduler.start(1, config(scheduler.addr, 1)).await;
    link.run(compute(key(1), "inc", vec![value(&1i64)], vec![]))
        .await;
    let mut client = DataClient::connect(worker.data_addr()).await;
    client.put(key(9), b"scattered").await;
    assert_eq!(client.get_i64(key(1)).await, 2);

    link.send(WorkerCommand::Free {
        keys: vec![key(1), key(9)],
    })
    .await;
    // Commands apply in order: once a later task finished, the free is done.
    link.run(compute(key(2), "inc", vec![value(&2i64)], vec![]))
        .await;
    let got = client.get(&[key(1), key(9), key(2)]).await;
    assert_eq!(got[0], None);
    assert_eq!(got[1], None);
    assert!(got[2].is_some());
    assert_eq!(worker.stored_keys(), 1);
}

#[tokio::test]
async fn a_freed_task_that_has_not_started_is_dropped() {
    let scheduler = FakeScheduler::new().await;
    let (worker, mut link) = scheduler.start(1, config(scheduler.addr, 1)).await;
    // Both wait for the module; the first is freed before it arrives.
    link.send(WorkerCommand::Compute(compute(
        key(1),
        "inc",
        vec![value(&1i64)],
        vec![],
    )))
    .await;
    link.send(WorkerCommand::Compute(compute(
        key(2),
        "inc",
        vec![value(&2i64)],
        vec![],
    )))
    .await;
    link.send(WorkerCommand::Free { keys: vec![key(1)] }).await;
    link.finished(key(2)).await;
    let mut client = DataClient::connect(worker.data_addr()).await;
    assert_eq!(client.get(&[key(1)]).await, vec![None]);
    assert_eq!(worker.stored_keys(), 1);
}

#[tokio::test]
async fn a_guest_error_is_reported() {
    let scheduler = FakeScheduler::new().await;
    let (worker, mut link) = scheduler.start(1, config(scheduler.addr, 1)).await;
    link.send(WorkerCommand::Compute(compute(
        key(1),
        "divide",
        vec![value(&1i64), value(&0i64)],
        vec![],
    )))
    .await;
    match link.report().await {
        WorkerReport::Erred {
            key: k,
            run,
            message,
        } => {
            assert_eq!((k, run), (key(1), 1));
            assert!(message.contains("cannot divide 1 by zero"), "{message}");
            assert!(message.contains("divide"), "{message}");
        }
        other => panic!("expected Erred, got {other:?}"),
    }
    // An unknown task and bad arguments are task errors too.
    link.send(WorkerCommand::Compute(compute(
        key(2),
        "no_such_task",
        vec![],
        vec![],
    )))
    .await;
    match link.report().await {
        WorkerReport::Erred {
            key: k, message, ..
        } => {
            assert_eq!(k, key(2));
            assert!(message.contains("no such task"), "{message}");
        }
        other => panic!("expected Erred, got {other:?}"),
    }
    link.send(WorkerCommand::Compute(compute(
        key(3),
        "inc",
        vec![],
        vec![],
    )))
    .await;
    assert!(matches!(link.report().await, WorkerReport::Erred { .. }));
    assert_eq!(worker.stored_keys(), 0);
}

#[tokio::test]
async fn a_missing_or_wrong_module_fails_its_tasks() {
    let scheduler = FakeScheduler::new().await;
    let (_worker, mut link) = scheduler.start(1, config(scheduler.addr, 1)).await;
    let mut task = compute(key(1), "inc", vec![value(&1i64)], vec![]);
    let unknown = [7u8; 32];
    std::sync::Arc::make_mut(&mut std::sync::Arc::make_mut(&mut task.spec).function).module =
        unknown;
    let mut second = task.clone();
    second.key = key(2);
    link.send(WorkerCommand::Compute(task)).await;
    link.send(WorkerCommand::Compute(second)).await;
    assert_eq!(
        link.report().await,
        WorkerReport::GetModule { hash: unknown }
    );
    link.send(WorkerCommand::ModuleMissing { hash: unknown })
        .await;
    for k in [key(1), key(2)] {
        match link.report().await {
            WorkerReport::Erred {
                key: erred,
                message,
                ..
            } => {
                assert_eq!(erred, k);
                assert!(message.contains("not known to the scheduler"), "{message}");
            }
            other => panic!("expected Erred, got {other:?}"),
        }
    }

    // Bytes that do not match the hash asked for.
    let mut task = compute(key(3), "inc", vec![value(&1i64)], vec![]);
    std::sync::Arc::make_mut(&mut std::sync::Arc::make_mut(&mut task.spec).function).module =
        unknown;
    link.send(WorkerCommand::Compute(task)).await;
    assert_eq!(
        link.report().await,
        WorkerReport::GetModule { hash: unknown }
    );
    link.send(WorkerCommand::Module {
        hash: unknown,
        bytes: testkit().0.clone(),
    })
    .await;
    match link.report().await {
        WorkerReport::Erred {
            key: erred,
            message,
            ..
        } => {
            assert_eq!(erred, key(3));
            assert!(message.contains("hash"), "{message}");
        }
        other => panic!("expected Erred, got {other:?}"),
    }

    // Bytes that are not a module.
    let garbage = b"not wasm".to_vec();
    let hash = *blake3::hash(&garbage).as_bytes();
    let mut task = compute(key(4), "inc", vec![value(&1i64)], vec![]);
    std::sync::Arc::make_mut(&mut std::sync::Arc::make_mut(&mut task.spec).function).module = hash;
    link.send(WorkerCommand::Compute(task)).await;
    assert_eq!(link.report().await, WorkerReport::GetModule { hash });
    link.send(WorkerCommand::Module {
        hash,
        bytes: garbage,
    })
    .await;
    // Any worker would refuse these bytes: the scheduler is told, for the
    // others, and the task errs.
    match link.report().await {
        WorkerReport::ModuleRefused {
            hash: refused,
            message,
            lasting,
        } => {
            assert_eq!(refused, hash);
            assert!(lasting, "invalid bytes stay invalid");
            assert!(
                message.contains("not a valid WebAssembly module"),
                "{message}"
            );
        }
        other => panic!("expected ModuleRefused, got {other:?}"),
    }
    match link.report().await {
        WorkerReport::Erred {
            key: erred,
            message,
            ..
        } => {
            assert_eq!(erred, key(4));
            assert!(
                message.contains("not a valid WebAssembly module"),
                "{message}"
            );
        }
        other => panic!("expected Erred, got {other:?}"),
    }

    // The scheduler answers for a refused module: nothing is compiled.
    let mut task = compute(key(5), "inc", vec![value(&1i64)], vec![]);
    std::sync::Arc::make_mut(&mut std::sync::Arc::make_mut(&mut task.spec).function).module =
        [8; 32];
    link.send(WorkerCommand::Compute(task)).await;
    assert_eq!(
        link.report().await,
        WorkerReport::GetModule { hash: [8; 32] }
    );
    link.send(WorkerCommand::ModuleRefused {
        hash: [8; 32],
        message: "refused elsewhere (locals_max)".into(),
    })
    .await;
    match link.report().await {
        WorkerReport::Erred {
            key: erred,
            message,
            ..
        } => {
            assert_eq!(erred, key(5));
            assert_eq!(message, "refused elsewhere (locals_max)");
        }
        other => panic!("expected Erred, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_connections_to_the_data_port_close_alone() {
    let scheduler = FakeScheduler::new().await;
    let (worker, mut link) = scheduler.start(1, config(scheduler.addr, 1)).await;
    link.run(compute(key(1), "inc", vec![value(&1i64)], vec![]))
        .await;
    let addr = worker.data_addr();
    let mut good = DataClient::connect(addr).await;

    let garbage = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: weft\r\n\r\n")
            .await
            .expect("write");
        closed_by_peer(stream).await;
    };
    let oversized = async {
        let mut client = DataClient::connect(addr).await;
        let (_, writer) = client.connection.split_mut();
        let raw = writer.frame_writer_mut().get_mut();
        raw.write_all(&u32::MAX.to_le_bytes()).await.expect("write");
        raw.write_all(b"a little").await.expect("write");
        let end = client.connection.recv_frame().await;
        assert!(matches!(end, Ok(None) | Err(_)), "{end:?}");
    };
    let truncated = async {
        let mut client = DataClient::connect(addr).await;
        let (_, writer) = client.connection.split_mut();
        let raw = writer.frame_writer_mut().get_mut();
        raw.write_all(&100u32.to_le_bytes()).await.expect("write");
        raw.write_all(&[1u8; 10]).await.expect("write");
        raw.shutdown().await.expect("shutdown");
        let end = client.connection.recv_frame().await;
        assert!(matches!(end, Ok(None) | Err(_)), "{end:?}");
    };
    let undecodable = async {
        let mut client = DataClient::connect(addr).await;
        client
            .connection
            .send_frame(b"\xff\xff\xff\xffnonsense")
            .await
            .expect("send");
        let end = client.connection.recv_frame().await;
        assert!(matches!(end, Ok(None) | Err(_)), "{end:?}");
    };
    let well_behaved = async { good.get_i64(key(1)).await };
    let ((), (), (), (), served) = within("the bad connections to close", async {
        tokio::join!(garbage, oversized, truncated, undecodable, well_behaved)
    })
    .await;
    assert_eq!(served, 2);

    // The good connection, the worker and its scheduler link live on.
    assert_eq!(good.get_i64(key(1)).await, 2);
    link.run(compute(key(2), "inc", vec![value(&5i64)], vec![]))
        .await;
    assert_eq!(good.get_i64(key(2)).await, 6);
}

/// Reads until the peer closes the stream (or resets it).
async fn closed_by_peer(mut stream: TcpStream) {
    let mut sink = Vec::new();
    let _ = stream.read_to_end(&mut sink).await;
}

#[tokio::test]
async fn the_data_port_refuses_workers_and_stores_puts() {
    let scheduler = FakeScheduler::new().await;
    let (worker, _link) = scheduler.start(1, config(scheduler.addr, 1)).await;
    // A process claiming to be a worker (not a peer) is refused at the
    // handshake, before it can send anything.
    let refused = weft_proto::Connection::connect(
        worker.data_addr(),
        &weft_proto::Hello::new(weft_proto::Role::Worker, "pretender"),
        &weft_proto::Dialer::plain(
            weft_proto::ConnectionLimits::default(),
            weft_proto::Role::Worker,
        ),
    )
    .await
    .expect_err("a worker is not served");
    assert!(
        matches!(
            refused,
            weft_proto::ConnectionError::Refused {
                refusal: weft_proto::AuthRefusal::RoleNotServed(weft_proto::Role::Worker),
                ..
            }
        ),
        "{refused}"
    );

    let mut client = DataClient::connect(worker.data_addr()).await;
    let big = vec![7u8; 200_000];
    client.put(key(1), b"small").await;
    client.put(key(2), &big).await;
    let got = client.get(&[key(2), key(3), key(1)]).await;
    assert_eq!(got[0].as_deref(), Some(&big[..]));
    assert_eq!(got[1], None);
    assert_eq!(got[2].as_deref(), Some(&b"small"[..]));
    assert_eq!(worker.stored_bytes(), 200_005);
}

#[tokio::test]
async fn many_tasks_start_in_the_order_sent() {
    let scheduler = FakeScheduler::new().await;
    let (worker, mut link) = scheduler.start(1, config(scheduler.addr, 1)).await;
    let n = 2_000u64;
    // All sent at once, before the module is even asked for.
    for i in 0..n {
        link.connection
            .queue(&WorkerCommand::Compute(compute(
                key(i),
                "inc",
                vec![value(&(i as i64))],
                vec![],
            )))
            .expect("queue");
    }
    link.connection.flush().await.expect("flush");
    // One executor thread: reports come in start order.
    for i in 0..n {
        link.finished(key(i)).await;
    }
    assert_eq!(link.modules_sent, 1);
    assert_eq!(worker.stored_keys(), n as usize);
    let mut client = DataClient::connect(worker.data_addr()).await;
    assert_eq!(client.get_i64(key(1234)).await, 1235);
}

#[tokio::test]
async fn a_tenants_tasks_do_not_wait_behind_another_tenants_backlog() {
    let scheduler = FakeScheduler::new().await;
    let (_worker, mut link) = scheduler.start(1, config(scheduler.addr, 1)).await;
    let (flood, small) = (2_000u64, 10u64);
    // All sent at once, before the module is even asked for: they are
    // queued together when it arrives, the flood first.
    let sent = (0..flood)
        .map(|i| (i, TenantId(1)))
        .chain((flood..flood + small).map(|i| (i, TenantId(2))));
    for (i, tenant) in sent {
        let mut task = compute(key(i), "inc", vec![value(&(i as i64))], vec![]);
        task.tenant = tenant;
        link.connection
            .queue(&WorkerCommand::Compute(task))
            .expect("queue");
    }
    link.connection.flush().await.expect("flush");
    // One executor thread: reports come in start order.
    let mut order = Vec::new();
    while order.len() < (flood + small) as usize {
        if let WorkerReport::Finished { key: done, .. } = link.report().await {
            order.push((0..flood + small).find(|i| key(*i) == done).expect("sent"));
        }
    }
    let flooded: Vec<u64> = order.iter().copied().filter(|i| *i < flood).collect();
    let small_ones: Vec<usize> = (0..order.len()).filter(|at| order[*at] >= flood).collect();
    assert_eq!(
        flooded,
        (0..flood).collect::<Vec<_>>(),
        "each tenant in order"
    );
    // The threads' time is shared: about one task of the flood between two
    // of the small job (by measured time, so a task slowed by the machine
    // lets a few more of the flood run), not the whole flood before it.
    let last = *small_ones.last().expect("finished");
    assert!(
        last < flood as usize / 2,
        "the small tenant's tasks ran at {small_ones:?}"
    );
}

#[tokio::test]
async fn many_tasks_on_two_threads_all_finish() {
    let scheduler = FakeScheduler::new().await;
    let (worker, mut link) = scheduler.start(1, config(scheduler.addr, 2)).await;
    // Load the module first so that the timing below is of tasks only.
    link.run(compute(key(u64::MAX), "inc", vec![value(&0i64)], vec![]))
        .await;
    let n = 2_000u64;
    let started = Instant::now();
    for i in 0..n {
        link.connection
            .queue(&WorkerCommand::Compute(compute(
                key(i),
                "inc",
                vec![value(&(i as i64))],
                vec![],
            )))
            .expect("queue");
    }
    link.connection.flush().await.expect("flush");
    let mut seen = std::collections::HashSet::new();
    while seen.len() < n as usize {
        match link.report().await {
            WorkerReport::Finished {
                key: k, nbytes: 8, ..
            } => assert!(seen.insert(k)),
            other => panic!("expected Finished, got {other:?}"),
        }
    }
    let elapsed = started.elapsed();
    eprintln!(
        "{n} inc tasks on 2 executor threads in {elapsed:?}: {:.0} tasks/s ({} build, \
         fake scheduler in the same process)",
        n as f64 / elapsed.as_secs_f64(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    assert_eq!(worker.stored_keys(), n as usize + 1);
}

#[tokio::test]
async fn the_worker_stops_with_its_scheduler() {
    let scheduler = FakeScheduler::new().await;
    let (mut worker, link) = scheduler.start(1, config(scheduler.addr, 1)).await;
    drop(link);
    let error = within("the worker to stop", worker.closed())
        .await
        .expect_err("the scheduler left");
    assert!(
        matches!(error, WorkerError::SchedulerClosed { .. }),
        "{error}"
    );
    // Asking again gives the same answer.
    assert!(matches!(
        worker.closed().await,
        Err(WorkerError::SchedulerClosed { .. })
    ));
    // Its data port is closed.
    let refused = TcpStream::connect(worker.data_addr()).await;
    if let Ok(stream) = refused {
        within("the data port to be closed", closed_by_peer(stream)).await;
    }
}

#[tokio::test]
async fn a_second_welcome_is_a_protocol_violation() {
    let scheduler = FakeScheduler::new().await;
    let (mut worker, mut link) = scheduler.start(1, config(scheduler.addr, 1)).await;
    link.send(WorkerCommand::Welcome {
        worker: WorkerId(5),
        ticket_secret: test_secret(),
    })
    .await;
    let error = within("the worker to stop", worker.closed())
        .await
        .expect_err("a protocol violation");
    assert!(matches!(error, WorkerError::Protocol { .. }), "{error}");
    assert!(error.to_string().contains("Welcome"), "{error}");
    // The worker hung up.
    link.until_closed().await;
}

#[tokio::test]
async fn shutdown_stops_the_worker_cleanly() {
    let scheduler = FakeScheduler::new().await;
    let (mut worker, mut link) = scheduler.start(1, config(scheduler.addr, 1)).await;
    worker.shutdown();
    within("the worker to stop", worker.closed())
        .await
        .expect("a clean stop");
    link.until_closed().await;
}

#[tokio::test]
async fn start_errors_name_what_failed() {
    let dead = dead_addr().await;
    let error = weft_worker::start(config(dead, 1))
        .await
        .expect_err("nobody listens");
    assert!(matches!(error, WorkerError::Connect { .. }), "{error}");
    assert!(error.to_string().contains(&dead.to_string()), "{error}");

    let mut bad = config(dead, 1);
    bad.listen = "256.0.0.1:0".into();
    let error = weft_worker::start(bad).await.expect_err("bad address");
    assert!(matches!(error, WorkerError::Bind { .. }), "{error}");
    assert!(error.to_string().contains("256.0.0.1:0"), "{error}");

    let mut bad = config(dead, 1);
    bad.nthreads = 0;
    let error = weft_worker::start(bad).await.expect_err("no threads");
    assert!(matches!(error, WorkerError::Config { .. }), "{error}");

    // A peer that is not a scheduler.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let client = async {
        let (stream, _) = listener.accept().await.expect("accept");
        weft_proto::Connection::accept(
            stream,
            &weft_proto::Hello::new(weft_proto::Role::Client, "not-a-scheduler"),
            &weft_proto::Acceptor::open(weft_proto::ConnectionLimits::default()),
        )
        .await
    };
    let (started, _accepted) = within("the handshake", async {
        tokio::join!(weft_worker::start(config(addr, 1)), client)
    })
    .await;
    let error = started.expect_err("not a scheduler");
    assert!(matches!(error, WorkerError::Handshake { .. }), "{error}");
    assert!(error.to_string().contains("not a scheduler"), "{error}");
}

#[tokio::test]
async fn connections_over_max_connections_are_closed() {
    let scheduler = FakeScheduler::new().await;
    let mut config = config(scheduler.addr, 1);
    config.max_connections = 1;
    let (worker, _link) = scheduler.start(1, config).await;
    let mut first = DataClient::connect(worker.data_addr()).await;
    first.put(key(1), b"one").await;
    let second = TcpStream::connect(worker.data_addr())
        .await
        .expect("connect");
    within("the second connection to be closed", closed_by_peer(second)).await;
    assert_eq!(first.get(&[key(1)]).await[0].as_deref(), Some(&b"one"[..]));
}
