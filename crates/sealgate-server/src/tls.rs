//! TLS from a PEM certificate chain and key (rustls on ring). Admission
//! webhooks must be served over TLS; the API may be.

use std::sync::Arc;

use anyhow::Context as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::Tls;

/// An acceptor for the configured certificate (re-read on every reload, so a
/// rotated certificate is served after SIGHUP).
pub(crate) fn acceptor(tls: &Tls) -> anyhow::Result<TlsAcceptor> {
    // Bounded reads: these files are small, and a path pointed at a device
    // must not hang the reload.
    let cert_pem = sealgate::read_bounded(&tls.certificate, 1 << 20)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .with_context(|| format!("{}: not a PEM certificate chain", tls.certificate.display()))?;
    if certs.is_empty() {
        anyhow::bail!(
            "{}: no CERTIFICATE block; give the PEM certificate chain, leaf first",
            tls.certificate.display()
        );
    }
    let key_pem = sealgate::read_bounded(&tls.private_key, 1 << 20)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).with_context(|| {
        format!(
            "{}: not a PEM private key (PKCS#8, PKCS#1 or SEC1)",
            tls.private_key.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .with_context(|| {
            format!(
                "{} and {} do not make a usable certificate and key",
                tls.certificate.display(),
                tls.private_key.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
