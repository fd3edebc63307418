//! Which certificates an `https://` node may present: the platform's
//! trusted roots (jsonrpsee's default), or the roots of a PEM file named by
//! `ATOLL_CA_CERT` (a node behind a proxy with a private or self-signed
//! certificate).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// The environment variable naming a PEM file of the roots to trust
/// instead of the platform's.
pub const ENV_CA_CERT: &str = "ATOLL_CA_CERT";

/// The roots named by [`ENV_CA_CERT`], read (`None`: not set).
pub(super) fn roots_from_env() -> anyhow::Result<Option<Vec<u8>>> {
    match std::env::var_os(ENV_CA_CERT).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(path) => {
            let path = Path::new(&path);
            std::fs::read(path)
                .with_context(|| format!("{ENV_CA_CERT}: cannot read {}", path.display()))
                .map(Some)
        }
    }
}

/// A TLS configuration that trusts exactly the certificates in `pem`.
pub(super) fn trusting(pem: &[u8]) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.context("the CA certificate file is not PEM")?;
        roots
            .add(cert)
            .context("the CA certificate file holds an unusable certificate")?;
    }
    if roots.is_empty() {
        bail!("the CA certificate file holds no certificate");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
