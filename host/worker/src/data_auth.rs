//! Who may use a worker's data port: a connection is admitted only with a
//! scheduler-issued pass ([`TicketScope::Connect`]) naming its requester
//! (a client connection, or a peer worker, which with TLS must also present
//! a certificate naming the worker role); each `Get` and `Put` is then
//! checked against a ticket for that key issued to the same requester.

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;
use weft_proto::Role;
use weft_proto::auth::{Access, AuthRefusal, Authenticator, Credential, PeerFacts, Principal};
use weft_proto::tickets::{Requester, Ticket, TicketError, TicketScope, TicketSecret};
use weft_proto::tls::CertRole;

/// The secret tickets are checked with; set when the scheduler welcomes
/// the worker (before that, every connection is refused).
pub(crate) type SharedSecret = Arc<OnceLock<TicketSecret>>;

/// The data port's authenticator.
#[derive(Debug)]
pub(crate) struct DataPortAuthenticator {
    pub(crate) secret: SharedSecret,
}

impl Authenticator for DataPortAuthenticator {
    fn authenticate(
        &self,
        peer: &PeerFacts<'_>,
        credential: &Credential,
    ) -> Result<Principal, AuthRefusal> {
        let role = peer.hello.role;
        if !matches!(role, Role::Client | Role::Peer) {
            return Err(AuthRefusal::RoleNotServed(role));
        }
        if role == Role::Peer && peer.tls && peer.certificate_role != Some(CertRole::Worker) {
            return Err(AuthRefusal::CertificateRole {
                expected: Role::Peer,
            });
        }
        let pass = match credential {
            Credential::Pass(pass) => pass,
            Credential::None => return Err(AuthRefusal::NoCredentials),
            Credential::Token(_) => return Err(AuthRefusal::BadCredentials),
        };
        let secret = self.secret.get().ok_or(AuthRefusal::BadCredentials)?;
        if pass.scope != TicketScope::Connect || secret.verify(pass, SystemTime::now()).is_err() {
            return Err(AuthRefusal::BadCredentials);
        }
        let access = match (role, pass.requester) {
            (Role::Client, Requester::Client(_)) => Access::Read,
            (Role::Peer, Requester::Worker(_)) => Access::Worker,
            (hello, requester) => {
                return Err(AuthRefusal::WrongRole {
                    hello,
                    credential: requester.to_string(),
                });
            }
        };
        Ok(Principal {
            tenant: String::new(),
            access,
            token_id: pass.requester.to_string(),
        })
    }
}

/// What a request needs a ticket for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wanted {
    /// Reading a value.
    Get,
    /// Storing a value of this many bytes.
    Put { nbytes: u64 },
}

/// Checks `ticket` for a request of `requester` (as its pass named it).
pub(crate) fn check(
    secret: &SharedSecret,
    ticket: &Ticket,
    requester: Option<Requester>,
    wanted: Wanted,
) -> Result<(), TicketError> {
    let secret = secret.get().ok_or(TicketError::Forged)?;
    secret.verify(ticket, SystemTime::now())?;
    if Some(ticket.requester) != requester {
        return Err(TicketError::WrongRequester {
            issued_to: ticket.requester.to_string(),
            presented_by: requester.map_or_else(|| "nobody".to_string(), |r| r.to_string()),
        });
    }
    match (wanted, ticket.scope) {
        (Wanted::Get, TicketScope::Get { .. }) => Ok(()),
        (Wanted::Put { nbytes }, TicketScope::Put { nbytes_max, .. }) if nbytes <= nbytes_max => {
            Ok(())
        }
        (Wanted::Put { nbytes }, TicketScope::Put { nbytes_max, .. }) => {
            Err(TicketError::WrongScope {
                wanted: format!("a put of {nbytes} bytes"),
                found: format!("a put of at most {nbytes_max} bytes"),
            })
        }
        (wanted, scope) => Err(TicketError::WrongScope {
            wanted: format!("{wanted:?}").to_lowercase(),
            found: format!("{scope:?}"),
        }),
    }
}

/// A pass for this worker to open connections to its peers' data ports
/// (the worker holds the secret, so it signs its own).
pub(crate) fn own_pass(secret: &SharedSecret, me: weft_core::WorkerId) -> Option<Ticket> {
    let secret = secret.get()?;
    Some(secret.issue(
        TicketScope::Connect,
        Requester::Worker(me),
        SystemTime::now(),
        weft_proto::tickets::DEFAULT_TICKET_LIFETIME,
    ))
}

/// Records a refusal on the data port in the audit log (the tracing target
/// `weft::audit`, as the scheduler's): one JSON line naming the requester
/// (never a ticket's MAC), the operation, the key and why.
pub(crate) fn audit_refusal(
    operation: &str,
    requester: &str,
    key: Option<&weft_schema::graph::TaskKey>,
    reason: &str,
    peer: std::net::SocketAddr,
) {
    let time_unix_ms = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let line = serde_json::json!({
        "time_unix_ms": time_unix_ms,
        "token_id": requester,
        "tenant": "",
        "role": "data_port",
        "operation": operation,
        "object": key.map(|k| k.to_string()).unwrap_or_default(),
        "decision": "deny",
        "reason": reason,
        "peer": peer.to_string(),
    });
    tracing::info!(target: "weft::audit", "{line}");
}
