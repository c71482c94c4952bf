//! Loading PEM: the CA certificates a process trusts ([`TrustRoots`]), the
//! certificate chain and key it presents ([`Identity`]), and the three
//! file paths a command line gives ([`TlsFiles`]).

use super::error::{PemSource, TlsError};
use super::{CertRole, certificate_role};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, TrustAnchor};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The largest PEM file read (1 MiB): a few certificates and a key take a
/// few kilobytes.
pub const PEM_FILE_BYTES_MAX: u64 = 1 << 20;

/// Reads a whole file of at most [`PEM_FILE_BYTES_MAX`] bytes.
pub(super) fn read_pem_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    let read_error = |source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(PEM_FILE_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > PEM_FILE_BYTES_MAX {
        return Err(TlsError::FileTooLarge {
            path: path.to_path_buf(),
            bytes_max: PEM_FILE_BYTES_MAX,
        });
    }
    Ok(bytes)
}

/// Every certificate in `pem`, at least one.
pub(super) fn parse_certificates(
    pem: &[u8],
    origin: &PemSource,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::BadPem {
            origin: origin.clone(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            origin: origin.clone(),
        });
    }
    Ok(certs)
}

/// The first private key in `pem` (PKCS#8, PKCS#1 or SEC1).
pub(super) fn parse_private_key(
    pem: &[u8],
    origin: &PemSource,
) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|source| match source {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey {
            origin: origin.clone(),
        },
        source => TlsError::BadPem {
            origin: origin.clone(),
            source,
        },
    })
}

/// The CA certificates a process trusts: a peer's certificate must chain
/// to one of them.
#[derive(Debug, Clone)]
pub struct TrustRoots {
    certs: Vec<CertificateDer<'static>>,
    anchors: Vec<TrustAnchor<'static>>,
}

impl TrustRoots {
    /// The CA certificates in PEM text (at least one).
    pub fn from_pem(pem: &[u8]) -> Result<TrustRoots, TlsError> {
        TrustRoots::parse(pem, PemSource::Text)
    }

    /// The CA certificates in a PEM file (at least one).
    pub fn from_file(path: impl AsRef<Path>) -> Result<TrustRoots, TlsError> {
        let path = path.as_ref();
        let pem = read_pem_file(path)?;
        TrustRoots::parse(&pem, PemSource::File(path.to_path_buf()))
    }

    fn parse(pem: &[u8], origin: PemSource) -> Result<TrustRoots, TlsError> {
        let certs = parse_certificates(pem, &origin)?;
        let anchors = certs
            .iter()
            .map(|cert| {
                webpki::anchor_from_trusted_cert(cert)
                    .map(|anchor| anchor.to_owned())
                    .map_err(|error| TlsError::BadCertificate {
                        origin: origin.clone(),
                        reason: format!("not a trust anchor: {error}"),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustRoots { certs, anchors })
    }

    /// The CA certificates, in file order.
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }

    /// The trust anchors (subject and public key of each CA certificate).
    pub(super) fn anchors(&self) -> &[TrustAnchor<'static>] {
        &self.anchors
    }

    /// The anchors as rustls's store, for the client-certificate verifier.
    pub(super) fn root_store(&self) -> rustls::RootCertStore {
        rustls::RootCertStore {
            roots: self.anchors.clone(),
        }
    }
}

/// What a process presents in a handshake: its certificate chain (its own
/// certificate first) and the private key of that certificate.
///
/// `Debug` shows the chain's length and role, never the key.
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// Where the chain came from, for errors.
    origin: PemSource,
}

impl Identity {
    /// The identity in PEM text: a certificate chain (own certificate
    /// first) and its private key. Refused if the key does not belong to
    /// the first certificate.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Identity, TlsError> {
        Identity::parse(cert_pem, PemSource::Text, key_pem, PemSource::Text)
    }

    /// The identity in two PEM files, the chain and its key.
    pub fn from_files(
        cert_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> Result<Identity, TlsError> {
        let (cert_path, key_path) = (cert_path.as_ref(), key_path.as_ref());
        let cert_pem = read_pem_file(cert_path)?;
        let key_pem = zeroize::Zeroizing::new(read_pem_file(key_path)?);
        Identity::parse(
            &cert_pem,
            PemSource::File(cert_path.to_path_buf()),
            &key_pem,
            PemSource::File(key_path.to_path_buf()),
        )
    }

    fn parse(
        cert_pem: &[u8],
        cert_origin: PemSource,
        key_pem: &[u8],
        key_origin: PemSource,
    ) -> Result<Identity, TlsError> {
        let chain = parse_certificates(cert_pem, &cert_origin)?;
        let key = parse_private_key(key_pem, &key_origin)?;
        let provider = rustls::crypto::ring::default_provider();
        rustls::sign::CertifiedKey::from_der(chain.clone(), key.clone_key(), &provider).map_err(
            |source| TlsError::KeyMismatch {
                cert: cert_origin.clone(),
                key: key_origin,
                source: Box::new(source),
            },
        )?;
        Ok(Identity {
            chain,
            key,
            origin: cert_origin,
        })
    }

    /// The certificate chain, own certificate first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The role the own certificate names.
    pub fn role(&self) -> Option<CertRole> {
        self.chain.first().and_then(certificate_role)
    }

    /// The role, or [`TlsError::NoRole`]: what a scheduler or worker
    /// presents must name one.
    pub(super) fn require_role(&self) -> Result<CertRole, TlsError> {
        self.role().ok_or_else(|| TlsError::NoRole {
            origin: self.origin.clone(),
        })
    }

    /// Copies of the chain and key, for a rustls configuration.
    pub(super) fn to_parts(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        (self.chain.clone(), self.key.clone_key())
    }
}

impl Clone for Identity {
    fn clone(&self) -> Identity {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            origin: self.origin.clone(),
        }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.chain.len())
            .field("role", &self.role())
            .field("origin", &self.origin)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The TLS files of a process, as its command line names them: the CA
/// certificates to trust and, for a scheduler or worker, its own
/// certificate and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA certificates (PEM).
    pub ca: PathBuf,
    /// The own certificate chain (PEM), given with `key`.
    pub cert: Option<PathBuf>,
    /// The own private key (PEM), given with `cert`.
    pub key: Option<PathBuf>,
}

impl TlsFiles {
    /// Reads the files: the trust roots and, if a certificate and key are
    /// given, the identity, whose certificate must then name a weft role.
    /// A certificate without a key (or a key without a certificate) is an
    /// error.
    pub fn load(&self) -> Result<(TrustRoots, Option<Identity>), TlsError> {
        let roots = TrustRoots::from_file(&self.ca)?;
        let identity = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let identity = Identity::from_files(cert, key)?;
                identity.require_role()?;
                Some(identity)
            }
            (Some(cert), None) => {
                return Err(TlsError::CertificateWithoutKey { cert: cert.clone() });
            }
            (None, Some(key)) => {
                return Err(TlsError::KeyWithoutCertificate { key: key.clone() });
            }
            (None, None) => None,
        };
        Ok((roots, identity))
    }
}

/// The ring provider every configuration carries.
pub(super) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(test)]
mod tests {
    use super::super::{CertificateAuthority, Validity};
    use super::*;

    #[test]
    fn identity_debug_is_redacted() {
        let ca = CertificateAuthority::generate("test CA").expect("a CA");
        let issued = ca
            .issue(CertRole::Worker, &[], Validity::default())
            .expect("a certificate");
        let identity = issued.identity().expect("an identity");
        let shown = format!("{identity:?}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(shown.contains("Worker"), "{shown}");
        let key_body: String = issued
            .key_pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        assert!(!shown.contains(&key_body[..16]), "{shown}");
        let issued_shown = format!("{issued:?}");
        assert!(!issued_shown.contains(&key_body[..16]), "{issued_shown}");
        let ca_shown = format!("{ca:?}");
        let ca_key: String = ca
            .key_pem()
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        assert!(!ca_shown.contains(&ca_key[..16]), "{ca_shown}");
    }

    #[test]
    fn pem_without_certificate_or_key_is_refused() {
        let ca = CertificateAuthority::generate("test CA").expect("a CA");
        let issued = ca
            .issue(CertRole::Worker, &[], Validity::default())
            .expect("a certificate");
        let error = TrustRoots::from_pem(issued.key_pem.as_bytes()).expect_err("no certificate");
        assert!(matches!(error, TlsError::NoCertificate { .. }), "{error}");
        assert!(
            error.to_string().contains("holds no certificate"),
            "{error}"
        );
        let error = Identity::from_pem(issued.cert_pem.as_bytes(), issued.cert_pem.as_bytes())
            .expect_err("no key");
        assert!(matches!(error, TlsError::NoPrivateKey { .. }), "{error}");
        let error = TrustRoots::from_pem(b"-----BEGIN CERTIFICATE-----\nnot base64!\n")
            .expect_err("bad PEM");
        assert!(matches!(error, TlsError::BadPem { .. }), "{error}");
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let ca = CertificateAuthority::generate("test CA").expect("a CA");
        let one = ca
            .issue(CertRole::Worker, &[], Validity::default())
            .expect("a certificate");
        let two = ca
            .issue(CertRole::Worker, &[], Validity::default())
            .expect("a certificate");
        let error = Identity::from_pem(one.cert_pem.as_bytes(), two.key_pem.as_bytes())
            .expect_err("mismatched key");
        assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error}");
    }

    #[test]
    fn tls_files_name_the_file_that_is_wrong() {
        let temp = tempfile::tempdir().expect("a temporary directory");
        let dir = temp.path();
        let ca = CertificateAuthority::generate("test CA").expect("a CA");
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, ca.cert_pem()).expect("write");
        let unnamed = ca
            .issue_without_role(&[], Validity::default())
            .expect("a certificate");
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, &unnamed.cert_pem).expect("write");
        std::fs::write(&key_path, &unnamed.key_pem).expect("write");

        let missing = dir.join("missing.pem");
        let error = TlsFiles {
            ca: missing.clone(),
            cert: None,
            key: None,
        }
        .load()
        .expect_err("no such file");
        assert!(matches!(&error, TlsError::Read { path, .. } if path == &missing));
        assert!(error.to_string().contains("missing.pem"), "{error}");

        let error = TlsFiles {
            ca: ca_path.clone(),
            cert: Some(cert_path.clone()),
            key: None,
        }
        .load()
        .expect_err("no key");
        assert!(
            matches!(error, TlsError::CertificateWithoutKey { .. }),
            "{error}"
        );
        let error = TlsFiles {
            ca: ca_path.clone(),
            cert: None,
            key: Some(key_path.clone()),
        }
        .load()
        .expect_err("no certificate");
        assert!(
            matches!(error, TlsError::KeyWithoutCertificate { .. }),
            "{error}"
        );

        let error = TlsFiles {
            ca: ca_path.clone(),
            cert: Some(cert_path.clone()),
            key: Some(key_path.clone()),
        }
        .load()
        .expect_err("no role");
        assert!(matches!(error, TlsError::NoRole { .. }), "{error}");
        assert!(error.to_string().contains("cert.pem"), "{error}");

        let (roots, identity) = TlsFiles {
            ca: ca_path,
            cert: None,
            key: None,
        }
        .load()
        .expect("the CA alone");
        assert_eq!(roots.certificates().len(), 1);
        assert!(identity.is_none());
    }
}
