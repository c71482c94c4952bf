//! The first frame in each direction of every connection: a [`Hello`] saying
//! who is talking and which protocol version it speaks.
//!
//! Both sides send their hello at once and then read the other's, so neither
//! waits for the other to go first. The hello frame is capped at
//! [`HELLO_FRAME_BYTES_MAX`] whatever the connection's frame limit, so a
//! confused peer (an HTTP client, a port scanner) is refused after a few
//! bytes, and a silent peer is refused after the timeout.

use crate::codec::{self, CodecError};
use crate::frame::{FrameError, FrameReader, FrameWriter};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// The first four bytes of every hello.
pub const MAGIC: [u8; 4] = *b"WEFT";

/// The protocol version this build speaks. Peers must speak the same one.
///
/// 2: workers send their instance at registration; `Rejoin`, `Heartbeat`,
/// `Holding` and typed `Failed` answers. 4: a task sent to a worker
/// carries its tenant and the tenant's task ceilings; a tenant's limits
/// (in the status) carry its ceilings. 5: and the tenant's weight. 6: graphs
/// in parts (`SubmitGraphPart`), values in chunks on the data port.
pub const PROTOCOL_VERSION: u16 = 6;

/// The longest hello payload accepted or sent, in bytes (4 KiB).
pub const HELLO_FRAME_BYTES_MAX: usize = 4 * 1024;

/// Who a process is, sent as the first frame of every connection.
///
/// In every protocol version the encoding of a hello starts with the four
/// bytes of [`MAGIC`] and then the protocol version as a little-endian
/// `u16`; they are checked before the rest is decoded, so a peer of another
/// version gets a version error, not a decode error. Fields may be added
/// after them in later versions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Hello {
    /// Always [`MAGIC`].
    pub magic: [u8; 4],
    /// The sender's [`PROTOCOL_VERSION`].
    pub protocol_version: u16,
    /// What kind of process the sender is.
    pub role: Role,
    /// A name for logs and errors (a worker's id, a client's program name).
    pub name: String,
}

impl Hello {
    /// A hello of this build's protocol version.
    pub fn new(role: Role, name: impl Into<String>) -> Self {
        Self {
            magic: MAGIC,
            protocol_version: PROTOCOL_VERSION,
            role,
            name: name.into(),
        }
    }
}

/// What kind of process is on the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// A program submitting tasks.
    Client,
    /// A process running tasks.
    Worker,
    /// The scheduler.
    Scheduler,
    /// A worker talking to another worker (moving results).
    Peer,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Client => "client",
            Role::Worker => "worker",
            Role::Scheduler => "scheduler",
            Role::Peer => "peer",
        })
    }
}

/// The handshake failed; the connection should be dropped.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The peer's hello does not start with [`MAGIC`].
    #[error(
        "peer is not a Weft process (bad magic \"{}\", expected \"WEFT\")",
        .found.escape_ascii()
    )]
    BadMagic {
        /// The first (up to four) bytes of the peer's hello.
        found: Vec<u8>,
    },
    /// The peer speaks another protocol version.
    #[error("peer speaks Weft protocol {theirs}, we speak {ours}")]
    VersionMismatch {
        /// The peer's version.
        theirs: u16,
        /// Ours.
        ours: u16,
    },
    /// The peer's first frame announces more than a hello may hold, which
    /// usually means the peer is not a Weft process at all.
    #[error(
        "peer's first frame announces {len} bytes, over the {limit}-byte limit for a hello; \
         the peer is probably not a Weft process (its first bytes are \"{}\")",
        .first_bytes.escape_ascii()
    )]
    HelloTooLarge {
        /// The announced payload length.
        len: usize,
        /// The hello limit in force.
        limit: usize,
        /// The length prefix as raw bytes (text, if the peer speaks a text
        /// protocol).
        first_bytes: [u8; 4],
    },
    /// The peer answered with a TLS record: the port requires TLS and we
    /// connected without it.
    #[error("the peer speaks TLS: this port requires TLS (give the cluster's CA with --tls-ca)")]
    SpeaksTls,
    /// Our own hello cannot be sent (its name is too long for the hello
    /// limit, say).
    #[error("our hello cannot be sent: {reason}")]
    OwnHello {
        /// Why.
        reason: String,
    },
    /// The exchange did not finish in time (usually: the peer said nothing).
    #[error("no hello from the peer within {timeout:?}")]
    Timeout {
        /// The handshake timeout in force.
        timeout: Duration,
    },
    /// The peer closed the connection before sending its hello.
    #[error("peer closed the connection before sending its hello")]
    Closed,
    /// The peer's hello has the right magic and version but does not decode.
    #[error("peer's hello is malformed: {0}")]
    Malformed(#[source] CodecError),
    /// The peer sent its hello but not its authentication frame (or the
    /// answer to ours) in time.
    #[error("the peer said hello but did not authenticate within {timeout:?}")]
    AuthTimeout {
        /// The handshake timeout in force.
        timeout: Duration,
    },
    /// The peer closed the connection after its hello, before the
    /// authentication step was done.
    #[error("the peer closed the connection during authentication")]
    AuthClosed,
    /// The peer's authentication frame (or answer) does not decode.
    #[error("the peer's authentication frame is malformed: {0}")]
    AuthMalformed(#[source] CodecError),
    /// Our own authentication frame cannot be encoded.
    #[error("our authentication frame cannot be sent: {reason}")]
    OwnAuth {
        /// Why.
        reason: String,
    },
    /// Reading or writing the hello frame failed.
    #[error("hello frame: {0}")]
    Frame(#[from] FrameError),
}

/// Sends `ours`, reads the peer's hello and checks its magic and version,
/// all within `timeout`.
///
/// The peer's hello may be at most [`HELLO_FRAME_BYTES_MAX`] bytes (or the
/// reader's limit, if smaller). Its role is not checked: that is the
/// caller's business.
pub async fn handshake<R, W>(
    reader: &mut FrameReader<R>,
    writer: &mut FrameWriter<W>,
    ours: &Hello,
    timeout: Duration,
) -> Result<Hello, HandshakeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let payload = codec::encode(ours).map_err(|error| HandshakeError::OwnHello {
        reason: error.to_string(),
    })?;
    if payload.len() > HELLO_FRAME_BYTES_MAX {
        return Err(HandshakeError::OwnHello {
            reason: format!(
                "it is {} bytes, over the {HELLO_FRAME_BYTES_MAX}-byte limit for a hello \
                 (a name of {} bytes is too long)",
                payload.len(),
                ours.name.len()
            ),
        });
    }
    let exchange = async {
        writer.write_frame(&payload).await?;
        let frame = match reader.read_frame_with_limit(HELLO_FRAME_BYTES_MAX).await {
            Ok(Some(frame)) => frame,
            Ok(None) => return Err(HandshakeError::Closed),
            Err(FrameError::TooLarge { len, .. })
                if matches!(
                    u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes(),
                    [0x15 | 0x16, 0x03, _, _]
                ) =>
            {
                return Err(HandshakeError::SpeaksTls);
            }
            Err(FrameError::TooLarge { len, limit }) => {
                return Err(HandshakeError::HelloTooLarge {
                    len,
                    limit,
                    first_bytes: u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes(),
                });
            }
            Err(error) => return Err(error.into()),
        };
        check_hello(&frame, ours.protocol_version)
    };
    let theirs = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_elapsed| HandshakeError::Timeout { timeout })??;
    tracing::debug!(
        role = %theirs.role,
        name = %theirs.name,
        "handshake done"
    );
    Ok(theirs)
}

/// Checks the magic and version at the start of a hello payload, then
/// decodes the rest.
fn check_hello(payload: &[u8], our_version: u16) -> Result<Hello, HandshakeError> {
    let magic_len = payload.len().min(MAGIC.len());
    if payload[..magic_len] != MAGIC[..] {
        return Err(HandshakeError::BadMagic {
            found: payload[..magic_len].to_vec(),
        });
    }
    if let Some(&[low, high]) = payload.get(MAGIC.len()..MAGIC.len() + 2) {
        let theirs = u16::from_le_bytes([low, high]);
        if theirs != our_version {
            return Err(HandshakeError::VersionMismatch {
                theirs,
                ours: our_version,
            });
        }
    }
    codec::decode(payload).map_err(HandshakeError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncWriteExt, DuplexStream, duplex};

    const TIMEOUT: Duration = Duration::from_millis(200);

    /// One side of an in-memory connection.
    type End = (FrameReader<DuplexStream>, FrameWriter<DuplexStream>);

    /// Two connected sides.
    fn ends() -> (End, End) {
        let (a_to_b_write, a_to_b_read) = duplex(64 * 1024);
        let (b_to_a_write, b_to_a_read) = duplex(64 * 1024);
        (
            (
                FrameReader::new(b_to_a_read),
                FrameWriter::new(a_to_b_write),
            ),
            (
                FrameReader::new(a_to_b_read),
                FrameWriter::new(b_to_a_write),
            ),
        )
    }

    /// Runs the handshake on side A against a peer side B that sends
    /// `peer_frame` as its first frame.
    async fn against_peer_frame(peer_frame: &[u8]) -> Result<Hello, HandshakeError> {
        let ((mut reader, mut writer), (_peer_reader, mut peer_writer)) = ends();
        peer_writer
            .write_frame(peer_frame)
            .await
            .expect("peer writes");
        handshake(
            &mut reader,
            &mut writer,
            &Hello::new(Role::Worker, "w"),
            TIMEOUT,
        )
        .await
    }

    #[test]
    fn a_hello_starts_with_magic_and_version() {
        let bytes = codec::encode(&Hello::new(Role::Client, "c")).expect("encode");
        assert_eq!(&bytes[..4], b"WEFT");
        assert_eq!(&bytes[4..6], PROTOCOL_VERSION.to_le_bytes());
    }

    #[tokio::test]
    async fn both_sides_learn_who_the_other_is() {
        let ((mut reader_a, mut writer_a), (mut reader_b, mut writer_b)) = ends();
        let worker = Hello::new(Role::Worker, "worker-1");
        let scheduler = Hello::new(Role::Scheduler, "scheduler");
        let (seen_by_worker, seen_by_scheduler) = tokio::join!(
            handshake(&mut reader_a, &mut writer_a, &worker, TIMEOUT),
            handshake(&mut reader_b, &mut writer_b, &scheduler, TIMEOUT),
        );
        assert_eq!(seen_by_worker.expect("worker side"), scheduler);
        assert_eq!(seen_by_scheduler.expect("scheduler side"), worker);

        // The connection carries ordinary frames afterwards.
        writer_a.write_frame(b"after").await.expect("write");
        assert_eq!(
            reader_b.read_frame().await.expect("read").as_deref(),
            Some(&b"after"[..])
        );
    }

    #[tokio::test]
    async fn a_wrong_magic_is_refused() {
        let mut hello = Hello::new(Role::Client, "c");
        hello.magic = *b"HTTP";
        let payload = codec::encode(&hello).expect("encode");
        let error = against_peer_frame(&payload).await.expect_err("bad magic");
        assert!(matches!(&error, HandshakeError::BadMagic { found } if found == b"HTTP"));
        assert_eq!(
            error.to_string(),
            "peer is not a Weft process (bad magic \"HTTP\", expected \"WEFT\")"
        );
        let error = against_peer_frame(b"\x00\xffW").await.expect_err("short");
        assert_eq!(
            error.to_string(),
            "peer is not a Weft process (bad magic \"\\x00\\xffW\", expected \"WEFT\")"
        );
    }

    #[tokio::test]
    async fn a_wrong_version_is_refused_even_if_the_rest_differs() {
        let mut hello = Hello::new(Role::Client, "c");
        hello.protocol_version = PROTOCOL_VERSION + 1;
        let payload = codec::encode(&hello).expect("encode");
        let error = against_peer_frame(&payload)
            .await
            .expect_err("a newer version");
        assert_eq!(
            error.to_string(),
            format!(
                "peer speaks Weft protocol {}, we speak {PROTOCOL_VERSION}",
                PROTOCOL_VERSION + 1
            )
        );

        // A future version with a different layout after the version field.
        let mut future = b"WEFT".to_vec();
        future.extend_from_slice(&7u16.to_le_bytes());
        future.extend_from_slice(b"\xff\xff\xff\xff something new");
        let error = against_peer_frame(&future).await.expect_err("version 7");
        assert!(matches!(
            error,
            HandshakeError::VersionMismatch {
                theirs: 7,
                ours: PROTOCOL_VERSION
            }
        ));
    }

    #[tokio::test]
    async fn a_malformed_hello_is_refused() {
        let mut payload = codec::encode(&Hello::new(Role::Client, "c")).expect("encode");
        payload[6] = 200; // no such role
        let error = against_peer_frame(&payload).await.expect_err("bad role");
        assert!(matches!(error, HandshakeError::Malformed(_)), "{error}");
        let error = against_peer_frame(b"WEFT\x01").await.expect_err("short");
        assert!(matches!(error, HandshakeError::Malformed(_)), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_times_out() {
        let ((mut reader, mut writer), _silent_peer) = ends();
        let started = tokio::time::Instant::now();
        let error = handshake(
            &mut reader,
            &mut writer,
            &Hello::new(Role::Client, "c"),
            TIMEOUT,
        )
        .await
        .expect_err("silence");
        assert!(matches!(error, HandshakeError::Timeout { timeout } if timeout == TIMEOUT));
        assert!(started.elapsed() >= TIMEOUT);
        assert_eq!(error.to_string(), "no hello from the peer within 200ms");
    }

    #[tokio::test]
    async fn a_peer_that_hangs_up_is_reported() {
        let ((mut reader, mut writer), (_peer_reader, mut peer_writer)) = ends();
        peer_writer.shutdown().await.expect("shutdown");
        let error = handshake(
            &mut reader,
            &mut writer,
            &Hello::new(Role::Client, "c"),
            TIMEOUT,
        )
        .await
        .expect_err("closed");
        assert!(matches!(error, HandshakeError::Closed));
    }

    #[tokio::test]
    async fn an_oversized_hello_is_refused() {
        // A well-formed hello whose name makes it larger than 4 KiB, read by
        // a reader whose own limit (the default, 64 MiB) would take it.
        let big = codec::encode(&Hello::new(Role::Client, "x".repeat(5000))).expect("encode");
        let error = against_peer_frame(&big).await.expect_err("too large");
        assert!(
            matches!(error, HandshakeError::HelloTooLarge { len, limit: HELLO_FRAME_BYTES_MAX, .. } if len == big.len()),
            "{error}"
        );

        // An HTTP client: its first four bytes read as a huge length.
        let ((mut reader, mut writer), (_peer_reader, mut peer_writer)) = ends();
        peer_writer
            .get_mut()
            .write_all(b"GET / HTTP/1.1\r\n\r\n")
            .await
            .expect("write");
        let error = handshake(
            &mut reader,
            &mut writer,
            &Hello::new(Role::Scheduler, "s"),
            TIMEOUT,
        )
        .await
        .expect_err("not Weft");
        assert!(
            error.to_string().contains("probably not a Weft process")
                && error.to_string().contains("\"GET \""),
            "{error}"
        );

        // We refuse to send one ourselves.
        let ((mut reader, mut writer), (mut peer_reader, _peer_writer)) = ends();
        let error = handshake(
            &mut reader,
            &mut writer,
            &Hello::new(Role::Client, "x".repeat(5000)),
            TIMEOUT,
        )
        .await
        .expect_err("own hello too large");
        assert!(matches!(error, HandshakeError::OwnHello { .. }), "{error}");
        drop(writer);
        assert_eq!(peer_reader.read_frame().await.expect("read"), None);
    }
}
