//! TLS 1.3 (rustls) for every port: configurations, the role a
//! certificate names, and certificates for a cluster (rcgen).
//!
//! A cluster has its own certificate authority. Every certificate it issues
//! names the role of its holder with a URI subject alternative name,
//! `weft://role/scheduler` or `weft://role/worker` ([`CertRole`],
//! [`certificate_role`]), and also carries the hosts it was made for as DNS
//! or IP names (for other tools; Weft itself does not check host names,
//! because clusters are addressed by IP, and every connector uses the fixed
//! [`server_name`]).
//!
//! - Servers ([`server_config`]) present their [`Identity`] and accept
//!   clients with or without a certificate (clients prove who they are with
//!   a token); a certificate that is presented must chain to the CA and be
//!   valid now. After the handshake, [`peer_certificate_role`] says which
//!   role the client's certificate names.
//! - Clients ([`client_config`]) verify the server's chain against the CA
//!   (signatures, validity period, server-auth usage) and require its
//!   certificate to name the role they expect: a worker's certificate
//!   cannot stand in for the scheduler, nor the other way round.
//!
//! Both sides speak TLS 1.3 only and carry the ring crypto provider in their
//! configuration, so no process-wide default provider is needed.
//!
//! Files: `tls/error.rs` ([`TlsError`], [`PeerRoleError`]), `tls/load.rs`
//! (PEM: [`TrustRoots`], [`Identity`], [`TlsFiles`]), `tls/config.rs` (the
//! rustls configurations and the server-certificate verifier),
//! `tls/issue.rs` ([`CertificateAuthority`]) and `tls/cluster_dir.rs`
//! ([`init_cluster_dir`], behind `weft cert init`).

mod cluster_dir;
mod config;
mod error;
mod issue;
mod load;
mod processes;

pub use cluster_dir::{
    CA_CERT_FILE, CA_KEY_FILE, DEFAULT_HOSTS, SCHEDULER_CERT_FILE, SCHEDULER_KEY_FILE,
    WORKER_CERT_FILE, WORKER_KEY_FILE, init_cluster_dir,
};
pub use config::{client_config, server_config};
pub use error::{PeerRoleError, PemSource, TlsError};
pub use issue::{CertificateAuthority, IssuedCertificate, Validity};
pub use load::{Identity, PEM_FILE_BYTES_MAX, TlsFiles, TrustRoots};
pub use processes::{ClientTls, WorkerTls, scheduler_acceptor};

use rustls_pki_types::{CertificateDer, ServerName};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The role a certificate names, as a URI subject alternative name
/// `weft://role/<role>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CertRole {
    /// The scheduler.
    Scheduler,
    /// A worker (its scheduler connection and its data port).
    Worker,
}

impl fmt::Display for CertRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CertRole::Scheduler => "scheduler",
            CertRole::Worker => "worker",
        })
    }
}

/// What every role URI starts with; the role's name follows.
pub const ROLE_URI_PREFIX: &str = "weft://role/";

impl CertRole {
    /// The URI subject alternative name that names this role,
    /// `weft://role/scheduler` or `weft://role/worker`.
    pub fn uri(self) -> String {
        format!("{ROLE_URI_PREFIX}{self}")
    }

    /// The role a role URI names, if it is one of the known ones.
    fn from_uri(uri: &str) -> Option<CertRole> {
        match uri.strip_prefix(ROLE_URI_PREFIX)? {
            "scheduler" => Some(CertRole::Scheduler),
            "worker" => Some(CertRole::Worker),
            _ => None,
        }
    }
}

/// The role a certificate names: its one URI subject alternative name that
/// starts with `weft://role/`.
///
/// `None` when the certificate cannot be parsed, has no (or a malformed)
/// subject-alternative-name extension, names no role, names an unknown
/// role, or has more than one role URI (even twice the same one).
pub fn certificate_role(cert: &CertificateDer<'_>) -> Option<CertRole> {
    use x509_parser::extensions::GeneralName;

    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let sans = parsed.subject_alternative_name().ok()??;
    let mut role_uris = sans
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::URI(uri) if uri.starts_with(ROLE_URI_PREFIX) => Some(*uri),
            _ => None,
        });
    let only = role_uris.next()?;
    if role_uris.next().is_some() {
        return None;
    }
    CertRole::from_uri(only)
}

/// The role named by the first certificate the peer presented in the
/// handshake of `conn` (a `ServerConnection` or `ClientConnection` coerces
/// to it), or `None` if it presented none or its certificate names no role.
///
/// On a server made by [`server_config`] a presented certificate has been
/// verified against the CA before the handshake completes.
pub fn peer_certificate_role(conn: &rustls::CommonState) -> Option<CertRole> {
    conn.peer_certificates()?.first().and_then(certificate_role)
}

/// The DNS name every connector sends ([SNI](https://www.rfc-editor.org/rfc/rfc6066#section-3)),
/// the same for every server: host names are not checked.
pub const SERVER_DNS_NAME: &str = "weft.invalid";

/// [`SERVER_DNS_NAME`] as rustls wants it, for `TlsConnector::connect`.
pub fn server_name() -> ServerName<'static> {
    // A constant, checked by a test: this cannot fail.
    ServerName::try_from(SERVER_DNS_NAME).expect("SERVER_DNS_NAME is a valid DNS name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_uris_round_trip() {
        for role in [CertRole::Scheduler, CertRole::Worker] {
            assert_eq!(CertRole::from_uri(&role.uri()), Some(role));
        }
        assert_eq!(CertRole::Worker.uri(), "weft://role/worker");
        assert_eq!(CertRole::from_uri("weft://role/admin"), None);
        assert_eq!(CertRole::from_uri("weft://role/"), None);
        assert_eq!(CertRole::from_uri("https://role/worker"), None);
    }

    #[test]
    fn the_server_name_is_fixed() {
        assert_eq!(server_name().to_str(), SERVER_DNS_NAME);
    }

    #[test]
    fn certificate_role_reads_the_one_role_uri() {
        let ca = CertificateAuthority::generate("test CA").expect("a CA");
        let hosts = ["localhost".to_string(), "10.0.0.7".to_string()];
        for role in [CertRole::Scheduler, CertRole::Worker] {
            let issued = ca
                .issue(role, &hosts, Validity::default())
                .expect("a certificate");
            let identity = issued.identity().expect("an identity");
            assert_eq!(certificate_role(&identity.chain()[0]), Some(role));
            assert_eq!(identity.role(), Some(role));
        }
        let unnamed = ca
            .issue_without_role(&hosts, Validity::default())
            .expect("a certificate");
        let identity = unnamed.identity().expect("an identity");
        assert_eq!(certificate_role(&identity.chain()[0]), None);
        // The CA's own certificate names no role either.
        assert_eq!(certificate_role(ca.certificate()), None);
        // Garbage is no certificate.
        assert_eq!(
            certificate_role(&CertificateDer::from(vec![0x30, 0x03])),
            None
        );
    }

    #[test]
    fn two_role_uris_name_no_role() {
        let ca = CertificateAuthority::generate("test CA").expect("a CA");
        let issued = ca
            .issue_with_role_uris(
                &[CertRole::Worker.uri(), CertRole::Scheduler.uri()],
                &[],
                Validity::default(),
            )
            .expect("a certificate");
        let identity = issued.identity().expect("an identity");
        assert_eq!(certificate_role(&identity.chain()[0]), None);
        let twice = ca
            .issue_with_role_uris(
                &[CertRole::Worker.uri(), CertRole::Worker.uri()],
                &[],
                Validity::default(),
            )
            .expect("a certificate");
        let identity = twice.identity().expect("an identity");
        assert_eq!(certificate_role(&identity.chain()[0]), None);
        let unknown = ca
            .issue_with_role_uris(&["weft://role/admin".to_string()], &[], Validity::default())
            .expect("a certificate");
        let identity = unknown.identity().expect("an identity");
        assert_eq!(certificate_role(&identity.chain()[0]), None);
    }
}
