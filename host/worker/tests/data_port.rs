//! The data port's capabilities: a connection needs a scheduler-issued
//! pass, every `Get` a ticket for its key issued to the same requester,
//! every `Put` a put ticket and never over a value held. Each refusal keeps
//! the worker serving the others.

mod common;

use common::*;
use std::time::{Duration, SystemTime};
use weft_proto::auth::{AuthRefusal, Credential};
use weft_proto::messages::{DataReply, DataRequest};
use weft_proto::tickets::{Requester, TicketScope, TicketSecret};
use weft_proto::{Connection, ConnectionError, ConnectionLimits, Dialer, Hello, Role};

/// A worker holding `inc(1) = 2` under key 1.
async fn worker_with_a_result() -> (FakeScheduler, weft_worker::WorkerHandle, WorkerLink) {
    let scheduler = FakeScheduler::new().await;
    let (worker, mut link) = scheduler.start(1, config(scheduler.addr, 1)).await;
    link.run(compute(key(1), "inc", vec![value(&1i64)], vec![]))
        .await;
    (scheduler, worker, link)
}

async fn connect_with(
    addr: std::net::SocketAddr,
    role: Role,
    credential: Credential,
) -> Result<Connection, ConnectionError> {
    let dialer = Dialer {
        credential,
        ..Dialer::plain(ConnectionLimits::default(), Role::Worker)
    };
    within(
        "a data-port handshake",
        Connection::connect(addr, &Hello::new(role, "test"), &dialer),
    )
    .await
    .map(|(connection, _)| connection)
}

fn refusal(result: Result<Connection, ConnectionError>) -> AuthRefusal {
    match result {
        Err(ConnectionError::Refused { refusal, .. }) => refusal,
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, got a connection"),
    }
}

#[tokio::test]
async fn a_connection_needs_a_valid_pass() {
    let (_scheduler, worker, _link) = worker_with_a_result().await;
    let addr = worker.data_addr();
    let none = connect_with(addr, Role::Client, Credential::None).await;
    assert_eq!(refusal(none), AuthRefusal::NoCredentials);

    let forged = TicketSecret::from_bytes([1; 32]).issue(
        TicketScope::Connect,
        TEST_CLIENT,
        SystemTime::now(),
        Duration::from_secs(60),
    );
    let with_forged = connect_with(addr, Role::Client, Credential::Pass(forged)).await;
    assert_eq!(refusal(with_forged), AuthRefusal::BadCredentials);

    // A get ticket is not a pass.
    let not_a_pass = get_ticket(key(1), TEST_CLIENT);
    let with_ticket = connect_with(addr, Role::Client, Credential::Pass(not_a_pass)).await;
    assert_eq!(refusal(with_ticket), AuthRefusal::BadCredentials);

    // A client's pass cannot open a peer connection.
    let pass = ticket(TicketScope::Connect, TEST_CLIENT);
    let as_peer = connect_with(addr, Role::Peer, Credential::Pass(pass)).await;
    assert!(
        matches!(refusal(as_peer), AuthRefusal::WrongRole { .. }),
        "a client pass used by a peer"
    );

    // The worker still serves a client with a pass.
    let mut client = DataClient::connect(addr).await;
    assert_eq!(client.get_i64(key(1)).await, 2);
}

#[tokio::test]
async fn a_get_needs_a_valid_ticket_for_its_key() {
    let (_scheduler, worker, _link) = worker_with_a_result().await;
    let mut client = DataClient::connect(worker.data_addr()).await;
    let now = SystemTime::now();
    let lifetime = Duration::from_secs(60);
    let get = TicketScope::Get {
        tenant: 0,
        key: key(1),
    };
    let expired = test_secret().issue(get, TEST_CLIENT, now - Duration::from_secs(120), lifetime);
    let forged = TicketSecret::from_bytes([9; 32]).issue(get, TEST_CLIENT, now, lifetime);
    let mut altered = get_ticket(key(2), TEST_CLIENT);
    altered.scope = get; // a ticket for key 2 rewritten to name key 1
    let for_another = get_ticket(key(1), Requester::Client(99));
    let put_ticket = ticket(
        TicketScope::Put {
            tenant: 0,
            key: key(1),
            nbytes_max: 8,
        },
        TEST_CLIENT,
    );
    let replies = client
        .get_with(vec![
            expired,
            forged,
            altered,
            for_another,
            put_ticket,
            get_ticket(key(1), TEST_CLIENT),
        ])
        .await;
    let reasons: Vec<String> = replies[..5]
        .iter()
        .map(|reply| match reply {
            DataReply::Refused {
                key: refused,
                reason,
            } => {
                assert_eq!(*refused, key(1));
                reason.clone()
            }
            other => panic!("expected a refusal, got {other:?}"),
        })
        .collect();
    assert!(
        reasons[0].starts_with("the ticket expired"),
        "{}",
        reasons[0]
    );
    assert_eq!(reasons[1], "the ticket is forged or altered");
    assert_eq!(reasons[2], "the ticket is forged or altered");
    assert_eq!(
        reasons[3],
        "the ticket was issued to client-99, not to client-1"
    );
    assert!(
        reasons[4].starts_with("the ticket is for Put"),
        "{}",
        reasons[4]
    );
    // The valid ticket in the same request is served, and so is the next.
    assert!(
        matches!(replies[5], DataReply::Found { nbytes: 8, .. }),
        "{:?}",
        replies[5]
    );
    assert_eq!(client.get_i64(key(1)).await, 2);
}

#[tokio::test]
async fn a_put_needs_its_ticket_and_never_replaces_a_value() {
    let (_scheduler, worker, _link) = worker_with_a_result().await;
    let mut client = DataClient::connect(worker.data_addr()).await;
    let put = |k: u64, nbytes_max: u64| {
        ticket(
            TicketScope::Put {
                tenant: 0,
                key: key(k),
                nbytes_max,
            },
            TEST_CLIENT,
        )
    };
    // Over the key's computed result: nothing replaced.
    let reply = client.put_with(put(1, 100), b"poison").await;
    assert_eq!(reply, Some(DataReply::AlreadyHeld { key: key(1) }));
    assert_eq!(client.get_i64(key(1)).await, 2);

    // Larger than the ticket allows.
    let reply = client.put_with(put(5, 3), b"four").await;
    assert!(
        matches!(&reply, Some(DataReply::Refused { reason, .. }) if reason.contains("at most 3 bytes")),
        "{reply:?}"
    );
    // A get ticket does not allow a put.
    let reply = client
        .put_with(get_ticket(key(6), TEST_CLIENT), b"data")
        .await;
    assert!(
        matches!(reply, Some(DataReply::Refused { .. })),
        "{reply:?}"
    );
    // An empty value refused is read too (its one empty frame), so the
    // connection goes on serving.
    let reply = client.put_with(get_ticket(key(7), TEST_CLIENT), b"").await;
    assert!(
        matches!(reply, Some(DataReply::Refused { .. })),
        "{reply:?}"
    );
    assert_eq!(client.get(&[key(5), key(6)]).await, vec![None, None]);

    // The right ticket stores it, once.
    let reply = client.put_with(put(5, 4), b"four").await;
    assert_eq!(reply, Some(DataReply::Stored { key: key(5) }));
    let reply = client.put_with(put(5, 4), b"evil").await;
    assert_eq!(reply, Some(DataReply::AlreadyHeld { key: key(5) }));
    assert_eq!(
        client.get(&[key(5)]).await[0].as_deref(),
        Some(&b"four"[..])
    );
}

/// One request of each kind the data port serves, each with `ticket`; the
/// match makes a new kind of request a compile error here until it is
/// listed.
fn every_request(ticket: weft_proto::tickets::Ticket) -> Vec<DataRequest> {
    let listed = |request: &DataRequest| match request {
        DataRequest::Get { .. } | DataRequest::Put { .. } => {}
    };
    let all = vec![
        DataRequest::Get {
            tickets: vec![ticket],
        },
        DataRequest::Put {
            ticket,
            nbytes: b"forged".len() as u64,
        },
    ];
    all.iter().for_each(listed);
    all
}

#[tokio::test]
async fn every_request_without_a_valid_ticket_is_refused() {
    let (_scheduler, worker, _link) = worker_with_a_result().await;
    let mut client = DataClient::connect(worker.data_addr()).await;
    let forged = TicketSecret::from_bytes([3; 32]).issue(
        TicketScope::Get {
            tenant: 0,
            key: key(1),
        },
        TEST_CLIENT,
        SystemTime::now(),
        Duration::from_secs(60),
    );
    for request in every_request(forged) {
        let connection = &mut client.connection;
        let reply = within("a reply", async {
            connection.send(&request).await.expect("send");
            if matches!(request, DataRequest::Put { .. }) {
                connection.send_frame(b"forged").await.expect("send value");
            }
            connection.recv::<DataReply>().await.expect("recv")
        })
        .await;
        assert!(
            matches!(&reply, Some(DataReply::Refused { reason, .. }) if reason == "the ticket is forged or altered"),
            "{request:?} got {reply:?}"
        );
    }
    // Nothing was stored, and the worker serves a valid ticket after.
    assert_eq!(client.get_i64(key(1)).await, 2);
}

#[tokio::test]
async fn a_refused_put_too_large_to_skip_closes_the_connection() {
    let (_scheduler, worker, _link) = worker_with_a_result().await;
    let mut client = DataClient::connect(worker.data_addr()).await;
    let request = DataRequest::Put {
        ticket: get_ticket(key(8), TEST_CLIENT),
        nbytes: u64::MAX,
    };
    let connection = &mut client.connection;
    let (reply, after) = within("a reply, then the end", async {
        connection.send(&request).await.expect("send");
        let reply = connection.recv::<DataReply>().await.expect("recv");
        (reply, connection.recv::<DataReply>().await)
    })
    .await;
    assert!(
        matches!(&reply, Some(DataReply::Refused { reason, .. }) if reason.contains("the ticket is for Get")),
        "{reply:?}"
    );
    assert!(matches!(after, Ok(None) | Err(_)), "{after:?}");
}
