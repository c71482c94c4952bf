//! Who is on the other end of a connection, proven before any other frame:
//! the second step of the handshake, after the hellos.
//!
//! The connecting side sends one [`AuthFrame`] with its [`Credential`] (a
//! bearer token for clients and workers joining the scheduler, a
//! scheduler-issued pass for a worker's data port); the accepting side
//! asks its [`Authenticator`] and answers [`AuthReply::Accepted`] with the
//! [`Principal`] it decided on, or [`AuthReply::Refused`] with an
//! [`AuthRefusal`] and closes. Secrets are wrapped in [`Secret`], whose
//! `Debug` and `Display` never show them and whose memory is wiped on drop.

use crate::handshake::Role;
use crate::tickets::Ticket;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use zeroize::Zeroizing;

/// The longest auth frame accepted or sent, in bytes (4 KiB).
pub const AUTH_FRAME_BYTES_MAX: usize = 4 * 1024;

/// A secret string (a token). Never shown by `Debug` or `Display`; wiped
/// from memory when dropped.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(Zeroizing::new(secret.into()))
    }

    /// The secret itself. Callers must not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What a connecting side proves itself with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Credential {
    /// Nothing (the peer has no token configured).
    None,
    /// A bearer token (`weft_<id>_<secret>`), for the scheduler's port.
    Token(Secret),
    /// A pass the scheduler issued, for a worker's data port.
    Pass(Ticket),
}

/// The connecting side's second frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthFrame {
    /// Its credential.
    pub credential: Credential,
}

/// What a principal may do, from its token's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Access {
    /// Read its tenant's objects: gather, results, status, datasets.
    Read,
    /// Everything `Read` may, and submit, cancel, scatter, publish, share.
    Write,
    /// The cluster operator: every tenant, worker restarts, tenants.
    Admin,
    /// A worker process (never a client).
    Worker,
}

impl Access {
    /// The role's name, as written in the tenants file.
    pub fn name(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Admin => "admin",
            Access::Worker => "worker",
        }
    }

    /// Parses a role name.
    pub fn from_name(name: &str) -> Option<Access> {
        Some(match name {
            "read" => Access::Read,
            "write" => Access::Write,
            "admin" => Access::Admin,
            "worker" => Access::Worker,
            _ => return None,
        })
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who an authenticated connection speaks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Principal {
    /// The tenant (for workers: the name the worker token was given).
    pub tenant: String,
    /// What it may do.
    pub access: Access,
    /// The token's public id (for the audit log; never the token), or a
    /// description of the pass.
    pub token_id: String,
}

/// Why the accepting side refused a connection. The refused side gets it
/// in [`AuthReply::Refused`] and shows its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AuthRefusal {
    /// The connection carried no credential, and this port requires one.
    #[error(
        "no credentials: this port requires a token (give --token-file, set WEFT_TOKEN, \
         or write it to ~/.config/weft/token)"
    )]
    NoCredentials,
    /// The credential is not valid here (unknown, revoked, malformed or
    /// expired); which of these is not said.
    #[error("invalid credentials: the token is unknown, revoked or malformed")]
    BadCredentials,
    /// The credential is valid but not for the role the hello claims (a
    /// worker token used by a client, a client token used by a worker).
    #[error("the credential is for a {credential} and cannot connect as a {hello}")]
    WrongRole {
        /// The role the hello named.
        hello: Role,
        /// What the credential is for.
        credential: String,
    },
    /// The hello names a role this port does not serve.
    #[error("this port does not serve a {0}")]
    RoleNotServed(Role),
    /// Mutual TLS: the peer's certificate does not name the role it claims.
    #[error("the peer's certificate does not name the role {expected}")]
    CertificateRole {
        /// The role the peer claimed.
        expected: Role,
    },
}

/// The accepting side's answer to the [`AuthFrame`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthReply {
    /// The connection speaks for this principal.
    Accepted {
        /// Its tenant.
        tenant: String,
        /// What it may do.
        access: Access,
    },
    /// Refused; the connection closes next.
    Refused(AuthRefusal),
}

/// What an accepting side knows about a peer when it decides.
#[derive(Debug, Clone, Copy)]
pub struct PeerFacts<'a> {
    /// The peer's hello.
    pub hello: &'a crate::Hello,
    /// Its address.
    pub addr: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// With TLS: the role its client certificate names, if it presented
    /// one that names a role.
    pub certificate_role: Option<crate::tls::CertRole>,
}

/// Decides who a connecting peer is. One per listening port.
pub trait Authenticator: Send + Sync + fmt::Debug {
    /// The principal `credential` proves for the peer, or why not.
    fn authenticate(
        &self,
        peer: &PeerFacts<'_>,
        credential: &Credential,
    ) -> Result<Principal, AuthRefusal>;
}

/// An authenticator that accepts everyone as one tenant with one access
/// (a scheduler started without tenants, on loopback).
#[derive(Debug, Clone)]
pub struct OpenAuthenticator {
    /// The tenant everyone is.
    pub tenant: String,
}

/// The tenant of every connection to a cluster without tenants.
pub const OPEN_TENANT: &str = "default";

impl Default for OpenAuthenticator {
    fn default() -> Self {
        OpenAuthenticator {
            tenant: OPEN_TENANT.to_string(),
        }
    }
}

impl Authenticator for OpenAuthenticator {
    fn authenticate(
        &self,
        peer: &PeerFacts<'_>,
        _credential: &Credential,
    ) -> Result<Principal, AuthRefusal> {
        let access = match peer.hello.role {
            Role::Worker | Role::Peer => Access::Worker,
            Role::Client => Access::Admin,
            Role::Scheduler => return Err(AuthRefusal::RoleNotServed(Role::Scheduler)),
        };
        Ok(Principal {
            tenant: self.tenant.clone(),
            access,
            token_id: "open".to_string(),
        })
    }
}
