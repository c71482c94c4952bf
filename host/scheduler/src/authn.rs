//! Who connects to the scheduler: [`SchedulerAuthenticator`] admits a
//! client only with a tenant token and a worker only with a worker token
//! (and, with TLS, a certificate naming the worker role), and records every
//! refusal in the audit log.

use crate::audit::{self, AuditEvent};
use crate::tenants::TokenRegistry;
use std::sync::Arc;
use tokio::sync::watch;
use weft_proto::auth::{Access, AuthRefusal, Authenticator, Credential, PeerFacts, Principal};
use weft_proto::tls::CertRole;
use weft_proto::{OPEN_TENANT, Role};

/// Where the scheduler's tokens come from.
#[derive(Debug, Clone)]
pub enum Tokens {
    /// No tenants: everyone is tenant `default`, clients with admin access
    /// (only allowed on loopback, or with `--insecure`).
    Open,
    /// A registry that can change (the tenants file, reloaded).
    Watched(watch::Receiver<Arc<TokenRegistry>>),
    /// A fixed registry (an embedded cluster's generated tokens).
    Fixed(Arc<TokenRegistry>),
}

impl Tokens {
    /// The registry now, or `None` when open.
    pub fn current(&self) -> Option<Arc<TokenRegistry>> {
        match self {
            Tokens::Open => None,
            Tokens::Watched(receiver) => Some(receiver.borrow().clone()),
            Tokens::Fixed(registry) => Some(registry.clone()),
        }
    }
}

/// The scheduler port's authenticator.
#[derive(Debug)]
pub(crate) struct SchedulerAuthenticator {
    pub(crate) tokens: Tokens,
}

impl Authenticator for SchedulerAuthenticator {
    fn authenticate(
        &self,
        peer: &PeerFacts<'_>,
        credential: &Credential,
    ) -> Result<Principal, AuthRefusal> {
        let decided = self.decide(peer, credential);
        if let Err(refusal) = &decided {
            let token_id = match credential {
                Credential::Token(token) => token_id_of(token.expose()),
                _ => "",
            };
            audit::record(&AuditEvent {
                token_id,
                tenant: "",
                role: &peer.hello.role.to_string(),
                operation: "authenticate",
                object: "",
                decision: "deny",
                reason: &refusal.to_string(),
                peer: Some(peer.addr),
            });
        }
        decided
    }
}

impl SchedulerAuthenticator {
    fn decide(
        &self,
        peer: &PeerFacts<'_>,
        credential: &Credential,
    ) -> Result<Principal, AuthRefusal> {
        let role = peer.hello.role;
        if !matches!(role, Role::Client | Role::Worker) {
            return Err(AuthRefusal::RoleNotServed(role));
        }
        if role == Role::Worker && peer.tls && peer.certificate_role != Some(CertRole::Worker) {
            return Err(AuthRefusal::CertificateRole {
                expected: Role::Worker,
            });
        }
        let Some(registry) = self.tokens.current() else {
            let access = if role == Role::Worker {
                Access::Worker
            } else {
                Access::Admin
            };
            return Ok(Principal {
                tenant: OPEN_TENANT.to_string(),
                access,
                token_id: "open".to_string(),
            });
        };
        let token = match credential {
            Credential::Token(token) => token,
            Credential::None => return Err(AuthRefusal::NoCredentials),
            Credential::Pass(_) => return Err(AuthRefusal::BadCredentials),
        };
        let principal = registry
            .authenticate(token)
            .map_err(|_| AuthRefusal::BadCredentials)?;
        let is_worker = principal.access == Access::Worker;
        if is_worker != (role == Role::Worker) {
            return Err(AuthRefusal::WrongRole {
                hello: role,
                credential: if is_worker { "worker" } else { "client" }.to_string(),
            });
        }
        Ok(principal)
    }
}

/// The public id part of a token (`weft_<id>_...`), or "" if it has none.
pub(crate) fn token_id_of(token: &str) -> &str {
    token
        .strip_prefix("weft_")
        .and_then(|rest| rest.split_once('_'))
        .map(|(id, _)| id)
        .filter(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or("")
}
