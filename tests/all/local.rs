//! The embedded cluster: `Client::local()`, the blocking client, the
//! progress bar, and the `weft local` command.

use crate::processes::Process;
use std::time::Duration;
use weft_client::{LocalConfig, blocking};

#[test]
fn the_blocking_client_on_a_local_cluster_submits_maps_scatters_and_gathers() {
    let client = blocking::Client::local_with(LocalConfig {
        workers: 2,
        nthreads: 1,
        ..LocalConfig::default()
    })
    .unwrap();
    let module = client
        .upload_module_file(weft_guest_artifacts::TESTKIT)
        .unwrap();
    let a = client.submit::<i64>(&module, "inc", (1,)).unwrap();
    let b = client.submit::<i64>(&module, "add", (&a, 10)).unwrap();
    assert_eq!(client.result(&b).unwrap(), 12);
    let xs = client
        .map::<i64, _>(&module, "inc", (0..100).map(|i| (i,)))
        .unwrap();
    assert_eq!(client.gather(&xs).unwrap(), (1..101).collect::<Vec<i64>>());
    let data = client.scatter(&[vec![3u8, 2, 1]], false).unwrap();
    let reversed = client
        .submit::<Vec<u8>>(&module, "reverse_bytes", (&data[0],))
        .unwrap();
    assert_eq!(client.result(&reversed).unwrap(), [1, 2, 3]);
    let outcome = client
        .wait(
            &xs,
            Some(Duration::from_secs(60)),
            weft_client::ReturnWhen::AllCompleted,
        )
        .unwrap();
    assert_eq!(outcome.done.len(), 100);
}

/// With TLS on (certificates made in memory) the same work runs: inputs
/// move between the two workers over mutual TLS, results come back to the
/// client over TLS, scattered data goes out over TLS.
#[test]
fn a_local_cluster_with_tls_runs_work_across_workers() {
    let client = blocking::Client::local_with(LocalConfig {
        workers: 2,
        nthreads: 1,
        security: weft_client::LocalSecurity::TokensAndTls,
        ..LocalConfig::default()
    })
    .unwrap();
    let module = client
        .upload_module_file(weft_guest_artifacts::TESTKIT)
        .unwrap();
    let xs = client
        .map::<i64, _>(&module, "inc", (0..20).map(|i| (i,)))
        .unwrap();
    // A tree of adds: most inputs live on the other worker.
    let mut level = xs.clone();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => client.submit::<i64>(&module, "add", (a, b)).unwrap(),
                [a] => a.clone(),
                _ => unreachable!("chunks of two"),
            })
            .collect();
    }
    assert_eq!(client.result(&level[0]).unwrap(), (1..=20).sum::<i64>());
    let data = client.scatter(&[vec![3u8, 2, 1]], true).unwrap();
    let reversed = client
        .submit::<Vec<u8>>(&module, "reverse_bytes", (&data[0],))
        .unwrap();
    assert_eq!(client.result(&reversed).unwrap(), [1, 2, 3]);
    assert_eq!(client.gather(&xs).unwrap(), (1..21).collect::<Vec<i64>>());
}

#[test]
fn progress_waits_for_everything_and_reports_a_failure() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = weft_client::Client::local_with(LocalConfig {
            workers: 1,
            nthreads: 2,
            ..LocalConfig::default()
        })
        .await
        .unwrap();
        let module = client
            .upload_module_file(weft_guest_artifacts::TESTKIT)
            .await
            .unwrap();
        let mut futures = client
            .map::<i64, _>(&module, "inc", (0..50).map(|i| (i,)))
            .unwrap();
        weft_client::progress(&client, &futures).await.unwrap();
        assert!(
            futures
                .iter()
                .all(|f| f.status() == weft_client::FutureStatus::Finished)
        );
        futures.push(client.submit::<i64>(&module, "divide", (1, 0)).unwrap());
        let err = weft_client::progress(&client, &futures).await.unwrap_err();
        assert!(err.to_string().contains("cannot divide"), "{err}");
    });
}

#[test]
fn weft_local_runs_a_cluster_in_one_process() {
    let local = Process::start(&[
        "local",
        "--listen",
        "127.0.0.1:0",
        "--workers",
        "2",
        "--nthreads",
        "1",
    ]);
    // It made its own token, and refuses clients without it.
    let token_file = local
        .token_file
        .as_deref()
        .expect("weft local names its token file");
    let token = std::fs::read_to_string(token_file).expect("the token file");
    let refused = blocking::Client::connect(&local.addr).expect_err("no token");
    assert!(refused.to_string().contains("no credentials"), "{refused}");
    let options = weft_client::ClientOptions {
        token: Some(weft_client::Secret::new(token.trim())),
        ..weft_client::ClientOptions::default()
    };
    let client = blocking::Client::connect_with_options(&local.addr, options).unwrap();
    let module = client
        .upload_module_file(weft_guest_artifacts::TESTKIT)
        .unwrap();
    let total = client.submit::<i64>(&module, "add", (20, 22)).unwrap();
    assert_eq!(client.result(&total).unwrap(), 42);
    assert!(!client.as_async().is_closed());
}

#[test]
fn restart_on_a_local_cluster_clears_its_workers_in_place() {
    let rt = crate::processes::tokio_runtime();
    rt.block_on(async {
        let client = weft_client::Client::local_with(LocalConfig {
            workers: 2,
            nthreads: 1,
            ..LocalConfig::default()
        })
        .await
        .unwrap();
        let module = client
            .upload_module_file(weft_guest_artifacts::TESTKIT)
            .await
            .unwrap();
        let xs = client
            .map::<i64, _>(&module, "inc", (0..20).map(|i| (i,)))
            .unwrap();
        client.gather(&xs).await.unwrap();
        let ids: Vec<_> = client
            .workers()
            .await
            .unwrap()
            .into_iter()
            .map(|w| w.id)
            .collect();
        tokio::time::timeout(Duration::from_secs(60), client.restart())
            .await
            .expect("restart returns")
            .unwrap();
        assert!(
            xs.iter()
                .all(|x| x.status() == weft_client::FutureStatus::Cancelled("restart".into()))
        );
        // The same workers (restarted in place), holding nothing.
        let status = client.status(false).await.unwrap();
        let after: Vec<_> = status.workers.iter().map(|w| w.info.id).collect();
        assert_eq!(after, ids);
        assert_eq!(status.keys, 0);
        client.with_cluster(|cluster| {
            let cluster = cluster.expect("Client::local owns its cluster");
            assert!(cluster.workers().iter().all(|w| w.stored_keys() == 0));
        });
        let again = client.submit::<i64>(&module, "inc", (1,)).unwrap();
        assert_eq!(again.result().await.unwrap(), 2);
    });
}
