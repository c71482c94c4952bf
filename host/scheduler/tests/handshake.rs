//! The scheduler's front door, end to end: a real scheduler started in this
//! process on 127.0.0.1:0 with tenant `alice` (a write token), tenant `bob`
//! (a read token) and one worker token, reached over real TCP and TLS.
//!
//! Each test asserts the exact error a peer gets for one way of not getting
//! in: a wrong, missing or misused token, a reflected hello, another
//! protocol version, a peer that stalls, and with TLS the wrong CA, an
//! expired or mis-roled certificate, plaintext, or a worker without its
//! certificate. Every wait is bounded by [`DEADLINE`]; nothing sleeps.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, CertificateError};
use weft_proto::auth::{Access, AuthFrame, AuthRefusal, AuthReply, Credential, Secret};
use weft_proto::messages::{ClientEvent, WorkerCommand, WorkerReport};
use weft_proto::tls::{
    CertRole, CertificateAuthority, Identity, PeerRoleError, TrustRoots, Validity, client_config,
    server_config,
};
use weft_proto::{
    Connection, ConnectionError, ConnectionLimits, Dialer, FrameReader, FrameWriter,
    HELLO_FRAME_BYTES_MAX, HandshakeError, Hello, PROTOCOL_VERSION, Role, decode, encode,
};
use weft_scheduler::tenants::{TenantsFile, TokenRegistry};
use weft_scheduler::{SchedulerConfig, SchedulerHandle, Tokens};

/// The longest any step of a test may take.
const DEADLINE: Duration = Duration::from_secs(5);

/// Awaits `future` within [`DEADLINE`], or fails the test saying what.
async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {DEADLINE:?} waiting for {what}"),
    }
}

/// Awaits `future` within [`DEADLINE`] and unwraps its `Ok`, or fails the
/// test saying what.
async fn must<T, E: std::fmt::Debug>(what: &str, future: impl Future<Output = Result<T, E>>) -> T {
    match within(what, future).await {
        Ok(value) => value,
        Err(error) => panic!("{what} failed: {error:?}"),
    }
}

/// The tokens of the test registry.
struct Keys {
    /// Tenant alice's write token, and its public id.
    alice: Secret,
    alice_id: String,
    /// Tenant bob's read token.
    bob: Secret,
    worker: Secret,
}

fn registry() -> (Arc<TokenRegistry>, Keys) {
    let mut file = TenantsFile::new();
    let (alice, alice_id) = file.add_token("alice", Access::Write).expect("alice");
    let bob = file.add_token("bob", Access::Read).expect("bob").0;
    let worker = file.add_worker_token().expect("a worker token").0;
    let keys = Keys {
        alice,
        alice_id,
        bob,
        worker,
    };
    (Arc::new(TokenRegistry::from_file(&file)), keys)
}

/// A scheduler serving the test registry, and its tokens.
struct Cluster {
    scheduler: SchedulerHandle,
    keys: Keys,
}

impl Cluster {
    /// Plain TCP, default limits.
    async fn start() -> Cluster {
        Cluster::with(None, ConnectionLimits::default()).await
    }

    /// TLS, default limits.
    async fn tls(acceptor: TlsAcceptor) -> Cluster {
        Cluster::with(Some(acceptor), ConnectionLimits::default()).await
    }

    async fn with(tls: Option<TlsAcceptor>, connection: ConnectionLimits) -> Cluster {
        let (registry, keys) = registry();
        let config = SchedulerConfig {
            listen: "127.0.0.1:0".to_string(),
            tokens: Tokens::Fixed(registry),
            tls,
            connection,
            ..SchedulerConfig::default()
        };
        let scheduler = must("the scheduler to start", weft_scheduler::start(config)).await;
        Cluster { scheduler, keys }
    }

    fn addr(&self) -> SocketAddr {
        self.scheduler.addr()
    }

    /// Connects saying `role` in the hello, proving `credential`, over TLS
    /// if `tls`; checks the scheduler's hello.
    async fn connect(
        &self,
        role: Role,
        credential: Credential,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Connection, ConnectionError> {
        let hello = Hello::new(role, "handshake-test");
        let (connection, theirs) = within(
            "the connection to be set up or refused",
            Connection::connect(self.addr(), &hello, &dialer(credential, tls)),
        )
        .await?;
        assert_eq!(theirs.role, Role::Scheduler);
        Ok(connection)
    }

    /// A plain client with `token`.
    async fn client(&self, token: &Secret) -> Result<Connection, ConnectionError> {
        self.connect(Role::Client, Credential::Token(token.clone()), None)
            .await
    }
}

/// How a client or worker dials the scheduler: default limits.
fn dialer(credential: Credential, tls: Option<Arc<rustls::ClientConfig>>) -> Dialer {
    Dialer {
        limits: ConnectionLimits::default(),
        tls,
        credential,
        expect_role: Role::Scheduler,
    }
}

/// The client's first event, which must be its welcome; its tenant number.
async fn welcome(client: &mut Connection) -> u32 {
    match within("the first event", client.recv()).await {
        Ok(Some(ClientEvent::Welcome { tenant })) => tenant,
        other => panic!("the first event is {other:?}, not a welcome"),
    }
}

/// Registers `worker` and waits for its welcome.
async fn register(worker: &mut Connection) {
    let register = WorkerReport::Register {
        nthreads: 1,
        data_addr: "127.0.0.1:9".to_string(),
        name: "handshake-test".to_string(),
        memory_limit: 0,
        pid: std::process::id(),
        instance: 1,
    };
    must("the registration", worker.send(&register)).await;
    let command = within("the welcome", worker.recv()).await;
    assert!(
        matches!(command, Ok(Some(WorkerCommand::Welcome { .. }))),
        "{command:?}"
    );
}

/// Asserts that the connection was refused for `expected`, with an error
/// whose text ends with `text`; the whole text.
fn assert_refused(
    result: Result<Connection, ConnectionError>,
    expected: AuthRefusal,
    text: &str,
) -> String {
    let error = result.expect_err("a refusal");
    let shown = error.to_string();
    match error {
        ConnectionError::Refused { refusal, .. } => assert_eq!(refusal, expected),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        shown.ends_with(&format!("refused the connection: {text}")),
        "{shown}"
    );
    shown
}

/// A TCP connection that speaks frames by hand.
struct Raw(TcpStream);

impl Raw {
    async fn connect(addr: SocketAddr) -> Raw {
        Raw(must("connect", TcpStream::connect(addr)).await)
    }

    /// Sends `payload` as one frame: its length (`u32`, little-endian),
    /// then itself.
    async fn send(&mut self, payload: &[u8]) {
        let len = u32::try_from(payload.len()).expect("a small payload");
        let bytes = [&len.to_le_bytes()[..], payload].concat();
        must("a write", self.0.write_all(&bytes)).await;
    }

    /// Reads one frame (a hello or an auth frame, at most 4 KiB).
    async fn read_frame(&mut self) -> Vec<u8> {
        let mut header = [0u8; 4];
        must("a frame header", self.0.read_exact(&mut header)).await;
        let len = u32::from_le_bytes(header) as usize;
        assert!(len <= HELLO_FRAME_BYTES_MAX, "a frame of {len} bytes");
        let mut payload = vec![0u8; len];
        must("a frame", self.0.read_exact(&mut payload)).await;
        payload
    }

    /// Everything the other end sends until it closes the connection (end
    /// of stream, or a reset), within [`DEADLINE`].
    async fn until_closed(&mut self) -> Vec<u8> {
        let mut received = Vec::new();
        within("the other end to close the connection", async {
            let mut buffer = [0u8; 4096];
            loop {
                match self.0.read(&mut buffer).await {
                    Ok(0) => return,
                    Ok(n) => received.extend_from_slice(&buffer[..n]),
                    Err(error) if error.kind() == io::ErrorKind::ConnectionReset => return,
                    Err(error) => panic!("reading failed: {error}"),
                }
            }
        })
        .await;
        received
    }

    /// Reads the scheduler's hello, then asserts it sends nothing else
    /// (no auth reply) and closes the connection.
    async fn only_the_scheduler_hello(&mut self) {
        let theirs: Hello = decode(&self.read_frame().await).expect("a hello");
        assert_eq!(
            (theirs.role, theirs.protocol_version),
            (Role::Scheduler, PROTOCOL_VERSION)
        );
        let after = self.until_closed().await;
        assert!(after.is_empty(), "{} bytes after the hello", after.len());
    }
}

#[tokio::test]
async fn a_client_with_a_tenant_token_is_welcomed_as_its_tenant() {
    let cluster = Cluster::start().await;
    let mut alice = cluster.client(&cluster.keys.alice).await.expect("alice");
    let seen = alice.principal();
    assert_eq!((&*seen.tenant, seen.access), ("alice", Access::Write));
    let alice_tenant = welcome(&mut alice).await;

    let mut bob = cluster.client(&cluster.keys.bob).await.expect("bob");
    let seen = bob.principal();
    assert_eq!((&*seen.tenant, seen.access), ("bob", Access::Read));
    assert_ne!(
        welcome(&mut bob).await,
        alice_tenant,
        "one number per tenant"
    );
}

const BAD: &str = "invalid credentials: the token is unknown, revoked or malformed";

#[tokio::test]
async fn a_wrong_token_is_refused_as_bad_credentials() {
    let cluster = Cluster::start().await;
    let unknown_id = Secret::new(format!("weft_0123456789ab_{}", "f".repeat(64)));
    let wrong_secret = Secret::new(format!("weft_{}_{}", cluster.keys.alice_id, "0".repeat(64)));
    let malformed = Secret::new("weft_not-a-token");
    for token in [&unknown_id, &wrong_secret, &malformed] {
        assert_refused(
            cluster.client(token).await,
            AuthRefusal::BadCredentials,
            BAD,
        );
    }
    // The refusals changed nothing for the right token.
    let mut alice = cluster.client(&cluster.keys.alice).await.expect("alice");
    welcome(&mut alice).await;
}

#[tokio::test]
async fn no_token_and_a_wrong_token_are_told_apart() {
    let cluster = Cluster::start().await;
    let none = assert_refused(
        cluster.connect(Role::Client, Credential::None, None).await,
        AuthRefusal::NoCredentials,
        "no credentials: this port requires a token (give --token-file, set WEFT_TOKEN, \
         or write it to ~/.config/weft/token)",
    );
    let wrong = Secret::new(format!("weft_{}_{}", cluster.keys.alice_id, "1".repeat(64)));
    let bad = assert_refused(
        cluster.client(&wrong).await,
        AuthRefusal::BadCredentials,
        BAD,
    );
    assert_ne!(none, bad);
}

#[tokio::test]
async fn worker_and_client_tokens_only_serve_their_own_role() {
    let cluster = Cluster::start().await;
    assert_refused(
        cluster.client(&cluster.keys.worker).await,
        AuthRefusal::WrongRole {
            hello: Role::Client,
            credential: "worker".to_string(),
        },
        "the credential is for a worker and cannot connect as a client",
    );
    let alice = Credential::Token(cluster.keys.alice.clone());
    assert_refused(
        cluster.connect(Role::Worker, alice, None).await,
        AuthRefusal::WrongRole {
            hello: Role::Worker,
            credential: "client".to_string(),
        },
        "the credential is for a client and cannot connect as a worker",
    );

    // The worker token in its own role gets in.
    let worker_token = Credential::Token(cluster.keys.worker.clone());
    let mut worker = cluster
        .connect(Role::Worker, worker_token, None)
        .await
        .expect("the worker");
    assert_eq!(worker.principal().access, Access::Worker);
    register(&mut worker).await;
}

#[tokio::test]
async fn a_peer_claiming_to_be_a_scheduler_is_not_served() {
    let cluster = Cluster::start().await;
    let alice = Credential::Token(cluster.keys.alice.clone());
    for credential in [Credential::None, alice.clone()] {
        assert_refused(
            cluster.connect(Role::Scheduler, credential, None).await,
            AuthRefusal::RoleNotServed(Role::Scheduler),
            "this port does not serve a scheduler",
        );
    }

    // A reflector: sends the scheduler's own hello back, byte for byte,
    // then a token it relays from a victim.
    let mut reflector = Raw::connect(cluster.addr()).await;
    let scheduler_hello = reflector.read_frame().await;
    reflector.send(&scheduler_hello).await;
    let auth = encode(&AuthFrame { credential: alice }).expect("encode");
    reflector.send(&auth).await;
    let reply: AuthReply = decode(&reflector.read_frame().await).expect("an auth reply");
    assert_eq!(
        reply,
        AuthReply::Refused(AuthRefusal::RoleNotServed(Role::Scheduler))
    );
    assert!(reflector.until_closed().await.is_empty());
}

#[tokio::test]
async fn a_client_never_sends_its_token_to_a_server_that_reflects_its_hello() {
    let (_, keys) = registry();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let reflector = async {
        let mut raw = Raw(listener.accept().await.expect("accept").0);
        let hello = raw.read_frame().await;
        raw.send(&hello).await;
        (hello, raw.until_closed().await)
    };
    let dialer = dialer(Credential::Token(keys.alice), None);
    let ours = Hello::new(Role::Client, "victim");
    let (connected, (reflected, after_hello)) = within("the reflected handshake", async {
        tokio::join!(Connection::connect(addr, &ours, &dialer), reflector)
    })
    .await;
    let error = connected.expect_err("a reflected hello");
    assert!(
        matches!(
            error,
            ConnectionError::UnexpectedRole {
                expected: Role::Scheduler,
                found: Role::Client,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("{addr} is a Weft client, not a scheduler")
    );
    assert_eq!(decode::<Hello>(&reflected).expect("a hello"), ours);
    // After its hello the client sent nothing (no auth frame, no token)
    // and closed the connection.
    assert!(
        after_hello.is_empty(),
        "the client sent {} bytes after its hello",
        after_hello.len()
    );
}

#[tokio::test]
async fn a_peer_of_another_protocol_version_is_closed_on() {
    // The default handshake timeout (10 s) is longer than DEADLINE: a
    // close within it is the version check, not a timeout.
    let cluster = Cluster::start().await;
    let mut future_hello = Hello::new(Role::Client, "from-the-future");
    future_hello.protocol_version = PROTOCOL_VERSION + 1;
    let mut raw = Raw::connect(cluster.addr()).await;
    raw.send(&encode(&future_hello).expect("encode")).await;
    raw.only_the_scheduler_hello().await;

    // The same hello through the library's handshake: the peer of
    // version 2 learns why.
    let (read, write) = Raw::connect(cluster.addr()).await.0.into_split();
    let (mut reader, mut writer) = (FrameReader::new(read), FrameWriter::new(write));
    let error = within(
        "the handshake",
        weft_proto::handshake(&mut reader, &mut writer, &future_hello, DEADLINE),
    )
    .await
    .expect_err("versions differ");
    assert!(
        matches!(
            error,
            HandshakeError::VersionMismatch { theirs: PROTOCOL_VERSION, ours }
                if ours == PROTOCOL_VERSION + 1
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "peer speaks Weft protocol {PROTOCOL_VERSION}, we speak {}",
            PROTOCOL_VERSION + 1
        )
    );
    let after = within("the scheduler to close", reader.read_frame()).await;
    assert_eq!(after.expect("a clean close"), None);
}

#[tokio::test]
async fn a_peer_that_stalls_after_its_hello_is_closed_on() {
    let limits = ConnectionLimits {
        handshake_timeout: Duration::from_millis(300),
        ..ConnectionLimits::default()
    };
    let cluster = Cluster::with(None, limits).await;
    let mut staller = Raw::connect(cluster.addr()).await;
    let hello = encode(&Hello::new(Role::Client, "staller")).expect("encode");
    staller.send(&hello).await;

    // While it stalls, others get in.
    let mut alice = cluster.client(&cluster.keys.alice).await.expect("alice");
    welcome(&mut alice).await;

    // It gets the scheduler's hello, no auth reply, then the close, well
    // within DEADLINE (the default timeout, 10 s, would not be).
    staller.only_the_scheduler_hello().await;
}

/// A cluster's certificate authority and the roots that trust it.
struct Pki {
    ca: CertificateAuthority,
    roots: TrustRoots,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let ca = CertificateAuthority::generate(name).expect("a CA");
        let roots = TrustRoots::from_pem(ca.cert_pem().as_bytes()).expect("roots");
        Pki { ca, roots }
    }

    fn identity(&self, role: CertRole, validity: Validity) -> Identity {
        self.ca
            .issue(role, &["127.0.0.1".to_string()], validity)
            .expect("a certificate")
            .identity()
            .expect("an identity")
    }

    /// The scheduler's side, presenting `identity`.
    fn acceptor(&self, identity: &Identity) -> TlsAcceptor {
        TlsAcceptor::from(server_config(&self.roots, identity).expect("a server config"))
    }

    /// A client of the scheduler trusting this CA, presenting `identity`.
    fn dialer(&self, identity: Option<&Identity>) -> Arc<rustls::ClientConfig> {
        client_config(&self.roots, identity, CertRole::Scheduler).expect("a client config")
    }
}

/// A scheduler with TLS, presenting a valid scheduler certificate of `pki`.
async fn tls_cluster(pki: &Pki) -> Cluster {
    let identity = pki.identity(CertRole::Scheduler, Validity::default());
    Cluster::tls(pki.acceptor(&identity)).await
}

#[tokio::test]
async fn tls_a_client_of_the_cluster_ca_is_welcomed_and_plaintext_is_not() {
    let pki = Pki::new("cluster CA");
    let cluster = tls_cluster(&pki).await;
    let alice = || Credential::Token(cluster.keys.alice.clone());
    let mut client = cluster
        .connect(Role::Client, alice(), Some(pki.dialer(None)))
        .await
        .expect("alice over TLS");
    assert_eq!(client.principal().tenant, "alice");
    welcome(&mut client).await;

    let error = cluster
        .connect(Role::Client, alice(), None)
        .await
        .expect_err("plaintext to a TLS port");
    // The scheduler's TLS alert is recognised for what it is.
    assert!(
        matches!(
            error,
            ConnectionError::Handshake {
                error: HandshakeError::SpeaksTls,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("this port requires TLS"),
        "{error}"
    );

    // The scheduler keeps serving.
    let mut client = cluster
        .connect(Role::Client, alice(), Some(pki.dialer(None)))
        .await
        .expect("alice over TLS, after the plaintext");
    welcome(&mut client).await;
}

/// The certificate error a client trusting `trusted` gets from a scheduler
/// presenting `presented` (issued by `issuer`).
async fn refused_scheduler(trusted: &Pki, issuer: &Pki, presented: &Identity) -> CertificateError {
    let cluster = Cluster::tls(issuer.acceptor(presented)).await;
    let alice = Credential::Token(cluster.keys.alice.clone());
    let result = cluster
        .connect(Role::Client, alice, Some(trusted.dialer(None)))
        .await;
    let Err(ConnectionError::Tls { error, .. }) = result else {
        panic!("expected a TLS error, got {result:?}");
    };
    match error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(certificate)) => certificate.clone(),
        _ => panic!("not a certificate error: {error:?}"),
    }
}

#[tokio::test]
async fn tls_a_client_refuses_a_scheduler_of_another_ca() {
    let (pki, other) = (Pki::new("cluster CA"), Pki::new("other CA"));
    let scheduler = pki.identity(CertRole::Scheduler, Validity::default());
    let error = refused_scheduler(&other, &pki, &scheduler).await;
    assert_eq!(error, CertificateError::UnknownIssuer);
}

#[tokio::test]
async fn tls_a_client_refuses_an_expired_scheduler_certificate() {
    let pki = Pki::new("cluster CA");
    let expired = pki.identity(CertRole::Scheduler, Validity::days(-10, -1));
    let error = refused_scheduler(&pki, &pki, &expired).await;
    assert!(
        matches!(
            error,
            CertificateError::Expired | CertificateError::ExpiredContext { .. }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn tls_a_client_refuses_a_worker_certificate_posing_as_the_scheduler() {
    let pki = Pki::new("cluster CA");
    let worker = pki.identity(CertRole::Worker, Validity::default());
    let error = refused_scheduler(&pki, &pki, &worker).await;
    let CertificateError::Other(rustls::OtherError(inner)) = error else {
        panic!("not a role error: {error:?}");
    };
    assert_eq!(
        inner.downcast_ref::<PeerRoleError>(),
        Some(&PeerRoleError::WrongRole {
            expected: CertRole::Scheduler,
            found: CertRole::Worker
        })
    );
}

#[tokio::test]
async fn tls_a_worker_needs_its_token_and_a_worker_certificate() {
    let pki = Pki::new("cluster CA");
    let cluster = tls_cluster(&pki).await;
    let token = || Credential::Token(cluster.keys.worker.clone());
    let scheduler_cert = pki.identity(CertRole::Scheduler, Validity::default());
    for certificate in [None, Some(&scheduler_cert)] {
        assert_refused(
            cluster
                .connect(Role::Worker, token(), Some(pki.dialer(certificate)))
                .await,
            AuthRefusal::CertificateRole {
                expected: Role::Worker,
            },
            "the peer's certificate does not name the role worker",
        );
    }

    let worker_cert = pki.identity(CertRole::Worker, Validity::default());
    let mut worker = cluster
        .connect(Role::Worker, token(), Some(pki.dialer(Some(&worker_cert))))
        .await
        .expect("a worker with its certificate");
    assert_eq!(worker.principal().access, Access::Worker);
    register(&mut worker).await;
}
