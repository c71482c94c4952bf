//! Making certificates (rcgen): a cluster's [`CertificateAuthority`] and the
//! certificates it issues to schedulers and workers, each naming its role
//! and its hosts, valid for a [`Validity`].

use super::CertRole;
use super::error::{PemSource, TlsError};
use super::load::{Identity, parse_certificates, parse_private_key, read_pem_file};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType,
};
use rustls_pki_types::CertificateDer;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// When a certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// Not before this time.
    pub not_before: SystemTime,
    /// Not after this time.
    pub not_after: SystemTime,
}

impl Validity {
    /// The farthest [`Validity::days`] reaches from now, either way (about
    /// a hundred years).
    pub const DAYS_MAX: i64 = 36_525;

    /// From `from_days` to `to_days` days from now (negative: in the past),
    /// each clamped to [`Validity::DAYS_MAX`]. `Validity::days(-10, -1)`
    /// has expired; `Validity::days(-1, 364)` is the default.
    pub fn days(from_days: i64, to_days: i64) -> Validity {
        let now = SystemTime::now();
        Validity {
            not_before: days_from(now, from_days),
            not_after: days_from(now, to_days),
        }
    }
}

impl Default for Validity {
    /// From a day ago (clocks differ) for 365 days.
    fn default() -> Validity {
        Validity::days(-1, 364)
    }
}

fn days_from(now: SystemTime, days: i64) -> SystemTime {
    let days = days.clamp(-Validity::DAYS_MAX, Validity::DAYS_MAX);
    let span = Duration::from_secs(days.unsigned_abs() * 24 * 60 * 60);
    let shifted = if days < 0 {
        now.checked_sub(span)
    } else {
        now.checked_add(span)
    };
    // A hundred years either way fits every platform's clock.
    shifted.unwrap_or(now)
}

/// How long a generated CA is valid: ten years.
const CA_VALID_DAYS: i64 = 3_650;

/// A certificate and its private key in PEM, as issued.
///
/// `Debug` does not show the key.
#[derive(Clone)]
pub struct IssuedCertificate {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
}

impl IssuedCertificate {
    /// The certificate and key as an [`Identity`] to present.
    pub fn identity(&self) -> Result<Identity, TlsError> {
        Identity::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes())
    }
}

impl fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// A cluster's certificate authority: its certificate and the key that
/// signs the certificates it issues.
///
/// `Debug` shows its name, never its key.
pub struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    cert_der: CertificateDer<'static>,
    cert_pem: String,
}

impl CertificateAuthority {
    /// A new CA with a new key (ECDSA P-256), named `common_name`, valid
    /// from a day ago for ten years, allowed to sign end-entity
    /// certificates only (path length 0).
    pub fn generate(common_name: &str) -> Result<CertificateAuthority, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let validity = Validity::days(-1, CA_VALID_DAYS);
        params.not_before = validity.not_before.into();
        params.not_after = validity.not_after.into();
        let cert = params.self_signed(&key)?;
        Ok(CertificateAuthority {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA in PEM text: its certificate (the first one in `cert_pem`)
    /// and its private key, which must belong to it.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertificateAuthority, TlsError> {
        CertificateAuthority::parse(cert_pem, PemSource::Text, key_pem, PemSource::Text)
    }

    /// The CA in two PEM files (`ca.pem`, `ca-key.pem`).
    pub fn from_files(
        cert_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> Result<CertificateAuthority, TlsError> {
        let (cert_path, key_path) = (cert_path.as_ref(), key_path.as_ref());
        let cert_pem = read_pem_file(cert_path)?;
        let key_pem = zeroize::Zeroizing::new(read_pem_file(key_path)?);
        CertificateAuthority::parse(
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
    ) -> Result<CertificateAuthority, TlsError> {
        let cert_der = parse_certificates(cert_pem, &cert_origin)?
            .into_iter()
            .next()
            .ok_or_else(|| TlsError::NoCertificate {
                origin: cert_origin.clone(),
            })?;
        let key_der = parse_private_key(key_pem, &key_origin)?;
        let key_mismatch =
            |source: Box<dyn std::error::Error + Send + Sync>| TlsError::KeyMismatch {
                cert: cert_origin.clone(),
                key: key_origin.clone(),
                source,
            };
        let key = KeyPair::try_from(&key_der).map_err(|error| key_mismatch(Box::new(error)))?;
        let bad_certificate = |reason: String| TlsError::BadCertificate {
            origin: cert_origin.clone(),
            reason,
        };
        let (_, parsed) = x509_parser::parse_x509_certificate(cert_der.as_ref())
            .map_err(|error| bad_certificate(format!("not X.509: {error}")))?;
        let is_ca =
            matches!(parsed.basic_constraints(), Ok(Some(constraints)) if constraints.value.ca);
        if !is_ca {
            return Err(TlsError::NotACa {
                origin: cert_origin,
            });
        }
        if parsed.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(key_mismatch(
                "it is not the key of the certificate's public key".into(),
            ));
        }
        let subject = parsed.subject().as_raw().to_vec();
        let issuer = Issuer::from_ca_cert_der(&cert_der, key)
            .map_err(|error| bad_certificate(error.to_string()))?;
        let ca = CertificateAuthority {
            issuer,
            cert_der,
            cert_pem: String::from_utf8_lossy(cert_pem).into_owned(),
        };
        // rcgen rebuilds the CA's name from its parts; a certificate it
        // signs must carry that name byte for byte, or nothing chains.
        let probe = ca.sign(&CertificateParams::default())?;
        let probe_der = parse_certificates(probe.cert_pem.as_bytes(), &PemSource::Text)?;
        let probe_issuer = x509_parser::parse_x509_certificate(probe_der[0].as_ref())
            .map(|(_, probe)| probe.issuer().as_raw().to_vec())
            .map_err(|error| bad_certificate(format!("cannot sign with it: {error}")))?;
        if probe_issuer != subject {
            return Err(bad_certificate(
                "its subject name cannot be reproduced when signing \
                 (repeated or unusual attributes); make a CA with `weft cert init`"
                    .to_string(),
            ));
        }
        Ok(ca)
    }

    /// The CA certificate in PEM: what every process trusts (`ca.pem`).
    /// For a CA read from PEM, the text it was read from.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate.
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The CA's private key in PEM (PKCS#8): keep it secret (`ca-key.pem`).
    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// A new key and a certificate for it that names `role` and `hosts`
    /// (IP addresses become IP names, anything else a DNS name), allows
    /// both server and client authentication, and is valid for `validity`.
    pub fn issue(
        &self,
        role: CertRole,
        hosts: &[String],
        validity: Validity,
    ) -> Result<IssuedCertificate, TlsError> {
        self.sign(&self.leaf_params(&[role.uri()], hosts, validity)?)
    }

    /// Like [`issue`](Self::issue), but the certificate names no weft role
    /// (no process accepts it as a scheduler or worker).
    pub fn issue_without_role(
        &self,
        hosts: &[String],
        validity: Validity,
    ) -> Result<IssuedCertificate, TlsError> {
        self.sign(&self.leaf_params(&[], hosts, validity)?)
    }

    /// A certificate with these URI names, whatever they are.
    #[cfg(test)]
    pub(super) fn issue_with_role_uris(
        &self,
        uris: &[String],
        hosts: &[String],
        validity: Validity,
    ) -> Result<IssuedCertificate, TlsError> {
        self.sign(&self.leaf_params(uris, hosts, validity)?)
    }

    /// The parameters of an end-entity certificate with `uris` and `hosts`
    /// as its subject alternative names.
    pub(super) fn leaf_params(
        &self,
        uris: &[String],
        hosts: &[String],
        validity: Validity,
    ) -> Result<CertificateParams, TlsError> {
        let mut params = CertificateParams::default();
        let common_name = match uris {
            [uri] => match uri.strip_prefix(super::ROLE_URI_PREFIX) {
                Some(role) => format!("weft {role}"),
                None => "weft".to_string(),
            },
            _ => "weft".to_string(),
        };
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        for uri in uris {
            let uri = uri.clone().try_into()?;
            params.subject_alt_names.push(SanType::URI(uri));
        }
        for host in hosts {
            params.subject_alt_names.push(host_name(host)?);
        }
        params.is_ca = IsCa::NoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        params.not_before = validity.not_before.into();
        params.not_after = validity.not_after.into();
        Ok(params)
    }

    /// A new key and the certificate of `params` for it, signed by the CA.
    pub(super) fn sign(&self, params: &CertificateParams) -> Result<IssuedCertificate, TlsError> {
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCertificate {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // rcgen's `Issuer` shows its name and key usages, not its key.
        f.debug_struct("CertificateAuthority")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// A host as a subject alternative name: an IP address (brackets around
/// IPv6 allowed) or a DNS name.
fn host_name(host: &str) -> Result<SanType, TlsError> {
    let unbracketed = host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let invalid = |reason: String| TlsError::InvalidHost {
        host: host.to_string(),
        reason,
    };
    rustls_pki_types::DnsName::try_from(host).map_err(|error| invalid(error.to_string()))?;
    let name = host
        .to_string()
        .try_into()
        .map_err(|error: rcgen::Error| invalid(error.to_string()))?;
    Ok(SanType::DnsName(name))
}

/// The subject alternative names of `cert` as text: URIs, DNS names, IP
/// addresses (and a marker for anything else).
#[cfg(test)]
pub(super) fn san_strings(cert: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).expect("X.509");
    let sans = parsed
        .subject_alternative_name()
        .expect("one SAN extension")
        .expect("SANs");
    sans.value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::URI(uri) => uri.to_string(),
            GeneralName::DNSName(dns) => dns.to_string(),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(*bytes).expect("4 bytes")).to_string(),
                16 => IpAddr::from(<[u8; 16]>::try_from(*bytes).expect("16 bytes")).to_string(),
                _ => "bad IP".to_string(),
            },
            _ => "other".to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_become_dns_or_ip_names() {
        assert_eq!(
            host_name("10.0.0.1").expect("an IP"),
            SanType::IpAddress("10.0.0.1".parse().expect("an IP"))
        );
        assert_eq!(
            host_name("[::1]").expect("an IP"),
            SanType::IpAddress("::1".parse().expect("an IP"))
        );
        assert!(matches!(
            host_name("node-3.cluster.local"),
            Ok(SanType::DnsName(_))
        ));
        for bad in ["", "a b", "bad_host!", "ünïcode.example"] {
            let error = host_name(bad).expect_err("not a host");
            assert!(matches!(error, TlsError::InvalidHost { .. }), "{error}");
        }
    }

    #[test]
    fn issued_certificates_carry_roles_hosts_and_both_usages() {
        let ca = CertificateAuthority::generate("test CA").expect("a CA");
        let hosts = ["localhost".to_string(), "127.0.0.1".to_string()];
        let issued = ca
            .issue(CertRole::Scheduler, &hosts, Validity::default())
            .expect("a certificate");
        let der = parse_certificates(issued.cert_pem.as_bytes(), &PemSource::Text).expect("DER");
        let names = san_strings(&der[0]);
        assert_eq!(names, ["weft://role/scheduler", "localhost", "127.0.0.1"]);
        let (_, cert) = x509_parser::parse_x509_certificate(der[0].as_ref()).expect("X.509");
        let usages = cert
            .extended_key_usage()
            .expect("one EKU extension")
            .expect("EKUs");
        assert!(usages.value.server_auth && usages.value.client_auth);
        assert!(!cert.is_ca());
    }

    #[test]
    fn a_ca_read_back_from_pem_issues_trusted_certificates() {
        let ca = CertificateAuthority::generate("test CA").expect("a CA");
        let again =
            CertificateAuthority::from_pem(ca.cert_pem().as_bytes(), ca.key_pem().as_bytes())
                .expect("the CA read back");
        assert_eq!(again.certificate(), ca.certificate());
        let issued = again
            .issue(CertRole::Worker, &[], Validity::default())
            .expect("a certificate");
        let identity = issued.identity().expect("an identity");
        let anchor = webpki::anchor_from_trusted_cert(ca.certificate()).expect("an anchor");
        let cert = webpki::EndEntityCert::try_from(&identity.chain()[0]).expect("a certificate");
        let now = rustls_pki_types::UnixTime::now();
        cert.verify_for_usage(
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .all,
            &[anchor],
            &[],
            now,
            webpki::KeyUsage::client_auth(),
            None,
            None,
        )
        .expect("the certificate chains to the original CA");
    }

    #[test]
    fn a_ca_with_a_foreign_key_or_a_leaf_certificate_is_refused() {
        let ca = CertificateAuthority::generate("test CA").expect("a CA");
        let other = CertificateAuthority::generate("other CA").expect("a CA");
        let error =
            CertificateAuthority::from_pem(ca.cert_pem().as_bytes(), other.key_pem().as_bytes())
                .expect_err("a foreign key");
        assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error}");
        let leaf = ca
            .issue(CertRole::Worker, &[], Validity::default())
            .expect("a certificate");
        let error =
            CertificateAuthority::from_pem(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes())
                .expect_err("not a CA");
        assert!(matches!(error, TlsError::NotACa { .. }), "{error}");
    }

    #[test]
    fn validity_days_are_relative_to_now() {
        let now = SystemTime::now();
        let expired = Validity::days(-10, -1);
        assert!(expired.not_after < now && expired.not_before < expired.not_after);
        let default = Validity::default();
        assert!(default.not_before < now && now < default.not_after);
        let span = default
            .not_after
            .duration_since(default.not_before)
            .expect("ordered");
        assert_eq!(span.as_secs(), 365 * 24 * 60 * 60);
        // Absurd values are clamped, not wrapped.
        let far = Validity::days(i64::MIN, i64::MAX);
        assert!(far.not_before < now && now < far.not_after);
    }
}
