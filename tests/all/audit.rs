//! The audit log, end to end: on a secure cluster of real processes, every
//! failed authentication, every denial, every admin operation and every
//! publish, unpublish, share and unshare is exactly one JSON line of the
//! scheduler's `--audit-log`, naming the token by its id; and no token
//! appears in any log of any process.

use crate::processes::{Cluster, Identity, tokio_runtime};
use crate::raw::RawClient;
use std::collections::BTreeMap;
use weft_client::{DatasetSpec, Secret};
use weft_proto::auth::Credential;
use weft_proto::{Connection, ConnectionError, ConnectionLimits, Dialer, Hello, Role};

/// Connects with `credential` and returns the refusal.
async fn refused(cluster: &Cluster, credential: Credential) -> ConnectionError {
    let credentials = cluster.credentials().expect("a secure cluster");
    let dialer = Dialer {
        tls: Some(credentials.client_tls().scheduler),
        credential,
        ..Dialer::plain(ConnectionLimits::default(), Role::Scheduler)
    };
    let hello = Hello::new(Role::Client, "audit-test");
    Connection::connect(cluster.scheduler.addr.as_str(), &hello, &dialer)
        .await
        .expect_err("refused")
}

#[test]
fn every_denial_and_admin_operation_is_one_event_and_no_log_holds_a_token() {
    let logs = tempfile::tempdir().expect("a log directory");
    let cluster = Cluster::start_secure_logged(1, logs.path());
    let credentials = cluster.credentials().expect("secure");
    let rt = tokio_runtime();
    rt.block_on(async {
        // Two failed authentications: none, and a well-formed unknown token.
        let forged = format!("weft_{}_{}", "0".repeat(12), "1".repeat(64));
        let error = refused(&cluster, Credential::None).await;
        assert!(error.to_string().contains("no credentials"), "{error}");
        let error = refused(&cluster, Credential::Token(Secret::new(forged.clone()))).await;
        assert!(error.to_string().contains("invalid credentials"), "{error}");

        // Alice publishes, shares, unshares and unpublishes: four events.
        let alice = cluster.client().await;
        let module = alice
            .upload_module(std::fs::read(weft_guest_artifacts::TESTKIT).unwrap())
            .await
            .unwrap();
        let x = alice.submit::<i64>(&module, "inc", (1,)).unwrap();
        assert_eq!(x.result().await.unwrap(), 2);
        let spec = DatasetSpec::futures(std::slice::from_ref(&x));
        alice.publish_dataset("audited", spec).await.unwrap();
        alice.share_dataset("audited", "bob").await.unwrap();
        alice.unshare_dataset("audited", "bob").await.unwrap();
        alice.unpublish_dataset("audited").await.unwrap();

        // Bob is denied a cluster-wide rebalance: one event.
        let mut bob = RawClient::connect(&cluster, Identity::Bob).await;
        let denied = bob
            .ask(|request| weft_proto::messages::ClientRequest::Rebalance {
                request,
                keys: vec![],
                workers: vec![],
            })
            .await;
        assert!(
            format!("{denied:?}").contains("permission denied"),
            "{denied:?}"
        );

        // The admin restarts the cluster: one event.
        let admin = cluster.admin_client().await;
        admin.restart().await.unwrap();
        drop((alice, admin, bob, x));
    });

    let audit = std::fs::read_to_string(logs.path().join("audit.jsonl")).expect("the audit log");
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for line in audit.lines() {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("an audit line is not JSON ({e}): {line}"));
        for field in [
            "time_unix_ms",
            "token_id",
            "tenant",
            "role",
            "operation",
            "object",
            "decision",
            "peer",
        ] {
            assert!(event.get(field).is_some(), "no {field} in {line}");
        }
        let key = (
            event["operation"].as_str().unwrap_or_default().to_string(),
            event["decision"].as_str().unwrap_or_default().to_string(),
        );
        *counts.entry(key).or_default() += 1;
    }
    let expected: BTreeMap<(String, String), usize> = [
        (("authenticate", "deny"), 2),
        (("publish", "allow"), 1),
        (("share", "allow"), 2),
        (("unpublish", "allow"), 1),
        (("rebalance_cluster", "deny"), 1),
        (("restart", "allow"), 1),
    ]
    .into_iter()
    .map(|((operation, decision), n)| ((operation.to_string(), decision.to_string()), n))
    .collect();
    assert_eq!(counts, expected, "the audit log:\n{audit}");
    assert!(
        audit.contains("\"token_id\":\"000000000000\""),
        "the unknown token is named by its id: {audit}"
    );

    // No token, nor any token's secret half, in any log.
    let mut tokens: Vec<String> = [Identity::Alice, Identity::Bob, Identity::Admin]
        .iter()
        .map(|identity| credentials.token(*identity).expose().to_string())
        .collect();
    tokens.push(format!("weft_{}_{}", "0".repeat(12), "1".repeat(64)));
    let mut searched = 0;
    for entry in std::fs::read_dir(logs.path()).expect("the log directory") {
        let path = entry.expect("an entry").path();
        let text = std::fs::read_to_string(&path).expect("a log");
        searched += text.len();
        for token in &tokens {
            let secret = token.rsplit('_').next().expect("a secret part");
            assert!(
                !text.contains(secret),
                "{} holds a token's secret",
                path.display()
            );
        }
    }
    assert!(
        searched > audit.len(),
        "the processes' logs were captured too"
    );
}
