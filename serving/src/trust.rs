//! The trust store of outbound calls: the system's roots (read once per process) and, when configured,
//! an extra CA file for private providers, services or a test CA. Every outbound HTTP client of the
//! federation is built from [`client_builder`].

use rustls_pki_types::{pem::PemObject, CertificateDer};
use std::{path::Path, sync::OnceLock};

/// The system's root certificates, read once (`SSL_CERT_FILE` / `SSL_CERT_DIR` honoured).
fn system_roots() -> &'static [reqwest::Certificate] {
    static ROOTS: OnceLock<Vec<reqwest::Certificate>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        if found.certs.is_empty() {
            tracing::warn!("no system root certificates found; only an extra CA file is trusted");
        }
        found
            .certs
            .iter()
            .filter_map(|c| reqwest::Certificate::from_der(c.as_ref()).ok())
            .collect()
    })
}

/// The certificates of a PEM file, for trusting them.
pub fn read_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in the file", path.display()));
    }
    certs
        .iter()
        .map(|c| reqwest::Certificate::from_der(c.as_ref()).map_err(|e| format!("{}: {e}", path.display())))
        .collect()
}

/// A reqwest client builder trusting the system's roots and the certificates of `extra_ca` (PEM).
pub fn client_builder(extra_ca: Option<&Path>) -> Result<reqwest::ClientBuilder, String> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false);
    for cert in system_roots() {
        builder = builder.add_root_certificate(cert.clone());
    }
    if let Some(path) = extra_ca {
        for cert in read_ca_file(path)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder)
}
