//! Fuzz target: the handshake (`weft_proto::handshake`,
//! `host/proto/src/handshake.rs`) against a peer that sends arbitrary bytes,
//! then the authentication frame that follows it (`host/proto/src/auth.rs`;
//! read as `Connection::accept` and `Connection::connect` read it: one frame
//! of at most `AUTH_FRAME_BYTES_MAX` bytes, decoded with the codec).
//!
//! Input: `mode: u8`, then everything the peer sends. `mode & 1` picks the
//! side: the accepting side reads an `AuthFrame` (a credential: a token or a
//! data-port pass, which is then verified as a worker would), the
//! connecting side reads an `AuthReply`.
//!
//! Checked: no panic, every error displays; a hello accepted has our magic
//! and protocol version; what we sent is exactly one frame holding our
//! hello.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::{Duration, UNIX_EPOCH};
use weft_fuzz::{Input, block_on};
use weft_proto::auth::{AUTH_FRAME_BYTES_MAX, AuthFrame, AuthReply};
use weft_proto::tickets::TicketSecret;
use weft_proto::{
    Credential, FrameReader, FrameWriter, Hello, MAGIC, PROTOCOL_VERSION, Role, decode, encode,
    handshake,
};

/// Long enough never to fire: the peer's bytes are all there at once.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The secret the tickets of the seeds are signed with.
const SECRET: [u8; 32] = [7; 32];

/// Reads the authentication step after the hellos, as the accepting side
/// (`accepting`) or the connecting side.
async fn authenticate(reader: &mut FrameReader<&[u8]>, accepting: bool) {
    let frame = match reader.read_frame_with_limit(AUTH_FRAME_BYTES_MAX).await {
        Ok(Some(frame)) => frame,
        Ok(None) => return,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    assert!(frame.len() <= AUTH_FRAME_BYTES_MAX);
    if accepting {
        match decode::<AuthFrame>(&frame) {
            Ok(AuthFrame {
                credential: Credential::Pass(ticket),
            }) => {
                let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
                if let Err(error) = TicketSecret::from_bytes(SECRET).verify(&ticket, now) {
                    let _ = error.to_string();
                }
                let _ = format!("{} {:?}", ticket.requester, ticket.scope);
            }
            Ok(AuthFrame {
                credential: Credential::Token(secret),
            }) => {
                assert_eq!(
                    format!("{secret} {secret:?}"),
                    "<redacted> Secret(<redacted>)"
                );
                let _ = secret.expose().len();
            }
            Ok(AuthFrame {
                credential: Credential::None,
            }) => {}
            Err(error) => {
                let _ = error.to_string();
            }
        }
    } else {
        match decode::<AuthReply>(&frame) {
            Ok(AuthReply::Accepted { tenant, access }) => {
                let _ = format!("{tenant} {access}");
            }
            Ok(AuthReply::Refused(refusal)) => {
                let _ = refusal.to_string();
            }
            Err(error) => {
                let _ = error.to_string();
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let accepting = input.u8() & 1 == 0;
    let peer = input.rest();
    let ours = if accepting {
        Hello::new(Role::Scheduler, "scheduler")
    } else {
        Hello::new(Role::Client, "fuzz")
    };
    let mut reader = FrameReader::new(peer);
    let mut writer = FrameWriter::new(Vec::new());
    block_on(async {
        match handshake(&mut reader, &mut writer, &ours, TIMEOUT).await {
            Ok(theirs) => {
                assert_eq!(theirs.magic, MAGIC);
                assert_eq!(theirs.protocol_version, PROTOCOL_VERSION);
                let _ = format!("{} {}", theirs.role, theirs.name);
                authenticate(&mut reader, accepting).await;
            }
            Err(error) => {
                let _ = error.to_string();
            }
        }
    });
    let sent = writer.into_inner();
    let hello = encode(&ours).expect("our hello encodes");
    assert_eq!(sent[..4], (hello.len() as u32).to_le_bytes());
    assert_eq!(sent[4..], hello[..]);
});
