//! The tenants file at run time: a token added to the file admits its
//! client without a restart, and a revoked token's open connections are
//! closed at the reload (the client learns it by the connection closing).

use std::time::Duration;
use weft_proto::auth::{Access, AuthRefusal, Credential, Secret};
use weft_proto::messages::ClientEvent;
use weft_proto::{Connection, ConnectionError, ConnectionLimits, Dialer, Hello, Role};
use weft_scheduler::tenants::{self, TenantsFile};
use weft_scheduler::{SchedulerConfig, Tokens};

const DEADLINE: Duration = Duration::from_secs(10);

async fn connect(
    addr: std::net::SocketAddr,
    token: &Secret,
) -> Result<Connection, ConnectionError> {
    let dialer = Dialer {
        credential: Credential::Token(token.clone()),
        ..Dialer::plain(ConnectionLimits::default(), Role::Scheduler)
    };
    let hello = Hello::new(Role::Client, "reload-test");
    tokio::time::timeout(DEADLINE, Connection::connect(addr, &hello, &dialer))
        .await
        .expect("the handshake ends in time")
        .map(|(connection, _)| connection)
}

#[tokio::test]
async fn added_tokens_get_in_and_revoked_ones_are_closed_at_reload() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("tenants.toml");
    let mut file = TenantsFile::new();
    let (alice, alice_id) = file.add_token("alice", Access::Write).expect("alice");
    file.write(&path).expect("write the tenants file");
    let (registry, _watcher) =
        tenants::watch(path.clone(), Duration::from_millis(20)).expect("watch the file");
    let mut seen = registry.clone();
    let scheduler = weft_scheduler::start(SchedulerConfig {
        listen: "127.0.0.1:0".into(),
        tokens: Tokens::Watched(registry),
        ..SchedulerConfig::default()
    })
    .await
    .expect("a scheduler");
    let addr = scheduler.addr();

    let mut connection = connect(addr, &alice).await.expect("alice gets in");
    let welcome = connection.recv::<ClientEvent>().await.expect("recv");
    assert!(
        matches!(welcome, Some(ClientEvent::Welcome { .. })),
        "{welcome:?}"
    );

    // A token added to the file admits its client, without a restart.
    let (bob, _) = file.add_token("bob", Access::Read).expect("bob");
    assert!(matches!(
        connect(addr, &bob).await,
        Err(ConnectionError::Refused {
            refusal: AuthRefusal::BadCredentials,
            ..
        })
    ));
    file.write(&path).expect("rewrite the file");
    tokio::time::timeout(DEADLINE, seen.changed())
        .await
        .expect("the reload comes in time")
        .expect("the watcher runs");
    connect(addr, &bob)
        .await
        .expect("bob gets in after the reload");

    // Revoking alice's token closes her open connection and keeps her out.
    file.revoke(&alice_id).expect("revoke");
    file.write(&path).expect("rewrite the file");
    let closed = tokio::time::timeout(DEADLINE, async {
        loop {
            match connection.recv::<ClientEvent>().await {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return,
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "alice's connection was not closed at the reload"
    );
    assert!(matches!(
        connect(addr, &alice).await,
        Err(ConnectionError::Refused {
            refusal: AuthRefusal::BadCredentials,
            ..
        })
    ));
}
