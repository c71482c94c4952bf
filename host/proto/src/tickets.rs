//! Capabilities for workers' data ports: short-lived [`Ticket`]s the
//! scheduler issues and workers check.
//!
//! A ticket is a MAC (keyed BLAKE3) over what it allows ([`TicketScope`]),
//! who may use it ([`Requester`]) and when it expires (Unix seconds,
//! at most [`TICKET_LIFETIME_MAX`] ahead), with a [`TicketSecret`] the
//! scheduler draws at start and gives to each worker when it joins. A
//! worker's data port accepts a connection only with a
//! [`TicketScope::Connect`] pass, serves a key only against a
//! [`TicketScope::Get`] ticket for that key issued to the same requester,
//! and stores a value only against a [`TicketScope::Put`] ticket.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;
use weft_schema::graph::TaskKey;
use weft_schema::ids::WorkerId;
use zeroize::Zeroizing;

/// The longest a ticket may be valid: 60 s.
pub const TICKET_LIFETIME_MAX: Duration = Duration::from_secs(60);

/// Default lifetime of a ticket the scheduler issues: 60 s.
pub const DEFAULT_TICKET_LIFETIME: Duration = TICKET_LIFETIME_MAX;

/// The key tickets are signed with. Never shown by `Debug`; wiped on drop.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketSecret(Zeroizing<[u8; 32]>);

impl TicketSecret {
    /// A new secret from the operating system's CSPRNG.
    pub fn generate() -> Result<TicketSecret, getrandom::Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut())?;
        Ok(TicketSecret(bytes))
    }

    /// A secret from given bytes (tests).
    pub fn from_bytes(bytes: [u8; 32]) -> TicketSecret {
        TicketSecret(Zeroizing::new(bytes))
    }

    /// Signs `scope` for `requester`, valid for `lifetime` (capped at
    /// [`TICKET_LIFETIME_MAX`]) from `now`.
    pub fn issue(
        &self,
        scope: TicketScope,
        requester: Requester,
        now: SystemTime,
        lifetime: Duration,
    ) -> Ticket {
        let expires_unix_s = unix_seconds(now) + lifetime.min(TICKET_LIFETIME_MAX).as_secs();
        let mac = self.mac(&scope, &requester, expires_unix_s);
        Ticket {
            scope,
            requester,
            expires_unix_s,
            mac,
        }
    }

    /// Checks that `ticket` was signed with this secret, has not expired at
    /// `now` and does not claim more than [`TICKET_LIFETIME_MAX`] ahead.
    pub fn verify(&self, ticket: &Ticket, now: SystemTime) -> Result<(), TicketError> {
        let expected = self.mac(&ticket.scope, &ticket.requester, ticket.expires_unix_s);
        if !bool::from(expected.ct_eq(&ticket.mac)) {
            return Err(TicketError::Forged);
        }
        let now_s = unix_seconds(now);
        if ticket.expires_unix_s < now_s {
            return Err(TicketError::Expired {
                expired_s_ago: now_s - ticket.expires_unix_s,
            });
        }
        if ticket.expires_unix_s > now_s + TICKET_LIFETIME_MAX.as_secs() + CLOCK_SKEW_S {
            return Err(TicketError::TooLong);
        }
        Ok(())
    }

    /// Keyed BLAKE3 over a fixed-layout encoding of the fields (a tag
    /// byte per variant, fixed-width little-endian numbers), so no two
    /// tickets sign the same bytes; no allocation (tickets are made and
    /// checked per key).
    fn mac(&self, scope: &TicketScope, requester: &Requester, expires_unix_s: u64) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        hasher.update(b"weft/ticket/v2\0");
        match scope {
            TicketScope::Connect => {
                hasher.update(&[0]);
            }
            TicketScope::Get { tenant, key } => {
                hasher.update(&[1]);
                hasher.update(&tenant.to_le_bytes());
                hasher.update(&key.0);
            }
            TicketScope::Put {
                tenant,
                key,
                nbytes_max,
            } => {
                hasher.update(&[2]);
                hasher.update(&tenant.to_le_bytes());
                hasher.update(&key.0);
                hasher.update(&nbytes_max.to_le_bytes());
            }
        }
        match requester {
            Requester::Client(id) => hasher.update(&[0]).update(&id.to_le_bytes()),
            Requester::Worker(id) => hasher.update(&[1]).update(&id.0.to_le_bytes()),
        };
        hasher.update(&expires_unix_s.to_le_bytes());
        *hasher.finalize().as_bytes()
    }
}

/// Seconds of clock difference between scheduler and worker tolerated on
/// top of the lifetime limit.
const CLOCK_SKEW_S: u64 = 5;

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl fmt::Debug for TicketSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TicketSecret(<redacted>)")
    }
}

/// What a ticket allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TicketScope {
    /// Open a connection to a worker's data port.
    Connect,
    /// Read the value of `key` (the worker-side key) of `tenant`.
    Get {
        /// The tenant the key belongs to (the scheduler's number for it).
        tenant: u32,
        /// The key, as workers name it.
        key: TaskKey,
    },
    /// Store a value of at most `nbytes_max` bytes under `key` (a scatter
    /// the scheduler authorised), never replacing an existing value.
    Put {
        /// The tenant scattering.
        tenant: u32,
        /// The key, as workers name it.
        key: TaskKey,
        /// The largest value allowed.
        nbytes_max: u64,
    },
}

/// Who may use a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Requester {
    /// A client connection of the scheduler (its number there).
    Client(u32),
    /// A worker.
    Worker(WorkerId),
}

impl std::str::FromStr for Requester {
    type Err = ();

    /// The inverse of `Display`: `client-N` or `worker-N`.
    fn from_str(text: &str) -> Result<Requester, ()> {
        if let Some(id) = text.strip_prefix("client-") {
            return id.parse().map(Requester::Client).map_err(|_| ());
        }
        if let Some(id) = text.strip_prefix("worker-") {
            return id
                .parse()
                .map(|id| Requester::Worker(WorkerId(id)))
                .map_err(|_| ());
        }
        Err(())
    }
}

impl fmt::Display for Requester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requester::Client(id) => write!(f, "client-{id}"),
            Requester::Worker(id) => write!(f, "{id}"),
        }
    }
}

/// A signed capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// What it allows.
    pub scope: TicketScope,
    /// Who may use it.
    pub requester: Requester,
    /// When it stops being valid, in Unix seconds.
    pub expires_unix_s: u64,
    /// Keyed BLAKE3 over the fields above.
    pub mac: [u8; 32],
}

/// A ticket was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum TicketError {
    /// The MAC does not match: not issued by this cluster's scheduler, or
    /// altered.
    #[error("the ticket is forged or altered")]
    Forged,
    /// The ticket's time is up.
    #[error("the ticket expired {expired_s_ago} s ago")]
    Expired {
        /// How long ago.
        expired_s_ago: u64,
    },
    /// The ticket claims to be valid for longer than any ticket may be.
    #[error("the ticket claims a lifetime over the 60 s limit")]
    TooLong,
    /// The ticket is valid but for something else.
    #[error("the ticket is for {found}, not {wanted}")]
    WrongScope {
        /// What the request needed.
        wanted: String,
        /// What the ticket allows.
        found: String,
    },
    /// The ticket was issued to another requester.
    #[error("the ticket was issued to {issued_to}, not to {presented_by}")]
    WrongRequester {
        /// Whom it names.
        issued_to: String,
        /// Who presented it.
        presented_by: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> TicketSecret {
        TicketSecret::from_bytes([7; 32])
    }

    fn get(key: u8) -> TicketScope {
        TicketScope::Get {
            tenant: 1,
            key: TaskKey([key; 16]),
        }
    }

    #[test]
    fn an_issued_ticket_verifies_until_it_expires() {
        let now = SystemTime::now();
        let ticket = secret().issue(get(1), Requester::Client(3), now, Duration::from_secs(30));
        assert_eq!(secret().verify(&ticket, now), Ok(()));
        assert_eq!(
            secret().verify(&ticket, now + Duration::from_secs(29)),
            Ok(())
        );
        assert!(matches!(
            secret().verify(&ticket, now + Duration::from_secs(32)),
            Err(TicketError::Expired { .. })
        ));
    }

    #[test]
    fn altering_any_field_or_another_secret_is_a_forgery() {
        let now = SystemTime::now();
        let ticket = secret().issue(get(1), Requester::Client(3), now, Duration::from_secs(30));
        let mut other_key = ticket;
        other_key.scope = get(2);
        let mut other_requester = ticket;
        other_requester.requester = Requester::Client(4);
        let mut later = ticket;
        later.expires_unix_s += 10;
        for altered in [other_key, other_requester, later] {
            assert_eq!(secret().verify(&altered, now), Err(TicketError::Forged));
        }
        let stranger = TicketSecret::from_bytes([8; 32]);
        assert_eq!(stranger.verify(&ticket, now), Err(TicketError::Forged));
    }

    #[test]
    fn lifetimes_are_capped() {
        let now = SystemTime::now();
        let ticket = secret().issue(
            TicketScope::Connect,
            Requester::Worker(WorkerId(1)),
            now,
            Duration::from_secs(3600),
        );
        assert_eq!(ticket.expires_unix_s, unix_seconds(now) + 60);
    }

    #[test]
    fn generated_secrets_differ_and_are_redacted() {
        let a = TicketSecret::generate().expect("csprng");
        let b = TicketSecret::generate().expect("csprng");
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "TicketSecret(<redacted>)");
    }
}
