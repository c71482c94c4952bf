//! Fuzz target: data-port tickets (`host/proto/src/tickets.rs`): a
//! `Ticket` decoded from arbitrary bytes (as it arrives inside a
//! `Credential::Pass`, a `DataRequest` or a `WireInput`), verified under an
//! arbitrary secret and clock; tickets issued for its scope and requester;
//! and the requester's text form (`Requester::from_str`).
//!
//! Input: `secret: [u8; 32]`, `now: u64` (Unix seconds, taken modulo 2^40
//! so that it is a time a clock can show), `lifetime: u16` (seconds), then
//! the ticket's encoding.
//!
//! Checked: no panic; a ticket that verifies has not expired and claims at
//! most the lifetime limit plus the clock skew; a ticket issued at `now`
//! verifies at `now` and is refused as expired once its lifetime (capped at
//! `TICKET_LIFETIME_MAX`) has passed; changing its expiry or the secret
//! makes it a forgery; a requester parsed from text shows as text that
//! parses back to it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::{Duration, UNIX_EPOCH};
use weft_fuzz::Input;
use weft_proto::decode;
use weft_proto::tickets::{Requester, TICKET_LIFETIME_MAX, Ticket, TicketError, TicketSecret};

/// Seconds of clock skew `verify` tolerates past the lifetime limit
/// (`CLOCK_SKEW_S` in tickets.rs).
const CLOCK_SKEW_S: u64 = 5;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let key = input.array::<32>();
    let now_s = input.u64() % (1 << 40);
    let lifetime = Duration::from_secs(u64::from(input.u16()));
    let bytes = input.rest();
    let secret = TicketSecret::from_bytes(key);
    let now = UNIX_EPOCH + Duration::from_secs(now_s);

    if let Ok(text) = std::str::from_utf8(bytes)
        && let Ok(requester) = text.parse::<Requester>()
    {
        let shown = requester.to_string();
        assert_eq!(
            shown.parse::<Requester>(),
            Ok(requester),
            "{text:?} shows as {shown:?}"
        );
    }

    let Ok(ticket) = decode::<Ticket>(bytes) else {
        return;
    };
    match secret.verify(&ticket, now) {
        Ok(()) => {
            assert!(ticket.expires_unix_s >= now_s);
            assert!(ticket.expires_unix_s <= now_s + TICKET_LIFETIME_MAX.as_secs() + CLOCK_SKEW_S);
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }

    let issued = secret.issue(ticket.scope, ticket.requester, now, lifetime);
    assert_eq!(
        secret.verify(&issued, now),
        Ok(()),
        "a fresh ticket is refused"
    );
    let after = now + lifetime.min(TICKET_LIFETIME_MAX) + Duration::from_secs(1);
    assert!(
        matches!(
            secret.verify(&issued, after),
            Err(TicketError::Expired { .. })
        ),
        "a ticket verifies after its lifetime"
    );
    let mut later = issued;
    later.expires_unix_s = later.expires_unix_s.wrapping_add(1);
    assert_eq!(secret.verify(&later, now), Err(TicketError::Forged));
    let mut other_key = key;
    other_key[usize::from(key[0] % 32)] ^= 1;
    assert_eq!(
        TicketSecret::from_bytes(other_key).verify(&issued, now),
        Err(TicketError::Forged)
    );
});
