//! Tests of `connection.rs`: typed messages and raw frames both ways,
//! split halves, limits, and peers that are silent, not Weft, or gone.

use super::*;
use crate::handshake::Role;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Message {
    Submit { id: u64, task: String },
    Done { id: u64 },
    Shutdown,
}

async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

/// A connected client (worker) and server (scheduler) pair.
async fn pair(limits: ConnectionLimits) -> (Connection, Connection) {
    let (listener, addr) = listener().await;
    let worker = Hello::new(Role::Worker, "worker-1");
    let scheduler = Hello::new(Role::Scheduler, "scheduler");
    let server = async {
        let (stream, _) = listener.accept().await.expect("accept");
        Connection::accept(stream, &scheduler, &Acceptor::open(limits)).await
    };
    let dialer = Dialer::plain(limits, Role::Scheduler);
    let (client, server) = tokio::join!(Connection::connect(addr, &worker, &dialer), server);
    let (client, seen_by_client) = client.expect("connect");
    let (server, seen_by_server) = server.expect("accept handshake");
    assert_eq!(seen_by_client, scheduler);
    assert_eq!(seen_by_server, worker);
    (client, server)
}

#[tokio::test]
async fn typed_messages_travel_both_ways() {
    let (mut client, mut server) = pair(ConnectionLimits::default()).await;
    assert_eq!(client.peer_addr(), server.local_addr().expect("addr"));
    assert!(matches!(client.reader.frames.get_ref(),
            ReadStream::Plain(half) if half.as_ref().nodelay().expect("nodelay")));
    assert!(matches!(server.reader.frames.get_ref(),
            ReadStream::Plain(half) if half.as_ref().nodelay().expect("nodelay")));

    let submit = Message::Submit {
        id: 7,
        task: "inc".into(),
    };
    client.send(&submit).await.expect("send");
    assert_eq!(server.recv::<Message>().await.expect("recv"), Some(submit));
    server.send(&Message::Done { id: 7 }).await.expect("send");
    assert_eq!(
        client.recv::<Message>().await.expect("recv"),
        Some(Message::Done { id: 7 })
    );

    // Many queued messages go out with one flush.
    for id in 0..1000 {
        client.queue(&Message::Done { id }).expect("queue");
    }
    client.queue(&Message::Shutdown).expect("queue");
    client.shutdown().await.expect("shutdown");
    for id in 0..1000 {
        assert_eq!(
            server.recv::<Message>().await.expect("recv"),
            Some(Message::Done { id })
        );
    }
    assert_eq!(
        server.recv::<Message>().await.expect("recv"),
        Some(Message::Shutdown)
    );
    assert_eq!(server.recv::<Message>().await.expect("recv at end"), None);
}

#[tokio::test]
async fn split_halves_work_from_different_tasks() {
    let (client, mut server) = pair(ConnectionLimits::default()).await;
    let (mut reader, mut writer) = client.into_split();
    let result: Vec<u8> = (0..5 * 1024 * 1024)
        .map(|index| (index % 253) as u8)
        .collect();
    let expected = result.clone();

    let sending = tokio::spawn(async move {
        writer.send(&Message::Done { id: 1 }).await.expect("send");
        writer
            .send_frame_parts(&[b"header:", &result])
            .await
            .expect("send bulk");
        writer.shutdown().await.expect("shutdown");
    });
    let receiving = tokio::spawn(async move {
        let mut received = Vec::new();
        while let Some(message) = reader.recv::<Message>().await.expect("recv") {
            received.push(message);
        }
        received
    });

    assert_eq!(
        server.recv::<Message>().await.expect("recv"),
        Some(Message::Done { id: 1 })
    );
    let bulk = server
        .recv_frame()
        .await
        .expect("recv bulk")
        .expect("a frame");
    assert_eq!(&bulk[..7], b"header:");
    assert!(bulk[7..] == expected[..], "bulk frame differs");
    assert_eq!(server.recv_frame().await.expect("recv at end"), None);

    let (split_reader, split_writer) = server.split_mut();
    split_writer.send(&Message::Shutdown).await.expect("send");
    assert_eq!(split_reader.peer_addr(), split_writer.peer_addr());
    server.shutdown().await.expect("shutdown");
    sending.await.expect("sending task");
    assert_eq!(
        receiving.await.expect("receiving task"),
        [Message::Shutdown]
    );
}

#[tokio::test]
async fn a_message_of_the_wrong_type_is_a_codec_error() {
    let (mut client, mut server) = pair(ConnectionLimits::default()).await;
    client.send_frame(b"\x09\x00\x00\x00").await.expect("send");
    let error = server.recv::<Message>().await.expect_err("no variant 9");
    assert!(matches!(error, ConnectionError::Codec { .. }), "{error}");
    let text = error.to_string();
    assert!(
        text.contains(&client.local_addr().expect("addr").to_string()),
        "{text}"
    );
    assert!(text.contains("Message"), "{text}");
}

#[tokio::test]
async fn frames_over_the_limit_are_refused_on_both_sides() {
    let limits = ConnectionLimits {
        frame_bytes_max: 1024,
        ..ConnectionLimits::default()
    };
    let (mut client, mut server) = pair(limits).await;
    let big = Message::Submit {
        id: 1,
        task: "x".repeat(2000),
    };
    let error = client.send(&big).await.expect_err("over the limit");
    assert!(
        matches!(
            error,
            ConnectionError::Frame {
                error: FrameError::TooLarge { limit: 1024, .. },
                ..
            }
        ),
        "{error}"
    );
    // Nothing was sent; the connection still works.
    client.send(&Message::Shutdown).await.expect("send");
    assert_eq!(
        server.recv::<Message>().await.expect("recv"),
        Some(Message::Shutdown)
    );

    // A sender with a bigger limit is refused by the receiver.
    client.writer.frame_writer_mut().set_frame_bytes_max(4096);
    client.send(&big).await.expect("sender allows it");
    let error = server
        .recv::<Message>()
        .await
        .expect_err("receiver refuses");
    assert!(
        error
            .to_string()
            .contains("over the frame size limit of 1024 bytes (frame_bytes_max)"),
        "{error}"
    );
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let (listener, addr) = listener().await;
    let limits = ConnectionLimits {
        handshake_timeout: Duration::from_millis(200),
        ..ConnectionLimits::default()
    };
    let silent = async {
        let (stream, _) = listener.accept().await.expect("accept");
        stream
    };
    let client = Hello::new(Role::Client, "c");
    let dialer = Dialer::plain(limits, Role::Scheduler);
    let (connected, _silent_stream) =
        tokio::join!(Connection::connect(addr, &client, &dialer), silent);
    let error = connected.expect_err("silence");
    assert!(
        matches!(
            error,
            ConnectionError::Handshake {
                error: HandshakeError::Timeout { .. },
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test]
async fn a_server_that_is_not_weft_is_named() {
    let (listener, addr) = listener().await;
    let http_server = async {
        let (mut stream, _) = listener.accept().await.expect("accept");
        stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            .await
            .expect("write");
        stream
    };
    let client = Hello::new(Role::Client, "c");
    let limits = ConnectionLimits::default();
    let dialer = Dialer::plain(limits, Role::Scheduler);
    let (connected, _stream) = tokio::join!(
        Connection::connect(addr.to_string(), &client, &dialer),
        http_server
    );
    let error = connected.expect_err("not Weft");
    let text = error.to_string();
    assert!(
        text.starts_with(&format!("handshake with {addr} failed")),
        "{text}"
    );
    assert!(text.contains("probably not a Weft process"), "{text}");
    assert!(text.contains("\"HTTP\""), "{text}");
}

#[tokio::test]
async fn a_client_that_is_not_weft_is_refused_by_accept() {
    let (listener, addr) = listener().await;
    let client = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(b"WEFT").await.expect("write");
        stream.shutdown().await.expect("shutdown");
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply).await;
        reply
    };
    let server = async {
        let (stream, _) = listener.accept().await.expect("accept");
        Connection::accept(
            stream,
            &Hello::new(Role::Scheduler, "s"),
            &Acceptor::open(ConnectionLimits::default()),
        )
        .await
    };
    let (reply, accepted) = tokio::join!(client, server);
    // "WEFT" read as a length is over the hello limit.
    let error = accepted.expect_err("garbage");
    assert!(
        matches!(
            error,
            ConnectionError::Handshake {
                error: HandshakeError::HelloTooLarge { .. },
                ..
            }
        ),
        "{error}"
    );
    // The server's own hello went out first.
    assert_eq!(&reply[4..8], b"WEFT");
}

#[tokio::test]
async fn a_refused_connect_names_the_address() {
    let (listener, addr) = listener().await;
    drop(listener);
    let error = Connection::connect(
        addr,
        &Hello::new(Role::Client, "c"),
        &Dialer::plain(ConnectionLimits::default(), Role::Scheduler),
    )
    .await
    .expect_err("nobody listens");
    assert!(matches!(error, ConnectionError::Connect { .. }), "{error}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot connect to {addr}: ")),
        "{error}"
    );
}
