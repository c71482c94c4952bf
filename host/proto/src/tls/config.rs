//! The rustls configurations: [`server_config`] (client certificates
//! optional, verified when presented) and [`client_config`], whose
//! server-certificate verifier checks the chain against the CA but not the
//! host name, and requires the role the client expects.

use super::error::{PeerRoleError, TlsError};
use super::load::{Identity, TrustRoots, provider};
use super::{CertRole, certificate_role};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use std::sync::Arc;

/// The only protocol version spoken.
static VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// The configuration of a server that presents `identity` (its
/// certificate must name a weft role).
///
/// Clients may connect without a certificate (they authenticate with a
/// token); a certificate a client does present must chain to `ca` and be
/// valid now, or the handshake fails. After it, read the role the client's
/// certificate names with [`peer_certificate_role`](super::peer_certificate_role).
pub fn server_config(
    ca: &TrustRoots,
    identity: &Identity,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    identity.require_role()?;
    let provider = provider();
    let client_verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(ca.root_store()),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()?;
    let (chain, key) = identity.to_parts();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(VERSIONS)?
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// The configuration of a client of a server whose certificate must chain
/// to `ca`, be valid now, allow server authentication and name the role
/// `expect`. The host name is not checked: connect with
/// [`server_name`](super::server_name).
///
/// With `identity` (whose certificate must name a weft role) the client
/// presents it: mutual TLS, as workers do.
pub fn client_config(
    ca: &TrustRoots,
    identity: Option<&Identity>,
    expect: CertRole,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let provider = provider();
    let verifier = Arc::new(RoleVerifier {
        anchors: ca.anchors().to_vec(),
        expect,
        algorithms: provider.signature_verification_algorithms,
    });
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(VERSIONS)?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match identity {
        Some(identity) => {
            identity.require_role()?;
            let (chain, key) = identity.to_parts();
            builder.with_client_auth_cert(chain, key)?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Verifies a server's certificate: the chain to the CA (webpki: signatures,
/// validity at `now`, basic constraints, server-auth extended key usage),
/// then the role. Not the host name.
#[derive(Debug)]
struct RoleVerifier {
    anchors: Vec<TrustAnchor<'static>>,
    expect: CertRole,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for RoleVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = webpki::EndEntityCert::try_from(end_entity).map_err(webpki_error)?;
        cert.verify_for_usage(
            self.algorithms.all,
            &self.anchors,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(webpki_error)?;
        let refusal = match certificate_role(end_entity) {
            Some(found) if found == self.expect => return Ok(ServerCertVerified::assertion()),
            Some(found) => PeerRoleError::WrongRole {
                expected: self.expect,
                found,
            },
            None => PeerRoleError::NoRole {
                expected: self.expect,
            },
        };
        Err(CertificateError::Other(OtherError(Arc::new(refusal))).into())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // The configuration offers TLS 1.3 only.
        Err(rustls::PeerIncompatible::Tls12NotOffered.into())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A webpki refusal as the rustls error the handshake reports (and turns
/// into the matching TLS alert).
fn webpki_error(error: webpki::Error) -> rustls::Error {
    use webpki::Error as E;
    let certificate_error = match error {
        E::BadDer | E::BadDerTime | E::TrailingData(_) => CertificateError::BadEncoding,
        E::CertExpired { time, not_after } => CertificateError::ExpiredContext { time, not_after },
        E::CertNotValidYet { time, not_before } => {
            CertificateError::NotValidYetContext { time, not_before }
        }
        E::InvalidCertValidity => CertificateError::Expired,
        E::UnknownIssuer => CertificateError::UnknownIssuer,
        E::InvalidSignatureForPublicKey => CertificateError::BadSignature,
        #[allow(deprecated)]
        E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) => {
            CertificateError::InvalidPurpose
        }
        E::CertRevoked => CertificateError::Revoked,
        other => CertificateError::Other(OtherError(Arc::new(other))),
    };
    certificate_error.into()
}

#[cfg(test)]
mod tests {
    use super::super::{CertificateAuthority, Validity, peer_certificate_role, server_name};
    use super::*;
    use rustls::pki_types::PrivateKeyDer;
    use std::io;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::{TlsAcceptor, TlsConnector};

    fn authority() -> (CertificateAuthority, TrustRoots) {
        named_authority("test CA")
    }

    fn named_authority(name: &str) -> (CertificateAuthority, TrustRoots) {
        let ca = CertificateAuthority::generate(name).expect("a CA");
        let roots = TrustRoots::from_pem(ca.cert_pem().as_bytes()).expect("roots");
        (ca, roots)
    }

    fn identity(ca: &CertificateAuthority, role: CertRole, validity: Validity) -> Identity {
        let hosts = ["scheduler.example".to_string(), "10.1.2.3".to_string()];
        ca.issue(role, &hosts, validity)
            .expect("a certificate")
            .identity()
            .expect("an identity")
    }

    /// What each side of a handshake (and one byte each way) came to: the
    /// server the role of the client's certificate.
    struct Outcome {
        server: io::Result<Option<CertRole>>,
        client: io::Result<()>,
    }

    async fn handshake(
        server: Arc<rustls::ServerConfig>,
        client: Arc<rustls::ClientConfig>,
    ) -> Outcome {
        let (server_io, client_io) = tokio::io::duplex(64 * 1024);
        let server_side = async move {
            let mut stream = TlsAcceptor::from(server).accept(server_io).await?;
            let (_, connection) = stream.get_ref();
            assert_eq!(
                connection.protocol_version(),
                Some(rustls::ProtocolVersion::TLSv1_3)
            );
            let role = peer_certificate_role(connection);
            stream.write_all(b"s").await?;
            stream.flush().await?;
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).await?;
            assert_eq!(&byte, b"c");
            Ok(role)
        };
        let client_side = async move {
            let mut stream = TlsConnector::from(client)
                .connect(server_name(), client_io)
                .await?;
            assert_eq!(
                stream.get_ref().1.protocol_version(),
                Some(rustls::ProtocolVersion::TLSv1_3)
            );
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).await?;
            assert_eq!(&byte, b"s");
            stream.write_all(b"c").await?;
            stream.flush().await?;
            Ok(())
        };
        let (server, client) = tokio::time::timeout(Duration::from_secs(20), async {
            tokio::join!(server_side, client_side)
        })
        .await
        .expect("the handshake ends within the deadline");
        Outcome { server, client }
    }

    /// The rustls error inside an I/O error of tokio-rustls.
    fn rustls_error(error: &io::Error) -> &rustls::Error {
        error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .unwrap_or_else(|| panic!("not a rustls error: {error:?}"))
    }

    fn certificate_error(error: &io::Error) -> &CertificateError {
        match rustls_error(error) {
            rustls::Error::InvalidCertificate(certificate) => certificate,
            other => panic!("not a certificate error: {other:?}"),
        }
    }

    fn role_error(error: &io::Error) -> &PeerRoleError {
        match certificate_error(error) {
            CertificateError::Other(OtherError(inner)) => inner
                .downcast_ref::<PeerRoleError>()
                .unwrap_or_else(|| panic!("not a role error: {inner:?}")),
            other => panic!("not a role error: {other:?}"),
        }
    }

    /// A server configuration that presents any certificate (our
    /// `server_config` refuses one without a role).
    fn bare_server_config(identity: &Identity) -> Arc<rustls::ServerConfig> {
        let (chain, key): (_, PrivateKeyDer<'static>) = identity.to_parts();
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(VERSIONS)
            .expect("TLS 1.3")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("a server configuration");
        Arc::new(config)
    }

    #[tokio::test]
    async fn a_client_without_certificate_connects_and_host_names_are_not_checked() {
        let (ca, roots) = authority();
        let scheduler = identity(&ca, CertRole::Scheduler, Validity::default());
        let server = server_config(&roots, &scheduler).expect("server");
        let client = client_config(&roots, None, CertRole::Scheduler).expect("client");
        let outcome = handshake(server, client).await;
        outcome.client.expect("the client connects");
        assert_eq!(outcome.server.expect("the server accepts"), None);
    }

    #[tokio::test]
    async fn the_server_reads_the_role_of_a_worker_client_certificate() {
        let (ca, roots) = authority();
        let scheduler = identity(&ca, CertRole::Scheduler, Validity::default());
        let worker = identity(&ca, CertRole::Worker, Validity::default());
        let server = server_config(&roots, &scheduler).expect("server");
        let client = client_config(&roots, Some(&worker), CertRole::Scheduler).expect("client");
        let outcome = handshake(server, client).await;
        outcome.client.expect("the worker connects");
        assert_eq!(
            outcome.server.expect("the server accepts"),
            Some(CertRole::Worker)
        );

        // A worker's data port: worker to worker.
        let server = server_config(&roots, &worker).expect("server");
        let client = client_config(&roots, Some(&worker), CertRole::Worker).expect("client");
        let outcome = handshake(server, client).await;
        outcome.client.expect("the peer connects");
        assert_eq!(outcome.server.expect("accepted"), Some(CertRole::Worker));
    }

    #[tokio::test]
    async fn a_server_certificate_from_another_ca_is_refused() {
        let (_, roots) = authority();
        let (other_ca, other_roots) = named_authority("other CA");
        let scheduler = identity(&other_ca, CertRole::Scheduler, Validity::default());
        let server = server_config(&other_roots, &scheduler).expect("server");
        let client = client_config(&roots, None, CertRole::Scheduler).expect("client");
        let outcome = handshake(server, client).await;
        let error = outcome.client.expect_err("an untrusted server");
        assert_eq!(certificate_error(&error), &CertificateError::UnknownIssuer);
        assert!(outcome.server.is_err());

        // Another CA with the same name (two clusters set up alike): the
        // name matches, the signature does not.
        let (twin_ca, twin_roots) = authority();
        let scheduler = identity(&twin_ca, CertRole::Scheduler, Validity::default());
        let server = server_config(&twin_roots, &scheduler).expect("server");
        let client = client_config(&roots, None, CertRole::Scheduler).expect("client");
        let error = handshake(server, client)
            .await
            .client
            .expect_err("a server of a twin CA");
        assert_eq!(certificate_error(&error), &CertificateError::BadSignature);
    }

    #[tokio::test]
    async fn an_expired_or_not_yet_valid_server_certificate_is_refused() {
        let (ca, roots) = authority();
        let expired = identity(&ca, CertRole::Scheduler, Validity::days(-10, -1));
        let server = server_config(&roots, &expired).expect("server");
        let client = client_config(&roots, None, CertRole::Scheduler).expect("client");
        let error = handshake(server, client)
            .await
            .client
            .expect_err("an expired certificate");
        assert!(
            matches!(
                certificate_error(&error),
                CertificateError::ExpiredContext { .. } | CertificateError::Expired
            ),
            "{error:?}"
        );

        let early = identity(&ca, CertRole::Scheduler, Validity::days(1, 10));
        let server = server_config(&roots, &early).expect("server");
        let client = client_config(&roots, None, CertRole::Scheduler).expect("client");
        let error = handshake(server, client)
            .await
            .client
            .expect_err("a certificate not valid yet");
        assert!(
            matches!(
                certificate_error(&error),
                CertificateError::NotValidYetContext { .. } | CertificateError::NotValidYet
            ),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_certificate_of_the_wrong_role_is_refused() {
        let (ca, roots) = authority();
        let worker = identity(&ca, CertRole::Worker, Validity::default());
        let server = server_config(&roots, &worker).expect("server");
        let client = client_config(&roots, None, CertRole::Scheduler).expect("client");
        let outcome = handshake(server, client).await;
        let error = outcome
            .client
            .expect_err("a worker posing as the scheduler");
        assert_eq!(
            role_error(&error),
            &PeerRoleError::WrongRole {
                expected: CertRole::Scheduler,
                found: CertRole::Worker
            }
        );
        let text = role_error(&error).to_string();
        assert!(text.contains("names the role worker"), "{text}");
        assert!(outcome.server.is_err());

        let scheduler = identity(&ca, CertRole::Scheduler, Validity::default());
        let server = server_config(&roots, &scheduler).expect("server");
        let client = client_config(&roots, None, CertRole::Worker).expect("client");
        let error = handshake(server, client)
            .await
            .client
            .expect_err("the scheduler posing as a worker");
        assert_eq!(
            role_error(&error),
            &PeerRoleError::WrongRole {
                expected: CertRole::Worker,
                found: CertRole::Scheduler
            }
        );
    }

    #[tokio::test]
    async fn a_server_certificate_without_role_is_refused() {
        let (ca, roots) = authority();
        let unnamed = ca
            .issue_without_role(&["10.1.2.3".to_string()], Validity::default())
            .expect("a certificate")
            .identity()
            .expect("an identity");
        let client = client_config(&roots, None, CertRole::Scheduler).expect("client");
        let error = handshake(bare_server_config(&unnamed), client)
            .await
            .client
            .expect_err("a server without role");
        assert_eq!(
            role_error(&error),
            &PeerRoleError::NoRole {
                expected: CertRole::Scheduler
            }
        );
    }

    #[tokio::test]
    async fn a_server_certificate_without_server_auth_usage_is_refused() {
        let (ca, roots) = authority();
        let mut params = ca
            .leaf_params(&[CertRole::Scheduler.uri()], &[], Validity::default())
            .expect("parameters");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let client_only = ca
            .sign(&params)
            .expect("a certificate")
            .identity()
            .expect("an identity");
        let client = client_config(&roots, None, CertRole::Scheduler).expect("client");
        let error = handshake(bare_server_config(&client_only), client)
            .await
            .client
            .expect_err("a client-only certificate");
        assert_eq!(certificate_error(&error), &CertificateError::InvalidPurpose);
    }

    #[tokio::test]
    async fn a_client_certificate_from_another_ca_or_expired_is_refused_by_the_server() {
        let (ca, roots) = authority();
        let (other_ca, _) = named_authority("other CA");
        let scheduler = identity(&ca, CertRole::Scheduler, Validity::default());
        let stranger = identity(&other_ca, CertRole::Worker, Validity::default());
        let server = server_config(&roots, &scheduler).expect("server");
        let client = client_config(&roots, Some(&stranger), CertRole::Scheduler).expect("client");
        let outcome = handshake(server.clone(), client).await;
        let error = outcome.server.expect_err("an untrusted client");
        assert_eq!(certificate_error(&error), &CertificateError::UnknownIssuer);
        assert!(outcome.client.is_err(), "the client hears the alert");

        let expired = identity(&ca, CertRole::Worker, Validity::days(-10, -1));
        let client = client_config(&roots, Some(&expired), CertRole::Scheduler).expect("client");
        let error = handshake(server, client)
            .await
            .server
            .expect_err("an expired client");
        assert!(
            matches!(
                certificate_error(&error),
                CertificateError::ExpiredContext { .. } | CertificateError::Expired
            ),
            "{error:?}"
        );
    }

    #[test]
    fn configurations_refuse_an_identity_without_role() {
        let (ca, roots) = authority();
        let unnamed = ca
            .issue_without_role(&[], Validity::default())
            .expect("a certificate")
            .identity()
            .expect("an identity");
        let error = server_config(&roots, &unnamed).expect_err("no role");
        assert!(matches!(error, TlsError::NoRole { .. }), "{error}");
        let error =
            client_config(&roots, Some(&unnamed), CertRole::Scheduler).expect_err("no role");
        assert!(matches!(error, TlsError::NoRole { .. }), "{error}");
    }

    #[test]
    fn configurations_carry_the_ring_provider() {
        let (ca, roots) = authority();
        let scheduler = identity(&ca, CertRole::Scheduler, Validity::default());
        let server = server_config(&roots, &scheduler).expect("server");
        let client = client_config(&roots, None, CertRole::Scheduler).expect("client");
        let ring = rustls::crypto::ring::default_provider();
        for provider in [server.crypto_provider(), client.crypto_provider()] {
            let suites: Vec<_> = provider.cipher_suites.iter().map(|s| s.suite()).collect();
            let expected: Vec<_> = ring.cipher_suites.iter().map(|s| s.suite()).collect();
            assert_eq!(suites, expected);
        }
    }
}
