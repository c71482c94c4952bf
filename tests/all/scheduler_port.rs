//! The scheduler process against bad peers and bad requests: garbage,
//! oversized frames and truncated messages close only their own connection,
//! while a client working at the same time carries on.

use crate::processes::Process;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use weft_client::{Client, ClientError};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Sends `bytes` and waits (bounded) for the scheduler to close the
/// connection.
fn expect_closed_after(addr: &str, bytes: &[u8]) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut sink = Vec::new();
    // Ends at EOF (closed); a timeout error would fail the read below.
    let result = stream.read_to_end(&mut sink);
    assert!(
        result.is_ok(),
        "the scheduler did not close the connection: {result:?}"
    );
}

fn valid_client_hello() -> Vec<u8> {
    let hello = weft_proto::Hello::new(weft_proto::Role::Client, "raw");
    let payload = weft_proto::encode(&hello).unwrap();
    let mut frame = (payload.len() as u32).to_le_bytes().to_vec();
    frame.extend(payload);
    frame
}

#[test]
fn bad_bytes_close_only_their_connection() {
    let scheduler = Process::start(&["scheduler", "--listen", "127.0.0.1:0"]);
    let rt = runtime();
    let client = rt.block_on(Client::connect(&scheduler.addr)).unwrap();
    let module_bytes = std::fs::read(weft_guest_artifacts::TESTKIT).unwrap();

    // Garbage instead of a hello.
    expect_closed_after(&scheduler.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    // A frame announcing 4 GiB.
    expect_closed_after(&scheduler.addr, &u32::MAX.to_le_bytes());
    // A valid hello, then a frame announcing 4 GiB (over frame_bytes_max).
    let mut oversized = valid_client_hello();
    oversized.extend(u32::MAX.to_le_bytes());
    expect_closed_after(&scheduler.addr, &oversized);
    // A valid hello, then a message cut short.
    let mut truncated = valid_client_hello();
    truncated.extend(100u32.to_le_bytes());
    truncated.extend([1, 2, 3]);
    expect_closed_after(&scheduler.addr, &truncated);
    // A valid hello, then a frame that is not a request.
    let mut nonsense = valid_client_hello();
    nonsense.extend(8u32.to_le_bytes());
    nonsense.extend([0xff; 8]);
    expect_closed_after(&scheduler.addr, &nonsense);

    // The client connected before all that still works.
    let module = rt
        .block_on(client.upload_module(module_bytes))
        .expect("the client is unaffected");
    assert!(module.signature("inc").is_ok());
}

#[test]
fn a_graph_using_a_module_never_uploaded_is_refused() {
    let scheduler = Process::start(&["scheduler", "--listen", "127.0.0.1:0"]);
    let rt = runtime();
    let uploader = rt.block_on(Client::connect(&scheduler.addr)).unwrap();
    let module = rt
        .block_on(uploader.upload_module(std::fs::read(weft_guest_artifacts::TESTKIT).unwrap()))
        .unwrap();
    // A second scheduler never saw the module.
    let other = Process::start(&["scheduler", "--listen", "127.0.0.1:0"]);
    let client = rt.block_on(Client::connect(&other.addr)).unwrap();
    let future = client.submit::<i64>(&module, "inc", (1,)).unwrap();
    let err = rt
        .block_on(tokio_timeout(future.wait()))
        .expect_err("the submission is refused");
    assert!(
        matches!(&err, ClientError::Refused(reason) if reason.contains("was not uploaded")),
        "{err}"
    );
    // Bad arguments never leave the client.
    let err = client.submit::<i64>(&module, "inc", ("one",)).unwrap_err();
    assert!(err.to_string().contains("argument `x`"), "{err}");
    let err = client.submit::<i64>(&module, "add", (1,)).unwrap_err();
    assert!(
        err.to_string()
            .contains("1 arguments given, the task takes 2"),
        "{err}"
    );
    let err = client.submit::<i64>(&module, "nope", (1,)).unwrap_err();
    assert!(err.to_string().contains("no task `nope`"), "{err}");
}

async fn tokio_timeout<T>(
    future: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .unwrap_or(Err(ClientError::Timeout))
}
