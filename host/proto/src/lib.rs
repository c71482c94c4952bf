//! How bytes move between Weft processes (scheduler, workers, clients).
//!
//! The layers below know no message type; [`messages`] holds Weft's
//! vocabulary on top of them. The layers, each usable alone:
//!
//! 1. **Frames** ([`frame`]): a `u32` little-endian payload length, then the
//!    payload. [`FrameReader`] and [`FrameWriter`] move frames over any tokio
//!    stream, refuse payloads over `frame_bytes_max`
//!    ([`DEFAULT_FRAME_BYTES_MAX`], 65 MiB) before allocating them, and
//!    batch small frames into few system calls. Bulk data (task results)
//!    travels as raw frames, never re-encoded.
//! 2. **Codec** ([`codec`]): the one place control messages become bytes,
//!    [`encode`] and [`decode`] with bincode 1.3 (fixed-width little-endian
//!    integers), bounded by the input's length so a hostile length prefix
//!    inside a message cannot force an allocation.
//! 3. **Handshake** ([`handshake`](mod@handshake)): the first frame each way
//!    is a [`Hello`] (magic `WEFT`, [`PROTOCOL_VERSION`], [`Role`], name),
//!    capped at 4 KiB and bounded by a timeout.
//!    Then the connecting side proves who it is ([`auth`]): a token or a
//!    data-port pass ([`tickets`]), checked by the accepting side's
//!    [`Authenticator`] before any other frame is read.
//! 4. **Connection** ([`connection`]): a TCP stream (TCP_NODELAY), plain or
//!    TLS 1.3 ([`tls`], [`transport`]), after the handshake, with typed [`Connection::send`] and [`Connection::recv`],
//!    raw frames, and [`Connection::into_split`] for a reading task and a
//!    writing task.
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//! use weft_proto::{Connection, ConnectionLimits, Dialer, Hello, Role};
//!
//! #[derive(Serialize, Deserialize)]
//! enum ToScheduler {
//!     Ping(u64),
//! }
//!
//! #[derive(Serialize, Deserialize)]
//! enum FromScheduler {
//!     Pong(u64),
//! }
//!
//! # async fn example() -> Result<(), weft_proto::ConnectionError> {
//! let ours = Hello::new(Role::Client, "example");
//! let dialer = Dialer::plain(ConnectionLimits::default(), Role::Scheduler);
//! let (mut scheduler, theirs) = Connection::connect("127.0.0.1:7400", &ours, &dialer).await?;
//! assert_eq!(theirs.role, Role::Scheduler);
//! scheduler.send(&ToScheduler::Ping(1)).await?;
//! if let Some(FromScheduler::Pong(n)) = scheduler.recv().await? {
//!     println!("pong {n}");
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The lower layers work over any stream, here an in-memory pipe:
//!
//! ```
//! use weft_proto::{FrameReader, FrameWriter, decode, encode};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (a, b) = tokio::io::duplex(1024);
//! let mut writer = FrameWriter::new(a);
//! let mut reader = FrameReader::new(b);
//! writer.write_frame(&encode(&("inc", 41u64))?).await?;
//! let frame = reader.read_frame().await?.expect("a frame");
//! assert_eq!(decode::<(String, u64)>(&frame)?, ("inc".to_string(), 41));
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod auth;
pub mod codec;
pub mod connection;
pub mod data;
pub mod frame;
pub mod handshake;
pub mod messages;
pub mod tickets;
pub mod tls;
pub mod transport;

pub use auth::{Access, AuthRefusal, Authenticator, Credential, OPEN_TENANT, Principal, Secret};
pub use codec::{CodecError, decode, encode, encode_into};
pub use connection::{
    Acceptor, Connection, ConnectionError, ConnectionLimits, ConnectionReader, ConnectionWriter,
    DEFAULT_HANDSHAKE_TIMEOUT, Dialer,
};
pub use frame::{
    DEFAULT_FRAME_BYTES_MAX, FRAME_HEADER_BYTES, FrameError, FrameReader, FrameWriter,
};
pub use handshake::{
    HELLO_FRAME_BYTES_MAX, HandshakeError, Hello, MAGIC, PROTOCOL_VERSION, Role, handshake,
};
