//! What can go wrong in the TLS layer: [`TlsError`] for loading files,
//! building configurations and making certificates, and [`PeerRoleError`],
//! the reason a client refuses a server whose certificate names the wrong
//! role (it travels inside the rustls error of the handshake).

use super::CertRole;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// Where PEM text came from, to say so in an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemSource {
    /// This file.
    File(PathBuf),
    /// Text handed over in memory (`from_pem`).
    Text,
}

impl fmt::Display for PemSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemSource::File(path) => write!(f, "`{}`", path.display()),
            PemSource::Text => f.write_str("the PEM text"),
        }
    }
}

/// Loading TLS files, building a configuration, or making certificates
/// failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file is larger than any PEM file of certificates or keys should be.
    #[error("`{}` is larger than {bytes_max} bytes: not a PEM file of certificates or keys", path.display())]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, [`PEM_FILE_BYTES_MAX`](super::PEM_FILE_BYTES_MAX).
        bytes_max: u64,
    },
    /// A file or directory could not be written or created.
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// PEM text is malformed.
    #[error("{origin} is not valid PEM: {source}")]
    BadPem {
        /// Where it came from.
        origin: PemSource,
        /// What the PEM parser said.
        source: rustls_pki_types::pem::Error,
    },
    /// PEM text holds no certificate.
    #[error("{origin} holds no certificate (no `-----BEGIN CERTIFICATE-----` section)")]
    NoCertificate {
        /// Where it came from.
        origin: PemSource,
    },
    /// PEM text holds no private key.
    #[error("{origin} holds no private key (no `-----BEGIN PRIVATE KEY-----` section)")]
    NoPrivateKey {
        /// Where it came from.
        origin: PemSource,
    },
    /// A certificate cannot be parsed or cannot serve its purpose.
    #[error("the certificate in {origin} cannot be used: {reason}")]
    BadCertificate {
        /// Where it came from.
        origin: PemSource,
        /// What is wrong with it.
        reason: String,
    },
    /// A private key does not belong to its certificate, or is of a kind
    /// that cannot sign.
    #[error("the private key in {key} cannot be used with the certificate in {cert}: {source}")]
    KeyMismatch {
        /// Where the certificate came from.
        cert: PemSource,
        /// Where the key came from.
        key: PemSource,
        /// What rustls (or rcgen) said.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A certificate presented by this process names no weft role, but
    /// every scheduler and worker certificate must.
    #[error(
        "the certificate in {origin} names no weft role (a URI subject alternative name \
         `weft://role/scheduler` or `weft://role/worker`); make one with `weft cert init`"
    )]
    NoRole {
        /// Where it came from.
        origin: PemSource,
    },
    /// A certificate file was given without its key file.
    #[error("the certificate `{}` was given without its private key file", cert.display())]
    CertificateWithoutKey {
        /// The certificate file.
        cert: PathBuf,
    },
    /// A key file was given without its certificate file.
    #[error("the private key `{}` was given without its certificate file", key.display())]
    KeyWithoutCertificate {
        /// The key file.
        key: PathBuf,
    },
    /// The process's own certificate names another role than its own
    /// (a worker certificate given to the scheduler, say).
    #[error(
        "this process runs as the {expected} but its certificate names {}",
        .found.map_or("no role".to_string(), |r| format!("the {r} role"))
    )]
    WrongIdentityRole {
        /// The role the process needs.
        expected: CertRole,
        /// What the certificate names.
        found: Option<CertRole>,
    },
    /// rustls refused a configuration (no usable protocol version, an
    /// unusable certificate chain or key).
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
    /// rustls refused to build the client-certificate verifier (for
    /// instance, no trust anchor).
    #[error("TLS client-certificate verifier refused: {0}")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
    /// rcgen could not make a key or a certificate.
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// A host is neither an IP address nor a name a certificate can hold.
    #[error("`{host}` is neither an IP address nor a DNS name a certificate can hold: {reason}")]
    InvalidHost {
        /// The host as given.
        host: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The CA certificate is not a CA certificate.
    #[error(
        "the certificate in {origin} is not a CA certificate (no basic constraints with cA set)"
    )]
    NotACa {
        /// Where it came from.
        origin: PemSource,
    },
    /// `init_cluster_dir` found a CA key and will not overwrite it.
    #[error(
        "`{}` exists already: refusing to overwrite a cluster's CA key \
         (every certificate it issued would stop being trusted); pick another directory",
        path.display()
    )]
    CaKeyExists {
        /// The existing key file.
        path: PathBuf,
    },
    /// The path given for a cluster directory is not a directory.
    #[error("`{}` exists and is not a directory", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
}

/// Why a client refused the server's certificate although it chains to the
/// CA: it does not name the role the client expects. Found inside the
/// handshake's `rustls::Error::InvalidCertificate(CertificateError::Other(..))`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerRoleError {
    /// The certificate names the other role.
    #[error("the server's certificate names the role {found}, but a {expected} was expected")]
    WrongRole {
        /// The role the client expects.
        expected: CertRole,
        /// The role the certificate names.
        found: CertRole,
    },
    /// The certificate names no weft role.
    #[error("the server's certificate names no weft role, but a {expected} was expected")]
    NoRole {
        /// The role the client expects.
        expected: CertRole,
    },
}
