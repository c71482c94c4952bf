//! The audit log: one structured JSON line per security-relevant event
//! (every failed authentication, every denial, every admin operation,
//! every publish, unpublish, share and unshare), on the tracing target
//! `weft::audit`. It names the token by its public id, never the token.

use serde::Serialize;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// The tracing target audit events go to.
pub const AUDIT_TARGET: &str = "weft::audit";

/// What an audit event says.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AuditEvent<'a> {
    /// The token's public id (empty when there was none).
    pub(crate) token_id: &'a str,
    /// The tenant acting (empty when unauthenticated).
    pub(crate) tenant: &'a str,
    /// Its role.
    pub(crate) role: &'a str,
    /// What was asked.
    pub(crate) operation: &'a str,
    /// On what (a dataset name, a key count, a tenant...).
    pub(crate) object: &'a str,
    /// `allow` or `deny`.
    pub(crate) decision: &'a str,
    /// Why, for a denial.
    pub(crate) reason: &'a str,
    /// Where the request came from.
    pub(crate) peer: Option<SocketAddr>,
}

/// Emits one audit line.
pub(crate) fn record(event: &AuditEvent<'_>) {
    let time_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    #[derive(Serialize)]
    struct Line<'a> {
        time_unix_ms: u64,
        #[serde(flatten)]
        event: &'a AuditEvent<'a>,
    }
    let line = Line {
        time_unix_ms,
        event,
    };
    match serde_json::to_string(&line) {
        Ok(json) => tracing::info!(target: AUDIT_TARGET, "{json}"),
        Err(error) => {
            tracing::error!(target: AUDIT_TARGET, %error, "an audit event cannot be written")
        }
    }
}
