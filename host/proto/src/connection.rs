//! A TCP connection between two Weft processes, after the handshake:
//! [`Connection`], and its two halves [`ConnectionReader`] and
//! [`ConnectionWriter`] for drivers that read and write from different
//! tasks.
//!
//! Typed messages go through [`codec`]; raw frames (bulk task
//! results) go through unchanged. Both share the connection's
//! `frame_bytes_max`.

use crate::auth::{
    AUTH_FRAME_BYTES_MAX, AuthFrame, AuthRefusal, AuthReply, Authenticator, Credential,
    OpenAuthenticator, PeerFacts, Principal,
};
use crate::codec::{self, CodecError};
use crate::frame::{DEFAULT_FRAME_BYTES_MAX, FrameError, FrameReader, FrameWriter};
use crate::handshake::Role;
use crate::handshake::{HandshakeError, Hello, handshake};
use crate::transport::{ReadStream, Stream, WriteStream};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpStream, ToSocketAddrs};

/// Default `handshake_timeout`: how long the TCP connect, and then the hello
/// exchange, may each take (10 s).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The limits of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// `frame_bytes_max`: the longest frame payload read or written, control
    /// messages and bulk frames alike. Default [`DEFAULT_FRAME_BYTES_MAX`].
    pub frame_bytes_max: usize,
    /// `handshake_timeout`: the time allowed for the TCP connect (in
    /// [`Connection::connect`]) and, separately, for the hello exchange.
    /// Default [`DEFAULT_HANDSHAKE_TIMEOUT`].
    pub handshake_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            frame_bytes_max: DEFAULT_FRAME_BYTES_MAX,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

/// A connection could not be set up, or a message could not be sent or
/// received. Apart from a [`Codec`](Self::Codec) error on send (nothing was
/// sent), the connection should be dropped after any of these.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The TCP connect failed (refused, unreachable, bad address...).
    #[error("cannot connect to {addr}: {error}")]
    Connect {
        /// The address as given.
        addr: String,
        /// What the system said.
        #[source]
        error: io::Error,
    },
    /// The TCP connect did not finish within `handshake_timeout`.
    #[error("cannot connect to {addr}: no answer within {timeout:?} (handshake_timeout)")]
    ConnectTimeout {
        /// The address as given.
        addr: String,
        /// The timeout in force.
        timeout: Duration,
    },
    /// The socket could not be configured (TCP_NODELAY, peer address).
    #[error("cannot configure the TCP socket: {0}")]
    Socket(#[source] io::Error),
    /// The hello exchange failed.
    #[error("handshake with {peer} failed: {error}")]
    Handshake {
        /// The peer's address.
        peer: SocketAddr,
        /// What went wrong.
        #[source]
        error: HandshakeError,
    },
    /// A frame could not be read or written.
    #[error("connection with {peer}: {error}")]
    Frame {
        /// The peer's address.
        peer: SocketAddr,
        /// What went wrong.
        #[source]
        error: FrameError,
    },
    /// The TLS handshake failed (untrusted or expired certificate, a
    /// certificate without the expected role, a peer speaking plain TCP).
    #[error("TLS with {peer} failed: {error}")]
    Tls {
        /// The peer's address.
        peer: SocketAddr,
        /// What rustls said.
        #[source]
        error: io::Error,
    },
    /// The peer's hello names another role than the one we dialled; our
    /// credential was not sent.
    #[error("{peer} is a Weft {found}, not a {expected}")]
    UnexpectedRole {
        /// The peer's address.
        peer: SocketAddr,
        /// The role we expected.
        expected: Role,
        /// The role it claimed.
        found: Role,
    },
    /// Authentication was refused (by the peer, or by us on accept).
    #[error("{peer} refused the connection: {refusal}")]
    Refused {
        /// The peer's address.
        peer: SocketAddr,
        /// Why.
        refusal: AuthRefusal,
    },
    /// A message could not be encoded (on send) or decoded (on receive).
    #[error("connection with {peer}: {error}")]
    Codec {
        /// The peer's address.
        peer: SocketAddr,
        /// What went wrong.
        #[source]
        error: CodecError,
    },
}

/// How a connecting side reaches one kind of port: its limits, its TLS
/// configuration (which also says which role the server's certificate must
/// name), the credential it proves itself with, and the role the other end
/// must claim before the credential is sent.
#[derive(Debug, Clone)]
pub struct Dialer {
    /// Frame size limit and handshake timeout.
    pub limits: ConnectionLimits,
    /// TLS, or plain TCP if `None`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// What it proves itself with.
    pub credential: Credential,
    /// The role the other end must claim in its hello; the credential is
    /// sent only to it.
    pub expect_role: Role,
}

impl Dialer {
    /// Plain TCP, no credential, to a peer of role `expect_role`.
    pub fn plain(limits: ConnectionLimits, expect_role: Role) -> Dialer {
        Dialer {
            limits,
            tls: None,
            credential: Credential::None,
            expect_role,
        }
    }
}

/// How an accepting side admits connections: limits, TLS, and who decides
/// who a peer is.
#[derive(Clone)]
pub struct Acceptor {
    /// Frame size limit and handshake timeout.
    pub limits: ConnectionLimits,
    /// TLS, or plain TCP if `None`.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Decides every connection's principal.
    pub authenticator: Arc<dyn Authenticator>,
}

impl Acceptor {
    /// Plain TCP, everyone admitted as the open tenant.
    pub fn open(limits: ConnectionLimits) -> Acceptor {
        Acceptor {
            limits,
            tls: None,
            authenticator: Arc::new(OpenAuthenticator::default()),
        }
    }
}

impl fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acceptor")
            .field("limits", &self.limits)
            .field("tls", &self.tls.is_some())
            .field("authenticator", &self.authenticator)
            .finish()
    }
}

/// A connection to another Weft process, handshake and authentication
/// done.
///
/// Sending is not cancel-safe (a dropped send can leave half a frame
/// behind); receiving is.
#[derive(Debug)]
pub struct Connection {
    reader: ConnectionReader,
    writer: ConnectionWriter,
    principal: Principal,
    local: Option<SocketAddr>,
}

impl Connection {
    /// Connects to `addr`, sets up TLS if the dialer has it, exchanges
    /// hellos, checks the peer's role and proves our credential. Returns
    /// the connection and the peer's hello.
    pub async fn connect<A>(
        addr: A,
        ours: &Hello,
        dialer: &Dialer,
    ) -> Result<(Connection, Hello), ConnectionError>
    where
        A: ToSocketAddrs + fmt::Display,
    {
        let limits = &dialer.limits;
        let addr_text = addr.to_string();
        let tcp =
            match tokio::time::timeout(limits.handshake_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    return Err(ConnectionError::Connect {
                        addr: addr_text,
                        error,
                    });
                }
                Err(_elapsed) => {
                    return Err(ConnectionError::ConnectTimeout {
                        addr: addr_text,
                        timeout: limits.handshake_timeout,
                    });
                }
            };
        tcp.set_nodelay(true).map_err(ConnectionError::Socket)?;
        let peer = tcp.peer_addr().map_err(ConnectionError::Socket)?;
        let local = tcp.local_addr().ok();
        let stream = match &dialer.tls {
            None => Stream::Plain(tcp),
            Some(config) => {
                let connector = tokio_rustls::TlsConnector::from(config.clone());
                let tls = tokio::time::timeout(
                    limits.handshake_timeout,
                    connector.connect(crate::tls::server_name(), tcp),
                )
                .await
                .map_err(|_elapsed| ConnectionError::Tls {
                    peer,
                    error: io::Error::new(io::ErrorKind::TimedOut, "the TLS handshake timed out"),
                })?
                .map_err(|error| ConnectionError::Tls { peer, error })?;
                Stream::Tls(Box::new(tokio_rustls::TlsStream::Client(tls)))
            }
        };
        let (mut frame_reader, mut frame_writer) = framed(stream, limits);
        let theirs = handshake(
            &mut frame_reader,
            &mut frame_writer,
            ours,
            limits.handshake_timeout,
        )
        .await
        .map_err(|error| ConnectionError::Handshake { peer, error })?;
        if theirs.role != dialer.expect_role {
            return Err(ConnectionError::UnexpectedRole {
                peer,
                expected: dialer.expect_role,
                found: theirs.role,
            });
        }
        let frame = AuthFrame {
            credential: dialer.credential.clone(),
        };
        let reply: AuthReply = exchange_auth(
            &mut frame_reader,
            &mut frame_writer,
            Some(&frame),
            limits.handshake_timeout,
        )
        .await
        .map_err(|error| ConnectionError::Handshake { peer, error })?;
        let principal = match reply {
            AuthReply::Accepted { tenant, access } => Principal {
                tenant,
                access,
                token_id: String::new(),
            },
            AuthReply::Refused(refusal) => {
                return Err(ConnectionError::Refused { peer, refusal });
            }
        };
        tracing::debug!(%peer, role = %theirs.role, name = %theirs.name, "connection established");
        Ok((
            Connection::from_parts(frame_reader, frame_writer, peer, principal, local),
            theirs,
        ))
    }

    /// Sets up TLS if the acceptor has it, exchanges hellos over a freshly
    /// accepted stream and authenticates the peer; nothing else is read
    /// before that succeeds. Returns the connection (whose
    /// [`principal`](Self::principal) is the peer's) and the peer's hello.
    pub async fn accept(
        tcp: TcpStream,
        ours: &Hello,
        acceptor: &Acceptor,
    ) -> Result<(Connection, Hello), ConnectionError> {
        let limits = &acceptor.limits;
        tcp.set_nodelay(true).map_err(ConnectionError::Socket)?;
        let peer = tcp.peer_addr().map_err(ConnectionError::Socket)?;
        let local = tcp.local_addr().ok();
        let (stream, certificate_role) = match &acceptor.tls {
            None => (Stream::Plain(tcp), None),
            Some(tls) => {
                let accepted = tokio::time::timeout(limits.handshake_timeout, tls.accept(tcp))
                    .await
                    .map_err(|_elapsed| ConnectionError::Tls {
                        peer,
                        error: io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the TLS handshake timed out",
                        ),
                    })?
                    .map_err(|error| ConnectionError::Tls { peer, error })?;
                let role = crate::tls::peer_certificate_role(accepted.get_ref().1);
                (
                    Stream::Tls(Box::new(tokio_rustls::TlsStream::Server(accepted))),
                    role,
                )
            }
        };
        let (mut frame_reader, mut frame_writer) = framed(stream, limits);
        let theirs = handshake(
            &mut frame_reader,
            &mut frame_writer,
            ours,
            limits.handshake_timeout,
        )
        .await
        .map_err(|error| ConnectionError::Handshake { peer, error })?;
        let frame: AuthFrame = exchange_auth::<AuthFrame, AuthReply, _, _>(
            &mut frame_reader,
            &mut frame_writer,
            None,
            limits.handshake_timeout,
        )
        .await
        .map_err(|error| ConnectionError::Handshake { peer, error })?;
        let facts = PeerFacts {
            hello: &theirs,
            addr: peer,
            tls: acceptor.tls.is_some(),
            certificate_role,
        };
        let decision = acceptor
            .authenticator
            .authenticate(&facts, &frame.credential);
        let reply = match &decision {
            Ok(principal) => AuthReply::Accepted {
                tenant: principal.tenant.clone(),
                access: principal.access,
            },
            Err(refusal) => AuthReply::Refused(refusal.clone()),
        };
        let sent = async {
            let payload = codec::encode(&reply).map_err(|error| HandshakeError::OwnAuth {
                reason: error.to_string(),
            })?;
            frame_writer.write_frame(&payload).await?;
            Ok::<_, HandshakeError>(())
        };
        tokio::time::timeout(limits.handshake_timeout, sent)
            .await
            .map_err(|_elapsed| ConnectionError::Handshake {
                peer,
                error: HandshakeError::AuthTimeout {
                    timeout: limits.handshake_timeout,
                },
            })?
            .map_err(|error| ConnectionError::Handshake { peer, error })?;
        let principal = match decision {
            Ok(principal) => principal,
            Err(refusal) => {
                let _ = frame_writer.shutdown().await;
                return Err(ConnectionError::Refused { peer, refusal });
            }
        };
        tracing::debug!(%peer, role = %theirs.role, name = %theirs.name, tenant = %principal.tenant, "connection accepted");
        Ok((
            Connection::from_parts(frame_reader, frame_writer, peer, principal, local),
            theirs,
        ))
    }

    fn from_parts(
        frames_in: FrameReader<ReadStream>,
        frames_out: FrameWriter<WriteStream>,
        peer: SocketAddr,
        principal: Principal,
        local: Option<SocketAddr>,
    ) -> Connection {
        Connection {
            reader: ConnectionReader {
                frames: frames_in,
                peer,
            },
            writer: ConnectionWriter {
                frames: frames_out,
                peer,
            },
            principal,
            local,
        }
    }

    /// Our own address on this connection (the interface the peer is
    /// reached through), if the system said.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }

    /// Who the peer is (on an accepted connection), or what the peer
    /// accepted us as (on a connected one: tenant and access; no token id).
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.reader.peer
    }

    /// Encodes `msg` as one frame and sends it (with anything queued).
    pub async fn send<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<(), ConnectionError> {
        self.writer.send(msg).await
    }

    /// Encodes `msg` as one frame into the write buffer; [`flush`](Self::flush)
    /// sends it.
    pub fn queue<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<(), ConnectionError> {
        self.writer.queue(msg)
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> Result<(), ConnectionError> {
        self.writer.flush().await
    }

    /// The next message, or `None` if the peer closed the connection
    /// cleanly. Cancel-safe.
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, ConnectionError> {
        self.reader.recv().await
    }

    /// Sends one raw frame (with anything queued).
    pub async fn send_frame(&mut self, payload: &[u8]) -> Result<(), ConnectionError> {
        self.writer.send_frame(payload).await
    }

    /// Sends one raw frame whose payload is the concatenation of `parts`,
    /// without copying large parts together.
    pub async fn send_frame_parts(&mut self, parts: &[&[u8]]) -> Result<(), ConnectionError> {
        self.writer.send_frame_parts(parts).await
    }

    /// The next raw frame, or `None` if the peer closed the connection
    /// cleanly. Cancel-safe.
    pub async fn recv_frame(&mut self) -> Result<Option<Bytes>, ConnectionError> {
        self.reader.recv_frame().await
    }

    /// Sends everything queued, then closes the writing direction: the peer
    /// receives `None` after the last frame.
    pub async fn shutdown(&mut self) -> Result<(), ConnectionError> {
        self.writer.shutdown().await
    }

    /// Both halves, borrowed, to read and write in one `tokio::select!`.
    pub fn split_mut(&mut self) -> (&mut ConnectionReader, &mut ConnectionWriter) {
        (&mut self.reader, &mut self.writer)
    }

    /// Both halves, owned, to read and write from different tasks.
    pub fn into_split(self) -> (ConnectionReader, ConnectionWriter) {
        (self.reader, self.writer)
    }
}

/// Frame reader and writer over the halves of `stream`.
fn framed(
    stream: Stream,
    limits: &ConnectionLimits,
) -> (FrameReader<ReadStream>, FrameWriter<WriteStream>) {
    let (read, write) = stream.split();
    (
        FrameReader::with_limit(read, limits.frame_bytes_max),
        FrameWriter::with_limit(write, limits.frame_bytes_max),
    )
}

/// Sends `ours` (if any) and reads the peer's auth frame of type `T`,
/// capped at [`AUTH_FRAME_BYTES_MAX`], within `timeout`.
async fn exchange_auth<T, O, R, W>(
    reader: &mut FrameReader<R>,
    writer: &mut FrameWriter<W>,
    ours: Option<&O>,
    timeout: Duration,
) -> Result<T, HandshakeError>
where
    T: DeserializeOwned,
    O: Serialize,
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let exchange = async {
        if let Some(ours) = ours {
            let payload = codec::encode(ours).map_err(|error| HandshakeError::OwnAuth {
                reason: error.to_string(),
            })?;
            writer.write_frame(&payload).await?;
        }
        let frame = match reader.read_frame_with_limit(AUTH_FRAME_BYTES_MAX).await {
            Ok(Some(frame)) => frame,
            Ok(None) => return Err(HandshakeError::AuthClosed),
            Err(error) => return Err(error.into()),
        };
        codec::decode(&frame).map_err(HandshakeError::AuthMalformed)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_elapsed| HandshakeError::AuthTimeout { timeout })?
}

/// The receiving half of a [`Connection`].
#[derive(Debug)]
pub struct ConnectionReader {
    frames: FrameReader<ReadStream>,
    peer: SocketAddr,
}

impl ConnectionReader {
    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The next message, or `None` if the peer closed the connection
    /// cleanly. Cancel-safe.
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, ConnectionError> {
        let Some(frame) = self.recv_frame().await? else {
            return Ok(None);
        };
        codec::decode(&frame)
            .map(Some)
            .map_err(|error| ConnectionError::Codec {
                peer: self.peer,
                error,
            })
    }

    /// The next raw frame, or `None` if the peer closed the connection
    /// cleanly. Cancel-safe.
    pub async fn recv_frame(&mut self) -> Result<Option<Bytes>, ConnectionError> {
        self.frames
            .read_frame()
            .await
            .map_err(|error| ConnectionError::Frame {
                peer: self.peer,
                error,
            })
    }

    /// Appends the next raw frame's payload to `out` (see
    /// [`FrameReader::read_frame_into`]); `None` if the peer closed the
    /// connection cleanly. Not cancel-safe.
    pub async fn recv_frame_into(
        &mut self,
        out: &mut Vec<u8>,
        room: usize,
    ) -> Result<Option<usize>, ConnectionError> {
        self.frames
            .read_frame_into(out, room)
            .await
            .map_err(|error| ConnectionError::Frame {
                peer: self.peer,
                error,
            })
    }

    /// The frame reader underneath (to change its limit, say).
    pub fn frame_reader_mut(&mut self) -> &mut FrameReader<ReadStream> {
        &mut self.frames
    }
}

/// The sending half of a [`Connection`]. Dropping it closes the writing
/// direction of the socket; queued frames that were not flushed are lost.
#[derive(Debug)]
pub struct ConnectionWriter {
    frames: FrameWriter<WriteStream>,
    peer: SocketAddr,
}

/// What can go wrong while queuing a message.
enum QueueFailure {
    Frame(FrameError),
    Codec(CodecError),
}

impl From<FrameError> for QueueFailure {
    fn from(error: FrameError) -> Self {
        QueueFailure::Frame(error)
    }
}

impl ConnectionWriter {
    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// Encodes `msg` as one frame and sends it (with anything queued).
    pub async fn send<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<(), ConnectionError> {
        self.queue(msg)?;
        self.flush().await
    }

    /// Encodes `msg` as one frame straight into the write buffer;
    /// [`flush`](Self::flush) sends it. If encoding fails or the message is
    /// over `frame_bytes_max`, nothing is queued and the connection is still
    /// usable.
    pub fn queue<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<(), ConnectionError> {
        self.frames
            .queue_frame_with(|buffer| codec::encode_into(msg, buffer).map_err(QueueFailure::Codec))
            .map_err(|failure| match failure {
                QueueFailure::Frame(error) => self.frame_error(error),
                QueueFailure::Codec(error) => ConnectionError::Codec {
                    peer: self.peer,
                    error,
                },
            })
    }

    /// Queues one raw frame; [`flush`](Self::flush) sends it. Meant for small
    /// frames: the payload is copied into the write buffer.
    pub fn queue_frame(&mut self, payload: &[u8]) -> Result<(), ConnectionError> {
        self.frames
            .queue_frame(payload)
            .map_err(|error| self.frame_error(error))
    }

    /// Bytes queued and not yet sent.
    pub fn queued_bytes(&self) -> usize {
        self.frames.queued_bytes()
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> Result<(), ConnectionError> {
        let flushed = self.frames.flush().await;
        flushed.map_err(|error| self.frame_error(error))
    }

    /// Sends one raw frame (with anything queued).
    pub async fn send_frame(&mut self, payload: &[u8]) -> Result<(), ConnectionError> {
        let written = self.frames.write_frame(payload).await;
        written.map_err(|error| self.frame_error(error))
    }

    /// Sends one raw frame whose payload is the concatenation of `parts`,
    /// without copying large parts together.
    pub async fn send_frame_parts(&mut self, parts: &[&[u8]]) -> Result<(), ConnectionError> {
        let written = self.frames.write_frame_parts(parts).await;
        written.map_err(|error| self.frame_error(error))
    }

    /// Sends everything queued, then closes the writing direction: the peer
    /// receives `None` after the last frame.
    pub async fn shutdown(&mut self) -> Result<(), ConnectionError> {
        let shut = self.frames.shutdown().await;
        shut.map_err(|error| self.frame_error(error))
    }

    /// The frame writer underneath (to change its limit, say).
    pub fn frame_writer_mut(&mut self) -> &mut FrameWriter<WriteStream> {
        &mut self.frames
    }

    fn frame_error(&self, error: FrameError) -> ConnectionError {
        ConnectionError::Frame {
            peer: self.peer,
            error,
        }
    }
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
