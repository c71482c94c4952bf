//! Fuzz target: the messages of a worker's data port
//! (`weft_proto::messages::{DataRequest, DataReply}`, read with the codec)
//! and what is done with them next (`host/proto/src/data.rs`,
//! `host/proto/src/tickets.rs`): a worker reads a `DataRequest` from anyone
//! who holds a pass and checks each of its tickets; a client or peer reads
//! `DataReply`s from a worker and matches them to the keys it asked for.
//!
//! Input: `kind: u8` (`kind & 1`: a `DataRequest` or a `DataReply`), then
//! one frame's payload.
//!
//! Checked: no panic; each ticket of a request verifies or is refused as
//! the secret and clock say; its requester's text reads back as itself; a
//! message that decodes encodes back to the same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use weft_fuzz::Input;
use weft_proto::data::ticket_key;
use weft_proto::messages::{DataReply, DataRequest};
use weft_proto::tickets::{Requester, Ticket, TicketError, TicketSecret};
use weft_proto::{decode, encode};

/// The secret the tickets of the seeds are signed with.
const SECRET: [u8; 32] = [7; 32];

/// The clock the seeds' tickets were issued at.
const NOW_UNIX_S: u64 = 1_700_000_000;

/// What a worker does with a ticket presented to it.
fn check_ticket(ticket: &Ticket, now: SystemTime) {
    let key = ticket_key(ticket);
    let _ = format!("{key} {key:?} {:?}", ticket.scope);
    let shown = ticket.requester.to_string();
    let parsed: Requester = shown.parse().expect("a requester's text parses");
    assert_eq!(
        parsed, ticket.requester,
        "{shown} reads back as another requester"
    );
    match TicketSecret::from_bytes(SECRET).verify(ticket, now) {
        Ok(()) => {
            let expires = ticket.expires_unix_s;
            assert!(expires >= NOW_UNIX_S, "an expired ticket verified");
            assert!(expires <= NOW_UNIX_S + 65, "a ticket of {expires} verified");
        }
        Err(TicketError::Expired { expired_s_ago }) => {
            assert_eq!(expired_s_ago, NOW_UNIX_S - ticket.expires_unix_s);
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let kind = input.u8();
    let bytes = input.rest();
    let now = UNIX_EPOCH + Duration::from_secs(NOW_UNIX_S);
    if kind & 1 == 0 {
        let Ok(request) = decode::<DataRequest>(bytes) else {
            return;
        };
        match &request {
            DataRequest::Get { tickets } => {
                for ticket in tickets {
                    check_ticket(ticket, now);
                }
            }
            DataRequest::Put { ticket, .. } => check_ticket(ticket, now),
        }
        assert_eq!(encode(&request).expect("a request encodes"), bytes);
    } else {
        let Ok(reply) = decode::<DataReply>(bytes) else {
            return;
        };
        // As a client shows an unexpected reply.
        let _ = format!("{reply:?}");
        if let DataReply::Refused { key, reason } = &reply {
            let _ = format!("the worker refused the ticket for {key}: {reason}");
        }
        assert_eq!(encode(&reply).expect("a reply encodes"), bytes);
    }
});
